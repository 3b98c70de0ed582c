"""
==================================
A first diagnosis, and its picture
==================================

Fit the MD tree on 96 labelled models of the paper's collection F, look at the
fitted tree, and diagnose a model of F' it has never seen: which regime it falls in,
why, and what to change.
"""

# %%
# A few labelled models
# ---------------------
# The paper's case 1: every batch size of 8 random (data amount, width) pairs of F,
# 96 ResNet-18 configurations whose label says whether their batch size was too
# large (``small`` temperature) or too small (``large``).
from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree.datasets import fetch_model_diagnosis
from sklearn_mdtree.model_selection import FewShotTransfer

both = fetch_model_diagnosis("both").frame
cv = FewShotTransfer("random_pairs", k=8, label="bs_failure", frame=both)
train, test = next(cv.split(both))
X, y = both.iloc[train], both["bs_failure"].iloc[train]
X_test, y_test = both.iloc[test], both["bs_failure"].iloc[test]

clf = MDTreeClassifier("q1").fit(X, y)
print(f"trained on {len(X)} models of F; accuracy on the {len(X_test)} models of F': "
      f"{clf.score(X_test, y_test):.3f}")

# %%
# One model of F'
# ---------------
# A ResNet-18 of width 16 trained on all of CIFAR-10 (with noisy labels) with batch
# size 16. Its features are all the tree needs:
from sklearn_mdtree.rfi import label_meaning

model = X_test[(X_test.width == 16) & (X_test.data == 10) & (X_test.bs == 16)]
print(model[["train_error", "mode_connectivity_peak", "hessian_t"]].round(2).to_string())
label = clf.predict(model)[0]
print(f"regime {clf.apply(model)[0]}: {label} -- {label_meaning('bs_failure', label).action}")
print(f"true label: {y_test[model.index].iloc[0]}")

# %%
# The tree, with that model's path
# --------------------------------
# Each split shows its metric and learned threshold; each leaf is a regime, coloured
# by what it predicts, with how many of the 96 training models reached it. The bold
# path is the model's.
from sklearn_mdtree.plotting import plot_regimes, plot_tree

ax = plot_tree(clf, highlight=model)

# %%
# Where the model sits among the regimes
# --------------------------------------
# The models in the plane of the two metrics the lower splits use, training models
# above and all of F' below; the star is our model.
axes = plot_regimes(clf, X, y, X_test=X_test, y_test=y_test, highlight=model)
