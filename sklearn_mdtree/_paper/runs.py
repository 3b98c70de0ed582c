"""The paper's experiments, run: Table B, the curves and the one-step tables.

Every experiment is scikit-learn's own machinery: a
:class:`~sklearn_mdtree.model_selection.FewShotTransfer` splitter and
:func:`~sklearn.model_selection.cross_val_score` (the one-step tables:
:mod:`sklearn_mdtree.one_step`), on the settings of
:mod:`sklearn_mdtree._paper.settings`. Each result row holds ours beside the
reference figure and the gap.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.tree import DecisionTreeClassifier

from ..compare import LOSS_LANDSCAPE, VALID, method_estimator, score
from ..diagnosis import recommend_moves
from ..model_selection import FewShotTransfer, seeded_cross_val_score
from ..one_step import one_step_gains, optimal_diagnosis_moves, random_diagnosis_gains
from .settings import (
    FIGURES,
    ONE_STEP_METHODS,
    ONE_STEP_SETTINGS,
    OPTIMAL,
    PAPER_ONE_STEP,
    PAPER_TABLE_B,
    RANDOM,
    SEEDS,
    STEP_RULES,
    TABLE_B,
    TABLE_B_METHODS,
    VALID_ONE_STEP,
)

#: Column of the Q2 one-step pool label (see :func:`one_step_seed`).
_Q2_POOL = "_one_step_q2"


def _score_curve(frame, setting, method, ks):
    """Scores of one method for every ``k`` of a curve: ``{k: scores}``."""
    return {k: score(frame, replace(setting, k=k), method) for k in ks}


def _run(jobs, n_jobs, progress, desc):
    """Run ``(key, function, args)`` jobs with joblib; a tqdm bar if ``progress``."""
    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    results = parallel(delayed(function)(*args) for _, function, args in jobs)
    if progress:
        from tqdm.auto import tqdm

        results = tqdm(results, total=len(jobs), desc=desc, unit="run")
    return {key: value for (key, _, _), value in zip(jobs, results)}


def _beside_paper(scores, paper):
    """Columns of a result row: ``ours`` (mean over seeds), ``std``, ``paper``, ``gap``."""
    scores = np.asarray(scores, dtype=np.float64)
    ours = scores.mean()
    return {"ours": ours, "std": scores.std(), "paper": paper, "gap": ours - paper}


def table_b(frame, *, methods=TABLE_B_METHODS, n_jobs=None, progress=False):
    """Table B: every case and method, ours beside the paper's figure.

    Parameters
    ----------
    frame : pandas.DataFrame
        Both collections stacked.
    methods : sequence of str, default=TABLE_B_METHODS
    n_jobs : int or None, default=None
        joblib workers for the (case, method) runs.
    progress : bool, default=False
        Show a tqdm progress bar.

    Returns
    -------
    table : pandas.DataFrame
        One row per (case, method): ``case``, ``task``, ``training set``, ``rows``
        (training rows per seed), ``method``, ``ours`` (mean over seeds), ``std``,
        ``paper`` (NaN where the reference has none), ``gap`` (ours - paper).
    """
    jobs = [
        ((case, method), score, (frame, setting, method))
        for case, (_, setting) in enumerate(TABLE_B, start=1)
        for method in methods
    ]
    scores = _run(jobs, n_jobs, progress, "Table B")
    rows = []
    for case, (description, setting) in enumerate(TABLE_B, start=1):
        cv = FewShotTransfer(setting.scheme, setting.k, label=setting.task, frame=frame)
        n_train = sorted({len(train) for train, _ in cv.split(frame)})
        for method in methods:
            paper = PAPER_TABLE_B[case - 1].get(method, np.nan)
            rows.append(
                {
                    "case": case,
                    "task": "Q1" if setting.task == "bs_failure" else "Q2",
                    "training set": description.split(", ", 1)[1],
                    "rows": "/".join(map(str, n_train)),
                    "method": method,
                    **_beside_paper(scores[case, method], paper),
                }
            )
    return pd.DataFrame(rows)


def figure_curves(frame, *, figures=FIGURES, n_jobs=None, progress=False):
    """The curves of the figures: mean accuracy per figure, method and ``k``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Both collections stacked.
    figures : sequence of Figure, default=FIGURES
    n_jobs : int or None, default=None
    progress : bool, default=False

    Returns
    -------
    curves : pandas.DataFrame
        Long format: ``figure``, ``method``, ``k``, ``ours``, ``std``, ``paper``
        (NaN where the reference has none), ``gap``.
    """
    jobs = [
        ((fig.name, method), _score_curve, (frame, fig.setting, method, fig.ks))
        for fig in figures
        for method in fig.methods
    ]
    curves = _run(jobs, n_jobs, progress, "Figures")
    rows = []
    for fig in figures:
        for method in fig.methods:
            reference = fig.reference.get(method, (np.nan,) * len(fig.ks))
            for k, paper in zip(fig.ks, reference):
                rows.append(
                    {
                        "figure": fig.name,
                        "method": method,
                        "k": k,
                        **_beside_paper(curves[fig.name, method][k], paper),
                    }
                )
    return pd.DataFrame(rows)


def _one_step_frame(frame):
    """The stacked frame with the Q2 pool label: optimal for Q1 or Q2 -> optimal."""
    q2 = frame["width_vs_batch"].where(frame["bs_failure"] != "optimal", "optimal")
    return frame.assign(**{_Q2_POOL: q2})


def _fit_predict(method, setting, train, test, task, preset):
    """Predictions on ``test`` of ``method`` fitted on ``train`` for ``task``."""
    estimator, features = method_estimator(
        method, replace(setting, preset=preset), valid=VALID_ONE_STEP
    )
    if features is None:
        return estimator.fit(train, train[task]).predict(test)
    return estimator.fit(train[features], train[task]).predict(test[features])


def one_step_seed(frame, question, method, seed):
    """Mean gains (points) of one method in one question for one seed.

    Parameters
    ----------
    frame : pandas.DataFrame
        Both collections stacked, with a RangeIndex.
    question : {"Q1", "Q2"}
    method : str
        One of :data:`ONE_STEP_METHODS`.
    seed : int

    Returns
    -------
    gains : dict
        ``{"fixed": ..., "random": ..., "optimal": ...}`` means over the test rows.
    """
    setting = ONE_STEP_SETTINGS[question]
    frame = _one_step_frame(frame)
    pool_label = setting.task if question == "Q1" else _Q2_POOL
    cv = FewShotTransfer(setting.scheme, setting.k, label=pool_label, seeds=[seed], frame=frame)
    (train_rows, test_rows), = cv.split(frame)
    grid = frame[frame["collection"] == "noise"]
    task = "bs_failure" if question == "Q1" else "width_vs_batch"
    if method == OPTIMAL:
        moves = optimal_diagnosis_moves(grid, task, rows=test_rows)
        gains = one_step_gains(
            grid, moves["hyperparameter"], moves["direction"], rows=test_rows,
            random_state=np.random.RandomState(seed),
        )
    elif method == RANDOM:
        gains = random_diagnosis_gains(
            grid, task, rows=test_rows, random_state=np.random.RandomState(seed)
        )
    else:
        train, test = frame.iloc[train_rows], frame.iloc[test_rows]
        q1 = _fit_predict(method, setting, train, test, "bs_failure", "q1")
        q2 = None
        if question == "Q2":
            q2 = _fit_predict(method, setting, train, test, "width_vs_batch", "q2")
        moves = recommend_moves(q1, q2)
        gains = one_step_gains(
            grid, moves["hyperparameter"].to_numpy(), moves["direction"].to_numpy(),
            rows=test_rows, random_state=cv.split_random_states(frame)[0],
        )
    return {rule: float(gains[rule].mean()) for rule in STEP_RULES}


def one_step_table(frame, question, *, methods=ONE_STEP_METHODS, n_jobs=None, progress=False):
    """Table 1 (``"Q1"``) or Table 2 (``"Q2"``): ours beside the paper's figures.

    Parameters
    ----------
    frame : pandas.DataFrame
        Both collections stacked.
    question : {"Q1", "Q2"}
    methods : sequence of str, default=ONE_STEP_METHODS
    n_jobs : int or None, default=None
    progress : bool, default=False

    Returns
    -------
    table : pandas.DataFrame
        One row per (method, step rule): ``method``, ``step``, ``ours`` (mean over
        seeds), ``std`` (over seeds), ``paper``, ``gap``.
    """
    jobs = [
        ((method, seed), one_step_seed, (frame, question, method, seed))
        for method in methods
        for seed in SEEDS
    ]
    results = _run(jobs, n_jobs, progress, f"One-step {question}")
    rows = []
    for method in methods:
        paper = PAPER_ONE_STEP[question].get(method, (np.nan,) * 3)
        for rule, ref in zip(STEP_RULES, paper):
            values = [results[method, seed][rule] for seed in SEEDS]
            rows.append({"method": method, "step": rule, **_beside_paper(values, ref)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# The seeded variants quoted in the report
# --------------------------------------------------------------------------------------


def fig17_seeded(frame, figure):
    """Loss-landscape+DT of Fig 17 with random_state = each split's seed (not 42).

    Parameters
    ----------
    frame : pandas.DataFrame
        Both collections stacked.
    figure : Figure
        Figure 17 of :data:`FIGURES`.

    Returns
    -------
    values : ndarray of shape (len(figure.ks),)
        Mean accuracy (percent) per ``k``.
    """
    values = []
    tree = DecisionTreeClassifier(criterion="gini", max_depth=4)
    features = list(LOSS_LANDSCAPE)
    for k in figure.ks:
        cv = FewShotTransfer(figure.setting.scheme, k, label=figure.setting.task, frame=frame)
        scores = seeded_cross_val_score(tree, frame[features], frame[figure.setting.task], cv=cv)
        values.append(100 * scores.mean())
    return np.array(values)


def valid_seeded(frame):
    """Valid+DT of Table B with random_state = each split's seed, per case.

    Parameters
    ----------
    frame : pandas.DataFrame
        Both collections stacked.

    Returns
    -------
    values : dict of int to float
        Mean accuracy (percent) per case number.
    """
    tree = DecisionTreeClassifier(criterion="gini", max_depth=4)
    values = {}
    for case, (_, setting) in enumerate(TABLE_B, start=1):
        cv = FewShotTransfer(setting.scheme, setting.k, label=setting.task, frame=frame)
        X, y = frame[list(VALID)], frame[setting.task]
        values[case] = 100 * seeded_cross_val_score(tree, X, y, cv=cv).mean()
    return values
