"""Evaluation: a model's error and loss, BatchNorm statistics, points of a curve."""

from __future__ import annotations

import copy
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, validate_params

from .._utils import _check_loss, _eval_mode, _logits
from ._curve import CURVE_TS, _as_data, _check_targets, _device_of, _weights, bezier_point

__all__ = ["curve_errors", "curve_model", "evaluate_model", "recompute_bn_statistics"]

_BN = torch.nn.modules.batchnorm._BatchNorm


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
