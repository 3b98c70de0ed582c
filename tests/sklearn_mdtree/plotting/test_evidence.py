"""Tests of sklearn_mdtree.plotting._evidence: a connectivity curve, trace estimates.
"""

import numpy as np
import pytest
from _plotting_cases import _by_gid

from sklearn_mdtree.plotting import plot_connectivity_curve, plot_trace_estimates


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
