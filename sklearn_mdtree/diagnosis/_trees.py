"""Choosing the trees of a diagnosis: load a shipped tree or a tree file once, or fit
the trees on a labelled table (the user's, or the public collection F).

Every route hands :func:`~sklearn_mdtree.diagnose` the same kind of object, a
:class:`~sklearn_mdtree.pretrained.PretrainedTree` (the fitted estimator and, when
known, its training domain), so every route gets the same domain checks and margins.
"""

from __future__ import annotations

import pandas as pd

from .._classes import MDTreeClassifier
from .._vocabulary import Q1_TASK
from ..pretrained._io import PretrainedTree

__all__ = []

#: The tree of ``diagnose(X)`` when neither a tree nor a table is given.
DEFAULT_TREE = "cifar10-resnet18"


def as_tree(tree, what):
    """A tree name, a PretrainedTree or a fitted MDTreeClassifier as a PretrainedTree.

    A name is loaded (once, here); a bare estimator is wrapped without a domain.
    """
    from ..pretrained import load_tree

    if isinstance(tree, str):
        return load_tree(tree)
    if isinstance(tree, PretrainedTree):
        return tree
    if isinstance(tree, MDTreeClassifier):
        return PretrainedTree.from_estimator(tree)
    raise TypeError(
        f"The '{what}' parameter of diagnose must be a tree name, a PretrainedTree or a "
        f"fitted MDTreeClassifier. Got {type(tree).__name__} instead."
    )


def fit_trees(table, *, q2=True, q1_preset="q1_sharpness", q2_preset="q2_width",
              search="brent"):
    """Q1 (and Q2 if asked and the label is there) fitted on a labelled table.

    The paper's ``q1_preset`` and ``q2_preset`` hierarchies (by default
    ``"q1_sharpness"`` and ``"q2_width"``; ``"q2_data"`` asks whether the data is too
    little, from a ``data_vs_batch`` column) with data bounds and the ``search`` of
    the thresholds, rows labelled ``"optimal"`` left out; each tree keeps its
    training domain. Returns ``[q1, q2]`` (``q2`` None when not fitted).
    """
    from .._hierarchy import get_preset
    from ..pretrained._recipes import training_rows

    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            "The 'fit_on' parameter of diagnose must be a pandas DataFrame of labelled "
            f"configurations. Got {type(table).__name__} instead."
        )
    if Q1_TASK not in table.columns:
        raise ValueError(
            "The 'fit_on' table of diagnose needs a 'bs_failure' label column (Q1); got "
            f"columns {list(table.columns)}."
        )
    trees = []
    for label, preset in ((Q1_TASK, q1_preset), (get_preset(q2_preset).task, q2_preset)):
        if label != Q1_TASK and (not q2 or label not in table.columns):
            trees.append(None)
            continue
        train = training_rows(table, label, source="user")
        est = MDTreeClassifier(preset, bounds="data", threshold_search=search).fit(
            train, train[label])
        routed = table[table[label].notna()]
        trees.append(PretrainedTree.from_estimator(
            est, train, name=f"fitted on the given table ({label})",
            description=f"{preset} with data bounds, {search} threshold search",
            **measured(est, train, train[label], routed, routed[label]),
        ))
    return trees


def fit_on_collection(frame, *, q1_preset="q1", search="brent", scheme="all", k=8,
                      seed=42, q2=False, q2_scheme=None, q2_k=None, q2_preset="q2"):
    """The trees of ``mdtree diagnose`` without ``--tree``: fitted on F at run time.

    ``frame`` is the public collections (:func:`~sklearn_mdtree.datasets.fetch_model_diagnosis`);
    ``scheme`` draws the training rows as :class:`~sklearn_mdtree.model_selection.FewShotTransfer`
    does (``"all"``: every non-optimal model of F). Returns ``[q1, q2]`` as
    PretrainedTrees with their training domain (``q2`` None unless ``q2``). The Q2
    tree's ``q2_preset`` is ``"q2"`` (width or optimizer?) or ``"q2_data"`` (data or
    optimizer?, from F's ``data_vs_batch`` labels).
    """
    from .._hierarchy import get_preset
    from ..model_selection import _training_rows

    specs = [("bs_failure", q1_preset, scheme, k)]
    if q2:
        specs.append((get_preset(q2_preset).task, q2_preset, q2_scheme or scheme,
                      k if q2_k is None else q2_k))
    trees = [None, None]
    for i, (label, preset, tree_scheme, tree_k) in enumerate(specs):
        rows = _training_rows(frame, tree_scheme, tree_k, label=label, seed=seed)
        train = frame.iloc[rows]
        est = MDTreeClassifier(preset, threshold_search=search).fit(train, train[label])
        pool = frame[frame["collection"] == "normal"] if "collection" in frame else frame
        drawn = "all" if tree_scheme == "all" else (
            f"{tree_scheme}, k={tree_k}" + (f", seed={seed}" if tree_scheme.startswith("random")
                                            else ""))
        trees[i] = PretrainedTree.from_estimator(
            est, train, name=f"{preset} on F",
            description=f"The {preset} hierarchy, {search} threshold search, fitted at run "
            f"time on the public collection F ({drawn}).",
            feature_recipe=_collection_recipe(),
            **measured(est, train, train[label], pool, pool[label]),
        )
    return trees


