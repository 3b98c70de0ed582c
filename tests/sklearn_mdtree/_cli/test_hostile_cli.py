"""Hostile files given to the ``mdtree`` command line: every one ends in a one-line error
and exit code 2 (no traceback, no partial output file) or in the right answer, never in
a silently different one. Includes a hypothesis fuzz of the files the CLI reads."""

import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import run_cli, within
from sklearn_mdtree._cli import _common
from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree.datasets._registry import COLLECTION_FILES

COLUMNS = ["train_error", "mode_connectivity_peak", "hessian_t"]
FEATURES = b"train_error,mode_connectivity_peak,hessian_t\n0.1,-1.5,7.5\n3.25,-20.5,5.75\n"
FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def collections(stacked_frame):
    """The CLI's collections, read once: the features file is what is fuzzed here."""
    return stacked_frame


@pytest.fixture
def fast_cli(collections, monkeypatch):
    monkeypatch.setattr(_common, "load_collections", lambda data_home: collections)


@pytest.fixture(scope="module")
def q1(collections):
    keep = (collections.collection == "normal") & (collections.bs_failure != "optimal")
    train = collections[keep]
    return MDTreeClassifier("q1").fit(train, train["bs_failure"])


def diagnose_bytes(content, folder):
    """Run ``mdtree diagnose`` on a features file holding ``content``, with --output."""
    features, output = Path(folder) / "features.csv", Path(folder) / "out" / "report.csv"
    features.write_bytes(content)
    status, out, err = run_cli(["diagnose", str(features), "--format", "csv",
                            "--output", str(output)])
    return status, out, err, output


def assert_clean_error(status, out, err, output, command="diagnose"):
    assert status == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mdtree {command}: error: "), err
    assert "Traceback" not in err
    assert not output.exists() and not output.parent.exists()  # nothing left behind


def assert_answer(status, out, err, output, expected_labels):
    assert status == 0, err
    assert output.read_text() == out  # the file holds the whole report
    labels = pd.read_csv(io.StringIO(out))["q1_label"].tolist()
    assert labels == expected_labels


# -- the kinds found by the adversarial pass ------------------------------------------------

def test_truncated_features_csv_is_an_error_not_another_answer(fast_cli, tmp_path, q1):
    full = pd.read_csv(io.BytesIO(FEATURES))
    expected = q1.predict(full).tolist()
    complete = [i + 1 for i, byte in enumerate(FEATURES) if byte == ord("\n")]
    header_end = complete[0]
    for cut in range(len(FEATURES) + 1):  # every position
        folder = tmp_path / str(cut)
        folder.mkdir()
        result = diagnose_bytes(FEATURES[:cut], folder)
        if cut in complete and cut > header_end:  # whole lines: the rows so far
            assert_answer(*result, expected[: complete.index(cut)])
        else:
            assert_clean_error(*result)
    assert "may be cut short" in diagnose_bytes(FEATURES[:-3], tmp_path)[2]


def test_output_equal_to_an_input_is_refused_and_the_input_kept(fast_cli, tmp_path):
    features = tmp_path / "features.csv"
    features.write_bytes(FEATURES)
    for output in (features, tmp_path / "." / "features.csv"):
        status, out, err = run_cli(["diagnose", str(features), "--output", str(output)])
        assert status == 2 and "is one of the inputs" in err and len(err.splitlines()) == 1
        assert features.read_bytes() == FEATURES
    os.symlink(features, tmp_path / "link.csv")
    status, _, err = run_cli(["diagnose", str(features), "--output", str(tmp_path / "link.csv")])
    assert status == 2 and features.read_bytes() == FEATURES


