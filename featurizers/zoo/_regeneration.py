"""Regeneration of a zoo across machines: a float-level stand-in for another CPU,
and the comparison of a regenerated table with a reference, by measured tolerances.

SGD over thousands of steps is chaotic: another CPU (other SIMD kernels, so other
roundings), another torch or another BLAS gives other weights, other test
accuracies and other labels. A zoo's table regenerates bit for bit on the machine
that made it only; elsewhere it is compared with the reference by the distribution
of its differences (:func:`compare_regeneration`) against tolerances measured
under a perturbation of the size of a rounding error (:class:`PerturbedFactory`,
:func:`regenerate_zoo`; ``benchmarks/bench_regeneration.py``).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
import torch

__all__ = [
    "CONFIGURATION_COLUMNS",
    "REGENERATION_TOLERANCES",
    "PerturbedFactory",
    "RegenerationCheck",
    "RegenerationReport",
    "check_regeneration",
    "compare_regeneration",
    "measure_tolerances",
    "regenerate_zoo",
]


def _seed_of(*parts):
    """A 63-bit seed from the text of ``parts`` (stable across runs and machines)."""
    text = json.dumps([str(p) for p in parts])
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:15], 16)


class PerturbedFactory:
    """A model factory whose initial weights are moved by a rounding-sized amount.

    Wraps ``model_factory``: each model it builds has every floating-point
    parameter ``w`` replaced by ``w * (1 + scale * z)``, ``z`` standard normal from
    a private generator seeded by ``seed``, the configuration and the seed torch's
    RNG was given for that model (:func:`torch.initial_seed`), so the global RNG
    and everything the zoo draws from it are untouched. ``scale=1e-7`` is about
    one float32 rounding (2**-23 = 1.2e-7): SGD's chaos then amplifies it as it
    amplifies another CPU's roundings.

    The wrapper reports the wrapped factory's ``__module__`` and ``__qualname__``,
    so a zoo trained with it has the same cache keys, hence the same
    featurization random streams (Hessian probes, curve pairs), as the reference
    zoo: only its weights differ, as on another machine. Train it into a cache
    folder of its own (:func:`regenerate_zoo` does), or its models and the
    reference's would be mixed up.

    Parameters
    ----------
    model_factory : callable
        ``model_factory(config) -> torch.nn.Module`` (the zoo's factory; default
        :func:`~featurizers.zoo.tanh_mlp` in :func:`regenerate_zoo`).
    scale : float, default=1e-7
        Relative size of the perturbation; 0 returns the factory's models as they
        are.
    seed : int, default=0
        Perturbation seed: each seed stands for another machine.

    Examples
    --------
    >>> import torch
    >>> from featurizers.zoo import Configuration, PerturbedFactory, tanh_mlp
    >>> config = Configuration(noise=0.0, lr=0.1, data_amount=100, width=4, bs=8)
    >>> _ = torch.manual_seed(3)
    >>> plain = tanh_mlp(config)
    >>> _ = torch.manual_seed(3)
    >>> moved = PerturbedFactory(tanh_mlp, scale=1e-3, seed=0)(config)
    >>> ratio = moved[0].weight / plain[0].weight
    >>> bool((ratio - 1).abs().max() < 1e-2), bool((ratio != 1).any())
    (True, True)
    >>> PerturbedFactory(tanh_mlp).__qualname__
    'tanh_mlp'
    """

    def __init__(self, model_factory, scale=1e-7, seed=0):
        self.model_factory = model_factory
        self.scale = scale
        self.seed = seed
        # the zoo's cache key names the factory by these two: keep the wrapped one's
        self.__module__ = getattr(model_factory, "__module__", None) or type(
            model_factory).__module__
        self.__qualname__ = getattr(model_factory, "__qualname__", None) or type(
            model_factory).__qualname__

    def __repr__(self):
        return (f"PerturbedFactory({self.__qualname__}, scale={self.scale!r}, "
                f"seed={self.seed!r})")

    def __call__(self, config):
        _check_perturbation(self.model_factory, self.scale, self.seed, "PerturbedFactory")
        model = self.model_factory(config)
        if self.scale == 0 or not isinstance(model, torch.nn.Module):
            return model
        generator = torch.Generator().manual_seed(
            _seed_of("perturb", self.seed, torch.initial_seed(), config) % (2**63 - 1))
        with torch.no_grad():
            for param in model.parameters():
                if param.is_floating_point():
                    noise = torch.randn(param.shape, generator=generator, dtype=torch.float64)
                    factor = (1 + float(self.scale) * noise).to(param.dtype)
                    param.mul_(factor)
        return model


def _check_perturbation(model_factory, scale, seed, caller):
    if not callable(model_factory):
        raise TypeError(f"The 'model_factory' parameter of {caller} must be callable; got "
                        f"{type(model_factory).__name__}.")
    if isinstance(scale, bool) or not isinstance(scale, Real) or not (
            0 <= scale < 1e-2 and math.isfinite(scale)):
        raise ValueError(f"The 'scale' parameter of {caller} must be a float in [0, 0.01); "
                         f"got {scale!r}.")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"The 'seed' parameter of {caller} must be an int >= 0; got "
                         f"{seed!r}.")


def regenerate_zoo(grid="default", *, scale=1e-7, seed=0, model_factory=None, cache_dir,
                   featurize=True, **zoo_params):
    """Train (and featurize) a zoo as another machine would: weights moved by ``scale``.

    :func:`~featurizers.zoo.train_zoo` with the model factory wrapped in
    :class:`PerturbedFactory`, in a cache folder of its own,
    ``cache_dir / f"perturbed-scale{scale:g}-seed{seed}"``.

    Parameters
    ----------
    grid : str or ZooGrid, default="default"
    scale : float, default=1e-7
        Relative perturbation of every initial weight (:class:`PerturbedFactory`).
    seed : int, default=0
        Perturbation seed; each seed stands for another machine.
    model_factory : callable, default=None
        The zoo's factory; None: :func:`~featurizers.zoo.tanh_mlp`.
    cache_dir : str or path
        Parent folder of the perturbed zoo's cache (required: a perturbed zoo must
        never share a cache with its reference, whose keys are the same).
    featurize : bool, default=True
        Also compute the loss-landscape features (:meth:`Zoo.featurize`).
    **zoo_params
        Passed to :func:`~featurizers.zoo.train_zoo` (``recipe``, ``data``,
        ``test_data``, ``n_jobs``, ``verbose``, ...).

    Returns
    -------
    table : pandas.DataFrame
        The zoo's table (:attr:`Zoo.table`).
    """
    from ._recipe import tanh_mlp
    from ._zoo import train_zoo

    factory = tanh_mlp if model_factory is None else model_factory
    _check_perturbation(factory, scale, seed, "regenerate_zoo")
    if cache_dir is None or cache_dir is False:
        raise ValueError("The 'cache_dir' parameter of regenerate_zoo must be a folder; got "
                         f"{cache_dir!r}.")
    folder = Path(cache_dir) / f"perturbed-scale{scale:g}-seed{int(seed)}"
    zoo = train_zoo(grid, model_factory=PerturbedFactory(factory, scale, seed),
                    cache_dir=folder, **zoo_params)
    if featurize:
        zoo.featurize(n_jobs=zoo_params.get("n_jobs"))
    return zoo.table


# ---------------------------------------------------------------------------
# Comparing a regenerated table with its reference

#: Columns a zoo's table derives from its configuration and the model factory alone:
#: they must be equal in a regeneration, and are not compared as features.
CONFIGURATION_COLUMNS = ("data_amount", "para_amount", "log_data_amount", "log_para_amount",
                         "log_bs", "width", "data", "bs", "lr", "noise")

#: Statistics of a feature's differences that are checked against a tolerance
#: (all upper bounds), and those of the labels and verdicts (lower bounds).
FEATURE_STATISTICS = ("share_changed", "median_abs", "p95_abs", "max_abs", "ks_statistic",
                      "nan_mismatch")
_UPPER = FEATURE_STATISTICS + ("threshold_abs",)
_LOWER = ("agreement",)


def _keys(reference, regenerated):
    from dataclasses import fields

    from ._grid import Configuration

    keys = [f.name for f in fields(Configuration)
            if f.name in reference.columns and f.name in regenerated.columns]
    if not keys:
        raise ValueError(
            "The tables to compare must share the configuration columns "
            f"{[f.name for f in fields(Configuration)]}; the reference has "
            f"{list(reference.columns)}.")
    return keys


def _aligned(reference, regenerated, keys):
    """Both tables with their rows in the same order (matched by configuration)."""
    for name, table in (("reference", reference), ("regenerated", regenerated)):
        if table.duplicated(keys).any():
            raise ValueError(f"The {name!r} table holds a configuration twice (columns {keys}).")
    ref = reference.set_index(keys)
    new = regenerated.set_index(keys)
    missing = ref.index.difference(new.index)
    extra = new.index.difference(ref.index)
    if len(missing) or len(extra):
        raise ValueError(
            f"The 'regenerated' table must hold the reference's configurations; "
            f"{len(missing)} are missing and {len(extra)} are extra (first: "
            f"{list(missing[:1]) or list(extra[:1])}).")
    new = new.loc[ref.index]
    return ref.reset_index(), new.reset_index()


def _difference_statistics(a, b):
    """Statistics of ``b - a`` over the rows where both are finite (``a``, ``b`` arrays)."""
    from scipy.stats import ks_2samp

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    fa, fb = np.isfinite(a), np.isfinite(b)
    both = fa & fb
    delta = np.abs(b[both] - a[both])
    out = {"n": int(both.sum()), "nan_mismatch": int((fa != fb).sum())}
    if both.any():
        out.update(
            share_changed=float(np.mean(delta > 0)),
            median_abs=float(np.median(delta)),
            p95_abs=float(np.percentile(delta, 95)),
            max_abs=float(delta.max()),
        )
    else:
        out.update(share_changed=np.nan, median_abs=np.nan, p95_abs=np.nan, max_abs=np.nan)
    if fa.any() and fb.any():
        with warnings.catch_warnings():
            # ties make scipy's exact p-value fail over to the asymptotic one, with a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            test = ks_2samp(a[fa], b[fb])
        out.update(ks_statistic=float(test.statistic), ks_pvalue=float(test.pvalue))
    else:
        out.update(ks_statistic=np.nan, ks_pvalue=np.nan)
    return out


def _training_mask(table, label):
    """Rows a Q tree is fitted on: clean labels (``collection == "normal"``), not ties."""
    mask = table[label].astype(str) != "optimal"
    if "collection" in table.columns:
        mask &= table["collection"] == "normal"
    return mask.to_numpy()


class RegenerationReport:
    """How a regenerated zoo table differs from its reference.

    Returned by :func:`compare_regeneration`; :func:`check_regeneration` checks it
    against tolerances.

    Attributes
    ----------
    features : pandas.DataFrame
        One row per compared feature; columns ``n`` (rows where both values are
        finite), ``nan_mismatch`` (rows finite in one table only),
        ``share_changed`` (share of rows whose value changed at all),
        ``median_abs``, ``p95_abs``, ``max_abs`` (of the absolute differences over
        rows), ``ks_statistic`` and ``ks_pvalue`` (two-sample Kolmogorov-Smirnov
        test of the two tables' values over configurations: a small p-value says
        the distributions differ, not only the rows).
    labels : pandas.DataFrame
        One row per label column; ``n``, ``agreement`` (share of rows with the same
        label), ``n_changed``.
    verdicts : pandas.DataFrame
        One row per comparison of verdicts: ``"tree"`` (the given tree applied to
        both tables, every row) and ``"refit"`` (a tree refitted on the regenerated
        table against the given tree, on the reference's rows); ``n``,
        ``agreement``, ``n_changed``. Empty without a tree.
    thresholds : pandas.DataFrame
        One row per split of the refitted tree: ``feature``, ``reference``,
        ``refit``, ``abs_delta``. Empty without a tree.
    configuration_columns_equal : bool
        Whether the columns set by the configuration alone
        (:data:`CONFIGURATION_COLUMNS`) are equal in both tables.
    identical : bool
        Whether the two tables are equal bit for bit (same rows in the same order,
        NaN equal to NaN).
    n_rows : int
        Number of configurations (rows) compared.
    """

    def __init__(self, features, labels, verdicts, thresholds, configuration_columns_equal,
                 identical, n_rows):
        self.features = features
        self.labels = labels
        self.verdicts = verdicts
        self.thresholds = thresholds
        self.configuration_columns_equal = configuration_columns_equal
        self.identical = identical
        self.n_rows = n_rows

    def __repr__(self):
        return (f"RegenerationReport({len(self.features)} features, {len(self.labels)} "
                f"labels, identical={self.identical})")

    def statistics(self):
        """Every checkable statistic as ``{name: value}``.

        Names: ``"feature:<column>:<statistic>"`` (:data:`FEATURE_STATISTICS`),
        ``"label:<column>:agreement"``, ``"verdict:<tree|refit>:agreement"`` and
        ``"threshold:<split>:threshold_abs"``.
        """
        out = {}
        for column, row in self.features.iterrows():
            for stat in FEATURE_STATISTICS:
                out[f"feature:{column}:{stat}"] = float(row[stat])
        for column, row in self.labels.iterrows():
            out[f"label:{column}:agreement"] = float(row["agreement"])
        for kind, row in self.verdicts.iterrows():
            out[f"verdict:{kind}:agreement"] = float(row["agreement"])
        for split, row in self.thresholds.iterrows():
            out[f"threshold:{split}:threshold_abs"] = float(row["abs_delta"])
        return out

    def to_text(self, digits=4):
        """The report as plain-text tables (a list of lines)."""
        lines = [f"identical bit for bit: {self.identical}; configuration columns equal: "
                 f"{self.configuration_columns_equal}"]
        for title, frame in (("features", self.features), ("labels", self.labels),
                             ("verdicts", self.verdicts), ("thresholds", self.thresholds)):
            if len(frame):
                lines.append(f"{title}:")
                lines.extend(frame.to_string(float_format=lambda v: f"{v:.{digits}g}")
                             .splitlines())
        return lines


def compare_regeneration(reference, regenerated, *, features=None, labels=None, tree=None,
                         label=None):
    """Compare a regenerated zoo table with its reference, by distributions.

    Rows are matched by configuration (the :class:`~featurizers.zoo.Configuration`
    columns both tables have). For each feature, the distribution over rows of
    the absolute difference (share changed, median, 95th percentile, maximum)
    and a two-sample Kolmogorov-Smirnov test of the two tables' values; for each
    label column (both knobs' labels, ``bs_failure`` and ``lr_failure``, and the
    RFI labels), the share of rows with the same label; with ``tree``, the share
    of rows that get the same verdict from it in both tables, and a tree of the
    same parameters refitted on the regenerated table (rows of clean labels whose
    label is not ``"optimal"``; from the preset its provenance names, for a
    :class:`~sklearn_mdtree.pretrained.PretrainedTree`) compared with ``tree``: its thresholds, and its verdicts on the
    reference's rows against ``tree``'s.

    Parameters
    ----------
    reference, regenerated : pandas.DataFrame
        Zoo tables (:attr:`Zoo.table`, or ``digits-zoo-features.csv`` read back).
    features : list of str, default=None
        Numeric columns to compare; None: every numeric column both tables have
        but the configuration's (:data:`CONFIGURATION_COLUMNS`).
    labels : list of str, default=None
        Label columns; None: every non-numeric column both tables have but
        ``collection`` (booleans such as ``hessian_t_floored`` count as labels).
    tree : PretrainedTree or fitted MDTreeClassifier, default=None
        A tree fitted on ``reference``; None skips the verdicts and the refit. For
        the default zoo, the digits Q1 recipe fitted on the reference table
        (``PretrainedTree(fit_document("digits-mlp-q1", reference, records=False))``,
        :mod:`sklearn_mdtree.pretrained._recipes`): no digits tree is shipped, so
        the tree checked is the one ``benchmarks/make_pretrained.py`` would fit.
        The trees fitted on the public collection F do not depend on a zoo and do
        not regenerate.
    label : str, default=None
        The column ``tree`` answers, for the refit; None: ``tree.task``.

    Returns
    -------
    RegenerationReport

    Examples
    --------
    >>> import pandas as pd
    >>> from featurizers.zoo import compare_regeneration
    >>> ref = pd.DataFrame({"width": [4, 8, 16, 32], "bs": 8, "test_acc": [50.0, 60, 70, 80],
    ...                     "bs_failure": ["large", "small", "small", "optimal"]})
    >>> new = ref.assign(test_acc=[50.0, 62, 70, 79],
    ...                  bs_failure=["large", "small", "large", "optimal"])
    >>> report = compare_regeneration(ref, new)
    >>> report.features.loc["test_acc", ["share_changed", "median_abs", "max_abs"]].tolist()
    [0.5, 0.5, 2.0]
    >>> float(report.labels.loc["bs_failure", "agreement"])
    0.75
    """
    if not isinstance(reference, pd.DataFrame) or not isinstance(regenerated, pd.DataFrame):
        raise TypeError(
            "The 'reference' and 'regenerated' parameters of compare_regeneration must be "
            f"pandas DataFrames; got {type(reference).__name__} and "
            f"{type(regenerated).__name__}.")
    keys = _keys(reference, regenerated)
    identical = bool(reference.shape == regenerated.shape
                     and list(reference.columns) == list(regenerated.columns)
                     and reference.equals(regenerated))
    ref, new = _aligned(reference, regenerated, keys)
    common = [c for c in ref.columns if c in new.columns]
    numeric = [c for c in common if pd.api.types.is_numeric_dtype(ref[c])
               and not pd.api.types.is_bool_dtype(ref[c])]
    if features is None:
        features = [c for c in numeric if c not in CONFIGURATION_COLUMNS and c not in keys]
    if labels is None:
        labels = [c for c in common if c not in numeric and c != "collection" and c not in keys]
    for name, columns in (("features", features), ("labels", labels)):
        absent = [c for c in columns if c not in common]
        if absent:
            raise ValueError(f"The {name!r} parameter of compare_regeneration names columns "
                             f"not in both tables: {absent}.")
    config_columns = [c for c in CONFIGURATION_COLUMNS if c in common]
    config_equal = bool(ref[config_columns].equals(new[config_columns]))

    feature_rows = {c: _difference_statistics(ref[c], new[c]) for c in features}
    feature_frame = pd.DataFrame.from_dict(
        feature_rows, orient="index",
        columns=["n", "nan_mismatch", "share_changed", "median_abs", "p95_abs", "max_abs",
                 "ks_statistic", "ks_pvalue"])
    label_rows = {}
    for c in labels:
        same = ref[c].astype(str).to_numpy() == new[c].astype(str).to_numpy()
        label_rows[c] = {"n": len(same), "agreement": float(same.mean()) if len(same) else
                         np.nan, "n_changed": int((~same).sum())}
    label_frame = pd.DataFrame.from_dict(label_rows, orient="index",
                                         columns=["n", "agreement", "n_changed"])

    verdict_rows, threshold_rows = {}, {}
    if tree is not None:
        verdict_rows, threshold_rows = _compare_trees(tree, label, ref, new)
    verdict_frame = pd.DataFrame.from_dict(verdict_rows, orient="index",
                                           columns=["n", "agreement", "n_changed"])
    threshold_frame = pd.DataFrame.from_dict(
        threshold_rows, orient="index", columns=["feature", "reference", "refit", "abs_delta"])
    return RegenerationReport(feature_frame, label_frame, verdict_frame, threshold_frame,
                              config_equal, identical, len(ref))


def _compare_trees(tree, label, ref, new):
    from sklearn.base import clone

    from sklearn_mdtree import MDTreeClassifier

    estimator = getattr(tree, "estimator", tree)
    if not isinstance(estimator, MDTreeClassifier) or not hasattr(estimator, "thresholds_"):
        raise TypeError(
            "The 'tree' parameter of compare_regeneration must be a PretrainedTree or a "
            f"fitted MDTreeClassifier; got {type(tree).__name__}.")
    label = getattr(tree, "task", None) if label is None else label
    if label is None or label not in ref.columns or label not in new.columns:
        raise ValueError(
            "The 'label' parameter of compare_regeneration must name the label column the "
            f"tree answers, in both tables; got {label!r}.")

    def agreement(a, b):
        same = np.asarray(a).astype(str) == np.asarray(b).astype(str)
        return {"n": len(same), "agreement": float(same.mean()), "n_changed": int((~same).sum())}

    verdicts = {"tree": agreement(estimator.predict(ref), estimator.predict(new))}
    train = _training_mask(new, label)
    # refit as the tree was fitted: from its preset (a recipe tree's provenance names
    # it), not from its fitted hierarchy, whose thresholds would start the search
    preset = (getattr(tree, "provenance", None) or {}).get("preset")
    refit = clone(estimator)
    if preset is not None:
        refit.set_params(hierarchy=preset)
    refit.fit(new[train], new.loc[train, label])
    verdicts["refit"] = agreement(estimator.predict(ref), refit.predict(ref))
    features = {s.name: s.feature for s in estimator.hierarchy_.splits()}
    thresholds = {}
    for split, value in estimator.thresholds_.items():
        other = refit.thresholds_.get(split, np.nan)
        thresholds[split] = {"feature": features.get(split), "reference": float(value),
                             "refit": float(other), "abs_delta": abs(float(other) - value)}
    return verdicts, thresholds


# ---------------------------------------------------------------------------
# Tolerances

def measure_tolerances(reports, *, n_sd=4.0):
    """Tolerances from the reports of regenerations that should pass.

    Each statistic's tolerance is the worst value over ``reports`` or the mean
    moved by ``n_sd`` standard deviations towards the bad side, whichever is
    worse; statistics that move by whole rows (agreements, shares of rows
    changed, NaN mismatches, the Kolmogorov-Smirnov statistic) are then widened
    by one row, since a table holds few rows. A bound no value can break (an
    agreement down to 0, a share of rows changed up to 1) checks nothing and is
    left out. ``benchmarks/
    bench_regeneration.py`` measures them over pairs of perturbed regenerations
    (:func:`regenerate_zoo`, one seed per stand-in machine).

    Parameters
    ----------
    reports : list of RegenerationReport
        Two or more.
    n_sd : float, default=4.0
        How far beyond the mean, in standard deviations (over the reports). About
        a hundred statistics are checked at once and every one must pass, so each
        needs a far tail; how often a genuine regeneration fails is measured on
        held-out stand-ins (``benchmarks/README.md``).

    Returns
    -------
    tolerances : dict
        ``{statistic: {"bound": "<=" or ">=", "value": float}}``, for
        :func:`check_regeneration`.
    """
    if len(reports) < 2:
        raise ValueError("The 'reports' parameter of measure_tolerances must hold at least "
                         f"two reports; got {len(reports)}.")
    stats = [r.statistics() for r in reports]
    names = sorted(set().union(*stats))
    row = 1 / min(r.n_rows for r in reports)  # one row's share of the table
    out = {}
    for name in names:
        values = np.array([s.get(name, np.nan) for s in stats], dtype=float)
        values = values[np.isfinite(values)]
        if not len(values):
            continue
        kind = name.rsplit(":", 1)[1]
        mean, sd = float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0
        if kind in _LOWER:
            value = min(float(values.min()), mean - n_sd * sd) - row
            if value > 0:  # an agreement down to 0 checks nothing
                out[name] = {"bound": ">=", "value": value}
        else:
            value = max(float(values.max()), mean + n_sd * sd)
            value += {"share_changed": row, "ks_statistic": row,
                      "nan_mismatch": 1}.get(kind, 0)
            if not (kind == "share_changed" and value >= 1):  # nor a share up to 1
                out[name] = {"bound": "<=", "value": value}
    return out


class RegenerationCheck:
    """The checks of a regeneration against tolerances, and the verdict.

    Returned by :func:`check_regeneration`.

    Attributes
    ----------
    checks : pandas.DataFrame
        One row per tolerance: ``statistic``, ``value`` (NaN when the report does
        not have it: a failure), ``bound``, ``tolerance``, ``passed``.
    n_failed : int
        Number of checks failed.
    max_failures : int
        Number of failed checks a regeneration may have and still pass.
    passed : bool
        The verdict: ``n_failed <= max_failures``.
    """

    def __init__(self, checks, max_failures):
        self.checks = checks
        self.n_failed = int((~checks["passed"]).sum())
        self.max_failures = max_failures
        self.passed = self.n_failed <= max_failures

    def __repr__(self):
        return (f"RegenerationCheck(passed={self.passed}, n_failed={self.n_failed} of "
                f"{len(self.checks)}, max_failures={self.max_failures})")

    def to_text(self):
        """The verdict and the failed checks, as a list of lines."""
        lines = [f"{'PASS' if self.passed else 'FAIL'}: {len(self.checks) - self.n_failed}/"
                 f"{len(self.checks)} checks pass (at most {self.max_failures} may fail)"]
        failed = self.checks[~self.checks["passed"]]
        if len(failed):
            lines.extend(failed.to_string(index=False).splitlines())
        return lines


def check_regeneration(report, tolerances, *, max_failures=1):
    """Check each statistic of a report against its tolerance, and give the verdict.

    Parameters
    ----------
    report : RegenerationReport
    tolerances : dict or str
        ``{statistic: {"bound": "<=" or ">=", "value": float}}``
        (:func:`measure_tolerances`), or the name of a measured set in
        :data:`REGENERATION_TOLERANCES` (e.g. ``"default"``).
    max_failures : int, default=1
        Failed checks a regeneration may have and still pass. About a hundred
        statistics are checked, and now and then a genuine regeneration puts one
        of them just past its tolerance (how often is measured on held-out
        stand-ins: ``benchmarks/README.md``); 0 asks for every check.

    Returns
    -------
    RegenerationCheck
        ``.passed`` is the verdict; ``.checks`` the table of checks.
    """
    if isinstance(tolerances, str):
        if tolerances not in REGENERATION_TOLERANCES:
            raise ValueError(
                "The 'tolerances' parameter of check_regeneration must be a dict or one of "
                f"{sorted(REGENERATION_TOLERANCES)}; got {tolerances!r}.")
        tolerances = REGENERATION_TOLERANCES[tolerances]["tolerances"]
    if isinstance(max_failures, bool) or not isinstance(max_failures, Integral) or (
            max_failures < 0):
        raise ValueError("The 'max_failures' parameter of check_regeneration must be an int "
                         f">= 0; got {max_failures!r}.")
    stats = report.statistics()
    rows = []
    for name in sorted(tolerances):
        bound, limit = tolerances[name]["bound"], float(tolerances[name]["value"])
        if bound not in ("<=", ">="):
            raise ValueError(f"The bound of tolerance {name!r} must be '<=' or '>='; got "
                             f"{bound!r}.")
        value = stats.get(name, np.nan)
        # a tiny slack for floats printed and read back
        slack = 1e-12 * max(1.0, abs(limit))
        ok = bool(np.isfinite(value) and (value <= limit + slack if bound == "<="
                                          else value >= limit - slack))
        rows.append({"statistic": name, "value": value, "bound": bound, "tolerance": limit,
                     "passed": ok})
    checks = pd.DataFrame(rows, columns=["statistic", "value", "bound", "tolerance", "passed"])
    return RegenerationCheck(checks, int(max_failures))


#: Measured tolerances, by preset: ``{"tolerances": {statistic: {"bound", "value"}},
#: "source": ...}``. Written by ``benchmarks/bench_regeneration.py`` (see
#: ``benchmarks/README.md``, "Regeneration across machines").
REGENERATION_TOLERANCES = {
    "tiny": {
        "source": (
            "benchmarks/bench_regeneration.py --preset tiny: 210 pairs of 21 runs (this "
            "machine and perturbation seeds [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, "
            "13, 14, 15, 16, 17, 18, 19] at scale 1e-07), worst or mean -/+ 4 sd"
        ),
        "tolerances": {
            "feature:CKA:ks_statistic": {"bound": "<=", "value": 0.2901},
            "feature:CKA:max_abs": {"bound": "<=", "value": 0.1759},
            "feature:CKA:median_abs": {"bound": "<=", "value": 1.891e-05},
            "feature:CKA:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:CKA:p95_abs": {"bound": "<=", "value": 0.1185},
            "feature:bs_failure_gain:ks_statistic": {"bound": "<=", "value": 0.2917},
            "feature:bs_failure_gain:max_abs": {"bound": "<=", "value": 27.53},
            "feature:bs_failure_gain:median_abs": {"bound": "<=", "value": 3.106},
            "feature:bs_failure_gain:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:bs_failure_gain:p95_abs": {"bound": "<=", "value": 19.89},
            "feature:bs_failure_gain:share_changed": {"bound": "<=", "value": 0.8362},
            "feature:bs_failure_gain_se:ks_statistic": {"bound": "<=", "value": 0.4097},
            "feature:bs_failure_gain_se:max_abs": {"bound": "<=", "value": 8.462},
            "feature:bs_failure_gain_se:median_abs": {"bound": "<=", "value": 0.6853},
            "feature:bs_failure_gain_se:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:bs_failure_gain_se:p95_abs": {"bound": "<=", "value": 6.115},
            "feature:bs_failure_gain_se:share_changed": {"bound": "<=", "value": 0.8371},
            "feature:generalization_gap:ks_statistic": {"bound": "<=", "value": 0.2284},
            "feature:generalization_gap:max_abs": {"bound": "<=", "value": 6.727},
            "feature:generalization_gap:median_abs": {"bound": "<=", "value": 0.05992},
            "feature:generalization_gap:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:generalization_gap:p95_abs": {"bound": "<=", "value": 4.734},
            "feature:generalization_gap:share_changed": {"bound": "<=", "value": 0.6182},
            "feature:hessian_e:ks_statistic": {"bound": "<=", "value": 0.3441},
            "feature:hessian_e:max_abs": {"bound": "<=", "value": 8.753},
            "feature:hessian_e:median_abs": {"bound": "<=", "value": 0.0001998},
            "feature:hessian_e:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:hessian_e:p95_abs": {"bound": "<=", "value": 8.631},
            "feature:hessian_t:ks_statistic": {"bound": "<=", "value": 0.3014},
            "feature:hessian_t:max_abs": {"bound": "<=", "value": 3.183},
            "feature:hessian_t:median_abs": {"bound": "<=", "value": 0.0002632},
            "feature:hessian_t:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:hessian_t:p95_abs": {"bound": "<=", "value": 1.479},
            "feature:lr_failure_gain:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:lr_failure_gain_se:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:mode_connectivity:ks_statistic": {"bound": "<=", "value": 0.3314},
            "feature:mode_connectivity:max_abs": {"bound": "<=", "value": 71.67},
            "feature:mode_connectivity:median_abs": {"bound": "<=", "value": 0.0},
            "feature:mode_connectivity:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:mode_connectivity:p95_abs": {"bound": "<=", "value": 36.17},
            "feature:mode_connectivity:share_changed": {"bound": "<=", "value": 0.4981},
            "feature:mode_connectivity_peak:ks_statistic": {"bound": "<=", "value": 0.3033},
            "feature:mode_connectivity_peak:max_abs": {"bound": "<=", "value": 49.14},
            "feature:mode_connectivity_peak:median_abs": {"bound": "<=", "value": 0.0},
            "feature:mode_connectivity_peak:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:mode_connectivity_peak:p95_abs": {"bound": "<=", "value": 32.14},
            "feature:mode_connectivity_peak:share_changed": {"bound": "<=", "value": 0.5301},
            "feature:rfi_data:ks_statistic": {"bound": "<=", "value": 0.2239},
            "feature:rfi_data:max_abs": {"bound": "<=", "value": 20.17},
            "feature:rfi_data:median_abs": {"bound": "<=", "value": 0.0},
            "feature:rfi_data:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:rfi_data:p95_abs": {"bound": "<=", "value": 11.01},
            "feature:rfi_data:share_changed": {"bound": "<=", "value": 0.3483},
            "feature:rfi_dec_temp:ks_statistic": {"bound": "<=", "value": 0.2917},
            "feature:rfi_dec_temp:max_abs": {"bound": "<=", "value": 27.44},
            "feature:rfi_dec_temp:median_abs": {"bound": "<=", "value": 0.0},
            "feature:rfi_dec_temp:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:rfi_dec_temp:p95_abs": {"bound": "<=", "value": 19.7},
            "feature:rfi_dec_temp:share_changed": {"bound": "<=", "value": 0.4814},
            "feature:rfi_inc_temp:ks_statistic": {"bound": "<=", "value": 0.125},
            "feature:rfi_inc_temp:max_abs": {"bound": "<=", "value": 4.81},
            "feature:rfi_inc_temp:median_abs": {"bound": "<=", "value": 0.0},
            "feature:rfi_inc_temp:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:rfi_inc_temp:p95_abs": {"bound": "<=", "value": 2.789},
            "feature:rfi_inc_temp:share_changed": {"bound": "<=", "value": 0.2859},
            "feature:rfi_width:ks_statistic": {"bound": "<=", "value": 0.2408},
            "feature:rfi_width:max_abs": {"bound": "<=", "value": 34.73},
            "feature:rfi_width:median_abs": {"bound": "<=", "value": 0.0},
            "feature:rfi_width:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:rfi_width:p95_abs": {"bound": "<=", "value": 20.18},
            "feature:rfi_width:share_changed": {"bound": "<=", "value": 0.4514},
            "feature:test_acc:ks_statistic": {"bound": "<=", "value": 0.2439},
            "feature:test_acc:max_abs": {"bound": "<=", "value": 27.53},
            "feature:test_acc:median_abs": {"bound": "<=", "value": 0.02966},
            "feature:test_acc:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:test_acc:p95_abs": {"bound": "<=", "value": 19.84},
            "feature:test_acc:share_changed": {"bound": "<=", "value": 0.6174},
            "feature:test_error:ks_statistic": {"bound": "<=", "value": 0.2439},
            "feature:test_error:max_abs": {"bound": "<=", "value": 27.53},
            "feature:test_error:median_abs": {"bound": "<=", "value": 0.02966},
            "feature:test_error:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:test_error:p95_abs": {"bound": "<=", "value": 19.84},
            "feature:test_error:share_changed": {"bound": "<=", "value": 0.6174},
            "feature:test_error_se:ks_statistic": {"bound": "<=", "value": 0.3124},
            "feature:test_error_se:max_abs": {"bound": "<=", "value": 8.517},
            "feature:test_error_se:median_abs": {"bound": "<=", "value": 0.002887},
            "feature:test_error_se:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:test_error_se:p95_abs": {"bound": "<=", "value": 5.944},
            "feature:test_error_se:share_changed": {"bound": "<=", "value": 0.6175},
            "feature:test_loss:ks_statistic": {"bound": "<=", "value": 0.3003},
            "feature:test_loss:max_abs": {"bound": "<=", "value": 0.8702},
            "feature:test_loss:median_abs": {"bound": "<=", "value": 1.557e-05},
            "feature:test_loss:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:test_loss:p95_abs": {"bound": "<=", "value": 0.5527},
            "feature:train_acc:ks_statistic": {"bound": "<=", "value": 0.2724},
            "feature:train_acc:max_abs": {"bound": "<=", "value": 29.61},
            "feature:train_acc:median_abs": {"bound": "<=", "value": 0.07278},
            "feature:train_acc:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:train_acc:p95_abs": {"bound": "<=", "value": 20.99},
            "feature:train_acc:share_changed": {"bound": "<=", "value": 0.6016},
            "feature:train_error:ks_statistic": {"bound": "<=", "value": 0.2725},
            "feature:train_error:max_abs": {"bound": "<=", "value": 29.61},
            "feature:train_error:median_abs": {"bound": "<=", "value": 0.07278},
            "feature:train_error:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:train_error:p95_abs": {"bound": "<=", "value": 20.99},
            "feature:train_error:share_changed": {"bound": "<=", "value": 0.6006},
            "feature:train_loss:ks_statistic": {"bound": "<=", "value": 0.2666},
            "feature:train_loss:max_abs": {"bound": "<=", "value": 0.9206},
            "feature:train_loss:median_abs": {"bound": "<=", "value": 2.398e-05},
            "feature:train_loss:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:train_loss:p95_abs": {"bound": "<=", "value": 0.6079},
            "label:bs_failure:agreement": {"bound": ">=", "value": 0.7979},
            "label:data_vs_batch:agreement": {"bound": ">=", "value": 0.7039},
            "label:hessian_t_floored:agreement": {"bound": ">=", "value": 0.9583},
            "label:lr_failure:agreement": {"bound": ">=", "value": 0.9583},
            "label:width_vs_batch:agreement": {"bound": ">=", "value": 0.7985},
        },
    },
    "default": {
        "source": (
            "benchmarks/bench_regeneration.py --preset default: 28 pairs of 8 runs (this "
            "machine and perturbation seeds [0, 1, 2, 3, 4, 5, 6] at scale 1e-07), worst "
            "or mean -/+ 4 sd"
        ),
        "tolerances": {
            "feature:CKA:ks_statistic": {"bound": "<=", "value": 0.02747},
            "feature:CKA:max_abs": {"bound": "<=", "value": 0.1864},
            "feature:CKA:median_abs": {"bound": "<=", "value": 4.112e-08},
            "feature:CKA:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:CKA:p95_abs": {"bound": "<=", "value": 0.04602},
            "feature:bs_failure_gain:ks_statistic": {"bound": "<=", "value": 0.03997},
            "feature:bs_failure_gain:max_abs": {"bound": "<=", "value": 27.74},
            "feature:bs_failure_gain:median_abs": {"bound": "<=", "value": 0.0},
            "feature:bs_failure_gain:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:bs_failure_gain:p95_abs": {"bound": "<=", "value": 3.994},
            "feature:bs_failure_gain:share_changed": {"bound": "<=", "value": 0.3525},
            "feature:bs_failure_gain_se:ks_statistic": {"bound": "<=", "value": 0.03783},
            "feature:bs_failure_gain_se:max_abs": {"bound": "<=", "value": 9.391},
            "feature:bs_failure_gain_se:median_abs": {"bound": "<=", "value": 0.0},
            "feature:bs_failure_gain_se:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:bs_failure_gain_se:p95_abs": {"bound": "<=", "value": 1.255},
            "feature:bs_failure_gain_se:share_changed": {"bound": "<=", "value": 0.3543},
            "feature:generalization_gap:ks_statistic": {"bound": "<=", "value": 0.02334},
            "feature:generalization_gap:max_abs": {"bound": "<=", "value": 6.749},
            "feature:generalization_gap:median_abs": {"bound": "<=", "value": 0.0},
            "feature:generalization_gap:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:generalization_gap:p95_abs": {"bound": "<=", "value": 1.356},
            "feature:generalization_gap:share_changed": {"bound": "<=", "value": 0.2805},
            "feature:hessian_e:ks_statistic": {"bound": "<=", "value": 0.04664},
            "feature:hessian_e:max_abs": {"bound": "<=", "value": 9.921},
            "feature:hessian_e:median_abs": {"bound": "<=", "value": 1.791e-07},
            "feature:hessian_e:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:hessian_e:p95_abs": {"bound": "<=", "value": 1.577},
            "feature:hessian_t:ks_statistic": {"bound": "<=", "value": 0.02825},
            "feature:hessian_t:max_abs": {"bound": "<=", "value": 12.13},
            "feature:hessian_t:median_abs": {"bound": "<=", "value": 1.607e-07},
            "feature:hessian_t:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:hessian_t:p95_abs": {"bound": "<=", "value": 0.5144},
            "feature:lr_failure_gain:ks_statistic": {"bound": "<=", "value": 0.03352},
            "feature:lr_failure_gain:max_abs": {"bound": "<=", "value": 27.74},
            "feature:lr_failure_gain:median_abs": {"bound": "<=", "value": 0.0},
            "feature:lr_failure_gain:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:lr_failure_gain:p95_abs": {"bound": "<=", "value": 4.518},
            "feature:lr_failure_gain:share_changed": {"bound": "<=", "value": 0.3529},
            "feature:lr_failure_gain_se:ks_statistic": {"bound": "<=", "value": 0.04972},
            "feature:lr_failure_gain_se:max_abs": {"bound": "<=", "value": 9.473},
            "feature:lr_failure_gain_se:median_abs": {"bound": "<=", "value": 0.0},
            "feature:lr_failure_gain_se:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:lr_failure_gain_se:p95_abs": {"bound": "<=", "value": 1.61},
            "feature:lr_failure_gain_se:share_changed": {"bound": "<=", "value": 0.3561},
            "feature:mode_connectivity:ks_statistic": {"bound": "<=", "value": 0.03248},
            "feature:mode_connectivity:max_abs": {"bound": "<=", "value": 100.8},
            "feature:mode_connectivity:median_abs": {"bound": "<=", "value": 0.0},
            "feature:mode_connectivity:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:mode_connectivity:p95_abs": {"bound": "<=", "value": 9.616},
            "feature:mode_connectivity:share_changed": {"bound": "<=", "value": 0.2607},
            "feature:mode_connectivity_peak:ks_statistic": {"bound": "<=", "value": 0.03267},
            "feature:mode_connectivity_peak:max_abs": {"bound": "<=", "value": 52.95},
            "feature:mode_connectivity_peak:median_abs": {"bound": "<=", "value": 0.0},
            "feature:mode_connectivity_peak:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:mode_connectivity_peak:p95_abs": {"bound": "<=", "value": 9.032},
            "feature:mode_connectivity_peak:share_changed": {"bound": "<=", "value": 0.2579},
            "feature:rfi_data:ks_statistic": {"bound": "<=", "value": 0.02825},
            "feature:rfi_data:max_abs": {"bound": "<=", "value": 24.92},
            "feature:rfi_data:median_abs": {"bound": "<=", "value": 0.0},
            "feature:rfi_data:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:rfi_data:p95_abs": {"bound": "<=", "value": 2.455},
            "feature:rfi_data:share_changed": {"bound": "<=", "value": 0.2313},
            "feature:rfi_dec_temp:ks_statistic": {"bound": "<=", "value": 0.02999},
            "feature:rfi_dec_temp:max_abs": {"bound": "<=", "value": 27.75},
            "feature:rfi_dec_temp:median_abs": {"bound": "<=", "value": 0.0},
            "feature:rfi_dec_temp:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:rfi_dec_temp:p95_abs": {"bound": "<=", "value": 3.381},
            "feature:rfi_dec_temp:share_changed": {"bound": "<=", "value": 0.232},
            "feature:rfi_inc_temp:ks_statistic": {"bound": "<=", "value": 0.03269},
            "feature:rfi_inc_temp:max_abs": {"bound": "<=", "value": 4.642},
            "feature:rfi_inc_temp:median_abs": {"bound": "<=", "value": 0.0},
            "feature:rfi_inc_temp:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:rfi_inc_temp:p95_abs": {"bound": "<=", "value": 1.058},
            "feature:rfi_inc_temp:share_changed": {"bound": "<=", "value": 0.3651},
            "feature:rfi_width:ks_statistic": {"bound": "<=", "value": 0.0288},
            "feature:rfi_width:max_abs": {"bound": "<=", "value": 27.57},
            "feature:rfi_width:median_abs": {"bound": "<=", "value": 0.0},
            "feature:rfi_width:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:rfi_width:p95_abs": {"bound": "<=", "value": 2.241},
            "feature:rfi_width:share_changed": {"bound": "<=", "value": 0.2098},
            "feature:test_acc:ks_statistic": {"bound": "<=", "value": 0.02136},
            "feature:test_acc:max_abs": {"bound": "<=", "value": 27.9},
            "feature:test_acc:median_abs": {"bound": "<=", "value": 0.0},
            "feature:test_acc:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:test_acc:p95_abs": {"bound": "<=", "value": 3.431},
            "feature:test_acc:share_changed": {"bound": "<=", "value": 0.2794},
            "feature:test_error:ks_statistic": {"bound": "<=", "value": 0.02164},
            "feature:test_error:max_abs": {"bound": "<=", "value": 27.9},
            "feature:test_error:median_abs": {"bound": "<=", "value": 0.0},
            "feature:test_error:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:test_error:p95_abs": {"bound": "<=", "value": 3.431},
            "feature:test_error:share_changed": {"bound": "<=", "value": 0.2798},
            "feature:test_error_se:ks_statistic": {"bound": "<=", "value": 0.03824},
            "feature:test_error_se:max_abs": {"bound": "<=", "value": 9.596},
            "feature:test_error_se:median_abs": {"bound": "<=", "value": 0.0},
            "feature:test_error_se:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:test_error_se:p95_abs": {"bound": "<=", "value": 1.34},
            "feature:test_error_se:share_changed": {"bound": "<=", "value": 0.2803},
            "feature:test_loss:ks_statistic": {"bound": "<=", "value": 0.02166},
            "feature:test_loss:max_abs": {"bound": "<=", "value": 1.372},
            "feature:test_loss:median_abs": {"bound": "<=", "value": 2.93e-08},
            "feature:test_loss:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:test_loss:p95_abs": {"bound": "<=", "value": 0.1018},
            "feature:train_acc:ks_statistic": {"bound": "<=", "value": 0.01852},
            "feature:train_acc:max_abs": {"bound": "<=", "value": 28.63},
            "feature:train_acc:median_abs": {"bound": "<=", "value": 0.0},
            "feature:train_acc:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:train_acc:p95_abs": {"bound": "<=", "value": 3.173},
            "feature:train_acc:share_changed": {"bound": "<=", "value": 0.2497},
            "feature:train_error:ks_statistic": {"bound": "<=", "value": 0.01852},
            "feature:train_error:max_abs": {"bound": "<=", "value": 28.63},
            "feature:train_error:median_abs": {"bound": "<=", "value": 0.0},
            "feature:train_error:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:train_error:p95_abs": {"bound": "<=", "value": 3.173},
            "feature:train_error:share_changed": {"bound": "<=", "value": 0.2485},
            "feature:train_loss:ks_statistic": {"bound": "<=", "value": 0.02235},
            "feature:train_loss:max_abs": {"bound": "<=", "value": 1.427},
            "feature:train_loss:median_abs": {"bound": "<=", "value": 2.68e-08},
            "feature:train_loss:nan_mismatch": {"bound": "<=", "value": 1.0},
            "feature:train_loss:p95_abs": {"bound": "<=", "value": 0.101},
            "label:bs_failure:agreement": {"bound": ">=", "value": 0.947},
            "label:data_vs_batch:agreement": {"bound": ">=", "value": 0.9534},
            "label:hessian_t_floored:agreement": {"bound": ">=", "value": 0.9847},
            "label:lr_failure:agreement": {"bound": ">=", "value": 0.9397},
            "label:width_vs_batch:agreement": {"bound": ">=", "value": 0.9816},
            "threshold:t0:threshold_abs": {"bound": "<=", "value": 15.86},
            "threshold:t1:threshold_abs": {"bound": "<=", "value": 18.95},
            "threshold:t2:threshold_abs": {"bound": "<=", "value": 1.286},
            "verdict:refit:agreement": {"bound": ">=", "value": 0.9003},
            "verdict:tree:agreement": {"bound": ">=", "value": 0.9666},
        },
    },
}
