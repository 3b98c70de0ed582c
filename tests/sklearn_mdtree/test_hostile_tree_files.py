"""Tree files given to ``mdtree diagnose --tree FILE.json``: saved with ``--save-tree``,
read back to the same answer; every hostile file (random bytes, cut at any position, wrong
types, NaN/inf/huge thresholds, missing or repeated nodes, another schema or version) ends
in a one-line error and exit code 2 with no output file, or loads as exactly the tree it
describes, never as another."""

import copy
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sklearn_mdtree._cli as cli
from _helpers import run_cli
from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree.pretrained import PretrainedTree, tree_to_dict

FEATURES = b"train_error,mode_connectivity_peak,hessian_t\n0.1,-1.5,7.5\n3.25,-20.5,5.75\n"
SHIPPED = Path(cli.__file__).parent.parent / "pretrained" / "data"
#: What a loaded tree answers with: these fields of its document.
MODEL_FIELDS = ("hierarchy", "classes", "leaf_labels", "leaf_class_weight", "n_features_in",
                "feature_names_in", "estimator_params", "task")


def _toy():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"train_error": rng.uniform(0, 50, 40),
                      "mode_connectivity_peak": rng.uniform(-60, 0, 40),
                      "hessian_t": rng.uniform(1, 8, 40)})
    y = np.where(X["hessian_t"] > 4, "small", "large")
    return X, y


@pytest.fixture(scope="module")
def document():
    """A small valid tree document (Q1 preset, fitted on a toy table, with its domain)."""
    X, y = _toy()
    tree = MDTreeClassifier("q1").fit(X, y)
    doc = tree_to_dict(tree, X, name="toy", description="a toy Q1 tree")
    doc["joint_domain"] = None  # its 40 points would make every cut and fuzz case slow
    return doc


