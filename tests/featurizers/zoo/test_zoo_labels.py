"""Tests of featurizers.zoo._labels: one-step labels along each optimizer knob."""

import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

import torch  # noqa: E402

from featurizers.zoo import KNOB_LABELS, knob_labels, seed_test_errors  # noqa: E402


def _line(knob, values, errors):
    """A table of configurations that differ only along ``knob``."""
    base = {"noise": 0.0, "lr": 0.1, "data_amount": 100, "width": 4, "bs": 16}
    rows = [{**base, knob: v} for v in values]
    return pd.DataFrame(rows), np.asarray(errors, dtype=float)


def test_batch_size_labels_exact():
    # bs 8 -> 16 drops the mean error by 10 with SE sqrt(1/3 + 1/3): raise the batch size
    table, errors = _line("bs", [8, 16, 32], [[30, 31, 29], [20, 21, 19], [20, 22, 18]])
    labels = knob_labels(table, errors, "bs")
    assert labels["bs_failure"].tolist() == ["large", "optimal", "optimal"]
    assert labels["bs_failure_gain"].iloc[0] == pytest.approx(10.0)
    assert labels["bs_failure_gain_se"].iloc[0] == pytest.approx(math.sqrt(2 / 3))
    # bs 16: going up gains 0, going down loses 10: the better move is up, gain 0
    assert labels["bs_failure_gain"].iloc[1] == pytest.approx(0.0)
    # bs 32: the one neighbour (16) gains 0 with SE sqrt(1/3 + 4/3)
    assert labels["bs_failure_gain_se"].iloc[2] == pytest.approx(math.sqrt(5 / 3))


def test_learning_rate_labels_are_in_temperature_terms():
    # a higher learning rate (hotter) helps the lowest one: too cold = "small";
    # a lower one helps the highest: too hot = "large"
    table, errors = _line("lr", [0.01, 0.02, 0.04],
                          [[30, 31, 29], [20, 21, 19], [40, 41, 39]])
    labels = knob_labels(table, errors, "lr")
    assert labels["lr_failure"].tolist() == ["small", "optimal", "large"]
    assert KNOB_LABELS["lr"][1] == {"knob_up": "small", "knob_down": "large"}


def test_gain_within_the_seeds_noise_is_optimal():
    # a drop of 1 point with seeds spread by 5 points: not a label
    table, errors = _line("bs", [8, 16], [[25, 30, 35], [24, 29, 34]])
    labels = knob_labels(table, errors, "bs")
    assert labels["bs_failure"].tolist() == ["optimal", "optimal"]
    assert labels["bs_failure_gain"].iloc[0] == pytest.approx(1.0)
    assert labels["bs_failure_gain"].iloc[0] < 2 * labels["bs_failure_gain_se"].iloc[0]
    # the same drop with quiet seeds is a label
    table, errors = _line("bs", [8, 16], [[30, 30.1, 29.9], [29, 29.1, 28.9]])
    assert knob_labels(table, errors, "bs")["bs_failure"].iloc[0] == "large"


def test_labels_stay_within_their_line_and_follow_row_order():
    # two lines (two widths); the better neighbour of the other line must not count
    a, ea = _line("bs", [8, 16], [[30, 31, 29], [20, 21, 19]])
    b, eb = _line("bs", [8, 16], [[10, 11, 9], [20, 21, 19]])
    b["width"] = 8
    table = pd.concat([a, b], ignore_index=True)
    errors = np.vstack([ea, eb])
    labels = knob_labels(table, errors, "bs")
    assert labels["bs_failure"].tolist() == ["large", "optimal", "optimal", "small"]
    order = [3, 1, 0, 2]
    shuffled = knob_labels(table.iloc[order], errors[order], "bs")
    assert shuffled["bs_failure"].tolist() == [labels["bs_failure"].iloc[i] for i in order]
    assert list(shuffled.index) == order


def test_one_value_along_the_knob_has_no_label():
    table, errors = _line("lr", [0.1], [[30, 31, 29]])
    labels = knob_labels(table, errors, "lr")
    assert labels["lr_failure"].tolist() == ["optimal"]
    assert math.isnan(labels["lr_failure_gain"].iloc[0])


def test_bad_arguments():
    table, errors = _line("bs", [8, 16], [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="'knob' parameter must be one of"):
        knob_labels(table, errors, "width")
    with pytest.raises(ValueError, match=r"'errors' parameter must have shape \(n_rows"):
        knob_labels(table, errors[:1], "bs")


def test_seed_test_errors_counts_wrong_answers():
    X = torch.eye(4)
    y = torch.tensor([0, 1, 1, 1])
    right = torch.nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        right.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1, 1, 1]]))
    wrong = torch.nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        wrong.weight.copy_(torch.tensor([[0.0, 1, 1, 1], [1, 0, 0, 0]]))
    wrong.train()
    assert seed_test_errors([right, wrong], X, y).tolist() == [0.0, 100.0]
    assert wrong.training  # the mode is restored
