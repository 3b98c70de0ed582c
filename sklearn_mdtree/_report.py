"""Diagnosis reports: a pretrained (or user-fitted) tree's verdict on each model group,
with the domain of validity and the precision of every decision.

:func:`diagnose` wraps :func:`sklearn_mdtree.diagnosis.diagnose` (the routing and the
one-step rule are the same) and adds, per model group:

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
import warnings
from numbers import Real
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.special import ndtr
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._classes import MDTreeClassifier
from ._domain import DOMAIN_FEATURES, OutOfDomainWarning, _ordinal
from .pretrained._io import PretrainedTree, tree_to_dict

__all__ = [
    "DecisionReport",
    "DiagnosisReport",
    "FeatureReport",
    "GroupReport",
    "VerdictReport",
    "diagnose",
]

#: Schema name and version of :meth:`DiagnosisReport.to_dict`.
SCHEMA = "sklearn-mdtree/diagnosis-report"
SCHEMA_VERSION = 1

_CONFIDENCE_RULE = (
    "probability that no decision on the path flips: each feature's true value taken "
    "as normal around the measured one with its standard error, features independent"
)

#: What each feature measures, for a reader who has not read the paper.
FEATURE_WORDS = {
    "train_error": "training error (%): how much of its own training data the model "
    "gets wrong",
    "mode_connectivity_peak": "mode connectivity: the error bump on the best path between "
    "two seeds' models (strongly negative: a barrier separates them)",
    "hessian_t": "sharpness: log trace of the loss Hessian (larger: a sharper minimum)",
    "CKA": "output similarity of two seeds' models (CKA, 0 to 1)",
}

_QUESTIONS = {
    "bs_failure": "Q1: is the optimizer's temperature too high or too low?",
    "width_vs_batch": "Q2: is the model too small, or is the optimizer to blame?",
    "data_vs_batch": "Q2: is the data too little, or is the optimizer to blame?",
}

# How each optimizer hyperparameter moves to raise the temperature (step noise).
_RAISE = {"batch size": "decrease", "learning rate": "increase"}


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


def _plain(x):
    """A float or None (NaN and infinities become None) for JSON."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class FeatureReport:
    """One feature of one model group, with its precision and domain flag.

    Attributes
    ----------
    name : str
        The feature (column) name.
    value : float
        The measured value.
    se : float or None
        Its standard error (None: not given).
    in_domain : bool or None
        Inside the training range of every tree whose training distribution
        records it (None: none does, or the value is missing).
    side : {"below", "above"} or None
        Where it lies outside that range.
    distance : float
        How far outside, in ``distance_unit`` of the training set (0 inside).
    distance_unit : str or None
        ``"IQR"`` (interquartile range of the training values), ``"std"`` or
        ``"units"`` (see :meth:`FeatureDistribution.spread`).
    training_min, training_max : float or None
        The training range.
    on_path : bool
        A decision on the Q1 or Q2 path reads the feature (False: its range does
        not flag the diagnosis by itself; the joint check weighs it).
    """

    name: str
    value: float
    se: float | None
    in_domain: bool | None
    side: str | None = None
    distance: float = 0.0
    distance_unit: str | None = None
    training_min: float | None = None
    training_max: float | None = None
    on_path: bool = True

    def domain_text(self):
        """One phrase: inside the range, or how far outside it."""
        if self.in_domain is None:
            return "domain unknown"
        low, high = self.training_min + 0.0, self.training_max + 0.0  # no "-0"
        rng = f"training range {low:.4g} .. {high:.4g}"
        if self.in_domain:
            return f"inside the {rng}"
        where = f"{self.distance:.2g} {self.distance_unit} {self.side} the {rng}"
        if not self.on_path:
            return f"outside: {where}; not read on the path, weighed by the joint check"
        return f"OUT OF DOMAIN: {where}"

    def to_dict(self):
        """The fields as plain JSON types."""
        return {
            "name": self.name,
            "value": _plain(self.value),
            "se": _plain(self.se),
            "in_domain": self.in_domain,
            "side": self.side,
            "distance": _plain(self.distance),
            "distance_unit": self.distance_unit,
            "training_min": _plain(self.training_min),
            "training_max": _plain(self.training_max),
            "on_path": self.on_path,
        }


