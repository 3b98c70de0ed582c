"""Tests of sklearn_mdtree.diagnose: domain of validity, margins, confidence, the report."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import sklearn_mdtree
from sklearn_mdtree import MDTreeClassifier, OutOfDomainWarning
from sklearn_mdtree._domain import FeatureDistribution
from sklearn_mdtree.diagnosis import recommend as route
from sklearn_mdtree.pretrained import PretrainedTree, load_tree

Q1 = load_tree("cifar10-resnet18-q1")
T = Q1.estimator.thresholds_  # t0 train_error, t1 connectivity, t2 hessian_t


def _row(**values):
    base = {"train_error": 2.0, "mode_connectivity_peak": -30.0, "hessian_t": 5.0}
    base.update(values)
    return pd.DataFrame({k: [v] for k, v in base.items()}, index=["m"])


def test_distance_in_the_training_spread():
    d = FeatureDistribution.from_values([0.0, 1.0, 2.0, 3.0, 4.0])  # IQR 2
    assert d.outside(2.0) == (None, 0.0)
    assert d.outside(4.0) == (None, 0.0)  # the range is closed
    assert d.outside(-1.0) == ("below", 0.5)
    assert d.outside(7.0) == ("above", 1.5)
    flat = FeatureDistribution.from_values([1.0, 1.0, 1.0, 1.0, 5.0])  # IQR 0 -> std
    assert flat.spread()[1] == "std"
    assert flat.outside(7.0)[1] == pytest.approx(2.0 / np.std([1, 1, 1, 1, 5], ddof=1))
    assert FeatureDistribution.from_values([3.0]).spread() == (1.0, "units")
    with pytest.raises(ValueError, match="all finite"):
        FeatureDistribution.from_values([1.0, np.nan])


def test_in_domain_diagnosis_is_the_routing_of_recommend():
    X = _row()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1")
    base = route(Q1.estimator, X)
    g = report[0]
    assert (g.action, g.q1.label, g.q1.regime) == (base[0].action, base[0].q1.label,
                                                   base[0].q1.regime)
    assert [d.split for d in g.q1.decisions] == [d.split for d in base[0].q1.path]
    assert not g.out_of_domain and g.warnings == ()
    assert all(f.in_domain for f in g.features)
    assert g.confidence is None  # no standard errors given
    assert "Confidence: unknown" in g.to_text()


def test_out_of_domain_feature_on_the_path_warns_and_says_so():
    # the digits MLP: hessian_t 0.31 below F's minimum 1.69
    low = Q1.distribution["hessian_t"]
    X = _row(hessian_t=0.31)
    with pytest.warns(OutOfDomainWarning, match=r"'m' \(hessian_t"):
        report = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1")
    g = report[0]
    assert g.out_of_domain and g.out_of_domain_features == ("hessian_t",)
    feature = {f.name: f for f in g.features}["hessian_t"]
    assert feature.side == "below" and feature.distance_unit == "IQR"
    assert feature.distance == pytest.approx((low.min - 0.31) / (low.q75 - low.q25))
    assert "extrapolation" in g.warnings[0] and "OUT OF DOMAIN" in g.to_text()
    assert report.to_dict()["groups"][0]["out_of_domain"] is True


def test_out_of_domain_feature_off_the_path_is_weighed_by_the_joint_check():
    # train_error 0 ends at t0; the sharpness is never read, yet the model is unlike
    # every training model: far outside the sharpness range, the joint check fires
    X = _row(train_error=0.0, hessian_t=0.31)
    with pytest.warns(OutOfDomainWarning, match=r"'m' \(joint\)"):
        g = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1")[0]
    assert g.out_of_domain_features == ()  # the path's own feature is fine
    assert g.out_of_domain and g.out_of_domain_checks == ("joint",)
    feature = {f.name: f for f in g.features}["hessian_t"]
    assert (feature.in_domain, feature.on_path) == (False, False)
    assert "not read on the path" in feature.domain_text()
    assert "joint check: taken together" in g.warnings[0]
    assert "besides, hessian_t = 0.31 lies" in g.warnings[0]


def test_features_the_trees_do_not_read_are_checked_where_x_has_them():
    q1 = Q1.distribution
    assert {"CKA", "hessian_e", "train_loss"} <= set(q1)  # F has them: recorded
    # a central training configuration of F, all seven features: inside every check
    joint = Q1.joint
    central = np.argmin((((joint.points - joint.center) / joint.scale) ** 2).sum(axis=1))
    inside = pd.DataFrame([joint.points[central]], columns=joint.features, index=["m"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = sklearn_mdtree.diagnose(inside, "cifar10-resnet18-q1")[0]
    assert [f.name for f in g.features] == ["train_error", "mode_connectivity_peak",
                                            "hessian_t", "train_loss", "hessian_e",
                                            "mode_connectivity", "CKA"]  # read first
    path = {d.feature for d in g.q1.decisions}
    assert [f.on_path for f in g.features] == [f.name in path for f in g.features]
    assert not g.out_of_domain and g.joint_checks[0].features == Q1.joint.features
    # the large MLP: CKA 0.97 above every F model's -- the joint check fires
    g = sklearn_mdtree.diagnose(_row(CKA=0.97), "cifar10-resnet18-q1", warn=False)[0]
    cka = g.features[-1]
    assert (cka.in_domain, cka.side) == (False, "above")
    assert cka.distance == pytest.approx((0.97 - q1["CKA"].max) / (q1["CKA"].q75
                                                                   - q1["CKA"].q25))
    assert g.out_of_domain_checks == ("joint",) and g.out_of_domain_features == ()
    # the training configuration of the largest CKA, nudged just above the range:
    # shown outside, not flagged
    top = joint.points[np.argmax(joint.points[:, joint.features.index("CKA")])]
    nudged = pd.DataFrame([top], columns=joint.features).assign(CKA=q1["CKA"].max + 1e-3)
    g = sklearn_mdtree.diagnose(nudged, "cifar10-resnet18-q1", warn=False)[0]
    assert g.features[-1].in_domain is False and not g.out_of_domain
    # a column that is not a number counts as missing: unknown, not flagged
    g = sklearn_mdtree.diagnose(_row(CKA="n/a"), "cifar10-resnet18-q1", warn=False)[0]
    assert g.features[-1].in_domain is None


def test_margins_borderline_rule_and_confidence():
    se = {"train_error_se": 0.5, "mode_connectivity_peak_se": 2.0}
    # hessian_t 0.15 SE below t2 -> borderline; the others far
    X = _row(hessian_t=T["t2"] - 0.15, hessian_t_se=0.1, **se)
    g = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1", q2_tree=None)[0]
    margins = {d.split: d.margin_se for d in g.q1.decisions}
    assert margins["t2"] == pytest.approx(-1.5)
    assert margins["t0"] == pytest.approx((2.0 - T["t0"]) / 0.5)
    assert [d.borderline for d in g.q1.decisions] == [False, False, True]
    assert g.borderline and "borderline" in g.warnings[0]
    expected = (norm.sf((T["t0"] - 2.0) / 0.5) * norm.cdf((T["t1"] + 30.0) / 2.0)
                * norm.cdf(1.5))
    assert g.noise_confidence == pytest.approx(expected)
    # times the regime's measured accuracy, (k + 1) / (n + 2)
    leaf = sklearn_mdtree.pretrained.load_tree("cifar10-resnet18-q1").regime_accuracy[
        "leaves"][g.q1.regime]
    posterior = (leaf["n_correct"] + 1) / (leaf["n"] + 2)
    assert g.confidence == pytest.approx(expected * posterior)
    # a looser rule: not borderline
    g1 = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1", q2_tree=None, borderline=1.0)[0]
    assert not g1.borderline
    # a zero standard error is exact: confidence from the sides alone
    X0 = _row(hessian_t_se=0.0, train_error_se=0.0, mode_connectivity_peak_se=0.0)
    g0 = sklearn_mdtree.diagnose(X0, "cifar10-resnet18-q1", q2_tree=None)[0]
    assert g0.noise_confidence == 1 and g0.confidence < 1  # never 1: the tree's own error


def test_confidence_joins_both_paths_on_a_shared_feature():
    # train_error between Q1's t0 (0.146) and Q2's t0 (1.0): one interval (0.146, 1.0]
    q2 = load_tree("cifar10-resnet18-q2").estimator.thresholds_["t0"]
    value, se = 0.5, 0.3
    X = _row(train_error=value, train_error_se=se, mode_connectivity_peak_se=1e-9,
             hessian_t_se=1e-9)
    g = sklearn_mdtree.diagnose(X, "cifar10-resnet18")[0]
    inside = norm.cdf((q2 - value) / se) - norm.cdf((T["t0"] - value) / se)
    assert g.noise_confidence == pytest.approx(inside, rel=1e-6)
    assert g.noise_confidence < min(g.q1.confidence, g.q2.confidence) + 1e-12
    assert g.confidence < g.noise_confidence  # times the regimes' measured accuracy


def test_cause_follows_the_optimizer():
    X = _row()  # Q1 large: too hot
    bs = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1", q2_tree=None)[0]
    lr = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1", q2_tree=None,
                                 optimizer="learning rate")[0]
    assert bs.action == "increase batch size" and "batch size is too small" in bs.failure_source
    assert lr.action == "decrease learning rate"
    assert "learning rate is too large" in lr.failure_source
    cold = sklearn_mdtree.diagnose(_row(train_error=0.0), "cifar10-resnet18-q1",
                                   q2_tree=None, optimizer="learning rate")[0]
    assert cold.action == "increase learning rate"
    assert "learning rate is too small" in cold.failure_source


def test_report_is_json_able_equal_for_equal_inputs_and_a_frame():
    X = pd.concat([_row(), _row(hessian_t=0.31).rename(index={"m": "n"})])
    X["hessian_t_se"] = [0.1, np.nan]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        a = sklearn_mdtree.diagnose(X)
        b = sklearn_mdtree.diagnose(X.copy())
    assert a == b and a[0] == b[0]
    d = json.loads(json.dumps(a.to_dict()))
    assert d == a.to_dict()
    assert d["schema"] == "sklearn-mdtree/diagnosis-report"
    assert set(d["groups"][0]) >= {"model", "action", "failure_source", "confidence",
                                   "features", "q1", "q2", "warnings", "out_of_domain"}
    assert d["groups"][1]["features"][2]["se"] is None  # NaN -> None
    assert d["trees"]["q2"]["name"] == "cifar10-resnet18-q2"
    frame = a.to_frame()
    assert list(frame.index) == ["m", "n"]
    assert frame.loc["n", "out_of_domain"]
    assert frame.loc["n", "out_of_domain_features"] == "hessian_t"
    assert "Model n:" in a.to_text() and "Q2 tree: cifar10-resnet18-q2" in a.to_text()


def test_tree_choices_and_fit_on():
    X = _row()
    mine = MDTreeClassifier("q1").fit(pd.concat([_row(), _row(train_error=0.0)]),
                                      ["large", "small"])
    report = sklearn_mdtree.diagnose(X, mine, q2_tree=None)
    g = report[0]
    # issue 23: a wrapped estimator was "tree (unnamed)"; it is named by its preset
    assert g.features[0].in_domain is None and g.q1.tree == "q1 (fitted by you)"
    assert "(unnamed)" not in report.to_text()
    assert "Q1 tree: q1 (fitted by you)" in report.to_text()
    table = pd.concat([_row(train_error=float(e), hessian_t=float(h)) for e, h in
                       [(0.0, 5), (3.0, 4), (4.0, 8), (5.0, 3)]], ignore_index=True)
    table["bs_failure"] = ["small", "large", "small", "optimal"]
    g = sklearn_mdtree.diagnose(X, fit_on=table, warn=False)[0]
    assert g.q2 is None and g.q1.tree.startswith("fitted on")
    wrapped = PretrainedTree.from_estimator(mine, pd.concat([_row(), _row(train_error=0.0)]))
    assert wrapped.name == "q1 (fitted by you)"
    own = MDTreeClassifier(sklearn_mdtree.get_preset("q1")).fit(
        pd.concat([_row(), _row(train_error=0.0)]), ["large", "small"])
    assert PretrainedTree.from_estimator(own).name == "your hierarchy for bs_failure (fitted by you)"
    with pytest.warns(OutOfDomainWarning):
        sklearn_mdtree.diagnose(_row(train_error=40.0), wrapped, q2_tree=None)
    with pytest.raises(ValueError, match="exclusive"):
        sklearn_mdtree.diagnose(X, "cifar10-resnet18", fit_on=table)
    with pytest.raises(ValueError, match="is a Q2 tree"):
        sklearn_mdtree.diagnose(X, "cifar10-resnet18-q2")
    with pytest.raises(ValueError, match="bs_failure"):
        sklearn_mdtree.diagnose(X, fit_on=table.drop(columns="bs_failure"))
    with pytest.raises(ValueError, match="standard errors >= 0"):
        sklearn_mdtree.diagnose(_row(hessian_t_se=-1.0), "cifar10-resnet18-q1")
    with pytest.raises(ValueError, match="missing the column"):
        sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1-similarity")


def test_a_feature_inside_the_range_but_outside_its_regime_is_out_of_domain():
    X = pd.DataFrame({"train_error": [0.0, 0.0, 5.0, 6.0, 7.0, 8.0],
                      "mode_connectivity_peak": [-1.0, -2.0, -40.0, -35.0, -38.0, -1.0],
                      "hessian_t": [8.0, 8.0, 5.0, 5.5, 8.5, 6.0]})
    y = ["small", "small", "large", "large", "small", "large"]
    tree = MDTreeClassifier("q1", threshold_search="exhaustive").fit(X, y)
    wrapped = PretrainedTree.from_estimator(tree, X, name="toy")
    query = pd.DataFrame({"train_error": [7.9], "mode_connectivity_peak": [-36.0],
                          "hessian_t": [5.2]}, index=["q"])
    regime = tree.apply(query)[0]
    members = X[tree.apply(X) == regime]
    assert len(members) == 2 and query["train_error"].iloc[0] > members["train_error"].max()
    with pytest.warns(OutOfDomainWarning):
        g = sklearn_mdtree.diagnose(query, wrapped, q2_tree=None)[0]
    assert all(f.in_domain for f in g.features)  # inside every marginal range
    assert g.out_of_domain_features == ("train_error",)
    assert "2 training configurations in the same regime" in g.warnings[0]
    # a regime no training configuration reached
    doc = wrapped.to_dict()
    doc["regime_distribution"][regime] = None
    g = sklearn_mdtree.diagnose(query, PretrainedTree.from_dict(doc), q2_tree=None,
                                warn=False)[0]
    assert f"no training configuration fell in regime {regime}" in g.warnings[0]


@pytest.mark.parametrize(
    "se, message",
    [
        ("0.1x", "must hold numbers"),  # text: not a missing standard error
        (float("inf"), "finite standard errors"),
        (-float("inf"), "finite standard errors"),
    ],
)
def test_standard_error_columns_hold_finite_numbers(se, message):
    X = _row(hessian_t_se=se)
    before = X.copy()
    with pytest.raises(ValueError, match=message) as caught:
        sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1", warn=False)
    assert "hessian_t_se" in str(caught.value) and "'m'" in str(caught.value)
    pd.testing.assert_frame_equal(X, before)


def test_missing_standard_errors_are_allowed():
    report = sklearn_mdtree.diagnose(_row(hessian_t_se=np.nan), "cifar10-resnet18-q1", warn=False)
    assert report[0].q1.decisions


@pytest.mark.parametrize("tuples", [True, False])
def test_to_frame_of_a_multiindex_or_tuple_labels(tuples):
    """Issue 23: to_frame() of an X with a MultiIndex or tuple labels raised pandas'
    "Names should be list-like for a MultiIndex"."""
    X = pd.concat([_row(), _row(hessian_t=0.31)])
    labels = [("a", 1), ("b", 2)]
    X.index = (pd.Index(labels, tupleize_cols=False) if tuples
               else pd.MultiIndex.from_tuples(labels, names=["arch", "seed"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        report = sklearn_mdtree.diagnose(X)
    frame = report.to_frame()
    assert frame.index.name == "model" and frame.index.nlevels == 1
    assert list(frame.index) == labels
    assert frame.loc[[("b", 2)], "action"].iloc[0] == report[1].action
    assert "('a', 1)" in frame.to_csv()


GLOSSARY_TERMS = ("temperature", "regime", "small / large", "IQR", "joint check",
                  "5th nearest training configuration")


@pytest.mark.parametrize("optimizer", ["batch size", "learning rate"])
def test_report_explains_the_papers_words(optimizer):
    """Issue 23: a reader who never read the paper finds each word of the report
    explained on the page, in the terms of the optimizer named."""
    from sklearn_mdtree.diagnosis._html import render_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        report = sklearn_mdtree.diagnose(_row(), optimizer=optimizer)
    text = report.to_text()
    words = text[text.index("Words used:"):text.index("Model m:")]
    for term in GLOSSARY_TERMS:
        assert f"\n  {term}: " in words, term
    assert "interquartile range" in words and "noise in the optimizer's steps" in words
    other = "learning rate" if optimizer == "batch size" else "batch size"
    assert f"the {optimizer})" in words and f"crease the {other})" not in words
    page = render_report(report, pictures=False)
    for term in GLOSSARY_TERMS:
        assert f"<dt>{term}</dt><dd>" in page, term


def test_two_trees_with_different_training_ranges_say_whose_range():
    """Issue 23: one report gave two training ranges for one feature without saying
    which: the Q1 tree's training set (every non-'optimal' bs_failure row) and the Q2
    tree's (every non-'optimal' width_vs_batch row) differ."""
    rng = np.random.default_rng(0)
    n = 80
    table = pd.DataFrame({
        "train_error": rng.uniform(0, 40, n), "mode_connectivity_peak": rng.uniform(-60, -10, n),
        "hessian_t": rng.uniform(3, 8, n), "CKA": rng.uniform(0.1, 0.9, n),
        "bs_failure": np.resize(["small", "large"], n),
        "width_vs_batch": np.resize(["width", "batch", "optimal", "batch"], n)})
    # rows only Q1 is fitted on hold the widest train_error
    table.loc[table.width_vs_batch == "optimal", "train_error"] = 45.0
    X = pd.DataFrame({"train_error": [60.0], "mode_connectivity_peak": [-30.0],
                      "hessian_t": [5.0], "CKA": [0.5]}, index=["m"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = sklearn_mdtree.diagnose(X, fit_on=table)
    q2_max = table.loc[table.width_vs_batch != "optimal", "train_error"].max()
    text = report.to_text()
    # the range check (Q1's path) and the feature line (farthest outside: Q2's) each
    # say whose range they give
    assert ("range of all the Q1 tree's training configurations (0.1095 .. 45)" in text)
    feature = next(f for f in report[0].features if f.name == "train_error")
    assert (feature.training_tree, feature.training_max) == ("Q2", q2_max)
    assert f"above the Q2 tree's training range 0.1095 .. {q2_max:.4g})" in text
    assert "the training configurations (0.1095 .. 45)" not in text
    assert report.to_dict()["groups"][0]["features"][0]["training_tree"] == "Q2"
    # a feature with one range in both trees is not named
    hessian = next(f for f in report[0].features if f.name == "hessian_t")
    assert hessian.training_tree is None and "inside the training range" in hessian.domain_text()
    assert "(Q2 tree)" in report.to_html()


def test_a_tree_file_named_with_the_second_separator_is_read_as_a_file(tmp_path,
                                                                        monkeypatch):
    # "sub\\q1" names a file where os.altsep is a backslash (Windows has "/" there):
    # it is read, not looked up as a shipped name
    from sklearn_mdtree.pretrained._io import dumps

    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub\\q1").write_text(dumps(Q1.to_dict()))
    with pytest.raises(ValueError, match="Unknown pretrained tree"):  # no altsep: a name
        sklearn_mdtree.diagnose(_row(), tree="sub\\q1", q2_tree=None)
    monkeypatch.setattr("os.altsep", "\\")
    report = sklearn_mdtree.diagnose(_row(), tree="sub\\q1", q2_tree=None)
    assert report == sklearn_mdtree.diagnose(_row(), tree=Q1, q2_tree=None)


@pytest.mark.parametrize("as_path", [False, True])
def test_a_q2_tree_file_is_read_as_a_tree_file_is(tmp_path, as_path):
    # q2_tree takes a file as tree does (a .json ending, a separator or a path object)
    from sklearn_mdtree.pretrained._io import dumps

    q2 = load_tree("cifar10-resnet18-q2")
    path = tmp_path / "mine.json"
    path.write_text(dumps(q2.to_dict()))
    X = _row(CKA=0.5)
    report = sklearn_mdtree.diagnose(X, Q1, q2_tree=path if as_path else str(path), warn=False)
    assert report == sklearn_mdtree.diagnose(X, Q1, q2_tree=q2, warn=False)
    assert report[0].q2 is not None


def test_a_q1_tree_as_q2_tree_is_named_in_diagnose_words(tmp_path):
    from sklearn_mdtree.pretrained._io import dumps

    path = tmp_path / "q1.json"
    path.write_text(dumps(Q1.to_dict()))
    for q2_tree in ("cifar10-resnet18-q1", str(path), Q1):
        with pytest.raises(ValueError, match=r"The 'q2_tree' parameter of diagnose must be a "
                           r"Q2 tree; got 'cifar10-resnet18-q1', a Q1 tree .*pass it as tree"):
            sklearn_mdtree.diagnose(_row(), Q1, q2_tree=q2_tree)
    with pytest.raises(ValueError, match="'tree' parameter of diagnose must be a Q1 tree; got "
                       "'cifar10-resnet18-q2', a Q2 tree .*pass it as q2_tree"):
        sklearn_mdtree.diagnose(_row(), load_tree("cifar10-resnet18-q2"), q2_tree=None)
