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
from .diagnosis._diagnose import diagnose


def _version():
    """The installed distribution's version (set once, in pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sklearn-mdtree")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"


__version__ = _version()

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
    "__version__",
]
