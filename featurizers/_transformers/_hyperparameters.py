"""Log data amount and log parameter count of model groups (the hyperparameter features)."""

from __future__ import annotations

import math
from numbers import Real

from sklearn_mdtree._vocabulary import HYPERPARAMETER_FEATURES

from ._base import _GroupFeaturizer

__all__ = ["HyperparameterFeaturizer"]


class HyperparameterFeaturizer(_GroupFeaturizer):
    """Log data amount and log parameter count of model groups.

    ``log_data_amount`` is ``ln`` of ``metadata["data_amount"]`` when the group
    has it (a positive finite number; a bool is refused), else of the training set
    size; ``log_para_amount`` is ``ln`` of the number of parameters of one model
    (all of them, as the collections count). No model is run.

    Parameters
    ----------
    features : list of str, default=("log_data_amount", "log_para_amount")
        Output columns, in order.

    Attributes
    ----------
    features_ : tuple of str
        Output columns, set by ``fit``.
    n_groups_fit_ : int
        Number of groups seen by ``fit``.

    Examples
    --------
    >>> import torch
    >>> from featurizers import HyperparameterFeaturizer, ModelGroup
    >>> X, y = torch.randn(40, 4), torch.randint(0, 3, (40,))
    >>> group = ModelGroup([torch.nn.Linear(4, 3)], (X, y), metadata={"data_amount": 1000})
    >>> HyperparameterFeaturizer().fit_transform([group]).round(3)
    array([[6.908, 2.708]])
    """

    _all_features = HYPERPARAMETER_FEATURES
    _uses_torch = False
    _parameter_constraints: dict = {"features": [list, tuple]}

    def __init__(self, features=("log_data_amount", "log_para_amount")):
        self.features = features

    def _group_values(self, group, index, features, device, seed):
        amount = group.metadata.get("data_amount", group.n_train_samples)
        if (
            isinstance(amount, bool)
            or not isinstance(amount, Real)
            or not 0 < amount < math.inf
        ):
            raise ValueError(
                f"{type(self).__name__}: metadata['data_amount'] of {group._label(index)} must "
                f"be a positive finite number (a count of samples, not a bool); got "
                f"{amount!r}."
            )
        values = {"log_data_amount": math.log(amount)}
        if "log_para_amount" in features:  # parameter-free models are refused then
            values["log_para_amount"] = math.log(group.n_parameters)
        return values, set()
