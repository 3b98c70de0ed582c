"""Tests of the pictures of sklearn_mdtree.plotting: tree, regimes, evidence (Agg backend)."""

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from sklearn_mdtree import Hierarchy, Leaf, MDTreeClassifier, Split, get_preset  # noqa: E402
from sklearn_mdtree._hierarchy import PRESETS  # noqa: E402
from sklearn_mdtree.plotting import (  # noqa: E402
    _LABEL_COLOURS,
    plot_accuracy_curves,
    plot_connectivity_curve,
    plot_model_position,
    plot_one_step_gains,
    plot_regimes,
    plot_trace_estimates,
    plot_tree,
)

TASKS = {"bs_failure": ["small", "large"], "width_vs_batch": ["width", "batch"],
         "data_vs_batch": ["data", "batch"]}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "train_error": rng.uniform(0, 1, n),
        "mode_connectivity_peak": rng.uniform(-30, 0, n),
        "hessian_t": rng.uniform(4, 9, n),
        "CKA": rng.uniform(0.2, 0.8, n),
    })


def _fitted(preset, n=60, seed=0):
    X = _frame(n, seed)
    task = get_preset(preset).task
    y = np.random.default_rng(seed + 1).choice(TASKS[task], n)
    return MDTreeClassifier(preset).fit(X, y), X, y


def _by_gid(artists, prefix):
    return {a.get_gid(): a for a in artists if (a.get_gid() or "").startswith(prefix)}


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


def test_plot_regimes_thresholds_at_the_fitted_values():
    clf, X, y = _fitted("q1", n=80)
    Xt, yt = _frame(50, seed=5), np.random.default_rng(7).choice(["small", "large"], 50)
    axes = plot_regimes(clf, X, y, X_test=Xt, y_test=yt)
    assert axes.shape == (2, 2)
    t1, t2 = clf.thresholds_["t1"], clf.thresholds_["t2"]
    for row in range(2):
        left, right = axes[row]
        assert not _by_gid(left.get_lines(), "threshold:")  # one leaf left of t0
        lines = _by_gid(right.get_lines(), "threshold:")
        assert sorted(lines) == ["threshold:t1", "threshold:t2"]
        np.testing.assert_allclose(lines["threshold:t1"].get_xdata(), [t1, t1])  # vertical
        np.testing.assert_allclose(lines["threshold:t2"].get_ydata(), [t2, t2])  # horizontal
        # t2 only applies where connectivity <= t1
        assert max(lines["threshold:t2"].get_xdata()) == pytest.approx(t1)
        assert lines["threshold:t1"].get_linestyle() == "--"
        assert sorted(_by_gid(left.texts, "regime:")) == ["regime:0"]
        assert sorted(_by_gid(right.texts, "regime:")) == ["regime:1", "regime:2", "regime:3"]
        assert left.get_xlabel() == "connectivity: minus the peak error on the curve (%)"
        assert left.get_ylabel() == "sharpness: ln(Hessian trace)"
    # every sample drawn once, on its side of the root split
    for row, (Xs, n) in enumerate(((X, 80), (Xt, 50))):
        drawn = [sum(len(c.get_offsets()) for c in ax.collections) for ax in axes[row]]
        left = int((Xs["train_error"] <= clf.thresholds_["t0"]).sum())
        assert drawn == [left, n - left]
    assert axes[0, 0].get_title().startswith("training set: train_error <=")
    assert axes[1, 1].get_title().startswith("test set: train_error >")


def test_plot_regimes_regime_numbers_inside_their_regions():
    clf, X, y = _fitted("q1", n=80)
    axes = plot_regimes(clf, X, y)
    t1, t2 = clf.thresholds_["t1"], clf.thresholds_["t2"]
    texts = _by_gid(axes[0, 1].texts, "regime:")
    x, v = texts["regime:1"].get_position()
    assert x <= t1 and v <= t2
    x, v = texts["regime:2"].get_position()
    assert x <= t1 and v > t2
    x, _ = texts["regime:3"].get_position()
    assert x > t1


def test_plot_regimes_highlight_and_legend_outside_the_panels():
    clf, X, y = _fitted("q1_similarity", n=80)
    sample = X.iloc[[0]]
    axes = plot_regimes(clf, X, y, highlight=sample)
    side = int(clf.apply(sample)[0] >= 1)
    stars = [c for ax in axes.ravel() for c in ax.collections if c.get_gid() == "highlight"]
    assert len(stars) == 1 and stars[0].axes is axes[0, side]
    assert axes[0, 0].get_ylabel() == "similarity: CKA of two seeds (0 to 1)"
    fig = axes[0, 0].figure
    fig.canvas.draw()
    (legend,) = fig.legends
    box = legend.get_window_extent()
    for ax in axes.ravel():
        assert not box.overlaps(ax.get_window_extent())
    labels = [t.get_text() for t in legend.get_texts()]
    assert "this model" in labels and "true label: small" in labels


def test_plot_regimes_one_feature_below_the_root_uses_the_root_feature():
    clf, X, y = _fitted("q2_width", n=60)
    axes = plot_regimes(clf, X, y)
    ax = axes[0, 0]
    assert ax.get_ylabel() == "training error (%)"
    lines = _by_gid(ax.get_lines(), "threshold:")
    np.testing.assert_allclose(lines["threshold:t1"].get_xdata(), [clf.thresholds_["t1"]] * 2)


