"""Diagnosis calibrated on a lattice of the user's own model family (torch-free).

:class:`CalibratedDiagnoser` is fitted on a labelled lattice table (one row per
configuration of the user's family: loss-landscape features, the ``data_fraction``
the configuration uses, and its measured one-step action). It chooses by grouped
cross-validation on the lattice among four candidates -- the MD tree with the
paper's fixed leaves, the MD tree's hierarchy with leaf labels learned from the
lattice, a free depth-limited decision tree and a k-nearest-neighbour model --
reports which won and by how much, and abstains where a group is far from the
lattice or where its confidence (the chosen model's out-of-fold accuracy in its
region) is below a threshold chosen on the lattice alone, by nested grouped CV, for
a target accuracy (``target_accuracy``).

For ``mdtree diagnose --tree calibrated.json`` (to be wired in the command line):
:func:`is_calibration_file` tells such a file from a tree file, :func:`load_calibrated`
reads it (one-line :class:`CalibrationFileError` otherwise), and
:meth:`CalibratedDiagnoser.report` gives per group the verdict, its reason, its
confidence, the domain distance and the chosen model's cross-validated accuracy
(``cv_accuracy``: state it in the report), while :meth:`CalibratedDiagnoser.summary`
is the paragraph on which candidate won and by how much.

The whole fitted diagnoser is one JSON document (:meth:`CalibratedDiagnoser.to_json`,
:func:`load_calibrated`); the torch side that builds and labels the lattice is
:func:`featurizers.calibrate`.
"""

from ._diagnoser import (
    ACTIONS,
    CANDIDATES,
    DEFAULT_FEATURES,
    REGION_SIZES,
    AbstentionScore,
    CalibratedDiagnoser,
    CandidateScore,
)
from ._io import FORMAT, CalibrationFileError, is_calibration_file, load_calibrated

__all__ = [
    "ACTIONS",
    "AbstentionScore",
    "CANDIDATES",
    "DEFAULT_FEATURES",
    "FORMAT",
    "REGION_SIZES",
    "CalibratedDiagnoser",
    "CalibrationFileError",
    "CandidateScore",
    "is_calibration_file",
    "load_calibrated",
]
