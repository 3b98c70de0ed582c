"""Reading input files without blocking on special files (FIFOs, devices, sockets).

``Path.exists()`` is true for a FIFO, and opening a FIFO for reading blocks until a
writer comes, for ever if none does; a folder opens with ``IsADirectoryError``. The
helpers here look at what a path *is* (``os.stat``), and open with ``O_NONBLOCK``
and check the opened file again (``os.fstat``), so that a file swapped for a FIFO
between the two steps is refused too.
"""

from __future__ import annotations

import os
import stat

__all__ = ["check_output_is_no_input", "file_kind", "open_regular", "regular_file_or_none"]


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


def check_output_is_no_input(output, inputs, *, option="--output"):
    """A one-line ValueError if the file ``output`` would write is one of ``inputs``.

    Compared as files (device and inode, :func:`os.path.samefile`), not as names:
    a hard link, a symbolic link or another spelling of an input is the input. An
    output that does not exist yet is no input; inputs that do not exist are skipped.

    Parameters
    ----------
    output : str or path-like
    inputs : iterable of (str or path-like)
    option : str, default="--output"
        How the output was given, for the message.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_mdtree._files import check_output_is_no_input
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     seed = os.path.join(folder, "seed1.pt")
    ...     open(seed, "wb").close()
    ...     os.link(seed, os.path.join(folder, "out.csv"))
    ...     check_output_is_no_input(os.path.join(folder, "out.csv"), [seed])
    Traceback (most recent call last):
    ...
    ValueError: --output '...out.csv' is the input '...seed1.pt' (the same file: a hard link or another name of it); writing would replace it. Write to another file.
    """
    try:
        out_stat = os.stat(output)
    except OSError:
        return
    for path in inputs:
        try:
            same = os.path.samestat(out_stat, os.stat(path))
        except (OSError, TypeError, ValueError):
            continue
        if same:
            raise ValueError(
                f"{option} {os.fspath(output)!r} is the input {os.fspath(path)!r} (the same "
                "file: a hard link or another name of it); writing would replace it. Write "
                "to another file."
            )
