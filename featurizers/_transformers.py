"""scikit-learn transformers that turn model groups into feature rows.

Each transformer takes a list of :class:`~featurizers.ModelGroup` and returns one
row per group. They check their parameters and the groups, give each group its
own random streams, loop over the groups (in joblib workers with ``n_jobs``, see
:mod:`featurizers._parallel`) and call the documented functions of
:mod:`featurizers.connectivity` and the per-model recipes of
:mod:`featurizers.hessian` (``_model_sharpness``) and :mod:`featurizers.similarity`
(``_group_cka``); what stays here is the averaging over each group's models and
the policy for NaN and for the log of a non-positive mean. The definitions match
the public MD tree collections (means over each group's seeds, errors in percent,
natural logs).
"""

from __future__ import annotations

import hashlib
import math
import os
import pickle
import warnings
from itertools import chain, combinations
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils._param_validation import Interval, StrOptions
from tqdm.auto import tqdm

from ._groups import ModelGroup
from ._parallel import _closing, _effective_n_jobs, _group_results, _replay
from ._precision import log_mean_se, mean_se
from ._utils import _RANDOM_STATE, _check_loss, _eval_mode, _forked_rng, _logits, _torch_seed
from .connectivity import (
    curve_errors,
    evaluate_model,
    fit_bend,
    mode_connectivity,
    mode_connectivity_peak,
)
from .hessian._model import _model_sharpness, _trace_budget
from .similarity import _group_cka

__all__ = [
    "FeaturizationWarning",
    "HyperparameterFeaturizer",
    "LossLandscapeFeaturizer",
    "ValidationFeaturizer",
]


