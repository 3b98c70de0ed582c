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
    "midpoint",
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
    leaf_start, leaf_stop : ndarray of int, shape (n_nodes,)
        The leaves of a node's subtree are ``leaf_start[node] .. leaf_stop[node] - 1``
        (contiguous, as leaves are numbered in pre-order).
    """

    is_leaf: np.ndarray
    split_of_node: np.ndarray
    leaf_of_node: np.ndarray
    left: np.ndarray
    right: np.ndarray
    column: np.ndarray
    node_of_split: np.ndarray
    leaf_class: np.ndarray
    leaf_start: np.ndarray
    leaf_stop: np.ndarray

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
    leaf_class, leaf_start, leaf_stop = [], [], []

    def rec(node):
        nid = len(is_leaf)
        is_leaf.append(isinstance(node, Leaf))
        left.append(-1)
        right.append(-1)
        leaf_start.append(len(leaf_class))
        leaf_stop.append(-1)
        if isinstance(node, Leaf):
            split_of_node.append(-1)
            leaf_of_node.append(len(leaf_class))
            leaf_class.append(-1 if node.label is None else class_code[node.label])
            leaf_stop[nid] = len(leaf_class)
            return nid
        assert isinstance(node, Split)
        k = split_index[node.name]
        split_of_node.append(k)
        leaf_of_node.append(-1)
        column[k] = column_of_feature[node.feature]
        node_of_split[k] = nid
        left[nid] = rec(node.left)
        right[nid] = rec(node.right)
        leaf_stop[nid] = len(leaf_class)
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
        leaf_start=np.array(leaf_start, dtype=np.intp),
        leaf_stop=np.array(leaf_stop, dtype=np.intp),
    )


def node_masks(tree, go_left, node=0, start=None):
    """Which samples pass each node of the subtree under ``node``.

    Parameters
    ----------
    tree : CompiledTree
    go_left : ndarray of bool, shape (n_samples, n_splits)
        ``go_left[i, k]`` says whether sample ``i`` satisfies split ``k``'s
        condition ``value <= threshold``.
    node : int, default=0
        Root of the subtree.
    start : ndarray of bool or None, default=None
        Samples that enter ``node``; ``None`` means all.

    Returns
    -------
    masks : dict of int to ndarray of bool
        Node id -> mask of the samples passing that node.
    """
    masks = {node: np.ones(go_left.shape[0], dtype=bool) if start is None else start}
    stack = [node]
    while stack:
        nid = stack.pop()
        if tree.is_leaf[nid]:
            continue
        cond = go_left[:, tree.split_of_node[nid]]
        masks[tree.left[nid]] = masks[nid] & cond
        masks[tree.right[nid]] = masks[nid] & ~cond
        stack += [tree.right[nid], tree.left[nid]]
    return masks


def _leaves(tree, masks, n):
    leaf = np.full(n, -1, dtype=np.intp)
    for nid, mask in masks.items():
        if tree.is_leaf[nid]:
            leaf[mask] = tree.leaf_of_node[nid]
    return leaf


def apply(tree, X, thresholds, *, masks=None):
    """Leaf (regime) id of every row of ``X``.

    Parameters
    ----------
    tree : CompiledTree
    X : ndarray of shape (n_samples, n_columns)
    thresholds : ndarray of shape (n_splits,)
    masks : dict or None, default=None
        If given, filled with :func:`node_masks` of the whole tree.

    Returns
    -------
    leaf : ndarray of int, shape (n_samples,)
    """
    computed = node_masks(tree, X[:, tree.column] <= thresholds)
    if masks is not None:
        masks.update(computed)
    return _leaves(tree, computed, X.shape[0])


def leaf_class_weights(tree, leaf, y, w, n_classes):
    """Weighted class counts per leaf, shape (n_leaves, n_classes)."""
    flat = np.bincount(leaf * n_classes + y, weights=w, minlength=tree.n_leaves * n_classes)
    if w is None:
        flat = flat.astype(np.int64)
    return flat.reshape(tree.n_leaves, n_classes)


def _leaf_scores(counts, leaf_class):
    """Correctly classified weight per leaf: the fixed label's count, or the majority."""
    labelled = leaf_class >= 0
    if labelled.all():  # the paper's trees: no maximum to take
        return counts[..., np.arange(len(leaf_class)), leaf_class]
    majority = counts.max(axis=-1)
    if not labelled.any():
        return majority
    fixed = counts[..., np.arange(len(leaf_class)), np.maximum(leaf_class, 0)]
    return np.where(labelled, fixed, majority)


