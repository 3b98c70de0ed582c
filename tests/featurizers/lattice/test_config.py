"""Tests of featurizers.lattice._config: configurations, neighbours, actions, the grid check."""

import pytest

pytest.importorskip("torch")  # the featurizers package imports it

from featurizers.lattice import (  # noqa: E402
    FAILURE_SOURCES,
    LatticeConfig,
    Steps,
    check_failure_sources,
    lattice,
    move_action,
    neighbours,
)


def test_neighbours_of_a_learning_rate_configuration():
    moves = neighbours(LatticeConfig(0.01, 8, 300), "learning rate", n_available=1200)
    assert set(moves) == {"knob_up", "knob_down", "width_up", "data_up"}
    assert moves["knob_up"] == LatticeConfig(0.04, 8, 300)
    assert moves["knob_down"] == LatticeConfig(0.0025, 8, 300)
    assert moves["width_up"] == LatticeConfig(0.01, 32, 300)
    assert moves["data_up"] == LatticeConfig(0.01, 8, 600)


def test_neighbours_keep_fixed_hyperparameters_and_round_batch_sizes():
    config = LatticeConfig(6, 4, 100, fixed={"batchnorm": True})
    moves = neighbours(config, "batch size", steps=Steps(knob=4, width=2, data=3),
                       n_available=250)
    assert moves["knob_up"].knob_value == 24 and moves["knob_down"].knob_value == 2
    assert moves["width_up"].width == 8
    assert moves["data_up"].n_train == 250  # capped at what is available
    assert all(c.fixed == (("batchnorm", True),) for c in moves.values())


def test_no_data_up_when_all_data_is_used_and_no_null_knob_move():
    moves = neighbours(LatticeConfig(1, 4, 500), "batch size", n_available=500)
    assert "data_up" not in moves
    assert "knob_down" not in moves  # batch 1 / 4 rounds to 1: the same configuration


@pytest.mark.parametrize("move, knob, action", [
    ("knob_up", "learning rate", "raise temperature"),
    ("knob_down", "learning rate", "lower temperature"),
    ("knob_up", "batch size", "lower temperature"),
    ("knob_down", "batch size", "raise temperature"),
    ("width_up", "batch size", "widen"),
    ("data_up", "learning rate", "more data"),
    ("none", "learning rate", "none"),
])
def test_move_action(move, knob, action):
    assert move_action(move, knob) == action


def test_grid_refusal_names_parameter_expected_and_actual():
    sources = [s for s in FAILURE_SOURCES if s != "width too small"]
    with pytest.raises(ValueError) as info:
        check_failure_sources(sources, parameter="bases of my-family")
    message = str(info.value)
    assert "\n" not in message
    assert message == ("The 'bases of my-family' parameter must hold at least 1 configuration "
                       "with failure source 'width too small'; got 0.")
    check_failure_sources(list(FAILURE_SOURCES))  # complete: accepted


def test_grid_refusal_of_unknown_source():
    with pytest.raises(ValueError, match="must name failure sources among"):
        check_failure_sources([*FAILURE_SOURCES, "cosmic rays"])


@pytest.mark.parametrize("kwargs", [dict(knob_value=0, width=4, n_train=10),
                                    dict(knob_value=0.1, width=0, n_train=10),
                                    dict(knob_value=0.1, width=4, n_train=2.5)])
def test_bad_configurations_are_refused(kwargs):
    with pytest.raises(ValueError, match="parameter of LatticeConfig"):
        LatticeConfig(**kwargs)


def test_lattice_holds_the_neighbours_of_its_inner_configurations():
    grid = lattice([0.0025, 0.01, 0.04], [2, 8, 32], [150, 300, 600])
    assert len(grid) == 27 and len(set(grid)) == 27
    inner = LatticeConfig(0.01, 8, 300)
    moves = neighbours(inner, "learning rate", steps=Steps(knob=4, width=4, data=2),
                       n_available=600)
    assert all(c in grid for c in moves.values())
