"""Private helpers shared by the featurizers modules: eval mode, random states, renames.

:func:`_eval_mode` is the one way the package runs a user's model in eval mode and
gives it back as it was; :func:`_logits` and :func:`_check_loss` turn the errors of
models and losses of the wrong form (tuple outputs, integer inputs, per-sample losses)
into messages that name the fix. The random-state helpers turn a scikit-learn style
``random_state`` (None, an int, a :class:`numpy.random.RandomState` or a
:class:`numpy.random.Generator`) into the seeds numpy and torch need.
:func:`_renamed_parameters` and :func:`_warn_renamed` keep the former names of
renamed parameters and attributes working for one release, with a FutureWarning.
"""

import contextlib
import functools
import warnings

import numpy as np
import torch
from sklearn.utils import check_random_state

#: The ``random_state`` constraint of the validated public functions and estimators.
_RANDOM_STATE = ["random_state", np.random.Generator]

#: The release in which the former names of renamed parameters stop working.
_RENAMED_REMOVED_IN = "0.2"


def _warn_renamed(old, new, owner, stacklevel=3):
    """Issue the FutureWarning for the former name ``old`` of ``owner``'s ``new``."""
    warnings.warn(
        f"'{old}' of {owner} was renamed '{new}' (scikit-learn's n_ prefix) and will be "
        f"removed in {_RENAMED_REMOVED_IN}; use '{new}' instead.",
        FutureWarning,
        stacklevel=stacklevel,
    )


def _renamed_parameters(**renames):
    """Decorator: accept the former keyword names ``old=new`` with a FutureWarning.

    A call passing ``old`` gets it as ``new`` (validated under that name); passing
    both is a ``TypeError``. The signature shown is the wrapped function's.
    """

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(
                        f"{func.__name__}() got both '{new}' and its former name '{old}'; "
                        f"pass only '{new}'."
                    )
                _warn_renamed(old, new, func.__name__)
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate


@contextlib.contextmanager
def _eval_mode(model):
    """Put ``model`` in eval mode; restore every submodule's flag and every buffer.

    ``model.train(mode)`` would reset all submodules to one mode; restoring the flag
    of each submodule keeps models whose submodules were in mixed modes intact. In
    eval mode BatchNorm does not touch its statistics, but a custom module might
    update a buffer whatever its mode, so buffers are copied and written back.
    """
    flags = [(module, module.training) for module in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        model.eval()
        yield model
    finally:
        for module, training in flags:
            module.training = training
        with torch.no_grad():
            for buffer, saved in buffers:
                if not torch.equal(buffer, saved):
                    buffer.copy_(saved)


def _check_random_state(random_state):
    """Return a numpy random generator from None, an int, a RandomState or a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return check_random_state(random_state)


def _integers(rng, high, **kwargs):
    """Integers in ``[0, high)`` from a RandomState (``randint``) or a Generator."""
    draw = rng.integers if isinstance(rng, np.random.Generator) else rng.randint
    return draw(0, high, **kwargs)


def _child_seed(rng):
    """Entropy for a fresh :class:`numpy.random.Generator`, drawn from ``rng``."""
    return _integers(rng, 2**32, size=4, dtype=np.uint64)


def _torch_seed(random_state):
    """An integer seed for torch (below 2**31 - 1) drawn from a ``random_state``."""
    return int(_integers(_check_random_state(random_state), 2**31 - 1))


@contextlib.contextmanager
def _forked_rng(seed, device):
    """Seed torch's global RNG for the block and restore it afterwards.

    Dropout draws from the global generator; forking it makes the block
    reproducible without consuming the caller's random stream.
    """
    kwargs = {"devices": []}
    if device.type == "cuda":  # pragma: no cover - no GPU on the test machines
        index = device.index if device.index is not None else torch.cuda.current_device()
        kwargs = {"devices": [index]}
    with torch.random.fork_rng(**kwargs):
        torch.manual_seed(seed)
        yield


def _logits(model, X, where="", forward=None):
    """``model(X)``, with errors that name the problem for inputs of the wrong dtype.

    An integer input tensor is legitimate for a model that embeds tokens, so it is
    not refused up front; when the model then fails on it, the error says so.
    """
    try:
        out = model(X) if forward is None else forward(X)
    except RuntimeError as exc:
        if X.is_floating_point() or X.is_complex():
            raise
        dtypes = sorted({str(p.dtype) for p in model.parameters() if p.is_floating_point()})
        raise TypeError(
            f"The model fails on inputs of dtype {X.dtype}{where} ({exc}). Models with "
            f"{'/'.join(dtypes) or 'floating-point'} parameters need floating-point "
            "inputs: convert the data with X.float() (or X.to(<the parameters' dtype>))."
        ) from None
    _check_output(out, where)
    return out


def _check_output(logits, where=""):
    """A TypeError for model outputs that are not one tensor (tuples, dicts, ...)."""
    if not isinstance(logits, torch.Tensor):
        kind = type(logits).__name__
        part = {"tuple": "out[0]", "list": "out[0]", "dict": "out['logits']"}.get(kind)
        fix = f" (e.g. {part})" if part else ""
        raise TypeError(
            f"Models must return one tensor of (batch, n_classes) logits{where}; got a "
            f"{kind}. Wrap the model in a module whose forward returns the logits{fix}."
        )


def _check_loss(loss, where=""):
    """A ValueError unless ``loss`` is the 0-d tensor of a batch's mean loss."""
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        got = (
            f"a tensor of shape {tuple(loss.shape)}"
            if isinstance(loss, torch.Tensor)
            else f"a {type(loss).__name__}"
        )
        raise ValueError(
            f"loss_fn must return the mean loss of a batch as a 0-d tensor{where}; got "
            f"{got}. With a torch loss use reduction='mean' (not 'none' or 'sum')."
        )
    return loss
