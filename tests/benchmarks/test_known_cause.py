"""Tests of benchmarks/known_cause.py: its pure functions and a smoke run on a tiny grid."""

import numpy as np
import pandas as pd
import pytest
from _helpers import import_benchmark

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def known_cause():
    return import_benchmark("known_cause")


def test_wilson_interval(known_cause):
    low, high = known_cause.wilson(6, 8)
    assert (round(low, 3), round(high, 3)) == (0.409, 0.929)
    assert known_cause.wilson(0, 10)[0] == 0.0 and known_cause.wilson(10, 10)[1] == 1.0
    assert all(np.isnan(known_cause.wilson(0, 0)))


def _table():
    return pd.DataFrame({
        "family": ["a", "a", "a", "b"],
        "knob": ["learning rate", "learning rate", "batch size", "batch size"],
        "action": ["raise temperature", "none", "widen", "lower temperature"],
        "repro_action": ["raise temperature", "widen", "widen", "none"],
        "gain_knob_up": [5.0, 0.0, 1.0, 3.0],
        "gain_knob_down": [-1.0, 0.0, 2.0, -2.0],
    }, index=["g0", "g1", "g2", "g3"])


def test_score_counts_flags_and_abstentions(known_cause):
    table = _table()
    verdicts = pd.DataFrame({
        "action": ["raise temperature", "widen", "abstain", "raise temperature"],
        "flagged": [False, False, True, True],
    }, index=table.index)
    s = known_cause.score(table, verdicts)
    assert s["coverage"] == 0.5 and (s["right"], s["given"]) == (1, 2)
    assert s["accuracy"] == 0.5
    assert s["wrong_unflagged"] == 0.25  # g1: wrong and unflagged; g3 wrong but flagged
    assert s["reproducibility"] == 0.5


def test_q_labels_from_gains(known_cause):
    labels = known_cause.q_labels(_table())
    # lr up raises the temperature; batch size down raises it
    assert labels["bs_failure"].tolist() == ["small", "optimal", "small", "large"]
    assert labels["width_vs_batch"].tolist() == ["batch", "optimal", "width", "batch"]


def test_constant_and_tree_baselines_leave_one_group_out(known_cause):
    table = _table().assign(train_error=[1.0, 2.0, 3.0, 4.0])
    constant = known_cause.by_family(known_cause._constant)(table)
    assert list(constant.columns) == ["action", "flagged"]
    assert constant.loc["g0", "action"] in {"none", "widen"}  # g0's own label is left out
    tree = known_cause.by_family(known_cause._tree(["train_error"]))(table.iloc[:3])
    assert not tree["flagged"].any() and len(tree) == 3


def test_report_actions_mapping(known_cause):
    import sklearn_mdtree

    X = pd.DataFrame({"train_error": [2.0], "mode_connectivity_peak": [-30.0],
                      "hessian_t": [5.0]}, index=["run"])
    report = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1", warn=False)
    # the docstring example: "increase batch size" lowers the temperature
    assert known_cause.report_actions(report) == [("lower temperature", False, None)]
    # verdict kinds: a stalled group (chance error, uniform loss, unmoved weights), and
    # one far from the tree's training configurations (no reliable diagnosis)
    X = pd.DataFrame({"train_error": [89.0, 2.0], "train_loss": [2.30, 0.01],
                      "mode_connectivity_peak": [-30.0, -500.0], "hessian_t": [5.0, 5.0],
                      "weight_norm_ratio": [1.01, 3.0], "n_classes": [10, 10]},
                     index=["stalled", "far"])
    report = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1", warn=False)
    assert known_cause.report_actions(report) == [("abstain", True, "stalled"),
                                                  ("abstain", True, None)]


def test_a_training_failed_verdict_is_scored_by_its_advice_or_the_records(known_cause):
    table = pd.DataFrame({"action": ["lower temperature", "none", "none", "widen"],
                          "repro_action": ["lower temperature", "none", "none", "widen"],
                          "n_diverged": [6, 6, 0, 0], "n_stalled": [0, 0, 0, 0]})
    verdicts = pd.DataFrame({"action": ["lower temperature"] * 4, "flagged": False,
                             "failure": ["diverged"] * 4})
    result = known_cause.score(table, verdicts)
    # right: the advice is the label; the label is "none" and the seeds diverged.
    # wrong: "none" without recorded divergence; a label of another move
    assert (result["right"], result["given"]) == (2, 4)


def test_shipped_route_says_when_a_family_is_not_shipped(known_cause):
    assert known_cause.shipped_route("cifar10-resnet18").unavailable() is None
    reason = known_cause.shipped_route("digits-mlp").unavailable()
    assert reason.startswith("The pretrained tree 'digits-mlp' is not shipped")


def test_smoke_run_on_a_tiny_grid(known_cause, tmp_path):
    status = known_cause.main(["--smoke", "--families", "digits-relu-mlp", "--out",
                               str(tmp_path), "--curve-epochs", "1"])
    assert status == 0
    table = pd.read_csv(tmp_path / "known_cause_smoke.csv", index_col="group")
    assert len(table) == 5
    assert {"action", "repro_action", "gain_width_up", "gain_se_width_up", "n_diverged",
            "n_stalled", "weight_norm_ratio", "weight_norm_ratio_se", "test_error",
            "data_fraction", "chance_error", "hessian_t_se"} <= set(table.columns)
    trainings = pd.read_csv(tmp_path / "known_cause_smoke_trainings.csv")
    assert {"base", "move", "seed_set", "seed", "test_error", "diverged", "stalled",
            "displacement"} <= set(trainings.columns)
    assert set(trainings["seed_set"]) == {"label", "repro"}
    assert set(trainings["base"]) == set(table.index)
    text = (tmp_path / "known_cause_smoke.md").read_text()
    assert "| fit on F (default) |" in text and "reproducibility" in text
    # no digits tree is shipped since the reference zoo: that route is skipped, saying why
    assert "- shipped digits-mlp: The pretrained tree 'digits-mlp' is not shipped" in text
    assert "| shipped digits-mlp |" not in text and "| shipped cifar10-resnet18 |" in text
    # a second run reads the cache
    assert known_cause.main(["--smoke", "--families", "digits-relu-mlp", "--out",
                             str(tmp_path), "--curve-epochs", "1", "--stage", "generate"]) == 0


def test_generator_refuses_a_grid_without_every_failure_source(known_cause, monkeypatch,
                                                              tmp_path):
    from benchmarks import _known_cause_families as families

    family, bases = families.smoke_bases("digits-relu-mlp")
    without = [(c, s) for c, s in bases if s != "well tuned"]
    monkeypatch.setattr(families, "smoke_bases", lambda name: (family, without))
    with pytest.raises(ValueError) as info:
        known_cause.generate(["digits-relu-mlp"], cache_dir=tmp_path, smoke=True)
    assert str(info.value) == ("The 'bases of digits-relu-mlp' parameter must hold at least 1 "
                               "configuration with failure source 'well tuned'; got 0.")
    assert not (tmp_path / "models").exists()  # refused before any training
