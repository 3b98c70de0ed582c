"""Helpers shared by test modules anywhere under ``tests/``; needs neither torch nor data.

A plain module, imported by the test files as ``from _helpers import ...`` (pytest puts
``tests/`` on ``sys.path``, as for ``_torch_helpers``, since ``tests/`` has no
``__init__.py``).

- :func:`within`: run a call in a thread, fail (rather than hang) if it blocks.
- :data:`HAS_TORCH` and :data:`needs_torch`: mark the tests of a module that need torch,
  so that its other tests still run where torch is not installed (a module-level
  ``pytest.importorskip("torch")`` would skip them all).
- :func:`run_cli`, :func:`error_line` and :func:`result_error_line`: run ``mdtree``
  in-process and check that a refused command gives one error line (exit status 2,
  nothing on stdout, no traceback).
- :func:`import_benchmark`: import a script of ``benchmarks/`` (not an installed
  package) as ``benchmarks.<name>``, the repository root on ``sys.path`` only meanwhile.
"""

import contextlib
import importlib.util
import io
import threading
from pathlib import Path

import pytest

__all__ = ["HAS_TORCH", "error_line", "import_benchmark", "needs_torch",
           "result_error_line", "run_cli", "within"]

ROOT = Path(__file__).resolve().parents[1]


def _has_torch():
    try:
        return importlib.util.find_spec("torch") is not None
    except ImportError:  # an import hook that refuses it
        return False


#: Whether torch is installed here (looked up without importing it).
HAS_TORCH = _has_torch()

#: Marker of a test that needs torch: skipped, saying so, where torch is missing.
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="needs torch (extra 'torch')")


def within(seconds, call, *, unblock=None):
    """Run ``call()`` in a daemon thread; fail the test if it has not returned in time.

    Parameters
    ----------
    seconds : float
        How long to wait. A call that blocks (a FIFO opened for reading, say) fails
        the test (``pytest.fail``) after this long instead of hanging the run; its
        thread is left behind as a daemon.
    call : callable
        Called with no arguments.
    unblock : callable, default=None
        Called (no arguments) before failing on a timeout, to release the blocked call
        (e.g. open a FIFO for writing, so that its reader returns).

    Returns
    -------
    outcome : dict
        ``{"value": result}`` if ``call`` returned, ``{"error": exception}`` if it
        raised (any exception, ``SystemExit`` included: the test looks at it).
    """
    outcome = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if unblock is not None:
            unblock()
        pytest.fail(f"{call} blocked for more than {seconds} s")
    return outcome


def run_cli(argv):
    """``(status, stdout, stderr)`` of ``mdtree argv``, in-process (argparse's usage
    errors and ``--help`` give their ``SystemExit`` code as the status)."""
    import sklearn_mdtree._cli as cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(argv)
        except SystemExit as exc:
            status = exc.code
    return status, out.getvalue(), err.getvalue()


def result_error_line(result, command, *words, prog=None):
    """The one error line of a refused command's ``(status, stdout, stderr)``.

    Asserts exit status 2, nothing on stdout, no traceback, exactly one line on
    stderr starting ``"<prog>: error: "`` (``prog``: ``"mdtree <command>"`` unless
    given) and holding each of ``words``; returns the line without its newline.
    """
    status, out, err = result
    assert status == 2 and out == "" and "Traceback" not in err, (status, out, err)
    assert err.endswith("\n") and err.count("\n") == 1, err  # exactly one line
    prog = f"mdtree {command}" if prog is None else prog
    assert err.startswith(f"{prog}: error: "), err
    for word in words:
        assert word in err, err
    return err.strip()


def error_line(argv, *words, prog=None):
    """:func:`result_error_line` of :func:`run_cli` ``(argv)``, the command ``argv[0]``
    (give ``prog`` for an error of the main parser, e.g. ``prog="mdtree"``)."""
    return result_error_line(run_cli(argv), argv[0] if argv else "", *words, prog=prog)


def import_benchmark(name):
    """The module ``benchmarks.<name>`` of this repository (its scripts are not installed).

    The repository root is put on ``sys.path`` for the import only; the module stays in
    ``sys.modules``, so later calls return the same module.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        return importlib.import_module(f"benchmarks.{name}")
