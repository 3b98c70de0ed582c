"""Model groups from files: a model factory, checkpoint files and training data.

:func:`load_model_group` builds a :class:`~featurizers.ModelGroup` from what a user
of a training script has on disk: the function that builds the architecture
(``"package.module:function"``, with keyword arguments), two or more checkpoint
files of one configuration (different seeds) and the training data. Nothing is
unpickled: checkpoints are read with :func:`torch.load` and ``weights_only=True``
(or with ``safetensors``, the ``checkpoints`` extra), ``.npz`` data with
``allow_pickle=False``, ``.pt`` data with ``weights_only=True``. Each file is
checked against the architecture before any computation, and an error names the
file and its first problem (:class:`CheckpointError`, a ``ValueError``). Files are
only read, never written.

What is trusted: the checkpoint and data *files* are data (nothing in them can run
code), but the *factory string* is code. ``"package.module:function"`` imports that
module, running its top-level code, and calls the object it names: ``"os:system"``
would run a command, ``"os:remove"`` delete a file. Pass only factories you would
import yourself, as with ``torch.load(weights_only=False)``; the checks (callable,
returns a ``torch.nn.Module``) are no sandbox.
"""

from __future__ import annotations

import functools
import importlib
import pickle
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from sklearn_mdtree._files import open_regular

from ._checkpoint_files import CheckpointError, _check_regular, load_state_dict
from ._groups import ModelGroup, _Data, _checkpoint_entry, _file_backed
from ._utils import _eval_mode

__all__ = [
    "CheckpointError",
    "load_data",
    "load_factory",
    "load_model_group",
    "load_state_dict",
]

def load_factory(spec):
    """Import the callable named ``"package.module:function"``.

    This imports ``package.module`` (running its top-level code) and returns the
    object it names, which the caller then calls: the string is trusted code, never
    data (see the module's docstring).

    Parameters
    ----------
    spec : str or callable
        ``"package.module:attribute"`` (dots after the colon reach nested
        attributes, e.g. ``"mymodels:Net.small"``); a callable is returned as is.

    Returns
    -------
    factory : callable

    Raises
    ------
    CheckpointError
        If the text is not of that form, the module cannot be imported or has no
        such attribute, or the attribute is not callable.

    Examples
    --------
    >>> from featurizers.checkpoints import load_factory
    >>> load_factory("torch.nn:Linear")
    <class 'torch.nn.modules.linear.Linear'>
    """
    if callable(spec):
        return spec
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise CheckpointError(
            f"A factory must be given as 'package.module:function'. Got {spec!r} instead."
        )
    module_name, attribute = spec.split(":")
    if module_name.startswith("."):
        raise CheckpointError(
            f"A factory must name its module absolutely ('package.module:function'); "
            f"{spec!r} is relative (it starts with a dot)."
        )
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise CheckpointError(
            f"Could not import module {module_name!r} of {spec!r}: {exc}"
        ) from None
    except Exception as exc:  # the module's own code failed (SyntaxError, RuntimeError...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CheckpointError(
            f"Importing module {module_name!r} of {spec!r} failed: {type(exc).__name__}: "
            f"{first[:200]}"
        ) from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise CheckpointError(f"Module {module_name!r} has no attribute {attribute!r}.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise CheckpointError(f"{spec!r} is a {type(obj).__name__}, not a callable.")
    return obj


def _check_state_dict(model, state, source, factory_name):
    """Name the first key or shape of ``state`` that ``model`` does not have."""
    expected = model.state_dict()
    for key, tensor in expected.items():
        if key not in state:
            raise CheckpointError(
                f"The checkpoint {source!r} does not match the architecture of "
                f"{factory_name}: it has no entry {key!r} (its first entries: "
                f"{list(state)[:3]})."
            )
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"The checkpoint {source!r} does not match the architecture of "
                f"{factory_name}: {key!r} has shape {tuple(state[key].shape)} in the "
                f"checkpoint but {tuple(tensor.shape)} in the model."
            )
    extra = [k for k in state if k not in expected]
    if extra:
        raise CheckpointError(
            f"The checkpoint {source!r} does not match the architecture of {factory_name}: "
            f"it has an entry {extra[0]!r} that the model does not."
        )


