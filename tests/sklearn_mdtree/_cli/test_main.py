"""Tests of the ``mdtree`` command line, called in-process through main([...])."""

import re

import numpy as np
import pandas as pd
import pytest

from sklearn_mdtree._cli import main

Q1_COLUMNS = ["train_error", "mode_connectivity_peak", "hessian_t"]


@pytest.fixture(scope="module")
def features_csv(tmp_path_factory, stacked_frame):
    noise = stacked_frame[stacked_frame["collection"] == "noise"]
    rows = noise.iloc[[0, 500, 1200]][Q1_COLUMNS].assign(model=["a", "b", "c"])
    path = tmp_path_factory.mktemp("cli") / "models.csv"
    rows.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("command", [[], ["reproduce"], ["diagnose"], ["presets"]])
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mdtree")


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == ("mdtree: error: the following arguments are required: "
                                       "COMMAND; see mdtree --help\n")


def test_reproduce_prints_table_b_beside_the_paper(tmp_path, capsys, model_diagnosis_dir):
    report = tmp_path / "out" / "table_b.md"
    assert main(["reproduce", "--no-progress", "--output", str(report)]) == 0
    out = capsys.readouterr().out
    assert "# Table B" in out
    rows = [line for line in out.splitlines() if re.match(r"\| [1-5] \|", line)]
    assert len(rows) == 5
    # case 1: Hyper+DT, paper, gap, Valid+DT, paper, gap, ..., MD tree (Brent), paper, gap
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[4:10] == ["49.564", "49.56", "+0.004", "73.538", "73.54", "-0.002"]
    assert cells[12:15] == ["87.705", "87.70", "+0.005"]
    assert "MD tree (exhaustive)" in out and "exh. - Brent" in out
    assert "Largest |gap|: MD tree (Brent) 0.005" in out
    assert report.read_text(encoding="utf-8") in out


def test_diagnose_text_report(features_csv, capsys, model_diagnosis_dir):
    assert main(["diagnose", str(features_csv), "--id-column", "model"]) == 0
    out = capsys.readouterr().out
    assert "Q1 tree: q1 on F, fitted on 1560 configurations." in out
    for model in "bc":
        # Q1 and Q2 are fitted on F by default: a batch-size change or "widen"
        assert re.search(rf"^Model {model}: ((increase|decrease) batch size|increase width)\.$",
                         out, re.M)
    # row a lies outside F's training range: no reliable diagnosis, with the reason
    assert re.search(r"^Model a: no reliable diagnosis\.$", out, re.M)
    assert "Why: No reliable diagnosis: the model is unlike those" in out
    assert "Own accuracy: out of fold (5 folds)" in out  # measured at fit time
    assert "regime" in out and "[t0]" in out
    assert "Joint check against the 1560 training configurations" in out  # domain checks


