"""One-step RFI labels by measurement, and their reproducibility.

The label of a configuration is the one-step move (:data:`MOVES`) with the largest
drop in mean test error over the configuration's, if that drop exceeds ``z``
standard errors of the difference of the two means (seeds independent:
``sqrt(s_a^2 / n_a + s_b^2 / n_b)``), else ``"none"``: no single step is
expected to help beyond the seeds' noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ._config import MOVES, move_action, neighbours
from ._train import train_runs

__all__ = ["OneStepLabel", "measure_one_step", "one_step_label"]


@dataclass(frozen=True)
class OneStepLabel:
    """A measured label: the move (or "none"), and every move's gain and its SE."""

    move: str
    gains: dict = field(default_factory=dict)
    ses: dict = field(default_factory=dict)

    def action(self, knob):
        return move_action(self.move, knob)


def _mean_se(values):
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return (float(v.mean()) if len(v) else math.nan), math.nan
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v)))


def one_step_label(base_errors, neighbour_errors, *, z=2.0):
    """The move with the largest significant drop in mean test error, else "none".

    Parameters
    ----------
    base_errors : array-like of float
        Test errors of the configuration's seeds.
    neighbour_errors : dict of str to array-like of float
        Test errors of each neighbour's seeds, by move.
    z : float, default=2.0
        A drop counts when it exceeds ``z`` standard errors of the difference.

    Returns
    -------
    OneStepLabel

    Examples
    --------
    >>> from featurizers.lattice import one_step_label
    >>> base = [10.0, 11.0, 12.0]
    >>> label = one_step_label(base, {"width_up": [5.0, 6.0, 7.0], "data_up": [9.0, 11.0, 13.0]})
    >>> label.move, label.gains["width_up"], round(label.ses["width_up"], 3)
    ('width_up', 5.0, 0.816)
    >>> one_step_label(base, {"width_up": [10.0, 11.0, 11.0]}).move
    'none'
    """
    mean_b, se_b = _mean_se(base_errors)
    gains, ses = {}, {}
    for move in MOVES:
        if move not in neighbour_errors:
            continue
        mean_n, se_n = _mean_se(neighbour_errors[move])
        gains[move] = mean_b - mean_n
        ses[move] = math.sqrt(se_b**2 + se_n**2)
    significant = {m: g for m, g in gains.items()
                   if math.isfinite(g) and math.isfinite(ses[m]) and g > z * ses[m]}
    move = max(significant, key=significant.get) if significant else "none"
    return OneStepLabel(move, gains, ses)


def measure_one_step(family, configs, *, label_seeds=range(6), repro_seeds=range(6, 12),
                     steps=None, z=2.0, cache_dir=None, progress=None):
    """Train configurations and their one-step neighbours; label them twice.

    Parameters
    ----------
    family : LatticeFamily
    configs : list of LatticeConfig
    label_seeds, repro_seeds : iterables of int
        The seeds of the label and those of an independent second label (its
        reproducibility); disjoint, at least 2 each (6 recommended).
    steps : Steps, default=None
        The neighbours' step sizes (the default :class:`Steps`).
    z : float, default=2.0
    cache_dir : path or None
    progress : callable, default=None
        Called with a line of text after each configuration.

    Returns
    -------
    rows : list of dict
        One per configuration: ``label``, ``action``, ``repro_label``,
        ``repro_action``, ``gain_<move>``/``gain_se_<move>`` (label seeds),
        the failure records of the configuration's label-seed trainings
        (``n_diverged``, ``n_stalled``, ``mean_displacement``) and of each
        neighbour (``n_diverged_<move>``, ...), the mean test errors, and
        ``records``: one dict per training of the configuration and its
        neighbours (move, configuration, seed set, seed, errors, losses,
        displacement, diverged, stalled).
    runs : list of list of Run
        The configuration's own runs, label seeds then reproducibility seeds.
    """
    from ._config import Steps

    steps = Steps() if steps is None else steps
    label_seeds, repro_seeds = [int(s) for s in label_seeds], [int(s) for s in repro_seeds]
    if set(label_seeds) & set(repro_seeds):
        raise ValueError(
            f"The 'repro_seeds' parameter of measure_one_step must be disjoint from "
            f"'label_seeds'; got {sorted(set(label_seeds) & set(repro_seeds))} in both."
        )
    for name, seeds in (("label_seeds", label_seeds), ("repro_seeds", repro_seeds)):
        if len(seeds) < 2:
            raise ValueError(f"The {name!r} parameter of measure_one_step must hold at least 2 "
                             f"seeds; got {len(seeds)}.")
    all_seeds = label_seeds + repro_seeds
    n = len(label_seeds)
    rows, own = [], []
    for config in configs:
        runs = train_runs(family, config, all_seeds, cache_dir=cache_dir)
        moves = neighbours(config, family.knob, steps=steps, n_available=family.n_available)
        other = {m: train_runs(family, c, all_seeds, cache_dir=cache_dir)
                 for m, c in moves.items()}
        errors = {"base": [r.test_error for r in runs]}
        errors.update({m: [r.test_error for r in rs] for m, rs in other.items()})
        first = one_step_label(errors["base"][:n], {m: e[:n] for m, e in errors.items()
                                                     if m != "base"}, z=z)
        second = one_step_label(errors["base"][n:], {m: e[n:] for m, e in errors.items()
                                                      if m != "base"}, z=z)
        row = {**config.as_dict(), "label": first.move, "action": first.action(family.knob),
               "repro_label": second.move, "repro_action": second.action(family.knob),
               "test_error_mean": float(np.mean(errors["base"][:n]))}
        for m in MOVES:
            row[f"gain_{m}"] = first.gains.get(m, math.nan)
            row[f"gain_se_{m}"] = first.ses.get(m, math.nan)
            row[f"repro_gain_{m}"] = second.gains.get(m, math.nan)
        for prefix, rs in (("", runs[:n]), *((f"_{m}", other[m][:n]) for m in moves)):
            row[f"n_diverged{prefix}"] = sum(r.diverged for r in rs)
            row[f"n_stalled{prefix}"] = sum(r.stalled for r in rs)
        row["records"] = [
            {"move": move, **c.as_dict(), "seed_set": "label" if i < n else "repro",
             **r.record()}
            for move, c, rs in (("base", config, runs),
                                *((m, moves[m], other[m]) for m in moves))
            for i, r in enumerate(rs)
        ]
        row["mean_displacement"] = float(np.mean([r.displacement for r in runs[:n]]))
        row["train_error_mean"] = float(np.mean([r.train_error for r in runs[:n]]))
        rows.append(row)
        own.append(runs)
        if progress is not None:
            progress(f"{config.as_dict()}: label {first.move}, second seeds {second.move}")
    return rows, own
