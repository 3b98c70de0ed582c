"""Tests of sklearn_mdtree.diagnosis: recommendations, paths, and the one-step rules.

The step rules are checked against a literal per-row reference written the way the
paper's Appendix A describes them (lists of the metric along the chosen direction,
one ``RandomState.choice`` per model), on small grids and on the public F'.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree.diagnosis import (
    Decision,
    Diagnosis,
    diagnose,
    one_step_gains,
    optimal_diagnosis_moves,
    random_diagnosis_gains,
    recommend_moves,
)
from sklearn_mdtree.rfi import label_meaning

Q1_FEATURES = ["train_error", "mode_connectivity_peak", "hessian_t"]


# --------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def collections(stacked_frame):
    normal = stacked_frame[stacked_frame["collection"] == "normal"]
    noise = stacked_frame[stacked_frame["collection"] == "noise"]
    return normal, noise


@pytest.fixture(scope="module")
def trees(collections):
    normal, _ = collections
    q1_rows = normal[normal["bs_failure"] != "optimal"]
    q2_rows = normal[normal["width_vs_batch"] != "optimal"]
    data_rows = normal[(normal["data_vs_batch"] != "optimal") & (normal["width"] >= 32)]
    return {
        "q1": MDTreeClassifier("q1").fit(q1_rows, q1_rows["bs_failure"]),
        "q2": MDTreeClassifier("q2").fit(q2_rows, q2_rows["width_vs_batch"]),
        "q2_data": MDTreeClassifier("q2_data").fit(data_rows, data_rows["data_vs_batch"]),
    }


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
# recommend_moves
# --------------------------------------------------------------------------------------


def test_recommend_moves_q1_and_q2():
    moves = recommend_moves(
        ["small", "large", "small", "large", "small"],
        ["batch", "batch", "width", "width", "data"],
    )
    assert moves["hyperparameter"].tolist() == ["bs", "bs", "width", "width", "data"]
    assert moves["direction"].tolist() == [
        "decrease", "increase", "increase", "increase", "increase"
    ]


def test_recommend_moves_learning_rate_raises_temperature_upwards():
    moves = recommend_moves(["small", "large"], optimizer="lr", raise_temperature="increase")
    assert moves.to_dict("list") == {
        "hyperparameter": ["lr", "lr"],
        "direction": ["increase", "decrease"],
    }


@pytest.mark.parametrize(
    "q1, q2, message",
    [
        (["small", "optimal"], None, r"'q1_labels'.*'optimal' at position 1"),
        (["small"], ["width", "wide"], r"'q2_labels'.*'wide' at position 1"),
        (["small", "large"], ["width"], r"same length. Got 2 and 1"),
    ],
)
def test_recommend_moves_bad_labels(q1, q2, message):
    with pytest.raises(ValueError, match=message):
        recommend_moves(q1, q2)


# --------------------------------------------------------------------------------------
# diagnose
# --------------------------------------------------------------------------------------


def test_diagnose_q1_matches_tree_and_paths_are_consistent(trees, collections):
    q1 = trees["q1"]
    _, noise = collections
    X = noise.iloc[::37]
    result = diagnose(q1, X)
    assert isinstance(result, Diagnosis) and len(result) == len(X)
    np.testing.assert_array_equal(result.frame["q1_regime"], q1.apply(X))
    np.testing.assert_array_equal(result.frame["q1_label"], q1.predict(X))
    assert result.frame.index.equals(X.index)
    expected_action = np.where(q1.predict(X) == "small", "decrease batch size",
                               "increase batch size")
    np.testing.assert_array_equal(result.frame["action"], expected_action)
    for rec, (_, row) in zip(result, X.iterrows()):
        path = rec.q1.path
        assert path[0].split == "t0"  # starts at the root
        for decision in path:
            assert decision.value == row[decision.feature]
            assert decision.threshold == q1.thresholds_[decision.split]
            assert decision.went_left == (decision.value <= decision.threshold)
        # regime 0 is reached by the left branch of t0 alone
        assert (rec.q1.regime == 0) == (len(path) == 1 and path[0].went_left)
        assert rec.q1.meaning == label_meaning("bs_failure", rec.q1.label)
        assert rec.q2 is None


def test_diagnose_paths_are_the_trees_decision_paths(trees, collections):
    # the path of each model is read off decision_path, so it always ends in the
    # regime that apply() gives, also for values exactly at a threshold
    q2 = trees["q2"]
    _, noise = collections
    X = noise.iloc[::53].copy()
    X.iloc[0, X.columns.get_loc("train_error")] = q2.thresholds_["t0"]
    result = diagnose(trees["q1"], X, q2_tree=q2)
    indicator = q2.decision_path(X).toarray().astype(bool)
    split_node = {name: i for i, name in enumerate(_preorder_names(q2.hierarchy_.root))}
    leaf_node = [i for i, name in enumerate(_preorder_names(q2.hierarchy_.root)) if name is None]
    for rec, visited in zip(result, indicator):
        path = rec.q2.path
        nodes = [split_node[d.split] for d in path] + [leaf_node[rec.q2.regime]]
        assert np.flatnonzero(visited).tolist() == nodes
        for decision, child in zip(path, nodes[1:]):
            assert decision.went_left == (child == split_node[decision.split] + 1)
    assert result[0].q2.path[0].went_left  # value == threshold goes left


def _preorder_names(node):
    """Split names (None for a leaf) in pre-order, the node numbering of decision_path."""
    if not hasattr(node, "left"):
        return [None]
    return [node.name, *_preorder_names(node.left), *_preorder_names(node.right)]


def test_diagnose_q2_defers_to_q1_for_batch(trees, collections):
    _, noise = collections
    X = noise.iloc[::11]
    result = diagnose(trees["q1"], X, q2_tree=trees["q2"])
    frame = result.frame
    widen = frame["q2_label"] == "width"
    assert widen.any() and (~widen).any()
    assert (frame.loc[widen, "action"] == "increase width").all()
    batch = frame.loc[~widen]
    expected = np.where(batch["q1_label"] == "small", "decrease batch size",
                        "increase batch size")
    np.testing.assert_array_equal(batch["action"], expected)
    np.testing.assert_array_equal(frame["q2_regime"], trees["q2"].apply(X))
    assert {"q2_path", "q2_cause", "q1_path", "q1_cause"} <= set(frame.columns)


def test_diagnose_data_variant_recommends_more_data(trees, collections):
    _, noise = collections
    X = noise[noise["width"] >= 32].iloc[::7]
    result = diagnose(trees["q1"], X, q2_tree=trees["q2_data"])
    data = result.frame["q2_label"] == "data"
    assert data.any()
    assert (result.frame.loc[data, "action"] == "increase data amount").all()


def test_diagnose_single_series_and_text(trees, collections):
    _, noise = collections
    row = noise.iloc[5]
    result = diagnose(trees["q1"], row, q2_tree=trees["q2"])
    assert len(result) == 1
    rec = result[0]
    assert rec.model == row.name
    text = result.to_text()
    assert text.startswith(f"model {row.name}: {rec.action}")
    assert "Q1 (bs_failure)" in text and "Q2 (width_vs_batch)" in text
    for decision in rec.q1.path:
        assert str(decision) in text
    assert str(result) == text
    assert "Diagnosis(n_models=1" in repr(result)
    assert result.to_frame() is not result.frame


def test_diagnose_learning_rate_wording(trees, collections):
    _, noise = collections
    X = noise.iloc[:40]
    result = diagnose(trees["q1"], X, optimizer_name="learning rate",
                      raise_temperature="increase")
    expected = np.where(result.frame["q1_label"] == "small", "increase learning rate",
                        "decrease learning rate")
    np.testing.assert_array_equal(result.frame["action"], expected)


def test_decision_str():
    d = Decision("t1", "mode_connectivity_peak", -10.0, -12.5, True)
    assert d.side == "<="
    assert str(d) == "mode_connectivity_peak = -12.5 <= -10  [t1]"


def test_diagnose_bad_input(trees, collections):
    _, noise = collections
    X = noise.iloc[:3]
    with pytest.raises(ValueError, match=r"missing the column\(s\) \['hessian_t'\]"):
        diagnose(trees["q1"], X.drop(columns="hessian_t"))
    nan = X.copy()
    nan.loc[nan.index[1], "hessian_t"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        diagnose(trees["q1"], nan)
    with pytest.raises(ValueError, match="must be a Q1 tree"):
        diagnose(trees["q2"], X)
    with pytest.raises(ValueError, match="must be a Q2 tree"):
        diagnose(trees["q1"], X, q2_tree=trees["q1"])
    with pytest.raises(NotFittedError):
        diagnose(MDTreeClassifier("q1"), X)
    with pytest.raises(ValueError, match="'X' parameter of diagnose"):
        diagnose(trees["q1"], X.to_numpy())
    with pytest.raises(ValueError, match="has no rows"):
        diagnose(trees["q1"], X.iloc[:0])


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
