"""The fitted tree as a diagram (the paper's Figure 4a): :class:`TreeDisplay`, :func:`plot_tree`."""

from __future__ import annotations

import textwrap

import numpy as np

from ._common import _blend, _check_fitted_tree, _class_colours, _feature_name, _pyplot


class _Node:
    """Layout of one node of the diagram: position, depth, pre-order ids."""

    def __init__(self, node, depth, leaf_ids):
        self.node, self.depth, self.leaf_ids = node, depth, leaf_ids
        self.children = []
        self.x = 0.0


def _layout(root):
    """Nodes in pre-order with their x (leaves at 0, 1, ...) and depth; node ids as in
    :meth:`MDTreeClassifier.decision_path`."""
    from .._hierarchy import Leaf

    nodes, counter = [], iter(range(10**9))

    def rec(node, depth):
        entry = _Node(node, depth, [])
        entry.id = len(nodes)
        nodes.append(entry)
        if isinstance(node, Leaf):
            entry.regime = next(counter)
            entry.leaf_ids = [entry.regime]
            entry.x = float(entry.regime)
        else:
            entry.children = [rec(node.left, depth + 1), rec(node.right, depth + 1)]
            entry.leaf_ids = entry.children[0].leaf_ids + entry.children[1].leaf_ids
            entry.x = (entry.children[0].x + entry.children[1].x) / 2
        return entry

    rec(root, 0)
    return nodes


def _count_text(counts, classes, decimals=0):
    return "  ".join(f"{c}: {w:.{decimals}f}" for c, w in zip(classes, counts))


#: The optimizer hyperparameters a picture can name (as :func:`sklearn_mdtree.diagnose`).
_OPTIMIZERS = ("batch size", "learning rate")


def _leaf_action(meanings, label, optimizer):
    """What a leaf's class recommends, in the terms of the ``optimizer`` named: the
    label meanings are worded for the batch size, and a larger learning rate raises
    the temperature as a smaller batch does."""
    action = meanings[label].action
    if optimizer == "batch size":
        return action
    flipped = {"Lower the batch size.": "Raise the learning rate.",
               "Raise the batch size.": "Lower the learning rate."}
    return flipped.get(action, action.replace("batch size", optimizer))


def _check_optimizer(optimizer):
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"The 'optimizer' parameter must be one of {list(_OPTIMIZERS)}; "
                         f"got {optimizer!r}.")


def _highlighted_path(clf, highlight, caller, name):
    """Check ``clf``; the node ids (pre-order) of the path ``highlight`` takes, or None."""
    _check_fitted_tree(clf, caller, name)
    if highlight is None:
        return None
    path = clf.decision_path(highlight)
    if path.shape[0] != 1:
        raise ValueError(
            f"The 'highlight' parameter of {caller} must be one sample (one row). "
            f"Got {path.shape[0]} rows instead."
        )
    return np.asarray(path.indices, dtype=np.intp)


