"""sklearn-mdtree: diagnose why a trained neural network underperforms.

The MD tree of Zhou et al. (ICML 2024) as scikit-learn estimators: a decision
tree with a fixed hierarchy over loss-landscape metrics whose thresholds alone
are learned, few-shot.
"""

# The estimator
from ._classes import MDTreeClassifier

# The fixed hierarchy as data, and the paper's presets
from ._hierarchy import PRESETS, Hierarchy, Leaf, Split, get_preset

# Reading a fitted tree
from ._export import export_text

# Diagnosing one's own models: pretrained trees, domain of validity, the report
from ._domain import OutOfDomainWarning
from .diagnosis import DiagnosisReport
from .diagnosis._recipe import RecipeWarning
from .diagnosis._diagnose import diagnose

# The installed distribution's version
from ._version import __version__

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
