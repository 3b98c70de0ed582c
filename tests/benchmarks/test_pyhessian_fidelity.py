"""featurizers.hessian.pyhessian_trace and the benchmark's replay against the real PyHessian.

Both must reproduce ``pyhessian.hessian.trace`` (PyHessian 0.1) sample for sample on the
same probes: same number of probes, same estimate (the mean of the package's samples).
The package draws its Rademacher probes with ``torch.randint_like`` per parameter from
torch's global generator; the tests draw the same probes again from the same seed and
hand them to ours. float64 models, so that both sides' samples agree to rounding.
"""

import copy
import sys

import numpy as np
import pytest
from _helpers import import_benchmark

torch = pytest.importorskip("torch")
pyhessian = pytest.importorskip(
    "pyhessian",
    reason="the real PyHessian is not installed (the 'pyhessian' extra: pip install -e '.[all]')",
)

from featurizers.hessian import HessianOperator, pyhessian_trace  # noqa: E402

# The package's constructor calls loss.backward(create_graph=True), which torch warns about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Using backward\\(\\) with create_graph=True:UserWarning"
)


@pytest.fixture(scope="module")
def bench():
    return import_benchmark("bench_hessian")


def _negative_trace_case():
    """The issue's case: Linear(20, 3) with the loss -(out**2).mean(), a negative trace."""
    torch.manual_seed(0)
    model = torch.nn.Linear(20, 3).double()
    x = torch.randn(16, 20, dtype=torch.float64)
    y = torch.zeros(16, dtype=torch.long)
    return model, (lambda out, target: -(out**2).mean()), x, y


def _psd_case():
    """Linear(20, 3) with the squared error: a positive semi-definite Hessian."""
    torch.manual_seed(2)
    model = torch.nn.Linear(20, 3).double()
    x = torch.randn(16, 20, dtype=torch.float64)
    y = torch.randn(16, 3, dtype=torch.float64)
    return model, torch.nn.MSELoss(), x, y


def _mixed_case():
    """A small tanh MLP with cross-entropy: trace 1.93, samples of both signs."""
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)
    ).double()
    x = torch.randn(32, 6, dtype=torch.float64)
    y = torch.randint(0, 3, (32,))
    return model, torch.nn.CrossEntropyLoss(), x, y


CASES = {"negative trace": _negative_trace_case, "PSD": _psd_case, "mixed signs": _mixed_case}


def _package_samples(model, loss_fn, x, y, seed, **kwargs):
    """``hessian(...).trace(**kwargs)`` of the real package on a copy, from torch seed ``seed``."""
    torch.manual_seed(seed)
    hessian = pyhessian.hessian(copy.deepcopy(model), loss_fn, data=(x, y), cuda=False)
    torch.manual_seed(seed)  # the constructor draws nothing, but be explicit
    return hessian.trace(**kwargs)


def _package_probes(model, seed):
    """The package's probes from torch seed ``seed``, flat, in parameter order, as float64."""
    torch.manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]

    def draw(rng, n):
        v = [torch.randint_like(p, high=2) for p in params]
        for v_i in v:
            v_i[v_i == 0] = -1
        flat = torch.cat([v_i.reshape(-1) for v_i in v]).double().numpy()
        assert flat.shape == (n,)
        return flat

    return draw


def _our_estimate(model, loss_fn, x, y, seed, monkeypatch, **kwargs):
    """``pyhessian_trace`` on the package's probes; returns (estimate, probes drawn)."""
    module = sys.modules[pyhessian_trace.__module__]
    draw = _package_probes(model, seed)
    calls = []
    monkeypatch.setattr(module, "_rademacher", lambda rng, n: calls.append(1) or draw(rng, n))
    op = HessianOperator(model, loss_fn, x, y)
    return pyhessian_trace(op, random_state=0, **kwargs), len(calls)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("seed", range(5))
def test_pyhessian_trace_is_the_package_sample_for_sample(case, seed, monkeypatch):
    model, loss_fn, x, y = CASES[case]()
    samples = _package_samples(model, loss_fn, x, y, seed)
    estimate, count = _our_estimate(model, loss_fn, x, y, seed, monkeypatch)
    assert count == len(samples)
    assert estimate == pytest.approx(np.mean(samples), rel=1e-10, abs=1e-12)
    if case == "negative trace" or samples[0] < 0:
        # The package's denominator (trace + 1e-6) has no absolute value: a negative
        # running mean stops the rule at the second probe.
        assert count == 2
    if case == "PSD":
        assert count > 2


@pytest.mark.parametrize("kwargs", [{"max_iter": 3}, {"tol": 0.1}, {"max_iter": 50, "tol": 1e-4}])
def test_pyhessian_trace_options_are_the_package(kwargs, monkeypatch):
    model, loss_fn, x, y = _mixed_case()
    package = {"maxIter": kwargs.get("max_iter", 100), "tol": kwargs.get("tol", 1e-3)}
    samples = _package_samples(model, loss_fn, x, y, 3, **package)
    estimate, count = _our_estimate(model, loss_fn, x, y, 3, monkeypatch, **kwargs)
    assert count == len(samples)
    assert estimate == pytest.approx(np.mean(samples), rel=1e-10)


@pytest.mark.parametrize("case", sorted(CASES))
def test_benchmark_replay_is_the_package_on_the_same_samples(case, bench):
    # The benchmark measures the variance of the package's rule by replaying it on
    # draws from a pool of samples; the replay of one sequence of samples must stop
    # where the package stops on the probes that gave those samples, with its mean.
    model, loss_fn, x, y = CASES[case]()
    op = HessianOperator(model, loss_fn, x, y).to_linear_operator()
    rows, counts, estimates = [], [], []
    n = op.shape[0]
    for seed in range(5):
        draw = _package_probes(model, seed)
        rows.append([float(v @ op.matvec(v)) for v in (draw(None, n) for _ in range(60))])
        samples = _package_samples(model, loss_fn, x, y, seed)
        assert len(samples) < 60  # the package stopped within the row
        np.testing.assert_allclose(rows[-1][: len(samples)], samples, rtol=1e-10)
        counts.append(len(samples))
        estimates.append(np.mean(samples))
    got_estimates, got_counts = bench.pyhessian_rule(np.array(rows))
    np.testing.assert_array_equal(got_counts, counts)
    np.testing.assert_allclose(got_estimates, estimates, rtol=1e-12)
