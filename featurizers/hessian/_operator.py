"""The Hessian of a model's loss as a matrix-free operator, and the adapters of operators.

:class:`HessianOperator` builds the gradient of a model's mean loss on one batch
with ``create_graph=True`` once, then computes one Hessian-vector product per call
of :meth:`HessianOperator.matvec` by a second backward pass through that graph. The
private adapters turn any accepted operator (a :class:`HessianOperator`, a
:class:`scipy.sparse.linalg.LinearOperator`, a dense array or a sparse matrix) into
the float64 :class:`~scipy.sparse.linalg.LinearOperator` or the torch product the
estimators of :mod:`featurizers.hessian` work with.
"""

import math
import weakref

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch
from sklearn.utils._param_validation import validate_parameter_constraints
from torch.overrides import TorchFunctionMode

from .._utils import _eval_mode, _warn_renamed


def _empty_rows(rows, n, dtype, device):
    """An uninitialised ``(rows, n)`` tensor for the vectors of a Krylov basis.

    On the CPU it is allocated by NumPy, which advises the kernel to back arrays of
    4 MiB and more with transparent huge pages (on Linux), where torch's allocator
    does not: the first write to a fresh basis row then costs a fault per 2 MiB
    rather than per 4 KiB. That matters where the kernel's setting
    (``/sys/kernel/mm/transparent_hugepage/enabled``) is ``madvise``, the default
    of many distributions; with ``always`` torch's memory gets huge pages too, with
    ``never`` neither does. It makes the featurizers' Lanczos runs on large models
    measurably faster (figures on the documentation's benchmarks page and in
    ``benchmarks/README.md``). Other devices and dtypes NumPy lacks (bfloat16) use
    :func:`torch.empty`.
    """
    if device.type == "cpu":
        try:
            np_dtype = torch.empty((), dtype=dtype).numpy().dtype
        except TypeError:
            pass
        else:
            return torch.from_numpy(np.empty((rows, n), dtype=np_dtype))
    return torch.empty((rows, n), dtype=dtype, device=device)


_BATCH_NORM_ARGS = (
    "input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps",
)


_F = torch.nn.functional
_CONVOLUTIONS = (_F.conv1d, _F.conv2d, _F.conv3d)
_CONVOLUTION_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")


def _as_list(value, dims):
    """``stride``, ``padding`` or ``dilation`` as a list of ``dims`` ints, else None."""
    if isinstance(value, int):
        return [value] * dims
    if isinstance(value, (tuple, list)) and all(isinstance(v, int) for v in value):
        value = list(value)
        return value * dims if len(value) == 1 else value if len(value) == dims else None
    return None


def _convolve(func, call):
    """``func(**call)``, through :class:`_Convolution` where it applies.

    That is a batched input and weight (plain tensors on the CPU) and numeric
    ``stride``, ``padding`` and ``dilation``; anything else (string padding, an
    unbatched input, other devices, tensor subclasses) is left to ``func``.
    """
    x, weight = call.get("input"), call.get("weight")
    if (
        type(x) is not torch.Tensor
        or type(weight) is not torch.Tensor
        or x.device.type != "cpu"
        or x.ndim != weight.ndim
    ):
        return func(**call)
    params = [
        _as_list(call.get(name, default), weight.ndim - 2)
        for name, default in (("stride", 1), ("padding", 0), ("dilation", 1))
    ]
    groups = call.get("groups", 1)
    if any(v is None for v in params) or type(groups) is not int:
        return func(**call)
    return _Convolution.apply(x, weight, call.get("bias"), *params, groups)


