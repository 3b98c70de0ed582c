"""Standard errors of the group features: spread over seeds and pairs, estimator noise.

A group feature is a mean over the group's models (``train_error``, ``hessian_t``)
or over pairs of them (``mode_connectivity_peak``, ``CKA``). Its standard error
says how far another draw of seeds (and of probes) would move it:

- a mean over ``m`` values ``v_i`` with no estimator noise: ``s / sqrt(m)``, ``s``
  the sample standard deviation (``ddof=1``); unknown (NaN) for ``m = 1``;
- a mean over ``m`` noisy estimates ``v_i`` with known standard errors ``e_i``
  (Hutchinson probes of the Hessian trace): the sample variance of the ``v_i``
  already holds the estimator noise (it estimates ``tau^2 + mean(e_i^2)``, ``tau^2``
  the spread of the exact values over seeds), but with few seeds it is itself
  noisy, so it is floored at the estimator noise alone:
  ``sqrt(max(s^2, mean(e_i^2)) / m)`` (``sqrt(mean(e_i^2) / m)`` for ``m = 1``);
- ``ln`` of a mean ``x`` (``hessian_t``): ``se(x) / x`` (the delta method).

Pairs of models share models, so the pairwise means' standard errors treat the
pairs as independent: an approximation, slightly optimistic with many pairs.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["log_mean_se", "mean_se"]


def mean_se(values, value_se=None):
    """Standard error of the mean of ``values``.

    Parameters
    ----------
    values : array-like of float
        One value per seed (or pair).
    value_se : array-like of float, default=None
        The standard error of each value's own estimate (e.g. the Hutchinson
        probes' spread); None when the values are exact.

    Returns
    -------
    se : float
        See the module docstring; NaN when unknown (one exact value, or a
        non-finite input).

    Examples
    --------
    >>> from featurizers._precision import mean_se
    >>> round(mean_se([1.0, 2.0, 3.0]), 4)  # std 1 over sqrt(3)
    0.5774
    >>> mean_se([5.0], [0.3])
    0.3
    >>> round(mean_se([5.0, 5.0], [0.3, 0.4]), 4)  # floored at the probes' noise
    0.25
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    m = len(v)
    if m == 0 or not np.isfinite(v).all():
        return math.nan
    spread = float(v.var(ddof=1)) if m > 1 else math.nan
    if value_se is None:
        return math.sqrt(spread / m) if m > 1 else math.nan
    e = np.asarray(value_se, dtype=np.float64).ravel()
    if len(e) != m or not np.isfinite(e).all():
        return math.sqrt(spread / m) if m > 1 else math.nan
    noise = float(np.mean(e**2))
    return math.sqrt(max(spread, noise) / m) if m > 1 else math.sqrt(noise)


def log_mean_se(values, value_se=None):
    """Standard error of ``ln(mean(values))`` by the delta method.

    Parameters
    ----------
    values, value_se : array-like of float
        As in :func:`mean_se`.

    Returns
    -------
    se : float
        ``mean_se(values, value_se) / mean(values)``; NaN when the mean is not
        positive.

    Examples
    --------
    >>> from featurizers._precision import log_mean_se
    >>> round(log_mean_se([10.0, 12.0, 14.0]), 4)
    0.0962
    """
    mean = float(np.mean(values)) if len(values) else math.nan
    if not mean > 0:
        return math.nan
    return mean_se(values, value_se) / mean
