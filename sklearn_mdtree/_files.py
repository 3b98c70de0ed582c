"""File helpers shared by the library and the command line: reading a user's CSV,
checksums, and writing an output that never replaces an input.

An output file is written atomically (a temporary file in the same folder, renamed
over the target), so an error leaves neither a partial file nor a changed one; and it
is compared with every input as a *file* (device and inode, as :func:`os.path.samefile`
does), so that neither a second name (a hard link, a symbolic link, ``..``) nor a
relative path lets it replace an input.
"""

import csv
import gzip
import hashlib
import lzma
import os
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

import pandas as pd

__all__ = []

_CHUNK = 1 << 20


# --------------------------------------------------------------------------------------
# Opening input files without blocking on special files (FIFOs, devices, sockets):
# ``Path.exists()`` is true for a FIFO, and opening one for reading blocks until a
# writer comes; these helpers look at what a path *is* (``os.stat``), open with
# ``O_NONBLOCK`` and check the opened file again (``os.fstat``).
# --------------------------------------------------------------------------------------


def file_kind(mode):
    """``"a regular file"``, ``"a folder"``, ``"a FIFO (named pipe)"``, ... of a ``st_mode``.

    Examples
    --------
    >>> import stat
    >>> from sklearn_mdtree._files import file_kind
    >>> file_kind(stat.S_IFIFO), file_kind(stat.S_IFDIR)
    ('a FIFO (named pipe)', 'a folder')
    """
    for test, name in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def regular_file_or_none(path):
    """What ``path`` is, for a lookup: None if it does not exist, else its kind.

    Follows symbolic links (a link to a regular file is ``"a regular file"``; a
    dangling link does not exist).
    """
    try:
        return file_kind(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def open_regular(path, what, *, error=ValueError):
    """Open ``path`` for reading in binary mode, or raise ``error`` in one line.

    The file must be a regular file: a FIFO, device, socket or folder raises
    ``error(f"The {what} ... is a FIFO (named pipe), not a regular file ...")``
    without blocking (the file is opened with ``O_NONBLOCK``, then checked with
    ``os.fstat``). A missing file raises :class:`FileNotFoundError` as ``open`` does.

    Returns
    -------
    file : binary file object (blocking reads; the caller closes it)

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_mdtree._files import open_regular
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     fifo = os.path.join(folder, "pipe")
    ...     os.mkfifo(fifo)
    ...     open_regular(fifo, "data file")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The data file '...pipe' is a FIFO (named pipe), not a regular file...
    """
    source = repr(os.fspath(path))
    _refuse_special(os.stat(path).st_mode, source, what, error)  # FileNotFoundError as open's
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        _refuse_special(os.fstat(fd).st_mode, source, what, error)  # swapped since the stat
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _refuse_special(mode, source, what, error):
    if stat.S_ISREG(mode):
        return
    kind = file_kind(mode)
    why = "" if stat.S_ISDIR(mode) else ": reading it could block or never end"
    raise error(f"The {what} {source} is {kind}, not a regular file{why}.")


# --------------------------------------------------------------------------------------
# Reading a CSV table
# --------------------------------------------------------------------------------------


def source_name(filepath_or_buffer):
    if isinstance(filepath_or_buffer, (str, os.PathLike)):
        return f"CSV file {os.fspath(filepath_or_buffer)!r}"
    return "CSV input"


def read_csv(filepath_or_buffer, *, what):
    """Read a CSV table of one row per line after the header, or raise a clear ValueError.

    The error names ``what`` (e.g. ``"CSV file 'x.csv'"``): the file does not parse
    (with the parser's line number), has more fields on its data lines than names in
    its header, or has no rows, or, for a path: it is a folder, is empty, is not a
    regular file (a FIFO or a device, whose reading could block or never end) or does
    not end with a newline
    (its last line may be cut short, which pandas would read as a different number).
    A missing file raises pandas' ``FileNotFoundError``.
    """
    if isinstance(filepath_or_buffer, (str, os.PathLike)):
        _check_complete_file(os.fspath(filepath_or_buffer), what=what)
    try:
        frame = pd.read_csv(filepath_or_buffer)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"Could not parse the {what} as CSV: {exc}") from None
    except (EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, tarfile.TarError,
            gzip.BadGzipFile) as exc:  # a compressed file cut short or corrupt
        raise ValueError(
            f"Could not decompress the {what} (cut short or corrupt?): "
            f"{type(exc).__name__}: {exc}"
        ) from None
    except OSError as exc:
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise ValueError(f"Could not read the {what}: {exc}") from None
    _check_unique_names(filepath_or_buffer, what=what)
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas turns a first column into the index when the data lines have one
        # field more than the header
        raise ValueError(
            f"The {what} has more fields on its data lines (from line 2) than names "
            "in its header line."
        )
    if len(frame) == 0:
        raise ValueError(f"The {what} has a header but no rows.")
    return frame


_COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")


def _check_unique_names(source, *, what):
    """A ValueError if the header line of a plain CSV file names a column twice.

    pandas renames a repeated ``x`` to ``x.1`` and the first is then read silently
    as the column; which one was meant is unknown. (Buffers and compressed files
    are not re-read.)
    """
    if not isinstance(source, (str, os.PathLike)) or os.fspath(source).lower().endswith(
            _COMPRESSED):
        return
    with open(source, encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    repeated = sorted({n for n in header if header.count(n) > 1})
    if repeated:
        raise ValueError(
            f"The header line of the {what} names the column(s) {repeated} more than "
            "once; which one holds the values is unknown. Rename or remove the copies."
        )


def _check_complete_file(path, *, what):
    """A ValueError for a path that is not a regular file, or whose last line is cut.

    A missing file is left to the reader's own error.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_ISDIR(mode):
        raise ValueError(f"The {what} is a folder; expected a CSV file.")
    if not stat.S_ISREG(mode):
        raise ValueError(
            f"The {what} is not a regular file (a FIFO, a device or a socket), whose "
            "reading could block or never end. Save the table to a file first."
        )
    if path.lower().endswith(_COMPRESSED):
        return
    with open_regular(path, what) as handle:  # never blocks, even if swapped since the stat
        content = handle.read()
    if not content.strip():
        raise ValueError(f"The {what} is empty{'' if content else ' (0 bytes)'}; expected a "
                         "header line, then one row per line.")
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError(
            f"The {what} is UTF-16 text (it starts with a UTF-16 byte-order mark); save "
            "it as UTF-8."
        )
    if content and not content.endswith((b"\n", b"\r")):
        last_line = content.count(b"\n") + 1
        raise ValueError(
            f"The {what} does not end with a newline, so its last line (line "
            f"{last_line}) may be cut short (an interrupted copy or "
            "download). If the file is complete, end it with a newline."
        )



# --------------------------------------------------------------------------------------
# Checksums
# --------------------------------------------------------------------------------------


def sha256(path, what="file"):
    """SHA-256 of a regular file; a FIFO or device raises a ValueError (never blocks)."""
    digest = hashlib.sha256()
    with open_regular(path, what) as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()



# --------------------------------------------------------------------------------------
# Tree arguments: a shipped tree's name or a file
# --------------------------------------------------------------------------------------


def is_tree_path(value):
    """Whether a ``tree`` argument names a file rather than a shipped tree or family.

    A shipped name (``"cifar10-resnet18-q1"``) has neither a ``.json`` ending nor a
    path separator; anything with one of them is a file: ``tree.JSON``,
    ``trees/mine``, and, where the system has a second separator (``os.altsep``,
    ``"/"`` on Windows), ``trees/mine`` there too. A path object (``os.PathLike``) is
    always a file; anything else (a tree object, None) is not.

    Examples
    --------
    >>> from sklearn_mdtree._files import is_tree_path
    >>> is_tree_path("cifar10-resnet18"), is_tree_path("mine.json"), is_tree_path("dir/mine")
    (False, True, True)
    """
    if isinstance(value, os.PathLike):
        return True
    if not isinstance(value, str):
        return False
    separators = [s for s in (os.sep, os.altsep) if s]
    return value.lower().endswith(".json") or any(s in value for s in separators)



# --------------------------------------------------------------------------------------
# Output files
# --------------------------------------------------------------------------------------


def missing_paths(path):
    """``path`` and those of its parent folders that do not exist, deepest first."""
    path = Path(path)
    missing = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    return missing


def remove_created(paths):
    """Remove ``paths`` (files or empty folders, deepest first) that a failed step created.

    Stops at the first one that cannot be removed (e.g. a folder someone else has
    written into since), so that nothing but what was created is ever removed.
    """
    for path in paths:
        try:
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()
        except OSError:
            break


def same_file(a, b):
    """Whether two paths name one existing file (same device and inode).

    Catches a hard link, a symbolic link or another spelling of the same path,
    which comparing resolved names misses (a hard link has its own name).
    """
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_not_an_input(output, inputs, *, option="output"):
    """A ValueError if ``output`` is the same file as one of ``inputs`` (None skipped).

    An output that does not exist yet is an input of nobody; one that exists is
    compared with each input that exists as a file (:func:`same_file`), then by
    resolved name (two options naming one file not yet written).
    """
    if output is None:
        return
    target = Path(output)
    for path in inputs:
        if path is None:
            continue
        if same_file(target, path) or (not target.exists()
                                       and target.resolve() == Path(path).resolve()):
            raise ValueError(
                f"The {option} path {str(output)!r} is one of the inputs ({str(path)!r}); "
                "choose another file (inputs are never overwritten)."
            )


def _reason(exc):
    """The system's words for an OSError, without the file name it may quote."""
    return exc.strerror or str(exc) or type(exc).__name__


class AtomicOutput:
    """An output file checked before any work and written in one step at the end.

    Opening creates the missing parent folders and a temporary file beside the
    target (so that an unwritable place fails at once, before the work);
    :meth:`write` writes the text to the temporary file and renames it over the
    target (atomic on POSIX: a reader sees the old file or the whole new one, and
    a hard link to the old file keeps the old content). :meth:`discard` removes the
    temporary file and the folders opening created, so a failed command leaves
    nothing behind.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._created = missing_paths(self.path.parent)
        shown = str(self.path)
        if self.path.is_dir():
            raise IsADirectoryError(
                f"Could not write {shown!r}: it is a folder; expected the path of a file.")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            remove_created(self._created)
            file = next((p for p in self.path.parents if p.exists() and not p.is_dir()), None)
            reason = (f"{str(file)!r} is a file, not a folder" if file is not None
                      else _reason(exc))
            raise OSError(f"Could not write {shown!r}: its folder "
                          f"{str(self.path.parent)!r} cannot be created ({reason}).") from None
        try:
            handle, self._temp = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            os.close(handle)
        except OSError as exc:  # the message names the target, not the temporary file
            remove_created(self._created)
            raise OSError(f"Could not write {shown!r}: no file can be created in its folder "
                          f"{str(self.path.parent)!r} ({_reason(exc)}).") from None

    def write(self, text):
        """Write ``text`` (UTF-8) and put it in place of the target."""
        try:
            with open(self._temp, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            if self.path.exists():  # keep the target's permissions
                os.chmod(self._temp, stat.S_IMODE(os.stat(self.path).st_mode))
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(self._temp, 0o666 & ~umask)
            os.replace(self._temp, self.path)
        except OSError as exc:
            self.discard()
            raise OSError(f"Could not write {str(self.path)!r}: {_reason(exc)}.") from None

    def discard(self):
        """Remove the temporary file and the folders opening created."""
        try:
            os.unlink(self._temp)
        except OSError:
            pass
        remove_created(self._created)
