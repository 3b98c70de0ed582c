"""Tests of MDTreeClassifier: paper figures, surface, bad input, properties."""

import dataclasses
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score

from sklearn_mdtree import Hierarchy, Leaf, MDTreeClassifier, Split, get_preset
from sklearn_mdtree.datasets import fetch_model_diagnosis
from sklearn_mdtree._paper import BRENT, FIGURES, figure_curves
from sklearn_mdtree.model_selection import FewShotTransfer

SEEDS = (42, 90, 38, 18, 72)
FEATURES = ["train_error", "mode_connectivity_peak", "hessian_t", "CKA"]


@pytest.fixture(scope="module")
def collections(model_diagnosis_dir):
    return (fetch_model_diagnosis("normal").frame, fetch_model_diagnosis("noise").frame)


@pytest.fixture(scope="module")
def stacked(model_diagnosis_dir):
    return fetch_model_diagnosis("both").frame


# Table B of the paper: (preset, label, scheme, k) -> MD tree (Brent) figure; and the
# exhaustive search's figures as measured (a regression pin, reported in the docs).
TABLE_B = [
    ("q1", "bs_failure", "random_pairs", 8, 87.70, 87.64),
    ("q1", "bs_failure", "data_limit", 1, 75.90, 85.26),
    ("q1", "bs_failure", "width_limit", 2, 82.56, 84.62),
    ("q2", "width_vs_batch", "random_data", 1, 74.11, 76.36),
    ("q2", "width_vs_batch", "data_limit", 1, 78.17, 77.02),
]


def _transfer_accuracy(stacked, preset, label, scheme, k, search):
    cv = FewShotTransfer(scheme, k=k, label=label, frame=stacked)
    scores = cross_val_score(MDTreeClassifier(preset, threshold_search=search),
                             stacked, stacked[label], cv=cv)
    return 100 * scores.mean()


@pytest.mark.parametrize("preset, label, scheme, k, paper, exhaustive", TABLE_B)
def test_table_b_brent_reproduces_paper_and_exhaustive_is_pinned(
        stacked, preset, label, scheme, k, paper, exhaustive):
    assert _transfer_accuracy(stacked, preset, label, scheme, k, "brent") == pytest.approx(
        paper, abs=0.01)
    assert _transfer_accuracy(stacked, preset, label, scheme, k, "exhaustive") == pytest.approx(
        exhaustive, abs=0.01)


def test_exhaustive_beats_brent_on_average_and_with_fewest_models(stacked):
    averages = {
        search: np.mean([_transfer_accuracy(stacked, *case[:4], search) for case in TABLE_B])
        for search in ("brent", "exhaustive")
    }
    assert averages["brent"] == pytest.approx(79.69, abs=0.01)
    assert averages["exhaustive"] >= averages["brent"] + 2
    # Fig 3a, k=1: 12 training models
    brent = _transfer_accuracy(stacked, "q1", "bs_failure", "random_pairs", 1, "brent")
    exhaustive = _transfer_accuracy(stacked, "q1", "bs_failure", "random_pairs", 1, "exhaustive")
    assert brent == pytest.approx(76.64, abs=0.01)
    assert exhaustive >= brent + 4


@pytest.mark.slow
def test_every_md_tree_curve_of_the_paper(stacked):
    """Figures 3a-c, 6a-b, 24 and 28: every point within 0.01 of the paper."""
    brent_only = [dataclasses.replace(fig, methods=(BRENT,)) for fig in FIGURES]
    curves = figure_curves(stacked, figures=brent_only)
    assert len(curves) == 7 + 10 + 13 + 10 + 10 + 7 + 5 + 7
    assert curves.gap.abs().max() <= 0.01


def test_table_b_case1_by_hand_sampling(collections):
    """The same figure without the splitter: the paper's draw written out."""
    F, Fp = collections
    train, test = F[F.bs_failure != "optimal"], Fp[Fp.bs_failure != "optimal"]
    pairs = [(d, w) for d in sorted(set(train.data)) for w in sorted(set(train.width))]
    accs = []
    for seed in SEEDS:
        chosen = np.random.RandomState(seed).choice(len(pairs), size=8, replace=False)
        keys = pd.MultiIndex.from_tuples([pairs[i] for i in chosen])
        rows = train[pd.MultiIndex.from_arrays([train.data, train.width]).isin(keys)]
        assert len(rows) == 96
        clf = MDTreeClassifier("q1").fit(rows, rows.bs_failure)
        accs.append(clf.score(test, test.bs_failure))
    assert 100 * np.mean(accs) == pytest.approx(87.70, abs=0.01)


