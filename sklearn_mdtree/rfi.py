"""Room for improvement (RFI) and failure-source labels from a configuration grid.

A *configuration grid* is a long table with one row per trained configuration
(model size, data amount, optimizer hyperparameter) and its validation error.
The room for improvement of a failure source is the best drop in validation error
reachable by changing only the hyperparameter behind that source (paper, eq. 1 and
eqs. 6-8); the labels of the diagnosis questions compare those gains (eqs. 2-3).

Functions
---------
room_for_improvement
    The four RFI columns ``rfi_width``, ``rfi_data``, ``rfi_inc_temp``, ``rfi_dec_temp``.
failure_labels
    The labels ``bs_failure`` (Q1), ``width_vs_batch`` (Q2) and ``data_vs_batch``
    (the data-vs-optimizer variant) from the RFI columns, ties labelled ``optimal``.
label_configurations
    Both of the above added to a copy of the grid.
label_meaning
    What a label tells a user: the cause and the action to take.
"""

from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import StrOptions, validate_params

from ._validation import _check_columns, _check_complete_grid, _check_numeric

__all__ = [
    "LABEL_COLUMNS",
    "LABEL_MEANINGS",
    "LabelMeaning",
    "RFI_COLUMNS",
    "failure_labels",
    "label_configurations",
    "label_meaning",
    "room_for_improvement",
]

#: Names of the four room-for-improvement columns, as in the published collections.
RFI_COLUMNS = ("rfi_width", "rfi_data", "rfi_inc_temp", "rfi_dec_temp")

#: Names of the three label columns, as in the published collections.
LABEL_COLUMNS = ("bs_failure", "width_vs_batch", "data_vs_batch")

#: The classes of each label column, the tie class ``"optimal"`` last.
LABEL_CLASSES = MappingProxyType(
    {
        "bs_failure": ("small", "large", "optimal"),
        "width_vs_batch": ("width", "batch", "optimal"),
        "data_vs_batch": ("data", "batch", "optimal"),
    }
)


class LabelMeaning(NamedTuple):
    """What a diagnosis label means for the user of a trained model.

    Attributes
    ----------
    task : str
        The label column (``"bs_failure"``, ``"width_vs_batch"`` or ``"data_vs_batch"``).
    label : str
        The class, e.g. ``"small"``.
    cause : str
        The failure source the label names, in words.
    action : str
        The configuration change the label recommends, imperative and short.
    """

    task: str
    label: str
    cause: str
    action: str


def _meaning(task, label, cause, action):
    return LabelMeaning(task=task, label=label, cause=cause, action=action)


_BATCH_CAUSE = (
    "The optimizer hyperparameter is the main failure source: changing the batch "
    "size lowers the validation error more than {other} does."
)
_BATCH_ACTION = "Tune the batch size (the Q1 diagnosis, bs_failure, says which way)."

#: Readable meaning of every label, keyed by label column then class.
#: The wording assumes the paper's setting, where the optimizer hyperparameter is the
#: batch size and a smaller batch means a higher temperature.
LABEL_MEANINGS = MappingProxyType(
    {
        "bs_failure": MappingProxyType(
            {
                "small": _meaning(
                    "bs_failure",
                    "small",
                    "The temperature is too low: the batch size is too large.",
                    "Lower the batch size.",
                ),
                "large": _meaning(
                    "bs_failure",
                    "large",
                    "The temperature is too high: the batch size is too small.",
                    "Raise the batch size.",
                ),
                "optimal": _meaning(
                    "bs_failure",
                    "optimal",
                    "A smaller and a larger batch size gain the same (usually nothing): "
                    "the batch size is not the problem.",
                    "Keep the batch size.",
                ),
            }
        ),
        "width_vs_batch": MappingProxyType(
            {
                "width": _meaning(
                    "width_vs_batch",
                    "width",
                    "The model is too small: widening it lowers the validation error "
                    "more than any change of the batch size.",
                    "Widen the model.",
                ),
                "batch": _meaning(
                    "width_vs_batch",
                    "batch",
                    _BATCH_CAUSE.format(other="widening the model"),
                    _BATCH_ACTION,
                ),
                "optimal": _meaning(
                    "width_vs_batch",
                    "optimal",
                    "Widening the model and changing the batch size gain the same "
                    "(usually nothing).",
                    "Change neither the width nor the batch size.",
                ),
            }
        ),
        "data_vs_batch": MappingProxyType(
            {
                "data": _meaning(
                    "data_vs_batch",
                    "data",
                    "There is too little training data: more data lowers the "
                    "validation error more than any change of the batch size.",
                    "Add training data.",
                ),
                "batch": _meaning(
                    "data_vs_batch",
                    "batch",
                    _BATCH_CAUSE.format(other="adding data"),
                    _BATCH_ACTION,
                ),
                "optimal": _meaning(
                    "data_vs_batch",
                    "optimal",
                    "Adding data and changing the batch size gain the same "
                    "(usually nothing).",
                    "Change neither the data amount nor the batch size.",
                ),
            }
        ),
    }
)


