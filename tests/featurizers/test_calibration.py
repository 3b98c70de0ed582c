"""calibrate(): a tiny lattice of a tiny MLP in seconds; the lattice; the budget refusal."""

import json
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from featurizers.calibration import (  # noqa: E402
    CalibrationBudgetError,
    calibrate,
    lattice_configurations,
)
from featurizers.lattice import neighbours  # noqa: E402
from sklearn_mdtree.calibration import load_calibrated  # noqa: E402


def mlp(width):
    return torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.ReLU(),
                               torch.nn.Linear(width, 3))


def task(n, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 4, generator=g)
    return X, (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()


TINY = dict(base=0.1, width=8, n_seeds=3, n_featurized=2, epochs=3, curve_epochs=1,
            shape=(4, 2, 2), progress=False)


@pytest.mark.parametrize("knob, base", [("learning rate", 0.1), ("batch size", 32)])
def test_every_labelled_configuration_has_its_neighbours_in_the_lattice(knob, base):
    configs, labelled = lattice_configurations(knob, base, 32, 1000, (5, 4, 3),
                                               fixed=[{"bn": False}, {"bn": True}])
    known = set(configs)
    assert len(configs) == 5 * 4 * 3 * 2 and len(labelled) == 3 * 3 * 3 * 2
    for config in labelled:
        moves = neighbours(config, knob, n_available=1000)
        assert {"knob_up", "knob_down", "width_up"} <= set(moves)
        assert all(c in known for c in moves.values())
    assert 32 in {c.width for c in labelled} and 1000 in {c.n_train for c in labelled}


def test_a_tiny_calibration_runs_in_seconds_and_resumes_from_its_cache(tmp_path):
    out = tmp_path / "calibrated.json"
    first = calibrate(mlp, task(160, 0), task(200, 1), cache_dir=tmp_path / "cache",
                      output=out, **TINY)
    table = first.lattice_table_
    assert len(table) == 2 * 1 * 2  # knob interior x widths below the top x data
    assert set(table["action"]) <= {"raise temperature", "lower temperature", "widen",
                                    "more data", "none"}
    for column in ("train_error", "weight_norm_ratio", "weight_norm_ratio_se", "hessian_t",
                   "mode_connectivity_peak", "CKA", "data_fraction"):
        assert column in table
    meta = json.loads(out.read_text())["metadata"]
    assert meta["shape"] == [4, 2, 2] and meta["n_labelled"] == 4
    loaded = load_calibrated(out)
    assert loaded.kind_ == first.kind_
    again = calibrate(mlp, task(160, 0), task(200, 1), cache_dir=tmp_path / "cache", **TINY)
    np.testing.assert_array_equal(again.lattice_table_["test_error_mean"],
                                  table["test_error_mean"])
    np.testing.assert_allclose(again.lattice_table_["hessian_t"], table["hessian_t"])


def test_a_budget_too_small_for_the_smallest_lattice_is_refused_in_one_line(tmp_path):
    args = {**TINY, "shape": None}
    with pytest.raises(CalibrationBudgetError, match="'budget' parameter") as info:
        calibrate(mlp, task(160, 0), task(200, 1), budget=1e-4, cache_dir=False, **args)
    assert "\n" not in str(info.value)
    assert "smallest lattice" in str(info.value)


@pytest.mark.parametrize("kwargs, match", [
    ({"budget": 0}, "'budget'"),
    ({"n_seeds": 1}, "'n_seeds'"),
    ({"n_featurized": 5}, "'n_featurized'"),
    ({"fixed": []}, "'fixed'"),
])
def test_bad_parameters_are_refused_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        calibrate(mlp, task(40, 0), task(40, 1), **{**TINY, **kwargs}, cache_dir=False)


def test_the_dask_backend_gives_the_serial_lattice(tmp_path):
    distributed = pytest.importorskip("distributed")
    import warnings

    from joblib import parallel_config

    serial = calibrate(mlp, task(160, 0), task(200, 1), cache_dir=tmp_path / "a", **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1,
                                           processes=False, dashboard_address=None,
                                           silence_logs=50)
    with cluster, distributed.Client(cluster), parallel_config(backend="dask"):
        on_dask = calibrate(mlp, task(160, 0), task(200, 1), cache_dir=tmp_path / "b",
                            n_jobs=None, **{k: v for k, v in TINY.items()})
    np.testing.assert_array_equal(on_dask.lattice_table_["test_error_mean"],
                                  serial.lattice_table_["test_error_mean"])
    assert list(on_dask.lattice_table_["action"]) == list(serial.lattice_table_["action"])


def test_a_lattice_wholly_in_the_cache_is_resumed_whatever_the_budget(tmp_path):
    # first run: a budget that fits the forced shape; then the same shape with a budget
    # far too small for a cold run still runs, because everything is cached
    calibrate(mlp, task(160, 0), task(200, 1), cache_dir=tmp_path, **TINY)
    again = calibrate(mlp, task(160, 0), task(200, 1), cache_dir=tmp_path,
                      **{**TINY, "budget": 1e-4})
    assert again.metadata_["shape"] == [4, 2, 2]
