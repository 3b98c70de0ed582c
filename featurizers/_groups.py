"""Model groups: the trained models of one training configuration, with their data.

A :class:`ModelGroup` is what the featurizers turn into one feature row. The
private :class:`_Data` gives the rest of the package one way to read a training
or validation set, whether the user passed a ``Dataset``, a ``DataLoader`` or an
``(X, y)`` pair of tensors.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset
from torch.utils.data._utils.collate import default_collate

from sklearn_mdtree._files import sha256 as _sha256

from ._checkpoint_files import _read_state_dict

__all__ = ["ModelGroup"]


class _Data:
    """Index-based access to a dataset of ``(input, label)`` pairs.

    Parameters
    ----------
    data : Dataset, DataLoader or tuple of (Tensor, Tensor)
        A map-style dataset whose items are ``(input, label)`` pairs, a
        ``DataLoader`` over one (its ``dataset`` and ``collate_fn`` are used; its
        batch size, sampler and workers are not), or two tensors of equal length.
    role : str
        What the data is for ("training", "validation"); used in error messages.
    """

    def __init__(self, data, *, role="training"):
        self.role = role
        collate_fn = default_collate
        if isinstance(data, DataLoader):
            collate_fn = data.collate_fn
            data = data.dataset
        if isinstance(data, (tuple, list)) and not isinstance(data, Dataset):
            if len(data) != 2 or not all(isinstance(a, torch.Tensor) for a in data):
                raise TypeError(
                    f"The {role} data must be a Dataset, a DataLoader or a tuple (X, y) of "
                    f"two torch tensors; got a {type(data).__name__} of "
                    f"{[type(a).__name__ for a in data]}. Convert arrays with "
                    "torch.as_tensor(X, dtype=torch.float32) and torch.as_tensor(y)."
                )
            X, y = data
            if y.ndim != 1:
                raise ValueError(_label_shape_message(role, tuple(y.shape)))
            if X.ndim == 0:
                raise ValueError(
                    f"The {role} inputs X must have one row per sample; got a 0-d tensor."
                )
            if len(X) != len(y):
                raise ValueError(
                    f"The {role} data (X, y) must have as many labels as inputs; got "
                    f"len(X)={len(X)} and len(y)={len(y)}."
                )
            data = TensorDataset(X, y)
        if isinstance(data, IterableDataset):
            raise TypeError(
                f"The {role} data must be a map-style Dataset (with __getitem__ and __len__); "
                f"got an IterableDataset ({type(data).__name__}), which cannot be sampled."
            )
        if not isinstance(data, Dataset):
            raise TypeError(
                f"The {role} data must be a Dataset, a DataLoader or a tuple (X, y) of two "
                f"torch tensors; got {type(data).__name__}."
            )
        try:
            n = len(data)
        except TypeError as exc:
            raise TypeError(
                f"The {role} data ({type(data).__name__}) must define __len__."
            ) from exc
        if n == 0:
            raise ValueError(f"The {role} data is empty (0 samples); it needs at least one.")
        self.dataset = data
        self.collate_fn = collate_fn
        self._n = n
        self._tensors = (
            data.tensors
            if isinstance(data, TensorDataset) and len(data.tensors) == 2
            else None
        )
        self._label_range = None

    def __len__(self):
        return self._n

    def take(self, indices):
        """Return the inputs and labels at ``indices`` as two batched tensors.

        Integer labels of another dtype (int32, uint8, ...) come back as int64, the
        class indices torch's losses take; the user's tensors are not changed.
        """
        if self._tensors is not None:
            idx = torch.as_tensor(indices, dtype=torch.long)
            return self._tensors[0][idx], _as_class_indices(self._tensors[1][idx])
        batch = self.collate_fn([self.dataset[int(i)] for i in indices])
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError(
                f"The {self.role} data must yield (input, label) pairs; a collated batch "
                f"was a {type(batch).__name__}."
            )
        return batch[0], _as_class_indices(batch[1])

    def batches(self, batch_size, *, shuffle=False, generator=None) -> Iterator:
        """Yield ``(inputs, labels)`` batches covering the data once.

        The last batch may be smaller. With ``shuffle`` the order is a random
        permutation drawn from ``generator`` (a ``torch.Generator``).
        """
        if shuffle:
            order = torch.randperm(self._n, generator=generator)
        else:
            order = torch.arange(self._n)
        for start in range(0, self._n, batch_size):
            yield self.take(order[start : start + batch_size])

    def sample(self, n_samples, generator=None):
        """Return ``min(n_samples, len(self))`` samples drawn without replacement."""
        n_samples = min(int(n_samples), self._n)
        idx = torch.randperm(self._n, generator=generator)[:n_samples]
        return self.take(idx)

    def inputs(self):
        """All inputs as one tensor (a view when the data are tensors)."""
        if self._tensors is not None:
            return self._tensors[0]
        return torch.cat([x for x, _ in self.batches(1024)])

    def fingerprint(self):
        """SHA-256 of every input and label, in order (the data's identity for caches)."""
        import hashlib

        if self._tensors is not None:
            from ._cache import fingerprint

            return fingerprint(self._tensors[0], _as_class_indices(self._tensors[1]))
        digest = hashlib.sha256()
        for X, y in self.batches(1024):
            for t in (X, y):
                t = torch.as_tensor(t).detach().cpu().contiguous()
                digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
                digest.update(t.numpy().tobytes())
        return digest.hexdigest()

    def label_range(self):
        """Return ``(min, max)`` of the labels, checking they are integers (cached)."""
        if self._label_range is None:
            lo, hi = math.inf, -math.inf
            if self._tensors is not None:
                labels = [self._tensors[1]]
            else:
                labels = (y for _, y in self.batches(1024))
            for y in labels:
                y = torch.as_tensor(y)
                if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
                    raise TypeError(
                        f"The {self.role} labels must be integer class indices; got dtype "
                        f"{y.dtype}. Convert them with y.long() if they hold whole numbers."
                    )
                if y.ndim != 1:
                    raise ValueError(
                        _label_shape_message(
                            self.role, tuple(y.shape), collated=self._tensors is None
                        )
                    )
                if y.numel():
                    lo = min(lo, int(y.min()))
                    hi = max(hi, int(y.max()))
            self._label_range = (lo, hi)
        return self._label_range


def _as_class_indices(y):
    """int64 labels from integer labels of another dtype; anything else unchanged."""
    if (
        isinstance(y, torch.Tensor)
        and y.dtype != torch.long
        and not (y.is_floating_point() or y.is_complex() or y.dtype == torch.bool)
    ):
        return y.long()
    return y


def _label_shape_message(role, shape, collated=False):
    what = "a collated batch of the" if collated else "the"
    fix = "y.squeeze(1)" if len(shape) == 2 and shape[1] == 1 else "y.argmax(1) for one-hot"
    return (
        f"The {role} labels must be a 1-d tensor of class indices; {what} {role} labels "
        f"has shape {shape}. Pass {fix} instead."
    )


def _checkpoint_entry(model_factory, path):
    """What a file-backed group keeps of one model: ``(factory, path, SHA-256)``."""
    return model_factory, os.fspath(path), _sha256(path, "checkpoint")


def _file_backed(group, entries):
    """``group``, made to pickle as ``entries`` (one per model) instead of its models.

    A copy (in a worker) reloads its models with :func:`_load_checkpoint`; the group of
    :func:`featurizers.checkpoints.load_model_group` with ``lazy=True``.
    """
    group._checkpoints = list(entries)
    return group


def _load_checkpoint(model_factory, path, sha256):
    """``model_factory()`` with the state dict of ``path``, which must have ``sha256``.

    The file is read by the loader's reader
    (:func:`featurizers.checkpoints.load_state_dict`, without its NaN check).
    """
    if _sha256(path, "checkpoint") != sha256:
        raise ValueError(
            f"The checkpoint {path!r} changed since its ModelGroup was made (its SHA-256 "
            "differs): its models would not be those checked. Make the group again."
        )
    model = model_factory()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"model_factory() must return a torch.nn.Module; got {type(model).__name__}."
        )
    try:
        state = _read_state_dict(path)
        model.load_state_dict(state)
    except Exception as exc:
        raise ValueError(
            f"Could not load the checkpoint {path!r} into model_factory()'s "
            f"{type(model).__name__}: {type(exc).__name__}: {exc}"
        ) from None
    return model.eval()


