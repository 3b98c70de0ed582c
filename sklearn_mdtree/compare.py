"""The paper's method comparison as learning curves, on any labelled configuration table.

The MD tree against the decision-tree baselines of the paper (Hyper+DT,
Valid+DT, Hyper+Valid+DT, Loss-landscape+DT), each scored with the package's
own :class:`~sklearn_mdtree.model_selection.FewShotTransfer` splitter and
:func:`~sklearn.model_selection.cross_val_score`, for a range of training-set
sizes ``k``: means and standard deviations over the splitter's seeds. The table
is the public collections (``fetch_model_diagnosis("both").frame``) or a model
zoo's (:func:`featurizers.zoo.train_zoo`), which has the same columns.

The MD tree comes in four variants: bounded Brent search (the paper's) or the
exhaustive search, each within the hierarchy's declared bounds (the paper's
scales: ResNets on CIFAR-10) or within the training range of each feature
(``bounds="data"``), which is what a zoo on another scale needs.

Examples
--------
>>> from sklearn_mdtree.compare import Transfer, learning_curves
>>> transfer = Transfer("Q1 dataset transfer", "bs_failure", "random_pairs", (2, 4))
>>> transfer.preset, transfer.hyper
('q1', ('log_data_amount', 'log_para_amount'))
"""

from __future__ import annotations

import warnings

from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.model_selection import cross_val_score
from sklearn.tree import DecisionTreeClassifier

from ._classes import MDTreeClassifier
from ._vocabulary import HYPERPARAMETER_FEATURES, LL_DT_FEATURES, VALID_DT_FEATURES
from .model_selection import DEFAULT_SEEDS, FewShotTransfer

__all__ = [
    # the methods
    "METHODS",
    "BRENT",
    "EXHAUSTIVE",
    "BRENT_DATA",
    "EXHAUSTIVE_DATA",
    "HYPER_DT",
    "VALID_DT",
    "HYPER_VALID_DT",
    "LL_DT",
    "CONSTANT",
    # the experiments and their scores
    "Setting",
    "Transfer",
    "curves_table",
    "learning_curves",
    "method_estimator",
    "score",
    "transfer_scores",
]

# The names of the methods (the paper's reproduction, ``sklearn_mdtree._paper``, uses these).
BRENT = "MD tree (Brent)"
EXHAUSTIVE = "MD tree (exhaustive)"
BRENT_DATA = "MD tree (Brent, data bounds)"
EXHAUSTIVE_DATA = "MD tree (exhaustive, data bounds)"
HYPER_DT = "Hyper+DT"
VALID_DT = "Valid+DT"
HYPER_VALID_DT = "Hyper+Valid+DT"
LL_DT = "Loss-landscape+DT"
CONSTANT = "Constant (training majority)"

#: Methods of the comparison, MD tree variants first.
METHODS = (
    BRENT,
    EXHAUSTIVE,
    BRENT_DATA,
    EXHAUSTIVE_DATA,
    HYPER_DT,
    VALID_DT,
    HYPER_VALID_DT,
    LL_DT,
)

#: Every method :func:`learning_curves` knows: :data:`METHODS` and the constant answer
#: (the training set's most frequent label), the floor any diagnosis must clear.
_KNOWN_METHODS = (*METHODS, CONSTANT)

# The features of the decision-tree baselines (the authors' orders: see _vocabulary).
VALID = VALID_DT_FEATURES
LOSS_LANDSCAPE = LL_DT_FEATURES
HYPER_Q1 = HYPERPARAMETER_FEATURES
HYPER_Q2 = ("log_data_amount",)
HYPER_DATA = ("log_para_amount",)

#: The random_state of every baseline decision tree: the authors' code sets it to the
#: first seed once and keeps it for all seeds (see ``seeded_cross_val_score``).
DT_RANDOM_STATE = 42

_TASK_PRESET = {"bs_failure": "q1", "lr_failure": "q1", "width_vs_batch": "q2",
                "data_vs_batch": "q2_data"}
_TASK_HYPER = {
    "bs_failure": HYPER_Q1,
    "lr_failure": HYPER_Q1,
    "width_vs_batch": HYPER_Q2,
    "data_vs_batch": HYPER_DATA,
}


