"""``mdtree diagnose``: recommend a one-step change for each model group of a features CSV.

Every route -- a shipped tree or a tree file (``--tree``), a labelled table
(``--fit-on``), or by default trees fitted on the public collection F at run time --
chooses its trees once (:mod:`sklearn_mdtree.diagnosis._trees`), then calls
:func:`sklearn_mdtree.diagnose`: the same :class:`~sklearn_mdtree.DiagnosisReport`,
with the same domain checks and margins, rendered as text, CSV, JSON or HTML.
"""

from __future__ import annotations

import argparse

import json
import os
import warnings
from pathlib import Path

from .._files import is_tree_path
from .._vocabulary import Q1_FEATURES, SCHEMES
from . import _common
from ._common import CommandError
from ._output import Result, add_output_option, output_path
from .featurize import add_group_arguments, group_inputs

__all__ = []

#: Default seed of a random ``--scheme``.
DEFAULT_SEED = 42
#: Default k of ``--scheme``.
DEFAULT_K = 8

_Q1_FEATURES_HELP = f"{', '.join(Q1_FEATURES)} (or CKA for q1_similarity)"


def add_parser(sub):
    diag = sub.add_parser(
        "diagnose",
        help="recommend a one-step change for each model of a CSV of features",
        description="Diagnose every row of FEATURES (one model group per row) and "
        "recommend what to change: the batch size or the learning rate (--optimizer), the "
        "width, or the data (--q2-preset q2_data); or say that training failed, that "
        "nothing needs to change, or that no reliable diagnosis can be given. The trees "
        "are a shipped tree, a tree file or a calibration file (--tree), trees fitted on "
        "your labelled table (--fit-on), or by default a Q1 and a Q2 tree (--no-q2: Q1 "
        "alone) fitted on the public collection F. Each recommendation shows the regime, "
        "the decisions with their margins, and whether the model lies inside the "
        f"trees' training domain. Needed columns: {_Q1_FEATURES_HELP}.",
    )
    diag.add_argument("features", metavar="FEATURES.csv", nargs="?", default=None,
                      help="CSV with a header line and one row per model group (or give "
                      "the groups as files: --model, --checkpoints, --train-data)")
    diag.add_argument("--tree", metavar="NAME|FILE.json", default=None,
                      help="a shipped tree or family instead of fitting on F: "
                      "cifar10-resnet18 (its Q1 and Q2 trees) or cifar10-resnet18-q1-similarity "
                      "(sklearn_mdtree.pretrained.available_trees()), or a Q1 tree's file "
                      "(a value ending in .json or holding a path separator), e.g. one "
                      "written by --save-tree, or a calibration file written by `mdtree "
                      "calibrate` (its verdicts and its measured accuracy)")
    diag.add_argument("--q2-tree", metavar="NAME|FILE.json", default=None,
                      help="the Q2 tree, a shipped name or a file (default: the family's "
                      "when --tree names one); only with --tree")
    diag.add_argument("--fit-on", metavar="LABELLED.csv", default=None,
                      help="fit the trees on your own labelled table (features and a "
                      "bs_failure column, optionally width_vs_batch) instead of F")
    diag.add_argument("--save-tree", metavar="FILE.json", default=None,
                      help="write the Q1 tree fitted on --fit-on to this file, for a "
                      "later --tree FILE.json; only with --fit-on")
    diag.add_argument("--save-q2-tree", metavar="FILE.json", default=None,
                      help="write the Q2 tree fitted on --fit-on (its table needs a "
                      "width_vs_batch column) to this file; only with --fit-on")
    diag.add_argument("--optimizer", choices=["batch size", "learning rate"],
                      default=None,
                      help="the hyperparameter you tune, named in the actions and causes "
                      "(default: the knob a calibration file varied, else batch size)")
    _common.add_data_options(diag)
    diag.add_argument("--scheme", choices=["all", *SCHEMES], default="all",
                      help="training set drawn from F: 'all' (every non-optimal model, the "
                      "default) or a sampling scheme of the paper")
    diag.add_argument("--k", type=_common.number, default=None,
                      help="groups drawn or largest value kept by --scheme (default: "
                      f"{DEFAULT_K}); not with --scheme all")
    diag.add_argument("--seed", type=int, default=None,
                      help=f"seed of a random scheme (default: {DEFAULT_SEED})")
    diag.add_argument("--q1-preset", choices=["q1", "q1_sharpness", "q1_similarity", "q1_ood"],
                      default="q1", help="hierarchy of the Q1 tree, fitted on F or on "
                      "--fit-on (default: %(default)s)")
    diag.add_argument("--q2", action=argparse.BooleanOptionalAction, default=True,
                      help="also fit a Q2 tree, as the shipped cifar10-resnet18 family has "
                      "(default: yes; --no-q2: Q1 alone, which can never answer 'widen' "
                      "or 'more data')")
    diag.add_argument("--q2-preset", choices=["q2", "q2_width", "q2_data"], default=None,
                      help="the question of the Q2 tree, fitted on F or on --fit-on: "
                      "q2_width (alias q2: is the model too small, or the optimizer to "
                      "blame? labels width_vs_batch; the default) or q2_data (is the data "
                      "too little, or the optimizer to blame? labels data_vs_batch, "
                      "Appendix G)")
    diag.add_argument("--q2-scheme", choices=["all", *SCHEMES], default=None,
                      help="training set of the Q2 tree (default: --scheme); only with --q2")
    diag.add_argument("--q2-k", type=_common.number, default=None,
                      help="k of --q2-scheme (default: --k); only with --q2")
    diag.add_argument("--search", choices=["brent", "exhaustive"], default="brent",
                      help="threshold search of the trees fitted on F or on --fit-on "
                      "(default: %(default)s, the paper's)")
    diag.add_argument("--id-column", default=None, metavar="NAME",
                      help="column naming the models (default: a first column 'group', as "
                      "`mdtree featurize` writes, else the CSV line number)")
    diag.add_argument("--format", choices=["text", "csv", "json"], default="text",
                      help="readable text (default), one CSV row per model, or the report "
                      "as JSON (DiagnosisReport.to_dict)")
    add_output_option(diag, metavar="FILE", help="also write to this file")
    diag.add_argument("--html", metavar="FILE.html", default=None,
                      help="also write the report as one self-contained HTML page (a name "
                      "ending in .html or .htm): the "
                      "trees with each model's path, its position among the regimes, its "
                      "features against the trees' training range (needs matplotlib)")
    add_group_arguments(diag, required=False)
    return diag


