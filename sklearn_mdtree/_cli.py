"""The ``mdtree`` command line.

Subcommands:

``mdtree reproduce``
    Table B of the paper (five transfer cases x six methods), ours beside the paper's
    figures with the gap; ``--one-step`` adds Tables 1 and 2 (Appendix A).
``mdtree featurize``
    Loss-landscape features (with their standard errors) of model groups built from
    a model factory, checkpoint files and training data, written to a CSV.
``mdtree diagnose``
    Recommend a one-step change for every model group (row) of a CSV of features,
    or of groups given as checkpoint files: with a shipped tree (``--tree``), a tree
    fitted on a labelled table (``--fit-on``), or, by default, a Q1 tree (and, with
    ``--q2``, a Q2 tree) fitted on the public collection F. Features outside the
    tree's training range are reported.
``mdtree presets``
    List the paper's hierarchies, or print one's structure with its initial
    thresholds and bounds.
``mdtree demo``
    Train a zoo of digits MLPs (cached), label it, and compare the MD tree with the
    paper's baselines on it as learning curves; saves the plots
    (:mod:`featurizers.zoo.demo`, needs the ``torch`` extra).

Run ``mdtree <command> --help`` for the options. :func:`main` takes the argument
list, so the commands can be called in-process: ``main(["reproduce"])``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

from ._cli_report import add_group_arguments, check_output, group_inputs

__all__ = ["main"]

#: Default seed of a random ``mdtree diagnose --scheme``.
_DEFAULT_SEED = 42
#: Default k of ``mdtree diagnose --scheme``.
_DEFAULT_K = 8

_Q1_FEATURES_HELP = "train_error, mode_connectivity_peak, hessian_t (or CKA for q1_similarity)"


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


class _CommandError(Exception):
    """An error to report in one line, without a traceback."""


def _load_collections(data_home):
    from .datasets import fetch_model_diagnosis

    try:
        return fetch_model_diagnosis("both", data_home=data_home).frame
    except (OSError, ValueError) as exc:
        raise _CommandError(str(exc)) from None


def _n_jobs(text):
    value = int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a non-zero int (-1: all cores)")
    return value


def _number(text):
    """An int if the text is one (the random schemes need an int k), else a float."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


