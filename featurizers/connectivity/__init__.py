"""Mode connectivity: quadratic Bezier curves between two trained models.

Two models ``w0`` and ``w1`` of one architecture are joined by the curve

.. math:: w(t) = (1-t)^2 w_0 + 2t(1-t)\\,\\theta + t^2 w_1, \\qquad t \\in [0, 1],

whose bend ``theta`` is trained to lower the training loss along the curve
(Garipov et al., 2018). The training error along the fitted curve, at
``t = 0, 0.25, 0.5, 0.75, 1``, gives the two connectivity metrics of the MD tree
collections: :func:`mode_connectivity_peak` and :func:`mode_connectivity`.

Every function here is usable alone and never modifies the models passed to it:
curves are built on private copies, and :func:`evaluate_model` restores the
model's train/eval mode when it returns. Weights are dictionaries
``{parameter name: tensor}`` in the order of ``model.named_parameters()``; every
parameter is on the curve (BatchNorm affine parameters and biases included),
buffers are not.

The whole recipe, as in the public collections::

    bend = fit_bend(model_a, model_b, train_data, epochs=50)
    errors, losses = curve_errors(model_a, bend, model_b, train_data)
    mode_connectivity_peak(errors), mode_connectivity(errors)
"""

# The curve's geometry
from ._curve import CURVE_TS, bezier_point, init_bend

# Curve training
from ._fit import curve_lr, fit_bend

# Evaluation of models and of points of the curve
from ._evaluate import curve_errors, curve_model, evaluate_model, recompute_bn_statistics

# The metrics
from ._metrics import mode_connectivity, mode_connectivity_peak

__all__ = [
    "CURVE_TS",
    "bezier_point",
    "curve_errors",
    "curve_lr",
    "curve_model",
    "evaluate_model",
    "fit_bend",
    "init_bend",
    "mode_connectivity",
    "mode_connectivity_peak",
    "recompute_bn_statistics",
]
