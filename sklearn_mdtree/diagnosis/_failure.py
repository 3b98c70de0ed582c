"""Did training fail? A group whose models diverged or stalled is reported as such,
before any tree is asked (issue 20, item 2).

:func:`check_training` / :func:`training_failure`, torch-free. Errors
(``train_error``) are percent, as in the feature tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real

import pandas as pd

from ._validity import _refuse

__all__ = [
    "CHANCE_FRACTION",
    "CHANCE_MARGIN",
    "DIVERGED_NORM_RATIO",
    "DIVERGED_LOSS_FACTOR",
    "SE_MULTIPLIER",
    "UNIFORM_LOSS_BAND",
    "WEIGHT_DISPLACEMENT_SMALL",
    "WEIGHT_NORM_TOLERANCE",
    "TrainingCheck",
    "TrainingFailure",
    "check_training",
    "training_failure",
]

# --------------------------------------------------------------------------------------
# Thresholds of the training-failure checks
# --------------------------------------------------------------------------------------

#: Standard errors a measurement must clear a threshold by before it counts: a value
#: within ``SE_MULTIPLIER`` standard errors of a threshold is borderline and never
#: makes a group "failed" (2: about 95% two-sided, the report's borderline rule).
SE_MULTIPLIER = 2.0

#: The share of the chance-level training error from which a group counts as "at
#: chance": 0.8 (72% for ten balanced classes, 64% for five). The same definition
#: labels a training diverged or stalled in the known-cause evaluation
#: (:mod:`featurizers.lattice`), so the check and the ground truth speak of one thing.
#: A network that learned anything is normally far below it.
CHANCE_FRACTION = 0.8

#: Without a measurement of the weights' movement, a stall is called only within this
#: many percentage points of the chance-level error (a hot network that still learns
#: can sit at 80% error on ten classes with a loss near the uniform prediction's: the
#: digits zoo's worst); 5 points cover the spread of a chance-level error over seeds.
CHANCE_MARGIN = 5.0

#: A diverged network is confidently wrong: its training loss is at least this many
#: times ``ln(n_classes)``, the loss of the uniform prediction (a network that only
#: lost its signal sits at ``ln(n_classes)``; freshly initialised ones within a few
#: percent of it). 1.5: ``ln 10 = 2.30`` -> 3.45 for ten classes, ``ln 2`` -> 1.04
#: for two.
DIVERGED_LOSS_FACTOR = 1.5

#: A stalled network predicts (nearly) uniformly: its training loss lies within this
#: fraction of ``ln(n_classes)`` (15%: 1.96 .. 2.65 for ten classes), the spread of
#: the initial loss of common initialisations.
UNIFORM_LOSS_BAND = 0.15

#: Weights that "barely moved": ``weight_norm_ratio`` (``||w|| / ||w_init||`` of a
#: fresh initialisation of the same architecture) within this distance of 1 (the
#: point estimate: its standard error over seeds is reported, not subtracted). 0.10:
#: the known-cause evaluation's definition of a stalled training (weights moved less
#: than 10% of their initial norm; ``| ||w|| - ||w0|| | <= ||w - w0||``, so a stalled
#: network's ratio lies within it). Trained networks move their norm by tens of
#: percent or more.
WEIGHT_NORM_TOLERANCE = 0.10

#: Weights that blew up: ``weight_norm_ratio`` at least this at chance-level error is a
#: network that diverged and collapsed to a constant output (its loss can sit near the
#: uniform prediction's, so the loss alone does not tell it from a stall). 10: the
#: known-cause evaluation's definition of a diverged training (weights more than 10x
#: their initial norm). The mean over seeds is dominated by the largest seed: one
#: seed that blew up makes the group failed, which is what the advice is for.
DIVERGED_NORM_RATIO = 10.0

#: Weights that "barely moved": ``weight_displacement`` (``||w - w0|| / ||w0||``) at
#: most this (10% of the initial norm, the evaluation's definition of a stall;
#: trained networks move by tens of percent).
WEIGHT_DISPLACEMENT_SMALL = 0.10

#: Labels that say no one-step move helps: ``"optimal"`` in the collections' label

# --------------------------------------------------------------------------------------
# 1. Training failed
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingFailure:
    """A group whose training failed: no tree is asked.

    Attributes
    ----------
    kind : {"diverged", "stalled"}
    evidence : tuple of str
        The measurements that say so, in plain words with their numbers.
    advice : tuple of str
        What to try, in the optimizer's terms.
    """

    kind: str
    evidence: tuple
    advice: tuple

    def to_text(self):
        """One paragraph: what happened, why we say so, what to do."""
        what = ("Training diverged" if self.kind == "diverged"
                else "Training stalled (the models barely learned)")
        return (f"{what}: " + "; ".join(self.evidence) + ". Try: "
                + "; ".join(self.advice) + ".")

    def to_dict(self):
        """The fields as plain JSON types."""
        return {"kind": self.kind, "evidence": list(self.evidence),
                "advice": list(self.advice)}


@dataclass(frozen=True)
class TrainingCheck:
    """The outcome of :func:`check_training` on one group.

    Attributes
    ----------
    failure : TrainingFailure or None
        None: no failure found (or it could not be checked; see ``notes``).
    notes : tuple of str
        Why a check could not be made, or why a chance-level group was not called
        failed (borderline, undetermined kind), in plain words.
    """

    failure: TrainingFailure | None
    notes: tuple = ()


def _advice(kind, optimizer):
    if kind == "diverged":
        lower = ("increase the batch size" if optimizer == "batch size"
                 else "decrease the learning rate")
        return (
            f"lower the optimizer's temperature: {lower} (or add warm-up)",
            "check the data for NaN or infinite values",
            "clip the gradient norm (e.g. torch.nn.utils.clip_grad_norm_)",
        )
    raise_ = ("decrease the batch size" if optimizer == "batch size"
              else "increase the learning rate")
    return (
        "check the data pipeline: labels shuffled apart from their inputs, a wrong "
        "label column, inputs not normalised",
        "check the initialisation (weights all zero or tiny, frozen parameters, "
        "requires_grad=False) and the learning-rate schedule (a rate decayed to zero, "
        "or a warm-up that never ends)",
        f"the optimizer's temperature may be too low: {raise_}",
        "if the model is very small (a few units per layer), widen it: a network too "
        "small to learn stalls too",
    )


def _get(row, name):
    """``(value, se)`` of a column of the row as floats (None when absent); a
    non-numeric entry counts as absent."""
    def number(key):
        if key not in row:
            return None
        try:
            value = float(row[key])
        except (TypeError, ValueError):
            return None
        return value

    value = number(name)
    se = number(f"{name}_se")
    if se is not None and not (math.isfinite(se) and se >= 0):
        se = None
    return value, se


def _as_row(row):
    if isinstance(row, pd.DataFrame):
        if len(row) != 1:
            _refuse("row", "one group (a Series, a mapping or a one-row DataFrame)",
                    f"a DataFrame of {len(row)} rows")
        return row.iloc[0]
    if isinstance(row, (pd.Series, Mapping)):
        return row
    _refuse("row", "a pandas Series, a mapping or a one-row DataFrame",
            type(row).__name__, TypeError)


_FEATURES = ("train_error", "train_loss", "mode_connectivity_peak", "hessian_t", "CKA")


def check_training(row, *, n_classes=None, chance_error=None, optimizer="learning rate"):
    """Did this group's training diverge or stall? Checked before any tree is asked.

    The rules (thresholds: the module constants; ``z`` is :data:`SE_MULTIPLIER`;
    a value with a ``<feature>_se`` column must clear each threshold by ``z``
    standard errors, so that a borderline group is not called failed; a value
    without one, or with a NaN one, is taken as exact):

    - **diverged** when ``train_loss`` or ``train_error`` is NaN or infinite (a
      network with NaN weights), or any other loss-landscape feature is infinite;
      or when the training error is at chance (at least :data:`CHANCE_FRACTION`
      of the chance-level error) and the training loss is at least
      :data:`DIVERGED_LOSS_FACTOR` times ``ln(n_classes)`` (confidently wrong), or
      ``weight_norm_ratio`` is at least :data:`DIVERGED_NORM_RATIO` (weights that blew
      up, then collapsed to a constant output);
    - **stalled** when the training error is at chance (within :data:`CHANCE_MARGIN`
      points of it when the weights' movement is not measured) and the training loss lies
      within :data:`UNIFORM_LOSS_BAND` of ``ln(n_classes)`` (the uniform
      prediction) and, where the table measures it, the weights barely moved:
      ``weight_norm_ratio`` within :data:`WEIGHT_NORM_TOLERANCE` of 1, or
      ``weight_displacement`` at most :data:`WEIGHT_DISPLACEMENT_SMALL`. A
      chance-level group at the uniform loss whose weights did move is not called
      stalled: a note says so, and the trees are asked.

    Parameters
    ----------
    row : pandas.Series, mapping or one-row DataFrame
        One group's features (``train_error`` in percent, ``train_loss`` the mean
        cross-entropy, optional ``<feature>_se``, ``weight_norm_ratio``,
        ``weight_displacement`` and ``n_classes`` columns).
    n_classes : int, default=None
        Classes of the task: chance error ``100 * (1 - 1 / n_classes)``, uniform
        loss ``ln(n_classes)``. None: the row's ``n_classes`` column, if any.
    chance_error : float, default=None
        The chance-level training error in percent, for an imbalanced task
        (``100 * (1 - largest class share)``). Overrides the one from
        ``n_classes``; without ``n_classes`` the uniform loss is taken as
        ``-ln(1 - chance_error / 100)`` (exact for balanced classes).
    optimizer : {"learning rate", "batch size"}, default="learning rate"
        The hyperparameter the advice names.

    Returns
    -------
    check : TrainingCheck
        ``failure`` (a :class:`TrainingFailure` or None) and ``notes``: a table
        without the columns a check needs gives ``failure=None`` and a note,
        never an error.
    """
    row = _as_row(row)
    if n_classes is not None and (isinstance(n_classes, bool)
                                  or not isinstance(n_classes, Integral) or n_classes < 2):
        _refuse("n_classes", "an integer >= 2 or None", n_classes)
    if chance_error is not None and (isinstance(chance_error, bool)
                                     or not isinstance(chance_error, Real)
                                     or not 0 < chance_error < 100):
        _refuse("chance_error", "a percentage in (0, 100) or None", chance_error)
    if optimizer not in ("learning rate", "batch size"):
        _refuse("optimizer", "'learning rate' or 'batch size'", optimizer)
    z = SE_MULTIPLIER
    notes = []

    # -- non-finite values: diverged, whatever the chance level
    error, error_se = _get(row, "train_error")
    loss, loss_se = _get(row, "train_loss")
    broken = [f"{name} is {value}" for name, value in (("train_loss", loss),
                                                         ("train_error", error))
              if value is not None and not math.isfinite(value)]
    broken += [f"{name} is {value}" for name in _FEATURES[2:]
               for value in [_get(row, name)[0]]
               if value is not None and math.isinf(value)]
    if broken:
        return TrainingCheck(TrainingFailure(
            "diverged",
            tuple(broken) + ("a non-finite loss or feature comes from non-finite weights "
                             "or outputs",),
            _advice("diverged", optimizer)))

    if error is None:
        return TrainingCheck(None, ("no training-failure check: the table has no "
                                    "'train_error' column",))
    # -- the chance level
    if n_classes is None and "n_classes" in row:
        k = _get(row, "n_classes")[0]
        if k is not None and math.isfinite(k) and k >= 2 and k == int(k):
            n_classes = int(k)
    if chance_error is not None:
        chance = float(chance_error)
        uniform = math.log(n_classes) if n_classes else -math.log(1 - chance / 100)
    elif n_classes is not None:
        chance = 100 * (1 - 1 / n_classes)
        uniform = math.log(n_classes)
    else:
        return TrainingCheck(None, ("no training-failure check: the chance level is "
                                    "unknown (pass n_classes or chance_error, or give an "
                                    "'n_classes' column)",))
    threshold = CHANCE_FRACTION * chance
    low_error = error - z * (error_se or 0.0)
    if low_error < threshold:
        if error >= threshold:
            notes.append(
                f"training error {error:.1f}% is near the chance level {chance:.1f}%, but "
                f"within {z:g} standard errors ({error_se:.2g}) of "
                f"{100 * CHANCE_FRACTION:g}% of it: not called failed")
        return TrainingCheck(None, tuple(notes))
    at_chance = (f"training error {error:.1f}% is at the chance level ({chance:.1f}% for "
                 + (f"{n_classes} classes)" if chance_error is None else "the given classes)"))
    if loss is None:
        return TrainingCheck(None, (at_chance + ", but the table has no 'train_loss' "
                                    "column to tell a diverged network from a stalled one",))
    lo, hi = loss - z * (loss_se or 0.0), loss + z * (loss_se or 0.0)
    if lo >= DIVERGED_LOSS_FACTOR * uniform:
        return TrainingCheck(TrainingFailure("diverged", (
            at_chance,
            f"training loss {loss:.3g} is {loss / uniform:.2g} times the uniform "
            f"prediction's {uniform:.3g} (ln of the number of classes): the network is "
            "confidently wrong",
        ), _advice("diverged", optimizer)))
    ratio, ratio_se = _get(row, "weight_norm_ratio")
    if ratio is not None and math.isfinite(ratio) and ratio >= DIVERGED_NORM_RATIO:
        return TrainingCheck(TrainingFailure("diverged", (
            at_chance,
            f"the weights' norm is {ratio:.3g} times a fresh initialisation's (at least "
            f"{DIVERGED_NORM_RATIO:g}): the steps blew the weights up and the network "
            "collapsed to a constant output",
        ), _advice("diverged", optimizer)))
    band = UNIFORM_LOSS_BAND * uniform
    if not (uniform - band <= lo and hi <= uniform + band):
        return TrainingCheck(None, (
            at_chance + f", but the training loss {loss:.3g} is neither at the uniform "
            f"prediction's {uniform:.3g} (within {100 * UNIFORM_LOSS_BAND:g}%, counting "
            f"{z:g} standard errors) nor {DIVERGED_LOSS_FACTOR:g} times above it: the "
            "failure's kind is not clear; the trees' verdicts may be meaningless",))
    evidence = [at_chance, f"training loss {loss:.3g} is at the uniform prediction's "
                           f"{uniform:.3g} (ln of the number of classes)"]
    disp, disp_se = _get(row, "weight_displacement")
    moved = []
    if ratio is not None and math.isfinite(ratio):
        if abs(ratio - 1) <= WEIGHT_NORM_TOLERANCE:
            evidence.append(f"the weights' norm is {ratio:.3g} times a fresh "
                            "initialisation's: they barely moved")
        else:
            moved.append(f"weight_norm_ratio {ratio:.3g}")
    if disp is not None and math.isfinite(disp):
        if disp <= WEIGHT_DISPLACEMENT_SMALL:
            evidence.append(f"the weights moved {100 * disp:.2g}% of their initial norm")
        else:
            moved.append(f"weight_displacement {disp:.3g}")
    if moved and len(evidence) == 2:
        return TrainingCheck(None, (
            at_chance + f" and the loss at the uniform prediction's, but the weights moved "
            f"({', '.join(moved)}): not a stall; a network that collapsed to a constant "
            "output after too-large steps looks the same. The trees' verdicts may be "
            "meaningless",))
    if len(evidence) == 2:
        if low_error < chance - CHANCE_MARGIN:
            return TrainingCheck(None, (
                at_chance + " and the loss at the uniform prediction's, but the weights' "
                "movement is not measured (no 'weight_norm_ratio' or 'weight_displacement' "
                f"column) and the error is not within {CHANCE_MARGIN:g} points of chance: "
                "a hot network that still learns looks the same; not called stalled",))
        notes.append("weight movement not measured (no 'weight_norm_ratio' or "
                     "'weight_displacement' column): stalled on the error and the loss alone")
    return TrainingCheck(TrainingFailure("stalled", tuple(evidence),
                                         _advice("stalled", optimizer)), tuple(notes))


def training_failure(row, *, n_classes=None, chance_error=None, optimizer="learning rate"):
    """The :class:`TrainingFailure` of one group, or None.

    ``check_training(...).failure``; see :func:`check_training` for the rules and
    the parameters (its ``notes`` say why a check could not be made).
    """
    return check_training(row, n_classes=n_classes, chance_error=chance_error,
                          optimizer=optimizer).failure