def compact(doc):
    return (json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n").encode()


run = run_cli  # (status, stdout, stderr) of mdtree argv, in-process


def diagnose_with(content, folder):
    """``mdtree diagnose features.csv --tree tree.json --output out/report.csv``."""
    folder = Path(folder)
    (folder / "features.csv").write_bytes(FEATURES)
    tree, output = folder / "tree.json", folder / "out" / "report.csv"
    tree.write_bytes(content)
    status, out, err = run(["diagnose", str(folder / "features.csv"), "--tree", str(tree),
                            "--format", "csv", "--output", str(output)])
    return status, out, err, output


def assert_clean_error(status, out, err, output, message=""):
    assert status == 2, (status, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mdtree diagnose: error: "), err
    assert "Traceback" not in err and message in err, err
    assert not output.exists() and not output.parent.exists()


def answer_of(doc):
    """The Q1 labels the tree of ``doc`` gives the rows of FEATURES."""
    tree = PretrainedTree.from_dict(copy.deepcopy(doc)).estimator
    return tree.predict(pd.read_csv(io.BytesIO(FEATURES))).tolist()


def assert_faithful_or_error(doc_bytes, folder):
    """A clean error, or the answer of exactly the tree the file describes."""
    status, out, err, output = diagnose_with(doc_bytes, folder)
    if status != 0:
        assert_clean_error(status, out, err, output)
        return False
    parsed = json.loads(doc_bytes)
    loaded = PretrainedTree.from_file(Path(folder) / "tree.json")
    again = tree_to_dict(loaded.estimator)
    for key in MODEL_FIELDS:  # the loaded tree is the one written down, field for field
        assert again[key] == parsed[key], key
    assert pd.read_csv(io.StringIO(out))["q1_label"].tolist() == answer_of(parsed)
    assert output.read_text() == out
    return True


# -- saving one's own tree and reading it back -----------------------------------------------

def test_save_tree_then_tree_file_gives_the_same_diagnosis(tmp_path):
    X, y = _toy()
    table = X.assign(bs_failure=y,
                     width_vs_batch=np.where(X["train_error"] > 25, "width", "batch"))
    table.to_csv(tmp_path / "labelled.csv", index=False)
    (tmp_path / "mine.csv").write_bytes(FEATURES)
    q1, q2 = tmp_path / "trees" / "q1.json", tmp_path / "q2.json"
    status, fitted, err = run(["diagnose", str(tmp_path / "mine.csv"), "--fit-on",
                               str(tmp_path / "labelled.csv"), "--save-tree", str(q1),
                               "--save-q2-tree", str(q2), "--format", "csv"])
    assert status == 0, err
    assert f"wrote the tree to {q1}" in err and f"wrote the tree to {q2}" in err
    assert PretrainedTree.from_file(q1).task == "bs_failure"
    assert PretrainedTree.from_file(q2).task == "width_vs_batch"
    assert json.loads(q1.read_text())["provenance"]["fitted_on"] == "labelled.csv"
    status, loaded, err = run(["diagnose", str(tmp_path / "mine.csv"), "--tree", str(q1),
                               "--q2-tree", str(q2), "--format", "csv"])
    assert status == 0, err
    assert loaded == fitted  # the same recommendations, margins and domain checks
    # Q1 alone
    status, alone, err = run(["diagnose", str(tmp_path / "mine.csv"), "--tree", str(q1),
                              "--format", "csv"])
    assert status == 0 and "q2_label" not in pd.read_csv(io.StringIO(alone)).columns


def test_shipped_tree_files_by_path_equal_the_names(tmp_path):
    (tmp_path / "mine.csv").write_bytes(FEATURES)
    base = ["diagnose", str(tmp_path / "mine.csv"), "--format", "json"]
    by_name = run([*base, "--tree", "cifar10-resnet18"])
    by_path = run([*base, "--tree", str(SHIPPED / "cifar10-resnet18-q1.json"),
                   "--q2-tree", str(SHIPPED / "cifar10-resnet18-q2.json")])
    assert by_name[0] == by_path[0] == 0
    assert json.loads(by_path[1]) == json.loads(by_name[1])
    mixed = run([*base, "--tree", "cifar10-resnet18-q1", "--q2-tree", "cifar10-resnet18-q2"])
    assert json.loads(mixed[1]) == json.loads(by_name[1])


def test_tree_file_options_are_checked(tmp_path, document):
    (tmp_path / "mine.csv").write_bytes(FEATURES)
    mine, tree = str(tmp_path / "mine.csv"), tmp_path / "tree.json"
    tree.write_bytes(compact(document))
    for argv, message in (
        (["--save-tree", str(tmp_path / "x.json")], "--save-tree: only with --fit-on"),
        (["--save-q2-tree", str(tmp_path / "x.json")], "--save-q2-tree: only with --fit-on"),
        (["--q2-tree", str(tree)], "--q2-tree: only with --tree"),
    ):
        status, _, err = run(["diagnose", mine, *argv])
        assert status == 2 and message in err
    status, _, err = run(["diagnose", mine, "--tree", "cifar10-resnet18", "--q2-tree",
                          str(tree)])
    assert status == 2 and "holds a Q1 tree" in err and "give it as --tree" in err
    q2 = tmp_path / "q2.json"
    q2.write_bytes((SHIPPED / "cifar10-resnet18-q2.json").read_bytes())
    status, _, err = run(["diagnose", mine, "--tree", str(q2)])
    assert status == 2 and "holds a Q2 tree" in err and "give it as --q2-tree" in err
    # no Q2 label, no Q2 tree to save; nothing written
    X, y = _toy()
    X.assign(bs_failure=y).to_csv(tmp_path / "labelled.csv", index=False)
    status, _, err = run(["diagnose", mine, "--fit-on", str(tmp_path / "labelled.csv"),
                          "--save-tree", str(tmp_path / "a.json"),
                          "--save-q2-tree", str(tmp_path / "b.json")])
    assert status == 2 and "no 'width_vs_batch' column" in err
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "b.json").exists()
    # a tree file is never written over an input
    before = (tmp_path / "labelled.csv").read_bytes()
    status, _, err = run(["diagnose", mine, "--fit-on", str(tmp_path / "labelled.csv"),
                          "--save-tree", str(tmp_path / "labelled.csv")])
    assert status == 2 and "is one of the inputs" in err
    assert (tmp_path / "labelled.csv").read_bytes() == before
    status, _, err = run(["diagnose", mine, "--fit-on", str(tmp_path / "labelled.csv"),
                          "--save-tree", mine])
    assert status == 2 and (tmp_path / "mine.csv").read_bytes() == FEATURES
    # two outputs naming one file: the second would replace the first
    same = str(tmp_path / "same.json")
    for other in (["--output", same], ["--html", same], ["--save-q2-tree", same]):
        status, _, err = run(["diagnose", mine, "--fit-on", str(tmp_path / "labelled.csv"),
                              "--save-tree", same, *other])
        assert status == 2 and "name the same file" in err and not Path(same).exists()


# -- each kind of hostile tree file ----------------------------------------------------------

@pytest.mark.slow
def test_tree_file_cut_at_every_position(tmp_path, document):
    # every position through the CLI's loader, every 16th through the whole command
    content = compact(document)
    expected = answer_of(document)
    path = tmp_path / "tree.json"
    for cut in range(len(content) + 1):
        path.write_bytes(content[:cut])
        if cut >= len(content) - 1:  # only the final newline is gone: the same tree
            assert PretrainedTree.from_file(path).estimator.predict(
                pd.read_csv(io.BytesIO(FEATURES))).tolist() == expected
            continue
        with pytest.raises(ValueError, match="^The tree file .*") as info:
            PretrainedTree.from_file(path)
        assert "\n" not in str(info.value)
    for cut in [*range(0, len(content) - 1, 16), len(content) - 2]:
        folder = tmp_path / str(cut)
        folder.mkdir()
        assert_clean_error(*diagnose_with(content[:cut], folder))
    result = diagnose_with(content[:-1], tmp_path / "0")
    assert result[0] == 0, result[2]
    assert pd.read_csv(io.StringIO(result[1]))["q1_label"].tolist() == expected


@pytest.mark.slow
def test_shipped_tree_file_cut_at_every_position(tmp_path):
    content = (SHIPPED / "cifar10-resnet18-q1.json").read_bytes()
    path = tmp_path / "tree.json"
    # the shipped file holds the joint domain's points (hundreds of kB): 400 positions
    for cut in np.linspace(0, len(content) - 2, 400).astype(int):
        path.write_bytes(content[:cut])
        with pytest.raises(ValueError, match="^The tree file .*") as info:
            PretrainedTree.from_file(path)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("NaN", "holds NaN"), ("Infinity", "holds Infinity"), ("-Infinity", "holds -Infinity"),
    ("1e999", "overflows float64"), ("-1e999", "overflows float64"),
    ("1" + "0" * 400, "must be a finite number"), ('"2.5"', "must be a finite number"),
    ("true", "must be a finite number"), ("null", "must be a finite number"),
    ("[1.0]", "must be a finite number"), ("1e300", "outside its bounds"),
])
def test_non_finite_huge_or_mistyped_thresholds(tmp_path, document, text, message):
    content = compact(document).replace(
        b'"threshold":' + repr(document["hierarchy"]["root"]["threshold"]).encode(),
        b'"threshold":' + text.encode(), 1)
    assert content != compact(document)
    assert_clean_error(*diagnose_with(content, tmp_path), message=message)


