"""The training and validation error and loss of model groups (the "validation" baselines)."""

from __future__ import annotations

import os
from numbers import Integral

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_mdtree._vocabulary import VALIDATION_FEATURES

from ._base import _COMMON_PARAMS, _N_JOBS_PARAM, _GroupFeaturizer

__all__ = ["ValidationFeaturizer"]


class ValidationFeaturizer(_GroupFeaturizer):
    """Training and validation error and loss of model groups.

    These are the features of the "validation" baselines: ``train_error``,
    ``train_loss`` on the training data and ``test_error``, ``test_loss`` on the
    group's validation data, each the mean over the group's models (eval mode,
    errors in percent, losses mean cross-entropy).

    Parameters
    ----------
    features : list of str, default=("train_error", "train_loss", "test_error", "test_loss")
        Output columns, in order.
{common}
{n_jobs}
    verbose : int, default=1
        Progress bar over groups when positive, on stderr, naming the group
        and feature under way (``"group 2/3: validation"``).

    Attributes
    ----------
    features_ : tuple of str
        Output columns, set by ``fit``.
    n_groups_fit_ : int
        Number of groups seen by ``fit``.

    See Also
    --------
    LossLandscapeFeaturizer : the MD tree's loss-landscape features.

    Examples
    --------
    >>> import torch
    >>> from featurizers import ModelGroup, ValidationFeaturizer
    >>> X, y = torch.randn(40, 4), torch.randint(0, 3, (40,))
    >>> group = ModelGroup([torch.nn.Linear(4, 3)], (X, y), (X, y))
    >>> ValidationFeaturizer(verbose=0).fit_transform([group]).shape
    (1, 4)
    """

    _all_features = VALIDATION_FEATURES
    _parameter_constraints: dict = {
        "features": [list, tuple],
        "loss_fn": [callable, None],
        "device": [str, torch.device],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "on_nan": [StrOptions({"warn", "raise"})],
        "n_jobs": [
            Interval(Integral, None, -1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "cache_dir": [str, os.PathLike, "boolean", None],
        "torch_threads": [Interval(Integral, 1, None, closed="left"), None],
        "progress": [callable, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        features=("train_error", "train_loss", "test_error", "test_loss"),
        *,
        loss_fn=None,
        device="cpu",
        batch_size=256,
        on_nan="warn",
        n_jobs=None,
        cache_dir=None,
        torch_threads=None,
        progress=None,
        verbose=1,
    ):
        self.features = features
        self.loss_fn = loss_fn
        self.device = device
        self.batch_size = batch_size
        self.on_nan = on_nan
        self.n_jobs = n_jobs
        self.cache_dir = cache_dir
        self.torch_threads = torch_threads
        self.progress = progress
        self.verbose = verbose

    def _group_values(self, group, index, features, device, seed):
        values = {}
        self._stage(index, "train_error")
        self._train_metrics(group, group._train, "train", features, values)
        if group._val is not None:
            self._stage(index, "validation")
            self._train_metrics(group, group._val, "test", features, values)
        return values, set()


ValidationFeaturizer.__doc__ = ValidationFeaturizer.__doc__.replace(
    "{common}", _COMMON_PARAMS).replace("{n_jobs}", _N_JOBS_PARAM)
