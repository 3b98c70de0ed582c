"""From trained models to features and to a diagnosis, in one call each.

:func:`featurize_checkpoints` is what ``mdtree featurize`` does (model groups from a
factory, checkpoint files and data, then one row of loss-landscape features per
group); :func:`diagnose_models` is ``mdtree featurize`` then ``mdtree diagnose``: model
groups in, the :class:`~sklearn_mdtree.DiagnosisReport` out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from sklearn_mdtree._vocabulary import DEFAULT_FEATURES, PAIRWISE_FEATURES

from ._transformers import LossLandscapeFeaturizer
from .checkpoints import load_model_group

__all__ = ["diagnose_models", "featurize_checkpoints"]


def _n_classes(group):
    """Distinct labels of a group's training data (NaN when they cannot be read)."""
    try:
        labels = torch.cat([y.reshape(-1) for _, y in group._train.batches(4096)])
        return int(torch.unique(labels).numel())
    except Exception:  # an unusual dataset: the training check then notes it lacks it
        return float("nan")


def _annotate(table, groups, featurizer):
    """The table with the ``n_classes`` and ``feature_recipe`` columns the diagnosis
    reads (its training check, its recipe check)."""
    from sklearn_mdtree.diagnosis._kinds import recipe_text
    from sklearn_mdtree.diagnosis._recipe import FeatureRecipe

    table = table.copy()
    table["n_classes"] = [_n_classes(g) for g in groups]
    table["feature_recipe"] = recipe_text(FeatureRecipe.from_featurizer(featurizer))
    return table


def featurize_checkpoints(model, checkpoints, train_data, *, names=None, features=None,
                          model_kwargs=None, data_kwargs=None, curve_epochs=50,
                          n_pairs="all", random_state=0, return_se=True,
                          **featurizer_params):
    """Loss-landscape features of model groups given as checkpoint files.

    Parameters
    ----------
    model : str or callable
        The architecture's factory (``"package.module:function"`` or a callable),
        as for :func:`~featurizers.checkpoints.load_model_group`.
    checkpoints : list of list of path
        One list of state-dict files per group (the models of one configuration,
        two or more seeds for the pairwise features).
    train_data : str, path-like, Dataset, tuple or dict
        The training data (:func:`~featurizers.checkpoints.load_data`), shared by
        every group; or a dict mapping each group's name to its own training data.
    names : list of str, default=None
        The groups' names (the table's index); ``group0``, ``group1``, ... by default.
    features : list of str, default=None
        The features (default: ``train_error``, ``mode_connectivity_peak``,
        ``hessian_t``, ``CKA``).
    model_kwargs, data_kwargs : dict, default=None
        Keyword arguments of the model factory and of a data factory.
    curve_epochs, n_pairs, random_state, return_se, **featurizer_params
        As for :class:`LossLandscapeFeaturizer` (``hessian_batch_size``,
        ``trace_method``, ...).

    Returns
    -------
    table : pandas.DataFrame
        One row per group, indexed by name (index name ``group``), with each feature
        and, with ``return_se``, its standard error ``<feature>_se``; then
        ``n_classes`` (distinct training labels: the diagnosis's training check)
        and ``feature_recipe`` (the featurizer's settings as compact JSON: the
        diagnosis's recipe check).

    Raises
    ------
    CheckpointError
        A file, the factory or the data is wrong (the first problem is named).
    ValueError
        A group has one checkpoint but a pairwise feature is asked for.
    """
    if isinstance(checkpoints, (str, bytes)) or not isinstance(checkpoints, Sequence) or any(
            isinstance(p, (str, bytes)) or not isinstance(p, Sequence) for p in checkpoints):
        raise TypeError(
            "The 'checkpoints' parameter must be a list of lists of checkpoint files (one "
            f"list per group); got {type(checkpoints).__name__}"
            + ("" if isinstance(checkpoints, (str, bytes)) or not isinstance(
                checkpoints, Sequence) else " of single files") + "."
        )
    features = list(features or DEFAULT_FEATURES)
    names = list(names or [f"group{i}" for i in range(len(checkpoints))])
    pairwise = [f for f in features if f in PAIRWISE_FEATURES]
    if isinstance(train_data, Mapping):
        missing = [n for n in names if n not in train_data]
        if missing:
            raise ValueError(
                f"train_data: a dict must give the data of every group {names}; it has "
                f"none for {missing} (its keys: {list(train_data)})"
            )
        per_group = [train_data[n] for n in names]
    else:
        per_group = [train_data] * len(names)
    groups = []
    for name, paths, data in zip(names, checkpoints, per_group):
        if pairwise and len(paths) < 2:
            raise ValueError(
                f"group {name!r} has 1 checkpoint, but the pairwise feature(s) "
                f"{pairwise} need two or more (models of different seeds)"
            )
        groups.append(load_model_group(model, paths, data, model_kwargs=model_kwargs,
                                       data_kwargs=data_kwargs, name=name))
    featurizer_params.setdefault("verbose", 0)
    featurizer = LossLandscapeFeaturizer(
        features, curve_epochs=curve_epochs, n_pairs=n_pairs, random_state=random_state,
        return_se=return_se, **featurizer_params,
    ).set_output(transform="pandas")
    table = _annotate(featurizer.fit_transform(groups), groups, featurizer)
    table.index = list(names)
    table.index.name = "group"
    return table


def diagnose_models(groups, *, tree=None, q2_tree="auto", fit_on=None, features=None,
                    optimizer="batch size", borderline=2.0, warn=True, **featurizer_params):
    """Diagnose model groups: featurize them, then :func:`sklearn_mdtree.diagnose`.

    The Python twin of ``mdtree featurize`` followed by ``mdtree diagnose``.

    Parameters
    ----------
    groups : list of ModelGroup or dict of str to ModelGroup
        The groups (each the models of one configuration; see
        :func:`~featurizers.checkpoints.load_model_group` to build one from
        checkpoint files). The report names each by its dict key, else its
        ``name``, else its position.
    tree, q2_tree, fit_on, optimizer, borderline, warn
        As for :func:`sklearn_mdtree.diagnose`.
    features : list of str, default=None
        The features to compute: by default ``train_error``,
        ``mode_connectivity_peak``, ``hessian_t`` and ``CKA`` (what the shipped trees
        read and their domain checks weigh).
    **featurizer_params
        Further parameters of :class:`LossLandscapeFeaturizer` (``curve_epochs``,
        ``n_pairs``, ``random_state``, ``n_jobs``, ...).

    Returns
    -------
    report : sklearn_mdtree.DiagnosisReport
        The features carry ``n_classes`` and ``feature_recipe`` columns, so the
        report's training check and recipe check run.
    """
    from sklearn_mdtree import diagnose

    if isinstance(groups, dict):
        names, groups = list(groups), list(groups.values())
    else:
        groups = list(groups)
        names = [g.name if getattr(g, "name", None) is not None else i
                 for i, g in enumerate(groups)]
    featurizer_params.setdefault("verbose", 0)
    featurizer = LossLandscapeFeaturizer(
        list(features or DEFAULT_FEATURES), return_se=True, **featurizer_params
    ).set_output(transform="pandas")
    table = _annotate(featurizer.fit_transform(groups), groups, featurizer)
    table.index = names
    table.index.name = "group"
    return diagnose(table, tree, q2_tree=q2_tree, fit_on=fit_on, optimizer=optimizer,
                    borderline=borderline, warn=warn)
