"""Loss-landscape featurizers of sklearn-mdtree (the ``sklearn-mdtree`` distribution).

This package turns groups of trained PyTorch models into feature rows for
:class:`sklearn_mdtree.MDTreeClassifier`. It needs the ``torch`` extra::

    pip install "sklearn-mdtree[torch]"
"""

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "featurizers (part of sklearn-mdtree) needs PyTorch; install it with "
        "`pip install \"sklearn-mdtree[torch]\"`."
    ) from exc

from sklearn_mdtree._lazy import attach

# Model groups: the input of every featurizer
from ._groups import ModelGroup

# Transformers: lists of model groups in, one feature row per group out
from ._transformers import (
    FeaturizationWarning,
    HyperparameterFeaturizer,
    LossLandscapeFeaturizer,
    ValidationFeaturizer,
)

# Mode connectivity: Bezier curves between two models, and the two metrics
from .connectivity import (
    CURVE_TS,
    bezier_point,
    curve_errors,
    curve_lr,
    curve_model,
    evaluate_model,
    fit_bend,
    init_bend,
    mode_connectivity,
    mode_connectivity_peak,
    recompute_bn_statistics,
)

# Sharpness: Hessian-vector products, trace estimators, top eigenvalue
from .hessian import (
    HessianOperator,
    hessian_top_eigenvalue,
    hessian_trace,
    hutchinson_trace,
    pyhessian_trace,
    top_eigenvalue,
    trace_and_top_eigenvalue,
    xtrace,
)

# Similarity: linear CKA of two models' outputs on mixup batches
from .similarity import linear_cka, mixup_batches, output_cka

# From models in one call: features of checkpoint files, and the diagnosis report
from ._models import diagnose_models, featurize_checkpoints


__all__ = [
    # Model groups
    "ModelGroup",
    # Transformers
    "LossLandscapeFeaturizer",
    "ValidationFeaturizer",
    "HyperparameterFeaturizer",
    "FeaturizationWarning",
    # Mode connectivity
    "CURVE_TS",
    "bezier_point",
    "curve_lr",
    "init_bend",
    "fit_bend",
    "recompute_bn_statistics",
    "evaluate_model",
    "curve_model",
    "curve_errors",
    "mode_connectivity_peak",
    "mode_connectivity",
    # Sharpness
    "HessianOperator",
    "hessian_trace",
    "hessian_top_eigenvalue",
    "hutchinson_trace",
    "pyhessian_trace",
    "xtrace",
    "top_eigenvalue",
    "trace_and_top_eigenvalue",
    # Similarity
    "linear_cka",
    "mixup_batches",
    "output_cka",
    # From models in one call
    "featurize_checkpoints",
    "diagnose_models",
    # Calibration on one's own family
    "calibrate",
]


#: Public submodules, imported when first used as attributes (``import featurizers``
#: then ``featurizers.zoo``); some are imported above already.
_SUBMODULES = ("calibration", "checkpoints", "connectivity", "hessian", "lattice",
               "similarity", "weights", "zoo")


# Calibration (a lattice of one's own family, labelled by retraining) is imported when
# first used: it brings the zoo's training code, which featurizing does not need.
__getattr__, __dir__ = attach(__name__, {"calibrate": ".calibration"}, _SUBMODULES)
