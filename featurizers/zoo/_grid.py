"""The configuration grid of a model zoo, declared as data, and its size presets."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from itertools import product
from numbers import Integral, Real

__all__ = ["Configuration", "ZooGrid", "ZOO_PRESETS", "zoo_preset"]

#: The axes of a grid, in the order of :meth:`ZooGrid.configurations` (the last varies
#: fastest).
AXES = ("noise", "lr", "data_amount", "width", "bs")


@dataclass(frozen=True, order=True)
class Configuration:
    """One training configuration of a zoo: every model of it differs only in its seed.

    Attributes
    ----------
    noise : float
        Fraction of training labels replaced by another, random class (0: clean).
    lr : float
        SGD learning rate.
    data_amount : int
        Training-set size (the first ``data_amount`` samples of the recipe's pool).
    width : int
        Model width, passed to the model factory.
    bs : int
        Batch size.

    Examples
    --------
    >>> from featurizers.zoo import Configuration
    >>> config = Configuration(noise=0.1, lr=0.1, data_amount=300, width=16, bs=8)
    >>> print(config)
    width=16 bs=8 data_amount=300 lr=0.1 noise=0.1
    >>> config.as_dict()["width"], config < Configuration(0.1, 0.1, 300, 32, 8)
    (16, True)
    """

    noise: float
    lr: float
    data_amount: int
    width: int
    bs: int

    def as_dict(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __str__(self):
        return (
            f"width={self.width} bs={self.bs} data_amount={self.data_amount} "
            f"lr={self.lr:g} noise={self.noise:g}"
        )


def _check_axis(name, values, *, kind, low, high=None):
    """The axis as a sorted tuple; a clear error for an empty or repeated axis."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(
            f"The {name!r} axis of ZooGrid must be a sequence of numbers; got "
            f"{type(values).__name__} {values!r}."
        )
    values = tuple(values)
    if not values:
        raise ValueError(f"The {name!r} axis of ZooGrid must hold at least one value; got ().")
    for v in values:
        ok = isinstance(v, kind) and not isinstance(v, bool)
        if ok and kind is Real:
            ok = math.isfinite(v)
        if not ok or v < low or (high is not None and v >= high):
            span = f">= {low}" + ("" if high is None else f" and < {high}")
            what = "integers" if kind is Integral else "finite numbers"
            raise ValueError(
                f"The {name!r} axis of ZooGrid must hold {what} {span}; got {v!r} in {values}."
            )
    if len(set(values)) != len(values):
        repeated = sorted({v for v in values if values.count(v) > 1})
        raise ValueError(
            f"The {name!r} axis of ZooGrid must not repeat a value; got {values} "
            f"({repeated} repeated)."
        )
    cast = int if kind is Integral else float
    return tuple(sorted(cast(v) for v in values))


