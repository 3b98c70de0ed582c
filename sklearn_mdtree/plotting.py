"""Pictures of the MD tree: the fitted tree, its regimes, the evidence, the results.

- :func:`plot_tree`: the fitted hierarchy as a diagram (the paper's Figure 4a);
- :func:`plot_regimes`: the samples in the plane of the lower splits' metrics,
  with the learned thresholds and the regimes (Figures 4b-e);
- :func:`plot_connectivity_curve` and :func:`plot_trace_estimates`: the evidence
  behind two features, from the featurizers' outputs;
- :func:`plot_accuracy_curves` and :func:`plot_one_step_gains`: diagnosis accuracy
  and one-step gains, ours beside the paper's (the reproduction report).

matplotlib is an optional dependency (``pip install sklearn-mdtree[plot]``); it is
imported when a function is called, never at import time. Every function draws on
a given ``ax`` (or figure) and returns what it drew; legends sit outside the data.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import HasMethods, validate_params

__all__ = [
    "plot_tree",
    "plot_regimes",
    "plot_model_position",
    "plot_connectivity_curve",
    "plot_trace_estimates",
    "plot_accuracy_curves",
    "plot_one_step_gains",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "sklearn_mdtree.plotting needs matplotlib: pip install 'sklearn-mdtree[plot]'"
        ) from exc
    return plt


def _legend_right(ax):
    """The axes' legend right of its data (outside the axes), never over it."""
    return ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                     borderaxespad=0)


def _as_wide(curves, name):
    """A wide frame (index: x, one column per method) from a frame or a mapping."""
    if curves is None:
        return None
    if isinstance(curves, pd.DataFrame):
        return curves
    if isinstance(curves, dict):
        columns = {}
        for method, pair in curves.items():
            try:
                x, y = pair
                series = pd.Series(np.asarray(y, dtype=float), index=np.asarray(x))
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"The '{name}' parameter must map each method to a pair (x, y) of "
                    f"equal-length sequences. Got {pair!r} for {method!r}."
                ) from exc
            columns[method] = series
        return pd.DataFrame(columns)
    raise TypeError(
        f"The '{name}' parameter must be a DataFrame (index: x, one column per method) "
        f"or a dict mapping method -> (x, y). Got {type(curves).__name__} instead."
    )


@validate_params(
    {
        # the curves are checked by _as_wide, whose messages say what each form holds
        "curves": "no_validation",
        "reference": "no_validation",
        "errors": "no_validation",
        "ax": [HasMethods(["plot"]), None],
        "title": [str, None],
        "xlabel": [str],
        "ylabel": [str],
        "logx": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def plot_accuracy_curves(
    curves,
    *,
    reference=None,
    errors=None,
    ax=None,
    title=None,
    xlabel="k",
    ylabel="diagnosis accuracy on F' (%)",
    logx=False,
):
    """Plot accuracy against ``k`` for several methods, with reference values as markers.

    Parameters
    ----------
    curves : pandas.DataFrame or dict
        Our values: a DataFrame whose index is ``k`` and whose columns are methods,
        or a dict ``{method: (ks, values)}``. One line per method.
    reference : pandas.DataFrame or dict, default=None
        Reference values (e.g. the paper's) in the same form, drawn as hollow
        markers in the colour of the method's line (a method absent from
        ``curves`` gets a colour of its own).
    errors : pandas.DataFrame or dict, default=None
        Spread of ``curves`` (e.g. the standard deviation over seeds), same form; a
        shaded band of +-1 spread is drawn around each line.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's by default.
    title : str, default=None
    xlabel, ylabel : str
        Axis labels.
    logx : bool, default=False
        Logarithmic x axis (e.g. for widths).

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_mdtree.plotting import plot_accuracy_curves
    >>> ax = plot_accuracy_curves({"MD tree": ([1, 2, 4], [76.6, 81.2, 82.0])},
    ...                           reference={"MD tree": ([1, 2, 4], [76.64, 81.23, 82.03])})
    >>> [line.get_label() for line in ax.get_lines()]
    ['MD tree', 'MD tree (paper)']
    """
    plt = _pyplot()
    ours = _as_wide(curves, "curves")
    ref = _as_wide(reference, "reference")
    spread = _as_wide(errors, "errors")
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4), layout="constrained")
    colours = {}
    for method in ours.columns:
        values = ours[method].dropna()
        (line,) = ax.plot(values.index, values.to_numpy(), marker=".", label=str(method))
        colours[method] = line.get_color()
        if spread is not None and method in spread:
            err = spread[method].reindex(values.index).fillna(0).to_numpy()
            ax.fill_between(
                values.index, values - err, values + err, color=line.get_color(), alpha=0.12,
                linewidth=0,
            )
    if ref is not None:
        for method in ref.columns:
            values = ref[method].dropna()
            if values.empty:
                continue
            kwargs = {"color": colours[method]} if method in colours else {}
            ax.plot(
                values.index, values.to_numpy(), linestyle="none", marker="o",
                markerfacecolor="none", markersize=8, label=f"{method} (paper)", **kwargs,
            )
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    _legend_right(ax)
    return ax


