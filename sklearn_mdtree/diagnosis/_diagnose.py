"""Diagnosis reports: a pretrained (or user-fitted) tree's verdict on each model group,
with the domain of validity and the precision of every decision.

:func:`diagnose` routes each model group through the trees with
:func:`sklearn_mdtree.diagnosis.recommend` (the routing and the one-step rule) and
adds, per model group:

- each feature with its standard error (a ``<feature>_se`` column, as
  ``LossLandscapeFeaturizer(return_se=True)`` writes) and whether it lies inside
  the range of the tree's training configurations (how far outside, in the training
  set's own interquartile range), for every loss-landscape feature the training set
  and ``X`` both have;
- the domain of each decision: a feature on the path is *out of domain* when it lies
  outside the range of all the training configurations, or outside the range of
  those that fell in the same regime (leaf) -- a model can look like some training
  model in each feature and like none of those its verdict rests on (the *range*
  and *regime* checks);
- the *joint* check (:class:`~sklearn_mdtree._domain.JointDomain`): the model's
  distance to its 5th nearest training configuration, in the training set's
  standardised features, against the 99th percentile of the training
  configurations' own leave-one-out distances, over every loss-landscape feature
  the training set and ``X`` share -- inside every range, a model can still lie far
  from every training configuration, and a model unlike every training model is
  flagged even where the features its path reads are in range (a feature the
  paths do not read is not flagged by its range alone: on a small training set a
  model drawn like the training models often falls outside one of several ranges,
  see the benchmarks page; the joint check weighs it);
- each decision on the path with its threshold and its margin in standard errors,
  marked *borderline* when ``|value - threshold| < borderline * se``;
- a confidence: the probability, under a normal approximation of each feature's
  noise (independent features), that every feature stays on the side of every
  threshold it was compared with -- that no decision on the Q1 and Q2 paths flips;
- the failure source and the recommended change in plain words, in the terms of
  the optimizer hyperparameter the user names (batch size or learning rate).
"""


from __future__ import annotations

import math
import os
import warnings
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.special import ndtr
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._classes import MDTreeClassifier
from .._domain import DOMAIN_FEATURES, OutOfDomainWarning
from .._files import is_tree_path
from ..calibration import CalibratedDiagnoser
from ..pretrained._io import PretrainedTree
from ._calibrated import as_calibration, diagnose_calibrated
from ._kinds import decide, recipe_checks, training_checks, tree_records
from ._recipe import RecipeWarning
from ._recommend import _as_frame, recommend
from ._report import DecisionReport, DiagnosisReport, FeatureReport, GroupReport, VerdictReport
from ._trees import choose_trees, not_shipped_note, summary
from ._wording import (
    _RAISE,
    _borderline_note,
    _cause,
    _extrapolation_note,
    _outside_phrase,
    _range_phrase,
)

__all__ = ["diagnose"]


def _se_of(X, feature):
    """The ``<feature>_se`` column as floats (NaN where not given)."""
    column = f"{feature}_se"
    if column not in X.columns:
        return np.full(len(X), np.nan)
    raw = X[column]
    numbers = pd.to_numeric(raw, errors="coerce")
    text = np.flatnonzero(numbers.isna().to_numpy() & raw.notna().to_numpy())
    if len(text):  # coerced to NaN, it would pass for a missing standard error
        raise ValueError(
            f"The '{column}' column of X must hold numbers (or be empty where a standard "
            f"error is not known). Got {raw.iloc[text[0]]!r} at row {X.index[text[0]]!r} "
            "instead."
        )
    values = numbers.to_numpy(dtype=np.float64)
    bad = np.flatnonzero((values < 0) | np.isinf(values))
    if len(bad):
        raise ValueError(
            f"The '{column}' column of X must hold finite standard errors >= 0. Got "
            f"{values[bad[0]]!r} at row {X.index[bad[0]]!r} instead."
        )
    return values


