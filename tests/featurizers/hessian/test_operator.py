"""Tests of featurizers.hessian._operator: the operator against dense Hessians of tiny networks."""

import math

import numpy as np
import pytest
import scipy.sparse.linalg

torch = pytest.importorskip("torch")

from _hessian_cases import DTYPE, LOSS, _dense_hessian, _mlp  # noqa: E402

from featurizers.hessian import _operator as operator_module  # noqa: E402
from featurizers.hessian import HessianOperator, xtrace  # noqa: E402

# torch.func.hessian (the dense reference) loads TorchScript decompositions internally.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)


# ------------------------------------------------------------------ operator
def test_n_parameters_and_shape(case):
    n = sum(p.numel() for p in case["model"].parameters())
    assert case["op"].n_parameters == n == case["H"].shape[0]
    assert case["op"].shape == (n, n)
    assert case["op"].dtype == DTYPE
    with torch.no_grad():
        loss = float(LOSS(case["model"].eval()(case["x"]), case["y"]))
    assert math.isclose(case["op"].loss, loss)


def test_matvec_matches_dense(case):
    H, op = case["H"], case["op"]
    rng = np.random.default_rng(0)
    for _ in range(3):
        v = rng.standard_normal(op.n_parameters)
        hv = op.matvec(torch.from_numpy(v))
        assert isinstance(hv, torch.Tensor) and hv.shape == (op.n_parameters,)
        expected = H @ v
        err = np.linalg.norm(hv.numpy() - expected) / np.linalg.norm(expected)
        assert err < 1e-6


def test_linear_operator_matches_dense(case):
    H, op = case["H"], case["op"]
    linop = op.to_linear_operator()
    assert isinstance(linop, scipy.sparse.linalg.LinearOperator)
    assert linop.dtype == np.float64 and linop.shape == H.shape
    V = np.random.default_rng(1).standard_normal((op.n_parameters, 2))
    np.testing.assert_allclose(linop @ V, H @ V, rtol=1e-6, atol=1e-10)
    out = linop.matvec(V[:, 0])
    assert out.dtype == np.float64


class _WithUnused(torch.nn.Module):
    """A body plus a layer that forward never calls."""

    def __init__(self, body):
        super().__init__()
        self.body = body
        self.unused = torch.nn.Linear(2, 2).to(DTYPE)

    def forward(self, inputs):
        return self.body(inputs)


def test_frozen_and_unused_parameters_are_included():
    body, x, y = _mlp()
    body[0].bias.requires_grad_(False)
    H_body = _dense_hessian(body, x, y)
    op = HessianOperator(_WithUnused(body), LOSS, x, y)
    n_body = H_body.shape[0]
    assert op.n_parameters == n_body + 6
    v = np.random.default_rng(0).standard_normal(op.n_parameters)
    hv = op.matvec(torch.from_numpy(v)).numpy()
    np.testing.assert_allclose(hv[:n_body], H_body @ v[:n_body], rtol=1e-8)
    np.testing.assert_array_equal(hv[n_body:], 0.0)
    assert body[0].bias.requires_grad is False


def test_float32_model():
    model, x, y = _mlp()
    model32 = model.float()
    op = HessianOperator(model32, LOSS, x.float(), y)
    assert op.dtype == torch.float32
    hv = op.matvec(torch.ones(op.n_parameters, dtype=torch.float64))
    assert hv.dtype == torch.float32
    out = op.to_linear_operator().matvec(np.ones(op.n_parameters))
    assert out.dtype == np.float64
    H = _dense_hessian(model32.double(), x, y)
    np.testing.assert_allclose(out, H @ np.ones(op.n_parameters), rtol=1e-4, atol=1e-5)


def test_operator_is_a_snapshot_and_works_under_no_grad():
    model, x, y = _mlp()
    with torch.no_grad():
        op = HessianOperator(model, LOSS, x, y)
    v = torch.ones(op.n_parameters, dtype=DTYPE)
    before = op.matvec(v)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        after = op.matvec(v)
    torch.testing.assert_close(before, after)


@pytest.mark.parametrize(
    "dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16]
)
def test_empty_rows_is_a_writable_contiguous_tensor(dtype):
    rows = operator_module._empty_rows(3, 5, dtype, torch.device("cpu"))
    assert rows.shape == (3, 5) and rows.dtype == dtype and rows.is_contiguous()
    rows[1] = torch.arange(5, dtype=dtype)
    assert rows[1].tolist() == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------- bad input
def test_matvec_bad_vector():
    model, x, y = _mlp()
    op = HessianOperator(model, LOSS, x, y)
    with pytest.raises(ValueError, match=r"length n_parameters=51. Got shape \(50,\)"):
        op.matvec(torch.ones(50, dtype=DTYPE))
    with pytest.raises(ValueError, match="1-D"):
        op.matvec(torch.ones(op.n_parameters, 1, dtype=DTYPE))
    with pytest.raises(TypeError, match="torch.Tensor. Got ndarray"):
        op.matvec(np.ones(op.n_parameters))
    with pytest.raises(TypeError, match="real"):
        op.matvec(torch.ones(op.n_parameters, dtype=torch.complex128))
    with pytest.raises(ValueError, match="dimension mismatch"):
        op.to_linear_operator().matvec(np.ones(op.n_parameters + 1))


def test_no_second_order_dependence_gives_zero():
    model = torch.nn.Linear(3, 2).to(DTYPE)
    x = torch.randn(4, 3, dtype=DTYPE)
    op = HessianOperator(model, lambda out, t: out.mean(), x, x)
    hv = op.matvec(torch.ones(op.n_parameters, dtype=DTYPE))
    assert torch.equal(hv, torch.zeros(8, dtype=DTYPE))
    assert xtrace(op, 4, random_state=0) == 0.0