@validate_params(
    {"task": [StrOptions(set(LABEL_COLUMNS))], "label": [str]},
    prefer_skip_nested_validation=True,
)
def label_meaning(task, label):
    """Return what a diagnosis label means for the user.

    Parameters
    ----------
    task : {"bs_failure", "width_vs_batch", "data_vs_batch"}
        The label column: Q1, Q2, or the data-vs-optimizer variant of Q2.
    label : str
        A class of that column, e.g. ``"small"`` for ``"bs_failure"``.

    Returns
    -------
    meaning : LabelMeaning
        Named tuple ``(task, label, cause, action)``.

    Raises
    ------
    ValueError
        If ``label`` is not a class of ``task``.

    Examples
    --------
    >>> from sklearn_mdtree.rfi import label_meaning
    >>> label_meaning("bs_failure", "small").action
    'Lower the batch size.'
    >>> label_meaning("width_vs_batch", "width").action
    'Widen the model.'
    """
    meanings = LABEL_MEANINGS[task]
    if label not in meanings:
        raise ValueError(
            f"The 'label' parameter of label_meaning must be one of {sorted(meanings)} "
            f"for task {task!r}. Got {label!r} instead."
        )
    return meanings[label]


# --------------------------------------------------------------------------------------
# Room for improvement and labels
# --------------------------------------------------------------------------------------


#: Parameters of :func:`room_for_improvement` and :func:`label_configurations`.
_GRID_PARAMS = {
    "frame": [pd.DataFrame],
    "model_size": [str],
    "data": [str],
    "optimizer": [str],
    "error": [str],
    "raise_temperature": [StrOptions({"decrease", "increase"})],
}


def _best_error_along(keys, along, error, *, ascending):
    """Lowest error among the configurations up to each one along an axis.

    For every row, the minimum of ``error`` over the rows that share its ``keys`` and
    whose ``along`` value is <= its own (``ascending=True``) or >= its own
    (``ascending=False``). Vectorised: one stable sort and a grouped cumulative minimum.
    Returns an array in the row order of the inputs.
    """
    table = pd.DataFrame({**keys, "_along": along, "_error": error})
    ordered = table.sort_values("_along", ascending=ascending, kind="stable")
    best = ordered.groupby(list(keys), sort=False)["_error"].cummin()
    return best.sort_index().to_numpy()


