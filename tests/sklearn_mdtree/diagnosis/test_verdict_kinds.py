"""The four verdict kinds of sklearn_mdtree.diagnose on constructed cases: training
failed (diverged, stalled), keep as is, no reliable diagnosis (out of domain, a regime
no better than chance), change; the confidence with the tree's own error; the recipe
check."""

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import sklearn_mdtree
from sklearn_mdtree import OutOfDomainWarning, RecipeWarning
from sklearn_mdtree.pretrained._recipes import read_zoo_table

IN_F = {"train_error": 2.0, "mode_connectivity_peak": -30.0, "hessian_t": 5.0,
        "hessian_t_se": 0.1}


def _quiet(X, tree="cifar10-resnet18-q1", **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        return sklearn_mdtree.diagnose(X, tree, **kwargs)


def test_a_diverged_group_is_training_failed_before_any_tree():
    X = pd.DataFrame([dict(IN_F, train_error=90.0, train_loss=9.0, n_classes=10)],
                     index=["hot"])
    g = _quiet(X)[0]
    assert g.verdict_kind == "training failed"
    assert g.action == "training failed: increase batch size"
    assert g.training_failure["kind"] == "diverged" and g.confidence is None
    text = g.to_text()
    assert "Verdict: training failed" in text and "confidently wrong" in text
    assert "Confidence: none" in text and "Confidence: 1.00" not in text
    lr = _quiet(X, optimizer="learning rate")[0]
    assert lr.action == "training failed: decrease learning rate"
    # the trees' reading stays in the report as information
    assert g.q1 is not None and g.to_dict()["q1"]["label"] in ("small", "large")


def test_a_stalled_group_is_training_failed_with_the_evidence():
    X = pd.DataFrame([dict(IN_F, train_error=89.0, train_loss=2.30, weight_norm_ratio=1.01)],
                     index=["cold"])
    g = _quiet(X, n_classes=10)[0]  # the chance level from the parameter
    assert g.verdict_kind == "training failed"
    assert g.training_failure["kind"] == "stalled"
    # a stall names the failure, not one change (raising the temperature and widening
    # both fix stalls; which one is not known from the features)
    assert g.action == "training failed: stalled (no single change recommended)"
    assert (g.hyperparameter, g.direction) == ("", "")  # nor in the frame, CSV or JSON
    row = _quiet(X, n_classes=10).to_frame().iloc[0]
    assert (row["hyperparameter"], row["direction"]) == ("", "")
    assert any("barely moved" in e for e in g.kind_evidence)
    d = g.to_dict()
    assert d["verdict_kind"] == "training failed" and d["training_failure"]["advice"]


def test_without_the_chance_level_the_check_notes_what_it_lacked():
    X = pd.DataFrame([dict(IN_F, train_error=89.0, train_loss=2.30)], index=["?"])
    g = _quiet(X)[0]
    assert g.verdict_kind != "training failed"
    assert any("chance level is unknown" in n for n in g.notes)


def _keep_table():
    rng = np.random.default_rng(0)

    def block(n, err, conn, hess, label):
        return pd.DataFrame({"train_error": rng.uniform(*err, n),
                             "mode_connectivity_peak": rng.uniform(*conn, n),
                             "hessian_t": rng.uniform(*hess, n), "bs_failure": label})

    return pd.concat([
        block(10, (0.01, 0.1), (-3, -1), (5, 7), "small"),
        block(10, (5, 10), (-40, -30), (3, 5), "large"),
        block(10, (5, 10), (-40, -30), (8, 10), "small"),
        block(10, (5, 10), (-3, -1), (5, 7), "large"),
        block(15, (5, 10), (-40, -30), (8, 10), "optimal"),  # tuned: no move helped
    ], ignore_index=True)


def test_a_tuned_group_is_kept_as_is():
    table = _keep_table()
    X = pd.DataFrame([{"train_error": 7.5, "mode_connectivity_peak": -35.0,
                       "hessian_t": 9.0, "train_error_se": 0.05,
                       "mode_connectivity_peak_se": 0.05, "hessian_t_se": 0.05}],
                     index=["tuned"])
    report = sklearn_mdtree.diagnose(X, fit_on=table, q2_tree=None)
    g = report[0]
    assert g.verdict_kind == "keep as is" and g.action == "keep as is"
    assert "gained nothing from any one-step move" in g.to_text()
    assert g.confidence is not None and g.confidence < 1
    # elsewhere the same tree recommends a change
    X2 = X.assign(hessian_t=4.0)
    assert sklearn_mdtree.diagnose(X2, fit_on=table, q2_tree=None)[0].verdict_kind == "change"


def test_an_out_of_domain_group_abstains_and_prints_no_confidence():
    X = pd.DataFrame([dict(IN_F, train_error=48.67, mode_connectivity_peak=-60.0,
                           train_error_se=0.1, mode_connectivity_peak_se=0.5)],
                     index=["far"])
    with pytest.warns(OutOfDomainWarning):
        report = sklearn_mdtree.diagnose(X, "cifar10-resnet18")
    g = report[0]
    assert g.verdict_kind == "no reliable diagnosis" and g.action == "no reliable diagnosis"
    assert g.abstain_reason.startswith("No reliable diagnosis: the model is unlike")
    assert g.confidence is None and g.noise_confidence is not None
    text = g.to_text()
    assert not re.search(r"Confidence: \d", text)
    assert "information only" in text and "Q1: is the optimizer" in text
    row = report.to_frame().iloc[0]
    assert row["verdict_kind"] == "no reliable diagnosis" and row["abstain_reason"]


def _digits_q1():
    """The digits Q1 tree as make_pretrained fits it (not shipped: see NOT_SHIPPED)."""
    from sklearn_mdtree.pretrained import PretrainedTree
    from sklearn_mdtree.pretrained._recipes import fit_document

    return PretrainedTree(fit_document("digits-mlp-q1", read_zoo_table()))


def test_a_regime_no_better_than_chance_abstains():
    # the digits Q1 tree: no regime's out-of-fold accuracy clearly beats the constant
    table = read_zoo_table()
    clean = table[(table["collection"] == "normal") & (table["bs_failure"] != "optimal")]
    X = clean.iloc[[0]][["train_error", "mode_connectivity_peak", "hessian_t"]]
    g = _quiet(X, _digits_q1())[0]
    assert g.verdict_kind == "no reliable diagnosis"
    assert "not clearly better than a constant answer" in g.abstain_reason


def _twelve(n_small):
    rng = np.random.default_rng(1)
    table = pd.DataFrame({"train_error": np.r_[rng.uniform(0.01, 0.1, n_small),
                                               rng.uniform(5, 10, 12 - n_small)],
                          "mode_connectivity_peak": rng.uniform(-3, -1, 12),
                          "hessian_t": rng.uniform(5, 7, 12)})
    table["bs_failure"] = ["small"] * n_small + ["large"] * (12 - n_small)
    return table


SURE = pd.DataFrame([{"train_error": 7.0, "mode_connectivity_peak": -2.0, "hessian_t": 6.0,
                      "train_error_se": 1e-6, "mode_connectivity_peak_se": 1e-6,
                      "hessian_t_se": 1e-6}], index=["m"])


def _stump_on(table):
    """A one-split Q1 tree fitted on ``table``, with its records measured (as the
    run-time routes measure them)."""
    from sklearn_mdtree import Hierarchy, Leaf, MDTreeClassifier, Split
    from sklearn_mdtree.diagnosis._trees import measured
    from sklearn_mdtree.pretrained import PretrainedTree

    X, y = table.drop(columns="bs_failure"), table["bs_failure"]
    est = MDTreeClassifier(Hierarchy(Split("t0", "train_error", None, None,
                                           left=Leaf("small"), right=Leaf("large")),
                                     task="bs_failure"), threshold_search="exhaustive")
    est.fit(X, y)
    return PretrainedTree.from_estimator(est, X, name="stump",
                                         **measured(est, X, y, X, y))


def test_a_tree_fitted_on_12_configurations_cannot_say_1():
    # 6 and 6: the verdict is given, at most (6 + 1) / (6 + 2) sure, however precise
    # the features
    g = sklearn_mdtree.diagnose(SURE, _stump_on(_twelve(6)), q2_tree=None)[0]
    assert g.verdict_kind == "change"
    assert g.noise_confidence == pytest.approx(1.0)
    assert g.confidence <= 7 / 8 + 1e-12 and "Confidence: 0.88" in g.to_text()
    # 11 of them in one leaf (the case): 11 of 11 right out of fold is not
    # clearly better than answering "large" always (11 of 12): no verdict at all
    g = sklearn_mdtree.diagnose(SURE, _stump_on(_twelve(1)), q2_tree=None)[0]
    assert g.verdict_kind == "no reliable diagnosis" and g.confidence is None
    assert "not clearly better than a constant answer" in g.abstain_reason
    assert "Confidence: 1.00" not in g.to_text()


def test_the_confidence_is_noise_times_the_regime_accuracy():
    X = pd.DataFrame([dict(IN_F, train_error_se=0.01, mode_connectivity_peak_se=0.5)],
                     index=["a"])
    g = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1")[0]
    leaf = sklearn_mdtree.pretrained.load_tree("cifar10-resnet18-q1").regime_accuracy[
        "leaves"][g.q1.regime]
    posterior = (leaf["n_correct"] + 1) / (leaf["n"] + 2)
    assert g.confidence == pytest.approx(g.noise_confidence * posterior)


def _recipe(**settings):
    base = {"curve_epochs": None, "curve_init": None, "n_pairs": None,
            "hessian_batch_size": None, "trace_method": None, "trace_matvecs": None,
            "version": None}
    return json.dumps(dict(base, **settings))


def test_features_computed_otherwise_warn_naming_the_setting():
    table = read_zoo_table()
    row = table[table["collection"] == "normal"].iloc[[0]][
        ["train_error", "mode_connectivity_peak", "hessian_t"]].copy()
    row["feature_recipe"] = _recipe(curve_epochs=15, trace_method="deflated")
    tree = _digits_q1()  # its features: 50 curve epochs, the deflated trace
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        with pytest.warns(RecipeWarning, match="curve_epochs"):
            report = sklearn_mdtree.diagnose(row, tree)
    g = report[0]
    assert any("curve_epochs: the tree's features used 50, yours 15" in w for w in g.warnings)
    assert not any("trace_method" in w for w in g.warnings)  # same setting: silent
    # the same recipe as the tree's: no warning
    row["feature_recipe"] = _recipe(curve_epochs=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        warnings.simplefilter("error", RecipeWarning)
        sklearn_mdtree.diagnose(row, tree)


def test_features_without_a_recipe_get_a_note_stating_the_trees():
    g = sklearn_mdtree.diagnose(pd.DataFrame([IN_F]), "cifar10-resnet18-q1")[0]
    assert any("recipe is unknown" in n and "curve_epochs=50" in n for n in g.notes)


def test_a_family_not_shipped_is_refused_saying_why():
    # neither digits tree clears is_shippable since the reference zoo (issue 21)
    table = read_zoo_table()
    X = table.iloc[[0]][["train_error", "mode_connectivity_peak", "hessian_t"]]
    for name in ("digits-mlp", "digits-mlp-q1"):
        with pytest.raises(ValueError, match=r"is not shipped: \['digits-mlp-q1'") as e:
            _quiet(X, name)
        assert "constant answer" in str(e.value) and "fit_on" in str(e.value)


def test_every_report_states_each_trees_measured_validity():
    report = sklearn_mdtree.diagnose(pd.DataFrame([IN_F]), "cifar10-resnet18")
    text = report.to_text()
    assert text.count("Measured validity: held-out accuracy") == 2
    d = report.to_dict()
    assert d["schema_version"] == 2
    assert d["trees"]["q1"]["validity"]["constant_accuracy"] < d["trees"]["q1"][
        "validity"]["tree_accuracy"]
    html = report.to_html() if _has_matplotlib() else ""
    assert not html or "Measured validity: held-out accuracy" in html


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_a_tree_without_measured_accuracy_cannot_say_1():
    # a bare estimator records no regime accuracy: exact features (se 0) used to give 1.00
    import sklearn_mdtree
    from sklearn_mdtree.pretrained import load_tree

    X = pd.DataFrame({"train_error": [2.0], "mode_connectivity_peak": [-30.0],
                      "hessian_t": [5.0], "hessian_t_se": [0.0], "train_error_se": [0.0],
                      "mode_connectivity_peak_se": [0.0]}, index=["run"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = sklearn_mdtree.diagnose(X, load_tree("cifar10-resnet18-q1").estimator)[0]
    assert g.verdict_kind == "change" and g.noise_confidence == 1.0
    assert g.confidence == 0.5
    assert any("records no measured accuracy" in n for n in g.notes)
