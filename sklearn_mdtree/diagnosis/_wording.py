"""The diagnosis in words: causes, actions and the domain checks' phrases.

What a verdict says to someone who has not read the paper, in the terms of the
optimizer hyperparameter they tune (batch size or learning rate).
"""

from __future__ import annotations

__all__ = []

_CONFIDENCE_RULE = (
    "probability that the verdict is right: that no decision on the path flips (each "
    "feature's true value taken as normal around the measured one with its standard "
    "error, features independent) times the tree's out-of-fold accuracy in the regime "
    "reached, (k + 1) / (n + 2) after k of n right"
)


#: The confidence of a calibrated verdict (``diagnose(X, tree=<calibration>)``).
_CALIBRATED_CONFIDENCE_RULE = (
    "probability that the verdict is right: the posterior mean (k + 1) / (n + 2) of the "
    "calibrated model's out-of-fold accuracy in the group's region of the lattice (its "
    "leaf, or its nearest lattice configurations), k of n right; a verdict is given only "
    "at or above the threshold chosen on the lattice for the calibration's target "
    "accuracy; the features' standard errors are not used"
)

#: The confidence of a calibrated verdict whose abstention is by the model's own
#: probability of its answer (region ``"proba"``).
_CALIBRATED_PROBA_CONFIDENCE_RULE = (
    "probability that the verdict is right: the posterior mean (k + 1) / (n + 2) over the "
    "lattice's out-of-fold answers (the calibration's nested cross-validation) whose "
    "probability from the calibrated model was at least this group's, k of n right; a "
    "verdict is given only where the model's probability of its answer is at or above "
    "the threshold chosen on the lattice for the calibration's target accuracy; the "
    "features' standard errors are not used"
)


#: The same, from a calibration file written before the out-of-fold probabilities were
#: kept: the confidence shown is the model's own probability of its answer.
_CALIBRATED_RAW_PROBA_CONFIDENCE_RULE = (
    "the calibrated model's own probability of its answer (its leaf's share, its "
    "neighbours' vote share or its logistic probability; it can be 1: the file predates "
    "the measured confidence, calibrate again to get it); a verdict is given only at or "
    "above the threshold chosen on the lattice for the calibration's target accuracy"
)


#: How each optimizer hyperparameter moves to raise the temperature (step noise).
_RAISE = {"batch size": "decrease", "learning rate": "increase"}


def _glossary(optimizer):
    """``(term, meaning)`` of each word of the report that the paper defines, for a
    reader who has not read it; the moves follow the ``optimizer`` named."""
    up = f"{_RAISE[optimizer]} the {optimizer}"
    down = f"{'increase' if _RAISE[optimizer] == 'decrease' else 'decrease'} the {optimizer}"
    return (
        ("temperature", "the noise in the optimizer's steps: it grows with the learning "
         "rate and falls with the batch size"),
        ("small / large", f"the Q1 tree's answers: the temperature is too small (training "
         f"runs too cold: {up}) or too large (too hot: {down})"),
        ("regime", "a leaf of a tree: its training configurations share one answer; "
         "numbered from 0"),
        ("training range", "lowest .. highest value of a feature among the configurations "
         "a tree was fitted on (all of them, or those in one regime, as said)"),
        ("IQR", "interquartile range: the spread of the middle half of the training "
         "values; '2 IQR above the range' is twice that spread beyond the highest value"),
        ("joint check", "all features at once, each in the training set's standard "
         "deviations: the model's distance to its 5th nearest training configuration, "
         "against the distance within which 99% of the training configurations have "
         "theirs"),
        ("5th nearest training configuration", "the fifth closest of the configurations "
         "the tree was fitted on; the fifth, not the first, so that a lone neighbour "
         "does not make a model look familiar"),
    )


def _cause(task, label, optimizer):
    """The failure source in plain words, following the optimizer named."""
    if task == "bs_failure":
        too_cold = label == "small"
        if optimizer == "batch size":
            setting = "the batch size is too large" if too_cold else "the batch size is too small"
        else:
            setting = (
                "the learning rate is too small" if too_cold else "the learning rate is too large"
            )
        if too_cold:
            return (
                "The optimizer runs too cold: its steps carry too little noise (the "
                f"'temperature', which grows with the learning rate and falls with the batch "
                f"size, is too low), so training settles in a poor region -- {setting}."
            )
        return (
            "The optimizer runs too hot: its steps carry too much noise (the "
            "'temperature', which grows with the learning rate and falls with the batch "
            f"size, is too high), so training cannot settle -- {setting}."
        )
    if label == "batch":
        other = "widening the model" if task == "width_vs_batch" else "adding training data"
        return (
            f"The optimizer is the main problem, not the model's size or data: changing the "
            f"{optimizer} is expected to help more than {other}."
        )
    if label == "width":
        return (
            "The model is too small for the task: widening it is expected to help more than "
            f"any change of the {optimizer}."
        )
    return (
        "There is too little training data: more data is expected to help more than any "
        f"change of the {optimizer}."
    )



def _range_phrase(feature, value, dist, tree=None):
    """The range check's phrase for a value outside ``dist``'s range (of the ``tree``
    "Q1" or "Q2", named when the trees' ranges differ)."""
    side, distance = dist.outside(value)
    return _outside_phrase(feature, value, side, distance, dist.spread()[1], dist.min,
                           dist.max, tree)


def _outside_phrase(feature, value, side, distance, unit, low, high, tree=None):
    whose = "the" if tree is None else f"the {tree} tree's"
    return (f"{feature} = {value:.4g} lies {distance:.2g} {unit} {side} the range of all "
            f"{whose} training configurations ({low + 0.0:.4g} .. {high + 0.0:.4g})")


def _extrapolation_note(phrases):
    """The warning of a group whose domain checks fired, ``phrases`` in words."""
    return ("this diagnosis concerns a model unlike those the tree was fitted on ("
            + "; ".join(phrases) + "): it is an extrapolation and may be wrong. "
            "Prefer a tree fitted on models like yours (fit_on=...).")


def _borderline_note(shaky, borderline):
    """The warning of a group with borderline decisions."""
    return ("borderline decision(s) "
            + ", ".join(f"{d.feature} at {d.split}" for d in shaky)
            + f": within {borderline:g} standard errors of the threshold, the "
            "verdict could flip within the measurement noise.")