@dataclass(frozen=True)
class DecisionReport:
    """One split on the path, with its margin in standard errors.

    Attributes
    ----------
    split : str
        The split node (``"t0"``, ...).
    feature : str
        The feature it reads.
    threshold, value : float
        The fitted threshold and the model's value.
    went_left : bool
        True if ``value <= threshold``.
    se : float or None
        The feature's standard error.
    margin_se : float or None
        ``(value - threshold) / se`` (None without a positive ``se``).
    borderline : bool or None
        ``|margin_se| < borderline`` (the rule of :func:`diagnose`); None
        without a standard error.
    in_domain : bool or None
        The value lies inside this tree's training range of the feature and
        inside the range of the training configurations in the same regime
        (None: neither is known).
    """

    split: str
    feature: str
    threshold: float
    value: float
    went_left: bool
    se: float | None
    margin_se: float | None
    borderline: bool | None
    in_domain: bool | None

    @property
    def side(self):
        """``"<="`` or ``">"``."""
        return "<=" if self.went_left else ">"

    def to_text(self):
        """One line: value, side, threshold, margin."""
        se = "" if self.se is None else f" ± {self.se:.2g}"
        text = (f"{self.feature} = {self.value:.4g}{se} {self.side} {self.threshold:.4g}"
                f"  [{self.split}]")
        if self.margin_se is not None:
            text += f"  margin {self.margin_se:+.1f} SE"
        if self.borderline:
            text += "  BORDERLINE (could flip within the noise)"
        if self.in_domain is False:
            text += "  (outside the training domain)"
        return text

    def to_dict(self):
        """The fields as plain JSON types (``side`` included)."""
        return {
            "split": self.split,
            "feature": self.feature,
            "threshold": _plain(self.threshold),
            "value": _plain(self.value),
            "side": self.side,
            "se": _plain(self.se),
            "margin_se": _plain(self.margin_se),
            "borderline": self.borderline,
            "in_domain": self.in_domain,
        }


@dataclass(frozen=True)
class VerdictReport:
    """What one tree says about one model group.

    Attributes
    ----------
    question : {"Q1", "Q2"}
    task : str
        The label column the tree answers.
    tree : str or None
        The tree's name.
    label : str
        The predicted label.
    regime : int
        The leaf reached.
    decisions : tuple of DecisionReport
        The path from the root.
    failure_source : str
        What the label means, in plain words.
    confidence : float or None
        Probability that no decision on this path flips (None: a standard error
        is missing).
    out_of_domain_features : tuple of str
        Features on the path out of domain (see :class:`DecisionReport`).
    """

    question: str
    task: str
    tree: str | None
    label: str
    regime: int
    decisions: tuple
    failure_source: str
    confidence: float | None
    out_of_domain_features: tuple = ()

    @property
    def borderline(self):
        """True if a decision on the path is borderline."""
        return any(d.borderline for d in self.decisions)

    def to_dict(self):
        """The fields as plain JSON types (``borderline`` included)."""
        return {
            "question": self.question,
            "task": self.task,
            "tree": self.tree,
            "label": self.label,
            "regime": int(self.regime),
            "failure_source": self.failure_source,
            "confidence": _plain(self.confidence),
            "borderline": self.borderline,
            "out_of_domain_features": list(self.out_of_domain_features),
            "decisions": [d.to_dict() for d in self.decisions],
        }