def test_output_equal_to_a_collection_file_is_refused(model_diagnosis_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(model_diagnosis_dir, data)
    target = data / COLLECTION_FILES["normal"]
    before = target.read_bytes()
    status, _, err = run_cli(["reproduce", "--data-home", str(data), "--output", str(target)])
    assert status == 2 and "is one of the inputs" in err
    assert target.read_bytes() == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_as_features_file_does_not_hang(fast_cli, tmp_path):
    fifo = tmp_path / "features.csv"
    os.mkfifo(fifo)

    def unblock():  # open the FIFO for writing: its reader returns, the session can end
        with open(fifo, "wb"):
            pass

    status, _, err = within(120, lambda: run_cli(["diagnose", str(fifo)]), unblock=unblock)["value"]
    assert status == 2 and "not a regular file" in err


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "", "abc", "1e999"])
def test_non_finite_or_missing_values_in_used_columns(fast_cli, tmp_path, value):
    content = FEATURES.replace(b"7.5", value.encode())
    assert_clean_error(*diagnose_bytes(content, tmp_path))


def test_values_in_unused_columns_do_not_matter(fast_cli, tmp_path, q1):
    content = (b"note,train_error,mode_connectivity_peak,hessian_t\n"
               b"inf,0.1,-1.5,7.5\n,3.25,-20.5,5.75\n")
    full = pd.read_csv(io.BytesIO(FEATURES))
    assert_answer(*diagnose_bytes(content, tmp_path), q1.predict(full).tolist())


# -- fuzz: random bytes, wrong dtypes, NaN/inf, huge values ---------------------------------

@FUZZ
@given(st.binary(max_size=160))
def test_fuzz_random_bytes(fast_cli, content):
    with tempfile.TemporaryDirectory() as folder:
        status, out, err, output = diagnose_bytes(content, folder)
        if status == 0:  # a valid table after all: the file holds the report
            assert output.read_text() == out and "Traceback" not in err
        else:
            assert_clean_error(status, out, err, output)


@FUZZ
@given(st.binary(min_size=1, max_size=40), st.integers(0, len(FEATURES)))
def test_fuzz_bytes_spliced_into_a_valid_file(fast_cli, junk, at):
    with tempfile.TemporaryDirectory() as folder:
        status, out, err, output = diagnose_bytes(FEATURES[:at] + junk + FEATURES[at:], folder)
        if status == 0:
            assert output.read_text() == out and "Traceback" not in err
        else:
            assert_clean_error(status, out, err, output)


CELL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 1.7976931348623157e308, 5e-324, 0.0, -0.0]),
    st.integers(-(10**30), 10**30),
    st.text(alphabet="abc-+.eE0123456789 ", max_size=6),
)


@FUZZ
@given(st.lists(st.tuples(CELL, CELL, CELL), min_size=1, max_size=4))
def test_fuzz_values_give_the_trees_answer_or_an_error(fast_cli, q1, rows):
    text = ",".join(COLUMNS) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)
    parsed = pd.read_csv(io.StringIO(text))
    numeric = all(pd.api.types.is_numeric_dtype(parsed[c]) for c in COLUMNS)
    valid = (numeric and len(parsed) == len(rows)
             and np.isfinite(parsed[COLUMNS].to_numpy(dtype=float)).all())
    with tempfile.TemporaryDirectory() as folder:
        result = diagnose_bytes(text.encode(), folder)
        if valid:  # the answer is the tree's on the values the file holds
            assert_answer(*result, q1.predict(parsed).tolist())
        else:
            assert_clean_error(*result)


@settings(max_examples=15, deadline=None)
@given(name=st.sampled_from(sorted(COLLECTION_FILES.values())),
       cut=st.floats(0, 1, exclude_max=True), junk=st.binary(max_size=8))
def test_fuzz_collection_files(model_diagnosis_dir, name, cut, junk):
    # the collections are verified by checksum: any change is refused in one line
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        shutil.copytree(model_diagnosis_dir, data)
        original = (data / name).read_bytes()
        at = int(cut * len(original))
        (data / name).write_bytes(original[:at] + junk)
        output = Path(folder) / "out" / "report.md"
        status, out, err = run_cli(["reproduce", "--data-home", str(data),
                                "--output", str(output)])
        assert_clean_error(status, out, err, output, command="reproduce")
        assert "sha256" in err or "checksum" in err


# -- files of mdtree featurize: checkpoints and training data --------------------------------

try:
    import torch
