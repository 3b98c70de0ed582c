"""Threshold search for a fixed hierarchy: pure, vectorised functions.

The tree is compiled once into a :class:`CompiledTree` (integer arrays that
describe the nodes). Everything here works on a float matrix ``X`` whose
columns are the features the splits use, integer class codes ``y`` and
sample weights ``w``.

For one split, with every other threshold held fixed, the training accuracy
is a step function of that split's threshold: it can only change where the
threshold crosses a value of the feature among the samples that reach the
split. :func:`position_scores` computes that step function at every one of
those positions at once, in ``O(n log n)`` (one sort, one ``bincount``, one
cumulative sum). Bounded Brent search then costs one ``searchsorted`` per
evaluation, and the exhaustive search reads the best position off the array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from ._hierarchy import Leaf, Split

__all__ = [
    "CompiledTree",
    "compile_tree",
    "apply",
    "position_scores",
    "brent_threshold",
    "exhaustive_threshold",
]


@dataclass(frozen=True)
class CompiledTree:
    """A hierarchy as arrays, nodes numbered in pre-order.

    Attributes
    ----------
    is_leaf : ndarray of bool, shape (n_nodes,)
    split_of_node : ndarray of int, shape (n_nodes,)
        Index of the split (in fitting order) at each internal node, -1 at leaves.
    leaf_of_node : ndarray of int, shape (n_nodes,)
        Leaf (regime) id at each leaf node, -1 at internal nodes.
    left, right : ndarray of int, shape (n_nodes,)
        Child node ids, -1 at leaves.
    column : ndarray of int, shape (n_splits,)
        Column of ``X`` that each split (fitting order) reads.
    node_of_split : ndarray of int, shape (n_splits,)
    leaf_class : ndarray of int, shape (n_leaves,)
        Class code of each leaf's fixed label, -1 for majority leaves.
    """

    is_leaf: np.ndarray
    split_of_node: np.ndarray
    leaf_of_node: np.ndarray
    left: np.ndarray
    right: np.ndarray
    column: np.ndarray
    node_of_split: np.ndarray
    leaf_class: np.ndarray

    @property
    def n_leaves(self) -> int:
        return len(self.leaf_class)

    @property
    def n_nodes(self) -> int:
        return len(self.is_leaf)


def compile_tree(root, split_order, column_of_feature, class_code):
    """Compile a hierarchy into a :class:`CompiledTree`.

    Parameters
    ----------
    root : Split or Leaf
    split_order : list of str
        Split names in fitting order.
    column_of_feature : dict
        Maps each split's feature to a column of ``X``.
    class_code : dict
        Maps each leaf label to its class code.

    Returns
    -------
    tree : CompiledTree
    """
    split_index = {name: i for i, name in enumerate(split_order)}
    is_leaf, split_of_node, leaf_of_node, left, right = [], [], [], [], []
    column = np.zeros(len(split_order), dtype=np.intp)
    node_of_split = np.zeros(len(split_order), dtype=np.intp)
    leaf_class = []

    def rec(node):
        nid = len(is_leaf)
        is_leaf.append(isinstance(node, Leaf))
        left.append(-1)
        right.append(-1)
        if isinstance(node, Leaf):
            split_of_node.append(-1)
            leaf_of_node.append(len(leaf_class))
            leaf_class.append(-1 if node.label is None else class_code[node.label])
            return nid
        assert isinstance(node, Split)
        k = split_index[node.name]
        split_of_node.append(k)
        leaf_of_node.append(-1)
        column[k] = column_of_feature[node.feature]
        node_of_split[k] = nid
        left[nid] = rec(node.left)
        right[nid] = rec(node.right)
        return nid

    rec(root)
    return CompiledTree(
        is_leaf=np.array(is_leaf, dtype=bool),
        split_of_node=np.array(split_of_node, dtype=np.intp),
        leaf_of_node=np.array(leaf_of_node, dtype=np.intp),
        left=np.array(left, dtype=np.intp),
        right=np.array(right, dtype=np.intp),
        column=column,
        node_of_split=node_of_split,
        leaf_class=np.array(leaf_class, dtype=np.intp),
    )


def apply(tree, X, thresholds, node=0, index=None, *, path=None):
    """Route samples from ``node`` down to a leaf.

    Parameters
    ----------
    tree : CompiledTree
    X : ndarray of shape (n_samples, n_columns)
    thresholds : ndarray of shape (n_splits,)
    node : int, default=0
        Node to start from.
    index : ndarray of int or None, default=None
        Rows of ``X`` to route; ``None`` routes all rows.
    path : list or None, default=None
        If given, ``(node_id, rows)`` pairs of every node visited are appended.

    Returns
    -------
    leaf : ndarray of int, shape (len(index),)
        Leaf id of each routed row, in the order of ``index``.
    """
    if index is None:
        index = np.arange(X.shape[0])
    out = np.empty(len(index), dtype=np.intp)

    def rec(nid, pos):
        if path is not None:
            path.append((nid, index[pos]))
        if tree.is_leaf[nid]:
            out[pos] = tree.leaf_of_node[nid]
            return
        k = tree.split_of_node[nid]
        go_left = X[index[pos], tree.column[k]] <= thresholds[k]
        rec(tree.left[nid], pos[go_left])
        rec(tree.right[nid], pos[~go_left])

    rec(node, np.arange(len(index)))
    return out


def leaf_class_weights(tree, leaf, y, w, n_classes):
    """Weighted class counts per leaf, shape (n_leaves, n_classes)."""
    flat = np.bincount(leaf * n_classes + y, weights=w, minlength=tree.n_leaves * n_classes)
    if w is None:
        flat = flat.astype(np.int64)
    return flat.reshape(tree.n_leaves, n_classes)


def _leaf_scores(counts, leaf_class):
    """Correctly classified weight per leaf: the fixed label's count, or the majority."""
    fixed = counts[..., np.arange(len(leaf_class)), np.maximum(leaf_class, 0)]
    return np.where(leaf_class >= 0, fixed, counts.max(axis=-1))