class _OutputFile:
    """The ``--output`` file, opened before any work so that a bad path fails at once.

    Missing parent folders are created and the file is opened for appending, which
    checks that it can be written without touching an existing file's content;
    :meth:`write` then replaces the content with the report. If the command fails
    instead, :meth:`discard` removes the file and folders that opening created.
    """

    def __init__(self, path):
        from .datasets._model_diagnosis import _missing_paths, _remove_created

        self.path = Path(path)
        self._remove_created = _remove_created
        self._created = _missing_paths(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            self._remove_created(self._created)
            raise _CommandError(f"Could not write {str(self.path)!r}: {exc}") from None

    def write(self, text):
        try:
            with self._handle:
                self._handle.truncate(0)
                self._handle.write(text)
        except OSError as exc:
            self.discard()
            raise _CommandError(f"Could not write {str(self.path)!r}: {exc}") from None

    def discard(self):
        self._handle.close()
        self._remove_created(self._created)


def _other_inputs(args, target):
    """Files the command may read besides its groups: path arguments, the collections.

    Writing the report over one of the collections' files in the folders searched for
    them (``--data-home``, ``SKLEARN_MDTREE_DATA``, the cache) would replace the
    user's data, as would writing it over any existing file given as an argument.
    """
    from .datasets._model_diagnosis import _data_folders
    from .datasets._registry import COLLECTION_FILES

    inputs = [
        value for key, value in vars(args).items()
        if isinstance(value, (str, os.PathLike)) and value is not target
        and os.path.isfile(value)
    ]
    return inputs + [
        folder / name
        for folder in _data_folders(getattr(args, "data_home", None))
        for name in COLLECTION_FILES.values()
    ]


# --------------------------------------------------------------------------------------
# mdtree reproduce
# --------------------------------------------------------------------------------------


def _reproduce_report(frame, args):
    from ._paper import table_b_report

    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    return table_b_report(frame, n_jobs=args.n_jobs, progress=progress, one_step=args.one_step)


# --------------------------------------------------------------------------------------
# mdtree diagnose
# --------------------------------------------------------------------------------------


def _training_rows(frame, scheme, k, label, seed):
    """Positions of the training rows of F for one split (or all of F)."""
    from .model_selection import _training_rows

    try:
        return _training_rows(frame, scheme, k, label=label, seed=seed)
    except ValueError as exc:
        raise _CommandError(str(exc)) from None


#: The first column of the CSV that ``mdtree featurize`` writes: the groups' names.
_GROUP_COLUMN = "group"


def _read_features(path, columns, id_column):
    from .datasets._model_diagnosis import _read_csv, _source_name
    from ._validation import _check_columns, _check_numeric

    what = _source_name(path)
    try:
        features = _read_csv(path, what=what)
        if id_column is not None:
            _check_columns(features, [id_column], what=what)
        _check_columns(features, columns, what=what)
        _check_numeric(features, columns, what=what, line_offset=2)
        if (id_column is None and features.columns[:1].tolist() == [_GROUP_COLUMN]
                and features[_GROUP_COLUMN].is_unique):
            id_column = _GROUP_COLUMN  # the groups' names, as `mdtree featurize` writes them
    except FileNotFoundError:
        raise _CommandError(f"The features file {str(path)!r} does not exist.") from None
    except OSError as exc:  # a folder, no permission, ...
        raise _CommandError(f"Could not read the features file {str(path)!r}: {exc}") from None
    except ValueError as exc:
        raise _CommandError(str(exc)) from None
    if id_column is not None:
        _check_ids(features[id_column], id_column, what)
        features = features.set_index(id_column)
    else:
        features.index = pd.RangeIndex(2, len(features) + 2, name="line")
    return features


def _check_ids(ids, id_column, what):
    """The report names each group by its id: none may be missing or repeated."""
    for bad, problem in ((ids.isna(), "no name"), (ids.duplicated(keep=False), "the same name")):
        lines = [int(i) + 2 for i in bad.to_numpy().nonzero()[0]]
        if lines:
            raise _CommandError(
                f"The id column {id_column!r} of the {what} gives {problem} to line(s) "
                f"{lines[:5]}; each group needs its own name."
            )


def _diagnose(frame, args, features=None):
    """The F route: trees fitted on F; returns ``(text, warnings)``."""
    import json

    from ._classes import MDTreeClassifier
    from .diagnosis._diagnose import diagnose as _report_diagnose
    from .diagnosis import recommend as diagnose
    from .pretrained import PretrainedTree

    seed = args.seed
    q1_rows = _training_rows(frame, args.scheme, args.k, "bs_failure", seed)
    train = frame.iloc[q1_rows]
    q1 = MDTreeClassifier(args.q1_preset, threshold_search=args.search)
    q1.fit(train, train["bs_failure"])
    trees = [q1]
    q2 = None
    if args.q2:
        q2_scheme = args.q2_scheme or args.scheme
        q2_k = args.q2_k if args.q2_k is not None else args.k
        q2_rows = _training_rows(frame, q2_scheme, q2_k, "width_vs_batch", seed)
        train2 = frame.iloc[q2_rows]
        q2 = MDTreeClassifier("q2", threshold_search=args.search)
        q2.fit(train2, train2["width_vs_batch"])
        trees.append(q2)
    columns = list(dict.fromkeys(s.feature for t in trees for s in t.hierarchy_.splits()))
    if features is None:
        features = _read_features(args.features, columns, args.id_column)
    try:
        result = diagnose(q1, features, q2_tree=q2)
        # the same routing with the domain of validity: F's training rows
        report = _report_diagnose(
            features,
            PretrainedTree.from_estimator(q1, train, name=f"{args.q1_preset} fitted on F"),
            q2_tree=None if q2 is None else PretrainedTree.from_estimator(
                q2, train2, name="q2 fitted on F"),
            warn=False,
        )
    except (ValueError, TypeError) as exc:
        raise _CommandError(str(exc)) from None
    args.report_ = report  # for --html
    notes = [f"warning: model {g.model}: {w}" for g in report for w in g.warnings]
    if args.format == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n", notes
    if args.format == "csv":
        return result.frame.to_csv(), notes
    header = [
        f"Q1 tree ({args.q1_preset}) fitted on {len(q1_rows)} models of F "
        f"({args.scheme}" + ("" if args.scheme == "all" else f", k={args.k}, seed={seed}")
        + "):",
        q1.export_text(),
    ]
    if q2 is not None:
        header += [f"Q2 tree (q2) fitted on {len(q2_rows)} models of F:", q2.export_text()]
    text = "\n".join(header) + "\n" + result.to_text()
    if notes:
        text += "\n" + "\n".join(n.replace("warning:", "WARNING:", 1) for n in notes) + "\n"
    return text, notes


# --------------------------------------------------------------------------------------
# mdtree presets
# --------------------------------------------------------------------------------------


def _structure_lines(root):
    """The unfitted hierarchy as indented text, with initial thresholds and bounds."""
    from ._export import rule_lines

    def split_sides(split):
        init = "mid-bounds" if split.threshold is None else f"{split.threshold:g}"
        bounds = ("data range" if split.bounds is None
                  else f"[{split.bounds[0]:g}, {split.bounds[1]:g}]")
        about = f"  [{split.name}: init {init}, bounds {bounds}]"
        return (f"{split.feature} <= {split.name}{about}", f"{split.feature} >  {split.name}")

    def leaf_text(leaf, regime):
        label = "majority" if leaf.label is None else leaf.label
        return f"class: {label}  (regime {regime})"

    return rule_lines(root, split_sides, leaf_text)


def _presets(args, out):
    from ._hierarchy import PRESETS, get_preset

    if args.name is None:
        width = max(map(len, PRESETS))
        lines = [f"{name:<{width}}  {description}" for name, (_, description) in PRESETS.items()]
        lines.append("Aliases: q1 -> q1_sharpness, q2 -> q2_width. "
                     "`mdtree presets NAME` prints a structure.")
        out.write("\n".join(lines) + "\n")
        return 0
    try:
        hierarchy = get_preset(args.name)
    except ValueError as exc:
        raise _CommandError(str(exc)) from None
    order = ", ".join(s.name for s in hierarchy.splits())
    task = getattr(hierarchy, "task", None)
    about = f" (labels of {task})" if task else ""
    lines = [f"{args.name}{about}; fitting order: {order}"]
    lines += _structure_lines(hierarchy.root)
    out.write("\n".join(lines) + "\n")
    return 0


# --------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------


def _add_data_options(parser):
    parser.add_argument(
        "--data-home",
        metavar="DIR",
        default=None,
        help="folder holding the two public CSVs (default: $SKLEARN_MDTREE_DATA, then "
        "the scikit-learn data home; downloaded with checksum verification if missing)",
    )


def build_parser():
    """Return the argument parser of ``mdtree``.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    return _build_parsers()[0]


def _build_parsers():
    """The parser of ``mdtree`` and a dict of its subcommands' parsers."""
    from .model_selection import SCHEMES

    parser = argparse.ArgumentParser(
        prog="mdtree",
        description="MD tree: diagnose why a trained neural network underperforms, "
        "from its loss landscape (Zhou et al., ICML 2024).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    rep = sub.add_parser(
        "reproduce",
        help="print Table B of the paper, ours beside the paper's figures",
        description="Reproduce Table B of the MD tree paper on the public collections: "
        "five transfer cases x six methods (Hyper+DT, Valid+DT, Hyper+Valid+DT, "
        "Loss-landscape+DT, MD tree with Brent and with exhaustive threshold search), "
        "with the paper's figure and the gap beside ours. For every figure and the "
        "plots, run `python -m benchmarks.reproduce` from the repository.",
    )
    _add_data_options(rep)
    rep.add_argument("--n-jobs", type=_n_jobs, default=None, metavar="N",
                     help="joblib workers for the independent runs (default: 1)")
    rep.add_argument("--output", metavar="FILE.md", default=None,
                     help="also write the report (markdown) to this file")
    rep.add_argument("--one-step", action="store_true",
                     help="add Tables 1 and 2 (one-step configuration change, Appendix A)")
    bar = rep.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="show a progress bar (default: when stderr is a terminal)")
    bar.add_argument("--no-progress", dest="progress", action="store_false",
                     help="never show a progress bar")

    diag = sub.add_parser(
        "diagnose",
        help="recommend a one-step change for each model of a CSV of features",
        description="Fit a Q1 MD tree (and with --q2 a Q2 tree) on the public collection "
        "F, then diagnose every row of FEATURES (one model per row) and recommend what "
        "to change: decrease/increase the batch size, or increase the width. Each "
        "recommendation shows the regime and the path of decisions that led there. "
        f"Needed columns: {_Q1_FEATURES_HELP}; with --q2 also mode_connectivity_peak.",
    )
    diag.add_argument("features", metavar="FEATURES.csv", nargs="?", default=None,
                      help="CSV with a header line and one row per model group (or give "
                      "the groups as files: --model, --checkpoints, --train-data)")
    diag.add_argument("--tree", metavar="NAME|FILE.json", default=None,
                      help="a shipped tree or family instead of fitting on F: "
                      "cifar10-resnet18, cifar10-resnet18-q1-similarity, digits-mlp, ... "
                      "(sklearn_mdtree.pretrained.available_trees()), or a Q1 tree's file "
                      "(a value ending in .json or holding a path separator), e.g. one "
                      "written by --save-tree")
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
                      default="batch size",
                      help="the hyperparameter you tune, named in the actions and causes "
                      "of --tree and --fit-on (default: %(default)s)")
    _add_data_options(diag)
    diag.add_argument("--scheme", choices=["all", *SCHEMES], default="all",
                      help="training set drawn from F: 'all' (every non-optimal model, the "
                      "default) or a sampling scheme of the paper")
    diag.add_argument("--k", type=_number, default=None,
                      help="groups drawn or largest value kept by --scheme (default: "
                      f"{_DEFAULT_K}); not with --scheme all")
    diag.add_argument("--seed", type=int, default=None,
                      help=f"seed of a random scheme (default: {_DEFAULT_SEED})")
    diag.add_argument("--q1-preset", choices=["q1", "q1_sharpness", "q1_similarity", "q1_ood"],
                      default="q1", help="hierarchy of the Q1 tree (default: %(default)s)")
    diag.add_argument("--q2", action="store_true",
                      help="also fit a Q2 tree (model width or optimizer?)")
    diag.add_argument("--q2-scheme", choices=["all", *SCHEMES], default=None,
                      help="training set of the Q2 tree (default: --scheme); only with --q2")
    diag.add_argument("--q2-k", type=_number, default=None,
                      help="k of --q2-scheme (default: --k); only with --q2")
    diag.add_argument("--search", choices=["brent", "exhaustive"], default="brent",
                      help="threshold search (default: %(default)s, the paper's)")
    diag.add_argument("--id-column", default=None, metavar="NAME",
                      help="column naming the models (default: a first column 'group', as "
                      "`mdtree featurize` writes, else the CSV line number)")
    diag.add_argument("--format", choices=["text", "csv", "json"], default="text",
                      help="readable text (default), one CSV row per model, or the report "
                      "as JSON (DiagnosisReport.to_dict)")
    diag.add_argument("--output", "--out", metavar="FILE", default=None,
                      help="also write to this file")
    diag.add_argument("--html", metavar="FILE.html", default=None,
                      help="also write the report as one self-contained HTML page: the "
                      "trees with each model's path, its position among the regimes, its "
                      "features against the trees' training range (needs matplotlib)")
    add_group_arguments(diag, required=False)

    feat = sub.add_parser(
        "featurize",
        help="loss-landscape features of model groups given as checkpoint files",
        description="Build one model group per --checkpoints (state dicts of one "
        "configuration's models, two or more seeds) from the --model factory and the "
        "--train-data, and write its loss-landscape features and their standard "
        "errors (<feature>_se) as one CSV row, for `mdtree diagnose FEATURES.csv`.",
    )
    add_group_arguments(feat, required=True)
    feat.add_argument("--features", nargs="+", default=None, metavar="NAME",
                      help="features to compute (default: train_error "
                      "mode_connectivity_peak hessian_t CKA)")
    feat.add_argument("--no-se", dest="return_se", action="store_false",
                      help="leave out the standard errors")
    feat.add_argument("--out", metavar="FEATURES.csv", required=True,
                      help="the CSV to write (one row per group)")

    pre = sub.add_parser(
        "presets",
        help="list the paper's hierarchies or print one",
        description="List the MD tree hierarchies of the paper, or print the structure "
        "of one (features, initial thresholds, bounds, leaves) before fitting.",
    )
    pre.add_argument("name", nargs="?", default=None, help="preset to print (default: list all)")

    demo = sub.add_parser(
        "demo",
        help="train a zoo of digits MLPs and watch the MD tree diagnose it (needs torch)",
        description="Train the default zoo of tanh MLPs on scikit-learn's digits (cached: "
        "a second run reads it), featurize and label it by room for improvement, compare "
        "the MD tree with Hyper+DT, Valid+DT, Hyper+Valid+DT and Loss-landscape+DT as "
        "learning curves (dataset and scale transfer, Q1 and Q2), print the table and the "
        "diagnosis of a held-out configuration, and save the plots.",
    )
    demo.add_argument("--output", metavar="DIR", default="mdtree-demo",
                      help="folder for the plots, tables and report (default: ./mdtree-demo)")
    demo.add_argument("--preset", choices=["tiny", "default", "large"], default="default",
                      help="size of the zoo (default: default, a few minutes on 2 cores)")
    demo.add_argument("--cache-dir", metavar="DIR", default=None,
                      help="the zoo's cache (default: <scikit-learn data home>/mdtree/zoo)")
    demo.add_argument("--n-jobs", type=_n_jobs, default=None, metavar="N",
                      help="joblib workers (default: 1)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser, {"reproduce": rep, "diagnose": diag, "presets": pre, "demo": demo,
                    "featurize": feat}


