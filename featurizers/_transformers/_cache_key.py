"""The cache's key of a featurizer's row: what the row depends on, as JSON.

A row of :class:`~featurizers.LossLandscapeFeaturizer` (or another featurizer) is
cached under the SHA-256 of this description (:mod:`featurizers._cache`): the
featurizer's parameters (a loss function by its name and the hash of its code and
pickle), the group's weights and data, the random stream, the device, the
package version and :data:`ROW_REVISION`.
"""

from __future__ import annotations

import hashlib
import os
import pickle

import torch

from .._cache import fingerprint
from ._weights import _initial_states

#: Raised when the computation of a row changes within a package version, so that rows
#: cached before are not reused: 2 (2026-12-07), the Hessian features of convolutional
#: networks (products summed in another order) and of broad bulks (``bulk_probes``).
ROW_REVISION = 2


def _describe(value):
    """A JSON-able description of a parameter value for the cache's key.

    A callable (a loss) is described by its qualified name and the hash of its
    pickle and, for a function, of its code, so that two different lambdas or
    losses with other settings never share cached rows.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    digest = hashlib.sha256()
    code = getattr(value, "__code__", None)
    if code is not None:
        digest.update(code.co_code + repr(code.co_consts).encode())
    try:
        digest.update(pickle.dumps(value))
    except Exception:  # an unpicklable object: described by its identity in this run
        digest.update(f"{id(value)}-{os.getpid()}".encode())
    name = getattr(value, "__qualname__", type(value).__qualname__)
    return f"{getattr(value, '__module__', '')}.{name}:{digest.hexdigest()[:16]}"


def row_meta(featurizer, group, features, device, seed):
    """What a group's row depends on, as the cache's JSON meta (its key is its hash)."""
    from sklearn_mdtree._version import __version__

    params = {
        k: _describe(v)
        for k, v in featurizer.get_params(deep=False).items()
        if k not in ("n_jobs", "verbose", "cache_dir", "features", "random_state",
                     "torch_threads", "progress")
    }
    data = {"train": group._train.fingerprint()}
    if any(f.startswith("test_") for f in features):
        data["validation"] = group._val.fingerprint()
    return {
        "row": type(featurizer).__name__,
        "features": list(features),
        "params": params,
        "device": str(device),
        "seed": [str(seed.entropy), list(seed.spawn_key)],
        "weights": [
            fingerprint(*[t for t in m.state_dict().values() if isinstance(t, torch.Tensor)])
            for m in group.models
        ],
        "architecture": f"{type(group.models[0]).__module__}."
                        f"{type(group.models[0]).__qualname__}",
        "data": data,
        "version": __version__,
        "revision": ROW_REVISION,
        **({"initial_weights": [
            fingerprint(*[t for t in state.values() if isinstance(t, torch.Tensor)])
            for state in _initial_states(group, 0)
        ]} if "weight_displacement" in features else {}),
    }
