"""The one-step configuration change of the paper (Appendix A), on a grid of models.

Given a complete grid of trained configurations (a collection) and, for some of its
rows, a move (a grid column and a direction), :func:`one_step_gains` measures the gain
in a metric (``test_acc`` by default) of three step rules:

- ``fixed``: one grid point in the chosen direction;
- ``random``: a grid point drawn uniformly among all those in that direction;
- ``optimal``: the best of them.

A configuration at the end of its range in that direction stays where it is, and a
negative gain counts as zero. :func:`optimal_diagnosis_moves` and
:func:`random_diagnosis_gains` are the paper's upper and lower bounds on the
direction (a diagnosis with 100% accuracy, and a coin flip). The moves of a fitted
MD tree come from :func:`sklearn_mdtree.diagnosis.recommend_moves`; every name here
is also importable from :mod:`sklearn_mdtree.diagnosis`.

The random draws follow the authors' published code (repository
``YefanZhou/ModelDiagnosis``, folder ``one_step``) draw for draw, with a private
:class:`numpy.random.RandomState` instead of the global one: one draw per
configuration with at least one grid point in its direction, in row order, of the
index of the point among those points listed in increasing order of the grid
column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions, validate_params

from ._validation import _check_columns, _check_complete_grid, _check_numeric

__all__ = ["one_step_gains", "optimal_diagnosis_moves", "random_diagnosis_gains"]

_DIRECTIONS = ("increase", "decrease")


def _opposite(direction):
    return "increase" if direction == "decrease" else "decrease"


class _Cube:
    """A complete grid of configurations as a dense array of one metric."""

    def __init__(self, grid, columns, metric):
        what = "grid of one_step_gains"
        _check_columns(grid, [*columns, metric], what=what)
        _check_numeric(grid, [*columns, metric], what=what)
        _check_complete_grid(grid, list(columns), what=what)
        self.columns = tuple(columns)
        self.index = grid.index
        codes, levels = [], []
        for c in columns:
            level, code = np.unique(grid[c].to_numpy(), return_inverse=True)
            levels.append(level)
            codes.append(code)
        self.levels = levels
        self.coords = np.column_stack(codes)  # (n_rows, n_axes), row order of grid
        self.shape = tuple(len(level) for level in levels)
        self.values = np.empty(self.shape, dtype=np.float64)
        self.values[tuple(self.coords.T)] = grid[metric].to_numpy(dtype=np.float64)

    def positions(self, rows):
        """Positions in the grid of the row labels ``rows`` (all rows if None)."""
        if rows is None:
            return np.arange(len(self.index))
        rows = np.asarray(rows).ravel()
        positions = self.index.get_indexer(rows)
        missing = np.flatnonzero(positions < 0)
        if len(missing):
            raise ValueError(
                "The 'rows' parameter must hold row labels of the grid. "
                f"{rows.tolist()[missing[0]]!r} (position {missing[0]}) is not one."
            )
        return positions

    def moves(self, hyperparameter, direction, n_rows):
        """Axis number and +1/-1 of each move, checked."""
        hyper = _broadcast(hyperparameter, n_rows, "hyperparameter")
        direction = _broadcast(direction, n_rows, "direction")
        axis = np.full(n_rows, -1)
        for i, c in enumerate(self.columns):
            axis[hyper == c] = i
        bad = np.flatnonzero(axis < 0)
        if len(bad):
            raise ValueError(
                f"The 'hyperparameter' parameter must name a grid column of "
                f"{list(self.columns)}. Got {hyper[bad[0]]!r} at position {bad[0]}."
            )
        bad = np.flatnonzero(~np.isin(direction, np.asarray(_DIRECTIONS, dtype=object)))
        if len(bad):
            raise ValueError(
                f"The 'direction' parameter must hold only {list(_DIRECTIONS)}. "
                f"Got {direction[bad[0]]!r} at position {bad[0]}."
            )
        return axis, np.where(direction == "increase", 1, -1)

    def n_candidates(self, coords, axis, sign):
        """Number of grid points strictly beyond each configuration, in its direction."""
        here = coords[np.arange(len(axis)), axis]
        size = np.asarray(self.shape)[axis]
        return np.where(sign > 0, size - 1 - here, here)

    def gains(self, coords, axis, sign, draws):
        """Gains of the three step rules; ``draws`` indexes the candidate points."""
        n = len(axis)
        rows = np.arange(n)
        here = coords[rows, axis]
        current = self.values[tuple(coords.T)]
        n_cand = self.n_candidates(coords, axis, sign)
        moves = n_cand > 0

        def value_at(position):
            target = coords.copy()
            target[rows, axis] = np.where(moves, position, here)
            return self.values[tuple(target.T)]

        fixed = value_at(here + sign)
        # candidates listed in increasing order of the column: below, 0 .. here-1;
        # above, here+1 .. size-1
        random = value_at(np.where(sign > 0, here + 1 + draws, draws))
        best = np.empty(n)
        for a in range(len(self.shape)):
            for s in (1, -1):
                pick = (axis == a) & (sign == s)
                if not pick.any():
                    continue
                # running max towards the chosen direction, the current point included
                flipped = np.flip(self.values, a) if s > 0 else self.values
                running = np.maximum.accumulate(flipped, axis=a)
                running = np.flip(running, a) if s > 0 else running
                best[pick] = running[tuple(coords[pick].T)]
        gains = {
            "fixed": fixed - current,
            "random": random - current,
            "optimal": best - current,
        }
        gains = {k: np.where(moves, np.maximum(v, 0.0), 0.0) for k, v in gains.items()}
        return n_cand, current, gains


def _grid_rows(grid, grid_columns, metric, rows):
    """The grid as a :class:`_Cube`, and the positions and grid coordinates of ``rows``."""
    cube = _Cube(grid, tuple(grid_columns), metric)
    positions = cube.positions(rows)
    return cube, positions, cube.coords[positions]


def _broadcast(values, n_rows, name):
    if isinstance(values, str):
        return np.full(n_rows, values, dtype=object)
    array = np.asarray(values, dtype=object).ravel()
    if len(array) != n_rows:
        raise ValueError(
            f"The '{name}' parameter must be a string or have one entry per row "
            f"({n_rows}). Got {len(array)} entries instead."
        )
    return array


def _result(cube, positions, axis, sign, n_cand, current, gains):
    return pd.DataFrame(
        {
            "hyperparameter": np.asarray(cube.columns, dtype=object)[axis],
            "direction": np.where(sign > 0, "increase", "decrease"),
            "n_candidates": n_cand,
            "current": current,
            **gains,
        },
        index=cube.index[positions],
    )


_GRID_PARAMS = {
    "grid": [pd.DataFrame],
    "rows": ["array-like", None],
    "metric": [str],
    "grid_columns": [list, tuple],
    "random_state": ["random_state"],
}


@validate_params(
    {**_GRID_PARAMS, "hyperparameter": ["array-like", str], "direction": ["array-like", str]},
    prefer_skip_nested_validation=True,
)
def one_step_gains(
    grid,
    hyperparameter,
    direction,
    *,
    rows=None,
    metric="test_acc",
    grid_columns=("width", "bs", "data"),
    random_state=None,
):
    """Gain of a one-step configuration change under the fixed, random and optimal rules.

    For each configuration (a row of ``grid``) and its move (a grid column and a
    direction), the candidates are the grid points beyond it in that direction,
    every other column held. The **fixed** step goes to the nearest candidate, the
    **random** step to one drawn uniformly, the **optimal** step to the best one
    (paper, Appendix A.1). A configuration with no candidate (at the end of its
    range) stays; a negative gain counts as zero.

    Parameters
    ----------
    grid : pandas.DataFrame
        A complete grid of configurations (e.g. one collection of
        :func:`~sklearn_mdtree.datasets.fetch_model_diagnosis`), every combination of
        the values of ``grid_columns`` exactly once, with the ``metric`` column.
    hyperparameter : str or array-like of str
        The grid column to change, for every configuration or one per row of
        ``rows`` (e.g. the ``hyperparameter`` column of
        :func:`~sklearn_mdtree.diagnosis.recommend_moves`).
    direction : {"increase", "decrease"} or array-like of them
        Which way, likewise.
    rows : array-like, default=None
        Labels (``grid.index``) of the configurations to change, in the order of the
        random draws; None means every row in ``grid``'s order.
    metric : str, default="test_acc"
        Column whose increase is the gain (the paper: test accuracy, in percent).
    grid_columns : sequence of str, default=("width", "bs", "data")
        The columns that place a row on the grid.
    random_state : int, RandomState instance or None, default=None
        Source of the random step. One draw, in row order, for every configuration
        with at least one candidate: ``randint(0, n_candidates)``, the index among
        the candidates listed in increasing order of the column (the draws of the
        authors' code, with ``RandomState(seed)`` for its ``np.random.seed(seed)``).

    Returns
    -------
    gains : pandas.DataFrame
        Indexed by ``rows``; columns ``hyperparameter``, ``direction``,
        ``n_candidates`` (grid points in that direction), ``current`` (the metric
        now), and the gains ``fixed``, ``random``, ``optimal`` (>= 0, the metric's
        unit). Average a column for the paper's figure.

    Raises
    ------
    ValueError
        If the grid has holes, repeated configurations or missing values, a row
        label is not in the grid, a move names a column outside ``grid_columns``,
        or a direction is not ``"increase"``/``"decrease"``.

    See Also
    --------
    sklearn_mdtree.diagnosis.recommend_moves : Moves from diagnosis labels.
    optimal_diagnosis_moves : The moves of a perfect diagnosis.
    random_diagnosis_gains : The gains of a coin-flip diagnosis.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree.one_step import one_step_gains
    >>> grid = pd.DataFrame({"width": 1, "data": 1, "bs": [16, 32, 64, 128],
    ...                      "test_acc": [80.0, 85.0, 90.0, 70.0]})
    >>> one_step_gains(grid, "bs", "decrease", rows=[2, 3], random_state=0)[
    ...     ["n_candidates", "fixed", "random", "optimal"]]
       n_candidates  fixed  random  optimal
    2             2    0.0     0.0      0.0
    3             3   20.0    15.0     20.0
    """
    cube, positions, coords = _grid_rows(grid, grid_columns, metric, rows)
    axis, sign = cube.moves(hyperparameter, direction, len(positions))
    n_cand = cube.n_candidates(coords, axis, sign)
    draws = np.zeros(len(positions), dtype=np.int64)
    moves = n_cand > 0
    rng = check_random_state(random_state)
    draws[moves] = rng.randint(0, n_cand[moves])  # one call: the same stream as one draw per row
    n_cand, current, gains = cube.gains(coords, axis, sign, draws)
    return _result(cube, positions, axis, sign, n_cand, current, gains)


def _task_moves(task, optimizer, model_size, raise_temperature):
    """The candidate moves of a task, in the order the authors' code lists them."""
    hotter = (optimizer, raise_temperature)  # "inc-temp"
    colder = (optimizer, _opposite(raise_temperature))  # "dec-temp"
    if task == "bs_failure":
        return [hotter, colder]
    return [hotter, colder, (model_size, "increase")]


_TASK_PARAMS = {
    "task": [StrOptions({"bs_failure", "width_vs_batch"})],
    "optimizer": [str],
    "model_size": [str],
    "raise_temperature": [StrOptions({"decrease", "increase"})],
}


@validate_params({**_GRID_PARAMS, **_TASK_PARAMS}, prefer_skip_nested_validation=True)
def optimal_diagnosis_moves(
    grid,
    task="bs_failure",
    *,
    rows=None,
    metric="test_acc",
    grid_columns=("width", "bs", "data"),
    optimizer="bs",
    model_size="width",
    raise_temperature="decrease",
    random_state=None,
):
    """The moves of a perfect diagnosis: the direction with the largest possible gain.

    For Q1 (``task="bs_failure"``) the candidates are raising and lowering the
    temperature; for Q2 (``"width_vs_batch"``) also increasing the model size. Each
    configuration takes the move whose best reachable ``metric`` gains most; ties go
    to the first of raise temperature, lower temperature, increase model size (the
    authors' order). This is the paper's "Optimal diagnosis" row (a diagnosis with
    100% accuracy), the upper bound of Tables 1 and 2.

    Parameters
    ----------
    grid : pandas.DataFrame
        A complete grid; see :func:`one_step_gains`.
    task : {"bs_failure", "width_vs_batch"}, default="bs_failure"
        Q1 or Q2.
    rows : array-like, default=None
        Labels of the configurations to diagnose; None means all rows.
    metric : str, default="test_acc"
        Column whose increase is the gain.
    grid_columns : sequence of str, default=("width", "bs", "data")
        The grid columns.
    optimizer, model_size : str, default="bs", "width"
        Grid columns of the optimizer hyperparameter and of the model size.
    raise_temperature : {"decrease", "increase"}, default="decrease"
        How the optimizer hyperparameter moves to raise the temperature.
    random_state : None
        Unused (the rule is deterministic); accepted so that the three ``*_moves``
        and ``*_gains`` functions share a signature.

    Returns
    -------
    moves : pandas.DataFrame
        Indexed by ``rows``; columns ``hyperparameter`` and ``direction``, ready for
        :func:`one_step_gains`.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree.one_step import optimal_diagnosis_moves
    >>> grid = pd.DataFrame({"width": 1, "data": 1, "bs": [16, 32, 64, 128],
    ...                      "test_acc": [80.0, 85.0, 90.0, 70.0]})
    >>> optimal_diagnosis_moves(grid).direction.tolist()
    ['increase', 'increase', 'decrease', 'decrease']
    """
    cube, positions, coords = _grid_rows(grid, grid_columns, metric, rows)
    candidates = _task_moves(task, optimizer, model_size, raise_temperature)
    best_gain = np.full(len(positions), -np.inf)
    choice = np.zeros(len(positions), dtype=np.intp)
    for i, (hyper, direction) in enumerate(candidates):
        axis, sign = cube.moves(hyper, direction, len(positions))
        _, _, gains = cube.gains(coords, axis, sign, np.zeros(len(positions), dtype=np.int64))
        better = gains["optimal"] > best_gain  # strict: ties keep the earlier move
        choice[better] = i
        best_gain[better] = gains["optimal"][better]
    table = np.asarray(candidates, dtype=object)
    return pd.DataFrame(
        {"hyperparameter": table[choice, 0], "direction": table[choice, 1]},
        index=cube.index[positions],
    )


@validate_params({**_GRID_PARAMS, **_TASK_PARAMS}, prefer_skip_nested_validation=True)
def random_diagnosis_gains(
    grid,
    task="bs_failure",
    *,
    rows=None,
    metric="test_acc",
    grid_columns=("width", "bs", "data"),
    optimizer="bs",
    model_size="width",
    raise_temperature="decrease",
    random_state=None,
):
    """Gains of a coin-flip diagnosis under the three step rules.

    For Q1 each configuration raises or lowers the temperature with equal
    probability; for Q2 it first flips between increasing the model size and
    changing the optimizer, then (if the latter) between raising and lowering the
    temperature. The paper's "Random diagnosis" row, the lower bound of Tables 1
    and 2.

    The draws follow the authors' code: per configuration in row order, the
    direction draw(s) (``randint(0, 2)`` each, first option = 0), then the random
    step's draw as in :func:`one_step_gains`. The step draw's range depends on the
    direction just drawn, so the draws are made one configuration at a time; the
    gains are then computed for all at once.

    Parameters
    ----------
    grid : pandas.DataFrame
        A complete grid; see :func:`one_step_gains`.
    task : {"bs_failure", "width_vs_batch"}, default="bs_failure"
        Q1 or Q2.
    rows : array-like, default=None
        Labels of the configurations; None means all rows.
    metric : str, default="test_acc"
        Column whose increase is the gain.
    grid_columns : sequence of str, default=("width", "bs", "data")
        The grid columns.
    optimizer, model_size : str, default="bs", "width"
        Grid columns of the optimizer hyperparameter and of the model size.
    raise_temperature : {"decrease", "increase"}, default="decrease"
        How the optimizer hyperparameter moves to raise the temperature.
    random_state : int, RandomState instance or None, default=None
        Source of all draws.

    Returns
    -------
    gains : pandas.DataFrame
        As :func:`one_step_gains`, with the drawn moves.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree.one_step import random_diagnosis_gains
    >>> grid = pd.DataFrame({"width": 1, "data": 1, "bs": [16, 32, 64, 128],
    ...                      "test_acc": [80.0, 85.0, 90.0, 70.0]})
    >>> random_diagnosis_gains(grid, random_state=0)[["direction", "fixed"]]
      direction  fixed
    0  decrease    0.0
    1  increase    5.0
    2  decrease    0.0
    3  increase    0.0
    """
    cube, positions, coords = _grid_rows(grid, grid_columns, metric, rows)
    n = len(positions)
    hotter, colder = _task_moves("bs_failure", optimizer, model_size, raise_temperature)
    grow = (model_size, "increase")
    # candidates of each move, for every configuration
    n_cand = {}
    for move in (hotter, colder, grow) if task == "width_vs_batch" else (hotter, colder):
        axis, sign = cube.moves(move[0], move[1], n)
        n_cand[move] = cube.n_candidates(coords, axis, sign)

    rng = check_random_state(random_state)
    chosen = [None] * n
    draws = np.zeros(n, dtype=np.int64)
    for i in range(n):  # sequential by nature: each draw's range depends on the last
        if task == "width_vs_batch" and rng.randint(0, 2) == 0:
            move = grow
        else:
            move = hotter if rng.randint(0, 2) == 0 else colder
        chosen[i] = move
        if n_cand[move][i] > 0:
            draws[i] = rng.randint(0, n_cand[move][i])
    table = np.asarray(chosen, dtype=object).reshape(n, 2)
    axis, sign = cube.moves(table[:, 0], table[:, 1], n)
    n_c, current, gains = cube.gains(coords, axis, sign, draws)
    return _result(cube, positions, axis, sign, n_c, current, gains)
