"""Model-level wrappers: the trace and top eigenvalue of a model's loss Hessian in one call.

:func:`hessian_trace` and :func:`hessian_top_eigenvalue` build a
:class:`~featurizers.hessian.HessianOperator` and run one estimator on it;
:func:`_model_sharpness` is the recipe of the ``hessian_t`` and ``hessian_e``
features of :class:`~featurizers.LossLandscapeFeaturizer`: one operator per model
serving both quantities.
"""

import math
from collections.abc import Mapping
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._utils import _RANDOM_STATE, _renamed_parameters
from ._deflated import _DEFAULT_N_PROBES, trace_and_top_eigenvalue
from ._density import spectral_density
from ._eigenvalue import top_eigenvalue, top_eigenvalues
from ._layers import layer_sharpness
from ._operator import HessianOperator
from ._trace import _estimate_trace

#: Trace budget of the estimators other than the deflated one, by default: that of
#: :func:`hessian_trace`.
_DEFAULT_TRACE_MATVECS = 100


_MODEL_CONSTRAINTS = {
    "model": [torch.nn.Module],
    "loss_fn": [callable],
    "inputs": [torch.Tensor],
    "targets": [torch.Tensor],
}


@_renamed_parameters(num_matvecs="n_matvecs")
@validate_params(
    {
        **_MODEL_CONSTRAINTS,
        "method": [StrOptions({"auto", "xtrace", "hutchinson", "pyhessian"})],
        "n_matvecs": [Interval(Integral, 1, None, closed="left")],
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
    n_matvecs=100,
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
        :func:`pyhessian_trace` (``n_matvecs`` is then its ``max_iter``).
        ``"auto"`` is XTrace when its workspace, ``8 * n * (k + min(k, 16))``
        bytes for ``n`` parameters and ``k = n_matvecs // 2`` (about
        ``4 * n_matvecs * n``), is at most 1 GiB and ``n_matvecs >= 2``, and
        Hutchinson otherwise: XTrace up to about 2 million parameters at 100
        products. See the module docstring for the measurement behind it.
    n_matvecs : int, default=100
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
    if method == "xtrace" and n_matvecs < 2:
        raise ValueError(
            "The 'n_matvecs' parameter of hessian_trace must be at least 2 with "
            f"method='xtrace'. Got {n_matvecs} instead."
        )
    op = HessianOperator(model, loss_fn, inputs, targets)
    return _estimate_trace(op, method, n_matvecs, random_state)


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


@validate_params(
    {
        **_MODEL_CONSTRAINTS,
        "k": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def hessian_top_eigenvalues(model, loss_fn, inputs, targets, k=3, **kwargs):
    """The ``k`` top eigenvalues of a model's loss Hessian (PyHessian's ``eigenvalues``).

    Builds a :class:`HessianOperator` (model in eval mode, all floating-point
    parameters; the model is left unchanged) and calls :func:`top_eigenvalues`
    with ``k`` and ``kwargs`` (``which``, ``tol``, ``max_steps``,
    ``random_state``, ``return_eigenvectors``, ``return_se``), whose result it
    returns. Eigenvectors are flat, in the order of ``model.named_parameters()``.

    Examples
    --------
    >>> import torch
    >>> from featurizers.hessian import hessian_top_eigenvalues
    >>> model = torch.nn.Linear(3, 1, dtype=torch.float64)
    >>> x = torch.arange(12, dtype=torch.float64).reshape(4, 3) / 10
    >>> y = torch.zeros(4, 1, dtype=torch.float64)
    >>> hessian_top_eigenvalues(model, torch.nn.MSELoss(), x, y, k=2, random_state=0).round(4)
    array([4.2023, 0.3277])
    """
    op = HessianOperator(model, loss_fn, inputs, targets)
    return top_eigenvalues(op, k, **kwargs)


@validate_params(dict(_MODEL_CONSTRAINTS), prefer_skip_nested_validation=True)
def hessian_spectral_density(model, loss_fn, inputs, targets, **kwargs):
    """Spectral density of a model's loss Hessian (PyHessian's ``density``).

    Builds a :class:`HessianOperator` (model in eval mode, all floating-point
    parameters; the model is left unchanged) and returns
    :func:`spectral_density` of it with ``kwargs`` (``n_probes``, ``n_steps``,
    ``random_state``).
    """
    op = HessianOperator(model, loss_fn, inputs, targets)
    return spectral_density(op, **kwargs)


@validate_params(
    {
        **_MODEL_CONSTRAINTS,
        "groups": [StrOptions({"module", "parameter"}), Mapping],
    },
    prefer_skip_nested_validation=True,
)
def hessian_layer_sharpness(model, loss_fn, inputs, targets, groups="module", **kwargs):
    """Per-layer trace and top eigenvalue of a model's loss Hessian, as a table.

    Builds a :class:`HessianOperator` (model in eval mode, all floating-point
    parameters; the model is left unchanged) and returns :func:`layer_sharpness`
    of it, with ``kwargs`` (``n_probes``, ``max_lanczos_steps``, ``tol``,
    ``deflation_tol``, ``random_state``).

    Parameters
    ----------
    model, loss_fn, inputs, targets
        As for :func:`hessian_trace`.
    groups : {"module", "parameter"} or mapping, default="module"
        As for :func:`layer_sharpness`; here a mapping's lists may also hold the
        model's parameters themselves (``{"head": list(model.fc.parameters())}``).

    Returns
    -------
    pandas.DataFrame
        One row per group, see :func:`layer_sharpness`.
    """
    if isinstance(groups, Mapping):
        names = {id(p): name for name, p in model.named_parameters()}
        resolved = {}
        for label, members in groups.items():
            if isinstance(members, (str, torch.Tensor)):
                members = [members]
            resolved[label] = []
            for m in members:
                if isinstance(m, torch.Tensor):
                    if id(m) not in names:
                        raise ValueError(
                            f"The group {label!r} of 'groups' holds a tensor that is not "
                            "a parameter of the model."
                        )
                    m = names[id(m)]
                resolved[label].append(m)
        groups = resolved
    op = HessianOperator(model, loss_fn, inputs, targets)
    return layer_sharpness(op, groups, **kwargs)


def _trace_budget(trace_method, n_matvecs):
    """The trace's Hessian-vector products: ``n_matvecs``, None resolved for the method.

    None means the default of the estimator: ``_DEFAULT_N_PROBES`` deflated probes
    for ``"deflated"`` (:func:`~featurizers.hessian.trace_and_top_eigenvalue`), the
    budget of :func:`hessian_trace` (``_DEFAULT_TRACE_MATVECS``) for the others.
    """
    if n_matvecs is not None:
        return n_matvecs
    return _DEFAULT_N_PROBES if trace_method == "deflated" else _DEFAULT_TRACE_MATVECS


def _model_sharpness(
    model,
    loss_fn,
    inputs,
    targets,
    *,
    trace_method="deflated",
    n_matvecs=None,
    trace=True,
    eigenvalue=True,
    random_state=None,
    return_se=False,
):
    """Hessian trace and top eigenvalue of one model, as the featurizers compute them.

    One :class:`~featurizers.hessian.HessianOperator` (the mean loss on the batch,
    model in eval mode, every floating-point parameter differentiated; the model is
    left as it was) serves both quantities. With ``trace_method="deflated"`` one
    Lanczos run gives both (:func:`~featurizers.hessian.trace_and_top_eigenvalue`
    with ``n_matvecs`` probes), whichever are asked for, so that each value does
    not depend on which others are; otherwise the trace is estimated by the
    estimator of :func:`hessian_trace` named ``trace_method`` with a budget of
    ``n_matvecs`` products, and the eigenvalue by a separate ARPACK run
    (:func:`~featurizers.hessian.top_eigenvalue`), both from ``random_state``.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the mean loss as a scalar tensor.
    inputs, targets : torch.Tensor
        The batch, on the device of the model.
    trace_method : {"deflated", "auto", "xtrace", "hutchinson", "pyhessian"}
        The estimator, see ``trace_method`` of
        :class:`~featurizers.LossLandscapeFeaturizer`.
    n_matvecs : int or None
        The trace's budget; None resolves as in :func:`_trace_budget`. With
        ``"deflated"`` an int also turns ``bulk_probes`` off, so that it bounds
        the cost.
    trace, eigenvalue : bool
        Which quantities to compute (with ``"deflated"`` both always are).
    random_state : int
        Seed of the probes and of the starting vector.
    return_se : bool, default=False
        Also return the trace estimate's standard error from its probes (the
        deflated estimator only; NaN for the others).

    Returns
    -------
    trace, eigenvalue : float or None
        The estimates; None for one not computed; both NaN when the loss on the
        batch is not finite (the Hessian is then undefined).
    trace_se : float
        Only with ``return_se``.
    """
    try:
        op = HessianOperator(model, loss_fn, inputs, targets)
    except FloatingPointError:  # NaN/inf loss: no Hessian
        return (math.nan, math.nan, math.nan) if return_se else (math.nan, math.nan)
    budget = _trace_budget(trace_method, n_matvecs)
    if trace_method == "deflated":
        # a budget given is kept on a broad bulk too; None is the estimator's defaults
        bulk = {} if n_matvecs is None else {"bulk_probes": None}
        return trace_and_top_eigenvalue(
            op, n_probes=budget, random_state=random_state, return_se=return_se, **bulk
        )
    result = (
        _estimate_trace(op, trace_method, budget, random_state) if trace else None,
        top_eigenvalue(op, random_state=random_state) if eigenvalue else None,
    )
    return (*result, math.nan) if return_se else result


def _model_spectrum(model, loss_fn, inputs, targets, *, top_k=0, layers=(), random_state=None):
    """The optional spectral features of one model, as the featurizers compute them.

    One :class:`~featurizers.hessian.HessianOperator` (as in :func:`_model_sharpness`)
    serves the ``top_k`` top (largest-magnitude) eigenvalues, by
    :func:`~featurizers.hessian.top_eigenvalues` at ``tol=1e-4``, and the trace
    and top eigenvalue of the diagonal block of each module of ``layers`` (all the
    parameters under that module name), by
    :func:`~featurizers.hessian.layer_sharpness` with its defaults.

    Returns
    -------
    dict
        ``"e"``: ndarray of the ``top_k`` eigenvalues; ``"t"`` and ``"t_se"``,
        ``"e_layer"``: dicts from each module of ``layers`` to its block's trace,
        the trace's standard error and the block's top eigenvalue. All NaN when the
        loss on the batch is not finite.
    """
    layers = list(layers)
    try:
        op = HessianOperator(model, loss_fn, inputs, targets)
    except FloatingPointError:
        nan = dict.fromkeys(layers, math.nan)
        return {"e": [math.nan] * top_k, "t": nan, "t_se": dict(nan), "e_layer": dict(nan)}
    eigenvalues = (
        top_eigenvalues(op, top_k, tol=1e-4, random_state=random_state) if top_k else []
    )
    out = {"e": list(eigenvalues), "t": {}, "t_se": {}, "e_layer": {}}
    if layers:
        table = layer_sharpness(op, {m: [m] for m in layers}, random_state=random_state)
        for m in layers:
            out["t"][m] = float(table.loc[m, "trace"])
            out["t_se"][m] = float(table.loc[m, "trace_se"])
            out["e_layer"][m] = float(table.loc[m, "top_eigenvalue"])
    return out
