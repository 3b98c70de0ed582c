"""sklearn-mdtree: diagnose why a trained neural network underperforms.

The MD tree of Zhou et al. (ICML 2024) as scikit-learn estimators: a decision
tree with a fixed hierarchy over loss-landscape metrics whose thresholds alone
are learned, few-shot.

The public names below are imported when first used (:pep:`562`), so that the
command line and :mod:`featurizers`, which need only a few of this package's
modules (the feature vocabulary, file handling), do not pay for the estimator's
and the diagnosis's imports.
"""

from ._lazy import attach

# The installed distribution's version
from ._version import __version__

#: Public name -> the module (relative to this package) that defines it.
_LAZY = {
    # The estimator
    "MDTreeClassifier": "._classes",
    # The fixed hierarchy as data, and the paper's presets
    "Hierarchy": "._hierarchy",
    "Split": "._hierarchy",
    "Leaf": "._hierarchy",
    "PRESETS": "._hierarchy",
    "get_preset": "._hierarchy",
    # Reading a fitted tree
    "export_text": "._export",
    # Diagnosing one's own models: pretrained trees, domain of validity, the report
    "diagnose": ".diagnosis._diagnose",
    "DiagnosisReport": ".diagnosis",
    "OutOfDomainWarning": "._domain",
    "RecipeWarning": ".diagnosis._recipe",
}

__all__ = [
    "MDTreeClassifier",
    "Hierarchy",
    "Split",
    "Leaf",
    "PRESETS",
    "get_preset",
    "export_text",
    "diagnose",
    "DiagnosisReport",
    "OutOfDomainWarning",
    "RecipeWarning",
    "__version__",
]


#: Public submodules, imported when first used as attributes (``import sklearn_mdtree``
#: then ``sklearn_mdtree.diagnosis.recommend``), as scikit-learn does for its own.
_SUBMODULES = ("calibration", "compare", "datasets", "diagnosis", "model_selection",
               "one_step", "plotting", "pretrained", "rfi")


__getattr__, __dir__ = attach(__name__, _LAZY, _SUBMODULES)