def test_huge_but_finite_values_are_read_as_written(tmp_path, document):
    doc = copy.deepcopy(document)
    root = doc["hierarchy"]["root"]
    root["bounds"], root["threshold"] = [-1.7976931348623157e308, 1.7976931348623157e308], 1e308
    assert assert_faithful_or_error(compact(doc), tmp_path)


def _mutated(document, mutate):
    doc = copy.deepcopy(document)
    mutate(doc)
    return doc


def _root(doc):
    return doc["hierarchy"]["root"]


MUTATIONS = {
    # nodes missing, repeated (JSON holds no references: a cycle shows as a repeated split),
    # ambiguous or too deep
    "a split without its left node": (lambda d: _root(d).pop("left"), "lacks the key(s) ['left']"),
    "a null node": (lambda d: _root(d).update(right=None), "must be a JSON object"),
    "an empty node": (lambda d: _root(d).update(left={}), "lacks the key(s)"),
    "a node both leaf and split": (lambda d: _root(d).update(leaf="small"),
                                   "both 'leaf' and 'split'"),
    "a repeated split": (lambda d: _root(d)["right"].update(split=_root(d)["split"]),
                         "Split names must be unique"),
    "a subtree copied into itself": (
        lambda d: _root(d).update(left=copy.deepcopy(_root(d))), "Split names must be unique"),
    "an order naming another split": (lambda d: d["hierarchy"]["order"].__setitem__(0, "zz"),
                                      "must list every split name once"),
    "a leaf label that is a list": (lambda d: _root(d).update(left={"leaf": ["small"]}),
                                    "must be a class label"),
    # the answer-bearing fields must agree with the hierarchy
    "leaf_labels edited": (lambda d: d["leaf_labels"].reverse(), "leaf_labels must be"),
    "leaf_labels too short": (lambda d: d["leaf_labels"].pop(), "leaf_labels must be"),
    "a negative class weight": (lambda d: d["leaf_class_weight"][0].__setitem__(0, -1.0),
                                "a weight >= 0"),
    "a class weight row too short": (lambda d: d["leaf_class_weight"][0].pop(),
                                     "leaf_class_weight must be"),
    "classes repeated": (lambda d: d.update(classes=["large", "large"]), "distinct labels"),
    "classes unsorted": (lambda d: d.update(classes=["small", "large"]), "sorted"),
    "a leaf outside the classes": (lambda d: _root(d).update(left={"leaf": "tiny"}),
                                   "are not among classes"),
    "bounds reversed": (lambda d: _root(d).update(bounds=_root(d)["bounds"][::-1]),
                        "outside its bounds"),
    "three bounds": (lambda d: _root(d)["bounds"].append(1.0), "a list of two numbers"),
    "a feature that is a number": (lambda d: _root(d).update(feature=1.5),
                                   "a column name or index"),
    "a feature missing from feature_names_in": (
        lambda d: _root(d).update(feature="loss"), "lacks the feature(s) ['loss']"),
    "n_features_in a float": (lambda d: d.update(n_features_in=3.0), "an integer"),
    "n_features_in unlike the names": (lambda d: d.update(n_features_in=4),
                                       "feature_names_in must be"),
    "n_sweeps a bool": (lambda d: d.update(n_sweeps=True), "an integer"),
    "an unknown estimator parameter": (lambda d: d["estimator_params"].update(depth=3),
                                       "unknown key(s) ['depth']"),
    "an invalid estimator parameter": (
        lambda d: d["estimator_params"].update(threshold_search="random"), "threshold_search"),
    "train_score above 1": (lambda d: d.update(train_score=2.0), "a number in [0, 1]"),
    "task unlike the hierarchy's": (lambda d: d.update(task="width_vs_batch"), "differs from"),
    "a distribution out of order": (
        lambda d: d["training_distribution"]["hessian_t"].update(min=99.0), "min <= q05"),
    "a distribution missing a feature": (
        lambda d: d["training_distribution"].pop("hessian_t"), "lacks the key(s) ['hessian_t']"),
    "a distribution of n 0": (lambda d: d["training_distribution"]["train_error"].update(n=0),
                              "an integer in [1,"),
    "regimes too few": (lambda d: d["regime_distribution"].pop(), "one per leaf"),
    # another schema or version
    "another format": (lambda d: d.update(format="sklearn-mdtree/report"),
                       "is not a fitted MD tree document"),
    "format_version 2": (lambda d: d.update(format_version=2), "has format_version 2"),
    "format_version as text": (lambda d: d.update(format_version="1"), "has format_version '1'"),
    "no format_version": (lambda d: d.pop("format_version"), "has format_version None"),
    "no hierarchy": (lambda d: d.pop("hierarchy"), "lacks the key(s) ['hierarchy']"),
    "a misspelt key in a node": (lambda d: _root(d).update(thresold=1.0), "unknown key(s)"),
    "a provenance that is a list": (lambda d: d.update(provenance=[]), "must be a JSON object"),
}


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_each_kind_of_bad_document_is_one_line(tmp_path, document, kind):
    mutate, message = MUTATIONS[kind]
    assert_clean_error(*diagnose_with(compact(_mutated(document, mutate)), tmp_path),
                       message=message)