def position_scores(tree, X, y, w, thresholds, k, n_classes):
    """Training score of split ``k`` at every position of its threshold.

    Parameters
    ----------
    tree : CompiledTree
    X : ndarray of shape (n_samples, n_columns)
    y : ndarray of int, shape (n_samples,)
        Class codes.
    w : ndarray of shape (n_samples,) or None
        Sample weights; ``None`` counts samples with exact integers.
    thresholds : ndarray of shape (n_splits,)
        Current thresholds; entry ``k`` is ignored.
    k : int
        Split to search, in fitting order.
    n_classes : int

    Returns
    -------
    values : ndarray of shape (m,)
        Sorted distinct feature values of the samples that reach split ``k``.
    scores : ndarray of shape (m + 1,)
        ``scores[j]`` is the total correctly classified weight over *all*
        training samples when the ``j`` smallest values go left, i.e. for a
        threshold in ``[values[j-1], values[j])``.
    """
    nid = tree.node_of_split[k]
    path = []
    apply(tree, X, thresholds, path=path)
    reach = next(rows for node, rows in path if node == nid)

    # Samples that do not reach the split: their leaves' scores are fixed.
    outside = np.ones(X.shape[0], dtype=bool)
    outside[reach] = False
    leaf_all = apply(tree, X, thresholds, index=np.flatnonzero(outside))
    w_out = None if w is None else w[outside]
    counts_out = leaf_class_weights(tree, leaf_all, y[outside], w_out, n_classes)

    x = X[reach, tree.column[k]]
    order = np.argsort(x, kind="stable")
    xs = x[order]
    rows = reach[order]
    values, group = np.unique(xs, return_inverse=True)
    m = len(values)
    yr = y[rows]
    wr = None if w is None else w[rows]
    L, C = tree.n_leaves, n_classes

    def cumulative(child):
        leaf = apply(tree, X, thresholds, node=child, index=rows)
        flat = np.bincount(group * (L * C) + leaf * C + yr, weights=wr, minlength=m * L * C)
        if w is None:
            flat = flat.astype(np.int64)
        cum = np.zeros((m + 1, L, C), dtype=flat.dtype)
        np.cumsum(flat.reshape(m, L, C), axis=0, out=cum[1:])
        return cum

    cum_left = cumulative(tree.left[nid])
    cum_right = cumulative(tree.right[nid])
    right = cum_right[-1] - cum_right  # samples of the groups j.. go right
    # Leaves are disjoint between the outside, left and right subtrees, so counts add.
    counts = counts_out[None] + cum_left + right
    scores = _leaf_scores(counts, tree.leaf_class).sum(axis=1)
    return values, scores


def brent_threshold(values, scores, total, bounds, *, xatol=1e-5, maxiter=500):
    """Bounded Brent search of the step function, as in the paper.

    The objective is ``-scores[j] / total`` for the position ``j`` of the
    threshold; it returns the same values as computing ``-accuracy_score`` of
    the tree's predictions at that threshold, so the Brent path is the one of
    the reference implementation.

    Parameters
    ----------
    values, scores : ndarray
        Output of :func:`position_scores`.
    total : float
        Total training weight.
    bounds : tuple of float
    xatol : float, default=1e-5
    maxiter : int, default=500

    Returns
    -------
    threshold : float
    """

    def objective(t):
        return -(scores[np.searchsorted(values, t, side="right")] / total)

    result = minimize_scalar(
        objective,
        bounds=(float(bounds[0]), float(bounds[1])),
        method="bounded",
        options={"xatol": xatol, "maxiter": maxiter},
    )
    return float(result.x)


def exhaustive_threshold(values, scores, bounds, *, rtol=1e-12):
    """Exact best threshold within ``bounds``: middle of the widest best run.

    Position ``j`` stands for thresholds in ``[values[j-1], values[j])`` (with
    ``values[-1] = -inf`` and ``values[m] = +inf``). Among the positions whose
    interval meets ``bounds`` the best score is found; consecutive best
    positions form runs, the widest run (first on ties) wins and the threshold
    is the middle of its part inside the bounds. For adjacent positions this
    is the midpoint of two sorted feature values.

    Parameters
    ----------
    values, scores : ndarray
        Output of :func:`position_scores`.
    bounds : tuple of float
    rtol : float, default=1e-12
        Relative tolerance for ties between float scores.

    Returns
    -------
    threshold : float
    """
    low, high = float(bounds[0]), float(bounds[1])
    lo_edge = np.concatenate(([-np.inf], values))  # interval j is [lo_edge[j], hi_edge[j])
    hi_edge = np.concatenate((values, [np.inf]))
    start = np.maximum(lo_edge, low)
    valid = (start < hi_edge) & (start <= high)
    if not valid.any():  # pragma: no cover - bounds always meet some interval
        return low
    best = scores[valid].max()
    tol = rtol * max(abs(best), 1.0) if scores.dtype.kind == "f" else 0
    good = valid & (scores >= best - tol)
    # Runs of consecutive good positions.
    edges = np.diff(np.concatenate(([0], good.astype(np.int8), [0])))
    run_start = np.flatnonzero(edges == 1)
    run_end = np.flatnonzero(edges == -1) - 1
    a = start[run_start]
    b = np.minimum(hi_edge[run_end], high)
    widest = int(np.argmax(b - a))
    return float(a[widest] + (b[widest] - a[widest]) / 2)
