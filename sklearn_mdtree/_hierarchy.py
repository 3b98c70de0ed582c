"""The fixed hierarchy of an MD tree, as data.

A hierarchy is a binary tree of :class:`Split` nodes and :class:`Leaf` nodes.
Only the split thresholds are learned; which feature each split looks at,
where a threshold may go (its bounds) and what each leaf says are fixed.
:class:`Hierarchy` wraps a root node with the order in which thresholds are
fitted and exposes every split's ``threshold`` and ``bounds`` as nested
scikit-learn parameters (``hierarchy__t2__bounds``), so that
:class:`~sklearn.model_selection.GridSearchCV` and :func:`~sklearn.base.clone`
work on them.

The presets reproduce the trees of Zhou et al. (ICML 2024), Sections 4.2,
D.1, D.2, Appendices G and H, with the initial values and bounds of Table 4.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from collections.abc import Mapping, Sequence
from typing import Any, Hashable, Iterator, Union

import numpy as np
from sklearn.utils._param_validation import validate_params

__all__ = ["Split", "Leaf", "Hierarchy", "PRESETS", "get_preset"]


@dataclass(frozen=True)
class Leaf:
    """A terminal node: a regime of the hierarchy.

    Parameters
    ----------
    label : hashable or None, default=None
        The class the leaf predicts. ``None`` means the majority class of the
        (weighted) training samples that reach the leaf.

    Examples
    --------
    >>> from sklearn_mdtree import Leaf
    >>> Leaf("small"), Leaf()
    (Leaf(label='small'), Leaf(label=None))
    """

    label: Hashable | None = None


@dataclass(frozen=True)
class Split:
    """An internal node: ``feature <= threshold`` goes ``left``, the rest ``right``.

    Parameters
    ----------
    name : str
        Unique name of the node; fitted thresholds are keyed by it.
    feature : str or int
        Column name (for DataFrames) or column index (for arrays).
    threshold : float or None, default=None
        Initial value of the threshold. ``None`` starts in the middle of the
        bounds.
    bounds : tuple of (float, float) or None, default=None
        Closed interval the threshold is searched in. ``None`` uses the range
        of the feature in the training data.
    left, right : Split or Leaf
        Children for ``value <= threshold`` and ``value > threshold``.

    Examples
    --------
    A one-split tree on the training error, its threshold searched in [0, 1]:

    >>> from sklearn_mdtree import Leaf, Split
    >>> split = Split("t0", "train_error", 0.5, (0.0, 1.0),
    ...               left=Leaf("small"), right=Leaf("large"))
    >>> split.feature, split.bounds, split.left.label
    ('train_error', (0.0, 1.0), 'small')
    """

    name: str
    feature: Union[str, int]
    threshold: float | None = None
    bounds: tuple[float, float] | None = None
    left: "Node" = Leaf()
    right: "Node" = Leaf()


Node = Union[Split, Leaf]


def _walk(node: Node) -> Iterator[Node]:
    """Yield the nodes of a subtree in pre-order.

    Iterative, so that a deep hand-made tree does not exhaust Python's stack; a
    Split reached twice (a cycle, made by hand through ``object.__setattr__`` on
    the frozen nodes, or one Split object used at two places) raises a ValueError
    naming it instead of looping for ever.
    """
    seen = set()
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, Split):
            if id(node) in seen:
                raise ValueError(
                    f"The split {_name_of(node)} is reached twice from the root: a hierarchy "
                    "must be a tree (no cycle, no Split object used at two places). Build "
                    "each node once, e.g. with a function that returns a fresh Split."
                )
            seen.add(id(node))
            yield node
            stack += [node.right, node.left]
        else:
            yield node


#: Deepest hierarchy accepted: fitting and printing recurse once per level.
_MAX_DEPTH = 200


def _depth(root):
    """Splits on the longest path from ``root`` to a leaf (the tree is acyclic)."""
    deepest, stack = 0, [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Split):
            stack += [(node.left, depth + 1), (node.right, depth + 1)]
        else:
            deepest = max(deepest, depth)
    return deepest


def _name_of(node):
    name = getattr(node, "name", None)
    return repr(name) if isinstance(name, str) else f"<{type(node).__name__} {name!r}>"


class Hierarchy:
    """A fixed MD tree hierarchy: a root node and the order of threshold fitting.

    Parameters
    ----------
    root : Split or Leaf
        The root of the tree.
    order : sequence of str or None, default=None
        Names of the split nodes in the order their thresholds are fitted.
        ``None`` uses pre-order (parent before children, left before right).
    task : str or None, default=None
        The label column the hierarchy answers (``"bs_failure"``,
        ``"width_vs_batch"`` or ``"data_vs_batch"`` for the presets); used to
        print what each leaf recommends (:func:`sklearn_mdtree.rfi.label_meaning`).

    Notes
    -----
    Besides ``root`` and ``order``, :meth:`get_params` with ``deep=True``
    returns ``<node>__threshold`` and ``<node>__bounds`` for every split, and
    :meth:`set_params` accepts them. A :class:`~sklearn.model_selection.GridSearchCV`
    over ``MDTreeClassifier(hierarchy=get_preset("q1"))`` can therefore search
    ``{"hierarchy__t2__bounds": [(4, 9), (3, 10)]}``.

    Examples
    --------
    >>> from sklearn_mdtree import Hierarchy, Leaf, Split
    >>> h = Hierarchy(Split("t0", "train_error", 0.5, (0, 1),
    ...                     left=Leaf("small"), right=Leaf("large")))
    >>> h.get_params()["t0__bounds"]
    (0, 1)
    """

    def __init__(self, root, order=None, task=None):
        self.root = root
        self.order = order
        self.task = task

    # -- structure -------------------------------------------------------------------
    def splits(self) -> list[Split]:
        """Return the split nodes in fitting order.

        Returns
        -------
        splits : list of Split
        """
        by_name = {n.name: n for n in _walk(self.root) if isinstance(n, Split)}
        order = list(by_name) if self.order is None else list(self.order)
        return [by_name[name] for name in order]

    def leaves(self) -> list[Leaf]:
        """Return the leaves in pre-order; the position is the leaf (regime) id.

        Returns
        -------
        leaves : list of Leaf
        """
        return [n for n in _walk(self.root) if isinstance(n, Leaf)]

    def features(self) -> list:
        """Return the distinct features the splits use, in order of first use.

        Returns
        -------
        features : list of str or int
        """
        return list(dict.fromkeys(s.feature for s in self.splits()))

    def leaf_labels(self) -> list:
        """Return the distinct labels of labelled leaves (``None`` excluded).

        Returns
        -------
        labels : list
        """
        return list(dict.fromkeys(lf.label for lf in self.leaves() if lf.label is not None))

    def validate(self) -> "Hierarchy":
        """Check the hierarchy and raise a ValueError naming any problem.

        Returns
        -------
        self : Hierarchy
        """
        if not isinstance(self.root, (Split, Leaf)):
            raise TypeError(
                f"The 'root' of a Hierarchy must be a Split or a Leaf. "
                f"Got {type(self.root).__name__} instead."
            )
        names = []
        for node in _walk(self.root):
            if isinstance(node, Leaf):
                _check_label(node)
                continue
            if not isinstance(node, Split):
                raise TypeError(
                    f"Children of a Split must be Split or Leaf nodes. "
                    f"Got {type(node).__name__} instead."
                )
            if not isinstance(node.name, str) or "__" in node.name or not node.name:
                raise ValueError(
                    f"Split names must be non-empty strings without '__'. Got {node.name!r}."
                )
            if isinstance(node.feature, bool) or not isinstance(
                node.feature, (str, numbers.Integral)
            ):
                raise TypeError(
                    f"The feature of split {node.name!r} must be a column name (str) or a "
                    f"column index (int). Got {node.feature!r} instead."
                )
            if isinstance(node.feature, numbers.Integral) and node.feature < 0:
                raise ValueError(
                    f"The feature index of split {node.name!r} must be >= 0. "
                    f"Got {node.feature} instead."
                )
            _check_bounds(node)
            names.append(node.name)
        depth = _depth(self.root)
        if depth > _MAX_DEPTH:
            raise ValueError(
                f"A hierarchy may be at most {_MAX_DEPTH} splits deep (the tree is walked "
                f"recursively when fitted and printed). Got a depth of {depth}."
            )
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"Split names must be unique. Repeated: {duplicates}.")
        kinds = {isinstance(s.feature, str) for s in _walk(self.root) if isinstance(s, Split)}
        if len(kinds) > 1:
            raise ValueError(
                "A hierarchy must name all its features by column name or all by column "
                "index, not a mix of both."
            )
        if self.task is not None and not isinstance(self.task, str):
            raise TypeError(f"The 'task' of a Hierarchy must be a str or None. Got {self.task!r}.")
        if self.order is not None:
            if isinstance(self.order, (str, bytes)) or not isinstance(self.order, Sequence):
                raise TypeError(
                    "The 'order' of a Hierarchy must be a sequence of split names or None. "
                    f"Got {self.order!r} instead."
                )
            order = list(self.order)
            if sorted(map(repr, order)) != sorted(map(repr, names)):
                raise ValueError(
                    f"The 'order' of a Hierarchy must list every split name once. "
                    f"Got {order} for splits {names}."
                )
        return self

    # -- scikit-learn parameter protocol ------------------------------------------------
    def get_params(self, deep=True):
        """Get parameters, including every split's threshold and bounds when deep.

        Parameters
        ----------
        deep : bool, default=True
            Also return ``<node>__threshold`` and ``<node>__bounds``.

        Returns
        -------
        params : dict
        """
        params = {"root": self.root, "order": self.order, "task": self.task}
        if deep:
            for node in _walk(self.root):
                if isinstance(node, Split):
                    params[f"{node.name}__threshold"] = node.threshold
                    params[f"{node.name}__bounds"] = node.bounds
        return params

    def set_params(self, **params):
        """Set ``root``, ``order``, or ``<node>__threshold`` / ``<node>__bounds``.

        Parameters
        ----------
        **params : dict
            Parameter names and values.

        Returns
        -------
        self : Hierarchy
        """
        for key in ("root", "order", "task"):
            if key in params:
                setattr(self, key, params.pop(key))
        for key, value in params.items():
            name, sep, attr = key.partition("__")
            if not sep or attr not in ("threshold", "bounds"):
                raise ValueError(
                    f"Invalid parameter {key!r} for Hierarchy. Valid parameters are 'root', "
                    f"'order', 'task' and '<split>__threshold' / '<split>__bounds'."
                )
            if attr == "bounds" and isinstance(value, (list, np.ndarray)):
                value = tuple(value)  # other values are checked, naming the split, by validate
            self.root = _replace_node(self.root, name, **{attr: value})
        return self

    def __repr__(self):
        try:
            names, n_leaves = [s.name for s in self.splits()], len(self.leaves())
            return f"Hierarchy(splits={names}, leaves={n_leaves})"
        except (TypeError, ValueError, KeyError):  # an invalid hand-made tree
            return f"Hierarchy(root={type(self.root).__name__}, invalid)"

    def __eq__(self, other):
        if not isinstance(other, Hierarchy):
            return False
        for hierarchy in (self, other):  # a cycle would recurse in the dataclasses' ==
            list(_walk(hierarchy.root))
        return (
            self.root == other.root
            and _order_tuple(self.order) == _order_tuple(other.order)
            and self.task == other.task
        )

    __hash__ = None


def _order_tuple(order):
    return None if order is None else tuple(order)


def _check_label(leaf: Leaf) -> None:
    label = leaf.label
    try:
        hash(label)
    except TypeError:
        raise TypeError(
            f"The label of a Leaf must be hashable (a str, a number or None). Got {label!r} "
            f"({type(label).__name__}) instead."
        ) from None
    if isinstance(label, numbers.Real) and label != label:
        raise ValueError("The label of a Leaf must not be NaN (None means the majority class).")


def _real(value, what, node):
    """``float(value)`` of a real number, or a TypeError naming the split."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"The {what} of split {node.name!r} must be a real number. Got {value!r} "
            f"({type(value).__name__}) instead."
        )
    return float(value)


