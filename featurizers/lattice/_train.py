"""Training n seeds of a configuration of a family on CPU, cached, with failure records.

A :class:`LatticeFamily` is a user's setting: a model factory ``factory(width,
**fixed) -> nn.Module``, a training pool (a configuration trains on its first
``n_train`` samples) and a test set, the optimizer knob and the fixed optimizer
settings, and a fixed epoch budget (``ceil(epochs * n_train / batch_size)`` SGD
steps, batches drawn with replacement, :func:`featurizers.zoo.batch_schedule`).
:func:`train_runs` trains the seeds of one configuration -- all at once as one
vectorised network when the architecture allows it
(:func:`featurizers.zoo.train_stacked`), one at a time otherwise -- and records,
per training, its errors and whether it diverged or stalled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..weights import weight_displacement
from .._cache import Cache, fingerprint
from ..zoo._train import batch_schedule, can_stack, momentum_step, train_one, train_stacked
from ._config import KNOBS, LatticeConfig

__all__ = ["LatticeFamily", "Run", "train_runs"]

#: A training is at chance level when its training error is at least this share of the
#: chance-level error ``100 * (1 - 1 / n_classes)``.
CHANCE_SHARE = 0.8
#: ... diverged when, at chance level, its loss exceeds this many times ``ln(n_classes)``
#: (the loss of a uniform prediction), or any loss is non-finite;
LARGE_LOSS = 1.5
#: ... or when, at chance level, its weights moved more than this many times their initial
#: norm (blown up: dead ReLU networks end with a moderate loss);
BLOWN_UP_DISPLACEMENT = 10.0
#: ... stalled when, at chance level, its weights moved less than this share of their
#: initial norm (``||w - w0|| / ||w0||``).
STALL_DISPLACEMENT = 0.1


@dataclass(frozen=True)
class LatticeFamily:
    """A user's model family: factory, data, optimizer knob and training budget.

    Parameters
    ----------
    name : str
        Part of every cache key: change it when the factory or data change.
    factory : callable
        ``factory(width, **fixed) -> torch.nn.Module``.
    train, test : tuple of (Tensor, Tensor)
        The training pool (configurations use its first ``n_train`` samples) and
        the test set of the labels.
    knob : {"learning rate", "batch size"}
        The optimizer hyperparameter a configuration's ``knob_value`` sets.
    lr, batch_size : float, int
        The other optimizer setting (the one that is not the knob).
    epochs : float
        Passes over the training set (fixed epochs: a larger batch takes fewer steps).
    momentum : float, default=0.9
    n_classes : int, default=None
        Inferred from the labels when None.
    """

    name: str
    factory: Callable
    train: tuple
    test: tuple
    knob: str
    lr: float = 0.05
    batch_size: int = 32
    epochs: float = 20
    momentum: float = 0.9
    n_classes: int = None

    def __post_init__(self):
        if self.knob not in KNOBS:
            raise ValueError(
                f"The 'knob' parameter of LatticeFamily must be one of {list(KNOBS)}; got "
                f"{self.knob!r}."
            )
        if self.n_classes is None:
            n = int(max(self.train[1].max(), self.test[1].max())) + 1
            object.__setattr__(self, "n_classes", n)

    @property
    def n_available(self):
        return len(self.train[0])

    @property
    def chance_error(self):
        """Error (percent) of a constant guess among equally frequent classes."""
        return 100.0 * (1.0 - 1.0 / self.n_classes)

    def optimizer(self, config):
        """``(lr, batch_size)`` of a configuration."""
        if self.knob == "learning rate":
            return float(config.knob_value), int(self.batch_size)
        return float(self.lr), int(config.knob_value)

    def steps(self, config):
        _, bs = self.optimizer(config)
        return max(1, math.ceil(self.epochs * config.n_train / bs))

    def build(self, config, seed):
        """The model of ``config`` at its initialization for ``seed`` (global RNG untouched)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            return self.factory(config.width, **dict(config.fixed))

    def data(self, config):
        X, y = self.train
        return X[: config.n_train], y[: config.n_train]

    def describe(self):
        """The family's part of the cache key."""
        return {"family": self.name, "knob": self.knob, "lr": float(self.lr),
                "batch_size": int(self.batch_size), "epochs": float(self.epochs),
                "momentum": float(self.momentum),
                "data": fingerprint(*self.train, *self.test)}


