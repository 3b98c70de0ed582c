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
    assert "COMMAND" in capsys.readouterr().err


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
    assert "Q1 tree (q1) fitted on 1560 models of F (all):" in out
    for model in "abc":
        assert re.search(rf"^model {model}: (increase|decrease) batch size$", out, re.M)
    assert "regime" in out and "[t0]" in out


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
    assert {"action", "q1_label", "q1_regime", "q1_path", "q2_label", "q2_path"} <= set(
        table.columns
    )
    widen = table["q2_label"] == "width"
    assert (table.loc[widen, "action"] == "increase width").all()
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
    ],
)
def test_diagnose_bad_csv(tmp_path, capsys, content, message, model_diagnosis_dir):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["diagnose", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mdtree diagnose: error:")
    assert re.search(message, err)
    assert "Traceback" not in err


def test_diagnose_missing_file_and_bad_k(tmp_path, features_csv, capsys, model_diagnosis_dir):
    assert main(["diagnose", str(tmp_path / "nope.csv")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["diagnose", str(features_csv), "--scheme", "random_pairs", "--k", "2.5"]) == 1
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
    assert main(["presets", "q9"]) == 1
    assert "Unknown hierarchy preset 'q9'" in capsys.readouterr().err
