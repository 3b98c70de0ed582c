"""Tests of sklearn_mdtree.pretrained: the shipped trees as JSON, loaded without pickle."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree._domain import DOMAIN_FEATURES, FeatureDistribution
from sklearn_mdtree.pretrained import (
    PretrainedTree,
    available_trees,
    load_tree,
    resolve_family,
    tree_from_dict,
    tree_to_dict,
)
from sklearn_mdtree.pretrained._io import dumps
from sklearn_mdtree.pretrained._recipes import (
    NOT_SHIPPED,
    RECIPES,
    ZOO_TABLE,
    fit_document,
    read_zoo_table,
    table_csv,
    training_rows,
)
from sklearn_mdtree.pretrained import _data_folder

F_TREES = [name for name, recipe in RECIPES.items()
           if recipe["source"] == "F" and name not in NOT_SHIPPED]


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
    # every loss-landscape feature of F is recorded, and the training points are F's rows
    assert set(loaded.distribution) == set(DOMAIN_FEATURES)
    np.testing.assert_array_equal(loaded.joint.points,
                                  train[list(loaded.joint.features)].to_numpy(float))


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
        recorded = list(doc["training_distribution"])
        assert set(features) <= set(recorded) <= set(features) | set(DOMAIN_FEATURES)
        joint = doc["joint_domain"]
        assert joint["method"] == "knn" and sorted(joint["features"]) == sorted(recorded)
        assert len(joint["points"]) == doc["n_training_configurations"]


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


ZOO_TREES = [name for name, recipe in RECIPES.items()
             if recipe["source"] == "digits-zoo" and name not in NOT_SHIPPED]


def _zoo_table_text():
    return _data_folder().joinpath(ZOO_TABLE).read_text(encoding="utf-8")


def test_shipped_zoo_table_is_the_one_the_digits_documents_name():
    text = _zoo_table_text()
    assert table_csv(read_zoo_table()) == text  # canonical: survives a round trip
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    for name in ZOO_TREES:
        provenance = load_tree(name).provenance
        assert (provenance["file"], provenance["sha256"]) == (ZOO_TABLE, digest)


@pytest.mark.parametrize("name", ZOO_TREES)
def test_shipped_zoo_trees_equal_a_fresh_fit_on_the_shipped_table(name):
    shipped = json.loads(_data_folder().joinpath(f"{name}.json").read_text(encoding="utf-8"))
    fresh = json.loads(dumps(fit_document(name, read_zoo_table())))
    assert shipped | {"package_version": None} == fresh | {"package_version": None}


#: Two configurations of the default grid, one per collection, the cheapest to train
#: and featurize of their kind (about 2 s each).
SPOT_CHECKS = ({"width": 4, "bs": 4, "data_amount": 300, "noise": 0.0},
               {"width": 16, "bs": 16, "data_amount": 600, "noise": 0.1})


@pytest.mark.slow
def test_shipped_zoo_table_equals_a_fresh_zoo_run():
    """The shipped table is the default zoo's, as this code trains and featurizes it.

    Each row of the zoo's table is computed alone (its models seeded by their
    configuration and seed, its features by its cache key), so a configuration
    trained and featurized by itself gives its row of the full table bit for bit:
    two rows are recomputed here (the full zoo takes minutes). The columns that
    depend on the rest of the grid (the data level and the labels) are recomputed
    from the shipped table's own columns, as the zoo computes them.
    """
    zoo = pytest.importorskip("featurizers.zoo")
    from sklearn_mdtree.rfi import LABEL_COLUMNS, RFI_COLUMNS, label_configurations

    table = read_zoo_table()
    default = zoo.zoo_preset("default")
    grid_columns = ["noise", "lr", "data_amount", "width", "bs"]
    expected = sorted((c.noise, c.lr, c.data_amount, c.width, c.bs)
                      for c in default.configurations())
    assert sorted(map(tuple, table[grid_columns].to_numpy().tolist())) == expected
    derived = {"data", *RFI_COLUMNS, *LABEL_COLUMNS}
    for config in SPOT_CHECKS:
        grid = zoo.ZooGrid(**{axis: (value,) for axis, value in config.items()})
        assert (grid.lr, grid.seeds, grid.steps) == (default.lr, default.seeds, default.steps)
        fresh = zoo.train_zoo(grid, cache_dir=False, verbose=0).featurize()
        row = table[(table[list(config)] == pd.Series(config)).all(axis=1)]
        assert len(row) == 1
        for column in fresh.columns:
            if column not in derived:
                assert fresh[column].iloc[0] == row[column].iloc[0], column
    levels = {n: i + 1 for i, n in enumerate(default.data_amount)}
    assert table["data"].tolist() == [levels[n] for n in table["data_amount"]]
    relabelled = pd.concat([label_configurations(part.drop(columns=list(derived - {"data"})))
                            for _, part in table.groupby(["noise", "lr"], sort=False)])
    relabelled = relabelled.loc[table.index]
    for column in (*RFI_COLUMNS, *LABEL_COLUMNS):
        assert relabelled[column].tolist() == table[column].tolist(), column


def test_the_document_layout_is_read_by_io_from_schema_never_the_reverse():
    import ast
    import inspect

    from sklearn_mdtree.pretrained import _io, _schema

    tree = ast.parse(inspect.getsource(_schema))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "_io" not in imported and not any((m or "").endswith("._io") for m in imported)
    assert _io._PARAMS is _schema._PARAMS and _io.FORMAT is _schema.FORMAT


# -- the records of issue 20: regime accuracy, keep as is, recipe, validity --------------

_RECORD_KEYS = ("regime_accuracy", "keep_as_is", "feature_recipe", "validity")


@pytest.mark.parametrize("name", ZOO_TREES + ["digits-mlp-q2"])
def test_records_leave_the_tree_bit_identical(name):
    table = read_zoo_table()
    bare = fit_document(name, table, records=False)
    full = fit_document(name, table)
    assert {k: v for k, v in full.items() if k not in _RECORD_KEYS} == bare
    assert set(full) - set(bare) == set(_RECORD_KEYS)


def test_not_shipped_is_what_is_shippable_refuses():
    from sklearn_mdtree.diagnosis._shipping import TreeValidity, is_shippable

    table = read_zoo_table()
    for name in [n for n, r in RECIPES.items() if r["source"] == "digits-zoo"]:
        validity = TreeValidity.from_dict(fit_document(name, table)["validity"])
        assert is_shippable(validity) == (name not in NOT_SHIPPED), name
    assert not set(NOT_SHIPPED) & set(available_trees())
    q2 = TreeValidity.from_dict(fit_document("digits-mlp-q2", table)["validity"])
    assert round(q2.tree_accuracy, 3) == 0.341 and round(q2.constant_accuracy, 3) == 0.659


@pytest.mark.parametrize("name", ["cifar10-resnet18-q1", "digits-mlp-q1"])
def test_shipped_trees_carry_their_records(name):
    tree = load_tree(name)
    for key in _RECORD_KEYS:
        assert getattr(tree, key) is not None, key
    assert len(tree.regime_accuracy["leaves"]) == len(tree.estimator.leaf_labels_)
    assert len(tree.keep_as_is) == len(tree.estimator.leaf_labels_)
    epochs = {"cifar10-resnet18-q1": 50, "digits-mlp-q1": 15}[name]
    assert tree.feature_recipe["curve_epochs"] == epochs
    assert tree.validity["constant_accuracy"] < tree.validity["tree_accuracy"]


def test_an_old_tree_file_without_records_loads_and_degrades(tmp_path):
    import warnings

    import sklearn_mdtree
    from sklearn_mdtree.pretrained import PretrainedTree

    doc = load_tree("cifar10-resnet18-q1").to_dict()
    for key in _RECORD_KEYS:
        del doc[key]
    path = tmp_path / "old.json"
    path.write_text(dumps(doc), encoding="utf-8")
    old = PretrainedTree.from_file(path)
    assert all(getattr(old, k) is None for k in _RECORD_KEYS)
    X = pd.DataFrame({"train_error": [2.0], "mode_connectivity_peak": [-30.0],
                      "hessian_t": [5.0], "hessian_t_se": [0.1]}, index=["a"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = sklearn_mdtree.diagnose(X, old)
    group = report[0]
    assert group.verdict_kind == "change" and group.action == "increase batch size"
    assert group.confidence == group.noise_confidence  # today's confidence
    assert any("records no regime accuracy" in n for n in group.notes)
    assert any("records no feature recipe" in n for n in group.notes)
    assert "Measured validity: not measured" in report.to_text()
