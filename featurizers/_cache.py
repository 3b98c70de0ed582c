"""The content-hashed cache: weights and feature rows in files that cannot run code when read.

Shared by the zoo (:func:`featurizers.zoo.train_zoo`: weights and rows), the
featurizers (their ``cache_dir``: rows), the lattice and the calibration; it depends
on none of them (public names re-exported by :mod:`featurizers.zoo`).

Every entry is named by the SHA-256 of its *meta*, a JSON description of what it
holds (configuration, seed, dataset fingerprint, recipe, package version, ...),
and stores that meta too: an entry is used only when its stored meta equals the
one asked for. Weights are ``torch.save`` files of a dict of tensors read back
with ``torch.load(weights_only=True)``; feature rows are one-line CSV files.
Files are written to a temporary name and renamed, so that an interrupted run
leaves complete entries or none. A file that cannot be read, or that holds
another entry, is reported with a :class:`ZooCacheWarning` and recomputed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import tempfile
import warnings
from pathlib import Path

import torch

from sklearn_mdtree._files import open_regular

__all__ = ["ZooCacheWarning", "default_cache_dir"]


class ZooCacheWarning(UserWarning):
    """A cached file of the zoo could not be used and is being recomputed.

    Examples
    --------
    A run that does not want to see these warnings can silence them:

    >>> import warnings
    >>> from featurizers.zoo import ZooCacheWarning
    >>> issubclass(ZooCacheWarning, UserWarning)
    True
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", ZooCacheWarning)
    ...     warnings.warn("Zoo cache: a file cannot be read", ZooCacheWarning)
    """


def default_cache_dir():
    """``sklearn.datasets.get_data_home() / "mdtree" / "zoo"`` (``SCIKIT_LEARN_DATA``).

    Examples
    --------
    ``SCIKIT_LEARN_DATA`` moves it (``get_data_home`` creates that folder):

    >>> import os, tempfile
    >>> from pathlib import Path
    >>> from featurizers.zoo import default_cache_dir
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     old = os.environ.get("SCIKIT_LEARN_DATA")
    ...     os.environ["SCIKIT_LEARN_DATA"] = tmp
    ...     try:
    ...         path = default_cache_dir()
    ...     finally:
    ...         _ = os.environ.pop("SCIKIT_LEARN_DATA")
    ...         if old is not None:
    ...             os.environ["SCIKIT_LEARN_DATA"] = old
    ...     path == Path(tmp) / "mdtree" / "zoo"
    True
    """
    from sklearn.datasets import get_data_home

    return Path(get_data_home()) / "mdtree" / "zoo"


def meta_key(meta):
    """The canonical JSON text of ``meta`` and its SHA-256 (the entry's name)."""
    text = json.dumps(meta, sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()


def fingerprint(*tensors):
    """SHA-256 of the dtypes, shapes and bytes of tensors (a dataset's identity)."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


class Cache:
    """Entries under ``root`` (``models/`` and ``features/``); ``root=None``: no cache."""

    def __init__(self, root):
        self.root = None if root is None else Path(root)

    def check_writable(self):
        """Create the folders and write a probe file; a clear error if that fails."""
        if self.root is None:
            return
        try:
            for sub in ("models", "features"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                pass
        except OSError as exc:
            raise PermissionError(
                f"The 'cache_dir' parameter must be a folder the zoo can write to; "
                f"{str(self.root)!r} is not writable ({exc.strerror or exc}). Pass another "
                "cache_dir, or cache_dir=False to train without a cache."
            ) from None

    def _path(self, kind, key, suffix):
        return self.root / kind / f"{key}{suffix}"

    def _write(self, path, write):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _open_entry(self, path):
        """The entry's file opened for reading, or None if there is none.

        An entry that is not a regular file (a folder, a FIFO, a device) is neither
        read (a FIFO would block for ever) nor replaced: a one-line FileExistsError.
        """
        try:
            return open_regular(path, "zoo cache entry", error=_NotAnEntry)
        except FileNotFoundError:
            return None
        except _NotAnEntry as exc:
            raise FileExistsError(
                f"{exc} The zoo reads and replaces only regular files in its cache: remove "
                "it, or pass another cache_dir (cache_dir=False: no cache)."
            ) from None

    def _unusable(self, path, why):
        warnings.warn(
            f"Zoo cache: {path} {why}; recomputing it (the file will be replaced).",
            ZooCacheWarning,
            stacklevel=4,
        )

    # ------------------------------------------------------------------ weights

    def load_model(self, meta, build):
        """A model from ``build()`` with the cached weights of ``meta``, or None if none fit."""
        if self.root is None:
            return None
        text, key = meta_key(meta)
        path = self._path("models", key, ".pt")
        handle = self._open_entry(path)
        if handle is None:
            return None
        try:
            with handle:
                entry = torch.load(handle, map_location="cpu", weights_only=True)
        except Exception as exc:  # any unreadable file is recomputed, never trusted
            self._unusable(path, f"cannot be read ({type(exc).__name__})")
            return None
        if not isinstance(entry, dict) or entry.get("meta") != text:
            self._unusable(path, "holds another entry (another recipe, data or version)")
            return None
        model = build()
        state = entry.get("state")
        expected = {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}
        if not isinstance(state, dict) or {
            k: (tuple(v.shape), v.dtype) for k, v in state.items() if isinstance(v, torch.Tensor)
        } != expected:
            self._unusable(path, "does not hold the weights of this architecture")
            return None
        model.load_state_dict(state)
        return model.eval()

    def save_state(self, meta, state):
        if self.root is None:
            return
        text, key = meta_key(meta)
        state = {k: v.detach().cpu().clone() for k, v in state.items()}
        self._write(
            self._path("models", key, ".pt"),
            lambda f: torch.save({"meta": text, "state": state}, f),
        )

    # ------------------------------------------------------------------ feature rows

    def load_row(self, meta, columns):
        """The cached row (dict of floats) of ``meta`` with these columns, else None."""
        if self.root is None:
            return None
        text, key = meta_key(meta)
        path = self._path("features", key, ".csv")
        handle = self._open_entry(path)
        if handle is None:
            return None
        try:
            with io.TextIOWrapper(handle, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            if len(rows) != 1:
                raise ValueError(f"{len(rows)} rows")
            row = rows[0]
            values = {c: float(row[c]) for c in columns}
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError, csv.Error) as exc:
            self._unusable(path, f"cannot be read ({type(exc).__name__}: {exc})")
            return None
        if row.get("meta") != text:
            self._unusable(path, "holds another entry (another recipe, data or version)")
            return None
        return values

    def save_row(self, meta, values):
        if self.root is None:
            return
        text, key = meta_key(meta)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["meta", *values])
        writer.writeheader()
        writer.writerow({"meta": text, **{k: _fmt(v) for k, v in values.items()}})
        data = buffer.getvalue().encode("utf-8")
        self._write(self._path("features", key, ".csv"), lambda f: f.write(data))


class _NotAnEntry(Exception):
    pass


def _fmt(value):
    """A float as text that reads back to the same float (``repr``), NaN as ``nan``."""
    value = float(value)
    return "nan" if math.isnan(value) else repr(value)
