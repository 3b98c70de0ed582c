"""Eigenvalues of a symmetric operator: the top one (ARPACK's Lanczos, power iteration,
dense) and the top k (Lanczos with full reorthogonalisation, with residual bounds).
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse.linalg
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._utils import _RANDOM_STATE, _check_random_state
from ._operator import _OPERATOR, _as_linear_operator, _dense, _empty_rows, _torch_matvec


# Lanczos basis size of ARPACK: with 6 vectors the top eigenvalue of network Hessians
# converges to tol 1e-3 in about 10 products (benchmarks/bench_hessian.py, section 2).
_LANCZOS_NCV = 6
# Below this dimension the dense matrix is cheaper than a Lanczos run.
_DENSE_MAX_DIM = 2 * _LANCZOS_NCV


def _top_eigenvalue_dense(linop, n):
    eigvals = np.linalg.eigvalsh(_dense(linop, n))
    return float(eigvals[np.argmax(np.abs(eigvals))])


def _top_eigenvalue_power(linop, n, tol, max_iter, rng):
    v = rng.standard_normal(n)
    v /= np.linalg.norm(v)
    eigenvalue = None
    for _ in range(max_iter):
        hv = linop.matvec(v)
        current = float(v @ hv)
        norm = np.linalg.norm(hv)
        if norm == 0:
            return 0.0
        v = hv / norm
        if eigenvalue is not None and abs(eigenvalue - current) / (
            abs(eigenvalue) + 1e-6
        ) < tol:
            return current
        eigenvalue = current
    return eigenvalue


@validate_params(
    {
        "op": _OPERATOR,
        "method": [StrOptions({"lanczos", "power"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": _RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def top_eigenvalue(op, *, method="lanczos", tol=1e-3, max_iter=100, random_state=None):
    """Largest-magnitude eigenvalue of a symmetric operator, with its sign.

    Parameters
    ----------
    op : HessianOperator, LinearOperator, ndarray or sparse matrix of shape (n, n)
        The operator, which must be symmetric.
    method : {"lanczos", "power"}, default="lanczos"
        ``"lanczos"``: :func:`scipy.sparse.linalg.eigsh` with ``k=1``,
        ``which="LM"`` and a basis of 6 vectors, started from a random vector of
        ``random_state``; ``tol`` is ARPACK's relative accuracy. Operators with at
        most 12 rows are diagonalised densely instead. ``"power"``: power iteration
        with PyHessian's stopping rule (relative change of the Rayleigh quotient
        below ``tol``); it returns the last Rayleigh quotient (PyHessian returns
        the one before it). Power iteration converges slowly when the second
        eigenvalue is close in magnitude to the first, and then stops early with an
        underestimate; Lanczos reaches the same tolerance in far fewer products.
    tol : float, default=1e-3
        Relative tolerance, see ``method``.
    max_iter : int, default=100
        ``"lanczos"``: maximum number of ARPACK restarts (each costs up to 5
        products). ``"power"``: maximum number of products.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the starting vector. Pass an int for reproducible results.

    Returns
    -------
    float
        The eigenvalue of largest magnitude, negative if that eigenvalue is.

    Warns
    -----
    ConvergenceWarning
        If Lanczos did not converge in ``max_iter`` restarts; power iteration is then
        run with the same budget and its estimate returned.

    See Also
    --------
    hessian_top_eigenvalue : Top eigenvalue of the Hessian of a model in one call.

    Examples
    --------
    >>> import numpy as np
    >>> from featurizers.hessian import top_eigenvalue
    >>> A = np.diag(np.linspace(-5.0, 3.0, 50))
    >>> round(top_eigenvalue(A, random_state=0), 4)
    -5.0
    """
    linop, n = _as_linear_operator(op)
    rng = _check_random_state(random_state)
    if method == "power":
        return _top_eigenvalue_power(linop, n, tol, max_iter, rng)
    if n <= _DENSE_MAX_DIM:
        return _top_eigenvalue_dense(linop, n)
    v0 = rng.standard_normal(n)
    try:
        eigvals = scipy.sparse.linalg.eigsh(
            linop,
            k=1,
            which="LM",
            ncv=_LANCZOS_NCV,
            tol=tol,
            maxiter=max_iter,
            v0=v0,
            return_eigenvectors=False,
        )
    except scipy.sparse.linalg.ArpackNoConvergence:
        warnings.warn(
            f"Lanczos did not find the top eigenvalue to tol={tol} in "
            f"max_iter={max_iter} restarts; falling back to power iteration.",
            ConvergenceWarning,
            stacklevel=2,
        )
        return _top_eigenvalue_power(linop, n, tol, 5 * max_iter, rng)
    return float(eigvals[0])


# ---------------------------------------------------------------- top k eigenvalues


def _lanczos_full(matvec, q0, max_steps, done=None):
    """Lanczos with full reorthogonalisation from ``q0``, on torch vectors.

    Returns ``(Q, T, beta)``: ``Q`` the ``(steps, n)`` tensor whose rows are the
    orthonormal Lanczos vectors (``q0`` normalised first), ``T = Q^T A Q`` (float64,
    tridiagonal up to the reorthogonalisation coefficients, which are folded in, so
    that ``A Q^T = Q^T T + r e_m^T`` holds to rounding) and ``beta = ||r||``, the norm
    of the last residual. Each step costs one product and one or two classical
    Gram-Schmidt passes against the basis (the second when the first removed more
    than ``1 - 1 / sqrt(2)`` of the vector's norm). It stops after ``max_steps``
    steps, on an invariant subspace (residual at most ``sqrt(eps) * ||A q_m||``,
    ``beta`` then set to 0: the Ritz values are exact eigenvalues of ``A``), or
    once ``done(T, beta)`` returns True.
    """
    n = q0.shape[0]
    dtype, device = q0.dtype, q0.device
    Q = _empty_rows(max_steps, n, dtype, device)
    Q[0] = q0 / torch.linalg.vector_norm(q0)
    T = np.zeros((max_steps, max_steps))
    breakdown = math.sqrt(torch.finfo(dtype).eps)
    beta = 0.0
    for j in range(max_steps):
        w = matvec(Q[j]).to(dtype)
        scale = float(torch.linalg.vector_norm(w))
        T[j, j] = float(torch.dot(Q[j], w))
        w = w - T[j, j] * Q[j]
        if j:
            w -= T[j, j - 1] * Q[j - 1]
        basis = Q[: j + 1]
        for _ in range(2):
            before = float(torch.linalg.vector_norm(w))
            c = basis @ w
            w -= basis.T @ c
            T[: j + 1, j] += c.double().cpu().numpy()
            beta = float(torch.linalg.vector_norm(w))
            if beta > before / math.sqrt(2):
                break
        T[j, : j + 1] = T[: j + 1, j]
        steps = j + 1
        if beta <= breakdown * max(scale, np.finfo(float).tiny):
            return Q[:steps], T[:steps, :steps], 0.0
        if steps == max_steps or (done is not None and done(T[:steps, :steps], beta)):
            break
        T[j + 1, j] = T[j, j + 1] = beta
        Q[j + 1] = w / beta
    return Q[:steps], T[:steps, :steps], beta


def _wanted(ritz_values, k, which):
    """Indices of the ``k`` wanted Ritz values, best first."""
    key = -np.abs(ritz_values) if which == "LM" else -ritz_values
    return np.argsort(key, kind="stable")[:k]


def _ritz(T, beta, k, which):
    """The wanted Ritz values, their vectors in the basis and their residual norms."""
    values, vectors = np.linalg.eigh(T)
    idx = _wanted(values, k, which)
    return values[idx], vectors[:, idx], np.abs(beta * vectors[-1, idx])


@validate_params(
    {
        "op": _OPERATOR,
        "k": [Interval(Integral, 1, None, closed="left")],
        "which": [StrOptions({"LM", "LA"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_steps": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": _RANDOM_STATE,
        "return_eigenvectors": ["boolean"],
        "return_se": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def top_eigenvalues(
    op,
    k=3,
    *,
    which="LM",
    tol=1e-6,
    max_steps=None,
    random_state=None,
    return_eigenvectors=False,
    return_se=False,
):
    """The ``k`` top eigenvalues of a symmetric operator, with residual error bounds.

    Lanczos with full reorthogonalisation from a random Gaussian start (one
    product per step); after each step the tridiagonal matrix ``T = Q^T A Q`` is
    diagonalised and the run stops once each of the ``k`` wanted Ritz pairs
    ``(theta_i, y_i = Q s_i)`` has a residual ``||A y_i - theta_i y_i|| =
    |beta_m s_{m,i}|`` at most ``tol * |theta_1|`` (``theta_1`` the wanted Ritz
    value of largest magnitude), or after ``max_steps`` steps, or on an invariant
    subspace (then the Ritz values are exact). The counterpart of PyHessian's
    ``hessian.eigenvalues(top_n=k)``, which runs power iteration with deflation
    and returns the largest-magnitude eigenvalues; Lanczos reaches a given
    accuracy in far fewer products, and says how accurate it is.

    Parameters
    ----------
    op : HessianOperator, HessianBlock, LinearOperator, ndarray or sparse matrix of shape (n, n)
        The operator, which must be symmetric. A :class:`HessianOperator` or
        :class:`HessianBlock` is worked with in its own dtype on its device
        (the basis is a ``(steps, n)`` tensor there); others in float64 on the CPU.
    k : int, default=3
        Number of eigenvalues (at most ``n``).
    which : {"LM", "LA"}, default="LM"
        ``"LM"``: the ``k`` of largest magnitude, with their signs, by decreasing
        magnitude (PyHessian's and :func:`top_eigenvalue`'s convention);
        ``"LA"``: the ``k`` largest (algebraic), decreasing.
    tol : float, default=1e-6
        Relative residual, see above; 0 runs ``max_steps`` steps.
    max_steps : int or None, default=None
        Most Lanczos steps (products); each keeps one vector of size ``n``. None:
        ``max(2 * k + 20, 30)``, at most ``n``.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the start vector. Pass an int for reproducible results.
    return_eigenvectors : bool, default=False
        Also return the Ritz vectors, as a float64 array of shape ``(n, k)``.
    return_se : bool, default=False
        Also return the residual norms ``|beta_m s_{m,i}|``: for each returned
        value ``theta_i`` an eigenvalue of ``A`` lies within that distance
        (Krylov-Weinberg bound), so it bounds the error if Lanczos has not
        skipped an eigenvalue (below). 0 on an invariant subspace.

    Returns
    -------
    eigenvalues : ndarray of shape (k,)
        The Ritz values, ordered as ``which`` says.
    eigenvectors : ndarray of shape (n, k)
        Only with ``return_eigenvectors``: the unit Ritz vectors, column ``i``
        for ``eigenvalues[i]``.
    se : ndarray of shape (k,)
        Only with ``return_se``: the residual bounds.

    Warns
    -----
    ConvergenceWarning
        If some wanted Ritz pair's residual is above ``tol * |theta_1|`` after
        ``max_steps`` steps (the values are then the best so far; ``se`` says how
        far off they may be).

    Notes
    -----
    A Krylov space from one start vector holds one copy of each distinct
    eigenvalue: an eigenvalue of multiplicity ``m`` among the top ``k`` is
    returned once, and the values after it move up one place each (the residual
    bounds still hold for each value returned). Trained networks' top Hessian
    eigenvalues are distinct; block Lanczos would be needed for exact multiples.
    Cost: one product per step. Measured on a trained digits MLP (8,970
    parameters) and a small CNN with BatchNorm (698), float32: 6 to 13 products
    for ``k=1``, 11 to 17 for ``k=3`` and 15 to 18 for ``k=5`` at ``tol`` from
    1e-4 to 1e-6, with errors of about 1e-7 of the top eigenvalue (float32's
    rounding in the products). Memory: one vector of size ``n`` per step.

    See Also
    --------
    top_eigenvalue : The top eigenvalue alone, by ARPACK.
    hessian_top_eigenvalues : The same for a model's loss Hessian in one call.

    Examples
    --------
    >>> import numpy as np
    >>> from featurizers.hessian import top_eigenvalues
    >>> A = np.diag(np.r_[-5.0, 4.0, 3.0, np.linspace(0.0, 1.0, 97)])
    >>> values, se = top_eigenvalues(A, k=3, tol=1e-10, random_state=0, return_se=True)
    >>> np.round(values, 8).tolist(), bool(np.all(se < 1e-8))
    ([-5.0, 4.0, 3.0], True)
    """
    matvec, n, dtype, device = _torch_matvec(op)
    if k > n:
        raise ValueError(
            f"The 'k' parameter of top_eigenvalues must be at most n={n}. Got {k} instead."
        )
    steps = min(n, max_steps if max_steps is not None else max(2 * k + 20, 30))
    steps = max(steps, k)
    rng = _check_random_state(random_state)
    q0 = torch.from_numpy(rng.standard_normal(n)).to(dtype=dtype, device=device)

    def done(T, beta):
        if len(T) < k:
            return False
        values, _, residuals = _ritz(T, beta, k, which)
        return bool(np.all(residuals <= tol * np.max(np.abs(values))))

    Q, T, beta = _lanczos_full(matvec, q0, steps, done)
    if len(T) < k:  # an invariant subspace smaller than k: its eigenvalues are all there is
        raise ValueError(
            f"Lanczos found an invariant subspace of dimension {len(T)} < k={k} from its "
            "start vector (the operator has fewer distinct eigenvalues than k, or the "
            "start vector missed them); lower k."
        )
    values, S, residuals = _ritz(T, beta, k, which)
    if np.any(residuals > tol * np.max(np.abs(values))):
        warnings.warn(
            f"Lanczos did not converge to tol={tol} in {len(T)} steps for all of the "
            f"top {k} eigenvalues (largest residual {np.max(residuals):.3g}); returning "
            "the best Ritz values so far.",
            ConvergenceWarning,
            stacklevel=2,
        )
    result = [values.astype(np.float64)]
    if return_eigenvectors:
        vectors = Q.T @ torch.from_numpy(S).to(dtype=Q.dtype, device=Q.device)
        result.append(vectors.detach().to(device="cpu", dtype=torch.float64).numpy())
    if return_se:
        result.append(residuals.astype(np.float64))
    return result[0] if len(result) == 1 else tuple(result)
