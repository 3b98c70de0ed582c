"""One-step recommendations from fitted MD trees, and the paper's step rules.

Two halves:

**Recommendation.** :func:`diagnose` turns fitted trees and a model's features into
what to change: a Q1 tree (is the temperature too high or too low?) says which way
to move the optimizer hyperparameter; an optional Q2 tree says whether to grow the
model (or the data) instead. Each recommendation carries the regime (leaf number)
the model falls in, the path of decisions that led there, and the meaning of each
label (:func:`sklearn_mdtree.rfi.label_meaning`). :func:`recommend_moves` is the
same decision rule on label arrays, for any classifier's predictions.

**One-step configuration change** (paper, Appendix A). Given a complete grid of
trained configurations (a collection) and, for some of its rows, a move (a grid
column and a direction), :func:`one_step_gains` measures the gain in a metric
(``test_acc`` by default) of three step rules:

- ``fixed``: one grid point in the chosen direction;
- ``random``: a grid point drawn uniformly among all those in that direction;
- ``optimal``: the best of them.

A configuration at the end of its range in that direction stays where it is, and a
negative gain counts as zero. :func:`optimal_diagnosis_moves` and
:func:`random_diagnosis_gains` are the paper's upper and lower bounds on the
direction (a diagnosis with 100% accuracy, and a coin flip).

The random draws follow the authors' published code (repository
``YefanZhou/ModelDiagnosis``, folder ``one_step``) draw for draw, with a private
:class:`numpy.random.RandomState` instead of the global one: one draw per
configuration with at least one grid point in its direction, in row order, of the
index of the point among those points listed in increasing order of the grid
column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted

from ._classes import MDTreeClassifier
from ._hierarchy import _walk
from .rfi import LabelMeaning, _check_columns, _check_complete_grid, _check_numeric, label_meaning

__all__ = [
    "Decision",
    "Diagnosis",
    "Recommendation",
    "TreeVerdict",
    "diagnose",
    "one_step_gains",
    "optimal_diagnosis_moves",
    "random_diagnosis_gains",
    "recommend_moves",
]

#: Classes of the leaves of each kind of tree, and the label column they answer.
_TASK_OF_CLASSES = {
    frozenset({"small", "large"}): "bs_failure",
    frozenset({"width", "batch"}): "width_vs_batch",
    frozenset({"data", "batch"}): "data_vs_batch",
}
_Q1_TASK = "bs_failure"
_Q2_TASKS = ("width_vs_batch", "data_vs_batch")
_DIRECTIONS = ("increase", "decrease")
_STEP_RULES = ("fixed", "random", "optimal")


# --------------------------------------------------------------------------------------
# Labels -> moves
# --------------------------------------------------------------------------------------


def _opposite(direction):
    return "increase" if direction == "decrease" else "decrease"


@validate_params(
    {
        "q1_labels": ["array-like"],
        "q2_labels": ["array-like", None],
        "optimizer": [str],
        "model_size": [str],
        "data": [str],
        "raise_temperature": [StrOptions({"decrease", "increase"})],
    },
    prefer_skip_nested_validation=True,
)
def recommend_moves(
    q1_labels,
    q2_labels=None,
    *,
    optimizer="bs",
    model_size="width",
    data="data",
    raise_temperature="decrease",
):
    """Turn diagnosis labels into configuration moves (a grid column and a direction).

    The rule of the paper (Appendix A.1):

    - Q1 ``"small"`` (the temperature is too low) raises the temperature: for batch
      size (``raise_temperature="decrease"``) it decreases the batch size;
      ``"large"`` lowers it: it increases the batch size.
    - Q2 ``"width"`` increases the model size, ``"data"`` (the data-vs-optimizer
      variant) the data amount; ``"batch"`` defers to the Q1 label.

    Parameters
    ----------
    q1_labels : array-like of shape (n_models,)
        Q1 labels, ``"small"`` or ``"large"`` (column ``bs_failure``).
    q2_labels : array-like of shape (n_models,), default=None
        Q2 labels, ``"width"``/``"batch"`` or ``"data"``/``"batch"``. None: Q1 alone.
    optimizer, model_size, data : str, default="bs", "width", "data"
        Grid columns the moves name.
    raise_temperature : {"decrease", "increase"}, default="decrease"
        How the optimizer hyperparameter moves to raise the temperature (batch size:
        ``"decrease"``; learning rate: ``"increase"``).

    Returns
    -------
    moves : pandas.DataFrame of shape (n_models, 2)
        Columns ``hyperparameter`` (a grid column name) and ``direction``
        (``"increase"`` or ``"decrease"``).

    Raises
    ------
    ValueError
        If a label is not one of the classes above (the message names the first
        offending position), or the two arrays differ in length.

    Examples
    --------
    >>> from sklearn_mdtree.diagnosis import recommend_moves
    >>> recommend_moves(["small", "large", "small"], ["batch", "batch", "width"])
      hyperparameter direction
    0             bs  decrease
    1             bs  increase
    2          width  increase
    """
    q1 = _label_array(q1_labels, ("small", "large"), "q1_labels")
    lower = _opposite(raise_temperature)
    hyper = np.full(len(q1), optimizer, dtype=object)
    direction = np.where(q1 == "small", raise_temperature, lower).astype(object)
    if q2_labels is not None:
        q2 = _label_array(q2_labels, ("width", "data", "batch"), "q2_labels")
        if len(q2) != len(q1):
            raise ValueError(
                "The 'q1_labels' and 'q2_labels' parameters of recommend_moves must have "
                f"the same length. Got {len(q1)} and {len(q2)} instead."
            )
        grow = q2 != "batch"
        hyper[grow] = np.where(q2[grow] == "width", model_size, data)
        direction[grow] = "increase"
    return pd.DataFrame({"hyperparameter": hyper, "direction": direction})


def _label_array(labels, classes, name):
    values = np.asarray(labels, dtype=object).ravel()
    bad = np.flatnonzero(~np.isin(values, np.asarray(classes, dtype=object)))
    if len(bad):
        raise ValueError(
            f"The '{name}' parameter of recommend_moves must hold only {list(classes)}. "
            f"Got {values[bad[0]]!r} at position {bad[0]} instead."
        )
    return values


# --------------------------------------------------------------------------------------
# Recommendations from fitted trees
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One split on the path of a model through a fitted MD tree.

    Attributes
    ----------
    split : str
        Name of the split node (``"t0"``, ``"t1"``, ...).
    feature : str or int
        The feature the split reads.
    threshold : float
        The fitted threshold.
    value : float
        The model's value of the feature.
    went_left : bool
        True if ``value <= threshold`` (the left branch).
    """

    split: str
    feature: str | int
    threshold: float
    value: float
    went_left: bool

    @property
    def side(self):
        """``"<="`` for the left branch, ``">"`` for the right one."""
        return "<=" if self.went_left else ">"

    def __str__(self):
        return f"{self.feature} = {self.value:.4g} {self.side} {self.threshold:.4g}  [{self.split}]"