_NUMPY_KINDS = {"U": "strings", "S": "bytes", "O": "Python objects", "M": "datetimes",
                "m": "time spans", "V": "structured records", "c": "complex numbers",
                "b": "booleans"}


def _numeric_array(a, role, source):
    """``a`` as a tensor of real numbers, or a CheckpointError naming its dtype.

    ``role`` is ``"X"`` (any real numbers; integers other than int64 and unsigned
    ones become float32) or ``"y"`` (integers that fit int64).
    """
    if isinstance(a, torch.Tensor):
        a = a.detach()
        if a.is_complex() or a.dtype == torch.bool:
            a = a.numpy()  # reported below with numpy's kind
        elif a.dtype in (torch.uint16, torch.uint32, torch.uint64) and role == "X":
            return a.to(torch.float32)
        elif a.dtype == torch.uint64:
            a = a.numpy()
        else:
            return a
    a = np.asarray(a)
    kind = a.dtype.kind
    wanted = "real numbers" if role == "X" else "integer class indices"
    if kind in _NUMPY_KINDS:
        raise CheckpointError(
            f"The {'inputs' if role == 'X' else 'labels'} {role} of the data {source!r} "
            f"must be {wanted}; they are {_NUMPY_KINDS[kind]} (dtype {a.dtype})."
        )
    if kind == "u" and a.dtype.itemsize == 8 and a.size and int(a.max()) > 2**63 - 1:
        if role == "y":
            raise CheckpointError(
                f"The labels y of the data {source!r} must be class indices from 0 to the "
                f"model's number of outputs; the largest is {int(a.max())}."
            )
    if role == "X" and kind == "u" and a.dtype.itemsize > 1:
        a = a.astype(np.float32)  # torch has few operations on uint16/32/64
    return torch.from_numpy(np.ascontiguousarray(a))


def _tensor_pair(X, y, source):
    X, y = _numeric_array(X, "X", source), _numeric_array(y, "y", source)
    if len(X) == 0:
        raise CheckpointError(f"The data {source!r} is empty (0 samples); it needs at least one.")
    if len(X) != len(y):
        raise CheckpointError(
            f"The data {source!r} has {len(X)} inputs but {len(y)} labels."
        )
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise CheckpointError(
            f"The labels of {source!r} must be integer class indices; got dtype {y.dtype}."
        )
    if not (X.is_floating_point() or X.dtype in (torch.uint8, torch.int8, torch.int16,
                                                 torch.int32, torch.int64)):
        raise CheckpointError(f"The inputs of {source!r} must be numbers; got dtype {X.dtype}.")
    if X.is_floating_point() and not bool(torch.isfinite(X).all()):
        row = int(torch.nonzero(~torch.isfinite(X.reshape(len(X), -1)).all(dim=1))[0])
        raise CheckpointError(
            f"The inputs of {source!r} hold NaN or infinite values (first in sample {row}); "
            "every feature would be NaN: clean or drop those samples."
        )
    return X, y.long()


def _pair_from_mapping(obj, source):
    keys = [k for k in ("X", "y") if k in obj]
    if len(keys) < 2:
        raise CheckpointError(
            f"The data {source!r} must hold arrays named 'X' (inputs) and 'y' (labels); "
            f"it holds {sorted(obj)}."
        )
    return obj["X"], obj["y"]


