"""Tests of top_eigenvalues and the stochastic Lanczos quadrature density against dense Hessians."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

torch = pytest.importorskip("torch")

from _hessian_cases import LOSS  # noqa: E402

from featurizers.hessian import (  # noqa: E402
    density_on_grid,
    hessian_spectral_density,
    hessian_top_eigenvalues,
    hutchinson_trace,
    spectral_density,
    spectral_moments,
    top_eigenvalues,
)
from featurizers.hessian._operator import _rademacher  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)


def _by_magnitude(eigvals):
    return eigvals[np.argsort(-np.abs(eigvals), kind="stable")]


# ------------------------------------------------------------- top k eigenvalues
@pytest.mark.parametrize("which", ["LM", "LA"])
def test_top_eigenvalues_exact(case, which):
    H = case["H"]
    eigvals = np.linalg.eigvalsh(H)
    expected = _by_magnitude(eigvals)[:4] if which == "LM" else eigvals[::-1][:4]
    got, se = top_eigenvalues(
        case["op"], k=4, which=which, tol=1e-12, max_steps=len(H), random_state=0,
        return_se=True,
    )
    scale = np.max(np.abs(eigvals))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8 * scale)
    assert np.all(np.abs(got - expected) <= se + 1e-10 * scale)


def test_top_eigenvalues_default_budget_converges(case):
    """Within the default 30 steps (fewer than n) the top 3 reach tol, bounds hold."""
    H = case["H"]
    expected = _by_magnitude(np.linalg.eigvalsh(H))[:3]
    got, vectors, se = top_eigenvalues(
        case["op"], k=3, tol=1e-7, random_state=1, return_eigenvectors=True, return_se=True
    )
    assert len(H) > 30
    scale = abs(expected[0])
    assert np.all(se <= 1e-7 * scale)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8 * scale)
    # Ritz vectors: orthonormal, and their residuals are the reported bounds.
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(3), atol=1e-10)
    residuals = np.linalg.norm(H @ vectors - vectors * got, axis=0)
    np.testing.assert_allclose(residuals, se, rtol=1e-3, atol=1e-10 * scale)


def test_top_eigenvalues_bound_covers_truth_on_short_runs():
    """A residual bound is rigorous: some eigenvalue lies within it, every seed."""
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((120, 120)))
    lam = np.r_[10.0, 9.5, -8.0, 6.0, rng.uniform(-1.0, 2.0, 116)]
    A = (U * lam) @ U.T
    covered = []
    for seed in range(20):
        with pytest.warns(ConvergenceWarning):
            got, se = top_eigenvalues(A, k=3, tol=1e-12, max_steps=8, random_state=seed,
                                      return_se=True)
        nearest = np.min(np.abs(got[:, None] - lam[None, :]), axis=1)
        covered.append(np.all(nearest <= se * (1 + 1e-8) + 1e-12))
        assert np.max(se) > 1e-6  # a noisy estimate, not converged
    assert all(covered)


def test_top_eigenvalues_errors():
    with pytest.raises(ValueError, match="at most n=3"):
        top_eigenvalues(np.eye(3), k=4)
    with pytest.raises(ValueError, match="invariant subspace"):
        top_eigenvalues(np.eye(5), k=2, random_state=0)


def test_hessian_top_eigenvalues_model(case):
    model = case["model"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    got = hessian_top_eigenvalues(model, LOSS, case["x"], case["y"], k=2, tol=1e-10,
                                  max_steps=len(case["H"]), random_state=0)
    expected = _by_magnitude(np.linalg.eigvalsh(case["H"]))[:2]
    np.testing.assert_allclose(got, expected, rtol=1e-8)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


# --------------------------------------------------- stochastic Lanczos quadrature
def test_density_quadrature_exact(case):
    """n_steps >= n: per probe, the moments are q^T H^p q and the nodes eigenvalues."""
    H, n = case["H"], len(case["H"])
    density = spectral_density(case["op"], n_probes=3, n_steps=n, random_state=0)
    rs = check_random_state(0)
    eigvals = np.linalg.eigvalsh(H)
    scale = np.max(np.abs(eigvals))
    for nodes, weights in zip(density.nodes, density.weights, strict=True):
        q = _rademacher(rs, n) / np.sqrt(n)
        assert abs(weights.sum() - 1) < 1e-12
        Hp_q = q.copy()
        for p in range(1, 6):
            Hp_q = H @ Hp_q
            exact = q @ Hp_q
            np.testing.assert_allclose(np.sum(weights * nodes**p), exact,
                                       rtol=1e-8, atol=1e-12 * scale**p)
        seen = nodes[weights > 1e-8]
        assert np.min(np.abs(seen[:, None] - eigvals[None, :]), axis=1).max() <= 1e-8 * scale


def test_density_trace_is_hutchinson(case):
    density = spectral_density(case["op"], n_probes=5, n_steps=7, random_state=3)
    expected = hutchinson_trace(case["op"], 5, random_state=3)
    assert abs(density.trace - expected) <= 1e-10 * abs(expected)
    mean, se = spectral_moments(density, orders=(1,))
    n = density.n_parameters
    assert abs(n * mean[0] - density.trace) <= 1e-10 * abs(expected)
    assert abs(n * se[0] - density.trace_se) <= 1e-10 * abs(expected)
    assert density.n_matvecs == 35


def test_density_moments_se_covers_truth(case):
    """Seeded: the moments' standard errors cover the exact moments most of the time."""
    H, n = case["H"], len(case["H"])
    eigvals = np.linalg.eigvalsh(H)
    orders = (1, 2, 3)
    exact = np.array([np.mean(eigvals**p) for p in orders])
    hits = []
    for seed in range(40):
        density = spectral_density(case["op"], n_probes=5, n_steps=4, random_state=seed)
        mean, se = spectral_moments(density, orders)
        hits.append(np.abs(mean - exact) <= 2 * se)
    coverage = np.mean(hits, axis=0)
    # 2 SE from 5 probes (t with 4 dof): about 88% expected.
    assert np.all(coverage >= 0.7), coverage


