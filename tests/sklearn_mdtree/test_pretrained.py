"""Tests of sklearn_mdtree.pretrained: the shipped trees as JSON, loaded without pickle."""

import hashlib
import json
from types import MappingProxyType

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
    ZOO_TABLE_MACHINE,
    fit_document,
    machine_provenance,
    read_table_machine,
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
    with pytest.warns(UserWarning, match="y has one class"):
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


#: The digits recipes: fitted on the shipped zoo table, shipped only if shippable (since
#: the reference zoo of issue 21 neither is; test_not_shipped_is_what_is_shippable_refuses).
ZOO_RECIPES = [name for name, recipe in RECIPES.items() if recipe["source"] == "digits-zoo"]
ZOO_TREES = [name for name in ZOO_RECIPES if name not in NOT_SHIPPED]


def _zoo_table_text():
    return _data_folder().joinpath(ZOO_TABLE).read_text(encoding="utf-8")


def test_shipped_zoo_table_is_the_one_the_digits_documents_name():
    text = _zoo_table_text()
    assert table_csv(read_zoo_table()) == text  # canonical: survives a round trip
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    for name in ZOO_RECIPES:  # shipped or not, a digits document names the table
        provenance = fit_document(name, read_zoo_table())["provenance"]
        assert (provenance["file"], provenance["sha256"]) == (ZOO_TABLE, digest)
    for name in ZOO_TREES:
        provenance = load_tree(name).provenance
        assert (provenance["file"], provenance["sha256"]) == (ZOO_TABLE, digest)


def test_shipped_zoo_trees_equal_a_fresh_fit_on_the_shipped_table():
    assert set(ZOO_TREES) <= set(available_trees())
    for name in ZOO_TREES:  # none since issue 21; kept for a zoo whose trees ship
        shipped = json.loads(_data_folder().joinpath(f"{name}.json").read_text(
            encoding="utf-8"))
        machine = shipped["provenance"].get("table_machine")  # recorded since issue 23
        fresh = json.loads(dumps(fit_document(name, read_zoo_table(), table_machine=machine)))
        assert shipped | {"package_version": None} == fresh | {"package_version": None}
    # a digits document not shipped is not in the package
    for name in set(ZOO_RECIPES) - set(ZOO_TREES):
        assert not _data_folder().joinpath(f"{name}.json").exists(), name


#: Every 19th row of the shipped zoo table: 27 configurations spread over the whole
#: grid (every value of every axis appears), a few seconds each.
SAMPLE_STEP = 19
#: The grid's own columns: set by the configuration, never by training.
EXACT_COLUMNS = ("data_amount", "para_amount", "log_data_amount", "log_para_amount",
                 "log_bs", "width", "bs", "lr", "noise")
#: Quantiles compared when the table was made on another machine.
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
#: Largest move of a quantile allowed, in interquartile ranges (IQR) of the shipped
#: sample. Measured on the machine that made the table, with the sample regenerated
#: under ``featurizers.zoo.PerturbedFactory(tanh_mlp, scale=1e-7, seed=s)``, s = 0-3
#: (one torch thread, about 24 s a run): single rows moved by up to 4.7 IQR
#: (hessian_e; test_acc by up to 0.21), as chaotic as a new seed; the quantiles of
#: every column but hessian_e moved by at most 0.39 IQR (hessian_t), 87 % of all
#: quantile moves by under 0.2. Tolerance: that largest move with a margin of about
#: 1.9 (0.75, the old zoo's figure, kept).
QUANTILE_TOLERANCE_IQR = 0.75
#: hessian_e (the top Hessian eigenvalue) is heavy-tailed: its quantiles moved by up
#: to 1.29 IQR (perturbation seed 3; 0.61, 0.46 and 0.06 for seeds 1, 2, 0). Its
#: tolerance is that move with a margin of 1.75. Both figures were set after seeing
#: seeds 0-3 and before running seed 4, which the slow test below checks.
QUANTILE_TOLERANCE_IQR_BY_COLUMN = MappingProxyType({"hessian_e": 2.25})


#: The columns of the zoo's table that depend on the rest of the grid: the data level,
#: the RFI columns and the labels (the one-step labels compare neighbours' seeds).
_DERIVED = {"data", "rfi_width", "rfi_data", "rfi_inc_temp", "rfi_dec_temp", "bs_failure",
            "width_vs_batch", "data_vs_batch", "lr_failure", "bs_failure_gain",
            "bs_failure_gain_se", "lr_failure_gain", "lr_failure_gain_se"}


def _zoo_sample(table):
    return table.iloc[::SAMPLE_STEP]


def _fresh_rows(zoo, sample, **kwargs):
    axes = ["width", "bs", "data_amount", "noise", "lr"]
    rows = [zoo.train_zoo(zoo.ZooGrid(**{a: (sample.loc[i, a].item(),) for a in axes}),
                          cache_dir=False, verbose=0, **kwargs).featurize()
            for i in sample.index]
    return pd.concat(rows, ignore_index=True)


