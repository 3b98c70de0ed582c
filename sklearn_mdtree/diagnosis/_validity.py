"""How far a tree's verdict can be trusted (issue 20, items 2, 3 and 5), torch-free:

- :func:`regime_accuracy`: the tree's own accuracy in each regime (leaf), measured
  out of fold on its training configurations, with a 95% interval;
- :func:`should_abstain`: no verdict where the group is out of the tree's domain or
  its regime is not clearly better than a constant answer;
- :func:`keep_as_is` / :func:`keep_as_is_by_leaf`: the leaf's training labels say no
  move helps (``"optimal"`` / ``"none"``);
- :func:`verdict_confidence`: the probability that the verdict is right, from the
  measurement noise and the regime's measured accuracy;
- :func:`tree_evidence`: the regime accuracy and keep-as-is records of a tree file
  (a shipped tree's held-out validity is :mod:`._shipping`'s).

Accuracies are fractions in [0, 1]. Every interval is the equal-tailed 95% interval
of the Beta(1 + k, 1 + n - k) posterior of a proportion after k successes in n
trials under a uniform prior (for n of a few dozen it is close to Wilson's; unlike
Wilson's it is the same posterior whose mean :func:`verdict_confidence` uses).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.stats import beta as _beta

__all__ = [
    "KEEP_LABELS",
    "KeepAsIs",
    "LeafAccuracy",
    "RegimeAccuracy",
    "keep_as_is",
    "keep_as_is_by_leaf",
    "tree_evidence",
    "posterior_interval",
    "regime_accuracy",
    "should_abstain",
    "verdict_confidence",
]

#: columns (:mod:`sklearn_mdtree.rfi`), ``"none"`` in the one-step RFI labels.
KEEP_LABELS = ("optimal", "none")

_LEVEL = 0.95


def _refuse(parameter, expected, actual, error=ValueError):
    """Raise a one-line error naming the parameter, the expected and the actual value."""
    shown = repr(actual)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    raise error(f"The {parameter!r} parameter must be {expected}; got {shown}.")


def _fraction(value, parameter):
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value <= 1:
        _refuse(parameter, "a number in [0, 1]", value)
    return float(value)


def posterior_interval(k, n, level=_LEVEL):
    """Equal-tailed interval of the Beta(1 + k, 1 + n - k) posterior of a proportion.

    Parameters
    ----------
    k, n : float
        Successes and trials (``0 <= k <= n``; fractional counts allowed, e.g.
        ``accuracy * n``).
    level : float, default=0.95
        Posterior mass inside the interval.

    Returns
    -------
    low, high : float
        ``(0.025, 0.975)`` for ``n = 0`` (the uniform prior).
    """
    if not (0 <= k <= n):
        _refuse("k", f"a count in [0, n={n!r}]", k)
    tail = (1 - level) / 2
    a, b = 1.0 + k, 1.0 + n - k
    return float(_beta.ppf(tail, a, b)), float(_beta.ppf(1 - tail, a, b))


# --------------------------------------------------------------------------------------
# 2. Regime accuracy by cross-validation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeafAccuracy:
    """The tree's out-of-fold accuracy in one regime (leaf).

    Attributes
    ----------
    leaf : int
        The leaf, numbered as :meth:`MDTreeClassifier.apply` numbers it.
    label : object
        The label the leaf of the tree fitted on all configurations predicts.
    n : int
        Training configurations that fall in the leaf.
    n_correct : int
        Those whose out-of-fold prediction was right.
    interval : tuple of float
        95% interval of the accuracy (:func:`posterior_interval`).
    baseline : float
        The constant answer's accuracy: the overall majority label's share among
        all the training configurations (see :func:`regime_accuracy`).
    label_counts : dict
        Training labels of the configurations in the leaf.
    """

    leaf: int
    label: object
    n: int
    n_correct: int
    interval: tuple
    baseline: float
    label_counts: dict = field(default_factory=dict)

    @property
    def accuracy(self):
        """Out-of-fold accuracy (NaN for an empty leaf)."""
        return self.n_correct / self.n if self.n else float("nan")

    @property
    def posterior_mean(self):
        """P(right | leaf) under a uniform Beta(1, 1) prior: ``(k + 1) / (n + 2)``."""
        return (self.n_correct + 1) / (self.n + 2)

    @property
    def better_than_chance(self):
        """The interval's lower end exceeds the baseline."""
        return self.interval[0] > self.baseline

    def to_dict(self):
        """Plain JSON types (a tree file's ``regime_accuracy.leaves`` entry)."""
        return {"leaf": int(self.leaf), "label": self.label, "n": int(self.n),
                "n_correct": int(self.n_correct),
                "interval": [float(self.interval[0]), float(self.interval[1])],
                "baseline": float(self.baseline),
                "label_counts": {str(k): int(v) for k, v in self.label_counts.items()}}

    @classmethod
    def from_dict(cls, data):
        """Read :meth:`to_dict`'s dict."""
        return cls(int(data["leaf"]), data["label"], int(data["n"]), int(data["n_correct"]),
                   tuple(float(v) for v in data["interval"]), float(data["baseline"]),
                   dict(data.get("label_counts") or {}))

    def to_text(self):
        """One line: accuracy, interval, baseline."""
        if not self.n:
            return f"regime {self.leaf} ({self.label}): no training configuration"
        verdict = "better than" if self.better_than_chance else "not clearly better than"
        return (f"regime {self.leaf} ({self.label}): {self.n_correct} of {self.n} right out "
                f"of fold ({self.accuracy:.2f}, 95% interval {self.interval[0]:.2f}-"
                f"{self.interval[1]:.2f}), {verdict} a constant answer's {self.baseline:.2f}")


