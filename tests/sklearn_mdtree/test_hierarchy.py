"""Tests of the hierarchy data model and the paper's presets."""

import pickle

import pytest
from sklearn.base import clone

from sklearn_mdtree import PRESETS, Hierarchy, Leaf, Split, get_preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid_and_fresh(name):
    a, b = get_preset(name), get_preset(name)
    assert a == b and a is not b
    a.validate()
    assert [s.name for s in a.splits()] == [f"t{i}" for i in range(len(a.splits()))]


def test_q1_sharpness_matches_spec():
    h = get_preset("q1")
    t0, t1, t2 = h.splits()
    assert (t0.feature, t0.threshold, t0.bounds) == ("train_error", 0.5, (0.0, 1.0))
    assert (t1.feature, t1.threshold, t1.bounds) == ("mode_connectivity_peak", -10.0, (-30.0, 0.0))
    assert (t2.feature, t2.threshold, t2.bounds) == ("hessian_t", 7.0, (4.0, 9.0))
    assert [lf.label for lf in h.leaves()] == ["small", "large", "small", "large"]
    assert get_preset("q1_ood").splits()[2].threshold == 5.0
    sim = get_preset("q1_similarity")
    assert sim.splits()[2].bounds == (0.2, 0.8)
    assert [lf.label for lf in sim.leaves()] == ["small", "small", "large", "large"]


def test_q2_presets_match_spec():
    q2 = get_preset("q2")
    assert [s.feature for s in q2.splits()] == [
        "train_error", "mode_connectivity_peak", "mode_connectivity_peak"]
    assert [lf.label for lf in q2.leaves()] == ["width", "batch", "width", "batch"]
    data = get_preset("q2_data")
    assert [s.threshold for s in data.splits()] == [0.5, -10, 7, -10, 7, 7]
    # pre-order leaves: t1-left(t4: data, batch), t1-right(t2: data, batch), t3-left batch,
    # t3-right (t5: data, batch)
    assert [lf.label for lf in data.leaves()] == [
        "data", "batch", "data", "batch", "batch", "data", "batch"]


def test_unknown_preset():
    with pytest.raises(ValueError, match="Unknown hierarchy preset 'q3'"):
        get_preset("q3")


def test_nested_params_roundtrip_and_clone_do_not_touch_original():
    h = get_preset("q1")
    params = h.get_params(deep=True)
    assert params["t2__bounds"] == (4.0, 9.0) and params["t1__threshold"] == -10.0
    h2 = clone(h)
    h2.set_params(t2__bounds=[3, 10], t2__threshold=3.5)
    assert h2.get_params()["t2__bounds"] == (3, 10)
    assert h.get_params()["t2__bounds"] == (4.0, 9.0)
    assert h2.splits()[2].threshold == 3.5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"t2__bounds": (9, 4)}, "low <= high"),
        ({"t2__threshold": 10.0}, "inside its bounds"),
        ({"t2__bounds": (4, float("inf"))}, "finite"),
    ],
)
def test_bad_bounds(kwargs, match):
    h = get_preset("q1").set_params(**kwargs)
    with pytest.raises(ValueError, match=match):
        h.validate()


def test_bad_structure():
    with pytest.raises(ValueError, match="unique"):
        Hierarchy(Split("a", 0, left=Split("a", 1))).validate()
    with pytest.raises(ValueError, match="not a mix"):
        Hierarchy(Split("a", 0, left=Split("b", "x"))).validate()
    with pytest.raises(ValueError, match="every split name once"):
        Hierarchy(Split("a", 0), order=["b"]).validate()
    with pytest.raises(TypeError, match="Split or a Leaf"):
        Hierarchy("tree").validate()
    with pytest.raises(ValueError, match="no split named 'zz'"):
        get_preset("q1").set_params(zz__threshold=1.0)
    with pytest.raises(ValueError, match="Invalid parameter"):
        get_preset("q1").set_params(t0__feature="x")


def test_pickle_roundtrip():
    h = get_preset("q2_data")
    assert pickle.loads(pickle.dumps(h)) == h


def test_leaf_and_feature_queries():
    h = get_preset("q2_data")
    assert h.features() == ["train_error", "mode_connectivity_peak", "hessian_t"]
    assert h.leaf_labels() == ["data", "batch"]
    assert "t5" in repr(h)
    assert Leaf().label is None


def test_preset_name_must_be_a_string():
    with pytest.raises(ValueError, match="'name' parameter of get_preset"):
        get_preset(1)
