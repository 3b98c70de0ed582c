"""Mode connectivity: quadratic Bezier curves between two trained models.

Two models ``w0`` and ``w1`` of one architecture are joined by the curve

.. math:: w(t) = (1-t)^2 w_0 + 2t(1-t)\\,\\theta + t^2 w_1, \\qquad t \\in [0, 1],

whose bend ``theta`` is trained to lower the training loss along the curve
(Garipov et al., 2018). The training error along the fitted curve, at
``t = 0, 0.25, 0.5, 0.75, 1``, gives the two connectivity metrics of the MD tree
collections: :func:`mode_connectivity_peak` and :func:`mode_connectivity`.

Every function here is usable alone and never modifies the models passed to it:
curves are built on private copies, and :func:`evaluate_model` restores the
model's train/eval mode when it returns. Weights are dictionaries
``{parameter name: tensor}`` in the order of ``model.named_parameters()``; every
parameter is on the curve (BatchNorm affine parameters and biases included),
buffers are not.

The whole recipe, as in the public collections::

    bend = fit_bend(model_a, model_b, train_data, epochs=50)
    errors, losses = curve_errors(model_a, bend, model_b, train_data)
    mode_connectivity_peak(errors), mode_connectivity(errors)
"""

from __future__ import annotations

import copy
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from tqdm.auto import tqdm

from ._groups import _Data
from ._utils import (
    _RANDOM_STATE,
    _check_loss,
    _check_output,
    _eval_mode,
    _forked_rng,
    _logits,
    _torch_seed,
)

__all__ = [
    "CURVE_TS",
    "bezier_point",
    "curve_errors",
    "curve_lr",
    "curve_model",
    "evaluate_model",
    "fit_bend",
    "init_bend",
    "mode_connectivity",
    "mode_connectivity_peak",
    "recompute_bn_statistics",
]

#: Points of the curve at which the collections evaluate the training error.
CURVE_TS = (0.0, 0.25, 0.5, 0.75, 1.0)

_BN = torch.nn.modules.batchnorm._BatchNorm


# ---------------------------------------------------------------------------
# small helpers


def _as_data(data, role="training"):
    return data if isinstance(data, _Data) else _Data(data, role=role)


def _device_of(model):
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def _weights(model):
    """Detached copies of every parameter of ``model``."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _check_same_weights(w0, w1):
    """A ValueError naming the first entry where two end points' weights differ."""
    for k in sorted(w0.keys() | w1.keys()):
        if k not in w0 or k not in w1:
            raise ValueError(
                "The two end points of a curve must share one architecture; "
                f"{k!r} is in model_{'a' if k in w0 else 'b'} only."
            )
    for k in w0:
        if w0[k].shape != w1[k].shape:
            raise ValueError(
                f"The two end points of a curve must share one architecture; {k!r} has shape "
                f"{tuple(w0[k].shape)} in model_a but {tuple(w1[k].shape)} in model_b."
            )


def _check_targets(logits, targets, where=""):
    """Clear errors for labels that are not class indices of ``logits``."""
    _check_output(logits, where)
    if targets.is_floating_point() or targets.dtype == torch.bool:
        raise TypeError(
            f"Labels must be integer class indices{where}; got dtype {targets.dtype}."
        )
    if logits.ndim != 2:
        raise ValueError(
            f"Models must output (batch, n_classes) logits{where}; got output shape "
            f"{tuple(logits.shape)}."
        )
    if targets.numel():
        lo, hi = int(targets.min()), int(targets.max())
        n_classes = logits.shape[1]
        if lo < 0 or hi >= n_classes:
            raise ValueError(
                f"Labels must lie in [0, {n_classes}) for a model with {n_classes} outputs"
                f"{where}; got labels from {lo} to {hi}."
            )


# ---------------------------------------------------------------------------
# the curve


