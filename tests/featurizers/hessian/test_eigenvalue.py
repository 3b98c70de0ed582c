"""Tests of featurizers.hessian._eigenvalue: the top eigenvalue against dense Hessians."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

torch = pytest.importorskip("torch")

from _hessian_cases import _top_dense  # noqa: E402

from featurizers.hessian import top_eigenvalue  # noqa: E402

# torch.func.hessian (the dense reference) loads TorchScript decompositions internally.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)


# ------------------------------------------------------------- top eigenvalue
def test_top_eigenvalue_lanczos(case):
    expected = _top_dense(case["H"])
    got = top_eigenvalue(case["op"], method="lanczos", random_state=0)
    assert abs(got - expected) <= 1e-4 * abs(expected)


def test_top_eigenvalue_power(case):
    expected = _top_dense(case["H"])
    got = top_eigenvalue(
        case["op"], method="power", tol=1e-10, max_iter=5000, random_state=0
    )
    assert abs(got - expected) <= 1e-4 * abs(expected)


def test_top_eigenvalue_keeps_the_sign():
    A = np.diag(np.concatenate([[-7.0], np.linspace(-1.0, 2.0, 40)]))
    assert top_eigenvalue(A, random_state=0) == pytest.approx(-7.0, rel=1e-6)
    assert top_eigenvalue(A, method="power", tol=1e-12, max_iter=2000, random_state=0) == (
        pytest.approx(-7.0, rel=1e-6)
    )
    # Small operators are diagonalised densely.
    assert top_eigenvalue(np.diag([1.0, -3.0]), random_state=0) == pytest.approx(-3.0)


def test_lanczos_not_converging_warns_and_falls_back():
    A = np.diag(np.concatenate([[1.0, 0.999999], np.linspace(-0.5, 0.5, 200)]))
    with pytest.warns(ConvergenceWarning, match="falling back to power iteration"):
        got = top_eigenvalue(A, tol=1e-14, max_iter=1, random_state=0)
    # A Rayleigh quotient of the power-iteration fallback: below the top eigenvalue.
    assert 0.5 < got <= 1.0 + 1e-12