@dataclass(frozen=True)
class GroupReport:
    """The diagnosis of one model group.

    Attributes
    ----------
    model : str or int
        The group's row label.
    action : str
        The recommended one-step change, e.g. ``"decrease batch size"``.
    hyperparameter, direction : str
        What to change and which way.
    failure_source : str
        The cause, in plain words (from the verdict that decided the action).
    features : tuple of FeatureReport
        The features the trees read, then the other loss-landscape features the
        trees' training sets record and ``X`` has (the joint check's).
    q1 : VerdictReport
    q2 : VerdictReport or None
    confidence : float or None
        Probability that no decision on the Q1 and Q2 paths flips.
    warnings : tuple of str
        Out-of-domain and borderline notes, in words.
    joint_checks : tuple of JointCheck
        The joint domain check against each tree's training configurations
        (:class:`~sklearn_mdtree._domain.JointCheck`; empty when no tree has its
        training points).
    out_of_domain_checks : tuple of str
        The domain checks that fired, among ``"range"`` (a feature on a path
        outside the range of all the training configurations), ``"regime"`` (a
        feature on a path outside the range of the training configurations in
        the same regime) and ``"joint"`` (all the features together far from
        every training configuration).
    """

    model: object
    action: str
    hyperparameter: str
    direction: str
    failure_source: str
    features: tuple
    q1: VerdictReport
    q2: VerdictReport | None
    confidence: float | None
    warnings: tuple = field(default=())
    joint_checks: tuple = field(default=())
    out_of_domain_checks: tuple = field(default=())

    @property
    def out_of_domain(self):
        """True if a domain check fired: the model is unlike the training models."""
        return bool(self.out_of_domain_checks or self.out_of_domain_features)

    @property
    def out_of_domain_features(self):
        """Features on the paths out of domain (outside the training range or
        their regime's), in order."""
        verdicts = [self.q1] + ([self.q2] if self.q2 is not None else [])
        return tuple(dict.fromkeys(f for v in verdicts for f in v.out_of_domain_features))

    @property
    def borderline(self):
        """True if a decision on a path is borderline."""
        return self.q1.borderline or (self.q2 is not None and self.q2.borderline)

    def to_text(self):
        """A readable block, for someone who never read the paper."""
        lines = [f"Model {self.model}: {self.action}."]
        lines.append(f"  Why: {self.failure_source}")
        if self.confidence is None:
            lines.append("  Confidence: unknown (no standard errors given for the features "
                         "the decision uses)")
        else:
            lines.append(f"  Confidence: {self.confidence:.2f} ({_CONFIDENCE_RULE})")
            if self.out_of_domain:
                lines.append("      (measurement noise only: it says nothing about the "
                             "extrapolation flagged below)")
        lines.extend(f"  WARNING: {w}" for w in self.warnings)
        for verdict in (self.q1, self.q2):
            if verdict is None:
                continue
            tree = f"tree {verdict.tree}" if verdict.tree else "tree"
            lines.append(
                f"  {_QUESTIONS[verdict.task]} -> {verdict.label} (regime {verdict.regime}, {tree})"
            )
            lines.extend(f"      {d.to_text()}" for d in verdict.decisions)
        lines.append("  Features:")
        for f in self.features:
            se = "" if f.se is None else f" ± {f.se:.2g}"
            lines.append(f"      {f.name} = {f.value:.4g}{se}  ({f.domain_text()})")
        for check in self.joint_checks:
            verdict = "inside the domain" if check.in_domain else "OUT OF DOMAIN"
            lines.append(
                f"  Joint check against the {check.n} training configurations of "
                f"{check.tree or 'the tree'}: {verdict} (distance {check.distance:.3g} to "
                f"the {_ordinal(check.k)} nearest; {100 * check.quantile:g}% of them lie "
                f"within {check.threshold:.3g} of theirs: {check.ratio:.2g}x)"
            )
        return "\n".join(lines)

    def to_dict(self):
        """The report as plain JSON types; see :meth:`DiagnosisReport.to_dict`."""
        model = self.model.item() if isinstance(self.model, np.generic) else self.model
        if not isinstance(model, (str, int, float, bool)) and model is not None:
            model = str(model)
        return {
            "model": model,
            "action": self.action,
            "hyperparameter": self.hyperparameter,
            "direction": self.direction,
            "failure_source": self.failure_source,
            "confidence": _plain(self.confidence),
            "out_of_domain": self.out_of_domain,
            "out_of_domain_features": list(self.out_of_domain_features),
            "out_of_domain_checks": list(self.out_of_domain_checks),
            "borderline": self.borderline,
            "warnings": list(self.warnings),
            "features": [f.to_dict() for f in self.features],
            "joint_domain": [c.to_dict() for c in self.joint_checks],
            "q1": self.q1.to_dict(),
            "q2": None if self.q2 is None else self.q2.to_dict(),
        }

    def to_row(self):
        """One flat dict: the DataFrame row of :meth:`DiagnosisReport.to_frame`."""
        row = {
            "action": self.action,
            "hyperparameter": self.hyperparameter,
            "direction": self.direction,
            "confidence": _nan(self.confidence),
            "out_of_domain": self.out_of_domain,
            "out_of_domain_features": ",".join(self.out_of_domain_features),
            "out_of_domain_checks": ",".join(self.out_of_domain_checks),
            "joint_ratio": max((c.ratio for c in self.joint_checks), default=float("nan")),
            "borderline": self.borderline,
        }
        for name, verdict in (("q1", self.q1), ("q2", self.q2)):
            if verdict is None:
                continue
            row[f"{name}_label"] = verdict.label
            row[f"{name}_regime"] = verdict.regime
            row[f"{name}_confidence"] = _nan(verdict.confidence)
            row[f"{name}_borderline"] = verdict.borderline
        for f in self.features:
            row[f.name] = f.value
            row[f"{f.name}_se"] = _nan(f.se)
            row[f"{f.name}_in_domain"] = f.in_domain
        row["failure_source"] = self.failure_source
        return row