def test_plot_regimes_given_axes_and_bad_input():
    clf, X, y = _fitted("q1")
    fig, axes = plt.subplots(1, 2)
    assert plot_regimes(clf, X, y, axes=axes)[0, 1] is axes[1]
    with pytest.raises(ValueError, match="1 x 2 axes"):
        plot_regimes(clf, X, y, axes=[axes[0]])
    with pytest.raises(ValueError, match="'y_test'"):
        plot_regimes(clf, X, y, X_test=X)
    single = MDTreeClassifier(Hierarchy(Split("a", "train_error"))).fit(X, y)
    with pytest.raises(ValueError, match="at least two features"):
        plot_regimes(single, X, y)


def test_plot_connectivity_curve_marks_endpoints_and_barrier():
    errors = [[2.0, 10.0, 30.0, 12.0, 4.0], [1.0, 3.0, 2.0, 5.0, 1.5]]
    ax = plot_connectivity_curve(errors, labels=["seeds 0-1", "seeds 2-3"])
    lines = _by_gid(ax.get_lines(), "")
    np.testing.assert_allclose(lines["endpoints:0"].get_xdata(), [0, 1])
    np.testing.assert_allclose(lines["endpoints:0"].get_ydata(), [2, 4])
    np.testing.assert_allclose(lines["barrier:0"].get_xydata(), [[0.5, 30.0]])
    np.testing.assert_allclose(lines["barrier:1"].get_xydata(), [[0.75, 5.0]])
    assert lines["curve:0"].get_label() == "seeds 0-1: peak feature -30.0"
    assert ax.get_ylabel() == "training error (%)" and ax.get_xlabel().startswith("t along")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "end points: the two models" in legend and "barrier: highest error inside" in legend
    with pytest.raises(ValueError, match="shape"):
        plot_connectivity_curve([1.0, 2.0, 3.0])


def test_plot_trace_estimates_mean_and_standard_error():
    values = {"Hutchinson": [5.0, 7.0, 6.0, 8.0], "deflated": [6.4, 6.5, 6.6]}
    ax = plot_trace_estimates(values, exact=6.5)
    bars = [c for c in ax.containers]
    assert len(bars) == 2
    mean_line, _, (segments,) = bars[0].lines
    np.testing.assert_allclose(np.asarray(mean_line.get_ydata(), float), [6.5])
    se = np.std(values["Hutchinson"], ddof=1) / 2
    np.testing.assert_allclose(segments.get_segments()[0][:, 1], [6.5 - se, 6.5 + se])
    assert [len(c.get_offsets()) for c in ax.collections if c.get_gid()
            and c.get_gid().startswith("estimates:")] == [4, 3]
    assert _by_gid(ax.get_lines(), "exact")["exact"].get_ydata()[0] == 6.5
    with pytest.raises(ValueError, match="at least two"):
        plot_trace_estimates([1.0])


@pytest.mark.parametrize("draw", ["curves", "gains", "curve", "trace"])
def test_legends_do_not_cover_the_data(draw):
    if draw == "curves":
        ax = plot_accuracy_curves({"A": ([1, 2], [80.0, 90.0])}, reference={"A": ([1], [81.0])})
    elif draw == "gains":
        ax = plot_one_step_gains(pd.DataFrame({"fixed": [1.0], "optimal": [5.0]}, index=["m"]))
    elif draw == "curve":
        ax = plot_connectivity_curve([2.0, 10.0, 30.0, 12.0, 4.0])
    else:
        ax = plot_trace_estimates([1.0, 2.0, 3.0])
    ax.figure.canvas.draw()
    legend = ax.get_legend()
    assert not legend.get_window_extent().overlaps(ax.get_window_extent())


def test_plot_model_position_star_bars_and_regimes():
    clf, X, y = _fitted("q1", n=80)
    inner = np.flatnonzero(np.isin(clf.apply(X), [1, 2]))
    model = X.iloc[[int(inner[0])]]
    ax = plot_model_position(clf, model, se={"hessian_t": 0.25, "mode_connectivity_peak": 1.5})
    (star,) = [c for c in ax.collections if c.get_gid() == "model"]
    np.testing.assert_allclose(
        star.get_offsets()[0], model[["mode_connectivity_peak", "hessian_t"]].to_numpy()[0]
    )
    bars = {c.get_label(): c for c in ax.containers}
    one = bars["+-1 standard error"]
    x_bar, y_bar = one.lines[2]
    np.testing.assert_allclose(np.ptp(x_bar.get_segments()[0][:, 0]), 2 * 1.5)
    np.testing.assert_allclose(np.ptp(y_bar.get_segments()[0][:, 1]), 2 * 0.25)
    assert "+-2 standard errors" in bars
    lines = _by_gid(ax.get_lines(), "threshold:")
    np.testing.assert_allclose(lines["threshold:t2"].get_ydata(), [clf.thresholds_["t2"]] * 2)
    assert sorted(_by_gid(ax.texts, "regime:")) == ["regime:1", "regime:2", "regime:3"]
    regime = int(clf.apply(model)[0])
    assert ax.get_title() == f"regime {regime}: {clf.leaf_labels_[regime]}"
    with pytest.raises(ValueError, match="one sample"):
        plot_model_position(clf, X.iloc[:2])


def test_plot_model_position_without_standard_errors_has_no_bars():
    clf, X, y = _fitted("q1", n=80)
    ax = plot_model_position(clf, X.iloc[[0]])
    assert not ax.containers
    assert [c.get_gid() for c in ax.collections] == ["model"]
