"""A fitted MDTreeClassifier as a plain JSON document, and back, without pickle."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._classes import MDTreeClassifier, _leaf_probabilities, _relabel
from .._domain import FeatureDistribution, JointDomain, domain_features, training_distribution
from .._hierarchy import Hierarchy, Leaf, Split
from .._search import compile_tree
from .._version import __version__
from ._schema import _PARAMS, FORMAT, FORMAT_VERSION, check_document, read_document

__all__ = ["PretrainedTree", "tree_from_dict", "tree_to_dict"]

#: Optional keys of a tree document on how far the tree can be trusted: its
#: out-of-fold accuracy per regime (leaf), whether each leaf's training labels say
#: "keep as is", the recipe of its training features, and its measured held-out
#: validity. A document without them (written before them) loads; the diagnosis
#: then says what it could not check.
_RECORDS = ("regime_accuracy", "keep_as_is", "feature_recipe", "validity")



def _plain(value):
    """A NumPy scalar as a Python one (labels and counts go to JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def _node_to_dict(node):
    if isinstance(node, Leaf):
        return {"leaf": _plain(node.label)}
    return {
        "split": node.name,
        "feature": _plain(node.feature),
        "threshold": float(node.threshold),
        "bounds": [float(node.bounds[0]), float(node.bounds[1])],
        "left": _node_to_dict(node.left),
        "right": _node_to_dict(node.right),
    }


def _node_from_dict(data):
    if "leaf" in data:
        return Leaf(data["leaf"])
    return Split(
        data["split"],
        data["feature"],
        float(data["threshold"]),
        (float(data["bounds"][0]), float(data["bounds"][1])),
        left=_node_from_dict(data["left"]),
        right=_node_from_dict(data["right"]),
    )


def _default_name(tree):
    """A wrapped estimator's name: its preset, else its hierarchy's task, "fitted by you"."""
    hierarchy = getattr(tree, "hierarchy", None)
    if isinstance(hierarchy, str):
        base = hierarchy
    else:
        task = getattr(getattr(tree, "hierarchy_", None), "task", None)
        base = "your hierarchy" + (f" for {task}" if task else "")
    return f"{base} (fitted by you)"


def tree_to_dict(tree, X=None, *, name=None, description=None, provenance=None):
    """Describe a fitted :class:`MDTreeClassifier` as a dict of plain JSON types.

    Parameters
    ----------
    tree : MDTreeClassifier
        A fitted tree.
    X : pandas.DataFrame, default=None
        The table it was fitted on; its rows give the tree's domain of validity:
        the training distribution of each feature the splits use and of every
        other loss-landscape feature of
        :data:`~sklearn_mdtree._domain.DOMAIN_FEATURES` the table has, and the
        training points in those features for the joint check
        (:class:`~sklearn_mdtree._domain.JointDomain`). None: no domain is
        recorded (``training_distribution`` and ``joint_domain`` are null and no
        domain can be checked).
    name, description : str, default=None
        Name and one-line description of the tree.
    provenance : dict, default=None
        Where the training set came from (plain JSON types).

    Returns
    -------
    document : dict
        Keys ``format``, ``format_version``, ``name``, ``description``,
        ``package_version``, ``task``, ``estimator_params``, ``hierarchy``
        (``order``, ``task``, ``root``: nested nodes, a split as ``split``,
        ``feature``, ``threshold``, ``bounds``, ``left``, ``right``, a leaf as
        ``leaf``), ``classes``, ``leaf_labels``, ``leaf_class_weight``,
        ``n_features_in``, ``feature_names_in``, ``n_sweeps``, ``train_score``,
        ``n_training_configurations``, ``training_distribution`` (feature ->
        ``n``, ``min``, ``q05``, ``q25``, ``median``, ``q75``, ``q95``, ``max``,
        ``mean``, ``std``), ``regime_distribution`` (per leaf, in the numbering of
        :meth:`~MDTreeClassifier.apply`, the same summary of the features the
        splits use over the training configurations that reached it, or null for
        a leaf none reached), ``joint_domain`` (``method`` ``"knn"``,
        ``features``, ``k``, ``quantile``, ``center``, ``scale``, ``threshold``,
        ``points``: see :meth:`JointDomain.to_dict
        <sklearn_mdtree._domain.JointDomain.to_dict>`) and ``provenance``.

    Examples
    --------
    >>> import json
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier
    >>> from sklearn_mdtree.pretrained import tree_to_dict
    >>> X = pd.DataFrame({"train_error": [0.1, 5.0, 6.0],
    ...                   "mode_connectivity_peak": [-1.0, -40.0, -2.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0]})
    >>> tree = MDTreeClassifier("q1").fit(X, ["small", "large", "large"])
    >>> doc = tree_to_dict(tree, X, name="my-q1")
    >>> doc["format"], doc["task"], doc["n_training_configurations"]
    ('sklearn-mdtree/fitted-tree', 'bs_failure', 3)
    >>> doc["training_distribution"]["train_error"]["max"]
    6.0
    >>> json.loads(json.dumps(doc)) == doc  # plain JSON types only
    True
    """
    check_is_fitted(tree)
    h = tree.hierarchy_
    distribution = regimes = joint = None
    if X is not None:
        recorded = domain_features(X, h.features())
        distribution = {f: d.to_dict() for f, d in training_distribution(X, recorded).items()}
        if len(X) >= 2:
            joint = JointDomain.from_frame(X, recorded).to_dict()
        leaf = tree.apply(X)
        regimes = [
            {f: d.to_dict() for f, d in training_distribution(X[leaf == r], h.features()).items()}
            if np.any(leaf == r) else None
            for r in range(len(h.leaves()))
        ]
    names = getattr(tree, "feature_names_in_", None)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "description": description,
        "package_version": __version__,
        "task": h.task,
        "estimator_params": {p: getattr(tree, p) for p in _PARAMS},
        "hierarchy": {
            "order": None if h.order is None else list(h.order),
            "task": h.task,
            "root": _node_to_dict(h.root),
        },
        "classes": [_plain(c) for c in tree.classes_],
        "leaf_labels": [_plain(c) for c in tree.leaf_labels_],
        "leaf_class_weight": tree.leaf_class_weight_.tolist(),
        "n_features_in": int(tree.n_features_in_),
        "feature_names_in": None if names is None else [str(n) for n in names],
        "n_sweeps": int(tree.n_sweeps_),
        "train_score": float(tree.train_score_),
        "n_training_configurations": None if X is None else int(len(X)),
        "training_distribution": distribution,
        "regime_distribution": regimes,
        "joint_domain": joint,
        "provenance": provenance,
    }


