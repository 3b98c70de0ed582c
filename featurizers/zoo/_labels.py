"""One-step labels of a zoo's optimizer knobs, kept only beyond the seeds' noise.

A configuration's label along a knob (batch size or learning rate) compares its
seeds' mean test error with that of its one-step neighbours along that knob (the
adjacent values of the grid's axis, everything else equal): the move whose drop
in mean error is largest and exceeds ``z`` standard errors of the difference
(:func:`featurizers.lattice.one_step_label`) names the label; when neither move
does, the label is ``"optimal"`` -- no single step is expected to help beyond the
seeds' noise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

__all__ = ["KNOB_LABELS", "knob_labels", "seed_test_errors"]

#: Label column of each knob, the way a larger value moves the temperature, and the
#: class of each move. The classes are those of ``bs_failure`` in temperature terms:
#: ``"large"`` = the temperature is too high, ``"small"`` = too low. For the batch
#: size a larger value is colder ("large": raise the batch size); for the learning
#: rate a larger value is hotter ("large": lower the learning rate).
KNOB_LABELS = {
    "bs": ("bs_failure", {"knob_up": "large", "knob_down": "small"}),
    "lr": ("lr_failure", {"knob_up": "small", "knob_down": "large"}),
}


def seed_test_errors(models, X, y):
    """Test error (percent) of each model on ``(X, y)``.

    Parameters
    ----------
    models : list of torch.nn.Module
        Classifiers returning logits; evaluated in eval mode (their mode is restored).
    X, y : Tensor
        Inputs and integer labels (the zoo's clean test set).

    Returns
    -------
    ndarray of float64, shape (n_models,)

    Examples
    --------
    >>> import torch
    >>> from featurizers.zoo._labels import seed_test_errors
    >>> X, y = torch.eye(4), torch.tensor([0, 1, 0, 1])
    >>> model = torch.nn.Linear(4, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1, 1, 1]]))
    >>> seed_test_errors([model], X, y).tolist()
    [25.0]
    """
    errors = []
    with torch.no_grad():
        for model in models:
            was_training = model.training
            model.eval()
            wrong = (model(X).argmax(dim=1) != y).double().mean().item()
            model.train(was_training)
            errors.append(100.0 * wrong)
    return np.asarray(errors, dtype=np.float64)


def knob_labels(table, errors, knob, *, z=2.0):
    """One-step labels along ``knob`` for every row of a zoo's table.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per configuration, with the columns ``noise``, ``lr``,
        ``data_amount``, ``width`` and ``bs``.
    errors : array-like of shape (n_rows, n_seeds)
        Each configuration's test errors by seed (:func:`seed_test_errors`).
    knob : {"bs", "lr"}
    z : float, default=2.0
        A move counts when its drop in mean test error exceeds ``z`` standard
        errors of the difference of the two means.

    Returns
    -------
    pandas.DataFrame
        With the index of ``table`` and three columns, for ``bs``:
        ``bs_failure`` (``"large"``, ``"small"`` or ``"optimal"``, see
        :data:`KNOB_LABELS`), ``bs_failure_gain`` (the drop in mean test error
        of the labelled move; of the better move for ``"optimal"``; NaN with no
        neighbour) and ``bs_failure_gain_se`` (its standard error).

    Examples
    --------
    >>> import pandas as pd
    >>> from featurizers.zoo._labels import knob_labels
    >>> table = pd.DataFrame({"noise": 0.0, "lr": 0.1, "data_amount": 100, "width": 4,
    ...                       "bs": [8, 16, 32]})
    >>> errors = [[30, 31, 29], [20, 21, 19], [20, 22, 18]]
    >>> knob_labels(table, errors, "bs")["bs_failure"].tolist()
    ['large', 'optimal', 'optimal']
    """
    from ..lattice import one_step_label  # the lattice imports the zoo's training

    if knob not in KNOB_LABELS:
        raise ValueError(f"The 'knob' parameter must be one of {sorted(KNOB_LABELS)}; got "
                         f"{knob!r}.")
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim != 2 or len(errors) != len(table):
        raise ValueError(
            f"The 'errors' parameter must have shape (n_rows, n_seeds) = ({len(table)}, ...); "
            f"got {errors.shape}."
        )
    column, classes = KNOB_LABELS[knob]
    keys = [k for k in ("noise", "lr", "data_amount", "width", "bs") if k != knob]
    position = {}
    for i, row in enumerate(table[keys + [knob]].itertuples(index=False)):
        position[tuple(row)] = i
    labels, gains, ses = [], [], []
    for i, row in enumerate(table[keys + [knob]].itertuples(index=False)):
        row = tuple(row)
        values = sorted(table.loc[(table[keys] == pd.Series(row[:-1], index=keys)).all(axis=1),
                                  knob])
        where = values.index(row[-1])
        neighbour = {}
        for move, j in (("knob_down", where - 1), ("knob_up", where + 1)):
            if 0 <= j < len(values):
                neighbour[move] = errors[position[row[:-1] + (values[j],)]]
        result = one_step_label(errors[i], neighbour, z=z)
        if result.move == "none":
            labels.append("optimal")
            finite = {m: g for m, g in result.gains.items() if math.isfinite(g)}
            best = max(finite, key=finite.get) if finite else None
        else:
            labels.append(classes[result.move])
            best = result.move
        gains.append(result.gains[best] if best else math.nan)
        ses.append(result.ses[best] if best else math.nan)
    return pd.DataFrame({column: labels, f"{column}_gain": gains, f"{column}_gain_se": ses},
                        index=table.index)
