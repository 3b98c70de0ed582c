"""The diagnosis report: what the trees say about each model group, with the domain of
validity and the precision of every decision, as plain data.

:class:`DiagnosisReport` is what :func:`sklearn_mdtree.diagnose` returns on every
route (a shipped tree, a tree file, a table to fit on, the public collection F);
its text, table and dict are rendered here, its HTML page in
:mod:`sklearn_mdtree.diagnosis._html`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._domain import _ordinal
from .._vocabulary import QUESTIONS, SCHEMA, SCHEMA_VERSION
from ._wording import _CALIBRATED_CONFIDENCE_RULE, _CONFIDENCE_RULE, _glossary

__all__ = [
    "DecisionReport",
    "DiagnosisReport",
    "FeatureReport",
    "GroupReport",
    "VerdictReport",
]


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
        The training range: of the tree the value lies farthest outside of, else of
        the first tree (Q1) recording the feature.
    on_path : bool
        A decision on the Q1 or Q2 path reads the feature (False: its range does
        not flag the diagnosis by itself; the joint check weighs it).
    training_tree : {"Q1", "Q2"} or None
        The tree whose training range is given, when the Q1 and Q2 trees' training
        sets give the feature different ranges (None: one range, or one tree).
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
    training_tree: str | None = None

    def domain_text(self):
        """One phrase: inside the range, or how far outside it."""
        if self.in_domain is None:
            return "domain unknown"
        low, high = self.training_min + 0.0, self.training_max + 0.0  # no "-0"
        rng = f"training range {low:.4g} .. {high:.4g}"
        if self.training_tree is not None:
            rng = f"{self.training_tree} tree's training range {low:.4g} .. {high:.4g}"
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
            "training_tree": self.training_tree,
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
    q1 : VerdictReport or None
        None for a calibrated diagnosis (no tree path; see ``kind_evidence``).
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
    verdict_kind : {"change", "training failed", "keep as is", "no reliable diagnosis"}
        What kind of verdict ``action`` is (see :func:`sklearn_mdtree.diagnose`).
    training_failure : dict or None
        For ``"training failed"``: ``kind`` (``"diverged"``/``"stalled"``),
        ``evidence`` and ``advice``.
    abstain_reason : str or None
        For ``"no reliable diagnosis"``: why, in plain words.
    noise_confidence : float or None
        Probability that no decision on the paths flips (measurement noise only;
        ``confidence`` multiplies it by the regimes' measured accuracy).
    kind_evidence : tuple of str
        The evidence for the verdict kind, in plain words (the failure's
        measurements, the reason to abstain, the regimes' measured accuracy, the
        keep-as-is labels).
    notes : tuple of str
        What could not be checked (no chance level for the training check, no
        feature recipe, a tree without regime accuracy), in plain words.
    confidence_rule : str or None
        How ``confidence`` was computed, in words (None: the rule of the route, the
        trees' or a calibration's region).
    """

    model: object
    action: str
    hyperparameter: str
    direction: str
    failure_source: str
    features: tuple
    q1: VerdictReport | None
    q2: VerdictReport | None
    confidence: float | None
    warnings: tuple = field(default=())
    joint_checks: tuple = field(default=())
    out_of_domain_checks: tuple = field(default=())
    verdict_kind: str = "change"
    training_failure: dict | None = None
    abstain_reason: str | None = None
    noise_confidence: float | None = None
    kind_evidence: tuple = field(default=())
    notes: tuple = field(default=())
    confidence_rule: str | None = None

    @property
    def gives_action(self):
        """True when the group is told to change something (kind ``"change"``)."""
        return self.verdict_kind == "change"

    @property
    def out_of_domain(self):
        """True if a domain check fired: the model is unlike the training models."""
        return bool(self.out_of_domain_checks or self.out_of_domain_features)

    @property
    def out_of_domain_features(self):
        """Features on the paths out of domain (outside the training range or
        their regime's), in order."""
        verdicts = [v for v in (self.q1, self.q2) if v is not None]
        return tuple(dict.fromkeys(f for v in verdicts for f in v.out_of_domain_features))

    @property
    def borderline(self):
        """True if a decision on a path is borderline."""
        return any(v.borderline for v in (self.q1, self.q2) if v is not None)

    def to_text(self):
        """A readable block, for someone who never read the paper."""
        lines = [f"Model {self.model}: {self.action}."]
        words = _KIND_WORDS[self.verdict_kind]
        if self.q1 is None:  # a calibrated verdict: no trees
            words = (words.replace("the trees recommend", "the calibrated model recommends")
                     .replace("the trees'", "the calibrated model's"))
        lines.append(f"  Verdict: {self.verdict_kind} ({words})")
        if self.verdict_kind == "no reliable diagnosis":
            lines.append(f"  Why: {self.abstain_reason}")
            lines.append("  Confidence: none (no verdict is given)")
        elif self.verdict_kind == "training failed":
            lines.append(f"  Why: {self.failure_source}")
            lines.append("  Confidence: none (the trees were not asked; the evidence is "
                         "the measurements above)")
        else:
            lines.append(f"  Why: {self.failure_source}")
            if self.confidence is None:
                lines.append("  Confidence: unknown (no standard errors given for the "
                             "features the decision uses)")
            else:
                noise = ("" if self.noise_confidence is None
                         or self.noise_confidence == self.confidence
                         else f"; measurement noise alone: {self.noise_confidence:.2f}")
                rule = self.confidence_rule or (
                    _CONFIDENCE_RULE if self.q1 is not None else _CALIBRATED_CONFIDENCE_RULE)
                lines.append(f"  Confidence: {self.confidence:.2f} ({rule}{noise})")
        lines.extend(f"  Evidence: {e}" for e in self.kind_evidence
                     if self.verdict_kind != "no reliable diagnosis")
        lines.extend(f"  WARNING: {w}" for w in self.warnings)
        lines.extend(f"  Note: {n}" for n in self.notes)
        if (not self.gives_action and self.verdict_kind != "keep as is"
                and self.q1 is not None):
            lines.append("  What the trees read (information only, not a recommendation):")
        for verdict in (self.q1, self.q2):
            if verdict is None:
                continue
            tree = f"tree {verdict.tree}" if verdict.tree else "tree"
            lines.append(
                f"  {QUESTIONS[verdict.task]} -> {verdict.label} (regime {verdict.regime}, {tree})"
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
            "verdict_kind": self.verdict_kind,
            "action": self.action,
            "training_failure": self.training_failure,
            "abstain_reason": self.abstain_reason,
            "noise_confidence": _plain(self.noise_confidence),
            "kind_evidence": list(self.kind_evidence),
            "notes": list(self.notes),
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
            "q1": None if self.q1 is None else self.q1.to_dict(),
            "q2": None if self.q2 is None else self.q2.to_dict(),
        }

    def to_row(self):
        """One flat dict: the DataFrame row of :meth:`DiagnosisReport.to_frame`."""
        row = {
            "verdict_kind": self.verdict_kind,
            "action": self.action,
            "abstain_reason": self.abstain_reason or "",
            "training_failure": (self.training_failure or {}).get("kind", ""),
            "noise_confidence": _nan(self.noise_confidence),
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


#: Each verdict kind in a few words (the text report's "Verdict:" line).
_KIND_WORDS = {
    "change": "the one-step change the trees recommend",
    "training failed": "the models diverged or stalled: fix the training first",
    "keep as is": "the training configurations in this regime gained nothing from any "
                  "one-step move",
    "no reliable diagnosis": "the report abstains; the trees' reading is shown below "
                             "as information only",
}


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
        ``description``, ``task`` and ``n_training_configurations``; a calibrated
        diagnosis has ``q1`` None and a ``"calibration"`` entry (``name``,
        ``description``, ``n_training_configurations`` the lattice's size,
        ``lattice_shape``, ``model`` the candidate chosen, ``cv_accuracy`` and
        ``constant_accuracy`` with their intervals, ``candidates``, ``abstention``,
        ``text``, ``confidence_rule``, ``feature_recipe``).
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

    def __init__(self, groups, trees, optimizer, borderline, estimators=None, notes=()):
        self.groups = tuple(groups)
        self.notes = tuple(notes)
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
        from outside (see :mod:`sklearn_mdtree.diagnosis._html`). Needs matplotlib.

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
            (2: adds ``verdict_kinds``, each tree's ``regime_accuracy``,
            ``validity`` and ``feature_recipe``, and each group's
            ``verdict_kind``, ``training_failure``, ``abstain_reason``,
            ``noise_confidence``, ``kind_evidence`` and ``notes``; the fields of
            version 1 are kept), ``optimizer``, ``borderline_se`` (the rule ``|margin| <
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
            "confidence_rule": (
                self.trees["calibration"].get("confidence_rule", _CALIBRATED_CONFIDENCE_RULE)
                if self.trees.get("calibration") else _CONFIDENCE_RULE),
            "verdict_kinds": list(_KIND_WORDS),
            "notes": list(self.notes),
            "trees": self.trees,
            "groups": [g.to_dict() for g in self.groups],
        }

    def to_frame(self):
        """One row per group (:meth:`GroupReport.to_row`), indexed by ``model``.

        The index has one level: a model named by a tuple (a row of ``X`` with a
        MultiIndex or tuple labels) keeps that tuple as its label.
        """
        frame = pd.DataFrame([g.to_row() for g in self.groups])
        # tupleize_cols=False: tuples stay labels (pandas would build a MultiIndex,
        # and fail on the one name "model")
        frame.index = pd.Index([g.model for g in self.groups], name="model",
                               tupleize_cols=False)
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
            validity = tree.get("validity")
            lines.append("  Measured validity: " + (
                validity["text"] if validity else "not measured (a tree fitted at run time or "
                "a file without a 'validity' record)"))
            accuracy = tree.get("regime_accuracy")
            lines.append("  Own accuracy: " + (
                accuracy["text"] if accuracy else "not recorded: its verdicts are not "
                "weighed by its own error"))
        calibration = self.trees.get("calibration")
        if calibration is not None:
            lines.append(f"Calibration: {calibration['name']}, fitted on "
                         f"{calibration['n_training_configurations']} lattice configurations. "
                         f"{calibration['description']}")
            lines.append(f"  Measured accuracy: {calibration['text']}")
        lines.extend(f"Note: {n}." for n in self.notes)
        if calibration is None:  # a calibrated verdict has no thresholds
            lines.append(
                f"Borderline: a decision within {self.borderline:g} standard errors of its "
                "threshold."
            )
        lines.append("Words used:")
        lines.extend(f"  {term}: {meaning}." for term, meaning in _glossary(self.optimizer))
        blocks = ["\n".join(lines)] + [g.to_text() for g in self.groups]
        return "\n\n".join(blocks) + "\n"

    def __str__(self):
        return self.to_text()

    def __repr__(self):
        n_ood = sum(g.out_of_domain for g in self.groups)
        return f"DiagnosisReport(n_groups={len(self)}, out_of_domain={n_ood})"