def _architecture(model):
    """(class, [(name, shape, dtype) of every parameter and buffer])."""
    entries = [(name, tuple(t.shape), t.dtype) for name, t in model.state_dict().items()]
    return type(model), entries


def _check_same_architecture(models):
    ref_cls, ref_entries = _architecture(models[0])
    for i, model in enumerate(models[1:], start=1):
        cls, entries = _architecture(model)
        if cls is not ref_cls:
            raise ValueError(
                "All models of a ModelGroup must share one architecture; model "
                f"{i} is a {cls.__name__} and model 0 a {ref_cls.__name__}."
            )
        if entries != ref_entries:
            ref = dict((n, (s, d)) for n, s, d in ref_entries)
            other = dict((n, (s, d)) for n, s, d in entries)
            for name in list(ref) + list(other):
                if ref.get(name) != other.get(name):
                    raise ValueError(
                        "All models of a ModelGroup must share one architecture; "
                        f"'{name}' of model {i} has (shape, dtype) {other.get(name)} "
                        f"but model 0 has {ref.get(name)} (None: no such entry)."
                    )
            raise ValueError(  # pragma: no cover - same entries in another order
                "All models of a ModelGroup must share one architecture; model "
                f"{i} orders its parameters differently from model 0."
            )


def _check_one_dtype(model):
    """A model's floating-point parameters and buffers in one dtype: the featurizers
    cast the data to it (mixed layers failed deep inside torch: 'mat1 and mat2 must
    have the same dtype')."""
    seen = {}
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            seen.setdefault(tensor.dtype, name)
    if len(seen) > 1:
        (first, a), (second, b) = list(seen.items())[:2]
        raise ValueError(
            f"The 'models' of a ModelGroup must each hold one floating-point dtype; got "
            f"'{a}' in {first} and '{b}' in {second}: convert the model, e.g. "
            f"model.to({first})."
        )


