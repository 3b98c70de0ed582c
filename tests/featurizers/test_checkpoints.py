"""Tests of featurizers.checkpoints: model groups from a factory, checkpoints and data."""

import hashlib
import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from featurizers.checkpoints import (  # noqa: E402
    CheckpointError,
    load_data,
    load_factory,
    load_model_group,
    load_state_dict,
)

LINEAR = "torch.nn:Linear"
KW = {"in_features": 4, "out_features": 3}


class _Pairs(torch.utils.data.Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(0)
        self.X, self.y = torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


@pytest.fixture
def factories(monkeypatch):
    """A module 'ckpt_factories' with a model and a data factory, importable by name."""
    module = types.ModuleType("ckpt_factories")
    module.net = lambda width=4: torch.nn.Sequential(
        torch.nn.Linear(4, width), torch.nn.Tanh(), torch.nn.Linear(width, 3))
    module.pairs = lambda n=12: _Pairs(n)
    module.not_a_model = lambda: "model"
    module.CONSTANT = 3
    monkeypatch.setitem(sys.modules, "ckpt_factories", module)
    return module


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def files(tmp_path):
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        paths.append(tmp_path / f"seed{seed}.pt")
        torch.save(torch.nn.Linear(4, 3).state_dict(), paths[-1])
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(30, 4, generator=g), torch.randint(0, 3, (30,), generator=g)
    np.savez(tmp_path / "train.npz", X=X.numpy(), y=y.numpy())
    torch.save({"X": X, "y": y}, tmp_path / "train.pt")
    return paths, tmp_path


def test_group_from_checkpoints_equals_the_saved_models(files):
    paths, folder = files
    digests = [_digest(p) for p in [*paths, folder / "train.npz"]]
    for data in (folder / "train.npz", folder / "train.pt"):
        group = load_model_group(LINEAR, paths, data, model_kwargs=KW, name="g")
        assert group.n_models == 2 and group.n_train_samples == 30 and group.name == "g"
        for model, path in zip(group.models, paths):
            saved = torch.load(path, weights_only=True)
            assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())
            assert not model.training
        X, y = group._train.take(range(30))
        assert X.dtype == torch.float32 and y.dtype == torch.int64
    assert digests == [_digest(p) for p in [*paths, folder / "train.npz"]]  # nothing modified


