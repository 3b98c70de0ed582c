"""Domain of validity of a fitted MD tree: where its training features lay.

A tree's thresholds were fitted on one population of models (ResNet-18 on CIFAR-10
for the paper's collection F). A model unlike that population is diagnosed by
extrapolation: the thresholds may not mean the same thing there. Two summaries of
the training configurations decide what "unlike" is:

- :class:`FeatureDistribution`, one per feature (range, a few quantiles, mean and
  standard deviation): how far a value lies outside the range, in the training set's
  own spread. It is kept for every loss-landscape feature of :data:`DOMAIN_FEATURES`
  the training table has, not only those the tree's splits read: a model can match
  the training population in the two features its path reads and be unlike every
  training model in a third.
- :class:`JointDomain`, the training points themselves: a model can lie inside every
  feature's range and still far from every training configuration (the features
  move together). Its distance to its ``k``-th nearest training configuration, in
  the training set's standardised features, is compared with the same distance of
  each training configuration to the others (leave one out): beyond the training
  set's ``quantile`` (0.99) of those, it is out of domain.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial import cKDTree

from ._vocabulary import LOSS_LANDSCAPE_FEATURES

__all__ = [
    "DOMAIN_FEATURES",
    "FeatureDistribution",
    "JointCheck",
    "JointDomain",
    "OutOfDomainWarning",
    "domain_features",
    "training_distribution",
]

#: The loss-landscape features whose training distribution a tree's domain records
#: when its training table has them (those ``featurizers.LossLandscapeFeaturizer``
#: computes), whether or not the tree's splits read them.
DOMAIN_FEATURES = LOSS_LANDSCAPE_FEATURES

#: Quantiles kept besides the minimum and maximum, as (key, probability).
QUANTILES = (("q05", 0.05), ("q25", 0.25), ("median", 0.5), ("q75", 0.75), ("q95", 0.95))


class OutOfDomainWarning(UserWarning):
    """A diagnosis concerns a model unlike those the tree was fitted on.

    A feature outside the training range, a feature on the path outside the range
    of the training configurations in the same regime, or the features together far
    from every training configuration (:class:`JointDomain`).

    Issued by :func:`sklearn_mdtree.diagnose` (``warn=True``); each report's
    ``out_of_domain`` says which groups it concerns.

    Examples
    --------
    >>> import warnings
    >>> import pandas as pd
    >>> import sklearn_mdtree
    >>> X = pd.DataFrame({"train_error": [40.0], "mode_connectivity_peak": [5.0],
    ...                   "hessian_t": [50.0], "hessian_t_se": [0.1]}, index=["run-b"])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     report = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1")
    >>> [w.category.__name__ for w in caught], report[0].out_of_domain
    (['OutOfDomainWarning'], True)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", sklearn_mdtree.OutOfDomainWarning)
    ...     quiet = sklearn_mdtree.diagnose(X, "cifar10-resnet18-q1", warn=False)
    >>> quiet[0].out_of_domain_features, quiet[0].out_of_domain_checks
    (('train_error', 'mode_connectivity_peak'), ('range', 'regime', 'joint'))
    """


@dataclass(frozen=True)
class FeatureDistribution:
    """Summary of one feature over a tree's training configurations.

    Attributes
    ----------
    n : int
        Number of training values.
    min, q05, q25, median, q75, q95, max : float
        Range and quantiles (linear interpolation, NumPy's default).
    mean, std : float
        Mean and standard deviation (``ddof=1``; 0 for one value).
    """

    n: int
    min: float
    q05: float
    q25: float
    median: float
    q75: float
    q95: float
    max: float
    mean: float
    std: float

    @classmethod
    def from_values(cls, values):
        """Summarise finite training values.

        Parameters
        ----------
        values : array-like of float
            The feature over the training configurations; non-finite values are
            refused.

        Returns
        -------
        distribution : FeatureDistribution
        """
        values = np.asarray(values, dtype=np.float64).ravel()
        if len(values) == 0 or not np.isfinite(values).all():
            raise ValueError(
                "A training distribution needs at least one value, all finite. Got "
                f"{len(values)} value(s), {int((~np.isfinite(values)).sum())} non-finite."
            )
        quantiles = np.quantile(values, [p for _, p in QUANTILES])
        std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        return cls(
            n=int(len(values)),
            min=float(values.min()),
            max=float(values.max()),
            mean=float(values.mean()),
            std=std,
            **{key: float(q) for (key, _), q in zip(QUANTILES, quantiles)},
        )

    @classmethod
    def from_dict(cls, data):
        """Build from :meth:`to_dict`'s output."""
        return cls(n=int(data["n"]), **{k: float(data[k]) for k in _FLOAT_FIELDS})

    def to_dict(self):
        """Return the fields as a dict of plain numbers."""
        return asdict(self)

    def spread(self):
        """The unit distances are measured in: ``(value, name)``.

        The interquartile range (``"IQR"``); the standard deviation (``"std"``) if
        the IQR is 0; the feature's own units (``"units"``, 1) if both are 0.
        """
        iqr = self.q75 - self.q25
        if iqr > 0:
            return iqr, "IQR"
        if self.std > 0:
            return self.std, "std"
        return 1.0, "units"

    def outside(self, value):
        """How far ``value`` lies outside ``[min, max]``.

        Parameters
        ----------
        value : float

        Returns
        -------
        side : {"below", "above"} or None
            None when ``min <= value <= max`` (or ``value`` is NaN).
        distance : float
            ``(min - value) / spread`` below, ``(value - max) / spread`` above, 0
            inside; see :meth:`spread` for the unit.

        Examples
        --------
        >>> from sklearn_mdtree._domain import FeatureDistribution
        >>> d = FeatureDistribution.from_values([0.0, 1.0, 2.0, 3.0, 4.0])
        >>> d.outside(7.0)  # 3 beyond the maximum, IQR 2
        ('above', 1.5)
        """
        value = float(value)
        if math.isnan(value) or self.min <= value <= self.max:
            return None, 0.0
        spread, _ = self.spread()
        if value < self.min:
            return "below", (self.min - value) / spread
        return "above", (value - self.max) / spread


_FLOAT_FIELDS = ("min", "q05", "q25", "median", "q75", "q95", "max", "mean", "std")


def training_distribution(X, features):
    """Summaries of the named features over the rows of a table.

    Parameters
    ----------
    X : pandas.DataFrame
        The training configurations, one per row.
    features : sequence of str
        Columns to summarise.

    Returns
    -------
    distribution : dict of str to FeatureDistribution
        In the order of ``features``.
    """
    return {f: FeatureDistribution.from_values(X[f].to_numpy(dtype=np.float64)) for f in features}


def domain_features(X, required=()):
    """The features of a training table its domain records.

    Parameters
    ----------
    X : pandas.DataFrame
        The training configurations.
    required : sequence of str, default=()
        Features recorded in any case (those the tree's splits read), first.

    Returns
    -------
    features : list of str
        ``required``, then every column of :data:`DOMAIN_FEATURES` that ``X`` has
        with finite numeric values only, in that order, without repeats.
    """
    extra = []
    for name in DOMAIN_FEATURES:
        if name in X.columns and name not in required:
            values = np.asarray(X[name], dtype=np.float64) if _numeric(X[name]) else None
            if values is not None and len(values) and np.isfinite(values).all():
                extra.append(name)
    return list(dict.fromkeys(list(required) + extra))


def _numeric(column):
    return np.issubdtype(np.asarray(column).dtype, np.number)


@dataclass(frozen=True)
class JointCheck:
    """The joint domain check of one model: how far from the training configurations.

    Attributes
    ----------
    features : tuple of str
        The features compared (standardised by the training set's mean and
        standard deviation).
    k : int
        The neighbour the distance is measured to (the ``k``-th nearest
        training configuration).
    quantile : float
        The share of training configurations whose own (leave-one-out) distance
        is at most ``threshold``.
    distance : float
        The model's distance to its ``k``-th nearest training configuration.
    threshold : float
        The ``quantile`` of the training configurations' leave-one-out distances
        (the smallest of them that at least ``quantile`` of them do not exceed).
    n : int
        The number of training configurations.
    tree : str or None
        The name of the tree whose training configurations these are.
    """

    features: tuple
    k: int
    quantile: float
    distance: float
    threshold: float
    n: int
    tree: str | None = None

    @property
    def ratio(self):
        """``distance / threshold`` (above 1: out of domain; inf for a zero threshold)."""
        if self.threshold > 0:
            return self.distance / self.threshold
        return 0.0 if self.distance == 0 else math.inf

    @property
    def in_domain(self):
        """True when ``distance <= threshold``."""
        return self.distance <= self.threshold

    def to_text(self):
        """One phrase, in words: the distance against the training set's own."""
        share = f"{100 * self.quantile:g}%"
        return (
            f"taken together, its features ({', '.join(self.features)}; in the training "
            f"set's standard deviations) put it at distance {self.distance:.3g} from its "
            f"{_ordinal(self.k)} nearest training configuration: {self.ratio:.2g} times "
            f"the {self.threshold:.3g} within which {share} of the {self.n} training "
            "configurations have theirs"
        )

    def to_dict(self):
        """The fields and ``ratio``, ``in_domain`` as plain JSON types."""
        ratio = self.ratio
        return {
            "features": list(self.features),
            "k": int(self.k),
            "quantile": float(self.quantile),
            "distance": float(self.distance),
            "threshold": float(self.threshold),
            "n": int(self.n),
            "tree": self.tree,
            "ratio": float(ratio) if math.isfinite(ratio) else None,
            "in_domain": bool(self.in_domain),
        }


def _ordinal(k):
    if 10 <= k % 100 <= 20:
        return f"{k}th"
    return f"{k}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


class JointDomain:
    """The training configurations as points: a joint (k-nearest-neighbour) domain check.

    Each feature is standardised by the training set's mean and standard
    deviation (``ddof=1``; a constant feature by 1). A model's distance is the
    Euclidean distance to its ``k``-th nearest training configuration; a
    training configuration's own distance is the same with itself left out. The
    model is out of domain when its distance exceeds the ``quantile`` of the
    training configurations' own distances (the empirical quantile: the smallest
    own distance that at least that share of them do not exceed). A training
    configuration checked as a model counts itself among its neighbours, so its
    distance is at most its own: at most ``1 - quantile`` of the training
    configurations are flagged themselves (none in a training set of fewer than
    ``1 / (1 - quantile)``), while a model inside every feature's range but off
    the way the features vary together is flagged. When
    the model lacks some features (a column missing, a NaN), the check runs on
    the others, recalibrated on the same training points.

    Parameters
    ----------
    features : sequence of str
        The feature names, in the order of the columns of ``points``.
    points : array-like of shape (n_configurations, n_features)
        The training values (finite).
    k : int, default=5
        The neighbour the distance is measured to; lowered to
        ``n_configurations - 1`` for a smaller training set.
    quantile : float, default=0.99
        The share of training configurations inside the domain by their own
        distance. 0.99 flags about 1% of models drawn like the training
        configurations (measured on held-out configurations: see the benchmarks
        page).

    Examples
    --------
    Points on a line: a point inside both ranges but off the line is flagged.

    >>> from sklearn_mdtree._domain import JointDomain
    >>> line = [[float(i), float(i)] for i in range(11)]
    >>> domain = JointDomain(["a", "b"], line, k=1)
    >>> domain.check({"a": 5.0, "b": 5.0}).in_domain
    True
    >>> check = domain.check({"a": 0.0, "b": 10.0})
    >>> check.in_domain, round(check.ratio, 1)
    (False, 5.0)
    """

    def __init__(self, features, points, *, k=5, quantile=0.99):
        self.features = tuple(str(f) for f in features)
        # C order: the means (pairwise sums) then do not depend on the caller's layout
        points = np.ascontiguousarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != len(self.features) or len(points) < 2:
            raise ValueError(
                f"A joint domain needs at least 2 training points with one value per "
                f"feature ({len(self.features)}). Got an array of shape {points.shape}."
            )
        if not np.isfinite(points).all():
            raise ValueError("A joint domain needs finite training points; got NaN or inf.")
        if not (isinstance(k, (int, np.integer)) and k >= 1):
            raise ValueError(f"The 'k' of a joint domain must be an int >= 1. Got {k!r}.")
        if not 0 < quantile <= 1:
            raise ValueError(
                f"The 'quantile' of a joint domain must be in (0, 1]. Got {quantile!r}."
            )
        self.points = points
        self.k = int(min(k, len(points) - 1))
        self.quantile = float(quantile)
        self.center = points.mean(axis=0)
        scale = points.std(axis=0, ddof=1)
        self.scale = np.where(scale > 0, scale, 1.0)
        self._calibrated = {}

    @classmethod
    def from_frame(cls, X, features, **kwargs):
        """The rows of ``X`` (a DataFrame) in the columns ``features``."""
        return cls(features, X[list(features)].to_numpy(dtype=np.float64), **kwargs)

    def _space(self, columns):
        """The KD-tree of the standardised training points in ``columns`` and the
        threshold (``quantile`` of the leave-one-out distances), cached."""
        if columns not in self._calibrated:
            idx = list(columns)
            z = (self.points[:, idx] - self.center[idx]) / self.scale[idx]
            tree = cKDTree(z)
            # each point's own distance: the (k+1)-th nearest counting itself (at 0)
            own, _ = tree.query(z, k=[self.k + 1])
            # the smallest own distance that at least `quantile` of them do not exceed
            threshold = float(np.quantile(own[:, 0], self.quantile, method="inverted_cdf"))
            self._calibrated[columns] = (tree, threshold)
        return self._calibrated[columns]

    def threshold(self, features=None):
        """The ``quantile`` of the training configurations' leave-one-out distances.

        Parameters
        ----------
        features : sequence of str, default=None
            A subset of :attr:`features` (None: all).
        """
        columns = self._columns(self.features if features is None else features)
        return self._space(columns)[1]

    def _columns(self, features):
        unknown = [f for f in features if f not in self.features]
        if unknown or not features:
            raise ValueError(
                f"The joint domain has the features {list(self.features)}; got "
                f"{list(features)}."
            )
        return tuple(self.features.index(f) for f in self.features if f in features)

    def check(self, values):
        """The joint check of one model.

        Parameters
        ----------
        values : mapping of str to float
            The model's features; those of :attr:`features` that are present and
            finite are compared (at least one).

        Returns
        -------
        check : JointCheck or None
            None when no feature of :attr:`features` is given.
        """
        given = [f for f in self.features
                 if f in values and values[f] is not None and math.isfinite(float(values[f]))]
        if not given:
            return None
        columns = self._columns(given)
        tree, threshold = self._space(columns)
        idx = list(columns)
        z = (np.array([float(values[f]) for f in given]) - self.center[idx]) / self.scale[idx]
        distance, _ = tree.query(z, k=[self.k])
        return JointCheck(tuple(given), self.k, self.quantile, float(distance[0]),
                          threshold, len(self.points))

    def to_dict(self):
        """Plain JSON types: ``method`` (``"knn"``), ``features``, ``k``,
        ``quantile``, ``center``, ``scale``, ``threshold`` (on all the features)
        and ``points`` (one list per training configuration)."""
        return {
            "method": "knn",
            "features": list(self.features),
            "k": self.k,
            "quantile": self.quantile,
            "center": self.center.tolist(),
            "scale": self.scale.tolist(),
            "threshold": self.threshold(),
            "points": self.points.tolist(),
        }

    @classmethod
    def from_dict(cls, data):
        """Rebuild from :meth:`to_dict`'s output (``center``, ``scale`` and
        ``threshold`` are recomputed from the points and must agree)."""
        if data.get("method") != "knn":
            raise ValueError(f"Unknown joint domain method {data.get('method')!r}; "
                             "this version reads 'knn'.")
        domain = cls(data["features"], data["points"], k=int(data["k"]),
                     quantile=float(data["quantile"]))
        if not (np.array_equal(domain.center, data["center"])
                and np.array_equal(domain.scale, data["scale"])
                and domain.threshold() == data["threshold"]):
            raise ValueError("The joint domain's center, scale or threshold do not match "
                             "its points: the document was altered.")
        return domain

    def __repr__(self):
        return (f"JointDomain(features={list(self.features)}, n={len(self.points)}, "
                f"k={self.k}, quantile={self.quantile:g})")
