"""A user's model family as a lattice of configurations, labelled by one-step RFI.

Reusable machinery for the known-cause evaluation (``benchmarks/known_cause.py``)
and for calibrating on one's own family:

- :mod:`._config`: configurations as data (:class:`LatticeConfig`), their one-step
  neighbours (:func:`neighbours`), the actions moves stand for
  (:func:`move_action`) and the refusal of a grid without every failure source
  (:func:`check_failure_sources`);
- :mod:`._train`: a family (:class:`LatticeFamily`: factory, data, knob, epoch
  budget) and the training of n seeds of a configuration, cached, with a record of
  diverged and stalled trainings (:func:`train_runs`);
- :mod:`._labels`: the one-step label by measurement (:func:`one_step_label`) and
  the training and labelling of configurations with a second, disjoint set of
  seeds for reproducibility (:func:`measure_one_step`).
"""

from ._config import (
    ACTIONS,
    FAILURE_SOURCES,
    KNOBS,
    MOVES,
    LatticeConfig,
    Steps,
    check_failure_sources,
    lattice,
    move_action,
    neighbours,
)
from ._labels import OneStepLabel, measure_one_step, one_step_label
from ._train import LatticeFamily, Run, train_runs

__all__ = [
    "ACTIONS",
    "FAILURE_SOURCES",
    "KNOBS",
    "MOVES",
    "LatticeConfig",
    "LatticeFamily",
    "OneStepLabel",
    "Run",
    "Steps",
    "check_failure_sources",
    "lattice",
    "measure_one_step",
    "move_action",
    "neighbours",
    "one_step_label",
    "train_runs",
]