@pytest.mark.parametrize("content, message", [
    (b"", "is not valid JSON"),
    (b"[]", "is not a fitted MD tree document"),
    (b'"sklearn-mdtree/fitted-tree"', "is not a fitted MD tree document"),
    (b"\xff\xfe{}", "is not UTF-8"),
    (b"\xef\xbb\xbf{}", "is not valid JSON"),  # a byte-order mark
    (b'{"format": "a", "format": "sklearn-mdtree/fitted-tree"}', "repeats the key(s)"),
    (b"[" * 100_000 + b"]" * 100_000, "nests its JSON too deeply"),
])
def test_not_a_document_at_all(tmp_path, content, message):
    assert_clean_error(*diagnose_with(content, tmp_path), message=message)


def test_a_deep_hierarchy_is_refused_not_recursed(tmp_path, document):
    doc = copy.deepcopy(document)
    node = {"leaf": "small"}
    for i in range(300):
        node = {"split": f"s{i}", "feature": "hessian_t", "threshold": 1.0,
                "bounds": [0.0, 2.0], "left": node, "right": {"leaf": "large"}}
    doc["hierarchy"]["root"] = node
    assert_clean_error(*diagnose_with(compact(doc), tmp_path), message="splits deep")


def test_repeated_keys_are_refused_not_last_wins(tmp_path, document):
    content = compact(document)
    threshold = b'"threshold":' + repr(document["hierarchy"]["root"]["threshold"]).encode()
    # the same key twice: json would keep the last value, a different tree
    content = content.replace(threshold, threshold + b',"threshold":0.5', 1)
    assert_clean_error(*diagnose_with(content, tmp_path), message="repeats the key(s)")


