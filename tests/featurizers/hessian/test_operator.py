"""Tests of featurizers.hessian._operator: the operator against dense Hessians of tiny networks."""

import copy
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


# ------------------------------------------------------- BatchNorm as affine map
def _bn_net(norm, affine=True, track=True):
    """Conv or linear body, a BatchNorm, and a head; running statistics from a few batches."""
    torch.manual_seed(3)
    if norm.startswith("2d"):
        norm_layer = torch.nn.BatchNorm2d(3, affine=affine, track_running_stats=track)
        body = [torch.nn.Conv2d(2, 3, 3), norm_layer, torch.nn.Tanh(), torch.nn.Flatten(),
                torch.nn.Linear(3 * 4, 3)]
        if norm == "2d after tanh":  # not a convolution's output: the affine map
            body[1:3] = body[2:0:-1]
        x = torch.randn(12, 2, 4, 4, dtype=DTYPE)
    else:
        norm_layer = torch.nn.BatchNorm1d(5, affine=affine, track_running_stats=track)
        body = [torch.nn.Linear(4, 5), norm_layer, torch.nn.Tanh(), torch.nn.Linear(5, 3)]
        x = torch.randn(12, 4, dtype=DTYPE)
    model = torch.nn.Sequential(*body).to(DTYPE)
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn_like(x) * 2 + 1)
    return model, x, torch.randint(0, 3, (12,))


def _autograd_names(tensors):
    seen, stack, names = set(), [t.grad_fn for t in tensors], set()
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names.add(type(fn).__name__)
        stack.extend(next_fn for next_fn, _ in fn.next_functions)
    return names


@pytest.mark.parametrize("norm", ["1d", "2d", "2d after tanh"])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_is_an_affine_map_with_the_exact_hessian(norm, affine):
    model, x, y = _bn_net(norm, affine)
    model.train()  # the operator evaluates in eval mode and gives the mode back
    H = _dense_hessian(model, x, y)  # PyTorch's own batch_norm
    op = HessianOperator(model, LOSS, x, y)
    assert model.training
    V = np.random.default_rng(0).standard_normal((op.n_parameters, 3))
    np.testing.assert_allclose(op.to_linear_operator() @ V, H @ V, rtol=1e-12, atol=1e-12)
    # the graph holds the affine map (x - mean), or the folded convolution, not the
    # fused kernel
    names = _autograd_names(op._grads)
    assert not {n for n in names if "BatchNorm" in n}
    assert ("SubBackward0" in names) == (norm != "2d")


class _TwoUses(torch.nn.Module):
    """A convolution whose output feeds its BatchNorm and, directly, the head.

    ``inplace``: its output gets a shortcut added in place before the BatchNorm
    (a pre-activation ResNet block), or goes through an in-place ReLU.
    """

    def __init__(self, inplace=None):
        super().__init__()
        self.inplace = inplace
        self.conv = torch.nn.Conv2d(2, 3, 3, bias=False, padding=1)
        self.norm = torch.nn.BatchNorm2d(3)
        self.head = torch.nn.Linear(3 * 6 * 6, 3)

    def forward(self, x):
        z = self.conv(x)
        if self.inplace == "shortcut":
            z += x[:, :1]
        elif self.inplace == "relu":
            torch.nn.functional.relu(z, inplace=True)
        return self.head((torch.tanh(self.norm(z)) + 0.5 * z).flatten(1))


