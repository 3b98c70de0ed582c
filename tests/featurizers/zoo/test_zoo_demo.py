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
    assert (out_dir / "report.md").read_text() in text
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_worked_example_says_when_it_disagrees_with_the_printed_labels():
    from featurizers.zoo.demo import _held_out_diagnosis
    from sklearn_mdtree.pretrained._recipes import read_zoo_table

    text = _held_out_diagnosis(read_zoo_table())
    labels = re.search(r"bs_failure=(\w+), width_vs_batch=(\w+)", text).groups()
    assert ("The diagnosis disagrees with this model's measured labels" in text
            or "The diagnosis agrees with this model's measured labels" in text)
    if "disagrees" in text:
        assert f"bs_failure={labels[0]!r}" in text or f"width_vs_batch={labels[1]!r}" in text
