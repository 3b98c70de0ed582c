"""Tests of sklearn_mdtree.plotting._curves: accuracy curves and one-step bars.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from sklearn_mdtree.plotting import plot_accuracy_curves, plot_one_step_gains


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_curves_from_dict_with_reference_markers_in_the_same_colour():
    ks = [1, 2, 4, 8]
    ax = plot_accuracy_curves(
        {"MD tree": (ks, [76.6, 81.2, 82.0, 87.7]), "Valid+DT": (ks, [68, 72, 71, 73.5])},
        reference={"MD tree": (ks, [76.64, 81.23, 82.03, 87.71])},
        title="Fig 3a", xlabel="pairs",
    )
    lines = _lines(ax)
    assert set(lines) == {"MD tree", "Valid+DT", "MD tree (paper)"}
    np.testing.assert_array_equal(lines["MD tree"].get_xdata(), ks)
    np.testing.assert_allclose(lines["MD tree (paper)"].get_ydata(), [76.64, 81.23, 82.03, 87.71])
    assert lines["MD tree (paper)"].get_linestyle() == "None"
    assert to_rgba(lines["MD tree (paper)"].get_color()) == to_rgba(lines["MD tree"].get_color())
    assert ax.get_title() == "Fig 3a" and ax.get_xlabel() == "pairs"
    assert ax.get_legend() is not None


def test_curves_from_wide_frame_with_error_bands_and_log_axis():
    wide = pd.DataFrame({"A": [80.0, 85.0, np.nan], "B": [60.0, 65.0, 70.0]}, index=[2, 4, 8])
    spread = pd.DataFrame({"A": [1.0, 2.0, 0.0], "B": [0.5, 0.5, 0.5]}, index=[2, 4, 8])
    fig, ax = plt.subplots()
    returned = plot_accuracy_curves(wide, errors=spread, ax=ax, logx=True)
    assert returned is ax
    lines = _lines(ax)
    np.testing.assert_array_equal(lines["A"].get_xdata(), [2, 4])  # NaN dropped
    assert len(ax.collections) == 2  # one band per method
    assert ax.get_xscale() == "log"


def test_reference_for_a_method_without_curve_gets_its_own_colour():
    ax = plot_accuracy_curves({"A": ([1, 2], [1.0, 2.0])}, reference={"B": ([1, 2], [3.0, 4.0])})
    assert "B (paper)" in _lines(ax)


@pytest.mark.parametrize(
    "curves, kwargs, error, message",
    [
        ([1, 2, 3], {}, TypeError, "'curves' parameter must be a DataFrame"),
        ({"A": [1, 2, 3]}, {}, ValueError, "pair \\(x, y\\)"),
        ({"A": ([1], [1.0])}, {"reference": "paper"}, TypeError, "'reference' parameter"),
    ],
)
def test_curves_bad_input(curves, kwargs, error, message):
    with pytest.raises(error, match=message):
        plot_accuracy_curves(curves, **kwargs)


def test_one_step_bars_and_reference():
    gains = pd.DataFrame(
        {"fixed": [1.34, 0.92], "random": [2.74, 1.79], "optimal": [5.52, 3.50]},
        index=["MD tree", "Random diagnosis"],
    )
    reference = pd.DataFrame({"fixed": [1.342], "optimal": [5.518]}, index=["MD tree"])
    ax = plot_one_step_gains(gains, reference=reference, title="Q1")
    assert len(ax.patches) == 6
    heights = sorted(p.get_height() for p in ax.patches)
    np.testing.assert_allclose(heights, sorted(gains.to_numpy().ravel()))
    markers = [line for line in ax.get_lines() if line.get_marker() == "_"]
    assert sorted(float(y) for line in markers for y in line.get_ydata()) == [1.342, 5.518]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels.count("paper") == 1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["MD tree", "Random diagnosis"]


def test_one_step_bad_input():
    with pytest.raises(TypeError, match="'gains' parameter of plot_one_step_gains"):
        plot_one_step_gains({"fixed": [1.0]})


@pytest.mark.parametrize(
    "function, args, kwargs, name",
    [
        (plot_accuracy_curves, ({"A": ([1], [1.0])},), {"logx": "yes"}, "logx"),
        (plot_accuracy_curves, ({"A": ([1], [1.0])},), {"ax": "axes"}, "ax"),
        (plot_one_step_gains, (pd.DataFrame({"fixed": [1.0]}),), {"reference": [1]},
         "reference"),
        (plot_one_step_gains, (pd.DataFrame({"fixed": [1.0]}),), {"title": 3}, "title"),
    ],
)
def test_parameters_are_validated(function, args, kwargs, name):
    with pytest.raises(ValueError, match=f"'{name}' parameter of {function.__name__}"):
        function(*args, **kwargs)
