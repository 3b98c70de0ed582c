"""The calibration route of :func:`sklearn_mdtree.diagnose`: a calibrated diagnoser's
per-group results as the same :class:`~sklearn_mdtree.DiagnosisReport`.

A :class:`~sklearn_mdtree.calibration.CalibratedDiagnoser` (or its JSON file, written
by ``mdtree calibrate``) is loaded once; :meth:`~CalibratedDiagnoser.report` gives
each group a verdict, its reason, its confidence and its distance to the lattice;
here they become :class:`~sklearn_mdtree.diagnosis.GroupReport` s with the verdict
kinds of every route ("change" with the action in the terms of the optimizer the
user names, "training failed", "keep as is", "no reliable diagnosis" with the
reason), rendered by the report's own text, table, dict and HTML. The report's
``trees["calibration"]`` states the calibration's measured accuracy (the candidate
that won the cross-validation on the lattice, its accuracy with its interval beside
a constant answer's) and the lattice's size. The training check and the feature
recipe check are the ones of the tree route.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd

from .._domain import FeatureDistribution, OutOfDomainWarning
from ..calibration import CalibratedDiagnoser, is_calibration_file, load_calibrated
from ._failure import check_training
from ._kinds import (
    CHANGE,
    KEEP,
    NO_DIAGNOSIS,
    RECIPE_COLUMN,
    TRAINING_FAILED,
    _failure_action,
    _failure_move,
    _row_recipe,
    training_checks,
)
from ._recipe import RecipeWarning, check_recipe
from ._report import DiagnosisReport, FeatureReport, GroupReport
from ._wording import (
    _CALIBRATED_CONFIDENCE_RULE,
    _CALIBRATED_PROBA_CONFIDENCE_RULE,
    _CALIBRATED_RAW_PROBA_CONFIDENCE_RULE,
    _RAISE,
    _cause,
)

__all__ = []



def as_calibration(tree):
    """The CalibratedDiagnoser ``tree`` is or names (its file, loaded once), else None."""
    if isinstance(tree, CalibratedDiagnoser):
        return tree
    if isinstance(tree, (str, os.PathLike)) and is_calibration_file(tree):
        return load_calibrated(tree)  # a CalibrationFileError (ValueError) in one line
    return None


def _opposite(direction):
    return "increase" if direction == "decrease" else "decrease"


def _move(action, optimizer):
    """``(hyperparameter, direction, cause)`` of a calibrated action."""
    if action == "raise temperature":
        return optimizer, _RAISE[optimizer], _cause("bs_failure", "small", optimizer)
    if action == "lower temperature":
        return (optimizer, _opposite(_RAISE[optimizer]),
                _cause("bs_failure", "large", optimizer))
    if action == "widen":
        return "width", "increase", _cause("width_vs_batch", "width", optimizer)
    if action == "more data":
        return "data amount", "increase", _cause("data_vs_batch", "data", optimizer)
    return "", "", ""


def confidence_rule(diagnoser):
    """How the diagnoser's verdicts' confidence is computed, in words."""
    abstention = getattr(diagnoser, "abstention_", None)
    if abstention is None or abstention.region != "proba":
        return _CALIBRATED_CONFIDENCE_RULE
    if getattr(diagnoser, "proba_oof_", None) is None:
        return _CALIBRATED_RAW_PROBA_CONFIDENCE_RULE
    return _CALIBRATED_PROBA_CONFIDENCE_RULE


def summary(name, diagnoser):
    """The report's ``trees["calibration"]``: what the calibration measured of itself."""
    chosen = diagnoser.scores_[diagnoser.kind_]
    constant = diagnoser.scores_["constant"]
    meta = diagnoser.metadata_
    n = len(diagnoser.lattice_)
    shape = meta.get("shape")
    lattice = (f"{n} lattice configurations" + (
        f" (lattice {' x '.join(map(str, shape))}: knob x width x data)" if shape else ""))
    text = (f"{diagnoser.kind_}, chosen by {diagnoser.n_repeats} x {diagnoser.cv}-fold "
            f"grouped cross-validation on the lattice: {chosen.accuracy:.2f} right out of "
            f"fold (95% interval {chosen.interval[0]:.2f}-{chosen.interval[1]:.2f}) against "
            f"{constant.accuracy:.2f} for a constant answer, on {lattice}; measured on the "
            "lattice, not on your models (see the benchmarks page for the calibration "
            "route on groups of known cause)")
    abstention = getattr(diagnoser, "abstention_", None)
    if abstention is not None and abstention.threshold is not None:
        what = ("the model's probability of its answer" if abstention.region == "proba"
                else "its confidence")
        text += (f". It answers where {what} is at least {abstention.threshold:.2f}, "
                 f"a threshold chosen on the lattice by nested cross-validation for "
                 f"{100 * diagnoser.target_accuracy:.0f}% right: on the lattice, answers at "
                 f"this confidence were right {100 * abstention.accuracy:.0f}% of the time, "
                 f"{100 * abstention.coverage:.0f}% answered")
    elif abstention is not None:
        text += (f". No confidence threshold reached {100 * diagnoser.target_accuracy:.0f}% "
                 "right on the lattice: it gives no diagnosis")
    recipe = diagnoser.recipe_
    return {
        "name": name,
        "description": (f"A diagnosis calibrated on a lattice of your own family"
                        + (f" ({meta['family']})" if meta.get("family") else "")
                        + f", features {list(diagnoser.features_)}."),
        "task": "action",
        "n_training_configurations": n,
        "lattice_shape": None if shape is None else list(shape),
        "model": diagnoser.kind_,
        "cv_accuracy": {"accuracy": chosen.accuracy, "interval": list(chosen.interval),
                        "n": chosen.n},
        "constant_accuracy": {"accuracy": constant.accuracy,
                              "interval": list(constant.interval), "n": constant.n},
        "candidates": {k: s.to_dict() for k, s in diagnoser.scores_.items()},
        "abstention": None if abstention is None else abstention.to_dict(),
        "text": text,
        "confidence_rule": confidence_rule(diagnoser),
        "feature_recipe": None if recipe is None else recipe.to_dict(),
    }