@dataclass(frozen=True)
class TreeVerdict:
    """What one fitted tree says about one model.

    Attributes
    ----------
    task : str
        The label column the tree answers: ``"bs_failure"`` (Q1),
        ``"width_vs_batch"`` (Q2) or ``"data_vs_batch"``.
    label : str
        The predicted label.
    regime : int
        The leaf the model falls in (:meth:`MDTreeClassifier.apply`).
    path : tuple of Decision
        The splits from the root to that leaf.
    meaning : LabelMeaning
        What the label means: cause and action, in words.
    """

    task: str
    label: str
    regime: int
    path: tuple
    meaning: LabelMeaning

    def path_text(self):
        """Return the path as one line, splits joined by ``" -> "``."""
        return " -> ".join(str(d) for d in self.path)


@dataclass(frozen=True)
class Recommendation:
    """The one-step change recommended for one model.

    Attributes
    ----------
    model : hashable
        The model's row label in the input.
    action : str
        The change in words, e.g. ``"decrease batch size"``.
    hyperparameter : str
        What to change: the optimizer hyperparameter's name, ``"width"`` or
        ``"data amount"``.
    direction : str
        ``"increase"`` or ``"decrease"``.
    q1 : TreeVerdict
        The Q1 tree's verdict (the direction of the optimizer hyperparameter).
    q2 : TreeVerdict or None
        The Q2 tree's verdict (optimizer or model size / data), if a Q2 tree was given.
    """

    model: object
    action: str
    hyperparameter: str
    direction: str
    q1: TreeVerdict
    q2: TreeVerdict | None = None

    def to_text(self):
        """Return a readable multi-line report of this recommendation."""
        lines = [f"model {self.model}: {self.action}"]
        verdicts = [("Q1", self.q1)] + ([("Q2", self.q2)] if self.q2 is not None else [])
        for name, verdict in verdicts:
            lines.append(
                f"  {name} ({verdict.task}): {verdict.label}, regime {verdict.regime}. "
                f"{verdict.meaning.cause}"
            )
            lines.extend(f"      {decision}" for decision in verdict.path)
        return "\n".join(lines)


