"""Issue 23's hostile inputs, rerun: each reproduction of its "Found" list through
``main([...])`` or the library call ends in a one-line error naming the parameter (or in
the right answer), replaces no file of the user's and does not hang."""

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _helpers import needs_torch, result_error_line, run_cli, within

Q1_COLUMNS = "train_error,mode_connectivity_peak,hessian_t,CKA"
FEATURES = f"group,{Q1_COLUMNS}\na,2,-30,5,0.9\nb,3,-20,4,0.8\n"


def test_id_column_naming_a_feature(tmp_path):
    features = tmp_path / "features.csv"
    features.write_text(FEATURES)
    line = result_error_line(run_cli(["diagnose", str(features), "--tree", "cifar10-resnet18",
                           "--id-column", "hessian_t"]),
                      "diagnose", "--id-column", "'hessian_t'", "feature")
    assert "missing" not in line


@pytest.mark.parametrize("value", ["abc", "0", "1.5"])
def test_reproduce_n_jobs_not_an_int(value):
    line = result_error_line(run_cli(["reproduce", "--n-jobs", value]), "reproduce", "--n-jobs",
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
    line = result_error_line(run_cli(["diagnose", str(features), "--fit-on", str(labelled),
                           "--save-tree", str(saved)]),
                      "diagnose", "--fit-on", "labelled.csv", "'hessian_t'", "line 7",
                      repr(value))
    assert "document" not in line
    assert not saved.exists()


# -- issue 23's "Found" list, one reproduction each ----------------------------------------
# Each library reproduction must end in a one-line error of an ordinary type that names
# what is wrong (or in the right answer); each command in a one-line error, exit 2.

# the tests below that need torch are marked; the others run without it
try:
    import torch
except ImportError:
    torch = None

LINEAR = ["--model", "torch.nn:Linear", "--model-kwargs", '{"in_features": 4, "out_features": 3}']
FAST = ["--curve-epochs", "1", "--features", "train_error", "--quiet"]


def one_line(exc, *words):
    text = str(exc)
    assert text and "\n" not in text.strip(), text
    assert "Traceback" not in text and len(text) < 600, text
    for word in words:
        assert word in text, text
    return text


@pytest.fixture
def files(tmp_path):
    """Two groups of two Linear(4, 3) checkpoints and a data file."""
    g = torch.Generator().manual_seed(0)
    np.savez(tmp_path / "train.npz", X=torch.randn(30, 4, generator=g).numpy(),
             y=torch.randint(0, 3, (30,), generator=g).numpy())
    paths = []
    for i in range(4):
        torch.manual_seed(i)
        path = tmp_path / f"seed{i}.pt"
        torch.save(torch.nn.Linear(4, 3).state_dict(), path)
        paths.append(str(path))
    return tmp_path, paths


def featurize(folder, paths, *extra, data=None, output="out.csv"):
    return run_cli(["featurize", *LINEAR, "--checkpoints", *paths[:2], "--train-data",
                str(data or folder / "train.npz"), *FAST, "--output", str(folder / output),
                *extra])


@needs_torch
def test_hard_link_of_a_checkpoint_as_output_is_refused(files):
    folder, paths = files
    os.link(paths[1], folder / "out.csv")
    before = Path(paths[1]).read_bytes()
    result_error_line(featurize(folder, paths), "featurize")
    assert Path(paths[1]).read_bytes() == before


def test_hard_link_of_the_features_file_as_html_and_tree_as_html(tmp_path):
    features = tmp_path / "features.csv"
    features.write_text(FEATURES)
    os.link(features, tmp_path / "page.html")
    result_error_line(run_cli(["diagnose", str(features), "--tree", "cifar10-resnet18", "--html",
                    str(tmp_path / "page.html")]), "diagnose")
    assert features.read_text() == FEATURES
    from sklearn_mdtree.pretrained import load_tree
    from sklearn_mdtree.pretrained._io import dumps

    tree = tmp_path / "tree.json"
    tree.write_text(dumps(load_tree("cifar10-resnet18-q1").to_dict()))
    before = tree.read_bytes()
    result_error_line(run_cli(["diagnose", str(features), "--tree", str(tree), "--html", str(tree)]),
               "diagnose")
    assert tree.read_bytes() == before


@needs_torch
@pytest.mark.parametrize("kind", ["models", "features"])
@pytest.mark.parametrize("special", ["fifo", "folder"])
def test_zoo_cache_entry_that_is_not_a_file_neither_hangs_nor_tracebacks(tmp_path, kind,
                                                                        special):
    from featurizers._cache import Cache, meta_key

    cache = Cache(tmp_path)
    cache.check_writable()
    meta = {"config": 1}
    suffix = ".pt" if kind == "models" else ".csv"
    path = tmp_path / kind / f"{meta_key(meta)[1]}{suffix}"
    os.mkfifo(path) if special == "fifo" else path.mkdir()
    load = (lambda: cache.load_model(meta, lambda: torch.nn.Linear(2, 2))) if kind == "models" \
        else (lambda: cache.load_row(meta, ["a"]))
    box = within(20, load)
    assert isinstance(box.get("error"), FileExistsError), box
    one_line(box["error"], str(path))


@needs_torch
def test_train_data_count_neither_one_nor_the_groups(files):
    folder, paths = files
    result = run_cli(["featurize", *LINEAR, "--checkpoints", *paths[:2], "--checkpoints",
                  *paths[2:], *FAST, "--output", str(folder / "out.csv"),
                  *["--train-data", str(folder / "train.npz")] * 3])
    result_error_line(result, "featurize", "--train-data", "got 3")
    assert not (folder / "out.csv").exists()


def test_hessian_t_near_the_float_limit_with_data_bounds():
    from sklearn_mdtree import MDTreeClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"train_error": rng.uniform(0, 40, 40),
                      "mode_connectivity_peak": rng.uniform(-60, -10, 40),
                      "hessian_t": rng.uniform(1.5e308, 1.7e308, 40)})
    y = np.resize(["small", "large"], 40)
    try:
        clf = MDTreeClassifier("q1", bounds="data").fit(X, y)
    except ValueError as exc:
        one_line(exc, "hessian_t")
    else:
        t2 = clf.thresholds_["t2"]
        assert X.hessian_t.min() <= t2 <= X.hessian_t.max()


