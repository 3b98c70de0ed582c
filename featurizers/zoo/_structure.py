"""Does a zoo's table show the paper's phenomenon? The figures that say so.

The MD tree rests on three observations about models that do not interpolate their
training set (the branch below the root): models trained too hot are flatter
(lower Hessian trace) and better connected (higher connectivity) than models
trained too cold; curve training finds paths whose interior beats their
endpoints; and the labels are measured, not noise. :func:`structure_report`
measures each on a table in the public collections' column names (the public
collections F and F', or a zoo's ``Zoo.table``), so that a zoo can be set beside
F and F'.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

__all__ = ["STRUCTURE_FIGURES", "format_structure", "structure_report", "structure_table",
           "structure_text"]

#: The figures of :func:`structure_report`, in order, with what each means.
STRUCTURE_FIGURES = {
    "rows": "configurations in the table",
    "non_interp_hot": "non-interpolating rows labelled too hot ('large')",
    "non_interp_cold": "non-interpolating rows labelled too cold ('small')",
    "sharpness_auc": "P(ln trace of a cold row > a hot row's), non-interp. (> 0.5: cold "
                     "sharper, the paper's direction)",
    "connectivity_auc": "P(connectivity peak of a hot row > a cold row's), non-interp. "
                        "(> 0.5: hot better connected, the paper's direction)",
    "relative_connectivity_auc": "the same for mode_connectivity, relative to the "
                                 "curve's endpoints",
    "curves_beat_endpoints": "share of non-interp. rows whose curve passes below its "
                             "endpoints (mode_connectivity > 0)",
    "labels_below_1pt": "share of decided labels whose margin is < 1 point of test error",
    "labels_below_noise": "share of decided labels whose margin is < 2 standard errors "
                          "of the seeds (NaN: the table has no seeds' errors)",
}


def _auc(positive, scores):
    """P(score of a positive > a negative's), ties counted half; NaN for one class."""
    keep = np.isfinite(scores)
    positive, scores = positive[keep], scores[keep]
    if positive.all() or not positive.any():
        return math.nan
    return float(roc_auc_score(positive, scores))


def structure_report(table, *, task="bs_failure", interpolation_threshold=1.0,
                     margin_points=1.0, z=2.0):
    """The figures that say whether a table shows the paper's Q1 phenomenon.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per configuration with ``train_error``, ``hessian_t``,
        ``mode_connectivity_peak``, ``mode_connectivity`` and the label column
        ``task`` (classes ``"large"`` = too hot, ``"small"`` = too cold,
        ``"optimal"``). The label's margin is read from ``<task>_gain`` when the
        table has it (a zoo's one-step labels), otherwise from the paper's RFI gap
        ``|rfi_inc_temp - rfi_dec_temp|``; the seeds' noise from
        ``<task>_gain_se`` when present.
    task : str, default="bs_failure"
        The label column (``"lr_failure"`` for a zoo's learning-rate labels).
    interpolation_threshold : float, default=1.0
        Training error (percent) above which a row is non-interpolating.
    margin_points : float, default=1.0
        Margin (points of test error) below which a label is counted as decided
        by less than a point (``labels_below_1pt``).
    z : float, default=2.0
        Standard errors of the seeds below which a label is counted as decided by
        noise (``labels_below_noise``).

    Returns
    -------
    pandas.Series
        The figures of :data:`STRUCTURE_FIGURES`, in that order.

    Examples
    --------
    >>> import pandas as pd
    >>> from featurizers.zoo import structure_report
    >>> table = pd.DataFrame({
    ...     "train_error": [20.0, 30.0, 25.0, 40.0, 0.0],
    ...     "hessian_t": [1.0, 2.0, 5.0, 6.0, 3.0],
    ...     "mode_connectivity_peak": [-1.0, -2.0, -20.0, -30.0, 0.0],
    ...     "mode_connectivity": [1.0, 0.5, -3.0, -1.0, 0.0],
    ...     "bs_failure": ["large", "large", "small", "small", "optimal"],
    ...     "rfi_inc_temp": [0.0, 0.0, 4.0, 0.5, 0.0],
    ...     "rfi_dec_temp": [3.0, 2.0, 0.0, 0.0, 0.0]})
    >>> report = structure_report(table)
    >>> report[["sharpness_auc", "connectivity_auc", "curves_beat_endpoints"]].tolist()
    [1.0, 1.0, 0.5]
    >>> float(report["labels_below_1pt"])
    0.25
    """
    required = ["train_error", "hessian_t", "mode_connectivity_peak", "mode_connectivity",
                task]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ValueError(f"The 'table' parameter of structure_report must have the columns "
                         f"{required}; {missing} missing.")
    labels = table[task].astype(str).to_numpy()
    non_interp = table["train_error"].to_numpy(dtype=float) > interpolation_threshold
    hot, cold = labels == "large", labels == "small"
    branch = non_interp & (hot | cold)
    is_hot = hot[branch]
    figures = {
        "rows": len(table),
        "non_interp_hot": int((non_interp & hot).sum()),
        "non_interp_cold": int((non_interp & cold).sum()),
        "sharpness_auc": _auc(~is_hot, table["hessian_t"].to_numpy(dtype=float)[branch]),
        "connectivity_auc": _auc(
            is_hot, table["mode_connectivity_peak"].to_numpy(dtype=float)[branch]),
        "relative_connectivity_auc": _auc(
            is_hot, table["mode_connectivity"].to_numpy(dtype=float)[branch]),
    }
    connectivity = table["mode_connectivity"].to_numpy(dtype=float)[non_interp]
    connectivity = connectivity[np.isfinite(connectivity)]
    figures["curves_beat_endpoints"] = (
        float((connectivity > 0).mean()) if len(connectivity) else math.nan)
    decided = hot | cold
    if f"{task}_gain" in table.columns:
        margin = table[f"{task}_gain"].to_numpy(dtype=float)
    elif {"rfi_inc_temp", "rfi_dec_temp"} <= set(table.columns):
        margin = np.abs(table["rfi_inc_temp"].to_numpy(dtype=float)
                        - table["rfi_dec_temp"].to_numpy(dtype=float))
    else:
        margin = np.full(len(table), np.nan)
    n_decided = int(decided.sum())
    figures["labels_below_1pt"] = (
        float((margin[decided] < margin_points).mean()) if n_decided else math.nan)
    if f"{task}_gain_se" in table.columns and n_decided:
        se = table[f"{task}_gain_se"].to_numpy(dtype=float)[decided]
        figures["labels_below_noise"] = float((margin[decided] <= z * se).mean())
    else:
        figures["labels_below_noise"] = math.nan
    return pd.Series(figures, index=list(STRUCTURE_FIGURES), dtype=object)


def structure_table(tables, **kwargs):
    """:func:`structure_report` of several tables side by side.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Name -> table (e.g. ``{"zoo clean": ..., "F": ...}``).
    **kwargs
        Passed to :func:`structure_report`.

    Returns
    -------
    pandas.DataFrame
        One column per table, one row per figure.
    """
    return pd.DataFrame({name: structure_report(t, **kwargs) for name, t in tables.items()})


def format_structure(frame):
    """A :func:`structure_table` as aligned text: counts as integers, the rest to 2
    decimals, NaN as ``-``."""
    def cell(value):
        if isinstance(value, (int, np.integer)):
            return str(int(value))
        value = float(value)
        return "-" if math.isnan(value) else f"{value:.2f}"

    text = frame.apply(lambda column: column.map(cell))
    return text.to_string()


def structure_text(table, public=None):
    """The structure report of a zoo's clean and noisy rows, beside F and F', as text.

    Parameters
    ----------
    table : pandas.DataFrame
        A zoo's table (``Zoo.table``): ``collection`` ``"normal"`` / ``"noise"``
        splits its clean and noisy rows.
    public : pandas.DataFrame or None, default=None
        The public collections stacked (``fetch_model_diagnosis("both").frame``):
        F and F' are then set beside the zoo; None: the zoo alone.

    Returns
    -------
    text : str
        :func:`format_structure` of :func:`structure_table` for the ``bs_failure``
        label, then for ``lr_failure`` (the zoo's rows only) when the zoo varies the
        learning rate.
    """
    tables = {"zoo clean": table[table["collection"] == "normal"],
              "zoo noisy": table[table["collection"] == "noise"]}
    if public is not None:
        tables["F"] = public[public["collection"] == "normal"]
        tables["F'"] = public[public["collection"] == "noise"]
    text = format_structure(structure_table(tables))
    if "lr_failure" in table.columns and table["lr"].nunique() > 1:
        lr = structure_table({name: t for name, t in tables.items() if name.startswith("zoo")},
                             task="lr_failure")
        text += "\n\nThe same for the learning-rate label (lr_failure):\n\n" + format_structure(lr)
    return text
