"""Hostile and malformed inputs to the estimator and its hierarchy: clear errors, never
silently different answers (issue 13's adversarial pass, core side)."""

import functools
import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar

from sklearn_mdtree import Hierarchy, Leaf, MDTreeClassifier, Split, get_preset
from sklearn_mdtree._search import brent_threshold, exhaustive_threshold, midpoint

BIG = np.finfo(np.float64).max


def _frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "train_error": rng.uniform(0, 2, n),
        "mode_connectivity_peak": rng.uniform(-30, 0, n),
        "hessian_t": rng.uniform(4, 9, n),
    })
    y = np.where(rng.uniform(size=n) > 0.5, "small", "large")
    return X, y


def _one_split(**kwargs):
    params = dict(name="a", feature="hessian_t", threshold=5.0, bounds=(4.0, 9.0),
                  left=Leaf("small"), right=Leaf("large"))
    params.update(kwargs)
    return Hierarchy(Split(**params))


# -- infinities, not only NaN ----------------------------------------------------------------

@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("column", ["train_error", "mode_connectivity_peak", "hessian_t"])
def test_non_finite_features_are_refused_naming_the_split(column, value):
    X, y = _frame()
    bad = X.copy()
    bad.loc[3, column] = value
    split = {"train_error": "t0", "mode_connectivity_peak": "t1", "hessian_t": "t2"}[column]
    with pytest.raises(ValueError, match=f"NaN or inf in feature '{column}'.*'{split}'"):
        MDTreeClassifier("q1").fit(bad, y)
    clf = MDTreeClassifier("q1").fit(X, y)
    for method in (clf.predict, clf.predict_proba, clf.apply, clf.decision_path):
        with pytest.raises(ValueError, match=f"NaN or inf in feature '{column}'"):
            method(bad)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_non_finite_sample_weight_is_refused(value):
    X, y = _frame()
    weight = np.ones(len(y))
    weight[0] = value
    with pytest.raises(ValueError, match="sample_weight"):
        MDTreeClassifier("q1").fit(X, y, sample_weight=weight)


# -- feature ranges that overflow float64 -------------------------------------------------

@pytest.mark.parametrize("search", ["brent", "exhaustive"])
@pytest.mark.parametrize("bounds", ["data", "declared_none"])
def test_overflowing_range_gives_a_threshold_inside_its_bounds(search, bounds):
    X, y = _frame()
    X["hessian_t"] = np.r_[-BIG, BIG, X["hessian_t"].to_numpy()[2:]]
    if bounds == "data":
        clf = MDTreeClassifier("q1", bounds="data", threshold_search=search)
    else:
        clf = MDTreeClassifier(_one_split(threshold=None, bounds=None), threshold_search=search)
    with np.errstate(all="raise"):
        clf.fit(X, y)
    for name, (low, high) in clf.bounds_.items():
        assert math.isfinite(clf.thresholds_[name])
        assert low <= clf.thresholds_[name] <= high
    assert "inf" not in clf.export_text()
    # the score reported is the one of the thresholds kept
    assert clf.train_score_ == pytest.approx(clf.score(X, y))


def test_overflow_search_only_changes_overflowing_ranges():
    values = np.array([1.0, 2.0, 3.0])
    scores = np.array([1.0, 3.0, 2.0, 0.0])
    # a finite width: exactly scipy's bounded Brent search, the paper's path
    expected = minimize_scalar(
        lambda t: -scores[values.searchsorted(t, side="right")] / 3.0,
        bounds=(0.0, 4.0), method="bounded", options={"xatol": 1e-5, "maxiter": 500},
    ).x
    assert brent_threshold(values, scores, 3.0, (0.0, 4.0)) == expected
    t = brent_threshold(np.array([-1.0, 0.0, 1.0]), scores, 3.0, (-BIG, BIG))
    assert -BIG <= t <= BIG and math.isfinite(t)
    assert exhaustive_threshold(np.array([-BIG, BIG]), np.array([0.0, 2.0, 1.0]),
                                (-BIG, BIG)) == 0.0
    assert midpoint(1.0, 2.0) == 1.5
    assert midpoint(BIG, BIG) == BIG
    assert midpoint(-BIG, BIG) == 0.0


# -- bounds and thresholds of the wrong type name the split ---------------------------------

@pytest.mark.parametrize(
    "bounds, match",
    [
        (5, r"bounds of split 'a' must be a pair \(low, high\) of real numbers or None"),
        ("ab", r"bounds of split 'a' must be a pair \(low, high\) of real numbers or None"),
        ({4: 1, 9: 2}, r"bounds of split 'a' must be a pair"),
        (("a", 9), "lower bound of split 'a' must be a real number. Got 'a'"),
        ((4, None), "upper bound of split 'a' must be a real number. Got None"),
        ((4, True), "upper bound of split 'a' must be a real number. Got True"),
        ((4, 5j), "upper bound of split 'a' must be a real number"),
    ],
)
def test_bad_bounds_name_the_split(bounds, match):
    X, y = _frame()
    with pytest.raises(TypeError, match=match):
        MDTreeClassifier(_one_split(bounds=bounds)).fit(X, y)


