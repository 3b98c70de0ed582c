"""Tests of sklearn_mdtree.diagnosis._validity: regime accuracy, abstention, keep as is,
confidence with the tree's own error, shipped validity."""

import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_mdtree import Hierarchy, Leaf, MDTreeClassifier, Split
from sklearn_mdtree.diagnosis._shipping import TreeValidity, is_shippable
from sklearn_mdtree.diagnosis._validity import (
    LeafAccuracy,
    RegimeAccuracy,
    keep_as_is,
    KeepAsIs,
    keep_as_is_by_leaf,
    tree_evidence,
    posterior_interval,
    regime_accuracy,
    should_abstain,
    verdict_confidence,
)


def _one_line(exc_info, *words):
    text = str(exc_info.value)
    assert "\n" not in text
    for w in words:
        assert w in text



# --------------------------------------------------------------------------------------
# 2. Regime accuracy
# --------------------------------------------------------------------------------------


def _stump():
    return MDTreeClassifier(
        Hierarchy(Split("t0", "train_error", None, None,
                        left=Leaf("small"), right=Leaf("large")), task="bs_failure"),
        threshold_search="exhaustive",
    )


def _tiny(mislabelled=True):
    errors = [1, 3, 4, 5, 6, 7, 11, 12, 13, 14, 15, 16]
    labels = ["small"] * 6 + ["large"] * 6
    if mislabelled:  # a "large" config among the small ones: always wrong out of fold
        errors, labels = errors + [2], labels + ["large"]
    return pd.DataFrame({"train_error": errors}, dtype=float), np.array(labels, dtype=object)


def test_regime_accuracy_known_by_hand():
    X, y = _tiny()
    ra = regime_accuracy(_stump(), X, y, cv=5)
    assert ra.n == 13 and ra.n_correct == 12 and ra.n_splits == 5
    left, right = ra.leaves
    assert (left.label, left.n, left.n_correct) == ("small", 7, 6)
    assert (right.label, right.n, right.n_correct) == ("large", 6, 6)
    assert left.label_counts == {"large": 1, "small": 6}
    # baseline: the overall majority ("large", 7 of 13)
    assert ra.majority_label == "large"
    assert left.baseline == right.baseline == pytest.approx(7 / 13)
    # 6 of 6: the Beta(7, 1) lower 2.5% quantile is 0.025 ** (1 / 7)
    assert right.interval[0] == pytest.approx(0.025 ** (1 / 7))
    assert right.better_than_chance  # 0.59 > 0.54
    assert not left.better_than_chance  # 6 of 7: lower end 0.49 < 0.54
    assert "not clearly better" in left.to_text()
    assert ra.accuracy == pytest.approx(12 / 13)


