"""Benchmark of featurizers.hessian against the real PyHessian 0.1, curvlinops and eigenthings.

Needs the package (``pip install -e ".[pyhessian]"``) for sections 1, 2 and 5, and
curvlinops and hessian-eigenthings (``pip install -e ".[hessian-peers]"``, both in
``.[all]``) for section 5. Six measurements, printed as markdown::

    python -m benchmarks.bench_hessian --sections 2   # the table of benchmarks/README.md
    python -m benchmarks.bench_hessian --quick        # a few minutes
    python -m benchmarks.bench_hessian --sections 2 --models "small CNN" --seeds 4
    python -m benchmarks.bench_hessian --output results.md
    python -m benchmarks.bench_hessian --sections 5   # the peers' table

Models: an MLP 64-512-512-10 on scikit-learn's digits, a small CNN with BatchNorm
and CIFAR-style ResNet-18s of widths 8, 16 and 32 on random 3x32x32 images, each
trained for a few Adam steps on its batch of 200.

1. Cost of one Hessian-vector product relative to one gradient pass (forward and
   backward), ours (:class:`featurizers.hessian.HessianOperator`) and the package's
   (``pyhessian.utils.hessian_vector_product`` on its cached gradient).
2. Trace and top eigenvalue per model: ours, the default
   :func:`featurizers.hessian.trace_and_top_eigenvalue` (one Lanczos run for the
   eigenvalue, its basis deflating a Hutchinson trace estimate) and other numbers of
   probes, against the package's ``trace()`` and ``eigenvalues(top_n=1)`` on a deep
   copy of the model: paired per seed, in rotated order, the speed-up as the median
   of per-seed ratios with a bootstrap interval, the products, the relative standard
   deviation of the trace (ours from the probes of each run; the package's from
   replays of its rule, :func:`pyhessian_rule`, on a pool of Hutchinson samples, and
   over the seeds) against the 0.35/k floor, and the error of the top eigenvalue.
3. Relative standard deviation of Hutchinson-100, PyHessian's adaptive rule
   (:func:`featurizers.hessian.pyhessian_trace`) and XTrace on a tiny trained CNN
   with BatchNorm whose exact trace is computed: the measurement behind the default
   of :func:`featurizers.hessian.hessian_trace`.
4. What the Krylov basis of Lanczos removes, step by step: the per-probe relative
   standard deviation of the deflated remainder, the share of the trace in the
   basis and the error of the top Ritz value against the number of Lanczos steps,
   beside the top eigenvalues: why the deflated estimator runs Lanczos past its
   eigenvalue, and why more probes, not more steps, lower the ResNet's variance.
5. Every peer on the MLP, the small CNN and ResNet-18 of width 8: ours, PyHessian,
   curvlinops (Hutch++ and XTrace at our number of products, scipy's ``eigsh`` on its
   operator) and hessian-eigenthings (Hutch++ at our number of products, its
   ``lanczos``), paired per seed in rotated order, every one in eval mode on its own
   deep copy: time ratios with intervals, and the trace's error over the seeds
   against an independent long reference.
6. The estimators of the deflated remainder's trace (``remainder=`` of
   :func:`featurizers.hessian.trace_and_top_eigenvalue`: Hutchinson's, a Nystrom
   Hutch++ and XNysTrace) from the same runs, so at equal products and paired:
   their error against the long reference of section 5, and their ratio of mean
   squared errors to Hutchinson's.

The functions compared are called in turn so that the load of other processes on
the machine hits them alike; the package's cost varies with its data-dependent
stopping (from 2 to over 60 products on one model), so section 2 pairs the methods
per seed and reports the median ratio with its interval.
"""

import argparse
import copy
import functools
import json
import math
import statistics
import sys
import time

import numpy as np
import scipy.sparse.linalg
import scipy.stats
import torch
from scipy.sparse.linalg import LinearOperator
from sklearn.datasets import load_digits

try:  # the real package, the baseline of sections 1 and 2 (the 'pyhessian' extra)
    import pyhessian
    import pyhessian.utils
except ImportError:
    pyhessian = None

try:  # the peers of section 5 (the 'hessian-peers' extra)
    import curvlinops
except ImportError:
    curvlinops = None
try:
    import hessian_eigenthings
except ImportError:
    hessian_eigenthings = None

from featurizers.hessian import (
    HessianOperator,
    hutchinson_trace,
    pyhessian_trace,
    xtrace,
)
from featurizers.hessian._deflated import (
    _DEFAULT_BULK_PROBES,
    _DEFAULT_N_PROBES,
    _lanczos,
    _lanczos_deflated,
    _standard_error,
)

LOSS = torch.nn.CrossEntropyLoss()


# ----------------------------------------------------------------------- models
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
    "MLP on digits": digits_mlp,
    "small CNN": small_cnn,
    "ResNet-18 (width 8)": ResNet18,
    "ResNet-18 (width 16)": functools.partial(ResNet18, 16),
    "ResNet-18 (width 32)": functools.partial(ResNet18, 32),
}
# Trained on scikit-learn's digits (8x8, 64 features); the others on random images.
DIGITS_MODELS = {"MLP on digits"}

# Section 2 in a full run, per model: seeds, Hutchinson samples in the pool on which
# PyHessian's rule is replayed, whether each method first runs once untimed, and the
# other numbers of probes of ours timed beside the default. The package's products
# vary much from seed to seed (from 2 to over 60), so the cheap models get more seeds;
# on the ResNets a product costs seconds on the shared 2-core machine, a warm-up as
# much as a seed.
FEATURE_RUNS = {
    "MLP on digits": {"seeds": 40, "pool": 100, "warmup": True, "also_probes": (4,)},
    "small CNN": {"seeds": 20, "pool": 100, "warmup": True, "also_probes": (4,)},
    "ResNet-18 (width 8)": {"seeds": 24, "pool": 100, "warmup": False, "also_probes": ()},
    "ResNet-18 (width 16)": {"seeds": 2, "pool": 20, "warmup": False, "also_probes": ()},
    "ResNet-18 (width 32)": {"seeds": 1, "pool": 20, "warmup": False, "also_probes": ()},
}


def _num_params(model):
    return sum(p.numel() for p in model.parameters())