@dataclass(frozen=True)
class ZooGrid:
    """A grid of training configurations, each trained with every seed.

    The grid is the product of its axes; every configuration trains
    ``len(seeds)`` models, for a fixed number of ``epochs`` (the default: a
    model of batch size ``bs`` on ``data_amount`` samples takes
    ``ceil(epochs * data_amount / bs)`` steps, so that large batches take few
    steps and underfit, as in the paper's collections) or, when ``steps`` is
    given, for a fixed number of optimizer steps whatever its batch size. Axes
    are stored sorted ascending; a value given twice or an empty axis is an
    error.

    Parameters
    ----------
    width : sequence of int, default=(4, 8, 16, 32, 64)
        Model widths (the model factory's knob of model size).
    bs : sequence of int, default=(4, 8, 16, 32, 64, 128)
        Batch sizes (the optimizer's temperature knob: smaller is hotter).
    data_amount : sequence of int, default=(300, 600, 1200)
        Training-set sizes; nested subsets of the recipe's training pool.
    lr : sequence of float, default=(0.1,)
        SGD learning rates.
    noise : sequence of float, default=(0.0, 0.1)
        Label-noise rates in [0, 1). Configurations with noise 0 form the zoo's
        collection F (``collection="normal"``), the others F' (``"noise"``).
    seeds : sequence of int, default=(0, 1, 2, 3, 4, 5)
        Seeds of the models of each configuration (initialisation and batches);
        two or more for the pairwise features (connectivity, CKA). The zoo's
        labels compare the seeds' mean test errors with their standard errors:
        take six or more.
    steps : int or None, default=None
        SGD steps of every model; give either ``steps`` or ``epochs``.
    epochs : int or None, default=None
        Epochs of every model (see :meth:`n_steps`); 40 when neither ``steps`` nor
        ``epochs`` is given.

    Examples
    --------
    >>> from featurizers.zoo import ZooGrid
    >>> grid = ZooGrid(width=(8, 4), bs=(16,), data_amount=(100,), noise=(0.0,), seeds=(0, 1))
    >>> grid.width, grid.n_configurations, grid.n_models
    ((4, 8), 2, 4)
    >>> print(grid.configurations()[0])
    width=4 bs=16 data_amount=100 lr=0.1 noise=0
    """

    width: tuple = (4, 8, 16, 32, 64)
    bs: tuple = (4, 8, 16, 32, 64, 128)
    data_amount: tuple = (300, 600, 1200)
    lr: tuple = (0.1,)
    noise: tuple = (0.0, 0.1)
    seeds: tuple = (0, 1, 2, 3, 4, 5)
    steps: object = None
    epochs: object = None

    def __post_init__(self):
        checked = {
            "width": _check_axis("width", self.width, kind=Integral, low=1),
            "bs": _check_axis("bs", self.bs, kind=Integral, low=1),
            "data_amount": _check_axis("data_amount", self.data_amount, kind=Integral, low=1),
            "lr": _check_axis("lr", self.lr, kind=Real, low=0),
            "noise": _check_axis("noise", self.noise, kind=Real, low=0, high=1),
            "seeds": _check_axis("seeds", self.seeds, kind=Integral, low=0),
        }
        if 0.0 in checked["lr"]:
            raise ValueError(
                f"The 'lr' axis of ZooGrid must hold positive learning rates; got {self.lr}."
            )
        if self.steps is not None and self.epochs is not None:
            raise ValueError(
                "The 'steps' and 'epochs' parameters of ZooGrid exclude each other; got "
                f"steps={self.steps!r} and epochs={self.epochs!r}."
            )
        for name in ("steps", "epochs"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, Integral) or value < 1
            ):
                raise ValueError(
                    f"The {name!r} parameter of ZooGrid must be an int >= 1 or None; got "
                    f"{value!r}."
                )
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        if self.steps is None and self.epochs is None:
            object.__setattr__(self, "epochs", 40)
        for name in ("steps", "epochs"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, int(getattr(self, name)))

    @property
    def n_configurations(self):
        return math.prod(len(getattr(self, a)) for a in AXES)

    @property
    def n_models(self):
        return self.n_configurations * len(self.seeds)

    def n_steps(self, config):
        """SGD steps of the models of ``config``: ``steps``, or
        ``ceil(epochs * data_amount / bs)``.

        Examples
        --------
        >>> from featurizers.zoo import Configuration, ZooGrid
        >>> config = Configuration(noise=0.0, lr=0.1, data_amount=300, width=8, bs=64)
        >>> ZooGrid(epochs=40).n_steps(config), ZooGrid(steps=1500).n_steps(config)
        (188, 1500)
        """
        if self.steps is not None:
            return self.steps
        return math.ceil(self.epochs * config.data_amount / config.bs)

    @property
    def training(self):
        """How long models train, in words: ``"40 epochs"`` or ``"1500 SGD steps"``."""
        return f"{self.steps} SGD steps" if self.steps is not None else f"{self.epochs} epochs"

    def configurations(self):
        """Every configuration, sorted by noise, lr, data amount, width, batch size."""
        return [
            Configuration(noise, lr, data_amount, width, bs)
            for noise, lr, data_amount, width, bs in product(*(getattr(self, a) for a in AXES))
        ]

    def as_dict(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: Size presets of the default digits zoo. ``tiny`` is for tests, docs and CI (the
#: smallest); ``default`` for ``mdtree demo`` and the shipped digits table (3,024 models;
#: its cold and cached times: benchmarks/README.md, "reference zoo"); ``large`` for a
#: real study. Every preset trains a fixed number of epochs (40) and labels its configurations
#: from six or more seeds; the recipe and its measurements: benchmarks/README.md,
#: "reference zoo". ``tiny`` trains at lr 0.1 from batch size 8, where the default's hot
#: end is lr 0.05 at batch size 4: both classes at a fifth of the steps.
ZOO_PRESETS = {
    "tiny": ZooGrid(
        width=(4, 16), bs=(8, 32, 128), data_amount=(150, 300), lr=(0.1,), noise=(0.0, 0.1),
        seeds=(0, 1, 2, 3, 4, 5), epochs=40,
    ),
    "default": ZooGrid(
        width=(4, 8, 16, 32), bs=(4, 8, 16, 32, 64, 128, 256), data_amount=(300, 600, 1200),
        lr=(0.0125, 0.025, 0.05), noise=(0.0, 0.1), seeds=(0, 1, 2, 3, 4, 5), epochs=40,
    ),
    "large": ZooGrid(
        width=(4, 6, 8, 11, 16, 23, 32, 45, 64),
        bs=(4, 8, 16, 32, 64, 128, 256),
        data_amount=(150, 300, 600, 900, 1200),
        lr=(0.00625, 0.0125, 0.025, 0.05),
        noise=(0.0, 0.1, 0.2),
        seeds=tuple(range(8)),
        epochs=40,
    ),
}


def zoo_preset(name):
    """The :class:`ZooGrid` of a size preset: ``"tiny"``, ``"default"`` or ``"large"``.

    Parameters
    ----------
    name : str

    Returns
    -------
    ZooGrid

    Examples
    --------
    >>> from featurizers.zoo import zoo_preset
    >>> grid = zoo_preset("tiny")
    >>> grid.width, grid.epochs, grid.n_configurations, grid.n_models
    ((4, 16), 40, 24, 144)
    """
    if name not in ZOO_PRESETS:
        raise ValueError(
            f"The 'preset' parameter must be one of {sorted(ZOO_PRESETS)}; got {name!r}."
        )
    return ZOO_PRESETS[name]