class _Convolution(torch.autograd.Function):
    """A convolution (no transposition, no output padding) with a cheaper Hessian.

    The same function and gradient as :func:`torch.convolution`; its gradient is
    :class:`_ConvolutionGradient`, whose backward pass (the second backward pass
    of a Hessian-vector product) is made of two convolutions and the input and
    weight gradients of two more, all computed by
    :func:`torch.ops.aten.convolution_backward` or :func:`torch.convolution`, that
    is by oneDNN's kernels on the CPU. PyTorch's own second backward pass
    (``ConvolutionBackwardBackward0``) computes the weight part as a convolution
    of the transposed input with the output gradient as its kernel, which falls
    to slow generic kernels on the CPU (figures on the documentation's benchmarks
    page). The values are the same up to rounding.
    """

    @staticmethod
    def forward(x, weight, bias, stride, padding, dilation, groups):
        return torch.convolution(
            x, weight, bias, stride, padding, dilation, False, [0] * len(stride), groups
        )

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, bias, *params = inputs
        ctx.save_for_backward(x, weight)
        ctx.params = params
        ctx.has_bias = bias is not None

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        gx, gw = _ConvolutionGradient.apply(grad, x, weight, needs[0], needs[1], *ctx.params)
        gb = None
        if ctx.has_bias and needs[2]:
            gb = grad.sum([0] + list(range(2, grad.ndim)))
        return gx, gw, gb, None, None, None, None


def _conv_backward(grad, x, weight, mask, stride, padding, dilation, groups):
    """Input and weight gradients of ``conv(x, weight)`` for output gradient ``grad``."""
    return torch.ops.aten.convolution_backward(
        grad, x, weight, None, stride, padding, dilation, False, [0] * len(stride),
        groups, mask,
    )


class _ConvolutionGradient(torch.autograd.Function):
    """The input and weight gradients of a convolution, as a differentiable map.

    With ``y = conv(x, W)`` and output gradient ``g``: ``gx = conv_x^T(g, W)`` and
    ``gW = conv_W^T(x, g)``. Given tangents ``(ux, uW)`` of ``(gx, gW)``, the
    backward pass returns ``conv(ux, W) + conv(x, uW)`` for ``g``,
    ``conv_x^T(g, uW)`` for ``x`` and ``conv_W^T(ux, g)`` for ``W`` (each term
    only if needed). These are again differentiable, so higher derivatives hold.
    """

    @staticmethod
    def forward(grad, x, weight, need_x, need_w, stride, padding, dilation, groups):
        gx, gw, _ = _conv_backward(
            grad, x, weight, [need_x, need_w, False], stride, padding, dilation, groups
        )
        return gx, gw

    @staticmethod
    def setup_context(ctx, inputs, output):
        grad, x, weight, need_x, need_w, *params = inputs
        ctx.save_for_backward(grad, x, weight)
        ctx.params = params
        ctx.set_materialize_grads(False)  # a missing tangent is zero: no work

    @staticmethod
    def backward(ctx, ggx, ggw):
        grad, x, weight = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.params
        needs = ctx.needs_input_grad
        g_grad = g_x = g_w = None
        if needs[0]:
            def conv(a, b):
                return torch.convolution(a, b, None, stride, padding, dilation, False,
                                         [0] * len(stride), groups)
            if ggx is not None:
                g_grad = conv(ggx, weight)
            if ggw is not None:
                term = conv(x, ggw)
                g_grad = term if g_grad is None else g_grad + term
        if needs[1] and ggw is not None:
            g_x = _conv_backward(grad, x, ggw, [True, False, False], stride, padding,
                                 dilation, groups)[0]
        if needs[2] and ggx is not None:
            g_w = _conv_backward(grad, ggx, weight, [False, True, False], stride, padding,
                                 dilation, groups)[1]
        return g_grad, g_x, g_w, None, None, None, None, None, None


def _versions(out, call):
    """In-place version counters of a convolution's output and of its tensors."""
    tensors = [out] + [call.get(name) for name in ("input", "weight", "bias")]
    return tuple(t._version if isinstance(t, torch.Tensor) else None for t in tensors)


