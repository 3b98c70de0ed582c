"""Tests of featurizers.hessian._deflated: Lanczos and the deflated trace estimate."""

import copy
import math

import numpy as np
import pytest
import scipy.sparse.linalg
from sklearn.utils._param_validation import InvalidParameterError

torch = pytest.importorskip("torch")

from _hessian_cases import LOSS, _top_dense  # noqa: E402

from featurizers.hessian import _deflated as deflated_module  # noqa: E402
from featurizers.hessian import _operator as operator_module  # noqa: E402
from featurizers.hessian import (  # noqa: E402
    HessianOperator,
    hutchinson_trace,
    trace_and_top_eigenvalue,
)

# torch.func.hessian (the dense reference) loads TorchScript decompositions internally.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)


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
    matvec = operator_module._torch_matvec(A)[0]
    generator = torch.Generator().manual_seed(seed)
    steps, T, beta, theta, residual = deflated_module._lanczos(
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
    matvec = operator_module._torch_matvec(A)[0]
    generator = torch.Generator().manual_seed(3)
    QR = torch.cat([torch.from_numpy(Q.T), residual[None]])
    # 6 probes: two blocks of _DEFLATED_PROBE_BLOCK = 4
    samples = deflated_module._deflated_samples(matvec, QR, T, 6, generator)
    P = np.eye(80) - Q @ Q.T
    for sample, g in zip(samples, _replayed_probes(3, 80, len(samples)), strict=True):
        assert set(g) == {-1.0, 1.0}
        g = P @ g
        assert sample == pytest.approx(g @ A @ g, rel=1e-10)


# ------------------------------------------------- the probes' stopping rule
def _spike_and_broad_bulk(n=400, seed=0):
    """One top eigenvalue, then a long slope into a bulk, as in the ResNet's Hessian.

    Lanczos's own rule runs to its last step on it (every step still removes more
    than 1% of the squared Frobenius norm removed so far), though the remainder's
    trace is spread over about 170 eigenvalues and no 24 steps can shrink it much.
    """
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eigvals = np.r_[12.0, np.linspace(4.0, 1.0, 40), rng.uniform(0.1, 0.5, n - 41)]
    return (U * eigvals) @ U.T, eigvals


class _RecordingStop(deflated_module._ProbeStop):
    """A _ProbeStop that keeps each step's statistics of the remainder."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.record = []

    def _remainder(self, T, rho, sigma, r2):
        samples, frobenius = super()._remainder(T, rho, sigma, r2)
        self.record.append((samples, frobenius))
        return samples, frobenius


@pytest.mark.parametrize("matrix", [_outliers_and_bulk, _spike_and_broad_bulk])
def test_probe_stop_sees_the_remainders_trace_and_frobenius_norm(matrix):
    # At every step, without a product: each kept probe's g^T R g and ||R g||^2,
    # R = (I - P) A (I - P), equal the explicit projections of the dense matrix.
    A, _ = matrix(n=150)
    n = len(A)
    matvec = operator_module._torch_matvec(A)[0]
    monitor = _RecordingStop(matvec, n, 4, 12, torch.float64, torch.device("cpu"))
    Q = torch.empty((12, n), dtype=torch.float64)
    steps, _, _, _, _ = deflated_module._lanczos(
        matvec, Q, 0.0, 0.0, torch.Generator().manual_seed(0), monitor
    )
    assert steps == len(monitor.record) == 12
    G = monitor.G.numpy()
    for m, (samples, frobenius) in enumerate(monitor.record, start=1):
        basis = Q[:m].numpy().T
        P = np.eye(n) - basis @ basis.T
        R = P @ A @ P
        np.testing.assert_allclose(samples, np.einsum("bi,ij,bj->b", G, R, G), rtol=1e-9)
        np.testing.assert_allclose(frobenius, np.sum((G @ R) ** 2, axis=1), rtol=1e-8)


def _old_rule(A, n_probes, seed):
    """Lanczos's own rule, then the probes: the estimator without the probes' rule."""
    matvec, n, dtype, device = operator_module._torch_matvec(A)
    rng = np.random.RandomState(seed)
    generator = torch.Generator().manual_seed(deflated_module._torch_seed(rng))
    QR = torch.empty((25, n), dtype=dtype)
    steps, T, _, theta, residual = deflated_module._lanczos(matvec, QR[:24], 1e-3, 1e-2, generator)
    QR[steps] = residual
    samples = deflated_module._deflated_samples(matvec, QR[: steps + 1], T, n_probes, generator)
    return float(np.trace(T)), samples, theta, steps


@pytest.mark.parametrize("n_probes", [4, 6, 9])
def test_probe_stop_changes_nothing_where_the_outliers_hold_the_remainder(n_probes):
    # The CNN's and the MLP's case: the remainder is in a few outliers until they
    # are in the basis, and the probes never stop Lanczos. The samples, the
    # eigenvalue and the steps are the estimator's without the rule, bit for bit
    # (same random numbers), for any number of probes past the rule's 4.
    A, _ = _outliers_and_bulk()
    for seed in range(5):
        trace_basis, samples, theta, steps, bases = deflated_module._lanczos_deflated(
            A, n_probes, 24, 1e-3, 1e-2, np.random.RandomState(seed)
        )
        old_basis, old_samples, old_theta, old_steps = _old_rule(A, n_probes, seed)
        assert (trace_basis, theta, steps) == (old_basis, old_theta, old_steps)
        np.testing.assert_array_equal(samples, old_samples)
        np.testing.assert_array_equal(bases, steps)
        se = deflated_module._standard_error(samples, bases)
        assert se == np.std(old_samples, ddof=1) / np.sqrt(n_probes)


@pytest.mark.parametrize(
    "spread_factor, n_probes",
    [(None, 4), (None, 6), (5.0, 4)],
    ids=["default", "6 probes", "borderline"],
)
def test_probe_stop_stops_a_broad_bulk_early_and_stays_unbiased(
    spread_factor, n_probes, monkeypatch
):
    # The ResNet's case: past the top eigenvalue, Lanczos's steps hardly shrink a
    # broad bulk. The probes stop it once the eigenvalue has converged; each half
    # is taken on the basis the other half chose, so the estimate stays unbiased,
    # and its variance estimate (pooled within the halves) matches the spread.
    # With the spread threshold moved to about the remainder's own spread, the
    # halves' noisy estimates often disagree: still no bias.
    if spread_factor is not None:
        monkeypatch.setattr(deflated_module, "_SPREAD_FACTOR", spread_factor)
    A, eigvals = _spike_and_broad_bulk()
    runs, split = [], 0
    for seed in range(300):
        trace_basis, samples, theta, steps, bases = deflated_module._lanczos_deflated(
            A, n_probes, 24, 1e-3, 1e-2, np.random.RandomState(seed)
        )
        assert theta == pytest.approx(12.0, rel=1e-3)
        se = deflated_module._standard_error(samples, bases)
        runs.append((trace_basis + samples.mean(), se**2, steps))
        # each half on one basis, the further probes on the final one; the half
        # that stopped last ended Lanczos
        assert len(set(bases[:2])) == len(set(bases[2:4])) == 1
        assert max(bases[:4]) == steps and set(bases[4:]) <= {steps}
        split += bases[0] != bases[2]
    estimates, variances, steps = map(np.array, zip(*runs, strict=True))
    assert _old_rule(A, 4, 0)[3] == 24  # Lanczos's rule alone: every step
    if spread_factor is None:
        assert steps.mean() < 8
    else:
        assert split > 100  # the halves stopped at different steps
        assert 8 < steps.mean() < 24
    spread = estimates.std(ddof=1)
    assert abs(estimates.mean() - eigvals.sum()) < 3 * spread / math.sqrt(len(runs))
    assert math.sqrt(variances.mean()) == pytest.approx(spread, rel=0.15)


def test_grouped_variance():
    values = np.array([1.0, 2.0, 4.0, 7.0])
    same = deflated_module._grouped_variance(values, np.zeros(4))
    assert same == pytest.approx(np.var(values, ddof=1) / 4)
    two = deflated_module._grouped_variance(values, np.array([3, 3, 5, 5]))
    assert two == pytest.approx((2 * 0.5 + 2 * 4.5) / 16)
    # a group of one borrows the pooled variance of the others
    three = deflated_module._grouped_variance(values, np.array([3, 3, 3, 5]))
    pooled = np.var(values[:3], ddof=1)
    assert three == pytest.approx((3 * pooled + pooled) / 16)
    assert math.isnan(deflated_module._grouped_variance(values[:2], np.array([1, 2])))


def test_trace_and_top_eigenvalue_is_exact_when_the_budget_covers_n(case):
    H, op = case["H"], case["op"]
    trace, top = trace_and_top_eigenvalue(
        op, n_probes=op.n_parameters - 24, random_state=0
    )
    assert trace == pytest.approx(np.trace(H), rel=1e-10)
    assert top == pytest.approx(_top_dense(H), rel=1e-10)


def test_trace_and_top_eigenvalue_top_eigenvalue(case):
    expected = _top_dense(case["H"])
    _, top = trace_and_top_eigenvalue(
        case["op"], n_probes=1, max_lanczos_steps=20, random_state=0
    )
    assert abs(top - expected) <= 1e-4 * abs(expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_probes": 4, "max_lanczos_steps": 4, "tol": 0.0},  # a fixed basis size
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
        trace_basis, samples, _, steps, _ = deflated_module._lanczos_deflated(
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
    trace, top = trace_and_top_eigenvalue(A, n_probes=4, max_lanczos_steps=8, tol=0.0)
    eigvals = np.linalg.eigvalsh(A)
    assert trace == pytest.approx(np.trace(A), rel=1e-8)
    assert top == pytest.approx(eigvals[np.argmax(np.abs(eigvals))], rel=1e-8)
    assert top < 0


def test_trace_and_top_eigenvalue_float32_operator_keeps_its_dtype(case, monkeypatch):
    model32 = copy.deepcopy(case["model"]).float()
    op32 = HessianOperator(model32, LOSS, case["x"].float(), case["y"])
    assert op32.dtype == torch.float32
    dtypes = []
    lanczos = deflated_module._lanczos

    def spy(matvec, Q, *args):
        dtypes.append(Q.dtype)
        return lanczos(matvec, Q, *args)

    monkeypatch.setattr(deflated_module, "_lanczos", spy)
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
    QR = torch.empty((11, op32.n_parameters), dtype=torch.float32)
    steps, T, _, _, residual = deflated_module._lanczos(
        op32.matvec, QR[:10], 1e-3, 1e-2, torch.Generator().manual_seed(0)
    )
    QR[steps] = residual
    generator = torch.Generator().manual_seed(1)
    samples = deflated_module._deflated_samples(op32.matvec, QR[: steps + 1], T, 6, generator)
    Q = QR[:steps].double().numpy().T
    np.testing.assert_allclose(Q.T @ Q, np.eye(steps), atol=1e-5)
    P = np.eye(len(H)) - Q @ Q.T
    probes = _replayed_probes(1, op32.n_parameters, len(samples))
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
        trace_basis, samples, top, taken, _ = deflated_module._lanczos_deflated(
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
        ({"n_probes": 0}, "'n_probes' parameter"),
        ({"max_lanczos_steps": 0}, "'max_lanczos_steps' parameter"),
        ({"tol": -1.0}, "'tol' parameter"),
        ({"deflation_tol": 1.5}, "'deflation_tol' parameter"),
    ],
)
def test_trace_and_top_eigenvalue_bad_arguments(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        trace_and_top_eigenvalue(np.eye(50), **kwargs)


# ------------------------------------------------ estimators of the remainder
def _indefinite_outliers_and_bulk(n=300, seed=0):
    """Outliers of both signs and a bulk around 0 with negative eigenvalues."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eigvals = np.r_[40.0, -15.0, np.linspace(8.0, 2.0, 6), rng.normal(0.3, 0.6, n - 8)]
    return (U * eigvals) @ U.T, eigvals


REMAINDER_CASES = {
    "outliers and bulk": _outliers_and_bulk,
    "spike and broad bulk": _spike_and_broad_bulk,
    "indefinite": _indefinite_outliers_and_bulk,
}


@pytest.mark.parametrize("case", sorted(REMAINDER_CASES))
def test_remainder_terms_of_hutchinson_are_the_default_samples(case):
    # The probes' Gram matrices on every basis (the probes' rule splits them on the
    # spike and broad bulk) give back the default samples, probe for probe.
    A, eigvals = REMAINDER_CASES[case]()
    split = 0
    for seed in range(20):
        trace_basis, results, theta, steps, _ = deflated_module._lanczos_deflated(
            A, 6, 24, 1e-3, 1e-2, np.random.RandomState(seed), deflated_module._REMAINDERS
        )
        expected = deflated_module._lanczos_deflated(
            A, 6, 24, 1e-3, 1e-2, np.random.RandomState(seed)
        )
        assert trace_basis == expected[0] and theta == expected[2] and steps == expected[3]
        samples, bases = results["hutchinson"]
        np.testing.assert_allclose(samples, expected[1], rtol=1e-9,
                                   atol=1e-9 * abs(eigvals.sum()))
        np.testing.assert_array_equal(bases, expected[4])
        split += len(set(bases)) > 1
        # hutchpp: a term for each odd-numbered probe, on its basis
        np.testing.assert_array_equal(results["hutchpp"][1], bases[1::2])
        assert len(results["xnystrace"][0]) == 6
    if case == "spike and broad bulk":
        assert split > 0


@pytest.mark.parametrize("remainder", ["hutchinson", "hutchpp", "xnystrace"])
@pytest.mark.parametrize("case", sorted(REMAINDER_CASES))
def test_remainder_estimators_are_unbiased_with_a_calibrated_se(case, remainder):
    # Over many seeds on a fixed matrix: the mean within 3 standard errors of the
    # truth, and the standard error each run reports (root mean square over the
    # runs) close to the spread of the estimates.
    A, eigvals = REMAINDER_CASES[case]()
    estimates, ses = [], []
    for seed in range(300):
        trace, _, se = trace_and_top_eigenvalue(
            A, n_probes=6, random_state=seed, return_se=True, remainder=remainder
        )
        estimates.append(trace)
        ses.append(se)
    estimates = np.array(estimates)
    spread = estimates.std(ddof=1)
    assert abs(estimates.mean() - eigvals.sum()) < 3 * spread / math.sqrt(len(estimates))
    assert math.sqrt(np.mean(np.square(ses))) == pytest.approx(spread, rel=0.25)


def test_xnystrace_beats_hutchinson_where_the_remainder_keeps_outliers():
    # A remainder still holding a few dominant eigenvalues (Lanczos stopped early):
    # the Nystrom approximation from the other probes removes them.
    A, eigvals = _outliers_and_bulk(k=9)
    errors = {"hutchinson": [], "xnystrace": []}
    for seed in range(100):
        for remainder in errors:
            trace, _ = trace_and_top_eigenvalue(
                A, n_probes=8, max_lanczos_steps=4, deflation_tol=0.0, random_state=seed,
                remainder=remainder,
            )
            errors[remainder].append(trace - eigvals.sum())
    rms = {name: math.sqrt(np.mean(np.square(e))) for name, e in errors.items()}
    assert rms["xnystrace"] < 0.8 * rms["hutchinson"]


def test_remainder_is_validated():
    with pytest.raises(InvalidParameterError, match="remainder"):
        trace_and_top_eigenvalue(np.eye(50), remainder="xtrace")


# ------------------------------------------- broad bulk: probes for the steps saved
@pytest.mark.parametrize(
    "spread_factor, n_probes, bulk_probes",
    [(None, 6, 10), (None, 4, 7), (5.0, 6, 10)],
    ids=["default", "4 probes", "borderline"],
)
def test_bulk_probes_are_unbiased_with_a_calibrated_se(
    spread_factor, n_probes, bulk_probes, monkeypatch
):
    # Where the probes stop Lanczos on a broad bulk, bulk_probes - n_probes more
    # probes are drawn on the final basis. Over many seeds: the mean within 3
    # standard errors of the truth, the reported SE within 15% of the spread, and
    # lower than without the extra probes where the rule fires. At the borderline
    # spread threshold the halves often disagree: one stops, the other not, and
    # the weights differ.
    if spread_factor is not None:
        monkeypatch.setattr(deflated_module, "_SPREAD_FACTOR", spread_factor)
    A, eigvals = _spike_and_broad_bulk()
    with_bulk, without, ses, weighted = [], [], [], 0
    for seed in range(200):
        trace_basis, samples, _, steps, bases = deflated_module._lanczos_deflated(
            A, n_probes, 24, 1e-3, 1e-2, np.random.RandomState(seed), bulk_probes=bulk_probes
        )
        with_bulk.append(trace_basis + samples.mean())
        ses.append(deflated_module._standard_error(samples, bases))
        if spread_factor is not None and seed >= 60:
            continue  # the comparison with the plain estimator on the first seeds only
        plain = deflated_module._lanczos_deflated(
            A, n_probes, 24, 1e-3, 1e-2, np.random.RandomState(seed)
        )
        assert steps == plain[3] and trace_basis == plain[0]
        np.testing.assert_array_equal(bases[:4], plain[4][:4])
        if len(samples) == n_probes:  # no half stopped: nothing changes
            np.testing.assert_array_equal(samples, plain[1])
        else:
            # the same first probes, then the further ones on the final basis;
            # reweighted only when one half stopped and the other did not
            assert len(samples) == bulk_probes and set(bases[4:]) == {steps}
            weighted += not np.allclose(samples[:n_probes], plain[1], rtol=1e-9)
        without.append(plain[0] + plain[1].mean())
    with_bulk, without = np.array(with_bulk), np.array(without)
    spread = with_bulk.std(ddof=1)
    assert abs(with_bulk.mean() - eigvals.sum()) < 3 * spread / math.sqrt(len(with_bulk))
    assert math.sqrt(np.mean(np.square(ses))) == pytest.approx(spread, rel=0.15)
    if spread_factor is None:  # the rule fires nearly always: the extra probes pay
        assert spread < 0.9 * without.std(ddof=1)
    else:
        assert weighted > 5


def test_bulk_probes_change_nothing_where_the_rule_does_not_fire():
    # The MLP's and the CNN's case: the outliers hold the remainder, the probes
    # never stop Lanczos, and the results with bulk_probes are those without,
    # bit for bit (trace, eigenvalue and standard error).
    A, _ = _outliers_and_bulk()
    for seed in range(5):
        default = trace_and_top_eigenvalue(A, random_state=seed, return_se=True)
        bulk = trace_and_top_eigenvalue(A, random_state=seed, return_se=True, bulk_probes=10)
        fewer = trace_and_top_eigenvalue(A, random_state=seed, return_se=True, bulk_probes=3)
        assert default == bulk == fewer


def test_bulk_probes_leave_the_exact_dense_case_alone():
    # The dense fallback depends on max_lanczos_steps + n_probes only.
    A, eigvals = _outliers_and_bulk(n=40)
    for bulk_probes in (None, 10, 30):
        trace, top, se = trace_and_top_eigenvalue(
            A, n_probes=16, random_state=0, return_se=True, bulk_probes=bulk_probes
        )
        assert trace == pytest.approx(eigvals.sum(), rel=1e-12)
        assert top == pytest.approx(60.0, rel=1e-12) and se == 0.0


def test_bulk_weights_depend_only_on_the_other_half():
    # One of n_probes + extra when the other half stopped, one of n_probes when
    # not; the probes drawn after Lanczos share the rest; the weights sum to 1.
    class Monitor:
        G = np.zeros((4, 1))
        halves = (np.arange(2), np.arange(2, 4))

    monitor = Monitor()
    monitor.stops = [7, None]  # the first half stopped, the second did not
    weights = deflated_module._bulk_weights(monitor, 6, 4)
    np.testing.assert_allclose(weights[:4], [1 / 6, 1 / 6, 1 / 10, 1 / 10])
    np.testing.assert_allclose(weights[4:], (1 - 2 / 6 - 2 / 10) / 6)
    assert len(weights) == 10 and weights.sum() == pytest.approx(1.0)
    monitor.stops = [7, 9]
    np.testing.assert_allclose(deflated_module._bulk_weights(monitor, 6, 4), 1 / 10)


def test_bulk_probes_is_validated():
    with pytest.raises(InvalidParameterError, match="'bulk_probes' parameter"):
        trace_and_top_eigenvalue(np.eye(50), bulk_probes=0)