def _check_bounds(node: Split) -> None:
    bounds = node.bounds
    if bounds is not None:
        if isinstance(bounds, (str, bytes, Mapping)) or not isinstance(
            bounds, (Sequence, np.ndarray)
        ):
            raise TypeError(
                f"The bounds of split {node.name!r} must be a pair (low, high) of real "
                f"numbers or None. Got {bounds!r} ({type(bounds).__name__}) instead."
            )
        if len(bounds) != 2:
            raise ValueError(
                f"The bounds of split {node.name!r} must be a pair (low, high). "
                f"Got {bounds!r} instead."
            )
        low, high = _real(bounds[0], "lower bound", node), _real(bounds[1], "upper bound", node)
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError(
                f"The bounds of split {node.name!r} must be finite. Got {bounds!r} instead."
            )
        if low > high:
            raise ValueError(
                f"The bounds of split {node.name!r} must satisfy low <= high. "
                f"Got low={low} > high={high}."
            )
    if node.threshold is not None:
        thr = _real(node.threshold, "initial threshold", node)
        if not np.isfinite(thr):
            raise ValueError(
                f"The initial threshold of split {node.name!r} must be finite. "
                f"Got {node.threshold!r} instead."
            )
        if bounds is not None and not (low <= thr <= high):
            raise ValueError(
                f"The initial threshold of split {node.name!r} must lie inside its bounds "
                f"{tuple(bounds)}. Got {thr} instead."
            )


