"""The paper's experiments as data, and the functions that run them.

Private: shared by the ``mdtree`` command line (:mod:`sklearn_mdtree._cli`) and
``benchmarks/reproduce.py``, so that both print the same numbers from one
definition. Every experiment is scikit-learn's own machinery: a
:class:`~sklearn_mdtree.model_selection.FewShotTransfer` splitter and
:func:`~sklearn.model_selection.cross_val_score`.

The reference figures (``PAPER_*``) are those of ``shared/reference/paper_results.md``:
the authors' published code run unchanged on the public collections with
scikit-learn 1.9.1 (for the MD tree, the paper's own table), in percent, means over
the seeds 42, 90, 38, 18, 72.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.model_selection import cross_val_score
from sklearn.tree import DecisionTreeClassifier

from ._classes import MDTreeClassifier
from .diagnosis import (
    one_step_gains,
    optimal_diagnosis_moves,
    random_diagnosis_gains,
    recommend_moves,
)
from .model_selection import DEFAULT_SEEDS, FewShotTransfer

SEEDS = DEFAULT_SEEDS

#: The random_state of every baseline decision tree: the authors' code sets it to the
#: first seed once and keeps it for all seeds (see ``seeded_cross_val_score``).
DT_RANDOM_STATE = 42

VALID = ("train_error", "train_loss", "test_loss", "test_error")
LOSS_LANDSCAPE = ("train_error", "mode_connectivity_peak", "CKA", "hessian_t")
HYPER_Q1 = ("log_data_amount", "log_para_amount")
HYPER_Q2 = ("log_data_amount",)
HYPER_DATA = ("log_para_amount",)

#: The validation features in the order of the authors' one-step scripts. A decision
#: tree breaks ties between equally good splits by feature order, so the order matters.
VALID_ONE_STEP = ("train_loss", "train_error", "test_error", "test_loss")

BRENT = "MD tree (Brent)"
EXHAUSTIVE = "MD tree (exhaustive)"
HYPER_DT = "Hyper+DT"
VALID_DT = "Valid+DT"
HYPER_VALID_DT = "Hyper+Valid+DT"
LL_DT = "Loss-landscape+DT"
OPTIMAL = "Optimal diagnosis"
RANDOM = "Random diagnosis"

#: Methods of Table B, in the order of its columns.
TABLE_B_METHODS = (HYPER_DT, VALID_DT, HYPER_VALID_DT, LL_DT, BRENT, EXHAUSTIVE)


@dataclass(frozen=True)
class Setting:
    """One transfer experiment: task, training-set sampling, and the MD tree used.

    Attributes
    ----------
    task : str
        Label column: ``"bs_failure"`` (Q1), ``"width_vs_batch"`` (Q2),
        ``"data_vs_batch"``.
    scheme : str
        A :data:`~sklearn_mdtree.model_selection.SCHEMES` name.
    k : int or float
        Groups drawn or largest value kept.
    preset : str
        MD tree hierarchy preset.
    hyper : tuple of str
        Features of the Hyper+DT baseline.
    min_width : float or None
        Models narrower than this are left out (data vs optimizer: 32).
    """

    task: str
    scheme: str
    k: float
    preset: str
    hyper: tuple
    min_width: float | None = None


def method_features(method, setting):
    """The estimator and the feature columns of a method in a setting.

    Parameters
    ----------
    method : str
        One of :data:`TABLE_B_METHODS`.
    setting : Setting

    Returns
    -------
    estimator : estimator object
    features : list of str
    """
    if method == BRENT:
        return MDTreeClassifier(setting.preset), None
    if method == EXHAUSTIVE:
        return MDTreeClassifier(setting.preset, threshold_search="exhaustive"), None
    features = {
        HYPER_DT: setting.hyper,
        VALID_DT: VALID,
        HYPER_VALID_DT: setting.hyper + VALID,
        LL_DT: LOSS_LANDSCAPE,
    }
    if method not in features:
        raise ValueError(f"Unknown method {method!r}; known: {list(TABLE_B_METHODS)}.")
    tree = DecisionTreeClassifier(criterion="gini", max_depth=4, random_state=DT_RANDOM_STATE)
    return tree, list(features[method])


def score(frame, setting, method, seeds=SEEDS):
    """Diagnosis accuracy (percent) on F' of one method in one setting, per seed.

    Parameters
    ----------
    frame : pandas.DataFrame
        Both collections stacked (``fetch_model_diagnosis("both").frame``).
    setting : Setting
    method : str
    seeds : sequence of int, default=SEEDS

    Returns
    -------
    scores : ndarray of shape (n_seeds,)
    """
    estimator, features = method_features(method, setting)
    cv = FewShotTransfer(
        setting.scheme, setting.k, label=setting.task, seeds=seeds,
        min_width=setting.min_width, frame=frame,
    )
    X = frame if features is None else frame[features]
    return 100 * cross_val_score(estimator, X, frame[setting.task], cv=cv, error_score="raise")


def _score_curve(frame, setting, method, ks):
    """Scores of one method for every ``k`` of a curve: ``{k: scores}``."""
    return {k: score(frame, replace(setting, k=k), method) for k in ks}


# --------------------------------------------------------------------------------------
# Table B and the curves
# --------------------------------------------------------------------------------------

#: Table B of paper_results.md: (description, setting).
TABLE_B = (
    ("Q1, 8 random (data, width) pairs", Setting("bs_failure", "random_pairs", 8, "q1", HYPER_Q1)),
    ("Q1, data <= 1 (5K images)", Setting("bs_failure", "data_limit", 1, "q1", HYPER_Q1)),
    ("Q1, width <= 2", Setting("bs_failure", "width_limit", 2, "q1", HYPER_Q1)),
    ("Q2, 1 random data fraction", Setting("width_vs_batch", "random_data", 1, "q2", HYPER_Q2)),
    ("Q2, data <= 1", Setting("width_vs_batch", "data_limit", 1, "q2", HYPER_Q2)),
)

#: The reference figures of Table B (None: not in the reference table).
PAPER_TABLE_B = (
    {HYPER_DT: 49.56, VALID_DT: 73.54, BRENT: 87.70},
    {HYPER_DT: 64.74, VALID_DT: 51.73, BRENT: 75.90},
    {HYPER_DT: 60.13, VALID_DT: 67.95, BRENT: 82.56},
    {HYPER_DT: 53.55, VALID_DT: 56.65, BRENT: 74.11},
    {HYPER_DT: 53.55, VALID_DT: 65.74, BRENT: 78.17},
)


@dataclass(frozen=True)
class Figure:
    """A curve figure of the paper: accuracy against ``k`` for several methods.

    Attributes
    ----------
    name : str
        ``"3a"``, ``"17"``, ...
    title : str
    xlabel : str
    setting : Setting
        The setting; ``k`` is replaced by each value of ``ks``.
    ks : tuple
    methods : tuple of str
    reference : dict of str to tuple of float
        The paper's values per method, one per ``k``.
    """

    name: str
    title: str
    xlabel: str
    setting: Setting
    ks: tuple
    methods: tuple
    reference: dict = field(default_factory=dict)


_KS_3A = (1, 2, 4, 8, 12, 16, 24)
_WIDTHS = (2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128)
_Q1_METHODS = (BRENT, EXHAUSTIVE, HYPER_DT, VALID_DT, HYPER_VALID_DT, LL_DT)
_Q2_METHODS = (BRENT, EXHAUSTIVE, HYPER_DT, VALID_DT, HYPER_VALID_DT, LL_DT)
_FIG_3A = (76.64, 81.23, 82.03, 87.71, 88.87, 88.94, 88.79)

FIGURES = (
    Figure(
        "3a", "Q1, dataset transfer: k random (data, width) pairs", "k (pairs; 12 models each)",
        Setting("bs_failure", "random_pairs", 1, "q1", HYPER_Q1), _KS_3A, _Q1_METHODS,
        {BRENT: _FIG_3A},
    ),
    Figure(
        "3b", "Q1, scale transfer: data <= k", "k (largest data amount, tenths of CIFAR-10)",
        Setting("bs_failure", "data_limit", 1, "q1", HYPER_Q1), tuple(range(1, 11)), _Q1_METHODS,
        {BRENT: (75.90, 82.69, 81.60, 90.19, 90.90, 91.22, 91.22, 91.22, 90.90, 91.41)},
    ),
    Figure(
        "3c", "Q1, scale transfer: width <= k", "k (largest width)",
        Setting("bs_failure", "width_limit", 2, "q1", HYPER_Q1), _WIDTHS, _Q1_METHODS,
        {BRENT: (82.56, 82.82, 82.82, 91.28, 90.90, 91.03, 91.03) + (91.09,) * 5 + (91.41,)},
    ),
    Figure(
        "6a", "Q2, dataset transfer: k random data fractions", "k (data fractions)",
        Setting("width_vs_batch", "random_data", 1, "q2", HYPER_Q2), tuple(range(1, 11)),
        _Q2_METHODS,
        {BRENT: (74.11, 75.42, 76.88, 77.84, 77.90, 79.30, 79.09, 79.31, 79.53, 79.56)},
    ),
    Figure(
        "6b", "Q2, scale transfer: data <= k", "k (largest data amount)",
        Setting("width_vs_batch", "data_limit", 1, "q2", HYPER_Q2), tuple(range(1, 11)),
        _Q2_METHODS,
        {BRENT: (78.17, 80.90, 79.50, 79.50, 79.50, 77.50, 78.17, 78.53, 78.41, 79.56)},
    ),
    Figure(
        "17", "Q1, MD tree against a free decision tree on the same loss-landscape metrics",
        "k (pairs; 12 models each)",
        Setting("bs_failure", "random_pairs", 1, "q1", HYPER_Q1), _KS_3A, (BRENT, LL_DT),
        {BRENT: _FIG_3A, LL_DT: (67.92, 68.87, 78.15, 85.40, 85.38, 84.24, 86.31)},
    ),
    Figure(
        "24", "Data vs optimizer (width >= 32): k random widths", "k (widths)",
        Setting("data_vs_batch", "random_width", 1, "q2_data", HYPER_DATA, min_width=32),
        tuple(range(1, 6)), _Q2_METHODS,
        {BRENT: (76.66, 77.82, 78.80, 79.27, 79.34)},
    ),
    Figure(
        "28", "Q1 with similarity (CKA) instead of sharpness: k random pairs",
        "k (pairs; 12 models each)",
        Setting("bs_failure", "random_pairs", 1, "q1_similarity", HYPER_Q1), _KS_3A,
        (BRENT, EXHAUSTIVE, HYPER_DT, VALID_DT),
        {BRENT: (77.08, 83.41, 86.36, 87.60, 88.17, 88.26, 87.79)},
    ),
)


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


# --------------------------------------------------------------------------------------
# One-step configuration change (Appendix A, Tables 1 and 2)
# --------------------------------------------------------------------------------------

ONE_STEP_METHODS = (OPTIMAL, RANDOM, HYPER_DT, VALID_DT, BRENT, EXHAUSTIVE)
STEP_RULES = ("fixed", "random", "optimal")

#: Tables 1 and 2 of paper_results.md, mean gain of test accuracy (points).
PAPER_ONE_STEP = {
    "Q1": {
        OPTIMAL: (1.478, 2.924, 5.829),
        RANDOM: (0.922, 1.785, 3.501),
        HYPER_DT: (0.917, 1.842, 3.519),
        VALID_DT: (1.245, 2.309, 4.630),
        BRENT: (1.342, 2.740, 5.518),
    },
    "Q2": {
        OPTIMAL: (1.922, 5.471, 8.834),
        RANDOM: (1.190, 3.093, 5.028),
        HYPER_DT: (1.482, 4.360, 6.595),
        VALID_DT: (1.425, 4.094, 6.327),
        BRENT: (1.731, 4.792, 8.097),
    },
}

#: Q1: 8 random pairs. Q2: 1 random data fraction; its pool also drops the rows whose
#: Q1 label is optimal (column ``_one_step_q2`` below), and its batch-size direction
#: comes from a Q1 tree fitted on the same rows.
ONE_STEP_SETTINGS = {
    "Q1": Setting("bs_failure", "random_pairs", 8, "q1", HYPER_Q1),
    "Q2": Setting("width_vs_batch", "random_data", 1, "q2", HYPER_Q2),
}
_Q2_POOL = "_one_step_q2"


def _one_step_frame(frame):
    """The stacked frame with the Q2 pool label: optimal for Q1 or Q2 -> optimal."""
    q2 = frame["width_vs_batch"].where(frame["bs_failure"] != "optimal", "optimal")
    return frame.assign(**{_Q2_POOL: q2})


def _sampling_rng(frame, setting, pool_label, seed):
    """RandomState(seed) after the draw of the training set.

    The authors' code seeds the global RNG, draws the training set, and then draws
    the random steps from the same RNG; this returns a private RNG in that state.
    """
    pool = frame[(frame["collection"] == "normal") & (frame[pool_label] != "optimal")]
    if setting.scheme == "random_pairs":
        n_groups = pool["data"].nunique() * pool["width"].nunique()
    elif setting.scheme == "random_data":
        n_groups = pool["data"].nunique()
    else:
        raise ValueError(f"No one-step protocol for scheme {setting.scheme!r}.")
    rng = np.random.RandomState(seed)
    rng.choice(n_groups, size=int(setting.k), replace=False)
    return rng


def _fit_predict(method, setting, train, test, task, preset):
    """Predictions on ``test`` of ``method`` fitted on ``train`` for ``task``."""
    if method in (BRENT, EXHAUSTIVE):
        search = "brent" if method == BRENT else "exhaustive"
        clf = MDTreeClassifier(preset, threshold_search=search)
        return clf.fit(train, train[task]).predict(test)
    features = list(setting.hyper if method == HYPER_DT else VALID_ONE_STEP)
    clf = DecisionTreeClassifier(criterion="gini", max_depth=4, random_state=DT_RANDOM_STATE)
    return clf.fit(train[features], train[task]).predict(test[features])


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
            rows=test_rows, random_state=_sampling_rng(frame, setting, pool_label, seed),
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
# Markdown
# --------------------------------------------------------------------------------------


def markdown_table(header, rows, align=None):
    """A GitHub markdown table from a header and rows of cells (already strings).

    Parameters
    ----------
    header : sequence of str
    rows : sequence of sequence of str
    align : sequence of {"l", "r"}, default=None
        Column alignment; numbers right-aligned by default where given.

    Returns
    -------
    table : str
        Lines joined by newlines, no trailing newline.
    """
    align = align or ["l"] * len(header)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(map(str, line)) + " |" for line in lines)


def _num(value, decimals):
    return "" if pd.isna(value) else f"{value:.{decimals}f}"


def _signed(value, decimals):
    # round first so that a tiny negative gap prints as +0.000, not -0.000
    return "" if pd.isna(value) else f"{round(float(value), decimals) + 0.0:+.{decimals}f}"


def table_b_markdown(table):
    """Table B as markdown: per method our mean, and the paper's figure and gap.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`table_b`.

    Returns
    -------
    markdown : str
    """
    methods = list(dict.fromkeys(table["method"]))
    with_paper = [m for m in methods if table.loc[table["method"] == m, "paper"].notna().any()]
    header = ["case", "task", "training set", "rows"]
    for m in methods:
        header.append(m)
        if m in with_paper:
            header += ["paper", "gap"]
        if m == EXHAUSTIVE and BRENT in methods:
            header.append("exh. - Brent")
    rows = []
    for case, part in table.groupby("case", sort=True):
        by = part.set_index("method")
        first = part.iloc[0]
        row = [str(case), first["task"], first["training set"], first["rows"]]
        for m in methods:
            row.append(_num(by.loc[m, "ours"], 3))
            if m in with_paper:
                row += [_num(by.loc[m, "paper"], 2), _signed(by.loc[m, "gap"], 3)]
            if m == EXHAUSTIVE and BRENT in methods:
                row.append(_signed(by.loc[m, "ours"] - by.loc[BRENT, "ours"], 3))
        rows.append(row)
    align = ["r", "l", "l", "r"] + ["r"] * (len(header) - 4)
    return markdown_table(header, rows, align)


def one_step_markdown(table):
    """Table 1 or 2 as markdown: per step rule our mean +- std, the paper's, the gap.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`one_step_table`.

    Returns
    -------
    markdown : str
    """
    header = ["method"]
    for rule in STEP_RULES:
        header += [f"{rule} step", "paper", "gap"]
    rows = []
    for method, part in table.groupby("method", sort=False):
        by = part.set_index("step")
        row = [method]
        for rule in STEP_RULES:
            r = by.loc[rule]
            row += [
                f"{r['ours']:.3f} ± {r['std']:.2f}",
                _num(r["paper"], 3),
                _signed(r["gap"], 3),
            ]
        rows.append(row)
    return markdown_table(header, rows, ["l"] + ["r"] * (len(header) - 1))


def worst_gaps(table):
    """Largest absolute gap to the paper per method (NaN gaps ignored).

    Parameters
    ----------
    table : pandas.DataFrame
        With ``method`` and ``gap`` columns.

    Returns
    -------
    worst : pandas.Series
        Indexed by method, only methods with a reference.
    """
    known = table.dropna(subset=["gap"])
    return known.groupby("method", sort=False)["gap"].apply(lambda g: g.abs().max())


def exhaustive_summary(table):
    """One sentence: in which Table B cases exhaustive beats Brent on F', and by how much.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`table_b`, with both MD tree methods.

    Returns
    -------
    summary : str
    """
    wide = table.pivot(index="case", columns="method", values="ours")
    diff = wide[EXHAUSTIVE] - wide[BRENT]

    def cases(mask):
        return ", ".join(str(c) for c in diff.index[mask]) or "none"

    return (
        f"On F', exhaustive is ahead in cases {cases(diff > 0)} (by up to "
        f"{diff.max():.2f} points) and behind in cases {cases(diff < 0)} (by up to "
        f"{-diff.min():.2f} points)."
    )
