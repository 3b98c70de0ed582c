"""Tests of featurizers.zoo._regeneration: the perturbed factory, the comparison of a
regenerated table with its reference, and the tolerances."""

import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from featurizers.zoo import (  # noqa: E402
    REGENERATION_TOLERANCES,
    Configuration,
    PerturbedFactory,
    RegenerationReport,
    ZooGrid,
    check_regeneration,
    compare_regeneration,
    measure_tolerances,
    regenerate_zoo,
    tanh_mlp,
    train_zoo,
)
from sklearn_mdtree import MDTreeClassifier  # noqa: E402

CONFIG = Configuration(noise=0.0, lr=0.1, data_amount=100, width=4, bs=8)


# ---------------------------------------------------------------------------
# PerturbedFactory


def _build(factory, seed=3):
    torch.manual_seed(seed)
    return factory(CONFIG)


def test_perturbed_factory_scale_zero_is_the_factory():
    plain, same = _build(tanh_mlp), _build(PerturbedFactory(tanh_mlp, scale=0.0))
    for a, b in zip(plain.parameters(), same.parameters()):
        assert torch.equal(a, b)


def test_perturbed_factory_moves_weights_by_about_scale_and_is_deterministic():
    plain = _build(tanh_mlp)
    one = _build(PerturbedFactory(tanh_mlp, scale=1e-4, seed=0))
    again = _build(PerturbedFactory(tanh_mlp, scale=1e-4, seed=0))
    other = _build(PerturbedFactory(tanh_mlp, scale=1e-4, seed=1))
    ratios = torch.cat([(b / a - 1).detach().flatten()
                        for a, b in zip(plain.parameters(), one.parameters())])
    # z standard normal: |z| < 6 with certainty at these sizes, and its spread ~ 1
    assert float(ratios.abs().max()) < 6e-4
    assert 0.5e-4 < float(ratios.std()) < 2e-4
    for a, b, c in zip(one.parameters(), again.parameters(), other.parameters()):
        assert torch.equal(a, b)
        assert not torch.equal(a, c)


def test_perturbed_factory_leaves_the_global_rng_alone():
    _build(tanh_mlp)
    expected = torch.rand(5)
    _build(PerturbedFactory(tanh_mlp, scale=1e-7, seed=4))
    assert torch.equal(torch.rand(5), expected)


def test_perturbed_factory_depends_on_the_model_seed():
    factory = PerturbedFactory(tanh_mlp, scale=1e-4, seed=0)
    a = [(p / q) for p, q in zip(_build(factory, 1).parameters(),
                                 _build(tanh_mlp, 1).parameters())]
    b = [(p / q) for p, q in zip(_build(factory, 2).parameters(),
                                 _build(tanh_mlp, 2).parameters())]
    assert not all(torch.allclose(x, y, rtol=0, atol=0) for x, y in zip(a, b))


def test_perturbed_factory_keeps_the_factory_name():
    factory = PerturbedFactory(tanh_mlp)
    assert (factory.__module__, factory.__qualname__) == (tanh_mlp.__module__,
                                                          tanh_mlp.__qualname__)
    assert "tanh_mlp" in repr(factory)


@pytest.mark.parametrize("scale", [-1e-7, 0.5, math.nan, True, "1e-7"])
def test_perturbed_factory_bad_scale(scale):
    with pytest.raises(ValueError, match="'scale' parameter of PerturbedFactory"):
        PerturbedFactory(tanh_mlp, scale=scale)(CONFIG)


def test_regenerate_zoo_needs_its_own_cache_folder():
    with pytest.raises(ValueError, match="'cache_dir' parameter of regenerate_zoo"):
        regenerate_zoo("tiny", cache_dir=None)
    with pytest.raises(ValueError, match="'seed' parameter of regenerate_zoo"):
        regenerate_zoo("tiny", seed=-1, cache_dir="unused")


def test_regenerate_zoo_unperturbed_is_the_zoo_bit_for_bit(tmp_path):
    # same cache keys as the plain zoo, so the same featurization streams: only the
    # perturbation differs between a reference and its stand-in regenerations
    grid = ZooGrid(width=(4,), bs=(8, 32), data_amount=(100,), noise=(0.0,), seeds=(0, 1),
                   steps=30)
    plain = train_zoo(grid, cache_dir=tmp_path / "plain", verbose=0).featurize()
    same = regenerate_zoo(grid, scale=0.0, cache_dir=tmp_path, verbose=0)
    moved = regenerate_zoo(grid, scale=1e-7, seed=0, cache_dir=tmp_path, verbose=0)
    assert (tmp_path / "perturbed-scale0-seed0").is_dir()
    assert (tmp_path / "perturbed-scale1e-07-seed0").is_dir()
    pd.testing.assert_frame_equal(plain, same, check_exact=True)
    assert not plain.equals(moved)
    report = compare_regeneration(plain, moved)
    assert report.configuration_columns_equal and not report.identical