def _interval_probability(value, se, low, high):
    """P(low < V <= high) for V ~ N(value, se^2); 1/0 for se == 0."""
    if se == 0:
        return float(low < value <= high)
    return float(ndtr((high - value) / se) - ndtr((low - value) / se))


def _confidence(decision_lists):
    """Probability that all decisions keep their sides (features independent)."""
    bounds = {}
    for decisions in decision_lists:
        for d in decisions:
            if d.se is None:
                return None
            low, high, value, se = bounds.get(d.feature, (-np.inf, np.inf, d.value, d.se))
            if d.went_left:
                high = min(high, d.threshold)
            else:
                low = max(low, d.threshold)
            bounds[d.feature] = (low, high, value, se)
    p = 1.0
    for low, high, value, se in bounds.values():
        p *= _interval_probability(value, se, low, high)
    return p


def _verdict(question, tree, verdict, se_row, borderline, differ=frozenset()):
    """The decisions of one path; a range phrase of a feature in ``differ`` names the
    ``question``'s tree ("Q1", "Q2")."""
    decisions, phrases = [], {}
    for d in verdict.path:
        se = se_row.get(d.feature)
        margin = None
        flag = None
        if se is not None:
            if se > 0:
                margin = (d.value - d.threshold) / se
                flag = abs(margin) < borderline
            else:
                flag = d.value == d.threshold
        in_domain, phrase = _decision_domain(tree, verdict.regime, d.feature, d.value,
                                             question if d.feature in differ else None)
        if phrase is not None and d.feature not in phrases:
            phrases[d.feature] = phrase
        decisions.append(DecisionReport(d.split, d.feature, d.threshold, d.value,
                                        d.went_left, se, margin, flag, in_domain))
    ood = tuple(dict.fromkeys(d.feature for d in decisions if d.in_domain is False))
    return decisions, ood, phrases


def _decision_domain(tree, regime, feature, value, name_tree=None):
    """``(in_domain, phrase)`` of one value on a path: inside the tree's training range
    of the feature and inside the range of the training configurations in the same
    regime (leaf)? ``in_domain`` is None when neither is known; ``phrase`` is None or
    ``(check, words)``, ``check`` ``"range"`` or ``"regime"``; the range phrase names
    the tree as ``name_tree`` ("Q1", "Q2") when given (the trees' training ranges of
    the feature differ)."""
    known, phrase = False, None
    if tree.distribution is not None and feature in tree.distribution:
        known = True
        if tree.distribution[feature].outside(value)[0] is not None:
            phrase = ("range", _range_phrase(feature, value, tree.distribution[feature],
                                             name_tree))
    if phrase is None and tree.regimes is not None:
        known = True
        members = tree.regimes[regime]
        if members is None:
            phrase = ("regime", f"no training configuration fell in regime {regime}, "
                      f"where {feature} = {value:.4g} puts it")
        elif feature in members:
            side, distance = members[feature].outside(value)
            if side is not None:
                dist = members[feature]
                phrase = ("regime", f"{feature} = {value:.4g} lies {distance:.2g} "
                          f"{dist.spread()[1]} {side} the range of the {dist.n} training "
                          f"configurations in the same regime ({dist.min + 0.0:.4g} .. "
                          f"{dist.max + 0.0:.4g})")
    return (phrase is None if known else None), phrase


def _recorded(trees):
    """Every feature whose training distribution a tree records, in the order of
    :data:`~sklearn_mdtree._domain.DOMAIN_FEATURES` (others after, sorted)."""
    names = {f for t in trees if t.distribution is not None for f in t.distribution}
    order = {f: i for i, f in enumerate(DOMAIN_FEATURES)}
    return sorted(names, key=lambda f: (order.get(f, len(order)), str(f)))


def _joint_checks(trees, values):
    """Each tree's joint check of one model (trees without training points skipped)."""
    checks = []
    for t in trees:
        if t.joint is None:
            continue
        check = t.joint.check(values)
        if check is not None:
            checks.append(replace(check, tree=t.name))
    return tuple(checks)


