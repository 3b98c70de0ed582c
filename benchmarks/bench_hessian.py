"""Benchmark of featurizers.hessian against a PyHessian-style baseline.

Four measurements, printed as markdown::

    python -m benchmarks.bench_hessian            # about 45 minutes on one CPU core
    python -m benchmarks.bench_hessian --quick    # about a minute
    python -m benchmarks.bench_hessian --sections 2 --models "small CNN"
    python -m benchmarks.bench_hessian --output results.md

1. Cost of one Hessian-vector product relative to one gradient pass (forward and
   backward), for an MLP, a small CNN and a CIFAR-style ResNet-18 of width 8 on 200
   random 3x32x32 images, ours (:class:`featurizers.hessian.HessianOperator`) and
   the baseline (:mod:`benchmarks._pyhessian_baseline`).
2. Whole Hessian features (trace + top eigenvalue) per model: ours with the default
   :func:`featurizers.hessian.trace_and_top_eigenvalue` (one Lanczos run for the
   eigenvalue, its basis deflating a Hutchinson trace estimate) and other budgets
   of it, XTrace with 100 products and Lanczos (the low-variance option), and the
   Rayleigh-Ritz value of XTrace's basis in place of Lanczos, against the baseline
   (Hutchinson with PyHessian's adaptive rule, power iteration): time, relative
   standard deviation of the trace (over seeds, and precisely: from the probes of
   each run for ours, from replays of the adaptive rule on a pool of Hutchinson
   samples for the baseline) and relative error of the top eigenvalue.
3. Relative standard deviation of Hutchinson-100, PyHessian's adaptive rule and
   XTrace-100 on a tiny trained CNN with BatchNorm whose exact trace is computed:
   the measurement behind the default of :func:`featurizers.hessian.hessian_trace`.
4. What the Krylov basis of Lanczos removes, step by step: the per-probe relative
   standard deviation of the deflated remainder, the share of the trace in the
   basis and the error of the top Ritz value against the number of Lanczos steps,
   beside the top eigenvalues: why the deflated estimator runs Lanczos past its
   eigenvalue.

Timings are medians (and, in section 2, means) of repeated runs, the functions
compared called in turn so that the load of other processes on the machine hits them
alike. The baseline's cost varies with its data-dependent stopping (from 3 to over
60 products on one model), so section 2 reports the ratio of mean times (the cost of
featurizing many models) beside the ratio of medians, and counts a goal as met only
when both are.
"""

import argparse
import functools
import math
import statistics
import sys
import time

import numpy as np
import scipy.sparse.linalg
import scipy.stats
import torch
from scipy.sparse.linalg import LinearOperator

from benchmarks._pyhessian_baseline import PyHessianBaseline
from featurizers.hessian import (
    HessianOperator,
    _lanczos,
    _lanczos_deflated,
    _xtrace,
    hutchinson_trace,
    pyhessian_trace,
    top_eigenvalue,
    xtrace,
)

LOSS = torch.nn.CrossEntropyLoss()


# ----------------------------------------------------------------------- models
def mlp():
    """MLP 3072-256-128-10 (819k parameters)."""
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(3 * 32 * 32, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )


def _conv_bn_cnn(channels, side):
    """Two conv-BN-ReLU-pool stages of ``channels`` and a linear head, for side x side images."""
    c1, c2 = channels
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, c1, 3, padding=1),
        torch.nn.BatchNorm2d(c1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(c1, c2, 3, padding=1),
        torch.nn.BatchNorm2d(c2),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(c2 * (side // 4) ** 2, 10),
    )


def small_cnn():
    """Two conv-BN-ReLU-pool stages (16, 32 channels) and a linear head."""
    return _conv_bn_cnn((16, 32), 32)


class BasicBlock(torch.nn.Module):
    """ResNet basic block: two 3x3 conv-BN, identity or 1x1 conv-BN shortcut."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(planes)
        self.conv2 = torch.nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(planes)
        self.shortcut = torch.nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = torch.nn.Sequential(
                torch.nn.Conv2d(in_planes, planes, 1, stride, bias=False),
                torch.nn.BatchNorm2d(planes),
            )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet18(torch.nn.Module):
    """CIFAR-style ResNet-18 (3x3 stem, no max-pool) with stage widths w, 2w, 4w, 8w."""

    def __init__(self, width=8, num_classes=10):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(width)
        layers, in_planes = [], width
        for i, stride in enumerate((1, 2, 2, 2)):
            planes = width * 2**i
            layers += [BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1)]
            in_planes = planes
        self.layers = torch.nn.Sequential(*layers)
        self.linear = torch.nn.Linear(in_planes, num_classes)

    def forward(self, x):
        out = self.layers(torch.relu(self.bn1(self.conv1(x))))
        out = torch.nn.functional.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def digits_mlp():
    """MLP 64-512-512-10 for scikit-learn's 8x8 digits (301,066 parameters)."""
    return torch.nn.Sequential(
        torch.nn.Linear(64, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 10),
    )


def tiny_bn_cnn():
    """Tiny CNN with BatchNorm on 3x8x8 inputs (1,170 parameters)."""
    return _conv_bn_cnn((8, 8), 8)


MODELS = {
    "MLP": mlp,
    "small CNN": small_cnn,
    "ResNet-18 (width 8)": ResNet18,
}

# Seeds of section 2 in a full run (about 4, 25 and 170 seconds a seed). The MLP's
# baseline draws 25 to 51 products from seed to seed, so its median time needs
# the most seeds to be stable; they are also the cheapest.
FEATURE_SEEDS = {"MLP": 40, "small CNN": 12, "ResNet-18 (width 8)": 8}


def _num_params(model):
    return sum(p.numel() for p in model.parameters())


def _prepare(build, n_samples, train_steps, seed=0):
    """A model trained for a few Adam steps on random images with random labels.

    Trained networks' Hessians have a few large outlier eigenvalues that untrained
    ones lack; the training also gives BatchNorm running statistics.
    """
    torch.manual_seed(seed)
    model = build()
    x = torch.randn(n_samples, 3, 32, 32)
    y = torch.randint(0, 10, (n_samples,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(train_steps):
        optimizer.zero_grad()
        LOSS(model(x), y).backward()
        optimizer.step()
    for p in model.parameters():
        p.grad = None
    model.eval()
    with torch.no_grad():
        loss = float(LOSS(model(x), y))
    return model, x, y, loss


def _interleaved_medians(fns, repeats, warmup=1):
    """Median time of each function, calling them in turn so that load hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


# ---------------------------------------------------------------- 1. HVP cost
def _hvp_medians(model, x, y, repeats):
    """Median times of a gradient pass and of one product, ours and the baseline's.

    A function of its own so that both operators, and the graphs they hold, are
    freed before the setups are timed.
    """
    params = list(model.parameters())
    op = HessianOperator(model, LOSS, x, y)
    base = PyHessianBaseline(model, LOSS, x, y)
    v_flat = torch.randn(op.num_params)
    v_list = [torch.randn_like(p) for p in base.params]
    return _interleaved_medians(
        {
            "grad": lambda: torch.autograd.grad(LOSS(model(x), y), params),
            "ours": lambda: op.matvec(v_flat),
            "base": lambda: base.hv(v_list),
        },
        repeats,
    )


def bench_hvp(model, x, y, repeats):
    result = _hvp_medians(model, x, y, repeats)
    setup = _interleaved_medians(
        {
            "ours_setup": lambda: HessianOperator(model, LOSS, x, y),
            "base_setup": lambda: PyHessianBaseline(model, LOSS, x, y),
        },
        repeats,
    )
    return {**result, **setup}


# ---------------------------------------------------------- 2. whole features
class _Counted(LinearOperator):
    """A LinearOperator that counts its products."""

    def __init__(self, op):
        super().__init__(dtype=np.float64, shape=op.shape)
        self._op = op
        self.count = 0

    def _matvec(self, x):
        self.count += 1
        return self._op.matvec(x)

    _rmatvec = _matvec


# (num_probes, max_lanczos_steps, deflation_tol) of the deflated estimator: the
# default of trace_and_top_eigenvalue and of LossLandscapeFeaturizer first; twice the
# probes; Lanczos for all of 16 steps; then the earlier option whose Lanczos stopped
# as soon as its eigenvalue had converged (at most 10 steps, 10 probes), before its
# basis held the outlier eigenvectors that carry the variance of the trace.
DEFLATED_BUDGETS = ((4, 24, 1e-2), (8, 24, 1e-2), (4, 16, 0.0), (10, 10, 1.0))
BASELINE = "baseline: adaptive Hutchinson + power"
DEFAULT = "ours (default): deflated, Lanczos <= 24 (deflation_tol 0.01) + 4 probes"


def _deflated_label(probes, steps, deflation_tol):
    if (probes, steps, deflation_tol) == DEFLATED_BUDGETS[0]:
        return DEFAULT
    if deflation_tol == 1.0:
        lanczos = f"Lanczos stopped at its eigenvalue (<= {steps})"
    elif deflation_tol == 0.0:
        lanczos = f"Lanczos {steps}"
    else:
        lanczos = f"Lanczos <= {steps} (deflation_tol {deflation_tol:g})"
    return f"ours: deflated, {lanczos} + {probes} probes"


def pyhessian_rule(draws, max_iter=100, tol=1e-3):
    """PyHessian's adaptive rule (``pyhessian.hessian.trace``, 0.1) on rows of samples.

    Row by row: the samples are taken in order until the running mean ``mean``
    satisfies ``|mean - previous| / (previous + 1e-6) < tol``, ``previous`` the
    running mean before it (0 before the first sample), or ``max_iter`` samples.
    No absolute value in the denominator, as in the package: once the running
    mean is below ``-1e-6`` the rule stops; a zero denominator gives inf or nan, as
    in NumPy, and no stop. ``tests/benchmarks/test_pyhessian_fidelity.py`` checks
    that on the package's own samples this stops where the package does, with its
    mean.

    Returns
    -------
    estimates, counts : ndarray of shape (n_rows,)
        The running mean at stopping and the number of samples taken.
    """
    draws = np.asarray(draws, dtype=float)[:, :max_iter]
    n_rows, width = draws.shape
    means = np.cumsum(draws, axis=1) / np.arange(1, width + 1)
    previous = np.concatenate([np.zeros((n_rows, 1)), means[:, :-1]], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        stop = np.abs(means - previous) / (previous + 1e-6) < tol
    stop[:, -1] = True
    counts = stop.argmax(axis=1) + 1
    return means[np.arange(n_rows), counts - 1], counts


def replay_pyhessian_rule(pool, n_replays, max_iter=100, tol=1e-3, seed=0):
    """Estimates of PyHessian's adaptive rule replayed on a pool of Hutchinson samples.

    Each replay draws samples from ``pool`` with replacement, one at a time, until
    :func:`pyhessian_rule` stops. Their spread is that of the package's trace over
    many seeds, without paying a Hessian-vector product per sample: the rule's
    variance depends on its data-dependent stopping, so it has no closed form, and
    a handful of real seeds measures it poorly.

    Returns
    -------
    estimates, counts : ndarray of shape (n_replays,)
        The running mean at stopping and the number of samples drawn.
    """
    pool = np.asarray(pool, dtype=float)
    rng = np.random.default_rng(seed)
    draws = pool[rng.integers(len(pool), size=(n_replays, max_iter))]
    return pyhessian_rule(draws, max_iter, tol)


def within_run_std(runs, confidence=0.9):
    """Standard deviation of a deflated estimate from the probes of each run.

    Given its Krylov basis ``Q`` the estimate is ``tr(Q^T H Q)`` plus the mean of
    ``p`` independent samples whose expectation is ``tr(H) - tr(Q^T H Q)``: its
    conditional mean is ``tr(H)`` whatever ``Q``, so its variance is the mean over
    runs of the conditional variance, estimated without bias by
    ``var(samples, ddof=1) / p``. Far more precise than the spread of a few runs'
    estimates.

    Returns
    -------
    std, low, high : float
        The estimate and its ``confidence`` interval from the chi-square
        distribution with ``sum(p - 1)`` degrees of freedom (exact for normal
        samples with equal variances; heavier tails make it too narrow).
    """
    std = math.sqrt(np.mean([np.var(r["samples"], ddof=1) / len(r["samples"]) for r in runs]))
    dof = sum(len(r["samples"]) - 1 for r in runs)
    tail = (1 - confidence) / 2
    low, high = (
        std * math.sqrt(dof / scipy.stats.chi2.ppf(q, dof)) for q in (1 - tail, tail)
    )
    return std, low, high


def replayed_std(pool, n_replays, n_boot=200, confidence=0.9, seed=0):
    """Standard deviation of PyHessian's rule on ``pool``, with a bootstrap interval.

    The interval is the percentile interval of the same standard deviation over
    ``n_boot`` pools resampled from ``pool`` (``n_replays // 5`` replays each): the
    error of a pool of a hundred samples, not of the replays, dominates.
    """
    estimates, counts = replay_pyhessian_rule(pool, n_replays, seed=seed)
    rng = np.random.default_rng(seed + 1)
    boot = [
        replay_pyhessian_rule(
            rng.choice(pool, size=len(pool)), n_replays // 5, seed=seed + 2 + b
        )[0].std(ddof=1)
        for b in range(n_boot)
    ]
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(boot, [tail, 100 - tail])
    return estimates.std(ddof=1), low, high, counts.mean()


def bench_features(model, x, y, seeds, budgets=(100,), deflated=DEFLATED_BUDGETS):
    """Per seed: ours (XTrace and Lanczos; the deflated estimator) and the baseline.

    Returns a dict of method name -> list of per-seed dicts (time, trace, eig,
    products for the trace and for the eigenvalue, relative error of the eigenvalue
    against Lanczos at tol 1e-8, computed once per model and not timed; for the
    deflated rows also the probes' samples). The XTrace rows share one operator and
    one eigenvalue; each budget is charged the setup, its trace and the eigenvalue.
    The methods run once each untimed (a warm-up), then once per seed, in an
    order rotated from seed to seed. The "Ritz" rows are the same XTrace runs with the
    Rayleigh-Ritz value of XTrace's basis as the eigenvalue (no product beyond the
    trace's; charged the setup and the trace only). The deflated rows are the
    computation of :func:`featurizers.hessian.trace_and_top_eigenvalue` (its private
    ``_lanczos_deflated``, which also returns the probes' samples; the public function
    adds only the validation of its arguments), each charged its own setup.
    """
    runs = {}
    for m in budgets:
        runs[f"ours: XTrace {m} + Lanczos"] = []
        runs[f"ours: XTrace {m}, Ritz value of its basis"] = []
    for budget in deflated:
        runs[_deflated_label(*budget)] = []
    runs[BASELINE] = []
    reference_op = HessianOperator(model, LOSS, x, y)
    reference = top_eigenvalue(reference_op, tol=1e-8, max_iter=1000, random_state=0)
    del reference_op

    def run_deflated(seed, budget):
        probes, max_steps, deflation_tol = budget
        start = time.perf_counter()
        op = HessianOperator(model, LOSS, x, y)
        trace_basis, samples, eig, steps = _lanczos_deflated(
            op, probes, max_steps, 1e-3, deflation_tol, np.random.default_rng(seed)
        )
        elapsed = time.perf_counter() - start
        del op
        return {
            _deflated_label(*budget): {
                "time": elapsed,
                "trace": trace_basis + float(np.mean(samples)),
                "samples": samples,
                "eig": eig,
                "eig_err": abs(eig - reference) / abs(reference),
                "trace_mv": steps + probes,  # shared: the Lanczos steps and the probes
                "eig_mv": 0,
            }
        }

    def run_baseline(seed):
        generator = torch.Generator().manual_seed(seed)
        start = time.perf_counter()
        hessian = PyHessianBaseline(model, LOSS, x, y)
        baseline_samples = hessian.trace(generator=generator)
        n_trace = hessian.num_matvecs
        eig = hessian.eigenvalue(generator=generator)
        elapsed = time.perf_counter() - start
        return {
            BASELINE: {
                "time": elapsed,
                "trace": float(np.mean(baseline_samples)),
                "eig": eig,
                "eig_err": abs(eig - reference) / abs(reference),
                "trace_mv": n_trace,
                "eig_mv": hessian.num_matvecs - n_trace,
            }
        }

    def run_xtrace(seed):
        out = {}
        start = time.perf_counter()
        op = HessianOperator(model, LOSS, x, y)
        counted = _Counted(op.to_linear_operator())
        setup = time.perf_counter() - start
        start = time.perf_counter()
        eig = top_eigenvalue(counted, random_state=seed)
        eig_time, eig_mv = time.perf_counter() - start, counted.count
        for m in budgets:
            counted.count = 0
            start = time.perf_counter()
            trace, ritz = _xtrace(counted, op.num_params, m, seed)
            trace_time = time.perf_counter() - start
            out[f"ours: XTrace {m} + Lanczos"] = {
                "time": setup + eig_time + trace_time,
                "trace": trace,
                "eig": eig,
                "eig_err": abs(eig - reference) / abs(reference),
                "trace_mv": counted.count,
                "eig_mv": eig_mv,
            }
            out[f"ours: XTrace {m}, Ritz value of its basis"] = {
                "time": setup + trace_time,
                "trace": trace,
                "eig": ritz,
                "eig_err": abs(ritz - reference) / abs(reference),
                "trace_mv": counted.count,
                "eig_mv": 0,
            }
        return out

    methods = [functools.partial(run_deflated, budget=b) for b in deflated]
    methods += [run_baseline, run_xtrace]
    for method in methods:  # warm-up, untimed: first calls pay for fresh memory
        method(seeds[0] if len(seeds) else 0)
    for i, seed in enumerate(seeds):
        # A different method first for each seed, so that none always runs first
        for method in methods[i % len(methods) :] + methods[: i % len(methods)]:
            for name, result in method(seed).items():
                runs[name].append(result)
    return runs


def hutchinson_pool(model, x, y, size, seed=12345):
    """``size`` Rademacher samples ``g^T H g`` (one product each), for the replays."""
    op = HessianOperator(model, LOSS, x, y)
    linop = op.to_linear_operator()
    rng = np.random.default_rng(seed)
    pool = np.empty(size)
    for i in range(size):
        g = np.where(rng.random(op.num_params) < 0.5, -1.0, 1.0)
        pool[i] = g @ linop.matvec(g)
    return pool


def _summary(runs):
    traces = np.array([r["trace"] for r in runs])
    return {
        "time": statistics.median(r["time"] for r in runs),
        "mean_time": statistics.fmean(r["time"] for r in runs),
        "trace": traces.mean(),
        "trace_rsd": traces.std(ddof=1) / abs(traces.mean()) if len(traces) > 1 else np.nan,
        "trace_std": within_run_std(runs) if "samples" in runs[0] else (np.nan,) * 3,
        "eig": np.mean([r["eig"] for r in runs]),
        "eig_err": np.mean([r["eig_err"] for r in runs]),
        "trace_mv": np.mean([r["trace_mv"] for r in runs]),
        "eig_mv": np.mean([r["eig_mv"] for r in runs]),
    }


# ------------------------------------------------------- 3. trace estimators
def bench_trace_variance(n_seeds, train_steps=200):
    """Relative std of the three trace estimators on a tiny trained BN CNN."""
    torch.manual_seed(0)
    model = tiny_bn_cnn().double()
    teacher = tiny_bn_cnn().double()
    x = torch.randn(200, 3, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        y = teacher(x).argmax(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for _ in range(train_steps):
        optimizer.zero_grad()
        LOSS(model(x), y).backward()
        optimizer.step()
    model.eval()
    op = HessianOperator(model, LOSS, x, y)
    exact = xtrace(op, op.num_params)  # num_matvecs >= n: exact, from unit vectors
    linop = op.to_linear_operator()
    estimators = {
        "Hutchinson, 100 products": lambda A, s: hutchinson_trace(A, 100, random_state=s),
        "PyHessian adaptive rule (tol 1e-3, max 100)": lambda A, s: pyhessian_trace(
            A, random_state=s
        ),
        "XTrace, 20 products": lambda A, s: xtrace(A, 20, random_state=s),
        "XTrace, 50 products": lambda A, s: xtrace(A, 50, random_state=s),
        "XTrace, 100 products": lambda A, s: xtrace(A, 100, random_state=s),
    }
    counted = {name: _Counted(linop) for name in estimators}
    values = {name: [] for name in estimators}
    elapsed = dict.fromkeys(estimators, 0.0)
    for seed in range(n_seeds):  # estimators in turn, so that load hits all alike
        for name, estimate in estimators.items():
            start = time.perf_counter()
            values[name].append(estimate(counted[name], seed))
            elapsed[name] += time.perf_counter() - start
    rows = {}
    for name in estimators:
        v = np.array(values[name])
        rows[name] = {
            "rsd": v.std(ddof=1) / abs(exact),
            "bias": (v.mean() - exact) / abs(exact),
            "time": elapsed[name] / n_seeds,
            "matvecs": counted[name].count / n_seeds,
        }
    return {"num_params": op.num_params, "loss": op.loss, "exact": exact, "rows": rows}


# -------------------------------------------- 4. deflation against Lanczos steps
def bench_deflation(model, x, y, seeds, max_steps=24, probes=8, n_top=12):
    """How the Krylov basis removes the variance of the trace, step by step.

    For each seed: Lanczos for all ``max_steps`` steps (``_lanczos`` with both
    tolerances 0), then ``probes`` Rademacher probes ``g``; since
    ``Q_m^T H Q_m = T[:m, :m]`` for every leading part ``Q_m`` of the basis, one
    product ``H g`` per probe gives its deflated sample for every ``m``. Returns
    the top ``n_top`` eigenvalues (ARPACK, tol 1e-6) and, per ``m``, the
    per-probe relative standard deviation of the remainder (pooled within
    seeds), the share of the trace in the basis and the error of the top Ritz
    value.
    """
    op = HessianOperator(model, LOSS, x, y)
    linop = op.to_linear_operator()
    top = np.sort(
        scipy.sparse.linalg.eigsh(
            linop, k=n_top, which="LA", tol=1e-6, return_eigenvectors=False
        )
    )[::-1]
    matvec = op.matvec
    per_seed = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        Q = torch.empty((max_steps, op.num_params), dtype=op.dtype)
        steps, T, _, _, _ = _lanczos(matvec, Q, 0.0, 0.0, generator)
        Q = Q[:steps]
        samples = np.empty((steps + 1, probes))
        for p in range(probes):
            g = torch.randint(0, 2, (op.num_params,), generator=generator, dtype=op.dtype)
            g = 2 * g - 1
            hg = matvec(g)
            c = (Q @ g).double().numpy()
            d = (Q @ hg).double().numpy()
            quad = float(torch.dot(g.double(), hg.double()))
            for m in range(steps + 1):
                samples[m, p] = quad - 2 * c[:m] @ d[:m] + c[:m] @ T[:m, :m] @ c[:m]
        ritz = [np.max(np.abs(np.linalg.eigvalsh(T[:m, :m]))) for m in range(1, steps + 1)]
        per_seed.append(
            {
                "samples": samples,
                "trace_basis": np.r_[0.0, np.cumsum(np.diag(T))],
                "ritz": np.r_[np.nan, ritz],
            }
        )
    steps = min(len(r["samples"]) for r in per_seed)
    trace = np.mean([r["trace_basis"][steps - 1] + r["samples"][steps - 1].mean()
                     for r in per_seed])
    rows = []
    for m in range(steps):
        var = np.mean([np.var(r["samples"][m], ddof=1) for r in per_seed])
        rows.append(
            {
                "steps": m,
                "probe_rsd": math.sqrt(var) / abs(trace),
                "basis_share": np.mean([r["trace_basis"][m] for r in per_seed]) / trace,
                "eig_err": np.mean([abs(r["ritz"][m] - top[0]) / abs(top[0])
                                    for r in per_seed]),
            }
        )
    return {"top": top, "trace": trace, "rows": rows}


# ----------------------------------------------------------------- reporting
def _fmt(value, digits=3):
    return f"{value:.{digits}g}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--output", help="also write the markdown report to this file")
    parser.add_argument(
        "--samples", type=int, default=None, help="images per batch (200; --quick: 50)"
    )
    parser.add_argument(
        "--train-steps",
        type=int,
        default=None,
        help="Adam steps on the random batch before measuring (100; --quick: 30)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds for the features, every model (full run: MLP 20, small CNN 12, "
        "ResNet 8; --quick: 2)",
    )
    parser.add_argument("--repeats", type=int, default=None, help="timing repeats")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a shared 2-core machine more threads made "
        "small products up to 100x slower through contention)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=sorted(MODELS),
        default=None,
        help="models to run (default: all; --quick: MLP and small CNN)",
    )
    parser.add_argument(
        "--sections",
        nargs="+",
        type=int,
        choices=(1, 2, 3, 4),
        default=(1, 2, 3, 4),
        help="sections to run (default: all)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    quick = args.quick
    n_samples = args.samples or (50 if quick else 200)
    names = args.models or (["MLP", "small CNN"] if quick else list(MODELS))
    # Seeds of section 2 per model: the baseline's cost varies much from seed to seed,
    # so the cheap models get more.
    seeds_of = {
        name: args.seeds or (2 if quick else FEATURE_SEEDS[name]) for name in names
    }
    train_steps = args.train_steps if args.train_steps is not None else (30 if quick else 100)
    repeats = args.repeats or (3 if quick else 5)
    variance_seeds = 5 if quick else 20
    pool_size = 30 if quick else 100
    n_replays = 10_000

    lines = [
        "# Hessian benchmark: featurizers.hessian vs a PyHessian-style baseline",
        "",
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{n_samples} random 3x32x32 images with random labels, float32 models trained "
        f"{train_steps} Adam steps (lr 1e-3) on them, Hessians in eval mode"
        + (" (quick run)" if quick else ""),
    ]
    prepared = {name: _prepare(MODELS[name], n_samples, train_steps) for name in names}
    if 1 in args.sections:
        lines += _section_hvp(names, prepared, repeats)
    if 2 in args.sections:
        lines += _section_features(names, prepared, seeds_of, pool_size, n_replays)
    if 3 in args.sections:
        lines += _section_trace_variance(variance_seeds)
    if 4 in args.sections:
        lines += _section_deflation(names, prepared, 4 if quick else 12)
    report = "\n".join(lines) + "\n"
    sys.stdout.write(report)
    if args.output:
        with open(args.output, "w") as f:
            f.write(report)


def _section_hvp(names, prepared, repeats):
    lines = [
        "",
        "## 1. One Hessian-vector product vs one gradient pass",
        "",
        "| model | params | training loss | grad pass (ms) | HVP ours (ms) | HVP baseline (ms) "
        "| ours / grad | baseline / grad | ours / baseline | setup ours / baseline |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        model, x, y, loss = prepared[name]
        r = bench_hvp(model, x, y, repeats)
        lines.append(
            f"| {name} | {_num_params(model):,} | {loss:.3f} | {1e3 * r['grad']:.1f} "
            f"| {1e3 * r['ours']:.1f} | {1e3 * r['base']:.1f} "
            f"| {r['ours'] / r['grad']:.2f} | {r['base'] / r['grad']:.2f} "
            f"| {r['ours'] / r['base']:.2f} | {r['ours_setup'] / r['base_setup']:.2f} |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    return lines


def _section_features(names, prepared, seeds_of, pool_size, n_replays):
    # 90% interval of a standard deviation estimated from n values, as factors.
    factors = {
        n: [math.sqrt((n - 1) / scipy.stats.chi2.ppf(q, n - 1)) for q in (0.95, 0.05)]
        for n in set(seeds_of.values())
    }
    lines = [
        "",
        "## 2. Whole Hessian features (trace + top eigenvalue) per model",
        "",
        "Seeds per model: "
        + ", ".join(f"{name} {n}" for name, n in seeds_of.items())
        + " (every method runs once per seed, in turn). "
        "\"deflated\": `trace_and_top_eigenvalue(op, num_probes=p, "
        "max_lanczos_steps=m, deflation_tol=d)`, the default of "
        "`LossLandscapeFeaturizer` at p = 4, m = 24, d = 0.01 (Lanczos with full "
        "reorthogonalisation gives the eigenvalue and a Krylov basis Q, and stops once "
        "its eigenvalue has converged (relative residual 1e-3) and each of its last two "
        "steps removed less than d of the squared Frobenius norm removed so far; the "
        "trace is tr(Q^T H Q) plus Hutchinson on the deflated remainder with p probes). "
        "XTrace: one HessianOperator, `xtrace(op, m)` and "
        "`top_eigenvalue(op)` (ARPACK Lanczos, tol 1e-3); \"Ritz\": the same XTrace "
        "run with the largest-magnitude eigenvalue of Q^T H Q (Q the orthonormal basis "
        "of H @ Omega) as the top eigenvalue, no further product. Baseline: "
        "PyHessian-style `trace()` (adaptive rule, tol 1e-3, max 100) and "
        "`eigenvalues()` (power iteration, tol 1e-3, max 100).",
        "",
        "Trace RSD (relative standard deviation of the trace estimate), two ways: over "
        "the seeds (imprecise: the 90% interval of an RSD from "
        + ", ".join(f"{n} seeds spans {a:.2f}x-{b:.2f}x" for n, (a, b) in factors.items())
        + " of it), and precise: for the deflated "
        "rows from the probes of every run (the variance given the basis, averaged; "
        "exact in expectation since the estimate is unbiased given any basis), for the "
        "baseline from "
        f"{n_replays:,} replays of its adaptive rule on a pool of {pool_size} "
        "Hutchinson samples (one product each); in brackets their 90% intervals "
        "(chi-square for ours, a bootstrap of the pool for the baseline). Relative to "
        "the mean of the XTrace-100 estimates. Eigenvalue error: mean relative error "
        "against ARPACK at tol 1e-8.",
        "",
        "| model | method | products (trace + eig) | median time (s) "
        "| baseline / ours, medians | same, means "
        "| trace (mean) | trace RSD over seeds | trace RSD, precise "
        "| top eigenvalue (mean) | eigenvalue error |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for name in names:
        model, x, y, _ = prepared[name]
        summaries = {
            method: _summary(runs)
            for method, runs in bench_features(model, x, y, range(seeds_of[name])).items()
        }
        reference = summaries["ours: XTrace 100 + Lanczos"]["trace"]
        pool = hutchinson_pool(model, x, y, pool_size)
        *interval, mean_count = replayed_std(pool, n_replays)
        summaries[BASELINE]["trace_std"] = tuple(interval)
        base_time = summaries[BASELINE]["time"]
        base_mean = summaries[BASELINE]["mean_time"]
        for method, o in summaries.items():
            std, low, high = (100 * v / abs(reference) for v in o["trace_std"])
            precise = f"{std:.1f}% ({low:.1f}-{high:.1f})" if np.isfinite(std) else "-"
            lines.append(
                f"| {name} | {method} | {o['trace_mv']:.1f} + {o['eig_mv']:.1f} "
                f"| {o['time']:.2f} | {base_time / o['time']:.2f} "
                f"| {base_mean / o['mean_time']:.2f} "
                f"| {_fmt(o['trace'], 4)} | {100 * o['trace_rsd']:.1f}% | {precise} "
                f"| {_fmt(o['eig'], 5)} | {o['eig_err']:.1e} |"
            )
            print(lines[-1], file=sys.stderr, flush=True)
        ours, base = summaries[DEFAULT], summaries[BASELINE]
        speedup = base_time / ours["time"]
        mean_speedup = base_mean / ours["mean_time"]
        ours_rsd, base_rsd = (
            [100 * v / abs(reference) for v in o["trace_std"]] for o in (ours, base)
        )
        met = min(speedup, mean_speedup) >= 1.5 and ours_rsd[0] <= base_rsd[0]
        apart = "apart" if ours_rsd[2] < base_rsd[1] else "overlapping"
        verdicts.append(
            f"- {name}: the default is {speedup:.2f}x (medians) and {mean_speedup:.2f}x "
            f"(means) as fast as the baseline ({ours['trace_mv']:.1f} products against "
            f"{base['trace_mv'] + base['eig_mv']:.1f}) at a precise trace RSD of "
            f"{ours_rsd[0]:.1f}% against {base_rsd[0]:.1f}% (90% intervals "
            f"{ours_rsd[1]:.1f}-{ours_rsd[2]:.1f}% and {base_rsd[1]:.1f}-{base_rsd[2]:.1f}%, "
            f"{apart}; the replayed rule drew {mean_count:.1f} samples on average): goal "
            f"of 1.5x at equal or lower variance {'met' if met else 'NOT met'}."
        )
    return lines + ["", *verdicts]


def _section_trace_variance(variance_seeds):
    v = bench_trace_variance(variance_seeds)
    return [
        "",
        "## 3. Trace estimators on a tiny trained CNN with BatchNorm (float64)",
        "",
        f"{v['num_params']:,} parameters, 200 samples, training loss {v['loss']:.3f}, "
        f"exact trace {v['exact']:.6g} (from {v['num_params']:,} unit-vector products); "
        f"{variance_seeds} seeds.",
        "",
        "| estimator | products (mean) | relative std | relative bias of the mean "
        "| time per estimate (ms) |",
        "|---|---:|---:|---:|---:|",
    ] + [
        f"| {name} | {row['matvecs']:.1f} | {100 * row['rsd']:.2f}% "
        f"| {100 * row['bias']:+.2f}% | {1e3 * row['time']:.0f} |"
        for name, row in v["rows"].items()
    ]


def _section_deflation(names, prepared, n_seeds):
    lines = [
        "",
        "## 4. What the Krylov basis removes, step by step",
        "",
        f"Over {n_seeds} seeds: Lanczos for 24 steps, then 8 Rademacher probes, their "
        "deflated samples computed for every leading part of the basis (one product "
        "each). Per-probe RSD: standard deviation of one deflated sample relative to "
        "the trace (0 steps: plain Hutchinson); the estimate's RSD is this over the "
        "square root of the probes. Trace in the basis: tr(Q^T H Q) / tr(H). "
        "Eigenvalue error: of the top Ritz value, against ARPACK at tol 1e-6.",
    ]
    for name in names:
        model, x, y, _ = prepared[name]
        d = bench_deflation(model, x, y, range(n_seeds))
        lines += [
            "",
            f"{name}: trace {_fmt(d['trace'], 4)}; top eigenvalues "
            + ", ".join(f"{e:.3g}" for e in d["top"]),
            "",
            "| Lanczos steps | per-probe RSD of the remainder | trace in the basis "
            "| eigenvalue error |",
            "|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['steps']} | {100 * r['probe_rsd']:.1f}% | {100 * r['basis_share']:.1f}% "
            f"| {r['eig_err']:.1e} |"
            for r in d["rows"]
        ]
        print("\n".join(lines[-len(d["rows"]) - 5:]), file=sys.stderr, flush=True)
    return lines


if __name__ == "__main__":
    main()