def _prepare(name, n_samples, train_steps, seed=0):
    """Model ``name`` trained for a few Adam steps on one batch of ``n_samples``.

    Random 3x32x32 images with random labels, or for the digits MLP the first
    ``n_samples`` of a fixed permutation of scikit-learn's digits (scaled to
    [0, 1]). Trained networks' Hessians have a few large outlier eigenvalues that
    untrained ones lack; the training also gives BatchNorm running statistics.
    """
    torch.manual_seed(seed)
    model = MODELS[name]()
    if name in DIGITS_MODELS:
        X, labels = load_digits(return_X_y=True)
        rows = np.random.default_rng(seed).permutation(len(X))[:n_samples]
        x = torch.tensor(X[rows] / 16.0, dtype=torch.float32)
        y = torch.tensor(labels[rows])
    else:
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
def _package(model, x, y):
    """The real package's ``hessian`` on ``model`` (a copy the caller owns), CPU.

    Its constructor puts the model in eval mode and calls
    ``loss.backward(create_graph=True)``, which accumulates into ``.grad``: the
    gradients are cleared first so that repeated constructions on one copy agree.
    """
    for p in model.parameters():
        p.grad = None
    return pyhessian.hessian(model, LOSS, data=(x, y), cuda=False)


def _hvp_medians(model, x, y, repeats):
    """Median times of a gradient pass and of one product, ours and the package's.

    A function of its own so that both operators, and the graphs they hold, are
    freed before the setups are timed.
    """
    params = list(model.parameters())
    op = HessianOperator(model, LOSS, x, y)
    theirs = _package(copy.deepcopy(model), x, y)
    v_flat = torch.randn(op.n_parameters)
    v_list = [torch.randn_like(p) for p in theirs.params]
    return _interleaved_medians(
        {
            "grad": lambda: torch.autograd.grad(LOSS(model(x), y), params),
            "ours": lambda: op.matvec(v_flat),
            "base": lambda: pyhessian.utils.hessian_vector_product(
                theirs.gradsH, theirs.params, v_list
            ),
        },
        repeats,
    )


def bench_hvp(model, x, y, repeats):
    result = _hvp_medians(model, x, y, repeats)
    theirs = copy.deepcopy(model)
    setup = _interleaved_medians(
        {
            "ours_setup": lambda: HessianOperator(model, LOSS, x, y),
            "base_setup": lambda: _package(theirs, x, y),
        },
        repeats,
    )
    for p in theirs.parameters():
        p.grad = None  # break the reference cycle of create_graph=True
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
# default of trace_and_top_eigenvalue and of LossLandscapeFeaturizer first.
DEFLATED_BUDGETS = ((_DEFAULT_N_PROBES, 24, 1e-2),)
PACKAGE = "PyHessian 0.1: trace() + eigenvalues(top_n=1)"


def _deflated_label(probes, steps, deflation_tol):
    default = " (default)" if (probes, steps, deflation_tol) == DEFLATED_BUDGETS[0] else ""
    return (
        f"ours{default}: Lanczos <= {steps} (deflation_tol {deflation_tol:g}) "
        f"+ {probes} probes"
    )


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
    ``var(samples, ddof=1) / p``. When the probes stopped Lanczos (a run's
    ``bases`` differ, see ``featurizers.hessian._deflated._ProbeStop``), each
    half is taken on the basis at which the other stopped and the variance is
    pooled within the halves (approximately unbiased), with one degree of
    freedom less per basis. Far more precise than the spread of a few runs'
    estimates.

    Returns
    -------
    std, low, high : float
        The estimate and its ``confidence`` interval from the chi-square
        distribution with ``sum(p - 1)`` degrees of freedom (exact for normal
        samples with equal variances; heavier tails make it too narrow).
    """
    bases = [r.get("bases", np.zeros(len(r["samples"]))) for r in runs]
    std = math.sqrt(
        np.mean([_standard_error(r["samples"], b) ** 2 for r, b in zip(runs, bases)])
    )
    dof = sum(len(r["samples"]) - len(np.unique(b)) for r, b in zip(runs, bases))
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


class _CountedProducts:
    """Counts the package's Hessian-vector products (it calls one module-level function)."""

    def __init__(self):
        self.count = 0
        # pyhessian.hessian is the class; its module is the one that calls the function
        self._module = sys.modules[pyhessian.hessian.__module__]
        self._original = self._module.hessian_vector_product

    def __call__(self, *args, **kwargs):
        self.count += 1
        return self._original(*args, **kwargs)

    def __enter__(self):
        self._module.hessian_vector_product = self
        return self

    def __exit__(self, *exc):
        self._module.hessian_vector_product = self._original


def reference_eigenvalue(model, x, y, max_steps=30):
    """Top eigenvalue by Lanczos with full reorthogonalisation to a relative residual 1e-7."""
    op = HessianOperator(model, LOSS, x, y)
    Q = torch.empty((max_steps, op.n_parameters), dtype=op.dtype)
    _, _, _, theta, _ = _lanczos(op.matvec, Q, 1e-7, 1.0, torch.Generator().manual_seed(0))
    return theta


def bench_features(model, x, y, seeds, deflated=DEFLATED_BUDGETS, reference=None, warmup=True):
    """Per seed: the real package and ours (the deflated estimator), paired.

    Returns a dict of method name -> list of per-seed dicts (time, trace, eig,
    products for the trace and for the eigenvalue, relative error of the
    eigenvalue against ``reference``; for ours also the probes' samples). The
    package gets a deep copy of the model (its constructor switches it to eval
    mode, ``loss.backward(create_graph=True)`` fills its ``.grad`` and its calls
    clear them) and torch's global seed; it is timed from its constructor to the
    end of ``eigenvalues(top_n=1)`` (the copy is made before). Ours is timed from
    the :class:`featurizers.hessian.HessianOperator` to the end of
    ``_lanczos_deflated``, the computation of
    :func:`featurizers.hessian.trace_and_top_eigenvalue` that also returns the
    probes' samples (the public function adds the validation of its arguments).
    Every method runs once untimed (a warm-up, unless ``warmup`` is false), then
    once per seed, in an order rotated from seed to seed.
    """
    if reference is None:
        reference = reference_eigenvalue(model, x, y)
    runs = {_deflated_label(*budget): [] for budget in deflated}
    runs[PACKAGE] = []

    def run_deflated(seed, budget):
        probes, max_steps, deflation_tol = budget
        start = time.perf_counter()
        op = HessianOperator(model, LOSS, x, y)
        trace_basis, samples, eig, steps, bases = _lanczos_deflated(
            op, probes, max_steps, 1e-3, deflation_tol, np.random.default_rng(seed),
            bulk_probes=_DEFAULT_BULK_PROBES,
        )
        elapsed = time.perf_counter() - start
        del op
        return _deflated_label(*budget), {
            "time": elapsed,
            "trace": trace_basis + float(np.mean(samples)),
            "samples": samples,
            "bases": bases,
            "eig": eig,
            "eig_err": abs(eig - reference) / abs(reference),
            "trace_mv": steps + len(samples),  # shared: the Lanczos steps and the probes
            "eig_mv": 0,
        }

    def run_package(seed):
        theirs = copy.deepcopy(model)
        torch.manual_seed(seed)
        with _CountedProducts() as counted:
            start = time.perf_counter()
            hessian = pyhessian.hessian(theirs, LOSS, data=(x, y), cuda=False)
            samples = hessian.trace()
            n_trace = counted.count
            eigenvalues, _ = hessian.eigenvalues(top_n=1)
            elapsed = time.perf_counter() - start
        for p in theirs.parameters():
            p.grad = None  # break the reference cycle of create_graph=True
        del hessian, theirs
        eig = eigenvalues[0]
        return PACKAGE, {
            "time": elapsed,
            "trace": float(np.mean(samples)),
            "eig": eig,
            "eig_err": abs(eig - reference) / abs(reference),
            "trace_mv": n_trace,
            "eig_mv": counted.count - n_trace,
        }

    methods = [functools.partial(run_deflated, budget=b) for b in deflated] + [run_package]
    for method in methods if warmup else ():  # untimed: first calls pay for fresh memory
        method(10_000)
    for i, seed in enumerate(seeds):
        # A different method first for each seed, so that none always runs first
        for method in methods[i % len(methods) :] + methods[: i % len(methods)]:
            name, result = method(seed)
            runs[name].append(result)
    return runs