def _differing_ranges(trees):
    """The features whose training range differs between the trees (their training
    sets differ: Q1's and Q2's rows of a table): their range phrases name the tree."""
    ranges = {}
    for t in trees:
        for f, dist in (t.distribution or {}).items():
            ranges.setdefault(f, set()).add((float(dist.min), float(dist.max)))
    return frozenset(f for f, seen in ranges.items() if len(seen) > 1)


def _feature_report(name, value, se, q_trees, on_path, differ=frozenset()):
    """``q_trees`` is ``(q1, q2)``; a range that differs between them is named "Q1"
    or "Q2"."""
    owned = [(q, t.distribution[name]) for q, t in zip(("Q1", "Q2"), q_trees)
             if t is not None and t.distribution is not None and name in t.distribution]
    if not owned or math.isnan(value):
        return FeatureReport(name, value, se, None, on_path=on_path)
    worst, (worst_tree, worst_dist) = (None, 0.0), owned[0]
    for tree, dist in owned:
        side, distance = dist.outside(value)
        if side is not None and distance >= worst[1]:
            worst, worst_tree, worst_dist = (side, distance), tree, dist
    side, distance = worst
    unit = worst_dist.spread()[1] if side is not None else None
    return FeatureReport(name, value, se, side is None, side, float(distance), unit,
                         worst_dist.min, worst_dist.max, on_path,
                         worst_tree if name in differ else None)