@needs_torch
def test_linear_cka_of_huge_finite_inputs():
    from featurizers.similarity import linear_cka

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 5)) * 1e200
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            value = linear_cka(X, X * 0.5)
        except ValueError as exc:
            one_line(exc)
        else:
            assert np.isfinite(value) and abs(value - 1) < 1e-9


@needs_torch
def test_relative_factory(files):
    folder, paths = files
    result_error_line(run_cli(["featurize", "--model", ".mod:f", "--checkpoints", *paths[:2],
                    "--train-data", str(folder / "train.npz"), *FAST, "--output",
                    str(folder / "out.csv")]), "featurize", ".mod:f")


@needs_torch
@pytest.mark.parametrize("body", ["raise RuntimeError('boom')", "def broken(:\n"])
def test_factory_module_failing_at_import(files, monkeypatch, body):
    folder, paths = files
    (folder / "badfactory_r3.py").write_text(body + "\n")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(__import__("sys").modules, "badfactory_r3", raising=False)
    result_error_line(run_cli(["featurize", "--model", "badfactory_r3:f", "--checkpoints", *paths[:2],
                    "--train-data", str(folder / "train.npz"), *FAST, "--output",
                    str(folder / "out.csv")]), "featurize", "badfactory_r3")


@needs_torch
@pytest.mark.parametrize("X", [
    np.array([["a"] * 4] * 30),
    np.array([["2020-01-01"] * 4] * 30, dtype="datetime64[D]"),
    np.zeros(30, dtype=[("a", "f4"), ("b", "f4"), ("c", "f4"), ("d", "f4")]),
], ids=["str", "datetime", "structured"])
def test_non_numeric_inputs_in_a_data_file(files, X):
    folder, paths = files
    np.savez(folder / "odd.npz", X=X, y=np.zeros(30, dtype=np.int64))
    result_error_line(featurize(folder, paths, data=folder / "odd.npz"), "featurize", "odd.npz")


@needs_torch
def test_inputs_of_the_wrong_width(files):
    folder, paths = files
    np.savez(folder / "wide.npz", X=np.zeros((30, 5), np.float32), y=np.zeros(30, np.int64))
    # torch's words may follow in parentheses; the line says what is expected first
    result_error_line(featurize(folder, paths, data=folder / "wide.npz"), "featurize",
               "expects inputs of shape (n_samples, 4)", "wide.npz", "(30, 5)")


@needs_torch
def test_random_bytes_named_npz(files):
    folder, paths = files
    (folder / "rand.npz").write_bytes(np.random.default_rng(0).bytes(300))
    line = result_error_line(featurize(folder, paths, data=folder / "rand.npz"), "featurize",
                      "rand.npz")
    assert "object arrays" not in line


@needs_torch
def test_uint16_inputs_are_read():
    from featurizers.checkpoints import load_data

    X, y = load_data((np.ones((5, 4), dtype=np.uint16), np.array([0, 1, 2, 1, 0])))
    assert X.shape == (5, 4) and X.dtype.is_floating_point


@needs_torch
def test_uint64_labels_are_shown_as_they_are():
    from featurizers.checkpoints import CheckpointError, load_data

    big = np.array([0, 1, 2**63 + 5], dtype=np.uint64)
    with pytest.raises((CheckpointError, ValueError)) as info:
        load_data((np.ones((3, 4), dtype=np.float32), big))
    one_line(info.value)
    assert "-92233720368547" not in str(info.value)


