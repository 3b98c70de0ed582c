"""Tests of sklearn_mdtree.plotting._tree: TreeDisplay and plot_tree.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from _plotting_cases import _by_gid, _fitted
from matplotlib.colors import to_rgb

from sklearn_mdtree import Hierarchy, Leaf, MDTreeClassifier, Split
from sklearn_mdtree._hierarchy import PRESETS
from sklearn_mdtree.plotting import TreeDisplay, plot_tree
from sklearn_mdtree.plotting._common import _LABEL_COLOURS


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_plot_tree_draws_every_split_and_leaf_of_each_preset(preset):
    clf, X, y = _fitted(preset)
    ax = plot_tree(clf)
    leaves = _by_gid(ax.texts, "leaf:")
    splits = _by_gid(ax.texts, "split:")
    n_leaves = len(clf.hierarchy_.leaves())
    assert sorted(leaves) == sorted(f"leaf:{i}" for i in range(n_leaves))
    assert sorted(splits) == sorted(f"split:{s}" for s in clf.thresholds_)
    for name, thr in clf.thresholds_.items():  # the fitted threshold is printed
        assert f"<= {thr:.2f}" in splits[f"split:{name}"].get_text()
    for regime, label in enumerate(clf.leaf_labels_):
        box = leaves[f"leaf:{regime}"]
        assert box.get_text().startswith(f"regime {regime}: {label}")
        # leaves coloured by the class they emit
        edge = box.get_bbox_patch().get_edgecolor()[:3]
        np.testing.assert_allclose(edge, to_rgb(_LABEL_COLOURS[label]))
    # n_nodes - 1 edges, each with a yes/no label
    edges = _by_gid(ax.get_lines(), "edge:")
    assert len(edges) == len(leaves) + len(splits) - 1
    assert ax.get_title().startswith(f"MD tree ({preset})")


def test_plot_tree_shares_and_counts_add_up():
    clf, X, y = _fitted("q1", n=40)
    ax = plot_tree(clf)
    root = _by_gid(ax.texts, "split:")["split:t0"].get_text()
    assert "40 samples (100%)" in root
    counts = pd.Series(y).value_counts()
    assert f"large: {counts['large']}" in root and f"small: {counts['small']}" in root
    leaf0 = _by_gid(ax.texts, "leaf:")["leaf:0"].get_text()
    n0 = int(clf.leaf_class_weight_[0].sum())
    assert f"{n0} samples ({100 * n0 / 40:.0f}%)" in leaf0
    assert "Lower the batch size." in leaf0  # the action of label 'small'


def test_plot_tree_highlights_the_path_of_one_sample():
    clf, X, y = _fitted("q1")
    sample = X.iloc[[int(np.flatnonzero(clf.apply(X) == 2)[0])]]
    ax = plot_tree(clf, highlight=sample)
    path = set(clf.decision_path(sample).indices.tolist())
    bold_edges = {g for g, line in _by_gid(ax.get_lines(), "edge:").items()
                  if line.get_linewidth() > 2}
    expected = {f"edge:{a}-{b}" for a in path for b in path if f"edge:{a}-{b}" in
                _by_gid(ax.get_lines(), "edge:")}
    assert bold_edges == expected and len(bold_edges) == 3  # root -> t1 -> t2 -> leaf 2
    leaves = _by_gid(ax.texts, "leaf:")
    assert leaves["leaf:2"].get_bbox_patch().get_linewidth() > 2
    assert leaves["leaf:0"].get_bbox_patch().get_linewidth() == 1
    with pytest.raises(ValueError, match="one sample"):
        plot_tree(clf, highlight=X.iloc[:2])


def test_plot_tree_user_hierarchy_on_arrays_with_weights():
    lower = Split("b", 1, left=Leaf(1), right=Leaf(None))
    h = Hierarchy(Split("a", 0, 0.5, left=Leaf(0), right=lower))
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (30, 2))
    y = (X[:, 0] > 0.5).astype(int) + (X[:, 1] > 0.5)
    clf = MDTreeClassifier(h).fit(X, y, sample_weight=np.full(30, 0.5))
    fig, ax = plt.subplots()
    assert plot_tree(clf, ax=ax, title="") is ax
    splits = _by_gid(ax.texts, "split:")
    assert "feature_0 <=" in splits["split:a"].get_text()
    assert "15.00 samples (100%)" in splits["split:a"].get_text()  # weighted counts
    assert len(_by_gid(ax.texts, "leaf:")) == 3
    assert ax.get_title() == ""


def test_plot_tree_bad_input():
    with pytest.raises(TypeError, match="'clf' parameter of plot_tree"):
        plot_tree("q1")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        plot_tree(MDTreeClassifier())


def test_tree_display_from_estimator_keeps_its_artists():
    clf, X, y = _fitted("q1")
    sample = X.iloc[[int(np.flatnonzero(clf.apply(X) == 2)[0])]]
    display = TreeDisplay.from_estimator(clf, highlight=sample, decimals=3)
    assert display.estimator is clf
    np.testing.assert_array_equal(display.decision_path,
                                  clf.decision_path(sample).indices)
    assert display.figure_ is display.ax_.figure
    assert sorted(display.node_texts_) == sorted(
        [f"leaf:{i}" for i in range(4)] + [f"split:{s}" for s in clf.thresholds_]
    )
    assert all(t in display.ax_.texts for t in display.node_texts_.values())
    thr = clf.thresholds_["t1"]
    assert f"<= {thr:.3f}" in display.node_texts_["split:t1"].get_text()
    assert len(display.edge_lines_) == len(display.node_texts_) - 1
    assert sorted(t.get_text() for t in display.edge_texts_) == ["no"] * 3 + ["yes"] * 3
    bold = sorted(g for g, line in display.edge_lines_.items() if line.get_linewidth() > 2)
    assert bold == ["edge:0-2", "edge:2-3", "edge:3-5"]  # root -> t1 -> t2 -> leaf 2


def test_tree_display_plot_on_given_axes_draws_the_same_picture():
    clf, X, y = _fitted("q2")
    first = plot_tree(clf)
    fig, ax = plt.subplots()
    display = TreeDisplay(clf)
    assert display.plot(ax=ax, title="mine") is display
    assert display.ax_ is ax and display.figure_ is fig
    assert ax.get_title() == "mine"
    assert sorted(t.get_text() for t in display.node_texts_.values()) == sorted(
        t.get_text() for t in first.texts if t.get_gid()
    )
    # plotting again, elsewhere, leaves the first axes as they were
    n_texts = len(ax.texts)
    other = display.plot().ax_
    assert other is not ax and display.ax_ is other and len(ax.texts) == n_texts


def test_tree_display_bad_input_names_from_estimator():
    with pytest.raises(TypeError, match="'estimator' parameter of TreeDisplay.from_estimator"):
        TreeDisplay.from_estimator("q1")
    clf, X, y = _fitted("q1")
    with pytest.raises(ValueError, match="'highlight' parameter of TreeDisplay.from_estimator"):
        TreeDisplay.from_estimator(clf, highlight=X.iloc[:2])


@pytest.mark.parametrize("preset", ["q1", "q2"])
def test_plot_tree_actions_follow_the_optimizer(preset):
    """Issue 23: the pictures said "Lower/Raise the batch size" after --optimizer
    "learning rate"."""
    clf, X, y = _fitted(preset)
    texts = {o: "\n".join(t.get_text() for t in plot_tree(clf, optimizer=o).texts)
             for o in ("batch size", "learning rate")}
    plt.close("all")
    assert "learning" not in texts["batch size"]
    assert "batch size" not in texts["learning rate"]
    if preset == "q1":
        leaves = {lab: "Raise the learning rate." if lab == "small" else
                  "Lower the learning rate." for lab in clf.leaf_labels_}
        for regime, label in enumerate(clf.leaf_labels_):
            text = _by_gid(plot_tree(clf, optimizer="learning rate").texts,
                           "leaf:")[f"leaf:{regime}"].get_text()
            assert " ".join(text.split()).count(leaves[label]) == 1, text
            plt.close("all")
    with pytest.raises(ValueError, match="'optimizer' parameter"):
        plot_tree(clf, optimizer="momentum")


def test_html_tree_pictures_follow_the_reports_optimizer(monkeypatch):
    import warnings

    import sklearn_mdtree
    import sklearn_mdtree.plotting as plotting

    seen = []
    original = plotting.plot_tree

    def spy(clf, **kwargs):
        seen.append(kwargs.get("optimizer"))
        return original(clf, **kwargs)

    monkeypatch.setattr(plotting, "plot_tree", spy)
    X = pd.DataFrame({"train_error": [2.0], "mode_connectivity_peak": [-30.0],
                      "hessian_t": [5.0]}, index=["m"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = sklearn_mdtree.diagnose(X, "cifar10-resnet18", optimizer="learning rate")
    report.to_html()
    plt.close("all")
    assert seen and set(seen) == {"learning rate"}
