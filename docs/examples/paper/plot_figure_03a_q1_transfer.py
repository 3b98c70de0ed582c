"""
===============================================================
Few-shot dataset transfer (Q1): MD tree against decision trees
===============================================================

Is a trained network's optimizer temperature too high or too low? The MD tree answers
from the model's loss landscape. Here it learns its thresholds from a *few* models of
the paper's collection F (ResNet-18 on CIFAR-10, clean labels) and diagnoses every
model of F' (the same grid trained with 10% label noise), which it has never seen.

We compare it with the paper's baselines -- decision trees on validation metrics, on
hyperparameters, and on the same loss-landscape metrics without the fixed hierarchy --
using scikit-learn's own :func:`~sklearn.model_selection.cross_val_score` with the
paper's splits, :class:`~sklearn_mdtree.model_selection.FewShotTransfer`.
"""

# %%
# The two collections, stacked
# ----------------------------
# :func:`~sklearn_mdtree.datasets.fetch_model_diagnosis` reads the published files
# (from ``$SKLEARN_MDTREE_DATA``, else a cache, else a checksum-verified download).
# ``"both"`` stacks F (``collection == "normal"``) and F' (``"noise"``).
from sklearn_mdtree.datasets import fetch_model_diagnosis

both = fetch_model_diagnosis("both").frame
y = both["bs_failure"]
print(both.groupby("collection")["bs_failure"].value_counts().unstack())

# %%
# One few-shot split
# ------------------
# The paper's case 1: the training set is every model of 8 random (data amount,
# width) pairs of F -- 96 models, all batch sizes of each pair; the test set is all of
# F'. Rows labelled ``optimal`` are left out of both.
from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree.model_selection import FewShotTransfer

cv = FewShotTransfer("random_pairs", k=8, label="bs_failure", frame=both)
train, test = next(cv.split(both))
print(f"{len(train)} training models from F, {len(test)} test models from F'")

tree = MDTreeClassifier("q1").fit(both.iloc[train], y.iloc[train])
print(f"accuracy on F': {tree.score(both.iloc[test], y.iloc[test]):.3f}")

# %%
# The fitted tree is four regimes, each with its diagnosis and what to do about it:
print(tree.export_text(show_weights=True))

# %%
# Over the paper's five seeds
# ---------------------------
# The splitter yields one split per seed, so the baselines are one
# ``cross_val_score`` call each. A plain decision tree sees the same few models, with
# the features of the paper's baselines.
from sklearn.model_selection import cross_val_score
from sklearn.tree import DecisionTreeClassifier

VALID = ["train_error", "train_loss", "test_loss", "test_error"]
HYPER = ["log_data_amount", "log_para_amount"]
LANDSCAPE = ["train_error", "mode_connectivity_peak", "CKA", "hessian_t"]
dt = DecisionTreeClassifier(max_depth=4, random_state=42)

methods = {
    "MD tree (Brent)": (MDTreeClassifier("q1"), None),
    "MD tree (exhaustive)": (MDTreeClassifier("q1", threshold_search="exhaustive"), None),
    "Loss-landscape+DT": (dt, LANDSCAPE),
    "Valid+DT": (dt, VALID),
    "Hyper+DT": (dt, HYPER),
}


def transfer_scores(k):
    """Accuracy (percent) on F' of every method, one value per seed."""
    cv = FewShotTransfer("random_pairs", k=k, frame=both)
    return {
        name: 100 * cross_val_score(est, both if cols is None else both[cols], y, cv=cv)
        for name, (est, cols) in methods.items()
    }


for name, scores in transfer_scores(8).items():
    print(f"{name:>21}: {scores.mean():.2f}  (seeds: {', '.join(f'{s:.1f}' for s in scores)})")

# %%
# Accuracy against the number of training pairs
# ---------------------------------------------
# ``k`` random (data, width) pairs give about ``12 k`` training models. The hollow
# markers are the figures of the authors' code on the same files (paper, Fig. 3a
# and Fig. 17).
import pandas as pd

from sklearn_mdtree.plotting import plot_accuracy_curves

ks = [1, 2, 4, 8, 12, 16, 24]
results = {k: transfer_scores(k) for k in ks}
means = pd.DataFrame({k: {m: s.mean() for m, s in r.items()} for k, r in results.items()}).T
spread = pd.DataFrame({k: {m: s.std() for m, s in r.items()} for k, r in results.items()}).T
paper = {
    "MD tree (Brent)": (ks, [76.64, 81.23, 82.03, 87.71, 88.87, 88.94, 88.79]),
    "Loss-landscape+DT": (ks, [67.92, 68.87, 78.15, 85.40, 85.38, 84.24, 86.31]),
}
ax = plot_accuracy_curves(
    means, reference=paper, errors=spread, logx=True,
    title="Q1, dataset transfer F -> F' (mean and std over 5 seeds)",
    xlabel="k random (data, width) pairs of F",
)
print(means.round(2).to_string())

# %%
# With one pair (a dozen models) the exact search is 9 points ahead of Brent's: on a
# step-shaped objective Brent's search often stops on a golden-section point of the
# bounds. From 8 pairs on, both searches reach 87.6 to 89.8%, 10 to 14 points above
# the decision tree on validation metrics. A decision tree on the *same*
# loss-landscape metrics catches up only slowly (68% with one or two pairs): the
# fixed hierarchy is what lets a few models suffice.
