"""``train_zoo``: train a configuration grid (cached, resumable), label it, featurize it."""

from __future__ import annotations

import math
import time
from collections import defaultdict

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from torch.utils.data import Dataset
from torch.utils.data._utils.collate import default_collate
from tqdm.auto import tqdm

from .. import LossLandscapeFeaturizer, ModelGroup, ValidationFeaturizer
from .._threads import limit_threads
from .._cache import Cache, default_cache_dir, fingerprint, meta_key
from ._grid import ZooGrid, zoo_preset
from ._labels import knob_labels, seed_test_errors
from ._recipe import Recipe, digits_task, noisy_labels, tanh_mlp
from ._train import batch_schedule, can_stack, train_one, train_stacked

__all__ = ["Zoo", "train_zoo", "LANDSCAPE_FEATURES", "TABLE_COLUMNS"]

#: Loss-landscape columns of the zoo's table (all those of the public collections):
#: every feature :class:`~featurizers.LossLandscapeFeaturizer` computes but the optional
#: weight features (:mod:`featurizers.weights`), which the collections do not have.
LANDSCAPE_FEATURES = tuple(
    f for f in LossLandscapeFeaturizer._all_features
    if f not in ("weight_norm_ratio", "weight_displacement")
)

#: Columns of the zoo's table, in the order of the public collections, then the zoo's
#: own: ``lr``, ``noise``, ``collection``, ``hessian_t_floored``, the seeds' standard
#: error of the mean test error (``test_error_se``), the learning-rate label
#: ``lr_failure`` and the gain and standard error behind each one-step label
#: (:func:`~featurizers.zoo.knob_labels`).
TABLE_COLUMNS = (
    "data_amount", "para_amount", "log_data_amount", "log_para_amount", "log_bs", "width",
    "data", "bs", "test_acc", "train_acc", "generalization_gap", "test_loss", "train_loss",
    "CKA", "hessian_e", "hessian_t", "mode_connectivity", "mode_connectivity_peak",
    "test_error", "train_error", "rfi_width", "rfi_data", "rfi_inc_temp", "rfi_dec_temp",
    "bs_failure", "width_vs_batch", "data_vs_batch", "lr", "noise", "collection",
    "hessian_t_floored", "test_error_se", "lr_failure", "bs_failure_gain",
    "bs_failure_gain_se", "lr_failure_gain", "lr_failure_gain_se",
)