class _AffineBatchNorm(TorchFunctionMode):
    """Evaluate eval-mode :func:`torch.nn.functional.batch_norm` as its affine map.

    With running statistics and ``training=False``, batch normalisation is the
    per-channel map ``x * s + (b - mean * s)``, ``s = weight / sqrt(var + eps)``:
    the same function of the input and of ``weight`` and ``bias``, so the same
    gradient and Hessian (equal to rounding: about 1e-16 relative in float64),
    but built from a multiplication and an addition, whose second backward pass
    is a fraction of that of PyTorch's fused kernel
    (``NativeBatchNormBackwardBackward0``): Hessian-vector products of networks
    with BatchNorm cost less (figures on the documentation's benchmarks page).

    When the input is the output of a convolution (``conv1d``, ``conv2d``,
    ``conv3d``) made in the block, the map is folded into it: the convolution is
    made again with the weight ``W * s`` (per output channel) and the bias
    ``(bias - mean) * s + b``, again the same function of every parameter, and
    the graph then scales the small weight instead of the large activation, for
    one more forward pass of those convolutions when the graph is built (figures
    on the documentation's benchmarks page). The first convolution is then left
    out of the graph unless something else uses its output, which then stays
    exact too. A convolution
    whose output, input, weight or bias was changed in place since (``out +=
    shortcut``, an in-place ReLU) is not folded: its batch norm is the affine map
    of what it gets.

    Calls in training mode or without running statistics (batch statistics) are
    left to PyTorch. A torch function mode only sees the calls made in its own
    thread, within the ``with`` block.
    """

    def __enter__(self):
        # id of an output -> (weak reference to it, function, arguments, versions)
        self._convolutions = {}
        return super().__enter__()

    def __exit__(self, *exc):
        self._convolutions.clear()
        return super().__exit__(*exc)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _CONVOLUTIONS:
            call = dict(zip(_CONVOLUTION_ARGS, args), **kwargs)
            out = _convolve(func, call)
            self._convolutions[id(out)] = (weakref.ref(out), func, call, _versions(out, call))
            return out
        if func is torch.nn.functional.batch_norm:
            call = dict(zip(_BATCH_NORM_ARGS, args), **kwargs)
            mean, var = call.get("running_mean"), call.get("running_var")
            if not call.get("training", False) and mean is not None and var is not None:
                x = call["input"]
                scale = torch.rsqrt(var + call.get("eps", 1e-5))
                weight, bias = call.get("weight"), call.get("bias")
                if weight is not None:
                    scale = scale * weight
                made = self._convolutions.pop(id(x), None)
                if made is not None and made[0]() is x and made[3] == _versions(x, made[2]):
                    return self._folded(made[1], made[2], mean, scale, bias)
                shape = (1, -1) + (1,) * (x.ndim - 2)
                out = (x - mean.view(shape)) * scale.view(shape)
                return out + bias.view(shape) if bias is not None else out
        return func(*args, **kwargs)

    @staticmethod
    def _folded(convolution, call, mean, scale, bias):
        """``convolution`` of ``call`` followed by the affine map, as one convolution."""
        call = dict(call)
        weight = call.pop("weight")
        shift = -mean * scale
        if call.get("bias") is not None:
            shift = shift + call["bias"] * scale
        if bias is not None:
            shift = shift + bias
        call["bias"] = shift
        folded = weight * scale.view((-1,) + (1,) * (weight.ndim - 1))
        call["weight"] = folded
        return _convolve(convolution, call)


def _use_channels_last(params, inputs):
    """Whether the operator's graph is built in ``torch.channels_last`` layout.

    On the CPU, in float32, oneDNN's convolutions and their backward passes run
    faster on channels-last (NHWC) tensors than on contiguous (NCHW) ones, and a
    Hessian-vector product is mostly such passes. So when the batch is 4-D and some
    parameter is a 4-D (``Conv2d``) weight, the operator's copies of those weights
    and its copy of the batch are made channels-last: the layers then propagate
    that layout. It changes no value beyond float32 rounding (the same sums in
    another order); figures on the documentation's benchmarks page. In float64
    (no oneDNN kernel) and on other devices the layout is left as it is. A model
    that cannot run on channels-last tensors (``x.view(len(x), -1)`` of a
    convolution's output raises, or the model raises its own error) is built
    again in the usual layout: its forward pass then runs twice.
    """
    return (
        inputs.ndim == 4
        and inputs.device.type == "cpu"
        and inputs.dtype == torch.float32
        and any(p.ndim == 4 and p.dtype == torch.float32 for p in params)
    )


