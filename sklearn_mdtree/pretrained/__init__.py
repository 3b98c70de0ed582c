"""Pretrained MD trees, shipped as plain JSON data, with their domain of validity.

Each tree is one JSON document in this package's ``data`` folder: the hierarchy with
its fitted thresholds and the bounds searched, the leaf labels and training class
counts, the training-set distribution of every feature the splits use (range,
quantiles, mean and standard deviation), the number of training configurations,
their provenance and the package version. :func:`load_tree` reads one into a fitted
:class:`~sklearn_mdtree.MDTreeClassifier` without unpickling anything.

Shipped trees (``benchmarks/make_pretrained.py`` regenerates each file exactly):

- ``"cifar10-resnet18-q1"``, ``"cifar10-resnet18-q1-similarity"``,
  ``"cifar10-resnet18-q2"``: fitted on all of the public collection F (ResNet-18
  on CIFAR-10), the paper's bounds.
- No digits-MLP tree is shipped. ``"digits-mlp-q1"`` and ``"digits-mlp-q2"`` are
  fitted on the default zoo of :mod:`featurizers.zoo` (MLPs on scikit-learn's
  digits, data bounds) and measured by ``benchmarks/make_pretrained.py``, which
  writes a tree only when its held-out accuracy on the noisy-label rows clearly
  beats a constant answer; neither does (figures: benchmarks/README.md). The
  zoo's feature table ships (``digits-zoo-features.csv``) so that they can be
  refitted, with the record of the machine that made it
  (``digits-zoo-features.machine.json``, not a tree); :func:`available_trees`
  lists what this installation has.

Each file records the tree's out-of-fold accuracy per regime, keep-as-is per leaf,
the recipe of its training features and its held-out validity on the transfer it
is meant for (clean -> noisy labels); :func:`sklearn_mdtree.diagnose` reports them.

A family name (``"cifar10-resnet18"``) stands for its ``-q1`` and ``-q2`` trees in
:func:`sklearn_mdtree.diagnose`.
"""

from __future__ import annotations

import json
from importlib import resources

from ._io import PretrainedTree, tree_from_dict, tree_to_dict

__all__ = [
    "PretrainedTree",
    "available_trees",
    "load_tree",
    "resolve_family",
    "tree_from_dict",
    "tree_to_dict",
]

_DATA = "data"


def _data_folder():
    return resources.files(__name__).joinpath(_DATA)


def available_trees():
    """Names of the trees shipped with this installation, sorted.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> from sklearn_mdtree.pretrained import available_trees
    >>> "cifar10-resnet18-q1" in available_trees()
    True
    """
    from ._recipes import ZOO_TABLE_MACHINE

    return sorted(
        entry.name[: -len(".json")]
        for entry in _data_folder().iterdir()
        if entry.name.endswith(".json") and entry.name != ZOO_TABLE_MACHINE
    )


def load_tree(name):
    """Load a shipped tree by name.

    Parameters
    ----------
    name : str
        One of :func:`available_trees`, e.g. ``"cifar10-resnet18-q1"``.

    Returns
    -------
    tree : PretrainedTree
        ``tree.estimator`` is the fitted :class:`~sklearn_mdtree.MDTreeClassifier`;
        ``tree.distribution`` its training distribution.

    Raises
    ------
    ValueError
        If no tree of that name is shipped (the message lists those that are).

    Examples
    --------
    >>> from sklearn_mdtree.pretrained import load_tree
    >>> tree = load_tree("cifar10-resnet18-q1")
    >>> tree.task, [s.feature for s in tree.estimator.hierarchy_.splits()]
    ('bs_failure', ['train_error', 'mode_connectivity_peak', 'hessian_t'])
    """
    names = available_trees()
    if isinstance(name, str) and name not in names:
        from ._recipes import NOT_SHIPPED

        withheld = [n for n in NOT_SHIPPED if n == name or n.startswith(f"{name}-q")]
        if withheld:
            raise ValueError(
                f"The pretrained tree {name!r} is not shipped: {withheld} did not clearly "
                "beat a constant answer on their held-out set (benchmarks/make_pretrained.py "
                f"measures them). Shipped trees are {names}; or fit a tree on your own "
                "table (fit_on / mdtree diagnose --fit-on)."
            )
    if not isinstance(name, str) or name not in names:
        raise ValueError(
            f"Unknown pretrained tree {name!r}. Shipped trees are {names}; a family name "
            f"{sorted(_families(names))} stands for its -q1 and -q2 trees in diagnose."
        )
    text = _data_folder().joinpath(f"{name}.json").read_text(encoding="utf-8")
    return PretrainedTree(json.loads(text))


def _families(names):
    return {n[: -len("-q1")] for n in names if n.endswith("-q1")}


def resolve_family(name):
    """The Q1 and Q2 tree names a name stands for.

    Parameters
    ----------
    name : str
        A family (``"cifar10-resnet18"``: its ``-q1`` and ``-q2`` trees) or a tree
        name (a Q1 tree alone, or a Q2 tree alone).

    Returns
    -------
    q1, q2 : str or None
        Shipped tree names; None where the name gives none.

    Examples
    --------
    >>> from sklearn_mdtree.pretrained import resolve_family
    >>> resolve_family("cifar10-resnet18")
    ('cifar10-resnet18-q1', 'cifar10-resnet18-q2')
    >>> resolve_family("cifar10-resnet18-q2")
    (None, 'cifar10-resnet18-q2')
    """
    names = available_trees()
    if name in _families(names):
        q2 = f"{name}-q2"
        return f"{name}-q1", (q2 if q2 in names else None)
    tree = load_tree(name)  # raises for an unknown name
    return (name, None) if tree.task == "bs_failure" else (None, name)
