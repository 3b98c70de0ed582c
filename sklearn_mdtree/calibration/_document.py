"""A fitted calibrated diagnoser as a JSON document (written here, read by ``_io``).

Duck-typed on the fitted :class:`~sklearn_mdtree.calibration.CalibratedDiagnoser`, so
that the estimator can write itself without importing the reader.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

__all__ = ["FORMAT", "FORMAT_VERSION", "READABLE_VERSIONS", "dumps", "to_document",
           "write_document"]

#: The ``format`` field of a calibrated diagnoser's file.
FORMAT = "sklearn-mdtree/calibrated-diagnoser"
FORMAT_VERSION = 2
#: Versions this package reads (1: before the abstention chosen on the lattice; read
#: with the region rule its parameters name).
READABLE_VERSIONS = (1, 2)


def _version():
    from .._version import __version__

    return __version__


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def to_document(model):
    """The fitted diagnoser as a dict of plain JSON types."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    params = {k: _plain(v) for k, v in model.get_params(deep=False).items()}
    params["features"] = list(params["features"])
    params["candidates"] = list(params["candidates"])
    params["region_sizes"] = list(params["region_sizes"])
    lattice = model.lattice_
    columns = [c for c in lattice.columns if c not in ("action", "group")]
    recipe = model.recipe_
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": _version(),
        "params": params,
        "features": list(model.features_),
        "kind": model.kind_,
        "lattice": {
            "columns": columns,
            "rows": lattice[columns].to_numpy(np.float64).tolist(),
            "action": [str(a) for a in lattice["action"]],
            "group": [_plain(g) for g in lattice["group"]],
        },
        "lattice_predictions": [str(a) for a in model.lattice_predictions_],
        "oof_correct": [float(v) for v in model.oof_correct_],
        "scores": {k: s.to_dict() for k, s in model.scores_.items()},
        "margin": None if not math.isfinite(model.margin_) else float(model.margin_),
        "recipe": None if recipe is None else recipe.to_dict(),
        "metadata": model.metadata_,
        "notes": list(model.notes_),
        "coverage_by_kind": {k: float(v) for k, v in
                             getattr(model, "coverage_by_kind_", {}).items()},
        "abstention": {
            "chosen": None if model.abstention_ is None else model.abstention_.to_dict(),
            "scores": [a.to_dict() for a in model.abstention_scores_],
        },
        # the nested CV's out-of-fold (probability, correct) pairs from which a "proba"
        # verdict's confidence is measured (absent from files written before them)
        "proba_oof": (None if getattr(model, "proba_oof_", None) is None
                      else [[float(p), float(c)] for p, c in model.proba_oof_]),
    }


def dumps(model):
    """The text of the fitted diagnoser's file (:func:`to_document` as JSON)."""
    return json.dumps(to_document(model), indent=1, allow_nan=False) + "\n"


def write_document(model, path):
    """Write :func:`to_document` to ``path`` atomically; return the path."""
    path = Path(path)
    text = dumps(model)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
