"""The weight features' recipe: ``weight_norm_ratio`` and ``weight_displacement`` of a group."""

from __future__ import annotations

import numpy as np
import torch

from .._precision import mean_se


def _initial_states(group, index):
    """The group's initial weights, ``metadata["initial_states"]``: one per model."""
    states = group.metadata.get("initial_states")
    if not isinstance(states, (list, tuple)) or len(states) != group.n_models:
        raise ValueError(
            f"LossLandscapeFeaturizer: weight_displacement of {group._label(index)} needs "
            f"metadata['initial_states'], a list of {group.n_models} state_dicts (one per "
            f"model); got {type(states).__name__ if states is None else len(states)}."
        )
    return [s.state_dict() if isinstance(s, torch.nn.Module) else s for s in states]


def _weight_features(group, index, features, seed, values):
    """``weight_norm_ratio`` and ``weight_displacement``: means over models, SE over seeds."""
    from ..weights import weight_displacement, weight_norm_ratio

    if "weight_norm_ratio" in features:
        rng = np.random.default_rng(seed)
        ratios = [weight_norm_ratio(m, int(rng.integers(2**31))) for m in group.models]
        values["weight_norm_ratio"] = float(np.mean(ratios))
        values["weight_norm_ratio_se"] = mean_se(ratios)
    if "weight_displacement" in features:
        moved = [weight_displacement(m, s)
                 for m, s in zip(group.models, _initial_states(group, index))]
        values["weight_displacement"] = float(np.mean(moved))
        values["weight_displacement_se"] = mean_se(moved)