def _fits_on_f(args):
    return args.tree is None and args.fit_on is None


def check(parser, args):
    """Reject options that the others would make ignored (``args`` is not changed)."""
    from_files = [o for o, v in (("--model", args.model), ("--checkpoints", args.checkpoints),
                                 ("--train-data", args.train_data)) if v is not None]
    if args.features is not None and from_files:
        parser.error(f"argument {from_files[0]}: not allowed with FEATURES.csv (give the "
                     "features or the files they are computed from, not both)")
    if args.features is None and len(from_files) < 3:
        parser.error("give FEATURES.csv, or --model, --checkpoints and --train-data")
    if args.tree is not None and args.fit_on is not None:
        parser.error("argument --fit-on: not allowed with --tree")
    if args.q2_tree is not None and args.tree is None:
        parser.error("argument --q2-tree: only with --tree")
    for option, value in (("--save-tree", args.save_tree),
                          ("--save-q2-tree", args.save_q2_tree)):
        if value is not None and args.fit_on is None:
            parser.error(f"argument {option}: only with --fit-on (it saves the tree "
                         "fitted on that table)")
    fitted = (("--q2", args.q2, True), ("--q1-preset", args.q1_preset, "q1"),
              ("--q2-preset", args.q2_preset, None), ("--search", args.search, "brent"))
    if args.tree is not None:
        for name, value, default in fitted:
            if value != default:
                parser.error(f"argument {name}: fits a tree, so not allowed with --tree")
    if not args.q2 and args.q2_preset is not None:
        parser.error("argument --q2-preset: only allowed with --q2")
    if not _fits_on_f(args):
        option = "--tree" if args.tree is not None else "--fit-on"
        for name, value, default in (("--scheme", args.scheme, "all"), ("--k", args.k, None),
                                     ("--seed", args.seed, None),
                                     ("--q2-scheme", args.q2_scheme, None),
                                     ("--q2-k", args.q2_k, None)):
            if value != default:
                parser.error(f"argument {name}: draws from F, so not allowed with {option}")
        return
    if args.optimizer is not None:
        parser.error("argument --optimizer: only with --tree or --fit-on")
    if not args.q2:
        for option, value in (("--q2-scheme", args.q2_scheme), ("--q2-k", args.q2_k)):
            if value is not None:
                parser.error(f"argument {option}: only allowed with --q2")
    q2_scheme = args.q2_scheme or args.scheme
    if args.q2 and args.q2_k is not None and q2_scheme == "all":
        parser.error(
            "argument --q2-k: not allowed when the Q2 tree is fitted on all of F "
            "(--q2-scheme all, or --scheme all without --q2-scheme)"
        )
    k_used = args.scheme != "all" or (args.q2 and args.q2_k is None and q2_scheme != "all")
    if args.k is not None and not k_used:
        parser.error(
            "argument --k: not allowed with --scheme all (the tree is fitted on all of F); "
            "choose a sampling scheme with --scheme"
        )
    random_used = args.scheme.startswith("random") or (args.q2 and q2_scheme.startswith("random"))
    if args.seed is not None and not random_used:
        parser.error(
            "argument --seed: only used by a random scheme (random_pairs, random_data, "
            "random_width); the chosen schemes draw nothing"
        )


