"""
============================================
Figure 27: the Q1 tree with similarity (CKA)
============================================

Appendix H replaces the sharpness split of the Q1 tree by the CKA similarity of two
seeds' outputs (preset ``"q1_similarity"``). It separates the poorly connected models
into two regimes just as sharpness does, and transfers about as well.
"""

# %%
from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree.datasets import fetch_model_diagnosis
from sklearn_mdtree.model_selection import FewShotTransfer
from sklearn_mdtree.plotting import plot_regimes, plot_tree

both = fetch_model_diagnosis("both").frame
cv = FewShotTransfer("random_pairs", k=8, label="bs_failure", frame=both)
train, test = next(cv.split(both))
y = both["bs_failure"]
X, X_test = both.iloc[train], both.iloc[test]

similarity = MDTreeClassifier("q1_similarity").fit(X, y.iloc[train])
sharpness = MDTreeClassifier("q1").fit(X, y.iloc[train])
for name, tree in (("similarity (Fig 27)", similarity), ("sharpness (Fig 4)", sharpness)):
    print(f"{name:>20}: accuracy on F' {tree.score(X_test, y.iloc[test]):.3f}")

# %%
# Figure 27a: the tree
# --------------------
ax = plot_tree(similarity)

# %%
# Figures 27b-e: the regimes
# --------------------------
axes = plot_regimes(similarity, X, y.iloc[train], X_test=X_test, y_test=y.iloc[test])
