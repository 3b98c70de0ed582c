"""Fitted trees and their samples for the plotting tests, and finding artists by ``gid``."""

import numpy as np
import pandas as pd

from sklearn_mdtree import MDTreeClassifier, get_preset

TASKS = {"bs_failure": ["small", "large"], "width_vs_batch": ["width", "batch"],
         "data_vs_batch": ["data", "batch"]}


def _frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "train_error": rng.uniform(0, 1, n),
        "mode_connectivity_peak": rng.uniform(-30, 0, n),
        "hessian_t": rng.uniform(4, 9, n),
        "CKA": rng.uniform(0.2, 0.8, n),
    })


def _fitted(preset, n=60, seed=0):
    X = _frame(n, seed)
    task = get_preset(preset).task
    y = np.random.default_rng(seed + 1).choice(TASKS[task], n)
    return MDTreeClassifier(preset).fit(X, y), X, y


def _by_gid(artists, prefix):
    return {a.get_gid(): a for a in artists if (a.get_gid() or "").startswith(prefix)}