class TreeDisplay:
    """A fitted MD tree as a diagram: splits with their thresholds, leaves as regimes.

    It is recommended to build it with :meth:`from_estimator`, which checks the
    tree, computes the path of a highlighted sample and draws. All parameters
    are stored as attributes; :meth:`plot` draws them (again, e.g. on other axes).

    Parameters
    ----------
    estimator : MDTreeClassifier
        A fitted tree.
    decision_path : ndarray of int, default=None
        Ids (pre-order, as in :meth:`MDTreeClassifier.decision_path`) of the
        nodes on one sample's path, drawn in bold; None draws no path.

    Attributes
    ----------
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.
    node_texts_ : dict of str to matplotlib.text.Text
        Each node's box by its ``gid``: ``"split:<name>"`` or ``"leaf:<regime>"``.
    edge_lines_ : dict of str to matplotlib.lines.Line2D
        Each edge by its ``gid``, ``"edge:<parent>-<child>"`` (node ids).
    edge_texts_ : list of matplotlib.text.Text
        The "yes"/"no" labels of the edges.

    See Also
    --------
    plot_tree : The same picture as a function returning the axes.
    RegimesDisplay : The samples in the plane of the lower splits' metrics.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier
    >>> from sklearn_mdtree.plotting import TreeDisplay
    >>> X = pd.DataFrame({"train_error": [0.1, 5.0, 6.0, 7.0],
    ...                   "mode_connectivity_peak": [-1.0, -25.0, -2.0, -28.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0, 8.5]})
    >>> clf = MDTreeClassifier("q1").fit(X, ["small", "large", "large", "small"])
    >>> display = TreeDisplay.from_estimator(clf, highlight=X.iloc[[1]])
    >>> sorted(display.node_texts_)
    ['leaf:0', 'leaf:1', 'leaf:2', 'leaf:3', 'split:t0', 'split:t1', 'split:t2']
    >>> display.decision_path.tolist()  # root, t1, t2, leaf 1
    [0, 2, 3, 4]
    """

    def __init__(self, estimator, *, decision_path=None):
        self.estimator = estimator
        self.decision_path = decision_path

    @classmethod
    def from_estimator(cls, estimator, *, highlight=None, ax=None, decimals=2,
                       show_counts=True, show_actions=True, title=None, fontsize=9,
                       optimizer="batch size"):
        """Draw a fitted MD tree, optionally the path of one sample in bold.

        Parameters
        ----------
        estimator : MDTreeClassifier
            A fitted tree.
        highlight : array-like or DataFrame of shape (1, n_features), default=None
            One sample (a model's features): the path it takes is drawn in bold
            and its leaf outlined, as the diagnosis of that model.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; a new figure's, sized to the tree, by default.
        decimals, show_counts, show_actions, title, fontsize, optimizer
            As in :meth:`plot`.

        Returns
        -------
        display : TreeDisplay
        """
        path = _highlighted_path(estimator, highlight, f"{cls.__name__}.from_estimator",
                                 "estimator")
        return cls(estimator, decision_path=path).plot(
            ax=ax, decimals=decimals, show_counts=show_counts, show_actions=show_actions,
            title=title, fontsize=fontsize,
        )

    def plot(self, ax=None, *, decimals=2, show_counts=True, show_actions=True, title=None,
             fontsize=9, optimizer="batch size"):
        """Draw the tree.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; a new figure's, sized to the tree, by default.
        decimals : int, default=2
            Decimals of the thresholds.
        show_counts : bool, default=True
            Print the training class counts at each node.
        show_actions : bool, default=True
            Print what each leaf's class recommends, when the hierarchy names its
            task (:func:`sklearn_mdtree.rfi.label_meaning`).
        title : str, default=None
            Title of the axes; by default names the hierarchy and its training
            accuracy; ``""`` for none.
        fontsize : float, default=9
            Size of the node texts in points.
        optimizer : {"batch size", "learning rate"}, default="batch size"
            The hyperparameter the leaves' actions name, as in
            :func:`sklearn_mdtree.diagnose`.

        Returns
        -------
        display : TreeDisplay
            ``self``, with ``ax_``, ``figure_`` and the artists set.
        """
        from .._hierarchy import Leaf
        from ..rfi import LABEL_MEANINGS

        _check_optimizer(optimizer)
        clf = self.estimator
        plt = _pyplot()
        nodes = _layout(clf.hierarchy_.root)
        n_leaves = sum(1 for n in nodes if isinstance(n.node, Leaf))
        depth = max(n.depth for n in nodes)
        if ax is None:
            width = min(max(6.0, 2.3 * n_leaves), 18.0)
            _, ax = plt.subplots(figsize=(width, 1.55 * (depth + 1) + 0.6), layout="constrained")
        counts = np.asarray(clf.leaf_class_weight_, dtype=float)
        total = counts.sum()
        classes = list(clf.classes_)
        colours = _class_colours(classes)
        meanings = LABEL_MEANINGS.get(clf.hierarchy_.task, {}) if show_actions else {}
        weighted = not np.allclose(counts, np.round(counts))
        count_decimals = 2 if weighted else 0

        path = self.decision_path
        on_path = set() if path is None else set(np.asarray(path).tolist())
        node_texts, edge_lines, edge_texts = {}, {}, []

        for entry in nodes:
            node = entry.node
            node_counts = counts[entry.leaf_ids].sum(axis=0)
            n = node_counts.sum()
            share = f"{n:.{count_decimals}f} samples ({100 * n / total:.0f}%)" if total else ""
            lines = []
            if isinstance(node, Leaf):
                label = clf.leaf_labels_[entry.regime]
                lines.append(f"regime {entry.regime}: {label}")
                if label in meanings:
                    lines += textwrap.wrap(_leaf_action(meanings, label, optimizer), 26)
                face, edge = colours[label], colours[label]
                gid = f"leaf:{entry.regime}"
                alpha = 0.25
            else:
                thr = clf.thresholds_[node.name]
                lines.append(f"{_feature_name(clf, node.feature)} <= {thr:.{decimals}f}")
                lines.append(f"[{node.name}]")
                face, edge, gid, alpha = "white", "0.3", f"split:{node.name}", 1.0
            lines.append(share)
            if show_counts and total:
                lines.append(_count_text(node_counts, classes, count_decimals))
            bold = entry.id in on_path
            node_texts[gid] = ax.text(
                entry.x, -entry.depth, "\n".join(lines), ha="center", va="center",
                fontsize=fontsize, gid=gid, zorder=3, fontweight="bold" if bold else "normal",
                bbox=dict(
                    boxstyle="round,pad=0.4", facecolor=_blend(face, alpha), edgecolor=edge,
                    linewidth=3.0 if bold else 1.0,
                ),
            )
            for side, child in zip(("yes", "no"), entry.children):
                hot = bold and child.id in on_path
                (edge_lines[f"edge:{entry.id}-{child.id}"],) = ax.plot(
                    [entry.x, child.x], [-entry.depth, -child.depth],
                    color="black" if hot else "0.55", linewidth=3.0 if hot else 1.0, zorder=1,
                    gid=f"edge:{entry.id}-{child.id}",
                )
                edge_texts.append(ax.text(
                    (entry.x + child.x) / 2, -(entry.depth + child.depth) / 2, side,
                    ha="center", va="center", fontsize=fontsize - 1, color="0.25", zorder=2,
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none"),
                ))
        ax.set_xlim(-0.6, n_leaves - 0.4)
        ax.set_ylim(-depth - 0.6, 0.6)
        ax.set_axis_off()
        if title is None:
            name = clf.hierarchy if isinstance(clf.hierarchy, str) else "user hierarchy"
            title = (
                f"MD tree ({name}): learned thresholds, regimes and training samples "
                f"(training accuracy {100 * clf.train_score_:.1f}%)"
            )
        if title:
            ax.set_title(title, fontsize="medium")
        self.ax_, self.figure_ = ax, ax.figure
        self.node_texts_, self.edge_lines_, self.edge_texts_ = node_texts, edge_lines, edge_texts
        return self


