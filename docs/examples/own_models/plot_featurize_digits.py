"""
=====================================================
Featurizing your own PyTorch models: MLPs on digits
=====================================================

The MD tree reads a trained model's loss landscape: training error, mode
connectivity, Hessian sharpness, CKA similarity. The ``featurizers`` package computes
them for your own PyTorch models. Here we train a tiny group of MLPs on
scikit-learn's digits -- two seeds at each of two batch sizes, a few seconds on a CPU
-- turn each group into one feature row, label the two configurations from their
validation error, and put their metrics beside those of the paper's collection.

This example needs the ``torch`` extra: ``pip install "sklearn-mdtree[torch]"``.
"""

# %%
# Data and models
# ---------------
# Tiny networks spend most of their time starting threads, not computing: one thread
# is faster here (and much faster on a busy machine).
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

torch.set_num_threads(1)

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(
    (X / 16).astype(np.float32), y, train_size=1200, stratify=y, random_state=0
)
train_data = (torch.from_numpy(X_train), torch.from_numpy(y_train))
val_data = (torch.from_numpy(X_val), torch.from_numpy(y_val))


def make_mlp(seed, width=32):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(64, width), torch.nn.Tanh(),
        torch.nn.Linear(width, width), torch.nn.Tanh(),
        torch.nn.Linear(width, 10),
    )


# %%
# Training with a fixed number of steps
# -------------------------------------
# Every model takes the same number of SGD steps, whatever its batch size, so that the
# batch size acts as the temperature of the optimizer (with a fixed number of epochs,
# a large batch would also mean fewer steps: early stopping, another failure source).


def train(model, batch_size, seed, steps=600, lr=0.1):
    X_t, y_t = train_data
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for _ in range(steps):
        batch = torch.randint(0, len(X_t), (batch_size,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(X_t[batch]), y_t[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


# %%
# One :class:`~featurizers.ModelGroup` per configuration: its models (one per seed),
# the training data, the validation data, and the configuration's hyperparameters.
from featurizers import ModelGroup

batch_sizes = [8, 256]
groups = [
    ModelGroup(
        [train(make_mlp(seed), batch_size, seed) for seed in (0, 1)],
        train_data,
        val_data,
        metadata={"batch_size": batch_size, "width": 32},
        name=f"batch size {batch_size}",
    )
    for batch_size in batch_sizes
]
print(groups)

# %%
# Feature rows
# ------------
# :class:`~featurizers.LossLandscapeFeaturizer` computes the MD tree's features,
# :class:`~featurizers.ValidationFeaturizer` the validation error. A scikit-learn
# :class:`~sklearn.pipeline.FeatureUnion` joins them; ``set_output`` names the
# columns. Curve training dominates the cost: 3 epochs here (the paper's collections
# use 50).
import pandas as pd
from sklearn.pipeline import make_union

from featurizers import LossLandscapeFeaturizer, ValidationFeaturizer

featurizer = make_union(
    LossLandscapeFeaturizer(curve_epochs=3, random_state=0, verbose=0),
    ValidationFeaturizer(["test_error"], verbose=0),
    verbose_feature_names_out=False,
).set_output(transform="pandas")
table = featurizer.fit_transform(groups)
table.index = [g.name for g in groups]
print(table.round(3).to_string())

# %%
# The small batch gives the hot regime of the paper: the models do not fit their
# training set, the path between two seeds' models climbs to a high training error,
# and their outputs differ (low CKA). The large batch interpolates its training set,
# with a much lower barrier between the two seeds' models.
#
# Labels from the validation error
# --------------------------------
# Which configuration failed, and why? :func:`~sklearn_mdtree.rfi.label_configurations`
# compares the configurations of a grid -- here one width, one data amount, two batch
# sizes -- by their room for improvement:
from sklearn_mdtree.rfi import label_configurations, label_meaning

grid = pd.DataFrame({
    "width": 32, "data": 1200, "bs": batch_sizes, "test_error": table["test_error"].to_numpy()
})
labelled = label_configurations(grid)
print(labelled[["bs", "test_error", "rfi_inc_temp", "rfi_dec_temp", "bs_failure"]].to_string())
for label in labelled["bs_failure"]:
    print(f"{label}: {label_meaning('bs_failure', label).action}")

# %%
# With real data you would train a grid of configurations, label it this way, and
# fit an MD tree on the rows (:ref:`featurize`).
#
# Another scale
# -------------
# The paper's thresholds and bounds were chosen for ResNet-18 on CIFAR-10. Where do
# these MLPs fall among the 1690 models of the public collection F? Each panel shows
# the distribution of a feature in F, the bounds the paper searches that feature's
# threshold in (shaded), and our two groups.
import matplotlib.pyplot as plt

from sklearn_mdtree import get_preset
from sklearn_mdtree.datasets import fetch_model_diagnosis

F = fetch_model_diagnosis("normal").frame
bounds = {s.feature: s.bounds for s in get_preset("q1").splits()}
bounds["CKA"] = get_preset("q1_similarity").splits()[2].bounds

features = ["train_error", "mode_connectivity_peak", "hessian_t", "CKA"]
labels = {
    "train_error": "training error (%)",
    "mode_connectivity_peak": "connectivity: minus peak error (%)",
    "hessian_t": "sharpness: ln(Hessian trace)",
    "CKA": "similarity: CKA (0 to 1)",
}
fig, axes = plt.subplots(1, 4, figsize=(12, 3.4), layout="constrained")
for ax, feature in zip(axes, features):
    ax.hist(F[feature], bins=40, color="0.75", label="models of collection F")
    ax.axvspan(*bounds[feature], color="tab:blue", alpha=0.15, label="paper's threshold bounds")
    for (name, value), color in zip(table[feature].items(), ["tab:red", "tab:green"]):
        ax.axvline(value, color=color, linewidth=2, label=f"our MLPs: {name}")
    ax.set_xlabel(labels[feature])
    ax.set_ylabel("models of F")
handles, names = axes[0].get_legend_handles_labels()
fig.legend(handles, names, loc="outside lower center", ncols=4, fontsize="small")
fig.suptitle("Features of our digits MLPs against the distribution in F and the paper's bounds",
             fontsize="medium")

# %%
# In this run the log Hessian trace of the MLPs lies below the paper's sharpness
# bounds [4, 9], lower than for almost every model of F, and the connectivity of the
# hot group is far outside the connectivity bounds [-30, 0]. A threshold searched in
# [4, 9] cannot separate such models: fit trees for small models on small models, and
# search thresholds within the range of your data (``bounds="data"``, or a grid
# search over the bounds; see
# :ref:`sphx_glr_auto_examples_advanced_plot_grid_search_bounds.py`).
