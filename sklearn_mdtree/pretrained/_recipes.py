"""How each shipped tree is fitted: the training set, the hierarchy, the estimator.

:func:`fit_document` is what ``benchmarks/make_pretrained.py`` writes to
``sklearn_mdtree/pretrained/data/<name>.json`` and what the tests compare the
shipped files with. The digits trees are fitted on the default zoo's feature table,
shipped beside them as ``digits-zoo-features.csv`` (:func:`read_zoo_table`; its
SHA-256 is in each digits document's provenance), so that they can be refitted
exactly without the minutes of training and featurizing the zoo. The machine that
made the table is recorded beside it, in ``digits-zoo-features.machine.json``
(:func:`read_table_machine`).
"""

from __future__ import annotations

import hashlib
import io
from importlib import resources
from types import MappingProxyType

import pandas as pd

from .._classes import MDTreeClassifier
from ..model_selection import _training_rows
from ._io import tree_to_dict

__all__ = ["FEATURE_RECIPES", "NOT_SHIPPED", "RECIPES", "ZOO_TABLE", "ZOO_TABLE_MACHINE",
           "fit_document", "held_out_validity", "machine_provenance", "read_table_machine",
           "read_zoo_table", "table_csv", "table_machine_record", "training_rows"]

#: File name of the default zoo's feature table in the package's ``data`` folder.
ZOO_TABLE = "digits-zoo-features.csv"

#: File name of the record of the machine that made :data:`ZOO_TABLE`, beside it
#: (:func:`table_machine_record`). Not a tree: ``available_trees`` skips it.
ZOO_TABLE_MACHINE = "digits-zoo-features.machine.json"

_F = "F"
_ZOO = "digits-zoo"

#: Tree name -> recipe: ``source`` (``"F"``: the public collection F, ResNet-18 on
#: CIFAR-10; ``"digits-zoo"``: the default zoo of ``featurizers.zoo``), ``preset``
#: (hierarchy), ``label`` (column fitted), ``bounds`` (of MDTreeClassifier), and a
#: description.
RECIPES = MappingProxyType(
    {
        "cifar10-resnet18-q1": dict(
            source=_F, preset="q1_sharpness", label="bs_failure", bounds="hierarchy",
            description="Q1 (temperature too high or too low), sharpness tree, fitted on "
            "all of F: ResNet-18 on CIFAR-10 (Zhou et al. 2024).",
        ),
        "cifar10-resnet18-q1-similarity": dict(
            source=_F, preset="q1_similarity", label="bs_failure", bounds="hierarchy",
            description="Q1 (temperature too high or too low), CKA-similarity tree, "
            "fitted on all of F: ResNet-18 on CIFAR-10 (Zhou et al. 2024).",
        ),
        "cifar10-resnet18-q2": dict(
            source=_F, preset="q2_width", label="width_vs_batch", bounds="hierarchy",
            description="Q2 (model too small, or the optimizer?), fitted on all of F: "
            "ResNet-18 on CIFAR-10 (Zhou et al. 2024).",
        ),
        # not shipped since the reference zoo (issue 21): on the noisy-label rows it is
        # meant for, its interval does not clear a constant answer (see NOT_SHIPPED)
        "digits-mlp-q1": dict(
            source=_ZOO, preset="q1_sharpness", label="bs_failure", bounds="data",
            description="Q1 (temperature too high or too low), sharpness tree, fitted "
            "with data bounds on the default zoo: MLPs on scikit-learn's digits.",
        ),
        # not shipped: on the noisy-label rows it is meant for it scores below a
        # constant answer (make_pretrained refuses it; see NOT_SHIPPED)
        "digits-mlp-q2": dict(
            source=_ZOO, preset="q2_width", label="width_vs_batch", bounds="data",
            description="Q2 (model too small, or the optimizer?), fitted with data "
            "bounds on the default zoo: MLPs on scikit-learn's digits.",
        ),
    }
)

#: Recipes whose tree does not clearly beat a constant answer on its held-out set
#: (:func:`~sklearn_mdtree.diagnosis._shipping.is_shippable`): fitted and measured by
#: ``benchmarks/make_pretrained.py``, never written. A test checks the list.
NOT_SHIPPED = ("digits-mlp-q1", "digits-mlp-q2")

#: How the features of each source were computed (:class:`FeatureRecipe` fields; None:
#: not known, never compared). F: the collections' recipe in the paper, 50 epochs of
#: curve training. The zoo: ``featurizers.zoo.Recipe``'s defaults and the
#: featurizer it builds (50 curve epochs, a 200-sample Hessian batch, the deflated
#: trace estimator with its default probes, curves started at the midpoint). The
#: number of pairs is left out: it changes the noise of the connectivity, not its
#: expectation. The version is left out: neither table records the one that
#: computed it.
FEATURE_RECIPES = MappingProxyType({
    _F: {"curve_epochs": 50},
    _ZOO: {"curve_epochs": 50, "curve_init": "midpoint", "hessian_batch_size": 200,
           "trace_method": "deflated", "trace_matvecs": None},
})

