"""The kind of each verdict: "change", "training failed", "keep as is" or "no reliable
diagnosis", decided once per group in :func:`~sklearn_mdtree.diagnosis._diagnose._group_report`.

- :func:`tree_records`: what a tree file says about its own trustworthiness (regime
  accuracy, keep-as-is per leaf, the recipe of its features, its held-out validity),
  read once per diagnosis; a file without those keys degrades to today's behaviour
  with a note;
- :func:`training_checks`: the training check of every row (before any tree);
- :func:`recipe_checks`: the features' recipe (a ``feature_recipe`` column) against
  each tree's;
- :func:`decide`: the kind, the action, the reason and the confidence of one group.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace

import numpy as np

from ._failure import check_training
from ._recipe import FeatureRecipe, check_recipe
from ._shipping import TreeValidity
from ._validity import KeepAsIs, RegimeAccuracy, should_abstain

__all__ = []

#: The four kinds of verdict, in the order they are decided.
TRAINING_FAILED = "training failed"
NO_DIAGNOSIS = "no reliable diagnosis"
KEEP = "keep as is"
CHANGE = "change"
VERDICT_KINDS = (CHANGE, TRAINING_FAILED, KEEP, NO_DIAGNOSIS)

#: The column of a features table with its recipe (compact JSON of FeatureRecipe).
RECIPE_COLUMN = "feature_recipe"


@dataclass(frozen=True)
class TreeRecords:
    """A tree's records, parsed (None where the file has none or an unreadable one)."""

    accuracy: RegimeAccuracy | None
    keep: tuple | None
    recipe: FeatureRecipe | None
    validity: TreeValidity | None
    notes: tuple = ()


def tree_records(tree):
    """The :class:`TreeRecords` of a PretrainedTree (``None`` for no tree)."""
    if tree is None:
        return None
    name = tree.name or "(unnamed)"
    notes, parsed = [], {}
    for key, read in (("regime_accuracy", RegimeAccuracy.from_dict),
                      ("keep_as_is", lambda d: tuple(KeepAsIs.from_dict(k) for k in d)),
                      ("feature_recipe", FeatureRecipe.from_dict),
                      ("validity", TreeValidity.from_dict)):
        raw = getattr(tree, key, None)
        if raw is None:
            parsed[key] = None
            continue
        try:
            parsed[key] = read(raw)
        except (ValueError, TypeError, KeyError) as exc:
            parsed[key] = None
            notes.append(f"tree {name}: its {key} record is unreadable and ignored "
                         f"({str(exc).splitlines()[0]})")
    accuracy, keep = parsed["regime_accuracy"], parsed["keep_as_is"]
    n_leaves = len(tree.estimator.leaf_labels_)
    if accuracy is not None and len(accuracy.leaves) != n_leaves:
        notes.append(f"tree {name}: its regime_accuracy has {len(accuracy.leaves)} regimes "
                     f"for {n_leaves} leaves; ignored")
        accuracy = None
    if keep is not None and len(keep) != n_leaves:
        notes.append(f"tree {name}: its keep_as_is has {len(keep)} entries for "
                     f"{n_leaves} leaves; ignored")
        keep = None
    if accuracy is None:
        notes.append(f"tree {name} records no regime accuracy: its verdicts cannot be "
                     "weighed by its own measured error (confidence is measurement noise "
                     "only; no abstention on that ground)")
    return TreeRecords(accuracy, keep, parsed["feature_recipe"], parsed["validity"],
                       tuple(notes))


def _n_classes(X, n_classes):
    """Per row, the number of classes: the parameter, else the ``n_classes`` column."""
    if n_classes is not None:
        return [n_classes] * len(X)
    if "n_classes" not in X.columns:
        return [None] * len(X)
    out = []
    for v in X["n_classes"]:
        try:
            v = float(v)
        except (TypeError, ValueError):
            out.append(None)
            continue
        out.append(int(v) if math.isfinite(v) and v >= 2 and v == int(v) else None)
    return out


def training_checks(X, n_classes, optimizer):
    """The :class:`~sklearn_mdtree.diagnosis._failure.TrainingCheck` of every row."""
    checks = []
    for (_, row), k in zip(X.iterrows(), _n_classes(X, n_classes)):
        checks.append(check_training(row, n_classes=k, optimizer=optimizer))
    return checks