def load_data(source, **kwargs):
    """Read training or validation data from a file or a factory.

    Parameters
    ----------
    source : str, path-like, Dataset or tuple
        ``.npz`` (arrays ``X`` and ``y``, read with ``allow_pickle=False``),
        ``.pt`` / ``.pth`` (a dict ``{"X": tensor, "y": tensor}`` or a pair,
        read with ``weights_only=True``), or ``"package.module:function"``
        returning a map-style ``Dataset`` or an ``(X, y)`` pair. A ``Dataset`` or
        a pair of tensors is passed through.
    **kwargs
        Keyword arguments of the factory.

    Returns
    -------
    data : tuple of (Tensor, Tensor) or Dataset
        Inputs as given (cast to the model's dtype by :func:`load_model_group`)
        and int64 labels.

    Raises
    ------
    CheckpointError
        If the file is missing, holds object arrays, lacks ``X`` or ``y``, is
        empty, or its labels are not integers.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from featurizers.checkpoints import load_data
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "train.npz")
    ...     np.savez(path, X=np.zeros((5, 4), dtype=np.float32), y=np.array([0, 1, 2, 1, 0]))
    ...     X, y = load_data(path)
    >>> tuple(X.shape), X.dtype, y.dtype
    ((5, 4), torch.float32, torch.int64)
    """
    if isinstance(source, Dataset):
        return source
    if isinstance(source, (tuple, list)):
        if len(source) != 2:
            raise CheckpointError(
                f"The data must be a pair (X, y) of inputs and labels; got a "
                f"{type(source).__name__} of {len(source)} items."
            )
        return _tensor_pair(*source, "the given (X, y)")
    text = str(source)
    path = Path(text)
    if path.suffix in (".npz", ".pt", ".pth") or path.exists():
        _check_regular(path, "data file")
        if path.suffix == ".npz":
            with open_regular(path, "data file", error=CheckpointError) as handle:
                magic = handle.read(6)
            if magic.startswith(b"\x93NUMPY"):
                raise CheckpointError(
                    f"The data file {text!r} is a single .npy array, not an .npz archive of "
                    "X and y; save both with np.savez(path, X=X, y=y)."
                )
            if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):
                raise CheckpointError(
                    f"The data file {text!r} is not an .npz archive (it is not a zip file: "
                    f"it starts with {magic[:4]!r}); save it with np.savez(path, X=X, y=y)."
                )
            try:
                with open_regular(path, "data file", error=CheckpointError) as handle, \
                        np.load(handle, allow_pickle=False) as archive:
                    arrays = {k: archive[k] for k in archive.files}
            except ValueError as exc:
                if "allow_pickle" in str(exc):
                    raise CheckpointError(
                        f"The data file {text!r} holds object arrays, which cannot be read "
                        "without unpickling; save numeric arrays (np.savez(path, X=X, y=y))."
                    ) from None
                raise CheckpointError(f"Could not read the data file {text!r}: {exc}") from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:  # a cut or foreign file
                raise CheckpointError(f"Could not read the data file {text!r}: {exc}") from None
            X, y = _pair_from_mapping(arrays, text)
            return _tensor_pair(X, y, text)
        if path.suffix in (".pt", ".pth"):
            try:
                with open_regular(path, "data file", error=CheckpointError) as handle:
                    obj = torch.load(handle, map_location="cpu", weights_only=True)
            except CheckpointError:
                raise
            except Exception as exc:  # random or cut bytes fail in many ways
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise CheckpointError(
                    f"The data file {text!r} could not be read with weights_only=True "
                    f"({first[:160]}); save tensors: torch.save({{'X': X, 'y': y}}, path)."
                ) from None
            if isinstance(obj, Mapping):
                X, y = _pair_from_mapping(obj, text)
            elif isinstance(obj, (tuple, list)) and len(obj) == 2:
                X, y = obj
            else:
                raise CheckpointError(
                    f"The data file {text!r} must hold {{'X': tensor, 'y': tensor}} or a pair "
                    f"(X, y); it holds a {type(obj).__name__}."
                )
            if not all(isinstance(t, torch.Tensor) for t in (X, y)):
                raise CheckpointError(f"The data file {text!r} must hold tensors X and y.")
            return _tensor_pair(X, y, text)
        raise CheckpointError(
            f"The data file {text!r} must be .npz or .pt, or give a factory "
            "'package.module:function'."
        )
    data = load_factory(text)(**kwargs)
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise CheckpointError(
                f"The data factory {text!r} must return a pair (X, y); it returned a "
                f"{type(data).__name__} of {len(data)} items."
            )
        return _tensor_pair(*data, text)
    if not isinstance(data, Dataset):
        raise CheckpointError(
            f"The data factory {text!r} must return a Dataset or a pair (X, y); it returned "
            f"a {type(data).__name__}."
        )
    if len(data) == 0:
        raise CheckpointError(f"The data {text!r} is empty (0 samples); it needs at least one.")
    return data