def with_thresholds(root: Node, thresholds: dict, bounds: dict) -> Node:
    """Return a copy of the tree with every split's threshold and bounds replaced."""
    if isinstance(root, Leaf):
        return root
    return dataclasses.replace(
        root,
        threshold=thresholds[root.name],
        bounds=bounds[root.name],
        left=with_thresholds(root.left, thresholds, bounds),
        right=with_thresholds(root.right, thresholds, bounds),
    )


def _replace_node(node: Node, name: str, **changes: Any) -> Node:
    """Return a copy of the subtree with the split ``name`` changed."""
    found = []

    def rec(n):
        if isinstance(n, Leaf):
            return n
        left, right = rec(n.left), rec(n.right)
        if n.name == name:
            found.append(n)
            return dataclasses.replace(n, left=left, right=right, **changes)
        if left is n.left and right is n.right:
            return n
        return dataclasses.replace(n, left=left, right=right)

    new = rec(node)
    if not found:
        names = [n.name for n in _walk(node) if isinstance(n, Split)]
        raise ValueError(f"The hierarchy has no split named {name!r}. Splits: {names}.")
    return new


# -- presets of the paper ----------------------------------------------------------------
_ERR = "train_error"
_CONN = "mode_connectivity_peak"
_SHARP = "hessian_t"
_CKA = "CKA"
_ERR_B, _CONN_B, _SHARP_B, _CKA_B = (0.0, 1.0), (-30.0, 0.0), (4.0, 9.0), (0.2, 0.8)