@pytest.mark.parametrize("threshold", ["x", "5", [5], 5j, True, b"5"])
def test_non_numeric_threshold_names_the_split(threshold):
    X, y = _frame()
    with pytest.raises(TypeError, match="initial threshold of split 'a' must be a real number"):
        MDTreeClassifier(_one_split(threshold=threshold)).fit(X, y)


def test_scalar_bounds_through_set_params_name_the_split():
    X, y = _frame()
    for value in (5, "ab"):
        clf = MDTreeClassifier(get_preset("q1")).set_params(hierarchy__t2__bounds=value)
        with pytest.raises(TypeError, match="bounds of split 't2' must be a pair"):
            clf.fit(X, y)
    # lists and arrays still work, as tuples
    for value in ([4, 9], np.array([4.0, 9.0])):
        clf = MDTreeClassifier(get_preset("q1")).set_params(hierarchy__t2__bounds=value)
        assert clf.fit(X, y).bounds_["t2"] == (4.0, 9.0)


# -- hand-made hierarchies that are not trees ---------------------------------------------

def _cycle():
    inner = Split("b", "hessian_t", 5.0, (4.0, 9.0))
    root = Split("a", "train_error", 0.5, (0.0, 1.0), right=inner)
    object.__setattr__(inner, "left", root)  # frozen dataclass: only by force
    return Hierarchy(root)


def test_cyclic_hierarchy_gives_a_clear_error_not_recursion():
    X, y = _frame()
    h = _cycle()
    with pytest.raises(ValueError, match="split 'a' is reached twice.*must be a tree"):
        MDTreeClassifier(h).fit(X, y)
    with pytest.raises(ValueError, match="reached twice"):
        h.validate()
    with pytest.raises(ValueError, match="reached twice"):
        h.get_params()
    with pytest.raises(ValueError, match="reached twice"):
        h == _cycle()  # noqa: B015
    assert "invalid" in repr(h) and "invalid" in repr(MDTreeClassifier(h))


def test_split_object_used_twice_is_refused():
    X, y = _frame()
    shared = Split("b", "hessian_t", 5.0, (4.0, 9.0))
    h = Hierarchy(Split("a", "train_error", 0.5, (0.0, 1.0), left=shared, right=shared))
    with pytest.raises(ValueError, match="split 'b' is reached twice"):
        MDTreeClassifier(h).fit(X, y)


def test_deep_hierarchy_is_walked_without_recursion_limits():
    X, y = _frame()

    def chain(depth):
        return Hierarchy(functools.reduce(
            lambda node, i: Split(f"s{i}", "hessian_t", left=node, right=Leaf("large")),
            range(depth), Leaf("small"),
        ))

    clf = MDTreeClassifier(chain(200)).fit(X, y)
    assert len(clf.thresholds_) == 200
    with pytest.raises(ValueError, match="at most 200 splits deep.*depth of 3000"):
        MDTreeClassifier(chain(3000)).fit(X, y)


def test_leaf_labels_and_order_of_the_wrong_type():
    X, y = _frame()
    with pytest.raises(TypeError, match="label of a Leaf must be hashable"):
        MDTreeClassifier(_one_split(left=Leaf(["small"]))).fit(X, y)
    with pytest.raises(ValueError, match="label of a Leaf must not be NaN"):
        MDTreeClassifier(_one_split(left=Leaf(float("nan")))).fit(X, y)
    with pytest.raises(ValueError, match="'order' of a Hierarchy must list every split"):
        MDTreeClassifier(Hierarchy(_one_split().root, order=("a", 1))).fit(X, y)
    with pytest.raises(TypeError, match="'order' of a Hierarchy must be a sequence"):
        MDTreeClassifier(Hierarchy(_one_split().root, order="a")).fit(X, y)


def test_columns_of_several_levels_are_refused_not_matched_by_their_first_level():
    # "hessian_t" in a MultiIndex matches ("hessian_t", ...): a raw AttributeError
    X, y = _frame()
    clf = MDTreeClassifier("q1").fit(X, y)
    stacked = X.copy()
    stacked.columns = pd.MultiIndex.from_tuples([(c, "mean") for c in X.columns])
    for call in (lambda: clf.predict(stacked), lambda: MDTreeClassifier("q1").fit(stacked, y)):
        with pytest.raises(TypeError, match="2 levels of column names.*Flatten them"):
            call()
    flat = stacked.copy()
    flat.columns = flat.columns.get_level_values(0)
    assert clf.predict(flat).tolist() == clf.predict(X).tolist()
