"""The top eigenvalue of a symmetric operator: ARPACK's Lanczos, power iteration, dense.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse.linalg
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._utils import _RANDOM_STATE, _check_random_state
from ._operator import _OPERATOR, _as_linear_operator, _dense


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
