"""The calibration route of sklearn_mdtree.diagnose (diagnosis/_calibrated.py): a
calibrated diagnoser's verdicts in the same DiagnosisReport, and ``mdtree diagnose
--tree calibrated.json`` on a constructed calibration file."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import sklearn_mdtree
from sklearn_mdtree._cli import main
from sklearn_mdtree._domain import OutOfDomainWarning
from sklearn_mdtree.calibration import ACTIONS, CalibratedDiagnoser, load_calibrated
from sklearn_mdtree.diagnosis import DiagnosisReport
from sklearn_mdtree.diagnosis._kinds import VERDICT_KINDS
from sklearn_mdtree.diagnosis._recipe import FeatureRecipe, RecipeWarning

FEATURES = ["train_error", "mode_connectivity_peak", "hessian_t", "CKA", "weight_norm_ratio"]
RECIPE = FeatureRecipe(curve_epochs=50, n_pairs="all", trace_method="deflated")


def _lattice(n_per=4, seed=0):
    """Two well-separated clusters per action, n_per configurations each."""
    rng = np.random.default_rng(seed)
    rows = []
    for j, action in enumerate(ACTIONS):
        for c in range(2):
            center = np.array([10.0 * j, -5.0 * j - 20 * c, 4 + j + 3 * c,
                               0.1 * j + 0.05 * c, np.exp(0.5 * j - c)])
            for r in range(n_per):
                x = center + rng.normal(0, 0.3, 5) * np.array([1, 1, 0.1, 0.005, 0.02])
                rows.append({**dict(zip(FEATURES, x)), "train_loss": 0.1, "n_classes": 10,
                             "data_fraction": 0.5 if action == "more data" else 1.0,
                             "action": action, "group": f"{action}/{c}/{r % 2}"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def calibration():
    lattice = _lattice()
    return CalibratedDiagnoser(n_classes=10).fit(
        lattice, lattice["action"], groups=lattice["group"], recipe=RECIPE,
        metadata={"family": "toy", "shape": [5, 2, 1]})


@pytest.fixture
def calibration_file(calibration, tmp_path):
    return calibration.to_json(tmp_path / "calibrated.json")


def _groups():
    """One group per action (from fresh draws of the clusters), one far from the lattice,
    one whose training stalled."""
    fresh = _lattice(n_per=1, seed=1).groupby("action", sort=False).first()
    X = fresh.drop(columns=["group"])
    X.index = [f"is-{a.replace(' ', '-')}" for a in X.index]
    far = X.iloc[[0]].rename(index=lambda _: "far").assign(train_error=1e4)
    stalled = X.iloc[[0]].rename(index=lambda _: "stalled").assign(
        train_error=90.0, train_loss=float(np.log(10)), weight_norm_ratio=1.0)
    out = pd.concat([X, far, stalled])
    out.index.name = "group"
    return out


def test_every_verdict_kind_of_a_calibration(calibration):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        report = sklearn_mdtree.diagnose(_groups(), tree=calibration,
                                         optimizer="batch size")
    assert isinstance(report, DiagnosisReport)
    by = {g.model: g for g in report}
    assert {g.verdict_kind for g in report} <= set(VERDICT_KINDS)
    assert by["is-raise-temperature"].action == "decrease batch size"
    assert by["is-lower-temperature"].action == "increase batch size"
    assert by["is-widen"].action == "increase width"
    assert by["is-more-data"].action == "increase data amount"
    assert by["is-none"].verdict_kind == "keep as is"
    for name in ("is-raise-temperature", "is-widen", "is-none"):
        assert 0.5 < by[name].confidence < 1
        assert by[name].q1 is None and by[name].kind_evidence
    assert by["is-widen"].verdict_kind == "change"
    far = by["far"]
    assert far.verdict_kind == "no reliable diagnosis" and far.confidence is None
    assert "out of the lattice's domain" in far.abstain_reason
    assert far.out_of_domain and far.out_of_domain_checks == ("joint",)
    stalled = by["stalled"]
    assert stalled.verdict_kind == "training failed"
    assert stalled.training_failure["kind"] == "stalled"
    assert stalled.action == "training failed: stalled (no single change recommended)"
    assert (stalled.hyperparameter, stalled.direction) == ("", "")


def test_the_report_states_the_calibrations_measured_accuracy(calibration):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = sklearn_mdtree.diagnose(_groups(), tree=calibration)
    assert report.optimizer == "learning rate"  # the calibration's knob by default
    summary = report.trees["calibration"]
    assert report.trees["q1"] is None and report.trees["q2"] is None
    chosen = calibration.scores_[calibration.kind_]
    assert summary["model"] == calibration.kind_
    assert summary["cv_accuracy"]["accuracy"] == chosen.accuracy
    assert summary["cv_accuracy"]["interval"] == list(chosen.interval)
    assert summary["constant_accuracy"]["accuracy"] == calibration.scores_["constant"].accuracy
    assert summary["n_training_configurations"] == len(calibration.lattice_)
    assert summary["lattice_shape"] == [5, 2, 1]
    # the abstention chosen on the lattice, with its lattice figures, in words
    chosen_rule = calibration.abstention_
    assert summary["abstention"] == chosen_rule.to_dict()
    assert chosen_rule.threshold is not None
    assert (f"right {100 * chosen_rule.accuracy:.0f}% of the time, "
            f"{100 * chosen_rule.coverage:.0f}% answered") in summary["text"]
    text = report.to_text()
    assert "Calibration:" in text and "Measured accuracy:" in text
    assert "constant answer" in text and "Q1 tree:" not in text
    # the same renderers: a dict that is JSON, a table, an HTML page
    document = json.loads(json.dumps(report.to_dict()))
    assert document["groups"][0]["q1"] is None
    assert "calibrated model" in document["confidence_rule"]
    frame = report.to_frame()
    assert list(frame.index[:2]) == ["is-raise-temperature", "is-lower-temperature"]
    assert frame.loc["far", "verdict_kind"] == "no reliable diagnosis"
    pytest.importorskip("matplotlib")
    page = report.to_html()
    assert "Measured accuracy" in page and "Model far" in page


def test_a_calibration_file_is_told_from_a_tree_and_loaded(calibration, calibration_file):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_file = sklearn_mdtree.diagnose(_groups(), tree=calibration_file)
        from_path = sklearn_mdtree.diagnose(_groups(), tree=str(calibration_file))
        from_object = sklearn_mdtree.diagnose(_groups(), tree=load_calibrated(calibration_file))
    assert from_file == from_path == from_object
    assert from_file.trees["calibration"]["name"] == "calibrated.json"
    with pytest.raises(ValueError, match="'q2_tree' parameter"):
        sklearn_mdtree.diagnose(_groups(), tree=calibration, q2_tree="cifar10-resnet18-q2")


def test_features_computed_otherwise_warn_naming_the_setting(calibration):
    X = _groups().iloc[:2].copy()
    X["feature_recipe"] = json.dumps({**RECIPE.to_dict(), "curve_epochs": 15})
    with pytest.warns(RecipeWarning, match="curve_epochs"):
        report = sklearn_mdtree.diagnose(X, tree=calibration)
    assert any("curve_epochs" in w and "recompute with curve_epochs=50" in w
               for w in report[0].warnings)
    X["feature_recipe"] = json.dumps(RECIPE.to_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecipeWarning)
        sklearn_mdtree.diagnose(X, tree=calibration)
    # without a recipe: a note, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecipeWarning)
        report = sklearn_mdtree.diagnose(X.drop(columns="feature_recipe"), tree=calibration)
    assert any("recipe is unknown" in n for n in report[0].notes)


# -- the command line ------------------------------------------------------------------


@pytest.fixture
def features_csv(tmp_path):
    path = tmp_path / "features.csv"
    _groups().to_csv(path)
    return path


def test_mdtree_diagnose_with_a_calibration_file(calibration_file, features_csv, capsys):
    assert main(["diagnose", str(features_csv), "--tree", str(calibration_file)]) == 0
    out, err = capsys.readouterr()
    assert "Calibration: calibrated.json" in out and "Measured accuracy:" in out
    assert "Model is-widen: increase width." in out
    assert "Model stalled: training failed: stalled (no single change recommended)." in out
    assert "Model far: no reliable diagnosis." in out
    assert "outside the domain of the calibration lattice" in err
    assert main(["diagnose", str(features_csv), "--tree", str(calibration_file),
                 "--format", "json", "--optimizer", "batch size"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["trees"]["calibration"]["model"]
    assert {g["model"]: g["action"] for g in document["groups"]}["is-raise-temperature"] \
        == "decrease batch size"
    assert main(["diagnose", str(features_csv), "--tree", str(calibration_file),
                 "--format", "csv"]) == 0
    frame = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out), index_col=0)
    assert frame.loc["is-none", "verdict_kind"] == "keep as is"


def test_mdtree_diagnose_warns_on_another_recipe(calibration_file, tmp_path, capsys):
    X = _groups().iloc[:2].copy()
    X["feature_recipe"] = json.dumps({**RECIPE.to_dict(), "n_pairs": 1})
    path = tmp_path / "other.csv"
    X.to_csv(path)
    assert main(["diagnose", str(path), "--tree", str(calibration_file)]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "n_pairs" in err


def test_mdtree_diagnose_calibration_errors_are_one_line(calibration_file, tmp_path, capsys):
    broken = tmp_path / "broken.json"
    document = json.loads(calibration_file.read_text())
    document["kind"] = "forest"
    broken.write_text(json.dumps(document))
    features = tmp_path / "f.csv"
    _groups().to_csv(features)
    assert main(["diagnose", str(features), "--tree", str(broken)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mdtree diagnose: error: argument --tree:") and "\n" not in err
    assert main(["diagnose", str(features), "--tree", str(calibration_file),
                 "--q2-tree", "cifar10-resnet18-q2"]) == 2
    assert "--q2-tree" in capsys.readouterr().err
    missing = tmp_path / "missing.csv"
    _groups().drop(columns="CKA").to_csv(missing)
    assert main(["diagnose", str(missing), "--tree", str(calibration_file)]) == 2
    assert "CKA" in capsys.readouterr().err
    # groups as checkpoint files lack the calibration's columns: refused before any work
    # (they would all come out "no reliable diagnosis")
    for name in ("seed0.pt", "seed1.pt", "train.npz"):
        (tmp_path / name).write_bytes(b"not read")
    assert main(["diagnose", "--model", "mypkg.models:net", "--checkpoints",
                 str(tmp_path / "seed0.pt"), str(tmp_path / "seed1.pt"), "--train-data",
                 str(tmp_path / "train.npz"), "--tree", str(calibration_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert "checkpoint files do not have" in err and "\n" not in err


def test_a_tree_file_path_is_read_as_a_tree(tmp_path):
    from sklearn_mdtree.pretrained import load_tree

    path = tmp_path / "q1.json"
    path.write_text(__import__("sklearn_mdtree.pretrained._io", fromlist=["dumps"]).dumps(
        load_tree("cifar10-resnet18-q1").to_dict()))
    X = pd.DataFrame({"train_error": [2.0], "mode_connectivity_peak": [-30.0],
                      "hessian_t": [5.0]}, index=["run-a"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_path = sklearn_mdtree.diagnose(X, tree=path)
        by_str = sklearn_mdtree.diagnose(X, tree=str(path))
        by_name = sklearn_mdtree.diagnose(X, tree="cifar10-resnet18-q1")
    assert by_path == by_str
    assert by_path[0].action == by_name[0].action