# ---------------------------------------------------------------------------
# compare_regeneration on synthetic tables with known differences


@pytest.fixture
def tables():
    ref = pd.DataFrame({
        "width": [4, 8, 16, 32], "bs": 8, "para_amount": [10, 20, 30, 40],
        "test_acc": [50.0, 60.0, 70.0, 80.0],
        "hessian_t": [1.0, np.nan, 3.0, 4.0],
        "bs_failure": ["large", "small", "small", "optimal"],
        "lr_failure": ["small", "optimal", "large", "large"],
        "hessian_t_floored": [False, False, True, False],
        "collection": "normal",
    })
    new = ref.assign(test_acc=[50.0, 62.0, 70.0, 79.0], hessian_t=[1.0, 2.0, 3.0, np.nan],
                     bs_failure=["large", "small", "large", "optimal"],
                     lr_failure=["optimal", "optimal", "large", "small"])
    return ref, new.iloc[[2, 0, 3, 1]]  # another row order: matched by configuration


def test_compare_regeneration_feature_statistics(tables):
    report = compare_regeneration(*tables)
    assert isinstance(report, RegenerationReport)
    acc = report.features.loc["test_acc"]
    # |delta| = 0, 2, 0, 1
    assert acc["n"] == 4 and acc["nan_mismatch"] == 0
    assert acc["share_changed"] == 0.5
    assert acc["median_abs"] == 0.5
    assert acc["p95_abs"] == pytest.approx(1.85, abs=1e-12)  # 1 + 0.85 * (2 - 1)
    assert acc["max_abs"] == 2.0
    # ECDFs {50,60,70,80} vs {50,62,70,79}: largest gap 1/4 (at 60 and at 79)
    assert acc["ks_statistic"] == 0.25
    assert 0 < acc["ks_pvalue"] <= 1
    trace = report.features.loc["hessian_t"]
    assert trace["n"] == 2 and trace["nan_mismatch"] == 2
    assert trace["share_changed"] == 0.0 and trace["max_abs"] == 0.0
    # configuration columns are not features; the collection is not a label
    assert set(report.features.index) == {"test_acc", "hessian_t"}
    assert set(report.labels.index) == {"bs_failure", "lr_failure", "hessian_t_floored"}
    assert report.configuration_columns_equal and not report.identical


def test_compare_regeneration_labels(tables):
    report = compare_regeneration(*tables)
    assert report.labels.loc["bs_failure", "agreement"] == 0.75
    assert report.labels.loc["bs_failure", "n_changed"] == 1
    # both knobs' labels: lr_failure changed on rows 0 and 3
    assert report.labels.loc["lr_failure", "agreement"] == 0.5
    assert report.labels.loc["lr_failure", "n_changed"] == 2
    assert report.labels.loc["hessian_t_floored", "agreement"] == 1.0
    assert report.verdicts.empty and report.thresholds.empty


def test_compare_regeneration_identical_tables(tables):
    ref, _ = tables
    report = compare_regeneration(ref, ref.copy())
    assert report.identical and report.configuration_columns_equal
    assert (report.features[["share_changed", "max_abs", "ks_statistic"]] == 0).all().all()
    assert (report.labels["agreement"] == 1).all()


def test_compare_regeneration_configuration_columns(tables):
    ref, new = tables
    report = compare_regeneration(ref, new.assign(para_amount=new["para_amount"] + 1))
    assert not report.configuration_columns_equal


def test_compare_regeneration_statistics_names(tables):
    stats = compare_regeneration(*tables).statistics()
    assert stats["feature:test_acc:max_abs"] == 2.0
    assert stats["feature:hessian_t:nan_mismatch"] == 2
    assert stats["label:bs_failure:agreement"] == 0.75
    assert stats["label:lr_failure:agreement"] == 0.5
    assert len(stats) == 2 * 6 + 3


def test_compare_regeneration_chosen_columns(tables):
    report = compare_regeneration(*tables, features=["test_acc"], labels=[])
    assert list(report.features.index) == ["test_acc"] and report.labels.empty
    with pytest.raises(ValueError, match="'features' parameter .* \\['nope'\\]"):
        compare_regeneration(*tables, features=["nope"])