def _clone(p, channels_last):
    """A detached copy of parameter ``p``, channels-last if asked and 4-D."""
    if channels_last and p.ndim == 4:
        return p.detach().clone(memory_format=torch.channels_last)
    return p.detach().clone()


def _rademacher(rng, size):
    """Draw a float64 vector of independent +-1 entries from ``rng``."""
    return np.where(rng.random(size) < 0.5, -1.0, 1.0)


class HessianOperator:
    """Hessian of a model's mean loss on one batch, as a matrix-free operator.

    The gradient of ``loss_fn(model(inputs), targets)`` with respect to all
    floating-point parameters of ``model`` is built once, with ``create_graph=True``;
    each :meth:`matvec` is then one extra backward pass through that graph. The model
    is evaluated in eval mode (BatchNorm uses its running statistics, dropout is off)
    on copies of its parameters, so the operator is a snapshot: later changes to the
    model do not change it, and the model itself is never modified (every
    submodule's train/eval mode is restored, ``requires_grad`` flags, ``.grad``
    fields, weights and buffers are untouched). In the graph, eval-mode BatchNorm
    is computed as the per-channel affine map it is (:class:`_AffineBatchNorm`),
    whose second derivatives cost less than those of PyTorch's fused kernel. On
    the CPU, convolutions get a second backward pass made of oneDNN's kernels
    (:class:`_Convolution`), and in float32 the copies of 4-D weights and of a
    4-D batch are taken in channels-last layout (:func:`_use_channels_last`); the
    model and the batch themselves keep theirs.

    The operator keeps the autograd graph of one forward and one backward pass alive
    for its whole lifetime; delete it to free that memory.

    Parameters
    ----------
    model : torch.nn.Module
        The network. All its floating-point parameters are differentiated, including
        those with ``requires_grad=False``; shared (tied) parameters count once.
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the mean loss as a scalar tensor, for
        example :class:`torch.nn.CrossEntropyLoss`.
    inputs : torch.Tensor
        The batch, on the device of the model's parameters. Must not be empty.
    targets : torch.Tensor
        The targets of the batch, with as many rows as ``inputs``.

    Attributes
    ----------
    n_parameters : int
        Number of scalar parameters, the side of the Hessian.
    shape : tuple of int
        ``(n_parameters, n_parameters)``.
    loss : float
        The mean loss on the batch.
    dtype : torch.dtype
        Floating dtype of the parameters and of the vectors :meth:`matvec` returns.
    device : torch.device
        Device of the parameters.

    Raises
    ------
    FloatingPointError
        If the loss on the batch is NaN or infinite (its Hessian is undefined).

    See Also
    --------
    hessian_trace : Trace of the Hessian of a model in one call.
    hessian_top_eigenvalue : Top eigenvalue of the Hessian of a model in one call.

    Examples
    --------
    >>> import torch
    >>> from featurizers.hessian import HessianOperator
    >>> model = torch.nn.Linear(3, 1, dtype=torch.float64)
    >>> x = torch.arange(12, dtype=torch.float64).reshape(4, 3) / 10
    >>> y = torch.zeros(4, 1, dtype=torch.float64)
    >>> op = HessianOperator(model, torch.nn.MSELoss(), x, y)
    >>> op.n_parameters
    4
    >>> op.matvec(torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64))
    tensor([0.9000, 1.1000, 1.3000, 2.0000], dtype=torch.float64)
    """

    _parameter_constraints = {
        "model": [torch.nn.Module],
        "loss_fn": [callable],
        "inputs": [torch.Tensor],
        "targets": [torch.Tensor],
    }

    def __init__(self, model, loss_fn, inputs, targets):
        validate_parameter_constraints(
            self._parameter_constraints,
            {"model": model, "loss_fn": loss_fn, "inputs": inputs, "targets": targets},
            caller_name=type(self).__name__,
        )
        if inputs.ndim == 0 or inputs.shape[0] == 0:
            raise ValueError(
                "The 'inputs' parameter of HessianOperator must be a non-empty batch "
                f"(at least one row). Got a tensor of shape {tuple(inputs.shape)} instead."
            )
        if targets.ndim == 0 or targets.shape[0] != inputs.shape[0]:
            raise ValueError(
                "The 'targets' parameter of HessianOperator must have as many rows as "
                f"'inputs' ({inputs.shape[0]}). Got a tensor of shape "
                f"{tuple(targets.shape)} instead."
            )
        named = [
            (name, p) for name, p in model.named_parameters() if p.is_floating_point()
        ]
        if not named:
            raise ValueError(
                "The 'model' parameter of HessianOperator must have at least one "
                f"floating-point parameter. Got {type(model).__name__} with none."
            )
        devices = {p.device for _, p in named}
        dtypes = {p.dtype for _, p in named}
        if len(devices) > 1 or len(dtypes) > 1:
            raise ValueError(
                "The parameters of 'model' must share one device and one dtype. Got "
                f"devices {sorted(map(str, devices))} and dtypes "
                f"{sorted(map(str, dtypes))}."
            )
        self.device = devices.pop()
        self.dtype = dtypes.pop()
        if inputs.device != self.device:
            raise ValueError(
                f"The 'inputs' parameter of HessianOperator must be on the model's "
                f"device {self.device}. Got a tensor on {inputs.device} instead."
            )

        self._names = [name for name, _ in named]
        self._shapes = [p.shape for _, p in named]
        self._numels = [p.numel() for _, p in named]
        self.n_parameters = int(sum(self._numels))
        self.shape = (self.n_parameters, self.n_parameters)

        def forward(channels_last):
            """The copies of the parameters and the loss built on them."""
            params = [_clone(p, channels_last).requires_grad_(True) for _, p in named]
            batch = inputs.contiguous(memory_format=torch.channels_last) if channels_last \
                else inputs
            with _AffineBatchNorm():
                outputs = torch.func.functional_call(
                    model, dict(zip(self._names, params)), (batch,)
                )
            return params, loss_fn(outputs, targets)

        self._channels_last = False
        with torch.inference_mode(False), torch.enable_grad(), _eval_mode(model):
            if _use_channels_last([p for _, p in named], inputs):
                try:
                    self._params, loss = forward(True)
                    self._channels_last = True
                except Exception:
                    # A model that needs contiguous tensors (x.view(n, -1) of a
                    # convolution's output raises a RuntimeError; a model may also
                    # check x.is_contiguous() and raise its own error): built again
                    # in the usual layout, where a genuine error is raised again.
                    pass
            if not self._channels_last:
                self._params, loss = forward(False)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ValueError(
                    "The 'loss_fn' parameter of HessianOperator must return a scalar "
                    f"tensor (the mean loss). Got {type(loss).__name__} of shape "
                    f"{tuple(getattr(loss, 'shape', ()))} instead."
                )
            loss = loss.reshape(())
            self.loss = float(loss.detach())
            if not math.isfinite(self.loss):
                raise FloatingPointError(
                    f"The loss of the model on the batch is {self.loss}; its Hessian is "
                    "undefined."
                )
            if loss.requires_grad:
                grads = torch.autograd.grad(
                    loss, self._params, create_graph=True, allow_unused=True
                )
            else:
                grads = [None] * len(self._params)
        # Only gradients that still depend on the parameters contribute to H v.
        self._graph_index = [
            i for i, g in enumerate(grads) if g is not None and g.requires_grad
        ]
        self._grads = [grads[i] for i in self._graph_index]

    @property
    def num_params(self):
        """Former name of ``n_parameters``, kept for one release (FutureWarning)."""
        _warn_renamed("num_params", "n_parameters", type(self).__name__)
        return self.n_parameters

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_parameters={self.n_parameters}, "
            f"loss={self.loss:.6g}, dtype={self.dtype}, device={self.device})"
        )

    def matvec(self, v):
        """Multiply the Hessian with a flat vector.

        Parameters
        ----------
        v : torch.Tensor of shape (n_parameters,)
            The vector, in the order of ``model.named_parameters()``. It is cast to
            the operator's dtype and device.

        Returns
        -------
        torch.Tensor of shape (n_parameters,)
            ``H @ v`` in the operator's dtype, on its device.
        """
        if not isinstance(v, torch.Tensor):
            raise TypeError(
                "The 'v' parameter of HessianOperator.matvec must be a torch.Tensor. "
                f"Got {type(v).__name__} instead."
            )
        if v.ndim != 1 or v.shape[0] != self.n_parameters:
            raise ValueError(
                "The 'v' parameter of HessianOperator.matvec must be a 1-D tensor of "
                f"length n_parameters={self.n_parameters}. Got shape {tuple(v.shape)} "
                "instead."
            )
        if v.is_complex():
            raise TypeError(
                "The 'v' parameter of HessianOperator.matvec must be real. Got dtype "
                f"{v.dtype} instead."
            )
        v = v.detach().to(device=self.device, dtype=self.dtype)
        if not self._grads:
            return torch.zeros_like(v)
        chunks = v.split(self._numels)
        grad_outputs = [
            chunks[i].view(self._shapes[i]) for i in self._graph_index
        ]
        with torch.inference_mode(False):
            # the gradient of the scalar <grad, v>: without grad_outputs,
            # torch.autograd.grad does not import torch.fx's symbolic shapes (and sympy)
            dot = sum((g * u).sum() for g, u in zip(self._grads, grad_outputs))
            hv = torch.autograd.grad(dot, self._params, retain_graph=True, allow_unused=True)
        return torch.cat(
            [
                (h if h is not None else torch.zeros_like(p)).reshape(-1)
                for h, p in zip(hv, self._params)
            ]
        )

    def to_linear_operator(self):
        """Wrap the operator as a float64 :class:`scipy.sparse.linalg.LinearOperator`.

        Returns
        -------
        scipy.sparse.linalg.LinearOperator
            Symmetric operator of shape ``(n_parameters, n_parameters)`` taking and
            returning float64 numpy arrays; products are computed in the operator's
            own dtype on its device.
        """

        def matvec(x):
            x = np.asarray(x, dtype=np.float64).reshape(-1)
            hv = self.matvec(torch.from_numpy(x))
            return hv.detach().to(device="cpu", dtype=torch.float64).numpy()

        return scipy.sparse.linalg.LinearOperator(
            shape=self.shape, matvec=matvec, rmatvec=matvec, dtype=np.float64
        )


