"""The calibrated diagnoser: a model of the user's own lattice, chosen by grouped CV.

Torch-free. The lattice table has one row per configuration of the user's family
(features averaged over its featurized seeds), the ``data_fraction`` it uses, and its
measured one-step action (:data:`ACTIONS`). Five candidates are compared by the same
grouped, repeated cross-validation (:data:`CANDIDATES`), and a diagnosis abstains
where the group is far from the lattice or where its confidence -- the chosen model's
out-of-fold accuracy in the group's region, or its own probability of the answer -- is
below a threshold chosen on the lattice alone by nested grouped CV: the lowest
threshold at which the lattice's own out-of-fold answers are right at least
``target_accuracy`` of the time (:class:`AbstentionScore`). By default the candidate
kept is the one whose nested CV answers the most of the lattice at that accuracy
(``select_by="coverage"``); it is refitted on the whole lattice.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._classes import MDTreeClassifier
from .._domain import JointDomain
from .._hierarchy import Hierarchy, Leaf, Split
from ..diagnosis._failure import check_training
from ..diagnosis._recipe import FeatureRecipe, RecipeWarning, check_recipe
from ..diagnosis._validity import posterior_interval

__all__ = ["ACTIONS", "AbstentionScore", "CANDIDATES", "DEFAULT_FEATURES",
           "REGION_SIZES", "CalibratedDiagnoser", "CandidateScore"]

#: The one-step actions a lattice is labelled with (knob-free: a larger learning
#: rate or a smaller batch raises the temperature).
ACTIONS = ("raise temperature", "lower temperature", "widen", "more data", "none")

#: The candidates, in the order ties are broken (the paper's method first):
#: ``md_fixed`` the paper's presets q1 / q2 / q2_data with their fixed leaves, fitted
#: on the lattice (exhaustive search, data bounds) and combined into one action;
#: ``md_learned`` the q2_data hierarchy (train error, connectivity, sharpness) with
#: every leaf's label learned (the majority action of the configurations reaching
#: it); ``tree`` a free depth-limited decision tree; ``knn`` k nearest neighbours;
#: ``logistic`` a multinomial logistic regression on the standardized features (its
#: probability of the answer can be the confidence: region ``"proba"``).
#: ``tree``, ``knn`` and ``logistic`` use every feature of
#: :attr:`CalibratedDiagnoser.features_`.
CANDIDATES = ("md_fixed", "md_learned", "tree", "knn", "logistic")

#: Features used when present. ``weight_norm_ratio`` enters as its logarithm;
#: ``all_data`` is 1 when the group's ``data_fraction`` is 1 (no data left to add);
#: ``log_data_fraction`` is the base-2 logarithm of ``data_fraction``; a name ending
#: in ``_se`` is a standard error over seeds as the featurizer gives it.
DEFAULT_FEATURES = ("train_error", "mode_connectivity_peak", "hessian_t", "CKA",
                    "weight_norm_ratio", "all_data", "train_error_se",
                    "mode_connectivity_peak_se", "hessian_t_se", "CKA_se",
                    "weight_norm_ratio_se")

#: The regions a confidence is measured in, tried by nested CV under
#: ``region_rule="selected"``: ``"model"`` the chosen model's own (its leaf for the
#: trees, its ``n_neighbors`` nearest configurations for kNN, the configurations it
#: gives the same action for the logistic regression), a number ``k`` the ``k``
#: nearest lattice configurations in the standardized features; ``"proba"`` is no
#: region: the confidence is the model's own probability of its answer (tree: leaf
#: share, kNN: vote share, logistic: predicted probability), for the candidates that
#: have one.
REGION_SIZES = ("model", 5, 10, 20, "proba")
#: The region names that are not a number of configurations.
_NAMED_REGIONS = ("model", "proba")

_MD_FEATURES = ("train_error", "mode_connectivity_peak", "hessian_t")
_ALL_DATA_TOL = 1e-9

#: The outcomes of :meth:`CalibratedDiagnoser.report` that are not an action.
TRAINING_FAILED = "training failed"
NO_DIAGNOSIS = "no reliable diagnosis"
KEEP = "keep as is"


def _refuse(parameter, expected, actual, error=ValueError):
    raise error(f"The {parameter!r} parameter must be {expected}; got {actual}.")


# --------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------


def _raw_columns(features):
    """The table columns the features are computed from."""
    return tuple("data_fraction" if f in ("all_data", "log_data_fraction") else f
                 for f in features)


def _column(X, feature):
    """One feature as floats (NaN where missing or not a number)."""
    if feature == "all_data":
        if "all_data" in X:
            return pd.to_numeric(X["all_data"], errors="coerce").to_numpy(np.float64)
        if "data_fraction" not in X:
            return np.full(len(X), np.nan)
        frac = pd.to_numeric(X["data_fraction"], errors="coerce").to_numpy(np.float64)
        return np.where(np.isfinite(frac), (frac >= 1 - _ALL_DATA_TOL).astype(float), np.nan)
    if feature == "log_data_fraction" and feature not in X:
        if "data_fraction" not in X:
            return np.full(len(X), np.nan)
        frac = pd.to_numeric(X["data_fraction"], errors="coerce").to_numpy(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(frac > 0, np.log2(frac), np.nan)
    if feature not in X:
        return np.full(len(X), np.nan)
    values = pd.to_numeric(X[feature], errors="coerce").to_numpy(np.float64)
    if feature == "weight_norm_ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(values > 0, np.log(values), np.nan)
    return values


def _feature_frame(X, features):
    """The features (transformed) as a DataFrame, NaN where a value is missing."""
    data = {}
    for f in features:
        v = np.array(_column(X, f), dtype=np.float64)
        v[~np.isfinite(v)] = np.nan
        data[f] = v
    return pd.DataFrame(data, index=X.index)


def _standardize(points):
    center = points.mean(axis=0)
    scale = points.std(axis=0, ddof=1) if len(points) > 1 else np.ones(points.shape[1])
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return center, scale


# --------------------------------------------------------------------------------------
# Candidates (private; each: fit(T, y) on a feature frame, predict(T), regions(T))
# --------------------------------------------------------------------------------------


def _majority(labels):
    counts = Counter(labels)
    top = max(counts.values())
    return sorted((c for c, v in counts.items() if v == top), key=str)[0]


#: The presets' label vocabularies, mapped from the actions.
_PRESET_LABELS = {
    "q1": {"raise temperature": "small", "lower temperature": "large"},
    "q2": {"widen": "width", "raise temperature": "batch", "lower temperature": "batch"},
    "q2_data": {"more data": "data", "raise temperature": "batch",
                "lower temperature": "batch"},
}


class _FixedLeaves:
    """The paper's presets with fixed leaves, combined into one action: Q1 gives the
    temperature's direction; Q2 ``width`` overrides it with "widen", then Q2-data
    ``data`` with "more data" where data is left (``recommend_moves``'s rule)."""

    kind = "md_fixed"

    def __init__(self, **_):
        pass

    def fit(self, T, y):
        self.trees_, self.fallback_ = {}, {}
        for name, mapping in _PRESET_LABELS.items():
            mask = np.isin(y, list(mapping))
            labels = np.array([mapping[v] for v in y[mask]], dtype=object)
            if len(set(labels.tolist())) == 2 and mask.sum() >= 2:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.trees_[name] = MDTreeClassifier(
                        name, threshold_search="exhaustive", bounds="data"
                    ).fit(T.loc[mask, list(_MD_FEATURES)], labels)
            else:
                self.fallback_[name] = _majority(labels.tolist()) if len(labels) else (
                    "small" if name == "q1" else "batch")
        return self

    def _labels(self, T, name):
        if name in self.trees_:
            return self.trees_[name].predict(T[list(_MD_FEATURES)]).astype(object)
        return np.full(len(T), self.fallback_[name], dtype=object)

    def predict(self, T):
        q1, q2, q2d = (self._labels(T, n) for n in ("q1", "q2", "q2_data"))
        out = np.where(q1 == "small", "raise temperature", "lower temperature").astype(object)
        out[q2 == "width"] = "widen"
        has_data = (T["all_data"].to_numpy() < 0.5) if "all_data" in T else np.ones(len(T), bool)
        out[(q2 != "width") & (q2d == "data") & has_data] = "more data"
        return out

    def regions(self, T):
        parts = [self.trees_[n].apply(T[list(_MD_FEATURES)]) if n in self.trees_
                 else np.zeros(len(T), int) for n in ("q1", "q2", "q2_data")]
        return np.array([f"{a}-{b}-{c}" for a, b, c in zip(*parts)], dtype=object)


def learned_leaves_hierarchy():
    """The q2_data hierarchy (train error, then connectivity, then sharpness) with
    every leaf's label left to the data (``Leaf()``: the majority action)."""
    def sharp(name):
        return Split(name, "hessian_t", None, None, left=Leaf(), right=Leaf())

    return Hierarchy(
        Split("t0", "train_error", None, None,
              left=Split("t1", "mode_connectivity_peak", None, None,
                         left=sharp("t4"), right=sharp("t2")),
              right=Split("t3", "mode_connectivity_peak", None, None,
                          left=Leaf(), right=sharp("t5"))),
        order=("t0", "t1", "t2", "t3", "t4", "t5"),
    )


class _LearnedLeaves:
    kind = "md_learned"

    def __init__(self, **_):
        pass

    def fit(self, T, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.tree_ = MDTreeClassifier(learned_leaves_hierarchy(),
                                          threshold_search="exhaustive",
                                          bounds="data").fit(T[list(_MD_FEATURES)], y)
        return self

    def predict(self, T):
        return self.tree_.predict(T[list(_MD_FEATURES)]).astype(object)

    def regions(self, T):
        return self.tree_.apply(T[list(_MD_FEATURES)]).astype(object)


class _FreeTree:
    kind = "tree"

    def __init__(self, max_depth=4, random_state=0, **_):
        self.max_depth, self.random_state = max_depth, random_state

    def fit(self, T, y):
        self.tree_ = DecisionTreeClassifier(max_depth=self.max_depth, min_samples_leaf=2,
                                            random_state=self.random_state)
        self.tree_.fit(T.to_numpy(np.float64), y)
        return self

    def predict(self, T):
        return self.tree_.predict(T.to_numpy(np.float64)).astype(object)

    def regions(self, T):
        return self.tree_.apply(T.to_numpy(np.float64)).astype(object)

    def proba(self, T):
        return self.tree_.predict_proba(T.to_numpy(np.float64)).max(axis=1)


class _Neighbours:
    kind = "knn"

    def __init__(self, n_neighbors=5, **_):
        self.n_neighbors = n_neighbors

    def fit(self, T, y):
        Z = T.to_numpy(np.float64)
        self.center_, self.scale_ = _standardize(Z)
        k = max(1, min(self.n_neighbors, len(Z)))
        self.knn_ = KNeighborsClassifier(n_neighbors=k).fit((Z - self.center_) / self.scale_, y)
        return self

    def _z(self, T):
        return (T.to_numpy(np.float64) - self.center_) / self.scale_

    def predict(self, T):
        return self.knn_.predict(self._z(T)).astype(object)

    def neighbours(self, T):
        return self.knn_.kneighbors(self._z(T), return_distance=False)

    def proba(self, T):
        return self.knn_.predict_proba(self._z(T)).max(axis=1)


class _Logistic:
    """Multinomial logistic regression on the standardized features (L2, ``C``)."""

    kind = "logistic"

    def __init__(self, C=1.0, **_):
        self.C = C

    def fit(self, T, y):
        Z = T.to_numpy(np.float64)
        self.center_, self.scale_ = _standardize(Z)
        # one action only (a small fold): that action, with probability 1
        self.constant_ = y[0] if len(set(np.asarray(y).tolist())) == 1 else None
        if self.constant_ is None:
            self.model_ = LogisticRegression(C=self.C, max_iter=5000)
            self.model_.fit((Z - self.center_) / self.scale_, y)
        return self

    def _z(self, T):
        return (T.to_numpy(np.float64) - self.center_) / self.scale_

    def predict(self, T):
        if self.constant_ is not None:
            return np.full(len(T), self.constant_, dtype=object)
        return self.model_.predict(self._z(T)).astype(object)

    def regions(self, T):
        return self.predict(T)

    def proba(self, T):
        if self.constant_ is not None:
            return np.ones(len(T))
        return self.model_.predict_proba(self._z(T)).max(axis=1)


_CANDIDATE_CLASSES = {c.kind: c for c in (_FixedLeaves, _LearnedLeaves, _FreeTree, _Neighbours,
                                          _Logistic)}


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateScore:
    """A candidate's cross-validated accuracy on the lattice.

    Attributes
    ----------
    name : str
        One of :data:`CANDIDATES`, or ``"constant"`` (each fold's majority action).
    accuracy : float or None
        Out-of-fold accuracy averaged over the repeats (None: not available).
    interval : tuple of float or None
        95% interval (:func:`sklearn_mdtree.diagnosis._validity.posterior_interval`, on the
        configurations' mean correctness over the repeats).
    n : int
        Lattice configurations.
    note : str
        Why the candidate was not available, or ``""``.
    """

    name: str
    accuracy: float | None
    interval: tuple | None
    n: int
    note: str = ""

    def to_dict(self):
        out = asdict(self)
        out["interval"] = None if self.interval is None else list(self.interval)
        return out

    @classmethod
    def from_dict(cls, data):
        interval = data.get("interval")
        return cls(str(data["name"]), None if data["accuracy"] is None else float(data["accuracy"]),
                   None if interval is None else tuple(float(v) for v in interval),
                   int(data["n"]), str(data.get("note", "")))

    def to_text(self):
        if self.accuracy is None:
            return f"{self.name}: not available ({self.note})"
        return (f"{self.name}: {self.accuracy:.2f} out of fold (95% interval "
                f"{self.interval[0]:.2f}-{self.interval[1]:.2f}, {self.n} configurations)")


@dataclass(frozen=True)
class AbstentionScore:
    """How one confidence region did in the lattice's nested cross-validation.

    Every lattice configuration got, in each repeat, an out-of-fold answer and a
    confidence measured without its own label (:meth:`CalibratedDiagnoser.fit`);
    the threshold is the lowest confidence at which the answers at or above it were
    right at least ``target_accuracy`` of the time.

    Attributes
    ----------
    region : str or int
        ``"model"`` or a number of nearest lattice configurations (:data:`REGION_SIZES`).
    threshold : float or None
        The confidence threshold (None: no threshold meets the target; never answer).
    accuracy : float or None
        Share right among the lattice's out-of-fold answers at or above the threshold.
    coverage : float
        Share of the lattice's out-of-fold cases answered (in domain, not "more data"
        without data left, confidence at or above the threshold).
    n_answered, n : int
        Cases answered and cases (configurations times repeats).
    """

    region: object
    threshold: float | None
    accuracy: float | None
    coverage: float
    n_answered: int
    n: int

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        region = data["region"]
        return cls(region if region in _NAMED_REGIONS else int(region),
                   None if data["threshold"] is None else float(data["threshold"]),
                   None if data["accuracy"] is None else float(data["accuracy"]),
                   float(data["coverage"]), int(data["n_answered"]), int(data["n"]))

    def to_text(self):
        where = {"model": "the model's region",
                 "proba": "the model's own probability"}.get(
                     self.region, f"the {self.region} nearest configurations")
        if self.threshold is None:
            return (f"confidence in {where}: no threshold reaches the target on the lattice "
                    "(never answers)")
        return (f"confidence in {where}: threshold {self.threshold:.2f}; on the lattice, "
                f"answers at this confidence were right {100 * self.accuracy:.0f}% of the "
                f"time, {100 * self.coverage:.0f}% answered ({self.n_answered} of {self.n} "
                "out-of-fold cases)")


def _posterior(k, n):
    return (k + 1.0) / (n + 2.0)


def select_threshold(confidence, correct, answerable, target):
    """The lowest threshold whose answers meet ``target``, maximizing coverage.

    Parameters
    ----------
    confidence : ndarray of float
        Per case, its confidence.
    correct : ndarray of bool
        Per case, whether the answer was right.
    answerable : ndarray of bool
        Per case, whether it would be answered at any confidence (in domain...).
    target : float
        The selective accuracy required.

    Returns
    -------
    threshold, accuracy, n_answered : float or None, float or None, int
        ``(None, None, 0)`` when no threshold meets ``target``.

    Examples
    --------
    >>> import numpy as np
    >>> conf = np.array([0.9, 0.8, 0.7, 0.6])
    >>> select_threshold(conf, np.array([1, 1, 1, 0], bool), np.ones(4, bool), 0.75)
    (0.6, 0.75, 4)
    >>> select_threshold(conf, np.array([1, 1, 0, 0], bool), np.ones(4, bool), 0.75)
    (0.8, 1.0, 2)
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    answerable = np.asarray(answerable, dtype=bool)
    best = (None, None, 0)
    for t in np.unique(confidence[answerable]):
        answered = answerable & (confidence >= t)
        accuracy = float(correct[answered].mean())
        if accuracy >= target - 1e-12 and answered.sum() > best[2]:
            best = (float(t), accuracy, int(answered.sum()))
    return best


# --------------------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------------------


class CalibratedDiagnoser(ClassifierMixin, BaseEstimator):
    """A diagnosis model chosen by cross-validation on a lattice of one's own family.

    Fitted on a labelled lattice table (one row per configuration: the
    loss-landscape features, ``weight_norm_ratio`` when measured, the
    ``data_fraction`` the configuration uses, and its measured one-step action
    among :data:`ACTIONS`), it compares the candidates of :data:`CANDIDATES` by
    grouped, repeated K-fold cross-validation on the lattice (a group holds the
    configurations that must not sit on both sides of a split, e.g. one
    (width, data) slice, so that a configuration's neighbours do not leak into
    its own prediction), and records every candidate's accuracy with its interval
    beside a constant answer's. With ``select_by="accuracy"`` the most accurate
    candidate is kept (ties go to the earlier candidate: the MD tree first); with
    ``select_by="coverage"`` (the default, with ``region_rule="selected"``) the one
    whose nested CV below answers the most of the lattice at ``target_accuracy``
    (ties: the more accurate). The kept candidate is refitted on the whole lattice.

    :meth:`report` and :meth:`diagnose` then give per group an action, or
    ``"training failed"`` (:func:`sklearn_mdtree.diagnosis._failure.check_training`, run
    first), ``"no reliable diagnosis"`` (the group is far from the lattice: the
    mean standardized distance to its ``domain_k`` nearest lattice configurations
    exceeds the ``domain_quantile`` of the lattice's own leave-one-out distances;
    or its confidence is too low (``region_rule``); or it says "more data"
    where no data is left) or ``"keep as is"`` (the action is "none"), with a reason
    and a confidence: the posterior mean ``(k + 1) / (n + 2)`` of the chosen model's
    out-of-fold accuracy in the group's region, never 1. With region ``"proba"`` the
    group is answered when the model's probability of its answer reaches the
    threshold, and its confidence is the same posterior mean over the lattice's
    out-of-fold cases of the nested CV (pooled over the repeats) whose probability
    is at least the group's: ``k`` of those ``n`` were right (never 1 either).

    With ``region_rule="selected"`` (the default) the abstention is chosen on the
    lattice alone, by nested grouped CV: in every outer fold the chosen candidate is
    fitted on the training part and answers the held-out configurations; an inner
    grouped CV on the training part gives its configurations' out-of-fold
    correctness, from which each held-out configuration's confidence is measured in
    its region (each of ``region_sizes``; for ``"proba"`` the outer fold's model's
    probability of its answer), and the domain check is the training part's. For each region, the lowest confidence threshold at which the
    held-out answers are right at least ``target_accuracy`` of the time (pooled over
    the repeats) is kept, and the region answering most of the lattice wins (ties:
    the earlier). The threshold and the lattice's accuracy and coverage at it are
    stored (:attr:`abstention_`) and stated in every report.

    Parameters
    ----------
    features : sequence of str, default=DEFAULT_FEATURES
        The features used where the lattice has them (finite in every row);
        ``weight_norm_ratio`` enters as its logarithm, ``all_data`` is computed
        from a ``data_fraction`` column (1 when the group uses all the data).
    candidates : sequence of str, default=CANDIDATES
        The candidates compared.
    cv : int, default=5
        Folds (at most the number of groups).
    n_repeats : int, default=3
        Repeats of the K-fold split with other shuffles; accuracies are means.
    max_depth : int, default=4
        Depth of the free decision tree.
    n_neighbors : int, default=5
        Neighbours of the kNN candidate, and of its region.
    domain_k : int, default=5
        Lattice configurations the domain distance is averaged over.
    domain_quantile : float, default=0.9
        Share of the lattice's own leave-one-out distances inside the domain.
    region_rule : {"selected", "interval", "mean"}, default="selected"
        When a group in the domain is answered: ``"selected"`` its confidence is at
        least the threshold chosen on the lattice for ``target_accuracy``;
        ``"interval"`` the lower end of the 95% interval of its region's
        out-of-fold accuracy (the model's region) is above the constant answer's
        share (as :attr:`sklearn_mdtree.diagnosis._validity.LeafAccuracy.better_than_chance`);
        ``"mean"`` only its posterior mean is. The last two were fixed by hand,
        not chosen on the lattice.
    target_accuracy : float, default=0.8
        The share of right answers the lattice's own out-of-fold answers must reach
        above the threshold (``region_rule="selected"``). Higher: fewer, surer
        answers; the coverage it leaves is reported.
    region_sizes : sequence of {"model", "proba"} or int, default=REGION_SIZES
        The regions tried for the confidence (``region_rule="selected"``): the
        model's own, a number of nearest lattice configurations, or ``"proba"`` (the
        model's probability of its answer; candidates without one never answer by
        it). A larger region lowers the confidence's variance and blurs it; the
        lattice decides.
    select_by : {"coverage", "accuracy"}, default="coverage"
        How the candidate is kept: ``"coverage"`` the one answering the most of the
        lattice at ``target_accuracy`` in the nested CV (needs
        ``region_rule="selected"``: :meth:`fit` refuses it with another region rule);
        ``"accuracy"`` the most accurate in the plain CV. ``"coverage"`` runs the
        nested CV once per candidate (a few times slower; times in
        ``benchmarks/README.md``). Both select on the same lattice the figures are
        measured on, so the stored figures are somewhat optimistic
        (``benchmarks/README.md`` reports a fully nested estimate).
    n_classes : int or None, default=None
        Classes of the task, for the training-failure check (None: the table's
        ``n_classes`` column, if any).
    optimizer : {"learning rate", "batch size"}, default="learning rate"
        The knob the training-failure advice names.
    random_state : int, default=0
        Shuffles the folds; seeds the free tree.

    Attributes
    ----------
    features_ : tuple of str
        The features used (those of ``features`` the lattice has).
    kind_ : str
        The candidate chosen.
    scores_ : dict of str to CandidateScore
        Every candidate's cross-validated accuracy, and ``"constant"``.
    margin_ : float
        The chosen candidate's accuracy minus the runner-up's (NaN when alone).
    classes_ : ndarray
        The actions seen in the lattice.
    lattice_ : pandas.DataFrame
        The lattice rows used (raw feature columns, ``action``, ``group``).
    oof_correct_ : ndarray of shape (n_configurations,)
        Per lattice configuration, the share of repeats in which the chosen
        candidate predicted it right out of fold.
    baseline_ : float
        The constant answer's share on the lattice (the majority action's).
    domain_threshold_ : float
        The domain threshold (mean standardized distance).
    abstention_ : AbstentionScore or None
        The region and threshold chosen by nested CV, with the lattice's accuracy and
        coverage at it (None unless ``region_rule="selected"``).
    abstention_scores_ : list of AbstentionScore
        Every region tried for the kept candidate (empty unless
        ``region_rule="selected"``).
    proba_oof_ : ndarray of shape (n_cases, 2) or None
        The kept candidate's out-of-fold ``(probability, correct)`` pairs of the
        nested CV (the cases that could be answered, pooled over the repeats), from
        which a ``"proba"`` verdict's confidence is measured; None when the
        ``"proba"`` region was not tried or the candidate has no probability.
    coverage_by_kind_ : dict of str to float
        Per candidate whose nested CV was run, the share of the lattice it answered
        at ``target_accuracy`` (its best region); empty unless
        ``region_rule="selected"``.
    recipe_ : FeatureRecipe or None
        How the lattice's features were computed.
    metadata_ : dict
        Free JSON-able description of the lattice (family, knob, sizes, time).
    notes_ : list of str
        What was left out of the fit and why.
    n_features_in_, feature_names_in_
        As in scikit-learn (the columns of ``features_``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn_mdtree.calibration import CalibratedDiagnoser
    >>> rng = np.random.default_rng(0)
    >>> centers = {"raise temperature": 0.0, "widen": 10.0}
    >>> rows = [{"train_error": c + rng.normal(), "CKA": c + rng.normal(), "action": a}
    ...         for a, c in centers.items() for _ in range(12)]
    >>> lattice = pd.DataFrame(rows)
    >>> model = CalibratedDiagnoser(candidates=("tree", "knn")).fit(
    ...     lattice, lattice["action"], groups=np.arange(24) % 6)
    >>> model.predict(pd.DataFrame({"train_error": [0.2], "CKA": [-0.1]})).tolist()
    ['raise temperature']
    """

    _parameter_constraints: dict = {
        "features": ["array-like"],
        "candidates": ["array-like"],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "max_depth": [Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "domain_k": [Interval(Integral, 1, None, closed="left")],
        "domain_quantile": [Interval(Real, 0, 1, closed="right")],
        "n_classes": [Interval(Integral, 2, None, closed="left"), None],
        "optimizer": [StrOptions({"learning rate", "batch size"})],
        "random_state": ["random_state"],
        "region_rule": [StrOptions({"selected", "interval", "mean"})],
        "target_accuracy": [Interval(Real, 0, 1, closed="right")],
        "region_sizes": ["array-like"],
        "select_by": [StrOptions({"accuracy", "coverage"})],
    }

    def __init__(self, features=DEFAULT_FEATURES, *, candidates=CANDIDATES, cv=5,
                 n_repeats=3, max_depth=4, n_neighbors=5, domain_k=5,
                 domain_quantile=0.9, region_rule="selected", target_accuracy=0.8,
                 region_sizes=REGION_SIZES, select_by="coverage", n_classes=None,
                 optimizer="learning rate", random_state=0):
        self.features = features
        self.candidates = candidates
        self.cv = cv
        self.n_repeats = n_repeats
        self.max_depth = max_depth
        self.n_neighbors = n_neighbors
        self.domain_k = domain_k
        self.domain_quantile = domain_quantile
        self.region_rule = region_rule
        self.target_accuracy = target_accuracy
        self.region_sizes = region_sizes
        self.select_by = select_by
        self.n_classes = n_classes
        self.optimizer = optimizer
        self.random_state = random_state

    # -- fitting --------------------------------------------------------------------------
    def _make(self, kind):
        return _CANDIDATE_CLASSES[kind](max_depth=self.max_depth,
                                        n_neighbors=self.n_neighbors,
                                        random_state=self._seed())

    def _seed(self):
        return 0 if self.random_state is None else int(
            self.random_state if isinstance(self.random_state, Integral)
            else np.random.RandomState(self.random_state).randint(2**31 - 1))

    def fit(self, X, y, *, groups=None, recipe=None, metadata=None):
        """Compare the candidates on the lattice by grouped CV; refit the best.

        Parameters
        ----------
        X : pandas.DataFrame
            The lattice's configurations: feature columns (:attr:`features`),
            ``data_fraction``, optional ``n_classes`` and ``<feature>_se``.
        y : array-like of str
            The measured one-step action of each configuration (:data:`ACTIONS`).
        groups : array-like, default=None
            The CV group of each configuration (None: each its own).
        recipe : FeatureRecipe or dict, default=None
            How the features were computed (kept in the file).
        metadata : dict, default=None
            A JSON-able description of the lattice (kept in the file).

        Returns
        -------
        self : CalibratedDiagnoser
        """
        self._validate_params()
        if self.select_by == "coverage" and self.region_rule != "selected":
            raise ValueError(
                "The 'select_by' parameter of CalibratedDiagnoser is 'coverage', which needs "
                "region_rule='selected' (the coverage is the nested CV's); got region_rule="
                f"{self.region_rule!r}. Pass select_by='accuracy' with a fixed region rule.")
        if not isinstance(X, pd.DataFrame):
            _refuse("X", "a pandas DataFrame (the lattice table)", type(X).__name__, TypeError)
        y = np.asarray(y, dtype=object)
        if len(y) != len(X):
            _refuse("y", f"{len(X)} actions (one per row of X)", f"{len(y)}")
        bad = sorted({str(v) for v in y if v not in ACTIONS})
        if bad:
            _refuse("y", f"actions among {list(ACTIONS)}", bad)
        unknown = [c for c in self.candidates if c not in CANDIDATES]
        if unknown or not len(self.candidates):
            _refuse("candidates", f"a non-empty subset of {list(CANDIDATES)}",
                    list(self.candidates))
        sizes = list(self.region_sizes)
        if not sizes or not all((isinstance(r, str) and r in _NAMED_REGIONS)
                                or (isinstance(r, Integral) and not isinstance(r, bool)
                                    and r >= 1) for r in sizes):
            _refuse("region_sizes", "a non-empty sequence of 'model', 'proba' and ints >= 1",
                    sizes)
        groups = np.arange(len(X)) if groups is None else np.asarray(groups)
        if len(groups) != len(X):
            _refuse("groups", f"{len(X)} entries (one per row of X)", f"{len(groups)}")
        notes = []
        # 1. rows whose training failed are never diagnosed by the model: left out
        keep = np.ones(len(X), bool)
        for i, (_, row) in enumerate(X.iterrows()):
            if check_training(row, n_classes=self.n_classes,
                              optimizer=self.optimizer).failure is not None:
                keep[i] = False
        if (~keep).any():
            notes.append(f"{int((~keep).sum())} lattice configuration(s) whose training "
                         "failed left out (such groups are reported as failed, never "
                         "diagnosed)")
        # 2. the features the lattice has
        wanted = list(dict.fromkeys(self.features))  # a feature named twice counts once
        T_all = _feature_frame(X, wanted)
        features = [f for f in wanted
                    if np.isfinite(T_all.loc[keep, f].to_numpy()).all()
                    and keep.any()]
        dropped = [f for f in wanted if f not in features]
        if dropped:
            notes.append(f"features not measured in every lattice row, not used: {dropped}")
        if not features:
            _refuse("X", f"a lattice with at least one of the features {list(self.features)}",
                    f"columns {list(X.columns)}")
        T = T_all.loc[keep, features]
        y, groups = y[keep], groups[keep]
        classes = sorted(set(y.tolist()), key=ACTIONS.index)
        if len(classes) < 2:
            _refuse("y", "at least 2 different actions among the lattice's usable "
                    "configurations (a one-action lattice has nothing to learn)",
                    f"only {classes} in {len(y)} configuration(s)")
        if len(y) < 4:
            _refuse("X", "at least 4 usable lattice configurations", len(y))
        validate_data(self, T, reset=True, ensure_all_finite=True)
        self.features_ = tuple(features)
        self.classes_ = np.array(classes, dtype=object)
        raw = list(dict.fromkeys(_raw_columns(self.features_)))
        self.lattice_ = X.loc[keep, raw].reset_index(drop=True).astype(np.float64)
        self.lattice_["action"] = y
        self.lattice_["group"] = [g.item() if isinstance(g, np.generic) else g for g in groups]
        self.recipe_ = (FeatureRecipe.from_dict(recipe) if isinstance(recipe, dict)
                        else recipe)
        self.metadata_ = dict(metadata or {})
        # 3. the candidates' cross-validation
        available = []
        for kind in self.candidates:
            if kind in ("md_fixed", "md_learned") and not set(_MD_FEATURES) <= set(features):
                continue
            available.append(kind)
        correct, constant = self._cross_validate(T, y, groups, available)
        n = len(y)
        scores = {}
        for kind in self.candidates:
            if kind not in available:
                scores[kind] = CandidateScore(kind, None, None, n, "the lattice lacks "
                                              f"{sorted(set(_MD_FEATURES) - set(features))}")
                continue
            per_row = correct[kind].mean(axis=0)
            scores[kind] = CandidateScore(kind, float(per_row.mean()),
                                          posterior_interval(float(per_row.sum()), n), n)
        per_row = constant.mean(axis=0)
        scores["constant"] = CandidateScore("constant", float(per_row.mean()),
                                            posterior_interval(float(per_row.sum()), n), n)
        ranked = sorted(available, key=lambda k: (-scores[k].accuracy, CANDIDATES.index(k)))
        self.kind_ = ranked[0]
        self.scores_ = scores
        self.margin_ = (scores[ranked[0]].accuracy - scores[ranked[1]].accuracy
                        if len(ranked) > 1 else float("nan"))
        self.oof_correct_ = correct[self.kind_].mean(axis=0)
        self.notes_ = notes
        self.abstention_, self.abstention_scores_ = None, []
        self.proba_oof_ = None
        self.coverage_by_kind_ = {}
        if self.region_rule == "selected":
            kinds = ranked if self.select_by == "coverage" else ranked[:1]
            best = None
            for kind in kinds:  # in the order of the CV accuracy: ties go to the first
                self.kind_ = kind
                found, pairs = self._select_abstention(T, y, groups)
                top = max(found, key=lambda a: (a.n_answered, -sizes.index(a.region)))
                self.coverage_by_kind_[kind] = top.coverage
                if best is None or top.n_answered > best[2].n_answered:
                    best = (kind, found, top, pairs)
            self.kind_, self.abstention_scores_, self.abstention_, self.proba_oof_ = best
            self.oof_correct_ = correct[self.kind_].mean(axis=0)
            others = [scores[k].accuracy for k in available if k != self.kind_]
            self.margin_ = (scores[self.kind_].accuracy - max(others) if others
                            else float("nan"))
        self._finish(T, y)
        return self

    def _select_abstention(self, T, y, groups):
        """Nested grouped CV of the chosen kind: per region, the threshold and the
        lattice's selective accuracy and coverage (:class:`AbstentionScore`), and the
        answerable out-of-fold ``(probability, correct)`` pairs of region ``"proba"``
        (an array of shape (n_cases, 2), None without that region or a probability)."""
        sizes = list(self.region_sizes)
        n = len(y)
        conf = {r: np.zeros((self.n_repeats, n)) for r in sizes}
        correct = np.zeros((self.n_repeats, n), bool)
        answerable = np.zeros((self.n_repeats, n), bool)
        all_data = (T["all_data"].to_numpy() >= 0.5 if "all_data" in T
                    else np.zeros(n, bool))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*least populated class.*")
            warnings.filterwarnings("ignore", message=".*members.*")
            for rep in range(self.n_repeats):
                for train, test in self._folds(T, y, groups, rep):
                    Ttr, ytr = T.iloc[train], y[train]
                    model = self._make(self.kind_).fit(Ttr, ytr)
                    answer = model.predict(T.iloc[test])
                    correct[rep, test] = answer == y[test]
                    # the training part's own out-of-fold correctness: an inner CV
                    # repeated as the outer one (the mean over repeats, as oof_correct_)
                    inner = np.zeros(len(train))
                    if len(np.unique(groups[train])) >= 2:
                        for irep in range(self.n_repeats):
                            for itr, ite in self._folds(Ttr, ytr, groups[train],
                                                        self.n_repeats * (rep + 1) + irep):
                                m = self._make(self.kind_).fit(Ttr.iloc[itr], ytr[itr])
                                inner[ite] += (m.predict(Ttr.iloc[ite]) == ytr[ite]) \
                                    / self.n_repeats
                    Ztr = Ttr.to_numpy(np.float64)
                    center, scale = _standardize(Ztr)
                    ztr, zte = (Ztr - center) / scale, (T.iloc[test].to_numpy(np.float64)
                                                        - center) / scale
                    tree = cKDTree(ztr)
                    # the training part's domain check
                    k = max(1, min(self.domain_k, len(train) - 1))
                    own, _ = tree.query(ztr, k=k + 1)
                    own = np.asarray(own).reshape(len(train), k + 1)[:, 1:].mean(axis=1)
                    limit = float(np.quantile(own, self.domain_quantile,
                                              method="inverted_cdf"))
                    d, _ = tree.query(zte, k=k)
                    d = np.asarray(d).reshape(len(test), k).mean(axis=1)
                    answerable[rep, test] = (d <= limit) & ~((answer == "more data")
                                                             & all_data[test])
                    for r in sizes:
                        if r == "proba":
                            conf[r][rep, test] = (model.proba(T.iloc[test])
                                                  if hasattr(model, "proba") else -np.inf)
                            continue
                        members = self._members(model, Ttr, T.iloc[test], tree, zte, r)
                        conf[r][rep, test] = [_posterior(inner[m].sum(), len(m))
                                              for m in members]
        out, pairs = [], None
        for r in sizes:
            usable = answerable.ravel() & np.isfinite(conf[r].ravel())
            t, acc, k = select_threshold(conf[r].ravel(), correct.ravel(), usable,
                                         self.target_accuracy)
            out.append(AbstentionScore(r, t, acc, k / correct.size, k, correct.size))
            if r == "proba" and usable.any():
                pairs = np.column_stack([conf[r].ravel()[usable],
                                         correct.ravel()[usable].astype(np.float64)])
        return out, pairs

    def _members(self, model, Ttrain, Tquery, tree, zquery, region):
        """Per query row, the indices (into ``Ttrain``) of the configurations of its
        region: the model's own (leaf / neighbours) or the ``region`` nearest in the
        standardized space of ``tree``."""
        if region == "model":
            if self.kind_ == "knn":
                return [np.asarray(m) for m in model.neighbours(Tquery)]
            own = model.regions(Ttrain)
            return [np.flatnonzero(own == q) for q in model.regions(Tquery)]
        k = int(min(region, tree.n))
        _, idx = tree.query(zquery, k=k)
        return [np.atleast_1d(i) for i in np.asarray(idx).reshape(len(zquery), k)]

    def _folds(self, T, y, groups, repeat):
        units = len(np.unique(groups))
        k = max(2, min(int(self.cv), units))
        splitter = StratifiedGroupKFold(k, shuffle=True, random_state=self._seed() + repeat)
        return list(splitter.split(T, y, groups))

    def _cross_validate(self, T, y, groups, kinds):
        n = len(y)
        correct = {k: np.zeros((self.n_repeats, n)) for k in kinds}
        constant = np.zeros((self.n_repeats, n))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*least populated class.*")
            warnings.filterwarnings("ignore", message=".*members.*")
            for r in range(self.n_repeats):
                for train, test in self._folds(T, y, groups, r):
                    constant[r, test] = y[test] == _majority(y[train].tolist())
                    for kind in kinds:
                        model = self._make(kind).fit(T.iloc[train], y[train])
                        correct[kind][r, test] = model.predict(T.iloc[test]) == y[test]
        return correct, constant

    def _finish(self, T, y):
        """The fitted state that follows from the lattice and the chosen kind."""
        self.model_ = self._make(self.kind_).fit(T, y)
        self.lattice_predictions_ = self.model_.predict(T)
        if self.kind_ != "knn":
            self.lattice_regions_ = self.model_.regions(T)
        counts = Counter(y.tolist())
        self.baseline_ = max(counts.values()) / len(y)
        Z = T.to_numpy(np.float64)
        self.domain_ = JointDomain(self.features_, Z, k=min(self.domain_k, len(Z) - 1),
                                   quantile=self.domain_quantile)
        z = (Z - self.domain_.center) / self.domain_.scale
        self._kdtree = cKDTree(z)
        k = self.domain_.k
        own, _ = self._kdtree.query(z, k=k + 1)
        own = np.asarray(own).reshape(len(z), k + 1)[:, 1:].mean(axis=1)
        self.domain_threshold_ = float(np.quantile(own, self.domain_quantile,
                                                   method="inverted_cdf"))

    # -- using it ---------------------------------------------------------------------------
    def _frame(self, X, *, strict):
        if isinstance(X, pd.Series):
            X = X.to_frame().T
        if not isinstance(X, pd.DataFrame):
            _refuse("X", "a pandas DataFrame of groups' features", type(X).__name__, TypeError)
        T = _feature_frame(X, list(self.features_))
        if strict:
            missing = [f for f in self.features_ if not np.isfinite(T[f].to_numpy()).all()]
            if missing:
                cols = sorted(set(_raw_columns(missing)))
                _refuse("X", f"finite values in the columns {cols} in every row (the "
                        "calibration uses them)", f"missing or non-finite values in {missing}")
        return X, T

    def predict(self, X):
        """The chosen model's action for each group (no abstention, no failure check).

        Parameters
        ----------
        X : pandas.DataFrame
            Groups' features, with the columns of :attr:`features_` (``data_fraction``
            for ``all_data``).

        Returns
        -------
        actions : ndarray of str, shape (n_groups,)
        """
        check_is_fitted(self)
        _, T = self._frame(X, strict=True)
        return self.model_.predict(T)

    def _region(self, T):
        """Per row: the lattice configurations of its region (indices)."""
        size = self._region_size()
        if size not in _NAMED_REGIONS:
            z = (T.to_numpy(np.float64) - self.domain_.center) / self.domain_.scale
            k = int(min(size, len(self.lattice_)))
            _, idx = self._kdtree.query(z, k=k)
            return [np.atleast_1d(i) for i in np.asarray(idx).reshape(len(z), k)]
        if self.kind_ == "knn":
            return [np.asarray(r) for r in self.model_.neighbours(T)]
        regions = self.model_.regions(T)
        return [np.flatnonzero(self.lattice_regions_ == r) for r in regions]

    def _region_size(self):
        abstention = getattr(self, "abstention_", None)
        return "model" if abstention is None else abstention.region

    def distances(self, X):
        """Mean standardized distance of each group to its nearest lattice configurations.

        Returns
        -------
        distance : ndarray of shape (n_groups,)
            NaN for a group with a missing feature.
        """
        check_is_fitted(self)
        _, T = self._frame(X, strict=False)
        Z = T.to_numpy(np.float64)
        out = np.full(len(Z), np.nan)
        ok = np.isfinite(Z).all(axis=1)
        if ok.any():
            z = (Z[ok] - self.domain_.center) / self.domain_.scale
            d, _ = self._kdtree.query(z, k=self.domain_.k)
            out[ok] = np.asarray(d).reshape(ok.sum(), self.domain_.k).mean(axis=1)
        return out

    def check_recipe(self, recipe):
        """Each setting with which ``recipe``'s features differ from the lattice's.

        Parameters
        ----------
        recipe : FeatureRecipe, dict or None
            How the diagnosed features were computed.

        Returns
        -------
        notes : list of str
            :func:`sklearn_mdtree.diagnosis._recipe.check_recipe`'s lines (also issued as
            :class:`~sklearn_mdtree.diagnosis._recipe.RecipeWarning` by :meth:`report`).
        """
        check_is_fitted(self)
        return check_recipe(self.recipe_, recipe)

    def report(self, X, *, recipe=None):
        """Per group: the action or why none is given, the reason, the confidence.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per group: the features of :attr:`features_`, the
            ``data_fraction`` the group uses, ``train_loss`` and optional
            ``weight_norm_ratio`` / ``n_classes`` for the training-failure check.
        recipe : FeatureRecipe or dict, default=None
            How ``X``'s features were computed: a setting that differs from the
            lattice's is warned about (:class:`RecipeWarning`), naming it.

        Returns
        -------
        results : list of dict
            One per row, JSON-able: ``group`` (the row's index), ``verdict`` (an
            action of :data:`ACTIONS` other than "none", ``"keep as is"``,
            ``"no reliable diagnosis"`` or ``"training failed"``), ``action``
            (the model's action, None when it was not asked), ``reason``,
            ``confidence`` (None without a verdict), ``in_domain``,
            ``distance``, ``threshold``, ``region`` (out-of-fold ``n_correct``,
            ``n``, ``interval``, ``baseline``), ``failure`` (the training
            failure's dict, or None), ``model`` (the chosen candidate),
            ``cv_accuracy`` (its cross-validated accuracy and interval) and
            ``abstention`` (:attr:`abstention_` as a dict, or None).
        """
        check_is_fitted(self)
        if recipe is not None:
            for line in self.check_recipe(recipe):
                warnings.warn(line, RecipeWarning, stacklevel=2)
        X, T = self._frame(X, strict=False)
        distances = self.distances(X)
        Z = T.to_numpy(np.float64)
        complete = np.isfinite(Z).all(axis=1)
        predicted = np.full(len(X), None, dtype=object)
        probability = np.full(len(X), np.nan)
        regions = [np.array([], int)] * len(X)
        by_probability = self._region_size() == "proba"
        if complete.any():
            predicted[complete] = self.model_.predict(T.loc[complete])
            if by_probability:
                probability[complete] = self.model_.proba(T.loc[complete])
            for i, r in zip(np.flatnonzero(complete), self._region(T.loc[complete])):
                regions[i] = r
        chosen = self.scores_[self.kind_]
        out = []
        for i, (index, row) in enumerate(X.iterrows()):
            entry = {
                "group": index.item() if isinstance(index, np.generic) else index,
                "verdict": None, "action": None, "reason": "", "confidence": None,
                "in_domain": None, "distance": None, "threshold": self.domain_threshold_,
                "region": None, "failure": None, "model": self.kind_,
                "cv_accuracy": {"accuracy": chosen.accuracy, "interval": list(chosen.interval),
                                "n": chosen.n},
                "abstention": (None if self.abstention_ is None
                               else self.abstention_.to_dict()),
            }
            out.append(entry)
            check = check_training(row, n_classes=self.n_classes, optimizer=self.optimizer)
            if check.failure is not None:
                entry.update(verdict=TRAINING_FAILED, reason=check.failure.to_text(),
                             failure=check.failure.to_dict())
                continue
            if not complete[i]:
                missing = [f for f in self.features_ if not math.isfinite(Z[i, list(
                    self.features_).index(f)])]
                entry.update(verdict=NO_DIAGNOSIS, reason=(
                    f"the group lacks {sorted(set(_raw_columns(missing)))}, which the "
                    "calibration uses"))
                continue
            action = predicted[i]
            d = float(distances[i])
            members = regions[i]
            k_right = float(self.oof_correct_[members].sum())
            n = len(members)
            interval = posterior_interval(k_right, n)
            posterior = (k_right + 1) / (n + 2)
            entry.update(action=action, distance=d, in_domain=bool(d <= self.domain_threshold_),
                         region={"n_correct": k_right, "n": n, "interval": list(interval),
                                 "baseline": self.baseline_})
            where = (f"its {n} nearest lattice configurations"
                     if self.kind_ == "knn" or self._region_size() not in _NAMED_REGIONS
                     else "the configurations it gives this action" if self.kind_ == "logistic"
                     else "its leaf")
            region_text = (f"in {where} the model was right out of fold for {k_right:g} of "
                           f"{n} ({posterior:.2f} posterior mean, 95% interval "
                           f"{interval[0]:.2f}-{interval[1]:.2f}) against a constant "
                           f"answer's {self.baseline_:.2f}")
            score = posterior  # what the abstention threshold is compared with
            if by_probability:
                score = float(probability[i])
                pairs = getattr(self, "proba_oof_", None)
                if pairs is None:  # a file written before the pairs were kept
                    posterior = score
                    region_text = (f"the model's probability of this answer is {score:.2f}; "
                                   + region_text)
                else:
                    above = pairs[:, 0] >= score - 1e-12
                    k_above, n_above = float(pairs[above, 1].sum()), int(above.sum())
                    posterior = _posterior(k_above, n_above)
                    region_text = (
                        f"the model's probability of this answer is {score:.2f}; on the "
                        f"lattice, out-of-fold answers with at least this probability were "
                        f"right {k_above:g} of {n_above} times ({posterior:.2f} posterior "
                        "mean); " + region_text)
            if d > self.domain_threshold_:
                entry.update(verdict=NO_DIAGNOSIS, reason=(
                    f"out of the lattice's domain: mean distance {d:.3g} to its "
                    f"{self.domain_.k} nearest lattice configurations, above the "
                    f"{self.domain_threshold_:.3g} within which "
                    f"{100 * self.domain_quantile:g}% of the lattice's own lie"))
                continue
            selected = self.abstention_
            if self.region_rule == "selected":
                if selected.threshold is None:
                    clear, why = False, (
                        f"no confidence threshold reached the target accuracy "
                        f"{100 * self.target_accuracy:.0f}% on the lattice; {region_text}")
                else:
                    clear = score >= selected.threshold - 1e-12
                    why = (f"{'probability' if by_probability else 'confidence'} "
                           f"{score:.2f} below the threshold "
                           f"{selected.threshold:.2f} chosen on the lattice; {region_text}")
            else:
                clear = (interval[0] > self.baseline_ if self.region_rule == "interval"
                         else posterior > self.baseline_)
                why = f"not better than a constant answer here: {region_text}"
            if not clear:
                entry.update(verdict=NO_DIAGNOSIS, reason=why)
                continue
            no_data_left = ("all_data" in self.features_
                            and T["all_data"].iloc[i] >= 0.5)
            if action == "more data" and no_data_left:
                entry.update(verdict=NO_DIAGNOSIS, reason=(
                    "the model says 'more data' but the group already uses all its data"))
                continue
            entry.update(verdict=KEEP if action == "none" else action,
                         confidence=float(posterior),
                         reason=(("no one-step move is expected to help beyond the seeds' "
                                  "noise; " if action == "none" else "")
                                 + f"{self.kind_} calibrated on the lattice; " + region_text
                                 + self._abstention_text()))
        return out

    def _abstention_text(self):
        a = getattr(self, "abstention_", None)
        if a is None or a.threshold is None:
            return ""
        what = "probability" if a.region == "proba" else "confidence"
        return (f"; on the lattice, answers at this {what} (>= {a.threshold:.2f}) were "
                f"right {100 * a.accuracy:.0f}% of the time, {100 * a.coverage:.0f}% "
                "answered")

    def diagnose(self, X):
        """:meth:`report` as a DataFrame (one row per group; ``region`` flattened).

        Returns
        -------
        frame : pandas.DataFrame
            Columns ``verdict``, ``action``, ``confidence``, ``reason``,
            ``in_domain``, ``distance``, ``region_n``, ``region_correct``, indexed
            by the groups.
        """
        rows = []
        for r in self.report(X):
            region = r["region"] or {}
            rows.append({"group": r["group"], "verdict": r["verdict"], "action": r["action"],
                         "confidence": r["confidence"], "reason": r["reason"],
                         "in_domain": r["in_domain"], "distance": r["distance"],
                         "region_n": region.get("n"),
                         "region_correct": region.get("n_correct")})
        return pd.DataFrame(rows).set_index("group")

    def summary(self):
        """The candidates' cross-validated figures and which won, in words.

        Returns
        -------
        text : str
        """
        check_is_fitted(self)
        lines = [f"calibrated on {len(self.lattice_)} lattice configurations "
                 f"({self.n_repeats} x {self.cv}-fold grouped CV); features "
                 f"{list(self.features_)}"]
        for kind in [*self.candidates, "constant"]:
            mark = "  <- chosen" if kind == self.kind_ else ""
            lines.append("  " + self.scores_[kind].to_text() + mark)
        over_constant = (self.scores_[self.kind_].accuracy
                         - self.scores_["constant"].accuracy)
        by_coverage = getattr(self, "coverage_by_kind_", {})
        if len(by_coverage) > 1:
            lines.append(f"{self.kind_} kept: it answered the most of the lattice at "
                         f"{100 * self.target_accuracy:.0f}% accuracy in the nested CV ("
                         + ", ".join(f"{k} {100 * v:.0f}%" for k, v in by_coverage.items())
                         + f"); accuracy {self.margin_:+.2f} against the most accurate "
                         f"other, {over_constant:+.2f} against a constant answer")
        elif math.isfinite(self.margin_):
            lines.append(f"{self.kind_} won by {self.margin_:.2f} over the runner-up; "
                         f"{over_constant:+.2f} over a constant answer")
        if self.region_rule == "selected":
            lines.append(f"abstention chosen on the lattice by nested grouped CV for a "
                         f"target accuracy of {100 * self.target_accuracy:.0f}%:")
            for a in self.abstention_scores_:
                mark = "  <- chosen" if a == self.abstention_ else ""
                lines.append("  " + a.to_text() + mark)
        else:
            lines.append(f"abstention: the {self.region_rule!r} region rule (fixed, not "
                         "chosen on the lattice)")
        lines += [f"note: {n}" for n in self.notes_]
        return "\n".join(lines)

    # -- the file ---------------------------------------------------------------------------
    def to_dict(self):
        """The fitted diagnoser as plain JSON types (see :func:`load_calibrated`)."""
        from ._document import to_document

        return to_document(self)

    def to_json(self, path):
        """Write the fitted diagnoser to one JSON file (no pickle).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        path : pathlib.Path
        """
        from ._document import write_document

        return write_document(self, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = False
        tags.non_deterministic = False
        return tags