def fit_options(args):
    """The keyword arguments of :func:`~sklearn_mdtree.diagnosis._trees.fit_on_collection`."""
    return {
        "q1_preset": args.q1_preset, "search": args.search, "scheme": args.scheme,
        "k": DEFAULT_K if args.k is None else args.k,
        "seed": DEFAULT_SEED if args.seed is None else args.seed,
        "q2": args.q2, "q2_scheme": args.q2_scheme, "q2_k": args.q2_k,
        "q2_preset": args.q2_preset or "q2",
    }


def outputs(args):
    return [("--output", output_path(args)), ("--html", args.html),
            ("--save-tree", args.save_tree), ("--save-q2-tree", args.save_q2_tree)]


def inputs(args):
    files = [args.features, args.fit_on, *group_inputs(args)]
    files += [t for t in (args.tree, args.q2_tree) if t is not None and is_tree_path(t)]
    # the collections are read without --tree and --fit-on; with them, the files in
    # the folder --data-home names are still the user's data
    return files + _common.collection_files(args.data_home)


def _tree_file(value, option, task):
    """The tree a ``--tree``/``--q2-tree`` file holds, loaded once; a name as is."""
    from ..pretrained import PretrainedTree, resolve_family

    if value is None or (option == "--q2-tree" and value == "auto"):
        return value
    if not is_tree_path(value):
        try:
            q1_name, q2_name = resolve_family(value)  # a shipped tree or family, or an error
        except ValueError as exc:
            hint = (f" ({value!r} exists here as a file or folder: a tree file's name ends "
                    f"in .json or holds a path separator, e.g. ./{value})"
                    if os.path.lexists(value) else "")
            raise CommandError(f"argument {option}: {str(exc).splitlines()[0]}{hint}") from None
        if option == "--tree" and q1_name is None:
            raise CommandError(f"argument --tree: expected a Q1 tree or a family; {value!r} "
                               "is a Q2 tree: give it as --q2-tree")
        if option == "--q2-tree" and q1_name is not None:
            if q1_name == value:
                what = "is a Q1 tree: give it as --tree"
            elif q2_name is None:
                what = "is a family with no Q2 tree: give it as --tree"
            else:
                what = f"is a family: give its Q2 tree, --q2-tree {q2_name}"
            raise CommandError(f"argument --q2-tree: expected a Q2 tree; {value!r} {what}")
        return value
    try:
        tree = PretrainedTree.from_file(value)
    except ValueError as exc:
        raise CommandError(f"argument {option}: {exc}") from None
    q1 = tree.task == "bs_failure"
    if q1 != (task == "q1"):
        other = "--tree" if q1 else "--q2-tree"
        raise CommandError(
            f"argument {option}: the tree file {value!r} holds a "
            f"{'Q1' if q1 else 'Q2'} tree (task {tree.task!r}); give it as {other}"
        )
    return tree


def choose_trees(args):
    """The run's ``[q1, q2]`` trees (PretrainedTrees), each loaded or fitted once."""
    from .._hierarchy import get_preset
    from ..diagnosis._trees import choose_trees, fit_on_collection, fit_trees

    try:
        if args.fit_on is not None:
            q1 = get_preset(args.q1_preset)
            table = _common.read_labelled(args.fit_on, [*q1.features(), "bs_failure"])
            q2_preset = args.q2_preset or "q2_width"
            label = get_preset(q2_preset).task
            if args.q2_preset is not None and label not in table.columns:
                raise CommandError(f"argument --q2-preset: the labelled table {args.fit_on!r} "
                                   f"has no {label!r} column for the {q2_preset} tree")
            return fit_trees(table, q2=args.q2, q1_preset=args.q1_preset,
                             q2_preset=q2_preset, search=args.search), table
        if args.tree is not None:
            q2 = "auto" if args.q2_tree is None else args.q2_tree
            return choose_trees(_tree_file(args.tree, "--tree", "q1"),
                                _tree_file(q2, "--q2-tree", "q2"), None), None
        frame = _common.load_collections(args.data_home)
        return fit_on_collection(frame, **fit_options(args)), None
    except ValueError as exc:
        raise CommandError(str(exc).splitlines()[0]) from None