class HessianBlock:
    """A diagonal block of a :class:`HessianOperator`: the Hessian of one parameter group.

    The block ``H_bb`` is the Hessian of the same loss with respect to the
    parameters of the group alone, the others held fixed. Its products are
    Hessian-vector products restricted to the group: the tangent is zero outside
    it and only the group's rows of ``H v`` are computed (the backward pass is
    asked for the group's parameters only, so it may skip part of the graph).
    It shares the graph of its operator; it is accepted wherever an operator is
    (:func:`trace_and_top_eigenvalue`, :func:`top_eigenvalues`,
    :func:`spectral_density`, ...), and worked with in the operator's dtype on
    its device.

    Parameters
    ----------
    operator : HessianOperator
        The full Hessian.
    names : list of str
        Names of the group's parameters, as in ``model.named_parameters()``.

    Attributes
    ----------
    names : tuple of str
        The group's parameters, in the operator's order.
    n_parameters, shape, dtype, device
        As for :class:`HessianOperator`, for the block.
    """

    def __init__(self, operator, names):
        if not isinstance(operator, HessianOperator):
            raise TypeError(
                "The 'operator' parameter of HessianBlock must be a HessianOperator. Got "
                f"{type(operator).__name__} instead."
            )
        wanted = list(names)
        unknown = sorted(set(wanted) - set(operator._names))
        if unknown or not wanted:
            raise ValueError(
                "The 'names' parameter of HessianBlock must be a non-empty list of the "
                f"operator's parameter names; got {wanted!r} (unknown: {unknown})."
            )
        self._operator = operator
        self._index = [i for i, name in enumerate(operator._names) if name in set(wanted)]
        self.names = tuple(operator._names[i] for i in self._index)
        self._numels = [operator._numels[i] for i in self._index]
        self.n_parameters = int(sum(self._numels))
        self.shape = (self.n_parameters, self.n_parameters)
        self.dtype, self.device = operator.dtype, operator.device
        in_graph = set(operator._graph_index)
        self._outputs = [
            (k, operator._grads[operator._graph_index.index(i)])
            for k, i in enumerate(self._index)
            if i in in_graph
        ]

    def __repr__(self):
        return f"{type(self).__name__}(names={list(self.names)}, n_parameters={self.n_parameters})"

    def matvec(self, v):
        """``H_bb @ v`` for a flat tensor ``v`` of the block's ``n_parameters``."""
        op = self._operator
        if not isinstance(v, torch.Tensor) or v.ndim != 1 or v.shape[0] != self.n_parameters:
            raise ValueError(
                "The 'v' parameter of HessianBlock.matvec must be a 1-D tensor of length "
                f"n_parameters={self.n_parameters}."
            )
        v = v.detach().to(device=self.device, dtype=self.dtype)
        if not self._outputs:
            return torch.zeros_like(v)
        chunks = v.split(self._numels)
        params = [op._params[i] for i in self._index]
        with torch.inference_mode(False):
            dot = sum((g * chunks[k].view(g.shape)).sum() for k, g in self._outputs)
            hv = torch.autograd.grad(dot, params, retain_graph=True, allow_unused=True)
        return torch.cat(
            [(h if h is not None else torch.zeros_like(p)).reshape(-1) for h, p in zip(hv, params)]
        )

    to_linear_operator = HessianOperator.to_linear_operator


