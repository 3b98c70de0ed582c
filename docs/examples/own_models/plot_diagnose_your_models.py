"""
============================================
Diagnose your own models: report and picture
============================================

End to end on models of our own: train the tiny zoo of MLPs on scikit-learn's digits
(:func:`featurizers.zoo.train_zoo`), measure their loss-landscape features, and let
the pretrained digits trees (:mod:`sklearn_mdtree.pretrained`) say, for each
configuration trained on noisy labels, what to change -- with the decisions' margins,
whether the features lie inside the trees' training range, and a picture of where
each model sits among the regimes. ``report.to_html(path)`` writes the same as one
self-contained page (``mdtree diagnose --html FILE`` from the command line).
"""

# %%
# Features of the tiny zoo
# ------------------------
import warnings

import sklearn_mdtree
from featurizers.zoo import train_zoo

zoo = train_zoo("tiny", cache_dir=False, verbose=0)
table = zoo.featurize(verbose=0)
noisy = table[table.collection == "noise"]
features = noisy[["train_error", "mode_connectivity_peak", "hessian_t", "CKA"]]
features.index = [f"w{c.width}-bs{c.bs}-n{c.data_amount}" for c in zoo.configurations
                  if c.noise > 0]
print(features.round(2).to_string())

# %%
# The report
# ----------
with warnings.catch_warnings():
    warnings.simplefilter("ignore", sklearn_mdtree.OutOfDomainWarning)
    report = sklearn_mdtree.diagnose(features, "digits-mlp", optimizer="batch size")
print(report.to_frame()[["action", "q1_label", "q1_regime", "out_of_domain"]].to_string())
print()
print(report[0].to_text())

# %%
# Where one model sits among the regimes
# --------------------------------------
from sklearn_mdtree.plotting import plot_model_position, plot_tree
from sklearn_mdtree.pretrained import load_tree

tree = load_tree("digits-mlp-q1").estimator
model = features.iloc[[0]]
ax = plot_tree(tree, highlight=model)

# %%
ax = plot_model_position(tree, model)
