"""Tests of sklearn_mdtree.one_step: the one-step rules of Appendix A.

The step rules are checked against a literal per-row reference written the way the
paper's Appendix A describes them (lists of the metric along the chosen direction,
one ``RandomState.choice`` per model), on small grids and on the public F'.
The fixtures ``collections`` and ``trees`` are in ``tests/conftest.py``.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_mdtree.diagnosis import recommend_moves
from sklearn_mdtree.one_step import (
    one_step_gains,
    optimal_diagnosis_moves,
    random_diagnosis_gains,
)


def _small_grid(seed, shape=(3, 5, 2)):
    rng = np.random.RandomState(seed)
    width, bs, data = np.meshgrid(
        [2, 4, 8][: shape[0]], [16, 32, 64, 128, 256][: shape[1]], [1, 2][: shape[2]],
        indexing="ij",
    )
    return pd.DataFrame(
        {
            "width": width.ravel(),
            "bs": bs.ravel(),
            "data": data.ravel(),
            "test_acc": rng.uniform(50, 90, width.size).round(1),
        }
    )


# --------------------------------------------------------------------------------------
# a literal reference of the step rules (Appendix A), one model at a time
# --------------------------------------------------------------------------------------


def _along(grid, row, column):
    """Metric of the configurations that differ from ``row`` only in ``column``, sorted."""
    others = [c for c in ("width", "bs", "data") if c != column]
    same = np.logical_and.reduce([grid[c] == row[c] for c in others])
    line = grid[same].sort_values(column)
    return line[column].to_numpy(), line["test_acc"].to_numpy()


def _reference_step(grid, row, column, direction, rng):
    values, acc = _along(grid, row, column)
    i = int(np.flatnonzero(values == row[column])[0])
    current = acc[i]
    beyond = acc[i + 1:] if direction == "increase" else acc[:i]
    if len(beyond) == 0:
        return 0.0, 0.0, 0.0
    nearest = beyond[0] if direction == "increase" else beyond[-1]
    drawn = rng.choice(list(beyond))
    best = max(current, beyond.max())
    return tuple(max(v - current, 0.0) for v in (nearest, drawn, best))


def _reference_gains(grid, rows, moves, seed):
    rng = np.random.RandomState(seed)
    out = [
        _reference_step(grid, grid.loc[r], column, direction, rng)
        for r, (column, direction) in zip(rows, moves)
    ]
    return np.array(out)


def _reference_random(grid, rows, task, seed):
    rng = np.random.RandomState(seed)
    out = []
    for r in rows:
        if task == "width_vs_batch" and rng.choice(["inc-width", "else"]) == "inc-width":
            move = ("width", "increase")
        else:
            move = ("bs", "decrease" if rng.choice(["inc-temp", "dec-temp"]) == "inc-temp"
                    else "increase")
        out.append(_reference_step(grid, grid.loc[r], *move, rng))
    return np.array(out)


# --------------------------------------------------------------------------------------
# one-step gains
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_step_gains_match_literal_reference_on_small_grid(seed):
    grid = _small_grid(seed)
    rng = np.random.RandomState(100 + seed)
    columns = rng.choice(["bs", "width", "data"], len(grid))
    directions = rng.choice(["increase", "decrease"], len(grid))
    rows = rng.permutation(grid.index)  # draws follow the order of rows
    columns, directions = columns[rows], directions[rows]
    ours = one_step_gains(grid, columns, directions, rows=rows, random_state=seed)
    expected = _reference_gains(grid, rows, zip(columns, directions), seed)
    np.testing.assert_allclose(ours[["fixed", "random", "optimal"]].to_numpy(), expected)
    assert ours.index.tolist() == list(rows)


def test_one_step_gains_match_literal_reference_on_public_grid(collections, trees):
    _, noise = collections
    test = noise[noise["bs_failure"] != "optimal"].iloc[::13]
    moves = recommend_moves(trees["q1"].predict(test), trees["q2"].predict(test))
    ours = one_step_gains(noise, moves["hyperparameter"], moves["direction"],
                          rows=test.index, random_state=42)
    expected = _reference_gains(noise, test.index, moves.itertuples(index=False), 42)
    np.testing.assert_allclose(ours[["fixed", "random", "optimal"]].to_numpy(), expected)


def test_one_step_gains_end_of_range_stays_and_negative_counts_zero():
    grid = pd.DataFrame({"width": 1, "data": 1, "bs": [16, 32, 64],
                         "test_acc": [70.0, 80.0, 60.0]})
    up = one_step_gains(grid, "bs", "increase", random_state=0)
    assert up["n_candidates"].tolist() == [2, 1, 0]
    assert up["fixed"].tolist() == [10.0, 0.0, 0.0]  # 80 -> 60 is a loss: zero
    assert up["optimal"].tolist() == [10.0, 0.0, 0.0]
    down = one_step_gains(grid, "bs", "decrease", random_state=0)
    assert down["fixed"].tolist() == [0.0, 0.0, 20.0]
    assert down["optimal"].tolist() == [0.0, 0.0, 20.0]
    assert down["current"].tolist() == [70.0, 80.0, 60.0]


def test_one_step_gains_consume_one_draw_per_model_that_can_move():
    grid = _small_grid(3)
    moves = np.where(np.arange(len(grid)) % 2, "increase", "decrease")
    ours_rng = np.random.RandomState(7)
    ours = one_step_gains(grid, "bs", moves, random_state=ours_rng)
    # a sequential loop that skips models at the end of their range leaves the RNG
    # in the same state (the authors' code goes on drawing from it)
    loop_rng = np.random.RandomState(7)
    n = ours["n_candidates"].to_numpy()
    for m in n[n > 0]:
        loop_rng.choice(np.arange(m))
    assert (n == 0).any()
    assert ours_rng.randint(0, 2**31) == loop_rng.randint(0, 2**31)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), rule_seed=st.integers(0, 10_000))
def test_one_step_gains_properties(seed, rule_seed):
    grid = _small_grid(seed)
    rng = np.random.RandomState(rule_seed)
    columns = rng.choice(["bs", "width", "data"], len(grid))
    directions = rng.choice(["increase", "decrease"], len(grid))
    gains = one_step_gains(grid, columns, directions, random_state=rule_seed)
    for rule in ("fixed", "random", "optimal"):
        assert (gains[rule] >= 0).all()
        assert (gains.loc[gains["n_candidates"] == 0, rule] == 0).all()
        assert (gains[rule] <= gains["optimal"] + 1e-12).all()
    with_one = gains["n_candidates"] == 1
    assert np.allclose(gains.loc[with_one, "fixed"], gains.loc[with_one, "random"])


@pytest.mark.parametrize(
    "mutate, kwargs, message",
    [
        (lambda g: g.iloc[1:], {}, "not a complete grid"),
        (lambda g: g.assign(test_acc=np.nan), {}, "missing values"),
        (lambda g: g.drop(columns="test_acc"), {}, r"missing the column\(s\) \['test_acc'\]"),
        (lambda g: g, {"hyperparameter": "depth"}, "must name a grid column"),
        (lambda g: g, {"direction": "up"}, r"must hold only \['increase', 'decrease'\]"),
        (lambda g: g, {"rows": [0, 999]}, "999 .position 1. is not one"),
        (lambda g: g, {"direction": ["increase"] * 2}, "one entry per row"),
    ],
)
def test_one_step_gains_bad_input(mutate, kwargs, message):
    grid = mutate(_small_grid(0))
    params = {"hyperparameter": "bs", "direction": "increase", **kwargs}
    with pytest.raises(ValueError, match=message):
        one_step_gains(grid, params.pop("hyperparameter"), params.pop("direction"), **params)


# --------------------------------------------------------------------------------------
# optimal and random diagnosis
# --------------------------------------------------------------------------------------


def test_optimal_diagnosis_takes_the_best_direction_first_on_ties():
    grid = pd.DataFrame({"width": np.repeat([2, 4], 3), "data": 1,
                         "bs": np.tile([16, 32, 64], 2),
                         "test_acc": [80.0, 70.0, 80.0, 90.0, 95.0, 85.0]})
    q1 = optimal_diagnosis_moves(grid, "bs_failure")
    # ties go to raising the temperature (a smaller batch): row 0 gains nothing either
    # way, row 1 (70) reaches 80 both ways, row 4 (95) is the best already
    assert q1["direction"].tolist() == ["decrease", "decrease", "decrease",
                                        "increase", "decrease", "decrease"]
    q2 = optimal_diagnosis_moves(grid, "width_vs_batch")
    assert q2.loc[1].tolist() == ["width", "increase"]  # 70 -> 95 with width 4
    assert q2.loc[0].tolist() == ["width", "increase"]
    assert q2.loc[3, "hyperparameter"] == "bs"  # widest: width cannot gain


def test_optimal_diagnosis_gains_are_upper_bound(collections, trees):
    _, noise = collections
    test = noise[noise["bs_failure"] != "optimal"]
    best = optimal_diagnosis_moves(noise, "bs_failure", rows=test.index)
    gains = one_step_gains(noise, best["hyperparameter"], best["direction"], rows=test.index)
    md = recommend_moves(trees["q1"].predict(test))
    md_gains = one_step_gains(noise, md["hyperparameter"], md["direction"], rows=test.index)
    assert (gains["optimal"] >= md_gains["optimal"] - 1e-12).all()


@pytest.mark.parametrize("task", ["bs_failure", "width_vs_batch"])
@pytest.mark.parametrize("seed", [42, 18])
def test_random_diagnosis_matches_literal_reference(task, seed):
    grid = _small_grid(seed)
    rows = grid.index[::-1]
    ours = random_diagnosis_gains(grid, task, rows=rows, random_state=seed)
    expected = _reference_random(grid, rows, task, seed)
    np.testing.assert_allclose(ours[["fixed", "random", "optimal"]].to_numpy(), expected)
    if task == "bs_failure":
        assert set(ours["hyperparameter"]) == {"bs"}
    else:
        assert set(ours["hyperparameter"]) == {"bs", "width"}


def test_random_diagnosis_is_reproducible_and_seed_dependent():
    grid = _small_grid(0)
    a = random_diagnosis_gains(grid, random_state=1)
    b = random_diagnosis_gains(grid, random_state=np.random.RandomState(1))
    c = random_diagnosis_gains(grid, random_state=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a["direction"].equals(c["direction"])