def test_safetensors_and_nested_state_dicts(files, tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    paths, _ = files
    state = torch.load(paths[0], weights_only=True)
    safetensors.save_file(state, tmp_path / "a.safetensors")
    torch.save({"epoch": 3, "state_dict": state}, tmp_path / "nested.pt")
    for path in (tmp_path / "a.safetensors", tmp_path / "nested.pt"):
        loaded = load_state_dict(path)
        assert loaded.keys() == state.keys()
        assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_data_factory_and_model_factory_with_kwargs(factories, files):
    paths, folder = files
    torch.manual_seed(0)
    net = factories.net(width=5)
    torch.save(net.state_dict(), folder / "net.pt")
    group = load_model_group("ckpt_factories:net", [folder / "net.pt"] * 2, "ckpt_factories:pairs",
                             model_kwargs={"width": 5}, data_kwargs={"n": 7})
    assert group.n_train_samples == 7
    assert load_factory("torch.nn:Linear") is torch.nn.Linear


@pytest.mark.parametrize("spec, message", [
    ("torch.nn.Linear", "must be given as 'package.module:function'"),
    ("no_such_module_xyz:f", "Could not import module 'no_such_module_xyz'"),
    ("torch.nn:NoSuchThing", "has no attribute 'NoSuchThing'"),
    ("ckpt_factories:CONSTANT", "is a int, not a callable"),
])
def test_bad_factories(factories, spec, message):
    with pytest.raises(CheckpointError, match=message):
        load_factory(spec)


def test_factory_returning_something_else(factories, files):
    paths, folder = files
    with pytest.raises(CheckpointError, match="must return a torch.nn.Module; it returned a str"):
        load_model_group("ckpt_factories:not_a_model", paths, folder / "train.npz")


def test_checkpoint_that_is_not_a_state_dict(files, tmp_path):
    paths, folder = files
    torch.save(torch.nn.Linear(4, 3), tmp_path / "whole_model.pt")  # a pickled module
    with pytest.raises(CheckpointError, match=r"whole_model\.pt' is not a state dict: "
                       r"torch\.load\(weights_only=True\) refused it"):
        load_model_group(LINEAR, [tmp_path / "whole_model.pt", paths[1]], folder / "train.npz",
                         model_kwargs=KW)
    torch.save({"weight": torch.zeros(3, 4), "epoch": 3}, tmp_path / "mixed.pt")
    with pytest.raises(CheckpointError, match="entry 'epoch' is a int, not a tensor"):
        load_state_dict(tmp_path / "mixed.pt")
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="it holds list"):
        load_state_dict(tmp_path / "list.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a state dict"):
        load_state_dict(tmp_path / "garbage.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_state_dict(tmp_path / "missing.pt")
    torch.save({0: torch.zeros(2)}, tmp_path / "int_key.pt")
    with pytest.raises(CheckpointError, match=r"the key 0 \(int\), not a parameter name"):
        load_state_dict(tmp_path / "int_key.pt")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_diverged_checkpoint_is_refused(tmp_path, value, suffix):
    state = torch.nn.Linear(4, 3).state_dict()
    state["bias"][1] = value
    path = tmp_path / f"diverged{suffix}"
    if suffix == ".pt":
        torch.save(state, path)
    else:
        safetensors = pytest.importorskip("safetensors.torch")
        safetensors.save_file(state, str(path))
    with pytest.raises(CheckpointError, match="NaN or infinite values in 'bias'"):
        load_state_dict(path)
    X = np.ones((5, 4), dtype=np.float32)
    X[3, 2] = value
    np.savez(tmp_path / "data.npz", X=X, y=np.zeros(5, dtype=np.int64))
    with pytest.raises(CheckpointError, match="NaN or infinite values \\(first in sample 3\\)"):
        load_data(tmp_path / "data.npz")
    state["bias"][1] = 0.0  # an integer buffer or finite floats load as saved
    state["steps"] = torch.tensor([3], dtype=torch.int64)
    torch.save(state, tmp_path / "fine.pt")
    assert set(load_state_dict(tmp_path / "fine.pt")) == {"weight", "bias", "steps"}


def test_keys_and_shapes_that_do_not_match(files, tmp_path):
    paths, folder = files
    torch.save(torch.nn.Linear(4, 5).state_dict(), tmp_path / "wide.pt")
    with pytest.raises(CheckpointError, match=r"'weight' has shape \(5, 4\) in the checkpoint "
                       r"but \(3, 4\) in the model"):
        load_model_group(LINEAR, [paths[0], tmp_path / "wide.pt"], folder / "train.npz",
                         model_kwargs=KW)
    state = torch.load(paths[0], weights_only=True)
    torch.save({"weight": state["weight"]}, tmp_path / "nobias.pt")
    with pytest.raises(CheckpointError, match="it has no entry 'bias'"):
        load_model_group(LINEAR, [tmp_path / "nobias.pt"], folder / "train.npz", model_kwargs=KW)
    torch.save({**state, "extra": torch.zeros(1)}, tmp_path / "extra.pt")
    with pytest.raises(CheckpointError, match="an entry 'extra' that the model does not"):
        load_model_group(LINEAR, [tmp_path / "extra.pt"], folder / "train.npz", model_kwargs=KW)


def test_too_few_checkpoints_for_pairwise_features(files):
    paths, folder = files
    with pytest.raises(CheckpointError, match=r"Got 1 checkpoint\(s\), but at least 2"):
        load_model_group(LINEAR, paths[:1], folder / "train.npz", model_kwargs=KW, min_models=2)


def test_bad_data(files, tmp_path):
    paths, folder = files
    np.savez(tmp_path / "empty.npz", X=np.zeros((0, 4), np.float32), y=np.zeros(0, np.int64))
    with pytest.raises(CheckpointError, match="is empty"):
        load_model_group(LINEAR, paths, tmp_path / "empty.npz", model_kwargs=KW)
    np.savez(tmp_path / "objects.npz", X=np.array([[1.0, 2.0], "a"], dtype=object),
             y=np.zeros(2, np.int64))
    with pytest.raises(CheckpointError, match="holds object arrays"):
        load_data(tmp_path / "objects.npz")
    X = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    np.savez(tmp_path / "labels.npz", X=X, y=np.arange(10))
    with pytest.raises(CheckpointError, match=r"must lie in \[0, 3\) for a model with 3 outputs; "
                       r"got labels from 0 to 9"):
        load_model_group(LINEAR, paths, tmp_path / "labels.npz", model_kwargs=KW)
    np.savez(tmp_path / "floaty.npz", X=X, y=np.zeros(10))
    with pytest.raises(CheckpointError, match="integer class indices"):
        load_data(tmp_path / "floaty.npz")
    np.savez(tmp_path / "keys.npz", inputs=X, labels=np.zeros(10, np.int64))
    with pytest.raises(CheckpointError,
                       match=r"named 'X' \(inputs\) and 'y'.*\['inputs', 'labels'\]"):
        load_data(tmp_path / "keys.npz")
    np.savez(tmp_path / "short.npz", X=X, y=np.zeros(9, np.int64))
    with pytest.raises(CheckpointError, match="10 inputs but 9 labels"):
        load_data(tmp_path / "short.npz")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_data(tmp_path / "missing.npz")
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    with pytest.raises(CheckpointError, match="could not be read with weights_only=True"):
        load_data(tmp_path / "module.pt")


def test_empty_dataset_from_a_factory(factories):
    with pytest.raises(CheckpointError, match="is empty"):
        load_data("ckpt_factories:pairs", n=0)