@validate_params(
    {
        "start": [torch.Tensor, dict],
        "bend": [torch.Tensor, dict],
        "end": [torch.Tensor, dict],
        "t": [Real, torch.Tensor],
    },
    prefer_skip_nested_validation=True,
)
def bezier_point(start, bend, end, t):
    """Point ``w(t) = (1-t)^2 start + 2t(1-t) bend + t^2 end`` of a quadratic Bezier curve.

    Parameters
    ----------
    start, bend, end : Tensor or dict of str to Tensor
        The end points ``w0`` and ``w1`` and the bend ``theta``; dictionaries
        must share their keys.
    t : float or 0-d Tensor
        Position on the curve, 0 at ``start`` and 1 at ``end``.

    Returns
    -------
    Tensor or dict of str to Tensor
        ``w(t)``, of the same kind as the inputs. Differentiable with respect to
        ``bend`` (and ``t``).

    Examples
    --------
    >>> import torch
    >>> from featurizers.connectivity import bezier_point
    >>> w0, theta, w1 = torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([4.0])
    >>> [bezier_point(w0, theta, w1, t).item() for t in (0.0, 0.5, 1.0)]
    [0.0, 1.5, 4.0]
    """
    return _bezier_point(start, bend, end, t)


def _bezier_point(start, bend, end, t):
    """:func:`bezier_point` without its parameter checks (run at every curve step)."""
    a, b, c = (1 - t) ** 2, 2 * t * (1 - t), t**2
    kinds = {isinstance(p, dict) for p in (start, bend, end)}
    if len(kinds) > 1:
        raise TypeError(
            "The 'start', 'bend' and 'end' parameters of bezier_point must all be tensors or "
            "all be dicts of tensors; got "
            f"{[type(p).__name__ for p in (start, bend, end)]}."
        )
    if isinstance(start, dict):
        for name, point in (("bend", bend), ("end", end)):
            if set(point) != set(start):
                missing = sorted(set(start) - set(point))[:3]
                extra = sorted(set(point) - set(start))[:3]
                raise ValueError(
                    f"The 'start', 'bend' and 'end' parameters of bezier_point must share "
                    f"their keys; {name!r} lacks {missing} and has {extra} beyond 'start'."
                )
            for k in start:
                if tuple(point[k].shape) != tuple(start[k].shape):
                    raise ValueError(
                        f"The entry {k!r} of bezier_point's {name!r} has shape "
                        f"{tuple(point[k].shape)}, but {tuple(start[k].shape)} in 'start'."
                    )
        return {k: a * start[k] + b * bend[k] + c * end[k] for k in start}
    return a * start + b * bend + c * end