def paired_ratio(numerators, denominators, confidence=0.9, n_boot=2000, seed=0):
    """Median of the per-seed ratios and a bootstrap percentile interval of it.

    With fewer than 5 seeds the interval is the range of the ratios.
    """
    ratios = np.asarray(numerators) / np.asarray(denominators)
    median = float(np.median(ratios))
    if len(ratios) < 5:
        return median, float(ratios.min()), float(ratios.max())
    rng = np.random.default_rng(seed)
    boot = np.median(rng.choice(ratios, size=(n_boot, len(ratios))), axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(boot, [tail, 100 - tail])
    return median, float(low), float(high)


def spread_std(values, confidence=0.9):
    """Standard deviation of ``values`` with its chi-square interval (normal values)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return (np.nan,) * 3
    std = values.std(ddof=1)
    tail = (1 - confidence) / 2
    low, high = (
        std * math.sqrt((n - 1) / scipy.stats.chi2.ppf(q, n - 1)) for q in (1 - tail, tail)
    )
    return std, low, high


def hutchinson_pool(model, x, y, size, seed=12345):
    """``size`` Rademacher samples ``g^T H g`` (one product each), for the replays."""
    op = HessianOperator(model, LOSS, x, y)
    linop = op.to_linear_operator()
    rng = np.random.default_rng(seed)
    pool = np.empty(size)
    for i in range(size):
        g = np.where(rng.random(op.n_parameters) < 0.5, -1.0, 1.0)
        pool[i] = g @ linop.matvec(g)
    return pool


def _summary(runs):
    traces = np.array([r["trace"] for r in runs])
    return {
        "times": [r["time"] for r in runs],
        "time": statistics.median(r["time"] for r in runs),
        "trace": traces.mean(),
        "trace_spread": spread_std(traces),
        "trace_std": within_run_std(runs) if "samples" in runs[0] else (np.nan,) * 3,
        "eig": np.mean([r["eig"] for r in runs]),
        "eig_err": np.mean([r["eig_err"] for r in runs]),
        "eig_err_max": np.max([r["eig_err"] for r in runs]),
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
    exact = xtrace(op, op.n_parameters)  # num_matvecs >= n: exact, from unit vectors
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
    return {"num_params": op.n_parameters, "loss": op.loss, "exact": exact, "rows": rows}


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
        Q = torch.empty((max_steps, op.n_parameters), dtype=op.dtype)
        steps, T, _, _, _ = _lanczos(matvec, Q, 0.0, 0.0, generator)
        Q = Q[:steps]
        samples = np.empty((steps + 1, probes))
        for p in range(probes):
            g = torch.randint(0, 2, (op.n_parameters,), generator=generator, dtype=op.dtype)
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


# ------------------------------------------------------- 5. the other packages
CURVLINOPS = "curvlinops 3.0.1"
EIGENTHINGS = "hessian-eigenthings 1.0.0a5"
# Relative residual of the top Ritz pair at which every Lanczos stops: ours (the default
# tol of trace_and_top_eigenvalue) and scipy's eigsh on curvlinops' operator (ARPACK's
# criterion, the same one).
EIG_TOL = 1e-3


# Section 5 in a full run: seeds per model (the models of the peers' table).
PEER_SEEDS = {"MLP on digits": 16, "small CNN": 12, "ResNet-18 (width 8)": 10}


def _even(k):
    """The even number nearest ``k``, up from a tie (at least 2)."""
    return max(2, 2 * math.floor(k / 2 + 0.5))


def _multiple_of_3(k):
    """The multiple of 3 nearest ``k`` (at least 3)."""
    return max(3, 3 * math.floor(k / 3 + 0.5))


def curvlinops_operator(model, x, y):
    """curvlinops' ``HessianLinearOperator`` of the mean loss on ``(x, y)``, all parameters.

    ``check_deterministic=False``: its check costs two products and two gradients at
    set-up (and fails on BatchNorm in train mode; every method here runs in eval
    mode). ``num_data`` given, so that it does not traverse the data to count it.
    Counts the columns it multiplies in ``.count`` (XTrace and Hutch++ multiply
    blocks of columns, through ``torch.vmap``).
    """
    op = curvlinops.HessianLinearOperator(
        model, LOSS, list(model.parameters()), [(x, y)], check_deterministic=False,
        num_data=len(x),
    )
    op.count = 0
    matmat = op._matmat

    def counted(M):
        op.count += M[0].shape[-1]
        return matmat(M)

    op._matmat = counted
    return op


def curvlinops_trace(op, method, n_matvecs, seed):
    """curvlinops' ``hutchpp_trace`` or ``xtrace`` with ``n_matvecs`` products.

    Their probes come from torch's global generator, seeded here. Hutch++ needs a
    multiple of 3 and XTrace an even number: ``n_matvecs`` is rounded to the nearest.
    """
    torch.manual_seed(seed)
    if method == "hutch++":
        return float(curvlinops.hutchpp_trace(op, _multiple_of_3(n_matvecs)))
    return float(curvlinops.xtrace(op, _even(n_matvecs)))


def curvlinops_top_eigenvalue(op, seed, tol=EIG_TOL):
    """Top eigenvalue by scipy's ``eigsh`` (ARPACK) on ``op.to_scipy()``, curvlinops' way.

    ``which="LM"`` (largest magnitude, as ours) from a start vector drawn from
    ``seed``, at the same relative residual as ours.
    """
    linop = _Counted(op.to_scipy())
    v0 = np.random.default_rng(seed).standard_normal(linop.shape[0])
    value = scipy.sparse.linalg.eigsh(
        linop, k=1, which="LM", tol=tol, v0=v0, return_eigenvectors=False
    )[0]
    return float(value), linop.count


def eigenthings_operator(model, x, y):
    """hessian-eigenthings' ``HessianOperator`` on ``model`` (a copy in eval mode).

    It recomputes the loss and its graph at every product, with the model in the
    mode it is handed: in train mode it would update BatchNorm's running
    statistics at every product. Counts its products in ``.count``.
    """
    op = hessian_eigenthings.HessianOperator(
        model, [(x, y)], hessian_eigenthings.supervised_loss(LOSS)
    )
    op.count = 0
    matvec = op.matvec

    def counted(v):
        op.count += 1
        return matvec(v)

    op.matvec = counted
    return op


def eigenthings_trace(op, n_matvecs, seed):
    """hessian-eigenthings' ``hutch_plus_plus`` with about ``n_matvecs`` products.

    It takes ``n_matvecs // 3`` products for each of its three phases: the budget
    is rounded to the nearest multiple of 3. Returns the estimate and its own
    standard error.
    """
    result = hessian_eigenthings.hutch_plus_plus(
        op, num_matvecs=_multiple_of_3(n_matvecs), seed=seed
    )
    return float(result.estimate), float(result.stderr)


def eigenthings_top_eigenvalue(op, seed, k=10):
    """hessian-eigenthings' ``lanczos`` at its default ``k=10`` (``2k`` steps), "LM".

    With ``k=1`` it would run only 2 Lanczos steps.
    """
    result = hessian_eigenthings.lanczos(op, k=k, seed=seed)
    return float(result.eigenvalues[0])


def reference_trace(model, x, y, n_probes, seed=987_654, cache=None, key=None):
    """A long estimate of the trace, independent of every seed of the benchmark.

    Our deflated estimator with 24 Lanczos steps run to the end and ``n_probes``
    probes, from its own seed. Returns the estimate and its standard error. With
    ``cache`` (a JSON file) and ``key`` (a string naming the model, its batch and
    training), a reference computed before under the same key and ``n_probes`` is
    read from it, and a new one written to it (sections 5 and 6 share them).
    """
    if cache is not None:
        entries = {}
        try:
            with open(cache) as f:
                entries = json.load(f)
        except (OSError, ValueError):
            pass
        entry = f"{key} | {n_probes} probes | seed {seed}"
        if entry not in entries:
            entries[entry] = reference_trace(model, x, y, n_probes, seed)
            with open(cache, "w") as f:
                json.dump(entries, f, indent=1)
        return tuple(entries[entry])
    op = HessianOperator(model, LOSS, x, y)
    trace_basis, samples, _, _, bases = _lanczos_deflated(
        op, n_probes, 24, 0.0, 0.0, np.random.default_rng(seed)
    )
    return trace_basis + float(np.mean(samples)), _standard_error(samples, bases)


PEERS = (
    "ours",
    "PyHessian",
    "curvlinops Hutch++",
    "curvlinops XTrace",
    "eigenthings Hutch++",
)


# The packages of section 5, each run once per seed (curvlinops gives two rows).
PACKAGES = ("ours", "PyHessian", "curvlinops", "eigenthings")


def bench_peers(model, x, y, seeds, budget, reference_eig, log=None,
                bulk_probes=_DEFAULT_BULK_PROBES, packages=PACKAGES):
    """Per seed: ours, PyHessian, curvlinops and hessian-eigenthings, in rotated order.

    Every method gets its own deep copy of the model in eval mode (made before its
    timer starts) and is timed from the construction of its operator to the end of
    its trace and top eigenvalue. curvlinops runs as one method: its operator, then
    Hutch++, XTrace and ``eigsh``, each timed, so that "curvlinops Hutch++" is the
    operator, Hutch++ and eigsh, and "curvlinops XTrace" the operator, XTrace and
    eigsh. ``budget`` is the number of products of the peers' trace estimators:
    ours's mean (its Lanczos steps serve the eigenvalue too). Ours is
    ``trace_and_top_eigenvalue``'s computation at its defaults, but for
    ``bulk_probes`` (the library's default unless given). ``packages``, a subset
    of :data:`PACKAGES` with ``"ours"``, runs only those (the others' lists stay
    empty): for a model whose seeds take too long with every peer.

    Returns a dict: method -> list of per-seed dicts (wall time, CPU time of the
    process, trace, eig, products of the trace and of the eigenvalue). On a loaded
    machine the CPU time is the steadier measure: with one torch thread it counts
    what the method itself computed, not the time others ran.
    """
    unknown = set(packages) - set(PACKAGES)
    if unknown or "ours" not in packages:
        raise ValueError(f"packages must be a subset of {PACKAGES} with 'ours'; got "
                         f"{tuple(packages)}")
    runs = {name: [] for name in PEERS}

    def eig_err(value):
        return abs(value - reference_eig) / abs(reference_eig)

    def run_ours(seed):
        ours = copy.deepcopy(model).eval()
        start, cpu_start = time.perf_counter(), time.process_time()
        op = HessianOperator(ours, LOSS, x, y)
        trace_basis, samples, eig, steps, bases = _lanczos_deflated(
            op, _DEFAULT_N_PROBES, 24, EIG_TOL, 1e-2, np.random.default_rng(seed),
            bulk_probes=bulk_probes,
        )
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        runs["ours"].append({
            "time": elapsed, "cpu": cpu, "trace": trace_basis + float(np.mean(samples)), "eig": eig,
            "eig_err": eig_err(eig), "trace_mv": steps + len(samples), "eig_mv": 0,
        })

    def run_pyhessian(seed):
        theirs = copy.deepcopy(model)
        torch.manual_seed(seed)
        with _CountedProducts() as counted:
            start, cpu_start = time.perf_counter(), time.process_time()
            hessian = pyhessian.hessian(theirs, LOSS, data=(x, y), cuda=False)
            samples = hessian.trace()
            n_trace = counted.count
            eigenvalues, _ = hessian.eigenvalues(top_n=1)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        for p in theirs.parameters():
            p.grad = None  # break the reference cycle of create_graph=True
        runs["PyHessian"].append({
            "time": elapsed, "cpu": cpu, "trace": float(np.mean(samples)), "eig": eigenvalues[0],
            "eig_err": eig_err(eigenvalues[0]), "trace_mv": n_trace,
            "eig_mv": counted.count - n_trace,
        })

    def run_curvlinops(seed):
        theirs = copy.deepcopy(model).eval()
        start, cpu_start = time.perf_counter(), time.process_time()
        op = curvlinops_operator(theirs, x, y)
        setup = _clocks()
        hutchpp = curvlinops_trace(op, "hutch++", budget, seed)
        hutchpp_mv, after_hutchpp = op.count, _clocks()
        xtraced = curvlinops_trace(op, "xtrace", budget, seed)
        xtrace_mv, after_xtrace = op.count - hutchpp_mv, _clocks()
        eig, eig_mv = curvlinops_top_eigenvalue(op, seed)
        end = _clocks()
        common = {"eig": eig, "eig_err": eig_err(eig), "eig_mv": eig_mv}
        begin = np.array([start, cpu_start])
        # the operator and eigsh, with Hutch++ or with XTrace
        hutchpp_time = (setup - begin) + (after_hutchpp - setup) + (end - after_xtrace)
        xtrace_time = (setup - begin) + (after_xtrace - after_hutchpp) + (end - after_xtrace)
        runs["curvlinops Hutch++"].append({
            "time": hutchpp_time[0], "cpu": hutchpp_time[1], "trace": hutchpp,
            "trace_mv": hutchpp_mv, **common,
        })
        runs["curvlinops XTrace"].append({
            "time": xtrace_time[0], "cpu": xtrace_time[1], "trace": xtraced,
            "trace_mv": xtrace_mv, **common,
        })

    def run_eigenthings(seed):
        theirs = copy.deepcopy(model).eval()
        start, cpu_start = time.perf_counter(), time.process_time()
        op = eigenthings_operator(theirs, x, y)
        trace, _ = eigenthings_trace(op, budget, seed)
        trace_mv = op.count
        eig = eigenthings_top_eigenvalue(op, seed)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        runs["eigenthings Hutch++"].append({
            "time": elapsed, "cpu": cpu, "trace": trace, "eig": eig, "eig_err": eig_err(eig),
            "trace_mv": trace_mv, "eig_mv": op.count - trace_mv,
        })

    methods = [run for package, run in zip(PACKAGES, (run_ours, run_pyhessian,
                                                      run_curvlinops, run_eigenthings))
               if package in packages]
    for i, seed in enumerate(seeds):
        for method in methods[i % len(methods) :] + methods[: i % len(methods)]:
            method(seed)
        if log is not None:  # each seed as it ends: a long run that is stopped keeps them
            print(json.dumps({"seed": seed, **{m: r[-1] for m, r in runs.items() if r}},
                             default=float), file=log, flush=True)
    return runs


def _clocks():
    """Wall and CPU time of the process, as an array that subtracts."""
    return np.array([time.perf_counter(), time.process_time()])


def rms_error(values, reference, confidence=0.9):
    """Root mean square of ``values - reference``, with its chi-square interval.

    The interval treats the errors as normal with mean 0 (``n`` degrees of freedom);
    a biased estimator's interval is then only indicative.
    """
    errors = np.asarray(values, dtype=float) - reference
    n = len(errors)
    rms = math.sqrt(np.mean(errors**2))
    tail = (1 - confidence) / 2
    low, high = (rms * math.sqrt(n / scipy.stats.chi2.ppf(q, n)) for q in (1 - tail, tail))
    return rms, low, high


def _peers_row(name, n_params, runs, reference, reference_se):
    """One row of section 5's table from :func:`bench_peers`'s runs."""

    def ratio(method):
        if not runs[method]:
            return "--"
        cpu = paired_ratio([r["cpu"] for r in runs[method]], [r["cpu"] for r in runs["ours"]])
        wall = paired_ratio([r["time"] for r in runs[method]], [r["time"] for r in runs["ours"]])
        return f"{cpu[0]:.2f}x ({cpu[1]:.2f}-{cpu[2]:.2f}), wall {wall[0]:.2f}x " \
               f"({wall[1]:.2f}-{wall[2]:.2f})"

    def rsd(method):
        if not runs[method]:
            return "--"
        r, lo, hi = rms_error([r["trace"] for r in runs[method]], reference)
        return f"{100 * r / abs(reference):.1f}% ({100 * lo / abs(reference):.1f}-" \
               f"{100 * hi / abs(reference):.1f})"

    def mean_mv(method, key="trace_mv"):
        if not runs[method]:
            return "--"
        return f"{np.mean([r[key] for r in runs[method]]):.1f}"

    def eig(method):
        if not runs[method]:
            return "--"
        return f"{np.median([r['eig_err'] for r in runs[method]]):.1e}"

    return (
        f"| {name} | {n_params:,} | {len(runs['ours'])} "
        f"| {_fmt(reference, 5)} ({100 * reference_se / abs(reference):.2f}%) "
        f"| {mean_mv('ours')} / {mean_mv('PyHessian')} / {mean_mv('curvlinops Hutch++')}, "
        f"{mean_mv('curvlinops XTrace')} / {mean_mv('eigenthings Hutch++')} "
        f"| {mean_mv('PyHessian', 'eig_mv')} / {mean_mv('curvlinops XTrace', 'eig_mv')} / "
        f"{mean_mv('eigenthings Hutch++', 'eig_mv')} "
        f"| {ratio('PyHessian')} | {ratio('curvlinops Hutch++')} / "
        f"{ratio('curvlinops XTrace')} | {ratio('eigenthings Hutch++')} "
        f"| {' / '.join(rsd(m) for m in PEERS)} "
        f"| {eig('ours')} / {eig('PyHessian')} / {eig('curvlinops XTrace')} / "
        f"{eig('eigenthings Hutch++')} |"
    )


def peers_rows_from_log(path, references, n_params):
    """Section 5's rows rebuilt from the per-seed lines a run wrote to its standard error.

    For a run stopped before its end (the ResNet's seeds take minutes each on a
    loaded machine): ``references`` maps a model's name to its ``(trace, se)``,
    ``n_params`` to its number of parameters.
    """
    per_model, name = {}, None
    with open(path) as f:
        for line in f:
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if "budget" in record and "seed" not in record:
                name = record["model"]
            elif "seed" in record:
                runs = per_model.setdefault(name, {m: [] for m in PEERS})
                for method in PEERS:
                    if method in record:  # a run of some packages only
                        runs[method].append(record[method])
    return [
        _peers_row(name, n_params[name], runs, *references[name])
        for name, runs in per_model.items()
    ]


def _section_peers(names, prepared, seeds_of, reference_probes, cache=None, key="",
                   bulk_probes=_DEFAULT_BULK_PROBES, packages=PACKAGES):
    lines = [
        "",
        "## 5. Against every peer: PyHessian, curvlinops and hessian-eigenthings",
        "",
        "Per seed, in an order rotated from seed to seed, each on its own deep copy of the "
        "model in eval mode: ours (`HessianOperator` + `trace_and_top_eigenvalue`, default "
        f"6 probes, bulk_probes={bulk_probes}), PyHessian 0.1 (`trace()` + "
        "`eigenvalues(top_n=1)`), curvlinops 3.0.1 "
        "(`HessianLinearOperator(..., check_deterministic=False)`, `hutchpp_trace` and "
        "`xtrace` at our mean number of products, rounded to a multiple of 3 and to an even "
        f"number, and scipy's `eigsh(op.to_scipy(), k=1, which='LM', tol={EIG_TOL:g})`), "
        "hessian-eigenthings 1.0.0a5 (`HessianOperator`, `hutch_plus_plus` at our budget "
        "rounded to a multiple of 3, `lanczos` at its default k=10, 20 steps). Time ratio: "
        "the peer's CPU time (of the process, one torch thread) over ours in the same seed, "
        "median over seeds, 90% bootstrap interval (the range below 5 seeds), then the same "
        "for wall-clock time. Trace RSD: root mean square over the seeds of "
        "the estimate's error against an independent long reference (ours, 24 Lanczos "
        f"steps and {reference_probes} probes, its own seed), relative to the reference, "
        "chi-square 90% interval. Eigenvalue error: median relative error against Lanczos "
        "to a relative residual of 1e-7.",
        "",
        "| model | params | seeds | reference (rel. SE) | products of the trace: ours / "
        "PyHessian / curvlinops H++, XTrace / eigenthings H++ | products of the eigenvalue: "
        "PyHessian / eigsh / eigenthings | time ratio vs ours: PyHessian | curvlinops "
        "Hutch++ / XTrace (+ eigsh) | eigenthings (Hutch++ + Lanczos) | trace RSD: ours / "
        "PyHessian / curvlinops Hutch++ / XTrace / eigenthings Hutch++ "
        "| eigenvalue error: ours / PyHessian / eigsh / eigenthings |",
        "| --- | ---: | ---: | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in names:
        model, x, y, _ = prepared[name]
        seeds = range(seeds_of[name])
        reference_eig = reference_eigenvalue(model, x, y)
        # The budget: the products of ours in an untimed run from a seed of its own.
        op = HessianOperator(model, LOSS, x, y)
        _, samples, _, steps, _ = _lanczos_deflated(
            op, _DEFAULT_N_PROBES, 24, EIG_TOL, 1e-2, np.random.default_rng(10_000),
            bulk_probes=bulk_probes,
        )
        del op
        budget = steps + len(samples)
        print(json.dumps({"model": name, "budget": budget}), file=sys.stderr, flush=True)
        runs = bench_peers(model, x, y, seeds, budget, reference_eig, log=sys.stderr,
                           bulk_probes=bulk_probes, packages=packages)
        # After the seeds: section 6 may have put it in the cache meanwhile.
        reference, reference_se = reference_trace(
            model, x, y, reference_probes, cache=cache, key=f"{name} {key}"
        )
        print(json.dumps({"model": name, "reference": reference, "reference_se": reference_se,
                          "budget": budget, "runs": runs}, default=float),
              file=sys.stderr, flush=True)
        lines.append(_peers_row(name, _num_params(model), runs, reference, reference_se))
        print(lines[-1], file=sys.stderr, flush=True)
    return lines


# ------------------------------------------- 6. estimators of the remainder
REMAINDERS = ("hutchinson", "hutchpp", "xnystrace")
# Variants measured beside them: the Nystrom core's eigenvalues kept above this
# fraction of its largest (the library's default, _NYSTROM_RCOND, and others).
REMAINDER_VARIANTS = (("hutchpp", 0.1), ("xnystrace", 1e-2), ("xnystrace", 0.1), ("xnystrace", 0.3))
# Section 6 in a full run: seeds per model.
REMAINDER_SEEDS = {
    "MLP on digits": 16, "small CNN": 12, "ResNet-18 (width 8)": 12, "ResNet-18 (width 16)": 4,
}


def bench_remainders(model, x, y, seeds, n_probes=_DEFAULT_N_PROBES):
    """Per seed, one run of ours and the remainder's trace by every estimator of it.

    ``_lanczos_deflated`` with ``remainder=REMAINDERS``: the same basis and probes
    (``random_state`` the seed, as ours in section 5) for all, so the comparison
    is paired and the products equal. Returns ``(runs, products)``: method -> list
    of per-seed dicts (trace, its standard error from the run), and the products
    of each run.
    """
    op = HessianOperator(model, LOSS, x, y)
    methods = REMAINDERS + REMAINDER_VARIANTS
    runs = {_remainder_label(name): [] for name in methods}
    products = []
    for seed in seeds:
        trace_basis, results, _, steps, _ = _lanczos_deflated(
            op, n_probes, 24, EIG_TOL, 1e-2, np.random.default_rng(seed), methods
        )
        for method, (samples, bases) in results.items():
            name = _remainder_label(method)
            if name.startswith("xnystrace"):
                se = float(np.std(samples, ddof=1) / np.sqrt(len(samples)))
            else:
                se = _standard_error(samples, bases)
            runs[name].append({"trace": trace_basis + float(np.mean(samples)), "se": se})
        products.append(steps + n_probes)
        print(json.dumps({"seed": seed, "steps": steps,
                          **{m: r[-1] for m, r in runs.items()}}), file=sys.stderr, flush=True)
    return runs, products


def _remainder_label(method):
    return method if isinstance(method, str) else f"{method[0]} (rcond {method[1]:g})"


def paired_mse_ratio(errors, base_errors, confidence=0.9, n_boot=2000, seed=0):
    """Ratio of mean squared errors of two estimators on the same seeds, bootstrap interval."""
    errors, base_errors = np.asarray(errors) ** 2, np.asarray(base_errors) ** 2
    rng = np.random.default_rng(seed)
    rows = rng.integers(len(errors), size=(n_boot, len(errors)))
    boot = errors[rows].mean(axis=1) / base_errors[rows].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(boot, [tail, 100 - tail])
    return float(errors.mean() / base_errors.mean()), float(low), float(high)


def _section_remainders(names, prepared, seeds_of, reference_probes, cache=None, key="",
                        n_probes=_DEFAULT_N_PROBES):
    lines = [
        "",
        "## 6. Estimators of the remainder's trace, at equal products",
        "",
        f"Ours ({n_probes} probes, Lanczos <= 24 steps and the probes' rule), the trace of "
        "the deflated remainder estimated from the same probes and products by "
        "Hutchinson's mean (the default), a Nystrom Hutch++ (sketch: the even-numbered "
        "probes' images under the remainder; Hutchinson on what it leaves with the "
        "odd-numbered ones) and XNysTrace (every probe corrects the Nystrom "
        "approximation from all the others): `trace_and_top_eigenvalue(..., remainder=...)`. "
        "Trace RSD: root mean square error over the seeds against the long reference of "
        "section 5, relative, chi-square 90% interval; MSE ratio: mean squared error "
        "over Hutchinson's on the same seeds, 90% bootstrap interval (paired); SE / RMS: "
        "root mean square of the standard errors the runs report over the RMS error "
        "(1 when calibrated).",
        "",
        "| model | seeds | products | estimator | trace RSD | RSD x products | MSE ratio "
        "vs Hutchinson | SE / RMS |",
        "| --- | ---: | ---: | --- | --- | ---: | --- | ---: |",
    ]
    for name in names:
        model, x, y, _ = prepared[name]
        reference, _ = reference_trace(
            model, x, y, reference_probes, cache=cache, key=f"{name} {key}"
        )
        runs, products = bench_remainders(model, x, y, range(seeds_of[name]), n_probes)
        k = float(np.mean(products))
        base = [r["trace"] - reference for r in runs["hutchinson"]]
        for method in runs:
            traces = [r["trace"] for r in runs[method]]
            rms, low, high = (100 * v / abs(reference) for v in rms_error(traces, reference))
            ratio = paired_mse_ratio([t - reference for t in traces], base)
            se = math.sqrt(np.mean([r["se"] ** 2 for r in runs[method]])) / abs(reference)
            lines.append(
                f"| {name} | {len(products)} | {k:.1f} | {method} "
                f"| {rms:.2f}% ({low:.2f}-{high:.2f}) | {rms / 100 * k:.2f} "
                f"| {ratio[0]:.2f} ({ratio[1]:.2f}-{ratio[2]:.2f}) | {100 * se / rms:.2f} |"
            )
            print(lines[-1], file=sys.stderr, flush=True)
    return lines


# ----------------------------------------------------------------- reporting
def _load():
    """The 1-minute load average (Linux), to say what the timings shared the machine with."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "unknown"


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
        help="seeds of section 2, every model (full run: "
        + ", ".join(f"{name} {run['seeds']}" for name, run in FEATURE_RUNS.items())
        + "; --quick: 2)",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=None,
        help="Hutchinson samples of the pool on which PyHessian's rule is replayed, "
        "every model (full run: 100, the ResNets fewer; --quick: 30; 0: none, the "
        "package's RSD then only over the seeds)",
    )
    parser.add_argument(
        "--also-probes",
        nargs="+",
        type=int,
        default=None,
        help="section 2: also time ours with these numbers of probes, every model "
        "(full run: 6)",
    )
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="section 2: no untimed warm-up run of each method, every model (full "
        "run: none on the ResNets)",
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
        help="models to run (default: all; --quick: the digits MLP and the small CNN)",
    )
    parser.add_argument(
        "--sections",
        nargs="+",
        type=int,
        choices=(1, 2, 3, 4, 5, 6),
        default=None,
        help="sections to run (default: all; without curvlinops and hessian-eigenthings "
        "installed, all but 5)",
    )
    parser.add_argument(
        "--reference-probes",
        type=int,
        default=None,
        help="sections 5 and 6: probes of the long reference trace (300; --quick: 40)",
    )
    parser.add_argument(
        "--remainder-probes",
        type=int,
        default=None,
        help=f"section 6: probes of ours (default {_DEFAULT_N_PROBES}, the library's)",
    )
    parser.add_argument(
        "--bulk-probes",
        type=int,
        default=_DEFAULT_BULK_PROBES,
        help="section 5: bulk_probes of ours (probes in all when the probes' rule stops "
        f"Lanczos on a broad bulk; default the library's, {_DEFAULT_BULK_PROBES}, the "
        "value of benchmarks/README.md's last ResNet runs)",
    )
    parser.add_argument(
        "--packages",
        nargs="+",
        choices=PACKAGES,
        default=list(PACKAGES),
        help="section 5: the packages to run, ours among them (default: all; the others' "
        "columns then read --; for a model whose seeds take too long with every peer)",
    )
    parser.add_argument(
        "--reference-cache",
        default=None,
        help="sections 5 and 6: a JSON file that keeps the long references between runs",
    )
    args = parser.parse_args(argv)
    if args.sections is None:
        peers_installed = curvlinops is not None and hessian_eigenthings is not None
        args.sections = (1, 2, 3, 4, 5, 6) if peers_installed else (1, 2, 3, 4, 6)
        if not peers_installed:
            print("section 5 skipped: curvlinops and hessian-eigenthings are not installed "
                  "(pip install -e '.[hessian-peers]')", file=sys.stderr)
    if pyhessian is None and {1, 2, 5} & set(args.sections):
        parser.error(
            "sections 1, 2 and 5 compare with the real PyHessian, which is not installed "
            "(pip install -e '.[pyhessian]')"
        )
    if "ours" not in args.packages:
        parser.error(f"--packages must include ours; got {' '.join(args.packages)}")
    if (curvlinops is None or hessian_eigenthings is None) and 5 in args.sections \
            and {"curvlinops", "eigenthings"} & set(args.packages):
        parser.error(
            "section 5 compares with curvlinops and hessian-eigenthings, which are not "
            "installed (pip install -e '.[hessian-peers]')"
        )
    torch.set_num_threads(args.threads)
    quick = args.quick
    n_samples = args.samples or (50 if quick else 200)
    names = args.models or (["MLP on digits", "small CNN"] if quick else list(MODELS))
    runs_of = {}
    for name in names:
        run = dict(FEATURE_RUNS[name])
        if quick:
            run.update(seeds=2, pool=30)
        if args.seeds:
            run["seeds"] = args.seeds
        if args.pool is not None:
            run["pool"] = args.pool
        if args.no_warmup:
            run["warmup"] = False
        if args.also_probes is not None:
            run["also_probes"] = tuple(args.also_probes)
        runs_of[name] = run
    train_steps = args.train_steps if args.train_steps is not None else (30 if quick else 100)
    repeats = args.repeats or (3 if quick else 5)
    variance_seeds = 5 if quick else 20
    n_replays = 10_000

    lines = [
        "# Hessian benchmark: featurizers.hessian vs the real PyHessian 0.1",
        "",
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"batches of {n_samples}: scikit-learn's digits for the MLP, random 3x32x32 "
        "images with random labels for the others; float32 models trained "
        f"{train_steps} Adam steps (lr 1e-3) on their batch, Hessians in eval mode; "
        f"load average at the start {_load()}" + (" (quick run)" if quick else ""),
    ]
    prepared = {name: _prepare(name, n_samples, train_steps) for name in names}
    reference_probes = args.reference_probes or (40 if quick else 300)
    key = f"{n_samples} samples, {train_steps} steps"  # of the reference cache
    if 1 in args.sections:
        lines += _section_hvp(names, prepared, repeats)
    if 2 in args.sections:
        lines += _section_features(names, prepared, runs_of, n_replays)
    if 3 in args.sections:
        lines += _section_trace_variance(variance_seeds)
    if 4 in args.sections:
        lines += _section_deflation(names, prepared, 4 if quick else 12)
    if 5 in args.sections:
        peer_names = [name for name in names if name in PEER_SEEDS] if args.models is None \
            else names
        seeds_of = {
            name: args.seeds or (2 if quick else PEER_SEEDS.get(name, 2)) for name in peer_names
        }
        lines += _section_peers(peer_names, prepared, seeds_of, reference_probes,
                                args.reference_cache, key, args.bulk_probes,
                                tuple(args.packages))
    if 6 in args.sections:
        remainder_names = names if args.models is not None else \
            [name for name in names if name in REMAINDER_SEEDS]
        seeds_of = {
            name: args.seeds or (3 if quick else REMAINDER_SEEDS.get(name, 4))
            for name in remainder_names
        }
        lines += _section_remainders(remainder_names, prepared, seeds_of, reference_probes,
                                     args.reference_cache, key,
                                     args.remainder_probes or _DEFAULT_N_PROBES)
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
        "| model | params | training loss | grad pass (ms) | HVP ours (ms) | HVP PyHessian (ms) "
        "| ours / grad | PyHessian / grad | ours / PyHessian | setup ours / PyHessian |",
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


