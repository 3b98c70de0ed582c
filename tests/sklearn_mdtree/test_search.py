"""Threshold search against brute-force, per-sample references on tiny problems."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from sklearn.metrics import accuracy_score

from sklearn_mdtree import get_preset
from sklearn_mdtree._search import (
    apply,
    brent_threshold,
    compile_tree,
    exhaustive_threshold,
    position_scores,
)

LABELS = np.array(["large", "small"])


def _q1_tree():
    h = get_preset("q1")
    names = [s.name for s in h.splits()]
    return compile_tree(h.root, names, {f: i for i, f in enumerate(h.features())},
                        {"large": 0, "small": 1})


def _reference_predict(X, thr):
    """The paper's Q1 rule, one sample at a time."""
    out = []
    for row in X:
        if row[0] <= thr[0]:
            out.append("small")
        elif row[1] <= thr[1]:
            out.append("large" if row[2] <= thr[2] else "small")
        else:
            out.append("large")
    return np.array(out)


def _problem(seed, n=40):
    rng = np.random.RandomState(seed)
    X = np.column_stack([rng.uniform(0, 1, n).round(2), rng.uniform(-30, 0, n).round(0),
                         rng.uniform(4, 9, n).round(1)])
    y = rng.randint(0, 2, n)
    return X, y


@pytest.mark.parametrize("seed", range(5))
def test_apply_matches_reference_rule(seed):
    X, _ = _problem(seed)
    thr = np.array([0.4, -12.0, 6.5])
    leaf = apply(_q1_tree(), X, thr)
    leaf_label = np.array(["small", "large", "small", "large"])
    np.testing.assert_array_equal(leaf_label[leaf], _reference_predict(X, thr))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", range(3))
def test_position_scores_equal_accuracy_everywhere(seed, k):
    X, y = _problem(seed)
    tree = _q1_tree()
    thr = np.array([0.3, -15.0, 6.0])
    values, scores = position_scores(tree, X, y, None, thr, k, 2)
    assert scores.dtype.kind == "i"
    probes = np.concatenate([values, values - 1e-9, [values.min() - 1, values.max() + 1]])
    for t in probes:
        trial = thr.copy()
        trial[k] = t
        expected = (_reference_predict(X, trial) == LABELS[y]).sum()
        assert scores[np.searchsorted(values, t, side="right")] == expected


def test_position_scores_with_weights():
    X, y = _problem(0)
    w = np.random.RandomState(1).uniform(0, 3, len(y))
    tree = _q1_tree()
    thr = np.array([0.3, -15.0, 6.0])
    values, scores = position_scores(tree, X, y, w, thr, 2, 2)
    for j, t in enumerate(np.concatenate([[values[0] - 1], values])):
        trial = thr.copy()
        trial[2] = t
        expected = w[_reference_predict(X, trial) == LABELS[y]].sum()
        assert scores[j] == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(5))
def test_brent_path_equals_reference_objective(seed):
    """Same objective values as -accuracy_score, so the same Brent result."""
    X, y = _problem(seed)
    tree = _q1_tree()
    thr = np.array([0.5, -10.0, 7.0])
    ref = thr.copy()
    bounds = [(0, 1), (-30, 0), (4, 9)]
    for k in range(3):
        values, scores = position_scores(tree, X, y, None, thr, k, 2)
        thr[k] = brent_threshold(values, scores, len(y), bounds[k])

        def objective(t, k=k):
            trial = ref.copy()
            trial[k] = t
            return -accuracy_score(LABELS[y], _reference_predict(X, trial))

        ref[k] = minimize_scalar(objective, bounds=bounds[k], method="bounded").x
    np.testing.assert_array_equal(thr, ref)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 12), min_size=1, max_size=25),
    st.lists(st.integers(0, 1), min_size=25, max_size=25),
    st.tuples(st.integers(-2, 14), st.integers(-2, 14)),
)
def test_exhaustive_is_exact_best_within_bounds(xs, ys, b):
    """The chosen threshold scores the best of every threshold in the bounds."""
    lo, hi = min(b), max(b)
    x = np.array(xs, dtype=float)
    y = np.array(ys[: len(xs)])
    values = np.unique(x)
    # one split, left leaf says 0, right leaf says 1
    scores = np.array([((x <= t) & (y == 0)).sum() + ((x > t) & (y == 1)).sum()
                       for t in np.concatenate([[-np.inf], values])])
    thr = exhaustive_threshold(values, scores, (lo, hi))
    assert lo <= thr <= hi
    grid = np.concatenate([np.linspace(lo, hi, 301), values[(values >= lo) & (values <= hi)]])

    def score(t):
        return scores[np.searchsorted(values, t, side="right")]

    assert score(thr) == max(score(t) for t in grid)


def test_exhaustive_takes_middle_of_widest_best_run():
    values = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    scores = np.array([0, 5, 5, 1, 5, 5])  # best runs: positions 1-2 and 4-5
    # run 1 spans [1, 3), run 2 spans [4, hi=20]: the second is wider
    assert exhaustive_threshold(values, scores, (0, 20)) == 12.0
    # with hi=5 run 2 spans [4, 5], narrower than [1, 3): middle of run 1
    assert exhaustive_threshold(values, scores, (0, 5)) == 2.0
    # a single best position between two values: their midpoint
    assert exhaustive_threshold(values, np.array([0, 1, 2, 9, 2, 1]), (0, 20)) == 3.5