@validate_params(
    {
        "gains": [pd.DataFrame],
        "reference": [pd.DataFrame, None],
        "ax": [HasMethods(["bar"]), None],
        "title": [str, None],
        "ylabel": [str],
    },
    prefer_skip_nested_validation=True,
)
def plot_one_step_gains(gains, *, reference=None, ax=None, title=None, ylabel="gain (points)"):
    """Grouped bars of one-step gains: one group per method, one bar per step rule.

    Parameters
    ----------
    gains : pandas.DataFrame
        Index: methods; columns: step rules (e.g. ``fixed``, ``random``,
        ``optimal``); values: mean gains.
    reference : pandas.DataFrame, default=None
        Reference values in the same shape (missing methods or NaN allowed), drawn
        as black markers on the bars.
    ax : matplotlib.axes.Axes, default=None
    title : str, default=None
    ylabel : str, default="gain (points)"

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from sklearn_mdtree.plotting import plot_one_step_gains
    >>> gains = pd.DataFrame({"fixed": [1.34, 0.92], "optimal": [5.52, 3.50]},
    ...                      index=["MD tree", "Random diagnosis"])
    >>> ax = plot_one_step_gains(gains)
    >>> len(ax.patches)
    4
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 4), layout="constrained")
    n_rules = gains.shape[1]
    width = 0.8 / max(n_rules, 1)
    positions = np.arange(len(gains))
    labelled = False
    for j, rule in enumerate(gains.columns):
        x = positions + (j - (n_rules - 1) / 2) * width
        ax.bar(x, gains[rule].to_numpy(dtype=float), width, label=str(rule))
        if reference is not None and rule in reference:
            ref = reference[rule].reindex(gains.index).to_numpy(dtype=float)
            shown = ~np.isnan(ref)
            ax.plot(
                x[shown], ref[shown], linestyle="none", marker="_", markersize=14,
                markeredgewidth=2, color="black",
                label=None if labelled else "paper",
            )
            labelled = True
    ax.set_xticks(positions)
    ax.set_xticklabels([str(m) for m in gains.index], rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    _legend_right(ax)
    return ax


# -- the fitted tree -----------------------------------------------------------------

#: Axis labels (with units) of the metrics of the public collections and the featurizers.
_METRIC_LABELS = {
    "train_error": "training error (%)",
    "test_error": "test error (%)",
    "train_loss": "training loss (cross-entropy)",
    "test_loss": "test loss (cross-entropy)",
    "mode_connectivity_peak": "connectivity: minus the peak error on the curve (%)",
    "mode_connectivity": "connectivity: signed error gap on the curve (%)",
    "hessian_t": "sharpness: ln(Hessian trace)",
    "hessian_e": "sharpness: ln(top Hessian eigenvalue)",
    "CKA": "similarity: CKA of two seeds (0 to 1)",
}

#: Colours of the paper's labels (Fig 4: blue for too small, red for too large).
_LABEL_COLOURS = {
    "small": "#1f77b4",
    "large": "#d62728",
    "width": "#2ca02c",
    "data": "#9467bd",
    "batch": "#ff7f0e",
    "optimal": "#7f7f7f",
}


def _class_colours(classes):
    """A colour per class: the paper's for its labels, matplotlib's cycle for others."""
    cycle = ["#17becf", "#bcbd22", "#e377c2", "#8c564b", "#7f7f7f", "#1f77b4", "#d62728"]
    colours, k = {}, 0
    for c in classes:
        if isinstance(c, str) and c in _LABEL_COLOURS:
            colours[c] = _LABEL_COLOURS[c]
        else:
            colours[c] = cycle[k % len(cycle)]
            k += 1
    return colours


def _feature_name(clf, feature):
    if isinstance(feature, str):
        return feature
    names = getattr(clf, "feature_names_in_", None)
    return str(names[feature]) if names is not None else f"feature_{feature}"


def _metric_label(clf, feature):
    name = _feature_name(clf, feature)
    return _METRIC_LABELS.get(name, name)


def _check_fitted_tree(clf, caller):
    from sklearn.utils.validation import check_is_fitted

    from ._classes import MDTreeClassifier

    if not isinstance(clf, MDTreeClassifier):
        raise TypeError(
            f"The 'clf' parameter of {caller} must be a fitted MDTreeClassifier. "
            f"Got {type(clf).__name__} instead."
        )
    check_is_fitted(clf)


class _Node:
    """Layout of one node of the diagram: position, depth, pre-order ids."""

    def __init__(self, node, depth, leaf_ids):
        self.node, self.depth, self.leaf_ids = node, depth, leaf_ids
        self.children = []
        self.x = 0.0


def _layout(root):
    """Nodes in pre-order with their x (leaves at 0, 1, ...) and depth; node ids as in
    :meth:`MDTreeClassifier.decision_path`."""
    from ._hierarchy import Leaf

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


def plot_tree(clf, *, highlight=None, decimals=2, show_counts=True, show_actions=True,
              ax=None, title=None, fontsize=9):
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

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on. Each node's box is a text artist whose ``gid`` is
        ``"split:<name>"`` or ``"leaf:<regime>"``; the edges are lines with
        ``gid`` ``"edge:<parent>-<child>"`` (node ids in pre-order, as in
        :meth:`MDTreeClassifier.decision_path`).

    See Also
    --------
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
    from ._hierarchy import Leaf
    from .rfi import LABEL_MEANINGS

    _check_fitted_tree(clf, "plot_tree")
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

    on_path = set()
    if highlight is not None:
        path = clf.decision_path(highlight)
        if path.shape[0] != 1:
            raise ValueError(
                "The 'highlight' parameter of plot_tree must be one sample (one row). "
                f"Got {path.shape[0]} rows instead."
            )
        on_path = set(path.indices.tolist())

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
                lines += textwrap.wrap(meanings[label].action, 26)
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
        ax.text(
            entry.x, -entry.depth, "\n".join(lines), ha="center", va="center",
            fontsize=fontsize, gid=gid, zorder=3, fontweight="bold" if bold else "normal",
            bbox=dict(
                boxstyle="round,pad=0.4", facecolor=_blend(face, alpha), edgecolor=edge,
                linewidth=3.0 if bold else 1.0,
            ),
        )
        for side, child in zip(("yes", "no"), entry.children):
            hot = bold and child.id in on_path
            ax.plot(
                [entry.x, child.x], [-entry.depth, -child.depth],
                color="black" if hot else "0.55", linewidth=3.0 if hot else 1.0, zorder=1,
                gid=f"edge:{entry.id}-{child.id}",
            )
            ax.text(
                (entry.x + child.x) / 2, -(entry.depth + child.depth) / 2, side,
                ha="center", va="center", fontsize=fontsize - 1, color="0.25", zorder=2,
                bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none"),
            )
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
    return ax


def _blend(colour, alpha):
    """``colour`` mixed with white (an opaque face colour, so edges do not show through)."""
    from matplotlib.colors import to_rgb

    rgb = np.asarray(to_rgb(colour))
    return tuple(1 - alpha * (1 - rgb))


# -- regimes ------------------------------------------------------------------------


def _plane(clf):
    """The root split and the two features of the regime plane (those the lower splits use)."""
    from ._hierarchy import Leaf, _walk

    root = clf.hierarchy_.root
    if isinstance(root, Leaf):
        raise ValueError("plot_regimes needs a hierarchy with at least one split; got a leaf.")
    lower = [n.feature for n in _walk(root) if not isinstance(n, Leaf) and n is not root]
    features = list(dict.fromkeys(lower))
    if len(features) < 2 and root.feature not in features:
        features.append(root.feature)
    if len(features) < 2:
        raise ValueError(
            "plot_regimes needs a hierarchy that uses at least two features; this one "
            f"uses only {_feature_name(clf, root.feature)!r}."
        )
    return root, features[:2]


def _column(X, feature):
    if isinstance(feature, str):
        return np.asarray(X[feature], dtype=float)
    return np.asarray(X, dtype=float)[:, feature]


def _regions(node, box, fx, fy, clf, leaf_ids):
    """Yield ("line", split, segment) and ("leaf", regime, box) of a subtree within ``box``.

    ``box`` is ``[x0, x1, y0, y1]``; a split on a feature outside the plane leaves
    both children the whole box.
    """
    from ._hierarchy import Leaf

    if isinstance(node, Leaf):
        yield "leaf", next(leaf_ids), box
        return
    thr = clf.thresholds_[node.name]
    x0, x1, y0, y1 = box
    if node.feature == fx:
        yield "line", node, ([thr, thr], [y0, y1])
        left, right = [x0, min(x1, thr), y0, y1], [max(x0, thr), x1, y0, y1]
    elif node.feature == fy:
        yield "line", node, ([x0, x1], [thr, thr])
        left, right = [x0, x1, y0, min(y1, thr)], [x0, x1, max(y0, thr), y1]
    else:
        left = right = box
    yield from _regions(node.left, left, fx, fy, clf, leaf_ids)
    yield from _regions(node.right, right, fx, fy, clf, leaf_ids)


def plot_regimes(clf, X, y, *, X_test=None, y_test=None, highlight=None, fig=None, axes=None,
                 titles=("training set", "test set")):
    """The samples in the plane of the lower splits' metrics, with the tree's regimes.

    One panel per side of the root split (for the ``"q1"`` preset: training
    error at most or above its threshold) and one row per data set (training,
    then test when given), as in the paper's Figures 4b-e. Each sample is a
    dot coloured by its true label; the learned thresholds of the splits on
    the two plotted metrics are dashed lines, and each regime's number (as in
    :func:`plot_tree`) is written in its region. A split on a third metric
    cannot be drawn in the plane: its regimes share a region.

    Parameters
    ----------
    clf : MDTreeClassifier
        A fitted tree whose hierarchy uses at least two features.
    X : {array-like, DataFrame} of shape (n_samples, n_features)
        The samples of the first row (usually the training set).
    y : array-like of shape (n_samples,)
        Their true labels.
    X_test, y_test : array-like, default=None
        Samples and labels of a second row (usually the test set).
    highlight : array-like or DataFrame of shape (1, n_features), default=None
        One model's features, drawn as a black star in its panel.
    fig : matplotlib.figure.Figure, default=None
        Figure to draw the panels on; a new one by default.
    axes : array of matplotlib.axes.Axes of shape (n_rows, 2), default=None
        Axes to draw on instead (rows: data sets; columns: sides of the root).
    titles : tuple of str, default=("training set", "test set")
        Names of the rows, used in the panel titles.

    Returns
    -------
    axes : ndarray of matplotlib.axes.Axes of shape (n_rows, 2)
        The panels. Threshold lines have ``gid`` ``"threshold:<split>"``,
        regime numbers ``"regime:<number>"`` and sample dots ``"samples:<label>"``.

    See Also
    --------
    plot_tree : The tree whose regimes these are.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier
    >>> from sklearn_mdtree.plotting import plot_regimes
    >>> X = pd.DataFrame({"train_error": [0.1, 5.0, 6.0, 7.0],
    ...                   "mode_connectivity_peak": [-1.0, -25.0, -2.0, -28.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0, 8.5]})
    >>> y = ["small", "large", "large", "small"]
    >>> clf = MDTreeClassifier("q1").fit(X, y)
    >>> axes = plot_regimes(clf, X, y)
    >>> axes.shape
    (1, 2)
    """
    from ._hierarchy import Leaf, _walk

    _check_fitted_tree(clf, "plot_regimes")
    plt = _pyplot()
    root, (fx, fy) = _plane(clf)
    sets = [(X, np.asarray(y), titles[0])]
    if X_test is not None:
        if y_test is None:
            raise ValueError("The 'y_test' parameter of plot_regimes is needed with 'X_test'.")
        sets.append((X_test, np.asarray(y_test), titles[1]))
    n_rows = len(sets)
    if axes is None:
        if fig is None:
            fig = plt.figure(figsize=(11, 4.2 * n_rows), layout="constrained")
        axes = np.asarray(fig.subplots(n_rows, 2, squeeze=False))
    else:
        axes = np.asarray(axes, dtype=object).reshape(n_rows, -1)
        if axes.shape[1] != 2:
            raise ValueError(
                f"The 'axes' parameter of plot_regimes must hold {n_rows} x 2 axes "
                f"(rows: data sets, columns: sides of the root split). Got {axes.size}."
            )
        fig = axes[0, 0].figure
    n_left = sum(1 for n in _walk(root.left) if isinstance(n, Leaf))
    classes = list(dict.fromkeys(list(clf.classes_) + [v for _, ys, _ in sets for v in ys]))
    colours = _class_colours(classes)
    root_name = _feature_name(clf, root.feature)
    thr0 = clf.thresholds_[root.name]
    star = None
    if highlight is not None:
        star = (_column(highlight, fx), _column(highlight, fy), clf.apply(highlight))
    for row, (Xs, ys, name) in enumerate(sets):
        xs, vs = _column(Xs, fx), _column(Xs, fy)
        sides = clf.apply(Xs) >= n_left  # False: left of the root split
        for col, (side, subtree) in enumerate(((False, root.left), (True, root.right))):
            ax = axes[row, col]
            mask = sides == side
            for label in classes:
                pick = mask & (ys == label)
                if pick.any():
                    ax.scatter(
                        xs[pick], vs[pick], s=18, alpha=0.7, color=colours[label],
                        edgecolors="white", linewidths=0.3, label=str(label),
                        gid=f"samples:{label}",
                    )
            all_x, all_y = _column(X, fx), _column(X, fy)
            pad_x = 0.05 * (np.ptp(all_x) or 1.0)
            pad_y = 0.05 * (np.ptp(all_y) or 1.0)
            box = [all_x.min() - pad_x, all_x.max() + pad_x,
                   all_y.min() - pad_y, all_y.max() + pad_y]
            if X_test is not None:
                tx, ty = _column(X_test, fx), _column(X_test, fy)
                box = [min(box[0], tx.min() - pad_x), max(box[1], tx.max() + pad_x),
                       min(box[2], ty.min() - pad_y), max(box[3], ty.max() + pad_y)]
            start = 0 if not side else n_left
            for kind, what, where in _regions(subtree, list(box), fx, fy, clf,
                                              iter(range(start, 10**9))):
                if kind == "line":
                    ax.plot(*where, linestyle="--", color="black", linewidth=1.2,
                            gid=f"threshold:{what.name}")
                else:
                    x0, x1, y0, y1 = where
                    if x1 > x0 and y1 > y0:
                        ax.text(
                            *_free_spot(where, box, xs[mask], vs[mask]), f"({what})",
                            ha="center", va="center", fontsize=13, fontweight="bold",
                            color="0.15", gid=f"regime:{what}", zorder=4,
                            bbox=dict(boxstyle="circle,pad=0.2", facecolor="white",
                                      edgecolor="0.4", alpha=0.85),
                        )
            if star is not None and bool(star[2][0] >= n_left) == side:
                ax.scatter(star[0], star[1], marker="*", s=260, color="black",
                           edgecolors="white", zorder=5, label="this model", gid="highlight")
            ax.set_xlim(box[0], box[1])
            ax.set_ylim(box[2], box[3])
            ax.set_xlabel(_metric_label(clf, fx))
            ax.set_ylabel(_metric_label(clf, fy))
            sign = ">" if side else "<="
            ax.set_title(
                f"{name}: {root_name} {sign} {thr0:.2f} ({int(mask.sum())} samples)",
                fontsize="medium",
            )
            ax.grid(True, alpha=0.25)
    handles = {}
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    names = [lab if lab == "this model" else f"true label: {lab}" for lab in handles]
    _outside_legend(fig, list(handles.values()), names)
    return axes


def plot_model_position(clf, model, *, se=None, ax=None, title=None):
    """One model among the regimes of a fitted tree, with its uncertainty.

    The panel of :func:`plot_regimes` on the model's side of the root split,
    without the training samples: the regimes cut by the learned thresholds
    (dashed), the model as a star, and, when standard errors are given, bars of
    plus or minus one and two standard errors in both metrics -- a bar crossing a
    dashed line means that decision could flip within the measurement noise.

    Parameters
    ----------
    clf : MDTreeClassifier
        A fitted tree whose hierarchy uses at least two features.
    model : DataFrame or array-like of shape (1, n_features)
        The model's features (one row).
    se : dict of str to float, default=None
        Standard error of each feature, by feature name (e.g. the ``<feature>_se``
        columns that ``LossLandscapeFeaturizer(return_se=True)`` writes); missing
        features get no bar.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's by default.
    title : str, default=None
        Title of the axes; by default the model's regime and predicted label.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The model is the collection with ``gid`` ``"model"``, its error bars
        ``"se:1"`` and ``"se:2"``, thresholds ``"threshold:<split>"`` and regime
        numbers ``"regime:<number>"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier
    >>> from sklearn_mdtree.plotting import plot_model_position
    >>> X = pd.DataFrame({"train_error": [0.1, 5.0, 6.0, 7.0],
    ...                   "mode_connectivity_peak": [-1.0, -25.0, -2.0, -28.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0, 8.5]})
    >>> clf = MDTreeClassifier("q1").fit(X, ["small", "large", "large", "small"])
    >>> ax = plot_model_position(clf, X.iloc[[1]], se={"hessian_t": 0.2})
    >>> ax.get_title()
    'regime 1: large'
    """
    from ._hierarchy import Leaf, _walk

    _check_fitted_tree(clf, "plot_model_position")
    plt = _pyplot()
    root, (fx, fy) = _plane(clf)
    regime = clf.apply(model)
    if len(regime) != 1:
        raise ValueError(
            "The 'model' parameter of plot_model_position must be one sample (one row). "
            f"Got {len(regime)} rows instead."
        )
    regime = int(regime[0])
    n_left = sum(1 for n in _walk(root.left) if isinstance(n, Leaf))
    right = regime >= n_left
    x, v = float(_column(model, fx)[0]), float(_column(model, fy)[0])
    se = {} if se is None else dict(se)
    sx = se.get(_feature_name(clf, fx))
    sy = se.get(_feature_name(clf, fy))
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.5), layout="constrained")
    subtree = root.right if right else root.left
    splits = [n for n in _walk(subtree) if not isinstance(n, Leaf)]
    xs = [x - 2 * (sx or 0), x + 2 * (sx or 0)]
    xs += [clf.thresholds_[n.name] for n in splits if n.feature == fx]
    ys = [v - 2 * (sy or 0), v + 2 * (sy or 0)]
    ys += [clf.thresholds_[n.name] for n in splits if n.feature == fy]
    pad_x = 0.3 * max(np.ptp(xs), 0.2 * abs(x), 1.0)
    pad_y = 0.3 * max(np.ptp(ys), 0.2 * abs(v), 1.0)
    box = [min(xs) - pad_x, max(xs) + pad_x, min(ys) - pad_y, max(ys) + pad_y]
    colours = _class_colours(list(clf.classes_))
    for kind, what, where in _regions(subtree, list(box), fx, fy, clf,
                                      iter(range(n_left if right else 0, 10**9))):
        if kind == "line":
            ax.plot(*where, linestyle="--", color="black", linewidth=1.2,
                    gid=f"threshold:{what.name}")
        else:
            x0, x1, y0, y1 = where
            if x1 > x0 and y1 > y0:
                label = clf.leaf_labels_[what]
                ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, linewidth=0,
                                           facecolor=_blend(colours[label], 0.18), zorder=0))
                ax.text(*_free_spot(where, box, np.array([x]), np.array([v])),
                        f"({what}) {label}", ha="center", va="center", fontsize=10,
                        fontweight="bold", color="0.2", gid=f"regime:{what}", zorder=4)
    for k, alpha in ((2, 0.35), (1, 0.9)):
        xerr = None if sx is None else [[k * sx], [k * sx]]
        yerr = None if sy is None else [[k * sy], [k * sy]]
        if xerr is not None or yerr is not None:
            ax.errorbar([x], [v], xerr=xerr, yerr=yerr, fmt="none", ecolor="black",
                        elinewidth=2.5 if k == 1 else 1.2, alpha=alpha, capsize=4,
                        gid=f"se:{k}", label=f"+-{k} standard error{'s' if k > 1 else ''}")
    ax.scatter([x], [v], marker="*", s=300, color="black", edgecolors="white", zorder=5,
               gid="model", label="this model")
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_xlabel(_metric_label(clf, fx))
    ax.set_ylabel(_metric_label(clf, fy))
    ax.set_title(title if title is not None else f"regime {regime}: {clf.leaf_labels_[regime]}",
                 fontsize="medium")
    ax.grid(True, alpha=0.25)
    _legend_right(ax)
    return ax


def _outside_legend(fig, handles, labels, title=None):
    """A figure legend right of the panels, never over the data."""
    if _constrained(fig):
        return fig.legend(handles, labels, loc="outside right upper", fontsize="small",
                          title=title)
    return fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                      fontsize="small", title=title)


def _free_spot(region, box, xs, ys, n=7):
    """A point of ``region`` far from the samples (panel-normalised distances)."""
    x0, x1, y0, y1 = region
    sx, sy = (box[1] - box[0]) or 1.0, (box[3] - box[2]) or 1.0
    inset = 0.12
    gx = np.linspace(x0 + inset * (x1 - x0), x1 - inset * (x1 - x0), n)
    gy = np.linspace(y0 + inset * (y1 - y0), y1 - inset * (y1 - y0), n)
    cx, cy = (a.ravel() for a in np.meshgrid(gx, gy))
    centre = np.hypot((cx - (x0 + x1) / 2) / sx, (cy - (y0 + y1) / 2) / sy)
    if len(xs):
        d = np.hypot((cx[:, None] - xs[None, :]) / sx, (cy[:, None] - ys[None, :]) / sy)
        clearance = np.minimum(d.min(axis=1), 0.12)  # beyond 12% of the panel: clear
    else:
        clearance = np.zeros_like(cx)
    best = np.lexsort((centre, -clearance))[0]
    return float(cx[best]), float(cy[best])


def _constrained(fig):
    engine = fig.get_layout_engine()
    return engine is not None and type(engine).__name__ == "ConstrainedLayoutEngine"


# -- the featurizers' evidence ------------------------------------------------------------


def plot_connectivity_curve(errors, *, ts=(0.0, 0.25, 0.5, 0.75, 1.0), labels=None, ax=None,
                            title=None):
    """Training error along mode-connectivity curves, with both end points and the barrier.

    The curve joins two trained models (``t = 0`` and ``t = 1``) through a
    trained bend (:mod:`featurizers.connectivity`); the highest error inside the
    curve is the barrier, and minus its height is the ``mode_connectivity_peak``
    feature of the MD tree. Pass the errors that
    :func:`featurizers.connectivity.curve_errors` returns.

    Parameters
    ----------
    errors : array-like of shape (n_ts,) or (n_curves, n_ts)
        Training error (percent) at each point of ``ts``, one row per curve
        (e.g. per pair of seeds).
    ts : sequence of float, default=(0, 0.25, 0.5, 0.75, 1)
        The points of the curve, from 0 (first model) to 1 (second model).
    labels : sequence of str, default=None
        Name of each curve in the legend; ``"pair 0"``, ... by default.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's by default.
    title : str, default=None

    Returns
    -------
    ax : matplotlib.axes.Axes
        Curve lines have ``gid`` ``"curve:<i>"``, the end points
        ``"endpoints:<i>"`` and each barrier's marker ``"barrier:<i>"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_mdtree.plotting import plot_connectivity_curve
    >>> ax = plot_connectivity_curve([2.0, 10.0, 30.0, 12.0, 4.0])
    >>> [line.get_gid() for line in ax.get_lines()][:3]
    ['curve:0', 'endpoints:0', 'barrier:0']
    """
    plt = _pyplot()
    e = np.atleast_2d(np.asarray(errors, dtype=float))
    t = np.asarray(ts, dtype=float)
    if e.ndim != 2 or e.shape[1] != len(t) or len(t) < 3:
        raise ValueError(
            "The 'errors' parameter of plot_connectivity_curve must have shape (n_ts,) or "
            f"(n_curves, n_ts) with n_ts = len(ts) = {len(t)} >= 3. Got shape "
            f"{np.shape(errors)}."
        )
    if labels is None:
        labels = [f"pair {i}" for i in range(len(e))]
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    inside = (t > t.min()) & (t < t.max())
    for i, (row, name) in enumerate(zip(e, labels)):
        k = np.flatnonzero(inside)[np.argmax(row[inside])]
        (line,) = ax.plot(t, row, marker=".", label=f"{name}: peak feature {-row[k]:.1f}",
                          gid=f"curve:{i}")
        ends = np.array([t.argmin(), t.argmax()])
        ax.plot(t[ends], row[ends], linestyle="none", marker="s", markersize=8,
                color=line.get_color(), gid=f"endpoints:{i}")
        ax.plot([t[k]], [row[k]], linestyle="none", marker="v", markersize=10,
                color=line.get_color(), markeredgecolor="black", gid=f"barrier:{i}")
    ax.plot([], [], linestyle="none", marker="s", color="0.5", label="end points: the two models")
    ax.plot([], [], linestyle="none", marker="v", color="0.5", markeredgecolor="black",
            label="barrier: highest error inside")
    ax.set_xticks(t)
    ax.set_xlabel("t along the curve (bend at t = 0.5)")
    ax.set_ylabel("training error (%)")
    ax.set_title(title or "Training error along the mode-connectivity curve", fontsize="medium")
    ax.grid(True, alpha=0.3)
    _legend_right(ax)
    return ax


def plot_trace_estimates(estimates, *, exact=None, ax=None, title=None,
                         ylabel="Hessian trace estimate"):
    """Independent trace estimates per method, with their mean and standard error.

    Pass, for each method, estimates from independent probes (e.g.
    :func:`featurizers.hessian.hutchinson_trace` with several
    ``random_state``): the dots are the estimates, the bar is their mean plus or
    minus one standard error (sample standard deviation over ``sqrt(n)``).

    Parameters
    ----------
    estimates : dict of str to array-like, or array-like
        ``{method: estimates}``; a single array is one method, ``"estimate"``.
    exact : float, default=None
        The exact trace, drawn as a dashed horizontal line when known.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's by default.
    title : str, default=None
    ylabel : str, default="Hessian trace estimate"

    Returns
    -------
    ax : matplotlib.axes.Axes
        Error bars have ``gid`` ``"mean:<method>"``, dots ``"estimates:<method>"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_mdtree.plotting import plot_trace_estimates
    >>> ax = plot_trace_estimates({"Hutchinson": [5.0, 7.0, 6.0]}, exact=6.0)
    >>> float(ax.containers[0].lines[0].get_ydata()[0])  # the mean
    6.0
    """
    plt = _pyplot()
    if not isinstance(estimates, dict):
        estimates = {"estimate": estimates}
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * len(estimates) + 3.5, 4), layout="constrained")
    rng = np.random.default_rng(0)
    for i, (method, values) in enumerate(estimates.items()):
        v = np.asarray(values, dtype=float).ravel()
        if v.size < 2:
            raise ValueError(
                "The 'estimates' parameter of plot_trace_estimates needs at least two "
                f"estimates per method for a standard error. Got {v.size} for {method!r}."
            )
        se = v.std(ddof=1) / np.sqrt(v.size)
        ax.scatter(i + rng.uniform(-0.12, 0.12, v.size), v, s=14, alpha=0.6, color="0.45",
                   gid=f"estimates:{method}")
        ax.errorbar([i + 0.25], [v.mean()], yerr=[se], fmt="o", color="C0", capsize=5,
                    gid=f"mean:{method}", label="mean +- 1 standard error" if i == 0 else None)
    if exact is not None:
        ax.axhline(exact, linestyle="--", color="black", linewidth=1, label="exact trace",
                   gid="exact")
    ax.set_xticks(range(len(estimates)))
    ax.set_xticklabels([f"{m}\n(n = {np.size(v)})" for m, v in estimates.items()])
    ax.set_xlim(-0.6, len(estimates) - 0.4)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Trace estimates: spread of independent runs", fontsize="medium")
    ax.grid(True, axis="y", alpha=0.3)
    _legend_right(ax)
    return ax