def _section_features(names, prepared, runs_of, n_replays):
    lines = [
        "",
        "## 2. Trace and top eigenvalue per model, against the real PyHessian",
        "",
        "Per seed, in an order rotated from seed to seed: PyHessian 0.1 (`hessian(copy, "
        "loss, data=(x, y), cuda=False)`, `trace()` and `eigenvalues(top_n=1)`, defaults "
        "tol 1e-3 and 100 iterations, on a deep copy of the model, torch's global seed "
        "set to the seed), and ours (`HessianOperator` + `trace_and_top_eigenvalue`, "
        "`random_state` the seed). Speed-up: median over seeds of PyHessian's time over "
        "ours in the same seed, with a 90% bootstrap interval (the range below 5 seeds). "
        "Trace RSD (relative standard deviation of one estimate): for ours from the "
        "probes of every run (given its Krylov basis the estimate is unbiased, its "
        "variance is estimated by the probes' sample variance), chi-square 90% "
        "interval; for PyHessian from "
        f"{n_replays:,} replays of its rule (`pyhessian_rule`, tested to stop where the "
        "package stops on the same samples) on draws from a pool of "
        + ", ".join(f"{name} {runs_of[name]['pool']}" for name in names)
        + " Hutchinson samples (one product each), 90% bootstrap interval "
        "over the pool, and in the last column over the seeds (chi-square interval). "
        "Relative to the mean of our estimates. RSD x products: the 0.35/k floor of "
        "Meyer, Musco, Musco and Woodruff (2021) for k products on a worst-case "
        "(flat) PSD spectrum is 0.35 on this scale. Eigenvalue error: mean (max) "
        "relative error against Lanczos to a relative residual of 1e-7.",
        "",
        "| model | ours | params | seeds | speed-up (median) | products, PyHessian vs ours "
        "| trace RSD, PyHessian / ours | RSD x products, PyHessian / ours "
        "| eigenvalue error, PyHessian / ours | PyHessian's trace RSD over seeds |",
        "| --- | --- | ---: | ---: | ---: | --- | --- | --- | --- | --- |",
    ]
    verdicts = []
    for name in names:
        model, x, y, _ = prepared[name]
        run = runs_of[name]
        budgets = DEFLATED_BUDGETS + tuple(
            (p, *DEFLATED_BUDGETS[0][1:]) for p in run["also_probes"]
        )
        runs = bench_features(
            model, x, y, range(run["seeds"]), deflated=budgets, warmup=run["warmup"]
        )
        summaries = {method: _summary(r) for method, r in runs.items()}
        theirs = summaries[PACKAGE]
        reference = abs(summaries[_deflated_label(*budgets[0])]["trace"])
        if run["pool"]:
            pool = hutchinson_pool(model, x, y, run["pool"])
            std, low, high, mean_count = replayed_std(pool, n_replays)
        else:  # no pool (--pool 0): the package's RSD is not measured
            std = low = high = mean_count = np.nan
        theirs_rsd = [100 * v / reference for v in (std, low, high)]
        spread = [100 * v / reference for v in theirs["trace_spread"]]
        for budget in budgets:
            row, verdict = _features_row(
                name, model, run["seeds"], _deflated_label(*budget), summaries,
                theirs_rsd, spread, reference, mean_count,
            )
            lines.append(row)
            verdicts.append(verdict)
            print(row, file=sys.stderr, flush=True)
    return lines + ["", *verdicts]