# -- the estimator surface -------------------------------------------------------------
@pytest.fixture
def small(stacked):
    cv = FewShotTransfer("random_pairs", k=8, frame=stacked, seeds=[42])
    train, _ = next(cv.split(stacked))
    rows = stacked.iloc[train]
    return rows, rows.bs_failure


def test_fitted_attributes_and_export(small):
    X, y = small
    clf = MDTreeClassifier().fit(X, y)
    assert list(clf.thresholds_) == ["t0", "t1", "t2"]
    for name, (lo, hi) in clf.bounds_.items():
        assert lo <= clf.thresholds_[name] <= hi
    assert list(clf.feature_names_in_) == ["train_error", "mode_connectivity_peak", "hessian_t"]
    assert clf.n_features_in_ == 3
    assert list(clf.classes_) == ["large", "small"]
    assert clf.hierarchy_.splits()[2].threshold == clf.thresholds_["t2"]
    text = clf.export_text()
    assert f"hessian_t <= {clf.thresholds_['t2']:.2f}  [t2]" in text
    assert "class: large  (regime 3)" in text
    assert "weights: [large:" in clf.export_text(show_weights=True)
    assert clf.train_score_ == pytest.approx(clf.score(X, y))


def test_predict_proba_apply_decision_path(small):
    X, y = small
    clf = MDTreeClassifier().fit(X, y)
    leaf = clf.apply(X)
    assert set(np.unique(leaf)) <= {0, 1, 2, 3}
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    # training class frequencies at each leaf
    for r in np.unique(leaf):
        freq = (y[leaf == r].to_numpy()[:, None] == clf.classes_).mean(axis=0)
        np.testing.assert_allclose(proba[leaf == r][0], freq)
    path = clf.decision_path(X).toarray()
    assert path.shape == (len(X), 7)
    assert (path[:, 0] == 1).all()
    leaf_nodes = np.array([1, 4, 5, 6])  # pre-order ids of the four leaves
    np.testing.assert_array_equal(path[:, leaf_nodes].argmax(axis=1), leaf)


def test_dataframe_columns_matched_by_name(small):
    X, y = small
    clf = MDTreeClassifier().fit(X, y)
    shuffled = X[list(reversed(X.columns))]
    np.testing.assert_array_equal(clf.predict(shuffled), clf.predict(X))
    subset = X[["hessian_t", "train_error", "mode_connectivity_peak"]]
    np.testing.assert_array_equal(clf.predict(subset), clf.predict(X))


def test_grid_search_over_bounds_and_initial_values(small):
    X, y = small
    est = MDTreeClassifier(hierarchy=get_preset("q1"))
    grid = {"hierarchy__t2__bounds": [(4, 9), (6, 9)], "hierarchy__t1__threshold": [-10, -5]}
    search = GridSearchCV(est, grid, cv=3).fit(X, y)
    assert set(search.best_params_) == set(grid)
    best_bounds = search.best_params_["hierarchy__t2__bounds"]
    assert search.best_estimator_.bounds_["t2"] == tuple(map(float, best_bounds))
    # the user's hierarchy is untouched
    assert est.hierarchy.get_params()["t2__bounds"] == (4.0, 9.0)
    assert "hierarchy__t0__bounds" in est.get_params(deep=True)
    c = clone(est).set_params(hierarchy__t0__bounds=(0, 2))
    assert c.get_params()["hierarchy__t0__bounds"] == (0, 2)
    assert est.get_params()["hierarchy__t0__bounds"] == (0.0, 1.0)


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence_roundtrip(small, tmp_path, dump):
    X, y = small
    clf = MDTreeClassifier(threshold_search="exhaustive").fit(X, y)
    if dump == "pickle":
        new = pickle.loads(pickle.dumps(clf))
    else:
        joblib.dump(clf, tmp_path / "m.joblib")
        new = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(new.predict(X), clf.predict(X))
    np.testing.assert_array_equal(new.predict_proba(X), clf.predict_proba(X))