@dataclass(frozen=True)
class RegimeAccuracy:
    """Out-of-fold accuracy of a tree, per regime and overall.

    Attributes
    ----------
    leaves : tuple of LeafAccuracy
        One per leaf, in leaf order.
    n : int
        Training configurations.
    n_correct : int
        Right out of fold.
    constant_correct : int
        Right out of fold for a constant answer (each fold's training majority).
    majority_label : object
        The overall majority label (the baseline's answer).
    n_splits : int
        Folds used.
    classes : tuple
        The labels seen.
    """

    leaves: tuple
    n: int
    n_correct: int
    constant_correct: int
    majority_label: object
    n_splits: int
    classes: tuple = ()

    @property
    def accuracy(self):
        """Overall out-of-fold accuracy of the tree."""
        return self.n_correct / self.n

    @property
    def constant_accuracy(self):
        """Out-of-fold accuracy of a constant answer (each fold's training majority)."""
        return self.constant_correct / self.n

    @property
    def interval(self):
        """95% interval of the overall out-of-fold accuracy."""
        return posterior_interval(self.n_correct, self.n)

    def __getitem__(self, leaf):
        """The :class:`LeafAccuracy` of leaf number ``leaf``."""
        return self.leaves[leaf]

    def to_dict(self):
        """Plain JSON types (a tree file's ``regime_accuracy``)."""
        return {"method": f"stratified {self.n_splits}-fold cross-validation, out of fold",
                "n": int(self.n), "n_correct": int(self.n_correct),
                "constant_correct": int(self.constant_correct),
                "majority_label": self.majority_label, "n_splits": int(self.n_splits),
                "classes": list(self.classes),
                "leaves": [leaf.to_dict() for leaf in self.leaves]}

    @classmethod
    def from_dict(cls, data):
        """Read :meth:`to_dict`'s dict (a ValueError naming the problem otherwise)."""
        try:
            return cls(tuple(LeafAccuracy.from_dict(d) for d in data["leaves"]),
                       int(data["n"]), int(data["n_correct"]), int(data["constant_correct"]),
                       data["majority_label"], int(data["n_splits"]),
                       tuple(data.get("classes") or ()))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"not a regime_accuracy record: {exc!r}") from None

    def to_text(self):
        """The overall line, then one line per regime."""
        lines = [f"out of fold ({self.n_splits} folds): {self.n_correct} of {self.n} right "
                 f"({self.accuracy:.2f}, 95% interval {self.interval[0]:.2f}-"
                 f"{self.interval[1]:.2f}); a constant answer: {self.constant_accuracy:.2f}"]
        lines += [f"  {leaf.to_text()}" for leaf in self.leaves]
        return "\n".join(lines)


def _majority(labels):
    """The most common label (ties: the first in sorted order, deterministic)."""
    counts = Counter(labels)
    top = max(counts.values())
    return sorted((c for c, v in counts.items() if v == top), key=str)[0]


