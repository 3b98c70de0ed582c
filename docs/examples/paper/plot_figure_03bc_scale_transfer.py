"""
===============================================
Figures 3b-c: Q1 scale transfer, small to large
===============================================

The MD tree learns from *small* models -- trained on little data (Figure 3b) or
narrow (Figure 3c) -- and diagnoses every model of F'. The training sets are
deterministic (all models up to the limit), so one split is enough. Decision trees on
validation metrics or on hyperparameters, fitted on the same models, are the
baselines; hollow circles are the paper's figures for the MD tree.
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
y = both["bs_failure"]
dt = DecisionTreeClassifier(max_depth=4, random_state=42)
methods = {
    "MD tree (Brent)": (MDTreeClassifier("q1"), None),
    "Valid+DT": (dt, ["train_error", "train_loss", "test_loss", "test_error"]),
    "Hyper+DT": (dt, ["log_data_amount", "log_para_amount"]),
}


def curve(scheme, ks):
    rows = {}
    for k in ks:
        cv = FewShotTransfer(scheme, k=k, frame=both, seeds=[42])  # deterministic
        rows[k] = {name: 100 * cross_val_score(est, both if cols is None else both[cols],
                                               y, cv=cv).mean()
                   for name, (est, cols) in methods.items()}
    return pd.DataFrame(rows).T


data_ks = list(range(1, 11))
widths = [2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128]
paper_3b = [75.90, 82.69, 81.60, 90.19, 90.90, 91.22, 91.22, 91.22, 90.90, 91.41]
paper_3c = [82.56, 82.82, 82.82, 91.28, 90.90, 91.03, 91.03] + [91.09] * 5 + [91.41]

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
by_data = curve("data_limit", data_ks)
plot_accuracy_curves(by_data, reference={"MD tree (Brent)": (data_ks, paper_3b)}, ax=left,
                     title="Figure 3b: trained on models with data <= k",
                     xlabel="k (largest data amount, tenths of CIFAR-10)")
by_width = curve("width_limit", widths)
plot_accuracy_curves(by_width, reference={"MD tree (Brent)": (widths, paper_3c)}, ax=right,
                     logx=True, title="Figure 3c: trained on models with width <= k",
                     xlabel="k (largest ResNet-18 width)")
left.get_legend().remove()
print(by_data.round(2).to_string())