def _conv_bn_net(kind):
    torch.manual_seed(4)
    x = torch.randn(10, 2, 6, 6, dtype=DTYPE)
    if kind == "conv1d":
        x = x[:, :, 0]
        body = [torch.nn.Conv1d(2, 4, 3), torch.nn.BatchNorm1d(4)]
    elif kind == "conv3d":
        x = x[:, :, None, :4, :4].expand(-1, -1, 3, -1, -1).contiguous()
        body = [torch.nn.Conv3d(2, 4, 3, padding=1), torch.nn.BatchNorm3d(4, affine=False)]
    elif kind == "grouped, reflect, no bias":
        body = [torch.nn.Conv2d(2, 4, 3, groups=2, bias=False, padding=1, padding_mode="reflect"),
                torch.nn.BatchNorm2d(4)]
    elif kind == "strided":
        body = [torch.nn.Conv2d(2, 4, 3, stride=2, dilation=1), torch.nn.BatchNorm2d(4)]
    if kind.startswith("two uses"):
        model = _TwoUses(inplace=kind.partition(", ")[2] or None).to(DTYPE)
    else:
        model = torch.nn.Sequential(*body, torch.nn.Tanh(), torch.nn.Flatten(),
                                    torch.nn.LazyLinear(3)).to(DTYPE)
    with torch.no_grad():
        model(x)  # materialise LazyLinear
        model.train()
        for _ in range(3):
            model(torch.randn_like(x) * 2 + 1)
    return model, x, torch.randint(0, 3, (len(x),))


@pytest.mark.parametrize(
    "kind",
    [
        "conv1d",
        "conv3d",
        "grouped, reflect, no bias",
        "strided",
        "two uses",
        "two uses, shortcut",
        "two uses, relu",
    ],
)
def test_batch_norm_folded_into_its_convolution_keeps_the_exact_hessian(kind):
    model, x, y = _conv_bn_net(kind)
    H = _dense_hessian(model, x, y)  # PyTorch's own convolution and batch_norm
    op = HessianOperator(model, LOSS, x, y)
    V = np.random.default_rng(0).standard_normal((op.n_parameters, 3))
    np.testing.assert_allclose(op.to_linear_operator() @ V, H @ V, rtol=1e-11, atol=1e-11)
    names = _autograd_names(op._grads)
    assert not {n for n in names if "BatchNorm" in n}
    # folded: the affine map's x - mean is not in the graph; after an in-place
    # change to the convolution's output it is, since that is not folded
    assert ("SubBackward0" in names) == kind.startswith("two uses, ")