except ImportError:  # the CSV and collection fuzz above runs without torch
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="mdtree featurize needs torch")

LINEAR = ["--model", "torch.nn:Linear", "--model-kwargs", '{"in_features": 4, "out_features": 3}']


def _featurize_inputs(folder):
    folder = Path(folder)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(30, 4, generator=g), torch.randint(0, 3, (30,), generator=g)
    np.savez(folder / "train.npz", X=X.numpy(), y=y.numpy())
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        paths.append(folder / f"m{seed}.pt")
        torch.save(torch.nn.Linear(4, 3).state_dict(), paths[-1])
    return paths, folder / "train.npz"


def _featurize(paths, data, folder):
    output = Path(folder) / "out" / "features.csv"
    status, out, err = run_cli(["featurize", *LINEAR, "--checkpoints", *map(str, paths),
                            "--train-data", str(data), "--curve-epochs", "1",
                            "--output", str(output)])
    return status, out, err, output


def _clean_or_complete(status, out, err, output, command="featurize"):
    if status == 0:  # a valid input after all: a complete table, nothing else
        assert "Traceback" not in err
        table = pd.read_csv(output)
        assert len(table) == 1 and output.read_bytes().endswith(b"\n")
        # never a silently wrong row: every feature finite, or a warning that says which not
        numbers = table.select_dtypes("number")
        # (a standard error is NaN where there is no spread to measure, e.g. one pair)
        values = numbers[[c for c in numbers if not c.endswith("_se")]].to_numpy(dtype=float)
        assert np.isfinite(values).all() or "NaN" in err or "nan" in err, (table, err)
    else:
        assert_clean_error(status, out, err, output, command=command)


FILE_FUZZ = settings(max_examples=12, deadline=None)


@needs_torch
@FILE_FUZZ
@given(which=st.sampled_from(["checkpoint", "data"]), cut=st.floats(0, 1, exclude_max=True),
       junk=st.binary(max_size=16))
def test_fuzz_truncated_or_spliced_checkpoints_and_data(which, cut, junk):
    with tempfile.TemporaryDirectory() as folder:
        paths, data = _featurize_inputs(folder)
        reference = _featurize(paths, data, Path(folder) / "reference")
        assert reference[0] == 0
        target = paths[0] if which == "checkpoint" else data
        original = target.read_bytes()
        target.write_bytes(original[: int(cut * len(original))] + junk)
        status, out, err, output = _featurize(paths, data, folder)
        if status == 0:  # the archive survived (e.g. only its comment changed): same rows
            assert output.read_bytes() == reference[3].read_bytes()
        else:
            assert_clean_error(status, out, err, output, command="featurize")


@needs_torch
@FILE_FUZZ
@given(st.binary(max_size=64))
def test_fuzz_random_bytes_as_checkpoint_or_data(content):
    with tempfile.TemporaryDirectory() as folder:
        paths, data = _featurize_inputs(folder)
        paths[1].write_bytes(content)
        _clean_or_complete(*_featurize(paths, data, folder))
        paths, data = _featurize_inputs(folder)
        data.write_bytes(content)
        _clean_or_complete(*_featurize(paths, data, folder))


@needs_torch
@FILE_FUZZ
@given(value=st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e308]),
       where=st.sampled_from(["weights", "inputs"]),
       dtype=st.sampled_from(["float32", "float64", "int64"]))
def test_fuzz_values_and_dtypes_of_checkpoints_and_data(value, where, dtype):
    with tempfile.TemporaryDirectory() as folder:
        paths, data = _featurize_inputs(folder)
        if where == "weights":
            state = torch.load(paths[0], weights_only=True)
            weight = state["weight"].to(getattr(torch, dtype))
            if weight.is_floating_point():  # 1e308 overflows float32 to inf
                with np.errstate(over="ignore"):
                    weight[0, 0] = float(np.asarray(value).astype(dtype))
            state["weight"] = weight
            torch.save(state, paths[0])
        else:
            arrays = dict(np.load(data))
            X = arrays["X"].astype(dtype)
            if X.dtype.kind == "f":
                with np.errstate(over="ignore"):
                    X[0, 0] = np.asarray(value).astype(dtype)
            np.savez(data, X=X, y=arrays["y"])
        _clean_or_complete(*_featurize(paths, data, folder))