def test_density_on_grid():
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((60, 60)))
    lam = np.r_[5.0, rng.uniform(0, 1, 59)]
    A = (U * lam) @ U.T
    density = spectral_density(A, n_probes=4, n_steps=20, random_state=0)
    grid, _, _ = density_on_grid(density.nodes, density.weights)  # PyHessian's defaults
    assert len(grid) == 1000 and grid[0] < density.nodes[0].min() and grid[-1] > 5
    grid, values, se = density_on_grid(density.nodes, density.weights,
                                       np.linspace(-1, 6, 4000), bandwidth=0.05)
    assert abs(np.trapezoid(values, grid) - 1) < 1e-6  # each probe's density integrates to 1
    # by hand at one point
    x = grid[1234]
    per_probe = [np.sum(w * np.exp(-0.5 * ((x - t) / 0.05) ** 2)) / (0.05 * np.sqrt(2 * np.pi))
                 for t, w in zip(density.nodes, density.weights)]
    np.testing.assert_allclose(values[1234], np.mean(per_probe), rtol=1e-12)
    np.testing.assert_allclose(se[1234], np.std(per_probe, ddof=1) / 2, rtol=1e-10)
    _, _, se1 = density_on_grid(density.nodes[:1], density.weights[:1])
    assert np.all(np.isnan(se1))


def test_hessian_spectral_density_model(case):
    density = hessian_spectral_density(case["model"], LOSS, case["x"], case["y"],
                                       n_probes=2, n_steps=5, random_state=0)
    expected = spectral_density(case["op"], n_probes=2, n_steps=5, random_state=0)
    for a, b in zip(density.nodes, expected.nodes, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


# ------------------------------------------------------------- the real PyHessian
@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True:UserWarning")
def test_top_eigenvalues_match_pyhessian(case):
    """PyHessian's eigenvalues(top_n): the same quantities (largest magnitude) as ours."""
    import copy

    pyhessian = pytest.importorskip("pyhessian")
    model = copy.deepcopy(case["model"]).eval()
    torch.manual_seed(0)
    h = pyhessian.hessian(model, LOSS, data=(case["x"], case["y"]), cuda=False)
    theirs, _ = h.eigenvalues(maxIter=2000, tol=1e-9, top_n=2)
    ours = top_eigenvalues(case["op"], k=2, tol=1e-10, random_state=0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)  # power iteration's accuracy
    # PyHessian 0.1's density() calls torch.eig, removed from torch 2: not comparable here.


def test_density_trace_agrees_with_the_trace_estimators(case):
    from featurizers.hessian import trace_and_top_eigenvalue

    exact = np.trace(case["H"])
    density = spectral_density(case["op"], n_probes=30, n_steps=3, random_state=0)
    trace, _, se = trace_and_top_eigenvalue(case["op"], n_probes=6, max_lanczos_steps=10,
                                            random_state=0, return_se=True)
    assert abs(density.trace - exact) <= 3 * density.trace_se
    assert abs(density.trace - trace) <= 3 * np.hypot(density.trace_se, se)
