"""One-step recommendations from fitted MD trees: the routing and the rule.

:func:`recommend` turns fitted trees and a model's features into what to change: a Q1
tree (is the temperature too high or too low?) says which way to move the optimizer
hyperparameter; an optional Q2 tree says whether to grow the model (or the data)
instead. Each recommendation carries the regime (leaf number) the model falls in, the
path of decisions that led there, and the meaning of each label
(:func:`sklearn_mdtree.rfi.label_meaning`). :func:`recommend_moves` is the same
decision rule on label arrays, for any classifier's predictions.

How much such a move gains on a grid of trained models (the paper's Appendix A:
:func:`~sklearn_mdtree.one_step.one_step_gains`,
:func:`~sklearn_mdtree.one_step.optimal_diagnosis_moves`,
:func:`~sklearn_mdtree.one_step.random_diagnosis_gains`) lives in
:mod:`sklearn_mdtree.one_step`; those names are importable from
:mod:`sklearn_mdtree.diagnosis` too. The full report (domain of validity, margins,
confidence) is :func:`sklearn_mdtree.diagnose`, which calls :func:`recommend`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted

from .._classes import MDTreeClassifier
from .._hierarchy import _walk
from ..one_step import _opposite
from .._vocabulary import Q1_TASK, Q2_TASKS
from ..rfi import LabelMeaning, label_meaning

__all__ = [
    "Decision",
    "Diagnosis",
    "Recommendation",
    "TreeVerdict",
    "recommend",
    "recommend_moves",
]

#: Classes of the leaves of each kind of tree, and the label column they answer.
_TASK_OF_CLASSES = {
    frozenset({"small", "large"}): "bs_failure",
    frozenset({"width", "batch"}): "width_vs_batch",
    frozenset({"data", "batch"}): "data_vs_batch",
}
_Q1_TASK = Q1_TASK
_Q2_TASKS = Q2_TASKS


# --------------------------------------------------------------------------------------
# Labels -> moves
# --------------------------------------------------------------------------------------


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

    Examples
    --------
    >>> from sklearn_mdtree.diagnosis import Decision
    >>> decision = Decision("t0", "train_error", 1.0, 5.0, went_left=False)
    >>> decision.side
    '>'
    >>> print(decision)
    train_error = 5 > 1  [t0]
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

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier
    >>> from sklearn_mdtree.diagnosis import recommend
    >>> F = pd.DataFrame({"train_error": [0.1, 5.0, 6.0],
    ...                   "mode_connectivity_peak": [-1.0, -40.0, -2.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0]})
    >>> q1 = MDTreeClassifier("q1").fit(F, ["small", "large", "large"])
    >>> verdict = recommend(q1, F.iloc[[1]])[0].q1
    >>> verdict.task, str(verdict.label), verdict.regime
    ('bs_failure', 'large', 1)
    >>> [decision.split for decision in verdict.path]
    ['t0', 't1', 't2']
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

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier
    >>> from sklearn_mdtree.diagnosis import recommend
    >>> F = pd.DataFrame({"train_error": [0.1, 5.0, 6.0],
    ...                   "mode_connectivity_peak": [-1.0, -40.0, -2.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0]})
    >>> q1 = MDTreeClassifier("q1").fit(F, ["small", "large", "large"])
    >>> recommendation = recommend(q1, F.iloc[[1]])[0]
    >>> recommendation.action, recommendation.hyperparameter, recommendation.direction
    ('increase batch size', 'batch size', 'increase')
    >>> recommendation.q2 is None
    True
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

    Returned by :func:`recommend`; not meant to be built directly.

    Attributes
    ----------
    recommendations : tuple of Recommendation
        One per model, in input order.
    frame : pandas.DataFrame
        One row per model (the input's index): ``action``, ``hyperparameter``,
        ``direction``, then for each tree (``q1_``, ``q2_`` prefixes) ``label``,
        ``regime``, ``path`` (one line of text) and ``cause``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier
    >>> from sklearn_mdtree.diagnosis import recommend
    >>> F = pd.DataFrame({"train_error": [0.1, 5.0, 6.0],
    ...                   "mode_connectivity_peak": [-1.0, -40.0, -2.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0]})
    >>> q1 = MDTreeClassifier("q1").fit(F, ["small", "large", "large"])
    >>> result = recommend(q1, F)
    >>> len(result), result[1].action
    (3, 'increase batch size')
    >>> list(result.frame.columns[:3])
    ['action', 'hyperparameter', 'direction']
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
def recommend(
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
    >>> from sklearn_mdtree.diagnosis import recommend
    >>> F = pd.DataFrame({"train_error": [0.1, 5.0, 6.0],
    ...                   "mode_connectivity_peak": [-1.0, -40.0, -2.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0]})
    >>> q1 = MDTreeClassifier("q1").fit(F, ["small", "large", "large"])
    >>> result = recommend(q1, F.iloc[[1]])
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
            "The 'q1_tree' parameter of recommend must be a Q1 tree (leaves 'small' / "
            f"'large'). Got a tree for {q1_task!r} instead."
        )
    q1_verdicts, q1_columns = _verdicts(q1_tree, q1_task, X)
    q2_verdicts, q2_columns, q2_labels = [None] * len(X), {}, None
    if q2_tree is not None:
        q2_task = _tree_task(q2_tree, "q2_tree")
        if q2_task not in _Q2_TASKS:
            raise ValueError(
                "The 'q2_tree' parameter of recommend must be a Q2 tree (leaves "
                "'width'/'batch' or 'data'/'batch'). Got a tree for "
                f"{q2_task!r} instead."
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

