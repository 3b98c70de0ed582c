"""Private: reading a fitted-tree JSON file a user gives, checked field by field.

A tree document (:func:`sklearn_mdtree.pretrained.tree_to_dict`) may come from a
file that was cut short, edited by hand or is not one at all. :func:`read_document`
reads it without ever unpickling, refusing what JSON itself lets through silently
(``NaN``, ``Infinity``, numbers that overflow to infinity, repeated keys, of which
the last would win), and :func:`check_document` checks every field that
:func:`~sklearn_mdtree.pretrained.tree_from_dict` reads, so that a bad document is
one ValueError naming the field (``hierarchy.root.right.threshold``), never a raw
``KeyError`` or ``TypeError`` from deep inside, and never a tree whose fields
contradict each other. An edit that keeps the fields consistent (a threshold moved
inside its bounds) is another valid tree and is read as such: the documents are not
signed.
"""

from __future__ import annotations

import json
import math
import os
import stat
from numbers import Integral, Real

__all__ = ["check_document", "read_document"]

# The document layout, which ``_io`` writes and reads (imports go _io -> _schema only).
#: Value of the document's ``format`` key.
FORMAT = "sklearn-mdtree/fitted-tree"
#: Version of the document layout; bumped on any incompatible change.
FORMAT_VERSION = 1
#: The estimator parameters a document stores (``estimator_params``), exactly these.
_PARAMS = ("threshold_search", "bounds", "xatol", "maxiter", "max_sweeps")

#: Largest tree file read (the shipped ones are under 10 kB).
MAX_BYTES = 16 * 2**20
#: Fields of a feature's training distribution, in order (``min <= q05 <= ... <= max``).
_ORDERED = ("min", "q05", "q25", "median", "q75", "q95", "max")


class _Invalid(ValueError):
    pass


def _fail(where, expected, value):
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise _Invalid(f"{where} must be {expected}; got {shown}")


def _refuse_constant(name):
    raise _Invalid(f"the JSON holds {name}, which a fitted tree never does")


def _unique_keys(pairs):
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise _Invalid(f"a JSON object repeats the key(s) {repeated} (which value holds?)")
    return dict(pairs)


def _finite_floats(text):
    value = float(text)
    if not math.isfinite(value):
        raise _Invalid(f"the number {text} overflows float64")
    return value


#: Most digits of a JSON integer read (beyond float64 anyway; Python
#: refuses to convert integers of more than 4300 digits with its own message).
_MAX_INT_DIGITS = 1000


def _bounded_ints(text):
    digits = len(text.lstrip("-"))
    if digits > _MAX_INT_DIGITS:
        raise _Invalid(
            f"the integer {text[:12]}... has {digits} digits (a fitted tree's numbers have "
            f"at most {_MAX_INT_DIGITS})"
        )
    return int(text)


def read_document(path):
    """The JSON document in the file ``path``, or a one-line ValueError naming the file.

    The file must be a regular file of at most :data:`MAX_BYTES`, UTF-8 JSON
    without ``NaN``/``Infinity``, out-of-range numbers or repeated keys.
    """
    source = repr(os.fspath(path))
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ValueError(f"The tree file {source} does not exist.") from None
    except OSError as exc:
        raise ValueError(f"Could not read the tree file {source}: {exc}") from None
    if not stat.S_ISREG(mode):
        raise ValueError(
            f"The tree file {source} is not a regular file (a folder, FIFO, device or "
            "socket)."
        )
    from .._files import open_regular

    try:  # O_NONBLOCK and fstat: a file swapped for a FIFO since the stat is refused too
        with open_regular(path, "tree file") as handle:
            content = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"Could not read the tree file {source}: {exc}") from None
    if len(content) > MAX_BYTES:
        raise ValueError(
            f"The tree file {source} is larger than {MAX_BYTES // 2**20} MB: not a fitted "
            "MD tree document."
        )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"The tree file {source} is not UTF-8 text: {exc}") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant,
                          object_pairs_hook=_unique_keys, parse_float=_finite_floats,
                          parse_int=_bounded_ints)
    except _Invalid as exc:
        raise ValueError(f"The tree file {source} is not valid: {exc}.") from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"The tree file {source} is not valid JSON (cut short or not a tree file?): "
            f"{exc}"
        ) from None
    except RecursionError:
        raise ValueError(f"The tree file {source} nests its JSON too deeply.") from None


# --------------------------------------------------------------------------------------
# The fields
# --------------------------------------------------------------------------------------


def _mapping(value, where, required=(), exact=False):
    if not isinstance(value, dict):
        _fail(where, "a JSON object", value)
    missing = [k for k in required if k not in value]
    if missing:
        raise _Invalid(f"{where} lacks the key(s) {missing}")
    extra = sorted(set(value) - set(required)) if exact else []
    if extra:  # a misspelt key would otherwise be ignored
        raise _Invalid(f"{where} has unknown key(s) {extra}")
    return value


