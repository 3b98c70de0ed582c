"""Tests of sklearn_mdtree.plotting._common: matplotlib imported lazily, legends outside the data.

(Not ``test_common.py``: the tests have no ``__init__.py``, so basenames must be unique.)
"""

import subprocess
import sys

import pandas as pd
import pytest

from sklearn_mdtree.plotting import (
    plot_accuracy_curves,
    plot_connectivity_curve,
    plot_one_step_gains,
    plot_trace_estimates,
)
from sklearn_mdtree.plotting._common import _METRIC_LABELS, _metric_label, _pyplot

def test_import_does_not_load_matplotlib():
    code = (
        "import sys, sklearn_mdtree.plotting; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


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


def test_metric_labels_are_the_package_vocabulary():
    from sklearn_mdtree._vocabulary import FEATURE_LABELS
    from sklearn_mdtree.plotting import _common

    assert _common._METRIC_LABELS is FEATURE_LABELS


def test_metric_labels_by_name_or_position():
    import matplotlib.pyplot as plt
    from _plotting_cases import _fitted

    assert _pyplot() is plt
    clf, X, _ = _fitted("q1")
    assert _metric_label(clf, "hessian_t") == _METRIC_LABELS["hessian_t"]
    first = str(clf.feature_names_in_[0])
    assert _metric_label(clf, 0) == _METRIC_LABELS[first]  # by column position
    assert _metric_label(clf, "my_metric") == "my_metric"
