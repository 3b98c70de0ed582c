"""Issue 23, library side of featurizers: silently wrong values and raw errors."""

import warnings

import numpy as np
import pytest

pytest.importorskip("torch")

from featurizers.similarity import linear_cka  # noqa: E402


@pytest.mark.parametrize("scale", [1e200, 1e-200, 1e300])
def test_linear_cka_of_large_or_tiny_finite_inputs(scale):
    # inputs near 1e200 returned NaN with only RuntimeWarnings (the products overflowed)
    X = np.random.default_rng(0).normal(size=(50, 4))
    expected = linear_cka(X, X[:, :2])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert linear_cka(X * scale, X[:, :2] * scale) == pytest.approx(expected, rel=1e-12)
        assert linear_cka(X * scale, X[:, :2]) == pytest.approx(expected, rel=1e-12)
        # the sample-space path (more features than samples)
        wide = np.random.default_rng(1).normal(size=(5, 9))
        assert linear_cka(wide * scale, wide[:, :3] * scale) == pytest.approx(
            linear_cka(wide, wide[:, :3]), rel=1e-12)


def test_linear_cka_of_ordinary_inputs_is_unchanged_bit_for_bit():
    X = np.random.default_rng(0).normal(size=(50, 4)) * 3.7
    Xc, Yc = X - X.mean(axis=0), X[:, :2] - X[:, :2].mean(axis=0)
    # scaling by a power of two is exact: the same bits as the unscaled formula
    cross = np.sum((Yc.T @ Xc) ** 2)
    reference = cross / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))
    assert abs(linear_cka(X, X[:, :2]) - reference) <= 4e-16


# ---------------------------------------------------------------------------------
# Raw or misleading errors: each names the parameter, what was expected and what came

import os  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402

from featurizers.checkpoints import (  # noqa: E402
    CheckpointError,
    load_data,
    load_factory,
    load_model_group,
)
from featurizers.connectivity import bezier_point, fit_bend, mode_connectivity_peak  # noqa: E402

LINEAR = {"in_features": 4, "out_features": 3}


@pytest.fixture
def two_checkpoints(tmp_path):
    paths = [tmp_path / f"seed{s}.pt" for s in (0, 1)]
    for path in paths:
        torch.save(torch.nn.Linear(4, 3).state_dict(), path)
    return paths


def _pair(n=5, width=4):
    return torch.zeros(n, width), torch.zeros(n, dtype=torch.long)


def test_relative_factory_string():
    # was TypeError: the 'package' argument is required to perform a relative import
    with pytest.raises(CheckpointError, match=r"'\.mod:f' is relative"):
        load_factory(".mod:f")


@pytest.mark.parametrize("body, error", [("raise RuntimeError('boom')\n", "RuntimeError: boom"),
                                          ("def (:\n", "SyntaxError")])
def test_factory_module_failing_at_import(tmp_path, monkeypatch, body, error):
    # only ImportError was caught: the module's RuntimeError / SyntaxError escaped raw
    name = f"mdtree_hostile_{abs(hash(body)) % 10**6}"
    (tmp_path / f"{name}.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CheckpointError, match=f"Importing module '{name}' of '{name}:f' "
                                              f"failed: {error}"):
        load_factory(f"{name}:f")
    sys.modules.pop(name, None)


@pytest.mark.parametrize("X, y, match", [
    (np.array([["a", "b"]]), np.array([0]), r"inputs X of the data '.*x\.npz' must be real "
                                            r"numbers; they are strings \(dtype <U1\)"),
    (np.array(["2020-01-01"], dtype="datetime64[D]").reshape(1, 1), np.array([0]),
     "they are datetimes"),
    (np.zeros(2, dtype=[("a", "f4"), ("b", "f4")]), np.array([0, 1]),
     "they are structured records"),
    (np.zeros((2, 3)), np.array(["a", "b"]), r"labels y of the data '.*x\.npz' must be "
                                             "integer class indices; they are strings"),
    (np.ones((2, 3), np.float32), np.array([0, 2**64 - 1], np.uint64),
     "the largest is 18446744073709551615"),
])
def test_data_file_of_the_wrong_kind_names_the_file(tmp_path, X, y, match):
    # was a torch TypeError without the file's name; uint64 labels showed as -1
    path = tmp_path / "x.npz"
    np.savez(path, X=X, y=y)
    with pytest.raises(CheckpointError, match=match):
        load_data(path)


