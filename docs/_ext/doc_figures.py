"""Figures of the documentation pages, drawn at build time by ``.. plot::`` directives.

Kept out of the package: these are pictures for the reader (the method overview,
one sketch per metric, the fitted tree of the paper's main experiment), built from
the package's own plotting functions and the public collections.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch

STEPS = [
    ("trained models", "one configuration,\na few seeds\n(a group)", "#e8eef7"),
    ("metrics", "training error\nmode connectivity\nsharpness, CKA", "#e8f4ea"),
    ("fixed hierarchy", "the MD tree: order fixed,\nthresholds learned from\na few labelled models",
     "#fdf1e0"),
    ("regime", "the leaf the model\nfalls in", "#f3e8f7"),
    ("action", "e.g. lower the batch\nsize, widen the model,\nadd data", "#fbe6e6"),
]
CODE = [
    "featurizers.ModelGroup",
    "featurizers.\nLossLandscapeFeaturizer",
    "MDTreeClassifier.fit",
    "MDTreeClassifier.apply",
    "rfi.label_meaning,\ndiagnosis.recommend",
]


def method_overview():
    """Models -> metrics -> fixed hierarchy -> regime -> action, with the API of each step."""
    fig, ax = plt.subplots(figsize=(11, 2.7))
    width, gap = 2.1, 0.5
    for i, ((name, text, colour), code) in enumerate(zip(STEPS, CODE)):
        x = i * (width + gap)
        ax.add_patch(FancyBboxPatch((x, 0.35), width, 1.3, boxstyle="round,pad=0.05",
                                    facecolor=colour, edgecolor="0.35"))
        ax.text(x + width / 2, 1.42, name, ha="center", va="center", fontsize=10.5,
                fontweight="bold")
        ax.text(x + width / 2, 0.88, text, ha="center", va="center", fontsize=8)
        ax.text(x + width / 2, 0.05, code, ha="center", va="top", fontsize=7.5,
                family="monospace", color="0.3")
        if i:
            ax.annotate("", xy=(x - 0.06, 1.0), xytext=(x - gap + 0.06, 1.0),
                        arrowprops=dict(arrowstyle="-|>", color="0.2", linewidth=1.5))
    ax.set_xlim(-0.1, len(STEPS) * (width + gap) - gap + 0.1)
    ax.set_ylim(-0.55, 1.8)
    ax.set_axis_off()
    return fig


def metric_sketches():
    """One small sketch per metric of the MD tree (illustrations, not data)."""
    from sklearn_mdtree.plotting import plot_connectivity_curve

    fig, axes = plt.subplots(1, 4, figsize=(12, 2.9), layout="constrained")
    ax = axes[0]
    epochs = np.arange(1, 101)
    for label, floor, colour in (("interpolates", 0.0, "C0"), ("does not", 12.0, "C3")):
        ax.plot(epochs, floor + 60 * np.exp(-epochs / 15), color=colour, label=label)
    ax.set(xlabel="training epoch", ylabel="training error (%)",
           title="training error: does the\nmodel fit its training set?")
    ax.legend(fontsize="x-small", loc="upper right")
    ax = axes[1]
    plot_connectivity_curve([[1.0, 20.0, 35.0, 18.0, 1.5], [1.0, 1.5, 2.0, 1.2, 1.5]],
                            labels=["barrier", "connected"], ax=ax,
                            title="connectivity: is there a low-\nerror path between seeds?")
    ax.get_legend().remove()
    ax.set_xlabel("t along the curve (0, 1: the two seeds)")
    ax = axes[2]
    w = np.linspace(-2, 2, 200)
    ax.plot(w, 0.2 * w ** 2, label="flat: small trace")
    ax.plot(w, 2.5 * w ** 2, label="sharp: large trace")
    ax.set(ylim=(0, 3), xlabel="weights along one direction", ylabel="training loss",
           title="sharpness: how curved is the\nminimum (Hessian trace)?")
    ax.legend(fontsize="x-small", loc="upper center")
    ax = axes[3]
    rng = np.random.default_rng(0)
    a = rng.normal(size=80)
    ax.scatter(a, a + 0.15 * rng.normal(size=80), s=8, label="similar: CKA near 1")
    ax.scatter(a, rng.normal(size=80), s=8, label="dissimilar: CKA near 0")
    ax.set(xlabel="output of seed 1", ylabel="output of seed 2",
           title="similarity: do two seeds\ncompute the same (CKA)?")
    ax.legend(fontsize="x-small", loc="upper left")
    return fig


def case_1_tree():
    """The MD tree of the paper's case 1 (Figure 4a) fitted on 8 random pairs of F."""
    from sklearn_mdtree import MDTreeClassifier
    from sklearn_mdtree.datasets import fetch_model_diagnosis
    from sklearn_mdtree.model_selection import FewShotTransfer

    both = fetch_model_diagnosis("both").frame
    cv = FewShotTransfer("random_pairs", k=8, label="bs_failure", frame=both)
    train, test = next(cv.split(both))
    y = both["bs_failure"]
    clf = MDTreeClassifier("q1").fit(both.iloc[train], y.iloc[train])
    return clf, both.iloc[train], y.iloc[train], both.iloc[test], y.iloc[test]
