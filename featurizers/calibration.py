"""Calibrate a diagnosis on a lattice of the user's own model family.

:func:`calibrate` builds a lattice of configurations of the user's family around
their setting (the optimizer knob in x4 steps, the width in x4 steps, the data in
x2 steps, every labelled configuration's one-step neighbours inside the lattice so
that its label comes from the lattice itself), trains every configuration with
``n_seeds`` seeds on CPU (cached and resumable, :mod:`featurizers.lattice`), labels
each configuration whose neighbours are all in the lattice by one-step RFI by
measurement (:func:`featurizers.lattice.one_step_label`: the move with the largest
drop in mean test error beyond 2 standard errors, else "none"), featurizes its first
``n_featurized`` seeds (:class:`LossLandscapeFeaturizer` with standard errors, all
pairs, and ``weight_norm_ratio``), and fits a
:class:`sklearn_mdtree.calibration.CalibratedDiagnoser`, written to one JSON file.

The lattice's size is chosen from a quick timing of one configuration (its seeds
trained and one group featurized, both kept in the cache) so that the whole fits in
``budget`` minutes; a budget too small for the smallest lattice is refused.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ._parallel import _effective_n_jobs, _group_results
from .lattice import LatticeConfig, LatticeFamily, Steps, neighbours, one_step_label
from .lattice._train import train_runs

__all__ = ["CALIBRATION_FEATURES", "LATTICE_SHAPES", "MIN_LABELLED", "CalibrationBudgetError",
           "calibrate",
           "lattice_configurations"]

#: The features computed on every labelled configuration.
CALIBRATION_FEATURES = ("train_error", "train_loss", "mode_connectivity_peak", "hessian_t",
                        "CKA", "weight_norm_ratio")
#: Lattice shapes (knob values, widths, data amounts), largest first: the first whose
#: predicted time fits the budget is trained.
LATTICE_SHAPES = ((7, 4, 4), (7, 4, 3), (6, 4, 3), (5, 4, 3), (5, 3, 3), (5, 3, 2),
                  (5, 2, 2), (4, 2, 2))
#: A lattice chosen by the budget labels at least this many configurations (fewer
#: leave grouped CV a handful of configurations per fold); a forced ``shape`` may
#: label fewer.
MIN_LABELLED = 24
#: The predicted time is the timing's extrapolation times this margin: on a shared
#: 2-core machine the lattice took 2.1x the plain extrapolation (5.1 min against 2.4).
TIME_MARGIN = 2.0
#: Seeds of the lattice start here, away from the seeds a user's own runs usually have.
SEED_OFFSET = 100


class CalibrationBudgetError(ValueError):
    """The budget does not fit even the smallest lattice (one line)."""


@dataclass(frozen=True)
class _Shape:
    knob: int
    width: int
    data: int


def _walk(start, step, count):
    """``count`` values from ``start`` by ``step(value)``."""
    values = [start]
    for _ in range(count - 1):
        values.append(step(values[-1]))
    return values


def lattice_configurations(knob, base, width, n_available, shape, *, steps=Steps(),
                           fixed=()):
    """The lattice's configurations and the labelled ones (all neighbours inside).

    Parameters
    ----------
    knob : {"learning rate", "batch size"}
    base : float
        The knob's base value (in the middle of the knob's values).
    width : int
        The user's width: the second largest of the widths (one "widen" step above).
    n_available : int
        Training samples available: the largest data amount.
    shape : tuple of int
        ``(knob values, widths, data amounts)``.
    steps : Steps
    fixed : dict or list of dict
        Fixed hyperparameters passed to the factory; a list: the lattice is repeated
        for each (e.g. with and without BatchNorm).

    Returns
    -------
    configs : list of LatticeConfig
    labelled : list of LatticeConfig
        Those whose one-step neighbours are all in ``configs``.

    Examples
    --------
    >>> from featurizers.calibration import lattice_configurations
    >>> configs, labelled = lattice_configurations("learning rate", 0.1, 16, 800, (5, 3, 2))
    >>> len(configs), len(labelled)
    (30, 12)
    >>> sorted({c.width for c in configs}), sorted({c.n_train for c in configs})
    ([4, 16, 64], [400, 800])

    Widths go down by exact steps only (8 -> 2, not to 0.5):

    >>> configs, _ = lattice_configurations("batch size", 32, 8, 800, (5, 4, 3))
    >>> sorted({c.width for c in configs}), sorted({c.knob_value for c in configs})
    ([2, 8, 32], [2, 8, 32, 128, 512])
    """
    n_knob, n_width, n_data = shape
    probe = LatticeConfig(base, max(1, int(width)), int(n_available))
    below = n_knob // 2
    # knob values by the same moves neighbours() makes, so that they match exactly
    value = probe
    for _ in range(below):
        value = neighbours(value, knob, steps=steps)["knob_down"]
    knob_values = [c.knob_value for c in _walk(
        value, lambda c: neighbours(c, knob, steps=steps)["knob_up"], n_knob)]
    # widths below the user's by exact steps (so that widening them lands on the next)
    smallest, below_w = int(width), 0
    while below_w < n_width - 2 and smallest / steps.width >= 1 \
            and int(round(int(round(smallest / steps.width)) * steps.width)) == smallest:
        smallest, below_w = int(round(smallest / steps.width)), below_w + 1
    widths = _walk(smallest, lambda w: int(round(w * steps.width)), below_w + 2)
    least = max(1, math.ceil(n_available / steps.data ** (n_data - 1)))
    amounts = _walk(least, lambda n: min(int(round(n * steps.data)), int(n_available)), n_data)
    fixed_values = list(fixed) if isinstance(fixed, list) else [fixed]
    configs = [LatticeConfig(k, w, n, f) for f in fixed_values for k in knob_values
               for w in sorted(set(widths)) for n in sorted(set(amounts))]
    known = set(configs)
    labelled = [c for c in configs
                if len(moves := neighbours(c, knob, steps=steps, n_available=n_available)) >= 3
                and {"knob_up", "knob_down", "width_up"} <= set(moves)
                and all(m in known for m in moves.values())]
    return configs, labelled


def _train(family, config, seeds, cache_dir):
    """Worker: the configuration's runs, as records plus the models' states."""
    torch.set_num_threads(1)
    runs = train_runs(family, config, seeds, cache_dir=cache_dir, stack_buffers=True)
    return [(r.record(), {k: v.detach().clone() for k, v in r.model.state_dict().items()})
            for r in runs]


def _featurize(family, config, states, featurizer):
    """Worker: one labelled configuration's features (first seeds)."""
    from ._groups import ModelGroup

    torch.set_num_threads(1)
    models = []
    for seed, state in states:
        model = family.build(config, seed)
        model.load_state_dict(state)
        models.append(model.eval())
    group = ModelGroup(models, family.data(config), family.test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row = featurizer.set_output(transform="pandas").fit_transform([group])
    return row.iloc[0].to_dict()


def _timing(family, config, seeds, n_featurized, featurizer, cache_dir):
    """Seconds to train ``config``'s seeds and to featurize it, measured once."""
    import json

    from ._cache import meta_key

    path = None
    if cache_dir is not None:
        params = {k: str(v) for k, v in featurizer.get_params(deep=False).items()}
        from .lattice._train import uses_stacked_buffers

        stacked = ({"trainer": "stacked-buffers"} if uses_stacked_buffers(family, config)
                   else {})
        _, key = meta_key({"family": family.describe(), "config": config.as_dict(),
                           "seeds": list(seeds), "n_featurized": n_featurized,
                           "featurizer": params, **stacked})
        path = Path(cache_dir) / "timings" / f"{key}.json"
        try:
            saved = json.loads(path.read_text())
            return float(saved["train"]), float(saved["featurize"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    t0 = time.perf_counter()
    runs = _train(family, config, seeds, cache_dir)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    _featurize(family, config, [(s, st) for s, (_, st) in zip(seeds, runs)][:n_featurized],
               featurizer)
    t_feat = time.perf_counter() - t0
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"train": t_train, "featurize": t_feat}))
    return t_train, t_feat