class Diagnosis:
    """Recommendations for several models: a sequence, a table, and a text report.

    Returned by :func:`diagnose`; not meant to be built directly.

    Attributes
    ----------
    recommendations : tuple of Recommendation
        One per model, in input order.
    frame : pandas.DataFrame
        One row per model (the input's index): ``action``, ``hyperparameter``,
        ``direction``, then for each tree (``q1_``, ``q2_`` prefixes) ``label``,
        ``regime``, ``path`` (one line of text) and ``cause``.
    """

    def __init__(self, recommendations, frame):
        self.recommendations = tuple(recommendations)
        self.frame = frame

    def __len__(self):
        return len(self.recommendations)

    def __iter__(self):
        return iter(self.recommendations)

    def __getitem__(self, i):
        return self.recommendations[i]

    def to_frame(self):
        """Return a copy of :attr:`frame`."""
        return self.frame.copy()

    def to_text(self):
        """Return the readable report: one block per model."""
        return "\n\n".join(r.to_text() for r in self.recommendations) + "\n"

    def __str__(self):
        return self.to_text()

    def __repr__(self):
        counts = self.frame["action"].value_counts().to_dict() if len(self.frame) else {}
        return f"Diagnosis(n_models={len(self)}, actions={counts})"


def _tree_task(tree, name):
    if not isinstance(tree, MDTreeClassifier):
        raise TypeError(
            f"The '{name}' parameter of diagnose must be a fitted MDTreeClassifier. "
            f"Got {type(tree).__name__} instead."
        )
    check_is_fitted(tree)
    task = getattr(tree.hierarchy_, "task", None)
    if task in _TASK_OF_CLASSES.values():
        return task
    classes = frozenset(str(c) for c in tree.leaf_labels_)
    for known, task in _TASK_OF_CLASSES.items():
        if classes <= known:
            return task
    raise ValueError(
        f"The '{name}' tree of diagnose predicts {sorted(classes)}, which are not the "
        "classes of a diagnosis task: expected a subset of ['large', 'small'] (Q1), "
        "['batch', 'width'] (Q2) or ['batch', 'data'] (data vs optimizer)."
    )


def _as_frame(X):
    """A one-row frame for a Series, the frame itself for a DataFrame."""
    if isinstance(X, pd.Series):
        X = X.to_frame().T.infer_objects()
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            "The 'X' parameter of diagnose must be a pandas DataFrame (one row per "
            f"model) or a Series (one model). Got {type(X).__name__} instead."
        )
    if len(X) == 0:
        raise ValueError("The 'X' parameter of diagnose has no rows.")
    return X