def _collection_recipe():
    """The feature recipe of the public collections, as the shipped cifar10 trees record."""
    from ..pretrained._recipes import FEATURE_RECIPES

    fields = ("curve_epochs", "curve_init", "n_pairs", "hessian_batch_size", "trace_method",
              "trace_matvecs", "version")
    return dict({f: None for f in fields}, **FEATURE_RECIPES["F"])


def measured(estimator, train, labels, routed, routed_labels):
    """A tree fitted at run time measures its own accuracy per regime by 5-fold
    cross-validation (about 0.1 s on F) and its keep-as-is per leaf from the labelled
    rows, those labelled ``"optimal"`` included: the records of
    :func:`~sklearn_mdtree.diagnosis._validity.tree_evidence`. A training set too small
    to cross-validate gives none (the report then says the tree's accuracy is unknown).
    """
    from ._validity import tree_evidence

    try:
        return tree_evidence(estimator, train, labels.to_numpy(), routed=routed,
                             routed_labels=routed_labels.to_numpy())
    except ValueError:
        return {}


def not_shipped_note(tree, q2_tree):
    """A note when a family is diagnosed with Q1 alone because its Q2 tree was not
    shipped (it did not beat a constant answer on its held-out set); else None."""
    from ..pretrained import available_trees
    from ..pretrained._recipes import NOT_SHIPPED

    if not (isinstance(tree, str) and isinstance(q2_tree, str) and q2_tree == "auto"):
        return None
    q2 = f"{tree}-q2"
    if q2 in NOT_SHIPPED and q2 not in available_trees():
        return (f"Q1 alone: no Q2 tree of the {tree} family beat a constant answer on its "
                f"held-out set ({q2} is not shipped), so width and data are not weighed "
                "against the optimizer")
    return None


def choose_trees(tree, q2_tree, fit_on):
    """The ``[q1, q2]`` PretrainedTrees of a diagnosis (``q2`` None: Q1 alone)."""
    from ..pretrained import resolve_family

    if fit_on is not None:
        if tree is not None:
            raise ValueError(
                "The 'tree' and 'fit_on' parameters of diagnose are exclusive: pass a tree, "
                "or a labelled table to fit one on, not both."
            )
        return fit_trees(fit_on, q2=q2_tree is not None)
    tree = DEFAULT_TREE if tree is None else tree
    family_q2 = None
    if isinstance(tree, str):
        q1_name, family_q2 = resolve_family(tree)
        if q1_name is None:
            raise ValueError(
                f"The 'tree' parameter of diagnose must name a Q1 tree or a family; "
                f"{tree!r} is a Q2 tree (pass it as q2_tree)."
            )
        tree = q1_name
    q1 = _check_question(as_tree(tree, "tree"), "tree", q1=True)
    if isinstance(q2_tree, str) and q2_tree == "auto":
        q2_tree = family_q2
    q2 = None if q2_tree is None else _check_question(as_tree(q2_tree, "q2_tree"), "q2_tree",
                                                      q1=False)
    return [q1, q2]


def _check_question(tree, what, *, q1):
    """``tree``, unless it answers the other question: a Q1 tree as ``q2_tree`` (or a Q2
    tree as ``tree``) is named, with the parameter to pass it as."""
    if (tree.task == Q1_TASK) != q1:
        kind, other = ("Q1", "tree") if tree.task == Q1_TASK else ("Q2", "q2_tree")
        raise ValueError(
            f"The {what!r} parameter of diagnose must be a {'Q1' if q1 else 'Q2'} tree; "
            f"got {tree.name!r}, a {kind} tree (task {tree.task!r}): pass it as {other}."
        )
    return tree


def summary(tree, records=None):
    """The report's description of one tree (``DiagnosisReport.trees``): its name,
    description, task, training size, and what it records of its own validity
    (``validity``: held-out accuracy on the transfer it is meant for;
    ``regime_accuracy``: overall out-of-fold accuracy; ``feature_recipe``), None
    where it records none."""
    accuracy = validity = recipe = None
    if records is not None:
        if records.accuracy is not None:
            a = records.accuracy
            accuracy = {"n": a.n, "n_correct": a.n_correct, "accuracy": a.accuracy,
                        "interval": list(a.interval),
                        "constant_accuracy": a.constant_accuracy, "n_splits": a.n_splits,
                        "text": a.to_text().splitlines()[0]}
        if records.validity is not None:
            validity = dict(records.validity.to_dict(), text=records.validity.to_text())
        if records.recipe is not None:
            recipe = records.recipe.to_dict()
    return {
        "name": tree.name,
        "description": tree.description,
        "task": tree.estimator.hierarchy_.task,
        "n_training_configurations": tree.n_training_configurations,
        "regime_accuracy": accuracy,
        "validity": validity,
        "feature_recipe": recipe,
    }