@validate_params(_GRID_PARAMS, prefer_skip_nested_validation=True)
def room_for_improvement(
    frame,
    *,
    model_size="width",
    data="data",
    optimizer="bs",
    error="test_error",
    raise_temperature="decrease",
):
    """Room for improvement of the four failure sources on a configuration grid.

    For a configuration (model size p, data amount n, optimizer hyperparameter t) with
    validation error E, the RFI of a failure source is E minus the lowest validation
    error reachable by changing only the hyperparameter behind that source, in the
    direction that source blames, within the grid (paper eq. 1 and eqs. 6-8):

    - ``rfi_width``: a model size >= p (same n, t);
    - ``rfi_data``: a data amount >= n (same p, t);
    - ``rfi_inc_temp``: a higher (or equal) temperature, same p, n. For batch size
      (``raise_temperature="decrease"``) that is a batch size <= t;
    - ``rfi_dec_temp``: a lower (or equal) temperature; for batch size, a batch size >= t.

    The current configuration is included, so every RFI is >= 0 and 0 means the
    hyperparameter is already the best choice in that direction.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per configuration. Every combination of the values of ``model_size``,
        ``data`` and ``optimizer`` must appear exactly once.
    model_size : str, default="width"
        Column of the model size (width factor or parameter count; larger is bigger).
    data : str, default="data"
        Column of the training-data amount (larger is more data).
    optimizer : str, default="bs"
        Column of the optimizer hyperparameter (the "temperature" knob).
    error : str, default="test_error"
        Column of the validation error (lower is better), e.g. in percent.
    raise_temperature : {"decrease", "increase"}, default="decrease"
        How the optimizer hyperparameter moves to raise the temperature: ``"decrease"``
        for batch size (a smaller batch is noisier), ``"increase"`` for learning rate.

    Returns
    -------
    rfi : pandas.DataFrame
        Columns ``rfi_width``, ``rfi_data``, ``rfi_inc_temp``, ``rfi_dec_temp``
        (float64, the unit of ``error``), with the index of ``frame``. The names are
        those of the published collections whatever the input column names.

    Raises
    ------
    ValueError
        If a column is missing or non-numeric, ``error`` or a grid column has missing
        values, or the grid has holes or repeated configurations (the message names
        the missing configurations or the repeated rows).

    See Also
    --------
    failure_labels : Labels of the diagnosis questions from these columns.
    label_configurations : Both, added to a copy of the grid.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree.rfi import room_for_improvement
    >>> grid = pd.DataFrame({
    ...     "width": [1, 1, 1, 1, 2, 2, 2, 2],
    ...     "data": [1, 1, 2, 2, 1, 1, 2, 2],
    ...     "bs": [16, 32, 16, 32, 16, 32, 16, 32],
    ...     "test_error": [40.0, 45.0, 30.0, 33.0, 35.0, 38.0, 20.0, 25.0],
    ... })
    >>> room_for_improvement(grid).iloc[1]
    rfi_width        7.0
    rfi_data        12.0
    rfi_inc_temp     5.0
    rfi_dec_temp     0.0
    Name: 1, dtype: float64
    """
    axes = (model_size, data, optimizer)
    if len(set(axes)) != 3 or error in axes:
        raise ValueError(
            "The 'model_size', 'data', 'optimizer' and 'error' parameters of "
            "room_for_improvement must name four different columns. Got "
            f"{model_size!r}, {data!r}, {optimizer!r}, {error!r} instead."
        )
    _check_columns(frame, [*axes, error])
    _check_numeric(frame, [*axes, error])
    _check_complete_grid(frame, axes)

    values = {name: frame[name].to_numpy() for name in axes}
    err = frame[error].to_numpy(dtype=np.float64)

    def keys(*names):
        return {f"_key{i}": values[name] for i, name in enumerate(names)}

    best_width = _best_error_along(keys(data, optimizer), values[model_size], err, ascending=False)
    best_data = _best_error_along(keys(model_size, optimizer), values[data], err, ascending=False)
    best_below = _best_error_along(keys(model_size, data), values[optimizer], err, ascending=True)
    best_above = _best_error_along(keys(model_size, data), values[optimizer], err, ascending=False)
    if raise_temperature == "decrease":
        best_hotter, best_colder = best_below, best_above
    else:
        best_hotter, best_colder = best_above, best_below

    return pd.DataFrame(
        {
            "rfi_width": err - best_width,
            "rfi_data": err - best_data,
            "rfi_inc_temp": err - best_hotter,
            "rfi_dec_temp": err - best_colder,
        },
        index=frame.index,
    )


def _compare(gain, other, classes):
    """``classes[0]`` where gain > other, ``classes[1]`` where smaller, else the tie."""
    return np.select([gain > other, gain < other], list(classes[:2]), default=classes[2])


