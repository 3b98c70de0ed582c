"""False alarms of the domain checks: held-out configurations of a tree's own population.

A domain check is only useful if models like the training models pass it. For each
family of shipped trees (the ResNet-18 / CIFAR-10 trees on F, the digits-MLP trees on
the default zoo's clean-label configurations) this script measures the share of
held-out configurations that :func:`sklearn_mdtree.diagnose` (Q1 and Q2 trees) flags
out of domain, in all and by check (``range``, ``regime``, ``joint``):

- **cross-validation**: the trees (the shipped recipe: preset, bounds, rows) and their
  domain fitted on four fifths of the clean collection, every configuration of the
  fifth held out diagnosed (5 folds, shuffled, seed 0) -- models drawn exactly like
  the training models;
- **noisy labels**: the shipped trees on the other collection, the same grid trained
  on labels with noise (F' for F, the zoo's ``noise`` configurations for the zoo) -- a
  neighbouring population, not the same one.

In the same run, two alternatives: the checks shipped before the joint check (the
range and regime checks of the features the paths read), and the range check of
every feature instead of the joint check (the design not adopted: on a small training
set, a model drawn like the training models falls outside one of several ranges
often -- about ``2 / (n + 1)`` per feature for ``n`` training configurations).

Usage::

    python -m benchmarks.bench_domain
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

import sklearn_mdtree
from sklearn_mdtree import MDTreeClassifier
from sklearn_mdtree.pretrained import PretrainedTree, available_trees, load_tree
from sklearn_mdtree.pretrained._recipes import RECIPES, read_zoo_table, training_rows

FAMILIES = {"cifar10-resnet18": "F", "digits-mlp": "digits-zoo"}
CHECKS = ("range", "regime", "joint")


def _shares(report):
    """Share (%) of groups flagged: as shipped, by check, and by the two alternatives."""
    groups = list(report)

    def share(flags):
        return 100 * float(np.mean(list(flags)))

    row = {"n": len(groups), "flagged (%)": share(g.out_of_domain for g in groups)}
    for check in CHECKS:
        row[f"{check} (%)"] = share(check in g.out_of_domain_checks for g in groups)
    # before the joint check: the path's features against the range and the regime
    row["before: range + regime (%)"] = share(bool(g.out_of_domain_features) for g in groups)
    # the alternative not shipped: every feature's range instead of the joint check
    row["every feature's range + regime (%)"] = share(
        bool(g.out_of_domain_features) or any(f.in_domain is False for f in g.features)
        for g in groups)
    return row


def _fit(name, train):
    recipe = RECIPES[name]
    rows = training_rows(train, recipe["label"], recipe["source"])
    tree = MDTreeClassifier(recipe["preset"], bounds=recipe["bounds"])
    tree.fit(rows, rows[recipe["label"]])
    return PretrainedTree.from_estimator(tree, rows, name=f"{name} (fold)")


def _shipped_or_fit(name, clean):
    """The shipped tree, or (not shipped, as the digits trees) its recipe fitted on the
    clean collection as make_pretrained fits it."""
    return load_tree(name) if name in available_trees() else _fit(name, clean)


def _diagnose(X, q1, q2):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn_mdtree.OutOfDomainWarning)
        return sklearn_mdtree.diagnose(X, q1, q2_tree=q2, warn=False)


def evaluate(frames, n_splits=5, seed=0):
    """One row per (family, held-out set)."""
    rows = []
    for family, source in FAMILIES.items():
        frame = frames[source]
        clean = frame[frame["collection"] == "normal"].reset_index(drop=True)
        noisy = frame[frame["collection"] == "noise"]
        folds = KFold(n_splits, shuffle=True, random_state=seed).split(clean)
        flags = []
        for train, test in folds:
            # the fold's clean rows, with the noisy collection beside them: the recipe's
            # rows (training_rows) are the clean ones, picked as from the whole frame,
            # which must hold both collections
            part = pd.concat([clean.iloc[train], noisy])
            report = _diagnose(clean.iloc[test], _fit(f"{family}-q1", part),
                               _fit(f"{family}-q2", part))
            flags.extend(report)
        rows.append({"trees": family, "held out": f"{n_splits}-fold CV of the clean "
                     "collection", **_shares(flags)})
        report = _diagnose(noisy, _shipped_or_fit(f"{family}-q1", frame),
                           _shipped_or_fit(f"{family}-q2", frame))
        rows.append({"trees": family, "held out": "noisy-label collection", **_shares(report)})
    return pd.DataFrame(rows).set_index(["trees", "held out"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    from sklearn_mdtree.datasets import fetch_model_diagnosis

    frames = {"F": fetch_model_diagnosis("both").frame, "digits-zoo": read_zoo_table()}
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(evaluate(frames).round(1))


if __name__ == "__main__":
    main()
