"""How far a model's weights moved: from a fresh initialization, and from its own.

Two per-model quantities, averaged over a group's models by
:class:`~featurizers.LossLandscapeFeaturizer` (``weight_norm_ratio``,
``weight_displacement``) with their standard error over seeds:

- :func:`weight_norm_ratio`: ``||w|| / ||w_fresh||``, ``w_fresh`` a fresh
  initialization of the same architecture: a deep copy of the model on which
  every module that has a ``reset_parameters`` method calls it, under a seeded
  torch RNG (the user's model and the global RNG are not touched). It needs no
  record of the initial weights. A model that never trained keeps a ratio near
  1; a diverged one grows far above it.
- :func:`weight_displacement`: ``||w - w0|| / ||w0||``, ``w0`` the model's own
  initial weights, when they were kept (a ``state_dict`` or a model).

Norms are over all floating-point parameters together (buffers such as
BatchNorm statistics are not weights); a non-finite weight gives ``inf``.
"""

from __future__ import annotations

import copy
import math

import torch

__all__ = ["fresh_initialization", "weight_displacement", "weight_norm_ratio"]


def _parameters(model):
    return [p.detach() for p in model.parameters() if p.is_floating_point()]


def _norm(tensors):
    total = 0.0
    for t in tensors:
        total += float(t.double().pow(2).sum())
    return math.sqrt(total) if math.isfinite(total) else math.inf


def fresh_initialization(model, seed=0):
    """A deep copy of ``model`` with every ``reset_parameters()`` called, seeded.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified.
    seed : int, default=0
        Seeds torch's RNG, forked (the global stream is left as it was).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    ValueError
        If no module of ``model`` has a ``reset_parameters`` method while it has
        floating-point parameters (a fresh initialization cannot be drawn).

    Examples
    --------
    >>> import torch
    >>> from featurizers.weights import fresh_initialization
    >>> model = torch.nn.Linear(3, 2)
    >>> fresh = fresh_initialization(model, seed=0)
    >>> fresh is model, torch.equal(fresh.weight, fresh_initialization(model, 0).weight)
    (False, True)
    """
    fresh = copy.deepcopy(model)
    resettable = [m for m in fresh.modules() if callable(getattr(m, "reset_parameters", None))]
    if not resettable and _parameters(fresh):
        raise ValueError(
            f"The 'model' parameter of fresh_initialization must have a module with a "
            f"reset_parameters() method; {type(model).__name__} has none."
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        with torch.no_grad():
            for module in resettable:
                module.reset_parameters()
    return fresh


def weight_norm_ratio(model, seed=0):
    """``||w|| / ||w_fresh||``: the weights' norm over a fresh initialization's.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified.
    seed : int, default=0
        Seed of the fresh initialization (:func:`fresh_initialization`).

    Returns
    -------
    float
        ``inf`` for non-finite weights; NaN when the fresh weights are all zero.

    Examples
    --------
    >>> import torch
    >>> from featurizers.weights import fresh_initialization, weight_norm_ratio
    >>> model = torch.nn.Linear(3, 2)
    >>> with torch.no_grad():
    ...     fresh = fresh_initialization(model, seed=1)
    ...     _ = [p.copy_(2 * q) for p, q in zip(model.parameters(), fresh.parameters())]
    >>> round(weight_norm_ratio(model, seed=1), 6)
    2.0
    """
    denominator = _norm(_parameters(fresh_initialization(model, seed)))
    numerator = _norm(_parameters(model))
    if denominator == 0:
        return math.nan
    return numerator / denominator


def weight_displacement(model, initial):
    """``||w - w0|| / ||w0||``: the distance the weights moved from their own start.

    Parameters
    ----------
    model : torch.nn.Module
    initial : torch.nn.Module or dict of str to Tensor
        The same architecture at initialization (a model or its ``state_dict``).

    Returns
    -------
    float
        ``inf`` for non-finite weights; NaN when ``w0`` is all zero.

    Raises
    ------
    ValueError
        If ``initial`` lacks a parameter of ``model`` or holds it in another shape.

    Examples
    --------
    >>> import torch
    >>> from featurizers.weights import weight_displacement
    >>> model = torch.nn.Linear(2, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.tensor([[3.0, 4.0]]))
    >>> weight_displacement(model, {"weight": torch.tensor([[0.0, 4.0]])})
    0.75
    """
    state = initial.state_dict() if isinstance(initial, torch.nn.Module) else initial
    diffs, starts = [], []
    for name, p in model.named_parameters():
        if not p.is_floating_point():
            continue
        w0 = state.get(name) if hasattr(state, "get") else None
        if not isinstance(w0, torch.Tensor) or tuple(w0.shape) != tuple(p.shape):
            raise ValueError(
                f"The 'initial' parameter of weight_displacement must hold parameter "
                f"{name!r} of shape {tuple(p.shape)}; got "
                f"{None if w0 is None else tuple(getattr(w0, 'shape', ()))}."
            )
        w0 = w0.detach().to(p.device)
        diffs.append(p.detach() - w0)
        starts.append(w0)
    denominator = _norm(starts)
    if denominator == 0:
        return math.nan
    return _norm(diffs) / denominator
