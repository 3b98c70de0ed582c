"""scikit-learn transformers that turn model groups into feature rows.

Each transformer takes a list of :class:`~featurizers.ModelGroup` and returns one
row per group. They check their parameters and the groups, give each group its
own random streams, loop over the groups (in joblib workers with ``n_jobs``, see
:mod:`featurizers._parallel`) and call the documented functions of
:mod:`featurizers.connectivity` and the per-model recipes of
:mod:`featurizers.hessian` (``_model_sharpness``) and :mod:`featurizers.similarity`
(``_group_cka``); what stays here is the averaging over each group's models and
the policy for NaN and for the log of a non-positive mean. The definitions match
the public MD tree collections (means over each group's seeds, errors in percent,
natural logs).
"""

# The shared base: checks, the loop over groups, NaN policy, cache, threads, progress
from ._base import FeaturizationWarning

# One module per featurizer
from ._hyperparameters import HyperparameterFeaturizer
from ._landscape import LossLandscapeFeaturizer
from ._validation import ValidationFeaturizer

__all__ = [
    "FeaturizationWarning",
    "HyperparameterFeaturizer",
    "LossLandscapeFeaturizer",
    "ValidationFeaturizer",
]
