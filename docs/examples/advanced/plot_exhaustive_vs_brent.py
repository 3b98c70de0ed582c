"""
====================================
Exhaustive threshold search vs Brent
====================================

Training accuracy is a step function of each threshold. The paper fits every
threshold by bounded Brent search, which can stop on a point of that step function
that is not its best; ``threshold_search="exhaustive"`` finds the exact best
threshold of each split (and sweeps the splits until none moves). Here: the
objective of the last split of a small training set, where each search stops, and
what that does to transfer accuracy.
"""

# %%
# One split's objective
# ---------------------
# With 2 random pairs (two dozen models), fit both searches and draw the training
# accuracy as a function of the sharpness threshold ``t2``, the two others held at
# the exhaustive fit's values.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree.datasets import fetch_model_diagnosis
from sklearn_mdtree.model_selection import FewShotTransfer

both = fetch_model_diagnosis("both").frame
y = both["bs_failure"]
cv = FewShotTransfer("random_pairs", k=2, frame=both)
train, test = next(cv.split(both))
X, yt = both.iloc[train], y.iloc[train].to_numpy()
brent = MDTreeClassifier("q1").fit(X, yt)
exact = MDTreeClassifier("q1", threshold_search="exhaustive").fit(X, yt)

t = exact.thresholds_
below = (X.train_error > t["t0"]) & (X.mode_connectivity_peak <= t["t1"])
fixed = np.where(X.train_error <= t["t0"], "small", "large")  # regimes 0 and 3
grid = np.linspace(*exact.bounds_["t2"], 400)
accuracy = [
    100 * np.mean(np.where(below, np.where(X.hessian_t <= v, "large", "small"), fixed) == yt)
    for v in grid
]
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
ax.plot(grid, accuracy, drawstyle="steps-post", color="0.3", label="training accuracy")
for name, tree, colour in (("Brent", brent, "C0"), ("exhaustive", exact, "C3")):
    ax.axvline(tree.thresholds_["t2"], color=colour, linestyle="--",
               label=f"{name}: t2 = {tree.thresholds_['t2']:.2f}, "
                     f"fit {100 * tree.train_score_:.1f}%")
ax.set_xlabel("sharpness threshold t2: ln(Hessian trace)")
ax.set_ylabel("training accuracy (%)")
ax.set_title(f"Objective of split t2 on {len(X)} training models (t0, t1 held fixed)",
             fontsize="medium")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize="small")

# %%
# Transfer accuracy, both searches
# --------------------------------
# Over the paper's five seeds and a few training-set sizes: the exact fit is a better
# fit of the training models, and usually (not always) a better transfer to F'.
from sklearn.model_selection import cross_val_score

for k in (1, 2, 4, 8):
    cv = FewShotTransfer("random_pairs", k=k, frame=both)
    scores = {name: 100 * cross_val_score(MDTreeClassifier("q1", threshold_search=name),
                                          both, y, cv=cv).mean()
              for name in ("brent", "exhaustive")}
    print(f"k={k}: Brent {scores['brent']:.2f}%, exhaustive {scores['exhaustive']:.2f}% on F'")
