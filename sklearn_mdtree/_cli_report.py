"""The ``mdtree featurize`` command and the report route of ``mdtree diagnose``.

``mdtree featurize`` builds model groups from a model factory, checkpoint files and
training data (:func:`featurizers.checkpoints.load_model_group`) and writes one row of
loss-landscape features per group to a CSV. ``mdtree diagnose`` with ``--tree``,
``--fit-on`` or the same model/checkpoint/data options diagnoses through
:func:`sklearn_mdtree.diagnose` (domain of validity, margins, confidence) and prints
text, CSV or JSON. Every input problem is one line on stderr and exit code 2, with
nothing written.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

__all__ = []

_PAIRWISE = ("mode_connectivity_peak", "CKA")
_DEFAULT_FEATURES = ("train_error", "mode_connectivity_peak", "hessian_t", "CKA")


class InputError(Exception):
    """An input problem, reported in one line with exit code 2."""


def _json_object(text, option):
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"argument {option}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InputError(f"argument {option}: expected a JSON object, got {text!r}")
    return value


def add_group_arguments(parser, *, required):
    """The model / checkpoint / data options shared by featurize and diagnose."""
    group = parser.add_argument_group("model groups from files")
    group.add_argument("--model", metavar="PKG.MODULE:FUNCTION", required=required,
                       default=None, help="factory building the architecture")
    group.add_argument("--model-kwargs", metavar="JSON", default=None,
                       help="keyword arguments of the factory, as a JSON object")
    group.add_argument("--checkpoints", metavar="FILE", nargs="+", action="append",
                       default=None, required=required,
                       help="state dicts of one group's models (two or more seeds: "
                       "connectivity and CKA compare pairs); repeat the option for "
                       "more groups")
    group.add_argument("--name", action="append", default=None,
                       help="name of each group, in the order of --checkpoints")
    group.add_argument("--train-data", metavar="DATA", required=required, default=None,
                       help=".npz (arrays X, y), .pt ({'X', 'y'} tensors) or "
                       "PKG.MODULE:FUNCTION returning a Dataset")
    group.add_argument("--data-kwargs", metavar="JSON", default=None,
                       help="keyword arguments of a data factory, as a JSON object")
    group.add_argument("--curve-epochs", type=int, default=50,
                       help="epochs of the connectivity curves (default: 50)")
    group.add_argument("--n-pairs", default="all",
                       help="pairs of models per group for connectivity: an int or "
                       "'all' (default: all, which gives its standard error)")
    group.add_argument("--random-state", type=int, default=0,
                       help="seed of probes, curves and mixup batches (default: 0)")


def group_inputs(args):
    """Every file the model-group options read (for the output-path check)."""
    paths = [p for group in (args.checkpoints or []) for p in group]
    if args.train_data and ":" not in str(args.train_data):
        paths.append(args.train_data)
    return paths


def check_output(out, inputs):
    """Refuse an output path that is one of the inputs."""
    if out is None:
        return
    target = Path(out).resolve()
    for path in inputs:
        if path is not None and Path(path).resolve() == target:
            raise InputError(
                f"The output path {str(out)!r} is one of the inputs; choose another file "
                "(inputs are never overwritten)."
            )


def featurize(args, *, return_se=True):
    """The feature table (one row per group, indexed by name) of the options."""
    from featurizers import LossLandscapeFeaturizer
    from featurizers.checkpoints import CheckpointError, load_model_group

    model_kwargs = _json_object(args.model_kwargs, "--model-kwargs")
    data_kwargs = _json_object(args.data_kwargs, "--data-kwargs")
    checkpoints = args.checkpoints
    names = args.name or [f"group{i}" for i in range(len(checkpoints))]
    if len(names) != len(checkpoints):
        raise InputError(
            f"argument --name: {len(names)} name(s) for {len(checkpoints)} group(s) of "
            "--checkpoints; give one per group or none"
        )
    # the names are the CSV's group column, which mdtree diagnose reads as the ids
    if any(not n.strip() for n in names) or len(set(names)) < len(names):
        raise InputError(f"argument --name: the groups need distinct, non-empty names; "
                         f"got {names}")
    if data_kwargs and os.path.exists(args.train_data):
        raise InputError(
            f"argument --data-kwargs: only with a data factory (PKG.MODULE:FUNCTION); "
            f"--train-data {args.train_data!r} is a file"
        )
    features = list(getattr(args, "features", None) or _DEFAULT_FEATURES)
    pairwise = [f for f in features if f in _PAIRWISE]
    n_pairs = args.n_pairs if args.n_pairs == "all" else _positive_int(args.n_pairs)
    try:
        groups = []
        for name, paths in zip(names, checkpoints):
            if pairwise and len(paths) < 2:
                raise InputError(
                    f"group {name!r} has 1 checkpoint, but the pairwise feature(s) "
                    f"{pairwise} need two or more (models of different seeds)"
                )
            groups.append(load_model_group(
                args.model, paths, args.train_data, model_kwargs=model_kwargs,
                data_kwargs=data_kwargs, name=name,
            ))
        featurizer = LossLandscapeFeaturizer(
            features, curve_epochs=args.curve_epochs, n_pairs=n_pairs,
            random_state=args.random_state, return_se=return_se, verbose=0,
        ).set_output(transform="pandas")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = featurizer.fit_transform(groups)
    except (CheckpointError, ValueError, TypeError) as exc:
        raise InputError(str(exc).splitlines()[0]) from None
    table.index = list(names)
    table.index.name = "group"
    # a NaN feature (non-finite loss, ln of a trace <= 0) is said on the command line
    args.featurize_notes_ = [
        "warning: " + str(w.message).splitlines()[0] for w in caught
        if issubclass(w.category, UserWarning)
    ]
    return table


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"argument --n-pairs: expected an int >= 1 or 'all', got {text!r}")
    return value


def is_tree_file(value):
    """Whether a ``--tree``/``--q2-tree`` value names a file rather than a shipped tree.

    A shipped tree's name has neither a ``.json`` ending nor a path separator.
    """
    separators = [s for s in (os.sep, os.altsep) if s]
    return value.lower().endswith(".json") or any(s in value for s in separators)


def _tree_option(value, option, task):
    """The value of ``--tree``/``--q2-tree``: a shipped name, or the tree its file holds."""
    from .pretrained import PretrainedTree

    if value is None or not is_tree_file(value):
        return value
    try:
        tree = PretrainedTree.from_file(value)
    except ValueError as exc:
        raise InputError(f"argument {option}: {exc}") from None
    q1 = tree.task == "bs_failure"
    if q1 != (task == "q1"):
        other = "--tree" if q1 else "--q2-tree"
        raise InputError(
            f"argument {option}: the tree file {value!r} holds a "
            f"{'Q1' if q1 else 'Q2'} tree (task {tree.task!r}); give it as {other}"
        )
    return tree


def _trees_columns(trees):
    """The feature columns the chosen trees (names or PretrainedTree) read."""
    from .pretrained import load_tree, resolve_family

    q1, q2 = trees
    if isinstance(q1, str):
        q1, family_q2 = resolve_family(q1)
        q2 = family_q2 if q2 == "auto" else q2
    chosen = [load_tree(t) if isinstance(t, str) else t for t in (q1, q2)
              if t is not None and t != "auto"]
    return list(dict.fromkeys(f for t in chosen for f in t.estimator.hierarchy_.features()))


def _tree_documents(args, result, fit_on):
    """The JSON text of each tree fitted on ``--fit-on`` that is to be saved."""
    import hashlib

    from .pretrained._io import dumps, tree_to_dict
    from .pretrained._recipes import training_rows

    texts = []
    for key, label, option in (("q1", "bs_failure", "--save-tree"),
                               ("q2", "width_vs_batch", "--save-q2-tree")):
        path = getattr(args, option[2:].replace("-", "_"))
        if path is None:
            continue
        estimator = result._estimators.get(key)
        if estimator is None:
            raise InputError(
                f"argument {option}: no Q2 tree was fitted: the labelled table "
                f"{args.fit_on!r} has no {label!r} column"
            )
        with open(args.fit_on, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        document = tree_to_dict(
            estimator, training_rows(fit_on, label, source="user"),
            name=Path(path).stem, description=result.trees[key]["description"],
            provenance={"fitted_on": os.path.basename(args.fit_on), "sha256": digest,
                        "label": label, "generated_by": "mdtree diagnose --fit-on"},
        )
        texts.append(dumps(document))
    return texts


def report(args, features=None):
    """Run the diagnosis of the report route; return ``(text to print, warnings)``.

    ``features`` (a table from :func:`featurize`) replaces ``args.features``.
    """
    from . import diagnose
    from ._cli import _CommandError, _read_features

    fit_on = None
    trees = (None, "auto")
    if args.fit_on is not None:
        columns = ["train_error", "mode_connectivity_peak", "hessian_t"]
        fit_on = _read_labelled(args.fit_on, [*columns, "bs_failure"])
    else:
        q2 = "auto" if args.q2_tree is None else args.q2_tree
        trees = (_tree_option(args.tree, "--tree", "q1"),
                 _tree_option(q2, "--q2-tree", "q2"))
        try:
            columns = _trees_columns(trees)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    if features is None:
        try:
            features = _read_features(args.features, columns, args.id_column)
        except _CommandError as exc:
            raise InputError(str(exc)) from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = diagnose(features, trees[0], q2_tree=trees[1],
                              fit_on=fit_on, optimizer=args.optimizer)
        except (ValueError, TypeError) as exc:
            raise InputError(str(exc).splitlines()[0]) from None
    notes = [f"warning: {w.message}" for w in caught]
    args.report_ = result  # for --html
    args.tree_documents_ = _tree_documents(args, result, fit_on)  # for --save-tree
    if args.format == "json":
        return json.dumps(result.to_dict(), indent=2) + "\n", notes
    if args.format == "csv":
        return result.to_frame().to_csv(), notes
    return result.to_text(), notes


def _read_labelled(path, columns):
    """The ``--fit-on`` table: the features and ``bs_failure``, checked."""
    from .datasets._model_diagnosis import _read_csv, _source_name
    from ._validation import _check_columns, _check_numeric

    from .rfi import LABEL_CLASSES

    what = _source_name(path)
    try:
        table = _read_csv(path, what=what)
        _check_columns(table, columns, what=what)
        _check_numeric(table, columns[:-1], what=what, line_offset=2)
    except FileNotFoundError:
        raise InputError(f"The labelled table {os.fspath(path)!r} does not exist.") from None
    except (OSError, ValueError) as exc:
        raise InputError(str(exc)) from None
    for label in [c for c in ("bs_failure", "width_vs_batch") if c in table.columns]:
        known = LABEL_CLASSES[label]
        bad = (~table[label].isin(known)).to_numpy().nonzero()[0]
        if len(bad):
            raise InputError(
                f"Column {label!r} of the {what} must hold one of {list(known)}; line "
                f"{bad[0] + 2} holds {table[label].iloc[bad[0]]!r}."
            )
        if (table[label] == "optimal").all():
            raise InputError(
                f"Every row of the {what} is labelled 'optimal' in {label!r}: a tree is "
                "fitted on the configurations that are not, and there are none."
            )
    return table