def test_regime_accuracy_fitted_estimator_and_groups():
    X, y = _tiny(mislabelled=False)
    fitted = _stump().fit(X, y)
    ra = regime_accuracy(fitted, X, y, groups=np.arange(12) // 2, cv=3)
    assert ra.n_correct == 12 and ra.n_splits == 3
    assert [lf.n for lf in ra.leaves] == [6, 6]
    assert ra.constant_accuracy <= 0.5  # a fold's majority is the held-out minority
    # an empty leaf: no configurations, uniform interval, never better than chance
    ra2 = regime_accuracy(MDTreeClassifier("q1_sharpness"), *_zoo(), cv=5)
    empty = [lf for lf in ra2.leaves if lf.n == 0]
    for lf in empty:
        assert lf.interval == pytest.approx((0.025, 0.975)) and not lf.better_than_chance
        assert math.isnan(lf.accuracy)


def _zoo():
    from sklearn_mdtree.pretrained import _data_folder

    frame = pd.read_csv(_data_folder() / "digits-zoo-features.csv")
    frame = frame[(frame["collection"] == "normal") & (frame["bs_failure"] != "optimal")]
    return frame.reset_index(drop=True), frame["bs_failure"].to_numpy(dtype=object)


def test_regime_accuracy_on_the_zoo_is_consistent_and_fast():
    import time

    X, y = _zoo()
    start = time.perf_counter()
    ra = regime_accuracy(MDTreeClassifier("q1_sharpness"), X, y)
    assert time.perf_counter() - start < 20
    assert sum(lf.n for lf in ra.leaves) == ra.n == len(X)
    assert sum(lf.n_correct for lf in ra.leaves) == ra.n_correct
    assert 0 <= ra.constant_accuracy <= 1


def test_regime_accuracy_refusals():
    X, y = _tiny()
    with pytest.raises(TypeError) as e:
        regime_accuracy(object(), X, y)
    _one_line(e, "'estimator'", "MDTreeClassifier")
    with pytest.raises(ValueError) as e:
        regime_accuracy(_stump(), X, y[:-1])
    _one_line(e, "'y'", "13 labels", "12 labels")
    with pytest.raises(ValueError) as e:
        regime_accuracy(_stump(), X, y, cv=1)
    _one_line(e, "'cv'", "1")


# --------------------------------------------------------------------------------------
# 3. Abstention
# --------------------------------------------------------------------------------------


def _group(out_of_domain=False, q1_regime=1, q2=None, checks=()):
    return SimpleNamespace(out_of_domain=out_of_domain, out_of_domain_checks=checks,
                           q1=SimpleNamespace(label="large", regime=q1_regime), q2=q2)


def test_should_abstain():
    ra = regime_accuracy(_stump(), *_tiny())
    assert should_abstain(_group(q1_regime=1), ra) == (
        False, "In domain; Q1's regime 1: 6 of 6 right out of fold, better than a "
        "constant answer.")
    abstain, reason = should_abstain(_group(q1_regime=0), ra)
    assert abstain and "6 of 7" in reason and "not clearly better" in reason
    abstain, reason = should_abstain(_group(out_of_domain=True, checks=("joint",)), ra)
    assert abstain and "joint" in reason
    # unmeasured: no abstention on that ground, said so
    abstain, reason = should_abstain(_group(q1_regime=0))
    assert not abstain and "not measured" in reason
    # Q2 blames the width: Q1's poor regime does not matter
    q2 = SimpleNamespace(label="width", regime=1)
    assert not should_abstain(_group(q1_regime=0, q2=q2), ra, ra)[0]
    # Q2 blames the optimizer: the direction (Q1) matters
    q2 = SimpleNamespace(label="batch", regime=1)
    assert should_abstain(_group(q1_regime=0, q2=q2), ra, ra)[0]


def test_should_abstain_on_a_real_report():
    import sklearn_mdtree
    from sklearn_mdtree.pretrained import PretrainedTree

    X, y = _zoo()
    tree = MDTreeClassifier("q1_sharpness", bounds="data").fit(X, y)
    ra = regime_accuracy(tree, X, y)
    wrapped = PretrainedTree.from_estimator(tree, X, name="zoo")
    report = sklearn_mdtree.diagnose(X.iloc[:3], wrapped, warn=False)
    for group in report:
        abstain, reason = should_abstain(group, ra)
        leaf = ra.leaves[group.q1.regime]
        assert abstain == (group.out_of_domain or not leaf.better_than_chance)
        assert reason


def test_should_abstain_refusals():
    with pytest.raises(TypeError) as e:
        should_abstain(object())
    _one_line(e, "'group'", "GroupReport")
    with pytest.raises(TypeError) as e:
        should_abstain(_group(), q1_accuracy=0.9)
    _one_line(e, "'q1_accuracy'", "float")
    ra = regime_accuracy(_stump(), *_tiny())
    with pytest.raises(ValueError) as e:
        should_abstain(_group(q1_regime=3), ra)
    _one_line(e, "'q1_accuracy'", "2 leaves", "regime 3")


# --------------------------------------------------------------------------------------
# 4. Keep as is
# --------------------------------------------------------------------------------------


def test_keep_as_is():
    r = keep_as_is(["optimal"] * 5 + ["small"] * 3)
    assert r.keep and r.share == pytest.approx(5 / 8) and r.n == 8
    assert keep_as_is(["none"] * 4 + ["width"] * 2).keep
    assert not keep_as_is(["optimal"] * 3 + ["small"] * 3).keep  # a tie is not enough
    assert not keep_as_is(["optimal"] * 2 + ["small"] * 3).keep
    empty = keep_as_is([])
    assert not empty.keep and math.isnan(empty.share)
    with pytest.raises(TypeError) as e:
        keep_as_is("optimal")
    _one_line(e, "'labels'")


def test_keep_as_is_by_leaf():
    X, y = _tiny(mislabelled=False)
    tree = _stump().fit(X, y)
    X2 = pd.concat([X, pd.DataFrame({"train_error": [2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.0]})],
                   ignore_index=True)
    labels = list(y) + ["optimal"] * 7
    left, right = keep_as_is_by_leaf(tree, X2, labels)
    assert left.keep and left.counts == {"small": 6, "optimal": 7}
    assert not right.keep and right.share == 0


# --------------------------------------------------------------------------------------
# 5. Confidence
# --------------------------------------------------------------------------------------


def _leaf(k, n, leaf=0, label="small"):
    return LeafAccuracy(leaf, label, n, k, posterior_interval(k, n), 0.5)


def _regimes(*leaves, classes=("large", "small")):
    return RegimeAccuracy(tuple(leaves), sum(lf.n for lf in leaves),
                          sum(lf.n_correct for lf in leaves), 0, "small", 5, classes)


def test_confidence_known_cases():
    assert verdict_confidence(1.0, _leaf(11, 11)) == pytest.approx(12 / 13)
    assert verdict_confidence(0.8, _leaf(11, 11)) == pytest.approx(0.8 * 12 / 13)
    ra = _regimes(_leaf(11, 11, 0), _leaf(3, 8, 1))
    assert verdict_confidence(1.0, ra, leaf=1) == pytest.approx(4 / 10)
    # p_path 0.5 between two leaves of known accuracy: the mixture
    assert verdict_confidence({0: 0.5, 1: 0.5}, ra) == pytest.approx(
        0.5 * 12 / 13 + 0.5 * 4 / 10)
    # the printed verdict "small": a leaf saying "large" counts where it is wrong
    ra2 = _regimes(_leaf(11, 11, 0, "small"), _leaf(3, 8, 1, "large"))
    assert verdict_confidence({0: 0.5, 1: 0.5}, ra2, verdict="small") == pytest.approx(
        0.5 * 12 / 13 + 0.5 * 6 / 10)
    # an empty leaf: the uniform prior's 1/2
    assert verdict_confidence(1.0, _leaf(0, 0)) == pytest.approx(0.5)


def test_confidence_from_measured_regime_accuracy():
    ra = regime_accuracy(_stump(), *_tiny())
    assert verdict_confidence(1.0, ra, leaf=1) == pytest.approx(7 / 8)
    assert verdict_confidence(1.0, ra, leaf=0) == pytest.approx(7 / 9)


@settings(max_examples=60, deadline=None)
@given(p1=st.floats(0, 1), p2=st.floats(0, 1), n=st.integers(0, 2000), frac=st.floats(0, 1))
def test_confidence_in_unit_interval_and_monotone(p1, p2, n, frac):
    leaf = _leaf(int(round(frac * n)), n)
    c1, c2 = verdict_confidence(p1, leaf), verdict_confidence(p2, leaf)
    assert 0 <= c1 < 1 and 0 <= c2 < 1
    if p1 <= p2:
        assert c1 <= c2


def test_confidence_refusals():
    with pytest.raises(ValueError) as e:
        verdict_confidence(1.2, _leaf(1, 1))
    _one_line(e, "'p_path'", "[0, 1]", "1.2")
    with pytest.raises(ValueError) as e:
        verdict_confidence({0: 0.7, 1: 0.6}, _regimes(_leaf(1, 1), _leaf(1, 1, 1)))
    _one_line(e, "'p_path'", "at most 1")
    with pytest.raises(ValueError) as e:
        verdict_confidence(0.5, _regimes(_leaf(1, 1)))
    _one_line(e, "'leaf'", "None")


# --------------------------------------------------------------------------------------
# 7. Shipped-tree validity
# --------------------------------------------------------------------------------------


def test_tree_validity_and_shippable():
    q1 = TreeValidity(0.773, 0.613, 0.76, "held-out (data, width) pairs", 15, 75)
    assert is_shippable(q1)  # lower end ~0.67 > 0.613
    q2 = TreeValidity(0.341, 0.659, None, "held-out rows", None, 85)
    assert not is_shippable(q2)
    # above the constant answer, but within the noise: not shipped
    close = TreeValidity(0.65, 0.613, None, "held-out rows", None, 75)
    assert not is_shippable(close)
    assert TreeValidity.from_dict(q1.to_dict()) == q1
    assert "constant answer 0.61" in q1.to_text()


def test_tree_validity_refusals():
    with pytest.raises(ValueError) as e:
        TreeValidity(77.3, 0.613, None, "x", None, 75)
    _one_line(e, "'tree_accuracy'", "[0, 1]", "77.3")
    with pytest.raises(ValueError) as e:
        TreeValidity(0.7, 0.6, None, "x", None, 0)
    _one_line(e, "'n'", "0")
    with pytest.raises(TypeError) as e:
        is_shippable({"tree_accuracy": 0.7})
    _one_line(e, "'validity'", "dict")


def test_records_round_trip_and_tree_evidence():
    X, y = _tiny()
    est = _stump().fit(X, y)
    acc = regime_accuracy(est, X, y, cv=3)
    assert RegimeAccuracy.from_dict(acc.to_dict()) == acc
    routed = pd.concat([X, X.iloc[:3]])
    labels = list(y) + ["optimal"] * 3
    doc = tree_evidence(est, X, y, routed=routed, routed_labels=labels, cv=3)
    assert RegimeAccuracy.from_dict(doc["regime_accuracy"]) == acc
    assert len(doc["keep_as_is"]) == len(est.leaf_labels_)
    assert all(KeepAsIs.from_dict(k).to_dict() == k for k in doc["keep_as_is"])
