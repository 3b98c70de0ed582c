"""The shared base of the featurizers: checks, the loop over groups, NaN policy.

:class:`_GroupFeaturizer` checks the parameters and the groups (before any
computation), gives each group its own random stream, loops over the groups (in
joblib workers with ``n_jobs``, see :mod:`featurizers._parallel`) under the thread
policy of :mod:`featurizers._threads`, reads and writes the rows of the
content-hashed cache (:mod:`featurizers._cache`, keyed by
:mod:`featurizers._transformers._cache_key`), reports progress, and applies the
policy for non-finite features. Subclasses compute one group's values.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
import warnings
from itertools import chain

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin, clone
from tqdm.auto import tqdm

from sklearn_mdtree._vocabulary import CONNECTIVITY_FEATURES, PAIRWISE_FEATURES

from .._groups import ModelGroup
from .._parallel import _closing, _effective_n_jobs, _group_results, _replay
from .._precision import mean_se
from .._progress import _Progress
from .._threads import call_with_threads, limit_threads, resolve_threads
from .._utils import _check_loss, _eval_mode, _logits, _torch_seed
from ..connectivity import evaluate_model
from ._cache_key import row_meta

__all__ = ["FeaturizationWarning"]


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


_PAIRWISE = frozenset(PAIRWISE_FEATURES)
_CONNECTIVITY = frozenset(CONNECTIVITY_FEATURES)
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
        threads = resolve_threads(getattr(self, "torch_threads", None))
        with limit_threads(threads) if self._uses_torch else contextlib.nullcontext():
            return self._transform(groups, threads)

    def _transform(self, groups, threads):
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
        # Workers get a copy of the featurizer without its inner progress bars and
        # hook (they would interleave), and of their group; they run it under the
        # same thread policy as this process (_threads.call_with_threads).
        worker = self if n_jobs == 1 else clone(self).set_params(
            **{k: v for k, v in (("verbose", 0), ("progress", None)) if k in self.get_params()}
        )
        results = _group_results(
            worker._group_values if n_jobs == 1
            else functools.partial(call_with_threads, threads, worker._group_values),
            ((groups[i], i, features, device, seeds[i]) for i in pending),
            1 if n_jobs == 1 else self.n_jobs,
            describe=lambda k: groups[pending[k]]._label(pending[k]),
        )
        bar = tqdm(
            total=len(pending),
            desc=type(self).__name__,
            unit="group",
            file=sys.stderr,
            disable=not getattr(self, "verbose", 0),
        )
        self._report = _Progress(bar, getattr(self, "progress", None), len(groups),
                                 per_stage=n_jobs == 1)
        try:
            with _closing(results), bar:
                for index, (result, error, records) in zip(pending, results):
                    _replay(error, records)
                    values, handled = result
                    finite = all(math.isfinite(values[f]) for f in features)
                    self._check_finite(values, handled, groups[index], index)
                    rows[index] = [values[c] for c in columns]
                    if cache is not None and finite:  # NaN rows are recomputed, and warn again
                        cache.save_row(metas[index], {c: values[c] for c in columns})
                    self._report.done(index)
        finally:
            del self._report
        return rows

    def _stage(self, index, stage):
        """Report that group ``index`` starts ``stage`` (not in workers, nor outside transform)."""
        report = getattr(self, "_report", None)
        if report is not None:
            report.stage(index, stage)

    def _cache(self):
        """The content-hashed cache (:mod:`featurizers._cache`) of ``cache_dir``, or None."""
        cache_dir = getattr(self, "cache_dir", None)
        if cache_dir is None or cache_dir is False:
            return None
        from .._cache import Cache, default_cache_dir

        cache = Cache(default_cache_dir() if cache_dir is True else cache_dir)
        try:
            cache.check_writable()
        except PermissionError as exc:
            raise PermissionError(str(exc).replace("the zoo", type(self).__name__)) from None
        return cache

    def _cache_meta(self, group, features, device, seed):
        """What a group's row depends on, as the cache's JSON meta (its key is its hash)."""
        return row_meta(self, group, features, device, seed)

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
        unknown = [
            f for f in features if f not in self._all_features and not self._extra_feature(f)
        ]
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

    @staticmethod
    def _extra_feature(name):
        """Whether ``name`` is a feature of a family beyond ``_all_features``."""
        return False

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
        needs_parameters = sorted(
            _NEEDS_PARAMETERS.intersection(features) | set(filter(self._extra_feature, features))
        )
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
        cores. This is the way to use more cores. Rows are those of one job
        (each group has its own random stream); each worker's torch uses
        ``torch_threads`` threads, as one job does, so they are the same bit
        for bit at equal ``torch_threads`` (reductions over other thread counts
        round differently, up to 1e-6 relative in float32). Workers get copies
        of their groups, so models and data must pickle. A worker's warnings
        are issued again in the calling process, from where they arose, and an
        error is raised for the first failing group in order, as with one job.
        A thread-based backend
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
        reused. Rows with NaN are not cached (they warn again when recomputed).
    torch_threads : int or None, default=None
        torch's intra-op threads (and the BLAS threads of numpy and scipy)
        during ``transform``, in this process and in each worker of
        ``n_jobs``; the previous counts are restored after, also after an
        error. None is the policy: one thread per process, on any device and
        at any load. The featurizers' networks are small: on a busy machine
        torch's default (a thread per core) is many times slower than one
        thread (figures: the documentation's benchmarks page). Use
        ``n_jobs`` for more cores, or an int here on a machine you have to
        yourself with networks large enough to gain from it. Not part of the
        cache's key.
    progress : callable or None, default=None
        Called as ``progress(index, n_groups, stage)`` in the calling process:
        ``stage`` is ``"train_error"``, ``"validation"``, ``"hessian"``,
        ``"curves"`` or ``"CKA"`` as group ``index`` (its position in the
        list, from 0) starts that feature, then ``"done"`` when its row is
        in. Groups computed in workers (``n_jobs``) report only ``"done"``;
        rows read from the cache report nothing. ``verbose`` shows the same
        stages in the progress bar (``"group 2/3: curves"``), on stderr."""

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