def _row_recipe(value):
    """A row's ``feature_recipe`` cell as a FeatureRecipe (None: missing or unreadable)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        data = json.loads(value) if isinstance(value, str) else value
        return FeatureRecipe.from_dict(data)
    except (ValueError, TypeError):
        return None


def recipe_checks(X, trees, records):
    """Per row, ``(warnings, notes)``: each setting that differs from a tree's recipe
    (warnings), or why it could not be compared (notes)."""
    column = X[RECIPE_COLUMN] if RECIPE_COLUMN in X.columns else [None] * len(X)
    out = []
    for value in column:
        mine = _row_recipe(value)
        warns, notes = [], []
        for tree, rec in zip(trees, records):
            name = tree.name or "(unnamed)"
            if rec is None or rec.recipe is None:
                notes.append(f"tree {name} records no feature recipe: whether your features "
                             "were computed like its training features cannot be checked")
                continue
            said = check_recipe(rec.recipe, mine)
            if mine is None:
                notes += [f"tree {name}: {s}" for s in said]
            else:
                warns += [f"tree {name}: {s}" for s in said]
        out.append((tuple(dict.fromkeys(warns)), tuple(dict.fromkeys(notes))))
    return out


def recipe_text(recipe):
    """A recipe as compact JSON (the ``feature_recipe`` column of a features table)."""
    return json.dumps(recipe.to_dict(), sort_keys=True, separators=(",", ":"))


def _leaf_posterior(rec, verdict):
    if rec is None or rec.accuracy is None or verdict is None:
        return None
    return rec.accuracy.leaves[verdict.regime].posterior_mean


def _relevant(group):
    """``(question, verdict)`` pairs the action rests on (as :func:`should_abstain`)."""
    if group.q2 is None:
        return [("Q1", group.q1)]
    if group.q2.label != "batch":
        return [("Q2", group.q2)]
    return [("Q2", group.q2), ("Q1", group.q1)]


def _failure_move(failure, optimizer):
    """``(hyperparameter, direction)`` of a failed group's action: a divergence's change
    of the optimizer, none (``("", "")``) for a stall."""
    if failure.kind != "diverged":
        return "", ""
    return optimizer, "increase" if optimizer == "batch size" else "decrease"


def _failure_action(failure, optimizer):
    """A diverged group's one change (lower the temperature); a stalled group gets none.

    A stall (chance-level error, the uniform loss, the weights' norm unchanged) says the
    models learned nothing, not which change fixes it: on the calibration lattices of
    ``benchmarks/known_cause_calibration.py`` raising the temperature was the best
    one-step change for fewer than half of the stalled configurations (widening the
    smallest networks helped more), so the report names the failure and the checks
    to make, not a move (the documentation's benchmarks page).
    """
    if failure.kind != "diverged":
        return "training failed: stalled (no single change recommended)"
    move = "increase batch size" if optimizer == "batch size" else "decrease learning rate"
    return f"training failed: {move}"


def decide(group, check, records, optimizer):
    """The group with its verdict kind, action, reason and confidence decided.

    ``check`` is the row's TrainingCheck, ``records`` the ``(q1, q2)`` TreeRecords.
    """
    q1_rec, q2_rec = records
    noise = group.confidence
    # confidence: measurement noise x the regimes' measured accuracy
    posteriors = {"Q1": _leaf_posterior(q1_rec, group.q1),
                  "Q2": _leaf_posterior(q2_rec, group.q2)}
    relevant = _relevant(group)
    confidence = noise
    notes = list(check.notes)
    if noise is not None:
        # a tree whose regimes' accuracy was never measured (a bare estimator, a table
        # too small to cross-validate) counts as n = 0 of the same rule: (0 + 1) / (0 + 2)
        unknown = [q for q, _ in relevant if posteriors[q] is None]
        if unknown:
            notes.append(f"the {' and '.join(unknown)} tree records no measured accuracy of "
                         "its regimes: its confidence counts it as unknown (0.5); wrap a "
                         "fitted tree with PretrainedTree.from_estimator(tree, X_train) or "
                         "use fit_on=... to have it measured")
        confidence = float(noise * np.prod([0.5 if posteriors[q] is None else posteriors[q]
                                            for q, _ in relevant]))
    evidence = []
    if check.failure is not None:
        failure = check.failure
        return replace(
            group, verdict_kind=TRAINING_FAILED, action=_failure_action(failure, optimizer),
            hyperparameter=_failure_move(failure, optimizer)[0],
            direction=_failure_move(failure, optimizer)[1],
            failure_source=failure.to_text(), confidence=None, noise_confidence=noise,
            training_failure=failure.to_dict(), kind_evidence=tuple(failure.evidence),
            notes=group.notes + tuple(notes))
    abstain, reason = should_abstain(
        group, None if q1_rec is None else q1_rec.accuracy,
        None if q2_rec is None else q2_rec.accuracy)
    if abstain:
        return replace(group, verdict_kind=NO_DIAGNOSIS, action=NO_DIAGNOSIS,
                       hyperparameter="", direction="", confidence=None,
                       noise_confidence=noise, abstain_reason=reason,
                       kind_evidence=(reason,), notes=group.notes + tuple(notes))
    for question, verdict in relevant:
        rec = q1_rec if question == "Q1" else q2_rec
        if rec is not None and rec.accuracy is not None:
            evidence.append(f"{question}: " + rec.accuracy.leaves[verdict.regime].to_text())
    keep = _keep(group, q1_rec, q2_rec)
    if keep is not None:
        return replace(group, verdict_kind=KEEP, action=KEEP, hyperparameter="",
                       direction="", confidence=confidence, noise_confidence=noise,
                       failure_source="No one-step change is expected to help: " + keep,
                       kind_evidence=tuple(evidence) + (keep,),
                       notes=group.notes + tuple(notes))
    return replace(group, verdict_kind=CHANGE, confidence=confidence,
                   noise_confidence=noise, kind_evidence=tuple(evidence),
                   notes=group.notes + tuple(notes))


def _keep(group, q1_rec, q2_rec):
    """The keep-as-is evidence in words, or None: Q1's leaf says keep, and Q2 (if any)
    blames the optimizer or its leaf says keep too."""
    if q1_rec is None or q1_rec.keep is None:
        return None
    k1 = q1_rec.keep[group.q1.regime]
    if not k1.keep:
        return None
    words = f"Q1 regime {group.q1.regime}: {k1.to_text()}"
    if group.q2 is not None and group.q2.label != "batch":
        if q2_rec is None or q2_rec.keep is None or not q2_rec.keep[group.q2.regime].keep:
            return None
        words += f"; Q2 regime {group.q2.regime}: {q2_rec.keep[group.q2.regime].to_text()}"
    return words