def _string(value, where, optional=False):
    if value is None and optional:
        return
    if not isinstance(value, str):
        _fail(where, "a string" + (" or null" if optional else ""), value)


def _number(value, where):
    if isinstance(value, bool) or not isinstance(value, Real):
        _fail(where, "a finite number", value)
    try:
        number = float(value)  # an int beyond float64 overflows
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        _fail(where, "a finite number", value)
    return number


def _integer(value, where, low, optional=False, high=2**31):
    if value is None and optional:
        return
    if (isinstance(value, bool) or not isinstance(value, Integral)
            or not low <= value <= high):
        _fail(where, f"an integer in [{low}, {high}]" + (" or null" if optional else ""),
              value)


def _label(value, where, leaf=False):
    if leaf and value is None:  # the majority class of the leaf's training samples
        return
    if isinstance(value, bool) or not isinstance(value, (str, Real)) or (
            isinstance(value, Real) and not math.isfinite(value)):
        _fail(where, "a class label (a string or a number)"
              + (" or null" if leaf else ""), value)


def _node(value, where, leaves, depth, splits):
    from .._hierarchy import _MAX_DEPTH

    if depth > _MAX_DEPTH:
        raise _Invalid(f"the hierarchy is more than {_MAX_DEPTH} splits deep at {where}")
    node = _mapping(value, where)
    if "leaf" in node:
        if "split" in node:
            raise _Invalid(f"{where} has both 'leaf' and 'split' keys")
        _mapping(node, where, ("leaf",), exact=True)
        _label(node["leaf"], f"{where}.leaf", leaf=True)
        leaves.append(node["leaf"])
        return
    _mapping(node, where, ("split", "feature", "threshold", "bounds", "left", "right"),
             exact=True)
    _string(node["split"], f"{where}.split")
    splits.append(node["split"])
    feature = node["feature"]
    if isinstance(feature, bool) or not isinstance(feature, (str, Integral)):
        _fail(f"{where}.feature", "a column name or index", feature)
    threshold = _number(node["threshold"], f"{where}.threshold")
    bounds = node["bounds"]
    if not isinstance(bounds, list) or len(bounds) != 2:
        _fail(f"{where}.bounds", "a list of two numbers", bounds)
    low = _number(bounds[0], f"{where}.bounds[0]")
    high = _number(bounds[1], f"{where}.bounds[1]")
    if not low <= threshold <= high:
        raise _Invalid(
            f"{where}.threshold {threshold!r} lies outside its bounds [{low!r}, {high!r}]"
            " (a fitted threshold never does)"
        )
    _node(node["left"], f"{where}.left", leaves, depth + 1, splits)
    _node(node["right"], f"{where}.right", leaves, depth + 1, splits)


def _distribution(value, where):
    dist = _mapping(value, where, ("n", *_ORDERED, "mean", "std"))
    _integer(dist["n"], f"{where}.n", 1)
    values = [_number(dist[k], f"{where}.{k}") for k in (*_ORDERED, "mean", "std")]
    ordered = values[: len(_ORDERED)]
    if any(a > b for a, b in zip(ordered, ordered[1:])):
        raise _Invalid(f"{where} must have min <= q05 <= q25 <= median <= q75 <= q95 <= max")
    if not ordered[0] <= values[-2] <= ordered[-1] or values[-1] < 0:
        raise _Invalid(f"{where} must have min <= mean <= max and std >= 0")


def _distributions(value, where, features):
    dists = _mapping(value, where, [str(f) for f in features])  # JSON keys are strings
    for feature, dist in dists.items():
        _distribution(dist, f"{where}.{feature}")


def check_document(doc, source):
    """Raise a ValueError naming the first field of ``doc`` that a fitted tree cannot hold.

    ``doc`` has already passed the ``format`` and ``format_version`` check;
    ``source`` names it in the message. Top-level keys that are not read are
    allowed (documents of later minor versions may add some). The estimator
    parameters are validated as :class:`~sklearn_mdtree.MDTreeClassifier` does.
    """
    from .._classes import MDTreeClassifier

    try:
        _check(doc)
        params = doc["estimator_params"]
        MDTreeClassifier("q1", **params)._validate_params()
    except (_Invalid, ValueError) as exc:
        raise ValueError(
            f"{source} is not a valid fitted MD tree document: "
            f"{str(exc).splitlines()[0].rstrip('.')}."
        ) from None


