"""Loader of the public model-diagnosis collections of the MD tree paper."""

import os
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, StrOptions, validate_params

from .._files import missing_paths, read_csv, remove_created, sha256, source_name
from .._validation import _check_columns, _check_complete_grid, _check_numeric, _where
from ..rfi import LABEL_CLASSES, LABEL_COLUMNS, RFI_COLUMNS
from ._registry import BASE_URL, COLLECTION_FILES, DATA_ENV_VAR, REGISTRY

__all__ = ["fetch_model_diagnosis", "read_model_diagnosis_csv"]

#: The 20 feature columns, in file order: grid coordinates, then model metrics.
FEATURE_COLUMNS = (
    "data_amount",
    "para_amount",
    "log_data_amount",
    "log_para_amount",
    "log_bs",
    "width",
    "data",
    "bs",
    "test_acc",
    "train_acc",
    "generalization_gap",
    "test_loss",
    "train_loss",
    "CKA",
    "hessian_e",
    "hessian_t",
    "mode_connectivity",
    "mode_connectivity_peak",
    "test_error",
    "train_error",
)

#: Every column of a published file, in file order.
COLUMNS = (*FEATURE_COLUMNS, *RFI_COLUMNS, *LABEL_COLUMNS)

#: Columns that place a row on the grid of configurations.
GRID_COLUMNS = ("width", "data", "bs")

#: Name of the column that says which collection a row of a stacked frame comes from.
COLLECTION_COLUMN = "collection"



# --------------------------------------------------------------------------------------
# Reading and validating a CSV
# --------------------------------------------------------------------------------------


@validate_params(
    {"filepath_or_buffer": [str, os.PathLike, HasMethods(["read"])]},
    prefer_skip_nested_validation=True,
)
def read_model_diagnosis_csv(filepath_or_buffer):
    """Read and validate a model-diagnosis collection from a CSV file.

    The file must have the columns of the published collections (see
    :func:`fetch_model_diagnosis`); further columns are kept. Every feature and
    room-for-improvement column must be numeric without missing values, every label
    column must hold known classes, and the rows must form a complete grid over
    ``width``, ``data`` and ``bs``, each configuration once. Use this to load a
    collection of your own in the published format; :func:`fetch_model_diagnosis`
    uses it for the published files after verifying their checksums.

    Parameters
    ----------
    filepath_or_buffer : str, path-like or file-like
        The CSV file (a header line, then one row per configuration).

    Returns
    -------
    frame : pandas.DataFrame
        The validated table, with a fresh ``RangeIndex``.

    Raises
    ------
    ValueError
        If the file cannot be parsed as CSV (the message carries the parser's line
        number), a column is missing, a value is missing or of the wrong type (the
        message names the column and the line of the file), a label is unknown, or
        the grid has holes or repeated configurations (the message names them).

    Examples
    --------
    >>> import io
    >>> from sklearn_mdtree.datasets import read_model_diagnosis_csv
    >>> read_model_diagnosis_csv(io.StringIO("width,data\\n2,1\\n"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The CSV input is missing the column(s) ['data_amount', ...
    """
    what = source_name(filepath_or_buffer)
    frame = read_csv(filepath_or_buffer, what=what)
    _check_model_diagnosis_frame(frame, what=what)
    return frame


def _check_model_diagnosis_frame(frame, *, what):
    """Validate a collection read from ``what``; see :func:`read_model_diagnosis_csv`.

    Rows are named by their line in the file (the header is line 1).
    """
    _check_columns(frame, COLUMNS, what=what)
    empty = [c for c in COLUMNS if pd.isna(frame[c].iloc[-1])]
    if empty:
        raise ValueError(
            f"The last line ({len(frame) + 1}) of the {what} has no value for the "
            f"column(s) {empty}: is the file truncated?"
        )
    _check_numeric(frame, [*FEATURE_COLUMNS, *RFI_COLUMNS], what=what, line_offset=2)
    for column in LABEL_COLUMNS:
        values = frame[column]
        known = LABEL_CLASSES[column]
        bad = np.flatnonzero(~values.isin(known).to_numpy(dtype=bool))
        if len(bad):
            raise ValueError(
                f"Column {column!r} of the {what} must hold one of {list(known)}; "
                f"{_where(bad, 2)} hold(s) {values.iloc[bad[0]]!r}."
            )
    _check_complete_grid(frame, GRID_COLUMNS, what=what, line_offset=2)


# --------------------------------------------------------------------------------------
# Finding, verifying and downloading the files
# --------------------------------------------------------------------------------------