def _check_device_and_dtype(model, factory_name):
    """The featurizers run on the CPU, in one floating dtype per model."""
    tensors = [*model.named_parameters(), *model.named_buffers()]
    devices = sorted({t.device.type for _, t in tensors})
    if devices and devices != ["cpu"]:
        name, t = next((n, t) for n, t in tensors if t.device.type != "cpu")
        raise CheckpointError(
            f"{factory_name} must build its model on the CPU (device 'cpu'); its {name!r} "
            f"is on device {t.device.type!r}. Drop the device argument: the checkpoints are "
            "loaded onto the CPU."
        )
    floats = [(n, t.dtype) for n, t in model.named_parameters() if t.is_floating_point()]
    if len({d for _, d in floats}) > 1:
        first, other = floats[0], next(f for f in floats if f[1] != floats[0][1])
        raise CheckpointError(
            f"{factory_name} must build a model of one floating dtype; its {first[0]!r} is "
            f"{first[1]} but its {other[0]!r} is {other[1]}. Convert the whole model "
            "(model.float() or model.double())."
        )


def _input_shape_hint(model):
    """``(batch, in_features)``-like text for the model's first layer, or None."""
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            return f"(n_samples, {module.in_features})"
        if isinstance(module, torch.nn.modules.conv._ConvNd):
            spatial = ", ".join(["..."] * len(module.kernel_size))
            return f"(n_samples, {module.in_channels}, {spatial})"
    return None


def _to_dtype(data, model):
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if isinstance(data, tuple) and len(dtypes) == 1:
        X, y = data
        return X.to(dtypes.pop()), y
    return data


@torch.no_grad()
def _check_labels(model, data, source):
    raw, data = data, _Data(data, role=f"data {source!r}")
    X, _ = data.take([0])
    with _eval_mode(model):
        try:
            out = model(X)
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            hint = _input_shape_hint(model)
            expects = f"inputs of shape {hint}" if hint else "other inputs"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            shape = tuple(raw[0].shape) if isinstance(raw, tuple) else (
                "n_samples", *X.shape[1:])
            raise CheckpointError(
                f"The model expects {expects}; the data {source!r} has X of shape "
                f"{shape} (one sample failed: {type(exc).__name__}: {first[:160]})."
            ) from None
    if out.ndim != 2:
        raise CheckpointError(
            f"The model must output (batch, n_classes) logits; on {source!r} it outputs "
            f"shape {tuple(out.shape)}."
        )
    try:
        lo, hi = data.label_range()
    except TypeError as exc:
        raise CheckpointError(str(exc)) from None
    if lo < 0 or hi >= out.shape[1]:
        raise CheckpointError(
            f"The labels of {source!r} must lie in [0, {out.shape[1]}) for a model with "
            f"{out.shape[1]} outputs; got labels from {lo} to {hi}."
        )