def _nan(x):
    return float("nan") if x is None else float(x)


class DiagnosisReport:
    """Diagnoses of several model groups: a sequence, a table, a text and a dict.

    Returned by :func:`diagnose`. Two reports of equal inputs are equal (``==``).

    Attributes
    ----------
    groups : tuple of GroupReport
        One per input row, in order.
    trees : dict
        ``{"q1": {...}, "q2": {...} or None}``: each tree's ``name``,
        ``description``, ``task`` and ``n_training_configurations``.
    optimizer : str
        The optimizer hyperparameter the actions name.
    borderline : float
        The borderline rule: ``|margin| < borderline`` standard errors.

    Examples
    --------
    >>> import pandas as pd
    >>> import sklearn_mdtree
    >>> X = pd.DataFrame({"train_error": [2.0, 3.0], "mode_connectivity_peak": [-30.0, -20.0],
    ...                   "hessian_t": [5.0, 6.0], "hessian_t_se": [0.1, 0.1]},
    ...                  index=["run-a", "run-b"])
    >>> report = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1")
    >>> type(report).__name__, len(report), report.optimizer, report.borderline
    ('DiagnosisReport', 2, 'batch size', 2.0)
    >>> report.trees["q1"]["name"], report.trees["q2"]
    ('cifar10-resnet18-q1', None)
    >>> report.to_frame()[["action", "out_of_domain"]].shape
    (2, 2)
    >>> report == sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1")
    True
    """

    def __init__(self, groups, trees, optimizer, borderline, estimators=None):
        self.groups = tuple(groups)
        self.trees = trees
        self.optimizer = optimizer
        self.borderline = borderline
        # the fitted trees, for the pictures of to_html (not part of to_dict or ==)
        self._estimators = dict(estimators or {})

    def to_html(self, path=None):
        """The report as one self-contained HTML page.

        For each model group: the recommended change and why, the warnings, each
        tree's decisions with their margins in standard errors, the tree drawn with
        the model's path highlighted, the model's position among the regimes with
        its uncertainty, and its features against the trees' training range. The
        pictures are inlined (base64 SVG); the page has no script and loads nothing
        from outside (see :mod:`sklearn_mdtree._html`). Needs matplotlib.

        Parameters
        ----------
        path : str or path-like, default=None
            Write the page to this file (UTF-8); None returns it.

        Returns
        -------
        html : str or pathlib.Path
            The page, or the path written.

        Examples
        --------
        >>> import pandas as pd
        >>> import sklearn_mdtree
        >>> X = pd.DataFrame({"train_error": [2.0], "mode_connectivity_peak": [-30.0],
        ...                   "hessian_t": [5.0], "hessian_t_se": [0.1]}, index=["run-a"])
        >>> page = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1").to_html()
        >>> page.startswith("<!DOCTYPE html>"), "Model run-a" in page
        (True, True)
        """
        from ._html import render_report, write_report

        if path is None:
            return render_report(self, self._estimators)
        return write_report(self, path, self._estimators)

    def _repr_html_(self):
        """The report as HTML in a notebook (Jupyter calls this)."""
        from ._html import render_report

        return render_report(self, self._estimators, full_page=False)

    def __len__(self):
        return len(self.groups)

    def __iter__(self):
        return iter(self.groups)

    def __getitem__(self, i):
        return self.groups[i]

    def __eq__(self, other):
        return isinstance(other, DiagnosisReport) and self.to_dict() == other.to_dict()

    __hash__ = None

    @property
    def out_of_domain(self):
        """True if any group's diagnosis rests on an out-of-domain feature."""
        return any(g.out_of_domain for g in self.groups)

    def to_dict(self):
        """The report as plain JSON types (``json.dumps`` works on it).

        Returns
        -------
        report : dict
            ``schema`` (``"sklearn-mdtree/diagnosis-report"``), ``schema_version``
            (1), ``optimizer``, ``borderline_se`` (the rule ``|margin| <
            borderline_se``), ``confidence_rule`` (in words), ``trees`` (``q1``,
            ``q2``: ``name``, ``description``, ``task``,
            ``n_training_configurations``, or ``q2`` None), and ``groups``: one
            dict per model group with ``model``, ``action``, ``hyperparameter``,
            ``direction``, ``failure_source``, ``confidence``, ``out_of_domain``,
            ``out_of_domain_features``, ``out_of_domain_checks`` (``"range"``,
            ``"regime"``, ``"joint"``), ``borderline``, ``warnings`` (list of
            str), ``features`` (list of ``name``, ``value``, ``se``,
            ``in_domain``, ``side``, ``distance``, ``distance_unit``,
            ``training_min``, ``training_max``, ``on_path``), ``joint_domain`` (list, one per
            tree with training points, of ``features``, ``k``, ``quantile``,
            ``distance``, ``threshold``, ``n``, ``tree``, ``ratio``,
            ``in_domain``), ``q1`` and ``q2`` (or None):
            ``question``, ``task``, ``tree``, ``label``, ``regime``,
            ``failure_source``, ``confidence``, ``borderline``,
            ``out_of_domain_features`` and ``decisions`` (list of ``split``,
            ``feature``, ``threshold``, ``value``, ``side``, ``se``,
            ``margin_se``, ``borderline``, ``in_domain``). Missing numbers are
            None.
        """
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "optimizer": self.optimizer,
            "borderline_se": float(self.borderline),
            "confidence_rule": _CONFIDENCE_RULE,
            "trees": self.trees,
            "groups": [g.to_dict() for g in self.groups],
        }

    def to_frame(self):
        """One row per group (:meth:`GroupReport.to_row`), indexed by ``model``."""
        frame = pd.DataFrame([g.to_row() for g in self.groups])
        frame.index = pd.Index([g.model for g in self.groups], name="model")
        return frame

    def to_text(self):
        """The readable report: the trees, then one block per group."""
        lines = []
        for key in ("q1", "q2"):
            tree = self.trees.get(key)
            if tree is None:
                continue
            n = tree.get("n_training_configurations")
            about = f", fitted on {n} configurations" if n is not None else ""
            lines.append(f"{key.upper()} tree: {tree.get('name') or '(unnamed)'}{about}. "
                         f"{tree.get('description') or ''}".rstrip())
        lines.append(
            f"Borderline: a decision within {self.borderline:g} standard errors of its "
            "threshold."
        )
        blocks = ["\n".join(lines)] + [g.to_text() for g in self.groups]
        return "\n\n".join(blocks) + "\n"

    def __str__(self):
        return self.to_text()

    def __repr__(self):
        n_ood = sum(g.out_of_domain for g in self.groups)
        return f"DiagnosisReport(n_groups={len(self)}, out_of_domain={n_ood})"