def _results(function, calls, n_jobs, describe):
    for result, error, _ in _group_results(function, calls, n_jobs, describe):
        if error is not None:
            raise error
        yield result


def _cost_factor(config, base_config, family):
    """Predicted training time of a configuration relative to the timed one (steps x
    width)."""
    steps = family.steps(config) / family.steps(base_config)
    width = max(1.0, config.width / base_config.width) ** 0.5
    return steps * width


def _feature_cost_factor(config, base_config):
    """Predicted featurizing time relative to the timed one (data x width: the knob
    does not change the featurizer's work)."""
    data = config.n_train / base_config.n_train
    width = max(1.0, config.width / base_config.width) ** 0.5
    return data * width


def _cached(family, config, seeds, cache_dir):
    """Whether every seed of ``config`` is in the cache (the key of ``train_runs``)."""
    if cache_dir is None:
        return False
    from ._cache import meta_key
    from .lattice._train import _cache_base, uses_stacked_buffers

    base = _cache_base(family, config, uses_stacked_buffers(family, config))
    return all((Path(cache_dir) / "models" / f"{meta_key({**base, 'seed': s})[1]}.pt").exists()
               for s in seeds)


def _timed(config, timings):
    """``(timed configuration, train seconds, featurize seconds)`` of ``config``'s fixed
    hyperparameters (a BatchNorm network trains by another path and costs
    otherwise: it is timed apart)."""
    key = tuple(sorted(dict(config.fixed).items()))
    return timings.get(key, next(iter(timings.values())))


