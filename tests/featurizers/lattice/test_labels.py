"""Tests of the one-step label by measurement on constructed gains."""

import math

import pytest

pytest.importorskip("torch")  # the featurizers package imports it

from featurizers.lattice import one_step_label  # noqa: E402


def test_largest_significant_drop_wins():
    base = [20.0, 21.0, 22.0, 20.0, 21.0, 22.0]
    label = one_step_label(base, {
        "knob_up": [15.0, 16.0, 17.0, 15.0, 16.0, 17.0],      # gain 5
        "width_up": [10.0, 11.0, 12.0, 10.0, 11.0, 12.0],     # gain 10: the largest
        "data_up": [18.0, 19.0, 20.0, 18.0, 19.0, 20.0],      # gain 2
    })
    assert label.move == "width_up"
    assert label.gains == pytest.approx({"knob_up": 5.0, "width_up": 10.0, "data_up": 2.0})
    # SE of the difference of two independent means with the same spread
    se_mean = math.sqrt(0.8 / 6)  # var(ddof=1) of [20, 21, 22, 20, 21, 22] is 0.8
    assert label.ses["width_up"] == pytest.approx(math.sqrt(2) * se_mean)


def test_a_larger_but_noisy_drop_loses_to_a_significant_one():
    base = [10.0, 10.0, 10.0, 10.0]
    label = one_step_label(base, {"knob_up": [0.0, 20.0, 0.0, 2.0],   # gain 4.5, SE ~4.8
                                  "knob_down": [8.0, 8.0, 8.0, 8.0]})  # gain 2, SE 0 -> 2 > 0
    assert label.move == "knob_down"


def test_none_when_within_two_standard_errors():
    base = [10.0, 12.0, 14.0]
    # gain 1 with SE sqrt(4/3 + 4/3) = 1.63: 1 < 2 * 1.63
    label = one_step_label(base, {"width_up": [9.0, 11.0, 13.0]})
    assert label.move == "none"
    assert label.gains["width_up"] == pytest.approx(1.0)
    # just below 2 SE is not beyond 2 SE, just above is
    se = math.sqrt(2 * 4 / 3)
    assert one_step_label(base, {"width_up": [x - 1.99 * se for x in base]}).move == "none"
    assert one_step_label(base, {"width_up": [x - 2.01 * se for x in base]}).move == "width_up"


def test_a_rise_in_error_is_never_a_label():
    label = one_step_label([5.0, 5.0, 6.0], {"data_up": [50.0, 51.0, 52.0]})
    assert label.move == "none" and label.gains["data_up"] < 0
    assert label.action("learning rate") == "none"


def test_action_translates_the_knob():
    base, better = [30.0, 31.0, 32.0], [10.0, 11.0, 12.0]
    assert one_step_label(base, {"knob_up": better}).action("learning rate") == "raise temperature"
    assert one_step_label(base, {"knob_up": better}).action("batch size") == "lower temperature"