def regime_accuracy(estimator, X, y, *, groups=None, cv=5, random_state=0):
    """The tree's accuracy in each regime, measured out of fold on its training set.

    Each configuration is predicted by a clone of the tree fitted on the other
    folds (stratified K-fold; stratified group K-fold when ``groups`` are given,
    so that configurations of one group never sit on both sides). The
    configurations are then sorted into the leaves of the tree fitted on all of
    them (``estimator`` itself when fitted), and per leaf the share predicted
    right out of fold is reported with a 95% interval.

    The chance baseline of every leaf is the **overall majority label's share**
    among all the configurations: the accuracy of the answer one gives without
    looking at the model. A leaf's own majority share is not used: it measures
    the purity the tree achieved, so a leaf whose verdict is right 98% of the time
    would never beat it.

    Parameters
    ----------
    estimator : MDTreeClassifier
        Fitted on ``X, y`` (its leaves are used), or unfitted (a clone is fitted).
    X : pandas.DataFrame
        The training configurations' features.
    y : array-like of shape (n_samples,)
        Their labels (leave out rows no leaf can emit, e.g. ``"optimal"``).
    groups : array-like, default=None
        Group of each configuration (e.g. the base configuration of a seed set).
    cv : int or cross-validator, default=5
        Folds (reduced to the number of configurations, or of groups, when fewer;
        at least 2), or a splitter with ``split(X, y, groups)``. 5 keeps 80% of a
        small table for fitting; take more for a table of a few dozen.
    random_state : int, default=0
        Shuffles the folds.

    Returns
    -------
    accuracy : RegimeAccuracy
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
    from sklearn.utils.validation import check_is_fitted
    from sklearn.exceptions import NotFittedError

    from .._classes import MDTreeClassifier

    if not isinstance(estimator, MDTreeClassifier):
        _refuse("estimator", "an MDTreeClassifier", type(estimator).__name__, TypeError)
    if not isinstance(X, pd.DataFrame):
        _refuse("X", "a pandas DataFrame", type(X).__name__, TypeError)
    y = np.asarray(y)
    if y.dtype.kind in "OUS":
        y = y.astype(object)
    if len(y) != len(X):
        _refuse("y", f"{len(X)} labels (one per row of X)", f"{len(y)} labels")
    n = len(X)
    if n < 2:
        _refuse("X", "at least 2 configurations", f"{n} configuration(s)")
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n:
            _refuse("groups", f"{n} entries (one per row of X)", f"{len(groups)} entries")
    try:
        check_is_fitted(estimator)
        full = estimator
    except NotFittedError:
        full = clone(estimator).fit(X, y)

    if isinstance(cv, Integral) and not isinstance(cv, bool):
        if cv < 2:
            _refuse("cv", "an integer >= 2 or a cross-validator", cv)
        units = n if groups is None else len(np.unique(groups))
        k = max(2, min(int(cv), units))
        splitter = (StratifiedKFold(k, shuffle=True, random_state=random_state)
                    if groups is None
                    else StratifiedGroupKFold(k, shuffle=True, random_state=random_state))
    elif hasattr(cv, "split"):
        splitter = cv
    else:
        _refuse("cv", "an integer >= 2 or a cross-validator", cv, TypeError)

    predicted = np.empty(n, dtype=object)
    constant = np.empty(n, dtype=object)
    n_splits = 0
    with warnings.catch_warnings():
        # "The least populated class in y has only 2 members": expected on small tables
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        # a fold of a small table can hold one class: its fit warns, its score counts
        warnings.filterwarnings("ignore", message="y has one class", category=UserWarning)
        for train, test in splitter.split(X, y, groups):
            n_splits += 1
            fold = clone(estimator).fit(X.iloc[train], y[train])
            predicted[test] = fold.predict(X.iloc[test])
            constant[test] = _majority(y[train].tolist())
    if any(p is None for p in predicted):
        _refuse("cv", "a splitter whose test folds cover every configuration",
                f"{sum(p is None for p in predicted)} configuration(s) never tested")
    right = predicted == y
    leaf = full.apply(X)
    majority = _majority(y.tolist())
    baseline = float(np.mean(y == majority))
    leaves = []
    for r in range(len(full.leaf_labels_)):
        members = leaf == r
        k_right, k_n = int(right[members].sum()), int(members.sum())
        counts = dict(sorted(Counter(y[members].tolist()).items(), key=lambda kv: str(kv[0])))
        label = full.leaf_labels_[r]
        leaves.append(LeafAccuracy(
            r, label.item() if isinstance(label, np.generic) else label, k_n, k_right,
            posterior_interval(k_right, k_n), baseline, counts))
    return RegimeAccuracy(tuple(leaves), n, int(right.sum()), int(np.sum(constant == y)),
                          majority, n_splits, tuple(sorted(set(y.tolist()), key=str)))


# --------------------------------------------------------------------------------------
# 3. Abstention
# --------------------------------------------------------------------------------------


def _relevant_verdicts(group):
    """The verdicts the action rests on: Q2 alone when it blames the model or the data,
    Q2 and Q1 when it blames the optimizer, Q1 alone without Q2."""
    q1, q2 = group.q1, getattr(group, "q2", None)
    if q2 is None:
        return [("Q1", q1)]
    if q2.label != "batch":
        return [("Q2", q2)]
    return [("Q2", q2), ("Q1", q1)]


def should_abstain(group, q1_accuracy=None, q2_accuracy=None):
    """Should the report say "no reliable diagnosis" for this group, and why?

    Abstain when the group is out of the tree's domain (any domain check of the
    report fired: ``group.out_of_domain``), or when a verdict the action rests on
    (Q2 alone when it blames the model's width or the data; Q2 and Q1 when it
    blames the optimizer; Q1 without Q2) falls in a regime whose out-of-fold
    accuracy is not clearly better than a constant answer
    (:attr:`LeafAccuracy.better_than_chance`).

    Parameters
    ----------
    group : GroupReport
        A group of a diagnosis report (any object with ``out_of_domain``,
        ``out_of_domain_checks``, ``q1`` and ``q2`` verdicts with ``label`` and
        ``regime``).
    q1_accuracy, q2_accuracy : RegimeAccuracy, default=None
        :func:`regime_accuracy` of the Q1 and Q2 trees. None: that tree's
        regime accuracy is not measured (no abstention on that ground; the reason
        says so).

    Returns
    -------
    abstain : bool
    reason : str
        In plain words: why, or why not.
    """
    for name in ("out_of_domain", "q1"):
        if not hasattr(group, name):
            _refuse("group", f"a GroupReport (with '{name}')", type(group).__name__,
                    TypeError)
    for name, acc in (("q1_accuracy", q1_accuracy), ("q2_accuracy", q2_accuracy)):
        if acc is not None and not isinstance(acc, RegimeAccuracy):
            _refuse(name, "a RegimeAccuracy or None", type(acc).__name__, TypeError)
    reasons, fine = [], []
    if group.out_of_domain:
        checks = ", ".join(getattr(group, "out_of_domain_checks", ()) or ()) or "range"
        reasons.append(f"the model is unlike those the tree was fitted on (domain "
                       f"check(s) fired: {checks})")
    for question, verdict in _relevant_verdicts(group):
        acc = q1_accuracy if question == "Q1" else q2_accuracy
        if acc is None:
            fine.append(f"{question} regime accuracy not measured")
            continue
        if not 0 <= verdict.regime < len(acc.leaves):
            _refuse(f"{question.lower()}_accuracy",
                    f"the RegimeAccuracy of the {question} tree ({len(acc.leaves)} leaves)",
                    f"one without the group's regime {verdict.regime}")
        leaf = acc.leaves[verdict.regime]
        if not leaf.n:
            reasons.append(f"no training configuration fell in {question}'s regime "
                           f"{verdict.regime}: the tree's accuracy there is unknown")
        elif not leaf.better_than_chance:
            reasons.append(
                f"in {question}'s regime {verdict.regime} the tree was right for "
                f"{leaf.n_correct} of {leaf.n} training configurations out of fold "
                f"(95% interval {leaf.interval[0]:.2f}-{leaf.interval[1]:.2f}), not clearly "
                f"better than a constant answer ({leaf.baseline:.2f})")
        else:
            fine.append(f"{question}'s regime {verdict.regime}: {leaf.n_correct} of "
                        f"{leaf.n} right out of fold, better than a constant answer")
    if reasons:
        return True, "No reliable diagnosis: " + "; ".join(reasons) + "."
    return False, "In domain; " + "; ".join(fine) + "."


# --------------------------------------------------------------------------------------
# 4. Keep as is
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeepAsIs:
    """Whether a leaf's training labels say no move helps.

    Attributes
    ----------
    keep : bool
        The most common label (strictly: a tie is not enough) is a keep label.
    share : float
        The keep labels' share among the labels (NaN without labels).
    n : int
        Labels counted.
    counts : dict
        Count of each label.
    """

    keep: bool
    share: float
    n: int
    counts: dict

    def to_dict(self):
        """Plain JSON types (a tree file's ``keep_as_is`` entry; share None when NaN)."""
        share = None if self.share != self.share else float(self.share)
        return {"keep": bool(self.keep), "share": share, "n": int(self.n),
                "counts": {str(k): int(v) for k, v in self.counts.items()}}

    @classmethod
    def from_dict(cls, data):
        """Read :meth:`to_dict`'s dict."""
        try:
            share = data["share"]
            return cls(bool(data["keep"]), float("nan") if share is None else float(share),
                       int(data["n"]), dict(data.get("counts") or {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a keep_as_is record: {exc!r}") from None

    def to_text(self):
        """One line: keep or not, and the share."""
        if not self.n:
            return "no training configuration: keep-as-is unknown"
        head = "keep as is" if self.keep else "a move is expected to help"
        return (f"{head}: {100 * self.share:.0f}% of the {self.n} training configurations "
                "here gained nothing from any one-step move")


def keep_as_is(labels, *, keep_labels=KEEP_LABELS):
    """Do the training labels reaching a leaf say "keep as is"?

    Parameters
    ----------
    labels : array-like
        The labels of the training configurations in the leaf, the ``"optimal"``
        / ``"none"`` ones included (trees are fitted without them; sort them into
        leaves with :meth:`MDTreeClassifier.apply`, or use
        :func:`keep_as_is_by_leaf`).
    keep_labels : tuple of str, default=("optimal", "none")
        The labels meaning "no move helps".

    Returns
    -------
    result : KeepAsIs
        ``keep`` when the plurality label (strictly more than any other) is a keep
        label; ``share`` the keep labels' share.
    """
    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__iter__"):
        _refuse("labels", "an array-like of labels", labels, TypeError)
    labels = [v.item() if isinstance(v, np.generic) else v for v in labels]
    counts = dict(Counter(labels))
    n = len(labels)
    if not n:
        return KeepAsIs(False, float("nan"), 0, {})
    keep_set = set(keep_labels)
    n_keep = sum(v for c, v in counts.items() if c in keep_set)
    top = max(counts.values())
    leaders = [c for c, v in counts.items() if v == top]
    keep = len(leaders) == 1 and leaders[0] in keep_set
    return KeepAsIs(bool(keep), n_keep / n, n, counts)


def keep_as_is_by_leaf(estimator, X, labels, *, keep_labels=KEEP_LABELS):
    """:func:`keep_as_is` of every leaf of a fitted tree.

    Parameters
    ----------
    estimator : MDTreeClassifier
        Fitted.
    X : pandas.DataFrame
        Training configurations, those labelled ``"optimal"`` / ``"none"``
        included.
    labels : array-like
        Their labels.

    Returns
    -------
    results : list of KeepAsIs
        One per leaf, in leaf order.
    """
    labels = np.asarray(labels, dtype=object)
    if len(labels) != len(X):
        _refuse("labels", f"{len(X)} labels (one per row of X)", f"{len(labels)} labels")
    leaf = estimator.apply(X)
    return [keep_as_is(labels[leaf == r], keep_labels=keep_labels)
            for r in range(len(estimator.leaf_labels_))]


def tree_evidence(estimator, train, labels, *, routed=None, routed_labels=None, cv=5):
    """What a tree file records about its own trustworthiness, as plain JSON types.

    Parameters
    ----------
    estimator : MDTreeClassifier
        Fitted on ``train, labels``.
    train : pandas.DataFrame
        Its training configurations.
    labels : array-like
        Their labels.
    routed, routed_labels : pandas.DataFrame and array-like, default=None
        The configurations whose labels decide "keep as is" per leaf: the training
        collection's rows *with* those labelled ``"optimal"`` / ``"none"`` (which
        the tree is fitted without), routed through the fitted tree. None: the
        training rows alone (no leaf can then say keep as is).
    cv : int, default=5
        Folds of :func:`regime_accuracy`.

    Returns
    -------
    evidence : dict
        ``regime_accuracy`` (:meth:`RegimeAccuracy.to_dict`) and ``keep_as_is``
        (one :meth:`KeepAsIs.to_dict` per leaf).
    """
    accuracy = regime_accuracy(estimator, train, labels, cv=cv)
    if routed is None:
        routed, routed_labels = train, labels
    keep = keep_as_is_by_leaf(estimator, routed, routed_labels)
    return {"regime_accuracy": accuracy.to_dict(), "keep_as_is": [k.to_dict() for k in keep]}


# --------------------------------------------------------------------------------------
# 5. Confidence that includes the tree's own error
# --------------------------------------------------------------------------------------


def verdict_confidence(p_path, regime_accuracy, *, leaf=None, verdict=None):
    """Probability that the verdict is right: measurement noise and the tree's error.

    ``P(right | leaf)`` is the posterior mean of the leaf's out-of-fold accuracy
    under a uniform Beta(1, 1) prior, ``(k + 1) / (n + 2)`` after ``k`` of ``n``
    right: 11 of 11 gives 12/13 = 0.92, never 1.

    - ``p_path`` a float (today's probability that no decision on the path flips):
      ``p_path * P(right | leaf)``. A flip is counted as a wrong verdict, so this
      is a lower bound when a flip could still land on the same label.
    - ``p_path`` a mapping ``{leaf: P(leaf | noise)}``: ``sum over leaves of
      P(leaf | noise) * P(right | leaf)``: the probability that the tree, read at
      the model's true features, is right. With ``verdict`` (the label printed),
      a leaf predicting another label contributes ``P(leaf | noise) * (1 -
      P(right | leaf))`` for a two-class question (the printed label is right
      where that leaf is wrong) and nothing otherwise: the probability that the
      printed verdict is right.

    Parameters
    ----------
    p_path : float or mapping of int to float
        In [0, 1]; the mapping's values sum to at most 1 (mass left out counts as
        wrong).
    regime_accuracy : RegimeAccuracy or LeafAccuracy
        The tree's measured accuracy (:func:`regime_accuracy`); a single
        :class:`LeafAccuracy` with a float ``p_path``.
    leaf : int, default=None
        The leaf reached, with a float ``p_path`` and a :class:`RegimeAccuracy`.
    verdict : object, default=None
        The printed label, with a mapping ``p_path`` (see above).

    Returns
    -------
    confidence : float
        In [0, 1).
    """
    if isinstance(p_path, Mapping):
        if not isinstance(regime_accuracy, RegimeAccuracy):
            _refuse("regime_accuracy", "a RegimeAccuracy when p_path is a mapping",
                    type(regime_accuracy).__name__, TypeError)
        total, conf = 0.0, 0.0
        binary = len(regime_accuracy.classes) == 2
        for r, p in p_path.items():
            p = _fraction(p, f"p_path[{r!r}]")
            if not isinstance(r, Integral) or not 0 <= r < len(regime_accuracy.leaves):
                _refuse("p_path", f"leaves in 0..{len(regime_accuracy.leaves) - 1}", r)
            la = regime_accuracy.leaves[r]
            total += p
            if verdict is None or la.label == verdict:
                conf += p * la.posterior_mean
            elif binary:
                conf += p * (1 - la.posterior_mean)
        if total > 1 + 1e-9:
            _refuse("p_path", "probabilities summing to at most 1", round(total, 6))
        return float(min(conf, 1.0))
    p = _fraction(p_path, "p_path")
    if isinstance(regime_accuracy, LeafAccuracy):
        la = regime_accuracy
    elif isinstance(regime_accuracy, RegimeAccuracy):
        if leaf is None or not 0 <= leaf < len(regime_accuracy.leaves):
            _refuse("leaf", f"a leaf in 0..{len(regime_accuracy.leaves) - 1} when "
                    "regime_accuracy is a RegimeAccuracy", leaf)
        la = regime_accuracy.leaves[leaf]
    else:
        _refuse("regime_accuracy", "a RegimeAccuracy or a LeafAccuracy",
                type(regime_accuracy).__name__, TypeError)
    return p * la.posterior_mean