def _assert_like_shipped(fresh, sample, *, exact):
    """Rows equal bit for bit (``exact``), else by quantiles (see the test below)."""
    derived = _DERIVED
    for column in (c for c in fresh.columns if c not in derived):
        shipped = sample[column]
        if exact or column in EXACT_COLUMNS or not pd.api.types.is_float_dtype(shipped):
            assert fresh[column].tolist() == shipped.tolist(), column
            continue
        iqr = float(np.subtract(*np.quantile(shipped, [0.75, 0.25])))
        moved = np.abs(np.quantile(fresh[column], QUANTILES) - np.quantile(shipped, QUANTILES))
        tolerance = QUANTILE_TOLERANCE_IQR_BY_COLUMN.get(column, QUANTILE_TOLERANCE_IQR)
        assert (moved <= tolerance * iqr).all(), (
            column, dict(zip(QUANTILES, (moved / iqr).round(2))))


@pytest.mark.slow
def test_shipped_zoo_table_matches_a_fresh_zoo_run():
    """The shipped table is the default zoo's, as this code trains and featurizes it.

    The default zoo (the reference zoo of issue 21): 504 configurations, 6 seeds of
    40 epochs each. Each row of its table is computed alone (its models seeded by
    their configuration and seed, its features by its cache key), so the rows of a
    sample of configurations (every 19th, 27) are recomputed here; the columns that
    depend on the rest of the grid are checked against the shipped table's own
    columns: the data level, the RFI columns and the Q2 labels recomputed as the zoo
    computes them, the one-step optimizer labels against their gains and standard
    errors.

    How close a fresh row must be depends on the machine. SGD over 40 epochs is
    chaotic: a difference in the last bit anywhere grows into another trajectory.
    On the machine that made the table (its CPU model, Python, numpy and torch,
    recorded beside the table in ``digits-zoo-features.machine.json`` by
    ``benchmarks/make_pretrained.py``) the rows are equal bit for bit. Elsewhere
    only the distribution is the zoo's promise, so every loss-landscape and
    accuracy column of the sample is compared by its 10/25/50/75/90 % quantiles,
    each within :data:`QUANTILE_TOLERANCE_IQR` interquartile ranges (IQR) of the
    shipped sample's column (hessian_e, heavy-tailed:
    :data:`QUANTILE_TOLERANCE_IQR_BY_COLUMN`); the grid's own columns stay exact.

    The tolerance was measured on the machine that made the table (the sample came
    out bit for bit) by regenerating the sample as other machines would:
    ``featurizers.zoo.PerturbedFactory`` (every initial weight moved by about one
    float32 rounding, scale 1e-7) with perturbation seeds 0-3, one run of the
    sample each; see :data:`QUANTILE_TOLERANCE_IQR` for the figures. Seed 4 is held out for
    test_a_zoo_run_that_rounds_differently_passes_the_distribution_check. The
    whole-zoo tolerances of ``featurizers.zoo.check_regeneration`` do not apply to a
    27-row sample (their statistics and tree agreement are over the whole grid).
    """
    zoo = pytest.importorskip("featurizers.zoo")
    from sklearn_mdtree.rfi import LABEL_COLUMNS, RFI_COLUMNS, label_configurations

    table = read_zoo_table()
    default = zoo.zoo_preset("default")
    grid_columns = ["noise", "lr", "data_amount", "width", "bs"]
    expected = sorted((c.noise, c.lr, c.data_amount, c.width, c.bs)
                      for c in default.configurations())
    assert sorted(map(tuple, table[grid_columns].to_numpy().tolist())) == expected
    assert (default.seeds, default.epochs) == ((0, 1, 2, 3, 4, 5), 40)

    sample = _zoo_sample(table)
    # the machine that made the table is recorded beside it: there the rows are exact
    record = read_table_machine()
    assert record is not None, f"{ZOO_TABLE_MACHINE} is missing or names another table"
    made_here = record["machine"] == machine_provenance()
    _assert_like_shipped(_fresh_rows(zoo, sample), sample, exact=made_here)
    levels = {n: i + 1 for i, n in enumerate(default.data_amount)}
    assert table["data"].tolist() == [levels[n] for n in table["data_amount"]]
    relabelled = pd.concat([label_configurations(part.drop(columns=list(_DERIVED - {"data"})))
                            for _, part in table.groupby(["noise", "lr"], sort=False)])
    relabelled = relabelled.loc[table.index]
    for column in (*RFI_COLUMNS, "width_vs_batch", "data_vs_batch"):
        assert relabelled[column].tolist() == table[column].tolist(), column
    for task in ("bs_failure", "lr_failure"):  # a label iff its gain beats 2 SE
        decided = table[task] != "optimal"
        beats = table[f"{task}_gain"] > 2 * table[f"{task}_gain_se"]
        assert (decided == beats.fillna(False)).all(), task


def test_the_document_layout_is_read_by_io_from_schema_never_the_reverse():
    import ast
    import inspect

    from sklearn_mdtree.pretrained import _io, _schema

    tree = ast.parse(inspect.getsource(_schema))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "_io" not in imported and not any((m or "").endswith("._io") for m in imported)
    assert _io._PARAMS is _schema._PARAMS and _io.FORMAT is _schema.FORMAT


