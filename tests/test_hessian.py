"""Tests of featurizers.hessian against dense float64 Hessians of tiny networks."""

import copy
import doctest
import math

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

torch = pytest.importorskip("torch")

from _torch_helpers import CountsCalls, state_hash, train  # noqa: E402

from featurizers import hessian  # noqa: E402
from featurizers.hessian import (  # noqa: E402
    HessianOperator,
    hessian_top_eigenvalue,
    hessian_trace,
    hutchinson_trace,
    pyhessian_trace,
    top_eigenvalue,
    trace_and_top_eigenvalue,
    xtrace,
)

DTYPE = torch.float64
# torch.func.hessian (the dense reference) loads TorchScript decompositions internally.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)


# --------------------------------------------------------------------------- cases
def _train(model, x, y):
    """30 full-batch Adam steps, so that the Hessian has a trained network's spectrum."""
    torch.manual_seed(0)
    return train(
        model, (x, y), 30, batch_size=None, optimizer=lambda p: torch.optim.Adam(p, lr=0.03)
    )


def _mlp():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)
    ).to(DTYPE)
    x = torch.randn(16, 4, dtype=DTYPE)
    y = torch.randint(0, 3, (16,))
    return _train(model, x, y), x, y


def _cnn(dropout=0.0):
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3),
        torch.nn.BatchNorm2d(3),
        torch.nn.ReLU(),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Dropout(dropout),
        torch.nn.Linear(12, 3),
    ).to(DTYPE)
    # Non-trivial BatchNorm statistics and affine parameters.
    with torch.no_grad():
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.uniform_(-0.2, 0.2)
    x = torch.randn(16, 2, 6, 6, dtype=DTYPE)
    y = torch.randint(0, 3, (16,))
    return _train(model, x, y), x, y


CASES = {"mlp": _mlp, "cnn_bn": _cnn}
LOSS = torch.nn.CrossEntropyLoss()


def _dense_hessian(model, x, y):
    """Exact Hessian over all floating parameters, model in eval mode."""
    names = [n for n, p in model.named_parameters()]
    params = [p.detach() for p in model.parameters()]
    shapes = [p.shape for p in params]
    numels = [p.numel() for p in params]
    flat = torch.cat([p.reshape(-1) for p in params])
    was_training = model.training
    model.eval()

    def loss_of(flat):
        chunks = flat.split(numels)
        values = {n: c.view(s) for n, c, s in zip(names, chunks, shapes)}
        return LOSS(torch.func.functional_call(model, values, (x,)), y)

    H = torch.func.hessian(loss_of)(flat)
    model.train(was_training)
    H = H.numpy()
    return (H + H.T) / 2


@pytest.fixture(scope="module", params=sorted(CASES), ids=sorted(CASES))
def case(request):
    model, x, y = CASES[request.param]()
    H = _dense_hessian(model, x, y)
    op = HessianOperator(model, LOSS, x, y)
    return {"name": request.param, "model": model, "x": x, "y": y, "H": H, "op": op}


# ------------------------------------------------------------------ operator
def test_num_params_and_shape(case):
    n = sum(p.numel() for p in case["model"].parameters())
    assert case["op"].num_params == n == case["H"].shape[0]
    assert case["op"].shape == (n, n)
    assert case["op"].dtype == DTYPE
    with torch.no_grad():
        loss = float(LOSS(case["model"].eval()(case["x"]), case["y"]))
    assert math.isclose(case["op"].loss, loss)


def test_matvec_matches_dense(case):
    H, op = case["H"], case["op"]
    rng = np.random.default_rng(0)
    for _ in range(3):
        v = rng.standard_normal(op.num_params)
        hv = op.matvec(torch.from_numpy(v))
        assert isinstance(hv, torch.Tensor) and hv.shape == (op.num_params,)
        expected = H @ v
        err = np.linalg.norm(hv.numpy() - expected) / np.linalg.norm(expected)
        assert err < 1e-6