def test_diagnose_csv_with_q2(features_csv, tmp_path, capsys, model_diagnosis_dir):
    output = tmp_path / "recommendations.csv"
    argv = ["diagnose", str(features_csv), "--q2", "--scheme", "random_pairs", "--k", "8",
            "--q2-scheme", "random_data", "--q2-k", "1", "--format", "csv",
            "--id-column", "model", "--output", str(output)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    table = pd.read_csv(output, index_col="model")
    assert out == output.read_text(encoding="utf-8")
    assert list(table.index) == ["a", "b", "c"]
    assert {"action", "q1_label", "q1_regime", "q2_label", "out_of_domain"} <= set(
        table.columns
    )
    widen = (table["q2_label"] == "width") & (table["verdict_kind"] == "change")
    assert (table.loc[widen, "action"] == "increase width").all()
    abstain = table["verdict_kind"] == "no reliable diagnosis"
    assert (table.loc[abstain, "action"] == "no reliable diagnosis").all()
    assert table.loc[abstain, "abstain_reason"].str.startswith("No reliable diagnosis").all()
    assert np.isin(table["q1_regime"], [0, 1, 2, 3]).all()


@pytest.mark.parametrize(
    "content, message",
    [
        ("train_error,hessian_t\n1,2\n", r"missing the column\(s\) \['mode_connectivity_peak'\]"),
        ("train_error,hessian_t,mode_connectivity_peak\n1,x,3\n",
         r"Column 'hessian_t' .* must be numeric.*line\(s\) 2 holds 'x'"),
        ("train_error,hessian_t,mode_connectivity_peak\n1,2,3\n4,,6\n",
         r"Column 'hessian_t' .* missing values \(NaN\) in line\(s\) 3"),
        ("train_error,hessian_t,mode_connectivity_peak\n", "has a header but no rows"),
        ("train_error,hessian_t,mode_connectivity_peak\n1,2,3,4\n", "more fields"),
        # the same reader as read_model_diagnosis_csv: the same messages
        ("train_error,hessian_t,mode_connectivity_peak\n1,2,3\n1,2,3,4,5\n",
         r"Could not parse the CSV file '.*bad\.csv' as CSV: .*Expected 3 fields in line 3"),
        ("", r"The CSV file '.*bad\.csv' is empty \(0 bytes\); expected a header line"),
    ],
)
def test_diagnose_bad_csv(tmp_path, capsys, content, message, model_diagnosis_dir):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["diagnose", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mdtree diagnose: error:")
    assert re.search(message, err)
    assert "Traceback" not in err


def test_diagnose_missing_file_and_bad_k(tmp_path, features_csv, capsys, model_diagnosis_dir):
    assert main(["diagnose", str(tmp_path / "nope.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["diagnose", str(tmp_path)]) == 2  # a folder
    err = capsys.readouterr().err
    assert err.startswith("mdtree diagnose: error: The CSV file") and "is a folder" in err
    assert "Traceback" not in err
    assert main(["diagnose", str(features_csv), "--scheme", "random_pairs", "--k", "2.5"]) == 2
    assert "must be an int" in capsys.readouterr().err


def test_presets_list_and_structure(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("q1_sharpness", "q1_similarity", "q1_ood", "q2_width", "q2_data"):
        assert name in out
    assert main(["presets", "q1"]) == 0
    out = capsys.readouterr().out
    assert "fitting order: t0, t1, t2" in out
    assert "|--- train_error <= t0  [t0: init 0.5, bounds [0, 1]]" in out
    assert out.count("class:") == 4
    assert main(["presets", "q9"]) == 2
    assert "Unknown hierarchy preset 'q9'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["reproduce", "diagnose"])
def test_unwritable_output_fails_before_any_work(command, tmp_path, capsys, monkeypatch):
    from sklearn_mdtree._cli import _common

    def fail(*args):
        raise AssertionError("the collections were loaded before the output was checked")

    monkeypatch.setattr(_common, "load_collections", fail)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    features = [str(tmp_path / "models.csv")] if command == "diagnose" else []
    for output in (tmp_path, blocker / "report.md"):  # a folder; a path through a file
        assert main([command, *features, "--output", str(output)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith(f"mdtree {command}: error: argument --output: "
                                       "Could not write")


def test_failed_command_leaves_output_untouched(tmp_path, capsys, model_diagnosis_dir):
    bad = tmp_path / "bad.csv"
    bad.write_text("train_error\n1\n")
    new = tmp_path / "new" / "out.txt"
    assert main(["diagnose", str(bad), "--output", str(new)]) == 2
    assert not (tmp_path / "new").exists()  # neither the file nor the folder it needed
    old = tmp_path / "old.txt"
    old.write_text("previous report")
    assert main(["diagnose", str(bad), "--output", str(old)]) == 2
    assert old.read_text() == "previous report"
    assert "missing the column" in capsys.readouterr().err


@pytest.mark.parametrize(
    "options, message",
    [
        (["--no-q2", "--q2-k", "1"], "argument --q2-k: only allowed with --q2"),
        (["--no-q2", "--q2-scheme", "random_data"],
         "argument --q2-scheme: only allowed with --q2"),
        (["--k", "3"], "argument --k: not allowed with --scheme all"),
        (["--scheme", "all", "--k", "3", "--q2"], "argument --k: not allowed with --scheme all"),
        (["--q2", "--q2-k", "1"], "argument --q2-k: not allowed when the Q2 tree is fitted on all"),
        (["--scheme", "data_limit", "--q2", "--q2-scheme", "all", "--q2-k", "2"],
         "argument --q2-k: not allowed"),
        (["--seed", "7"], "argument --seed: only used by a random scheme"),
        (["--scheme", "data_limit", "--q2", "--seed", "7"], "argument --seed: only used"),
    ],
)
def test_diagnose_rejects_ignored_options(tmp_path, capsys, options, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["diagnose", str(tmp_path / "models.csv"), *options])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("mdtree diagnose: error: ") and err.count("\n") == 1, err
    assert message in err and err.endswith("; see mdtree diagnose --help\n")


def test_diagnose_k_for_the_q2_scheme_alone_is_accepted(tmp_path, capsys, monkeypatch):
    from sklearn_mdtree._cli import _common
    from sklearn_mdtree.diagnosis import _trees

    seen = []

    def record(frame, **options):
        seen.append(options["k"])
        raise _common.CommandError("stopped after parsing")

    monkeypatch.setattr(_common, "load_collections", lambda data_home: None)
    monkeypatch.setattr(_trees, "fit_on_collection", record)
    argv = ["diagnose", str(tmp_path / "m.csv"), "--q2", "--q2-scheme", "random_data", "--k", "3"]
    assert main(argv) == 2  # no usage error: --k is the k of the Q2 scheme
    assert main(["diagnose", str(tmp_path / "m.csv")]) == 2
    assert seen == [3, 8]  # the given k, then the default
    assert "stopped after parsing" in capsys.readouterr().err


def test_default_route_and_tree_carry_the_same_verdict_kinds(features_csv, tmp_path, capsys,
                                                             model_diagnosis_dir):
    frames = {}
    for name, extra in (("default", []), ("tree", ["--tree", "cifar10-resnet18"])):
        output = tmp_path / f"{name}.csv"
        assert main(["diagnose", str(features_csv), "--id-column", "model", "--format",
                     "csv", "--output", str(output), *extra]) == 0
        frames[name] = pd.read_csv(output, index_col="model")
        assert main(["diagnose", str(features_csv), "--id-column", "model", *extra]) == 0
        out = capsys.readouterr().out
        assert len(re.findall(r"^  Verdict: ", out, re.M)) == 3
        assert "Own accuracy: out of fold" in out
    for frame in frames.values():
        assert {"verdict_kind", "abstain_reason", "noise_confidence"} <= set(frame.columns)
        assert set(frame["verdict_kind"]) <= {"change", "training failed", "keep as is",
                                              "no reliable diagnosis"}
    # row a is outside F on both routes: both abstain
    assert frames["default"].loc["a", "verdict_kind"] == "no reliable diagnosis"
    assert frames["tree"].loc["a", "verdict_kind"] == "no reliable diagnosis"
