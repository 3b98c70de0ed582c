"""Tests of benchmarks/bench_featurize_cost.py: its models, data and a tiny run of each section."""

import importlib
from pathlib import Path

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


def test_sections_run(bench, monkeypatch, capsys):
    """One epoch, a few samples: every section prints its table (the process one runs the CLI)."""
    monkeypatch.setattr(bench, "EPOCHS", 1)
    monkeypatch.setitem(bench.N_SAMPLES, "mlp", 64)
    monkeypatch.setattr(bench, "threads_section", lambda name, group: ["threads skipped"])
    bench.main(["--models", "mlp", "--sections", "features", "process"])
    out = capsys.readouterr().out
    for text in ("| curves |", "| default (all four) |", "| OMP_NUM_THREADS=1 |",
                 "| torch's default |"):
        assert text in out