def _demo(args, out):
    try:
        from featurizers.zoo.demo import run_demo
    except ImportError as exc:
        raise _CommandError(
            f"needs PyTorch ({exc}); install it with `pip install \"sklearn-mdtree[torch]\"`"
        ) from None
    try:
        run_demo(args.output, preset=args.preset, cache_dir=args.cache_dir,
                 n_jobs=args.n_jobs, verbose=0 if args.quiet else 1, out=out)
    except ImportError as exc:  # the plots need matplotlib (extra "plot")
        raise _CommandError(
            f"needs {exc.name or 'an optional dependency'} ({exc}); install it with "
            "`pip install \"sklearn-mdtree[all]\"`"
        ) from None
    except (OSError, ValueError) as exc:
        raise _CommandError(str(exc)) from None
    return 0


def _check_diagnose_args(parser, args):
    """Reject options that the others would make ignored; fill in the default k."""
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
    if args.tree is not None or args.fit_on is not None:
        option = "--tree" if args.tree is not None else "--fit-on"
        for name, value, default in (("--scheme", args.scheme, "all"), ("--k", args.k, None),
                                     ("--seed", args.seed, None), ("--q2", args.q2, False),
                                     ("--q1-preset", args.q1_preset, "q1"),
                                     ("--search", args.search, "brent")):
            if value != default:
                parser.error(f"argument {name}: fits on F, so not allowed with {option}")
        return
    if args.optimizer != "batch size":
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
    if args.k is None:
        args.k = _DEFAULT_K
    random_used = args.scheme.startswith("random") or (args.q2 and q2_scheme.startswith("random"))
    if args.seed is not None and not random_used:
        parser.error(
            "argument --seed: only used by a random scheme (random_pairs, random_data, "
            "random_width); the chosen schemes draw nothing"
        )
    if args.seed is None:
        args.seed = _DEFAULT_SEED


