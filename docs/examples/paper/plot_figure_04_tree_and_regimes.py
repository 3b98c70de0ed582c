"""
=====================================================
Figure 4: the Q1 tree and its regimes, train and test
=====================================================

The paper's central figure: the MD tree for Q1 fitted on 96 models of F (Figure 4a),
and the models in the plane of mode connectivity and sharpness, split by training
error (Figures 4b-e). The regimes cut by the learned thresholds hold mostly one true
label, on the training models and on the 1560 models of F' alike: the loss-landscape
metrics make the failure sources piecewise linearly separable.
"""

# %%
# Fit on the paper's case 1 (first seed)
# --------------------------------------
import pandas as pd

from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree.datasets import fetch_model_diagnosis
from sklearn_mdtree.model_selection import FewShotTransfer
from sklearn_mdtree.plotting import plot_regimes, plot_tree

both = fetch_model_diagnosis("both").frame
cv = FewShotTransfer("random_pairs", k=8, label="bs_failure", frame=both)
train, test = next(cv.split(both))
y = both["bs_failure"]
clf = MDTreeClassifier("q1").fit(both.iloc[train], y.iloc[train])

# %%
# Figure 4a: the tree
# -------------------
ax = plot_tree(clf)

# %%
# Figures 4b-e: the regimes
# -------------------------
# Top: the training models (4b, 4c); bottom: F' (4d, 4e). Left: training error at
# most the root threshold; right: above it.
axes = plot_regimes(clf, both.iloc[train], y.iloc[train], X_test=both.iloc[test],
                    y_test=y.iloc[test])

# %%
# How pure is each regime on F'?
# ------------------------------
# The share of each regime's test models whose true label is the one the regime
# predicts:
regimes = pd.DataFrame({"regime": clf.apply(both.iloc[test]), "label": y.iloc[test].to_numpy()})
regimes["predicted"] = clf.leaf_labels_[regimes["regime"]]
summary = regimes.groupby("regime").agg(
    models=("label", "size"),
    predicted=("predicted", "first"),
    agree=("label", lambda s: (s == regimes.loc[s.index, "predicted"]).mean()),
)
print(summary.round(3).to_string())