# -- found by the second adversarial pass ----------------------------------------------------

def _diagnose_tree(folder, name, content, *extra):
    path = Path(folder) / name
    path.write_bytes(content)
    output = Path(folder) / "out" / "report.csv"
    status, out, err = run_cli(["diagnose", str(path), "--tree", "cifar10-resnet18-q1", "--format",
                            "csv",
                            "--output", str(output), *extra])
    return status, out, err, output


def test_a_column_named_twice_is_refused_not_the_first_taken(tmp_path):
    content = FEATURES.replace(b"hessian_t\n", b"hessian_t,hessian_t\n").replace(
        b"7.5\n", b"7.5,1.0\n").replace(b"5.75\n", b"5.75,2.0\n")
    result = _diagnose_tree(tmp_path, "features.csv", content)
    assert_clean_error(*result)
    assert "names the column(s) ['hessian_t'] more than once" in result[2]


def test_corrupt_or_cut_compressed_features_file(tmp_path):
    import gzip

    whole = gzip.compress(FEATURES)
    for cut, content in (("cut", whole[: len(whole) // 2]), ("junk", b"\x1f\x8b\x08\x00junk")):
        folder = tmp_path / cut
        folder.mkdir()
        result = _diagnose_tree(folder, "features.csv.gz", content)
        assert_clean_error(*result)
        assert "Could not decompress" in result[2]
    assert _diagnose_tree(tmp_path, "whole.csv.gz", whole)[0] == 0


def test_utf16_features_file_is_named_as_such(tmp_path):
    result = _diagnose_tree(tmp_path, "features.csv", FEATURES.decode().encode("utf-16"))
    assert_clean_error(*result)
    assert "UTF-16" in result[2]


@pytest.mark.parametrize("ids, message", [(b"a,a", "the same name to line(s) [2, 3]"),
                                          (b",b", "no name to line(s) [2]")])
def test_id_column_with_missing_or_repeated_names(tmp_path, ids, message):
    first, second = ids.split(b",")
    lines = FEATURES.splitlines(keepends=True)
    content = (b"id," + lines[0] + first + b"," + lines[1] + second + b"," + lines[2])
    result = _diagnose_tree(tmp_path, "features.csv", content, "--id-column", "id")
    assert_clean_error(*result)
    assert message in result[2]


@pytest.mark.parametrize("labels, message", [
    ((b"small", b"LARGE"), "line 3 holds 'LARGE'"),
    ((b"small", b""), "line 3 holds nan"),
    ((b"optimal", b"optimal"), "Every row of the CSV file"),
])
def test_fit_on_labels_are_checked(tmp_path, labels, message):
    lines = FEATURES.splitlines(keepends=True)
    table = (lines[0].rstrip() + b",bs_failure\n" + lines[1].rstrip() + b"," + labels[0]
             + b"\n" + lines[2].rstrip() + b"," + labels[1] + b"\n")
    (tmp_path / "labelled.csv").write_bytes(table)
    (tmp_path / "features.csv").write_bytes(FEATURES)
    output = tmp_path / "out" / "report.csv"
    status, out, err = run_cli(["diagnose", str(tmp_path / "features.csv"), "--fit-on",
                            str(tmp_path / "labelled.csv"), "--output", str(output)])
    assert_clean_error(status, out, err, output)
    assert message in err


LABELLED = (b"train_error,mode_connectivity_peak,hessian_t,bs_failure\n0.1,-1.5,7.5,small\n"
            b"3.25,-20.5,5.75,large\n9.0,-40.0,2.0,large\n0.5,-3.0,6.5,small\n")


@FUZZ
@given(junk=st.binary(max_size=24), at=st.integers(0, len(LABELLED)),
       cut=st.integers(0, len(LABELLED)))
def test_fuzz_fit_on_labelled_table(junk, at, cut):
    content = (LABELLED[:at] + junk + LABELLED[at:])[:cut + len(junk)]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "features.csv").write_bytes(FEATURES)
        (folder / "labelled.csv").write_bytes(content)
        output, tree = folder / "out" / "report.csv", folder / "trees" / "q1.json"
        status, out, err = run_cli(["diagnose", str(folder / "features.csv"), "--fit-on",
                                str(folder / "labelled.csv"), "--format", "csv",
                                "--output", str(output), "--save-tree", str(tree)])
        if status == 0:  # a valid table after all: the whole report and a readable tree
            assert "Traceback" not in err and output.read_text() == out
            from sklearn_mdtree.pretrained import PretrainedTree

            assert PretrainedTree.from_file(tree).task == "bs_failure"
        else:
            assert_clean_error(status, out, err, output)
            assert not tree.exists() and not tree.parent.exists()


@needs_torch
def test_featurize_with_chosen_features_and_bad_names(tmp_path):
    # --features crashed with a traceback (its list was taken for an input path)
    paths, data = _featurize_inputs(tmp_path)
    base = ["featurize", *LINEAR, "--checkpoints", *map(str, paths), "--train-data", str(data),
            "--curve-epochs", "1"]
    output = tmp_path / "out" / "features.csv"
    status, out, err = run_cli([*base, "--features", "train_error", "CKA", "--output", str(output)])
    assert status == 0, err
    assert list(pd.read_csv(output, index_col="group").columns) == [
        "train_error", "CKA", "train_error_se", "CKA_se", "n_classes", "feature_recipe"]
    output.unlink()
    output.parent.rmdir()
    for extra, message in ((["--name", ""], "distinct, non-empty names"),
                           (["--name", " "], "distinct, non-empty names"),
                           (["--data-kwargs", '{"n": 3}'], "only with a data factory")):
        status, out, err = run_cli([*base, *extra, "--output", str(output)])
        assert_clean_error(status, out, err, output, command="featurize")
        assert message in err
    twice = [*base, "--checkpoints", *map(str, paths), "--name", "a", "--name", "a"]
    status, out, err = run_cli([*twice, "--output", str(output)])
    assert_clean_error(status, out, err, output, command="featurize")
    assert "distinct, non-empty names" in err


@needs_torch
def test_featurize_tree_takes_the_trees_recipe_explicit_options_win(tmp_path):
    import json

    paths, data = _featurize_inputs(tmp_path)
    base = ["featurize", *LINEAR, "--checkpoints", *map(str, paths), "--train-data",
            str(data), "--features", "train_error", "CKA"]
    output = tmp_path / "out" / "features.csv"
    # a tree whose features were computed otherwise than the defaults (no shipped tree
    # is, since the digits trees are not shipped): the ResNet tree's document, edited
    from sklearn_mdtree.pretrained import _data_folder

    doc = json.loads(_data_folder().joinpath("cifar10-resnet18-q1.json").read_text())
    doc["feature_recipe"] = dict(doc["feature_recipe"], curve_epochs=15,
                                 hessian_batch_size=200)
    tree = tmp_path / "tree.json"
    tree.write_text(json.dumps(doc))
    status, out, err = run_cli([*base, "--tree", str(tree), "--output", str(output)])
    assert status == 0, err
    table = pd.read_csv(output, index_col="group")
    recipe = json.loads(table["feature_recipe"].iloc[0])
    assert recipe["curve_epochs"] == 15 and recipe["hessian_batch_size"] == 200
    assert "recipe: curve_epochs=15" in err + out
    assert table["n_classes"].tolist() == [3]
    output.unlink()
    status, out, err = run_cli([*base, "--tree", str(tree), "--curve-epochs", "1",
                            "--output", str(output)])
    assert status == 0, err
    recipe = json.loads(pd.read_csv(output)["feature_recipe"].iloc[0])
    assert recipe["curve_epochs"] == 1
    status, out, err = run_cli([*base, "--tree", "no-such-tree", "--output",
                            str(tmp_path / "x" / "f.csv")])
    assert status != 0 and "--tree" in err