@needs_torch
def test_checkpoints_none_and_a_data_tuple_of_three():
    from featurizers import featurize_checkpoints
    from featurizers.checkpoints import CheckpointError, load_data

    with pytest.raises((TypeError, ValueError, CheckpointError)) as info:
        featurize_checkpoints("torch.nn:Linear", None, (np.ones((3, 4)), np.zeros(3)))
    one_line(info.value, "checkpoints")
    with pytest.raises(CheckpointError) as info:
        load_data((np.ones((3, 4)), np.zeros(3), np.zeros(3)))
    one_line(info.value, "pair")


def test_a_5000_digit_threshold_in_a_tree_file(tmp_path):
    import json

    from sklearn_mdtree.pretrained import PretrainedTree, load_tree

    import re

    text = json.dumps(load_tree("cifar10-resnet18-q1").to_dict())
    text, n = re.subn(r'"threshold": [-0-9.eE+]+', '"threshold": ' + "1" * 5000, text, count=1)
    assert n == 1
    path = tmp_path / "tree.json"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        PretrainedTree.from_file(path)
    message = one_line(info.value)
    assert "int_max_str_digits" not in message and "4300" not in message


def _group(dtype=None):
    from featurizers import ModelGroup

    dtype = torch.float32 if dtype is None else dtype

    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(30, 4, generator=g), torch.randint(0, 3, (30,), generator=g)
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(),
                                          torch.nn.Linear(5, 3)).to(dtype))
    return ModelGroup(models, (X.to(dtype), y))


@needs_torch
def test_device_meta():
    from featurizers import LossLandscapeFeaturizer

    with pytest.raises((ValueError, TypeError)) as info:
        LossLandscapeFeaturizer(["train_error"], device="meta", verbose=0).fit_transform(
            [_group()])
    one_line(info.value, "device")


@needs_torch
def test_mixed_float32_and_float64_layers():
    from featurizers import LossLandscapeFeaturizer, ModelGroup

    group = _group()
    models = [m for m in group.models]
    for model in models:
        model[2].to(torch.float64)
    try:
        group = ModelGroup(models, group.train_data)
        table = LossLandscapeFeaturizer(["train_error"], verbose=0).fit_transform([group])
    except (ValueError, TypeError) as exc:
        one_line(exc, "models", "float64", "float32")
    else:
        assert np.isfinite(np.asarray(table, dtype=float)).all()


@needs_torch
def test_mode_connectivity_peak_of_strings():
    from featurizers.connectivity import mode_connectivity_peak

    with pytest.raises((ValueError, TypeError)) as info:
        mode_connectivity_peak(["a", "b", "c"])
    one_line(info.value, "errors")


@needs_torch
def test_bezier_point_with_different_keys():
    from featurizers.connectivity import bezier_point

    a = {"w": torch.zeros(2)}
    with pytest.raises((ValueError, KeyError, TypeError)) as info:
        bezier_point(a, {"v": torch.zeros(2)}, a, 0.5)
    one_line(info.value)


@needs_torch
def test_fit_bend_with_different_widths():
    from featurizers.connectivity import fit_bend

    g = torch.Generator().manual_seed(0)
    data = (torch.randn(20, 4, generator=g), torch.randint(0, 3, (20,), generator=g))
    a = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    b = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    with pytest.raises((ValueError, TypeError)) as info:
        fit_bend(a, b, data, epochs=1)
    one_line(info.value)


def test_complex_hessian_t_names_the_column_without_the_frame():
    import sklearn_mdtree

    X = pd.DataFrame({"train_error": [2.0] * 50, "mode_connectivity_peak": [-30.0] * 50,
                      "hessian_t": [5.0 + 1j] * 50})
    with pytest.raises((ValueError, TypeError)) as info:
        sklearn_mdtree.diagnose(X, "cifar10-resnet18")
    one_line(info.value, "hessian_t")


@pytest.mark.parametrize("version", ["true", "1.0"])
def test_format_version_true_or_float(tmp_path, version):
    import json

    from sklearn_mdtree.pretrained import PretrainedTree, load_tree

    doc = load_tree("cifar10-resnet18-q1").to_dict()
    text = json.dumps(doc).replace('"format_version": ' + json.dumps(doc["format_version"]),
                                   '"format_version": ' + version)
    path = tmp_path / "tree.json"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        PretrainedTree.from_file(path)
    one_line(info.value, "format_version")


def test_fit_on_with_one_class_warns_or_refuses(tmp_path):
    labelled = tmp_path / "labelled.csv"
    table = _labelled(labelled)
    table["bs_failure"] = np.resize(["small", "optimal"], len(table))
    table.to_csv(labelled, index=False)
    features = tmp_path / "features.csv"
    features.write_text(FEATURES)
    status, out, err = run_cli(["diagnose", str(features), "--fit-on", str(labelled)])
    assert status == 2 or "warning" in err, err
    if status == 2:
        result_error_line((status, out, err), "diagnose", "bs_failure")
