"""The two connectivity metrics of the collections, from the errors at five points."""

from __future__ import annotations

import numpy as np
from sklearn.utils._param_validation import validate_params

__all__ = ["mode_connectivity", "mode_connectivity_peak"]


def _five_points(errors):
    raw = np.asarray(errors)
    if raw.dtype.kind not in "iuf":
        example = raw.ravel()[0].item() if raw.size else None
        raise ValueError(
            "errors must be numbers (errors in percent at t = 0, 0.25, 0.5, 0.75, 1); got "
            f"dtype {raw.dtype} (first value {example!r})."
        )
    errors = raw.astype(float)
    if errors.shape[-1:] != (5,):
        raise ValueError(
            "errors must hold the errors at t = 0, 0.25, 0.5, 0.75, 1 along the last "
            f"axis (5 values); got shape {errors.shape}."
        )
    return errors


@validate_params(
    {
        "errors": ["array-like"],
    },
    prefer_skip_nested_validation=True,
)
def mode_connectivity_peak(errors):
    """Minus the highest error inside the curve: ``-max(e1, e2, e3)``.

    Parameters
    ----------
    errors : array-like of shape (..., 5)
        Errors (percent) at ``t = 0, 0.25, 0.5, 0.75, 1``.

    Returns
    -------
    float or ndarray of shape (...)
        0 when the curve has zero error inside, more negative for higher
        barriers.

    Examples
    --------
    >>> from featurizers.connectivity import mode_connectivity_peak
    >>> float(mode_connectivity_peak([2.0, 10.0, 30.0, 12.0, 4.0]))
    -30.0
    """
    errors = _five_points(errors)
    return -errors[..., 1:4].max(axis=-1)


@validate_params(
    {
        "errors": ["array-like"],
    },
    prefer_skip_nested_validation=True,
)
def mode_connectivity(errors):
    """Signed gap between the end points' mean error and the most distant point.

    ``(e0 + e4) / 2 - e_u`` with ``u = argmax_i |e_i - (e0 + e4) / 2|`` over all
    five points (the first one on ties). Negative for a barrier (the curve is
    worse than its ends), positive when the curve passes below them, 0 when it
    is flat.

    Parameters
    ----------
    errors : array-like of shape (..., 5)
        Errors (percent) at ``t = 0, 0.25, 0.5, 0.75, 1``.

    Returns
    -------
    float or ndarray of shape (...)

    Examples
    --------
    >>> from featurizers.connectivity import mode_connectivity
    >>> float(mode_connectivity([2.0, 10.0, 30.0, 12.0, 4.0]))
    -27.0
    >>> float(mode_connectivity([10.0, 4.0, 5.0, 9.0, 12.0]))
    7.0
    """
    errors = _five_points(errors)
    mid = (errors[..., 0] + errors[..., 4]) / 2
    u = np.abs(errors - mid[..., None]).argmax(axis=-1)
    return mid - np.take_along_axis(errors, u[..., None], axis=-1)[..., 0]
