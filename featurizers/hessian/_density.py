"""The spectral density of a symmetric operator by stochastic Lanczos quadrature.

:func:`spectral_density` runs ``n_steps`` of Lanczos from each of ``n_probes``
random probes (Ghorbani, Krishnan and Xiao, 2019; PyHessian's ``density()``): the
eigenvalues of each run's tridiagonal matrix are the nodes, and the squared first
components of its eigenvectors the weights, of a Gauss quadrature of the density
seen by the probe. :func:`density_on_grid` broadens the nodes by Gaussians, as
PyHessian's ``density_generate`` (behind ``get_esd_plot``) does, and
:func:`spectral_moments` gives the density's moments, each with the standard error
of its mean over the probes.
"""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, validate_params

from .._utils import _RANDOM_STATE, _check_random_state
from ._eigenvalue import _lanczos_full
from ._operator import _OPERATOR, _rademacher, _torch_matvec


def _mean_se(per_probe):
    """Mean over probes (axis 0) and its standard error (NaN for one probe)."""
    per_probe = np.asarray(per_probe, dtype=np.float64)
    mean = per_probe.mean(axis=0)
    if len(per_probe) < 2:
        return mean, np.full_like(mean, math.nan)
    return mean, per_probe.std(axis=0, ddof=1) / math.sqrt(len(per_probe))