def main(argv=None):
    """Run the ``mdtree`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    status : int
        0 on success, 2 on a reported error (printed to stderr in one line, nothing
        written). ``--help`` and usage errors exit through :class:`SystemExit` with
        status 2, as argparse does.
    """
    from ._cli_report import InputError

    parser, commands = _build_parsers()
    args = parser.parse_args(argv)
    if args.command == "diagnose":
        _check_diagnose_args(commands["diagnose"], args)
    out = sys.stdout
    try:
        if args.command == "presets":
            return _presets(args, out)
        if args.command == "demo":
            return _demo(args, out)
        inputs = []
        if args.command in ("featurize", "diagnose"):
            # (featurize's --features is a list of feature names, not a file)
            inputs = group_inputs(args) + ([args.features, args.fit_on]
                                           if args.command == "diagnose" else [])
            check_output(args.out if args.command == "featurize" else args.output, inputs)
            if getattr(args, "html", None):
                check_output(args.html, inputs)
        target = args.out if args.command == "featurize" else args.output
        if target:
            check_output(target, _other_inputs(args, target))
        if getattr(args, "html", None):
            # the page must not replace an input, a collection file or the text report
            check_output(args.html, _other_inputs(args, args.html) + [target])
        saved = _tree_paths(args)
        if saved:  # nor may a tree file, and the outputs must be distinct files
            _check_distinct([("--output", target), ("--html", args.html),
                             ("--save-tree", args.save_tree),
                             ("--save-q2-tree", args.save_q2_tree)])
        for path in saved:
            check_output(path, _other_inputs(args, path) + inputs)
        # before any work: an unwritable --output fails at once, not after the report
        output = _OutputFile(target) if target else None
        html = _OutputFile(args.html) if getattr(args, "html", None) else None
        trees = []
        try:
            for path in saved:
                trees.append(_OutputFile(path))
            text, notes = _run(args)
            page = None if html is None else _html_page(args)
        except BaseException:
            for opened in (output, html, *trees):
                if opened is not None:
                    opened.discard()
            raise
        if args.command != "featurize":
            out.write(text)
        if html is not None:
            html.write(page)
        for opened, document in zip(trees, getattr(args, "tree_documents_", [])):
            opened.write(document)
            notes.append(f"wrote the tree to {opened.path}")
        if output is not None:
            output.write(text)
            if args.command == "reproduce":
                out.write(f"Report written to {args.output}\n")
        for note in notes:
            print(f"mdtree {args.command}: {note}", file=sys.stderr)
        return 0
    except (_CommandError, InputError) as exc:
        print(f"mdtree {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _check_distinct(outputs):
    """Refuse two output options naming one file (the second would replace the first)."""
    seen = {}
    for option, path in outputs:
        if path is None:
            continue
        key = Path(path).resolve()
        if key in seen:
            raise _CommandError(f"{seen[key]} and {option} name the same file {str(path)!r}; "
                                "give each its own.")
        seen[key] = option


def _tree_paths(args):
    """The files of ``mdtree diagnose --save-tree`` and ``--save-q2-tree``."""
    return [p for p in (getattr(args, "save_tree", None), getattr(args, "save_q2_tree", None))
            if p is not None]


def _html_page(args):
    """The diagnosis report of this run as HTML (``--html``)."""
    try:
        return args.report_.to_html()
    except ImportError as exc:
        raise _CommandError(f"--html needs matplotlib: {exc}") from None


def _run(args):
    """The command's output text and its warnings (one line each)."""
    from . import _cli_report

    if args.command == "featurize":
        table = _cli_report.featurize(args, return_se=args.return_se)
        notes = args.featurize_notes_ + [f"wrote {len(table)} group(s) to {args.out}"]
        return table.to_csv(), notes
    features = None
    if args.command == "diagnose" and args.model is not None:
        features = _cli_report.featurize(args)
    if args.command == "diagnose" and (args.tree is not None or args.fit_on is not None):
        text, notes = _cli_report.report(args, features)
        return text, getattr(args, "featurize_notes_", []) + notes
    frame = _load_collections(args.data_home)
    if args.command == "reproduce":
        return _reproduce_report(frame, args), []
    text, notes = _diagnose(frame, args, features)
    return text, getattr(args, "featurize_notes_", []) + notes


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
