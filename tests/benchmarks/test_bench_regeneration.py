"""Tests of benchmarks/bench_regeneration.py: its report and check on synthetic runs."""

import importlib
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        return importlib.import_module("benchmarks.bench_regeneration")


@pytest.fixture
def runs(bench, monkeypatch, tmp_path):
    """Synthetic runs: this machine's is the shipped table; stand-in s moves the test
    accuracy of its first 10 * (s + 1) rows by s + 1 points and flips s Q1 labels."""
    from sklearn_mdtree.pretrained._recipes import read_zoo_table

    shipped = read_zoo_table()

    def run_one(preset, scale, seed, cache_dir, n_jobs=None):
        table = shipped.copy()
        if scale == 0:
            return table
        rows = table.index[: 10 * (seed + 1)]
        table.loc[rows, "test_acc"] += seed + 1
        flip = table.index[table["bs_failure"] == "small"][:seed]
        table.loc[flip, "bs_failure"] = "large"
        return table

    monkeypatch.setattr(bench, "run_one", run_one)
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    return shipped


def test_report_and_check(bench, runs, tmp_path, capsys):
    status = bench.main(["--seeds", "0", "1", "2", "--sections", "report", "check",
                         "--holdout-seeds", "3"])
    out = capsys.readouterr().out
    # each stand-in against this machine's run: exact counts
    assert "| stand-in 0 | 10/180 | 1.0 | 0/180 | 0/180 |" in out
    assert "| stand-in 2 | 30/180 | 3.0 | 0/180 | 2/180 |" in out
    assert "| real other CPU (AMD EPYC; issue 21) | 118/180 | 24.0 | 180/180 | 17/180 |" in out
    assert "statistics over 6 pairs of runs (4 runs)" in out
    saved = json.loads((tmp_path / "tolerances-default.json").read_text())
    tol = saved["tolerances"]
    # pairs' max |d test acc|: 1, 2, 3 (against this machine), 2, 3, 3 (between stand-ins)
    values = np.array([1.0, 2, 3, 2, 3, 3])
    assert tol["feature:test_acc:max_abs"]["value"] == pytest.approx(
        values.mean() + 4 * values.std(ddof=1))
    assert tol["label:bs_failure:agreement"]["bound"] == ">="
    assert "seeds [0, 1, 2]" in saved["source"]
    # a held-out stand-in, against the tolerances just measured (not the stored ones)
    assert "| held-out seed 3 | 40/180 | 4.0 | 0/180 | 3/180 |" in out
    assert "verdict pass (at most one check failed): 1/1" in out
    # the check: the shipped table is this machine's run, bit for bit
    assert "bit for bit: True" in out
    assert status == 0


def test_check_fails_outside_the_tolerances(bench, runs, monkeypatch, capsys):
    moved = runs.assign(test_acc=runs["test_acc"] + 50)
    monkeypatch.setattr(bench, "run_one", lambda *args, **kwargs: moved)
    tolerances = {"feature:test_acc:max_abs": {"bound": "<=", "value": 1.0},
                  "feature:test_acc:median_abs": {"bound": "<=", "value": 1.0}}
    assert not bench.section_check("default", "unused", tolerances)
    out = capsys.readouterr().out
    assert "bit for bit: False" in out and "FAIL: 0/2 checks pass" in out
    assert "FAILED" in out