def _features_row(name, model, n_seeds, label, summaries, theirs_rsd, spread, reference,
                  mean_count):
    """One row of section 2's table (ours as ``label`` against the package) and its verdict."""
    ours, theirs = summaries[label], summaries[PACKAGE]
    ours_rsd = [100 * v / reference for v in ours["trace_std"]]
    speedup = paired_ratio(theirs["times"], ours["times"])
    k_theirs = theirs["trace_mv"] + theirs["eig_mv"]
    k_ours = ours["trace_mv"] + ours["eig_mv"]
    row = (
        f"| {name} | {label.split('+ ')[1]}{' (default)' * ('(default)' in label)} "
        f"| {_num_params(model):,} | {n_seeds} "
        f"| {speedup[0]:.2f}x ({speedup[1]:.2f}-{speedup[2]:.2f}) "
        f"| {theirs['trace_mv']:.1f} + {theirs['eig_mv']:.1f} vs {k_ours:.1f} "
        f"| {theirs_rsd[0]:.1f}% ({theirs_rsd[1]:.1f}-{theirs_rsd[2]:.1f}) / "
        f"{ours_rsd[0]:.1f}% ({ours_rsd[1]:.1f}-{ours_rsd[2]:.1f}) "
        f"| {theirs_rsd[0] / 100 * theirs['trace_mv']:.2f} / "
        f"{ours_rsd[0] / 100 * k_ours:.2f} "
        f"| {theirs['eig_err']:.1e} ({theirs['eig_err_max']:.1e}) / "
        f"{ours['eig_err']:.1e} ({ours['eig_err_max']:.1e}) "
        f"| {spread[0]:.1f}% ({spread[1]:.1f}-{spread[2]:.1f}) |"
    )
    met = speedup[0] >= 1.5 and ours_rsd[2] < theirs_rsd[1]
    verdict = (
        f"- {name}, {label}: {speedup[0]:.2f}x by the median of paired ratios "
        f"(90% interval {speedup[1]:.2f}-{speedup[2]:.2f}), {k_ours:.1f} products "
        f"against {k_theirs:.1f} (the replayed rule drew {mean_count:.1f} on the pool), "
        f"trace RSD {ours_rsd[0]:.1f}% against {theirs_rsd[0]:.1f}% "
        f"({'intervals apart' if ours_rsd[2] < theirs_rsd[1] else 'intervals overlap'}): "
        f"goal of 1.5x at a lower variance {'met' if met else 'NOT shown'}."
    )
    return row, verdict


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
