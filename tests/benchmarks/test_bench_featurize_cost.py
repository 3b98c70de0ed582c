"""Tests of benchmarks/bench_featurize_cost.py: its models, data and a tiny run of each section."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _helpers import import_benchmark

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    return import_benchmark("bench_featurize_cost")


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


def _tiny_run(bench, monkeypatch, tmp_path, *args):
    """One epoch on 64 samples; the printed markdown and the --json figures of mlp."""
    monkeypatch.setattr(bench, "EPOCHS", 1)
    monkeypatch.setitem(bench.N_SAMPLES, "mlp", 64)
    monkeypatch.setattr(bench, "threads_section", lambda name, group: ["threads skipped"])
    out_json = tmp_path / "figures.json"
    bench.main(["--models", "mlp", *args, "--json", str(out_json)])
    return json.loads(out_json.read_text())["mlp"]


def test_sections_run(bench, monkeypatch, capsys, tmp_path):
    """Every section prints its table (the process one runs the CLI beside training in
    this process and in a fresh one), and --json holds the process figures."""
    figures = _tiny_run(bench, monkeypatch, tmp_path, "--sections", "features", "process",
                        "--repeats", "1")
    out = capsys.readouterr().out
    for text in ("| curves |", "| default (all four) |", "| 0 | loop, process, default |",
                 "| `default` | "):
        assert text in out
    (row,) = figures["rows"]
    assert set(row["wall"]) == set(row["cpu"]) == {"loop", "process", "default"}
    assert all(v > 0 for v in row["wall"].values())
    # a fresh process (training or featurizing) pays at least importing torch
    assert row["cpu"]["process"] > 0.2 and row["cpu"]["default"] > 0.2
    # three models, all pairs: connectivity has a standard error
    assert row["features"]["default"]["mode_connectivity_peak_se"] is not None
    ratio = row["wall"]["default"] / row["wall"]["process"]
    assert figures["summary"]["default"]["wall/process"] == pytest.approx((ratio,) * 3)


@pytest.mark.slow
def test_process_section_alternates_and_runs_the_variants(bench, monkeypatch, capsys,
                                                          tmp_path):
    """Two repeats, both variants: the order is reversed in the second, and one pair
    leaves connectivity without a standard error."""
    figures = _tiny_run(bench, monkeypatch, tmp_path, "--sections", "process",
                        "--repeats", "2", "--variants", "default", "one-pair")
    out = capsys.readouterr().out
    for text in ("| 0 | loop, process, default, one-pair |",
                 "| 1 | one-pair, default, process, loop |", "| `one-pair` | "):
        assert text in out
    for row in figures["rows"]:
        assert set(row["wall"]) == {"loop", "process", "default", "one-pair"}
        assert row["features"]["default"]["mode_connectivity_peak_se"] is not None
        assert row["features"]["one-pair"]["mode_connectivity_peak_se"] is None
    ratios = [row["wall"]["default"] / row["wall"]["process"] for row in figures["rows"]]
    assert figures["summary"]["default"]["wall/process"][0] == pytest.approx(np.median(ratios))


def test_summarize_pairs_is_the_median_of_per_repeat_ratios(bench):
    """The ratio is the median of variant / yardstick within each repeat (not the ratio
    of medians), with its range, for wall and CPU times, and the load range of all runs."""
    def row(loop, process, default, load):
        return {"wall": {"loop": loop, "process": process, "default": default},
                "cpu": {"loop": loop / 2, "process": process, "default": default / 2},
                "imports": {"default": default / 4},
                "load": {"loop": load, "process": load + 1, "default": load + 2}}

    rows = [row(1.0, 2.0, 2.0, 3.0), row(4.0, 8.0, 4.0, 7.0), row(2.0, 3.0, 3.0, 4.0)]
    summary = bench.summarize_pairs(rows, ["default"])
    assert summary["default"]["wall/loop"] == (1.5, 1.0, 2.0)  # ratios 2, 1, 1.5
    assert summary["default"]["cpu/loop"] == (1.5, 1.0, 2.0)  # halves of both
    assert summary["default"]["wall/process"] == (1.0, 0.5, 1.0)  # ratios 1, 0.5, 1
    assert summary["default"]["cpu/process"] == (0.5, 0.25, 0.5)
    assert summary["default"]["wall"] == 3.0 and summary["default"]["imports"] == 0.75
    assert summary["loop"] == {"wall": 2.0, "cpu": 1.0}
    assert summary["load"] == (3.0, 9.0)


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


def test_repeats_below_one_are_refused(bench, capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(["--repeats", "0"])
    assert e.value.code == 2
    assert "--repeats must be at least 1; got 0" in capsys.readouterr().err
