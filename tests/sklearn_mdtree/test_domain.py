"""Tests of sklearn_mdtree._domain: the joint (k-nearest-neighbour) domain check."""

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import sklearn_mdtree
from sklearn_mdtree import MDTreeClassifier, OutOfDomainWarning
from sklearn_mdtree._domain import (
    DOMAIN_FEATURES,
    JointCheck,
    JointDomain,
    domain_features,
)
from sklearn_mdtree.pretrained import PretrainedTree, tree_from_dict, tree_to_dict
from sklearn_mdtree.pretrained._io import dumps

#: Eleven points on the diagonal of [0, 10]^2: any off-diagonal point inside both
#: ranges is off the joint distribution.
LINE = [[float(i), float(i)] for i in range(11)]
STD = float(np.std(np.arange(11.0), ddof=1))


def _brute_force(points, query, k):
    """k-th nearest distance (query) and leave-one-out k-th distances, dense."""
    points = np.asarray(points, float)
    z = (points - points.mean(0)) / points.std(0, ddof=1)
    q = (np.asarray(query, float) - points.mean(0)) / points.std(0, ddof=1)
    d = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    own = np.sort(d, axis=1)[:, k - 1]
    return np.sort(np.sqrt(((z - q) ** 2).sum(-1)))[k - 1], own


def test_a_point_inside_every_range_but_off_the_line_is_flagged():
    domain = JointDomain(["a", "b"], LINE, k=1)
    step = math.sqrt(2) / STD  # every point's nearest other point, standardised
    assert domain.threshold() == pytest.approx(step)
    corner = domain.check({"a": 0.0, "b": 10.0})  # inside [0, 10] in both features
    assert not corner.in_domain
    assert corner.distance == pytest.approx(math.sqrt(50) / STD)  # to (5, 5)
    assert corner.ratio == pytest.approx(5.0)
    assert (corner.features, corner.k, corner.quantile, corner.n) == (("a", "b"), 1, 0.99, 11)


def test_a_training_point_is_not_flagged():
    domain = JointDomain(["a", "b"], LINE, k=2)
    for point in LINE:
        check = domain.check({"a": point[0], "b": point[1]})
        assert check.in_domain  # its k-th nearest counts itself: <= its own distance
    # halfway between two training points: inside too
    assert domain.check({"a": 4.5, "b": 4.5}).in_domain


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(8, 30), st.integers(1, 3)),
              elements=st.floats(-100, 100, allow_nan=False, width=32)),
       st.integers(1, 4), st.sampled_from([0.9, 0.99, 1.0]))
def test_distances_are_the_dense_reference_and_few_training_points_are_flagged(
        points, k, quantile):
    names = [f"x{i}" for i in range(points.shape[1])]
    if (points.std(0, ddof=1) == 0).any():
        return  # a constant feature is scaled by 1: the reference below does not cover it
    domain = JointDomain(names, points, k=k, quantile=quantile)
    query = points.mean(0) + 1.5
    distance, own = _brute_force(points, query, k)
    check = domain.check(dict(zip(names, query)))
    assert check.distance == pytest.approx(distance, rel=1e-9, abs=1e-12)
    assert domain.threshold() == pytest.approx(
        np.quantile(own, quantile, method="inverted_cdf"), rel=1e-9, abs=1e-12)
    # a training point counts itself: at most 1 - quantile of them are flagged
    flagged = sum(not domain.check(dict(zip(names, p))).in_domain for p in points)
    assert flagged <= len(points) * (1 - quantile) + 1e-9


def test_missing_features_recalibrate_on_the_others():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(40, 3))
    domain = JointDomain(["a", "b", "c"], points, k=3)
    alone = JointDomain(["a", "c"], points[:, [0, 2]], k=3)
    for values in ({"a": 0.3, "c": -1.0}, {"a": 0.3, "b": float("nan"), "c": -1.0}):
        check = domain.check(values)
        assert check.features == ("a", "c")
        assert check.distance == alone.check(values).distance
        assert check.threshold == alone.threshold()
    assert domain.check({"d": 1.0}) is None


def test_json_round_trip_is_exact_and_an_altered_document_is_refused():
    rng = np.random.default_rng(1)
    domain = JointDomain(["a", "b"], rng.normal(size=(25, 2)), k=4, quantile=0.95)
    doc = json.loads(json.dumps(domain.to_dict()))
    assert doc["method"] == "knn" and len(doc["points"]) == 25
    again = JointDomain.from_dict(doc)
    values = {"a": 2.0, "b": -0.5}
    assert again.check(values) == domain.check(values)
    doc["threshold"] *= 2
    with pytest.raises(ValueError, match="do not match its points"):
        JointDomain.from_dict(doc)
    with pytest.raises(ValueError, match="Unknown joint domain method"):
        JointDomain.from_dict({**domain.to_dict(), "method": "mahalanobis"})


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="at least 2 training points"):
        JointDomain(["a"], [[1.0]])
    with pytest.raises(ValueError, match="finite"):
        JointDomain(["a"], [[1.0], [np.nan]])
    with pytest.raises(ValueError, match="'k'"):
        JointDomain(["a"], [[1.0], [2.0]], k=0)
    with pytest.raises(ValueError, match="'quantile'"):
        JointDomain(["a"], [[1.0], [2.0]], quantile=0)
    assert JointDomain(["a"], [[1.0], [2.0], [4.0]], k=5).k == 2  # at most n - 1
    # a constant feature is scaled by 1, not by 0
    flat = JointDomain(["a", "b"], [[1.0, 3.0], [2.0, 3.0], [3.0, 3.0]], k=1)
    assert flat.scale.tolist() == [1.0, 1.0]
    assert flat.check({"a": 2.0, "b": 4.0}).distance == pytest.approx(1.0)