def load_model_group(
    model,
    checkpoints,
    train_data,
    *,
    model_kwargs=None,
    data_kwargs=None,
    val_data=None,
    metadata=None,
    name=None,
    min_models=1,
    lazy=False,
):
    """Build a :class:`~featurizers.ModelGroup` from a factory, checkpoints and data.

    This is the package's one loader of checkpoint files (``ModelGroup.from_checkpoints``,
    deprecated, gives the same file-backed group as ``lazy=True``).

    Parameters
    ----------
    model : str or callable
        The factory of the architecture: ``"package.module:function"`` or a
        callable, called as ``model(**model_kwargs)`` once per checkpoint.
    checkpoints : sequence of str or path-like
        The state dicts of the group's models, one per seed
        (:func:`load_state_dict`). Give two or more for the pairwise features
        (mode connectivity, CKA).
    train_data : str, path-like, Dataset or tuple
        The training data (:func:`load_data`).
    model_kwargs, data_kwargs : dict, default=None
        Keyword arguments of the model factory and of a data factory.
    val_data : str, path-like, Dataset or tuple, default=None
        Validation data, for ``test_error`` and ``test_loss``.
    metadata : dict, default=None
        Hyperparameters of the configuration (see :class:`ModelGroup`).
    name : str, default=None
        The group's name in reports.
    min_models : int, default=1
        Fewest checkpoints accepted; 2 for the pairwise features.
    lazy : bool, default=False
        Make the group file-backed: it keeps the factory (with ``model_kwargs``)
        and each checkpoint's path and SHA-256, and a pickled copy (what
        ``n_jobs`` workers and a Dask cluster receive) carries those instead of
        the modules. Each worker reloads the models from the files, which must be
        readable there (a shared file system), and refuses a file whose SHA-256
        changed since the group was made (an error, not other rows). The factory
        must then pickle: a ``"package.module:function"`` string or a
        module-level callable. The models in this process, and the rows, are
        the same as with ``lazy=False``.

    Returns
    -------
    group : ModelGroup
        The models in eval mode, on the CPU, in the checkpoints' order
        (file-backed with ``lazy=True``).

    Raises
    ------
    CheckpointError
        For a bad factory, a file that is not a state dict, a key or shape that
        does not match the architecture (the first one is named), too few
        checkpoints, empty data, non-integer labels or labels outside the
        model's outputs.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from featurizers.checkpoints import load_model_group
    >>> folder = tempfile.TemporaryDirectory()
    >>> paths = [os.path.join(folder.name, f"seed{seed}.pt") for seed in (0, 1)]
    >>> for path in paths:  # two seeds' models of one configuration
    ...     torch.save(torch.nn.Linear(4, 3).state_dict(), path)
    >>> X, y = torch.randn(20, 4), torch.randint(0, 3, (20,))
    >>> group = load_model_group("torch.nn:Linear", paths, (X, y),
    ...                          model_kwargs={"in_features": 4, "out_features": 3})
    >>> group.n_models, group.n_train_samples
    (2, 20)

    With ``lazy=True`` a pickled copy carries the paths, not the models:

    >>> import pickle
    >>> lazy = load_model_group("torch.nn:Linear", paths, (X, y), lazy=True,
    ...                         model_kwargs={"in_features": 4, "out_features": 3})
    >>> len(pickle.dumps(lazy)) < len(pickle.dumps(group))
    True
    >>> folder.cleanup()
    """
    factory = load_factory(model)
    factory_name = model if isinstance(model, str) else getattr(model, "__name__", repr(model))
    if isinstance(checkpoints, (str, Path)):
        checkpoints = [checkpoints]
    if not isinstance(checkpoints, Iterable) or isinstance(checkpoints, (bytes, Mapping)):
        raise CheckpointError(
            "The 'checkpoints' parameter must be a list of checkpoint files, one per "
            f"model; got {checkpoints!r:.80}."
        )
    checkpoints = list(checkpoints)
    if len(checkpoints) < max(1, min_models):
        raise CheckpointError(
            f"Got {len(checkpoints)} checkpoint(s), but at least {max(1, min_models)} are "
            "needed (the pairwise features, mode connectivity and CKA, compare models "
            "trained with different seeds)."
        )
    build = functools.partial(factory, **model_kwargs) if model_kwargs else factory
    if lazy:
        try:
            pickle.dumps(build)
        except Exception as exc:
            raise CheckpointError(
                f"With lazy=True the factory {factory_name} is sent to the workers, so it "
                f"must pickle: give 'package.module:function' or a module-level callable "
                f"({type(exc).__name__}: {str(exc)[:120]})."
            ) from None
    models, entries = [], []
    for path in checkpoints:
        state = load_state_dict(path)
        if lazy:
            entries.append(_checkpoint_entry(build, path))
        try:
            net = factory(**(model_kwargs or {}))
        except Exception as exc:
            raise CheckpointError(
                f"Calling {factory_name}(**{model_kwargs or {}}) failed: {exc}"
            ) from None
        if not isinstance(net, torch.nn.Module):
            raise CheckpointError(
                f"{factory_name} must return a torch.nn.Module; it returned a "
                f"{type(net).__name__}."
            )
        _check_device_and_dtype(net, factory_name)
        _check_state_dict(net, state, str(path), factory_name)
        net.load_state_dict(state)
        models.append(net.eval())
    train = _to_dtype(load_data(train_data, **(data_kwargs or {})), models[0])
    _check_labels(models[0], train, str(train_data) if not isinstance(train_data, tuple)
                  else "the training data")
    val = None
    if val_data is not None:
        val = _to_dtype(load_data(val_data, **(data_kwargs or {})), models[0])
        _check_labels(models[0], val, str(val_data))
    group = ModelGroup(models, train, val, metadata=metadata, name=name)
    return _file_backed(group, entries) if lazy else group
