"""Private: running the featurizers' groups in joblib workers, in group order.

:func:`_group_results` runs one function per group, here or in worker processes,
and yields ``(result, error, warnings)`` in group order; :func:`_replay` issues a
worker's warnings again in the caller and raises its error, so that ``n_jobs``
changes neither what is warned (``pytest.warns``, ``-W error`` and filters by
module apply) nor which error is raised (that of the first failing group in
order, as with one job); :func:`_closing` cancels the groups still running after
an error.
"""

import asyncio
import concurrent.futures
import contextlib
import sys
import warnings

from joblib import Parallel, delayed, effective_n_jobs
from joblib.parallel import get_active_backend


def _module_of(filename):
    """Name of the imported module whose file is ``filename``, or None."""
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == filename:
            return name
    return None


def _in_worker(function, *args):
    """``(result, error, warnings)`` of ``function(*args)`` in a worker process.

    In a worker (``n_jobs``) warnings would go to its own stderr, or nowhere,
    where the user's filters (``pytest.warns``, ``-W error``) do not see them;
    they are returned with what :func:`warnings.warn_explicit` needs to issue
    them again in the caller, from the same place. An exception is returned too,
    so that the caller raises that of the first failing group in order, as one
    job does, rather than that of the first to fail in time.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = function(*args), None
        except Exception as exc:  # raised again by the caller, in group order
            result, error = None, exc
    records = [
        (w.message, w.category, w.filename, w.lineno, _module_of(w.filename))
        for w in caught
    ]
    return result, error, records


def _effective_n_jobs(n_jobs):
    """Worker processes for ``n_jobs``: 1 runs the groups here, in turn.

    Under a thread-based joblib backend the groups run here too: their
    computations fork torch's global RNG (dropout draws from it), which threads
    would share.
    """
    backend, _ = get_active_backend()
    if getattr(backend, "uses_threads", False):
        return 1
    return effective_n_jobs(n_jobs)


def _group_results(function, calls, n_jobs, describe=lambda i: f"call {i}"):
    """``(result, error, warnings)`` of ``function(*args)`` for each ``args`` of ``calls``.

    With ``n_jobs=1`` the calls run here, lazily, and raise and warn as they go (the
    error and warnings of each result are then None and empty). Otherwise
    ``n_jobs`` is joblib's (None: that of the active :func:`joblib.parallel_config`,
    see :func:`_effective_n_jobs`): the calls run in worker processes
    (:func:`_in_worker`) and come back in the order of ``calls``; ``function`` and
    its arguments must pickle. Under ``parallel_config(backend="dask")`` they are
    Dask tasks of its client (:func:`_dask_results`); ``describe(i)`` names call
    ``i`` in the error raised when the cluster loses it.
    """
    if n_jobs == 1:
        return ((function(*args), None, []) for args in calls)
    client = _dask_client()
    if client is not None:
        return _dask_results(client, function, calls, describe)
    return Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_in_worker)(function, *args) for args in calls
    )


def _dask_client():
    """The Dask client of an active ``parallel_config(backend="dask")``, else None."""
    backend, _ = get_active_backend()
    if type(backend).__name__ != "DaskDistributedBackend":
        return None
    return backend.client


def _dask_results(client, function, calls, describe):
    """The calls as Dask futures of the active client, results yielded in call order.

    Submitted through the client rather than joblib's Dask backend, which waits for
    ever when a task fails on the cluster's side (``KilledWorker`` after its
    workers died, a task cancelled or lost): here such a failure is raised, naming
    the call, and the futures still pending are cancelled on close or error. A task
    whose worker died is run again by the scheduler on another worker (up to
    ``distributed.scheduler.allowed-failures`` times); the results are those of a
    complete run, never of a partial one.
    """
    futures = [
        client.submit(_in_worker, function, *args, pure=False) for args in calls
    ]

    from distributed import KilledWorker

    lost = (KilledWorker, concurrent.futures.CancelledError, asyncio.CancelledError)

    def results():
        try:
            for i, future in enumerate(futures):
                try:
                    yield future.result()
                except lost as exc:
                    raise RuntimeError(
                        f"The Dask cluster could not compute {describe(i)}: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
        finally:
            client.cancel([f for f in futures if not f.done()])

    return results()


def _replay(error, records):
    """Issue a worker's warnings again, from where they arose, then raise its error."""
    for message, category, filename, lineno, module in records:
        warnings.warn_explicit(message, category, filename, lineno, module=module)
    if error is not None:
        raise error


@contextlib.contextmanager
def _closing(*iterators):
    """Close ``iterators`` on exit; after an error that cancels the groups still running.

    joblib's warning about cancelled tasks is silenced (closing is a no-op once all
    are done).
    """
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", "[0-9]+ tasks (which were still|have been successfully)"
            )
            for iterator in iterators:
                iterator.close()
