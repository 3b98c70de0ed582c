"""One JSON file for a calibrated diagnoser: write, read, validate (no pickle).

The document holds the parameters, the lattice table the model was fitted on, the
chosen candidate, every candidate's cross-validated figures, the per-configuration
out-of-fold correctness (the regions' accuracies), the feature recipe, free
metadata and the package version. Loading refits the chosen candidate on the
stored lattice (every candidate is deterministic) and checks that it predicts the
stored lattice predictions: a document altered by hand is refused.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from ..diagnosis._recipe import FeatureRecipe
from ._diagnoser import (
    ACTIONS,
    CANDIDATES,
    AbstentionScore,
    CalibratedDiagnoser,
    CandidateScore,
    _feature_frame,
)
from ._document import (
    FORMAT,
    FORMAT_VERSION,
    READABLE_VERSIONS,
    dumps,
    to_document,
    write_document,
)

__all__ = ["FORMAT", "CalibrationFileError", "is_calibration_file", "load_calibrated",
           "dumps", "to_document", "write_document"]

_KEYS = ("format", "format_version", "version", "params", "features", "kind", "lattice",
         "lattice_predictions", "oof_correct", "scores", "margin", "recipe", "metadata",
         "notes")


class CalibrationFileError(ValueError):
    """A calibrated diagnoser's file cannot be read: one line saying why."""


def _fail(source, what):
    raise CalibrationFileError(f"{source}: not a calibrated diagnoser file: {what}.")


def _check(doc, source):
    if not isinstance(doc, dict):
        _fail(source, f"the document is a {type(doc).__name__}, expected an object")
    if doc.get("format") != FORMAT:
        _fail(source, f"'format' is {doc.get('format')!r}, expected {FORMAT!r}")
    if doc.get("format_version") not in READABLE_VERSIONS:
        _fail(source, f"'format_version' is {doc.get('format_version')!r}, this version reads "
                      f"{list(READABLE_VERSIONS)} (writes {FORMAT_VERSION}): calibrate again "
                      "with this version")
    keys = _KEYS + (("abstention",) if doc["format_version"] >= 2 else ())
    missing = [k for k in keys if k not in doc]
    if missing:
        _fail(source, f"missing keys {missing}")
    if doc["kind"] not in CANDIDATES:
        _fail(source, f"'kind' is {doc['kind']!r}, expected one of {list(CANDIDATES)}")
    lattice = doc["lattice"]
    if not isinstance(lattice, dict) or not {"columns", "rows", "action", "group"} <= set(lattice):
        _fail(source, "'lattice' must hold 'columns', 'rows', 'action' and 'group'")
    n = len(lattice["rows"]) if isinstance(lattice["rows"], list) else -1
    if n < 4:
        _fail(source, f"'lattice.rows' must be a list of at least 4 rows; got {n}")
    width = len(lattice["columns"])
    for i, row in enumerate(lattice["rows"]):
        if not isinstance(row, list) or len(row) != width or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in row):
            _fail(source, f"'lattice.rows[{i}]' must be {width} finite numbers")
    for key in ("action", "group"):
        if not isinstance(lattice[key], list) or len(lattice[key]) != n:
            _fail(source, f"'lattice.{key}' must be a list of {n} entries")
    bad = sorted({a for a in lattice["action"] if a not in ACTIONS})
    if bad:
        _fail(source, f"'lattice.action' holds {bad}, expected actions among {list(ACTIONS)}")
    for key in ("lattice_predictions", "oof_correct"):
        if not isinstance(doc[key], list) or len(doc[key]) != n:
            _fail(source, f"'{key}' must be a list of {n} entries")
    if not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in doc["oof_correct"]):
        _fail(source, "'oof_correct' must hold shares in [0, 1]")
    if not isinstance(doc["scores"], dict) or doc["kind"] not in doc["scores"] \
            or "constant" not in doc["scores"]:
        _fail(source, f"'scores' must hold the chosen {doc['kind']!r} and 'constant'")
    if not isinstance(doc["params"], dict) or not isinstance(doc["features"], list):
        _fail(source, "'params' must be an object and 'features' a list")


def is_calibration_file(path):
    """True when ``path`` is a JSON file whose ``format`` is a calibrated diagnoser's.

    For a command that takes a tree file or a calibration file under one option
    (``mdtree diagnose --tree calibrated.json``): read only the beginning of the file,
    never raise.
    """
    from .._files import open_regular

    try:
        with open_regular(path, "calibration file") as f:  # a FIFO never blocks here
            head = f.read(4096).decode("utf-8")
    except (OSError, ValueError, UnicodeDecodeError, TypeError):
        return False
    return f'"format": "{FORMAT}"' in head


