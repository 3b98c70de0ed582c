"""The curve's geometry: quadratic Bezier points, the initial bend, and shared checks."""

from __future__ import annotations

import copy
from numbers import Real

import torch
from sklearn.utils._param_validation import validate_params

from .._groups import _Data
from .._utils import _RANDOM_STATE, _check_output, _forked_rng, _torch_seed

__all__ = ["CURVE_TS", "bezier_point", "init_bend"]

#: Points of the curve at which the collections evaluate the training error.
CURVE_TS = (0.0, 0.25, 0.5, 0.75, 1.0)


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