def _tree_documents(args, trees):
    """The JSON text of each tree fitted on ``--fit-on`` that is to be saved."""
    from .._files import sha256
    from ..pretrained._io import dumps

    from .._hierarchy import get_preset

    documents = {}
    q2_label = get_preset(args.q2_preset or "q2_width").task
    for tree, label, option, path in ((trees[0], "bs_failure", "--save-tree", args.save_tree),
                                      (trees[1], q2_label, "--save-q2-tree",
                                       args.save_q2_tree)):
        if path is None:
            continue
        if tree is None:
            raise CommandError(
                f"argument {option}: no Q2 tree was fitted: the labelled table "
                f"{args.fit_on!r} has no {label!r} column"
            )
        document = tree.to_dict()
        document["name"] = Path(path).stem
        document["provenance"] = {
            "fitted_on": os.path.basename(args.fit_on), "sha256": sha256(args.fit_on),
            "label": label, "generated_by": "mdtree diagnose --fit-on"}
        documents[option] = dumps(document)
    return documents


def calibration_of(args):
    """The calibrated diagnoser a ``--tree`` calibration file holds (loaded once), else
    None."""
    from ..calibration import is_calibration_file, load_calibrated

    if args.tree is None or not is_tree_path(args.tree) or not is_calibration_file(args.tree):
        return None
    if args.q2_tree is not None:
        raise CommandError("argument --q2-tree: not allowed with a calibration file as --tree "
                           "(the calibration gives the whole verdict)")
    try:
        return load_calibrated(args.tree)
    except ValueError as exc:
        raise CommandError(f"argument --tree: {str(exc).splitlines()[0]}") from None


#: The endings an ``--html`` page may have: a browser opens anything else as text.
HTML_SUFFIXES = (".html", ".htm")


def _check_html_name(path):
    """Refuse an ``--html`` page whose name does not end in .html or .htm (checked once
    the outputs are known writable, so that a folder or an input is named as such)."""
    if path is not None and not os.fspath(path).lower().endswith(HTML_SUFFIXES):
        raise CommandError(
            f"argument --html: expected a file name ending in .html or .htm, got "
            f"{os.fspath(path)!r} (for the report as text, CSV or JSON: --output)")


def run(args):
    from .. import diagnose

    _check_html_name(args.html)
    notes = []
    features = None
    calibration = calibration_of(args)
    if calibration is not None:
        from ..calibration._diagnoser import _raw_columns

        trees, columns = [calibration, "auto"], list(dict.fromkeys(
            _raw_columns(calibration.features_)))
        if args.model is not None:
            # groups given as files are featurized with the paper's features: a calibration
            # reads others (the weights' norm ratio, the data fraction the user knows), so
            # every group would come out "no reliable diagnosis" -- refused before the work
            raise CommandError(
                f"argument --tree: a calibration file reads the columns {columns}, which "
                "groups given as checkpoint files do not have; write them to a features CSV "
                "(mdtree featurize ... --output features.csv, then add the missing "
                "columns, e.g. data_fraction) and diagnose that file")
    if args.model is not None:  # the groups as files: featurize them first (torch)
        from .featurize import features_of_groups

        features, notes = features_of_groups(args)
    if calibration is None:
        trees, _ = choose_trees(args)
        columns = list(dict.fromkeys(
            f for t in trees if t is not None for f in t.estimator.hierarchy_.features()))
    if features is None:
        features = _common.read_features(args.features, columns, args.id_column)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            report = diagnose(features, trees[0], q2_tree=trees[1], optimizer=args.optimizer)
        except (ValueError, TypeError) as exc:
            raise CommandError(str(exc).splitlines()[0]) from None
    notes += [f"warning: {w.message}" for w in caught]
    if args.format == "json":
        text = json.dumps(report.to_dict(), indent=2) + "\n"
    elif args.format == "csv":
        text = report.to_frame().to_csv()
    else:
        text = report.to_text()
    files = {"--output": text}
    if args.html is not None:
        try:
            files["--html"] = report.to_html()
        except ImportError as exc:
            raise CommandError(f"--html needs matplotlib: {exc}") from None
    saved = _tree_documents(args, trees)
    files.update(saved)
    notes += [f"wrote the tree to {getattr(args, option[2:].replace('-', '_'))}"
              for option in saved]
    return Result(text, files, notes)
