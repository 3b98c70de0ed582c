"""Model-level wrappers: the trace and top eigenvalue of a model's loss Hessian in one call.
"""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._utils import _RANDOM_STATE
from ._eigenvalue import top_eigenvalue
from ._operator import HessianOperator
from ._trace import _estimate_trace


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
