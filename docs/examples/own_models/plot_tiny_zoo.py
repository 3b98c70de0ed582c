"""
===============================================
A tiny zoo of your own models, and its evidence
===============================================

:func:`featurizers.zoo.train_zoo` trains a grid of small configurations (MLPs on
scikit-learn's digits; preset ``"tiny"``: 16 configurations, 2 seeds each, about
half a minute on a CPU), labels them by room for improvement and, with
:meth:`~featurizers.zoo.Zoo.featurize`, measures the MD tree's loss-landscape
metrics. Here we look at the evidence behind two of them for one configuration:
the training error along the curve that joins its two seeds (the connectivity
feature), and the spread of the Hessian trace estimates (the sharpness feature).
"""

# %%
# Train and featurize the tiny zoo
# --------------------------------
from featurizers.zoo import train_zoo

zoo = train_zoo("tiny", cache_dir=False, verbose=0)
table = zoo.featurize(verbose=0)
columns = ["width", "bs", "data_amount", "noise", "train_error", "mode_connectivity_peak",
           "hessian_t", "bs_failure"]
print(table[columns].round(2).to_string())

# %%
# Connectivity: the error along the curve between two seeds
# ---------------------------------------------------------
# For both widths trained with batch size 8 on 300 clean samples, fit the bend of the
# quadratic Bezier curve between the configuration's two models
# (:func:`featurizers.connectivity.fit_bend`) and evaluate the training error along
# it (:func:`~featurizers.connectivity.curve_errors`): the highest point inside is the
# barrier, and minus its height is ``mode_connectivity_peak``.
from featurizers.connectivity import curve_errors, fit_bend
from sklearn_mdtree.plotting import plot_connectivity_curve

rows = {(c.width, c.bs): i for i, c in enumerate(zoo.configurations)
        if c.data_amount == 300 and c.noise == 0.0}
errors = []
for width in (4, 16):
    group = zoo.groups[rows[width, 8]]
    model_a, model_b = group.models[:2]
    bend = fit_bend(model_a, model_b, group.train_data, epochs=20, random_state=0)
    e, _ = curve_errors(model_a, bend, model_b, group.train_data)
    errors.append(e)
ax = plot_connectivity_curve(errors, labels=["width 4, batch 8", "width 16, batch 8"],
                             title="Training error along the curve between two seeds")

# %%
# Sharpness: how precise is one trace estimate?
# ---------------------------------------------
# The Hessian trace of one model's training loss, estimated by Hutchinson's method
# with few probes from ten independent random states, against the deflated
# estimator the featurizer uses by default: the bars are the mean plus or minus one
# standard error of the ten estimates.
import torch

from featurizers.hessian import HessianOperator, hutchinson_trace, trace_and_top_eigenvalue
from sklearn_mdtree.plotting import plot_trace_estimates

group = zoo.groups[rows[16, 8]]
inputs, targets = group.train_data
op = HessianOperator(group.models[0], torch.nn.CrossEntropyLoss(), inputs[:200], targets[:200])
estimates = {
    "Hutchinson, 8 probes": [hutchinson_trace(op, 8, random_state=s) for s in range(10)],
    "deflated (default)": [trace_and_top_eigenvalue(op, random_state=s)[0] for s in range(10)],
}
ax = plot_trace_estimates(estimates, title="Hessian trace of one MLP: ten estimates each")
