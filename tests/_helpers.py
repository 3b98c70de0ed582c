"""Helpers shared by test modules anywhere under ``tests/``; needs neither torch nor data.

A plain module, imported by the test files as ``from _helpers import ...`` (pytest puts
``tests/`` on ``sys.path``, as for ``_torch_helpers``, since ``tests/`` has no
``__init__.py``).

- :func:`within`: run a call in a thread, fail (rather than hang) if it blocks.
- :data:`HAS_TORCH` and :data:`needs_torch`: mark the tests of a module that need torch,
  so that its other tests still run where torch is not installed (a module-level
  ``pytest.importorskip("torch")`` would skip them all).
"""

import importlib.util
import threading

import pytest

__all__ = ["HAS_TORCH", "needs_torch", "within"]


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