@dataclass
class Run:
    """One training of a configuration: the model and what it did."""

    seed: int
    model: torch.nn.Module
    initial_state: dict
    train_error: float
    train_loss: float
    test_error: float
    test_loss: float
    displacement: float
    diverged: bool
    stalled: bool

    def record(self):
        return {k: getattr(self, k) for k in ("seed", "train_error", "train_loss", "test_error",
                                             "test_loss", "displacement", "diverged",
                                             "stalled")}


@torch.no_grad()
def _evaluate(model, X, y):
    model.eval()
    out = model(X)
    loss = float(F.cross_entropy(out, y))
    error = 100.0 * float((out.argmax(1) != y).float().mean())
    return error, loss


def _run(family, config, seed, model):
    initial = {k: v.clone() for k, v in family.build(config, seed).state_dict().items()}
    X, y = family.data(config)
    train_error, train_loss = _evaluate(model, X, y)
    test_error, test_loss = _evaluate(model, *family.test)
    moved = weight_displacement(model, initial)
    chance = family.chance_error
    finite = math.isfinite(train_loss) and math.isfinite(test_loss) and math.isfinite(moved)
    at_chance = train_error >= CHANCE_SHARE * chance
    diverged = (not finite) or (at_chance and (
        train_loss > LARGE_LOSS * math.log(family.n_classes) or moved > BLOWN_UP_DISPLACEMENT))
    stalled = (not diverged) and at_chance and moved < STALL_DISPLACEMENT
    if not finite:  # a non-finite model predicts nothing: count it at chance level
        test_error = train_error = chance
    return Run(int(seed), model, initial, train_error, train_loss, test_error, test_loss,
               moved, bool(diverged), bool(stalled))


def can_stack_buffers(model):
    """Whether ``model``'s seeds can train as one vectorised network with their
    BatchNorm statistics (:func:`train_stacked_buffers`): buffers from BatchNorm
    layers only, no dropout.

    Examples
    --------
    >>> import torch
    >>> from featurizers.lattice._train import can_stack_buffers
    >>> can_stack_buffers(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3),
    ...                                       torch.nn.BatchNorm2d(2)))
    True
    >>> can_stack_buffers(torch.nn.Sequential(torch.nn.Linear(4, 3)))
    False
    >>> can_stack_buffers(torch.nn.Sequential(torch.nn.BatchNorm1d(3), torch.nn.Dropout()))
    False
    """
    if not any(True for _ in model.buffers()):
        return False
    if any(isinstance(m, torch.nn.modules.dropout._DropoutNd) for m in model.modules()):
        return False
    return all(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
               for m in model.modules() if any(True for _ in m.buffers(recurse=False)))


def train_stacked_buffers(models, X, y, schedules, *, lr, momentum=0.9):
    """Train models of one architecture with BatchNorm at once, as one vectorised network.

    :func:`featurizers.zoo.train_stacked`'s SGD (momentum, no dampening, no weight
    decay) for models with buffers: parameters and BatchNorm statistics are stacked
    and the forward runs under :func:`torch.vmap` of
    :func:`torch.func.functional_call`, each model updating its own running
    statistics. The result equals :func:`featurizers.zoo.train_one` of each model
    to float tolerance over a few steps; SGD being chaotic, long trainings differ as
    much as two runs of ``train_one`` on another CPU would.

    Parameters
    ----------
    models : list of torch.nn.Module
        Of one architecture (:func:`can_stack_buffers`); trained in place and
        returned in eval mode.
    X, y : Tensor
        Inputs and integer labels every model indexes.
    schedules : Tensor of int64, shape (n_models, steps, batch_size)
    lr, momentum : float

    Returns
    -------
    models : list of torch.nn.Module
    """
    import copy

    from torch.func import functional_call

    n = len(models)
    pnames = [k for k, _ in models[0].named_parameters()]
    bnames = [k for k, _ in models[0].named_buffers()]
    params = [torch.stack([dict(m.named_parameters())[k].detach() for m in models])
              .requires_grad_(True) for k in pnames]
    buffers = [torch.stack([dict(m.named_buffers())[k].detach() for m in models]).clone()
               for k in bnames]
    base = copy.deepcopy(models[0]).to("meta").train()

    def forward(p, b, x):
        return functional_call(base, {**dict(zip(pnames, p)), **dict(zip(bnames, b))}, (x,))

    batched = torch.vmap(forward, in_dims=(0, 0, 0), randomness="error")
    velocity = None
    for step in range(schedules.shape[1]):
        idx = schedules[:, step]
        out = batched(params, buffers, X[idx])
        per_sample = F.cross_entropy(out.reshape(-1, out.shape[-1]), y[idx].reshape(-1),
                                     reduction="none")
        loss = per_sample.view(n, -1).mean(dim=1).sum()
        grads = torch.autograd.grad(loss, params)
        velocity = momentum_step(params, grads, velocity, momentum, [lr] * len(params))
    with torch.no_grad():
        for m, model in enumerate(models):
            own, own_buffers = dict(model.named_parameters()), dict(model.named_buffers())
            for k, t in zip(pnames, params):
                own[k].copy_(t[m])
            for k, t in zip(bnames, buffers):
                own_buffers[k].copy_(t[m])
            model.eval()
    return models