def _predict_seconds(configs, labelled, timings, family, workers, done=frozenset()):
    """Predicted seconds for the configurations not in ``done``.

    ``timings`` maps each fixed setting (sorted items) to ``(timed configuration,
    train seconds, featurize seconds)``.
    """
    total = 0.0
    for c in configs:
        if c not in done:
            base_config, t_train, _ = _timed(c, timings)
            total += t_train * _cost_factor(c, base_config, family)
    for c in labelled:
        if c not in done:
            base_config, _, t_feat = _timed(c, timings)
            total += t_feat * _feature_cost_factor(c, base_config)
    return TIME_MARGIN * total / max(1, workers)


def _longest_first(configs, timings, family):
    """``configs`` ordered by predicted training time, longest first (so that two
    workers do not end on one long configuration; the results do not depend on it)."""
    def cost(c):
        base_config, t_train, _ = _timed(c, timings)
        return t_train * _cost_factor(c, base_config, family)

    return sorted(configs, key=lambda c: -cost(c))


def calibrate(factory, train, test, *, optimizer="learning rate", base=0.1, width=32,
              fixed=None, budget=10.0, n_seeds=6, n_featurized=3, epochs=20, lr=0.05,
              batch_size=32, momentum=0.9, steps=None, shape=None, curve_epochs=50,
              output=None, cache_dir=None, n_jobs=1, progress=True, random_state=0,
              name=None, diagnoser_params=None):
    """Train, label and featurize a lattice of the user's family; fit a diagnoser.

    Parameters
    ----------
    factory : callable or str
        ``factory(width, **fixed) -> torch.nn.Module`` (or ``"pkg.module:function"``).
    train, test : tuple of (Tensor, Tensor) or str
        The training pool (a configuration takes its first ``n_train`` samples;
        shuffle it beforehand) and the test set of the labels; ``.npz`` / ``.pt``
        paths are read with :func:`featurizers.checkpoints.load_data`.
    optimizer : {"learning rate", "batch size"}, default="learning rate"
        The knob the lattice varies.
    base : float, default=0.1
        The knob's value in the user's setting (the middle of the knob's values).
    width : int, default=32
        The user's width (the lattice spans it, smaller widths and one x4 larger).
    fixed : dict or list of dict, default=None
        Fixed hyperparameters passed to the factory (e.g. ``{"batchnorm": True}``); a
        list of them repeats the lattice for each (the hyperparameters the user
        varies, e.g. ``[{"batchnorm": False}, {"batchnorm": True}]``).
    budget : float, default=10.0
        Minutes the whole calibration may take (predicted from the timing of the
        user's configuration); the largest lattice of :data:`LATTICE_SHAPES` that
        fits is trained.
    n_seeds : int, default=6
        Seeds per configuration for the labels (at least 6 recommended; >= 2).
    n_featurized : int, default=3
        Seeds featurized per labelled configuration (>= 2, <= ``n_seeds``).
    epochs : float, default=20
        Passes over the training data (fixed epochs).
    lr, batch_size : float, int
        The optimizer setting that is not the knob.
    momentum : float, default=0.9
    steps : Steps, default=None
        Step sizes (knob x4, width x4, data x2).
    shape : tuple of int, default=None
        Force a lattice shape ``(knob values, widths, data amounts)`` (the budget is
        then only checked).
    curve_epochs : int, default=50
        Curve training epochs of the connectivity feature (keep the featurizer's
        default to diagnose with its defaults).
    output : path, default=None
        Write the fitted diagnoser's JSON file there.
    cache_dir : path or None, default=None
        The trainings' and features' cache (None: the zoo's default folder,
        ``calibrate`` below it; ``False``: no cache).
    n_jobs : int or None, default=1
        joblib workers over configurations (the Dask backend of an active
        ``joblib.parallel_config(backend="dask")`` is used with ``n_jobs=None``).
    progress : bool, default=True
        Progress bars and lines on stderr.
    random_state : int, default=0
        The featurizer's and the diagnoser's seed.
    name : str, default=None
        The family's name in the cache keys (default: the factory's qualified name).
    diagnoser_params : dict, default=None
        Parameters of the :class:`CalibratedDiagnoser`.

    Returns
    -------
    diagnoser : sklearn_mdtree.calibration.CalibratedDiagnoser
        Fitted; ``metadata_`` holds the lattice, the timings and the budget, and
        ``lattice_table_`` the labelled lattice table.

    Raises
    ------
    CalibrationBudgetError
        When even the smallest lattice's predicted time exceeds the budget.
    """
    from sklearn_mdtree.diagnosis._recipe import FeatureRecipe
    from sklearn_mdtree.calibration import CalibratedDiagnoser

    from ._transformers import LossLandscapeFeaturizer
    from .checkpoints import load_data, load_factory
    from ._cache import default_cache_dir

    start = time.perf_counter()
    factory = load_factory(factory)
    train = load_data(train) if isinstance(train, (str, Path)) else train
    test = load_data(test) if isinstance(test, (str, Path)) else test
    for label, pair in (("train", train), ("test", test)):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"The {label!r} parameter of calibrate must be an (X, y) pair or "
                             f"a data file; got {type(pair).__name__}.")
    train = (torch.as_tensor(train[0], dtype=torch.float32), torch.as_tensor(train[1]).long())
    test = (torch.as_tensor(test[0], dtype=torch.float32), torch.as_tensor(test[1]).long())
    if not (isinstance(budget, (int, float)) and budget > 0):
        raise ValueError(f"The 'budget' parameter of calibrate must be minutes > 0; got "
                         f"{budget!r}.")
    if not (isinstance(n_seeds, int) and n_seeds >= 2):
        raise ValueError(f"The 'n_seeds' parameter of calibrate must be an int >= 2; got "
                         f"{n_seeds!r}.")
    if not (isinstance(n_featurized, int) and 2 <= n_featurized <= n_seeds):
        raise ValueError(f"The 'n_featurized' parameter of calibrate must be an int in "
                         f"[2, n_seeds={n_seeds}]; got {n_featurized!r}.")
    steps = Steps() if steps is None else steps
    if cache_dir is None:
        cache_dir = default_cache_dir() / "calibrate"
    elif cache_dir is False:
        cache_dir = None
    name = name or f"calibrate/{getattr(factory, '__module__', '?')}." \
                   f"{getattr(factory, '__qualname__', type(factory).__name__)}"
    family = LatticeFamily(name, factory, train, test, knob=optimizer,
                           lr=float(lr), batch_size=int(batch_size),
                           epochs=epochs, momentum=momentum)
    fixed = [dict(f) for f in fixed] if isinstance(fixed, (list, tuple)) else dict(fixed or {})
    if isinstance(fixed, list) and not fixed:
        raise ValueError("The 'fixed' parameter of calibrate must be a dict or a non-empty list "
                         "of dicts; got [].")
    seeds = list(range(SEED_OFFSET, SEED_OFFSET + n_seeds))
    n_available = family.n_available
    workers = _effective_n_jobs(n_jobs)

    def say(line):
        if progress:
            print(line, file=sys.stderr, flush=True)

    featurizer = LossLandscapeFeaturizer(
        list(CALIBRATION_FEATURES), return_se=True, n_pairs="all", curve_epochs=curve_epochs,
        nonpositive=0.01, random_state=random_state, cache_dir=cache_dir, verbose=0)

    # -- a quick timing of the user's configuration (its results kept in the cache; the
    #    timing too, so that a resumed run predicts from the first, uncached, one)
    #    (one timing per fixed setting: with BatchNorm a network costs otherwise)
    timings = {}
    for f in (fixed if isinstance(fixed, list) else [fixed]):
        base_config = LatticeConfig(base, int(width), int(n_available), f)
        timings[tuple(sorted(dict(base_config.fixed).items()))] = (
            base_config, *_timing(family, base_config, seeds, n_featurized, featurizer,
                                  cache_dir))
    t_train = sum(t for _, t, _ in timings.values()) / len(timings)
    t_feat = sum(t for _, _, t in timings.values()) / len(timings)
    spent = time.perf_counter() - start
    limit = 60.0 * budget - spent

    shapes = [tuple(shape)] if shape is not None else list(LATTICE_SHAPES)
    lattices = [(c, *lattice_configurations(optimizer, base, width, n_available, c,
                                            steps=steps, fixed=fixed)) for c in shapes]
    if shape is None:  # smaller lattices label too few configurations for grouped CV
        lattices = [lat for i, lat in enumerate(lattices)
                    if i == 0 or len(lat[2]) >= MIN_LABELLED]
    chosen = None
    for candidate, configs, labelled in lattices:
        # the cold prediction decides (the same command gives the same lattice); a
        # lattice already wholly in the cache is resumed whatever the budget
        predicted = _predict_seconds(configs, labelled, timings, family, workers)
        done = frozenset(c for c in configs if _cached(family, c, seeds, cache_dir))
        if predicted <= limit or len(done) == len(configs):
            chosen = (candidate, configs, labelled, predicted)
            break
    if chosen is None:
        raise CalibrationBudgetError(
            f"The 'budget' parameter of calibrate must be at least "
            f"{(spent + predicted) / 60:.1f} minutes for the smallest lattice that labels "
            f"at least {MIN_LABELLED} configurations "
            f"({' x '.join(map(str, candidate))} knob x width x data values, {n_seeds} seeds; "
            f"one configuration took {t_train:.1f} s to train and {t_feat:.1f} s to featurize "
            f"on {workers} worker(s)); got {budget:g}.")
    requested, configs, labelled, predicted = chosen
    # the values the lattice holds (fewer widths where the width cannot go down by exact
    # steps, fewer data amounts where they coincide)
    shape = (len({c.knob_value for c in configs}), len({c.width for c in configs}),
             len({c.n_train for c in configs}))
    if len(labelled) < 4:
        raise ValueError(f"The lattice {shape} labels only {len(labelled)} configuration(s); "
                         "at least 4 are needed (a larger 'shape' or budget).")
    say(f"calibrate: lattice {shape[0]} knob x {shape[1]} width x {shape[2]} data values "
        f"({len(configs)} configurations, {len(labelled)} labelled), {n_seeds} seeds; "
        f"predicted {predicted / 60:.1f} min (timing: {t_train:.1f} s train, {t_feat:.1f} s "
        f"featurize per configuration)")

    # -- train every configuration
    runs = {}
    order = _longest_first(configs, timings, family)
    calls = [(family, c, seeds, cache_dir) for c in order]
    with tqdm(total=len(configs), desc="train lattice", unit="config", file=sys.stderr,
              disable=not progress) as bar:
        for config, result in zip(order, _results(
                _train, calls, n_jobs, lambda i: f"training {order[i].as_dict()}")):
            runs[config] = result
            bar.update(1)
    t_trained = time.perf_counter()

    # -- labels: one-step RFI from the seeds' test errors
    rows = []
    for config in labelled:
        moves = neighbours(config, optimizer, steps=steps, n_available=n_available)
        errors = {m: [rec["test_error"] for rec, _ in runs[c]] for m, c in moves.items()}
        own = [rec["test_error"] for rec, _ in runs[config]]
        label = one_step_label(own, errors)
        row = {**config.as_dict(), "label": label.move, "action": label.action(optimizer),
               "data_fraction": config.n_train / n_available,
               "n_classes": family.n_classes, "test_error_mean": float(np.mean(own)),
               "n_diverged": sum(rec["diverged"] for rec, _ in runs[config]),
               "n_stalled": sum(rec["stalled"] for rec, _ in runs[config]),
               "group": f"width={config.width}/n={config.n_train}/{dict(config.fixed)}"}
        for m in ("knob_up", "knob_down", "width_up", "data_up"):
            row[f"gain_{m}"] = label.gains.get(m, math.nan)
            row[f"gain_se_{m}"] = label.ses.get(m, math.nan)
        rows.append(row)

    # -- features of the labelled configurations (first seeds)
    calls = [(family, c, [(s, st) for s, (_, st) in zip(seeds, runs[c])][:n_featurized],
              featurizer) for c in labelled]
    with tqdm(total=len(labelled), desc="featurize lattice", unit="config", file=sys.stderr,
              disable=not progress) as bar:
        for row, values in zip(rows, _results(
                _featurize, calls, n_jobs, lambda i: f"features of {labelled[i].as_dict()}")):
            row.update(values)
            bar.update(1)
    table = pd.DataFrame(rows)
    elapsed = time.perf_counter() - start

    params = {"n_classes": int(family.n_classes), "optimizer": optimizer,
              "random_state": random_state, **(diagnoser_params or {})}
    metadata = {
        "family": name, "optimizer": optimizer, "base": float(base), "width": int(width),
        "fixed": fixed, "n_available": int(n_available),
        "epochs": float(epochs), "lr": float(family.lr), "batch_size": int(family.batch_size),
        "momentum": float(momentum), "shape": list(shape),
        "shape_requested": list(requested), "n_configurations": len(configs),
        "n_labelled": len(labelled), "seeds": seeds, "n_featurized": n_featurized,
        "budget_minutes": float(budget), "predicted_seconds": round(predicted + spent, 1),
        "seconds": {"timing": round(spent, 1), "train": round(t_trained - start - spent, 1),
                    "featurize": round(elapsed - (t_trained - start), 1),
                    "total": round(elapsed, 1)},
        "workers": int(workers),
        "labels": table["action"].value_counts().to_dict(),
    }
    diagnoser = CalibratedDiagnoser(**params)
    diagnoser.fit(table, table["action"], groups=table["group"],
                  recipe=FeatureRecipe.from_featurizer(featurizer), metadata=metadata)
    diagnoser.lattice_table_ = table
    say(diagnoser.summary())
    say(f"calibrate: {elapsed / 60:.1f} min (predicted {(predicted + spent) / 60:.1f})")
    if output is not None:
        diagnoser.to_json(output)
        say(f"calibrate: wrote {output}")
    return diagnoser