@validate_params(
    {
        "op": _OPERATOR,
        "n_probes": [Interval(Integral, 1, None, closed="left")],
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "random_state": _RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def spectral_density(op, n_probes=4, n_steps=50, *, random_state=None):
    """Spectral density of a symmetric operator by stochastic Lanczos quadrature.

    For each of ``n_probes`` Rademacher probes ``v`` (drawn as
    :func:`hutchinson_trace` draws them), Lanczos with full reorthogonalisation
    runs ``n_steps`` steps from ``q = v / sqrt(n)``; the eigenvalues ``theta_j``
    of its matrix ``T = Q^T A Q`` are the nodes and ``w_j = s_{1j}^2`` (the
    squared first components of its eigenvectors, summing to 1) the weights of
    the ``n_steps``-point Gauss quadrature of the measure ``sum_i (u_i^T q)^2
    delta(lambda - lambda_i)``, whose mean over probes is the spectral density
    ``(1/n) sum_i delta(lambda - lambda_i)``. The quadrature is exact for
    polynomials of degree up to ``2 n_steps - 1``: for each probe
    ``sum_j w_j theta_j^p = q^T A^p q``, so the ``p``-th moment of the estimate is
    Hutchinson's estimate of ``tr(A^p) / n`` from the same probes, and the trace
    ``n * sum_j w_j theta_j`` is exactly :func:`hutchinson_trace` with the same
    probes (same ``random_state``). With ``n_steps >= n`` the nodes are the
    eigenvalues of ``A`` the probe sees.

    PyHessian's ``hessian.density(iter=n_steps, n_v=n_probes)`` returns the same
    nodes and weights as lists of lists.

    Parameters
    ----------
    op : HessianOperator, HessianBlock, LinearOperator, ndarray or sparse matrix of shape (n, n)
        The operator, which must be symmetric.
    n_probes : int, default=4
        Probes; the standard errors are their spread (NaN for one).
    n_steps : int, default=50
        Lanczos steps per probe (at most ``n``; fewer when the probe's Krylov space
        is invariant sooner). Memory: ``n_steps`` vectors of size ``n``.

    random_state : int, RandomState instance, Generator or None, default=None
        Source of the probes. Pass an int for reproducible results.

    Returns
    -------
    Bunch
        ``nodes`` and ``weights``: lists of ``n_probes`` float64 arrays (one
        node and weight per Lanczos step taken); ``n_parameters``: ``n``;
        ``trace`` and ``trace_se``: ``n`` times the first moment and its standard
        error over the probes (Hutchinson's); ``n_matvecs``: the products taken.

    See Also
    --------
    density_on_grid : The Gaussian-broadened density on a grid, for plots.
    spectral_moments : The density's moments with their standard errors.

    References
    ----------
    B. Ghorbani, S. Krishnan and Y. Xiao, "An investigation into neural net
    optimization via Hessian eigenvalue density", ICML 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from featurizers.hessian import spectral_density, spectral_moments
    >>> U, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((200, 200)))
    >>> A = (U * np.linspace(0.0, 1.0, 200)) @ U.T  # mean eigenvalue 0.5
    >>> density = spectral_density(A, n_probes=8, n_steps=20, random_state=0)
    >>> [len(nodes) for nodes in density.nodes][:3]
    [20, 20, 20]
    >>> mean, se = spectral_moments(density, orders=(1, 2))
    >>> bool(abs(mean[0] - 0.5) < 4 * se[0]), bool(abs(mean[1] - 0.3342) < 4 * se[1])
    (True, True)
    """
    matvec, n, dtype, device = _torch_matvec(op)
    steps = min(n_steps, n)
    rng = _check_random_state(random_state)
    nodes, weights, firsts, products = [], [], [], 0
    for _ in range(n_probes):
        v = torch.from_numpy(_rademacher(rng, n)).to(dtype=dtype, device=device)
        _, T, _ = _lanczos_full(matvec, v, steps)
        products += len(T)
        values, vectors = np.linalg.eigh(T)
        nodes.append(values)
        weights.append(vectors[0] ** 2)
        firsts.append(T[0, 0])  # q^T A q, the first moment before rounding in eigh
    trace, trace_se = _mean_se(n * np.asarray(firsts))
    return Bunch(
        nodes=nodes,
        weights=weights,
        n_parameters=n,
        trace=float(trace),
        trace_se=float(trace_se),
        n_matvecs=products,
    )


def spectral_moments(density, orders=(1, 2)):
    """Moments of a stochastic Lanczos quadrature density, with standard errors.

    Parameters
    ----------
    density : Bunch
        The result of :func:`spectral_density`.
    orders : sequence of int, default=(1, 2)
        The moments ``p`` wanted. Per probe the moment ``sum_j w_j theta_j^p`` is
        exact (``q^T A^p q``) for ``p <= 2 n_steps - 1``.

    Returns
    -------
    mean : ndarray of shape (len(orders),)
        The estimates of ``tr(A^p) / n`` (the moments of the normalised density):
        the mean over probes. ``n * mean`` estimates ``tr(A^p)``.
    se : ndarray of shape (len(orders),)
        Their standard errors, the spread over probes (NaN for one probe).
    """
    orders = np.asarray(orders, dtype=np.int64)
    per_probe = [
        [float(np.sum(w * theta**p)) for p in orders]
        for theta, w in zip(density.nodes, density.weights, strict=True)
    ]
    mean, se = _mean_se(per_probe)
    return np.atleast_1d(mean), np.atleast_1d(se)


@validate_params(
    {
        "grid": ["array-like", None],
        "n_points": [Interval(Integral, 2, None, closed="left")],
        "bandwidth": [Interval(Real, 0, None, closed="neither"), None],
    },
    prefer_skip_nested_validation=True,
)
def density_on_grid(nodes, weights, grid=None, *, n_points=1000, bandwidth=None):
    """Gaussian-broadened spectral density on a grid, with its standard error.

    Each probe's density is ``phi_v(x) = sum_j w_j N(x; theta_j, bandwidth^2)``; the
    estimate is their mean and its standard error their spread over probes,
    ``std / sqrt(n_probes)``, point by point. Each ``phi_v`` integrates to 1 over
    the real line (the weights of a probe sum to 1); nothing is renormalised on
    the grid (PyHessian's ``density_generate`` divides by the sum over its grid).

    Parameters
    ----------
    nodes, weights : list of array-like
        Per probe, as returned by :func:`spectral_density` (``density.nodes``,
        ``density.weights``).
    grid : array-like or None, default=None
        Points at which to evaluate. None: ``n_points`` evenly spaced points from
        the smallest node minus 1% of the nodes' range (or 0.01 when the range is
        below 1) to the largest plus as much, as PyHessian's ``overhead=0.01``.
    n_points : int, default=1000
        Points of the default grid.
    bandwidth : float or None, default=None
        Standard deviation of the Gaussians. None: PyHessian's default,
        ``sqrt(1e-5 * max(1, range))`` with ``range`` that of the grid.

    Returns
    -------
    grid : ndarray of shape (n_points,)
    density : ndarray of shape (n_points,)
    se : ndarray of shape (n_points,)
        Standard error of ``density`` at each point (NaN for one probe).
    """
    nodes = [np.asarray(x, dtype=np.float64) for x in nodes]
    weights = [np.asarray(x, dtype=np.float64) for x in weights]
    if not nodes or len(nodes) != len(weights):
        raise ValueError(
            "The 'nodes' and 'weights' parameters of density_on_grid must be non-empty "
            f"lists of the same length; got {len(nodes)} and {len(weights)}."
        )
    if grid is None:
        low = min(float(x.min()) for x in nodes)
        high = max(float(x.max()) for x in nodes)
        margin = 0.01 * max(high - low, 1.0)
        grid = np.linspace(low - margin, high + margin, n_points)
    grid = np.asarray(grid, dtype=np.float64).reshape(-1)
    if bandwidth is None:
        bandwidth = math.sqrt(1e-5 * max(1.0, float(np.ptp(grid))))
    norm = 1.0 / (math.sqrt(2 * math.pi) * bandwidth)
    per_probe = [
        norm * np.exp(-0.5 * ((grid[:, None] - theta[None, :]) / bandwidth) ** 2) @ w
        for theta, w in zip(nodes, weights)
    ]
    density, se = _mean_se(per_probe)
    return grid, density, se