@dataclass(frozen=True)
class Setting:
    """One transfer experiment: task, training-set sampling, and the MD tree used.

    What :meth:`Transfer.setting` returns for one ``k``, and what the paper's
    experiments (``sklearn_mdtree._paper.settings``) are made of.

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


@dataclass(frozen=True)
class Transfer:
    """One transfer experiment: a label, a sampling scheme and its values of ``k``.

    Parameters
    ----------
    name : str
        How tables and plots name it.
    task : {"bs_failure", "width_vs_batch", "data_vs_batch"}
        The label column (Q1, Q2, data vs optimizer).
    scheme : str
        A :data:`~sklearn_mdtree.model_selection.SCHEMES` name.
    ks : tuple
        The training-set sizes of the curve (groups drawn, or largest value kept).
    preset : str, default=None
        MD tree hierarchy; the task's (``"q1"``, ``"q2"``, ``"q2_data"``) when None.
    hyper : tuple of str, default=None
        Features of Hyper+DT; the paper's for the task when None.

    Examples
    --------
    >>> from sklearn_mdtree.compare import Transfer
    >>> transfer = Transfer("Q2 random pairs", "width_vs_batch", "random_pairs", [2, 4])
    >>> transfer.ks, transfer.preset
    ((2, 4), 'q2')
    >>> setting = transfer.setting(4)
    >>> setting.task, setting.scheme, setting.k
    ('width_vs_batch', 'random_pairs', 4)
    """

    name: str
    task: str
    scheme: str
    ks: tuple
    preset: str | None = None
    hyper: tuple | None = None

    def __post_init__(self):
        if self.task not in _TASK_PRESET:
            raise ValueError(
                f"The 'task' parameter of Transfer must be one of {sorted(_TASK_PRESET)}; got "
                f"{self.task!r}."
            )
        if not tuple(self.ks):
            raise ValueError("The 'ks' parameter of Transfer must hold at least one k.")
        object.__setattr__(self, "ks", tuple(self.ks))
        if self.preset is None:
            object.__setattr__(self, "preset", _TASK_PRESET[self.task])
        if self.hyper is None:
            object.__setattr__(self, "hyper", _TASK_HYPER[self.task])

    def setting(self, k):
        """The :class:`Setting` of one point of the curve."""
        return Setting(self.task, self.scheme, k, self.preset, tuple(self.hyper))


def method_estimator(method, setting, *, valid=VALID):
    """The unfitted estimator and the feature columns (None: by name) of a method.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`, or :data:`CONSTANT` (the training set's most
        frequent label).
    setting : Setting
    valid : tuple of str, default=VALID
        The validation features of Valid+DT and Hyper+Valid+DT, in order (the
        paper's one-step tables use another order; a decision tree breaks ties
        between equally good splits by feature order).

    Returns
    -------
    estimator : estimator object
    features : list of str or None

    Examples
    --------
    >>> from sklearn_mdtree.compare import BRENT_DATA, Transfer, method_estimator
    >>> setting = Transfer("Q1", "bs_failure", "random_pairs", (4,)).setting(4)
    >>> tree, features = method_estimator(BRENT_DATA, setting)
    >>> type(tree).__name__, tree.bounds, features
    ('MDTreeClassifier', 'data', None)
    >>> baseline, features = method_estimator("Hyper+DT", setting)
    >>> type(baseline).__name__, features
    ('DecisionTreeClassifier', ['log_data_amount', 'log_para_amount'])
    """
    if method == BRENT:
        return MDTreeClassifier(setting.preset), None
    if method == EXHAUSTIVE:
        return MDTreeClassifier(setting.preset, threshold_search="exhaustive"), None
    if method == BRENT_DATA:
        return MDTreeClassifier(setting.preset, bounds="data"), None
    if method == EXHAUSTIVE_DATA:
        return MDTreeClassifier(setting.preset, threshold_search="exhaustive", bounds="data"), None
    if method == CONSTANT:
        from sklearn.dummy import DummyClassifier

        return DummyClassifier(strategy="most_frequent"), list(VALID[:1])
    features = {
        HYPER_DT: setting.hyper,
        VALID_DT: valid,
        HYPER_VALID_DT: setting.hyper + valid,
        LL_DT: LOSS_LANDSCAPE,
    }
    if method not in features:
        raise ValueError(f"Unknown method {method!r}; known: {list(_KNOWN_METHODS)}.")
    tree = DecisionTreeClassifier(criterion="gini", max_depth=4, random_state=DT_RANDOM_STATE)
    return tree, list(features[method])


def transfer_scores(frame, setting, estimator, features=None, seeds=DEFAULT_SEEDS):
    """Accuracy (percent) on the test collection of an estimator, one per split.

    The one place the package runs a transfer experiment: a
    :class:`~sklearn_mdtree.model_selection.FewShotTransfer` splitter of the
    setting and :func:`~sklearn.model_selection.cross_val_score` (the paper's
    reproduction, :mod:`sklearn_mdtree._paper`, calls it too).

    Parameters
    ----------
    frame : pandas.DataFrame
        Both collections stacked.
    setting : Setting
        Task, sampling scheme, ``k`` and ``min_width`` of the splits.
    estimator : estimator object
        Unfitted; cloned for each split.
    features : list of str, default=None
        The columns the estimator sees; all of ``frame`` when None (the MD tree
        selects its own by name).
    seeds : sequence of int, default=DEFAULT_SEEDS
        One split per seed.

    Returns
    -------
    scores : ndarray of shape (n_seeds,)

    Examples
    --------
    A synthetic table of both collections (``"normal"``: training, ``"noise"``: test):

    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.RandomState(0)
    >>> frame = pd.DataFrame({"collection": ["normal"] * 16 + ["noise"] * 16,
    ...                       "data": np.tile([100, 200, 400, 800], 8),
    ...                       "width": np.repeat([4, 8, 16, 32], 8)})
    >>> frame["log_data_amount"] = np.log(frame["data"])
    >>> frame["log_para_amount"] = np.log(frame["width"])
    >>> for name, low, high in [("train_error", 0, 10), ("mode_connectivity_peak", -50, 5),
    ...                         ("hessian_t", 3, 8)]:
    ...     frame[name] = rng.uniform(low, high, len(frame))
    >>> frame["bs_failure"] = np.where(frame["hessian_t"] > 5.5, "small", "large")
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from sklearn_mdtree.compare import Transfer, transfer_scores
    >>> setting = Transfer("Q1", "bs_failure", "random_pairs", (4,)).setting(4)
    >>> scores = transfer_scores(frame, setting, DecisionTreeClassifier(random_state=0),
    ...                          ["hessian_t"], seeds=[0, 1, 2])
    >>> scores.shape, bool(((0 <= scores) & (scores <= 100)).all())
    ((3,), True)
    """
    cv = FewShotTransfer(
        setting.scheme, setting.k, label=setting.task, seeds=seeds,
        min_width=setting.min_width, frame=frame,
    )
    X = frame if features is None else frame[list(features)]
    with warnings.catch_warnings():
        # a few-shot draw (k = 1 pair) can hold one class: part of the paper's protocol,
        # scored as it is, not a user's mistake to warn about
        warnings.filterwarnings("ignore", message="y has one class", category=UserWarning)
        scores = cross_val_score(estimator, X, frame[setting.task], cv=cv, error_score="raise")
    return 100 * scores


def score(frame, setting, method, seeds=DEFAULT_SEEDS):
    """Diagnosis accuracy (percent) on the test collection of one method, per seed.

    Parameters
    ----------
    frame : pandas.DataFrame
        Both collections stacked.
    setting : Setting
    method : str
        One of :data:`METHODS`.
    seeds : sequence of int, default=DEFAULT_SEEDS

    Returns
    -------
    scores : ndarray of shape (n_seeds,)

    Examples
    --------
    A synthetic table of both collections (``"normal"``: training, ``"noise"``: test):

    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.RandomState(0)
    >>> frame = pd.DataFrame({"collection": ["normal"] * 16 + ["noise"] * 16,
    ...                       "data": np.tile([100, 200, 400, 800], 8),
    ...                       "width": np.repeat([4, 8, 16, 32], 8)})
    >>> frame["log_data_amount"] = np.log(frame["data"])
    >>> frame["log_para_amount"] = np.log(frame["width"])
    >>> for name, low, high in [("train_error", 0, 10), ("mode_connectivity_peak", -50, 5),
    ...                         ("hessian_t", 3, 8)]:
    ...     frame[name] = rng.uniform(low, high, len(frame))
    >>> frame["bs_failure"] = np.where(frame["hessian_t"] > 5.5, "small", "large")
    >>> from sklearn_mdtree.compare import BRENT_DATA, Transfer, score
    >>> setting = Transfer("Q1", "bs_failure", "random_pairs", (4,)).setting(4)
    >>> scores = score(frame, setting, BRENT_DATA, seeds=[0, 1])
    >>> scores.shape, bool(((0 <= scores) & (scores <= 100)).all())
    ((2,), True)
    """
    estimator, features = method_estimator(method, setting)
    return transfer_scores(frame, setting, estimator, features, seeds)


def _scores(frame, transfer, method, k, seeds):
    return score(frame, transfer.setting(k), method, seeds=seeds)


def learning_curves(frame, transfers, *, methods=METHODS, seeds=DEFAULT_SEEDS, n_jobs=None,
                    progress=False):
    """Accuracy (percent) of every method for every ``k`` of every transfer.

    Parameters
    ----------
    frame : pandas.DataFrame
        Both collections stacked, with a ``collection`` column (``"normal"``:
        training collection, ``"noise"``: test collection), the label columns
        and the features.
    transfers : sequence of Transfer
    methods : sequence of str, default=METHODS
        Among :data:`METHODS` and :data:`CONSTANT`.
    seeds : sequence of int, default=DEFAULT_SEEDS
        One split per seed; means and standard deviations are over them.
    n_jobs : int or None, default=None
        joblib workers over (transfer, method, k).
    progress : bool, default=False
        Show a tqdm progress bar.

    Returns
    -------
    curves : pandas.DataFrame
        Long format: ``transfer``, ``task``, ``method``, ``k``, ``mean``, ``std``
        and ``scores`` (the per-seed accuracies, a tuple).

    Examples
    --------
    A synthetic table of both collections (``"normal"``: training, ``"noise"``: test):

    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.RandomState(0)
    >>> frame = pd.DataFrame({"collection": ["normal"] * 16 + ["noise"] * 16,
    ...                       "data": np.tile([100, 200, 400, 800], 8),
    ...                       "width": np.repeat([4, 8, 16, 32], 8)})
    >>> frame["log_data_amount"] = np.log(frame["data"])
    >>> frame["log_para_amount"] = np.log(frame["width"])
    >>> for name, low, high in [("train_error", 0, 10), ("mode_connectivity_peak", -50, 5),
    ...                         ("hessian_t", 3, 8)]:
    ...     frame[name] = rng.uniform(low, high, len(frame))
    >>> frame["bs_failure"] = np.where(frame["hessian_t"] > 5.5, "small", "large")
    >>> from sklearn_mdtree.compare import BRENT_DATA, Transfer, learning_curves
    >>> transfer = Transfer("Q1 random pairs", "bs_failure", "random_pairs", (4, 8))
    >>> curves = learning_curves(frame, [transfer], methods=[BRENT_DATA, "Hyper+DT"],
    ...                          seeds=[0, 1])
    >>> curves[["method", "k"]].to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'method': ['MD tree (Brent, data bounds)', 'MD tree (Brent, data bounds)',
                'Hyper+DT', 'Hyper+DT'], 'k': [4, 8, 4, 8]}
    >>> [len(s) for s in curves["scores"]]
    [2, 2, 2, 2]
    """
    unknown = [m for m in methods if m not in _KNOWN_METHODS]
    if unknown:
        raise ValueError(
            f"The 'methods' parameter must name methods among {list(_KNOWN_METHODS)}; got "
            f"{unknown}."
        )
    jobs = [(t, m, k) for t in transfers for m in methods for k in t.ks]
    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_scores)(frame, t, m, k, seeds) for t, m, k in jobs
    )
    if progress:
        from tqdm.auto import tqdm

        results = tqdm(results, total=len(jobs), desc="compare", unit="run")
    rows = []
    for (transfer, method, k), scores in zip(jobs, results):
        scores = np.asarray(scores, dtype=np.float64)
        rows.append({
            "transfer": transfer.name,
            "task": transfer.task,
            "method": method,
            "k": k,
            "mean": scores.mean(),
            "std": scores.std(),
            "scores": tuple(scores.round(4)),
        })
    return pd.DataFrame(rows)


def curves_table(curves, *, decimals=1):
    """The curves as a markdown table: one row per (transfer, method), ``mean ± std`` per k.

    Parameters
    ----------
    curves : pandas.DataFrame
        From :func:`learning_curves`.
    decimals : int, default=1

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree.compare import curves_table
    >>> curves = pd.DataFrame({"transfer": ["Q1"] * 4, "method": ["A", "A", "B", "B"],
    ...                        "k": [4, 8, 4, 8], "mean": [60.0, 70.0, 55.0, 58.0],
    ...                        "std": [5.0, 2.5, 1.0, 0.0]})
    >>> print(curves_table(curves))
    **Q1**
    <BLANKLINE>
    | method | k=4 | k=8 |
    | --- | ---: | ---: |
    | A | 60.0 ± 5.0 | 70.0 ± 2.5 |
    | B | 55.0 ± 1.0 | 58.0 ± 0.0 |
    """
    lines = []
    for name, part in curves.groupby("transfer", sort=False):
        ks = list(dict.fromkeys(part["k"]))
        rows = []
        for method, cells in part.groupby("method", sort=False):
            by_k = cells.set_index("k")
            rows.append([method] + [
                f"{by_k.loc[k, 'mean']:.{decimals}f} ± {by_k.loc[k, 'std']:.{decimals}f}"
                for k in ks
            ])
        lines += [f"**{name}**", "", _markdown_table(
            ["method"] + [f"k={k:g}" for k in ks], rows, ["l"] + ["r"] * len(ks)
        ), ""]
    return "\n".join(lines).rstrip()


def _markdown_table(header, rows, align=None):
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
