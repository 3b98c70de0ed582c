"""ModelGroup.from_checkpoints: workers get a model factory and checkpoint paths."""

import functools
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _torch_helpers import digits_mlp, digits_tensors, train  # noqa: E402

from featurizers import LossLandscapeFeaturizer, ModelGroup  # noqa: E402

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
    group = ModelGroup.from_checkpoints(functools.partial(digits_mlp, 6), paths, data)
    live = ModelGroup(models, data)
    payload = pickle.dumps(group)
    assert b"torch.nn.modules" not in payload  # no module is shipped ...
    assert len(payload) < len(pickle.dumps(live))
    copy = pickle.loads(payload)  # ... the worker builds them from the files
    assert copy._models is None
    featurizer = LossLandscapeFeaturizer(**FAST)
    np.testing.assert_array_equal(featurizer.transform([copy]), featurizer.transform([live]))
    np.testing.assert_array_equal(featurizer.transform([group]), featurizer.transform([live]))


def test_a_checkpoint_changed_after_the_group_was_made_is_an_error(saved, tmp_path):
    models, paths, data = saved
    moved = [tmp_path / p.name for p in paths]
    for src, dst in zip(paths, moved):
        dst.write_bytes(src.read_bytes())
    group = ModelGroup.from_checkpoints(functools.partial(digits_mlp, 6), moved, data)
    payload = pickle.dumps(group)
    torch.save(models[1].state_dict(), moved[0])  # another model's weights
    with pytest.raises(ValueError, match="changed since its ModelGroup was made"):
        pickle.loads(payload).models


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