def _features(diagnoser, X):
    """A FeatureReport per raw column the calibration uses, against the lattice's range."""
    from ..calibration._diagnoser import _raw_columns

    reports = []
    for column in dict.fromkeys(_raw_columns(diagnoser.features_)):
        values = (pd.to_numeric(X[column], errors="coerce").to_numpy(np.float64)
                  if column in X.columns else np.full(len(X), np.nan))
        ses = (pd.to_numeric(X[f"{column}_se"], errors="coerce").to_numpy(np.float64)
               if f"{column}_se" in X.columns else np.full(len(X), np.nan))
        dist = FeatureDistribution.from_values(diagnoser.lattice_[column].to_numpy(np.float64))
        per_row = []
        for value, se in zip(values, ses):
            se = None if not np.isfinite(se) else float(se)
            if not np.isfinite(value):
                per_row.append(FeatureReport(column, float(value), se, None, on_path=False))
                continue
            side, distance = dist.outside(value)
            per_row.append(FeatureReport(
                column, float(value), se, side is None, side, float(distance),
                dist.spread()[1] if side is not None else None, dist.min, dist.max,
                on_path=False))
        reports.append(per_row)
    return [tuple(r[i] for r in reports) for i in range(len(X))]


def _recipes(X, diagnoser, name):
    """Per row ``(warnings, notes)`` of the recipe check against the lattice's recipe."""
    column = X[RECIPE_COLUMN] if RECIPE_COLUMN in X.columns else [None] * len(X)
    out = []
    for value in column:
        mine = _row_recipe(value)
        if diagnoser.recipe_ is None:
            out.append(((), (f"calibration {name} records no feature recipe: whether your "
                             "features were computed like the lattice's cannot be checked",)))
            continue
        said = [f"calibration {name}: " + s.replace("the tree's", "the lattice's")
                for s in check_recipe(diagnoser.recipe_, mine)]
        out.append(((), tuple(said)) if mine is None else (tuple(said), ()))
    return out