def _verify(path, expected):
    actual = sha256(path)
    if actual != expected:
        raise OSError(
            f"The file {str(path)!r} has sha256 {actual}, but the published file has "
            f"{expected}: it is corrupted or a different version, and was not read. "
            "Delete it (or replace it with the published file) and try again."
        )
    return path


def _default_data_home():
    """``<scikit-learn data home>/mdtree``, without creating it.

    The folder :func:`sklearn.datasets.get_data_home` names (``$SCIKIT_LEARN_DATA``,
    else ``~/scikit_learn_data``); that function would also create it, even when the
    files come from elsewhere. Folders are created only to download into.
    """
    home = os.environ.get("SCIKIT_LEARN_DATA", os.path.join("~", "scikit_learn_data"))
    return Path(home).expanduser() / "mdtree"


def _missing_message(filename, searched, reason):
    folders = ", ".join(repr(str(folder)) for folder in searched)
    return (
        f"The model-diagnosis file {filename!r} is not available: {reason}. "
        f"Looked in: {folders}. Without internet access, download it from "
        f"{BASE_URL}{filename} (or copy it from another machine) into a folder and set "
        f"the environment variable {DATA_ENV_VAR} to that folder, or pass "
        "data_home=<folder>."
    )


def _download(filename, folder, searched):
    """Download ``filename`` into ``folder`` and verify it; see :func:`_retrieve`.

    pooch creates ``folder`` and its missing parents; if the download fails, the
    folders it created are removed again, so that a failed call leaves no trace.
    """
    created = missing_paths(folder)
    try:
        return _retrieve(filename, folder, searched)
    except BaseException:
        remove_created(created)
        raise


def _retrieve(filename, folder, searched):
    import pooch  # imported here: only a download needs it

    expected = REGISTRY[filename]
    try:
        path = pooch.retrieve(
            url=BASE_URL + filename,
            known_hash=f"sha256:{expected}",
            fname=filename,
            path=folder,
            progressbar=False,
        )
    except ValueError as exc:  # pooch's checksum mismatch
        raise OSError(
            f"The downloaded file {filename!r} does not have the published sha256 "
            f"{expected}, and was discarded ({exc})."
        ) from None
    except OSError as exc:  # includes requests' connection errors
        # One error, not the chain of urllib3 / requests / pooch tracebacks (98 lines
        # in a notebook): its first line is the cause.
        cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if len(cause) > 200:
            cause = cause[:197] + "..."
        raise OSError(
            _missing_message(filename, searched,
                             f"the download failed ({type(exc).__name__}: {cause})")
        ) from None
    return Path(path)


def data_folders(data_home):
    """The folders searched for the collections, in order (the last one downloads)."""
    if data_home is not None:
        return [Path(data_home).expanduser()]
    env = os.environ.get(DATA_ENV_VAR)
    return [*([Path(env).expanduser()] if env else []), _default_data_home()]


def _fetch_file(filename, *, data_home, download_if_missing):
    """Path to a verified copy of ``filename``: local, cached, or downloaded."""
    expected = REGISTRY[filename]
    folders = data_folders(data_home)
    for folder in folders:
        path = folder / filename
        if path.is_file():
            return _verify(path, expected)
    if not download_if_missing:
        raise OSError(
            _missing_message(filename, folders, "download_if_missing=False and no copy")
        )
    return _download(filename, folders[-1], folders)


def _load_collection(collection, *, data_home, download_if_missing):
    filename = COLLECTION_FILES[collection]
    path = _fetch_file(filename, data_home=data_home, download_if_missing=download_if_missing)
    frame = read_model_diagnosis_csv(path)
    frame.insert(0, COLLECTION_COLUMN, collection)
    return frame


def _descr():
    return (
        resources.files("sklearn_mdtree.datasets")
        .joinpath("descr", "model_diagnosis.rst")
        .read_text(encoding="utf-8")
    )


