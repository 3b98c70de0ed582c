"""Tests of benchmarks/bench_featurize_cost.py: its models, data and a tiny run of each section."""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        return importlib.import_module("benchmarks.bench_featurize_cost")


@pytest.mark.parametrize("name, params, shape", [
    ("mlp", 8_970, (1347, 64)),
    ("cnn", 10_026, (1347, 1, 8, 8)),
    ("resnet", 176_402, (384, 3, 32, 32)),
])
def test_models_and_data(bench, name, params, shape):
    X, y = bench.data(name)
    assert tuple(X.shape) == shape and X.dtype == torch.float32 and len(y) == shape[0]
    model = bench.FACTORIES[name]().eval()
    assert sum(p.numel() for p in model.parameters()) == params
    with torch.no_grad():
        assert tuple(model(X[:4]).shape) == (4, 10)


def test_sections_run(bench, monkeypatch, capsys, tmp_path):
    """One epoch, a few samples: every section prints its table (the process one runs the
    CLI, alternated with training), and --json holds the process figures."""
    monkeypatch.setattr(bench, "EPOCHS", 1)
    monkeypatch.setitem(bench.N_SAMPLES, "mlp", 64)
    monkeypatch.setattr(bench, "threads_section", lambda name, group: ["threads skipped"])
    out_json = tmp_path / "figures.json"
    bench.main(["--models", "mlp", "--sections", "features", "process", "--repeats", "2",
                "--variants", "default", "one-pair", "--json", str(out_json)])
    out = capsys.readouterr().out
    for text in ("| curves |", "| default (all four) |", "| 0 | train, default, one-pair |",
                 "| 1 | one-pair, default, train |", "| `default` | **", "| `one-pair` | **"):
        assert text in out
    figures = json.loads(out_json.read_text())["mlp"]
    assert len(figures["rows"]) == 2
    for row in figures["rows"]:
        assert row["train"] > 0 and set(row["wall"]) == {"default", "one-pair"}
        # the command's CPU time is its child process's, at least its imports' share
        assert row["train_cpu"] > 0 and all(c > 0.2 for c in row["cpu"].values())
        # what each variant wrote: three pairs give connectivity a standard error, one none
        assert row["features"]["default"]["mode_connectivity_peak_se"] is not None
        assert row["features"]["one-pair"]["mode_connectivity_peak_se"] is None
    ratios = [row["wall"]["default"] / row["train"] for row in figures["rows"]]
    assert figures["summary"]["default"]["ratio"] == pytest.approx(np.median(ratios))


def test_summarize_pairs_is_the_median_of_per_repeat_ratios(bench):
    """The ratio is the median of wall / training within each repeat (not the ratio of
    medians), with its range and the load range of every run."""
    rows = [
        {"train": 1.0, "wall": {"default": 2.0}, "imports": {"default": 1.0},
         "train_cpu": 1.0, "cpu": {"default": 3.0}, "load": {"train": 3.0, "default": 5.0}},
        {"train": 4.0, "wall": {"default": 4.0}, "imports": {"default": 2.0},
         "train_cpu": 2.0, "cpu": {"default": 5.0}, "load": {"train": 9.0, "default": 7.0}},
        {"train": 2.0, "wall": {"default": 3.0}, "imports": {"default": 1.5},
         "train_cpu": 2.0, "cpu": {"default": 4.0}, "load": {"train": 4.0, "default": 4.5}},
    ]
    summary = bench.summarize_pairs(rows, ["default"])
    assert summary["default"]["ratio"] == 1.5  # ratios 2, 1, 1.5
    assert summary["default"]["ratios"] == (1.0, 2.0)
    assert summary["default"]["cpu_ratio"] == 2.5  # CPU ratios 3, 2.5, 2
    assert summary["default"]["cpu_ratios"] == (2.0, 3.0)
    assert summary["default"]["wall"] == 3.0 and summary["default"]["imports"] == 1.5
    assert summary["train"] == 2.0 and summary["load"] == (3.0, 9.0)


def test_featurize_runs_without_thread_settings(bench, monkeypatch):
    """The command runs with its default threads: no OMP/MKL/OpenBLAS thread variables."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    monkeypatch.setenv("SOME_OTHER_SETTING", "kept")
    env = bench._default_env()
    assert "OMP_NUM_THREADS" not in env and "MKL_NUM_THREADS" not in env
    assert env["SOME_OTHER_SETTING"] == "kept"


def test_factories_module_does_not_import_the_hessian_peers():
    """`--model benchmarks.bench_featurize_cost:mlp` loads a light module: the Hessian
    benchmark (and its peers) only for the ResNet, scikit-learn's datasets only for data."""
    code = ("import sys, benchmarks.bench_featurize_cost as b; b.mlp(); "
            "print(sorted(m for m in ('benchmarks.bench_hessian', 'sklearn.datasets') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"