def _check(doc):
    _mapping(doc, "the document", (
        "task", "estimator_params", "hierarchy", "classes", "leaf_labels",
        "leaf_class_weight", "n_features_in", "feature_names_in", "n_sweeps",
    ))
    for key in ("name", "description", "package_version"):
        _string(doc.get(key), key, optional=True)
    h = _mapping(doc["hierarchy"], "hierarchy", ("order", "task", "root"), exact=True)
    _string(h["task"], "hierarchy.task", optional=True)
    _string(doc["task"], "task", optional=True)
    if doc["task"] != h["task"]:
        raise _Invalid(f"task {doc['task']!r} differs from hierarchy.task {h['task']!r}")
    order = h["order"]
    if order is not None and not (isinstance(order, list)
                                  and all(isinstance(s, str) for s in order)):
        _fail("hierarchy.order", "a list of split names or null", order)
    leaves, splits = [], []
    _node(h["root"], "hierarchy.root", leaves, 0, splits)
    repeated = sorted({s for s in splits if splits.count(s) > 1})
    if repeated:  # JSON holds no references: a cycle or a shared node shows as this
        raise _Invalid(f"Split names must be unique; repeated: {repeated}")

    _mapping(doc["estimator_params"], "estimator_params", _PARAMS, exact=True)

    classes = doc["classes"]
    if not isinstance(classes, list) or not classes:
        _fail("classes", "a non-empty list of labels", classes)
    for i, c in enumerate(classes):
        _label(c, f"classes[{i}]")
    if len({type(c) for c in classes}) > 1 or len(set(classes)) < len(classes):
        _fail("classes", "distinct labels of one type", classes)
    if sorted(classes) != classes:
        _fail("classes", "sorted (as a fitted tree's classes_ are)", classes)
    if len(classes) > 1:
        strays = sorted({repr(leaf) for leaf in leaves
                         if leaf is not None and leaf not in classes})
        if strays:
            raise _Invalid(f"the hierarchy's leaves {strays} are not among classes {classes}")

    weights = doc["leaf_class_weight"]
    if not (isinstance(weights, list) and len(weights) == len(leaves)
            and all(isinstance(row, list) and len(row) == len(classes) for row in weights)):
        raise _Invalid(
            f"leaf_class_weight must be {len(leaves)} lists (one per leaf) of "
            f"{len(classes)} weights (one per class)"
        )
    for i, row in enumerate(weights):
        for j, w in enumerate(row):
            if _number(w, f"leaf_class_weight[{i}][{j}]") < 0:
                _fail(f"leaf_class_weight[{i}][{j}]", "a weight >= 0", w)

    if not sum(map(sum, weights)) > 0:
        raise _Invalid("leaf_class_weight must hold a positive total weight")
    labels, expected = doc["leaf_labels"], _leaf_labels(leaves, classes, weights)
    if labels != expected:  # they are what predict answers
        _fail("leaf_labels", f"{expected} (the hierarchy's leaves and leaf_class_weight)",
              labels)

    _integer(doc["n_features_in"], "n_features_in", 1)
    _integer(doc["n_sweeps"], "n_sweeps", 0)
    names = doc["feature_names_in"]
    features = _features(h["root"])
    named = [isinstance(f, str) for f in features]
    if any(named) != (names is not None) or not (all(named) or not any(named)):
        raise _Invalid("the splits must name their features by column name when "
                       "feature_names_in is given, and by column index when it is null")
    indices = [f for f in features if not isinstance(f, str) and f >= doc["n_features_in"]]
    if indices:
        raise _Invalid(f"the column indices {indices} of the splits are not below "
                       f"n_features_in ({doc['n_features_in']})")
    if names is not None:
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)
                and len(names) == doc["n_features_in"]):
            _fail("feature_names_in", f"null or a list of {doc['n_features_in']} column "
                  "names (n_features_in)", names)
        absent = [f for f in features if isinstance(f, str) and f not in names]
        if absent:
            raise _Invalid(f"feature_names_in lacks the feature(s) {absent} the splits use")
    score = doc.get("train_score")
    if score is not None and not 0 <= _number(score, "train_score") <= 1:
        _fail("train_score", "null or a number in [0, 1]", score)
    _integer(doc.get("n_training_configurations"), "n_training_configurations", 1,
             optional=True)
    if doc.get("training_distribution") is not None:
        _distributions(doc["training_distribution"], "training_distribution", features)
    regimes = doc.get("regime_distribution")
    if regimes is not None:
        if not isinstance(regimes, list) or len(regimes) != len(leaves):
            _fail("regime_distribution", f"null or a list of {len(leaves)} entries (one per "
                  "leaf)", regimes)
        for i, regime in enumerate(regimes):
            if regime is not None:
                where = f"regime_distribution[{i}]"
                for feature, dist in _mapping(regime, where).items():
                    _distribution(dist, f"{where}.{feature}")
    provenance = doc.get("provenance")
    if provenance is not None:
        _mapping(provenance, "provenance")


def _leaf_labels(leaves, classes, weights):
    """What each leaf predicts, as :meth:`MDTreeClassifier.fit` decides it."""
    if len(classes) == 1:
        return [classes[0]] * len(leaves)
    prior = [sum(column) for column in zip(*weights)]

    def majority(row):
        row = row if sum(row) > 0 else prior
        return classes[row.index(max(row))]

    return [majority(row) if leaf is None else leaf for leaf, row in zip(leaves, weights)]


def _features(root):
    """The features of the splits of a checked node tree, in walk order, once each."""
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        if "leaf" not in node:
            if node["feature"] not in found:
                found.append(node["feature"])
            stack += [node["right"], node["left"]]
    return found
