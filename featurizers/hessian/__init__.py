"""Hessian-vector products, trace estimators and the top eigenvalue of a loss Hessian.

The Hessian is that of the mean loss of a model on one batch, with respect to all of
the model's floating-point parameters (biases and BatchNorm affine parameters
included, whatever their ``requires_grad`` flag), with the model in eval mode.
:class:`HessianOperator` builds the gradient with ``create_graph=True`` once and then
computes one Hessian-vector product per probe by a second backward pass through that
graph. The estimators below are pure functions of a symmetric linear operator: a
:class:`HessianOperator`, a :class:`scipy.sparse.linalg.LinearOperator`, a dense
array or a sparse matrix.

One module per concern: the operator and the adapters of operators
(``_operator``), the trace estimators (``_trace``), the eigenvalue solvers
(``_eigenvalue``), the Lanczos-deflated estimator of both (``_deflated``) and the
model-level wrappers with the featurizers' per-model recipe (``_model``); every public
name is imported from here (the benchmark imports its private helpers from their modules).

Trace and top eigenvalue together (the featurizers' default)
    :func:`trace_and_top_eigenvalue` runs Lanczos once: its top Ritz value is the
    eigenvalue and its Krylov basis deflates a Hutchinson estimate of the trace.
    Trained networks' Hessians have a few outlier eigenvalues, about one per class,
    which carry most of the squared Frobenius norm and so most of the variance of a
    Hutchinson probe; Lanczos therefore runs on past its eigenvalue until its steps
    stop removing Frobenius norm (``deflation_tol``), and a few probes estimate the
    rest. Those probes are drawn first, and stop Lanczos earlier when they see
    that its steps no longer pay (a broad bulk left, as in ResNets), two of them
    for the other two so that the estimate stays unbiased. Prefer it whenever both
    quantities are wanted: it takes half to two thirds of the products of
    PyHessian's adaptive Hutchinson plus power iteration, at a lower variance of the
    trace on an MLP and a small CNN (about PyHessian's on a ResNet-18) and a far more
    accurate eigenvalue (figures in ``benchmarks/README.md`` and
    the documentation's benchmarks page, from ``python -m benchmarks.bench_hessian``).

Trace alone
    :func:`xtrace`, :func:`hutchinson_trace` and :func:`pyhessian_trace`
    (PyHessian's adaptive stopping rule, for compatibility with published
    numbers). :func:`hessian_trace` picks XTrace by default, which has the lowest
    variance for a given budget when a few eigenvalues dominate, and Hutchinson
    when XTrace's workspace (about ``n_matvecs / 2`` vectors of the model's size)
    would exceed 1 GiB (``method="auto"``); on a flat spectrum (an untrained
    network) Hutchinson is the better choice. See the benchmarks page for the
    measured variances.

Top eigenvalue alone
    :func:`top_eigenvalue` by Lanczos (ARPACK's implicitly restarted Lanczos through
    :func:`scipy.sparse.linalg.eigsh`, the default) or power iteration. The
    Rayleigh-Ritz value of XTrace's basis (no product beyond the trace's) was
    measured as a free alternative and not offered: it is one to four orders of
    magnitude less accurate (see the benchmarks page).

Top k eigenvalues, spectral density, per-layer sharpness
    :func:`top_eigenvalues` (PyHessian's ``eigenvalues(top_n)``): Lanczos with
    full reorthogonalisation, largest magnitude or largest algebraic, with the
    residual norm of each Ritz pair as its error bound. :func:`spectral_density`
    (PyHessian's ``density()``): stochastic Lanczos quadrature, nodes and weights
    per probe, with :func:`density_on_grid` (Gaussian broadening, PyHessian's
    ``density_generate``) and :func:`spectral_moments`, each with the standard
    error of its mean over probes. :func:`layer_sharpness`: the trace and top
    eigenvalue of each parameter group's diagonal block (:class:`HessianBlock`),
    with standard errors, as a table. Model-level wrappers:
    :func:`hessian_top_eigenvalues`, :func:`hessian_spectral_density`,
    :func:`hessian_layer_sharpness`.

Every function here leaves the model as it found it: the train/eval mode of every
submodule, the ``requires_grad`` flags, the weights, the gradients and the buffers
(BatchNorm statistics) are the same after the call.
"""

# Operators
from ._operator import HessianBlock, HessianOperator

# Trace and top eigenvalue
from ._deflated import trace_and_top_eigenvalue
from ._eigenvalue import top_eigenvalue
from ._trace import hutchinson_trace, pyhessian_trace, xtrace

# Top k eigenvalues, spectral density, per-layer sharpness
from ._density import density_on_grid, spectral_density, spectral_moments
from ._eigenvalue import top_eigenvalues
from ._layers import layer_sharpness

# Model-level wrappers
from ._model import (
    hessian_layer_sharpness,
    hessian_spectral_density,
    hessian_top_eigenvalue,
    hessian_top_eigenvalues,
    hessian_trace,
)

__all__ = [
    # Operators
    "HessianBlock",
    "HessianOperator",
    # Trace and top eigenvalue
    "hutchinson_trace",
    "pyhessian_trace",
    "top_eigenvalue",
    "trace_and_top_eigenvalue",
    "xtrace",
    # Top k eigenvalues, spectral density, per-layer sharpness
    "density_on_grid",
    "layer_sharpness",
    "spectral_density",
    "spectral_moments",
    "top_eigenvalues",
    # Model-level wrappers
    "hessian_layer_sharpness",
    "hessian_spectral_density",
    "hessian_top_eigenvalue",
    "hessian_top_eigenvalues",
    "hessian_trace",
]
