"""The training and featurization recipe of a zoo, and the default digits task."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from numbers import Integral, Real

import torch
from sklearn.datasets import load_digits

__all__ = ["Recipe", "digits_task", "noisy_labels", "tanh_mlp"]


@dataclass(frozen=True)
class Recipe:
    """Everything about how a zoo is trained and featurized, besides its grid.

    Two zoos share cached files only when their recipes are equal (the recipe is
    part of every cache key), so change ``name`` when you change what a model
    factory builds.

    Parameters
    ----------
    name : str, default="digits-tanh-mlp"
        A name for the model factory and data; part of the cache key.
    momentum : float, default=0.9
        SGD momentum (the learning rate is an axis of the grid).
    noise_seed : int, default=0
        Seed of the label corruption (:func:`noisy_labels`).
    curve_epochs : int, default=50
        Epochs of the Bezier curve between two models (connectivity), as in the
        collections: with fewer, the curves seldom pass below their endpoints and
        the connectivity re-measures the training error (benchmarks/README.md,
        "reference zoo").
    hessian_batch_size : int, default=200
        Training samples of each model's Hessian.
    nonpositive : float or {"nan", "raise"}, default=0.01
        ``hessian_t`` / ``hessian_e`` of a group whose mean Hessian trace or top
        eigenvalue is <= 0 (it happens on small, hot tanh models): the
        :class:`~featurizers.LossLandscapeFeaturizer` option of that name. The
        default reports ``ln(0.01) = -4.6``, the flattest sharpness, and the zoo's
        table marks those rows (``hessian_t_floored``).
    random_state : int, default=0
        Seeds the featurization; each configuration's row depends only on it and
        on that configuration's models (its seed is drawn from the row's cache key,
        which holds ``random_state`` when it is not 0). Another value re-measures
        the features with other random draws (curve initialisation, Hessian
        batches): the spread between random states is the featurization's own noise.

    Examples
    --------
    >>> from featurizers.zoo import Recipe
    >>> recipe = Recipe(curve_epochs=5)
    >>> recipe.name, recipe.curve_epochs
    ('digits-tanh-mlp', 5)
    >>> recipe == Recipe(curve_epochs=5), recipe == Recipe()
    (True, False)
    >>> sorted(recipe.training_dict())  # what the trained models depend on
    ['momentum', 'name', 'noise_seed']
    """

    name: str = "digits-tanh-mlp"
    momentum: float = 0.9
    noise_seed: int = 0
    curve_epochs: int = 50
    hessian_batch_size: int = 200
    nonpositive: object = 0.01
    random_state: int = 0

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"The 'name' parameter of Recipe must be a non-empty str; "
                             f"got {self.name!r}.")
        if not isinstance(self.momentum, Real) or not 0 <= self.momentum < 1:
            raise ValueError(
                f"The 'momentum' parameter of Recipe must be in [0, 1); got {self.momentum!r}."
            )
        for name, low in (("noise_seed", 0), ("curve_epochs", 0), ("hessian_batch_size", 1),
                          ("random_state", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
                raise ValueError(
                    f"The {name!r} parameter of Recipe must be an int >= {low}; got {value!r}."
                )
        ok = self.nonpositive in ("nan", "raise") or (
            isinstance(self.nonpositive, Real)
            and not isinstance(self.nonpositive, bool)
            and 0 < self.nonpositive < math.inf
        )
        if not ok:
            raise ValueError(
                "The 'nonpositive' parameter of Recipe must be 'nan', 'raise' or a positive "
                f"float; got {self.nonpositive!r}."
            )

    def as_dict(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def training_dict(self):
        """The fields the trained models depend on (the models' cache key): a change of
        the featurization settings reuses the trained models."""
        return {name: getattr(self, name) for name in ("name", "momentum", "noise_seed")}


def tanh_mlp(config):
    """The default model factory: a tanh MLP 64 -> p -> p -> 10, ``p = config.width``.

    ReLU networks were tried and failed: small batches kill their units, and
    the MD tree did no better than a decision tree on validation error.

    Examples
    --------
    >>> import torch
    >>> from featurizers.zoo import Configuration, tanh_mlp
    >>> model = tanh_mlp(Configuration(noise=0.0, lr=0.1, data_amount=100, width=8, bs=16))
    >>> model(torch.zeros(3, 64)).shape
    torch.Size([3, 10])
    """
    width = config.width
    return torch.nn.Sequential(
        torch.nn.Linear(64, width),
        torch.nn.Tanh(),
        torch.nn.Linear(width, width),
        torch.nn.Tanh(),
        torch.nn.Linear(width, 10),
    )


def digits_task(n_train=1200, *, seed=0):
    """scikit-learn's bundled 8x8 digits, split into a training pool and a test set.

    Nothing is downloaded. Inputs are the 64 pixels scaled to [0, 1] (float32),
    labels int64 in 0..9. The samples are shuffled once (``seed``); the first
    ``n_train`` form the pool whose prefixes are the zoo's training sets, the
    rest (597 by default) the test set.

    Parameters
    ----------
    n_train : int, default=1200
    seed : int, default=0

    Returns
    -------
    train, test : tuple of (Tensor, Tensor)

    Examples
    --------
    >>> from featurizers.zoo import digits_task
    >>> (X_train, y_train), (X_test, y_test) = digits_task(n_train=1000)
    >>> tuple(X_train.shape), tuple(X_test.shape), X_train.dtype, y_train.dtype
    ((1000, 64), (797, 64), torch.float32, torch.int64)
    >>> bool(X_train.min() >= 0), bool(X_train.max() <= 1)
    (True, True)
    """
    X, y = load_digits(return_X_y=True)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    X = torch.tensor(X / 16, dtype=torch.float32)[order]
    y = torch.tensor(y, dtype=torch.int64)[order]
    return (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])


def noisy_labels(y, rate, n_classes, *, seed=0):
    """A copy of ``y`` with ``round(rate * len(y))`` labels moved to another class.

    The corrupted samples and their new classes are drawn from a private
    generator seeded by ``seed`` (and the rate), so that each training set, a
    prefix of the pool, holds about ``rate`` noisy labels, the same for every
    model. The new class is never the true one.

    Parameters
    ----------
    y : Tensor of int64
    rate : float in [0, 1)
    n_classes : int
    seed : int, default=0

    Returns
    -------
    Tensor of int64

    Examples
    --------
    >>> import torch
    >>> from featurizers.zoo import noisy_labels
    >>> y = torch.arange(10) % 5
    >>> noisy = noisy_labels(y, 0.2, n_classes=5, seed=0)
    >>> int((noisy != y).sum()), bool(torch.equal(noisy, noisy_labels(y, 0.2, 5, seed=0)))
    (2, True)
    """
    y = y.clone()
    if rate == 0:
        return y
    generator = torch.Generator().manual_seed(int(seed) * 1000003 + round(rate * 1e6))
    n_noisy = round(rate * len(y))
    where = torch.randperm(len(y), generator=generator)[:n_noisy]
    shift = torch.randint(1, n_classes, (n_noisy,), generator=generator)
    y[where] = (y[where] + shift) % n_classes
    return y
