"""CalibratedDiagnoser on constructed lattices whose answer is known; its JSON file."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from sklearn_mdtree.calibration import (
    ACTIONS,
    CalibratedDiagnoser,
    CalibrationFileError,
    load_calibrated,
)

FEATURES = ["train_error", "mode_connectivity_peak", "hessian_t", "CKA", "weight_norm_ratio"]


def _cluster_lattice(n_per=4, noise=0.3, seed=0):
    """Two well-separated clusters per action (10 clusters), n_per points each."""
    rng = np.random.default_rng(seed)
    rows = []
    for j, action in enumerate(ACTIONS):
        for c in range(2):
            center = np.array([10.0 * j, -5.0 * j - 20 * c, 4 + j + 3 * c, 0.1 * j + 0.05 * c,
                               np.exp(0.5 * j - c)])
            for r in range(n_per):
                x = center + rng.normal(0, noise, 5) * np.array([1, 1, 0.1, 0.005, 0.02])
                rows.append({**dict(zip(FEATURES, x)), "train_loss": 0.1, "n_classes": 10,
                             "data_fraction": 0.5 if action == "more data" else 1.0,
                             "action": action, "cluster": f"{action}/{c}",
                             "group": f"{action}/{c}/{r % 2}"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def lattice():
    return _cluster_lattice()


@pytest.fixture(scope="module")
def fitted(lattice):
    return CalibratedDiagnoser(n_classes=10).fit(lattice, lattice["action"],
                                                 groups=lattice["group"])


def test_well_separated_clusters_are_predicted_right(fitted):
    fresh = _cluster_lattice(n_per=2, noise=0.2, seed=1)
    assert (fitted.predict(fresh) == fresh["action"].to_numpy()).all()
    assert fitted.scores_[fitted.kind_].accuracy >= 0.9
    report = fitted.report(fresh)
    for entry, action in zip(report, fresh["action"]):
        expected = "keep as is" if action == "none" else action
        assert entry["verdict"] == expected, entry["reason"]
        assert 0.5 < entry["confidence"] < 1.0
        assert entry["in_domain"]


def test_every_candidate_is_scored_beside_a_constant_answer(fitted):
    assert set(fitted.scores_) == {"md_fixed", "md_learned", "tree", "knn", "logistic", "constant"}
    for score in fitted.scores_.values():
        low, high = score.interval
        assert 0 <= low <= score.accuracy and low <= high <= 1  # a posterior interval
    assert fitted.kind_ in ("md_fixed", "md_learned", "tree", "knn")
    assert "<- chosen" in fitted.summary()
    # the fixed leaves can never say "none": they lose on a lattice with "none" clusters
    assert fitted.scores_["md_fixed"].accuracy < fitted.scores_[fitted.kind_].accuracy


def test_a_far_group_abstains(fitted, lattice):
    far = lattice.iloc[[0]].copy()
    far["train_error"] = 1e4
    entry = fitted.report(far)[0]
    assert entry["verdict"] == "no reliable diagnosis"
    assert "out of the lattice's domain" in entry["reason"]
    assert entry["in_domain"] is False and entry["confidence"] is None


def test_training_failed_is_checked_first(fitted, lattice):
    diverged = lattice.iloc[[0]].copy()
    diverged["train_error"], diverged["train_loss"] = 90.0, 50.0
    entry = fitted.report(diverged)[0]
    assert entry["verdict"] == "training failed"
    assert entry["failure"]["kind"] == "diverged"


def test_more_data_is_not_said_where_no_data_is_left(fitted, lattice):
    row = lattice[lattice["action"] == "more data"].iloc[[0]].copy()
    assert fitted.report(row)[0]["verdict"] == "more data"
    row["data_fraction"] = 1.0
    entry = fitted.report(row)[0]
    if entry["action"] == "more data":  # the bit moved it out of the cluster otherwise
        assert entry["verdict"] == "no reliable diagnosis"


def test_a_missing_feature_abstains_and_predict_refuses(fitted, lattice):
    row = lattice.iloc[[0]].drop(columns="weight_norm_ratio")
    entry = fitted.report(row)[0]
    assert entry["verdict"] == "no reliable diagnosis"
    assert "weight_norm_ratio" in entry["reason"]
    with pytest.raises(ValueError, match="weight_norm_ratio"):
        fitted.predict(row)


def test_a_region_no_better_than_chance_abstains():
    # labels independent of the features: out of fold no better than a constant answer
    rng = np.random.default_rng(0)
    n = 40
    table = pd.DataFrame({"train_error": rng.normal(size=n), "CKA": rng.normal(size=n),
                          "action": rng.choice(["widen", "none"], n)})
    model = CalibratedDiagnoser(candidates=("knn",)).fit(table, table["action"])
    verdicts = [e["verdict"] for e in model.report(table)]
    assert verdicts.count("no reliable diagnosis") >= n // 4


def test_a_one_action_lattice_is_refused_in_one_line(lattice):
    one = lattice[lattice["action"] == "widen"]
    with pytest.raises(ValueError, match="at least 2 different actions") as info:
        CalibratedDiagnoser().fit(one, one["action"])
    assert "\n" not in str(info.value)


def test_unknown_actions_and_candidates_are_refused(lattice):
    with pytest.raises(ValueError, match="'y' parameter"):
        CalibratedDiagnoser().fit(lattice, ["small"] * len(lattice))
    with pytest.raises(ValueError, match="'candidates' parameter"):
        CalibratedDiagnoser(candidates=("svm",)).fit(lattice, lattice["action"])


def test_failed_lattice_rows_and_unmeasured_features_are_left_out(lattice):
    table = lattice.drop(columns="weight_norm_ratio").copy()
    table.loc[0, ["train_error", "train_loss"]] = [95.0, 40.0]
    model = CalibratedDiagnoser(n_classes=10).fit(table, table["action"],
                                                  groups=table["group"])
    assert "weight_norm_ratio" not in model.features_
    assert len(model.lattice_) == len(table) - 1
    assert any("failed" in n for n in model.notes_)


def test_params_are_stored_not_validated_in_init():
    model = CalibratedDiagnoser(cv="bad")
    assert model.cv == "bad"
    assert clone(CalibratedDiagnoser(n_neighbors=3)).n_neighbors == 3


# -- the file ----------------------------------------------------------------------------


def test_json_round_trip_gives_identical_predictions_and_reports(fitted, lattice, tmp_path):
    path = fitted.to_json(tmp_path / "calibrated.json")
    loaded = load_calibrated(path)
    fresh = _cluster_lattice(n_per=2, noise=1.0, seed=3)
    assert (loaded.predict(fresh) == fitted.predict(fresh)).all()
    assert loaded.report(fresh) == fitted.report(fresh)
    assert loaded.kind_ == fitted.kind_
    assert loaded.scores_ == fitted.scores_
    doc = json.loads(path.read_text())
    assert doc["format"] == "sklearn-mdtree/calibrated-diagnoser"
    assert set(doc["scores"]) >= {"md_fixed", "md_learned", "tree", "knn", "constant"}
    assert b"pickle" not in path.read_bytes()


@pytest.mark.parametrize("break_it, message", [
    (lambda d: "not json {", "not JSON"),
    (lambda d: json.dumps([1, 2]), "expected an object"),
    (lambda d: json.dumps({**d, "format": "other"}), "'format'"),
    (lambda d: json.dumps({k: v for k, v in d.items() if k != "scores"}), "missing keys"),
    (lambda d: json.dumps({**d, "kind": "svm"}), "'kind'"),
    (lambda d: json.dumps({**d, "lattice": {**d["lattice"], "rows": d["lattice"]["rows"][:2]}}),
     "at least 4 rows"),
    (lambda d: json.dumps({**d, "lattice": {**d["lattice"], "action": ["x"] * len(
        d["lattice"]["action"])}}), "'lattice.action'"),
    (lambda d: json.dumps({**d, "lattice_predictions": ["widen"] * len(
        d["lattice_predictions"])}), "does not predict"),
    (lambda d: json.dumps({**d, "params": {**d["params"], "cv": "five"}}), "'params'"),
    (lambda d: json.dumps(d)[:200], "not JSON"),
])
def test_the_loader_refuses_a_malformed_file_in_one_line(fitted, tmp_path, break_it,
                                                         message):
    doc = fitted.to_dict()
    path = tmp_path / "bad.json"
    path.write_text(break_it(doc))
    with pytest.raises(CalibrationFileError, match=message) as info:
        load_calibrated(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_the_loader_refuses_a_missing_file_in_one_line(tmp_path):
    with pytest.raises(CalibrationFileError, match="cannot be read"):
        load_calibrated(tmp_path / "nowhere.json")


def test_a_calibration_file_is_told_from_other_files(fitted, tmp_path):
    from sklearn_mdtree.calibration import is_calibration_file

    path = fitted.to_json(tmp_path / "c.json")
    other = tmp_path / "tree.json"
    other.write_text('{"format": "sklearn-mdtree/tree"}')
    assert is_calibration_file(path)
    assert not is_calibration_file(other)
    assert not is_calibration_file(tmp_path / "missing.json")


def test_the_interval_rule_abstains_more_than_the_mean_rule():
    rng = np.random.default_rng(1)
    n = 60
    x = rng.normal(size=n)
    # half the lattice predictable (x > 0), half noise
    action = np.where(x > 0, "widen", rng.choice(["widen", "none"], n))
    table = pd.DataFrame({"train_error": x, "CKA": rng.normal(size=n), "action": action})
    given = {}
    for rule in ("mean", "interval"):
        model = CalibratedDiagnoser(candidates=("knn",), region_rule=rule,
                                    select_by="accuracy").fit(table, table["action"])
        given[rule] = sum(e["confidence"] is not None for e in model.report(table))
    assert given["interval"] <= given["mean"]


def test_features_computed_otherwise_are_warned_naming_the_setting(lattice):
    from sklearn_mdtree.diagnosis._recipe import FeatureRecipe, RecipeWarning

    model = CalibratedDiagnoser(n_classes=10).fit(
        lattice, lattice["action"], groups=lattice["group"],
        recipe=FeatureRecipe(curve_epochs=50, n_pairs="all"))
    with pytest.warns(RecipeWarning, match="curve_epochs"):
        model.report(lattice.iloc[[0]], recipe={"curve_epochs": 15, "n_pairs": "all"})
    assert model.check_recipe({"curve_epochs": 50}) == []


# -- the abstention chosen on the lattice (region_rule="selected") ------------------------


def _pure_and_random(n_per=40, seed=0):
    """Region A (train_error < 0): the action is set by the sign of CKA; region B
    (train_error > 0): the action is drawn at random among three."""
    rng = np.random.default_rng(seed)
    rows = []
    for region in ("A", "B"):
        x = rng.uniform(-3, -1, n_per) if region == "A" else rng.uniform(1, 3, n_per)
        # away from the class boundary of region A: a kNN there is right
        c = rng.choice([-1, 1], n_per) * rng.uniform(0.3, 1, n_per)
        if region == "A":
            action = np.where(c > 0, "widen", "raise temperature")
        else:
            action = rng.choice(["widen", "raise temperature", "none"], n_per)
        for i in range(n_per):
            rows.append({"train_error": x[i], "CKA": c[i], "action": action[i],
                         "region": region, "group": f"{region}/{i % 8}"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def pure_and_random():
    table = _pure_and_random()
    # a high target: with 0.8 the rule may spend the slack of the pure region (right
    # every time) on a share of the random one, as it should (coverage is maximized
    # under a pooled accuracy)
    model = CalibratedDiagnoser(candidates=("knn",), target_accuracy=0.95).fit(
        table, table["action"], groups=table["group"])
    return table, model


def test_the_selected_rule_answers_the_pure_region_and_abstains_in_the_random_one(
        pure_and_random):
    _, model = pure_and_random
    fresh = _pure_and_random(n_per=30, seed=7)
    report = model.report(fresh)
    answered = np.array([e["confidence"] is not None for e in report])
    in_a = (fresh["region"] == "A").to_numpy()
    assert answered[in_a].mean() >= 0.8
    assert answered[~in_a].mean() <= 0.15
    right = [e["verdict"] == a for e, a in zip(report, fresh["action"]) if e["confidence"]]
    assert np.mean(right) >= 0.85


def test_the_chosen_threshold_meets_the_target_on_the_lattice_out_of_fold(pure_and_random):
    table, model = pure_and_random
    chosen = model.abstention_
    assert chosen.threshold is not None
    assert chosen.accuracy >= model.target_accuracy
    # region A is half the lattice: the rule answers about half of it, not all
    assert 0.3 <= chosen.coverage <= 0.7
    assert chosen.n == model.n_repeats * len(table)
    assert chosen.n_answered == round(chosen.coverage * chosen.n)
    assert chosen in model.abstention_scores_
    # the region answering most of the lattice wins
    assert chosen.n_answered == max(a.n_answered for a in model.abstention_scores_)
    assert {a.region for a in model.abstention_scores_} == {"model", 5, 10, 20, "proba"}
    summary = model.summary()
    assert "answers at this confidence were right" in summary and "<- chosen" in summary


def test_an_answer_states_the_lattice_accuracy_and_coverage_of_its_threshold(
        pure_and_random):
    table, model = pure_and_random
    entry = next(e for e in model.report(table) if e["confidence"] is not None)
    a = model.abstention_
    assert entry["confidence"] >= a.threshold
    assert (f"right {100 * a.accuracy:.0f}% of the time, {100 * a.coverage:.0f}% answered"
            in entry["reason"])
    assert entry["abstention"] == a.to_dict()
    below = next(e for e in model.report(table)
                 if e["verdict"] == "no reliable diagnosis" and e["in_domain"])
    assert "below the threshold" in below["reason"]


def test_a_lattice_that_is_all_noise_never_meets_a_high_target():
    rng = np.random.default_rng(0)
    n = 60
    table = pd.DataFrame({"train_error": rng.normal(size=n), "CKA": rng.normal(size=n),
                          "action": rng.choice(["widen", "none", "raise temperature"], n)})
    model = CalibratedDiagnoser(candidates=("knn",), target_accuracy=0.95).fit(
        table, table["action"], groups=np.arange(n) % 10)
    assert model.abstention_.coverage <= 0.1
    verdicts = [e["verdict"] for e in model.report(table)]
    assert verdicts.count("no reliable diagnosis") >= 0.8 * n


@pytest.mark.parametrize("confidence, correct, answerable, target, expected", [
    # every threshold: 1.0 -> 1/1, 0.8 -> 2/2, 0.6 -> 2/3, 0.4 -> 3/4
    ([1.0, 0.8, 0.6, 0.4], [1, 1, 0, 1], [1, 1, 1, 1], 0.75, (0.4, 0.75, 4)),
    ([1.0, 0.8, 0.6, 0.4], [1, 1, 0, 0], [1, 1, 1, 1], 0.75, (0.8, 1.0, 2)),
    ([1.0, 0.8, 0.6, 0.4], [0, 0, 0, 0], [1, 1, 1, 1], 0.5, (None, None, 0)),
    # an unanswerable case (out of domain) is never counted, whatever its confidence
    ([1.0, 0.8, 0.6, 0.4], [0, 1, 1, 0], [0, 1, 1, 1], 0.6, (0.4, 2 / 3, 3)),
    # ties: equal confidences are answered together
    ([0.5, 0.5, 0.9], [1, 0, 1], [1, 1, 1], 0.7, (0.9, 1.0, 1)),
])
def test_select_threshold_on_tiny_cases_by_hand(confidence, correct, answerable, target,
                                                expected):
    from sklearn_mdtree.calibration._diagnoser import select_threshold

    t, acc, k = select_threshold(np.array(confidence), np.array(correct, bool),
                                 np.array(answerable, bool), target)
    assert (t, k) == (expected[0], expected[2])
    assert acc == pytest.approx(expected[1]) if expected[1] is not None else acc is None


def test_bad_region_sizes_and_targets_are_refused_naming_them(lattice):
    with pytest.raises(ValueError, match="'region_sizes' parameter"):
        CalibratedDiagnoser(region_sizes=("model", 0)).fit(lattice, lattice["action"])
    with pytest.raises(ValueError, match="'target_accuracy' parameter"):
        CalibratedDiagnoser(target_accuracy=1.5).fit(lattice, lattice["action"])


def test_the_file_keeps_the_threshold_and_its_lattice_figures(pure_and_random, tmp_path):
    table, model = pure_and_random
    path = model.to_json(tmp_path / "c.json")
    doc = json.loads(path.read_text())
    assert doc["format_version"] == 2
    assert doc["abstention"]["chosen"] == model.abstention_.to_dict()
    loaded = load_calibrated(path)
    assert loaded.abstention_ == model.abstention_
    assert loaded.abstention_scores_ == model.abstention_scores_
    assert loaded.report(table) == model.report(table)


def test_a_version_1_file_is_read_with_the_region_rule_it_was_written_with(lattice,
                                                                           tmp_path):
    model = CalibratedDiagnoser(n_classes=10, region_rule="interval",
                                select_by="accuracy").fit(
        lattice, lattice["action"], groups=lattice["group"])
    doc = model.to_dict()
    # a version-1 document: no abstention, no target or region sizes in its params
    doc["format_version"] = 1
    del doc["abstention"]
    for key in ("target_accuracy", "region_sizes"):
        del doc["params"][key]
    loaded = load_calibrated(doc)
    assert loaded.region_rule == "interval" and loaded.abstention_ is None
    assert loaded.report(lattice) == model.report(lattice)
    doc["format_version"] = 3
    with pytest.raises(CalibrationFileError, match="format_version.*calibrate again"):
        load_calibrated(doc)


# -- the features, the logistic candidate, the probability as confidence, the choice by
#    coverage


def test_log_data_fraction_is_the_base_2_logarithm_of_the_data_fraction():
    from sklearn_mdtree.calibration._diagnoser import _feature_frame, _raw_columns

    X = pd.DataFrame({"data_fraction": [1.0, 0.5, 0.125, 0.0, np.nan]})
    T = _feature_frame(X, ["log_data_fraction", "all_data"])
    np.testing.assert_array_equal(T["log_data_fraction"].to_numpy()[:3], [0.0, -1.0, -3.0])
    assert np.isnan(T["log_data_fraction"].to_numpy()[3:]).all()
    np.testing.assert_array_equal(T["all_data"].to_numpy()[:4], [1.0, 0.0, 0.0, 0.0])
    assert _raw_columns(["log_data_fraction", "CKA_se"]) == ("data_fraction", "CKA_se")


def _linear_lattice(n=48, seed=0):
    """Two actions split by the sign of one feature; the other is noise."""
    rng = np.random.default_rng(seed)
    a = np.concatenate([rng.uniform(-3, -0.5, n // 2), rng.uniform(0.5, 3, n // 2)])
    table = pd.DataFrame({"train_error": a, "CKA": rng.normal(size=n), "train_loss": 0.1,
                          "n_classes": 10, "data_fraction": 1.0})
    table["action"] = np.where(a > 0, "widen", "raise temperature")
    table["group"] = np.arange(n) % 8
    return table


def test_the_logistic_candidate_is_sklearns_on_standardized_features():
    from sklearn.linear_model import LogisticRegression

    table = _linear_lattice()
    model = CalibratedDiagnoser(["train_error", "CKA"], candidates=("logistic",),
                                region_sizes=("proba",)).fit(
        table, table["action"], groups=table["group"])
    assert model.kind_ == "logistic"
    Z = table[["train_error", "CKA"]].to_numpy()
    z = (Z - Z.mean(axis=0)) / Z.std(axis=0, ddof=1)
    reference = LogisticRegression(max_iter=5000).fit(z, table["action"])
    fresh = pd.DataFrame({"train_error": [-2.0, 2.5, 0.1], "CKA": [0.0, 0.3, -0.2],
                          "train_loss": 0.1, "data_fraction": 1.0})
    zf = (fresh[["train_error", "CKA"]].to_numpy() - Z.mean(axis=0)) / Z.std(axis=0, ddof=1)
    assert model.predict(fresh).tolist() == reference.predict(zf).tolist()
    np.testing.assert_allclose(model.model_.proba(fresh[["train_error", "CKA"]]),
                               reference.predict_proba(zf).max(axis=1), rtol=1e-12)
    assert model.scores_["logistic"].accuracy == 1.0


def _by_hand(pairs, p):
    """(k + 1) / (n + 2) over the out-of-fold pairs whose probability is >= p."""
    above = [c for q, c in pairs if q >= p - 1e-12]
    return (sum(above) + 1) / (len(above) + 2)


def test_the_probability_region_answers_by_the_models_probability():
    table = _linear_lattice()
    model = CalibratedDiagnoser(["train_error", "CKA"], candidates=("logistic",),
                                region_sizes=("proba",), target_accuracy=0.9).fit(
        table, table["action"], groups=table["group"])
    assert model.abstention_.region == "proba"
    assert model.abstention_.accuracy >= 0.9
    fresh = pd.DataFrame({"train_error": [-2.5, 2.8], "CKA": [0.0, 0.1], "train_loss": 0.1,
                          "data_fraction": 1.0})
    expected = model.model_.proba(fresh[["train_error", "CKA"]])
    report = model.report(fresh)
    for entry, p in zip(report, expected):
        assert entry["verdict"] in ("widen", "raise temperature")
        assert p >= model.abstention_.threshold  # answered by the probability
        assert entry["confidence"] == pytest.approx(_by_hand(model.proba_oof_, p), rel=1e-12)
        assert entry["confidence"] < 1
        assert f"probability of this answer is {p:.2f}" in entry["reason"]
    # a candidate without a probability never answers by it
    none = CalibratedDiagnoser(["train_error", "CKA"], candidates=("md_learned",),
                               region_sizes=("proba",))
    table_md = table.assign(mode_connectivity_peak=table["CKA"], hessian_t=table["CKA"])
    none.set_params(features=["train_error", "mode_connectivity_peak", "hessian_t"])
    none.fit(table_md, table_md["action"], groups=table_md["group"])
    assert none.abstention_.threshold is None and none.abstention_.n_answered == 0


def test_the_kept_candidate_answers_the_most_of_the_lattice_by_coverage():
    table = _pure_and_random()
    by_coverage = CalibratedDiagnoser(candidates=("tree", "knn", "logistic"),
                                      select_by="coverage").fit(
        table, table["action"], groups=table["group"])
    assert set(by_coverage.coverage_by_kind_) == {"tree", "knn", "logistic"}
    assert by_coverage.abstention_.coverage == max(by_coverage.coverage_by_kind_.values())
    assert by_coverage.coverage_by_kind_[by_coverage.kind_] == by_coverage.abstention_.coverage
    by_accuracy = CalibratedDiagnoser(candidates=("tree", "knn", "logistic"),
                                      select_by="accuracy").fit(
        table, table["action"], groups=table["group"])
    best = max(("tree", "knn", "logistic"),
               key=lambda k: (by_accuracy.scores_[k].accuracy,
                              -("tree", "knn", "logistic").index(k)))
    assert by_accuracy.kind_ == best
    assert list(by_accuracy.coverage_by_kind_) == [best]
    assert by_coverage.abstention_.coverage >= by_accuracy.abstention_.coverage
    assert "answered the most of the lattice" in by_coverage.summary()


def test_a_logistic_probability_file_round_trips(tmp_path):
    table = _linear_lattice()
    model = CalibratedDiagnoser(["train_error", "CKA"], candidates=("tree", "logistic"),
                                region_sizes=("model", "proba")).fit(
        table, table["action"], groups=table["group"])
    loaded = load_calibrated(model.to_json(tmp_path / "c.json"))
    assert loaded.kind_ == model.kind_ and loaded.abstention_ == model.abstention_
    assert loaded.coverage_by_kind_ == model.coverage_by_kind_
    fresh = table.iloc[:6]
    assert loaded.report(fresh) == model.report(fresh)


def test_the_logistic_candidate_on_a_one_action_fold_answers_that_action():
    from sklearn_mdtree.calibration._diagnoser import _Logistic

    T = pd.DataFrame({"CKA": [0.1, 0.2, 0.3]})
    model = _Logistic().fit(T, np.array(["widen"] * 3, dtype=object))
    assert model.predict(T).tolist() == ["widen"] * 3
    np.testing.assert_array_equal(model.proba(T), [1.0, 1.0, 1.0])


def test_a_feature_named_twice_counts_once(lattice):
    model = CalibratedDiagnoser(["train_error", "CKA", "CKA"], candidates=("knn",)).fit(
        lattice, lattice["action"], groups=lattice["group"])
    assert model.features_ == ("train_error", "CKA")


@pytest.mark.parametrize("kind", ["tree", "knn", "logistic"])
def test_a_probability_verdicts_confidence_is_measured_on_the_lattice_never_1(kind):
    # on clean clusters the models' own probabilities are 1 (a pure leaf, a unanimous
    # vote, a saturated logistic): the confidence shown is the lattice's out-of-fold
    # share right at or above that probability, (k + 1) / (n + 2), never 1
    table = _cluster_lattice()
    model = CalibratedDiagnoser(candidates=(kind,), region_sizes=("proba",),
                                n_classes=10).fit(table, table["action"],
                                                  groups=table["group"])
    assert model.kind_ == kind and model.abstention_.region == "proba"
    pairs = model.proba_oof_
    assert pairs.ndim == 2 and pairs.shape[1] == 2
    assert 0 < len(pairs) <= model.n_repeats * len(table)
    assert set(np.unique(pairs[:, 1])) <= {0.0, 1.0}
    fresh = _cluster_lattice(n_per=2, noise=0.2, seed=1)
    from sklearn_mdtree.calibration._diagnoser import _feature_frame

    probability = model.model_.proba(_feature_frame(fresh, list(model.features_)))
    answered = 0
    for entry, p in zip(model.report(fresh), probability):
        if entry["confidence"] is None:
            continue
        answered += 1
        assert entry["confidence"] == pytest.approx(_by_hand(pairs, p), rel=1e-12)
        assert entry["confidence"] < 1
    assert answered >= len(fresh) // 2
    if kind in ("tree", "knn"):
        assert probability.max() == 1.0  # the raw probability would have shown 1.00


def test_a_probability_verdict_is_stated_as_measured_in_the_report_and_file(tmp_path):
    from sklearn_mdtree import diagnose
    from sklearn_mdtree.diagnosis._wording import (
        _CALIBRATED_PROBA_CONFIDENCE_RULE,
        _CALIBRATED_RAW_PROBA_CONFIDENCE_RULE,
    )

    table = _cluster_lattice()
    model = CalibratedDiagnoser(candidates=("tree",), region_sizes=("proba",),
                                n_classes=10).fit(table, table["action"],
                                                  groups=table["group"])
    fresh = _cluster_lattice(n_per=1, noise=0.2, seed=2)
    report = diagnose(fresh, tree=model)
    assert report.to_dict()["confidence_rule"] == _CALIBRATED_PROBA_CONFIDENCE_RULE
    text = report.to_text()
    assert "Confidence: 1.00" not in text
    assert _CALIBRATED_PROBA_CONFIDENCE_RULE in text
    # the file keeps the pairs; a file written before them still loads, and says that
    # its confidence is the model's probability
    path = model.to_json(tmp_path / "c.json")
    loaded = load_calibrated(path)
    np.testing.assert_array_equal(loaded.proba_oof_, model.proba_oof_)
    assert loaded.report(fresh) == model.report(fresh)
    doc = json.loads(path.read_text())
    del doc["proba_oof"]
    old = load_calibrated(doc)
    assert old.proba_oof_ is None
    assert [e["verdict"] for e in old.report(fresh)] == \
        [e["verdict"] for e in model.report(fresh)]
    assert (diagnose(fresh, tree=old).to_dict()["confidence_rule"]
            == _CALIBRATED_RAW_PROBA_CONFIDENCE_RULE)
    doc["proba_oof"] = [[0.5, 2]]
    with pytest.raises(CalibrationFileError, match="proba_oof"):
        load_calibrated(doc)


@pytest.mark.parametrize("rule", ["interval", "mean"])
def test_the_choice_by_coverage_needs_the_selected_region_rule(lattice, rule):
    model = CalibratedDiagnoser(region_rule=rule, select_by="coverage")
    with pytest.raises(ValueError, match=r"'select_by'.*'coverage'.*region_rule='selected'.*"
                                         rf"got region_rule='{rule}'"):
        model.fit(lattice, lattice["action"], groups=lattice["group"])
    assert model.get_params()["select_by"] == "coverage"  # parameters untouched
    # the default select_by needs the default region rule: a fixed rule names its choice
    with pytest.raises(ValueError, match="select_by='accuracy'"):
        CalibratedDiagnoser(region_rule=rule).fit(lattice, lattice["action"])
