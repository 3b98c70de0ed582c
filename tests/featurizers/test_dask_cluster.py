"""Featurization on a real Dask cluster (processes) through joblib's Dask backend.

One ``LocalCluster`` of two single-threaded worker processes serves the module; its
workers import torch on their first task, which makes these tests slow on a busy
machine (tens of seconds), hence the ``slow`` mark.
"""

import functools
import os
import warnings

import joblib
import numpy as np
import pytest

torch = pytest.importorskip("torch")
distributed = pytest.importorskip("distributed")

from _torch_helpers import digits_mlp, digits_tensors, train  # noqa: E402

from featurizers import LossLandscapeFeaturizer, ModelGroup, ValidationFeaturizer  # noqa: E402
from featurizers.checkpoints import load_model_group  # noqa: E402

pytestmark = pytest.mark.slow

ALL = ["train_error", "train_loss", "hessian_t", "hessian_e",
       "mode_connectivity_peak", "mode_connectivity", "CKA"]
FAST = dict(curve_epochs=2, trace_matvecs=10, random_state=0, verbose=0)
#: Generous: two cores shared with other jobs, workers importing torch on first use.
TIMEOUT = 300


class KillingLoss:
    """Cross-entropy whose first calls in Dask workers kill the worker process.

    ``kills`` workers die, one each: the ``i``-th kill claims the marker file
    ``<folder>/kill-<i>`` (created exclusively, so that each kill happens once
    over all processes). Outside a Dask worker it is the plain cross-entropy.
    """

    def __init__(self, folder, kills=1):
        self.folder, self.kills = str(folder), kills

    def __call__(self, logits, labels):
        try:
            distributed.get_worker()
        except ValueError:  # not in a worker: the serial reference
            return torch.nn.functional.cross_entropy(logits, labels)
        for i in range(self.kills):
            try:
                fd = os.open(os.path.join(self.folder, f"kill-{i}"), os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                continue
            os.close(fd)
            os._exit(1)  # the worker process dies mid-task, as on a crash or OOM kill
        return torch.nn.functional.cross_entropy(logits, labels)


@pytest.fixture(scope="module")
def groups():
    X, y = digits_tensors()
    data = (X[:200], y[:200])
    out = []
    for g, width in enumerate((6, 8, 10)):
        models = []
        for seed in range(2):
            torch.manual_seed(10 * g + seed)
            models.append(train(digits_mlp(width), data, steps=30, seed=seed))
        out.append(ModelGroup(models, data, name=f"w{width}"))
    return out


@pytest.fixture(scope="module")
def client():
    import dask

    # One retry of a task whose worker died, so that a task that kills every worker
    # fails after two deaths rather than four.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # port and resource notes of a local cluster
            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=50,
            )
        with cluster, distributed.Client(cluster, timeout=TIMEOUT) as client:
            client.wait_for_workers(2, timeout=TIMEOUT)
            yield client


def _workers_torch_threads(client):
    return set(client.run(torch.get_num_threads).values())


def test_rows_on_the_cluster_equal_the_serial_rows_bit_for_bit(client, groups):
    # The serial reference runs on one torch thread (conftest), as each worker does
    # (Dask sets OMP_NUM_THREADS=1 in its workers): the same reductions, the same bits.
    assert torch.get_num_threads() == 1 and _workers_torch_threads(client) == {1}
    featurizer = LossLandscapeFeaturizer(ALL, **FAST)
    serial = featurizer.transform(groups)
    assert np.isfinite(serial).all()
    with joblib.parallel_config(backend="dask"):
        on_cluster = featurizer.transform(groups)  # n_jobs=None: the cluster's workers
        two = featurizer.set_params(n_jobs=2).transform(groups[::-1])
    np.testing.assert_array_equal(on_cluster, serial)
    np.testing.assert_array_equal(two, LossLandscapeFeaturizer(ALL, **FAST).transform(groups[::-1]))
    # the work was done by the workers, which imported the featurizers for it
    assert client.run(lambda: "featurizers" in __import__("sys").modules) == dict.fromkeys(
        client.scheduler_info()["workers"], True
    )


def test_a_worker_killed_mid_run_gives_the_right_rows(client, groups, tmp_path):
    featurizer = ValidationFeaturizer(["train_error", "train_loss"], verbose=0,
                                      loss_fn=KillingLoss(tmp_path, kills=1))
    serial = featurizer.transform(groups)
    with joblib.parallel_config(backend="dask"):
        rows = featurizer.transform(groups)
    assert (tmp_path / "kill-0").exists()  # a worker did die in the run
    np.testing.assert_array_equal(rows, serial)
    client.wait_for_workers(2, timeout=TIMEOUT)  # the nanny restarted it


def test_a_task_that_kills_every_worker_fails_with_a_clear_error(client, groups, tmp_path):
    featurizer = ValidationFeaturizer(["train_loss"], verbose=0,
                                      loss_fn=KillingLoss(tmp_path, kills=10))
    with joblib.parallel_config(backend="dask"):
        with pytest.raises(RuntimeError, match=r"could not compute group 'w6' \(index 0\): "
                           "KilledWorker.*workers died") as info:
            featurizer.transform(groups[:1])
    assert type(info.value.__cause__).__name__ == "KilledWorker"
    client.wait_for_workers(2, timeout=TIMEOUT)


def test_file_backed_groups_reload_on_the_workers_with_the_same_rows(client, groups, tmp_path):
    # load_model_group(lazy=True): the tasks carry the factory and the paths, and each
    # worker reads the checkpoints itself (here the local disk is the shared one)
    lazy = []
    for g, (group, width) in enumerate(zip(groups, (6, 8, 10))):
        paths = [tmp_path / f"g{g}-seed{i}.pt" for i in range(group.n_models)]
        for model, path in zip(group.models, paths):
            torch.save(model.state_dict(), path)
        lazy.append(load_model_group(functools.partial(digits_mlp, width), paths,
                                     group.train_data, name=group.name, lazy=True))
    featurizer = LossLandscapeFeaturizer(ALL, **FAST)
    serial = featurizer.transform(groups)
    with joblib.parallel_config(backend="dask"):
        on_cluster = featurizer.transform(lazy)
    np.testing.assert_array_equal(on_cluster, serial)