def test_compare_regeneration_bad_tables(tables):
    ref, new = tables
    with pytest.raises(TypeError, match="pandas DataFrames"):
        compare_regeneration(ref, new.to_numpy())
    with pytest.raises(ValueError, match="1 are missing and 0 are extra"):
        compare_regeneration(ref, new.iloc[:3])
    with pytest.raises(ValueError, match="'regenerated' table holds a configuration twice"):
        compare_regeneration(ref, pd.concat([new, new.iloc[:1]]))
    with pytest.raises(ValueError, match="configuration columns"):
        compare_regeneration(ref.drop(columns=["width", "bs"]), new.drop(columns=["width",
                                                                                  "bs"]))


def _q1_table(train_error):
    return pd.DataFrame({
        "width": range(8), "bs": 8, "collection": "normal",
        "train_error": train_error,
        "mode_connectivity_peak": [-50.0, -40, -30, -20, -10, -5, -3, -1],
        "hessian_t": [1.0, 2, 3, 4, 5, 6, 7, 8],
        "bs_failure": ["small", "small", "small", "large", "large", "large", "large", "optimal"],
    })


def test_compare_regeneration_tree_verdicts_and_refit():
    ref = _q1_table([0.1, 0.2, 0.3, 5.0, 6.0, 7.0, 8.0, 0.4])
    train = ref["bs_failure"] != "optimal"
    tree = MDTreeClassifier("q1", bounds="data").fit(ref[train], ref.loc[train, "bs_failure"])
    same = compare_regeneration(ref, ref.copy(), tree=tree, label="bs_failure")
    assert same.verdicts.loc["tree", "agreement"] == 1.0
    assert same.verdicts.loc["refit", "agreement"] == 1.0
    assert (same.thresholds["abs_delta"] == 0).all()
    assert same.thresholds.loc["t0", "feature"] == "train_error"

    # one row crosses the root's threshold: one verdict of the tree changes
    t0 = tree.thresholds_["t0"]
    moved = ref.copy()
    moved.loc[3, "train_error"] = t0 / 2
    report = compare_regeneration(ref, moved, tree=tree, label="bs_failure")
    expect_tree = (tree.predict(ref) == tree.predict(moved)).mean()
    assert expect_tree == 7 / 8
    assert report.verdicts.loc["tree", "agreement"] == expect_tree
    assert report.verdicts.loc["tree", "n_changed"] == 1
    # the refit is a fit of the same parameters on the regenerated rows
    mask = moved["bs_failure"] != "optimal"
    direct = MDTreeClassifier("q1", bounds="data").fit(moved[mask],
                                                        moved.loc[mask, "bs_failure"])
    for split, value in direct.thresholds_.items():
        assert report.thresholds.loc[split, "refit"] == value
        assert report.thresholds.loc[split, "abs_delta"] == abs(value - tree.thresholds_[split])
    assert report.verdicts.loc["refit", "agreement"] == (
        tree.predict(ref) == direct.predict(ref)).mean()


def test_compare_regeneration_recipe_tree_on_the_shipped_table():
    # no digits tree ships since the reference zoo: the tree of the check is the digits
    # Q1 recipe fitted on the table, as make_pretrained fits it
    from sklearn_mdtree.pretrained import PretrainedTree
    from sklearn_mdtree.pretrained._recipes import fit_document, read_zoo_table

    table = read_zoo_table()
    tree = PretrainedTree(fit_document("digits-mlp-q1", table, records=False))
    report = compare_regeneration(table, table.copy(), tree=tree)
    # refitted from the recipe's preset, the tree comes back exactly
    assert list(report.thresholds.index) == list(tree.estimator.thresholds_)
    assert (report.thresholds["abs_delta"] == 0).all()
    assert (report.verdicts["agreement"] == 1).all()
    assert report.identical
    assert {"bs_failure", "lr_failure"} <= set(report.labels.index)


def test_compare_regeneration_bad_tree(tables):
    with pytest.raises(TypeError, match="'tree' parameter of compare_regeneration"):
        compare_regeneration(*tables, tree="digits-mlp-q1")
    ref = _q1_table([0.1, 0.2, 0.3, 5.0, 6.0, 7.0, 8.0, 0.4])
    tree = MDTreeClassifier("q1").fit(ref.iloc[:7], ref["bs_failure"].iloc[:7])
    with pytest.raises(ValueError, match="'label' parameter of compare_regeneration"):
        compare_regeneration(ref, ref, tree=tree)


# ---------------------------------------------------------------------------
# Tolerances


def _report(max_abs, agreement):
    features = pd.DataFrame({"n": [4], "nan_mismatch": [0], "share_changed": [0.5],
                             "median_abs": [0.5], "p95_abs": [1.0], "max_abs": [max_abs],
                             "ks_statistic": [0.25], "ks_pvalue": [1.0]}, index=["test_acc"])
    labels = pd.DataFrame({"n": [4], "agreement": [agreement], "n_changed": [0]},
                          index=["bs_failure"])
    empty = pd.DataFrame()
    return RegenerationReport(features, labels, empty, empty, True, False, 4)