def _decision_paths(tree, X):
    """Per row of ``X``, the ``(split, went_left)`` pairs from the root to its leaf.

    Read off the fitted tree's :meth:`MDTreeClassifier.decision_path`, so that the
    routing is the tree's own. Its nodes are numbered in pre-order (as
    :func:`~sklearn_mdtree._hierarchy._walk` visits ``hierarchy_``): a row's nodes in
    increasing order run from the root to the leaf, and a split's left child is the
    node right after it.
    """
    nodes = list(_walk(tree.hierarchy_.root))
    indicator = tree.decision_path(X)  # CSR with sorted indices
    paths = []
    for start, stop in zip(indicator.indptr[:-1], indicator.indptr[1:]):
        visited = indicator.indices[start:stop]
        paths.append(
            [(nodes[node], child == node + 1) for node, child in zip(visited, visited[1:])]
        )
    return paths


def _feature_values(X, feature):
    if isinstance(feature, str):
        return X[feature].to_numpy(dtype=np.float64)
    return X.iloc[:, feature].to_numpy(dtype=np.float64)


def _verdicts(tree, task, X):
    """TreeVerdicts of every row, plus the columns of the frame, for one tree."""
    regimes = tree.apply(X)  # validates X: columns, numbers, no NaN
    labels = tree.leaf_labels_[regimes].astype(str)
    values = {f: _feature_values(X, f) for f in tree.hierarchy_.features()}
    paths = [
        tuple(
            Decision(
                split=split.name,
                feature=split.feature,
                threshold=float(tree.thresholds_[split.name]),
                value=float(values[split.feature][i]),
                went_left=bool(went_left),
            )
            for split, went_left in path
        )
        for i, path in enumerate(_decision_paths(tree, X))
    ]
    meanings = {lab: label_meaning(task, lab) for lab in np.unique(labels)}
    verdicts = [
        TreeVerdict(task, lab, int(r), p, meanings[lab])
        for lab, r, p in zip(labels, regimes, paths)
    ]
    columns = {
        "label": labels,
        "regime": regimes,
        "path": [v.path_text() for v in verdicts],
        "cause": [meanings[lab].cause for lab in labels],
    }
    return verdicts, columns