def test_random_bytes_and_a_single_array_named_npz(tmp_path):
    # was "holds object arrays"
    path = tmp_path / "x.npz"
    path.write_bytes(os.urandom(300).replace(b"PK", b"pk").replace(b"\x93", b"\x00"))
    with pytest.raises(CheckpointError, match="is not an .npz archive"):
        load_data(path)
    with open(path, "wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(CheckpointError, match="is a single .npy array"):
        load_data(path)


def test_uint16_inputs_are_accepted_as_float32(tmp_path):
    # was "The inputs of 'x.npz' must be numbers; got dtype torch.uint16"
    path = tmp_path / "x.npz"
    np.savez(path, X=np.full((4, 3), 65535, np.uint16), y=np.array([0, 1, 0, 1]))
    X, y = load_data(path)
    assert X.dtype == torch.float32 and float(X.max()) == 65535.0 and y.dtype == torch.int64


def test_data_tuple_of_three_and_checkpoints_none(two_checkpoints):
    with pytest.raises(CheckpointError, match="must be a pair .X, y.*a tuple of 3 items"):
        load_data((torch.zeros(2, 3), torch.zeros(2), torch.zeros(2)))  # was a TypeError
    with pytest.raises(CheckpointError, match="'checkpoints' parameter must be a list of "
                                              "checkpoint files, one per model; got None"):
        load_model_group("torch.nn:Linear", None, _pair(), model_kwargs=LINEAR)


def test_inputs_of_the_wrong_width(two_checkpoints):
    # was RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x7 and 4x3)
    with pytest.raises(CheckpointError, match=r"The model expects inputs of shape "
                                              r"\(n_samples, 4\); the data .* has X of shape "
                                              r"\(5, 7\)"):
        load_model_group("torch.nn:Linear", two_checkpoints, _pair(width=7),
                         model_kwargs=LINEAR)


def test_model_on_the_meta_device_or_of_mixed_dtypes(two_checkpoints):
    # was "Tensor on device meta is not on the expected device cpu!"
    with pytest.raises(CheckpointError, match="must build its model on the CPU.*'meta'"):
        load_model_group("torch.nn:Linear", two_checkpoints, _pair(),
                         model_kwargs={**LINEAR, "device": "meta"})

    class Mixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(4, 4), torch.nn.Linear(4, 3).double()

        def forward(self, x):
            return self.b(self.a(x).double())

    path = two_checkpoints[0]
    torch.save(Mixed().state_dict(), path)
    with pytest.raises(CheckpointError, match="one floating dtype; its 'a.weight' is "
                                              "torch.float32 but its 'b.weight' is "
                                              "torch.float64"):
        load_model_group(Mixed, [path], _pair())


def test_connectivity_inputs_of_the_wrong_kind():
    with pytest.raises(ValueError, match="errors must be numbers.*dtype <U1 .first value 'a'"):
        mode_connectivity_peak(["a", "b", "c", "d", "e"])  # was a float conversion error
    with pytest.raises(ValueError, match="must share their keys; 'bend' lacks \\['a'\\]"):
        bezier_point({"a": torch.zeros(1)}, {"b": torch.zeros(1)}, {"a": torch.zeros(1)}, 0.5)
    a = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Linear(4, 2))
    b = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Linear(8, 2))
    X, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
    # was "The size of tensor a (4) must match the size of tensor b (8)"
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(4, 2\) in model_a but "
                                         r"\(8, 2\) in model_b"):
        fit_bend(a, b, (X, y), epochs=1)