def _tensors(data, role):
    """``(X, y)`` tensors from a pair of tensors or a map-style Dataset of pairs."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(
        isinstance(a, torch.Tensor) for a in data
    ):
        X, y = data
    elif isinstance(data, Dataset):
        try:
            X, y = default_collate([data[i] for i in range(len(data))])
        except Exception as exc:
            raise TypeError(
                f"The {role!r} parameter must be a Dataset of (input, label) pairs; "
                f"collating its items failed: {exc}"
            ) from None
    else:
        raise TypeError(
            f"The {role!r} parameter must be a tuple (X, y) of torch tensors or a map-style "
            f"Dataset of (input, label) pairs; got {type(data).__name__}."
        )
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    if len(X) != len(y):
        raise ValueError(
            f"The {role!r} parameter must have as many labels as inputs; got {len(X)} inputs "
            f"and {len(y)} labels."
        )
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(
            f"The labels of {role!r} must be integer class indices; got dtype {y.dtype}."
        )
    return X, y.long()


def _factory_id(factory):
    module = getattr(factory, "__module__", None) or type(factory).__module__
    name = getattr(factory, "__qualname__", None) or type(factory).__qualname__
    return f"{module}.{name}"


def _build(factory, config, seed, *, seeded=True):
    """``factory(config)`` with torch's global RNG seeded by ``seed`` (forked).

    ``seeded=False`` (weights about to be loaded) skips the seeding, not the fork.
    """
    with torch.random.fork_rng(devices=[]):
        if seeded:
            torch.manual_seed(int(seed))
        try:
            model = factory(config)
        except Exception as exc:
            raise RuntimeError(
                f"The model factory failed for the configuration ({config}), seed {seed}: "
                f"{type(exc).__name__}: {exc}. The models trained before it are cached; "
                "fix the factory and run again to train only the missing ones."
            ) from exc
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"The model factory must return a torch.nn.Module; for the configuration "
            f"({config}) it returned {type(model).__name__}."
        )
    return model


def _train_batch(factory, jobs, X, labels, schedules, lrs, momentum, stacked):
    """Build and train the models of ``jobs`` [(config, seed)]; their state dicts."""
    models = [_build(factory, config, seed) for config, seed in jobs]
    if stacked:
        train_stacked(models, X, labels, schedules, lrs=lrs, momentum=momentum)
    else:
        for m, model in enumerate(models):
            train_one(model, X, labels[m], schedules[m], lr=lrs[m], momentum=momentum,
                      seed=jobs[m][1])
    return [model.state_dict() for model in models]


def _featurize_one(group, featurizer):
    return featurizer.transform([group])[0]


class Zoo:
    """A trained model zoo: its models as :class:`~featurizers.ModelGroup`, and its table.

    Returned by :func:`train_zoo`; not meant to be built directly.

    Attributes
    ----------
    grid : ZooGrid
    recipe : Recipe
    configurations : list of Configuration
        One per group and table row, in the grid's order.
    groups : list of ModelGroup
        The models of each configuration (one per seed, eval mode) with its
        training set (label noise included) and the clean test set as
        validation data; ``metadata`` holds the configuration.
    table : pandas.DataFrame
        One row per configuration in the public collections' column names (see
        :data:`TABLE_COLUMNS`). The RFI columns and the Q2 labels
        (``width_vs_batch``, ``data_vs_batch``) are those of
        :func:`sklearn_mdtree.rfi.label_configurations` on the seeds' mean test
        errors within each (noise, lr) grid; the optimizer labels ``bs_failure``
        and ``lr_failure`` are one-step labels along each knob, kept only beyond
        the seeds' noise (:func:`~featurizers.zoo.knob_labels`); ``collection`` is ``"normal"`` for clean
        labels and ``"noise"`` otherwise, as
        :class:`~sklearn_mdtree.model_selection.FewShotTransfer` expects. ``data``
        is the rank of ``data_amount`` in the grid (1 = smallest). The
        loss-landscape columns are NaN until :meth:`featurize`.
    cache_dir : pathlib.Path or None
    seed_errors : ndarray of shape (n_configurations, n_seeds)
        Each model's test error (percent), the evidence of the labels.
    stats : dict
        What the last steps did: ``models_trained``, ``models_loaded``,
        ``train_seconds`` (wall time of the training itself), ``rows_computed``,
        ``rows_loaded``.

    Examples
    --------
    >>> import tempfile
    >>> from featurizers.zoo import ZooGrid, train_zoo
    >>> grid = ZooGrid(width=(4,), bs=(8, 32), data_amount=(100,), noise=(0.0,),
    ...                seeds=(0, 1), steps=20)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     zoo = train_zoo(grid, cache_dir=folder, verbose=0)
    ...     again = train_zoo(grid, cache_dir=folder, verbose=0)  # read from the cache
    >>> type(zoo).__name__, len(zoo.groups), zoo.groups[0].n_models, zoo.table.shape
    ('Zoo', 2, 2, (2, 37))
    >>> print(zoo.configurations[1])
    width=4 bs=32 data_amount=100 lr=0.1 noise=0
    >>> zoo.stats["models_trained"], again.stats["models_loaded"]
    (4, 4)
    >>> bool(zoo.table["hessian_t"].isna().all())  # until zoo.featurize()
    True
    """

    def __init__(self, grid, recipe, configurations, groups, metas, cache, stats, verbose,
                 test_data):
        self.grid = grid
        self._test_data = test_data
        self.recipe = recipe
        self.configurations = configurations
        self.groups = groups
        self._metas = metas
        self._cache = cache
        self.cache_dir = cache.root
        self.stats = stats
        self.verbose = verbose
        self._landscape = None
        self._validation = self._validation_rows()
        self.seed_errors = self._seed_error_rows()
        self.table = self._build_table()

    def __repr__(self):
        done = "featurized" if self._landscape is not None else "not featurized"
        return (
            f"Zoo({len(self.groups)} configurations, {self.grid.n_models} models, {done}, "
            f"cache_dir={str(self.cache_dir) if self.cache_dir else None!r})"
        )

    def _validation_rows(self):
        """Train and test error and loss of every group, read from the cache when there."""
        columns = ("train_error", "train_loss", "test_error", "test_loss")
        metas = [{"models": meta, "validation": list(columns)} for meta in self._metas]
        rows = [self._cache.load_row(meta, columns) for meta in metas]
        pending = [i for i, row in enumerate(rows) if row is None]
        if pending:
            with limit_threads(1):
                values = ValidationFeaturizer(list(columns), verbose=0).transform(
                    [self.groups[i] for i in pending]
                )
            for i, row in zip(pending, values):
                rows[i] = dict(zip(columns, map(float, row)))
                self._cache.save_row(metas[i], rows[i])
        return [[row[c] for c in columns] for row in rows]

    def _seed_error_rows(self):
        """Each model's test error (percent), by configuration: (n_configurations, n_seeds)."""
        columns = [f"test_error_seed{s}" for s in self.grid.seeds]
        rows = []
        X, y = self._test_data
        for meta, group in zip(self._metas, self.groups):
            meta = {"models": meta, "seed_test_errors": columns}
            row = self._cache.load_row(meta, columns)
            if row is None:
                with limit_threads(1):
                    row = dict(zip(columns, map(float, seed_test_errors(group.models, X, y))))
                self._cache.save_row(meta, row)
            rows.append([row[c] for c in columns])
        return np.asarray(rows, dtype=np.float64)

    def featurizer(self, random_state):
        """The :class:`~featurizers.LossLandscapeFeaturizer` of the recipe."""
        return LossLandscapeFeaturizer(
            list(LANDSCAPE_FEATURES),
            curve_epochs=self.recipe.curve_epochs,
            hessian_batch_size=self.recipe.hessian_batch_size,
            nonpositive=self.recipe.nonpositive,
            random_state=random_state,
            verbose=0,
        )

    def _feature_keys(self):
        """Per configuration ``(meta, seed, key)``: the cache meta of its feature row,
        the featurizer's random state and the row's cache key.

        The seed is drawn from the key, and the key holds the recipe's
        ``random_state`` only when it is not the default 0: the default's keys, seeds
        and so rows are those of the rows cached before the recipe's random state
        reached them, and another random state gives other keys and other seeds."""
        out = []
        for meta in self._metas:
            fmeta = {"models": meta, "featurizer": self.featurizer(0).get_params(deep=False)}
            fmeta["featurizer"]["random_state"] = self.recipe.random_state or None
            for name in ("torch_threads", "progress"):  # not in the keys of older rows
                fmeta["featurizer"].pop(name)
            _, key = meta_key(fmeta)
            out.append((fmeta, int(key[:8], 16) % (2**31 - 1), key))
        return out

    def featurize(self, *, n_jobs=None, verbose=None):
        """Compute (or read from the cache) the loss-landscape features of every group.

        Each configuration's row is computed alone, with a random state drawn
        from its cache key, so that it does not depend on which other rows were
        computed in the same run.

        Parameters
        ----------
        n_jobs : int or None, default=None
            joblib workers over configurations (None: 1).
        verbose : int, default=None
            Progress bar when positive; the zoo's ``verbose`` when None.

        Returns
        -------
        table : pandas.DataFrame
            :attr:`table`, now with the loss-landscape columns.
        """
        verbose = self.verbose if verbose is None else verbose
        rows, pending = [None] * len(self.groups), []
        metas = self._feature_keys()
        for i, (fmeta, _, _) in enumerate(metas):
            rows[i] = self._cache.load_row(fmeta, LANDSCAPE_FEATURES)
            if rows[i] is None:
                pending.append(i)
        self.stats["rows_loaded"] = len(rows) - len(pending)
        self.stats["rows_computed"] = 0
        jobs = (
            delayed(_featurize_one)(self.groups[i], self.featurizer(metas[i][1])) for i in pending
        )
        with limit_threads(1):
            results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
            bar = tqdm(results, total=len(pending), desc="featurize", unit="config",
                       disable=not verbose)
            for i, values in zip(pending, bar):
                rows[i] = dict(zip(LANDSCAPE_FEATURES, map(float, values)))
                self._cache.save_row(metas[i][0], rows[i])
                self.stats["rows_computed"] += 1
        self._landscape = pd.DataFrame(rows, columns=list(LANDSCAPE_FEATURES))
        self.table = self._build_table()
        return self.table

    def _build_table(self):
        from sklearn_mdtree.rfi import label_configurations

        val = self._validation
        levels = {n: i + 1 for i, n in enumerate(self.grid.data_amount)}
        records = []
        for config, group, (train_error, train_loss, test_error, test_loss) in zip(
            self.configurations, self.groups, val
        ):
            records.append({
                "data_amount": config.data_amount,
                "para_amount": group.n_parameters,
                "log_data_amount": math.log(config.data_amount),
                "log_para_amount": math.log(group.n_parameters),
                "log_bs": math.log(config.bs),
                "width": config.width,
                "data": levels[config.data_amount],
                "bs": config.bs,
                "test_acc": 100 - test_error,
                "train_acc": 100 - train_error,
                "generalization_gap": test_error - train_error,
                "test_loss": test_loss,
                "train_loss": train_loss,
                "test_error": test_error,
                "train_error": train_error,
                "lr": config.lr,
                "noise": config.noise,
                "collection": "normal" if config.noise == 0 else "noise",
            })
        table = pd.DataFrame(records)
        landscape = (
            self._landscape
            if self._landscape is not None
            else pd.DataFrame(np.nan, index=table.index, columns=list(LANDSCAPE_FEATURES))
        )
        for column in LANDSCAPE_FEATURES:
            if column not in ("train_error", "train_loss"):
                table[column] = landscape[column].to_numpy()
        floor = self.recipe.nonpositive
        table["hessian_t_floored"] = (
            table["hessian_t"] == math.log(floor)
            if not isinstance(floor, str)
            else table["hessian_t"].isna() & landscape["train_error"].notna()
        )
        parts = [
            label_configurations(part)
            for _, part in table.groupby(["noise", "lr"], sort=False)
        ]
        table = pd.concat(parts).loc[table.index]
        # the optimizer labels: one-step moves along each knob beyond the seeds' noise
        errors = self.seed_errors
        n_seeds = errors.shape[1]
        table["test_error_se"] = (
            errors.std(axis=1, ddof=1) / math.sqrt(n_seeds) if n_seeds > 1 else math.nan
        )
        for knob in ("bs", "lr"):
            labels = knob_labels(table, errors, knob)
            for column in labels.columns:
                table[column] = labels[column]
        return table[list(TABLE_COLUMNS)]