#: The collection a tree is meant to transfer to: trees fitted on clean labels (F,
#: the zoo's ``normal`` rows) are measured on the noisy-label rows (F', the zoo's
#: ``noise`` rows) at k = all the training configurations.
_TRANSFER = {
    _F: "clean -> noisy labels (F -> F'), fitted on all of F",
    _ZOO: "clean -> noisy labels (the zoo's normal -> noise rows), fitted on all clean rows",
}


def training_rows(frame, label, source=_F):
    """The training configurations of a recipe: the rows whose label is not a tie.

    For F and the zoo, the rows of the ``normal`` collection (clean labels: F, not
    F') whose ``label`` is not ``"optimal"`` -- for F, what ``mdtree diagnose
    --scheme all`` fits on (both through
    :func:`sklearn_mdtree.model_selection._training_rows`). For a user's table
    (``source="user"``), every row whose label is not ``"optimal"``, which must hold two
    classes (a ValueError otherwise: a tree fitted on one class answers it for every
    model).
    """
    by_collection = "collection" in frame.columns and source != "user"
    rows = frame.iloc[_training_rows(frame, label=label, by_collection=by_collection)]
    if source == "user":
        classes = pd.unique(rows[label])
        if len(classes) == 1:
            raise ValueError(
                f"The {label!r} column of the table to fit on must hold two classes among "
                f"its rows that are not 'optimal'; all {len(rows)} are {classes[0]!r}, so a "
                f"tree fitted on it would answer {classes[0]!r} for every model. Add "
                "configurations of the other class."
            )
    return rows


def table_csv(frame):
    """The canonical CSV text of a feature table: no index, ``\\n`` line ends.

    Floats are written in their shortest round-trip form, so that
    ``table_csv(read_zoo_table(table_csv(frame)))`` is the same text.
    """
    return frame.to_csv(index=False, lineterminator="\n")


def read_zoo_table(text=None):
    """The default zoo's feature table the digits trees are fitted on.

    Parameters
    ----------
    text : str, default=None
        CSV text of :func:`table_csv`; None reads the shipped
        ``digits-zoo-features.csv``.

    Returns
    -------
    table : pandas.DataFrame
        One row per configuration of the default grid of :mod:`featurizers.zoo`
        (its ``Zoo.featurize()`` table).
    """
    if text is None:
        text = resources.files(__package__).joinpath("data", ZOO_TABLE).read_text(
            encoding="utf-8")
    return pd.read_csv(io.StringIO(text))


