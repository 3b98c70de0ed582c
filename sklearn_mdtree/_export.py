"""Text export of a fitted MD tree, in the style of :func:`sklearn.tree.export_text`."""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted

from ._hierarchy import Leaf, Split

__all__ = ["export_text"]


def export_text(mdtree, *, decimals=2, show_weights=False):
    """Build a text report of the rules of a fitted :class:`MDTreeClassifier`.

    Each split prints two lines, one per side, with its fitted threshold and
    its name; each leaf prints the label it predicts, its regime number (what
    :meth:`MDTreeClassifier.apply` returns) and, optionally, the training class
    counts that reached it.

    Parameters
    ----------
    mdtree : MDTreeClassifier
        A fitted estimator.
    decimals : int, default=2
        Number of decimals of the thresholds and weights.
    show_weights : bool, default=False
        Print the (weighted) training class counts at each leaf.

    Returns
    -------
    report : str
        The rules, one line per node side, ending with a newline.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier, export_text
    >>> X = pd.DataFrame({"train_error": [0.1, 5.0, 6.0],
    ...                   "mode_connectivity_peak": [-1.0, -40.0, -2.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0]})
    >>> clf = MDTreeClassifier("q1").fit(X, ["small", "large", "large"])
    >>> print(export_text(clf))  # doctest: +NORMALIZE_WHITESPACE
    |--- train_error <= 0.62  [t0]
    |   |--- class: small  (regime 0)
    |--- train_error >  0.62  [t0]
    |   |--- mode_connectivity_peak <= -18.54  [t1]
    |   |   |--- hessian_t <= 6.91  [t2]
    |   |   |   |--- class: large  (regime 1)
    |   |   |--- hessian_t >  6.91  [t2]
    |   |   |   |--- class: small  (regime 2)
    |   |--- mode_connectivity_peak >  -18.54  [t1]
    |   |   |--- class: large  (regime 3)
    <BLANKLINE>
    """
    check_is_fitted(mdtree)
    if isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"The 'decimals' parameter must be an int >= 0. Got {decimals!r} instead.")
    thresholds = mdtree.thresholds_
    lines = []
    regime = iter(range(len(mdtree.leaf_labels_)))

    def feature_name(feature):
        if isinstance(feature, str):
            return feature
        names = getattr(mdtree, "feature_names_in_", None)
        return str(names[feature]) if names is not None else f"feature_{feature}"

    def rec(node, depth):
        indent = "|   " * depth + "|--- "
        if isinstance(node, Leaf):
            r = next(regime)
            line = f"{indent}class: {mdtree.leaf_labels_[r]}  (regime {r})"
            if show_weights:
                pairs = ", ".join(
                    f"{c}: {w:.{decimals}f}"
                    for c, w in zip(mdtree.classes_, mdtree.leaf_class_weight_[r])
                )
                line += f"  weights: [{pairs}]"
            lines.append(line)
            return
        assert isinstance(node, Split)
        name = feature_name(node.feature)
        thr = f"{thresholds[node.name]:.{decimals}f}"
        lines.append(f"{indent}{name} <= {thr}  [{node.name}]")
        rec(node.left, depth + 1)
        lines.append(f"{indent}{name} >  {thr}  [{node.name}]")
        rec(node.right, depth + 1)

    rec(mdtree.hierarchy_.root, 0)
    return "\n".join(lines) + "\n"
