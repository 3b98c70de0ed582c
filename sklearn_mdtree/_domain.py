"""Domain of validity of a fitted MD tree: where its training features lay.

A tree's thresholds were fitted on one population of models (ResNet-18 on CIFAR-10
for the paper's collection F). A model whose features lie outside that population's
range is diagnosed by extrapolation: the thresholds may not mean the same thing
there. :class:`FeatureDistribution` summarises one training feature (range, a few
quantiles, mean and standard deviation) and measures how far a value lies outside
the range, in the training set's own spread.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["FeatureDistribution", "OutOfDomainWarning", "training_distribution"]

#: Quantiles kept besides the minimum and maximum, as (key, probability).
QUANTILES = (("q05", 0.05), ("q25", 0.25), ("median", 0.5), ("q75", 0.75), ("q95", 0.95))


class OutOfDomainWarning(UserWarning):
    """A diagnosis rests on a feature outside the range the tree was fitted on.

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
    >>> quiet[0].out_of_domain_features
    ('train_error', 'mode_connectivity_peak')
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
