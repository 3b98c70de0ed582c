"""``mdtree calibrate`` as a command module: run() on parsed arguments."""

import argparse
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn_mdtree._calibrate_cli import add_arguments, inputs, outputs, run  # noqa: E402
from sklearn_mdtree.calibration import load_calibrated  # noqa: E402

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
    rng = np.random.default_rng(0)
    for name, n in (("train", 160), ("test", 200)):
        X = rng.normal(size=(n, 4)).astype(np.float32)
        y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
        np.savez(tmp_path / f"{name}.npz", X=X, y=y)
    return tmp_path


def parse(argv):
    parser = argparse.ArgumentParser(prog="mdtree calibrate")
    add_arguments(parser)
    return parser.parse_args(argv)


def base_args(folder, *extra):
    return ["--model", "calib_cli_models:mlp", "--train-data", str(folder / "train.npz"),
            "--test-data", str(folder / "test.npz"), "--optimizer", "learning rate",
            "--base", "0.1", "--width", "8", "--epochs", "3", "--seeds", "3",
            "--curve-epochs", "1", "--cache-dir", str(folder / "cache"), "--quiet", *extra]


def test_calibrate_writes_one_file_that_loads(files, capsys):
    out = files / "calibrated.json"
    args = parse(base_args(files, "--output", str(out), "--budget", "5"))
    assert outputs(args) == [out]
    assert len(inputs(args)) == 2
    assert run(args) == 0
    printed = capsys.readouterr().out
    assert "<- chosen" in printed and "mdtree diagnose --tree" in printed
    model = load_calibrated(out)
    assert json.loads(out.read_text())["metadata"]["optimizer"] == "learning rate"
    assert model.report(model.lattice_)[0]["model"] == model.kind_


@pytest.mark.parametrize("extra, message", [
    (["--budget", "0.0001"], "'budget' parameter"),
    (["--output", "nowhere/x.json"], "does not exist"),
    (["--output", "x.csv"], "must be a .json file"),
    (["--fixed", "{not json"], "argument --fixed"),
    (["--model", "no_such_module_xyz:f"], "no_such_module_xyz"),
    (["--optimizer", "bs", "--base", "2.5"], "integer"),
])
def test_errors_are_one_line_with_status_2(files, capsys, monkeypatch, extra, message):
    monkeypatch.chdir(files)
    args = parse(base_args(files, *extra))
    assert run(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("mdtree calibrate: error:")
    assert not (files / "calibrated.json").exists()


def test_the_optimizer_words_are_checked_by_the_parser(files):
    with pytest.raises(SystemExit):
        parse(base_args(files, "--optimizer", "momentum"))
    assert parse(base_args(files, "--optimizer", "bs", "--base", "32")).optimizer == "batch size"