def test_not_a_regular_file_or_missing(tmp_path):
    (tmp_path / "mine.csv").write_bytes(FEATURES)
    (tmp_path / "folder.json").mkdir()
    for path, message in ((tmp_path / "folder.json", "not a regular file"),
                          (tmp_path / "none.json", "does not exist")):
        output = tmp_path / "out" / "r.csv"
        status, out, err = run(["diagnose", str(tmp_path / "mine.csv"), "--tree", str(path),
                                "--output", str(output)])
        assert_clean_error(status, out, err, output, message=message)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.json")
        status, out, err = run(["diagnose", str(tmp_path / "mine.csv"), "--tree",
                                str(tmp_path / "fifo.json")])
        assert status == 2 and "not a regular file" in err


# -- fuzz ------------------------------------------------------------------------------------

FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.text(max_size=5)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0, 10**400]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6,
)


def _paths(value, prefix=()):
    """Every path to a value in a JSON document."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*prefix, i))


def _replace(doc, path, new):
    if not path:
        return new
    doc = copy.deepcopy(doc)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new
    return doc


@FUZZ
@given(content=st.binary(max_size=200))
def test_fuzz_random_bytes_as_tree_file(content):
    with tempfile.TemporaryDirectory() as folder:
        assert_clean_error(*diagnose_with(content, folder))


@FUZZ
@given(data=st.data(), junk=st.binary(min_size=1, max_size=12))
def test_fuzz_bytes_spliced_into_a_tree_file(document, data, junk):
    content = compact(document)
    at = data.draw(st.integers(0, len(content)))
    with tempfile.TemporaryDirectory() as folder:
        try:
            valid = json.loads(content[:at] + junk + content[at:])
        except ValueError:
            valid = None
        faithful = assert_faithful_or_error(content[:at] + junk + content[at:], folder)
        assert not faithful or valid is not None


@FUZZ
@given(data=st.data(), new=JSON)
def test_fuzz_any_field_replaced_by_any_json_value(document, data, new):
    paths = list(_paths(document))
    path = data.draw(st.sampled_from(paths))
    doc = _replace(document, path, new)
    with tempfile.TemporaryDirectory() as folder:
        content = (json.dumps(doc, sort_keys=True) + "\n").encode()
        assert_faithful_or_error(content, folder)


@pytest.mark.parametrize("kind", ["a NaN threshold", "a list of labels as leaf"])
def test_documents_given_as_dicts_are_checked_too(document, kind):
    from sklearn_mdtree.pretrained import tree_from_dict

    doc = copy.deepcopy(document)
    if kind == "a NaN threshold":  # a dict built in Python may hold what JSON cannot
        _root(doc)["threshold"] = float("nan")
        message = r"The document is not a valid .*hierarchy\.root\.threshold must be a finite"
    else:
        _root(doc)["left"] = {"leaf": ["small"]}
        message = r"hierarchy\.root\.left\.leaf must be a class label"
    for load in (tree_from_dict, PretrainedTree.from_dict, PretrainedTree):
        with pytest.raises(ValueError, match=message):
            load(copy.deepcopy(doc))