def train_zoo(
    grid="default",
    *,
    model_factory=None,
    data=None,
    test_data=None,
    recipe=None,
    cache_dir=None,
    vectorize="auto",
    n_jobs=None,
    verbose=1,
):
    """Train every configuration of a grid (or read it from the cache), and label it.

    Each configuration of ``grid`` trains one model per seed by SGD with momentum
    for ``grid.n_steps(config)`` steps (fixed epochs or fixed steps), on the first ``data_amount`` samples of the training
    pool, a fraction ``noise`` of their labels corrupted (:func:`noisy_labels`).
    The models are cached as they finish: a run interrupted (an error, a signal)
    and run again trains only the missing models, and gives the same table.
    Call :meth:`Zoo.featurize` for the loss-landscape features.

    Parameters
    ----------
    grid : {"tiny", "default", "large"} or ZooGrid, default="default"
        The configurations. The presets: ``"tiny"`` (24 configurations, for tests,
        docs and CI), ``"default"`` (504 configurations, 3024 models: the reference
        zoo of ``mdtree demo``; its recipe, cost and structure are measured in
        ``benchmarks/bench_reference_zoo.py``), ``"large"`` (a real study).
    model_factory : callable, default=None
        ``model_factory(config) -> torch.nn.Module``, called with a
        :class:`Configuration` under a seeded torch RNG (one call per model). None:
        :func:`tanh_mlp`. Models of one width must share their architecture.
    data, test_data : tuple of (Tensor, Tensor) or Dataset, default=None
        The training pool (training sets are its prefixes) and the clean test set.
        None: :func:`digits_task`. Labels are integer classes within the model's
        outputs.
    recipe : Recipe, default=None
        Optimizer and featurization settings; ``Recipe()`` when None.
    cache_dir : str, path, None or False, default=None
        Folder of the cache; None: ``sklearn.datasets.get_data_home()/mdtree/zoo``
        (``SCIKIT_LEARN_DATA`` moves it); False: no cache.
    vectorize : {"auto", True, False}, default="auto"
        Train the models of one batch size and width as one vectorised network
        (:func:`~featurizers.zoo.train_stacked`), or one at a time. ``"auto"``
        vectorises models without buffers or dropout; True raises for others.
        The two give the same weights to float tolerance, but SGD is chaotic over
        thousands of steps, so the path is part of the cache key.
    n_jobs : int or None, default=None
        joblib workers over batches of models (None: 1).
    verbose : int, default=1
        Progress bars when positive.

    Returns
    -------
    Zoo

    Examples
    --------
    >>> from featurizers.zoo import ZooGrid, train_zoo
    >>> grid = ZooGrid(width=(4,), bs=(8, 32), data_amount=(100,), noise=(0.0,),
    ...                seeds=(0, 1), steps=20)
    >>> zoo = train_zoo(grid, cache_dir=False, verbose=0)
    >>> zoo.table[["width", "bs", "data_amount", "collection"]].to_dict("records")[0]
    {'width': 4, 'bs': 8, 'data_amount': 100, 'collection': 'normal'}
    """
    from sklearn_mdtree._version import __version__

    if isinstance(grid, str):
        grid = zoo_preset(grid)
    if not isinstance(grid, ZooGrid):
        raise TypeError(
            f"The 'grid' parameter of train_zoo must be a preset name or a ZooGrid; got "
            f"{type(grid).__name__}."
        )
    recipe = Recipe() if recipe is None else recipe
    if not isinstance(recipe, Recipe):
        raise TypeError(
            f"The 'recipe' parameter of train_zoo must be a Recipe; got {type(recipe).__name__}."
        )
    if vectorize not in ("auto", True, False):
        raise ValueError(
            f"The 'vectorize' parameter of train_zoo must be 'auto', True or False; got "
            f"{vectorize!r}."
        )
    factory = tanh_mlp if model_factory is None else model_factory
    if not callable(factory):
        raise TypeError(
            f"The 'model_factory' parameter of train_zoo must be callable; got "
            f"{type(factory).__name__}."
        )
    if (data is None) != (test_data is None):
        raise ValueError(
            "The 'data' and 'test_data' parameters of train_zoo go together: pass both, or "
            "neither for the digits task."
        )
    if data is None:
        data, test_data = digits_task()
    X, y = _tensors(data, "data")
    X_test, y_test = _tensors(test_data, "test_data")
    if max(grid.data_amount) > len(X):
        raise ValueError(
            f"The 'data_amount' axis of the grid asks for up to {max(grid.data_amount)} "
            f"training samples, but 'data' holds {len(X)}."
        )
    cache = Cache(None if cache_dir is False else (cache_dir or default_cache_dir()))
    cache.check_writable()

    configurations = grid.configurations()
    probe = _build(factory, configurations[0], grid.seeds[0])
    with torch.no_grad():
        out = probe.eval()(X[:2])
    if out.ndim != 2:
        raise ValueError(
            f"The models must output (batch, n_classes) logits; the factory's model outputs "
            f"shape {tuple(out.shape)}."
        )
    n_classes = out.shape[1]
    for role, labels in (("data", y), ("test_data", y_test)):
        if int(labels.min()) < 0 or int(labels.max()) >= n_classes:
            raise ValueError(
                f"The labels of {role!r} must lie in [0, {n_classes}) for models with "
                f"{n_classes} outputs; got labels from {int(labels.min())} to "
                f"{int(labels.max())}."
            )
    stacked = vectorize is True or (vectorize == "auto" and can_stack(probe))
    if vectorize is True and not can_stack(probe):
        raise ValueError(
            "vectorize=True needs models without buffers (BatchNorm) or dropout; the "
            "factory's model has some. Use vectorize='auto' to train them one at a time."
        )

    labels_by_noise = {
        noise: noisy_labels(y, noise, n_classes, seed=recipe.noise_seed) for noise in grid.noise
    }
    data_id = fingerprint(X, y, X_test, y_test)
    base_meta = {
        "data": data_id,
        "recipe": recipe.training_dict(),
        "factory": _factory_id(factory),
        **({"steps": grid.steps} if grid.steps is not None else {"epochs": grid.epochs}),
        "path": "stacked" if stacked else "loop",
        "version": __version__,
    }

    # Load what the cache holds; gather the rest by (batch size, width, steps): one batch
    # each.
    models, pending = {}, defaultdict(list)
    for config in configurations:
        for seed in grid.seeds:
            meta = {**base_meta, "config": config.as_dict(), "seed": seed}
            model = cache.load_model(meta, lambda: _build(factory, config, seed, seeded=False))
            if model is None:
                pending[(config.bs, config.width, grid.n_steps(config))].append((config, seed))
            else:
                models[config, seed] = model
    n_pending = sum(len(v) for v in pending.values())
    stats = {"models_trained": 0, "models_loaded": len(models), "train_seconds": 0.0}

    def batch_args(jobs):
        schedules = torch.stack(
            [batch_schedule(c.data_amount, c.bs, grid.n_steps(c), s) for c, s in jobs]
        )
        labels = torch.stack([labels_by_noise[c.noise] for c, _ in jobs])
        lrs = [c.lr for c, _ in jobs]
        return (factory, jobs, X, labels, schedules, lrs, recipe.momentum, stacked)

    batches = list(pending.values())
    with limit_threads(1), tqdm(
        total=n_pending, desc="train zoo", unit="model", disable=not verbose
    ) as bar:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_train_batch)(*batch_args(jobs)) for jobs in batches
        )
        start = time.perf_counter()
        for jobs, trained in zip(batches, results):
            stats["train_seconds"] += time.perf_counter() - start
            for (config, seed), state in zip(jobs, trained):
                meta = {**base_meta, "config": config.as_dict(), "seed": seed}
                cache.save_state(meta, state)
                model = _build(factory, config, seed, seeded=False)
                model.load_state_dict(state)
                models[config, seed] = model.eval()
            stats["models_trained"] += len(jobs)
            bar.update(len(jobs))
            start = time.perf_counter()

    groups, metas = [], []
    for config in configurations:
        n = config.data_amount
        groups.append(
            ModelGroup(
                [models[config, seed] for seed in grid.seeds],
                (X[:n], labels_by_noise[config.noise][:n]),
                (X_test, y_test),
                metadata={**config.as_dict(), "batch_size": config.bs},
                name=str(config),
            )
        )
        metas.append({**base_meta, "config": config.as_dict(), "seeds": list(grid.seeds)})
    return Zoo(grid, recipe, configurations, groups, metas, cache, stats, verbose,
               (X_test, y_test))
