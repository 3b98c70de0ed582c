"""``mdtree calibrate``: the command module, through ``main``."""

import json
import sys

import numpy as np
import pytest

from _helpers import needs_torch
from sklearn_mdtree._cli import build_parser, main

FACTORY = '''
import torch

def mlp(width):
    return torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.ReLU(),
                               torch.nn.Linear(width, 3))
'''


@pytest.fixture
def files(tmp_path, monkeypatch):
    (tmp_path / "calib_cli_models.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for name, n in (("train", 160), ("test", 200)):
        X = rng.normal(size=(n, 4)).astype(np.float32)
        y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
        np.savez(tmp_path / f"{name}.npz", X=X, y=y)
    return tmp_path


def base_args(folder, *extra):
    return ["calibrate", "--model", "calib_cli_models:mlp",
            "--train-data", str(folder / "train.npz"),
            "--test-data", str(folder / "test.npz"), "--optimizer", "learning rate",
            "--base", "0.1", "--width", "8", "--epochs", "3", "--seeds", "3",
            "--curve-epochs", "1", "--cache-dir", str(folder / "cache"), "--quiet", *extra]


def test_calibrate_is_a_command_of_mdtree():
    parser = build_parser()
    args = parser.parse_args(["calibrate", "--model", "m:f", "--train-data", "a.npz",
                              "--test-data", "b.npz", "--base", "0.1"])
    assert args.command == "calibrate" and args.output == "calibrated.json"
    assert args.optimizer == "learning rate"


@needs_torch
def test_calibrate_writes_one_file_that_loads(files, capsys):
    from sklearn_mdtree.calibration import load_calibrated

    out = files / "calibrated.json"
    assert main(base_args(files, "--output", str(out), "--budget", "5",
                          "--target-accuracy", "0.9")) == 0
    captured = capsys.readouterr()
    assert "<- chosen" in captured.out and "mdtree diagnose" in captured.out
    assert f"wrote {out}" in captured.err
    model = load_calibrated(out)
    doc = json.loads(out.read_text())
    assert doc["metadata"]["optimizer"] == "learning rate"
    assert doc["params"]["target_accuracy"] == 0.9 and model.target_accuracy == 0.9
    assert doc["abstention"]["chosen"] == model.abstention_.to_dict()
    assert model.report(model.lattice_)[0]["model"] == model.kind_


@pytest.mark.parametrize("extra, message", [
    # checked once torch is there (without it: "needs PyTorch", tested below)
    pytest.param(["--budget", "0.0001"], "'budget' parameter", marks=needs_torch),
    (["--output", "x.csv"], "must be a .json file"),
    (["--fixed", "{not json"], "argument --fixed"),
    pytest.param(["--model", "no_such_module_xyz:f"], "no_such_module_xyz", marks=needs_torch),
    pytest.param(["--optimizer", "bs", "--base", "2.5"], "integer", marks=needs_torch),
    (["--output", "train.npz"], "train.npz"),  # never over an input
])
def test_errors_are_one_line_with_status_2(files, capsys, extra, message):
    before = sorted(p.name for p in files.iterdir())
    assert main(base_args(files, *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("mdtree calibrate: error:")
    assert sorted(p.name for p in files.iterdir() if p.name != "cache") == [
        b for b in before if b != "cache"]


def test_without_torch_the_command_says_what_to_install(files, capsys, monkeypatch):
    # as where torch is missing: the featurizers cannot be imported
    monkeypatch.setitem(sys.modules, "featurizers.calibration", None)
    assert main(base_args(files, "--output", str(files / "c.json"))) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mdtree calibrate: error: needs PyTorch") and "\n" not in err
    assert 'pip install "sklearn-mdtree[torch]"' in err
    assert not (files / "c.json").exists()


def test_the_optimizer_words_are_checked_by_the_parser(files):
    with pytest.raises(SystemExit):
        build_parser().parse_args(base_args(files, "--optimizer", "momentum"))
    args = build_parser().parse_args(base_args(files, "--optimizer", "bs", "--base", "32"))
    assert args.optimizer == "batch size" and args.target_accuracy == 0.8
    for bad in ("0", "1.5", "high"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(base_args(files, "--target-accuracy", bad))


def test_the_command_line_imports_no_torch_until_calibrate_runs():
    import subprocess

    code = ("import sys; from sklearn_mdtree._cli import build_parser; build_parser(); "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