def load_calibrated(path):
    """Read a calibrated diagnoser's JSON file (:meth:`CalibratedDiagnoser.to_json`).

    Parameters
    ----------
    path : str or path-like
        The file (a dict already parsed is accepted too).

    Returns
    -------
    model : CalibratedDiagnoser
        Fitted: the chosen candidate refitted on the stored lattice, the stored
        cross-validated figures.

    Raises
    ------
    CalibrationFileError
        One line naming the file and what is wrong with it (unreadable, not JSON,
        another format, a missing or malformed field, a refit that does not
        reproduce the stored predictions).
    """
    if isinstance(path, dict):
        doc, source = path, "document"
    else:
        source = str(path)
        from .._files import open_regular

        try:  # a FIFO or device is refused without blocking
            with open_regular(path, "calibration file", error=CalibrationFileError) as f:
                text = f.read().decode("utf-8")
        except CalibrationFileError:
            raise
        except (OSError, UnicodeDecodeError) as exc:
            raise CalibrationFileError(
                f"{source}: cannot be read ({getattr(exc, 'strerror', None) or exc}).") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CalibrationFileError(
                f"{source}: not JSON ({exc.msg} at line {exc.lineno}).") from None
    _check(doc, source)
    try:
        model = CalibratedDiagnoser(**{
            **doc["params"],
            "features": tuple(doc["params"]["features"]),
            "candidates": tuple(doc["params"]["candidates"]),
            **({"region_sizes": tuple(doc["params"]["region_sizes"])}
               if "region_sizes" in doc["params"] else {}),
        })
        if doc["format_version"] == 1:  # written before "selected": its rule was fixed
            model.set_params(region_rule=doc["params"].get("region_rule", "interval"))
        if "select_by" not in doc["params"]:  # written before the choice by coverage
            model.set_params(select_by="accuracy")
        model._validate_params()
    except (TypeError, ValueError) as exc:
        _fail(source, f"'params' are not CalibratedDiagnoser's ({str(exc).splitlines()[0]})")
    lattice = doc["lattice"]
    table = pd.DataFrame(lattice["rows"], columns=lattice["columns"], dtype=np.float64)
    features = tuple(doc["features"])
    try:
        T = _feature_frame(table, list(features))
    except Exception as exc:  # noqa: BLE001 - any malformed column set: one line
        _fail(source, f"'features' cannot be computed from the lattice's columns ({exc})")
    if not np.isfinite(T.to_numpy(np.float64)).all():
        _fail(source, f"the lattice's columns {lattice['columns']} do not give finite "
                      f"features {list(features)}")
    y = np.asarray(lattice["action"], dtype=object)
    model.features_ = features
    model.n_features_in_ = len(features)
    model.feature_names_in_ = np.asarray(features, dtype=object)
    model.classes_ = np.array(sorted(set(y.tolist()), key=ACTIONS.index), dtype=object)
    model.lattice_ = table.copy()
    model.lattice_["action"] = y
    model.lattice_["group"] = lattice["group"]
    model.kind_ = doc["kind"]
    try:
        model.scores_ = {k: CandidateScore.from_dict(v) for k, v in doc["scores"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        _fail(source, f"'scores' are malformed ({exc!r})")
    model.margin_ = float("nan") if doc["margin"] is None else float(doc["margin"])
    model.oof_correct_ = np.asarray(doc["oof_correct"], dtype=np.float64)
    try:
        model.recipe_ = None if doc["recipe"] is None else FeatureRecipe.from_dict(doc["recipe"])
    except (TypeError, ValueError) as exc:
        _fail(source, f"'recipe' is malformed ({str(exc).splitlines()[0]})")
    model.metadata_ = dict(doc["metadata"] or {})
    model.notes_ = list(doc["notes"])
    model.version_ = doc["version"]
    model.source_ = source  # the file it was read from (the report names it)
    model.abstention_, model.abstention_scores_ = None, []
    model.coverage_by_kind_ = {str(k): float(v)
                               for k, v in (doc.get("coverage_by_kind") or {}).items()}
    if doc["format_version"] >= 2:
        abstention = doc["abstention"]
        try:
            model.abstention_scores_ = [AbstentionScore.from_dict(a)
                                        for a in abstention["scores"]]
            chosen = abstention["chosen"]
            model.abstention_ = None if chosen is None else AbstentionScore.from_dict(chosen)
        except (KeyError, TypeError, ValueError) as exc:
            _fail(source, f"'abstention' is malformed ({exc!r})")
    pairs = doc.get("proba_oof")  # optional: files written before it have none
    model.proba_oof_ = None
    if pairs is not None:
        if not isinstance(pairs, list) or not pairs or not all(
                isinstance(v, list) and len(v) == 2
                and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                        and math.isfinite(x) for x in v) and v[1] in (0, 1)
                for v in pairs):
            _fail(source, "'proba_oof' must be a non-empty list of [probability, 0 or 1] "
                          "pairs")
        model.proba_oof_ = np.asarray(pairs, dtype=np.float64)
    if (model.region_rule == "selected") != (model.abstention_ is not None):
        _fail(source, f"'abstention' does not match the region rule {model.region_rule!r}")
    model._finish(T, y)
    if [str(a) for a in model.lattice_predictions_] != list(doc["lattice_predictions"]):
        _fail(source, f"the {model.kind_} refitted on the stored lattice does not predict the "
                      "stored 'lattice_predictions' (the document was altered, or written by "
                      "another version)")
    return model