@validate_params({"rfi": [pd.DataFrame]}, prefer_skip_nested_validation=True)
def failure_labels(rfi):
    """Labels of the diagnosis questions from the room for improvement.

    With ``RFI(t) = max(rfi_inc_temp, rfi_dec_temp)`` (paper, eqs. 2-3):

    - ``bs_failure`` (Q1): ``"small"`` where ``rfi_inc_temp > rfi_dec_temp`` (the
      temperature is too low: for batch size, lower it), ``"large"`` where smaller;
    - ``width_vs_batch`` (Q2): ``"width"`` where ``rfi_width > RFI(t)``, ``"batch"``
      where smaller;
    - ``data_vs_batch`` (Appendix G): ``"data"`` where ``rfi_data > RFI(t)``,
      ``"batch"`` where smaller.

    Exact ties (in floating point, as in the reference implementation) are labelled
    ``"optimal"``; the paper leaves those rows out of training and test sets.

    Parameters
    ----------
    rfi : pandas.DataFrame
        The columns ``rfi_width``, ``rfi_data``, ``rfi_inc_temp``, ``rfi_dec_temp``,
        e.g. from :func:`room_for_improvement`.

    Returns
    -------
    labels : pandas.DataFrame
        Columns ``bs_failure``, ``width_vs_batch``, ``data_vs_batch`` (strings), with
        the index of ``rfi``. See :data:`LABEL_MEANINGS` for what each class means.

    Raises
    ------
    ValueError
        If a column is missing, non-numeric or has missing values.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree.rfi import failure_labels
    >>> rfi = pd.DataFrame({"rfi_width": [7.0, 0.0], "rfi_data": [12.0, 0.0],
    ...                     "rfi_inc_temp": [5.0, 0.0], "rfi_dec_temp": [0.0, 0.0]})
    >>> failure_labels(rfi)
      bs_failure width_vs_batch data_vs_batch
    0      small          width          data
    1    optimal        optimal       optimal
    """
    _check_columns(rfi, RFI_COLUMNS, what="RFI table")
    _check_numeric(rfi, RFI_COLUMNS, what="RFI table")
    width, data, hotter, colder = (rfi[c].to_numpy(dtype=np.float64) for c in RFI_COLUMNS)
    temperature = np.maximum(hotter, colder)
    return pd.DataFrame(
        {
            "bs_failure": _compare(hotter, colder, LABEL_CLASSES["bs_failure"]),
            "width_vs_batch": _compare(width, temperature, LABEL_CLASSES["width_vs_batch"]),
            "data_vs_batch": _compare(data, temperature, LABEL_CLASSES["data_vs_batch"]),
        },
        index=rfi.index,
    )


@validate_params(_GRID_PARAMS, prefer_skip_nested_validation=True)
def label_configurations(
    frame,
    *,
    model_size="width",
    data="data",
    optimizer="bs",
    error="test_error",
    raise_temperature="decrease",
):
    """Add the room for improvement and the diagnosis labels to a configuration grid.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per configuration, a complete grid; see :func:`room_for_improvement`.
    model_size, data, optimizer, error : str
        Column names, defaults ``"width"``, ``"data"``, ``"bs"``, ``"test_error"``.
    raise_temperature : {"decrease", "increase"}, default="decrease"
        How the optimizer hyperparameter moves to raise the temperature.

    Returns
    -------
    labelled : pandas.DataFrame
        A copy of ``frame`` with the columns of :data:`RFI_COLUMNS` and
        :data:`LABEL_COLUMNS` added (or replaced, if present).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree.rfi import label_configurations
    >>> grid = pd.DataFrame({
    ...     "width": [1, 1, 1, 1, 2, 2, 2, 2],
    ...     "data": [1, 1, 2, 2, 1, 1, 2, 2],
    ...     "bs": [16, 32, 16, 32, 16, 32, 16, 32],
    ...     "test_error": [40.0, 45.0, 30.0, 33.0, 35.0, 38.0, 20.0, 25.0],
    ... })
    >>> label_configurations(grid)["bs_failure"].tolist()
    ['optimal', 'small', 'optimal', 'small', 'optimal', 'small', 'optimal', 'small']
    """
    rfi = room_for_improvement(
        frame,
        model_size=model_size,
        data=data,
        optimizer=optimizer,
        error=error,
        raise_temperature=raise_temperature,
    )
    labels = failure_labels(rfi)
    return frame.assign(**rfi, **labels)