def position_scores(tree, X, y, w, thresholds, k, n_classes, presorted=None):
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
    presorted : ndarray of int or None, default=None
        ``argsort`` of the split's column over all rows, shared between the
        splits that read the same column and the sweeps of a fit; computed
        here when ``None``.

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
    go_left = X[:, tree.column] <= thresholds
    masks = node_masks(tree, go_left)
    leaf = _leaves(tree, masks, X.shape[0])
    reaches = masks[nid]

    # Samples that do not reach the split keep their leaves: a constant score.
    w_out = None if w is None else w[~reaches]
    counts_out = leaf_class_weights(tree, leaf[~reaches], y[~reaches], w_out, n_classes)
    score_out = _leaf_scores(counts_out, tree.leaf_class).sum()

    col = tree.column[k]
    if presorted is None:
        presorted = np.argsort(X[:, col], kind="stable")
    rows = presorted[reaches[presorted]]
    xs = X[rows, col]
    first = np.empty(len(xs), dtype=bool)  # first sample of each distinct value
    first[:1] = True
    np.not_equal(xs[1:], xs[:-1], out=first[1:])
    values = xs[first]
    group = np.cumsum(first) - 1
    m = len(values)
    yr = y[rows]
    wr = None if w is None else w[rows]
    C = n_classes
    go_rows = go_left[rows]

    def cumulative(child):
        """Class weights per leaf of ``child``'s subtree, summed over the groups < j."""
        lo, hi = tree.leaf_start[child], tree.leaf_stop[child]  # pre-order: contiguous
        sub = _leaves(tree, node_masks(tree, go_rows, node=child), len(rows)) - lo
        L = hi - lo
        flat = np.bincount((group * L + sub) * C + yr, weights=wr, minlength=m * L * C)
        if w is None:
            flat = flat.astype(np.int64)
        cum = np.zeros((m + 1, L, C), dtype=flat.dtype)
        np.cumsum(flat.reshape(m, L, C), axis=0, out=cum[1:])
        return cum, tree.leaf_class[lo:hi]

    cum_left, class_left = cumulative(tree.left[nid])
    cum_right, class_right = cumulative(tree.right[nid])
    right = cum_right[-1] - cum_right  # the groups j.. go right
    scores = (
        score_out
        + _leaf_scores(cum_left, class_left).sum(axis=1)
        + _leaf_scores(right, class_right).sum(axis=1)
    )
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
        return -(scores[values.searchsorted(t, side="right")] / total)

    low, high = float(bounds[0]), float(bounds[1])
    if max(abs(low), abs(high)) < _BRENT_DIRECT_LIMIT:
        result = minimize_scalar(
            objective,
            bounds=(low, high),
            method="bounded",
            options={"xatol": xatol, "maxiter": maxiter},
        )
        return float(min(max(float(result.x), low), high))
    # Bounds near +-1.8e308: scipy's Brent computes (a + b) / 2 and products of
    # steps, which overflow float64 even where the width high - low does not (bounds
    # 1.5e308..1.7e308 gave a threshold above 1.7e308). Search t = mid + half * u for
    # u in [-1, 1] instead, with the tolerance scaled alike, and keep t inside the
    # bounds.
    half, mid = high / 2 - low / 2, midpoint(low, high)
    result = minimize_scalar(
        lambda u: objective(mid + half * u),
        bounds=(-1.0, 1.0),
        method="bounded",
        options={"xatol": xatol / half, "maxiter": maxiter},
    )
    return float(min(max(mid + half * float(result.x), low), high))


#: Bounds of at most this magnitude are searched directly (the paper's path, its
#: figures bit for bit); beyond it scipy's Brent steps can overflow float64.
_BRENT_DIRECT_LIMIT = 1e300


def midpoint(a, b):
    """``(a + b) / 2`` of two finite floats, also where ``a + b`` overflows float64.

    Parameters
    ----------
    a, b : float

    Returns
    -------
    middle : float
        Exactly ``(a + b) / 2`` whenever ``a + b`` is finite.
    """
    a, b = float(a), float(b)
    middle = (a + b) / 2
    return middle if np.isfinite(middle) else a / 2 + b / 2


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
    with np.errstate(over="ignore"):  # widths beyond float64 compare as inf
        widest = int(np.argmax(b - a))
        middle = a[widest] + (b[widest] - a[widest]) / 2
    if not np.isfinite(middle):
        middle = midpoint(a[widest], b[widest])
    return float(middle)
