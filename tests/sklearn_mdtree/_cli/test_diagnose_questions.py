"""``mdtree diagnose``: the Q2 question (``--q2-preset q2_data``: data or optimizer?) on
F and on ``--fit-on``, and ``--search`` / ``--q1-preset`` with ``--fit-on``."""

import json

import pytest

from sklearn_mdtree._cli import _common, main

COLUMNS = ["train_error", "mode_connectivity_peak", "hessian_t", "CKA"]
LABELS = ["bs_failure", "width_vs_batch", "data_vs_batch"]


@pytest.fixture
def fast_cli(stacked_frame, monkeypatch):
    monkeypatch.setattr(_common, "load_collections", lambda data_home: stacked_frame)


@pytest.fixture
def tables(stacked_frame, tmp_path):
    normal = stacked_frame[stacked_frame["collection"] == "normal"]
    labelled = tmp_path / "labelled.csv"
    normal.sample(300, random_state=0)[COLUMNS + LABELS].to_csv(labelled, index=False)
    features = tmp_path / "features.csv"
    other = stacked_frame[stacked_frame["collection"] != "normal"]
    other.head(4)[COLUMNS].to_csv(features, index=False)
    return features, labelled


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_q2_data_on_f(fast_cli, tables, capsys):
    features, _ = tables
    assert main(["diagnose", str(features), "--q2-preset", "q2_data", "--format",
                 "json"]) == 0
    report = _json(capsys)
    assert report["trees"]["q2"]["task"] == "data_vs_batch"
    assert report["trees"]["q2"]["name"] == "q2_data on F"
    assert {g["q2"]["label"] for g in report["groups"]} <= {"data", "batch"}
    assert main(["diagnose", str(features), "--format", "json"]) == 0
    assert _json(capsys)["trees"]["q2"]["task"] == "width_vs_batch"  # the default


def test_q2_data_and_search_with_fit_on(tables, tmp_path, capsys):
    features, labelled = tables
    saved = tmp_path / "q2_data.json"
    assert main(["diagnose", str(features), "--fit-on", str(labelled), "--q2-preset",
                 "q2_data", "--search", "exhaustive", "--save-q2-tree", str(saved),
                 "--format", "json"]) == 0
    report = _json(capsys)
    assert report["trees"]["q2"]["task"] == "data_vs_batch"
    assert "exhaustive" in report["trees"]["q1"]["description"]
    assert json.loads(saved.read_text())["provenance"]["label"] == "data_vs_batch"
    # the saved Q2 tree serves as --q2-tree, the data question kept
    assert main(["diagnose", str(features), "--tree", "cifar10-resnet18-q1", "--q2-tree",
                 str(saved),
                 "--format", "json"]) == 0
    assert _json(capsys)["trees"]["q2"]["task"] == "data_vs_batch"
    assert main(["diagnose", str(features), "--fit-on", str(labelled), "--q1-preset",
                 "q1_similarity", "--no-q2", "--format", "json"]) == 0
    report = _json(capsys)
    assert report["trees"]["q2"] is None
    assert "CKA" in {d["feature"] for g in report["groups"] for d in g["q1"]["decisions"]}


def test_a_missing_label_column_is_one_line(tables, tmp_path, capsys):
    features, labelled = tables
    import pandas as pd

    table = pd.read_csv(labelled).drop(columns="data_vs_batch")
    path = tmp_path / "no_data_labels.csv"
    table.to_csv(path, index=False)
    assert main(["diagnose", str(features), "--fit-on", str(path), "--q2-preset",
                 "q2_data"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'data_vs_batch'" in err and "\n" not in err


@pytest.mark.parametrize("argv, message", [
    (["--tree", "cifar10-resnet18", "--search", "exhaustive"], "not allowed with --tree"),
    (["--tree", "cifar10-resnet18", "--q2-preset", "q2_data"], "not allowed with --tree"),
    (["--fit-on", "x.csv", "--k", "3"], "draws from F, so not allowed with --fit-on"),
    (["--fit-on", "x.csv", "--q2-scheme", "random_pairs"], "not allowed with --fit-on"),
    (["--no-q2", "--q2-preset", "q2_data"], "only allowed with --q2"),
])
def test_options_that_would_be_ignored_are_refused(tables, argv, message, capsys):
    features, _ = tables
    with pytest.raises(SystemExit) as exc:
        main(["diagnose", str(features), *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
