"""Trace estimators of a symmetric operator: Hutchinson, PyHessian's rule and XTrace.

:func:`xtrace` has the lowest variance for a given budget when a few eigenvalues
dominate (as in trained networks' Hessians), at a workspace of about
``n_matvecs / 2`` vectors; :func:`hutchinson_trace` needs one vector;
:func:`pyhessian_trace` reproduces PyHessian's adaptive stopping rule for
comparison with published numbers. ``_estimate_trace`` is the choice between them
that :func:`~featurizers.hessian.hessian_trace` and the featurizers make.
"""

from numbers import Integral, Real

import numpy as np
import scipy.linalg
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._utils import _RANDOM_STATE, _check_random_state, _child_seed, _renamed_parameters
from ._operator import _OPERATOR, _as_linear_operator, _rademacher


# Products with the basis computed per block in xtrace (one pass over Q per block).
_XTRACE_BLOCK = 16
# Largest XTrace workspace (bytes) for which method="auto" picks XTrace: 1 GiB.
_XTRACE_MEMORY_BUDGET = 2**30


@_renamed_parameters(num_matvecs="n_matvecs")
@validate_params(
    {
        "op": _OPERATOR,
        "n_matvecs": [Interval(Integral, 1, None, closed="left")],
        "distribution": [StrOptions({"rademacher", "normal"})],
        "random_state": _RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def hutchinson_trace(op, n_matvecs=100, *, distribution="rademacher", random_state=None):
    """Estimate the trace of a symmetric operator with Hutchinson's method.

    The estimate is the mean of ``v @ (A @ v)`` over ``n_matvecs`` independent
    probes ``v`` with identity covariance. It is unbiased; for Rademacher probes its
    variance is ``2 * (||A||_F^2 - sum(diag(A)^2)) / n_matvecs``.

    Parameters
    ----------
    op : HessianOperator, LinearOperator, ndarray or sparse matrix of shape (n, n)
        The operator.
    n_matvecs : int, default=100
        Number of probes, hence of matrix-vector products.
    distribution : {"rademacher", "normal"}, default="rademacher"
        Distribution of the probe entries: independent +-1, or standard normal.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the probes. Pass an int for reproducible results.

    Returns
    -------
    float
        The trace estimate.

    See Also
    --------
    xtrace : Lower variance for the same products when a few eigenvalues dominate.
    pyhessian_trace : Hutchinson with PyHessian's adaptive stopping rule.

    Examples
    --------
    >>> import numpy as np
    >>> from featurizers.hessian import hutchinson_trace
    >>> A = np.ones((3, 3)) + np.eye(3)  # trace 6
    >>> round(hutchinson_trace(A, 1000, random_state=0), 3)
    6.248
    """
    linop, n = _as_linear_operator(op)
    rng = _check_random_state(random_state)
    total = 0.0
    for _ in range(n_matvecs):
        if distribution == "rademacher":
            v = _rademacher(rng, n)
        else:
            v = rng.standard_normal(n)
        total += float(v @ linop.matvec(v))
    return total / n_matvecs


@validate_params(
    {
        "op": _OPERATOR,
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": _RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def pyhessian_trace(op, max_iter=100, tol=1e-3, *, random_state=None):
    """Estimate the trace with Hutchinson's method and PyHessian's stopping rule.

    Rademacher probes are drawn one at a time; after each one the running mean of
    ``v @ (A @ v)`` is compared with the previous running mean (0 before the first
    probe) and the loop stops as soon as
    ``|mean - previous| / (previous + 1e-6)`` is below ``tol``, or after
    ``max_iter`` probes. This is the rule of ``pyhessian.hessian.trace`` (PyHessian
    0.1), reproduced sample for sample, offered for compatibility with numbers
    computed by PyHessian. Its denominator has no absolute value, so once the
    running mean is below ``-1e-6`` the ratio is negative and the loop stops: on an
    operator with a negative trace it stops after the second probe (unless the
    first sample is within ``1e-9`` of 0) with the mean of two samples. It often
    stops after a handful of probes on positive traces too, so its estimate is
    noisy: prefer :func:`xtrace`.

    Parameters
    ----------
    op : HessianOperator, LinearOperator, ndarray or sparse matrix of shape (n, n)
        The operator.
    max_iter : int, default=100
        Maximum number of probes.
    tol : float, default=1e-3
        Relative change of the running mean at which to stop.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the probes. Pass an int for reproducible results.

    Returns
    -------
    float
        The running mean at stopping (PyHessian returns the samples, whose mean is
        what its users report).

    See Also
    --------
    hutchinson_trace : Hutchinson's method with a fixed number of probes.

    Examples
    --------
    >>> import numpy as np
    >>> from featurizers.hessian import pyhessian_trace
    >>> pyhessian_trace(np.eye(5), random_state=0)
    5.0
    """
    linop, n = _as_linear_operator(op)
    rng = _check_random_state(random_state)
    samples = []
    previous = 0.0
    for _ in range(max_iter):
        v = _rademacher(rng, n)
        samples.append(float(v @ linop.matvec(v)))
        mean = float(np.mean(samples))  # PyHessian's arithmetic, np.mean of the list
        denominator = previous + 1e-6
        # As in NumPy, where PyHessian divides: x / 0 is inf or nan, never below tol.
        if denominator != 0 and abs(mean - previous) / denominator < tol:
            break
        previous = mean
    return mean


def _exact_trace(linop, n):
    """Trace from the ``n`` products with the unit vectors."""
    total = 0.0
    e = np.zeros(n)
    for i in range(n):
        e[i] = 1.0
        total += float(linop.matvec(e)[i])
        e[i] = 0.0
    return total


def _leave_one_out_directions(R):
    """Unit vectors ``s_i`` orthogonal to every column of ``R`` but the i-th.

    For ``Y = Q R`` the basis of ``Y`` without its i-th column is ``Q (I - s_i s_i^T)``.
    For a well-conditioned ``R`` the ``s_i`` are the normalised columns of ``R^{-T}``;
    for a numerically singular one (an operator of rank below ``k``) each is taken as
    the left singular vector of ``R`` without its i-th column with the smallest
    singular value.
    """
    k = R.shape[0]
    diag = np.abs(np.diag(R))
    if diag.min() > 1e-10 * diag.max():
        inv_t = scipy.linalg.solve_triangular(R, np.eye(k), lower=False).T
        norms = np.linalg.norm(inv_t, axis=0)
        if np.all(np.isfinite(norms)) and np.all(norms > 0):
            return inv_t / norms
    S = np.empty((k, k))
    for i in range(k):
        u, _, _ = np.linalg.svd(np.delete(R, i, axis=1), full_matrices=True)
        S[:, i] = u[:, -1]
    return S


@_renamed_parameters(num_matvecs="n_matvecs")
@validate_params(
    {
        "op": _OPERATOR,
        "n_matvecs": [Interval(Integral, 2, None, closed="left")],
        "random_state": _RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def xtrace(op, n_matvecs=100, *, random_state=None):
    """Estimate the trace of a symmetric operator with XTrace.

    XTrace (Epperly, Tropp and Webber, 2024) spends half of the products on a
    randomized range finder and half on the product with its basis, like Hutch++,
    and makes every probe serve both roles: for each of the ``k = n_matvecs // 2``
    Gaussian probes ``w_i``, the basis ``Q_i`` of ``A`` applied to the *other* probes
    gives ``tr(Q_i^T A Q_i)`` exactly, and ``w_i`` estimates the trace of ``A`` on
    the orthogonal complement of ``Q_i``; the estimate is the mean of these ``k``
    unbiased estimates. Each complement probe is rescaled to norm
    ``sqrt(n - k + 1)``, uniform on that sphere of the complement (in the spirit of
    the paper's normalised test vectors), which keeps the estimate unbiased and
    lowers its variance. The leave-one-out bases are obtained by downdating one
    QR decomposition, so the cost beyond the products is ``O(n k^2)``.

    When the spectrum decays (as network Hessians' do), the error is far below
    Hutchinson's for the same number of products, and the estimate is exact for an
    operator of rank below ``k``. When ``n_matvecs >= n`` the trace is computed
    exactly from the ``n`` products with the unit vectors instead.

    Parameters
    ----------
    op : HessianOperator, LinearOperator, ndarray or sparse matrix of shape (n, n)
        The operator, which must be symmetric.
    n_matvecs : int, default=100
        Budget of matrix-vector products, at least 2; ``2 * (n_matvecs // 2)``
        are used.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the probes. Pass an int for reproducible results.

    Returns
    -------
    float
        The trace estimate.

    Notes
    -----
    Memory: one ``n x k`` float64 array (the images of the probes, overwritten by
    their orthonormal basis) and one ``n x min(k, 16)`` block, that is
    ``8 * n * (k + min(k, 16))`` bytes, about ``4 * n_matvecs * n`` for large
    budgets, where Hutchinson needs a few vectors of size ``n`` (measured peaks on
    the documentation's benchmarks page). For a model with 11 million parameters
    and 100 products that is about 6 GB; use fewer products or
    :func:`hutchinson_trace` when it does not fit (``method="auto"`` of
    :func:`hessian_trace` does the latter above 1 GiB). The probes
    are standard normal (drawn in float32 from a generator seeded by
    ``random_state``, drawn a second time rather than stored).

    References
    ----------
    E. N. Epperly, J. A. Tropp and R. J. Webber, "XTrace: making the most of every
    sample in stochastic trace estimation", SIAM J. Matrix Anal. Appl. 45(1), 2024.

    See Also
    --------
    hutchinson_trace : Unbiased estimator with constant memory.

    Examples
    --------
    >>> import numpy as np
    >>> from featurizers.hessian import xtrace
    >>> from featurizers.hessian import hutchinson_trace
    >>> rng = np.random.default_rng(0)
    >>> U, _ = np.linalg.qr(rng.standard_normal((100, 100)))
    >>> A = (U * 0.5 ** np.arange(100)) @ U.T  # trace 2
    >>> round(xtrace(A, 20, random_state=0), 4)
    1.9995
    >>> round(hutchinson_trace(A, 20, random_state=0), 4)
    2.3453
    """
    linop, n = _as_linear_operator(op)
    if n_matvecs >= n:
        return _exact_trace(linop, n)
    return _xtrace(linop, n, n_matvecs, random_state)[0]


def _xtrace(linop, n, n_matvecs, random_state):
    """XTrace estimate of the trace and the Rayleigh-Ritz value of its basis.

    Returns ``(trace, ritz)`` where ``ritz`` is the largest-magnitude eigenvalue
    (with its sign) of ``Q^T A Q``, ``Q`` the orthonormal basis of ``A @ Omega``:
    an estimate of the top eigenvalue that costs no product beyond the trace's.
    It is not offered as a feature: one step of subspace iteration is far less
    accurate than Lanczos on trained networks (section 2 of
    ``benchmarks/bench_hessian.py``, which uses it; figures on the documentation's
    benchmarks page). Requires ``2 <= n_matvecs < n``.
    """
    k = n_matvecs // 2
    # The probes are drawn twice from one seed (for A w and for Q^T w) instead of
    # being stored: the basis is then the only n x k array.
    seed = _child_seed(_check_random_state(random_state))

    def probes():
        generator = np.random.default_rng(seed)
        for _ in range(k):
            yield generator.standard_normal(n, dtype=np.float32).astype(np.float64)

    Y = np.empty((n, k), order="F")
    quad_omega = np.empty(k)  # w_i^T A w_i, the Hutchinson sample of each probe
    norm2_omega = np.empty(k)
    for j, omega in enumerate(probes()):
        Y[:, j] = linop.matvec(omega)
        quad_omega[j] = omega @ Y[:, j]
        norm2_omega[j] = omega @ omega
    Q, R = scipy.linalg.qr(Y, mode="economic", overwrite_a=True, check_finite=False)
    del Y  # Q overwrote it
    W = np.empty((k, k))  # coordinates of the probes in the basis, Q^T w_i
    H = np.empty((k, k))  # Q^T A Q
    block = np.empty((n, min(k, _XTRACE_BLOCK)), order="F")
    for start in range(0, k, block.shape[1]):
        columns = range(start, min(k, start + block.shape[1]))
        for b, j in enumerate(columns):
            block[:, b] = linop.matvec(Q[:, j])
        H[:, columns.start : columns.stop] = Q.T @ block[:, : len(columns)]
    width = block.shape[1]
    for j, omega in enumerate(probes()):
        block[:, j % width] = omega
        if j % width == width - 1 or j == k - 1:
            start = j - j % width
            W[:, start : j + 1] = Q.T @ block[:, : j + 1 - start]
    del Q, block
    H = (H + H.T) / 2
    ritz_values = np.linalg.eigvalsh(H)
    ritz = float(ritz_values[np.argmax(np.abs(ritz_values))])

    S = _leave_one_out_directions(R)
    # tr(Q_i^T A Q_i) with Q_i Q_i^T = Q (I - s_i s_i^T) Q^T.
    tr_basis = np.trace(H) - np.einsum("ji,jk,ki->i", S, H, S)
    # Coordinates of the projection of w_i on the basis Q_i: P_i w_i.
    sw = np.einsum("ji,ji->i", S, W)
    PW = W - S * sw
    # w^T (I - Pi) A (I - Pi) w = w^T A w - 2 (Q^T A w)^T P w + (P w)^T H (P w),
    # with Q^T A w_i = R[:, i].
    cross = np.einsum("ji,ji->i", R, PW)
    quad_basis = np.einsum("ji,jk,ki->i", PW, H, PW)
    residual = quad_omega - 2 * cross + quad_basis
    # Squared norm of the complement part of w_i, to put it on the sphere of radius
    # sqrt(n - k + 1) of the complement.
    norm2_complement = norm2_omega - np.einsum("ji,ji->i", W, PW)
    scale = np.where(norm2_complement > 0, (n - k + 1) / norm2_complement, 0.0)
    return float(np.mean(tr_basis + scale * residual)), ritz


def _xtrace_workspace(n_matvecs, n):
    """Bytes of the two float64 arrays :func:`xtrace` allocates (see its Notes)."""
    k = n_matvecs // 2
    return 8 * n * (k + min(k, _XTRACE_BLOCK))


def _trace_method(method, n_matvecs, n):
    """The estimator ``method`` stands for: ``"auto"`` resolved for ``n`` parameters."""
    if method != "auto":
        return method
    if n_matvecs >= 2 and _xtrace_workspace(n_matvecs, n) <= _XTRACE_MEMORY_BUDGET:
        return "xtrace"
    return "hutchinson"


def _estimate_trace(op, method, n_matvecs, random_state):
    """Trace of a :class:`HessianOperator` by the estimator of :func:`hessian_trace`."""
    method = _trace_method(method, n_matvecs, op.n_parameters)
    if method == "xtrace":
        return xtrace(op, n_matvecs, random_state=random_state)
    if method == "hutchinson":
        return hutchinson_trace(op, n_matvecs, random_state=random_state)
    return pyhessian_trace(op, max_iter=n_matvecs, random_state=random_state)
