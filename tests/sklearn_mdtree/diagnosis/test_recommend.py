"""Tests of sklearn_mdtree.diagnosis._recommend: recommendations and their decision paths.

The fixtures ``collections`` and ``trees`` are in ``tests/conftest.py`` (shared with
``tests/sklearn_mdtree/test_one_step.py``).
"""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree.diagnosis import (
    Decision,
    Diagnosis,
    recommend,
    recommend_moves,
)
from sklearn_mdtree.rfi import label_meaning

Q1_FEATURES = ["train_error", "mode_connectivity_peak", "hessian_t"]


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
    result = recommend(q1, X)
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
    result = recommend(trees["q1"], X, q2_tree=q2)
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
    result = recommend(trees["q1"], X, q2_tree=trees["q2"])
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
    result = recommend(trees["q1"], X, q2_tree=trees["q2_data"])
    data = result.frame["q2_label"] == "data"
    assert data.any()
    assert (result.frame.loc[data, "action"] == "increase data amount").all()


def test_diagnose_single_series_and_text(trees, collections):
    _, noise = collections
    row = noise.iloc[5]
    result = recommend(trees["q1"], row, q2_tree=trees["q2"])
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
    result = recommend(trees["q1"], X, optimizer_name="learning rate",
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
        recommend(trees["q1"], X.drop(columns="hessian_t"))
    nan = X.copy()
    nan.loc[nan.index[1], "hessian_t"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        recommend(trees["q1"], nan)
    with pytest.raises(ValueError, match="must be a Q1 tree"):
        recommend(trees["q2"], X)
    with pytest.raises(ValueError, match="must be a Q2 tree.*Got a tree for 'bs_failure'"):
        recommend(trees["q1"], X, q2_tree=trees["q1"])
    with pytest.raises(NotFittedError):
        recommend(MDTreeClassifier("q1"), X)
    with pytest.raises(ValueError, match="'X' parameter of recommend"):
        recommend(trees["q1"], X.to_numpy())
    with pytest.raises(ValueError, match="has no rows"):
        recommend(trees["q1"], X.iloc[:0])


def test_the_old_diagnose_call_is_a_deprecated_alias_of_recommend(trees):
    import pandas as pd

    from sklearn_mdtree.diagnosis import diagnose

    X = pd.DataFrame({"train_error": [5.0], "mode_connectivity_peak": [-40.0],
                      "hessian_t": [5.0]})
    with pytest.warns(FutureWarning, match="removed in 0.2"):
        old = diagnose(trees["q1"], X)
    assert old.frame.equals(recommend(trees["q1"], X).frame)
