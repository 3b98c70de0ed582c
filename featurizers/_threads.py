"""Private: the torch (and BLAS) thread count of a featurization, set and restored.

torch's default intra-op thread count is the number of cores. On a machine whose
cores are busy with other work, its threads spin waiting for each other and a
featurization of small networks collapses (``benchmarks/bench_featurize_cost.py``
measures it; figures on the documentation's benchmarks page). The featurizers' networks are
small, so a second thread buys little even on an idle machine, and ``n_jobs`` (one
process per group) is the way to use more cores.

:func:`resolve_threads` is the policy (``torch_threads=None``: one thread per worker);
:func:`limit_threads` applies a count for a block and restores the previous one after,
also after an exception; :func:`call_with_threads` is what a joblib worker runs, so
that workers follow the same policy as the calling process.

The command line needs no thread logic of its own: it passes its options through to
the featurizer -- ``torch_threads`` (None unless the user gives a count), ``n_jobs``
(groups at once), ``verbose=1`` unless quiet (the bar over groups names the feature
under way, on stderr) or a ``progress`` callback to print its own lines.
"""

from __future__ import annotations

import contextlib

#: The policy's thread count per process (the calling one, or each joblib worker).
DEFAULT_THREADS = 1


def resolve_threads(torch_threads):
    """The intra-op thread count for a ``torch_threads`` parameter.

    None is the policy: :data:`DEFAULT_THREADS` (one) per process, whatever the
    device, ``n_jobs`` or load: on a busy 2-core machine more threads made the
    featurizers many times slower (the benchmarks page, "Featurize cost against
    training"). The load is not
    read: the 1-minute average lags, and a count chosen from it could still
    collapse. An int is used as given.
    """
    return DEFAULT_THREADS if torch_threads is None else int(torch_threads)


@contextlib.contextmanager
def limit_threads(n_threads):
    """torch's intra-op threads and the BLAS threads (numpy, scipy) at ``n_threads``.

    The previous counts are restored on exit, also after an exception. torch's
    inter-op thread pool is left alone: its size can be set only once per process,
    before any inter-op work, so it could not be restored; the featurizers do not
    use it.
    """
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    if before != n_threads:
        torch.set_num_threads(n_threads)
    try:
        with threadpool_limits(limits=n_threads, user_api="blas"):
            yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def call_with_threads(n_threads, function, *args):
    """``function(*args)`` under :func:`limit_threads` (what a joblib worker runs)."""
    with limit_threads(n_threads):
        return function(*args)