def test_affine_batch_norm_folds_only_the_output_of_a_convolution():
    F = torch.nn.functional
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 2, 6, 6, generator=gen, dtype=DTYPE)
    weight = torch.randn(3, 2, 3, 3, generator=gen, dtype=DTYPE, requires_grad=True)
    mean, var = torch.randn(3, dtype=DTYPE), torch.rand(3, dtype=DTYPE) + 0.5
    gamma, beta = torch.randn(3, dtype=DTYPE), torch.randn(3, dtype=DTYPE)
    conv = F.conv2d(x, weight, stride=1, padding=1)
    expected = F.batch_norm(conv, mean, var, gamma, beta, False, 0.1, 1e-3)
    with operator_module._AffineBatchNorm():
        z = F.conv2d(x, weight, stride=1, padding=1)
        # a tensor that is not a convolution's output (here: a copy of one)
        plain = F.batch_norm(z + 0.0, mean, var, gamma, beta, False, 0.1, 1e-3)
        folded = F.batch_norm(z, mean, var, gamma, beta, False, 0.1, 1e-3)
        # the same output a second time: the affine map again
        again = F.batch_norm(z, mean, var, gamma, beta, False, 0.1, 1e-3)
        # a convolution whose input is changed in place after it
        x2 = x.clone()
        z2 = F.conv2d(x2, weight, stride=1, padding=1)
        expected2 = F.batch_norm(z2.detach(), mean, var, gamma, beta, False, 0.1, 1e-3)
        x2.mul_(2.0)
        changed = F.batch_norm(z2, mean, var, gamma, beta, False, 0.1, 1e-3)
    assert type(folded.grad_fn).__name__ == "_ConvolutionBackward"  # one convolution
    for affine in (plain, again, changed):
        assert type(affine.grad_fn).__name__ == "AddBackward0"  # the affine map
    for got in (folded, plain, again):
        torch.testing.assert_close(got, expected, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(changed, expected2, rtol=1e-13, atol=1e-13)


def _gradient(model, x, y, flat):
    """Gradient of the mean loss at the flat parameters ``flat`` (eval mode)."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    chunks = flat.split([math.prod(s) for s in shapes])
    params = [c.view(s).clone().requires_grad_(True) for c, s in zip(chunks, shapes)]
    model.eval()
    loss = LOSS(torch.func.functional_call(model, dict(zip(names, params)), (x,)), y)
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])


def test_batch_norm_with_batch_statistics_is_left_to_torch():
    # Eval mode without running statistics: batch statistics, PyTorch's kernel.
    # Reference: central differences of the gradient (torch.func.hessian, the dense
    # reference elsewhere, is 4.7% off on this model in torch 2.13).
    model, x, y = _bn_net("1d", track=False)
    op = HessianOperator(model, LOSS, x, y)
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    v = torch.from_numpy(np.random.default_rng(1).standard_normal(op.n_parameters))
    h = 1e-6
    up, down = (_gradient(model, x, y, flat + sign * h * v) for sign in (1, -1))
    expected = (up - down) / (2 * h)
    torch.testing.assert_close(op.matvec(v), expected, rtol=1e-7, atol=1e-8)
    assert {n for n in _autograd_names(op._grads) if "BatchNorm" in n}


@pytest.mark.parametrize("keywords", [False, True])
def test_affine_batch_norm_equals_torch_and_stays_in_its_block(keywords):
    F = torch.nn.functional
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, 4, 4, generator=gen, dtype=DTYPE)
    mean, var = torch.randn(3, generator=gen, dtype=DTYPE), torch.rand(3, generator=gen) + 0.5
    weight, bias = torch.randn(3, dtype=DTYPE), torch.randn(3, dtype=DTYPE)
    args = (x, mean, var.to(DTYPE))
    kwargs = dict(weight=weight, bias=bias, training=False, momentum=0.1, eps=1e-3)
    if not keywords:
        args, kwargs = args + tuple(kwargs.values()), {}
    expected = F.batch_norm(*args, **kwargs)
    with operator_module._AffineBatchNorm():
        got = F.batch_norm(*args, **kwargs)
        assert got.grad_fn is None  # no graph asked for, none built
        training = F.batch_norm(x, mean.clone(), var.to(DTYPE).clone(), training=True)
    torch.testing.assert_close(got, expected, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(
        training, F.batch_norm(x, mean.clone(), var.to(DTYPE).clone(), training=True)
    )
    x.requires_grad_(True)
    assert type(F.batch_norm(*((x,) + args[1:]), **kwargs).grad_fn).__name__.startswith(
        "NativeBatchNorm"
    )  # outside the block PyTorch's kernel again


# ------------------------------------------------- convolutions and their layout
def _float32_conv_bn_net():
    """A tiny conv-BN-ReLU network, float32, with running statistics; the batch."""
    torch.manual_seed(5)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Conv2d(4, 4, 3, stride=2, bias=False, groups=2, dilation=(2, 1),
                        padding=(2, 1)),
        torch.nn.BatchNorm2d(4),
        torch.nn.Tanh(),
        torch.nn.Flatten(),
        torch.nn.LazyLinear(3),
    )
    x = torch.randn(12, 3, 6, 6)
    with torch.no_grad():
        model(x)
        model.train()
        for _ in range(3):
            model(torch.randn_like(x) * 2 + 1)
    return model, x, torch.randint(0, 3, (len(x),))


def test_convolution_function_first_and_second_derivatives():
    # gradcheck: the gradient; gradgradcheck: the backward pass of the gradient,
    # which a Hessian-vector product runs; and that of _ConvolutionGradient too
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 5, 6, generator=gen, dtype=DTYPE, requires_grad=True)
    w = torch.randn(6, 2, 3, 2, generator=gen, dtype=DTYPE, requires_grad=True)
    b = torch.randn(6, generator=gen, dtype=DTYPE, requires_grad=True)
    params = ([2, 1], [1, 0], [1, 2], 2)  # stride, padding, dilation, groups

    def conv(x, w, b):
        return operator_module._Convolution.apply(x, w, b, *params)

    torch.testing.assert_close(
        conv(x, w, b), torch.nn.functional.conv2d(x, w, b, (2, 1), (1, 0), (1, 2), 2)
    )
    assert torch.autograd.gradcheck(conv, (x, w, b))
    assert torch.autograd.gradgradcheck(conv, (x, w, b))
    g = torch.randn(conv(x, w, b).shape, generator=gen, dtype=DTYPE, requires_grad=True)

    def gradient(g, x, w):
        return operator_module._ConvolutionGradient.apply(g, x, w, True, True, *params)

    assert torch.autograd.gradgradcheck(gradient, (g, x, w))


@pytest.mark.parametrize("padding", ["same", (1, 1)])
def test_convolutions_through_the_function_keep_the_exact_hessian(padding):
    # Without BatchNorm, a string padding is left to PyTorch's own convolution.
    torch.manual_seed(6)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3, padding=padding), torch.nn.Tanh(),
        torch.nn.Conv2d(3, 2, 3, stride=2), torch.nn.Tanh(), torch.nn.Flatten(),
        torch.nn.LazyLinear(3),
    ).to(DTYPE)
    x = torch.randn(10, 2, 7, 7, dtype=DTYPE)
    y = torch.randint(0, 3, (10,))
    with torch.no_grad():
        model(x)
    H = _dense_hessian(model, x, y)
    op = HessianOperator(model, LOSS, x, y)
    V = np.random.default_rng(0).standard_normal((op.n_parameters, 3))
    np.testing.assert_allclose(op.to_linear_operator() @ V, H @ V, rtol=1e-11, atol=1e-11)
    names = _autograd_names(op._grads)
    assert "_ConvolutionGradientBackward" in names
    assert ("ConvolutionBackwardBackward0" in names) == (padding == "same")
    assert not op._channels_last  # float64: the usual layout


def test_channels_last_copies_leave_the_model_and_batch_untouched():
    model, x, y = _float32_conv_bn_net()
    model.train()
    model[3].weight.data = model[3].weight.data.contiguous(memory_format=torch.channels_last)
    before = {n: (p.detach().clone(), p.stride()) for n, p in model.named_parameters()}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    x_before, x_stride, x_ptr = x.clone(), x.stride(), x.data_ptr()
    op = HessianOperator(model, LOSS, x, y)
    op.matvec(torch.ones(op.n_parameters))
    assert op._channels_last
    for (name, p), param in zip(model.named_parameters(), op._params):
        assert p.stride() == before[name][1]  # the model's own layout, both kinds
        torch.testing.assert_close(p.detach(), before[name][0], rtol=0, atol=0)
        assert p.grad is None
        if p.ndim == 4:  # the operator's copies are channels-last
            assert param.is_contiguous(memory_format=torch.channels_last)
            assert param.data_ptr() != p.data_ptr()
    for name, b in model.named_buffers():
        torch.testing.assert_close(b, buffers[name], rtol=0, atol=0)
    assert model.training
    assert x.stride() == x_stride and x.data_ptr() == x_ptr and x.is_contiguous()
    torch.testing.assert_close(x, x_before, rtol=0, atol=0)


def test_channels_last_products_agree_with_contiguous_and_exact(monkeypatch):
    model, x, y = _float32_conv_bn_net()
    H = _dense_hessian(copy.deepcopy(model).double(), x.double(), y)  # exact, float64
    op = HessianOperator(model, LOSS, x, y)
    assert op._channels_last
    # BatchNorm still folded into both convolutions: no BatchNorm, no x - mean
    names = _autograd_names(op._grads)
    assert not {n for n in names if "BatchNorm" in n} and "SubBackward0" not in names
    monkeypatch.setattr(operator_module, "_use_channels_last", lambda params, x: False)
    contiguous = HessianOperator(model, LOSS, x, y)
    assert not contiguous._channels_last
    assert all(p.is_contiguous() for p in contiguous._params)
    V = np.random.default_rng(0).standard_normal((op.n_parameters, 4))
    for v in V.T:
        exact = H @ v
        got = op.matvec(torch.from_numpy(v).float()).double().numpy()
        plain = contiguous.matvec(torch.from_numpy(v).float()).double().numpy()
        # float32 rounding: both within 1e-5 of the exact product, and of each other
        # (measured: about 1e-7 here)
        for result in (got, plain):
            assert np.linalg.norm(result - exact) < 1e-5 * np.linalg.norm(exact)
        assert np.linalg.norm(got - plain) < 1e-5 * np.linalg.norm(exact)


class _ViewNet(torch.nn.Module):
    """Flattens a convolution's output with ``view``, which channels-last forbids."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.head = torch.nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        z = torch.tanh(self.conv(x))
        return self.head(z.view(z.size(0), -1))


class _StrictNet(_ViewNet):
    """Refuses non-contiguous activations with its own error (not a RuntimeError)."""

    def forward(self, x):
        z = torch.tanh(self.conv(x))
        if not z.is_contiguous():
            raise ValueError("expects contiguous activations")
        return self.head(z.reshape(z.size(0), -1))


@pytest.mark.parametrize("net, error, match", [
    (_ViewNet, RuntimeError, "view"),  # torch's own error on a non-contiguous view
    (_StrictNet, ValueError, "contiguous"),  # the model's own error
])
def test_model_failing_on_channels_last_falls_back_to_the_usual_layout(net, error, match):
    # Any error of the channels-last attempt falls back to the usual layout (a model
    # that worked before the layout change must still work), with exact products.
    torch.manual_seed(7)
    model, x, y = net(), torch.randn(6, 3, 6, 6), torch.randint(0, 3, (6,))
    with pytest.raises(error, match=match):
        model(x.contiguous(memory_format=torch.channels_last))
    op = HessianOperator(model, LOSS, x, y)
    assert not op._channels_last
    H = _dense_hessian(copy.deepcopy(model).double(), x.double(), y)
    v = np.random.default_rng(1).standard_normal(op.n_parameters)
    got = op.matvec(torch.from_numpy(v).float()).double().numpy()
    assert np.linalg.norm(got - H @ v) < 1e-5 * np.linalg.norm(H @ v)


def test_model_failing_in_both_layouts_raises_its_error():
    # A genuine error is raised by the usual layout's attempt.
    model, x, y = _StrictNet(), torch.randn(6, 3, 6, 6), torch.randint(0, 3, (6,))

    def broken(x):
        raise ValueError("broken")

    model.forward = broken
    with pytest.raises(ValueError, match="broken"):
        HessianOperator(model, LOSS, x, y)


def test_mlp_products_are_bit_identical_to_plain_autograd():
    # No convolution: the graph is PyTorch's own, product for product.
    torch.manual_seed(8)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    x, y = torch.randn(20, 5), torch.randint(0, 3, (20,))
    op = HessianOperator(model, LOSS, x, y)
    assert not op._channels_last
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]
    names = [n for n, _ in model.named_parameters()]
    loss = LOSS(torch.func.functional_call(model, dict(zip(names, params)), (x,)), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    v = torch.randn(op.n_parameters)
    chunks = [c.view(p.shape) for c, p in zip(v.split([p.numel() for p in params]), params)]
    expected = torch.cat([h.reshape(-1) for h in torch.autograd.grad(grads, params, chunks)])
    assert torch.equal(op.matvec(v), expected)