def _check_document(doc, source):
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(
            f"{source} is not a fitted MD tree document: expected a JSON object with "
            f"\"format\": \"{FORMAT}\"."
        )
    version = doc.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:  # not True, not 1.0
        shown = json.dumps(version) if isinstance(version, (bool, float)) else repr(version)
        raise ValueError(
            f"{source} has format_version {shown} ({type(version).__name__}); this version "
            f"of sklearn-mdtree reads the integer {FORMAT_VERSION}."
        )
    check_document(doc, source)  # every field tree_from_dict reads


def tree_from_dict(document):
    """Rebuild the fitted :class:`MDTreeClassifier` that :func:`tree_to_dict` described.

    Nothing is unpickled: the document holds only JSON types. The rebuilt tree's
    :meth:`~MDTreeClassifier.predict`, :meth:`~MDTreeClassifier.predict_proba`,
    :meth:`~MDTreeClassifier.score` and :meth:`~MDTreeClassifier.export_text`
    equal the original's.

    Parameters
    ----------
    document : dict
        A document of :func:`tree_to_dict` (for instance read with
        :func:`json.load`).

    Returns
    -------
    tree : MDTreeClassifier
        Fitted, with the same learned attributes as the original.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier
    >>> from sklearn_mdtree.pretrained import tree_from_dict, tree_to_dict
    >>> X = pd.DataFrame({"train_error": [0.1, 5.0, 6.0],
    ...                   "mode_connectivity_peak": [-1.0, -40.0, -2.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0]})
    >>> tree = MDTreeClassifier("q1").fit(X, ["small", "large", "large"])
    >>> copy = tree_from_dict(tree_to_dict(tree, X))
    >>> copy.predict(X).tolist() == tree.predict(X).tolist()
    True
    """
    _check_document(document, "The document")
    h = document["hierarchy"]
    order = None if h["order"] is None else tuple(h["order"])
    hierarchy = Hierarchy(_node_from_dict(h["root"]), order, h["task"]).validate()
    tree = MDTreeClassifier(hierarchy, **document["estimator_params"])
    labels = document["classes"]
    kind = object if all(isinstance(c, str) for c in labels) else None
    tree.classes_ = np.asarray(labels, dtype=kind)
    splits = hierarchy.splits()
    features = hierarchy.features()
    names = document["feature_names_in"]
    column = {f: i for i, f in enumerate(features)} if names is not None else {
        f: f for f in features
    }
    single_class = len(labels) == 1
    code = {c: i for i, c in enumerate(labels)}
    leaf_labels = hierarchy.leaf_labels()
    compiled = compile_tree(
        hierarchy.root,
        [s.name for s in splits],
        column,
        dict.fromkeys(leaf_labels, 0) if single_class else code,
    )
    if single_class:
        compiled = _relabel(compiled, 0)
    counts = np.asarray(document["leaf_class_weight"], dtype=np.float64).reshape(
        -1, len(labels)
    )
    tree._tree = compiled
    tree._thresholds = np.array([s.threshold for s in splits], dtype=np.float64)
    tree._leaf_proba = _leaf_probabilities(counts, compiled.leaf_class)
    tree.leaf_class_weight_ = counts
    tree.leaf_labels_ = np.asarray(document["leaf_labels"], dtype=kind)
    tree.thresholds_ = {s.name: float(s.threshold) for s in splits}
    tree.bounds_ = {s.name: (float(s.bounds[0]), float(s.bounds[1])) for s in splits}
    tree.hierarchy_ = hierarchy
    tree.n_features_in_ = int(document["n_features_in"])
    if names is not None:
        tree.feature_names_in_ = np.asarray(names, dtype=object)
    tree.n_sweeps_ = int(document["n_sweeps"])
    score = document["train_score"]
    tree.train_score_ = float("nan") if score is None else float(score)
    return tree