@pytest.mark.slow
def test_a_zoo_run_that_rounds_differently_passes_the_distribution_check():
    """Another machine, simulated: the sample trained from initial weights moved by
    about one float32 rounding (``PerturbedFactory``, seed 4: held out from the
    tolerance's measurement, seeds 0-3).

    Its rows are not the shipped ones (the exact comparison fails), but its
    quantiles are within the tolerance.
    """
    zoo = pytest.importorskip("featurizers.zoo")
    sample = _zoo_sample(read_zoo_table())
    factory = zoo.PerturbedFactory(zoo.tanh_mlp, scale=1e-7, seed=4)
    fresh = _fresh_rows(zoo, sample, model_factory=factory)
    with pytest.raises(AssertionError):
        _assert_like_shipped(fresh, sample, exact=True)
    _assert_like_shipped(fresh, sample, exact=False)


def test_the_zoo_table_quantile_check_catches_a_systematic_change():
    """The quantile comparison is no rubber stamp: a column shifted by 0.8 of its IQR,
    or spread twice as wide about its median, fails it (the measured perturbations
    moved these columns' quantiles by at most 0.39 IQR)."""
    sample = _zoo_sample(read_zoo_table())
    for column in ("test_acc", "hessian_t", "mode_connectivity_peak", "CKA"):
        shipped = sample[column].to_numpy(float)
        iqr = float(np.subtract(*np.quantile(shipped, [0.75, 0.25])))
        median = np.median(shipped)
        for changed in (shipped + 0.8 * iqr, median + 2 * (shipped - median)):
            moved = np.abs(np.quantile(changed, QUANTILES) - np.quantile(shipped, QUANTILES))
            assert (moved > QUANTILE_TOLERANCE_IQR * iqr).any(), column


def test_the_zoo_table_machine_is_recorded_beside_the_table():
    machine = machine_provenance()
    assert set(machine) == {"cpu", "machine", "system", "python", "numpy", "torch"}
    assert machine["numpy"] == np.__version__
    # the shipped record: canonical JSON, about the shipped table, not a tree
    text = _data_folder().joinpath(ZOO_TABLE_MACHINE).read_text(encoding="utf-8")
    record = json.loads(text)
    assert dumps(record) == text
    digest = hashlib.sha256(_zoo_table_text().encode("utf-8")).hexdigest()
    assert (record["file"], record["sha256"]) == (ZOO_TABLE, digest)
    assert set(record["machine"]) == set(machine)
    assert all(isinstance(v, str) and v for v in record["machine"].values())
    assert read_table_machine() == record
    assert ZOO_TABLE_MACHINE[: -len(".json")] not in available_trees()
    with pytest.raises(ValueError, match="Unknown pretrained tree"):
        load_tree(ZOO_TABLE_MACHINE[: -len(".json")])
    # shipped in the wheel: the package data patterns take it
    import ast
    import fnmatch
    import re
    from pathlib import Path

    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text("utf-8")
    patterns = ast.literal_eval(re.search(r'^"sklearn_mdtree\.pretrained" = (\[.*\])$',
                                          pyproject, re.M).group(1))
    assert any(fnmatch.fnmatch(f"data/{ZOO_TABLE_MACHINE}", p) for p in patterns)
    # a digits document copies it
    doc = fit_document(ZOO_RECIPES[0], read_zoo_table(), table_machine=record["machine"])
    assert doc["provenance"]["table_machine"] == record["machine"]


# -- the records of issue 20: regime accuracy, keep as is, recipe, validity --------------

_RECORD_KEYS = ("regime_accuracy", "keep_as_is", "feature_recipe", "validity")


@pytest.mark.parametrize("name", ZOO_RECIPES)
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
    assert round(q2.tree_accuracy, 3) == 0.588 and round(q2.constant_accuracy, 3) == 0.533
    # Q1: 74/99 right against a constant's 71/99 and Valid+DT's 73/99; the lower end of
    # its 95% interval (0.65) is below the constant answer (benchmarks/README.md)
    q1 = TreeValidity.from_dict(fit_document("digits-mlp-q1", table)["validity"])
    assert (round(q1.tree_accuracy * q1.n), round(q1.constant_accuracy * q1.n), q1.n) == (
        74, 71, 99)
    assert round(q1.valid_dt_accuracy * q1.n) == 73 and q1.interval[0] < q1.constant_accuracy


@pytest.mark.parametrize("name", ["cifar10-resnet18-q1", "cifar10-resnet18-q2"])
def test_shipped_trees_carry_their_records(name):
    tree = load_tree(name)
    for key in _RECORD_KEYS:
        assert getattr(tree, key) is not None, key
    assert len(tree.regime_accuracy["leaves"]) == len(tree.estimator.leaf_labels_)
    assert len(tree.keep_as_is) == len(tree.estimator.leaf_labels_)
    assert tree.feature_recipe["curve_epochs"] == 50
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