@validate_params(
    {
        "X": [pd.DataFrame, pd.Series],
        "tree": [str, os.PathLike, MDTreeClassifier, PretrainedTree, CalibratedDiagnoser,
                 None],
        "q2_tree": [str, os.PathLike, MDTreeClassifier, PretrainedTree, None],
        "fit_on": [pd.DataFrame, None],
        "optimizer": [StrOptions(set(_RAISE)), None],
        "borderline": [Interval(Real, 0, None, closed="left")],
        "warn": ["boolean"],
        "n_classes": [Interval(Integral, 2, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def diagnose(X, tree=None, *, q2_tree="auto", fit_on=None, optimizer=None,
             borderline=2.0, warn=True, n_classes=None):
    """Diagnose model groups from their features: what to change, why, how sure.

    For every row of ``X`` (one model group: the models of one training
    configuration), a Q1 tree says whether the optimizer's temperature is too high
    or too low, and an optional Q2 tree whether the model is too small (or the
    data too little) instead; the recommendation is the paper's one-step change
    (Appendix A.1), as :func:`sklearn_mdtree.diagnosis.recommend` gives it. The
    report adds the domain of validity, the precision of every decision and a
    confidence (see the module docstring of :mod:`sklearn_mdtree.diagnosis._diagnose`).

    Parameters
    ----------
    X : pandas.DataFrame or pandas.Series
        One row per model group with the features the trees read
        (``train_error``, ``mode_connectivity_peak``, ``hessian_t`` or ``CKA``)
        and, optionally, their standard errors as ``<feature>_se`` columns
        (``LossLandscapeFeaturizer(return_se=True)``). Other columns are ignored.
    tree : str, path, PretrainedTree, MDTreeClassifier or CalibratedDiagnoser, default=None
        The Q1 tree, or a calibration: a
        :class:`~sklearn_mdtree.calibration.CalibratedDiagnoser` or its file
        (``mdtree calibrate``'s output, told from a tree by its ``format``), whose
        verdicts on your groups become the report's (``q1`` None in each group, the
        calibration's measured accuracy and lattice size in ``trees["calibration"]``;
        ``q2_tree`` and ``fit_on`` are then not allowed). Otherwise the Q1 tree.
        A family name (``"cifar10-resnet18"``: its ``-q1`` tree, and its ``-q2``
        tree as ``q2_tree="auto"``), a shipped tree name
        (:func:`sklearn_mdtree.pretrained.available_trees`), a tree file (a
        path, or a str ending in ``.json`` or holding a path separator), a
        :class:`~sklearn_mdtree.pretrained.PretrainedTree`, or any fitted Q1
        :class:`MDTreeClassifier` (its domain is then unknown unless wrapped
        with ``PretrainedTree.from_estimator(tree, X_train)``). None:
        ``"cifar10-resnet18"``, unless ``fit_on`` is given. Choose the tree
        fitted on models most like yours: its thresholds are in the units of
        its training population.
    q2_tree : "auto", str, path, PretrainedTree, MDTreeClassifier or None, default="auto"
        The Q2 tree: a shipped Q2 tree's name, a tree file (as for ``tree``), a
        :class:`~sklearn_mdtree.pretrained.PretrainedTree` or a fitted Q2
        :class:`MDTreeClassifier`. ``"auto"``: the family's Q2 tree when
        ``tree`` names a family (or fitted on ``fit_on`` when it has a
        ``width_vs_batch`` column), else none. None: Q1 alone.
    fit_on : pandas.DataFrame, default=None
        A labelled table of your own configurations (features and a
        ``bs_failure`` column, optionally ``width_vs_batch``; see
        :func:`sklearn_mdtree.rfi.label_configurations`): the trees are fitted
        on it (``"q1_sharpness"`` and ``"q2_width"``, data bounds, rows labelled
        ``"optimal"`` left out). Exclusive with ``tree``.
    optimizer : {"batch size", "learning rate"}, default=None
        The optimizer hyperparameter you tune: the actions and the failure
        source name it (a smaller batch or a larger learning rate raises the
        temperature). None: the knob a calibration varied, else ``"batch size"``.
    borderline : float, default=2.0
        A decision is borderline when the feature lies within ``borderline``
        standard errors of the threshold (2: about 95% two-sided).
    warn : bool, default=True
        Issue an :class:`OutOfDomainWarning` when a domain check fires and a
        :class:`~sklearn_mdtree.RecipeWarning` when the features were computed
        otherwise than a tree's (see Warns).
    n_classes : int, default=None
        Classes of the models' task, for the training check (chance-level error
        and the uniform prediction's loss). None: the ``n_classes`` column of
        ``X`` where it has one; without either the check uses what it can and the
        group's notes say what it lacked.

    Returns
    -------
    report : DiagnosisReport
        A sequence of :class:`GroupReport`, with ``to_text()``, ``to_dict()``
        and ``to_frame()``. Each group's ``verdict_kind`` is, in the order
        decided: ``"training failed"`` (the models diverged or stalled: checked
        before any tree), ``"no reliable diagnosis"`` (a domain check fired, or
        the regime's out-of-fold accuracy is not clearly better than a constant
        answer; the trees' reading stays in the report as information), ``"keep
        as is"`` (the leaf's training labels, ``"optimal"`` rows included, say no
        one-step move helps) or ``"change"`` (the one-step change). The
        confidence is the measurement noise times the regime's measured accuracy.

    Warns
    -----
    OutOfDomainWarning
        When a decision on a path reads a feature outside the range of the
        tree's training configurations, or of those in the same regime, or when
        all the features together lie far from every training configuration
        (the joint check; each group's ``out_of_domain_checks`` says which).
    RecipeWarning
        When a ``feature_recipe`` column says the features were computed with
        settings other than a tree's (each setting named).

    Examples
    --------
    >>> import pandas as pd
    >>> import sklearn_mdtree
    >>> X = pd.DataFrame({"train_error": [2.0], "mode_connectivity_peak": [-30.0],
    ...                   "hessian_t": [5.0], "hessian_t_se": [0.1]}, index=["run-a"])
    >>> report = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1")
    >>> report[0].verdict_kind, report[0].action, report[0].out_of_domain
    ('change', 'increase batch size', False)
    >>> [round(d.margin_se, 1) for d in report[0].q1.decisions if d.margin_se is not None]
    [-11.4]
    """
    X = _as_frame(X)
    calibration = as_calibration(tree)
    if calibration is not None:
        for name, value, default in (("q2_tree", q2_tree, "auto"), ("fit_on", fit_on, None)):
            if not (value is default or (isinstance(value, str) and value == default)):
                raise ValueError(
                    f"The '{name}' parameter of diagnose is not allowed with a calibration "
                    "('tree' is a CalibratedDiagnoser or its file): the calibration gives "
                    "the whole verdict.")
        name = (os.fspath(tree) if isinstance(tree, (str, os.PathLike))
                else getattr(calibration, "source_", None)
                or calibration.metadata_.get("family") or "calibrated diagnoser")
        return diagnose_calibrated(
            X, calibration, name=os.path.basename(name), optimizer=optimizer,
            n_classes=n_classes, warn=warn, borderline=borderline)
    # a tree file (a ".json" ending or a path separator; a shipped name has neither)
    if is_tree_path(tree):
        tree = PretrainedTree.from_file(tree)
    if is_tree_path(q2_tree):
        q2_tree = PretrainedTree.from_file(q2_tree)
    optimizer = "batch size" if optimizer is None else optimizer
    q1, q2 = choose_trees(tree, q2_tree, fit_on)
    report_notes = [n for n in (not_shipped_note(tree, q2_tree),) if n is not None]
    base = recommend(q1.estimator, X, q2_tree=None if q2 is None else q2.estimator,
                     optimizer_name=optimizer, raise_temperature=_RAISE[optimizer])
    trees = [t for t in (q1, q2) if t is not None]
    read = list(dict.fromkeys(f for t in trees for f in t.estimator.hierarchy_.features()))
    values = {f: X[f].to_numpy(dtype=np.float64) for f in read}
    # the other features the training sets record, where X has them (the range and
    # joint checks); a non-numeric value there counts as missing
    for f in _recorded(trees):
        if f not in values and f in X.columns:
            values[f] = pd.to_numeric(X[f], errors="coerce").to_numpy(dtype=np.float64)
    ses = {f: _se_of(X, f) for f in values}
    records = (tree_records(q1), tree_records(q2))
    checks = training_checks(X, n_classes, optimizer)
    recipes = recipe_checks(X, trees, [r for r in records if r is not None])
    groups, flagged, differ = [], [], []
    for i, rec in enumerate(base):
        row = {f: float(v[i]) for f, v in values.items()}
        se_row = {f: (None if np.isnan(s[i]) else float(s[i])) for f, s in ses.items()}
        group, named = _group_report(rec, (q1, q2), row, se_row, optimizer, borderline,
                                     records=records, check=checks[i], recipe=recipes[i])
        groups.append(group)
        if named:
            flagged.append(f"{rec.model!r} ({', '.join(named)})")
        if recipes[i][0]:
            differ.append(f"{rec.model!r}: {'; '.join(recipes[i][0])}")
    if differ and warn:
        warnings.warn(
            f"{len(differ)} of {len(groups)} groups' features were computed otherwise than "
            f"the tree's training features: {' | '.join(differ[:3])}"
            + (" | ..." if len(differ) > 3 else ""),
            RecipeWarning,
            stacklevel=3,
        )
    if flagged and warn:
        warnings.warn(
            f"{len(flagged)} of {len(groups)} diagnoses concern models outside the "
            f"training domain of the tree(s) {[t.name for t in trees]}: "
            f"{'; '.join(flagged)}. See each report's warnings.",
            OutOfDomainWarning,
            stacklevel=3,
        )
    return DiagnosisReport(groups, {"q1": summary(q1, records[0]),
                                    "q2": None if q2 is None else summary(q2, records[1])},
                           optimizer, float(borderline),
                           estimators={"q1": q1.estimator,
                                       "q2": None if q2 is None else q2.estimator},
                           notes=report_notes)


def _group_report(rec, q_trees, values, se_row, optimizer, borderline, *, records=None,
                  check=None, recipe=((), ())):
    """The verdict on one model group: the one place where it is decided.

    ``rec`` is the group's :class:`~sklearn_mdtree.diagnosis.Recommendation` (the
    trees' routing and the one-step rule); this adds the margins, the domain checks
    and the warnings, then (:func:`~sklearn_mdtree.diagnosis._kinds.decide`) the
    verdict kind -- training failed, no reliable diagnosis, keep as is, change --
    from the row's training ``check``, the trees' ``records`` and the features'
    ``recipe`` check ``(warnings, notes)``, and the confidence. Returns ``(GroupReport, named)``, ``named``
    the features (and ``"joint"``) that make it an extrapolation (empty: none).
    """
    q1, q2 = q_trees
    trees = [t for t in q_trees if t is not None]
    on_any_path = {d.feature for v in (rec.q1, rec.q2) if v is not None for d in v.path}
    differ = _differing_ranges(trees)
    feature_reports = tuple(
        _feature_report(f, values[f], se_row[f], q_trees, f in on_any_path, differ)
        for f in values
    )
    joint = _joint_checks(trees, values)
    verdicts, all_decisions, domain_phrases = [], [], {}
    for question, tree_, verdict in (("Q1", q1, rec.q1), ("Q2", q2, rec.q2)):
        if verdict is None:
            verdicts.append(None)
            continue
        decisions, ood, phrases = _verdict(question, tree_, verdict, se_row, borderline,
                                           differ)
        for feature, phrase in phrases.items():
            domain_phrases.setdefault(feature, phrase)
        all_decisions.append(decisions)
        verdicts.append(VerdictReport(
            question, verdict.task, tree_.name, verdict.label, verdict.regime,
            tuple(decisions), _cause(verdict.task, verdict.label, optimizer),
            _confidence([decisions]), ood,
        ))
    v1, v2 = verdicts
    deciding = v2 if v2 is not None and v2.label != "batch" else v1
    notes, named = [], []
    on_path = tuple(dict.fromkeys(f for v in verdicts if v is not None
                                  for f in v.out_of_domain_features))
    fired = [domain_phrases[f] for f in on_path]
    far = [c for c in joint if not c.in_domain]
    if far:  # the farthest, in words; the others by their ratio
        worst = max(far, key=lambda c: c.ratio)
        others = "".join(f", {c.ratio:.2g} times for tree {c.tree or '(unnamed)'}"
                         for c in far if c is not worst)
        outside = [_outside_phrase(f.name, f.value, f.side, f.distance, f.distance_unit,
                                   f.training_min, f.training_max, f.training_tree)
                   for f in feature_reports if f.in_domain is False and not f.on_path]
        also = f"; besides, {'; '.join(outside)}" if outside else ""
        fired.append(("joint", f"{worst.to_text()}, tree {worst.tree or '(unnamed)'}"
                               f"{others}{also}"))
    checks = tuple(c for c in ("range", "regime", "joint") if c in {k for k, _ in fired})
    if checks:
        notes.append(_extrapolation_note([f"{check} check: {phrase}" for check, phrase in fired]))
        named = list(on_path) + (["joint"] if far else [])
    shaky = [d for ds in all_decisions for d in ds if d.borderline]
    if shaky:
        notes.append(_borderline_note(shaky, borderline))
    recipe_warnings, recipe_notes = recipe
    notes.extend(f"features computed otherwise than the tree's: {w}" for w in recipe_warnings)
    tree_notes = tuple(n for r in (records or ()) if r is not None for n in r.notes)
    group = GroupReport(
        rec.model, rec.action, rec.hyperparameter, rec.direction,
        deciding.failure_source, feature_reports, v1, v2,
        _confidence(all_decisions), tuple(notes), joint, checks,
        notes=tuple(recipe_notes) + tree_notes,
    )
    if check is None:
        return group, named
    return decide(group, check, records, optimizer), named
