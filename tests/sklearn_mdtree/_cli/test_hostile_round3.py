"""Issue 23's hostile inputs, rerun: each reproduction of its "Found" list through
``main([...])`` or the library call ends in a one-line error naming the parameter (or in
the right answer), replaces no file of the user's and does not hang."""

import contextlib
import io
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sklearn_mdtree._cli as cli

Q1_COLUMNS = "train_error,mode_connectivity_peak,hessian_t,CKA"
FEATURES = f"group,{Q1_COLUMNS}\na,2,-30,5,0.9\nb,3,-20,4,0.8\n"


def run(argv):
    """``(status, stdout, stderr)`` of ``mdtree argv``, in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(argv)
        except SystemExit as exc:  # argparse's usage errors
            status = exc.code
    return status, out.getvalue(), err.getvalue()


def error_line(result, command, *words):
    """The one error line of a refused command (argparse adds its usage above it)."""
    status, out, err = result
    assert status == 2 and out == "", err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.startswith(f"mdtree {command}: ")]
    assert len(lines) == 1 and ": error: " in lines[0], err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def no_hang(target, timeout=60):
    """Run ``target`` in a thread; fail (not hang) if it has not returned in time."""
    box = {}

    def call():
        try:
            box["value"] = target()
        except BaseException as exc:  # noqa: BLE001 - reported below
            box["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{target} still running after {timeout} s"
    return box


def test_id_column_naming_a_feature(tmp_path):
    features = tmp_path / "features.csv"
    features.write_text(FEATURES)
    line = error_line(run(["diagnose", str(features), "--tree", "cifar10-resnet18",
                           "--id-column", "hessian_t"]),
                      "diagnose", "--id-column", "'hessian_t'", "feature")
    assert "missing" not in line


@pytest.mark.parametrize("value", ["abc", "0", "1.5"])
def test_reproduce_n_jobs_not_an_int(value):
    line = error_line(run(["reproduce", "--n-jobs", value]), "reproduce", "--n-jobs",
                      "non-zero int", repr(value))
    assert "_n_jobs" not in line and "invalid" not in line


def _labelled(path, rng=np.random.default_rng(0), n=30):
    table = pd.DataFrame({
        "train_error": rng.uniform(0, 40, n), "mode_connectivity_peak": rng.uniform(-60, -10, n),
        "hessian_t": rng.uniform(3, 6, n), "CKA": rng.uniform(0, 1, n),
        "bs_failure": np.resize(["small", "large", "optimal"], n)})
    table.to_csv(path, index=False)
    return table


@pytest.mark.parametrize("value", [1e308, -1e308])
def test_fit_on_value_near_the_float_limit_is_named(tmp_path, value):
    labelled = tmp_path / "labelled.csv"
    table = _labelled(labelled)
    table.loc[5, "hessian_t"] = value
    table.to_csv(labelled, index=False)
    features = tmp_path / "features.csv"
    features.write_text(FEATURES)
    saved = tmp_path / "tree.json"
    line = error_line(run(["diagnose", str(features), "--fit-on", str(labelled),
                           "--save-tree", str(saved)]),
                      "diagnose", "--fit-on", "labelled.csv", "'hessian_t'", "line 7",
                      repr(value))
    assert "document" not in line
    assert not saved.exists()
