"""Reading checkpoint files: a state dict from a torch or safetensors file, unpickling nothing.

The one reader of checkpoint files, below :class:`~featurizers.ModelGroup` (whose
file-backed groups reload their models with it in the workers) and
:mod:`featurizers.checkpoints` (which re-exports :func:`load_state_dict` and
:class:`CheckpointError`, their public path).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from sklearn_mdtree._files import open_regular, regular_file_or_none

__all__ = ["CheckpointError", "load_state_dict"]

#: Keys under which training scripts commonly nest the state dict.
_NESTED_KEYS = ("state_dict", "model_state_dict", "model")


class CheckpointError(ValueError):
    """A model factory, a checkpoint or a data file cannot be used as given.

    A ``ValueError``, so ``except ValueError`` catches it too.

    Examples
    --------
    >>> from featurizers.checkpoints import CheckpointError, load_factory
    >>> try:
    ...     load_factory("torch.nn.Linear")
    ... except CheckpointError as exc:
    ...     print(isinstance(exc, ValueError), exc)
    True A factory must be given as 'package.module:function'. Got 'torch.nn.Linear' instead.
    """


def _check_regular(path, what):
    """A one-line CheckpointError unless ``path`` is a regular file (never blocks)."""
    kind = regular_file_or_none(path)
    if kind is None:
        raise CheckpointError(f"The {what} {str(path)!r} does not exist.")
    if kind != "a regular file":
        raise CheckpointError(f"The {what} {str(path)!r} is {kind}, not a regular file.")


def _is_tensor_dict(obj):
    return isinstance(obj, Mapping) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    )


def load_state_dict(path):
    """Read a state dict (parameter name -> tensor) from a checkpoint file.

    ``.safetensors`` files are read with ``safetensors.torch.load_file``; any other
    file with ``torch.load(path, map_location="cpu", weights_only=True)``, which
    refuses pickled Python objects. A dict holding the state dict under
    ``"state_dict"``, ``"model_state_dict"`` or ``"model"`` (as training scripts
    often save it, with the epoch and the optimizer beside it) is unwrapped.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file.

    Returns
    -------
    state_dict : dict of str to torch.Tensor

    Raises
    ------
    CheckpointError
        If the file does not exist, is refused by ``weights_only=True`` (a
        pickled model or other object), or holds something other than a mapping
        of names to tensors.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from featurizers.checkpoints import load_state_dict
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "checkpoint.pt")
    ...     model = torch.nn.Linear(4, 3)
    ...     torch.save({"epoch": 10, "state_dict": model.state_dict()}, path)
    ...     state = load_state_dict(path)  # the nested state dict is unwrapped
    >>> sorted(state), tuple(state["weight"].shape)
    (['bias', 'weight'], (3, 4))
    """
    return _check_finite(_read_state_dict(path), path)


def _read_state_dict(path):
    """:func:`load_state_dict` without the check for NaN: a worker's reload of a file
    the loader checked (same SHA-256), and the deprecated ``ModelGroup.from_checkpoints``,
    which never refused NaN weights."""
    path = Path(path)
    _check_regular(path, "checkpoint")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise CheckpointError(
                f"Reading {str(path)!r} needs safetensors: pip install "
                "\"sklearn-mdtree[checkpoints]\" (or save with torch.save(model.state_dict()))."
            ) from None
        try:
            state = dict(load_file(str(path), device="cpu"))
        except Exception as exc:  # safetensors raises its own SafetensorError
            raise CheckpointError(
                f"Could not read the safetensors file {str(path)!r}: {exc}"
            ) from None
        return state
    try:
        with open_regular(path, "checkpoint", error=CheckpointError) as handle:
            obj = torch.load(handle, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as exc:  # random or cut bytes fail in many ways (IndexError, KeyError...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"The checkpoint {str(path)!r} is not a state dict: torch.load(weights_only=True) "
            f"refused it ({first[:160]}). Save model.state_dict(), not the model object."
        ) from None
    if not _is_tensor_dict(obj) and isinstance(obj, Mapping):
        for key in _NESTED_KEYS:
            if _is_tensor_dict(obj.get(key)):
                obj = obj[key]
                break
    if not _is_tensor_dict(obj):
        what = type(obj).__name__
        if isinstance(obj, Mapping):
            key, value = next((k, v) for k, v in obj.items()
                              if not (isinstance(k, str) and isinstance(v, torch.Tensor)))
            if isinstance(key, str):
                what = f"a dict whose entry {key!r} is a {type(value).__name__}, not a tensor"
            else:
                what = f"a dict with the key {key!r} ({type(key).__name__}), not a parameter name"
        raise CheckpointError(
            f"The checkpoint {str(path)!r} is not a state dict (a mapping of parameter names "
            f"to tensors): it holds {what}."
        )
    return dict(obj)


def _check_finite(state, path):
    """Refuse a state dict holding NaN or infinite floats (a diverged model).

    Its loss-landscape features would all be NaN: an answer that says nothing, so an
    error is given instead of a row of NaN.
    """
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(
                f"The checkpoint {str(path)!r} holds NaN or infinite values in {key!r} "
                "(a diverged model): its features are undefined; featurize a checkpoint "
                "saved before the divergence."
            )
    return state