def test_linear_operator_matches_dense(case):
    H, op = case["H"], case["op"]
    linop = op.to_linear_operator()
    assert isinstance(linop, scipy.sparse.linalg.LinearOperator)
    assert linop.dtype == np.float64 and linop.shape == H.shape
    V = np.random.default_rng(1).standard_normal((op.num_params, 2))
    np.testing.assert_allclose(linop @ V, H @ V, rtol=1e-6, atol=1e-10)
    out = linop.matvec(V[:, 0])
    assert out.dtype == np.float64


class _WithUnused(torch.nn.Module):
    """A body plus a layer that forward never calls."""

    def __init__(self, body):
        super().__init__()
        self.body = body
        self.unused = torch.nn.Linear(2, 2).to(DTYPE)

    def forward(self, inputs):
        return self.body(inputs)


def test_frozen_and_unused_parameters_are_included():
    body, x, y = _mlp()
    body[0].bias.requires_grad_(False)
    H_body = _dense_hessian(body, x, y)
    op = HessianOperator(_WithUnused(body), LOSS, x, y)
    n_body = H_body.shape[0]
    assert op.num_params == n_body + 6
    v = np.random.default_rng(0).standard_normal(op.num_params)
    hv = op.matvec(torch.from_numpy(v)).numpy()
    np.testing.assert_allclose(hv[:n_body], H_body @ v[:n_body], rtol=1e-8)
    np.testing.assert_array_equal(hv[n_body:], 0.0)
    assert body[0].bias.requires_grad is False


def test_float32_model():
    model, x, y = _mlp()
    model32 = model.float()
    op = HessianOperator(model32, LOSS, x.float(), y)
    assert op.dtype == torch.float32
    hv = op.matvec(torch.ones(op.num_params, dtype=torch.float64))
    assert hv.dtype == torch.float32
    out = op.to_linear_operator().matvec(np.ones(op.num_params))
    assert out.dtype == np.float64
    H = _dense_hessian(model32.double(), x, y)
    np.testing.assert_allclose(out, H @ np.ones(op.num_params), rtol=1e-4, atol=1e-5)


def test_operator_is_a_snapshot_and_works_under_no_grad():
    model, x, y = _mlp()
    with torch.no_grad():
        op = HessianOperator(model, LOSS, x, y)
    v = torch.ones(op.num_params, dtype=DTYPE)
    before = op.matvec(v)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        after = op.matvec(v)
    torch.testing.assert_close(before, after)


# ------------------------------------------------------------- top eigenvalue
def _top_dense(H):
    eigvals = np.linalg.eigvalsh(H)
    return eigvals[np.argmax(np.abs(eigvals))]


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