def _cache_base(family, config, stack_buffers):
    """The cache key's common part of ``config``'s trainings (``trainer`` only when the
    BatchNorm seeds train stacked, so that the two paths never share entries)."""
    from sklearn_mdtree._version import __version__

    base = {"lattice": family.describe(), "config": config.as_dict(), "version": __version__}
    if stack_buffers:
        base["trainer"] = "stacked-buffers"
    return base


def uses_stacked_buffers(family, config, stack_buffers=True):
    """Whether :func:`train_runs` with ``stack_buffers`` trains ``config`` by
    :func:`train_stacked_buffers`."""
    return bool(stack_buffers) and can_stack_buffers(family.build(config, 0))


def train_runs(family, config, seeds, *, cache_dir=None, stack_buffers=False):
    """Train (or read from the cache) the models of ``config`` for ``seeds``.

    Parameters
    ----------
    family : LatticeFamily
    config : LatticeConfig
    seeds : iterable of int
        Seed ``s`` draws the initialization and the batch schedule.
    cache_dir : path or None
        Folder of the zoo's content-hashed cache (:mod:`featurizers._cache`):
        an entry is keyed by the family's description (name, optimizer, epochs,
        data fingerprint), the configuration, the seed and the package version.
    stack_buffers : bool, default=False
        Train the seeds of a BatchNorm architecture at once
        (:func:`train_stacked_buffers`; its cache entries are apart) instead of one
        by one.

    Returns
    -------
    list of Run
        In the order of ``seeds``.
    """
    if not isinstance(config, LatticeConfig):
        raise TypeError(f"The 'config' parameter of train_runs must be a LatticeConfig; got "
                        f"{type(config).__name__}.")
    seeds = [int(s) for s in seeds]
    cache = Cache(cache_dir)
    cache.check_writable()
    stacked_buffers = uses_stacked_buffers(family, config, stack_buffers)
    base = _cache_base(family, config, stacked_buffers)
    metas = {s: {**base, "seed": s} for s in seeds}
    models = {s: cache.load_model(metas[s], lambda s=s: family.build(config, s)) for s in seeds}
    todo = [s for s in seeds if models[s] is None]
    if todo:
        lr, bs = family.optimizer(config)
        X, y = family.data(config)
        steps = family.steps(config)
        fresh = {s: family.build(config, s) for s in todo}
        schedules = {s: batch_schedule(config.n_train, bs, steps, s) for s in todo}
        with np.errstate(all="ignore"):
            if stacked_buffers:
                trained = train_stacked_buffers(
                    [fresh[s] for s in todo], X, y,
                    torch.stack([schedules[s] for s in todo]), lr=lr,
                    momentum=family.momentum)
                fresh = dict(zip(todo, trained))
            elif len(todo) > 1 and can_stack(fresh[todo[0]]):
                trained = train_stacked([fresh[s] for s in todo], X, y.expand(len(todo), -1),
                                        torch.stack([schedules[s] for s in todo]),
                                        lrs=[lr] * len(todo), momentum=family.momentum)
                fresh = dict(zip(todo, trained))
            else:
                for s in todo:
                    fresh[s] = train_one(fresh[s], X, y, schedules[s], lr=lr,
                                         momentum=family.momentum, seed=s)
        for s in todo:
            models[s] = fresh[s]
            cache.save_state(metas[s], fresh[s].state_dict())
    return [_run(family, config, s, models[s]) for s in seeds]
