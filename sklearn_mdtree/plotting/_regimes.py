"""The regimes of a fitted tree in the plane of its lower splits' metrics (Figures 4b-e).

:class:`RegimesDisplay` and :func:`plot_regimes` draw the samples; :func:`plot_model_position`
one model with its standard errors. :func:`_plane` (the root split and the plane's two
features) is also used by the HTML report.
"""

from __future__ import annotations

import numpy as np

from ._common import (
    _blend,
    _check_fitted_tree,
    _class_colours,
    _feature_name,
    _legend_right,
    _metric_label,
    _outside_legend,
    _pyplot,
)


def _plane(clf):
    """The root split and the two features of the regime plane (those the lower splits use)."""
    from .._hierarchy import Leaf, _walk

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
    from .._hierarchy import Leaf

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


def _n_left(root):
    """The number of regimes left of the root split (regimes are numbered left to right)."""
    from .._hierarchy import Leaf, _walk

    return sum(1 for n in _walk(root.left) if isinstance(n, Leaf))


class RegimesDisplay:
    """The samples in the plane of the lower splits' metrics, with a tree's regimes.

    One panel per side of the root split and one row per data set (e.g. the
    training set, then the test set), as in the paper's Figures 4b-e. It is
    recommended to build it with :meth:`from_estimator`, which computes the
    plane and the samples' places in it and draws; :meth:`plot` draws what is
    stored (again, e.g. on other axes).

    Parameters
    ----------
    estimator : MDTreeClassifier
        A fitted tree whose hierarchy uses at least two features.
    features : tuple of (str or int)
        The plane's two features (x, then y): those the lower splits use.
    samples : list of Bunch
        One per row of panels, with ``name`` (used in the titles), ``x`` and
        ``y`` (the samples' values of the two features), ``labels`` (their true
        labels) and ``right`` (True for a sample right of the root split).
    box : tuple of 4 float
        The limits of every panel, ``(x0, x1, y0, y1)``.
    highlight : Bunch, default=None
        One model drawn as a star: ``x``, ``y`` and ``right``, as in ``samples``.

    Attributes
    ----------
    axes_ : ndarray of matplotlib.axes.Axes of shape (n_rows, 2)
        The panels (rows: data sets; columns: sides of the root split).
    figure_ : matplotlib.figure.Figure
    samples_ : list of matplotlib.collections.PathCollection
        The dots, one collection per (panel, label), ``gid`` ``"samples:<label>"``.
    threshold_lines_ : list of matplotlib.lines.Line2D
        The learned thresholds as dashed lines, ``gid`` ``"threshold:<split>"``.
    regime_texts_ : list of matplotlib.text.Text
        The regime numbers, ``gid`` ``"regime:<number>"``.
    highlight_ : list of matplotlib.collections.PathCollection
        The highlighted model's star in its panel of each row, ``gid``
        ``"highlight"``; empty without ``highlight``.
    legend_ : matplotlib.legend.Legend
        The figure legend, right of the panels.

    See Also
    --------
    plot_regimes : The same picture as a function returning the axes.
    TreeDisplay : The tree whose regimes these are.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier
    >>> from sklearn_mdtree.plotting import RegimesDisplay
    >>> X = pd.DataFrame({"train_error": [0.1, 5.0, 6.0, 7.0],
    ...                   "mode_connectivity_peak": [-1.0, -25.0, -2.0, -28.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0, 8.5]})
    >>> y = ["small", "large", "large", "small"]
    >>> clf = MDTreeClassifier("q1").fit(X, y)
    >>> display = RegimesDisplay.from_estimator(clf, X, y)
    >>> display.features, display.axes_.shape
    (('mode_connectivity_peak', 'hessian_t'), (1, 2))
    >>> sorted(line.get_gid() for line in display.threshold_lines_)
    ['threshold:t1', 'threshold:t2']
    """

    def __init__(self, estimator, *, features, samples, box, highlight=None):
        self.estimator = estimator
        self.features = features
        self.samples = samples
        self.box = box
        self.highlight = highlight

    @classmethod
    def from_estimator(cls, estimator, X, y, *, X_test=None, y_test=None, highlight=None,
                       titles=("training set", "test set"), ax=None, fig=None):
        """Place the samples in the plane of a fitted tree's lower splits and draw them.

        Parameters
        ----------
        estimator : MDTreeClassifier
            A fitted tree whose hierarchy uses at least two features.
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            The samples of the first row (usually the training set).
        y : array-like of shape (n_samples,)
            Their true labels.
        X_test, y_test : array-like, default=None
            Samples and labels of a second row (usually the test set).
        highlight : array-like or DataFrame of shape (1, n_features), default=None
            One model's features, drawn as a black star in its panel.
        titles : tuple of str, default=("training set", "test set")
            Names of the rows, used in the panel titles.
        ax : array of matplotlib.axes.Axes of shape (n_rows, 2), default=None
            Axes to draw on (rows: data sets; columns: sides of the root split).
        fig : matplotlib.figure.Figure, default=None
            Figure to draw new panels on when ``ax`` is None; a new one by default.

        Returns
        -------
        display : RegimesDisplay
        """
        display = cls._compute(estimator, X, y, X_test, y_test, highlight, titles,
                               f"{cls.__name__}.from_estimator", "estimator")
        return display.plot(ax=ax, fig=fig)

    @classmethod
    def _compute(cls, clf, X, y, X_test, y_test, highlight, titles, caller, name):
        from sklearn.utils import Bunch

        _check_fitted_tree(clf, caller, name)
        root, (fx, fy) = _plane(clf)
        sets = [(X, y, titles[0])]
        if X_test is not None:
            if y_test is None:
                raise ValueError(f"The 'y_test' parameter of {caller} is needed with 'X_test'.")
            sets.append((X_test, y_test, titles[1]))
        n_left = _n_left(root)
        samples = [
            Bunch(name=title, x=_column(Xs, fx), y=_column(Xs, fy), labels=np.asarray(ys),
                  right=clf.apply(Xs) >= n_left)
            for Xs, ys, title in sets
        ]
        all_x, all_y = _column(X, fx), _column(X, fy)
        pad_x = 0.05 * (np.ptp(all_x) or 1.0)
        pad_y = 0.05 * (np.ptp(all_y) or 1.0)
        box = [all_x.min() - pad_x, all_x.max() + pad_x,
               all_y.min() - pad_y, all_y.max() + pad_y]
        if X_test is not None:
            tx, ty = _column(X_test, fx), _column(X_test, fy)
            box = [min(box[0], tx.min() - pad_x), max(box[1], tx.max() + pad_x),
                   min(box[2], ty.min() - pad_y), max(box[3], ty.max() + pad_y)]
        star = None
        if highlight is not None:
            star = Bunch(x=_column(highlight, fx), y=_column(highlight, fy),
                         right=bool(clf.apply(highlight)[0] >= n_left))
        return cls(clf, features=(fx, fy), samples=samples, box=tuple(float(b) for b in box),
                   highlight=star)

    def plot(self, ax=None, *, fig=None):
        """Draw the panels.

        Parameters
        ----------
        ax : array of matplotlib.axes.Axes of shape (n_rows, 2), default=None
            Axes to draw on (rows: data sets; columns: sides of the root split).
        fig : matplotlib.figure.Figure, default=None
            Figure to draw new panels on when ``ax`` is None; a new one by default.

        Returns
        -------
        display : RegimesDisplay
            ``self``, with ``axes_``, ``figure_`` and the artists set.
        """
        plt = _pyplot()
        clf = self.estimator
        fx, fy = self.features
        root = clf.hierarchy_.root
        n_rows = len(self.samples)
        if ax is None:
            if fig is None:
                fig = plt.figure(figsize=(11, 4.2 * n_rows), layout="constrained")
            axes = np.asarray(fig.subplots(n_rows, 2, squeeze=False))
        else:
            axes = np.asarray(ax, dtype=object).reshape(n_rows, -1)
            if axes.shape[1] != 2:
                raise ValueError(
                    "The 'ax' parameter of RegimesDisplay.plot (the 'axes' parameter of "
                    f"plot_regimes) must hold {n_rows} x 2 axes "
                    f"(rows: data sets, columns: sides of the root split). Got {axes.size}."
                )
            fig = axes[0, 0].figure
        n_left = _n_left(root)
        classes = list(dict.fromkeys(
            list(clf.classes_) + [v for row in self.samples for v in row.labels]
        ))
        colours = _class_colours(classes)
        root_name = _feature_name(clf, root.feature)
        thr0 = clf.thresholds_[root.name]
        box = list(self.box)
        star = self.highlight
        scatters, thresholds, regimes, stars = [], [], [], []
        for row, sample in enumerate(self.samples):
            xs, vs, ys = sample.x, sample.y, sample.labels
            for col, (side, subtree) in enumerate(((False, root.left), (True, root.right))):
                ax = axes[row, col]
                mask = sample.right == side
                for label in classes:
                    pick = mask & (ys == label)
                    if pick.any():
                        scatters.append(ax.scatter(
                            xs[pick], vs[pick], s=18, alpha=0.7, color=colours[label],
                            edgecolors="white", linewidths=0.3, label=str(label),
                            gid=f"samples:{label}",
                        ))
                start = 0 if not side else n_left
                for kind, what, where in _regions(subtree, list(box), fx, fy, clf,
                                                  iter(range(start, 10**9))):
                    if kind == "line":
                        thresholds += ax.plot(*where, linestyle="--", color="black",
                                              linewidth=1.2, gid=f"threshold:{what.name}")
                    else:
                        x0, x1, y0, y1 = where
                        if x1 > x0 and y1 > y0:
                            regimes.append(ax.text(
                                *_free_spot(where, box, xs[mask], vs[mask]), f"({what})",
                                ha="center", va="center", fontsize=13, fontweight="bold",
                                color="0.15", gid=f"regime:{what}", zorder=4,
                                bbox=dict(boxstyle="circle,pad=0.2", facecolor="white",
                                          edgecolor="0.4", alpha=0.85),
                            ))
                if star is not None and star.right == side:
                    stars.append(ax.scatter(
                        star.x, star.y, marker="*", s=260, color="black", edgecolors="white",
                        zorder=5, label="this model", gid="highlight",
                    ))
                ax.set_xlim(box[0], box[1])
                ax.set_ylim(box[2], box[3])
                ax.set_xlabel(_metric_label(clf, fx))
                ax.set_ylabel(_metric_label(clf, fy))
                sign = ">" if side else "<="
                ax.set_title(
                    f"{sample.name}: {root_name} {sign} {thr0:.2f} ({int(mask.sum())} samples)",
                    fontsize="medium",
                )
                ax.grid(True, alpha=0.25)
        handles = {}
        for ax in axes.ravel():
            for h, lab in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(lab, h)
        names = [lab if lab == "this model" else f"true label: {lab}" for lab in handles]
        self.legend_ = _outside_legend(fig, list(handles.values()), names)
        self.axes_, self.figure_ = axes, fig
        self.samples_, self.threshold_lines_ = scatters, thresholds
        self.regime_texts_, self.highlight_ = regimes, stars
        return self


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
    RegimesDisplay : The same picture as an object that keeps its artists.
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
    display = RegimesDisplay._compute(clf, X, y, X_test, y_test, highlight, titles,
                                      "plot_regimes", "clf")
    return display.plot(ax=axes, fig=fig).axes_


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
    from .._hierarchy import Leaf, _walk

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
    n_left = _n_left(root)
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