def test_inputs_not_modified(small):
    X, y = small
    X0, y0 = X.copy(), y.copy()
    w = np.ones(len(y))
    hierarchy = get_preset("q1")
    h0 = hierarchy.get_params()
    MDTreeClassifier(hierarchy).fit(X, y, sample_weight=w)
    pd.testing.assert_frame_equal(X, X0)
    pd.testing.assert_series_equal(y, y0)
    assert (w == 1).all() and hierarchy.get_params() == h0


def test_sample_weight_equals_repetition(small):
    X, y = small
    w = np.random.RandomState(0).randint(0, 3, len(y))
    rep = X.loc[X.index.repeat(w)]
    for search in ("brent", "exhaustive"):
        a = MDTreeClassifier(threshold_search=search).fit(X, y, sample_weight=w)
        b = MDTreeClassifier(threshold_search=search).fit(rep, rep.bs_failure)
        np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_bounds_data_uses_training_range(small):
    X, y = small
    clf = MDTreeClassifier(bounds="data").fit(X, y)
    assert clf.bounds_["t2"] == (X.hessian_t.min(), X.hessian_t.max())


def test_bounds_data_starts_mid_range_when_init_lies_outside(small):
    X, y = small
    shifted = X.assign(hessian_t=X.hessian_t - 6)  # init 7 lies above every value
    a = MDTreeClassifier(get_preset("q1"), bounds="data").fit(shifted, y)
    b = MDTreeClassifier(get_preset("q1").set_params(t2__threshold=None), bounds="data")
    assert a.thresholds_ == b.fit(shifted, y).thresholds_


def test_exhaustive_sweeps_until_stable(small):
    X, y = small
    clf = MDTreeClassifier(threshold_search="exhaustive").fit(X, y)
    assert clf.train_score_ >= MDTreeClassifier().fit(X, y).train_score_
    # started from its own result, the search moves nothing and stops after one sweep
    again = MDTreeClassifier(clf.hierarchy_, threshold_search="exhaustive").fit(X, y)
    assert again.thresholds_ == clf.thresholds_ and again.n_sweeps_ == 1
    assert MDTreeClassifier(threshold_search="exhaustive", max_sweeps=1).fit(X, y).n_sweeps_ == 1


# -- bad input --------------------------------------------------------------------------
def test_nan_or_inf_in_used_feature(small):
    X, y = small
    bad = X.copy()
    bad.iloc[3, bad.columns.get_loc("hessian_t")] = np.inf
    with pytest.raises(ValueError, match="NaN or inf in feature 'hessian_t'.*'t2'"):
        MDTreeClassifier().fit(bad, y)
    ok = X.copy()
    ok.iloc[3, ok.columns.get_loc("CKA")] = np.nan  # not used by the sharpness tree
    MDTreeClassifier().fit(ok, y)


def test_missing_column_and_plain_array(small):
    X, y = small
    with pytest.raises(ValueError, match=r"missing the column\(s\) \['hessian_t'\]"):
        MDTreeClassifier().fit(X.drop(columns="hessian_t"), y)
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        MDTreeClassifier().fit(X[FEATURES].to_numpy(), y)


def test_feature_index_out_of_range():
    h = Hierarchy(Split("a", 5))
    with pytest.raises(ValueError, match=r"X has 2 feature\(s\).*index\(es\) \[5\]"):
        MDTreeClassifier(h).fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_labels_no_leaf_can_emit(small):
    X, y = small
    with pytest.raises(ValueError, match=r"label\(s\) \['width'\] that no leaf"):
        MDTreeClassifier().fit(X, y.replace({"small": "width"}))


def test_empty_X():
    with pytest.raises(ValueError, match="0 sample"):
        MDTreeClassifier(Hierarchy(Split("a", 0))).fit(np.zeros((0, 2)), [])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"hierarchy__t2__bounds": (9, 4)}, "low <= high"),
        ({"hierarchy__t2__threshold": 3.0}, "inside its bounds"),
    ],
)
def test_bad_bounds_rejected_at_fit(small, params, match):
    X, y = small
    with pytest.raises(ValueError, match=match):
        MDTreeClassifier(get_preset("q1")).set_params(**params).fit(X, y)


def test_bad_parameters(small):
    X, y = small
    with pytest.raises(ValueError, match="'threshold_search' parameter"):
        MDTreeClassifier(threshold_search="golden").fit(X, y)
    with pytest.raises(ValueError, match="Unknown hierarchy preset"):
        MDTreeClassifier("q9").fit(X, y)