def test_hessian_top_eigenvalue_wrapper(case):
    expected = _top_dense(case["H"])
    got = hessian_top_eigenvalue(
        case["model"], LOSS, case["x"], case["y"], random_state=0
    )
    assert abs(got - expected) <= 1e-4 * abs(expected)


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
    n = op.num_params
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
    trace, ritz = hessian._xtrace(linop, op.num_params, 30, 5)
    assert trace == xtrace(op, 30, random_state=5)
    assert (trace, ritz) == hessian._xtrace(linop, op.num_params, 30, 5)
    # A Ritz value lies between the extreme eigenvalues and is at most |top|.
    assert eigvals[0] - 1e-9 * abs(top) <= ritz <= eigvals[-1] + 1e-9 * abs(top)
    assert abs(ritz) <= abs(top) * (1 + 1e-9)
    # On an operator of rank below k it is the top eigenvalue, with its sign.
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((50, 4)))
    A = (U * np.array([-6.0, 2.0, 1.0, 0.5])) @ U.T
    assert hessian._xtrace(
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


@pytest.mark.parametrize("method", ["xtrace", "hutchinson", "pyhessian"])
def test_hessian_trace_wrapper(case, method):
    exact = np.trace(case["H"])
    got = hessian_trace(
        case["model"], LOSS, case["x"], case["y"], method=method, num_matvecs=40,
        random_state=0,
    )
    assert np.isfinite(got)
    assert got == hessian_trace(
        case["model"], LOSS, case["x"], case["y"], method=method, num_matvecs=40,
        random_state=0,
    )
    if method == "xtrace":
        assert abs(got - exact) < 0.1 * abs(exact)


def test_auto_trace_method_is_xtrace_within_the_memory_budget(case, monkeypatch):
    def trace(method, num_matvecs=20):
        return hessian_trace(
            case["model"], LOSS, case["x"], case["y"], method=method,
            num_matvecs=num_matvecs, random_state=0,
        )

    xtrace_estimate, hutchinson_estimate = trace("xtrace"), trace("hutchinson")
    assert xtrace_estimate != hutchinson_estimate
    assert trace("auto") == xtrace_estimate
    # 20 products: a basis of 10 vectors and a block of 10, 8 bytes a float
    workspace = 8 * case["op"].num_params * (10 + 10)
    monkeypatch.setattr(hessian, "_XTRACE_MEMORY_BUDGET", workspace)
    assert trace("auto") == xtrace_estimate
    monkeypatch.setattr(hessian, "_XTRACE_MEMORY_BUDGET", workspace - 1)
    assert trace("auto") == hutchinson_estimate
    # XTrace needs 2 products: one is Hutchinson's, whatever the budget
    monkeypatch.undo()
    assert trace("auto", 1) == trace("hutchinson", 1)


def test_xtrace_workspace_is_what_the_default_budget_allows():
    # 100 products: XTrace up to about 2 million parameters (1 GiB)
    assert hessian._trace_method("auto", 100, 2_000_000) == "xtrace"
    assert hessian._trace_method("auto", 100, 2_100_000) == "hutchinson"
    assert hessian._trace_method("auto", 100, 11_000_000) == "hutchinson"  # ResNet-18
    assert hessian._trace_method("xtrace", 100, 11_000_000) == "xtrace"


# ------------------------------------------- shared trace and top eigenvalue
def _outliers_and_bulk(n=300, k=9, seed=0):
    """A symmetric matrix like a trained network's Hessian: k outliers, a flat bulk."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    # One top eigenvalue well apart, as in trained networks, then k - 1 outliers.
    eigvals = np.r_[60.0, np.linspace(30.0, 10.0, k - 1), rng.uniform(0.0, 0.5, n - k)]
    return (U * eigvals) @ U.T, eigvals


def _run_lanczos(A, max_steps, tol=1e-3, deflation_tol=1e-2, seed=0):
    Q = torch.empty((max_steps, A.shape[0]), dtype=torch.float64)
    matvec = hessian._torch_matvec(A)[0]
    generator = torch.Generator().manual_seed(seed)
    steps, T, beta, theta, residual = hessian._lanczos(
        matvec, Q, tol, deflation_tol, generator
    )
    # The Lanczos relation A Q = Q T + r e_m^T, with the reorthogonalisation folded in.
    basis = Q[:steps].numpy().T
    relation = A @ basis - basis @ T
    relation[:, -1] -= residual.numpy()
    np.testing.assert_allclose(relation, 0.0, atol=1e-10 * np.abs(A).max())
    assert float(torch.linalg.vector_norm(residual)) == pytest.approx(beta, rel=1e-12)
    return basis, T, beta, theta, residual


def test_lanczos_basis_and_removed_frobenius_norm():
    A, _ = _outliers_and_bulk(n=120)
    Q, T, beta, _, _ = _run_lanczos(A, 15, tol=0.0)
    assert Q.shape == (120, 15)
    np.testing.assert_allclose(Q.T @ Q, np.eye(15), atol=1e-12)
    np.testing.assert_allclose(T, Q.T @ A @ Q, atol=1e-10)
    # The stopping rule's bookkeeping: the basis removes ||T||_F^2 + 2 beta^2 of
    # ||A||_F^2, exactly.
    P = np.eye(120) - Q @ Q.T
    removed = np.sum(A**2) - np.sum((P @ A @ P) ** 2)
    assert np.sum(T**2) + 2 * beta**2 == pytest.approx(removed, rel=1e-10)


def test_lanczos_runs_past_the_eigenvalue_until_the_outliers_are_in_the_basis():
    A, eigvals = _outliers_and_bulk()
    _, T_eig, _, theta, _ = _run_lanczos(A, 24, deflation_tol=1.0)  # stop at the eigenvalue
    Q, T, _, _, _ = _run_lanczos(A, 24)
    assert theta == pytest.approx(60.0, rel=1e-6)
    # The eigenvalue converges long before the 9 outliers are all in the basis ...
    assert len(T_eig) < 9 < len(T) < 24
    # ... which then holds nearly all of their trace, and the remainder's probes are
    # far less variable than plain Hutchinson's (variance ~ its Frobenius norm).
    assert np.trace(T) >= 0.99 * eigvals[:9].sum()
    P = np.eye(len(A)) - Q @ Q.T
    assert np.sum((P @ A @ P) ** 2) < 0.01 * np.sum(A**2)
    _, T_all, _, _, _ = _run_lanczos(A, 20, deflation_tol=0.0)
    assert len(T_all) == 20


@pytest.mark.parametrize(
    "dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16]
)
def test_empty_rows_is_a_writable_contiguous_tensor(dtype):
    rows = hessian._empty_rows(3, 5, dtype, torch.device("cpu"))
    assert rows.shape == (3, 5) and rows.dtype == dtype and rows.is_contiguous()
    rows[1] = torch.arange(5, dtype=dtype)
    assert rows[1].tolist() == [0, 1, 2, 3, 4]


def test_lanczos_stops_on_an_invariant_subspace():
    rng = np.random.default_rng(0)
    B = rng.standard_normal((40, 3))
    A = B @ np.diag([-5.0, 1.0, 2.0]) @ B.T  # rank 3
    _, T, _, theta, _ = _run_lanczos(A, 10, tol=0.0, deflation_tol=0.0)
    # The Krylov space of a random start: its null-space part and the range of A.
    assert len(T) == 4
    eigvals = np.linalg.eigvalsh(A)
    assert theta == pytest.approx(eigvals[np.argmax(np.abs(eigvals))], rel=1e-8)


def _replayed_probes(seed, n, count):
    """The Rademacher probes ``_deflated_samples`` draws from a generator seeded ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(count):
        bits = torch.randint(0, 256, ((n + 7) // 8,), generator=generator, dtype=torch.uint8)
        yield 2.0 * np.unpackbits(bits.numpy(), bitorder="little")[:n] - 1


def test_deflated_samples_are_the_projected_quadratic_forms():
    A, _ = _outliers_and_bulk(n=80)
    Q, T, _, _, residual = _run_lanczos(A, 6, tol=0.0, deflation_tol=0.0)
    matvec = hessian._torch_matvec(A)[0]
    generator = torch.Generator().manual_seed(3)
    QR = torch.cat([torch.from_numpy(Q.T), residual[None]])
    # 6 probes: two blocks of _DEFLATED_PROBE_BLOCK = 4
    samples = hessian._deflated_samples(matvec, QR, T, 6, generator)
    P = np.eye(80) - Q @ Q.T
    for sample, g in zip(samples, _replayed_probes(3, 80, len(samples)), strict=True):
        assert set(g) == {-1.0, 1.0}
        g = P @ g
        assert sample == pytest.approx(g @ A @ g, rel=1e-10)


def test_trace_and_top_eigenvalue_is_exact_when_the_budget_covers_n(case):
    H, op = case["H"], case["op"]
    trace, top = trace_and_top_eigenvalue(
        op, num_probes=op.num_params - 24, random_state=0
    )
    assert trace == pytest.approx(np.trace(H), rel=1e-10)
    assert top == pytest.approx(_top_dense(H), rel=1e-10)


def test_trace_and_top_eigenvalue_top_eigenvalue(case):
    expected = _top_dense(case["H"])
    _, top = trace_and_top_eigenvalue(
        case["op"], num_probes=1, max_lanczos_steps=20, random_state=0
    )
    assert abs(top - expected) <= 1e-4 * abs(expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_probes": 4, "max_lanczos_steps": 4, "tol": 0.0},  # a fixed basis size
        {},  # the defaults: the basis size depends on the start vector
    ],
    ids=["fixed", "adaptive"],
)
def test_trace_and_top_eigenvalue_trace_is_unbiased(case, kwargs):
    H, op = case["H"], case["op"]
    estimates = np.array(
        [trace_and_top_eigenvalue(op, random_state=s, **kwargs)[0] for s in range(150)]
    )
    se = estimates.std(ddof=1) / math.sqrt(len(estimates))
    assert abs(estimates.mean() - np.trace(H)) < 3 * se


def test_trace_and_top_eigenvalue_on_outliers_beats_hutchinson():
    A, _ = _outliers_and_bulk()
    exact = np.trace(A)
    # Same budget of products for both: the deflated run's Lanczos steps + 4 probes.
    deflated, budgets = [], []
    for seed in range(20):
        trace_basis, samples, _, steps = hessian._lanczos_deflated(
            A, 4, 24, 1e-3, 1e-2, np.random.RandomState(seed)
        )
        deflated.append(trace_basis + samples.mean())
        budgets.append(steps + 4)
    plain = [
        hutchinson_trace(A, budget, random_state=seed) for seed, budget in enumerate(budgets)
    ]
    deflated_error = np.sqrt(np.mean((np.array(deflated) - exact) ** 2))
    plain_error = np.sqrt(np.mean((np.array(plain) - exact) ** 2))
    assert deflated_error < plain_error / 5


def test_trace_and_top_eigenvalue_low_rank_and_sign():
    rng = np.random.default_rng(0)
    B = rng.standard_normal((40, 3))
    A = B @ np.diag([-5.0, 1.0, 2.0]) @ B.T  # rank 3: Lanczos spans its range
    trace, top = trace_and_top_eigenvalue(A, num_probes=4, max_lanczos_steps=8, tol=0.0)
    eigvals = np.linalg.eigvalsh(A)
    assert trace == pytest.approx(np.trace(A), rel=1e-8)
    assert top == pytest.approx(eigvals[np.argmax(np.abs(eigvals))], rel=1e-8)
    assert top < 0


def test_trace_and_top_eigenvalue_float32_operator_keeps_its_dtype(case, monkeypatch):
    model32 = copy.deepcopy(case["model"]).float()
    op32 = HessianOperator(model32, LOSS, case["x"].float(), case["y"])
    assert op32.dtype == torch.float32
    dtypes = []
    lanczos = hessian._lanczos

    def spy(matvec, Q, *args):
        dtypes.append(Q.dtype)
        return lanczos(matvec, Q, *args)

    monkeypatch.setattr(hessian, "_lanczos", spy)
    exact = np.linalg.eigvalsh(case["H"])
    top64 = exact[np.argmax(np.abs(exact))]
    estimates = []
    for seed in range(20):
        trace, top = trace_and_top_eigenvalue(op32, random_state=seed)
        assert top == pytest.approx(top64, rel=1e-4)
        estimates.append(trace)
    assert dtypes == [torch.float32] * 20  # the basis is in the operator's dtype
    se = np.std(estimates, ddof=1) / math.sqrt(len(estimates))
    assert abs(np.mean(estimates) - np.sum(exact)) < 3 * se + 1e-4 * abs(np.sum(exact))


def test_deflated_samples_of_a_float32_operator_match_the_exact_projection(case):
    # The samples use the Lanczos relation in place of projecting the products
    # A g; in float32 they must still be the projected quadratic forms of the
    # exact Hessian, to float32 accuracy (relative to the trace).
    op32 = HessianOperator(
        copy.deepcopy(case["model"]).float(), LOSS, case["x"].float(), case["y"]
    )
    H = case["H"]
    QR = torch.empty((11, op32.num_params), dtype=torch.float32)
    steps, T, _, _, residual = hessian._lanczos(
        op32.matvec, QR[:10], 1e-3, 1e-2, torch.Generator().manual_seed(0)
    )
    QR[steps] = residual
    generator = torch.Generator().manual_seed(1)
    samples = hessian._deflated_samples(op32.matvec, QR[: steps + 1], T, 6, generator)
    Q = QR[:steps].double().numpy().T
    np.testing.assert_allclose(Q.T @ Q, np.eye(steps), atol=1e-5)
    P = np.eye(len(H)) - Q @ Q.T
    probes = _replayed_probes(1, op32.num_params, len(samples))
    for sample, g in zip(samples, probes, strict=True):
        g = P @ g
        assert sample == pytest.approx(g @ H @ g, abs=1e-4 * abs(np.trace(H)))


def test_trace_and_top_eigenvalue_float32_rank_deficient_hessian():
    # A float32 linear least-squares model on 5 samples: 41 parameters, Hessian of
    # rank 5. Lanczos must stop at the invariant subspace rather than go on with
    # rounding noise (which would break the orthogonality the trace relies on).
    torch.manual_seed(0)
    model = torch.nn.Linear(40, 1)
    x, y = torch.randn(5, 40), torch.randn(5, 1)
    op = HessianOperator(model, torch.nn.MSELoss(), x, y)
    X = torch.cat([x, torch.ones(5, 1)], dim=1).double()
    H = (2 / 5 * X.T @ X).numpy()
    steps = []
    for seed in range(5):
        trace_basis, samples, top, taken = hessian._lanczos_deflated(
            op, 4, 24, 1e-3, 1e-2, np.random.RandomState(seed)
        )
        steps.append(taken)
        assert trace_basis + samples.mean() == pytest.approx(np.trace(H), rel=1e-4)
        assert top == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-4)
    assert max(steps) <= 7  # rank 5, and the start vector's part outside the range


def test_trace_and_top_eigenvalue_with_an_operator_that_works_in_its_input():
    # 2 I, computed in the input vector and returned: the estimator must neither
    # hand out its own vectors nor keep the one it gets back.
    doubling = scipy.sparse.linalg.LinearOperator(
        (50, 50), matvec=lambda x: np.multiply(x, 2.0, out=x), dtype=np.float64
    )
    trace, top = trace_and_top_eigenvalue(doubling, random_state=0)
    # one Lanczos step spans an invariant subspace; 4 probes of the rest: 2 + 98 +- 2
    assert top == pytest.approx(2.0, rel=1e-12)
    assert trace == pytest.approx(100.0, abs=5.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_probes": 0}, "'num_probes' parameter"),
        ({"max_lanczos_steps": 0}, "'max_lanczos_steps' parameter"),
        ({"tol": -1.0}, "'tol' parameter"),
        ({"deflation_tol": 1.5}, "'deflation_tol' parameter"),
    ],
)
def test_trace_and_top_eigenvalue_bad_arguments(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        trace_and_top_eigenvalue(np.eye(50), **kwargs)


# ------------------------------------------------------------ reproducibility
@pytest.mark.parametrize(
    "func",
    [
        lambda A, rs: hutchinson_trace(A, 5, random_state=rs),
        lambda A, rs: hutchinson_trace(A, 5, distribution="normal", random_state=rs),
        lambda A, rs: pyhessian_trace(A, random_state=rs),
        lambda A, rs: xtrace(A, 10, random_state=rs),
        lambda A, rs: top_eigenvalue(A, method="power", random_state=rs),
        lambda A, rs: top_eigenvalue(A, random_state=rs),
        lambda A, rs: trace_and_top_eigenvalue(
            A, num_probes=6, max_lanczos_steps=4, random_state=rs
        )[0],
        lambda A, rs: trace_and_top_eigenvalue(
            A, num_probes=6, max_lanczos_steps=4, random_state=rs
        )[1],
    ],
    ids=[
        "hutchinson",
        "hutchinson-normal",
        "pyhessian",
        "xtrace",
        "power",
        "lanczos",
        "deflated-trace",
        "deflated-eigenvalue",
    ],
)
def test_random_state(func):
    rng = np.random.default_rng(0)
    M = rng.standard_normal((30, 30))
    A = M + M.T
    assert func(A, 0) == func(A, 0)
    assert func(A, np.random.RandomState(1)) == func(A, np.random.RandomState(1))
    assert func(A, np.random.default_rng(2)) == func(A, np.random.default_rng(2))
    assert np.isfinite(func(A, None))


def test_estimators_accept_operators_of_any_kind():
    A = np.diag(np.arange(1.0, 21.0))
    exact = A.trace()
    for op in (A, scipy.sparse.csr_matrix(A), scipy.sparse.linalg.aslinearoperator(A)):
        assert xtrace(op, 40) == pytest.approx(exact)
        assert hutchinson_trace(op, 3, random_state=0) == pytest.approx(exact)
        assert top_eigenvalue(op, random_state=0) == pytest.approx(20.0, rel=1e-6)


# ----------------------------------------------------------- no mutation
def _mlp_eval():
    model, x, y = _mlp()
    return model.eval(), x, y


def _cnn_train():
    model, x, y = _cnn(dropout=0.3)
    return model.train(), x, y


def _cnn_mixed_modes():
    model, x, y = _cnn_train()
    model[5].eval()  # a submodule in another mode than its parent
    model[0].bias.requires_grad_(False)
    model[6].weight.grad = torch.full_like(model[6].weight, 0.5)
    return model, x, y


@pytest.mark.parametrize(
    "make",
    [_mlp_eval, _cnn_train, _cnn_mixed_modes],
    ids=["mlp-eval", "cnn-bn-dropout-train", "cnn-mixed-modes"],
)
def test_model_is_not_mutated(make):
    model, x, y = make()
    before = state_hash(model)
    op = HessianOperator(model, LOSS, x, y)
    assert state_hash(model) == before
    op.matvec(torch.ones(op.num_params, dtype=DTYPE))
    xtrace(op, 10, random_state=0)
    hutchinson_trace(op, 2, random_state=0)
    pyhessian_trace(op, max_iter=3, random_state=0)
    top_eigenvalue(op, random_state=0)
    top_eigenvalue(op, method="power", max_iter=3, random_state=0)
    assert state_hash(model) == before
    hessian_trace(model, LOSS, x, y, num_matvecs=10, random_state=0)
    hessian_top_eigenvalue(model, LOSS, x, y, random_state=0)
    assert state_hash(model) == before


def test_buffers_updated_in_forward_are_restored():
    model = CountsCalls(4, 3, DTYPE)
    _, x, y = _mlp()
    before = state_hash(model)
    op = HessianOperator(model, LOSS, x, y)
    assert op.num_params == 15
    assert state_hash(model) == before


def test_tied_parameters_count_once():
    model, x, y = _mlp()
    tied = torch.nn.Sequential(
        torch.nn.Linear(4, 4).to(DTYPE), torch.nn.Tanh(), torch.nn.Linear(4, 4).to(DTYPE)
    )
    tied[2].weight = tied[0].weight
    H = _dense_hessian(tied, x, y % 3)
    op = HessianOperator(tied, LOSS, x, y % 3)
    assert op.num_params == H.shape[0] == 16 + 4 + 4
    v = np.random.default_rng(0).standard_normal(op.num_params)
    np.testing.assert_allclose(op.matvec(torch.from_numpy(v)).numpy(), H @ v, rtol=1e-8)


def test_lanczos_not_converging_warns_and_falls_back():
    A = np.diag(np.concatenate([[1.0, 0.999999], np.linspace(-0.5, 0.5, 200)]))
    with pytest.warns(ConvergenceWarning, match="falling back to power iteration"):
        got = top_eigenvalue(A, tol=1e-14, max_iter=1, random_state=0)
    # A Rayleigh quotient of the power-iteration fallback: below the top eigenvalue.
    assert 0.5 < got <= 1.0 + 1e-12


def test_hessian_uses_eval_mode_whatever_the_models_mode():
    model, x, y = _cnn(dropout=0.3)
    H = _dense_hessian(model, x, y)
    model.train()
    op = HessianOperator(model, LOSS, x, y)
    v = np.random.default_rng(0).standard_normal(op.num_params)
    np.testing.assert_allclose(op.matvec(torch.from_numpy(v)).numpy(), H @ v, rtol=1e-8)
    assert model.training


def test_model_is_not_mutated_when_construction_fails():
    model, x, y = _cnn(dropout=0.3)
    model.train()
    before = state_hash(model)
    with pytest.raises(ValueError, match="scalar"):
        HessianOperator(model, torch.nn.CrossEntropyLoss(reduction="none"), x, y)
    assert state_hash(model) == before


# ---------------------------------------------------------------- bad input
def test_matvec_bad_vector():
    model, x, y = _mlp()
    op = HessianOperator(model, LOSS, x, y)
    with pytest.raises(ValueError, match=r"length num_params=51. Got shape \(50,\)"):
        op.matvec(torch.ones(50, dtype=DTYPE))
    with pytest.raises(ValueError, match="1-D"):
        op.matvec(torch.ones(op.num_params, 1, dtype=DTYPE))
    with pytest.raises(TypeError, match="torch.Tensor. Got ndarray"):
        op.matvec(np.ones(op.num_params))
    with pytest.raises(TypeError, match="real"):
        op.matvec(torch.ones(op.num_params, dtype=torch.complex128))
    with pytest.raises(ValueError, match="dimension mismatch"):
        op.to_linear_operator().matvec(np.ones(op.num_params + 1))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda A: hutchinson_trace(A, 0), "'num_matvecs' parameter of hutchinson_trace"),
        (lambda A: hutchinson_trace(A, 2.5), "'num_matvecs' parameter"),
        (lambda A: xtrace(A, 1), "'num_matvecs' parameter of xtrace"),
        (lambda A: hutchinson_trace(A, distribution="gauss"), "'distribution'"),
        (lambda A: pyhessian_trace(A, max_iter=0), "'max_iter' parameter"),
        (lambda A: pyhessian_trace(A, tol=-1.0), "'tol' parameter"),
        (lambda A: top_eigenvalue(A, method="arnoldi"), "'method' parameter of top_eigenvalue"),
        (lambda A: top_eigenvalue(A, random_state="seed"), "'random_state' parameter"),
        (lambda A: xtrace(A[:, :3]), r"square .* Got shape \(5, 3\)"),
        (lambda A: xtrace([[1.0]]), "'op' parameter of xtrace"),
    ],
)
def test_estimator_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.eye(5))


