"""
==========================================================
Choosing the threshold bounds by grid search
==========================================================

Every split of an MD tree searches its threshold inside bounds; the paper's (Table 4)
fit ResNet-18 on CIFAR-10. Passed as a :class:`~sklearn_mdtree.Hierarchy` object
rather than a preset name, the tree exposes each split's ``threshold`` and ``bounds``
as nested parameters -- ``hierarchy__t2__bounds`` -- so
:class:`~sklearn.model_selection.GridSearchCV` chooses them like any other parameter.

We search the bounds of the sharpness split on the few training models of a transfer
experiment, first on the public collection, then on a copy whose sharpness lives on
another scale, as it does for small models.
"""

# %%
# The parameters
# --------------
from sklearn_mdtree import MDTreeClassifier, get_preset

tree = MDTreeClassifier(hierarchy=get_preset("q1"))
print({k: v for k, v in tree.get_params().items() if k.startswith("hierarchy__t")})

# %%
# A grid search inside one few-shot training set
# ----------------------------------------------
# The training set of the paper's case 1 (8 random (data, width) pairs of F, 96
# models). The candidates: four intervals for ``t2``, and data-driven bounds
# (``bounds="data"``: every split within the training range of its feature) with
# either search. All start ``t2`` from the middle of its bounds
# (``t2__threshold=None``): the preset's initial value, 7, lies outside some of the
# intervals.
import pandas as pd
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_mdtree.datasets import fetch_model_diagnosis
from sklearn_mdtree.model_selection import FewShotTransfer

both = fetch_model_diagnosis("both").frame
y = both["bs_failure"]
cv = FewShotTransfer("random_pairs", k=8, frame=both)
train, test = next(cv.split(both))

param_grid = [
    {
        "hierarchy__t2__bounds": [(4, 9), (0, 4), (-2, 3), (-4, 5)],
        "hierarchy__t2__threshold": [None],
    },
    {
        "bounds": ["data"],
        "threshold_search": ["brent", "exhaustive"],
        "hierarchy__t2__threshold": [None],
    },
]
search = GridSearchCV(tree, param_grid, cv=StratifiedKFold(5, shuffle=True, random_state=0))


def candidates_table(search):
    results = pd.DataFrame(search.cv_results_)
    results["candidate"] = [
        f"t2 in {p['hierarchy__t2__bounds']}" if "hierarchy__t2__bounds" in p
        else f"bounds='data', {p['threshold_search']}"
        for p in results["params"]
    ]
    return results.set_index("candidate")[["mean_test_score", "std_test_score", "rank_test_score"]]


search.fit(both.iloc[train], y.iloc[train])
print(candidates_table(search).round(3).to_string())
print("best:", search.best_params_)

# %%
# The paper's bounds win on the models they were chosen for. The search sees only the
# 96 training models: choosing bounds by their accuracy on F' -- the test set -- would
# be tuning on the test set.
#
# How good is the *procedure* "grid-search the bounds, then fit"? Nest it: the outer
# splits are the paper's five seeds, the inner ones cross-validate within each
# training set. ``cross_val_score`` does it in one call.
from sklearn.model_selection import cross_val_score


def transfer_accuracy(X):
    """Mean accuracy on F' (percent) over the five seeds, for five ways to set bounds."""
    from_middle = get_preset("q1").set_params(t2__threshold=None)
    estimators = {
        "paper's bounds": MDTreeClassifier("q1"),
        "grid search": search,
        "data, Brent": MDTreeClassifier("q1", bounds="data"),
        "data, Brent,\nt2 from middle": MDTreeClassifier(from_middle, bounds="data"),
        "data, exhaustive": MDTreeClassifier("q1", bounds="data", threshold_search="exhaustive"),
    }
    return {
        name: 100 * cross_val_score(est, X, y, cv=cv).mean() for name, est in estimators.items()
    }


def show(accuracies):
    for name, accuracy in accuracies.items():
        print(f"{name.replace(chr(10), ' '):>30}: {accuracy:.2f}")


public = transfer_accuracy(both)
show(public)

# %%
# On the public collection every choice is within about a point of the paper's
# bounds (86.5 to 87.7%): those bounds fit these models, and the nested search, with
# 96 models to cross-validate on, does not improve on them.

# %%
# Another scale
# -------------
# Small networks have much lower Hessian traces: on MLPs trained on scikit-learn's
# digits, the log trace ranged from about -4.6 to 4.5. To see what that does to a tree
# with the paper's bounds, shift ``hessian_t`` of the public collection by -6 -- a
# synthetic change of scale, everything else equal.
shifted = both.assign(hessian_t=both["hessian_t"] - 6)
print(shifted["hessian_t"].describe()[["min", "50%", "max"]].round(2).to_string())

search.fit(shifted.iloc[train], y.iloc[train])
print(candidates_table(search).round(3).to_string())
print("best:", search.best_params_)

other_scale = transfer_accuracy(shifted)
show(other_scale)

# %%
# The paper's sharpness bounds [4, 9] now miss the data: the ``t2`` split sends every
# poorly connected model the same way, and transfer accuracy falls by 17 points. The
# grid search, seeing only the 96 training models, picks bounds that cover the new
# scale and recovers most of it (86.9 against 87.7% on the original scale).
#
# Data-driven bounds have a pitfall with Brent's search: a preset's initial value
# outside the data range (``t2`` starts at 7, above every shifted value) is clamped to
# the edge of the range. While ``t0`` and ``t1`` are fitted -- before ``t2`` -- that
# edge sends every model the same way at ``t2``, and the two thresholds fit that
# tree, not the final one. Starting ``t2`` from the middle of its bounds
# (``t2__threshold=None``) removes the problem, and so does the exhaustive search,
# which sweeps the splits until no threshold moves.
import matplotlib.pyplot as plt
import numpy as np

names = list(public)
x = np.arange(len(names))
fig, ax = plt.subplots(figsize=(8.5, 4), layout="constrained")
ax.bar(x - 0.2, [public[n] for n in names], width=0.4, label="public collection")
ax.bar(x + 0.2, [other_scale[n] for n in names], width=0.4, label="hessian_t shifted by -6")
ax.set_xticks(x, names, fontsize="small")
ax.set_xlabel("threshold bounds searched (grid-search candidate)")
ax.set_ylim(50, 95)
ax.set_ylabel("accuracy on F' (%)")
ax.set_title("Q1 transfer accuracy by bounds: public features against shifted sharpness")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize="small")