def test_measure_tolerances_exact():
    tol = measure_tolerances([_report(1.0, 0.75), _report(3.0, 1.0)], n_sd=3)
    # max_abs: mean 2, sd sqrt(2): 2 + 3 sqrt(2)
    assert tol["feature:test_acc:max_abs"] == {"bound": "<=",
                                               "value": pytest.approx(2 + 3 * math.sqrt(2))}
    # agreement: mean 0.875, sd 0.25 / sqrt(2): 0.875 - 0.75 / sqrt(2), less one row of 4
    assert tol["label:bs_failure:agreement"]["bound"] == ">="
    assert tol["label:bs_failure:agreement"]["value"] == pytest.approx(
        0.875 - 0.75 / math.sqrt(2) - 0.25)
    # no spread: the worst value itself; counts of rows one row wider
    assert tol["feature:test_acc:median_abs"]["value"] == 0.5
    assert tol["feature:test_acc:share_changed"]["value"] == 0.75
    assert tol["feature:test_acc:nan_mismatch"]["value"] == 1
    assert tol["feature:test_acc:ks_statistic"]["value"] == 0.5
    # a bound no value can break is left out: an agreement down to 0, a share up to 1
    wide = measure_tolerances([_report(1.0, 0.0), _report(1.0, 1.0)], n_sd=3)
    assert "label:bs_failure:agreement" not in wide
    assert "feature:test_acc:share_changed" in wide
    changed = _report(1.0, 1.0)
    changed.features["share_changed"] = 0.75  # + one row of 4: 1
    assert "feature:test_acc:share_changed" not in measure_tolerances([changed, changed])
    with pytest.raises(ValueError, match="at least two reports"):
        measure_tolerances([_report(1.0, 1.0)])


def test_check_regeneration_pass_fail_and_missing():
    tolerances = {
        "feature:test_acc:max_abs": {"bound": "<=", "value": 2.0},
        "label:bs_failure:agreement": {"bound": ">=", "value": 0.8},
        "feature:CKA:max_abs": {"bound": "<=", "value": 1.0},
    }
    result = check_regeneration(_report(2.0, 0.75), tolerances)
    checks = result.checks.set_index("statistic")
    assert checks.loc["feature:test_acc:max_abs", "passed"]
    assert not checks.loc["label:bs_failure:agreement", "passed"]
    assert not checks.loc["feature:CKA:max_abs", "passed"]  # not in the report: a failure
    assert np.isnan(checks.loc["feature:CKA:max_abs", "value"])
    assert result.n_failed == 2 and not result.passed  # two failed, one allowed
    assert check_regeneration(_report(2.0, 0.75), tolerances, max_failures=2).passed
    one = check_regeneration(_report(2.0, 0.9), tolerances)
    assert one.n_failed == 1 and one.passed
    assert not check_regeneration(_report(2.0, 0.9), tolerances, max_failures=0).passed
    assert one.to_text()[0] == "PASS: 2/3 checks pass (at most 1 may fail)"
    assert "feature:CKA:max_abs" in one.to_text()[2]
    with pytest.raises(ValueError, match="'max_failures' parameter of check_regeneration"):
        check_regeneration(_report(2.0, 0.75), tolerances, max_failures=-1)
    with pytest.raises(ValueError, match="bound of tolerance"):
        check_regeneration(_report(2.0, 0.75), {"x": {"bound": "<", "value": 1}})
    with pytest.raises(ValueError, match="'tolerances' parameter of check_regeneration"):
        check_regeneration(_report(2.0, 0.75), "no-such-preset")


def test_regeneration_tolerances_are_data():
    for preset, entry in REGENERATION_TOLERANCES.items():
        assert entry["source"]
        for name, tol in entry["tolerances"].items():
            assert tol["bound"] in ("<=", ">=") and math.isfinite(tol["value"]), name
            assert name.split(":")[0] in ("feature", "label", "verdict", "threshold")


# ---------------------------------------------------------------------------
# A regeneration under a perturbation, within the measured tolerances


@pytest.mark.slow
def test_tiny_zoo_regenerates_within_its_tolerances(tmp_path):
    # seed 1000 is none of those the tolerances were measured or checked with
    reference = regenerate_zoo("tiny", scale=0.0, cache_dir=tmp_path, verbose=0)
    moved = regenerate_zoo("tiny", scale=1e-7, seed=1000, cache_dir=tmp_path, verbose=0)
    report = compare_regeneration(reference, moved)
    assert report.configuration_columns_equal
    assert not report.identical  # the perturbation reached the table
    result = check_regeneration(report, "tiny")
    assert len(result.checks) > 50
    assert result.passed, "\n".join(result.to_text())
