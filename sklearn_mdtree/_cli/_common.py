"""What the commands share: the one error type, option types, reading the user's tables."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys

import numpy as np
import pandas as pd

__all__ = []

#: The first column of the CSV that ``mdtree featurize`` writes: the groups' names.
GROUP_COLUMN = "group"


class CommandError(Exception):
    """An error to report in one line (``mdtree CMD: error: ...``), exit code 2.

    Raised before any output is written; :func:`sklearn_mdtree._cli.main` turns it
    into the message, and nothing is left behind.
    """


def n_jobs(text):
    """``--n-jobs``: a non-zero int (argparse names the option in its message)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0:
        raise argparse.ArgumentTypeError(
            f"expected a non-zero int (-1: all cores), got {text!r}")
    return value


def number(text):
    """An int if the text is one (the random schemes need an int k), else a float."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def json_object(text, option):
    """The dict a ``--*-kwargs`` option holds (``{}`` for None)."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"argument {option}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise CommandError(f"argument {option}: expected a JSON object, got {text!r}")
    return value


def add_data_options(parser):
    parser.add_argument(
        "--data-home",
        metavar="DIR",
        default=None,
        help="folder holding the two public CSVs (default: $SKLEARN_MDTREE_DATA, then "
        "the scikit-learn data home; downloaded with checksum verification if missing)",
    )


def collection_files(data_home):
    """The public collections' files in the folders searched for them (inputs)."""
    from ..datasets._model_diagnosis import data_folders
    from ..datasets._registry import COLLECTION_FILES

    return [folder / name for folder in data_folders(data_home)
            for name in COLLECTION_FILES.values()]


def load_collections(data_home):
    """F and F' (``fetch_model_diagnosis("both")``) as one frame."""
    from ..datasets import fetch_model_diagnosis

    if data_home is not None and os.path.exists(data_home) and not os.path.isdir(data_home):
        raise CommandError(f"argument --data-home: expected a folder, got {str(data_home)!r}, "
                           "which is a file")
    with _download_messages_held(data_home):
        try:
            return fetch_model_diagnosis("both", data_home=data_home).frame
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None


@contextlib.contextmanager
def _download_messages_held(data_home):
    """Hold back pooch's messages ("Downloading data from ...") while the collections
    are fetched: printed once the fetch succeeded, dropped if it failed (the one error
    line then names the address). pooch is imported only if a file is missing."""
    from ..datasets._registry import COLLECTION_FILES

    files = collection_files(data_home)
    if all(any(f.is_file() for f in files if f.name == name)
           for name in COLLECTION_FILES.values()):
        yield
        return
    import pooch

    logger, held = pooch.get_logger(), []
    handler = logging.Handler()
    handler.emit = held.append
    handlers = logger.handlers[:]
    logger.handlers = [handler]
    try:
        yield
    finally:
        logger.handlers = handlers
    for record in held:  # reached only when the fetch succeeded
        print(record.getMessage(), file=sys.stderr)


def read_features(path, columns, id_column):
    """The user's features CSV, checked: the columns the trees read, numeric, complete.

    Indexed by ``id_column``, else by a first column ``group`` (as ``mdtree
    featurize`` writes it), else by the CSV line number.
    """
    from .._files import read_csv, source_name
    from .._validation import _check_columns, _check_numeric

    what = source_name(path)
    if id_column is not None and id_column in columns:
        raise CommandError(
            f"argument --id-column: expected the column naming the models, got "
            f"{id_column!r}, a feature the trees read, which cannot name them"
        )
    try:
        features = read_csv(path, what=what)
        if id_column is not None:
            _check_columns(features, [id_column], what=what)
        _check_columns(features, columns, what=what)
        _check_finite(features, columns, path, what)
        _check_numeric(features, columns, what=what, line_offset=2)
        if (id_column is None and features.columns[:1].tolist() == [GROUP_COLUMN]
                and features[GROUP_COLUMN].is_unique):
            id_column = GROUP_COLUMN
    except FileNotFoundError:
        raise CommandError(f"The features file {str(path)!r} does not exist.") from None
    except OSError as exc:  # a folder, no permission, ...
        raise CommandError(f"Could not read the features file {str(path)!r}: {exc}") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if id_column is not None:
        _check_ids(features[id_column], id_column, what)
        features = features.set_index(id_column)
    else:
        features.index = pd.RangeIndex(2, len(features) + 2, name="line")
    return features


