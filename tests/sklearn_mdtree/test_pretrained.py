"""Tests of sklearn_mdtree.pretrained: the shipped trees as JSON, loaded without pickle."""

import json

import numpy as np
import pandas as pd
import pytest

from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree._domain import FeatureDistribution
from sklearn_mdtree.pretrained import (
    PretrainedTree,
    available_trees,
    load_tree,
    resolve_family,
    tree_from_dict,
    tree_to_dict,
)
from sklearn_mdtree.pretrained._io import dumps
from sklearn_mdtree.pretrained._recipes import RECIPES, fit_document, training_rows
from sklearn_mdtree.pretrained import _data_folder

F_TREES = [name for name, recipe in RECIPES.items() if recipe["source"] == "F"]


def _fitted_equal(a, b, X):
    assert a.predict(X).tolist() == b.predict(X).tolist()
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(a.apply(X), b.apply(X))
    assert a.export_text(show_weights=True) == b.export_text(show_weights=True)
    assert a.thresholds_ == b.thresholds_ and a.bounds_ == b.bounds_
    assert a.classes_.tolist() == b.classes_.tolist()
    assert a.hierarchy_ == b.hierarchy_
    assert (a.decision_path(X) != b.decision_path(X)).nnz == 0


@pytest.mark.parametrize("name", F_TREES)
def test_shipped_f_trees_equal_a_fresh_fit(name, stacked_frame):
    shipped = _data_folder().joinpath(f"{name}.json").read_text(encoding="utf-8")
    fresh = fit_document(name, stacked_frame)
    # byte for byte, apart from the version of the package that wrote it
    assert json.loads(shipped) | {"package_version": None} == json.loads(dumps(fresh)) | {
        "package_version": None
    }
    recipe = RECIPES[name]
    train = training_rows(stacked_frame, recipe["label"])
    reference = MDTreeClassifier(recipe["preset"]).fit(train, train[recipe["label"]])
    loaded = load_tree(name)
    _fitted_equal(loaded.estimator, reference, stacked_frame)
    y = train[recipe["label"]]
    assert loaded.estimator.score(train, y) == reference.score(train, y)
    assert loaded.n_training_configurations == len(train)
    for feature, dist in loaded.distribution.items():
        assert dist.min == train[feature].min() and dist.max == train[feature].max()
        assert dist.median == pytest.approx(train[feature].median(), abs=0)


def test_f_q1_threshold_is_the_issue_figure():
    # the figure quoted by issue 10: every digits-MLP hessian_t lay below F's 6.14
    assert load_tree("cifar10-resnet18-q1").estimator.thresholds_["t2"] == pytest.approx(
        6.138, abs=1e-3
    )


def test_documents_are_plain_json_and_carry_provenance():
    for name in available_trees():
        text = _data_folder().joinpath(f"{name}.json").read_text(encoding="utf-8")
        doc = json.loads(text)
        assert dumps(doc) == text  # sorted keys, canonical form
        assert doc["name"] == name and doc["package_version"]
        assert doc["provenance"]["label"] == RECIPES[name]["label"]
        assert doc["n_training_configurations"] > 0
        features = load_tree(name).estimator.hierarchy_.features()
        assert set(doc["training_distribution"]) == set(features)


def _toy():
    X = pd.DataFrame({"train_error": [0.1, 0.2, 5.0, 6.0, 7.0, 3.0],
                      "mode_connectivity_peak": [-1, -2, -40, -35, -2, -20],
                      "hessian_t": [8, 8, 5, 8.5, 6, 7.5]})
    return X, ["small", "small", "large", "small", "large", "large"]