_OPERATOR = [
    HessianOperator,
    HessianBlock,
    scipy.sparse.linalg.LinearOperator,
    np.ndarray,
    "sparse matrix",
]


def _as_linear_operator(op):
    """Return ``op`` as a square float64 LinearOperator and its dimension."""
    if isinstance(op, (HessianOperator, HessianBlock)):
        return op.to_linear_operator(), op.n_parameters
    if len(op.shape) != 2 or op.shape[0] != op.shape[1]:
        raise ValueError(
            f"The operator must be square (2-D, n x n). Got shape {tuple(op.shape)}."
        )
    n = int(op.shape[0])
    if n == 0:
        raise ValueError("The operator must have at least one row. Got shape (0, 0).")
    linop = scipy.sparse.linalg.aslinearoperator(op)

    def matvec(x):
        return np.asarray(linop.matvec(x), dtype=np.float64).reshape(-1)

    return (
        scipy.sparse.linalg.LinearOperator(
            shape=(n, n), matvec=matvec, rmatvec=matvec, dtype=np.float64
        ),
        n,
    )


def _dense(linop, n):
    """The dense matrix of a LinearOperator, symmetrised."""
    A = np.column_stack([linop.matvec(e) for e in np.eye(n)])
    return (A + A.T) / 2


def _torch_matvec(op):
    """``(matvec, n, dtype, device)`` of an accepted operator, on torch vectors.

    A :class:`HessianOperator` multiplies in its own dtype on its own device, with no
    copy to numpy; any other operator is wrapped as a float64 CPU product.
    """
    if isinstance(op, (HessianOperator, HessianBlock)):
        return op.matvec, op.n_parameters, op.dtype, op.device
    linop, n = _as_linear_operator(op)

    def matvec(v):
        # Copies both ways: an operator may return its input (IdentityOperator) or
        # work in it, and the caller works in place in what it gets.
        return torch.from_numpy(np.array(linop.matvec(v.numpy().copy()), dtype=np.float64))

    return matvec, n, torch.float64, torch.device("cpu")
