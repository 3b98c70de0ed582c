"""
============================================
Diagnose your own models: report and picture
============================================

End to end on models of our own: train the tiny zoo of MLPs on scikit-learn's digits
(:func:`featurizers.zoo.train_zoo`), measure their loss-landscape features, fit a Q1
MD tree on the configurations trained on clean labels, and let it say, for each
configuration trained on noisy labels, what to change -- with the decisions' margins
and a picture of where each model sits among the regimes. (No digits tree is shipped:
fitted on the default zoo, neither clearly beat a constant answer on the noisy-label
rows; see ``benchmarks/make_pretrained.py``.) ``report.to_html(path)`` writes the same as one
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
# A Q1 tree fitted on the clean-label configurations
# --------------------------------------------------
from sklearn_mdtree import MDTreeClassifier

clean = table[(table.collection == "normal") & (table.bs_failure != "optimal")]
tree = MDTreeClassifier("q1", bounds="data").fit(clean, clean.bs_failure)
print(tree.export_text())

# %%
# The report
# ----------
with warnings.catch_warnings():
    warnings.simplefilter("ignore", sklearn_mdtree.OutOfDomainWarning)
    report = sklearn_mdtree.diagnose(features, tree, optimizer="batch size")
print(report.to_frame()[["action", "q1_label", "q1_regime", "out_of_domain"]].to_string())
print()
print(report[0].to_text())

# %%
# Where one model sits among the regimes
# --------------------------------------
from sklearn_mdtree.plotting import plot_model_position, plot_tree

model = features.iloc[[0]]
ax = plot_tree(tree, highlight=model)

# %%
ax = plot_model_position(tree, model)