def _q1(third_feature, third_init, third_bounds, low_label, high_label):
    return Hierarchy(
        Split(
            "t0", _ERR, 0.5, _ERR_B,
            left=Leaf("small"),
            right=Split(
                "t1", _CONN, -10.0, _CONN_B,
                left=Split("t2", third_feature, third_init, third_bounds,
                           left=Leaf(low_label), right=Leaf(high_label)),
                right=Leaf("large"),
            ),
        ),
        order=("t0", "t1", "t2"),
        task="bs_failure",
    )


def _q1_sharpness():
    return _q1(_SHARP, 7.0, _SHARP_B, "large", "small")


def _q1_similarity():
    return _q1(_CKA, 0.5, _CKA_B, "small", "large")


def _q1_ood():
    return _q1(_SHARP, 5.0, _SHARP_B, "large", "small")


def _q2_width():
    return Hierarchy(
        Split(
            "t0", _ERR, 0.5, _ERR_B,
            left=Split("t1", _CONN, -10.0, _CONN_B, left=Leaf("width"), right=Leaf("batch")),
            right=Split("t2", _CONN, -10.0, _CONN_B, left=Leaf("width"), right=Leaf("batch")),
        ),
        order=("t0", "t1", "t2"),
        task="width_vs_batch",
    )


def _q2_data():
    def sharp(name):
        return Split(name, _SHARP, 7.0, _SHARP_B, left=Leaf("data"), right=Leaf("batch"))

    return Hierarchy(
        Split(
            "t0", _ERR, 0.5, _ERR_B,
            left=Split("t1", _CONN, -10.0, _CONN_B, left=sharp("t4"), right=sharp("t2")),
            right=Split("t3", _CONN, -10.0, _CONN_B, left=Leaf("batch"), right=sharp("t5")),
        ),
        order=("t0", "t1", "t2", "t3", "t4", "t5"),
        task="data_vs_batch",
    )


#: The paper's hierarchies: preset name -> (factory, one-line description). Pass a name
#: to :class:`MDTreeClassifier` or :func:`get_preset`; ``"q1"`` and ``"q2"`` are aliases
#: of ``"q1_sharpness"`` and ``"q2_width"``.
PRESETS = {
    "q1_sharpness": (_q1_sharpness, "Q1, temperature large/small, sharpness at depth 2 (Fig 4a)"),
    "q1_similarity": (_q1_similarity, "Q1 with CKA similarity at depth 2 (App. H, Fig 27a)"),
    "q1_ood": (_q1_ood, "Q1 sharpness tree with t2 initialised at 5 (App. E, OOD data)"),
    "q2_width": (_q2_width, "Q2, model width or optimizer (labels width/batch)"),
    "q2_data": (_q2_data, "Q2 variant, data amount or optimizer (labels data/batch, App. G)"),
}
_ALIASES = {"q1": "q1_sharpness", "q2": "q2_width"}


@validate_params({"name": [str]}, prefer_skip_nested_validation=True)
def get_preset(name: str) -> Hierarchy:
    """Return a fresh copy of one of the paper's hierarchies.

    Parameters
    ----------
    name : {"q1", "q1_sharpness", "q1_similarity", "q1_ood", "q2", "q2_width", "q2_data"}
        Preset name; ``"q1"`` and ``"q2"`` are aliases of ``"q1_sharpness"`` and
        ``"q2_width"``.

    Returns
    -------
    hierarchy : Hierarchy

    Examples
    --------
    >>> from sklearn_mdtree import get_preset
    >>> [s.feature for s in get_preset("q1").splits()]
    ['train_error', 'mode_connectivity_peak', 'hessian_t']
    """
    key = _ALIASES.get(name, name)
    if key not in PRESETS:
        valid = sorted(set(PRESETS) | set(_ALIASES))
        raise ValueError(f"Unknown hierarchy preset {name!r}. Valid presets are {valid}.")
    return PRESETS[key][0]()
