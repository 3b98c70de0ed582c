"""Tests of sklearn_mdtree.plotting._regimes: RegimesDisplay, plot_regimes, plot_model_position.
"""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from _plotting_cases import _by_gid, _fitted, _frame

from sklearn_mdtree import Hierarchy, MDTreeClassifier, Split
from sklearn_mdtree.plotting import RegimesDisplay, plot_model_position, plot_regimes
from sklearn_mdtree.plotting._regimes import _plane


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


def test_regimes_display_from_estimator_keeps_what_it_computed_and_drew():
    clf, X, y = _fitted("q1", n=80)
    Xt, yt = _frame(50, seed=5), np.random.default_rng(7).choice(["small", "large"], 50)
    sample = X.iloc[[0]]
    display = RegimesDisplay.from_estimator(clf, X, y, X_test=Xt, y_test=yt, highlight=sample,
                                            titles=("F", "F'"))
    assert display.estimator is clf
    assert display.features == ("mode_connectivity_peak", "hessian_t") == tuple(_plane(clf)[1])
    assert [row.name for row in display.samples] == ["F", "F'"]
    np.testing.assert_array_equal(display.samples[1].x, Xt["mode_connectivity_peak"])
    np.testing.assert_array_equal(display.samples[0].right,
                                  X["train_error"] > clf.thresholds_["t0"])
    assert display.axes_.shape == (2, 2) and display.figure_ is display.axes_[0, 0].figure
    # two thresholds per right-hand panel, at the fitted values
    gids = sorted(line.get_gid() for line in display.threshold_lines_)
    assert gids == ["threshold:t1"] * 2 + ["threshold:t2"] * 2
    for line in display.threshold_lines_:
        name = line.get_gid().split(":")[1]
        data = line.get_xdata() if name == "t1" else line.get_ydata()
        np.testing.assert_allclose(data, [clf.thresholds_[name]] * 2)
    assert sorted(t.get_text() for t in display.regime_texts_) == sorted(
        ["(0)", "(1)", "(2)", "(3)"] * 2
    )
    assert sum(len(c.get_offsets()) for c in display.samples_) == 80 + 50
    side = int(display.highlight.right)  # the star in its panel of each row
    assert [star.axes for star in display.highlight_] == list(display.axes_[:, side])
    assert {star.get_gid() for star in display.highlight_} == {"highlight"}
    assert display.legend_ in display.figure_.legends


def test_regimes_display_plot_on_given_axes_reuses_them():
    clf, X, y = _fitted("q1", n=60)
    display = RegimesDisplay.from_estimator(clf, X, y)
    fig, axes = plt.subplots(1, 2)
    assert display.plot(ax=axes) is display
    assert display.axes_[0, 0] is axes[0] and display.axes_[0, 1] is axes[1]
    assert display.figure_ is fig
    assert all(line.axes is axes[1] for line in display.threshold_lines_)
    with pytest.raises(ValueError, match="'ax' parameter of RegimesDisplay.plot"):
        display.plot(ax=[axes[0]])
    with pytest.raises(TypeError, match="'estimator' parameter of RegimesDisplay"):
        RegimesDisplay.from_estimator("q1", X, y)
    with pytest.raises(ValueError, match="'y_test' parameter of RegimesDisplay.from_estimator"):
        RegimesDisplay.from_estimator(clf, X, y, X_test=X)


def test_plot_regimes_returns_the_axes_of_the_display():
    clf, X, y = _fitted("q1", n=60)
    axes = plot_regimes(clf, X, y)
    display = RegimesDisplay.from_estimator(clf, X, y)
    assert axes.shape == display.axes_.shape
    for ours, theirs in zip(axes.ravel(), display.axes_.ravel()):
        assert ours.get_title() == theirs.get_title()
        assert len(ours.get_lines()) == len(theirs.get_lines())