def _check_finite(table, columns, path, what):
    """Refuse an infinite value in a numeric column, quoting the text of the file: pandas
    reads ``1e400`` as infinity, and "infinite values" alone would not say which text."""
    for column in columns:
        values = table[column]
        if not pd.api.types.is_float_dtype(values):
            continue  # non-numeric columns are _check_numeric's
        rows = np.flatnonzero(np.isinf(values.to_numpy(dtype=np.float64)))
        if not len(rows):
            continue
        written = _raw_text(path, column, rows[0])
        if written is None:
            got = f"{float(values.iloc[rows[0]])!r}"
        elif written.strip().lower().lstrip("+-") in ("inf", "infinity"):
            got = f"{written!r}, which is infinite"
        else:
            got = (f"{written!r}, which is beyond the float range (about 1.8e308) and "
                   "reads as infinity")
        more = (f" (also line(s) {[int(r) + 2 for r in rows[1:6]]}"
                f"{' and more' if len(rows) > 6 else ''})" if len(rows) > 1 else "")
        raise ValueError(f"Column {column!r} of the {what}, line {rows[0] + 2}: expected a "
                         f"finite number, got {got}{more}.")


def _raw_text(path, column, row):
    """The text of ``column`` in data row ``row`` of the CSV file, as written; None if it
    cannot be read again."""
    try:
        raw = pd.read_csv(path, dtype=str, usecols=[column], keep_default_na=False)
        return str(raw[column].iloc[row])
    except (OSError, ValueError, IndexError):
        return None


def _check_ids(ids, id_column, what):
    """The report names each group by its id: none may be missing or repeated."""
    for bad, problem in ((ids.isna(), "no name"), (ids.duplicated(keep=False), "the same name")):
        lines = [int(i) + 2 for i in bad.to_numpy().nonzero()[0]]
        if lines:
            raise CommandError(
                f"The id column {id_column!r} of the {what} gives {problem} to line(s) "
                f"{lines[:5]}; each group needs its own name."
            )


#: The largest magnitude of a --fit-on feature: beyond it the squares in the training
#: domain's standard deviations overflow (values near 1e308).
MAX_FIT_MAGNITUDE = 1e150


def _check_spread(table, columns, what):
    """Refuse a feature value so large that the tree's training domain (its standard
    deviations) would be infinite: the error would then blame the tree's document
    instead of the value."""
    for column in columns:
        values = table[column].to_numpy(dtype=float)
        bad = np.flatnonzero(np.abs(values) >= MAX_FIT_MAGNITUDE)
        if len(bad):
            raise CommandError(
                f"argument --fit-on: column {column!r} of the {what}, line {bad[0] + 2}: "
                f"expected a value of magnitude below {MAX_FIT_MAGNITUDE:g}, got "
                f"{float(values[bad[0]])!r}"
            )


def read_labelled(path, columns):
    """The ``--fit-on`` table: the features and ``bs_failure``, checked."""
    from .._files import read_csv, source_name
    from .._validation import _check_columns, _check_numeric
    from ..rfi import LABEL_CLASSES

    what = source_name(path)
    try:
        table = read_csv(path, what=what)
        _check_columns(table, columns, what=what)
        _check_finite(table, columns[:-1], path, what)
        _check_numeric(table, columns[:-1], what=what, line_offset=2)
    except FileNotFoundError:
        raise CommandError(f"argument --fit-on: the labelled table {os.fspath(path)!r} does "
                           "not exist.") from None
    except (OSError, ValueError) as exc:
        raise CommandError(f"argument --fit-on: {exc}") from None
    _check_spread(table, columns[:-1], what)
    for label in [c for c in ("bs_failure", "width_vs_batch") if c in table.columns]:
        known = LABEL_CLASSES[label]
        bad = (~table[label].isin(known)).to_numpy().nonzero()[0]
        if len(bad):
            raise CommandError(
                f"Column {label!r} of the {what} must hold one of {list(known)}; line "
                f"{bad[0] + 2} holds {table[label].iloc[bad[0]]!r}."
            )
        if (table[label] == "optimal").all():
            raise CommandError(
                f"Every row of the {what} is labelled 'optimal' in {label!r}: a tree is "
                "fitted on the configurations that are not, and there are none."
            )
    return table