@validate_params(
    {
        "q1_tree": [MDTreeClassifier],
        "X": [pd.DataFrame, pd.Series],
        "q2_tree": [MDTreeClassifier, None],
        "optimizer_name": [str],
        "raise_temperature": [StrOptions({"decrease", "increase"})],
    },
    prefer_skip_nested_validation=True,
)
def diagnose(
    q1_tree, X, *, q2_tree=None, optimizer_name="batch size", raise_temperature="decrease"
):
    """Recommend a one-step configuration change for each model, with the reasons.

    The Q1 tree says whether the optimizer's temperature is too low (``"small"``:
    for batch size, decrease it) or too high (``"large"``: increase it). With a Q2
    tree, a model whose Q2 label is ``"width"`` (or ``"data"``) is told to grow the
    model (or its data) instead; ``"batch"`` defers to the Q1 direction -- the
    paper's procedure (Appendix A.1).

    Parameters
    ----------
    q1_tree : MDTreeClassifier
        A fitted Q1 tree (leaves ``"small"``/``"large"``), e.g.
        ``MDTreeClassifier("q1").fit(F, F["bs_failure"])``.
    X : pandas.DataFrame or pandas.Series
        The models' features, one row per model (a Series for one model), with the
        columns the trees' splits use (others are ignored).
    q2_tree : MDTreeClassifier, default=None
        A fitted Q2 tree (leaves ``"width"``/``"batch"``, or ``"data"``/``"batch"``).
    optimizer_name : str, default="batch size"
        Name of the optimizer hyperparameter in the recommendations.
    raise_temperature : {"decrease", "increase"}, default="decrease"
        How that hyperparameter moves to raise the temperature (``"decrease"`` for
        batch size, ``"increase"`` for learning rate). The label meanings
        (``cause``) are worded for batch size, as in :mod:`sklearn_mdtree.rfi`.

    Returns
    -------
    diagnosis : Diagnosis
        Iterable of :class:`Recommendation` (``diagnosis[0].action``,
        ``diagnosis[0].q1.path``), with ``diagnosis.frame`` (a DataFrame indexed
        like ``X``) and ``diagnosis.to_text()`` (a readable report).

    Raises
    ------
    TypeError
        If a tree is not a fitted :class:`MDTreeClassifier`, or ``X`` not a
        DataFrame or Series.
    ValueError
        If a tree's classes are not those of a diagnosis task, the trees are of the
        wrong kinds (a Q2 tree as ``q1_tree``), or ``X`` lacks a column the trees
        use or has NaN in it.

    See Also
    --------
    recommend_moves : The same rule on label arrays (grid columns and directions).
    sklearn_mdtree.rfi.label_meaning : What each label means.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier
    >>> from sklearn_mdtree.diagnosis import diagnose
    >>> F = pd.DataFrame({"train_error": [0.1, 5.0, 6.0],
    ...                   "mode_connectivity_peak": [-1.0, -40.0, -2.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0]})
    >>> q1 = MDTreeClassifier("q1").fit(F, ["small", "large", "large"])
    >>> result = diagnose(q1, F.iloc[[1]])
    >>> result[0].action
    'increase batch size'
    >>> result[0].q1.regime, [d.side for d in result[0].q1.path]
    (1, ['>', '<=', '<='])
    >>> print(result.to_text())  # doctest: +NORMALIZE_WHITESPACE
    model 1: increase batch size
      Q1 (bs_failure): large, regime 1. The temperature is too high: the batch size is too small.
          train_error = 5 > 1  [t0]
          mode_connectivity_peak = -40 <= -6.159e-06  [t1]
          hessian_t = 5 <= 7.09  [t2]
    <BLANKLINE>
    """
    X = _as_frame(X)
    q1_task = _tree_task(q1_tree, "q1_tree")
    if q1_task != _Q1_TASK:
        raise ValueError(
            "The 'q1_tree' parameter of diagnose must be a Q1 tree (leaves 'small' / "
            f"'large'). Got a tree for {q1_task!r} instead."
        )
    q1_verdicts, q1_columns = _verdicts(q1_tree, q1_task, X)
    q2_verdicts, q2_columns, q2_labels = [None] * len(X), {}, None
    if q2_tree is not None:
        q2_task = _tree_task(q2_tree, "q2_tree")
        if q2_task not in _Q2_TASKS:
            raise ValueError(
                "The 'q2_tree' parameter of diagnose must be a Q2 tree (leaves "
                "'width'/'batch' or 'data'/'batch'). Got a tree for 'bs_failure' instead."
            )
        q2_verdicts, q2_columns = _verdicts(q2_tree, q2_task, X)
        q2_labels = q2_columns["label"]

    moves = recommend_moves(
        q1_columns["label"], q2_labels, optimizer=optimizer_name, model_size="width",
        data="data amount", raise_temperature=raise_temperature,
    )
    actions = (moves["direction"] + " " + moves["hyperparameter"]).to_numpy()
    frame = pd.DataFrame(
        {
            "action": actions,
            "hyperparameter": moves["hyperparameter"].to_numpy(),
            "direction": moves["direction"].to_numpy(),
            **{f"q1_{k}": v for k, v in q1_columns.items()},
            **{f"q2_{k}": v for k, v in q2_columns.items()},
        },
        index=X.index,
    )
    recommendations = [
        Recommendation(model, action, hyper, direction, v1, v2)
        for model, action, hyper, direction, v1, v2 in zip(
            X.index, actions, frame["hyperparameter"], frame["direction"],
            q1_verdicts, q2_verdicts,
        )
    ]
    return Diagnosis(recommendations, frame)


# --------------------------------------------------------------------------------------
# One-step configuration change on a grid (Appendix A)
# --------------------------------------------------------------------------------------


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
        ``rows`` (e.g. the ``hyperparameter`` column of :func:`recommend_moves`).
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
    recommend_moves : Moves from diagnosis labels.
    optimal_diagnosis_moves : The moves of a perfect diagnosis.
    random_diagnosis_gains : The gains of a coin-flip diagnosis.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree.diagnosis import one_step_gains
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
    >>> from sklearn_mdtree.diagnosis import optimal_diagnosis_moves
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
    >>> from sklearn_mdtree.diagnosis import random_diagnosis_gains
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
