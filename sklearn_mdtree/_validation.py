"""Input checks shared by the modules of sklearn_mdtree (private).

Each check raises a :class:`ValueError` whose message names the table (``what``), the
column and the offending rows -- by position, or by file line when the table was read
from a file (``line_offset``).
"""

import numpy as np
import pandas as pd

_MAX_LISTED = 5  # how many offending rows or configurations an error message names


def _format_rows(positions):
    """'3, 7, 9 and 2 more' for an array of row numbers."""
    positions = np.asarray(positions)
    shown = ", ".join(str(int(p)) for p in positions[:_MAX_LISTED])
    more = len(positions) - _MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _where(positions, line_offset=None):
    """Name rows by position, or by line of the file they were read from.

    With ``line_offset`` (the file line of row 0, e.g. 2 below a header line), rows are
    named as file lines; otherwise as positions counted from 0.
    """
    positions = np.asarray(positions)
    if line_offset is None:
        return f"row(s) {_format_rows(positions)} (positions, 0 = first row)"
    return f"line(s) {_format_rows(positions + line_offset)}"


def _check_columns(frame, columns, *, what="frame"):
    """Raise a ValueError naming every column of ``columns`` absent from ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The {what} is missing the column(s) {missing}; it has {list(frame.columns)}."
        )


def _check_numeric(frame, columns, *, what="frame", line_offset=None):
    """Raise a ValueError naming a non-numeric column or a missing or infinite value in it.

    Infinities are refused with NaN: downstream they would come out as NaN gains or
    as errors that blame a derived column. Rows are named by position, or by file
    line if ``line_offset`` is given.
    """
    for column in columns:
        values = frame[column]
        if pd.api.types.is_complex_dtype(values):
            raise ValueError(
                f"Column {column!r} of the {what} must hold real numbers; got dtype "
                f"{values.dtype} (complex numbers)."
            )
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            coerced = pd.to_numeric(values, errors="coerce")
            bad = np.flatnonzero(coerced.isna().to_numpy() & values.notna().to_numpy())
            example = (
                f"; {_where(bad[:1], line_offset)} holds {values.iloc[bad[0]]!r}"
                if len(bad)
                else ""
            )
            raise ValueError(
                f"Column {column!r} of the {what} must be numeric; got dtype "
                f"{values.dtype}{example}."
            )
        nan_rows = np.flatnonzero(values.isna().to_numpy())
        if len(nan_rows):
            raise ValueError(
                f"Column {column!r} of the {what} has missing values (NaN) in "
                f"{_where(nan_rows, line_offset)}."
            )
        inf_rows = np.flatnonzero(np.isinf(values.to_numpy(dtype=np.float64)))
        if len(inf_rows):
            raise ValueError(
                f"Column {column!r} of the {what} has infinite values in "
                f"{_where(inf_rows, line_offset)}; the values must be finite."
            )


def _check_complete_grid(frame, columns, *, what="frame", line_offset=None):
    """Raise a ValueError unless ``frame[columns]`` is a full grid, each point once.

    A full grid holds every combination of the values that each column takes.
    The message names duplicated rows and the missing configurations.
    """
    coords = frame[list(columns)]
    duplicated = np.flatnonzero(coords.duplicated(keep=False).to_numpy())
    if len(duplicated):
        first = coords.iloc[duplicated[0]].to_dict()
        raise ValueError(
            f"The {what} has more than one row for the same configuration of "
            f"{list(columns)}: {_where(duplicated, line_offset)} (e.g. {first})."
        )
    levels = [np.sort(coords[c].unique()) for c in columns]
    expected = int(np.prod([len(level) for level in levels], dtype=np.int64))
    if len(coords) != expected:
        full = pd.MultiIndex.from_product(levels, names=list(columns))
        missing = full.difference(pd.MultiIndex.from_frame(coords))
        shown = "; ".join(
            ", ".join(f"{name}={value}" for name, value in zip(columns, point))
            for point in missing[:_MAX_LISTED]
        )
        more = len(missing) - _MAX_LISTED
        raise ValueError(
            f"The {what} is not a complete grid over {list(columns)}: "
            f"{len(missing)} configuration(s) of the {expected} are missing, "
            f"e.g. ({shown}){f' and {more} more' if more > 0 else ''}. "
            "Room for improvement compares each configuration with all others along "
            "one axis, so every combination must be present."
        )
