"""Text export of a fitted MD tree, in the style of :func:`sklearn.tree.export_text`."""

from __future__ import annotations

import itertools
from numbers import Integral

from sklearn.utils._param_validation import HasMethods, Interval, validate_params
from sklearn.utils.validation import check_is_fitted

from ._hierarchy import Leaf
from .rfi import LABEL_MEANINGS

__all__ = ["export_text", "rule_lines"]


def rule_lines(root, split_sides, leaf_text):
    """Render a hierarchy as indented rule lines, the layout of :func:`export_text`.

    Parameters
    ----------
    root : Split or Leaf
    split_sides : callable
        ``split_sides(split) -> (left_text, right_text)``: the text of the
        ``<=`` and the ``>`` line of a split, after the indent.
    leaf_text : callable
        ``leaf_text(leaf, regime) -> str``: the text of a leaf; ``regime``
        is its pre-order number, the one :meth:`MDTreeClassifier.apply` returns.

    Returns
    -------
    lines : list of str
    """
    lines = []
    regime = itertools.count()

    def rec(node, depth):
        indent = "|   " * depth + "|--- "
        if isinstance(node, Leaf):
            lines.append(indent + leaf_text(node, next(regime)))
            return
        left, right = split_sides(node)
        lines.append(indent + left)
        rec(node.left, depth + 1)
        lines.append(indent + right)
        rec(node.right, depth + 1)

    rec(root, 0)
    return lines


@validate_params(
    {
        "mdtree": [HasMethods(["fit", "predict"])],
        "decimals": [Interval(Integral, 0, None, closed="left")],
        "show_weights": ["boolean"],
        "show_actions": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def export_text(mdtree, *, decimals=2, show_weights=False, show_actions=True):
    """Build a text report of the rules of a fitted :class:`MDTreeClassifier`.

    Each split prints two lines, one per side, with its fitted threshold and
    its name; each leaf prints the label it predicts, its regime number (what
    :meth:`MDTreeClassifier.apply` returns), what the label recommends when the
    hierarchy names its task, and, optionally, the training class counts that
    reached it.

    Parameters
    ----------
    mdtree : MDTreeClassifier
        A fitted estimator.
    decimals : int, default=2
        Number of decimals of the thresholds and weights.
    show_weights : bool, default=False
        Print the (weighted) training class counts at each leaf.
    show_actions : bool, default=True
        Print the action each leaf's label recommends
        (:func:`sklearn_mdtree.rfi.label_meaning`), when the hierarchy's
        ``task`` is one of the paper's label columns.

    Returns
    -------
    report : str
        The rules, one line per node side, ending with a newline.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier, export_text
    >>> X = pd.DataFrame({"train_error": [0.1, 5.0, 6.0, 7.0],
    ...                   "mode_connectivity_peak": [-1.0, -25.0, -2.0, -28.0],
    ...                   "hessian_t": [8.0, 5.0, 6.0, 8.5]})
    >>> clf = MDTreeClassifier("q1", threshold_search="exhaustive")
    >>> clf = clf.fit(X, ["small", "large", "large", "small"])
    >>> print(export_text(clf))  # doctest: +NORMALIZE_WHITESPACE
    |--- train_error <= 0.55  [t0]
    |   |--- class: small  (regime 0)  Lower the batch size.
    |--- train_error >  0.55  [t0]
    |   |--- mode_connectivity_peak <= -14.00  [t1]
    |   |   |--- hessian_t <= 6.75  [t2]
    |   |   |   |--- class: large  (regime 1)  Raise the batch size.
    |   |   |--- hessian_t >  6.75  [t2]
    |   |   |   |--- class: small  (regime 2)  Lower the batch size.
    |   |--- mode_connectivity_peak >  -14.00  [t1]
    |   |   |--- class: large  (regime 3)  Raise the batch size.
    <BLANKLINE>
    """
    check_is_fitted(mdtree)
    thresholds = mdtree.thresholds_
    meanings = LABEL_MEANINGS.get(mdtree.hierarchy_.task, {}) if show_actions else {}

    def feature_name(feature):
        if isinstance(feature, str):
            return feature
        names = getattr(mdtree, "feature_names_in_", None)
        return str(names[feature]) if names is not None else f"feature_{feature}"

    def split_sides(split):
        name, thr = feature_name(split.feature), f"{thresholds[split.name]:.{decimals}f}"
        return f"{name} <= {thr}  [{split.name}]", f"{name} >  {thr}  [{split.name}]"

    def leaf_text(leaf, regime):
        label = mdtree.leaf_labels_[regime]
        text = f"class: {label}  (regime {regime})"
        if label in meanings:
            text += f"  {meanings[label].action}"
        if show_weights:
            pairs = ", ".join(
                f"{c}: {w:.{decimals}f}"
                for c, w in zip(mdtree.classes_, mdtree.leaf_class_weight_[regime])
            )
            text += f"  weights: [{pairs}]"
        return text

    lines = rule_lines(mdtree.hierarchy_.root, split_sides, leaf_text)
    return "\n".join(lines) + "\n"
