"""
===============================================================
Figure 6: Q2, is the model too small or the optimizer to blame?
===============================================================

The Q2 tree (preset ``"q2"``) tells a model that is too narrow (``width``: widen
it) from one whose batch size matters more (``batch``). Figure 6a trains on every
model of ``k`` random data amounts of F (mean over the paper's five seeds); Figure 6b
on the models trained with at most ``k`` tenths of the data.
"""

# %%
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.model_selection import cross_val_score
from sklearn.tree import DecisionTreeClassifier

from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree.datasets import fetch_model_diagnosis
from sklearn_mdtree.model_selection import FewShotTransfer
from sklearn_mdtree.plotting import plot_accuracy_curves

both = fetch_model_diagnosis("both").frame
y = both["width_vs_batch"]
dt = DecisionTreeClassifier(max_depth=4, random_state=42)
methods = {
    "MD tree (Brent)": (MDTreeClassifier("q2"), None),
    "Valid+DT": (dt, ["train_error", "train_loss", "test_loss", "test_error"]),
    "Hyper+DT": (dt, ["log_data_amount"]),
}


def curve(scheme, ks, seeds=(42, 90, 38, 18, 72)):
    means, spread = {}, {}
    for k in ks:
        cv = FewShotTransfer(scheme, k=k, label="width_vs_batch", frame=both, seeds=seeds)
        scores = {name: 100 * cross_val_score(est, both if cols is None else both[cols], y,
                                              cv=cv)
                  for name, (est, cols) in methods.items()}
        means[k] = {m: s.mean() for m, s in scores.items()}
        spread[k] = {m: s.std() for m, s in scores.items()}
    return pd.DataFrame(means).T, pd.DataFrame(spread).T


ks = list(range(1, 11))
paper_6a = [74.11, 75.42, 76.88, 77.84, 77.90, 79.30, 79.09, 79.31, 79.53, 79.56]
paper_6b = [78.17, 80.90, 79.50, 79.50, 79.50, 77.50, 78.17, 78.53, 78.41, 79.56]

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
means, spread = curve("random_data", ks)
plot_accuracy_curves(means, errors=spread, reference={"MD tree (Brent)": (ks, paper_6a)},
                     ax=left, title="Figure 6a: trained on k random data amounts of F",
                     xlabel="k (data amounts; about 160 models each)")
limited, _ = curve("data_limit", ks, seeds=[42])  # deterministic: one split
plot_accuracy_curves(limited, reference={"MD tree (Brent)": (ks, paper_6b)}, ax=right,
                     title="Figure 6b: trained on models with data <= k",
                     xlabel="k (largest data amount, tenths of CIFAR-10)")
left.get_legend().remove()
print(means.round(2).to_string())
