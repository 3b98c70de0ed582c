"""Curve training: the bend of the curve fitted by SGD along random points of it."""

from __future__ import annotations

import copy
from numbers import Integral, Real

import torch
import torch.nn.functional as F
from torch.func import functional_call
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from tqdm.auto import tqdm

from .._utils import _RANDOM_STATE, _check_loss, _forked_rng, _logits, _torch_seed
from ._curve import _as_data, _bezier_point, _check_targets, _device_of, _weights, init_bend

__all__ = ["curve_lr", "fit_bend"]


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
