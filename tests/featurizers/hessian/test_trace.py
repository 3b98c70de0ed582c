"""Tests of featurizers.hessian._trace: the trace estimators against exact traces."""

import math

import numpy as np
import pytest
import scipy.sparse.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from _hessian_cases import LOSS, _top_dense  # noqa: E402

from featurizers.hessian import _trace as trace_module  # noqa: E402
from featurizers.hessian import (  # noqa: E402
    hessian_trace,
    hutchinson_trace,
    pyhessian_trace,
    xtrace,
)

# torch.func.hessian (the dense reference) loads TorchScript decompositions internally.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)


# ------------------------------------------------------------------- traces
@pytest.mark.parametrize("distribution", ["rademacher", "normal"])
def test_hutchinson_is_unbiased(case, distribution):
    H, op = case["H"], case["op"]
    exact = np.trace(H)
    # Exact variance of one probe: Rademacher 2 (||H||_F^2 - sum diag^2), normal 2 ||H||_F^2.
    var = 2 * (np.sum(H**2) - (np.sum(np.diag(H) ** 2) if distribution == "rademacher" else 0))
    n_seeds, m = 150, 4
    estimates = [
        hutchinson_trace(op, m, distribution=distribution, random_state=seed)
        for seed in range(n_seeds)
    ]
    se = math.sqrt(var / (n_seeds * m))
    assert abs(np.mean(estimates) - exact) < 3 * se


def test_xtrace_close_to_exact(case):
    H, op = case["H"], case["op"]
    exact = np.trace(H)
    n = op.n_parameters
    estimates = [xtrace(op, 30, random_state=seed) for seed in range(5)]
    hutch = [hutchinson_trace(op, 30, random_state=seed) for seed in range(5)]
    err = np.abs(np.array(estimates) - exact) / abs(exact)
    assert err.max() < 0.1
    # With as many products as parameters the trace is exact.
    assert xtrace(op, n, random_state=0) == pytest.approx(exact, rel=1e-10)
    assert np.std(estimates) < np.std(hutch)


def test_xtrace_is_unbiased_on_a_dense_matrix():
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((60, 60)))
    A = (U * (rng.standard_normal(60) / np.arange(1, 61) ** 0.5)) @ U.T
    estimates = np.array([xtrace(A, 12, random_state=seed) for seed in range(300)])
    se = estimates.std(ddof=1) / math.sqrt(len(estimates))
    assert abs(estimates.mean() - np.trace(A)) < 3 * se


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(20, 60),
    rank=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
)
def test_xtrace_is_exact_below_its_rank(n, rank, seed):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, rank))
    A = B @ np.diag(rng.choice([-1.0, 1.0], rank)) @ B.T
    got = xtrace(A, 2 * (rank + 2), random_state=seed)
    assert got == pytest.approx(np.trace(A), rel=1e-6, abs=1e-8 * np.abs(A).max())


def test_xtrace_ritz_value(case):
    """The Rayleigh-Ritz value of XTrace's basis (benchmark only): same trace as
    xtrace, reproducible, within the spectrum, and exact below the rank."""
    H, op = case["H"], case["op"]
    linop = op.to_linear_operator()
    top = _top_dense(H)
    eigvals = np.linalg.eigvalsh(H)
    trace, ritz = trace_module._xtrace(linop, op.n_parameters, 30, 5)
    assert trace == xtrace(op, 30, random_state=5)
    assert (trace, ritz) == trace_module._xtrace(linop, op.n_parameters, 30, 5)
    # A Ritz value lies between the extreme eigenvalues and is at most |top|.
    assert eigvals[0] - 1e-9 * abs(top) <= ritz <= eigvals[-1] + 1e-9 * abs(top)
    assert abs(ritz) <= abs(top) * (1 + 1e-9)
    # On an operator of rank below k it is the top eigenvalue, with its sign.
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((50, 4)))
    A = (U * np.array([-6.0, 2.0, 1.0, 0.5])) @ U.T
    assert trace_module._xtrace(
        scipy.sparse.linalg.aslinearoperator(A), 50, 12, 0
    )[1] == pytest.approx(-6.0, rel=1e-10)


def test_xtrace_degenerate_operators():
    assert xtrace(np.zeros((50, 50)), 10, random_state=0) == 0.0
    A = np.zeros((50, 50))
    A[0, 0] = 3.0
    assert xtrace(A, 10, random_state=0) == pytest.approx(3.0)


def test_pyhessian_trace(case):
    H, op = case["H"], case["op"]
    exact = np.trace(H)
    got = pyhessian_trace(op, random_state=0)
    assert np.isfinite(got)
    assert abs(got - exact) < 0.5 * abs(exact) + 5 * math.sqrt(2 * np.sum(H**2))
    # With tol=0 the rule never stops early: exactly Hutchinson with the same probes.
    assert pyhessian_trace(op, max_iter=7, tol=0.0, random_state=3) == pytest.approx(
        hutchinson_trace(op, 7, random_state=3), rel=1e-12
    )


def test_pyhessian_stopping_rule():
    # Identity: every Rademacher sample is n, the running mean never changes.
    calls = []
    A = scipy.sparse.linalg.LinearOperator(
        (5, 5), matvec=lambda v: calls.append(1) or np.asarray(v).reshape(-1), dtype=float
    )
    assert pyhessian_trace(A, random_state=0) == 5.0
    assert len(calls) == 2


def test_auto_trace_method_is_xtrace_within_the_memory_budget(case, monkeypatch):
    def trace(method, n_matvecs=20):
        return hessian_trace(
            case["model"], LOSS, case["x"], case["y"], method=method,
            n_matvecs=n_matvecs, random_state=0,
        )

    xtrace_estimate, hutchinson_estimate = trace("xtrace"), trace("hutchinson")
    assert xtrace_estimate != hutchinson_estimate
    assert trace("auto") == xtrace_estimate
    # 20 products: a basis of 10 vectors and a block of 10, 8 bytes a float
    workspace = 8 * case["op"].n_parameters * (10 + 10)
    monkeypatch.setattr(trace_module, "_XTRACE_MEMORY_BUDGET", workspace)
    assert trace("auto") == xtrace_estimate
    monkeypatch.setattr(trace_module, "_XTRACE_MEMORY_BUDGET", workspace - 1)
    assert trace("auto") == hutchinson_estimate
    # XTrace needs 2 products: one is Hutchinson's, whatever the budget
    monkeypatch.undo()
    assert trace("auto", 1) == trace("hutchinson", 1)


def test_xtrace_workspace_is_what_the_default_budget_allows():
    # 100 products: XTrace up to about 2 million parameters (1 GiB)
    assert trace_module._trace_method("auto", 100, 2_000_000) == "xtrace"
    assert trace_module._trace_method("auto", 100, 2_100_000) == "hutchinson"
    assert trace_module._trace_method("auto", 100, 11_000_000) == "hutchinson"  # ResNet-18
    assert trace_module._trace_method("xtrace", 100, 11_000_000) == "xtrace"
