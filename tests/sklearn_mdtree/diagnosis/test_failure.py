"""Tests of sklearn_mdtree.diagnosis._failure: diverged and stalled groups."""

import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_mdtree import Hierarchy, Leaf, MDTreeClassifier, Split
from sklearn_mdtree.diagnosis._failure import check_training, training_failure


def _one_line(exc_info, *words):
    text = str(exc_info.value)
    assert "\n" not in text
    for w in words:
        assert w in text



# --------------------------------------------------------------------------------------
# 1. Training failure
# --------------------------------------------------------------------------------------

TUNED = {"train_error": 1.2, "train_loss": 0.05, "mode_connectivity_peak": -3.0,
         "hessian_t": 4.0, "CKA": 0.9}


def test_diverged_group_confidently_wrong():
    row = pd.Series({**TUNED, "train_error": 90.4, "train_loss": 9.7})
    failure = training_failure(row, n_classes=10)
    assert failure.kind == "diverged"
    text = " ".join(failure.evidence)
    assert "90.4%" in text and "9.7" in text and "90.0%" in text
    assert any("decrease the learning rate" in a for a in failure.advice)
    assert any("NaN" in a for a in failure.advice)
    assert any("clip" in a for a in failure.advice)
    # in the batch-size user's terms
    bs = training_failure(row, n_classes=10, optimizer="batch size")
    assert any("increase the batch size" in a for a in bs.advice)
    assert failure.to_text().startswith("Training diverged: ")


@pytest.mark.parametrize("column, value", [("train_loss", float("nan")),
                                           ("train_loss", float("inf")),
                                           ("train_error", float("nan")),
                                           ("hessian_t", float("inf"))])
def test_non_finite_is_diverged_without_the_chance_level(column, value):
    row = {**TUNED, column: value}
    failure = training_failure(row)  # no n_classes needed
    assert failure.kind == "diverged"
    assert column in failure.evidence[0]


def test_nan_hessian_alone_is_not_divergence():
    # the featurizer writes NaN for a non-positive trace (nonpositive="nan")
    assert training_failure({**TUNED, "hessian_t": float("nan")}, n_classes=10) is None


def test_stalled_group_weights_barely_moved():
    row = {**TUNED, "train_error": 89.3, "train_loss": 2.31, "weight_norm_ratio": 1.01}
    check = check_training(row, n_classes=10)
    assert check.failure.kind == "stalled"
    text = " ".join(check.failure.evidence)
    assert "89.3%" in text and "2.31" in text and "1.01" in text
    assert check.notes == ()
    advice = " ".join(check.failure.advice)
    assert "increase the learning rate" in advice and "schedule" in advice
    assert "initialisation" in advice and "shuffled" in advice


def test_stalled_by_displacement_and_without_weight_columns():
    row = {**TUNED, "train_error": 50.0, "train_loss": 0.70, "weight_displacement": 0.01}
    assert training_failure(row, n_classes=2).kind == "stalled"
    check = check_training({**TUNED, "train_error": 50.0, "train_loss": 0.70}, n_classes=2)
    assert check.failure.kind == "stalled"
    assert "weight movement not measured" in check.notes[0]


def test_uniform_loss_but_weights_moved_is_not_called_stalled():
    row = {**TUNED, "train_error": 89.0, "train_loss": 2.29, "weight_norm_ratio": 2.4}
    check = check_training(row, n_classes=10)
    assert check.failure is None
    assert "weights moved" in check.notes[0] and "2.4" in check.notes[0]


def test_tuned_group_is_not_failed():
    check = check_training(TUNED, n_classes=10)
    assert check.failure is None and check.notes == ()
    # a hot but learning model (the digits zoo's worst: 80% error, ten classes)
    assert training_failure({**TUNED, "train_error": 79.8, "train_loss": 2.17},
                            n_classes=10) is None


