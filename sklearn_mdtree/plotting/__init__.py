"""Pictures of the MD tree: the fitted tree, its regimes, the evidence, the results.

- :class:`TreeDisplay` and :func:`plot_tree`: the fitted hierarchy as a diagram
  (the paper's Figure 4a);
- :class:`RegimesDisplay` and :func:`plot_regimes`: the samples in the plane of the
  lower splits' metrics, with the learned thresholds and the regimes (Figures 4b-e);
  :func:`plot_model_position`: one model among the regimes, with its uncertainty;
- :func:`plot_connectivity_curve` and :func:`plot_trace_estimates`: the evidence
  behind two features, from the featurizers' outputs;
- :func:`plot_accuracy_curves` and :func:`plot_one_step_gains`: diagnosis accuracy
  and one-step gains, ours beside the paper's (the reproduction report).

matplotlib is an optional dependency (``pip install sklearn-mdtree[plot]``); it is
imported when something is drawn, never at import time. Every function draws on
a given ``ax`` (or figure) and returns what it drew; legends sit outside the data.
The Display objects follow scikit-learn's (:mod:`sklearn.inspection`):
``from_estimator`` computes and draws, ``plot(ax=...)`` draws again and keeps the
artists as attributes.

Modules (private): ``_common`` (the lazy matplotlib import, labels, colours),
``_tree``, ``_regimes``, ``_curves`` and ``_evidence``, one per subject.
"""

from ._curves import plot_accuracy_curves, plot_one_step_gains
from ._evidence import plot_connectivity_curve, plot_trace_estimates
from ._regimes import RegimesDisplay, plot_model_position, plot_regimes
from ._tree import TreeDisplay, plot_tree

__all__ = [
    # the fitted tree and its regimes
    "TreeDisplay",
    "RegimesDisplay",
    "plot_tree",
    "plot_regimes",
    "plot_model_position",
    # the evidence behind the features
    "plot_connectivity_curve",
    "plot_trace_estimates",
    # results
    "plot_accuracy_curves",
    "plot_one_step_gains",
]
