"""Tests of featurizers.zoo: train_zoo's table and labels, the cache, resume, bad input."""

import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from featurizers import ModelGroup  # noqa: E402
from featurizers.zoo import (  # noqa: E402
    TABLE_COLUMNS,
    Recipe,
    ZooCacheWarning,
    ZooGrid,
    knob_labels,
    tanh_mlp,
    train_zoo,
)
from sklearn_mdtree.rfi import label_configurations  # noqa: E402

GRID = ZooGrid(width=(4, 8), bs=(8, 32), data_amount=(60,), noise=(0.0, 0.2),
               seeds=(0, 1), steps=30)
RECIPE = Recipe(curve_epochs=1, hessian_batch_size=32)


def _landscape_rows(folder):
    """The cached loss-landscape rows (``features/`` also holds validation rows)."""
    return sorted(p for p in (folder / "features").glob("*.csv")
                  if "mode_connectivity_peak" in p.read_text().splitlines()[0])


def run(cache_dir, **kwargs):
    kwargs = {"recipe": RECIPE, "verbose": 0, **kwargs}
    return train_zoo(GRID, cache_dir=cache_dir, **kwargs)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run, featurized, without a cache."""
    zoo = run(False)
    zoo.featurize()
    return zoo


class FailsOnce:
    """A model factory that raises for one configuration the first time it is asked."""

    def __init__(self, width, bs):
        self.bad, self.failed = (width, bs), False

    def __call__(self, config):
        if (config.width, config.bs) == self.bad and not self.failed:
            self.failed = True
            raise RuntimeError("out of memory (simulated)")
        return tanh_mlp(config)


def test_table_columns_groups_and_labels(reference, model_diagnosis_dir):
    table = reference.table
    public = pd.read_csv(model_diagnosis_dir / "dataframe_normal_public.csv", nrows=1)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert set(public.columns) <= set(table.columns)
    assert len(table) == GRID.n_configurations == len(reference.groups)
    assert table["collection"].tolist() == ["normal"] * 4 + ["noise"] * 4
    assert (table["data"] == 1).all()
    assert table[list(public.columns.drop(["bs_failure", "width_vs_batch", "data_vs_batch"]))
                 ].notna().all().all()
    # RFI and Q2 labels: those of the grid of each collection, on the seeds' means
    own = ["bs_failure", "width_vs_batch", "data_vs_batch"]
    for noise in GRID.noise:
        part = table[table["noise"] == noise]
        labelled = label_configurations(part.drop(columns=own))
        columns = [c for c in part.columns if c != "bs_failure"]
        pd.testing.assert_frame_equal(labelled[columns], part[columns])
    # the optimizer labels: one-step moves along each knob, from the seeds' errors
    errors = reference.seed_errors
    assert errors.shape == (len(table), len(GRID.seeds))
    assert np.allclose(errors.mean(axis=1), table["test_error"])
    assert np.allclose(errors.std(axis=1, ddof=1) / np.sqrt(2), table["test_error_se"])
    for knob in ("bs", "lr"):
        expected = knob_labels(table, errors, knob)
        pd.testing.assert_frame_equal(table[list(expected.columns)], expected)
    assert (table["lr_failure"] == "optimal").all()  # one learning rate: no neighbour
    assert np.allclose(table["test_acc"], 100 - table["test_error"])
    assert np.allclose(table["log_para_amount"], np.log(table["para_amount"]))
    group = reference.groups[0]
    assert isinstance(group, ModelGroup) and group.n_models == 2
    assert group.n_train_samples == table["data_amount"].iloc[0]
    assert group.n_parameters == table["para_amount"].iloc[0]
    # noisy collection: its training labels differ from the clean ones on ~20%
    clean, noisy = reference.groups[3], reference.groups[7]
    assert clean.metadata["noise"] == 0 and noisy.metadata["noise"] == 0.2
    differ = float((clean.train_data[1] != noisy.train_data[1]).float().mean())
    assert 0.1 < differ < 0.3
    assert not table["hessian_t_floored"].any() or math.log(0.01) in table["hessian_t"].values


def test_rerun_reads_the_cache(tmp_path, reference):
    first = run(tmp_path)
    assert first.stats["models_trained"] == GRID.n_models
    assert first.stats["models_loaded"] == 0 and first.stats["train_seconds"] > 0
    first.featurize()
    assert first.stats["rows_computed"] == GRID.n_configurations
    again = run(tmp_path)
    assert again.stats["models_trained"] == 0
    assert again.stats["models_loaded"] == GRID.n_models
    again.featurize()
    assert again.stats["rows_loaded"] == GRID.n_configurations
    assert again.stats["rows_computed"] == 0
    pd.testing.assert_frame_equal(again.table, reference.table)
    # weights are plain tensors: they load without unpickling code
    path = next((tmp_path / "models").glob("*.pt"))
    entry = torch.load(path, weights_only=True)
    assert set(entry) == {"meta", "state"}


def test_the_recipes_random_state_reaches_the_rows_and_their_keys(tmp_path, reference):
    # the default (0) keeps the keys of the rows cached before it reached them: no
    # random state in the key; another random state gives other keys, other seeds and
    # is computed again, not read from the default's rows
    first = run(tmp_path)
    first.featurize()
    pd.testing.assert_frame_equal(first.table, reference.table)
    other = run(tmp_path, recipe=Recipe(curve_epochs=1, hessian_batch_size=32,
                                        random_state=7))
    assert other.stats["models_loaded"] == GRID.n_models  # the models do not depend on it
    default_keys, other_keys = first._feature_keys(), other._feature_keys()
    assert all(m["featurizer"]["random_state"] is None for m, _, _ in default_keys)
    assert all(m["featurizer"]["random_state"] == 7 for m, _, _ in other_keys)
    assert not {k for _, _, k in default_keys} & {k for _, _, k in other_keys}
    assert [s for _, s, _ in default_keys] != [s for _, s, _ in other_keys]
    other.featurize()
    assert other.stats["rows_computed"] == GRID.n_configurations
    assert not np.array_equal(other.table["CKA"].to_numpy(), reference.table["CKA"].to_numpy())


def test_interrupted_run_resumes_with_identical_rows(tmp_path, reference):
    with pytest.raises(RuntimeError, match=r"factory failed for the configuration \(width=8 "
                                           r"bs=8 .*out of memory.*are cached"):
        run(tmp_path, model_factory=FailsOnce(8, 8))
    n_saved = len(list((tmp_path / "models").glob("*.pt")))
    assert 0 < n_saved < GRID.n_models
    factory = FailsOnce(8, 8)
    factory.failed = True
    resumed = run(tmp_path, model_factory=factory)
    assert resumed.stats["models_trained"] == GRID.n_models - n_saved
    assert resumed.stats["models_loaded"] == n_saved
    # a lost feature row is the only one recomputed
    resumed.featurize()
    row_file = _landscape_rows(tmp_path)[0]
    row_file.unlink()
    resumed = run(tmp_path, model_factory=factory)
    resumed.featurize()
    assert resumed.stats["rows_computed"] == 1
    # the factory's name is part of the recipe: compare with a run of that factory
    plain = run(False, model_factory=factory)
    plain.featurize()
    pd.testing.assert_frame_equal(resumed.table, plain.table)


def test_corrupt_and_foreign_files_are_recomputed(tmp_path, reference):
    run(tmp_path).featurize()
    models = sorted((tmp_path / "models").glob("*.pt"))
    models[0].write_bytes(b"not a torch file")
    # a file of another recipe under this entry's name
    other = tmp_path / "other"
    train_zoo(GRID, recipe=Recipe(name="other", curve_epochs=1, hessian_batch_size=32),
              cache_dir=other, verbose=0)
    foreign = sorted((other / "models").glob("*.pt"))[0]
    models[1].write_bytes(foreign.read_bytes())
    rows = _landscape_rows(tmp_path)
    rows[0].write_text("meta,train_error\nx,1.0\n")
    rows[1].write_text("garbage")
    with pytest.warns(ZooCacheWarning) as caught:
        zoo = run(tmp_path)
        zoo.featurize()
    messages = " ".join(str(w.message) for w in caught)
    assert "cannot be read" in messages and "holds another entry" in messages
    assert zoo.stats["models_trained"] == 2 and zoo.stats["rows_computed"] == 2
    pd.testing.assert_frame_equal(zoo.table, reference.table)
    # the files were replaced: a third run is silent and reads everything
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ZooCacheWarning)
        zoo = run(tmp_path)
        zoo.featurize()
    assert zoo.stats["models_trained"] == 0 and zoo.stats["rows_computed"] == 0


def test_both_paths_give_the_same_table():
    grid = ZooGrid(width=(4,), bs=(8, 16), data_amount=(60,), noise=(0.0,), seeds=(0, 1),
                   steps=15)
    stacked = train_zoo(grid, cache_dir=False, vectorize=True, verbose=0).table
    loop = train_zoo(grid, cache_dir=False, vectorize=False, verbose=0).table
    numeric = ["train_error", "train_loss", "test_error", "test_loss"]
    np.testing.assert_allclose(stacked[numeric], loop[numeric], rtol=1e-4, atol=1e-4)


def test_default_cache_dir_follows_the_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path))
    grid = ZooGrid(width=(4,), bs=(8,), data_amount=(30,), noise=(0.0,), seeds=(0,), steps=2)
    zoo = train_zoo(grid, verbose=0)
    assert zoo.cache_dir == tmp_path / "mdtree" / "zoo"
    assert len(list((tmp_path / "mdtree" / "zoo" / "models").glob("*.pt"))) == 1


SMALL = ZooGrid(width=(4,), bs=(8,), data_amount=(30,), noise=(0.0,), seeds=(0,), steps=2)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"model_factory": lambda c: "a model"}, TypeError,
         "must return a torch.nn.Module; for the configuration .* returned str"),
        ({"model_factory": 3}, TypeError, "'model_factory' parameter of train_zoo must be call"),
        ({"grid": ZooGrid(data_amount=(2000,))}, ValueError,
         "asks for up to 2000 training samples, but 'data' holds 1200"),
        ({"data": (torch.rand(40, 64), torch.arange(40) % 12),
          "test_data": (torch.rand(10, 64), torch.arange(10))}, ValueError,
         r"labels of 'data' must lie in \[0, 10\) for models with 10 outputs; got labels "
         "from 0 to 11"),
        ({"data": (torch.rand(40, 64), torch.rand(40)),
          "test_data": (torch.rand(10, 64), torch.randint(0, 10, (10,)))}, TypeError,
         "labels of 'data' must be integer class indices"),
        ({"data": (torch.rand(40, 64), torch.randint(0, 10, (40,)))}, ValueError,
         "'data' and 'test_data' parameters of train_zoo go together"),
        ({"data": [1, 2, 3], "test_data": [1]}, TypeError, "'data' parameter must be a tuple"),
        ({"grid": "huge"}, ValueError, "'preset' parameter must be one of"),
        ({"vectorize": "yes"}, ValueError, "'vectorize' parameter of train_zoo"),
        ({"recipe": {"momentum": 0.5}}, TypeError, "'recipe' parameter of train_zoo must be"),
    ],
)
def test_bad_input(kwargs, error, match):
    kwargs = {"grid": SMALL, "cache_dir": False, "verbose": 0, **kwargs}
    with pytest.raises(error, match=match):
        train_zoo(**kwargs)


def test_vectorize_true_refuses_batchnorm_models():
    from _torch_helpers import TinyCNN

    with pytest.raises(ValueError, match="vectorize=True needs models without buffers"):
        train_zoo(SMALL, model_factory=lambda c: TinyCNN(), vectorize=True, cache_dir=False,
                  verbose=0)
    zoo = train_zoo(SMALL, model_factory=lambda c: TinyCNN(), cache_dir=False, verbose=0)
    assert zoo.stats["models_trained"] == 1


def test_unwritable_cache_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(PermissionError, match="'cache_dir' parameter must be a folder the zoo "
                                              "can write to"):
        train_zoo(SMALL, cache_dir=blocker / "zoo", verbose=0)
    assert blocker.read_text() == "not a folder"


def test_recipe_validation():
    with pytest.raises(ValueError, match="'momentum' parameter of Recipe"):
        Recipe(momentum=1.0)
    with pytest.raises(ValueError, match="'nonpositive' parameter of Recipe"):
        Recipe(nonpositive=-1)
    with pytest.raises(ValueError, match="'curve_epochs' parameter of Recipe must be an int"):
        Recipe(curve_epochs=-1)


@pytest.mark.slow
def test_n_jobs_gives_the_same_table(reference):
    zoo = run(False, n_jobs=2)
    assert zoo.stats["models_trained"] == GRID.n_models
    zoo.featurize(n_jobs=2)
    pd.testing.assert_frame_equal(zoo.table, reference.table, rtol=1e-5)