def test_standard_errors_keep_borderline_groups_from_failing():
    # 73% error: above 80% of the 90% chance level (72%), but not by 2 standard errors
    row = {**TUNED, "train_error": 73.0, "train_error_se": 1.0, "train_loss": 9.0}
    check = check_training(row, n_classes=10)
    assert check.failure is None and "not called failed" in check.notes[0]
    # the same with a tight standard error is diverged
    row["train_error_se"] = 0.1
    assert training_failure(row, n_classes=10).kind == "diverged"
    # a loss 2 SE from the diverged level: not diverged, not uniform -> a note
    row = {**TUNED, "train_error": 90.0, "train_loss": 3.6, "train_loss_se": 0.2}
    check = check_training(row, n_classes=10)
    assert check.failure is None and "not clear" in check.notes[0]
    # a weight ratio 15% from 1 moved: not a stall (the point estimate is compared)
    row = {**TUNED, "train_error": 90.0, "train_loss": 2.3, "weight_norm_ratio": 1.15,
           "weight_norm_ratio_se": 0.02}
    assert training_failure(row, n_classes=10) is None


def test_weights_that_blew_up_at_chance_are_diverged_whatever_the_loss():
    # a ReLU network after too-large steps: dead, constant output, loss near uniform
    row = {**TUNED, "train_error": 89.7, "train_loss": 2.40, "weight_norm_ratio": 1163.0,
           "weight_norm_ratio_se": 1064.0}
    check = check_training(row, n_classes=10, optimizer="learning rate")
    assert check.failure.kind == "diverged"
    assert "1.16e+03 times a fresh initialisation" in " ".join(check.failure.evidence)
    assert "decrease the learning rate" in " ".join(check.failure.advice)
    # the same weights on a network that learned: not failed (the trees are asked)
    assert training_failure({**row, "train_error": 21.6, "train_loss": 0.53},
                            n_classes=10) is None


def test_without_weight_columns_a_stall_needs_the_strict_chance_margin():
    # 80% error on ten classes with a loss near uniform: a hot but learning model
    check = check_training({**TUNED, "train_error": 79.8, "train_loss": 2.17}, n_classes=10)
    assert check.failure is None and "not called stalled" in check.notes[0]
    # with the weights measured as unmoved, it is a stall
    row = {**TUNED, "train_error": 79.8, "train_loss": 2.17, "weight_norm_ratio": 1.02}
    assert training_failure(row, n_classes=10).kind == "stalled"


def test_chance_level_from_column_and_from_chance_error():
    row = {**TUNED, "train_error": 90.0, "train_loss": 2.3, "n_classes": 10}
    assert training_failure(row).kind == "stalled"
    # imbalanced binary task: 30% chance error (70% majority); uniform-ish loss -ln(0.7)
    row = {**TUNED, "train_error": 29.0, "train_loss": 0.36}
    assert training_failure(row, chance_error=30.0).kind == "stalled"


@pytest.mark.parametrize("row, words", [
    ({"train_loss": 2.3}, "'train_error'"),
    ({"train_error": 90.0, "train_loss": 2.3}, "chance level is unknown"),
    ({"train_error": 90.0}, "'train_loss'"),
])
def test_missing_columns_degrade_to_none_with_a_note(row, words):
    n_classes = None if "unknown" in words else 10
    check = check_training(row, n_classes=n_classes)
    assert check.failure is None
    assert words in check.notes[0]


def test_training_failure_refusals_are_one_line():
    with pytest.raises(ValueError) as e:
        check_training(TUNED, n_classes=1)
    _one_line(e, "'n_classes'", "integer >= 2", "1")
    with pytest.raises(ValueError) as e:
        check_training(TUNED, chance_error=120)
    _one_line(e, "'chance_error'", "120")
    with pytest.raises(TypeError) as e:
        check_training([1, 2])
    _one_line(e, "'row'", "list")
    with pytest.raises(ValueError) as e:
        check_training(pd.DataFrame([TUNED, TUNED]))
    _one_line(e, "'row'", "2 rows")


def test_one_row_frame_and_text_values_are_read():
    assert training_failure(pd.DataFrame([{**TUNED, "train_error": 95.0,
                                           "train_loss": 20.0}]), n_classes=10).kind \
        == "diverged"
    assert check_training({**TUNED, "train_error": "n/a"}, n_classes=10).failure is None