def diagnose_calibrated(X, diagnoser, *, name, optimizer=None, n_classes=None, warn=True,
                        borderline=2.0):
    """The :class:`DiagnosisReport` of ``X`` by a fitted calibrated diagnoser.

    ``optimizer`` None: the knob the calibration varied. ``n_classes`` None: the
    calibration's, else the ``n_classes`` column (the training check).
    """
    optimizer = diagnoser.optimizer if optimizer is None else optimizer
    n_classes = diagnoser.n_classes if n_classes is None else n_classes
    entries = diagnoser.report(X)
    checks = training_checks(X, n_classes, optimizer)
    recipes = _recipes(X, diagnoser, name)
    features = _features(diagnoser, X)
    groups, outside, differ = [], [], []
    for i, (model, entry, check, recipe, feats) in enumerate(
            zip(X.index, entries, checks, recipes, features)):
        recipe_warnings, recipe_notes = recipe
        warnings_ = [f"features computed otherwise than the lattice's: {w}"
                     for w in recipe_warnings]
        if recipe_warnings:
            differ.append(f"{model!r}: {'; '.join(recipe_warnings)}")
        notes = tuple(recipe_notes) + tuple(check.notes)
        failure = check.failure
        if failure is None and entry["verdict"] == TRAINING_FAILED:
            # the calibration's own check (its n_classes) found what this one could not
            failure = check_training(X.iloc[i], n_classes=diagnoser.n_classes,
                                     optimizer=optimizer).failure
        base = dict(model=model, features=feats, q1=None, q2=None, notes=notes,
                    confidence_rule=confidence_rule(diagnoser))
        if failure is not None:
            hyper, direction = _failure_move(failure, optimizer)
            groups.append(GroupReport(
                action=_failure_action(failure, optimizer), hyperparameter=hyper,
                direction=direction,
                failure_source=failure.to_text(), confidence=None,
                verdict_kind=TRAINING_FAILED, training_failure=failure.to_dict(),
                kind_evidence=tuple(failure.evidence), warnings=tuple(warnings_), **base))
            continue
        hyper, direction, cause = _move(entry["action"], optimizer)
        checks_fired = ()
        if entry["in_domain"] is False:
            checks_fired = ("joint",)
            warnings_.insert(0, f"calibration {name}: {entry['reason']}")
            outside.append(repr(model))
        if entry["verdict"] == NO_DIAGNOSIS:
            reading = (() if entry["action"] is None else (
                f"the calibrated model's reading (information only, not a recommendation): "
                f"{entry['action']}",))
            groups.append(GroupReport(
                action=NO_DIAGNOSIS, hyperparameter="", direction="", failure_source=cause,
                confidence=None, verdict_kind=NO_DIAGNOSIS, abstain_reason=entry["reason"],
                kind_evidence=(entry["reason"],), warnings=tuple(warnings_),
                out_of_domain_checks=checks_fired, **dict(base, notes=notes + reading)))
            continue
        if entry["verdict"] == KEEP:
            groups.append(GroupReport(
                action=KEEP, hyperparameter="", direction="",
                failure_source="No one-step change is expected to help: " + entry["reason"],
                confidence=entry["confidence"], verdict_kind=KEEP,
                kind_evidence=(entry["reason"],), warnings=tuple(warnings_), **base))
            continue
        groups.append(GroupReport(
            action=f"{direction} {hyper}", hyperparameter=hyper, direction=direction,
            failure_source=cause, confidence=entry["confidence"], verdict_kind=CHANGE,
            kind_evidence=(entry["reason"],), warnings=tuple(warnings_), **base))
    if differ and warn:
        warnings.warn(
            f"{len(differ)} of {len(groups)} groups' features were computed otherwise than "
            f"the calibration lattice's features: {' | '.join(differ[:3])}"
            + (" | ..." if len(differ) > 3 else ""),
            RecipeWarning,
            stacklevel=4,
        )
    if outside and warn:
        warnings.warn(
            f"{len(outside)} of {len(groups)} groups lie outside the domain of the "
            f"calibration lattice {name}: {', '.join(outside)}; no verdict is given for them. "
            "See each report's warnings.",
            OutOfDomainWarning,
            stacklevel=4,
        )
    return DiagnosisReport(groups, {"q1": None, "q2": None,
                                    "calibration": summary(name, diagnoser)},
                           optimizer, float(borderline))