def machine_provenance():
    """What a zoo run's floats depend on: the CPU model and the numeric libraries.

    SGD over thousands of steps is chaotic: another CPU (other SIMD kernels, so
    other roundings) or another torch or numpy gives other rows of the zoo's table.
    Recorded beside the table (:data:`ZOO_TABLE_MACHINE`, and
    ``provenance["table_machine"]`` of any digits document) by
    ``benchmarks/make_pretrained.py``, so that a test can tell whether a fresh run
    must give the shipped rows bit for bit.

    Returns
    -------
    machine : dict of str
        ``cpu``, ``machine``, ``system``, ``python``, ``numpy``, ``torch``
        (``None`` without torch).
    """
    import platform

    import numpy as np

    cpu = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle
                        if line.lower().startswith("model name")), None)
    except OSError:
        pass
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    return {
        "cpu": cpu or platform.processor() or None,
        "machine": platform.machine(),
        "system": platform.system(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version,
    }


def table_machine_record(text, machine):
    """The record of the machine that made a zoo table, as written beside it.

    Parameters
    ----------
    text : str
        The table's CSV text (:func:`table_csv`).
    machine : dict
        :func:`machine_provenance` of the run that made it.

    Returns
    -------
    record : dict
        ``file`` (:data:`ZOO_TABLE`), ``sha256`` (of ``text``, so that the record
        names the table it is about), ``machine`` and ``generated_by``.
    """
    return {
        "file": ZOO_TABLE,
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "machine": dict(machine),
        "generated_by": "benchmarks/make_pretrained.py",
    }


def read_table_machine():
    """The shipped record of the machine that made ``digits-zoo-features.csv``.

    Returns
    -------
    record : dict or None
        :func:`table_machine_record` of the shipped table, or None if this
        installation has no record (or one about another table than the shipped
        one: its ``sha256`` differs).
    """
    import json

    folder = resources.files(__package__).joinpath("data")
    entry = folder.joinpath(ZOO_TABLE_MACHINE)
    if not entry.is_file():
        return None
    record = json.loads(entry.read_text(encoding="utf-8"))
    text = folder.joinpath(ZOO_TABLE).read_text(encoding="utf-8")
    if record.get("sha256") != hashlib.sha256(text.encode("utf-8")).hexdigest():
        return None
    return record


def _provenance(recipe, frame):
    if recipe["source"] == _F:
        from ..datasets._registry import COLLECTION_FILES, REGISTRY

        name = COLLECTION_FILES["normal"]
        return {
            "collection": "F (public MD tree collection, ResNet-18 on CIFAR-10)",
            "file": name,
            "sha256": REGISTRY[name],
            "rows": f"collection 'normal', {recipe['label']} != 'optimal'",
            "label": recipe["label"],
            "preset": recipe["preset"],
            "generated_by": "benchmarks/make_pretrained.py",
        }
    return {
        "collection": "featurizers.zoo default zoo (MLPs on scikit-learn's digits)",
        "file": ZOO_TABLE,
        "sha256": hashlib.sha256(table_csv(frame).encode("utf-8")).hexdigest(),
        "rows": f"collection 'normal' (clean labels), {recipe['label']} != 'optimal'",
        "label": recipe["label"],
        "preset": recipe["preset"],
        "n_rows_in_table": int(len(frame)),
        "generated_by": "benchmarks/make_pretrained.py",
    }


def held_out_validity(name, frame, tree=None):
    """The tree's measured validity on the transfer it is meant for, as a dict.

    The tree (fitted on the training rows of ``frame``, or ``tree``) predicts the
    rows of the test collection (``noise``) whose label is not ``"optimal"``;
    beside it, a constant answer (the training rows' majority label) and Valid+DT
    (:func:`sklearn_mdtree.compare.method_estimator`'s decision tree on the
    validation features) fitted on the same training rows.
    """
    from sklearn.base import clone

    from ..compare import VALID_DT, Transfer, method_estimator
    from ..diagnosis._shipping import TreeValidity
    from ..diagnosis._validity import _majority

    recipe = RECIPES[name]
    label = recipe["label"]
    train = training_rows(frame, label, recipe["source"])
    test = frame[(frame["collection"] == "noise") & (frame[label] != "optimal")]
    if tree is None:
        tree = MDTreeClassifier(recipe["preset"], bounds=recipe["bounds"]).fit(
            train, train[label])
    y = test[label].to_numpy()
    setting = Transfer("Q1" if label == "bs_failure" else "Q2", label, "random_pairs",
                       (1,)).setting(1)
    dt, columns = method_estimator(VALID_DT, setting)
    dt = clone(dt).fit(train[columns], train[label])
    validity = TreeValidity(
        float((tree.predict(test) == y).mean()),
        float((y == _majority(train[label].tolist())).mean()),
        float((dt.predict(test[columns]) == y).mean()),
        _TRANSFER[recipe["source"]], int(len(train)), int(len(test)))
    return validity.to_dict()


def fit_document(name, frame, *, records=True, table_machine=None):
    """Fit the tree ``name`` on ``frame`` and return its document.

    Parameters
    ----------
    name : str
        A key of :data:`RECIPES`.
    frame : pandas.DataFrame
        The source table: both public collections stacked (``fetch_model_diagnosis
        ("both").frame``) or F alone for the F trees; the zoo's labelled feature
        table for the digits trees.
    table_machine : dict, default=None
        For the digits trees: :func:`machine_provenance` of the run that made the
        zoo's table, recorded as ``provenance["table_machine"]``.

    Returns
    -------
    document : dict
        See :func:`sklearn_mdtree.pretrained.tree_to_dict`; with ``records``, also
        ``regime_accuracy`` and ``keep_as_is`` (5-fold cross-validation on the
        training rows; keep-as-is from the training collection's rows, those
        labelled ``"optimal"`` included, routed through the tree),
        ``feature_recipe`` (:data:`FEATURE_RECIPES`) and ``validity``
        (:func:`held_out_validity`). The tree and its thresholds do not depend on
        ``records``.
    """
    from ..diagnosis._validity import tree_evidence

    recipe = RECIPES[name]
    label = recipe["label"]
    train = training_rows(frame, label, recipe["source"])
    tree = MDTreeClassifier(recipe["preset"], bounds=recipe["bounds"])
    tree.fit(train, train[label])
    provenance = _provenance(recipe, frame)
    if table_machine is not None and recipe["source"] == _ZOO:
        provenance["table_machine"] = dict(table_machine)
    document = tree_to_dict(
        tree,
        train,
        name=name,
        description=recipe["description"],
        provenance=provenance,
    )
    if records:
        pool = frame[frame["collection"] == "normal"] if "collection" in frame else frame
        document.update(tree_evidence(tree, train, train[label].to_numpy(), routed=pool,
                                      routed_labels=pool[label].to_numpy()))
        document["feature_recipe"] = dict(
            {f: None for f in ("curve_epochs", "curve_init", "n_pairs", "hessian_batch_size",
                               "trace_method", "trace_matvecs", "version")},
            **FEATURE_RECIPES[recipe["source"]])
        document["validity"] = held_out_validity(name, frame, tree)
    return document
