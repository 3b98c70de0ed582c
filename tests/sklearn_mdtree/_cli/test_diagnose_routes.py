"""``mdtree diagnose``: every route gives the same report, and no output replaces an input."""

import json
import os
import re

import pandas as pd
import pytest

from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree._cli import _common, main
from sklearn_mdtree.pretrained import PretrainedTree
from sklearn_mdtree.pretrained._io import dumps

COLUMNS = ["train_error", "mode_connectivity_peak", "hessian_t"]
#: One model like those of F, one far from every training model (a digits MLP trained
#: with a learning rate 50 times too small looks like this to a CIFAR-10 tree).
ROWS = pd.DataFrame({"model": ["like-F", "far"], "train_error": [2.0, 95.0],
                     "mode_connectivity_peak": [-30.0, -900.0], "hessian_t": [5.0, 25.0]})


@pytest.fixture
def fast_cli(stacked_frame, monkeypatch):
    monkeypatch.setattr(_common, "load_collections", lambda data_home: stacked_frame)


@pytest.fixture
def features(tmp_path):
    path = tmp_path / "features.csv"
    ROWS.to_csv(path, index=False)
    return path


def _layout(text):
    """The kinds of lines of a text report, numbers and names left out."""
    kinds = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        indent = len(line) - len(line.lstrip())
        kind = (indent, re.sub(r"[^A-Za-z]", "", words[0]))
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def test_default_route_and_tree_give_the_same_layout_and_domain_checks(
        fast_cli, features, capsys):
    assert main(["diagnose", str(features), "--id-column", "model"]) == 0
    default = capsys.readouterr()
    assert main(["diagnose", str(features), "--id-column", "model",
                 "--tree", "cifar10-resnet18-q1"]) == 0
    shipped = capsys.readouterr()
    assert _layout(default.out) == _layout(shipped.out)
    for captured in (default, shipped):
        assert "Model like-F:" in captured.out and "Model far:" in captured.out
        assert "Joint check against the" in captured.out
        assert "OUT OF DOMAIN" in captured.out  # the far model is flagged on both routes
        assert "outside the training domain" in captured.err
    # the JSON of both routes: the same schema, the far model out of domain
    for extra in ([], ["--tree", "cifar10-resnet18-q1"]):
        assert main(["diagnose", str(features), "--id-column", "model", "--format", "json",
                     *extra]) == 0
        report = json.loads(capsys.readouterr().out)
        far = {g["model"]: g for g in report["groups"]}["far"]
        assert far["out_of_domain"] and far["joint_domain"]


def test_default_route_names_the_trees_it_fitted(fast_cli, features, capsys):
    assert main(["diagnose", str(features), "--q2", "--scheme", "random_pairs",
                 "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^Q1 tree: q1 on F, fitted on \d+ configurations\. The q1 hierarchy, "
                     r"brent threshold search, .*\(random_pairs, k=8, seed=3\)\.$", out, re.M)
    assert "Q2 tree: q2 on F" in out


def test_output_onto_a_hard_link_of_an_input_is_refused(fast_cli, features, tmp_path, capsys):
    before = features.read_bytes()
    link = tmp_path / "out.csv"
    os.link(features, link)
    assert main(["diagnose", str(features), "--output", str(link)]) == 2
    err = capsys.readouterr().err
    assert "is one of the inputs" in err and len(err.splitlines()) == 1
    assert features.read_bytes() == before


def test_html_onto_the_tree_file_is_refused(features, tmp_path, stacked_frame, capsys):
    train = stacked_frame[(stacked_frame.collection == "normal")
                          & (stacked_frame.bs_failure != "optimal")]
    tree = MDTreeClassifier("q1").fit(train, train["bs_failure"])
    path = tmp_path / "tree.json"
    path.write_text(dumps(PretrainedTree.from_estimator(tree, train, name="mine").to_dict()))
    before = path.read_bytes()
    link = tmp_path / "page.html"
    os.link(path, link)
    for html in (path, link):
        assert main(["diagnose", str(features), "--tree", str(path), "--html", str(html)]) == 2
        assert "is one of the inputs" in capsys.readouterr().err
        assert path.read_bytes() == before


def test_output_is_replaced_in_one_step(fast_cli, features, tmp_path, capsys, monkeypatch):
    output = tmp_path / "report.txt"
    output.write_text("previous report")
    other_name = tmp_path / "kept.txt"
    os.link(output, other_name)  # a hard link of the old output keeps the old content
    assert main(["diagnose", str(features), "--tree", "cifar10-resnet18",
                 "--output", str(output)]) == 0
    assert output.read_text() == capsys.readouterr().out
    assert other_name.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    # an error after the work (the HTML page fails): no output written, none changed
    from sklearn_mdtree.diagnosis import DiagnosisReport

    def no_matplotlib(self, path=None):
        raise ImportError("no matplotlib here")

    monkeypatch.setattr(DiagnosisReport, "to_html", no_matplotlib)
    before = output.read_text()
    page = tmp_path / "new" / "page.html"
    assert main(["diagnose", str(features), "--tree", "cifar10-resnet18",
                 "--output", str(output), "--html", str(page)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "--html needs matplotlib" in captured.err
    assert output.read_text() == before and not page.parent.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_the_deprecated_out_option_still_writes_with_a_note(fast_cli, features, tmp_path,
                                                            capsys):
    output = tmp_path / "report.csv"
    assert main(["diagnose", str(features), "--tree", "cifar10-resnet18", "--format", "csv",
                 "--out", str(output)]) == 0
    captured = capsys.readouterr()
    assert output.read_text() == captured.out
    assert "--out is deprecated" in captured.err


def test_tree_files_named_with_the_second_separator(features, tmp_path, monkeypatch, capsys):
    # "sub\\q1" names a file where os.altsep is a backslash (Windows has "/" there):
    # diagnose and featurize read it as a file, not as a shipped name
    from sklearn_mdtree._cli.featurize import recipe_defaults
    from sklearn_mdtree.pretrained import load_tree

    monkeypatch.chdir(tmp_path)
    tree = load_tree("cifar10-resnet18-q1")
    (tmp_path / "sub\\q1").write_text(dumps(tree.to_dict()))
    argv = ["diagnose", str(features), "--id-column", "model", "--format", "json"]
    monkeypatch.setattr(os, "altsep", None)
    assert main([*argv, "--tree", "sub\\q1"]) == 2
    assert "Unknown pretrained tree 'sub\\\\q1'" in capsys.readouterr().err
    monkeypatch.setattr(os, "altsep", "\\")
    assert main([*argv, "--tree", "sub\\q1"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert main([*argv, "--tree", "cifar10-resnet18-q1"]) == 0
    assert from_file == json.loads(capsys.readouterr().out)
    assert recipe_defaults("sub\\q1") == recipe_defaults("cifar10-resnet18-q1")
