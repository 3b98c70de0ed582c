"""Hessian-vector products, trace estimators and the top eigenvalue of a loss Hessian.

The Hessian is that of the mean loss of a model on one batch, with respect to all of
the model's floating-point parameters (biases and BatchNorm affine parameters
included, whatever their ``requires_grad`` flag), with the model in eval mode.
:class:`HessianOperator` builds the gradient with ``create_graph=True`` once and then
computes one Hessian-vector product per probe by a second backward pass through that
graph. The estimators below are pure functions of a symmetric linear operator: a
:class:`HessianOperator`, a :class:`scipy.sparse.linalg.LinearOperator`, a dense
array or a sparse matrix.

Trace and top eigenvalue together (the featurizers' default)
    :func:`trace_and_top_eigenvalue` runs Lanczos once: its top Ritz value is the
    eigenvalue and its Krylov basis deflates a Hutchinson estimate of the trace.
    Trained networks' Hessians have a few outlier eigenvalues, about one per class
    (on the small CNN of ``benchmarks/bench_hessian.py``, 10 classes: 40.0, 29.2,
    26.1, 24.3, 23.1, 21.6, 17.8, 15.0, 13.2, then 1.26 and a bulk below), which
    carry most of the squared Frobenius norm and so most of the variance of a
    Hutchinson probe. There (section 4 of the benchmark) the relative standard
    deviation of one probe fell from 31% to 2.9% once the basis held all nine,
    after 14 steps; after 8 steps, when the eigenvalue was already within 7e-6,
    it was still 19%. So Lanczos runs on past its eigenvalue until its steps
    stop removing Frobenius norm (``deflation_tol``), and 4 probes then estimate
    the rest. Measured in section 2 of ``python -m
    benchmarks.bench_hessian`` (1 thread, 200 images; all figures in
    ``benchmarks/README.md``) against a PyHessian-style baseline (adaptive
    Hutchinson and power iteration): 15.6 / 19.7 / 17.2 products against 32.1 /
    39.8 / 35.4 on an MLP, a small CNN and a ResNet-18 of width 8; 1.62x / 2.01x
    / 1.90x as fast by medians and 1.74x / 1.97x / 2.07x by means; a trace
    relative standard deviation of 5.8% / 1.3% / 4.4% against 9.1% / 7.9% /
    5.7%; a top eigenvalue within 3e-4 / 1e-7 / 2e-6 where power iteration was
    off by 1e-3 / 1e-3 / 2e-2. On the MLP, whose products are cheap (8 ms on
    821k parameters), what Lanczos adds around them matters: the passes over
    its basis, and the first writes to the basis' memory, which NumPy (unlike
    torch) backs with transparent huge pages on Linux; allocating the basis
    with torch made the MLP's run 9% slower. An earlier version stopped
    Lanczos once its eigenvalue had converged, before the outliers were in its
    basis, and removed little variance.

Trace alone
    :func:`xtrace`, :func:`hutchinson_trace` and :func:`pyhessian_trace`
    (PyHessian's adaptive stopping rule, for compatibility with published
    numbers). :func:`hessian_trace` picks XTrace by default, Hutchinson when
    XTrace's workspace would exceed 1 GiB (``method="auto"``). Measured with
    ``python -m benchmarks.bench_hessian`` (section 3) on a tiny CNN with BatchNorm
    (1,170 parameters, float64, trained on 200 samples, exact trace from 1,170
    unit-vector products), over 20 seeds: the relative standard deviation of the
    estimate was 3.1% for Hutchinson with 100 Rademacher probes, 7.0% for
    PyHessian's adaptive rule (which stopped after 29 products on average, with a
    +2.4% bias of the mean from its data-dependent stopping) and 0.75% for XTrace
    with 100 products (3.0% with 20, 1.3% with 50). XTrace's advantage comes from
    the same few large eigenvalues; on a flat spectrum (an MLP that had not been
    trained: 11.8% against 6.2% for Hutchinson, 10 seeds) it spends half of its
    products on a basis that captures little and is up to about 1.4 times noisier
    than Hutchinson with the same budget. It also needs about ``num_matvecs / 2``
    vectors of the model's size in memory where Hutchinson needs one (see
    :func:`xtrace`): about 6 GB for 100 products on a ResNet-18's 11 million
    parameters. ``method="auto"`` therefore falls back to Hutchinson when that
    workspace exceeds 1 GiB (about 2 million parameters at 100 products).

Top eigenvalue alone
    :func:`top_eigenvalue` by Lanczos (ARPACK's implicitly restarted Lanczos through
    :func:`scipy.sparse.linalg.eigsh`, the default) or power iteration. The
    Rayleigh-Ritz value of XTrace's basis (the top eigenvalue of ``Q^T H Q``, no
    product beyond the trace's) was measured as a free alternative and not offered
    (``python -m benchmarks.bench_hessian``, section 2, relative errors against
    ARPACK at tol 1e-8): 1.5e-3 / 5.9e-4 / 9.9e-3 at 100 products on the MLP, the
    small CNN and the ResNet-18 of width 8 (an earlier run: 1.9e-2 and 7.7e-2 at
    20 products on the last two), where ARPACK at tol 1e-3 reached 3e-4 / 3e-7 /
    7e-7 in 7-10 products.

Every function here leaves the model as it found it: the train/eval mode of every
submodule, the ``requires_grad`` flags, the weights, the gradients and the buffers
(BatchNorm statistics) are the same after the call.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)

from ._utils import (
    _RANDOM_STATE,
    _check_random_state,
    _child_seed,
    _eval_mode,
    _torch_seed,
)

__all__ = [
    "HessianOperator",
    "hessian_top_eigenvalue",
    "hessian_trace",
    "hutchinson_trace",
    "pyhessian_trace",
    "top_eigenvalue",
    "trace_and_top_eigenvalue",
    "xtrace",
]

# Lanczos basis size: 6 vectors found the top eigenvalue of network Hessians to 1e-5
# relative in 7-21 products (see the featurizer notes of the project).
_LANCZOS_NCV = 6
# Products with the basis computed per block in xtrace (one pass over Q per block).
_XTRACE_BLOCK = 16
# Below this dimension the dense matrix is cheaper than a Lanczos run.
_DENSE_MAX_DIM = 2 * _LANCZOS_NCV
# Hutchinson probes of trace_and_top_eigenvalue by default: on the ResNet-18 of
# benchmarks/bench_hessian.py, whose remainder stays heavy however long Lanczos runs,
# 4 left the trace's variance level with the real PyHessian's; 6 put it below on
# every network there at about 1.7x the speed (see the benchmark's README).
_DEFAULT_NUM_PROBES = 6
# Probes of trace_and_top_eigenvalue projected per pass over its basis.
_DEFLATED_PROBE_BLOCK = 4
# Largest XTrace workspace (bytes) for which method="auto" picks XTrace: 1 GiB.
_XTRACE_MEMORY_BUDGET = 2**30


def _empty_rows(rows, n, dtype, device):
    """An uninitialised ``(rows, n)`` tensor for the vectors of a Krylov basis.

    On the CPU it is allocated by NumPy, which advises the kernel to back arrays of
    4 MiB and more with transparent huge pages (on Linux), where torch's allocator
    does not: the first write to a fresh basis row then costs a fault per 2 MiB
    rather than per 4 KiB. That matters where the kernel's setting
    (``/sys/kernel/mm/transparent_hugepage/enabled``) is ``madvise``, as on this
    project's machines and by default on many distributions; with ``always``
    torch's memory gets huge pages too, with ``never`` neither does. There it
    made the first write of an 821k-entry float32 row 4.6x faster (0.23 ms against 1.08 ms), and a
    whole :func:`trace_and_top_eigenvalue` run on the MLP of
    ``benchmarks/bench_hessian.py`` took 188 ms instead of 205 ms (medians of
    30 runs, 1 thread). The first run in a fresh process was slower instead
    (267 ms and 354 ms against 225 ms and 233 ms in two pairs of processes),
    the kernel then assembling its first huge pages; the featurizers make one
    run per model, so the later runs prevail. Other devices and dtypes NumPy
    lacks (bfloat16) use :func:`torch.empty`.
    """
    if device.type == "cpu":
        try:
            np_dtype = torch.empty((), dtype=dtype).numpy().dtype
        except TypeError:
            pass
        else:
            return torch.from_numpy(np.empty((rows, n), dtype=np_dtype))
    return torch.empty((rows, n), dtype=dtype, device=device)


def _rademacher(rng, size):
    """Draw a float64 vector of independent +-1 entries from ``rng``."""
    return np.where(rng.random(size) < 0.5, -1.0, 1.0)


class HessianOperator:
    """Hessian of a model's mean loss on one batch, as a matrix-free operator.

    The gradient of ``loss_fn(model(inputs), targets)`` with respect to all
    floating-point parameters of ``model`` is built once, with ``create_graph=True``;
    each :meth:`matvec` is then one extra backward pass through that graph. The model
    is evaluated in eval mode (BatchNorm uses its running statistics, dropout is off)
    on copies of its parameters, so the operator is a snapshot: later changes to the
    model do not change it, and the model itself is never modified (every
    submodule's train/eval mode is restored, ``requires_grad`` flags, ``.grad``
    fields, weights and buffers are untouched).

    The operator keeps the autograd graph of one forward and one backward pass alive
    for its whole lifetime; delete it to free that memory.

    Parameters
    ----------
    model : torch.nn.Module
        The network. All its floating-point parameters are differentiated, including
        those with ``requires_grad=False``; shared (tied) parameters count once.
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the mean loss as a scalar tensor, for
        example :class:`torch.nn.CrossEntropyLoss`.
    inputs : torch.Tensor
        The batch, on the device of the model's parameters. Must not be empty.
    targets : torch.Tensor
        The targets of the batch, with as many rows as ``inputs``.

    Attributes
    ----------
    num_params : int
        Number of scalar parameters, the side of the Hessian.
    shape : tuple of int
        ``(num_params, num_params)``.
    loss : float
        The mean loss on the batch.
    dtype : torch.dtype
        Floating dtype of the parameters and of the vectors :meth:`matvec` returns.
    device : torch.device
        Device of the parameters.

    Raises
    ------
    FloatingPointError
        If the loss on the batch is NaN or infinite (its Hessian is undefined).

    See Also
    --------
    hessian_trace : Trace of the Hessian of a model in one call.
    hessian_top_eigenvalue : Top eigenvalue of the Hessian of a model in one call.

    Examples
    --------
    >>> import torch
    >>> from featurizers.hessian import HessianOperator
    >>> model = torch.nn.Linear(3, 1, dtype=torch.float64)
    >>> x = torch.arange(12, dtype=torch.float64).reshape(4, 3) / 10
    >>> y = torch.zeros(4, 1, dtype=torch.float64)
    >>> op = HessianOperator(model, torch.nn.MSELoss(), x, y)
    >>> op.num_params
    4
    >>> op.matvec(torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64))
    tensor([0.9000, 1.1000, 1.3000, 2.0000], dtype=torch.float64)
    """

    _parameter_constraints = {
        "model": [torch.nn.Module],
        "loss_fn": [callable],
        "inputs": [torch.Tensor],
        "targets": [torch.Tensor],
    }

    def __init__(self, model, loss_fn, inputs, targets):
        validate_parameter_constraints(
            self._parameter_constraints,
            {"model": model, "loss_fn": loss_fn, "inputs": inputs, "targets": targets},
            caller_name=type(self).__name__,
        )
        if inputs.ndim == 0 or inputs.shape[0] == 0:
            raise ValueError(
                "The 'inputs' parameter of HessianOperator must be a non-empty batch "
                f"(at least one row). Got a tensor of shape {tuple(inputs.shape)} instead."
            )
        if targets.ndim == 0 or targets.shape[0] != inputs.shape[0]:
            raise ValueError(
                "The 'targets' parameter of HessianOperator must have as many rows as "
                f"'inputs' ({inputs.shape[0]}). Got a tensor of shape "
                f"{tuple(targets.shape)} instead."
            )
        named = [
            (name, p) for name, p in model.named_parameters() if p.is_floating_point()
        ]
        if not named:
            raise ValueError(
                "The 'model' parameter of HessianOperator must have at least one "
                f"floating-point parameter. Got {type(model).__name__} with none."
            )
        devices = {p.device for _, p in named}
        dtypes = {p.dtype for _, p in named}
        if len(devices) > 1 or len(dtypes) > 1:
            raise ValueError(
                "The parameters of 'model' must share one device and one dtype. Got "
                f"devices {sorted(map(str, devices))} and dtypes "
                f"{sorted(map(str, dtypes))}."
            )
        self.device = devices.pop()
        self.dtype = dtypes.pop()
        if inputs.device != self.device:
            raise ValueError(
                f"The 'inputs' parameter of HessianOperator must be on the model's "
                f"device {self.device}. Got a tensor on {inputs.device} instead."
            )

        self._names = [name for name, _ in named]
        self._shapes = [p.shape for _, p in named]
        self._numels = [p.numel() for _, p in named]
        self.num_params = int(sum(self._numels))
        self.shape = (self.num_params, self.num_params)

        with torch.inference_mode(False), torch.enable_grad(), _eval_mode(model):
            self._params = [p.detach().clone().requires_grad_(True) for _, p in named]
            outputs = torch.func.functional_call(
                model, dict(zip(self._names, self._params)), (inputs,)
            )
            loss = loss_fn(outputs, targets)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ValueError(
                    "The 'loss_fn' parameter of HessianOperator must return a scalar "
                    f"tensor (the mean loss). Got {type(loss).__name__} of shape "
                    f"{tuple(getattr(loss, 'shape', ()))} instead."
                )
            loss = loss.reshape(())
            self.loss = float(loss.detach())
            if not math.isfinite(self.loss):
                raise FloatingPointError(
                    f"The loss of the model on the batch is {self.loss}; its Hessian is "
                    "undefined."
                )
            if loss.requires_grad:
                grads = torch.autograd.grad(
                    loss, self._params, create_graph=True, allow_unused=True
                )
            else:
                grads = [None] * len(self._params)
        # Only gradients that still depend on the parameters contribute to H v.
        self._graph_index = [
            i for i, g in enumerate(grads) if g is not None and g.requires_grad
        ]
        self._grads = [grads[i] for i in self._graph_index]

    def __repr__(self):
        return (
            f"{type(self).__name__}(num_params={self.num_params}, "
            f"loss={self.loss:.6g}, dtype={self.dtype}, device={self.device})"
        )

    def matvec(self, v):
        """Multiply the Hessian with a flat vector.

        Parameters
        ----------
        v : torch.Tensor of shape (num_params,)
            The vector, in the order of ``model.named_parameters()``. It is cast to
            the operator's dtype and device.

        Returns
        -------
        torch.Tensor of shape (num_params,)
            ``H @ v`` in the operator's dtype, on its device.
        """
        if not isinstance(v, torch.Tensor):
            raise TypeError(
                "The 'v' parameter of HessianOperator.matvec must be a torch.Tensor. "
                f"Got {type(v).__name__} instead."
            )
        if v.ndim != 1 or v.shape[0] != self.num_params:
            raise ValueError(
                "The 'v' parameter of HessianOperator.matvec must be a 1-D tensor of "
                f"length num_params={self.num_params}. Got shape {tuple(v.shape)} "
                "instead."
            )
        if v.is_complex():
            raise TypeError(
                "The 'v' parameter of HessianOperator.matvec must be real. Got dtype "
                f"{v.dtype} instead."
            )
        v = v.detach().to(device=self.device, dtype=self.dtype)
        if not self._grads:
            return torch.zeros_like(v)
        chunks = v.split(self._numels)
        grad_outputs = [
            chunks[i].view(self._shapes[i]) for i in self._graph_index
        ]
        with torch.inference_mode(False):
            hv = torch.autograd.grad(
                self._grads,
                self._params,
                grad_outputs=grad_outputs,
                retain_graph=True,
                allow_unused=True,
            )
        return torch.cat(
            [
                (h if h is not None else torch.zeros_like(p)).reshape(-1)
                for h, p in zip(hv, self._params)
            ]
        )

    def to_linear_operator(self):
        """Wrap the operator as a float64 :class:`scipy.sparse.linalg.LinearOperator`.

        Returns
        -------
        scipy.sparse.linalg.LinearOperator
            Symmetric operator of shape ``(num_params, num_params)`` taking and
            returning float64 numpy arrays; products are computed in the operator's
            own dtype on its device.
        """

        def matvec(x):
            x = np.asarray(x, dtype=np.float64).reshape(-1)
            hv = self.matvec(torch.from_numpy(x))
            return hv.detach().to(device="cpu", dtype=torch.float64).numpy()

        return scipy.sparse.linalg.LinearOperator(
            shape=self.shape, matvec=matvec, rmatvec=matvec, dtype=np.float64
        )


_OPERATOR = [
    HessianOperator,
    scipy.sparse.linalg.LinearOperator,
    np.ndarray,
    "sparse matrix",
]


def _as_linear_operator(op):
    """Return ``op`` as a square float64 LinearOperator and its dimension."""
    if isinstance(op, HessianOperator):
        return op.to_linear_operator(), op.num_params
    if len(op.shape) != 2 or op.shape[0] != op.shape[1]:
        raise ValueError(
            f"The operator must be square (2-D, n x n). Got shape {tuple(op.shape)}."
        )
    n = int(op.shape[0])
    if n == 0:
        raise ValueError("The operator must have at least one row. Got shape (0, 0).")
    linop = scipy.sparse.linalg.aslinearoperator(op)

    def matvec(x):
        return np.asarray(linop.matvec(x), dtype=np.float64).reshape(-1)

    return (
        scipy.sparse.linalg.LinearOperator(
            shape=(n, n), matvec=matvec, rmatvec=matvec, dtype=np.float64
        ),
        n,
    )


@validate_params(
    {
        "op": _OPERATOR,
        "num_matvecs": [Interval(Integral, 1, None, closed="left")],
        "distribution": [StrOptions({"rademacher", "normal"})],
        "random_state": _RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def hutchinson_trace(op, num_matvecs=100, *, distribution="rademacher", random_state=None):
    """Estimate the trace of a symmetric operator with Hutchinson's method.

    The estimate is the mean of ``v @ (A @ v)`` over ``num_matvecs`` independent
    probes ``v`` with identity covariance. It is unbiased; for Rademacher probes its
    variance is ``2 * (||A||_F^2 - sum(diag(A)^2)) / num_matvecs``.

    Parameters
    ----------
    op : HessianOperator, LinearOperator, ndarray or sparse matrix of shape (n, n)
        The operator.
    num_matvecs : int, default=100
        Number of probes, hence of matrix-vector products.
    distribution : {"rademacher", "normal"}, default="rademacher"
        Distribution of the probe entries: independent +-1, or standard normal.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the probes. Pass an int for reproducible results.

    Returns
    -------
    float
        The trace estimate.

    See Also
    --------
    xtrace : Lower variance for the same products when a few eigenvalues dominate.
    pyhessian_trace : Hutchinson with PyHessian's adaptive stopping rule.

    Examples
    --------
    >>> import numpy as np
    >>> from featurizers.hessian import hutchinson_trace
    >>> A = np.ones((3, 3)) + np.eye(3)  # trace 6
    >>> round(hutchinson_trace(A, 1000, random_state=0), 3)
    6.248
    """
    linop, n = _as_linear_operator(op)
    rng = _check_random_state(random_state)
    total = 0.0
    for _ in range(num_matvecs):
        if distribution == "rademacher":
            v = _rademacher(rng, n)
        else:
            v = rng.standard_normal(n)
        total += float(v @ linop.matvec(v))
    return total / num_matvecs


@validate_params(
    {
        "op": _OPERATOR,
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": _RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def pyhessian_trace(op, max_iter=100, tol=1e-3, *, random_state=None):
    """Estimate the trace with Hutchinson's method and PyHessian's stopping rule.

    Rademacher probes are drawn one at a time; after each one the running mean of
    ``v @ (A @ v)`` is compared with the previous running mean (0 before the first
    probe) and the loop stops as soon as
    ``|mean - previous| / (previous + 1e-6)`` is below ``tol``, or after
    ``max_iter`` probes. This is the rule of ``pyhessian.hessian.trace`` (PyHessian
    0.1), reproduced sample for sample, offered for compatibility with numbers
    computed by PyHessian. Its denominator has no absolute value, so once the
    running mean is below ``-1e-6`` the ratio is negative and the loop stops: on an
    operator with a negative trace it stops after the second probe (unless the
    first sample is within ``1e-9`` of 0) with the mean of two samples. It often
    stops after a handful of probes on positive traces too, so its estimate is
    noisy: prefer :func:`xtrace`.

    Parameters
    ----------
    op : HessianOperator, LinearOperator, ndarray or sparse matrix of shape (n, n)
        The operator.
    max_iter : int, default=100
        Maximum number of probes.
    tol : float, default=1e-3
        Relative change of the running mean at which to stop.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the probes. Pass an int for reproducible results.

    Returns
    -------
    float
        The running mean at stopping (PyHessian returns the samples, whose mean is
        what its users report).

    See Also
    --------
    hutchinson_trace : Hutchinson's method with a fixed number of probes.

    Examples
    --------
    >>> import numpy as np
    >>> from featurizers.hessian import pyhessian_trace
    >>> pyhessian_trace(np.eye(5), random_state=0)
    5.0
    """
    linop, n = _as_linear_operator(op)
    rng = _check_random_state(random_state)
    samples = []
    previous = 0.0
    for _ in range(max_iter):
        v = _rademacher(rng, n)
        samples.append(float(v @ linop.matvec(v)))
        mean = float(np.mean(samples))  # PyHessian's arithmetic, np.mean of the list
        denominator = previous + 1e-6
        # As in NumPy, where PyHessian divides: x / 0 is inf or nan, never below tol.
        if denominator != 0 and abs(mean - previous) / denominator < tol:
            break
        previous = mean
    return mean


def _exact_trace(linop, n):
    """Trace from the ``n`` products with the unit vectors."""
    total = 0.0
    e = np.zeros(n)
    for i in range(n):
        e[i] = 1.0
        total += float(linop.matvec(e)[i])
        e[i] = 0.0
    return total


def _leave_one_out_directions(R):
    """Unit vectors ``s_i`` orthogonal to every column of ``R`` but the i-th.

    For ``Y = Q R`` the basis of ``Y`` without its i-th column is ``Q (I - s_i s_i^T)``.
    For a well-conditioned ``R`` the ``s_i`` are the normalised columns of ``R^{-T}``;
    for a numerically singular one (an operator of rank below ``k``) each is taken as
    the left singular vector of ``R`` without its i-th column with the smallest
    singular value.
    """
    k = R.shape[0]
    diag = np.abs(np.diag(R))
    if diag.min() > 1e-10 * diag.max():
        inv_t = scipy.linalg.solve_triangular(R, np.eye(k), lower=False).T
        norms = np.linalg.norm(inv_t, axis=0)
        if np.all(np.isfinite(norms)) and np.all(norms > 0):
            return inv_t / norms
    S = np.empty((k, k))
    for i in range(k):
        u, _, _ = np.linalg.svd(np.delete(R, i, axis=1), full_matrices=True)
        S[:, i] = u[:, -1]
    return S


@validate_params(
    {
        "op": _OPERATOR,
        "num_matvecs": [Interval(Integral, 2, None, closed="left")],
        "random_state": _RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def xtrace(op, num_matvecs=100, *, random_state=None):
    """Estimate the trace of a symmetric operator with XTrace.

    XTrace (Epperly, Tropp and Webber, 2024) spends half of the products on a
    randomized range finder and half on the product with its basis, like Hutch++,
    and makes every probe serve both roles: for each of the ``k = num_matvecs // 2``
    Gaussian probes ``w_i``, the basis ``Q_i`` of ``A`` applied to the *other* probes
    gives ``tr(Q_i^T A Q_i)`` exactly, and ``w_i`` estimates the trace of ``A`` on
    the orthogonal complement of ``Q_i``; the estimate is the mean of these ``k``
    unbiased estimates. Each complement probe is rescaled to norm
    ``sqrt(n - k + 1)``, uniform on that sphere of the complement (in the spirit of
    the paper's normalised test vectors), which keeps the estimate unbiased and
    lowers its variance. The leave-one-out bases are obtained by downdating one
    QR decomposition, so the cost beyond the products is ``O(n k^2)``.

    When the spectrum decays (as network Hessians' do), the error is far below
    Hutchinson's for the same number of products, and the estimate is exact for an
    operator of rank below ``k``. When ``num_matvecs >= n`` the trace is computed
    exactly from the ``n`` products with the unit vectors instead.

    Parameters
    ----------
    op : HessianOperator, LinearOperator, ndarray or sparse matrix of shape (n, n)
        The operator, which must be symmetric.
    num_matvecs : int, default=100
        Budget of matrix-vector products, at least 2; ``2 * (num_matvecs // 2)``
        are used.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the probes. Pass an int for reproducible results.

    Returns
    -------
    float
        The trace estimate.

    Notes
    -----
    Memory: one ``n x k`` float64 array (the images of the probes, overwritten by
    their orthonormal basis) and one ``n x min(k, 16)`` block, that is
    ``8 * n * (k + min(k, 16))`` bytes, about ``4 * num_matvecs * n`` for large
    budgets, where Hutchinson needs a few vectors of size ``n``. The peak measured
    with :mod:`tracemalloc` on a 19,210-parameter MLP was 552 bytes per parameter
    at 100 products (962 at 200). For a model with 11 million parameters and 100
    products that is about 6 GB; use fewer products or
    :func:`hutchinson_trace` when it does not fit (``method="auto"`` of
    :func:`hessian_trace` does the latter above 1 GiB). The probes
    are standard normal (drawn in float32 from a generator seeded by
    ``random_state``, drawn a second time rather than stored).

    References
    ----------
    E. N. Epperly, J. A. Tropp and R. J. Webber, "XTrace: making the most of every
    sample in stochastic trace estimation", SIAM J. Matrix Anal. Appl. 45(1), 2024.

    See Also
    --------
    hutchinson_trace : Unbiased estimator with constant memory.

    Examples
    --------
    >>> import numpy as np
    >>> from featurizers.hessian import xtrace
    >>> from featurizers.hessian import hutchinson_trace
    >>> rng = np.random.default_rng(0)
    >>> U, _ = np.linalg.qr(rng.standard_normal((100, 100)))
    >>> A = (U * 0.5 ** np.arange(100)) @ U.T  # trace 2
    >>> round(xtrace(A, 20, random_state=0), 4)
    1.9995
    >>> round(hutchinson_trace(A, 20, random_state=0), 4)
    2.3453
    """
    linop, n = _as_linear_operator(op)
    if num_matvecs >= n:
        return _exact_trace(linop, n)
    return _xtrace(linop, n, num_matvecs, random_state)[0]


def _xtrace(linop, n, num_matvecs, random_state):
    """XTrace estimate of the trace and the Rayleigh-Ritz value of its basis.

    Returns ``(trace, ritz)`` where ``ritz`` is the largest-magnitude eigenvalue
    (with its sign) of ``Q^T A Q``, ``Q`` the orthonormal basis of ``A @ Omega``:
    an estimate of the top eigenvalue that costs no product beyond the trace's.
    It is not offered as a feature: one step of subspace iteration is far less
    accurate than Lanczos (see the module docstring: relative errors of 6e-4 to
    8e-2 on trained networks at 20-100 products, where Lanczos reaches 1e-6 in
    about 10). Requires ``2 <= num_matvecs < n``.
    """
    k = num_matvecs // 2
    # The probes are drawn twice from one seed (for A w and for Q^T w) instead of
    # being stored: the basis is then the only n x k array.
    seed = _child_seed(_check_random_state(random_state))

    def probes():
        generator = np.random.default_rng(seed)
        for _ in range(k):
            yield generator.standard_normal(n, dtype=np.float32).astype(np.float64)

    Y = np.empty((n, k), order="F")
    quad_omega = np.empty(k)  # w_i^T A w_i, the Hutchinson sample of each probe
    norm2_omega = np.empty(k)
    for j, omega in enumerate(probes()):
        Y[:, j] = linop.matvec(omega)
        quad_omega[j] = omega @ Y[:, j]
        norm2_omega[j] = omega @ omega
    Q, R = scipy.linalg.qr(Y, mode="economic", overwrite_a=True, check_finite=False)
    del Y  # Q overwrote it
    W = np.empty((k, k))  # coordinates of the probes in the basis, Q^T w_i
    H = np.empty((k, k))  # Q^T A Q
    block = np.empty((n, min(k, _XTRACE_BLOCK)), order="F")
    for start in range(0, k, block.shape[1]):
        columns = range(start, min(k, start + block.shape[1]))
        for b, j in enumerate(columns):
            block[:, b] = linop.matvec(Q[:, j])
        H[:, columns.start : columns.stop] = Q.T @ block[:, : len(columns)]
    width = block.shape[1]
    for j, omega in enumerate(probes()):
        block[:, j % width] = omega
        if j % width == width - 1 or j == k - 1:
            start = j - j % width
            W[:, start : j + 1] = Q.T @ block[:, : j + 1 - start]
    del Q, block
    H = (H + H.T) / 2
    ritz_values = np.linalg.eigvalsh(H)
    ritz = float(ritz_values[np.argmax(np.abs(ritz_values))])

    S = _leave_one_out_directions(R)
    # tr(Q_i^T A Q_i) with Q_i Q_i^T = Q (I - s_i s_i^T) Q^T.
    tr_basis = np.trace(H) - np.einsum("ji,jk,ki->i", S, H, S)
    # Coordinates of the projection of w_i on the basis Q_i: P_i w_i.
    sw = np.einsum("ji,ji->i", S, W)
    PW = W - S * sw
    # w^T (I - Pi) A (I - Pi) w = w^T A w - 2 (Q^T A w)^T P w + (P w)^T H (P w),
    # with Q^T A w_i = R[:, i].
    cross = np.einsum("ji,ji->i", R, PW)
    quad_basis = np.einsum("ji,jk,ki->i", PW, H, PW)
    residual = quad_omega - 2 * cross + quad_basis
    # Squared norm of the complement part of w_i, to put it on the sphere of radius
    # sqrt(n - k + 1) of the complement.
    norm2_complement = norm2_omega - np.einsum("ji,ji->i", W, PW)
    scale = np.where(norm2_complement > 0, (n - k + 1) / norm2_complement, 0.0)
    return float(np.mean(tr_basis + scale * residual)), ritz


def _xtrace_workspace(num_matvecs, n):
    """Bytes of the two float64 arrays :func:`xtrace` allocates (see its Notes)."""
    k = num_matvecs // 2
    return 8 * n * (k + min(k, _XTRACE_BLOCK))


def _trace_method(method, num_matvecs, n):
    """The estimator ``method`` stands for: ``"auto"`` resolved for ``n`` parameters."""
    if method != "auto":
        return method
    if num_matvecs >= 2 and _xtrace_workspace(num_matvecs, n) <= _XTRACE_MEMORY_BUDGET:
        return "xtrace"
    return "hutchinson"


def _estimate_trace(op, method, num_matvecs, random_state):
    """Trace of a :class:`HessianOperator` by the estimator of :func:`hessian_trace`."""
    method = _trace_method(method, num_matvecs, op.num_params)
    if method == "xtrace":
        return xtrace(op, num_matvecs, random_state=random_state)
    if method == "hutchinson":
        return hutchinson_trace(op, num_matvecs, random_state=random_state)
    return pyhessian_trace(op, max_iter=num_matvecs, random_state=random_state)


def _dense(linop, n):
    """The dense matrix of a LinearOperator, symmetrised."""
    A = np.column_stack([linop.matvec(e) for e in np.eye(n)])
    return (A + A.T) / 2


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


def _torch_matvec(op):
    """``(matvec, n, dtype, device)`` of an accepted operator, on torch vectors.

    A :class:`HessianOperator` multiplies in its own dtype on its own device, with no
    copy to numpy; any other operator is wrapped as a float64 CPU product.
    """
    if isinstance(op, HessianOperator):
        return op.matvec, op.num_params, op.dtype, op.device
    linop, n = _as_linear_operator(op)

    def matvec(v):
        # Copies both ways: an operator may return its input (IdentityOperator) or
        # work in it, and the caller works in place in what it gets.
        return torch.from_numpy(np.array(linop.matvec(v.numpy().copy()), dtype=np.float64))

    return matvec, n, torch.float64, torch.device("cpu")


def _lanczos(matvec, Q, tol, deflation_tol, generator):
    """Lanczos with full reorthogonalisation for the top eigenvalue and a deflation basis.

    ``Q`` is an empty ``(max_steps, n)`` tensor that receives the basis, one row per
    step. Returns ``(steps, T, beta, theta, residual)``: the number of steps taken
    (rows of ``Q`` filled), ``T = Q^T A Q`` on them (float64, with the
    reorthogonalisation coefficients folded in), the norm of the last residual,
    the top (largest-magnitude) Ritz value and the last residual ``r`` itself:
    ``A Q = Q T + r e_m^T`` to rounding, with ``Q`` the ``(n, steps)`` matrix whose
    columns are the filled rows (the notation below).

    Lanczos stops after ``max_steps`` steps, on an invariant subspace, or once
    both the top Ritz pair has converged (ARPACK's criterion: residual
    ``|beta_m y_m| <= tol * |theta|``) and the deflation has stalled. A probe of
    the remainder ``(I - P) A (I - P)``, ``P = Q Q^T``, has a variance of about
    twice its squared Frobenius norm; the basis removes
    ``||A||_F^2 - ||(I - P) A (I - P)||_F^2 = ||T||_F^2 + 2 beta_m^2`` of it,
    which grows by ``alpha_m^2 + 2 beta_m^2`` at step ``m``; Lanczos stops once
    each of the last two steps grew it by at most ``deflation_tol`` of its value.
    That happens once the basis holds the few large eigenvalues that carry most
    of ``||A||_F^2`` and has moved on to the flat bulk of the spectrum (one step
    alone sometimes gains little before the last outlier is found).

    Each step costs one product and two passes over the basis: the three-term
    recurrence, then one classical Gram-Schmidt pass against the whole basis, and a
    second pass when the first left less than ``1 / sqrt(2)`` of the vector's norm
    (the criterion of Daniel, Gragg, Kaufman and Stewart, 1976: then rounding may
    have left it far from orthogonal), as it does near an invariant subspace. The
    subspace counts as invariant once the residual is at most
    ``sqrt(eps) * ||A q_m||`` (``eps`` of the basis' dtype): products in float32
    are themselves only that accurate, and the next vector would be rounding
    noise. Stopping there is safe, since the probes estimate whatever the basis
    leaves out.
    """
    max_steps, n = Q.shape
    breakdown = math.sqrt(torch.finfo(Q.dtype).eps)
    Q[0] = torch.randn(n, generator=generator, dtype=Q.dtype).to(Q.device)
    Q[0] /= torch.linalg.vector_norm(Q[0])
    T = np.zeros((max_steps, max_steps))
    gains = []  # squared Frobenius norm removed by each step
    for j in range(max_steps):
        w = matvec(Q[j])
        scale = float(torch.linalg.vector_norm(w))  # ||A q_j||
        T[j, j] = float(torch.dot(Q[j], w))
        w.sub_(Q[j], alpha=T[j, j])
        if j:
            w.sub_(Q[j - 1], alpha=T[j, j - 1])
        basis = Q[: j + 1]
        for _ in range(2):
            before = float(torch.linalg.vector_norm(w))
            c = basis @ w
            w.addmv_(basis.T, c, alpha=-1.0)
            T[: j + 1, j] += c.double().cpu().numpy()
            beta = float(torch.linalg.vector_norm(w))
            if beta > before / math.sqrt(2):
                break
        T[j, : j + 1] = T[: j + 1, j]
        steps = j + 1
        ritz_values, ritz_vectors = np.linalg.eigh(T[:steps, :steps])
        top = int(np.argmax(np.abs(ritz_values)))
        theta = float(ritz_values[top])
        if beta <= breakdown * scale:
            break  # invariant subspace: T is exact on it
        converged = abs(beta * ritz_vectors[-1, top]) <= tol * abs(theta)
        removed = float(np.sum(T[:steps, :steps] ** 2)) + 2 * beta**2
        gains.append(T[j, j] ** 2 + 2 * beta**2)
        stalled = steps >= 2 and max(gains[-2:]) <= deflation_tol * removed
        if converged and stalled:
            break
        if steps < max_steps:
            T[j + 1, j] = T[j, j + 1] = beta
            torch.div(w, beta, out=Q[j + 1])
    return steps, T[:steps, :steps], beta, theta, w


def _deflated_samples(matvec, QR, T, num_probes, generator):
    """Hutchinson samples ``g^T (I - Q Q^T) A (I - Q Q^T) g``, Rademacher ``g``.

    ``QR`` is ``(m + 1, n)``: the ``m`` Lanczos vectors (the columns of ``Q``) as
    rows, then the last residual ``r``. Each probe costs one product ``A g``.
    With ``c = Q^T g``, ``(g - Q c)^T A (g - Q c) = g^T A g - 2 c^T Q^T A g +
    c^T T c``, and the Lanczos relation ``A Q = Q T + r e_m^T`` gives
    ``Q^T A g = T c + (r^T g) e_m``, so a sample is
    ``g^T A g - c^T T c - 2 c_m (r^T g)``: the product ``A g`` is only needed
    for ``g^T A g``, and ``c`` and ``r^T g`` come from one product of ``QR``
    with a block of probes (half the rows of also projecting the products
    ``A g``, and no memory to keep them).
    """
    n = QR.shape[1]
    m = len(T)
    samples = np.empty(num_probes)
    block = min(num_probes, _DEFLATED_PROBE_BLOCK)
    G = _empty_rows(block, n, QR.dtype, QR.device)
    quad = torch.empty(block, dtype=torch.float64, device=QR.device)  # g^T A g
    shifts = torch.arange(8, dtype=torch.uint8)
    for start in range(0, num_probes, block):
        size = min(block, num_probes - start)
        for b in range(size):
            # Eight signs from each random byte, written into the block's row: a
            # third of the time of torch.randint with one draw per entry, and no
            # new float array of size n (fresh memory costs as much as the draws).
            bits = torch.randint(0, 256, ((n + 7) // 8,), generator=generator, dtype=torch.uint8)
            G[b].copy_(((bits[:, None] >> shifts) & 1).reshape(-1)[:n]).mul_(2).sub_(1)
            quad[b] = torch.dot(G[b], matvec(G[b]))  # on the device: no wait per probe
        CR = (G[:size] @ QR.T).double().cpu().numpy()
        C, rg = CR[:, :m], CR[:, m]  # rows: Q^T g, then r^T g
        samples[start : start + size] = (
            quad[:size].cpu().numpy() - np.einsum("bi,ij,bj->b", C, T, C) - 2 * C[:, -1] * rg
        )
    return samples


def _lanczos_deflated(op, num_probes, max_steps, tol, deflation_tol, rng):
    """Lanczos then deflated Hutchinson, in torch, in the operator's dtype and device.

    Returns ``(trace_basis, samples, eigenvalue, steps)``: ``tr(T)``,
    ``T = Q^T A Q`` on the Krylov basis ``Q`` of ``steps`` vectors (see
    :func:`_lanczos`), the ``num_probes`` Hutchinson samples of the deflated
    remainder (``trace_basis + samples.mean()`` is the trace estimate), the top
    Ritz value and the number of Lanczos steps (products: ``steps +
    num_probes``). Given ``Q`` the samples are independent with mean
    ``tr(A) - tr(T)``, so ``samples.var(ddof=1) / num_probes`` estimates the
    variance of the trace estimate without bias (what the benchmark reports).
    Requires ``max_steps + num_probes < n``.
    """
    matvec, n, dtype, device = _torch_matvec(op)
    generator = torch.Generator().manual_seed(_torch_seed(rng))
    # One row more than the basis can take, for the last residual.
    QR = _empty_rows(max_steps + 1, n, dtype, device)
    steps, T, _, theta, residual = _lanczos(matvec, QR[:max_steps], tol, deflation_tol, generator)
    QR[steps] = residual
    samples = _deflated_samples(matvec, QR[: steps + 1], T, num_probes, generator)
    return float(np.trace(T)), samples, theta, steps


@validate_params(
    {
        "op": _OPERATOR,
        "num_probes": [Interval(Integral, 1, None, closed="left")],
        "max_lanczos_steps": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "deflation_tol": [Interval(Real, 0, 1, closed="both")],
        "random_state": _RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def trace_and_top_eigenvalue(
    op,
    *,
    num_probes=_DEFAULT_NUM_PROBES,
    max_lanczos_steps=24,
    tol=1e-3,
    deflation_tol=1e-2,
    random_state=None,
):
    """Trace and top eigenvalue of a symmetric operator sharing the products.

    Lanczos with full reorthogonalisation, from a random start, gives the top
    eigenvalue (the largest-magnitude Ritz value ``theta`` of its tridiagonal
    matrix ``T = Q^T A Q``) and a Krylov basis ``Q`` that captures the few large
    eigenvalues first. The trace is ``tr(T)`` (the trace of ``A`` on that basis,
    free) plus a Hutchinson estimate of the trace of the deflated remainder
    ``(I - Q Q^T) A (I - Q Q^T)`` from ``num_probes`` projected Rademacher probes
    ``g - Q (Q^T g)``: unbiased, since ``Q`` does not depend on the probes (as in
    Hutch++, with Lanczos in place of the randomized range finder).

    The variance of a probe is about twice the squared Frobenius norm of the
    remainder, which for trained networks is mostly in the few outlier
    eigenvalues (about one per class). So Lanczos does not stop when its
    eigenvalue has converged (to ``tol``, ARPACK's criterion, as in
    :func:`top_eigenvalue`) but runs on until, in addition, each of its last two
    steps removed at most ``deflation_tol`` of the squared Frobenius norm the
    basis has removed so far (known exactly from ``T`` and the last residual, no
    product needed), or until ``max_lanczos_steps``, or until its basis spans an
    invariant subspace. The total cost is the steps taken plus ``num_probes``
    products. When ``max_lanczos_steps + num_probes >=
    n`` both are computed exactly from the dense matrix instead (``n`` products
    with the unit vectors).

    Parameters
    ----------
    op : HessianOperator, LinearOperator, ndarray or sparse matrix of shape (n, n)
        The operator, which must be symmetric. A :class:`HessianOperator` is
        worked with in its own dtype on its own device (the basis is a
        ``(steps, n)`` tensor there); other operators in float64 on the CPU.
    num_probes : int, default=6
        Hutchinson probes of the deflated remainder, one product each.
    max_lanczos_steps : int, default=24
        Most Lanczos steps (products); each holds one vector of size ``n``.
    tol : float, default=1e-3
        Relative residual of the top Ritz pair at or below which the eigenvalue
        has converged; with 0, Lanczos runs all ``max_lanczos_steps`` (or to an
        invariant subspace).
    deflation_tol : float, default=1e-2
        Lanczos stops, once the eigenvalue has converged, after the first two
        consecutive steps that each removed at most this fraction of the squared
        Frobenius norm removed so far; 0 runs all ``max_lanczos_steps`` (or to an
        invariant subspace).
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the starting vector and of the probes. Pass an int for
        reproducible results.

    Returns
    -------
    trace : float
        The trace estimate.
    top_eigenvalue : float
        The eigenvalue of largest magnitude, with its sign.

    Notes
    -----
    Measured in ``benchmarks/bench_hessian.py`` on the three networks there (an
    MLP, a small CNN with BatchNorm and a ResNet-18 of width 8, 200 images):
    Lanczos stopped after 11.6, 15.7 and 13.2 steps on average (section 2),
    where the per-probe relative standard deviation of the remainder had fallen
    from 35%, 31% and 23% (plain Hutchinson) to about 10%, 2.8% and 7.7%
    (section 4); see the module docstring for the timings against the
    PyHessian-style baseline.
    Memory: the basis, one vector of ``n`` entries in the operator's dtype per
    Lanczos step taken (room for ``max_lanczos_steps`` is reserved, but pages
    never written are not backed), one more for the last residual and 4 for the
    probes.
    If the eigenvalue has not converged in ``max_lanczos_steps`` products, it is
    the best Ritz value so far (a lower bound of its magnitude); no warning is
    given.

    References
    ----------
    R. A. Meyer, C. Musco, C. Musco and D. P. Woodruff, "Hutch++: optimal
    stochastic trace estimation", SOSA 2021.

    See Also
    --------
    xtrace : Trace estimate of lower variance for a larger budget.
    top_eigenvalue : Top eigenvalue alone, by ARPACK's Lanczos.

    Examples
    --------
    >>> import numpy as np
    >>> from featurizers.hessian import trace_and_top_eigenvalue
    >>> rng = np.random.default_rng(0)
    >>> U, _ = np.linalg.qr(rng.standard_normal((100, 100)))
    >>> A = (U * 0.5 ** np.arange(100)) @ U.T  # trace 2, top eigenvalue 1
    >>> trace, top = trace_and_top_eigenvalue(A, random_state=0)
    >>> round(trace, 4), round(top, 4)
    (1.9969, 1.0)
    """
    linop, n = _as_linear_operator(op)
    if max_lanczos_steps + num_probes >= n:
        eigvals = np.linalg.eigvalsh(_dense(linop, n))
        return float(np.sum(eigvals)), float(eigvals[np.argmax(np.abs(eigvals))])
    rng = _check_random_state(random_state)
    trace_basis, samples, eigenvalue, _ = _lanczos_deflated(
        op, num_probes, max_lanczos_steps, tol, deflation_tol, rng
    )
    return trace_basis + float(np.mean(samples)), eigenvalue


_MODEL_CONSTRAINTS = {
    "model": [torch.nn.Module],
    "loss_fn": [callable],
    "inputs": [torch.Tensor],
    "targets": [torch.Tensor],
}


@validate_params(
    {
        **_MODEL_CONSTRAINTS,
        "method": [StrOptions({"auto", "xtrace", "hutchinson", "pyhessian"})],
        "num_matvecs": [Interval(Integral, 1, None, closed="left")],
        "random_state": _RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def hessian_trace(
    model,
    loss_fn,
    inputs,
    targets,
    *,
    method="auto",
    num_matvecs=100,
    random_state=None,
):
    """Trace of the Hessian of a model's mean loss on one batch.

    Builds a :class:`HessianOperator` (model in eval mode, all floating-point
    parameters) and estimates its trace. The model is left unchanged.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the mean loss as a scalar tensor.
    inputs : torch.Tensor
        The batch, on the device of the model.
    targets : torch.Tensor
        Its targets.
    method : {"auto", "xtrace", "hutchinson", "pyhessian"}, default="auto"
        :func:`xtrace`, :func:`hutchinson_trace` (Rademacher probes) or
        :func:`pyhessian_trace` (``num_matvecs`` is then its ``max_iter``).
        ``"auto"`` is XTrace when its workspace, ``8 * n * (k + min(k, 16))``
        bytes for ``n`` parameters and ``k = num_matvecs // 2`` (about
        ``4 * num_matvecs * n``), is at most 1 GiB and ``num_matvecs >= 2``, and
        Hutchinson otherwise: XTrace up to about 2 million parameters at 100
        products. See the module docstring for the measurement behind it.
    num_matvecs : int, default=100
        Budget of Hessian-vector products (at least 2 for ``"xtrace"``).
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the probes. Pass an int for reproducible results.

    Returns
    -------
    float
        The trace estimate.

    See Also
    --------
    HessianOperator : To compute several quantities from one graph.

    Examples
    --------
    >>> import torch
    >>> from featurizers.hessian import hessian_trace
    >>> model = torch.nn.Linear(3, 1, dtype=torch.float64)
    >>> x = torch.arange(12, dtype=torch.float64).reshape(4, 3) / 10
    >>> y = torch.zeros(4, 1, dtype=torch.float64)
    >>> round(hessian_trace(model, torch.nn.MSELoss(), x, y, random_state=0), 6)
    4.53
    """
    if method == "xtrace" and num_matvecs < 2:
        raise ValueError(
            "The 'num_matvecs' parameter of hessian_trace must be at least 2 with "
            f"method='xtrace'. Got {num_matvecs} instead."
        )
    op = HessianOperator(model, loss_fn, inputs, targets)
    return _estimate_trace(op, method, num_matvecs, random_state)


@validate_params(
    {
        **_MODEL_CONSTRAINTS,
        "method": [StrOptions({"lanczos", "power"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": _RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def hessian_top_eigenvalue(
    model, loss_fn, inputs, targets, *, method="lanczos", tol=1e-3, random_state=None
):
    """Largest-magnitude eigenvalue (with its sign) of a model's loss Hessian.

    Builds a :class:`HessianOperator` (model in eval mode, all floating-point
    parameters) and calls :func:`top_eigenvalue`. The model is left unchanged.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the mean loss as a scalar tensor.
    inputs : torch.Tensor
        The batch, on the device of the model.
    targets : torch.Tensor
        Its targets.
    method : {"lanczos", "power"}, default="lanczos"
        See :func:`top_eigenvalue`.
    tol : float, default=1e-3
        Relative tolerance.
    random_state : int, RandomState instance, Generator or None, default=None
        Source of the starting vector. Pass an int for reproducible results.

    Returns
    -------
    float
        The top eigenvalue.

    See Also
    --------
    HessianOperator : To compute several quantities from one graph.

    Examples
    --------
    >>> import torch
    >>> from featurizers.hessian import hessian_top_eigenvalue
    >>> model = torch.nn.Linear(3, 1, dtype=torch.float64)
    >>> x = torch.arange(12, dtype=torch.float64).reshape(4, 3) / 10
    >>> y = torch.zeros(4, 1, dtype=torch.float64)
    >>> round(hessian_top_eigenvalue(model, torch.nn.MSELoss(), x, y), 4)
    4.2023
    """
    op = HessianOperator(model, loss_fn, inputs, targets)
    return top_eigenvalue(op, method=method, tol=tol, random_state=random_state)