@validate_params(
    {
        "collection": [StrOptions({"normal", "noise", "both"})],
        "data_home": [str, os.PathLike, None],
        "download_if_missing": ["boolean"],
        "as_frame": ["boolean"],
        "return_X_y": ["boolean"],
        "target": [StrOptions(set(LABEL_COLUMNS)), None],
    },
    prefer_skip_nested_validation=True,
)
def fetch_model_diagnosis(
    collection="normal",
    *,
    data_home=None,
    download_if_missing=True,
    as_frame=True,
    return_X_y=False,
    target=None,
):
    """Load the model-diagnosis collections of the MD tree paper.

    =================== ==========================================
    Rows per collection 1690 (13 widths x 13 batch sizes x 10 data)
    Features            20 (grid coordinates and model metrics)
    Targets             3 label columns, 2 classes each + ``optimal``
    =================== ==========================================

    One row per configuration of a ResNet-18 trained on CIFAR-10. ``"normal"`` is the
    paper's collection F (clean labels), ``"noise"`` its F' (10% label noise). The
    files are the published CSVs, read from the pinned commit of the authors'
    repository and verified against their sha256; nothing is unpickled.

    Files are looked up in ``data_home`` when given; otherwise in the folder named by
    the environment variable ``SKLEARN_MDTREE_DATA`` (if set), then in the cache
    ``<scikit-learn data home>/mdtree``. A missing file is downloaded (with pooch)
    into ``data_home``, or into the cache; folders are created only for a download,
    and removed again if it fails. A file whose checksum differs is refused,
    wherever it lies.

    Read more in ``sklearn_mdtree/datasets/descr/model_diagnosis.rst`` (``DESCR``).

    Parameters
    ----------
    collection : {"normal", "noise", "both"}, default="normal"
        Which collection. ``"both"`` stacks ``normal`` then ``noise`` into one table
        (3380 rows, positional index) -- the input of
        :class:`sklearn_mdtree.model_selection.FewShotTransfer`.
    data_home : str or path-like, default=None
        Folder holding the files (or to download them into). By default,
        ``$SKLEARN_MDTREE_DATA`` then ``<scikit-learn data home>/mdtree``
        (see :func:`sklearn.datasets.get_data_home`).
    download_if_missing : bool, default=True
        If False, raise an ``OSError`` instead of downloading a file not found locally.
    as_frame : bool, default=True
        If True, ``data`` is a DataFrame and ``target`` a DataFrame or Series. If False,
        ``data`` is a float64 array, ``target`` an object array, and ``frame`` is None.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    target : {"bs_failure", "width_vs_batch", "data_vs_batch"} or None, default=None
        The label column to return as ``target``: ``"bs_failure"`` (Q1: is the batch
        size too large or too small?), ``"width_vs_batch"`` (Q2: model size or
        optimizer?) or ``"data_vs_batch"`` (data amount or optimizer?). None returns all
        three columns. Rows labelled ``"optimal"`` are kept; the paper leaves them out.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        frame : pandas.DataFrame of shape (n_rows, 28) or None
            Every column of the file, plus ``collection`` (``"normal"``/``"noise"``)
            first. None if ``as_frame=False``.
        data : DataFrame or ndarray of shape (n_rows, 20)
            The features: grid coordinates and model metrics. The ``rfi_*`` columns
            and the labels are derived from ``test_error`` over the grid, so they are
            kept out of ``data``.
        target : DataFrame of shape (n_rows, 3), Series or ndarray
            The label column(s) chosen by ``target``.
        feature_names : list of str
            The columns of ``data``.
        target_names : list of str
            The column(s) of ``target``.
        DESCR : str
            Description of the collections.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    OSError
        If a file is neither local nor cached and cannot be downloaded (or
        ``download_if_missing=False``): the message names ``SKLEARN_MDTREE_DATA``. Also
        if a file's checksum differs from the published one.
    ValueError
        If a file that passed the checksum does not parse (cannot happen with the
        published files).

    See Also
    --------
    read_model_diagnosis_csv : Read and validate a collection of your own.
    sklearn_mdtree.model_selection.FewShotTransfer : The paper's transfer splits.

    Examples
    --------
    >>> from sklearn_mdtree.datasets import fetch_model_diagnosis
    >>> normal = fetch_model_diagnosis("normal", target="bs_failure")  # doctest: +SKIP
    >>> normal.data.shape, normal.target.value_counts().to_dict()  # doctest: +SKIP
    ((1690, 20), {'small': 846, 'large': 714, 'optimal': 130})
    >>> both = fetch_model_diagnosis("both")  # doctest: +SKIP
    >>> both.frame["collection"].value_counts().to_dict()  # doctest: +SKIP
    {'normal': 1690, 'noise': 1690}
    """
    names = ["normal", "noise"] if collection == "both" else [collection]
    frame = pd.concat(
        [
            _load_collection(name, data_home=data_home, download_if_missing=download_if_missing)
            for name in names
        ],
        ignore_index=True,
    )
    feature_names = list(FEATURE_COLUMNS)
    target_names = list(LABEL_COLUMNS) if target is None else [target]
    data = frame[feature_names].copy()
    labels = frame[target_names].copy() if target is None else frame[target].copy()
    if not as_frame:
        data = data.to_numpy(dtype=np.float64)
        labels = labels.to_numpy(dtype=object)
        frame = None
    if return_X_y:
        return data, labels
    return Bunch(
        frame=frame,
        data=data,
        target=labels,
        feature_names=feature_names,
        target_names=target_names,
        DESCR=_descr(),
    )
