"""Tests of featurizers.zoo.demo and ``mdtree demo``."""

import re
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from featurizers.zoo import _zoo  # noqa: E402
from featurizers.zoo.demo import run_demo  # noqa: E402
from sklearn_mdtree._cli import main  # noqa: E402


@pytest.mark.slow
def test_help_lists_demo_without_importing_torch():
    code = (
        "import sys; from sklearn_mdtree._cli import build_parser; "
        "text = build_parser().format_help(); print('demo' in text, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["True", "False"]


def test_output_that_is_a_file_is_a_one_line_error(tmp_path, capsys):
    target = tmp_path / "report.txt"
    target.write_text("keep me")
    status = main(["demo", "--preset", "tiny", "--output", str(target), "--quiet",
                   "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert err.startswith("mdtree demo: error: The output folder")
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


def test_error_midway_leaves_no_partial_output(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise ValueError("simulated failure")

    monkeypatch.setattr(_zoo, "train_zoo", fail)
    with pytest.raises(ValueError, match="simulated failure"):
        run_demo(tmp_path / "out", preset="tiny", cache_dir=tmp_path / "cache", verbose=0)
    assert list(tmp_path.iterdir()) == []
    # nor the missing parent folders it made for the output
    with pytest.raises(ValueError, match="simulated failure"):
        run_demo(tmp_path / "a" / "b" / "out", preset="tiny", cache_dir=tmp_path / "cache",
                 verbose=0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_demo_on_the_tiny_zoo(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    status = main(["demo", "--preset", "tiny", "--output", str(out_dir), "--quiet",
                   "--cache-dir", str(tmp_path / "cache")])
    text = capsys.readouterr().out
    assert status == 0
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "curves.csv", "learning_curves.png", "report.md", "zoo_metrics.png", "zoo_table.csv"
    ]
    assert "Q1 dataset transfer" in text and "| MD tree (Brent, data bounds) |" in text
    assert "Diagnosis of a held-out configuration" in text
    # the MD tree beside Valid+DT and the constant answer at every k, and the tree in use
    assert "MD tree beside Valid+DT and a constant answer" in text
    assert "| k | MD tree (Brent, data bounds) |" in text and "Constant (training majority)" in text
    assert "sharpness_auc" in text and "curves_beat_endpoints" in text
    assert "Q1 tree (Brent, data bounds, fitted on the clean zoo):" in text
    assert "40 epochs" in text
    assert (out_dir / "report.md").read_text() in text
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_summary_table_flags_every_k_where_the_md_tree_is_below():
    import pandas as pd

    from featurizers.zoo.demo import SUMMARY_METHODS, summary_table

    rows = []
    for k, means in ((1, (40.0, 45.0, 50.0, 55.0)), (2, (60.0, 61.0, 50.0, 55.0)),
                     (4, (52.0, 52.0, 50.0, 55.0))):
        rows += [{"transfer": "Q1", "method": m, "k": k, "mean": v, "std": 0.0}
                 for m, v in zip(SUMMARY_METHODS, means)]
    text = summary_table(pd.DataFrame(rows))
    lines = [line for line in text.splitlines() if line.startswith("| 1 ") or
             line.startswith("| 2 ") or line.startswith("| 4 ")]
    assert lines[0].endswith("| below Valid+DT; below the constant |")
    assert lines[1].endswith("| at or above both |")
    assert lines[2].endswith("| below the constant |")
    assert "| 1 | 40.0 | 45.0 | 50.0 | 55.0 |" in text


@pytest.mark.parametrize("missing", [0, 2, 3])
def test_summary_table_says_n_a_where_a_compared_cell_is_missing(missing):
    import pandas as pd

    from featurizers.zoo.demo import SUMMARY_METHODS, summary_table

    means = [60.0, 61.0, 50.0, 55.0]
    means[missing] = float("nan")
    rows = [{"transfer": "Q1", "method": m, "k": 3, "mean": v, "std": 0.0}
            for m, v in zip(SUMMARY_METHODS, means)]
    line = next(x for x in summary_table(pd.DataFrame(rows)).splitlines()
                if x.startswith("| 3 "))
    assert line.endswith("| n/a |"), line


def test_worked_example_says_when_it_disagrees_with_the_printed_labels():
    from featurizers.zoo.demo import _held_out_diagnosis
    from sklearn_mdtree.pretrained._recipes import read_zoo_table

    text = _held_out_diagnosis(read_zoo_table())
    labels = re.search(r"bs_failure=(\w+), width_vs_batch=(\w+)", text).groups()
    assert ("The diagnosis disagrees with this model's measured labels" in text
            or "The diagnosis agrees with this model's measured labels" in text)
    if "disagrees" in text:
        assert f"bs_failure={labels[0]!r}" in text or f"width_vs_batch={labels[1]!r}" in text


def _integer_ticks_and_legend_outside(ax):
    ax.figure.canvas.draw()
    low, high = sorted(ax.get_xlim())
    ticks = [t for t in ax.get_xticks() if low <= t <= high]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    legend = ax.get_legend()
    assert legend is not None
    assert not legend.get_window_extent().overlaps(ax.get_window_extent())


def test_demo_plots_integer_k_ticks_and_legends_beside_the_data():
    """Issue 23: the demo's plots had legends over the curves and k ticks 1.25, 1.5."""
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from featurizers.zoo.demo import _curves_figure, _metrics_figure
    from sklearn_mdtree.plotting import plot_accuracy_curves

    rows = [{"transfer": name, "k": k, "method": method, "mean": 50 + k + i, "std": 1.0}
            for name, ks in (("Q1 scale transfer: data level <= k", (1, 2)),
                             ("Q1 scale transfer: width <= k", (1, 2, 4, 8)))
            for i, method in enumerate(("MD tree", "Valid+DT", "Hyper+DT", "Loss+DT"))
            for k in ks]
    fig = _curves_figure(pd.DataFrame(rows))
    for ax in fig.axes:
        _integer_ticks_and_legend_outside(ax)
    plt.close(fig)
    for logx in (False, True):
        ax = plot_accuracy_curves({"MD tree": ([1, 2], [76.6, 81.2])}, logx=logx)
        _integer_ticks_and_legend_outside(ax)
        plt.close(ax.figure)
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"train_error": rng.uniform(0, 40, 30),
                          "mode_connectivity_peak": rng.uniform(-60, 0, 30),
                          "hessian_t": rng.uniform(3, 8, 30),
                          "bs_failure": np.resize(["small", "large", "optimal"], 30)})
    fig = _metrics_figure(table, table)
    fig.canvas.draw()
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert len(legends) == 2
    for legend in legends:
        for ax in fig.axes:
            assert not legend.get_window_extent().overlaps(ax.get_window_extent())
    plt.close(fig)