def _describe(value):
    """A JSON-able description of a parameter value for the cache's key.

    A callable (a loss) is described by its qualified name and the hash of its
    pickle and, for a function, of its code, so that two different lambdas or
    losses with other settings never share cached rows.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    digest = hashlib.sha256()
    code = getattr(value, "__code__", None)
    if code is not None:
        digest.update(code.co_code + repr(code.co_consts).encode())
    try:
        digest.update(pickle.dumps(value))
    except Exception:  # an unpicklable object: described by its identity in this run
        digest.update(f"{id(value)}-{os.getpid()}".encode())
    name = getattr(value, "__qualname__", type(value).__qualname__)
    return f"{getattr(value, '__module__', '')}.{name}:{digest.hexdigest()[:16]}"


class FeaturizationWarning(UserWarning):
    """A feature of a group was reported as NaN (non-finite loss, ln of a value <= 0).

    The featurizers warn with it instead of raising, so that one bad group does not
    end a long run; turn it into an error with a warnings filter.

    Examples
    --------
    >>> import warnings
    >>> from featurizers import FeaturizationWarning
    >>> issubclass(FeaturizationWarning, UserWarning)
    True
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", FeaturizationWarning)
    ...     try:
    ...         warnings.warn("hessian_t of group 0 is NaN", FeaturizationWarning)
    ...     except FeaturizationWarning as exc:
    ...         print(exc)
    hessian_t of group 0 is NaN
    """


_PAIRWISE = frozenset({"mode_connectivity_peak", "mode_connectivity", "CKA"})
_CONNECTIVITY = frozenset({"mode_connectivity_peak", "mode_connectivity"})
#: Features computed from the weights: refused for models without parameters.
_NEEDS_PARAMETERS = frozenset({"log_para_amount", "hessian_t", "hessian_e", *_CONNECTIVITY})


def _same_device(actual, wanted):
    if actual.type != wanted.type:
        return False
    return wanted.index is None or actual.index in (None, wanted.index)


class _GroupFeaturizer(TransformerMixin, BaseEstimator):
    """Shared machinery: parameter and input checks, the loop over groups, NaN policy.

    Subclasses define ``_all_features`` and ``_group_values(group, index,
    features, device, seed)`` returning ``({feature: value}, handled)``, where
    ``handled`` names the features whose NaN was already reported.
    """

    _all_features: tuple = ()
    _uses_torch = True

    # ------------------------------------------------------------------ sklearn API

    def fit(self, groups, y=None):
        """Check the parameters and the groups; nothing is learned.

        Parameters
        ----------
        groups : list of ModelGroup
            The groups to featurize.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer, with ``features_`` (the output columns) and
            ``n_groups_fit_`` set.
        """
        self._validate_params()
        self._check_params()
        features = self._features()
        groups = self._check_groups(groups)
        self.features_ = tuple(self._columns(features))
        self.n_groups_fit_ = len(groups)
        return self

    def transform(self, groups):
        """One feature row per group.

        Parameters
        ----------
        groups : list of ModelGroup
            The groups to featurize. Their models are not modified.

        Returns
        -------
        ndarray of shape (n_groups, n_features)
            The selected features, in the order of ``features`` (a DataFrame
            after ``set_output(transform="pandas")``).
        """
        self._validate_params()
        self._check_params()
        features = self._features()
        groups = self._check_groups(groups)
        device = self._device()
        for index, group in enumerate(groups):
            self._check_group(group, index, features, device)
        seeds = np.random.SeedSequence(
            _torch_seed(self.random_state) if hasattr(self, "random_state") else 0
        ).spawn(len(groups))
        columns = self._columns(features)
        rows = np.empty((len(groups), len(columns)))
        cache, metas = self._cache(), [None] * len(groups)
        pending = list(range(len(groups)))
        if cache is not None:
            metas = [self._cache_meta(g, columns, device, seeds[i]) for i, g in enumerate(groups)]
            cached = [cache.load_row(meta, columns) for meta in metas]
            for i, row in enumerate(cached):
                if row is not None:
                    rows[i] = [row[c] for c in columns]
            pending = [i for i, row in enumerate(cached) if row is None]
        self.n_groups_computed_ = len(pending)
        n_jobs = self._n_jobs()
        # Workers get a copy of the featurizer without its inner progress bars
        # (they would interleave), and of their group.
        worker = self if n_jobs == 1 else clone(self).set_params(verbose=0)
        results = _group_results(
            worker._group_values,
            ((groups[i], i, features, device, seeds[i]) for i in pending),
            1 if n_jobs == 1 else self.n_jobs,
            describe=lambda k: groups[pending[k]]._label(pending[k]),
        )
        bar = iter(
            tqdm(
                results,
                total=len(pending),
                desc=type(self).__name__,
                unit="group",
                disable=not getattr(self, "verbose", 0),
            )
        )
        with _closing(bar, results):
            for index, (result, error, records) in zip(pending, bar):
                _replay(error, records)
                values, handled = result
                finite = all(math.isfinite(values[f]) for f in features)
                self._check_finite(values, handled, groups[index], index)
                rows[index] = [values[c] for c in columns]
                if cache is not None and finite:  # NaN rows are recomputed, and warn again
                    cache.save_row(metas[index], {c: values[c] for c in columns})
        return rows

    def _cache(self):
        """The zoo's cache (:mod:`featurizers.zoo._cache`) of ``cache_dir``, or None."""
        cache_dir = getattr(self, "cache_dir", None)
        if cache_dir is None or cache_dir is False:
            return None
        from .zoo._cache import Cache, default_cache_dir

        cache = Cache(default_cache_dir() if cache_dir is True else cache_dir)
        try:
            cache.check_writable()
        except PermissionError as exc:
            raise PermissionError(str(exc).replace("the zoo", type(self).__name__)) from None
        return cache

    def _cache_meta(self, group, features, device, seed):
        """What a group's row depends on, as the cache's JSON meta (its key is its hash)."""
        from sklearn_mdtree import __version__

        from .zoo._cache import fingerprint

        params = {
            k: _describe(v)
            for k, v in self.get_params(deep=False).items()
            if k not in ("n_jobs", "verbose", "cache_dir", "features", "random_state")
        }
        data = {"train": group._train.fingerprint()}
        if any(f.startswith("test_") for f in features):
            data["validation"] = group._val.fingerprint()
        return {
            "row": type(self).__name__,
            "features": list(features),
            "params": params,
            "device": str(device),
            "seed": [str(seed.entropy), list(seed.spawn_key)],
            "weights": [
                fingerprint(*[t for t in m.state_dict().values() if isinstance(t, torch.Tensor)])
                for m in group.models
            ],
            "architecture": f"{type(group.models[0]).__module__}."
                            f"{type(group.models[0]).__qualname__}",
            "data": data,
            "version": __version__,
        }

    def _n_jobs(self):
        """Worker processes for the groups: 1 runs them here, in turn.

        A featurizer without an ``n_jobs`` parameter always runs here, and so does
        one under a thread-based joblib backend: the groups' computations fork
        torch's global RNG (dropout draws from it), which threads would share.
        """
        if "n_jobs" not in self.get_params():
            return 1
        return _effective_n_jobs(self.n_jobs)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Parameters
        ----------
        input_features : None
            Ignored (the inputs are model groups, not columns).

        Returns
        -------
        ndarray of str
            The selected features.
        """
        return np.asarray(self._columns(self._features()), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        return tags

    # ---------------------------------------------------------------- validation

    def _check_params(self):
        """Checks of parameter combinations, after ``_validate_params``."""

    def _features(self):
        features = list(self.features)
        if not features:
            raise ValueError(
                f"The 'features' parameter of {type(self).__name__} must name at least one "
                "feature; got an empty list."
            )
        unknown = [f for f in features if f not in self._all_features]
        if unknown:
            raise ValueError(
                f"The 'features' parameter of {type(self).__name__} must be a list of names "
                f"among {list(self._all_features)}. Got unknown {unknown} instead."
            )
        if len(set(features)) != len(features):
            raise ValueError(
                f"The 'features' parameter of {type(self).__name__} must not repeat a name; "
                f"got {features}."
            )
        return features

    def _check_groups(self, groups):
        name = type(self).__name__
        if isinstance(groups, ModelGroup):
            raise TypeError(
                f"{name} takes a list of ModelGroup (one row each); got a single ModelGroup. "
                "Pass [group]."
            )
        try:
            groups = list(groups)
        except TypeError:
            raise TypeError(
                f"{name} takes a list of ModelGroup; got {type(groups).__name__}."
            ) from None
        if not groups:
            raise ValueError(f"{name} needs at least one ModelGroup; got an empty list.")
        for i, group in enumerate(groups):
            if not isinstance(group, ModelGroup):
                raise TypeError(
                    f"{name} takes a list of ModelGroup; element {i} is a "
                    f"{type(group).__name__}."
                )
        return groups

    def _device(self):
        if not self._uses_torch:
            return None
        try:
            return torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"The 'device' parameter of {type(self).__name__} must be a torch device "
                f"string such as 'cpu' or 'cuda:0'. Got {self.device!r} instead."
            ) from exc

    def _check_group(self, group, index, features, device):
        """Checks that need no computation, so that bad input fails before any."""
        name, label = type(self).__name__, group._label(index)
        pairwise = sorted(_PAIRWISE.intersection(features))
        if pairwise and group.n_models < 2:
            raise ValueError(
                f"{name}: {label} has {group.n_models} model, but the pairwise features "
                f"{pairwise} need at least 2 (models trained with different seeds)."
            )
        if _CONNECTIVITY.intersection(features) and self.n_pairs != "all":
            available = group.n_models * (group.n_models - 1) // 2
            if self.n_pairs > available:
                raise ValueError(
                    f"{name}: n_pairs={self.n_pairs} but {label} has {group.n_models} models, "
                    f"hence {available} pairs. Lower n_pairs or use n_pairs='all'."
                )
        if any(f.startswith("test_") for f in features) and group._val is None:
            raise ValueError(
                f"{name}: {label} has no validation data (val_data=None), which "
                f"{[f for f in features if f.startswith('test_')]} need."
            )
        needs_parameters = sorted(_NEEDS_PARAMETERS.intersection(features))
        if needs_parameters and not any(
            p.is_floating_point() for p in group.models[0].parameters()
        ):
            raise ValueError(
                f"{name}: the models of {label} have no floating-point parameters, but "
                f"{needs_parameters} are computed from them (log_para_amount would be ln 0; "
                "the Hessian and the curve are taken with respect to the weights). "
                "Select other features for parameter-free models."
            )
        if device is None:
            return
        for k, model in enumerate(group.models):
            for pname, t in chain(model.named_parameters(), model.named_buffers()):
                if not _same_device(t.device, device):
                    raise ValueError(
                        f"{name}: model {k} of {label} is on device {t.device} ('{pname}') "
                        f"but device={self.device!r}. Move the models with "
                        f".to({self.device!r}) or set device={str(t.device)!r}; the featurizer "
                        "never moves models itself."
                    )
        if pairwise:  # on the featurizer's device, so that they compare
            twins = _identical_models(group.models)
            if twins is not None:  # exact (CKA 1, no barrier), but rarely what was meant
                warnings.warn(
                    f"{name}: models {twins[0]} and {twins[1]} of {label} have identical "
                    "weights (the same model or checkpoint given twice?); the pairwise "
                    f"features {pairwise} compare models trained with different seeds, and "
                    "read a perfect agreement for this pair.",
                    FeaturizationWarning,
                    stacklevel=3,
                )
        datasets = [group._train]
        if any(f.startswith("test_") for f in features):
            datasets.append(group._val)
        dtypes = {p.dtype for p in group.models[0].parameters() if p.is_floating_point()}
        for data in datasets:
            X, _ = data.take([0])
            if len(dtypes) == 1 and X.is_floating_point() and X.dtype not in dtypes:
                dtype = dtypes.pop()
                raise TypeError(
                    f"{name}: the {data.role} inputs of {label} have dtype {X.dtype} but the "
                    f"models' parameters {dtype}. Convert the data (X.to({dtype})) or the "
                    f"models (model.to({X.dtype})); the featurizer casts neither."
                )
        out, y = self._probe(group, device, label)
        n_outputs = out.shape[1]
        for data in datasets:
            lo, hi = data.label_range()
            if lo < 0 or hi >= n_outputs:
                raise ValueError(
                    f"{name}: the {data.role} labels of {label} must lie in [0, {n_outputs}) "
                    f"for models with {n_outputs} outputs; got labels from {lo} to {hi}."
                )
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a probe of the loss's form, not a result
            _check_loss(self._loss_fn()(out, y), f" ({name}, {label})")

    @staticmethod
    @torch.no_grad()
    def _probe(group, device, label):
        """Logits and labels of model 0 on two training samples, checked for their form."""
        model = group.models[0]
        X, y = group._train.take(list(range(min(2, group.n_train_samples))))
        where = f" (model 0 of {label})"
        with _eval_mode(model):
            out = _logits(model, X.to(device), where)
        if out.ndim != 2:
            raise ValueError(
                f"Models must output (batch, n_classes) logits; model 0 of {label} "
                f"outputs shape {tuple(out.shape)}."
            )
        return out, y.to(device)

    def _columns(self, features):
        """The output columns: the features, then their standard errors with ``return_se``."""
        if getattr(self, "return_se", False):
            return [*features, *(f"{f}_se" for f in features)]
        return list(features)

    def _check_finite(self, values, handled, group, index):
        bad = {
            f: v
            for f, v in values.items()
            if f not in handled and not f.endswith("_se") and not math.isfinite(v)
        }
        if not bad:
            return
        msg = (
            f"{type(self).__name__}: {group._label(index)} gives non-finite {bad} "
            "(NaN or infinite losses: diverged or degenerate models)"
        )
        if getattr(self, "on_nan", "raise") == "raise":
            raise ValueError(msg + ". Set on_nan='warn' to report NaN instead.")
        warnings.warn(msg + "; reported as NaN.", FeaturizationWarning, stacklevel=3)
        for f in bad:
            values[f] = math.nan
            values[f"{f}_se"] = math.nan

    def _loss_fn(self):
        return F.cross_entropy if self.loss_fn is None else self.loss_fn

    def _train_metrics(self, group, data, prefix, features, values):
        if f"{prefix}_error" in features or f"{prefix}_loss" in features:
            results = [
                evaluate_model(m, data, loss_fn=self._loss_fn(), batch_size=self.batch_size)
                for m in group.models
            ]
            values[f"{prefix}_error"] = float(np.mean([e for e, _ in results]))
            values[f"{prefix}_loss"] = float(np.mean([loss for _, loss in results]))
            # spread over the group's seeds (the evaluation itself is exact)
            values[f"{prefix}_error_se"] = mean_se([e for e, _ in results])
            values[f"{prefix}_loss_se"] = mean_se([loss for _, loss in results])


_N_JOBS_PARAM = """    n_jobs : int or None, default=None
        Groups featurized at once, each in a worker process of joblib: None
        means 1 unless in a :func:`joblib.parallel_config` context, -1 all
        cores. Rows are those of one job (each group has its own random stream)
        up to rounding: each worker's torch uses ``cores // n_jobs`` threads,
        and reductions over fewer threads round differently (up to 1e-6
        relative in float32). Workers get copies of their groups, so models and
        data must pickle. A worker's warnings are issued again in the calling
        process, from where they arose, and an error is raised for the first
        failing group in order, as with one job. A thread-based backend
        (``parallel_config(backend="threading")``) runs the groups in turn:
        their computations fork torch's global RNG, which threads would share.
        A Dask cluster runs the groups on its workers with ``with
        joblib.parallel_config(backend="dask"): featurizer.transform(groups)``.
    cache_dir : str, path, bool or None, default=None
        Folder of an on-disk cache of rows, one per group, shared with the zoo
        (:func:`featurizers.zoo.train_zoo`): ``True`` uses the zoo's default folder
        (:func:`featurizers.zoo.default_cache_dir`), None or False no cache. A row
        is keyed by a hash of the group's weights and data, the featurizer's
        parameters, its random stream (``random_state`` and the group's position)
        and the package version, and written as soon as it is computed: a rerun
        after a crash or Ctrl-C computes only the missing rows, and the same rows.
        With ``random_state=None`` every run draws new streams, so nothing is
        reused. Rows with NaN are not cached (they warn again when recomputed)."""

_COMMON_PARAMS = """    loss_fn : callable, default=None
        ``loss_fn(logits, labels)`` returning the mean loss of a batch;
        ``torch.nn.functional.cross_entropy`` when None.
    device : str, default="cpu"
        Torch device of the computation, e.g. ``"cpu"`` or ``"cuda:0"``. The
        models must already be there (they are never moved); data batches are
        moved to it.
    batch_size : int, default=256
        Batch size of the evaluation passes (results do not depend on it).
    on_nan : {"warn", "raise"}, default="warn"
        What to do when a feature is NaN or infinite because a loss is (a
        diverged model): ``"warn"`` reports NaN with a
        :class:`FeaturizationWarning` naming the group, ``"raise"`` raises a
        ``ValueError``."""


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
        Progress bar over groups when positive.

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

    _all_features = ("train_error", "train_loss", "test_error", "test_loss")
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
        verbose=1,
    ):
        self.features = features
        self.loss_fn = loss_fn
        self.device = device
        self.batch_size = batch_size
        self.on_nan = on_nan
        self.n_jobs = n_jobs
        self.cache_dir = cache_dir
        self.verbose = verbose

    def _group_values(self, group, index, features, device, seed):
        values = {}
        self._train_metrics(group, group._train, "train", features, values)
        if group._val is not None:
            self._train_metrics(group, group._val, "test", features, values)
        return values, set()


class LossLandscapeFeaturizer(_GroupFeaturizer):
    """Loss-landscape features of model groups, as in the public MD tree collections.

    For each group (one training configuration, its models trained with
    different seeds) the row holds the selected features among:

    ``train_error``, ``train_loss``
        Mean over models of the training error (percent) and mean
        cross-entropy, eval mode, whole training data.
    ``hessian_t``, ``hessian_e``
        ``ln`` of the mean over models of the Hessian trace and of the top
        (largest-magnitude, signed) Hessian eigenvalue of the mean training loss
        with respect to all parameters, eval mode, each model on its own random
        batch of ``hessian_batch_size`` training samples. One
        :class:`~featurizers.hessian.HessianOperator` per model serves both: by
        default one Lanczos run gives the eigenvalue and deflates the trace
        estimate (:func:`~featurizers.hessian.trace_and_top_eigenvalue`), see
        ``trace_method``. When the mean is <= 0 the log is undefined: see
        ``nonpositive``.
    ``mode_connectivity_peak``, ``mode_connectivity``
        From the training error at ``t = 0, .25, .5, .75, 1`` along a quadratic
        Bezier curve between two models, trained for ``curve_epochs`` epochs
        (:func:`~featurizers.connectivity.fit_bend`, BatchNorm recomputed at
        each ``t``): ``-max(e1, e2, e3)`` and ``(e0 + e4) / 2 - e_u``. Mean over
        ``n_pairs`` pairs of models.
    ``CKA``
        Mean over all pairs of models of the linear CKA between their softmax
        outputs on 6 mixup batches of 128 training samples (``lam ~ Beta(16,
        16)``), :func:`~featurizers.similarity.output_cka`. Groups with fewer
        than 128 training samples use batches of all of them.

    Parameters
    ----------
    features : list of str, default=("train_error", "mode_connectivity_peak", "hessian_t", "CKA")
        Output columns, in order. The default is the MD tree's features.
{common}
    hessian_batch_size : int, default=200
        Training samples in each model's Hessian batch (all of them if fewer).
    trace_method : {"deflated", "auto", "xtrace", "hutchinson", "pyhessian"}, default="deflated"
        How the trace (and with it the eigenvalue) is computed.
        ``"deflated"``: :func:`~featurizers.hessian.trace_and_top_eigenvalue`
        with its defaults: Lanczos gives ``hessian_e`` and runs on until its
        basis holds the outlier eigenvalues of the Hessian, which carry most of
        the variance of a trace estimate; the trace is the Hessian's on that
        basis plus a Hutchinson estimate of the rest from ``trace_matvecs``
        probes: half to three quarters of the products of PyHessian's adaptive
        Hutchinson plus power iteration, at a lower variance of the trace on an MLP
        and a small CNN (on ResNet-18 about PyHessian's). Its basis holds up to 24
        vectors of the model's size. The others estimate the trace alone, with
        :func:`~featurizers.hessian.hessian_trace`, and the eigenvalue with a
        separate ARPACK run (:func:`~featurizers.hessian.top_eigenvalue`):
        ``"xtrace"`` has the lowest variance for a large budget on trained
        networks, but holds about ``4 * trace_matvecs`` bytes per parameter
        (about 6 GB for a ResNet-18's 11 million parameters at 100 products),
        where ``"hutchinson"`` holds a few vectors; ``"auto"`` uses XTrace when
        that workspace is at most 1 GiB and Hutchinson otherwise;
        ``"pyhessian"`` is PyHessian's adaptive rule, to compare with published
        numbers. Figures: the documentation's benchmarks page.
    trace_matvecs : int or None, default=None
        Hessian-vector products the trace costs beyond the eigenvalue's. With
        ``"deflated"``, the Hutchinson probes of the deflated remainder (the
        Lanczos steps, shared with the eigenvalue, come on top); otherwise the
        trace estimator's whole budget (the ``max_iter`` of ``"pyhessian"``), at
        least 2 with ``"xtrace"``, which spends half of them on a basis
        (``"auto"`` uses Hutchinson below 2). None: 4 for ``"deflated"``, 100
        for the others.
    curve_epochs : int, default=50
        Epochs of curve training (50 in the collections); 0 keeps the initial
        bend. What matters is the number of SGD steps: on small training sets 50
        epochs are few steps and the peak may not have converged (see the
        documentation's benchmarks page). Keep 50 to compare with the
        collections.
    curve_init : {"midpoint", "random"}, default="midpoint"
        Initial bend: the midpoint of the two models (the curve starts as the
        straight segment between them), or a fresh random initialisation as in
        the original experiments. Neither settled faster in
        ``benchmarks/bench_connectivity.py``; their peaks differ, so compare
        groups featurized with the same one.
    n_pairs : int or "all", default=1
        Pairs of models whose curves are averaged: the first ``n_pairs`` of
        ``(0, 1), (0, 2), ..., (1, 2), ...``. The collections use one.
    return_se : bool, default=False
        Also output the standard error of each feature, as a ``<feature>_se``
        column after the features (:func:`sklearn_mdtree.diagnose` reads them):
        for the means over the group's models (``train_error``, ``train_loss``)
        the spread over seeds; for ``hessian_t`` that spread combined with the
        trace estimator's own noise from its probes (deflated trace only), by the
        delta method for the log (``hessian_e``: seeds only); for
        ``mode_connectivity_peak``, ``mode_connectivity`` and ``CKA`` the spread
        over pairs of models (take ``n_pairs="all"``: one pair gives NaN). NaN
        where unknown (one model); see :mod:`featurizers._precision`. The
        features themselves do not change.
    nonpositive : {"nan", "raise"} or float, default="nan"
        ``hessian_t`` / ``hessian_e`` when the mean trace / eigenvalue is <= 0
        (seen on small, hot tanh networks), where ``ln`` is undefined:
        ``"nan"`` reports NaN with a :class:`FeaturizationWarning` naming the
        group; ``"raise"`` raises a ``ValueError``; a positive float ``c``
        reports ``ln(max(mean, c))`` silently (``0.01`` floors at -4.6).
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the Hessian batches and probes, curve training and the mixup
        batches. With an int, ``transform`` is reproducible; the row of the
        ``i``-th group depends only on ``random_state``, ``i`` and that group
        (not on the other groups, the selected features or the form of the data).
        A :class:`numpy.random.RandomState` or :class:`numpy.random.Generator` is
        drawn from once per ``transform`` (so two calls differ, and a clone,
        which copies it in its current state, repeats the original's next call).
        The global torch RNG is left untouched.
{n_jobs}
    verbose : int, default=1
        Progress bars over groups and over curve epochs (with one job) when
        positive.

    Attributes
    ----------
    features_ : tuple of str
        Output columns, set by ``fit``.
    n_groups_fit_ : int
        Number of groups seen by ``fit``.

    See Also
    --------
    ValidationFeaturizer : train and validation error and loss.
    HyperparameterFeaturizer : log data amount and log parameter count.

    Notes
    -----
    ``fit`` learns nothing; ``transform`` works without it. The models are never
    modified: every computation that needs eval mode, gradients or new
    BatchNorm statistics runs on a private copy.

    Examples
    --------
    >>> import torch
    >>> from featurizers import LossLandscapeFeaturizer, ModelGroup
    >>> X, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    >>> models = [torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
    ...                               torch.nn.Linear(8, 3)) for _ in range(2)]
    >>> featurizer = LossLandscapeFeaturizer(curve_epochs=2, random_state=0, verbose=0)
    >>> featurizer = featurizer.set_output(transform="pandas")
    >>> table = featurizer.fit_transform([ModelGroup(models, (X, y))])
    >>> list(table.columns)
    ['train_error', 'mode_connectivity_peak', 'hessian_t', 'CKA']
    """

    _all_features = (
        "train_error",
        "train_loss",
        "hessian_t",
        "hessian_e",
        "mode_connectivity_peak",
        "mode_connectivity",
        "CKA",
    )
    _parameter_constraints: dict = {
        **ValidationFeaturizer._parameter_constraints,
        "hessian_batch_size": [Interval(Integral, 1, None, closed="left")],
        "trace_method": [
            StrOptions({"deflated", "auto", "xtrace", "hutchinson", "pyhessian"})
        ],
        "trace_matvecs": [Interval(Integral, 1, None, closed="left"), None],
        "curve_epochs": [Interval(Integral, 0, None, closed="left")],
        "curve_init": [StrOptions({"midpoint", "random"})],
        "n_pairs": [Interval(Integral, 1, None, closed="left"), StrOptions({"all"})],
        "nonpositive": [StrOptions({"nan", "raise"}), Interval(Real, 0, None, closed="neither")],
        "return_se": ["boolean"],
        "random_state": _RANDOM_STATE,
    }

    def __init__(
        self,
        features=("train_error", "mode_connectivity_peak", "hessian_t", "CKA"),
        *,
        loss_fn=None,
        device="cpu",
        batch_size=256,
        hessian_batch_size=200,
        trace_method="deflated",
        trace_matvecs=None,
        curve_epochs=50,
        curve_init="midpoint",
        n_pairs=1,
        nonpositive="nan",
        return_se=False,
        on_nan="warn",
        random_state=None,
        n_jobs=None,
        cache_dir=None,
        verbose=1,
    ):
        self.features = features
        self.loss_fn = loss_fn
        self.device = device
        self.batch_size = batch_size
        self.hessian_batch_size = hessian_batch_size
        self.trace_method = trace_method
        self.trace_matvecs = trace_matvecs
        self.curve_epochs = curve_epochs
        self.curve_init = curve_init
        self.n_pairs = n_pairs
        self.nonpositive = nonpositive
        self.return_se = return_se
        self.on_nan = on_nan
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.cache_dir = cache_dir
        self.verbose = verbose

    def _check_params(self):
        budget = _trace_budget(self.trace_method, self.trace_matvecs)
        if self.trace_method == "xtrace" and budget < 2:
            raise ValueError(
                "The 'trace_matvecs' parameter of LossLandscapeFeaturizer must be at least "
                "2 with trace_method='xtrace' (it spends half of its products on a "
                f"basis). Got {self.trace_matvecs} instead."
            )

    def _group_values(self, group, index, features, device, seed):
        # One independent stream per feature family, so that a feature does not
        # depend on which others are selected.
        hess_seed, curve_seed, cka_seed = (
            int(s.generate_state(1)[0] >> 1) for s in seed.spawn(3)
        )
        values, handled = {}, set()
        with _forked_rng(int(seed.generate_state(1)[0] >> 1), device):
            self._train_metrics(group, group._train, "train", features, values)
            if "hessian_t" in features or "hessian_e" in features:
                self._hessian(group, index, features, device, hess_seed, values, handled)
            if _CONNECTIVITY.intersection(features):
                self._connectivity(group, curve_seed, values)
            if "CKA" in features:
                self._cka(group, device, cka_seed, values)
        return values, handled

    def _hessian(self, group, index, features, device, seed, values, handled):
        rng = np.random.default_rng(seed)
        traces, eigenvalues, trace_ses = [], [], []
        for model in group.models:
            generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
            X, y = group._train.sample(self.hessian_batch_size, generator=generator)
            result = _model_sharpness(
                model,
                self._loss_fn(),
                X.to(device),
                y.to(device),
                trace_method=self.trace_method,
                n_matvecs=self.trace_matvecs,
                trace="hessian_t" in features,
                eigenvalue="hessian_e" in features,
                random_state=int(rng.integers(2**31)),
                return_se=self.return_se,
            )
            traces.append(result[0])
            eigenvalues.append(result[1])
            trace_ses.append(result[2] if self.return_se else math.nan)
        for name, what, per_model, noise in (
            ("hessian_t", "Hessian trace", traces, trace_ses),
            ("hessian_e", "top Hessian eigenvalue", eigenvalues, None),
        ):
            if name in features:
                values[name] = self._log_mean(per_model, name, what, group, index, handled)
                values[f"{name}_se"] = log_mean_se(per_model, noise)

    def _log_mean(self, per_model, name, what, group, index, handled):
        mean = float(np.mean(per_model))
        if not math.isfinite(mean) or mean > 0:
            return math.log(mean) if mean > 0 else mean
        if isinstance(self.nonpositive, Real) and not isinstance(self.nonpositive, str):
            return math.log(max(mean, self.nonpositive))
        msg = (
            f"{type(self).__name__}: the mean {what} of {group._label(index)} is {mean:.4g} "
            f"<= 0, so {name} = ln(mean) is undefined (per model: "
            f"{[round(float(v), 4) for v in per_model]})"
        )
        if self.nonpositive == "raise":
            raise ValueError(
                msg + ". Set nonpositive='nan' to report NaN, or nonpositive=<floor> (e.g. "
                "0.01) to report ln(max(mean, floor))."
            )
        warnings.warn(
            msg + "; reported as NaN (nonpositive=<floor> reports ln(max(mean, floor)) "
            "instead).",
            FeaturizationWarning,
            stacklevel=4,
        )
        handled.add(name)
        return math.nan

    def _connectivity(self, group, seed, values):
        pairs = list(combinations(range(group.n_models), 2))
        if self.n_pairs != "all":
            pairs = pairs[: self.n_pairs]
        rng = np.random.default_rng(seed)
        peaks, gaps = [], []
        for i, j in pairs:
            a, b = group.models[i], group.models[j]
            try:
                bend = fit_bend(
                    a,
                    b,
                    group._train,
                    epochs=self.curve_epochs,
                    init=self.curve_init,
                    loss_fn=self._loss_fn(),
                    random_state=int(rng.integers(2**31)),
                    verbose=self.verbose,
                )
                errors, losses = curve_errors(a, bend, b, group._train, loss_fn=self._loss_fn())
            except FloatingPointError:
                errors = losses = np.full(5, np.nan)
            if not np.all(np.isfinite(losses)):
                errors = np.full(5, np.nan)
            peaks.append(mode_connectivity_peak(errors))
            gaps.append(mode_connectivity(errors))
        values["mode_connectivity_peak"] = float(np.mean(peaks))
        values["mode_connectivity"] = float(np.mean(gaps))
        values["mode_connectivity_peak_se"] = mean_se(peaks)  # spread over the pairs
        values["mode_connectivity_se"] = mean_se(gaps)

    def _cka(self, group, device, seed, values):
        values["CKA"], values["CKA_se"] = _group_cka(
            group.models, group._train, device, seed, return_se=True
        )


class HyperparameterFeaturizer(_GroupFeaturizer):
    """Log data amount and log parameter count of model groups.

    ``log_data_amount`` is ``ln`` of ``metadata["data_amount"]`` when the group
    has it (a positive finite number; a bool is refused), else of the training set
    size; ``log_para_amount`` is ``ln`` of the number of parameters of one model
    (all of them, as the collections count). No model is run.

    Parameters
    ----------
    features : list of str, default=("log_data_amount", "log_para_amount")
        Output columns, in order.

    Attributes
    ----------
    features_ : tuple of str
        Output columns, set by ``fit``.
    n_groups_fit_ : int
        Number of groups seen by ``fit``.

    Examples
    --------
    >>> import torch
    >>> from featurizers import HyperparameterFeaturizer, ModelGroup
    >>> X, y = torch.randn(40, 4), torch.randint(0, 3, (40,))
    >>> group = ModelGroup([torch.nn.Linear(4, 3)], (X, y), metadata={"data_amount": 1000})
    >>> HyperparameterFeaturizer().fit_transform([group]).round(3)
    array([[6.908, 2.708]])
    """

    _all_features = ("log_data_amount", "log_para_amount")
    _uses_torch = False
    _parameter_constraints: dict = {"features": [list, tuple]}

    def __init__(self, features=("log_data_amount", "log_para_amount")):
        self.features = features

    def _group_values(self, group, index, features, device, seed):
        amount = group.metadata.get("data_amount", group.n_train_samples)
        if (
            isinstance(amount, bool)
            or not isinstance(amount, Real)
            or not 0 < amount < math.inf
        ):
            raise ValueError(
                f"{type(self).__name__}: metadata['data_amount'] of {group._label(index)} must "
                f"be a positive finite number (a count of samples, not a bool); got "
                f"{amount!r}."
            )
        values = {"log_data_amount": math.log(amount)}
        if "log_para_amount" in features:  # parameter-free models are refused then
            values["log_para_amount"] = math.log(group.n_parameters)
        return values, set()


for _featurizer in (ValidationFeaturizer, LossLandscapeFeaturizer):
    _featurizer.__doc__ = _featurizer.__doc__.replace("{common}", _COMMON_PARAMS).replace(
        "{n_jobs}", _N_JOBS_PARAM
    )
del _featurizer


def _identical_models(models):
    """The first pair ``(i, j)`` of models with equal parameters and buffers, or None."""
    states = [[t.detach() for t in m.state_dict().values()] for m in models]
    for j in range(1, len(models)):
        for i in range(j):
            if models[i] is models[j] or states[i] and all(
                a.shape == b.shape and torch.equal(a, b) for a, b in zip(states[i], states[j])
            ):
                return i, j
    return None