def test_check_text_and_dict():
    check = JointCheck(("a", "b"), 5, 0.99, 3.0, 1.5, 100, tree="t")
    text = check.to_text()
    assert "put it at distance 3 from its 5th nearest training configuration: 2 times " \
        "the 1.5 within which 99% of the 100 training configurations have theirs" in text
    assert check.to_dict() == {"features": ["a", "b"], "k": 5, "quantile": 0.99,
                               "distance": 3.0, "threshold": 1.5, "n": 100, "tree": "t",
                               "ratio": 2.0, "in_domain": False}
    assert JointCheck(("a",), 1, 0.99, 0.0, 0.0, 2).ratio == 0.0
    assert JointCheck(("a",), 1, 0.99, 1.0, 0.0, 2).to_dict()["ratio"] is None  # inf


def test_domain_features_are_those_of_the_featurizer():
    pytest.importorskip("torch")
    from featurizers import LossLandscapeFeaturizer
    from featurizers.zoo import LANDSCAPE_FEATURES

    # the featurizer's features that the collections hold (not the optional weight ones)
    assert DOMAIN_FEATURES == LANDSCAPE_FEATURES
    assert set(LossLandscapeFeaturizer._all_features) - set(DOMAIN_FEATURES) == {
        "weight_norm_ratio", "weight_displacement"}
    X = pd.DataFrame({"hessian_t": [1.0, 2.0], "CKA": [0.1, np.nan], "width": [4, 8],
                      "train_loss": ["a", "b"], "train_error": [1.0, 2.0]})
    # the splits' features first, then the finite numeric domain features
    assert domain_features(X, ["hessian_t"]) == ["hessian_t", "train_error"]


def _toy_tree():
    """A Q1 tree on a training set where CKA rises with hessian_t."""
    rng = np.random.default_rng(0)
    h = np.linspace(4.0, 8.0, 40)
    X = pd.DataFrame({"train_error": rng.uniform(1.0, 10.0, 40),
                      "mode_connectivity_peak": rng.uniform(-40.0, -5.0, 40),
                      "hessian_t": h, "CKA": 0.1 * h - 0.2 + rng.normal(0, 0.005, 40)})
    y = np.where(h > 6.0, "large", "small")
    tree = MDTreeClassifier("q1", threshold_search="exhaustive").fit(X, y)
    return PretrainedTree.from_estimator(tree, X, name="toy"), X


def test_diagnose_flags_a_model_off_the_joint_distribution_and_says_how_far():
    wrapped, X = _toy_tree()
    assert wrapped.joint.features == ("train_error", "mode_connectivity_peak", "hessian_t",
                                      "CKA")
    # hessian_t at the low end, CKA at the high end: each inside its range
    odd = pd.DataFrame({"train_error": [5.0], "mode_connectivity_peak": [-20.0],
                        "hessian_t": [4.2], "CKA": [0.58]}, index=["odd"])
    with pytest.warns(OutOfDomainWarning, match=r"'odd' \(joint\)"):
        g = sklearn_mdtree.diagnose(odd, wrapped, q2_tree=None)[0]
    assert all(f.in_domain for f in g.features)
    assert g.out_of_domain and g.out_of_domain_checks == ("joint",)
    assert g.out_of_domain_features == ()
    (check,) = g.joint_checks
    assert check.tree == "toy" and not check.in_domain and check.ratio > 1
    assert "joint check: taken together, its features (train_error, " in g.warnings[0]
    assert f": {check.ratio:.2g} times the" in g.warnings[0]
    assert "OUT OF DOMAIN" in g.to_text() and "Joint check against the 40" in g.to_text()
    d = g.to_dict()
    assert d["out_of_domain_checks"] == ["joint"]
    assert d["joint_domain"] == [check.to_dict()]
    assert g.to_row()["joint_ratio"] == check.ratio
    assert g.to_row()["out_of_domain_checks"] == "joint"


def test_diagnose_leaves_a_training_model_in_domain():
    wrapped, X = _toy_tree()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = sklearn_mdtree.diagnose(X.iloc[[5, 20, 33]], wrapped, q2_tree=None)
    assert not report.out_of_domain
    assert all(g.joint_checks[0].in_domain for g in report)


def test_tree_documents_carry_the_joint_domain_through_json():
    wrapped, X = _toy_tree()
    doc = json.loads(dumps(wrapped.to_dict()))
    assert doc["joint_domain"]["points"] == X[list(wrapped.joint.features)].to_numpy().tolist()
    again = PretrainedTree.from_dict(doc)
    values = {"train_error": 5.0, "mode_connectivity_peak": -20.0, "hessian_t": 4.2,
              "CKA": 0.58}
    assert again.joint.check(values) == wrapped.joint.check(values)
    tree_from_dict(doc)  # the estimator part is unchanged
    # a document without one (written before the joint check) has no joint check
    old = PretrainedTree.from_dict({**doc, "joint_domain": None})
    assert old.joint is None
    g = sklearn_mdtree.diagnose(pd.DataFrame([values]), old, q2_tree=None, warn=False)[0]
    assert g.joint_checks == ()
    assert tree_to_dict(wrapped.estimator)["joint_domain"] is None  # no table, no domain
