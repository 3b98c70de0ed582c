"""Tests of ``mdtree featurize`` and the report route of ``mdtree diagnose``."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from _helpers import needs_torch
from sklearn_mdtree._cli import main

# the tests of checkpoints are marked; those of feature tables run without torch
try:
    import torch
except ImportError:
    torch = None

MODEL = ["--model", "torch.nn:Linear", "--model-kwargs", '{"in_features": 4, "out_features": 3}']
FAST = ["--curve-epochs", "1"]


@pytest.fixture
def run(tmp_path):
    """Checkpoints of two groups (two seeds each) and their training data."""
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(40, 4, generator=g), torch.randint(0, 3, (40,), generator=g)
    np.savez(tmp_path / "train.npz", X=X.numpy(), y=y.numpy())
    paths = {}
    for group in ("a", "b"):
        paths[group] = []
        for seed in (0, 1):
            torch.manual_seed(seed + (10 if group == "b" else 0))
            path = tmp_path / f"{group}{seed}.pt"
            torch.save(torch.nn.Linear(4, 3).state_dict(), path)
            paths[group].append(str(path))
    return tmp_path, paths


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _groups(paths, *names):
    args = []
    for name in names:
        args += ["--checkpoints", *paths[name], "--name", name]
    return args


@needs_torch
def test_featurize_writes_one_row_per_group_with_standard_errors(run, capsys):
    folder, paths = run
    out = folder / "features.csv"
    argv = ["featurize", *MODEL, *_groups(paths, "a", "b"), "--train-data",
            str(folder / "train.npz"), *FAST, "--output", str(out)]
    assert main(argv) == 0
    table = pd.read_csv(out, index_col="group")
    assert list(table.index) == ["a", "b"]
    for f in ("train_error", "mode_connectivity_peak", "hessian_t", "CKA"):
        assert f in table.columns and f"{f}_se" in table.columns
    # 15 parameters: exact dense traces, so the spread of the two seeds alone
    assert (table["hessian_t_se"] > 0).all() and (table["train_error_se"] >= 0).all()
    assert table["mode_connectivity_peak_se"].isna().all()  # two models: one pair
    assert "wrote 2 group(s)" in capsys.readouterr().err


@needs_torch
def test_diagnose_from_features_and_from_checkpoints(run, capsys):
    folder, paths = run
    out = folder / "features.csv"
    assert main(["featurize", *MODEL, *_groups(paths, "a"), "--train-data",
                 str(folder / "train.npz"), *FAST, "--output", str(out)]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(out), "--id-column", "group", "--tree", "cifar10-resnet18",
                 "--format", "json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["schema"] == "sklearn-mdtree/diagnosis-report"
    assert report["groups"][0]["model"] == "a"
    assert report["trees"]["q1"]["name"] == "cifar10-resnet18-q1"
    if report["groups"][0]["out_of_domain"]:
        assert "warning: " in captured.err and "outside the training domain" in captured.err
    # the same from the checkpoint files directly, as text
    assert main(["diagnose", *MODEL, *_groups(paths, "a"), "--train-data",
                 str(folder / "train.npz"), *FAST, "--tree", "cifar10-resnet18"]) == 0
    text = capsys.readouterr().out
    assert "Model a:" in text and "Q1 tree: cifar10-resnet18-q1" in text
    # featurize's CSV names its groups: diagnose uses them without --id-column
    assert main(["diagnose", str(out), "--tree", "cifar10-resnet18"]) == 0
    assert "Model a:" in capsys.readouterr().out


def test_diagnose_fit_on_a_labelled_table(tmp_path, capsys):
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"train_error": rng.uniform(0, 50, 30),
                          "mode_connectivity_peak": rng.uniform(-60, 0, 30),
                          "hessian_t": rng.uniform(1, 8, 30)})
    table["bs_failure"] = np.where(table["hessian_t"] > 4, "small", "large")
    table.to_csv(tmp_path / "labelled.csv", index=False)
    table.drop(columns="bs_failure").head(3).to_csv(tmp_path / "mine.csv", index=False)
    assert main(["diagnose", str(tmp_path / "mine.csv"), "--fit-on",
                 str(tmp_path / "labelled.csv"), "--format", "csv"]) == 0
    frame = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out), index_col="model")
    assert len(frame) == 3 and frame["out_of_domain"].eq(False).all()


def _bad(argv, capsys, message, folder):
    before = _digests(folder)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"mdtree {argv[0]}: error:") and message in err, err
    assert _digests(folder) == before  # nothing written, nothing modified


@needs_torch
def test_bad_checkpoints_and_data(run, capsys):
    folder, paths = run
    out = ["--output", str(folder / "new.csv")]
    data = ["--train-data", str(folder / "train.npz")]
    torch.save(torch.nn.Linear(4, 3), folder / "model.pt")
    _bad(["featurize", *MODEL, "--checkpoints", str(folder / "model.pt"), paths["a"][0], *data,
          *out], capsys, "is not a state dict", folder)
    torch.save(torch.nn.Linear(4, 5).state_dict(), folder / "wide.pt")
    _bad(["featurize", *MODEL, "--checkpoints", paths["a"][0], str(folder / "wide.pt"), *data,
          *out], capsys, "'weight' has shape (5, 4) in the checkpoint but (3, 4)", folder)
    _bad(["featurize", *MODEL, "--checkpoints", paths["a"][0], *data, *out], capsys,
         "has 1 checkpoint, but the pairwise feature(s)", folder)
    np.savez(folder / "empty.npz", X=np.zeros((0, 4), np.float32), y=np.zeros(0, np.int64))
    _bad(["featurize", *MODEL, *_groups(paths, "a"), "--train-data", str(folder / "empty.npz"),
          *out], capsys, "is empty", folder)
    np.savez(folder / "labels.npz", X=np.zeros((5, 4), np.float32), y=np.arange(5))
    _bad(["featurize", *MODEL, *_groups(paths, "a"), "--train-data", str(folder / "labels.npz"),
          *out], capsys, "must lie in [0, 3) for a model with 3 outputs", folder)
    np.savez(folder / "objects.npz", X=np.array([1, "a"], dtype=object), y=np.zeros(2, int))
    _bad(["featurize", *MODEL, *_groups(paths, "a"), "--train-data",
          str(folder / "objects.npz"), *out], capsys, "holds object arrays", folder)
    _bad(["featurize", *MODEL, *_groups(paths, "a"), *data, "--output", paths["a"][1]], capsys,
         "is one of the inputs", folder)
    _bad(["diagnose", *MODEL, *_groups(paths, "a"), "--train-data",
          str(folder / "objects.npz"), "--tree", "cifar10-resnet18"], capsys,
         "holds object arrays", folder)


def test_bad_features_csv(tmp_path, capsys):
    good = "train_error,mode_connectivity_peak,hessian_t,CKA\n1,-2,5,0.5\n"
    (tmp_path / "cut.csv").write_text(good + "3,-4")  # cut mid-line: no final newline
    _bad(["diagnose", str(tmp_path / "cut.csv"), "--tree", "cifar10-resnet18"], capsys,
         "last line (line 3) may be cut short", tmp_path)
    (tmp_path / "truncated.csv").write_text(good + "3,-4\n")
    _bad(["diagnose", str(tmp_path / "truncated.csv"), "--tree", "cifar10-resnet18"], capsys,
         "missing values (NaN) in line(s) 3", tmp_path)
    (tmp_path / "missing.csv").write_text(good + "3,,6,0.5\n")
    _bad(["diagnose", str(tmp_path / "missing.csv"), "--tree", "cifar10-resnet18"], capsys,
         "Column 'mode_connectivity_peak'", tmp_path)
    _bad(["diagnose", str(tmp_path / "missing.csv"), "--tree", "cifar10-resnet18",
          "--output", str(tmp_path / "missing.csv")], capsys, "is one of the inputs", tmp_path)
    _bad(["diagnose", str(tmp_path / "missing.csv"), "--tree", "nope"], capsys,
         "Unknown pretrained tree 'nope'", tmp_path)
    (tmp_path / "labelled.csv").write_text(good)
    _bad(["diagnose", str(tmp_path / "truncated.csv"), "--fit-on",
          str(tmp_path / "labelled.csv")], capsys, "missing the column(s) ['bs_failure']",
         tmp_path)


@needs_torch
def test_featurize_never_replaces_a_checkpoint_through_a_hard_link(run, capsys):
    import os

    folder, paths = run
    link = folder / "out.csv"
    os.link(paths["a"][1], link)  # ln a1.pt out.csv
    _bad(["featurize", *MODEL, *_groups(paths, "a"), "--train-data",
          str(folder / "train.npz"), *FAST, "--output", str(link)], capsys,
         "is one of the inputs", folder)


@needs_torch
def test_featurize_out_is_a_deprecated_alias_of_output(run, capsys):
    folder, paths = run
    out = folder / "features.csv"
    assert main(["featurize", *MODEL, *_groups(paths, "a"), "--train-data",
                 str(folder / "train.npz"), *FAST, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "mdtree featurize: --out is deprecated" in err and out.exists()


@needs_torch
def test_train_data_repeats_per_group_like_checkpoints(run, capsys):
    """Issue 23: --train-data once per group used the last file for every group."""
    folder, paths = run
    g = torch.Generator().manual_seed(7)
    X, y = torch.randn(40, 4, generator=g), torch.randint(0, 3, (40,), generator=g)
    np.savez(folder / "other.npz", X=X.numpy(), y=y.numpy())
    common = [*MODEL, *FAST, "--features", "train_error"]

    def table(argv, name):
        out = folder / f"{name}.csv"
        assert main(["featurize", *common, *argv, "--output", str(out)]) == 0
        return pd.read_csv(out, index_col="group")["train_error"]

    alone_a = table([*_groups(paths, "a"), "--train-data", str(folder / "train.npz")], "a")
    alone_b = table([*_groups(paths, "b"), "--train-data", str(folder / "other.npz")], "b")
    both = table(["--checkpoints", *paths["a"], "--name", "a", "--train-data",
                  str(folder / "train.npz"), "--checkpoints", *paths["b"], "--name", "b",
                  "--train-data", str(folder / "other.npz")], "both")
    assert both["a"] == alone_a["a"] and both["b"] == alone_b["b"]
    capsys.readouterr()
    before = _digests(folder)
    argv = ["featurize", *common, *_groups(paths, "a", "b"), "--output",
            str(folder / "new.csv")]
    for data in ("train.npz", "other.npz", "train.npz"):
        argv += ["--train-data", str(folder / data)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--train-data" in err and "expected 1" in err and "got 3" in err
    assert _digests(folder) == before
    assert main(["featurize", *common, *_groups(paths, "a"), "--train-data", "pkg.m:f",
                 "--data-kwargs", "{}", "--data-kwargs", "{}", "--output",
                 str(folder / "new.csv")]) == 2
    assert "--data-kwargs" in capsys.readouterr().err


@needs_torch
def test_featurize_shows_progress_unless_quiet_and_passes_torch_threads(run, capsys,
                                                                         monkeypatch):
    """Issue 23: mdtree featurize ran minutes without a word; progress goes to stderr,
    stdout stays clean; --torch-threads reaches the featurizers."""
    import featurizers

    folder, paths = run
    seen = []
    original = featurizers.featurize_checkpoints

    def spy(*args, **kwargs):
        seen.append({k: kwargs.get(k) for k in ("verbose", "torch_threads")})
        return original(*args, **kwargs)

    monkeypatch.setattr(featurizers, "featurize_checkpoints", spy)
    argv = ["featurize", *MODEL, *_groups(paths, "a"), "--train-data",
            str(folder / "train.npz"), *FAST, "--features", "train_error", "--output",
            str(folder / "f.csv")]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "group 1/1: train_error" in captured.err
    assert main([*argv, "--quiet", "--torch-threads", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "group 1/1" not in captured.err
    assert seen == [{"verbose": 1, "torch_threads": None}, {"verbose": 0, "torch_threads": 2}]
    with pytest.raises(SystemExit):
        main([*argv, "--torch-threads", "0"])
    err = capsys.readouterr().err
    assert "argument --torch-threads: expected an int >= 1, got '0'" in err


@needs_torch
def test_featurize_imports_neither_the_estimator_nor_the_calibration(run):
    """The whole ``mdtree featurize`` process loads only what featurizing needs: not the
    estimator, the diagnosis, the calibration or the zoo (their imports were a fixed
    cost about as long as training a small group; benchmarks/README.md)."""
    import subprocess
    import sys
    from pathlib import Path

    folder, paths = run
    argv = ["featurize", *MODEL, *_groups(paths, "a"), "--train-data",
            str(folder / "train.npz"), *FAST, "--output", str(folder / "f.csv"), "--quiet"]
    code = ("import sys; from sklearn_mdtree._cli import main; "
            f"assert main({argv!r}) == 0; print('\\n'.join(sorted(sys.modules)))")
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=root, check=True)
    loaded = set(done.stdout.split())
    assert "featurizers._models" in loaded and (folder / "f.csv").exists()
    unneeded = {"sklearn_mdtree._classes", "sklearn_mdtree.diagnosis._diagnose",
                "sklearn_mdtree.diagnosis._report", "sklearn_mdtree.calibration",
                "featurizers.calibration", "featurizers.zoo", "featurizers.lattice",
                "sklearn.model_selection", "matplotlib", "sympy"}
    assert not unneeded & loaded