@pytest.mark.parametrize("preset", ["q1", "q1_similarity", "q2_data"])
@pytest.mark.parametrize("search", ["brent", "exhaustive"])
def test_round_trip_of_any_fitted_tree(preset, search):
    X, y = _toy()
    X["CKA"] = [0.3, 0.4, 0.5, 0.6, 0.7, 0.2]
    if preset == "q2_data":
        y = ["data", "batch", "data", "batch", "batch", "data"]
    tree = MDTreeClassifier(preset, threshold_search=search).fit(X, y)
    doc = json.loads(dumps(tree_to_dict(tree, X, name="toy")))
    _fitted_equal(tree_from_dict(doc), tree, X)


def test_round_trip_single_class_and_numeric_labels_and_unnamed_features():
    X, _ = _toy()
    tree = MDTreeClassifier("q1").fit(X, ["large"] * len(X))
    _fitted_equal(tree_from_dict(json.loads(dumps(tree_to_dict(tree)))), tree, X)
    from sklearn_mdtree import Hierarchy, Leaf, Split

    h = Hierarchy(Split("t0", 1, None, None, left=Leaf(0), right=Leaf(1)))
    A = X.to_numpy()
    tree = MDTreeClassifier(h).fit(A, [0, 0, 1, 1, 1, 0])
    _fitted_equal(tree_from_dict(json.loads(dumps(tree_to_dict(tree)))), tree, A)


def test_pretrained_tree_from_estimator_and_file(tmp_path):
    X, y = _toy()
    tree = MDTreeClassifier("q1").fit(X, y)
    wrapped = PretrainedTree.from_estimator(tree, X, name="mine")
    assert wrapped.distribution["hessian_t"] == FeatureDistribution.from_values(X["hessian_t"])
    path = tmp_path / "mine.json"
    path.write_text(dumps(wrapped.to_dict()))
    again = PretrainedTree.from_file(path)
    _fitted_equal(again.estimator, tree, X)
    path.write_text("{\"format\": \"something else\"}")
    with pytest.raises(ValueError, match="not a fitted MD tree document"):
        PretrainedTree.from_file(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        PretrainedTree.from_file(path)


def test_unknown_names_and_families():
    with pytest.raises(ValueError, match="Unknown pretrained tree 'nope'.*cifar10-resnet18-q1"):
        load_tree("nope")
    assert resolve_family("cifar10-resnet18") == ("cifar10-resnet18-q1", "cifar10-resnet18-q2")
    assert resolve_family("cifar10-resnet18-q1-similarity") == (
        "cifar10-resnet18-q1-similarity", None)
    assert resolve_family("cifar10-resnet18-q2") == (None, "cifar10-resnet18-q2")


def test_dumps_refuses_non_finite():
    with pytest.raises(ValueError, match="cannot hold nan"):
        dumps({"a": [1.0, float("nan")]})


ZOO_TREES = [name for name, recipe in RECIPES.items() if recipe["source"] == "digits-zoo"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO_TREES)
def test_shipped_zoo_trees_equal_a_fit_on_the_zoo_cache(name):
    """The digits trees against a fit on the default zoo's table, read from its cache.

    Training and featurizing the default zoo takes minutes, so this test runs only
    where the zoo's cache holds it (``SKLEARN_MDTREE_ZOO_CACHE``, or the zoo's default
    cache folder after ``python -m benchmarks.make_pretrained``); CI, without it,
    skips it and checks the document's form in the fast tests above.
    """
    import os

    if name not in available_trees():
        pytest.skip(f"{name} is not shipped in this tree")
    zoo = pytest.importorskip("featurizers.zoo")
    cache = os.environ.get("SKLEARN_MDTREE_ZOO_CACHE") or zoo.default_cache_dir()
    if not os.path.isdir(os.path.join(cache, "features")):
        pytest.skip(f"no cached default zoo in {cache}")
    table = zoo.train_zoo("default", cache_dir=cache, verbose=0).featurize()
    shipped = json.loads(_data_folder().joinpath(f"{name}.json").read_text(encoding="utf-8"))
    fresh = json.loads(dumps(fit_document(name, table)))
    assert shipped | {"package_version": None} == fresh | {"package_version": None}