def plot_tree(clf, *, highlight=None, decimals=2, show_counts=True, show_actions=True,
              ax=None, title=None, fontsize=9, optimizer="batch size"):
    """Draw a fitted MD tree: splits with their learned thresholds, leaves as regimes.

    Each split shows the metric it tests and its fitted threshold (samples
    with ``value <= threshold`` take the left, "yes", branch). Each leaf is a
    regime, numbered as :meth:`MDTreeClassifier.apply` and
    :meth:`MDTreeClassifier.export_text` number them, coloured by the class it
    predicts, with what that class recommends. Every node shows the share and
    the class counts of the training samples that reached it (weighted counts
    when the tree was fitted with ``sample_weight``). This is the paper's
    Figure 4a for the ``"q1"`` preset; any hierarchy is drawn the same way.

    Parameters
    ----------
    clf : MDTreeClassifier
        A fitted tree.
    highlight : array-like or DataFrame of shape (1, n_features), default=None
        One sample (a model's features): the path it takes is drawn in bold
        and its leaf outlined, as the diagnosis of that model.
    decimals : int, default=2
        Decimals of the thresholds.
    show_counts : bool, default=True
        Print the training class counts at each node.
    show_actions : bool, default=True
        Print what each leaf's class recommends, when the hierarchy names its
        task (:func:`sklearn_mdtree.rfi.label_meaning`).
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's, sized to the tree, by default.
    title : str, default=None
        Title of the axes; by default names the hierarchy and its training
        accuracy.
    fontsize : float, default=9
        Size of the node texts in points.
    optimizer : {"batch size", "learning rate"}, default="batch size"
        The hyperparameter the leaves' actions name, as in
        :func:`sklearn_mdtree.diagnose`.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on. Each node's box is a text artist whose ``gid`` is
        ``"split:<name>"`` or ``"leaf:<regime>"``; the edges are lines with
        ``gid`` ``"edge:<parent>-<child>"`` (node ids in pre-order, as in
        :meth:`MDTreeClassifier.decision_path`).

    See Also
    --------
    TreeDisplay : The same picture as an object that keeps its artists.
    plot_regimes : The training samples in the plane of the lower splits' metrics.
    sklearn_mdtree.export_text : The same tree as text rules.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier
    >>> from sklearn_mdtree.plotting import plot_tree
    >>> X = pd.DataFrame({"train_error": [0.1, 5.0, 6.0, 7.0],
    ...                   "mode_connectivity_peak": [-1.0, -25.0, -2.0, -28.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0, 8.5]})
    >>> clf = MDTreeClassifier("q1").fit(X, ["small", "large", "large", "small"])
    >>> ax = plot_tree(clf)
    >>> sorted(t.get_gid() for t in ax.texts if t.get_gid())[:4]
    ['leaf:0', 'leaf:1', 'leaf:2', 'leaf:3']
    """
    path = _highlighted_path(clf, highlight, "plot_tree", "clf")
    display = TreeDisplay(clf, decision_path=path)
    display.plot(ax=ax, decimals=decimals, show_counts=show_counts, show_actions=show_actions,
                 title=title, fontsize=fontsize, optimizer=optimizer)
    return display.ax_