# --------------------------------------------------------------------------------------
# Choosing the trees
# --------------------------------------------------------------------------------------


class _Tree:
    """A tree with its name and training distributions (None: unknown)."""

    def __init__(self, estimator, name=None, distribution=None, description=None, n=None,
                 regimes=None, joint=None):
        self.estimator = estimator
        self.name = name
        self.distribution = distribution
        self.description = description
        self.n = n
        self.regimes = regimes
        self.joint = joint

    def summary(self):
        return {
            "name": self.name,
            "description": self.description,
            "task": self.estimator.hierarchy_.task,
            "n_training_configurations": self.n,
        }


def _wrap(tree, what):
    from .pretrained import PretrainedTree, load_tree

    if isinstance(tree, str):
        tree = load_tree(tree)
    if isinstance(tree, PretrainedTree):
        return _Tree(tree.estimator, tree.name, tree.distribution, tree.description,
                     tree.n_training_configurations, tree.regimes, tree.joint)
    if isinstance(tree, MDTreeClassifier):
        return _Tree(tree)
    raise TypeError(
        f"The '{what}' parameter of diagnose must be a tree name, a PretrainedTree or a "
        f"fitted MDTreeClassifier. Got {type(tree).__name__} instead."
    )


def _fit_on(table, q2_tree):
    """Q1 (and Q2 if the label is there) fitted on a labelled table, data bounds."""
    from .pretrained._recipes import training_rows

    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            "The 'fit_on' parameter of diagnose must be a pandas DataFrame of labelled "
            f"configurations. Got {type(table).__name__} instead."
        )
    if "bs_failure" not in table.columns:
        raise ValueError(
            "The 'fit_on' table of diagnose needs a 'bs_failure' label column (Q1); got "
            f"columns {list(table.columns)}."
        )
    trees = []
    for label, preset in (("bs_failure", "q1_sharpness"), ("width_vs_batch", "q2_width")):
        if label != "bs_failure" and (q2_tree is None or label not in table.columns):
            trees.append(None)
            continue
        train = training_rows(table, label, source="user")
        est = MDTreeClassifier(preset, bounds="data").fit(train, train[label])
        trees.append(_wrap(PretrainedTree.from_dict(tree_to_dict(
            est, train, name=f"fitted on the given table ({label})",
            description=f"{preset} with data bounds",
        )), "fit_on"))
    return trees