def test_mismatched_sample_weight(small):
    X, y = small
    with pytest.raises(ValueError, match="sample_weight"):
        MDTreeClassifier().fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="[Nn]egative"):
        MDTreeClassifier().fit(X, y, sample_weight=-np.ones(len(y)))


def test_missing_or_mixed_labels():
    h = Hierarchy(Split("a", 0, 0.5, (0, 1)))
    X = [[0.1], [0.2], [0.8], [0.9]]
    with pytest.raises(ValueError, match=r"1 missing label\(s\).*position\(s\) \[3\]"):
        MDTreeClassifier(h).fit(X, ["a", "a", "b", None])
    with pytest.raises(ValueError, match="mixes string and numeric"):
        MDTreeClassifier(h).fit(X, np.array(["a", "a", 1, 2], dtype=object))
    labelled = Hierarchy(Split("a", 0, 0.5, (0, 1), left=Leaf("small")))
    with pytest.raises(ValueError, match="must be of one type"):
        MDTreeClassifier(labelled).fit(X, [0, 0, 1, 1])


def test_object_string_labels_sorted_like_numpy():
    h = Hierarchy(Split("a", 0, 0.5, (0, 1)))
    clf = MDTreeClassifier(h).fit([[0.1], [0.2], [0.8], [0.9]],
                                  np.array(["b", "b", "a", "a"], dtype=object))
    assert clf.classes_.tolist() == ["a", "b"]
    assert clf.predict([[0.1], [0.9]]).tolist() == ["b", "a"]


def test_non_numeric_or_duplicated_columns(small):
    X, y = small
    with pytest.raises(ValueError, match=r"\['hessian_t'\] of X .* must be numeric"):
        MDTreeClassifier().fit(X.assign(hessian_t="sharp"), y)
    twice = pd.concat([X[["hessian_t"]], X], axis=1)
    with pytest.raises(ValueError, match=r"more than one column named \['hessian_t'\]"):
        MDTreeClassifier().fit(twice, y)


def test_one_class_fits_and_predicts_it(small):
    X, _ = small
    clf = MDTreeClassifier().fit(X, ["small"] * len(X))
    assert (clf.predict(X) == "small").all()
    np.testing.assert_array_equal(clf.predict_proba(X), np.ones((len(X), 1)))


# -- properties ----------------------------------------------------------------------------
_rows = st.lists(
    st.tuples(
        st.floats(0, 3), st.floats(-40, 0), st.floats(3, 10), st.sampled_from(["small", "large"])
    ),
    min_size=2, max_size=40,
)


def _frame(rows):
    X = pd.DataFrame(rows, columns=["train_error", "mode_connectivity_peak", "hessian_t", "y"])
    return X.drop(columns="y"), X["y"].to_numpy()


@settings(max_examples=40, deadline=None)
@given(_rows, st.sampled_from(["brent", "exhaustive"]), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(rows, search, rnd):
    X, y = _frame(rows)
    perm = list(range(len(X)))
    rnd.shuffle(perm)
    a = MDTreeClassifier(threshold_search=search).fit(X, y)
    b = MDTreeClassifier(threshold_search=search).fit(X.iloc[perm], y[perm])
    assert a.thresholds_ == b.thresholds_
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


@settings(max_examples=40, deadline=None)
@given(_rows, st.sampled_from(["brent", "exhaustive"]), st.sampled_from(["hierarchy", "data"]))
def test_thresholds_in_bounds_and_proba_sums_to_one(rows, search, bounds):
    X, y = _frame(rows)
    clf = MDTreeClassifier(threshold_search=search, bounds=bounds).fit(X, y)
    for name, (lo, hi) in clf.bounds_.items():
        assert lo <= clf.thresholds_[name] <= hi
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1)
    assert set(clf.predict(X)) <= set(clf.classes_)


def test_majority_leaves_generic_hierarchy():
    X = np.array([[0.0, 0], [1, 0], [2, 1], [3, 1], [4, 0], [5, 1]])
    y = np.array([0, 0, 1, 1, 2, 2])
    h = Hierarchy(Split("a", 0, bounds=(0, 5), left=Leaf(), right=Split("b", 0, bounds=(0, 5))))
    clf = MDTreeClassifier(h, threshold_search="exhaustive").fit(X, y)
    assert clf.score(X, y) == 1.0
    assert clf.thresholds_ == {"a": 1.5, "b": 3.5}