@validate_params(
    {
        "epoch": [Interval(Real, 0, None, closed="left")],
        "epochs": [Interval(Real, 0, None, closed="neither")],
        "lr": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def curve_lr(epoch, epochs, lr=0.01):
    """Learning rate of curve training at ``epoch`` (0-based) of ``epochs``.

    Flat at ``lr`` for the first half, then linearly down to ``lr / 100`` at 90%
    of the epochs and flat after (the schedule of Garipov et al.).

    Examples
    --------
    >>> from featurizers.connectivity import curve_lr
    >>> [round(curve_lr(e, 10), 5) for e in range(10)]
    [0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.00753, 0.00505, 0.00257, 0.0001]
    """
    alpha = epoch / epochs
    if alpha <= 0.5:
        factor = 1.0
    elif alpha <= 0.9:
        factor = 1.0 - (alpha - 0.5) / 0.4 * 0.99
    else:
        factor = 0.01
    return lr * factor


@validate_params(
    {
        "model_a": [torch.nn.Module],
        "model_b": [torch.nn.Module],
        # A str checked below, with the message the tests pin.
        "init": [str],
        "random_state": _RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def init_bend(model_a, model_b, *, init="midpoint", random_state=None):
    """Initial bend ``theta`` of the curve between two models.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
        The end points, of one architecture.
    init : {"midpoint", "random"}, default="midpoint"
        ``"midpoint"``: the average of the two models' weights, so that the
        initial curve is the straight segment between them. ``"random"``: a fresh
        initialisation of the architecture (each submodule's
        ``reset_parameters``), as in the original experiments; parameters of
        modules without ``reset_parameters`` start at the midpoint.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the random initialisation.

    Returns
    -------
    dict of str to Tensor
        The bend, detached, on the models' device.

    Examples
    --------
    >>> import torch
    >>> from featurizers.connectivity import init_bend
    >>> a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    >>> bend = init_bend(a, b)  # the midpoint of the two models' weights
    >>> torch.allclose(bend["weight"], (a.weight + b.weight) / 2)
    True
    """
    w0, w1 = _weights(model_a), _weights(model_b)
    _check_same_weights(w0, w1)
    mid = {k: 0.5 * (w0[k] + w1[k]) for k in w0}
    if init == "midpoint":
        return mid
    if init != "random":
        raise ValueError(
            f"The 'init' parameter of init_bend must be 'midpoint' or 'random'; got {init!r}."
        )
    fresh = copy.deepcopy(model_a)
    with _forked_rng(_torch_seed(random_state), _device_of(model_a)), torch.no_grad():
        reset = set()
        for prefix, module in fresh.named_modules():
            if hasattr(module, "reset_parameters") and callable(module.reset_parameters):
                module.reset_parameters()
                reset.update(
                    f"{prefix}.{n}" if prefix else n
                    for n, _ in module.named_parameters(recurse=False)
                )
    bend = _weights(fresh)
    return {k: (bend[k] if k in reset else mid[k]) for k in mid}


class _MomentumSGD:
    """``torch.optim.SGD(params, lr, momentum)``'s step on CPU, op for op, without torch.optim.

    The same operations as torch's single-tensor SGD (the one it runs on CPU) with
    no dampening, Nesterov or weight decay, so the same bend bit for bit
    (``tests/featurizers/test_threads.py`` pins rows). torch.optim's first step
    imports ``torch._dynamo`` (0.5 s, a tenth of ``mdtree featurize`` on a small
    group, see ``benchmarks/bench_featurize_cost.py``) and wraps each step in
    hooks and a profiler record a curve's hundreds of small steps do not need.
    """

    def __init__(self, params, *, lr, momentum):
        self.param_groups = [{"params": params, "lr": lr, "momentum": momentum}]
        self._buffers = [None] * len(params)

    def zero_grad(self, set_to_none=True):
        for p in self.param_groups[0]["params"]:
            p.grad = None

    @torch.no_grad()
    def step(self):
        group = self.param_groups[0]
        lr, momentum = group["lr"], group["momentum"]
        for i, param in enumerate(group["params"]):
            grad = param.grad
            if grad is None:
                continue
            if momentum != 0:
                buf = self._buffers[i]
                if buf is None:
                    buf = self._buffers[i] = grad.detach().clone()
                else:
                    buf.mul_(momentum).add_(grad, alpha=1)
                grad = buf
            param.add_(grad, alpha=-lr)


@validate_params(
    {
        "model_a": [torch.nn.Module],
        "model_b": [torch.nn.Module],
        "train_data": "no_validation",  # checked by _Data, with its own messages
        "epochs": [Interval(Integral, 0, None, closed="left")],
        "init": [StrOptions({"midpoint", "random"})],
        "lr": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "loss_fn": [callable, None],
        "random_state": _RANDOM_STATE,
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def fit_bend(
    model_a,
    model_b,
    train_data,
    *,
    epochs=50,
    init="midpoint",
    lr=0.01,
    momentum=0.9,
    weight_decay=5e-4,
    batch_size=128,
    loss_fn=None,
    random_state=None,
    verbose=0,
):
    """Train the bend of the quadratic Bezier curve joining two models.

    The end points stay fixed. Each step draws one ``t ~ U(0, 1)`` for a batch,
    and minimises ``loss_fn(w(t)) + weight_decay / 2 * ||w(t)||^2`` over ``theta``
    with SGD (momentum ``momentum``, learning rate :func:`curve_lr`). The network
    is in train mode: BatchNorm normalises with batch statistics and dropout is
    active.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
        The end points, of one architecture, on one device. Not modified.
    train_data : Dataset, DataLoader or tuple of (Tensor, Tensor)
        Training data (see :class:`featurizers.ModelGroup`).
    epochs : int, default=50
        Passes over the training data (50 in the public collections).
    init : {"midpoint", "random"}, default="midpoint"
        Initial bend, see :func:`init_bend`.
    lr, momentum, weight_decay : float, default=0.01, 0.9, 5e-4
        SGD settings; ``weight_decay`` is an L2 penalty on ``w(t)``.
    batch_size : int, default=128
        Batch size; the data are reshuffled every epoch.
    loss_fn : callable, default=None
        ``loss_fn(logits, labels)`` returning the mean loss; cross-entropy when
        None.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the initialisation, the shuffling, the ``t`` draws and dropout.
        The caller's global torch RNG is left untouched.
    verbose : int, default=0
        Show a progress bar over epochs when positive.

    Returns
    -------
    dict of str to Tensor
        The trained bend ``theta``, detached.

    Raises
    ------
    FloatingPointError
        If the training loss becomes NaN or infinite.

    Examples
    --------
    >>> import torch
    >>> from featurizers.connectivity import fit_bend
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> X, y = torch.randn(32, 2), torch.randint(0, 2, (32,))
    >>> a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    >>> bend = fit_bend(a, b, (X, y), epochs=2, random_state=0)
    >>> sorted(bend), tuple(bend["weight"].shape)
    (['bias', 'weight'], (2, 2))
    """
    data = _as_data(train_data)
    loss_fn = F.cross_entropy if loss_fn is None else loss_fn
    device = _device_of(model_a)
    seed = _torch_seed(random_state)
    w0, w1 = _weights(model_a), _weights(model_b)
    theta = init_bend(model_a, model_b, init=init, random_state=seed)
    theta = {k: v.requires_grad_(True) for k, v in theta.items()}
    if not theta:
        raise ValueError(
            "fit_bend needs models with parameters (the curve is a path between their "
            f"weights); the {type(model_a).__name__} has none."
        )
    template = copy.deepcopy(model_a).train()
    template.requires_grad_(False)
    # functional_call unties shared weights at every call unless told there are none
    # (a tenth of a small network's step); the forward is the same either way.
    tied = len(list(template.named_parameters(remove_duplicate=False))) > len(theta)
    for p in template.parameters():  # only the buffers of the copy are used
        p.grad = None
    params = list(theta.values())
    optimizer = (
        _MomentumSGD(params, lr=lr, momentum=momentum)
        if all(p.device.type == "cpu" for p in params)
        else torch.optim.SGD(params, lr=lr, momentum=momentum)
    )
    generator = torch.Generator().manual_seed(seed)
    with _forked_rng(seed + 1, device):
        bar = tqdm(range(epochs), desc="curve epochs", disable=not verbose, leave=False)
        for epoch in bar:
            for group in optimizer.param_groups:
                group["lr"] = curve_lr(epoch, epochs, lr)
            for X, y in data.batches(batch_size, shuffle=True, generator=generator):
                X, y = X.to(device), y.to(device)
                t = float(torch.rand((), generator=generator))
                w = _bezier_point(w0, theta, w1, t)
                if epoch == 0:
                    out = _logits(template, X, " (curve training)",
                                  forward=lambda X: functional_call(template, w, (X,),
                                                                    tie_weights=tied))
                    _check_targets(out, y, " (curve training)")
                    loss = _check_loss(loss_fn(out, y), " (curve training)")
                else:
                    loss = loss_fn(functional_call(template, w, (X,), tie_weights=tied), y)
                if weight_decay:
                    loss = loss + 0.5 * weight_decay * sum((v**2).sum() for v in w.values())
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"Curve training diverged: the loss is {loss.item()} at epoch {epoch}."
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    return {k: v.detach() for k, v in theta.items()}


# ---------------------------------------------------------------------------
# evaluation


@torch.no_grad()
@validate_params(
    {
        "model": [torch.nn.Module],
        "data": "no_validation",  # checked by _Data
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def recompute_bn_statistics(model, data, *, batch_size=128):
    """Recompute the BatchNorm running statistics of ``model`` over ``data``, in place.

    Running means and variances are reset and re-estimated as the average over
    the data of the batch statistics, each batch weighted by its size (the
    ``update_bn`` of Garipov et al.). Only the BatchNorm layers are in train mode
    during the pass, so dropout is off. Modes and momenta are restored
    afterwards. This function *modifies* ``model``: pass a copy to keep the
    original; :func:`curve_model` does this for curve points.

    Parameters
    ----------
    model : torch.nn.Module
        Model whose BatchNorm statistics are recomputed. Nothing happens if it
        has no BatchNorm layer tracking running statistics.
    data : Dataset, DataLoader or tuple of (Tensor, Tensor)
        Data to estimate the statistics on (the training data, normally).
    batch_size : int, default=128
        Batch size of the pass.

    Returns
    -------
    torch.nn.Module
        ``model``, for chaining.

    Examples
    --------
    >>> import torch
    >>> from featurizers.connectivity import recompute_bn_statistics
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    >>> X, y = torch.randn(64, 2), torch.zeros(64, dtype=torch.long)
    >>> _ = recompute_bn_statistics(model, (X, y))
    >>> int(model[1].num_batches_tracked) > 0
    True
    """
    bns = [m for m in model.modules() if isinstance(m, _BN) and m.track_running_stats]
    if not bns:
        return model
    data = _as_data(data)
    device = _device_of(model)
    saved = [(m, m.training) for m in model.modules()]
    momenta = [m.momentum for m in bns]
    try:
        model.eval()
        for m in bns:
            m.reset_running_stats()
            m.train()
        seen = 0
        for X, _ in data.batches(batch_size):
            b = len(X)
            for m in bns:
                m.momentum = b / (seen + b)
            model(X.to(device))
            seen += b
    finally:
        for m, momentum in zip(bns, momenta):
            m.momentum = momentum
        for m, flag in saved:
            m.training = flag
    return model


@torch.no_grad()
@validate_params(
    {
        "model": [torch.nn.Module],
        "data": "no_validation",  # checked by _Data
        "loss_fn": [callable, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def evaluate_model(model, data, *, loss_fn=None, batch_size=256):
    """Error (percent) and mean loss of ``model`` on ``data``, in eval mode.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier outputting ``(batch, n_classes)`` logits. Its train/eval
        mode is restored on return; nothing else is touched.
    data : Dataset, DataLoader or tuple of (Tensor, Tensor)
        Inputs and integer labels.
    loss_fn : callable, default=None
        ``loss_fn(logits, labels)`` returning the mean loss of a batch;
        cross-entropy when None.
    batch_size : int, default=256
        Batch size of the pass (the results do not depend on it).

    Returns
    -------
    error : float
        ``100 - accuracy`` in percent.
    loss : float
        Mean loss over all samples (batch means weighted by batch size); NaN or
        infinite if the model outputs are.

    Raises
    ------
    ValueError
        If a label is outside ``[0, n_classes)``.

    Examples
    --------
    >>> import torch
    >>> from featurizers.connectivity import evaluate_model
    >>> model = torch.nn.Linear(2, 2, bias=False)
    >>> _ = model.weight.data.copy_(torch.eye(2))
    >>> X, y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]]), torch.tensor([0, 1, 1])
    >>> error, loss = evaluate_model(model, (X, y))
    >>> round(error, 2)
    33.33
    """
    data = _as_data(data)
    loss_fn = F.cross_entropy if loss_fn is None else loss_fn
    device = _device_of(model)
    n, wrong, total = 0, 0, 0.0
    with _eval_mode(model):
        for X, y in data.batches(batch_size):
            X, y = X.to(device), y.to(device)
            out = _logits(model, X)
            _check_targets(out, y)
            b = len(y)
            total += float(_check_loss(loss_fn(out, y))) * b
            wrong += int((out.argmax(dim=1) != y).sum())
            n += b
    return 100.0 * wrong / n, total / n


@validate_params(
    {
        "model_a": [torch.nn.Module],
        "bend": [dict],
        "model_b": [torch.nn.Module],
        "t": [Real, torch.Tensor],
        "bn_data": "no_validation",  # None or data checked by _Data
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def curve_model(model_a, bend, model_b, t, bn_data=None, *, batch_size=128):
    """A new model with the weights ``w(t)`` of the curve, in eval mode.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
        The end points (not modified).
    bend : dict of str to Tensor
        The bend ``theta`` (from :func:`fit_bend` or :func:`init_bend`).
    t : float
        Position on the curve.
    bn_data : Dataset, DataLoader or tuple of (Tensor, Tensor), default=None
        Data to recompute BatchNorm statistics on at ``t`` (the training data,
        normally). When None the buffers are ``model_a``'s.
    batch_size : int, default=128
        Batch size of the BatchNorm pass.

    Returns
    -------
    torch.nn.Module
        A copy of ``model_a`` holding ``w(t)``.

    Examples
    --------
    >>> import torch
    >>> from featurizers.connectivity import curve_model, init_bend
    >>> a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    >>> end = curve_model(a, init_bend(a, b), b, 1.0)  # t = 1 is the second model
    >>> torch.allclose(end.weight, b.weight)
    True
    """
    model = copy.deepcopy(model_a)
    w = bezier_point(_weights(model_a), bend, _weights(model_b), t)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(w[name])
    if bn_data is not None:
        recompute_bn_statistics(model, bn_data, batch_size=batch_size)
    return model.eval()


@validate_params(
    {
        "model_a": [torch.nn.Module],
        "bend": [dict],
        "model_b": [torch.nn.Module],
        "train_data": "no_validation",  # checked by _Data
        "ts": ["array-like"],
        "loss_fn": [callable, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def curve_errors(
    model_a, bend, model_b, train_data, *, ts=CURVE_TS, loss_fn=None, batch_size=128
):
    """Training error and loss along the curve, BatchNorm recomputed at each ``t``.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
        The end points (not modified).
    bend : dict of str to Tensor
        The bend ``theta``.
    train_data : Dataset, DataLoader or tuple of (Tensor, Tensor)
        Data for both the BatchNorm statistics and the evaluation.
    ts : sequence of float, default=CURVE_TS
        Points of the curve, ``(0, 0.25, 0.5, 0.75, 1)`` for the metrics.
    loss_fn : callable, default=None
        Mean loss; cross-entropy when None.
    batch_size : int, default=128
        Batch size of the BatchNorm and evaluation passes.

    Returns
    -------
    errors : ndarray of shape (len(ts),)
        Error in percent at each ``t``.
    losses : ndarray of shape (len(ts),)
        Mean loss at each ``t``.

    Examples
    --------
    >>> import torch
    >>> from featurizers.connectivity import curve_errors, init_bend
    >>> X, y = torch.randn(16, 2), torch.randint(0, 2, (16,))
    >>> a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    >>> errors, losses = curve_errors(a, init_bend(a, b), b, (X, y))
    >>> errors.shape, bool(((0 <= errors) & (errors <= 100)).all())
    ((5,), True)
    """
    data = _as_data(train_data)
    errors, losses = [], []
    for t in ts:
        model = curve_model(model_a, bend, model_b, t, data, batch_size=batch_size)
        e, loss = evaluate_model(model, data, loss_fn=loss_fn, batch_size=batch_size)
        errors.append(e)
        losses.append(loss)
    return np.asarray(errors), np.asarray(losses)


# ---------------------------------------------------------------------------
# the metrics


def _five_points(errors):
    raw = np.asarray(errors)
    if raw.dtype.kind not in "iuf":
        example = raw.ravel()[0].item() if raw.size else None
        raise ValueError(
            "errors must be numbers (errors in percent at t = 0, 0.25, 0.5, 0.75, 1); got "
            f"dtype {raw.dtype} (first value {example!r})."
        )
    errors = raw.astype(float)
    if errors.shape[-1:] != (5,):
        raise ValueError(
            "errors must hold the errors at t = 0, 0.25, 0.5, 0.75, 1 along the last "
            f"axis (5 values); got shape {errors.shape}."
        )
    return errors


@validate_params(
    {
        "errors": ["array-like"],
    },
    prefer_skip_nested_validation=True,
)
def mode_connectivity_peak(errors):
    """Minus the highest error inside the curve: ``-max(e1, e2, e3)``.

    Parameters
    ----------
    errors : array-like of shape (..., 5)
        Errors (percent) at ``t = 0, 0.25, 0.5, 0.75, 1``.

    Returns
    -------
    float or ndarray of shape (...)
        0 when the curve has zero error inside, more negative for higher
        barriers.

    Examples
    --------
    >>> from featurizers.connectivity import mode_connectivity_peak
    >>> float(mode_connectivity_peak([2.0, 10.0, 30.0, 12.0, 4.0]))
    -30.0
    """
    errors = _five_points(errors)
    return -errors[..., 1:4].max(axis=-1)


@validate_params(
    {
        "errors": ["array-like"],
    },
    prefer_skip_nested_validation=True,
)
def mode_connectivity(errors):
    """Signed gap between the end points' mean error and the most distant point.

    ``(e0 + e4) / 2 - e_u`` with ``u = argmax_i |e_i - (e0 + e4) / 2|`` over all
    five points (the first one on ties). Negative for a barrier (the curve is
    worse than its ends), positive when the curve passes below them, 0 when it
    is flat.

    Parameters
    ----------
    errors : array-like of shape (..., 5)
        Errors (percent) at ``t = 0, 0.25, 0.5, 0.75, 1``.

    Returns
    -------
    float or ndarray of shape (...)

    Examples
    --------
    >>> from featurizers.connectivity import mode_connectivity
    >>> float(mode_connectivity([2.0, 10.0, 30.0, 12.0, 4.0]))
    -27.0
    >>> float(mode_connectivity([10.0, 4.0, 5.0, 9.0, 12.0]))
    7.0
    """
    errors = _five_points(errors)
    mid = (errors[..., 0] + errors[..., 4]) / 2
    u = np.abs(errors - mid[..., None]).argmax(axis=-1)
    return mid - np.take_along_axis(errors, u[..., None], axis=-1)[..., 0]