def _choose_trees(tree, q2_tree, fit_on):
    from .pretrained import resolve_family

    if fit_on is not None:
        if tree is not None:
            raise ValueError(
                "The 'tree' and 'fit_on' parameters of diagnose are exclusive: pass a tree, "
                "or a labelled table to fit one on, not both."
            )
        return _fit_on(fit_on, q2_tree)
    tree = "cifar10-resnet18" if tree is None else tree
    family_q2 = None
    if isinstance(tree, str):
        q1_name, family_q2 = resolve_family(tree)
        if q1_name is None:
            raise ValueError(
                f"The 'tree' parameter of diagnose must name a Q1 tree or a family; "
                f"{tree!r} is a Q2 tree (pass it as q2_tree)."
            )
        tree = q1_name
    q1 = _wrap(tree, "tree")
    if isinstance(q2_tree, str) and q2_tree == "auto":
        q2_tree = family_q2
    q2 = None if q2_tree is None else _wrap(q2_tree, "q2_tree")
    return [q1, q2]


# --------------------------------------------------------------------------------------
# The computation
# --------------------------------------------------------------------------------------


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


def _verdict(question, tree, verdict, se_row, borderline):
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
        in_domain, phrase = _decision_domain(tree, verdict.regime, d.feature, d.value)
        if phrase is not None and d.feature not in phrases:
            phrases[d.feature] = phrase
        decisions.append(DecisionReport(d.split, d.feature, d.threshold, d.value,
                                        d.went_left, se, margin, flag, in_domain))
    ood = tuple(dict.fromkeys(d.feature for d in decisions if d.in_domain is False))
    return decisions, ood, phrases


def _decision_domain(tree, regime, feature, value):
    """``(in_domain, phrase)`` of one value on a path: inside the tree's training range
    of the feature and inside the range of the training configurations in the same
    regime (leaf)? ``in_domain`` is None when neither is known; ``phrase`` is None or
    ``(check, words)``, ``check`` ``"range"`` or ``"regime"``."""
    known, phrase = False, None
    if tree.distribution is not None and feature in tree.distribution:
        known = True
        if tree.distribution[feature].outside(value)[0] is not None:
            phrase = ("range", _range_phrase(feature, value, tree.distribution[feature]))
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


def _range_phrase(feature, value, dist):
    """The range check's phrase for a value outside ``dist``'s range."""
    side, distance = dist.outside(value)
    return _outside_phrase(feature, value, side, distance, dist.spread()[1], dist.min,
                           dist.max)


def _outside_phrase(feature, value, side, distance, unit, low, high):
    return (f"{feature} = {value:.4g} lies {distance:.2g} {unit} {side} the range of all "
            f"the training configurations ({low + 0.0:.4g} .. {high + 0.0:.4g})")


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


def _feature_report(name, value, se, trees, on_path):
    dists = [t.distribution[name] for t in trees
             if t is not None and t.distribution is not None and name in t.distribution]
    if not dists or math.isnan(value):
        return FeatureReport(name, value, se, None, on_path=on_path)
    worst, worst_dist = (None, 0.0), dists[0]
    for dist in dists:
        side, distance = dist.outside(value)
        if side is not None and distance >= worst[1]:
            worst, worst_dist = (side, distance), dist
    side, distance = worst
    unit = worst_dist.spread()[1] if side is not None else None
    return FeatureReport(name, value, se, side is None, side, float(distance), unit,
                         worst_dist.min, worst_dist.max, on_path)