class PretrainedTree:
    """A fitted MD tree with its domain of validity and provenance.

    Returned by :func:`sklearn_mdtree.pretrained.load_tree`; also built from a
    document of :func:`tree_to_dict` with :meth:`from_dict`.

    Attributes
    ----------
    name : str or None
        The tree's name, e.g. ``"cifar10-resnet18-q1"``.
    description : str or None
        One line on what it was fitted on.
    estimator : MDTreeClassifier
        The fitted tree.
    task : str
        The label column it answers (``"bs_failure"``: Q1, ``"width_vs_batch"``:
        Q2, ``"data_vs_batch"``).
    distribution : dict of str to FeatureDistribution or None
        Each used feature, and each other loss-landscape feature the training
        table had, over the training configurations (None: unknown).
    regimes : list of (dict of str to FeatureDistribution or None) or None
        Per leaf (regime), each used feature over the training configurations
        that reached it (None for a leaf none reached; the list is None when
        unknown).
    joint : JointDomain or None
        The training configurations as points, for the joint domain check
        (None: unknown; documents written before it have none).
    n_training_configurations : int or None
        Number of training configurations (model groups).
    provenance : dict or None
        Where the training set came from.
    package_version : str
        Version of sklearn-mdtree that wrote the document.
    regime_accuracy, keep_as_is, feature_recipe, validity : dict, list or None
        The document's optional records (plain JSON types; None when absent):
        the tree's out-of-fold accuracy per regime, each leaf's keep-as-is record,
        the recipe of its training features, and its held-out validity on the
        transfer it is meant for (shipped trees).

    Examples
    --------
    >>> from sklearn_mdtree.pretrained import load_tree
    >>> load_tree("cifar10-resnet18-q1")
    PretrainedTree(name='cifar10-resnet18-q1', task='bs_failure', n_training_configurations=1560)

    Wrap a tree of your own, with the table it was fitted on as its domain:

    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier
    >>> from sklearn_mdtree.pretrained import PretrainedTree
    >>> X = pd.DataFrame({"train_error": [0.1, 5.0, 6.0],
    ...                   "mode_connectivity_peak": [-1.0, -40.0, -2.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0]})
    >>> tree = MDTreeClassifier("q1").fit(X, ["small", "large", "large"])
    >>> mine = PretrainedTree.from_estimator(tree, X, name="my-q1")
    >>> mine
    PretrainedTree(name='my-q1', task='bs_failure', n_training_configurations=3)
    >>> mine.distribution["train_error"].outside(1.0)
    (None, 0.0)
    >>> PretrainedTree.from_dict(mine.to_dict()).estimator.predict(X).tolist()
    ['small', 'large', 'large']
    """

    def __init__(self, document, estimator=None):
        self.document = document
        self.name = document.get("name")
        self.description = document.get("description")
        # the tree the document describes: given (from_estimator), else rebuilt from it
        self.estimator = tree_from_dict(document) if estimator is None else estimator
        self.task = document.get("task")
        dist = document.get("training_distribution")
        self.distribution = None if dist is None else {
            f: FeatureDistribution.from_dict(d) for f, d in dist.items()
        }
        regimes = document.get("regime_distribution")
        self.regimes = None if regimes is None else [
            None if r is None else {f: FeatureDistribution.from_dict(d) for f, d in r.items()}
            for r in regimes
        ]
        joint = document.get("joint_domain")
        self.joint = None if joint is None else JointDomain.from_dict(joint)
        self.n_training_configurations = document.get("n_training_configurations")
        self.provenance = document.get("provenance")
        self.package_version = document.get("package_version")
        # what the tree file says about its own trustworthiness (optional keys; plain
        # records read by sklearn_mdtree.diagnosis; None in files written before them)
        for key in _RECORDS:
            setattr(self, key, document.get(key))

    @classmethod
    def from_dict(cls, document):
        """Build from a document of :func:`tree_to_dict`."""
        return cls(document)

    @classmethod
    def from_file(cls, path):
        """Read a JSON document of :func:`tree_to_dict` from ``path``.

        Nothing is unpickled. A file that is not a complete, consistent document
        (cut short, fields that contradict each other -- a threshold outside its
        bounds, leaf labels that disagree with the recorded class weights, splits on
        features the document does not name -- NaN or infinite numbers, repeated
        keys, another format or version) raises a ValueError of one line naming the
        file and the field.

        A consistent edit is not detected: a threshold moved *inside* its bounds
        describes another valid tree, which is loaded and answers as that tree. The
        document carries no signature (a hash stored beside the fields could be
        recomputed by whoever edits them); to make sure a file is one you know,
        compare its SHA-256 with the one you recorded.
        """
        source = f"The tree file {str(Path(path))!r}"
        document = read_document(path)
        _check_document(document, source)
        try:
            return cls(document)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # what the fields' checks leave: Hierarchy's, and the joint domain's
            raise ValueError(
                f"{source} is not a valid fitted MD tree document: "
                f"{str(exc).splitlines()[0]}"
            ) from None

    @classmethod
    def from_estimator(cls, tree, X=None, *, name=None, description=None, **records):
        """Wrap a fitted tree; ``X``, the table it was fitted on, gives its domain.

        The tree itself is kept (not rebuilt from its document). ``records`` are
        optional keys of the document (``regime_accuracy``, ``keep_as_is``,
        ``feature_recipe``, ``validity``), as plain JSON types. Without a ``name``,
        the tree is named by its preset (or its hierarchy's task), e.g.
        ``"q1 (fitted by you)"``, as the report shows it.
        """
        unknown = sorted(set(records) - set(_RECORDS))
        if unknown:
            raise TypeError(f"from_estimator got unexpected keyword(s) {unknown}; records "
                            f"are among {list(_RECORDS)}.")
        if name is None:
            name = _default_name(tree)
        document = tree_to_dict(tree, X, name=name, description=description)
        document.update(records)
        return cls(document, estimator=tree)

    def to_dict(self):
        """Return the JSON document (a copy)."""
        return json.loads(json.dumps(self.document))

    def __repr__(self):
        return (
            f"PretrainedTree(name={self.name!r}, task={self.task!r}, "
            f"n_training_configurations={self.n_training_configurations})"
        )


#: A list of numbers as ``json.dumps(..., indent=2)`` writes it, one number a line
#: (a JSON string cannot hold a raw newline, so this never matches inside one).
_NUMBER_LIST = re.compile(r"\[\n(?:[ ]*-?[0-9][0-9.eE+-]*,\n)*[ ]*-?[0-9][0-9.eE+-]*\n[ ]*\]")


def _one_line(match):
    return "[" + ", ".join(v.strip().rstrip(",") for v in match.group(0)[1:-1].split()) + "]"


def dumps(document):
    """The document as JSON text: sorted keys, two-space indent, final newline.

    A list of numbers is written on one line (a training point, a range).
    Floats are written with :func:`repr` (17 significant digits where needed),
    which reads back to the same float64.
    """
    def check(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"A fitted tree document cannot hold {value!r}.")
        if isinstance(value, dict):
            for v in value.values():
                check(v)
        elif isinstance(value, list):
            for v in value:
                check(v)

    check(document)
    text = json.dumps(document, indent=2, sort_keys=True, allow_nan=False)
    return _NUMBER_LIST.sub(_one_line, text) + "\n"