def test_hessian_functions_bad_arguments():
    model, x, y = _mlp()
    with pytest.raises(ValueError, match="'method' parameter of hessian_trace must be"):
        hessian_trace(model, LOSS, x, y, method="exact")
    with pytest.raises(ValueError, match="'num_matvecs' parameter of hessian_trace"):
        hessian_trace(model, LOSS, x, y, num_matvecs=0)
    with pytest.raises(ValueError, match="at least 2 with method='xtrace'. Got 1"):
        hessian_trace(model, LOSS, x, y, method="xtrace", num_matvecs=1)
    with pytest.raises(ValueError, match="'method' parameter of hessian_top_eigenvalue"):
        hessian_top_eigenvalue(model, LOSS, x, y, method="qr")
    with pytest.raises(ValueError, match=r"non-empty batch .* Got a tensor of shape \(0, 4\)"):
        HessianOperator(model, LOSS, x[:0], y[:0])
    with pytest.raises(ValueError, match=r"as many rows as 'inputs' \(16\)"):
        HessianOperator(model, LOSS, x, y[:3])
    with pytest.raises(ValueError, match="'model' parameter of HessianOperator"):
        HessianOperator(lambda t: t, LOSS, x, y)
    with pytest.raises(ValueError, match="'inputs' parameter of HessianOperator"):
        HessianOperator(model, LOSS, x.numpy(), y)
    with pytest.raises(ValueError, match="at least one floating-point parameter"):
        HessianOperator(torch.nn.Flatten(), torch.nn.MSELoss(), x, x)
    with pytest.raises(FloatingPointError, match="nan"):
        HessianOperator(model, lambda out, t: out.sum() * float("nan"), x, y)


def test_no_second_order_dependence_gives_zero():
    model = torch.nn.Linear(3, 2).to(DTYPE)
    x = torch.randn(4, 3, dtype=DTYPE)
    op = HessianOperator(model, lambda out, t: out.mean(), x, x)
    hv = op.matvec(torch.ones(op.num_params, dtype=DTYPE))
    assert torch.equal(hv, torch.zeros(8, dtype=DTYPE))
    assert xtrace(op, 4, random_state=0) == 0.0


# ---------------------------------------------------------------- doctests
def test_docstring_examples():
    result = doctest.testmod(hessian, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
