"""What the pictures share: the lazy matplotlib import, labels, colours, legends.

matplotlib is imported by :func:`_pyplot`, when something is drawn, never when
:mod:`sklearn_mdtree.plotting` is imported.
"""

from __future__ import annotations

import numpy as np
from .._vocabulary import FEATURE_LABELS


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


#: Axis labels (with units) of the metrics: the package's one vocabulary.
_METRIC_LABELS = FEATURE_LABELS

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


def _check_fitted_tree(clf, caller, name="clf"):
    from sklearn.utils.validation import check_is_fitted

    from .._classes import MDTreeClassifier

    if not isinstance(clf, MDTreeClassifier):
        raise TypeError(
            f"The '{name}' parameter of {caller} must be a fitted MDTreeClassifier. "
            f"Got {type(clf).__name__} instead."
        )
    check_is_fitted(clf)


def _blend(colour, alpha):
    """``colour`` mixed with white (an opaque face colour, so edges do not show through)."""
    from matplotlib.colors import to_rgb

    rgb = np.asarray(to_rgb(colour))
    return tuple(1 - alpha * (1 - rgb))


def _outside_legend(fig, handles, labels, title=None):
    """A figure legend right of the panels, never over the data."""
    if _constrained(fig):
        return fig.legend(handles, labels, loc="outside right upper", fontsize="small",
                          title=title)
    return fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                      fontsize="small", title=title)


def _constrained(fig):
    engine = fig.get_layout_engine()
    return engine is not None and type(engine).__name__ == "ConstrainedLayoutEngine"