class ModelGroup:
    """The trained models of one training configuration, with their data.

    A group is the unit the featurizers turn into one feature row: the same
    architecture trained with different random seeds (two or more for the
    pairwise metrics, mode connectivity and CKA), on the same training data.

    Parameters
    ----------
    models : sequence of torch.nn.Module
        The trained models, one per seed, all of one architecture (same class,
        same parameter and buffer names, shapes and dtypes). They are never
        modified by this package.
    train_data : Dataset, DataLoader or tuple of (Tensor, Tensor)
        The training data, as a map-style ``Dataset`` of ``(input, label)`` pairs,
        a ``DataLoader`` over one (only its ``dataset`` and ``collate_fn`` are
        used), or ``(X, y)`` tensors. Labels are integer class indices.
    val_data : Dataset, DataLoader or tuple of (Tensor, Tensor), default=None
        Validation data in the same forms, needed only for ``test_error`` and
        ``test_loss``.
    metadata : dict, default=None
        Hyperparameters of the configuration, e.g. ``{"data_amount": 600,
        "batch_size": 32, "width": 16}``. ``data_amount`` overrides the training
        set size in :class:`HyperparameterFeaturizer`.
    name : str, default=None
        A name used in warnings and errors; the group's position in the list
        is used when it is None.

    Attributes
    ----------
    n_models : int
        Number of models.
    n_train_samples : int
        Size of the training data.
    n_parameters : int
        Number of parameters of one model (all parameters, trainable or not).

    Examples
    --------
    >>> import torch
    >>> from featurizers import ModelGroup
    >>> X, y = torch.randn(50, 4), torch.randint(0, 3, (50,))
    >>> models = [torch.nn.Linear(4, 3) for _ in range(2)]
    >>> group = ModelGroup(models, (X, y), metadata={"batch_size": 8}, name="lr0.1")
    >>> group
    ModelGroup(name='lr0.1', n_models=2, n_train_samples=50, metadata={'batch_size': 8})
    >>> group.n_parameters
    15
    """

    def __init__(self, models, train_data, val_data=None, *, metadata=None, name=None):
        if isinstance(models, (torch.nn.Module, str, bytes)) or not isinstance(
            models, Sequence
        ):
            raise TypeError(
                "ModelGroup needs a sequence (list or tuple) of torch.nn.Module; got "
                f"{type(models).__name__}."
            )
        models = list(models)
        if not models:
            raise ValueError("ModelGroup needs at least one model; got an empty sequence.")
        for i, model in enumerate(models):
            if not isinstance(model, torch.nn.Module):
                raise TypeError(
                    f"ModelGroup models must be torch.nn.Module; model {i} is a "
                    f"{type(model).__name__}."
                )
        _check_same_architecture(models)
        _check_one_dtype(models[0])
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict or None; got {type(metadata).__name__}.")
        self._models = models
        self._checkpoints = None
        self.train_data = train_data
        self.val_data = val_data
        self.metadata = dict(metadata or {})
        self.name = name
        self._train = _Data(train_data, role="training")
        self._val = None if val_data is None else _Data(val_data, role="validation")

    @property
    def models(self):
        """The models (loaded from their checkpoints first, in a worker that got the group)."""
        if self._models is None:
            self._models = [_load_checkpoint(*entry) for entry in self._checkpoints]
        return self._models

    @classmethod
    def from_checkpoints(
        cls, model_factory, checkpoints, train_data, val_data=None, *, metadata=None, name=None
    ):
        """A group whose models are ``model_factory()`` with the weights of checkpoint files.

        .. deprecated:: 0.1
            Use :func:`featurizers.checkpoints.load_model_group` with ``lazy=True``
            (``load_model_group(model_factory, checkpoints, train_data,
            val_data=val_data, lazy=True)``), the package's one loader, which also
            checks the files against the architecture first. ``from_checkpoints``
            warns (FutureWarning) and is removed in 0.2.

        Workers (``n_jobs``, a Dask cluster) then receive the factory and the paths,
        not the modules: each loads its group's models itself, and checks that every
        file still has the SHA-256 it had here (a file changed in between is an error,
        not other rows).

        Parameters
        ----------
        model_factory : callable
            ``model_factory()`` returns a fresh model of the architecture; it must
            pickle (a module-level function or class, or a ``functools.partial`` of
            one) to be sent to workers.
        checkpoints : sequence of str or path
            One file per model, written by ``torch.save(model.state_dict(), path)``;
            read with ``torch.load(weights_only=True)``, which runs no code.
        train_data, val_data, metadata, name
            As for :class:`ModelGroup`.

        Returns
        -------
        group : ModelGroup
        """
        warnings.warn(
            "ModelGroup.from_checkpoints is deprecated and will be removed in 0.2; use "
            "featurizers.checkpoints.load_model_group(model_factory, checkpoints, "
            "train_data, val_data=val_data, lazy=True), which gives the same file-backed "
            "group.",
            FutureWarning,
            stacklevel=2,
        )
        if isinstance(checkpoints, (str, bytes, os.PathLike)) or not isinstance(
            checkpoints, Sequence
        ):
            raise TypeError(
                "The 'checkpoints' parameter of ModelGroup.from_checkpoints must be a list of "
                f"paths, one per model; got {type(checkpoints).__name__}."
            )
        if not callable(model_factory):
            raise TypeError(
                "The 'model_factory' parameter of ModelGroup.from_checkpoints must be a "
                f"callable returning a model; got {type(model_factory).__name__}."
            )
        entries = [_checkpoint_entry(model_factory, path) for path in checkpoints]
        group = cls([_load_checkpoint(*entry) for entry in entries], train_data, val_data,
                    metadata=metadata, name=name)
        return _file_backed(group, entries)

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._checkpoints is not None:  # workers load the models from the files
            state["_models"] = None
        # A tensor pickles its whole storage: a slice of a larger pool (a zoo's
        # training prefix) would ship the pool with every task. Compact copies, equal
        # values, keep the payload that of the group's own data.
        compact = {}
        for key in ("_train", "_val"):
            data = state[key]
            if data is not None and data._tensors is not None and any(
                    _wasteful(t) for t in data._tensors):
                tensors = tuple(_compact(t, compact) for t in data._tensors)
                state[key] = copy.copy(data)
                state[key].dataset, state[key]._tensors = TensorDataset(*tensors), tensors
        for key in ("train_data", "val_data"):
            data = state[key]
            if isinstance(data, tuple) and all(isinstance(t, torch.Tensor) for t in data):
                state[key] = tuple(_compact(t, compact) for t in data)
        return state

    @property
    def n_models(self):
        return len(self.models)

    @property
    def n_train_samples(self):
        return len(self._train)

    @property
    def n_parameters(self):
        return sum(p.numel() for p in self.models[0].parameters())

    def _label(self, index=None):
        """How warnings and errors name the group: "group 'name' (index 3)"."""
        if self.name is not None and index is not None:
            return f"group {self.name!r} (index {index})"
        if self.name is not None:
            return f"group {self.name!r}"
        return f"group {index}" if index is not None else "group"

    def __repr__(self):
        parts = [
            f"name={self.name!r}",
            f"n_models={self.n_models}",
            f"n_train_samples={self.n_train_samples}",
        ]
        if self._val is not None:
            parts.append(f"n_val_samples={len(self._val)}")
        if self.metadata:
            parts.append(f"metadata={self.metadata!r}")
        return f"ModelGroup({', '.join(parts)})"


def _wasteful(tensor):
    """Whether pickling ``tensor`` would ship more storage than its own elements."""
    return tensor.untyped_storage().nbytes() > tensor.numel() * tensor.element_size()


def _compact(tensor, memo):
    """``tensor``, or a compact copy of it if it views a larger storage (memoised by id)."""
    if not _wasteful(tensor):
        return tensor
    if id(tensor) not in memo:
        memo[id(tensor)] = (tensor, tensor.detach().clone())  # keep the original alive
    return memo[id(tensor)][1]