@validate_params(
    {
        "X": [pd.DataFrame, pd.Series],
        "tree": [str, MDTreeClassifier, PretrainedTree, None],
        "q2_tree": [str, MDTreeClassifier, PretrainedTree, None],
        "fit_on": [pd.DataFrame, None],
        "optimizer": [StrOptions(set(_RAISE))],
        "borderline": [Interval(Real, 0, None, closed="left")],
        "warn": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def diagnose(X, tree=None, *, q2_tree="auto", fit_on=None, optimizer="batch size",
             borderline=2.0, warn=True):
    """Diagnose model groups from their features: what to change, why, how sure.

    For every row of ``X`` (one model group: the models of one training
    configuration), a Q1 tree says whether the optimizer's temperature is too high
    or too low, and an optional Q2 tree whether the model is too small (or the
    data too little) instead; the recommendation is the paper's one-step change
    (Appendix A.1), as :func:`sklearn_mdtree.diagnosis.diagnose` gives it. The
    report adds the domain of validity, the precision of every decision and a
    confidence (see the module docstring of :mod:`sklearn_mdtree._report`).

    Parameters
    ----------
    X : pandas.DataFrame or pandas.Series
        One row per model group with the features the trees read
        (``train_error``, ``mode_connectivity_peak``, ``hessian_t`` or ``CKA``)
        and, optionally, their standard errors as ``<feature>_se`` columns
        (``LossLandscapeFeaturizer(return_se=True)``). Other columns are ignored.
    tree : str, PretrainedTree or MDTreeClassifier, default=None
        The Q1 tree. A family name (``"cifar10-resnet18"``, ``"digits-mlp"``:
        its ``-q1`` tree, and its ``-q2`` tree as ``q2_tree="auto"``), a shipped
        tree name (:func:`sklearn_mdtree.pretrained.available_trees`), a
        :class:`~sklearn_mdtree.pretrained.PretrainedTree`, or any fitted Q1
        :class:`MDTreeClassifier` (its domain is then unknown unless wrapped
        with ``PretrainedTree.from_estimator(tree, X_train)``). None:
        ``"cifar10-resnet18"``, unless ``fit_on`` is given. Choose the tree
        fitted on models most like yours: its thresholds are in the units of
        its training population.
    q2_tree : "auto", str, PretrainedTree, MDTreeClassifier or None, default="auto"
        The Q2 tree. ``"auto"``: the family's Q2 tree when ``tree`` names a
        family (or fitted on ``fit_on`` when it has a ``width_vs_batch``
        column), else none. None: Q1 alone.
    fit_on : pandas.DataFrame, default=None
        A labelled table of your own configurations (features and a
        ``bs_failure`` column, optionally ``width_vs_batch``; see
        :func:`sklearn_mdtree.rfi.label_configurations`): the trees are fitted
        on it (``"q1_sharpness"`` and ``"q2_width"``, data bounds, rows labelled
        ``"optimal"`` left out). Exclusive with ``tree``.
    optimizer : {"batch size", "learning rate"}, default="batch size"
        The optimizer hyperparameter you tune: the actions and the failure
        source name it (a smaller batch or a larger learning rate raises the
        temperature).
    borderline : float, default=2.0
        A decision is borderline when the feature lies within ``borderline``
        standard errors of the threshold (2: about 95% two-sided).
    warn : bool, default=True
        Issue an :class:`OutOfDomainWarning` when a domain check fires (see
        Warns).

    Returns
    -------
    report : DiagnosisReport
        A sequence of :class:`GroupReport`, with ``to_text()``, ``to_dict()``
        and ``to_frame()``.

    Warns
    -----
    OutOfDomainWarning
        When a decision on a path reads a feature outside the range of the
        tree's training configurations, or of those in the same regime, or when
        all the features together lie far from every training configuration
        (the joint check; each group's ``out_of_domain_checks`` says which).

    Examples
    --------
    >>> import pandas as pd
    >>> import sklearn_mdtree
    >>> X = pd.DataFrame({"train_error": [2.0], "mode_connectivity_peak": [-30.0],
    ...                   "hessian_t": [5.0], "hessian_t_se": [0.1]}, index=["run-a"])
    >>> report = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1")
    >>> report[0].action, report[0].out_of_domain
    ('increase batch size', False)
    >>> [round(d.margin_se, 1) for d in report[0].q1.decisions if d.margin_se is not None]
    [-11.4]
    """
    from .diagnosis import _as_frame
    from .diagnosis import diagnose as route

    X = _as_frame(X)
    q1, q2 = _choose_trees(tree, q2_tree, fit_on)
    base = route(q1.estimator, X, q2_tree=None if q2 is None else q2.estimator,
                 optimizer_name=optimizer, raise_temperature=_RAISE[optimizer])
    trees = [t for t in (q1, q2) if t is not None]
    read = list(dict.fromkeys(f for t in trees for f in t.estimator.hierarchy_.features()))
    values = {f: X[f].to_numpy(dtype=np.float64) for f in read}
    # the other features the training sets record, where X has them (the range and
    # joint checks); a non-numeric value there counts as missing
    for f in _recorded(trees):
        if f not in values and f in X.columns:
            values[f] = pd.to_numeric(X[f], errors="coerce").to_numpy(dtype=np.float64)
    features = list(values)
    ses = {f: _se_of(X, f) for f in features}
    groups, flagged = [], []
    for i, rec in enumerate(base):
        se_row = {f: (None if math.isnan(ses[f][i]) else float(ses[f][i])) for f in features}
        feature_reports = tuple(
            _feature_report(f, float(values[f][i]), se_row[f], trees,
                            f in {d.feature for v in (rec.q1, rec.q2) if v is not None
                                  for d in v.path})
            for f in features
        )
        joint = _joint_checks(trees, {f: float(values[f][i]) for f in features})
        verdicts, all_decisions, domain_phrases = [], [], {}
        for question, tree_, verdict in (("Q1", q1, rec.q1), ("Q2", q2, rec.q2)):
            if verdict is None:
                verdicts.append(None)
                continue
            decisions, ood, phrases = _verdict(question, tree_, verdict, se_row, borderline)
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
        notes = []
        on_path = tuple(dict.fromkeys(f for v in verdicts if v is not None
                                      for f in v.out_of_domain_features))
        fired = [domain_phrases[f] for f in on_path]
        far = [c for c in joint if not c.in_domain]
        if far:  # the farthest, in words; the others by their ratio
            worst = max(far, key=lambda c: c.ratio)
            others = "".join(f", {c.ratio:.2g} times for tree {c.tree or '(unnamed)'}"
                             for c in far if c is not worst)
            outside = [_outside_phrase(f.name, f.value, f.side, f.distance, f.distance_unit,
                                       f.training_min, f.training_max)
                       for f in feature_reports if f.in_domain is False and not f.on_path]
            also = f"; besides, {'; '.join(outside)}" if outside else ""
            fired.append(("joint", f"{worst.to_text()}, tree {worst.tree or '(unnamed)'}"
                                   f"{others}{also}"))
        checks = tuple(c for c in ("range", "regime", "joint") if c in {k for k, _ in fired})
        phrases = [f"{check} check: {phrase}" for check, phrase in fired]
        if checks:
            notes.append(
                "this diagnosis concerns a model unlike those the tree was fitted on ("
                + "; ".join(phrases) + "): it is an extrapolation and may be wrong. "
                "Prefer a tree fitted on models like yours (fit_on=...)."
            )
            named = list(on_path) + (["joint"] if far else [])
            flagged.append(f"{rec.model!r} ({', '.join(named)})")
        shaky = [d for ds in all_decisions for d in ds if d.borderline]
        if shaky:
            notes.append(
                "borderline decision(s) "
                + ", ".join(f"{d.feature} at {d.split}" for d in shaky)
                + f": within {borderline:g} standard errors of the threshold, the "
                "verdict could flip within the measurement noise."
            )
        groups.append(GroupReport(
            rec.model, rec.action, rec.hyperparameter, rec.direction,
            deciding.failure_source, feature_reports, v1, v2,
            _confidence(all_decisions), tuple(notes), joint, checks,
        ))
    if flagged and warn:
        warnings.warn(
            f"{len(flagged)} of {len(groups)} diagnoses concern models outside the "
            f"training domain of the tree(s) {[t.name for t in trees]}: "
            f"{'; '.join(flagged)}. See each report's warnings.",
            OutOfDomainWarning,
            stacklevel=3,
        )
    return DiagnosisReport(groups, {"q1": q1.summary(),
                                    "q2": None if q2 is None else q2.summary()},
                           optimizer, float(borderline),
                           estimators={"q1": q1.estimator,
                                       "q2": None if q2 is None else q2.estimator})
