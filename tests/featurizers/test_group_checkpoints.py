"""File-backed groups: load_model_group(lazy=True), and the deprecated ModelGroup.from_checkpoints.

Workers get a model factory and checkpoint paths (with their SHA-256), not the modules.
"""

import functools
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _torch_helpers import digits_mlp, digits_tensors, train  # noqa: E402

from featurizers import LossLandscapeFeaturizer, ModelGroup  # noqa: E402
from featurizers.checkpoints import CheckpointError, load_model_group  # noqa: E402

FAST = dict(curve_epochs=1, trace_matvecs=4, random_state=0, verbose=0)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    X, y = digits_tensors()
    data = (X[:120], y[:120])
    folder = tmp_path_factory.mktemp("checkpoints")
    models, paths = [], []
    for seed in range(2):
        torch.manual_seed(seed)
        models.append(train(digits_mlp(6), data, steps=15, seed=seed))
        paths.append(folder / f"seed{seed}.pt")
        torch.save(models[-1].state_dict(), paths[-1])
    return models, paths, data


def test_a_pickled_group_carries_the_factory_and_paths_not_the_modules(saved):
    models, paths, data = saved
    group = load_model_group(functools.partial(digits_mlp, 6), paths, data, lazy=True)
    live = ModelGroup(models, data)
    payload = pickle.dumps(group)
    assert b"torch.nn.modules" not in payload  # no module is shipped ...
    assert len(payload) < len(pickle.dumps(live))
    copy = pickle.loads(payload)  # ... the worker builds them from the files
    assert copy._models is None
    featurizer = LossLandscapeFeaturizer(**FAST)
    np.testing.assert_array_equal(featurizer.transform([copy]), featurizer.transform([live]))
    np.testing.assert_array_equal(featurizer.transform([group]), featurizer.transform([live]))


def test_lazy_changes_nothing_but_what_is_pickled(saved):
    _, paths, data = saved
    eager = load_model_group(digits_mlp, paths, data, model_kwargs={"width": 6})
    lazy = load_model_group(digits_mlp, paths, data, model_kwargs={"width": 6}, lazy=True)
    assert eager._checkpoints is None and len(lazy._checkpoints) == 2
    featurizer = LossLandscapeFeaturizer(**FAST)
    np.testing.assert_array_equal(featurizer.transform([lazy]), featurizer.transform([eager]))


def test_a_worker_reloads_with_the_loaders_reader(saved, tmp_path):
    """A nested checkpoint ({"state_dict": ...}) reloads in a worker as it loaded here."""
    models, _, data = saved
    nested = [tmp_path / f"nested{i}.pt" for i in range(2)]
    for model, path in zip(models, nested):
        torch.save({"epoch": 3, "state_dict": model.state_dict()}, path)
    group = load_model_group(functools.partial(digits_mlp, 6), nested, data, lazy=True)
    copy = pickle.loads(pickle.dumps(group))
    for a, b in zip(copy.models, models):
        for x, y in zip(a.state_dict().values(), b.state_dict().values()):
            assert torch.equal(x, y)


def test_a_checkpoint_changed_after_the_group_was_made_is_an_error(saved, tmp_path):
    models, paths, data = saved
    moved = [tmp_path / p.name for p in paths]
    for src, dst in zip(paths, moved):
        dst.write_bytes(src.read_bytes())
    group = load_model_group(functools.partial(digits_mlp, 6), moved, data, lazy=True)
    payload = pickle.dumps(group)
    torch.save(models[1].state_dict(), moved[0])  # another model's weights
    with pytest.raises(ValueError, match="changed since its ModelGroup was made"):
        pickle.loads(payload).models


def test_a_lazy_factory_must_pickle(saved):
    _, paths, data = saved
    with pytest.raises(CheckpointError, match="must pickle"):
        load_model_group(lambda: digits_mlp(6), paths, data, lazy=True)
    load_model_group(lambda: digits_mlp(6), paths, data)  # fine without workers


@pytest.mark.slow
def test_lazy_groups_in_worker_processes_give_the_rows_of_one_process(saved, tmp_path):
    X, y = saved[2]
    factory = functools.partial(torch.nn.Linear, 64, 10)
    paths = []
    for seed in range(2):
        torch.manual_seed(seed)
        paths.append(tmp_path / f"linear{seed}.pt")
        torch.save(train(factory(), (X, y), steps=10, seed=seed).state_dict(), paths[-1])
    groups = [load_model_group(factory, paths, (X[:k], y[:k]), lazy=True) for k in (80, 120)]
    one = LossLandscapeFeaturizer(**FAST).transform(groups)
    two = LossLandscapeFeaturizer(**FAST, n_jobs=2).transform(groups)
    np.testing.assert_array_equal(two, one)


# -- the deprecated constructor ---------------------------------------------------------


def test_from_checkpoints_is_deprecated_and_gives_the_same_group(saved):
    models, paths, data = saved
    with pytest.warns(FutureWarning, match=r"removed in 0\.2.*load_model_group\(.*lazy=True\)"):
        group = ModelGroup.from_checkpoints(functools.partial(digits_mlp, 6), paths, data)
    assert pickle.loads(pickle.dumps(group))._models is None
    lazy = load_model_group(functools.partial(digits_mlp, 6), paths, data, lazy=True)
    featurizer = LossLandscapeFeaturizer(**FAST)
    np.testing.assert_array_equal(featurizer.transform([group]), featurizer.transform([lazy]))


@pytest.mark.filterwarnings("ignore:ModelGroup.from_checkpoints is deprecated:FutureWarning")
def test_bad_factories_and_checkpoints(saved, tmp_path):
    models, paths, data = saved
    with pytest.raises(TypeError, match="list of paths"):
        ModelGroup.from_checkpoints(digits_mlp, str(paths[0]), data)
    with pytest.raises(TypeError, match="must return a torch.nn.Module"):
        ModelGroup.from_checkpoints(lambda: "model", paths, data)
    with pytest.raises(ValueError, match="Could not load the checkpoint"):
        ModelGroup.from_checkpoints(functools.partial(digits_mlp, 7), paths, data)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="Could not load the checkpoint"):
        ModelGroup.from_checkpoints(functools.partial(digits_mlp, 6), [tmp_path / "bad.pt"],
                                    data)
