"""``mdtree featurize``: loss-landscape features of model groups given as checkpoint files.

The only command that imports the torch side (:mod:`featurizers`), when it runs; the
work is :func:`featurizers.featurize_checkpoints`.
"""

from __future__ import annotations

import argparse
import os
import warnings
from types import SimpleNamespace

from .._files import is_tree_path
from .._vocabulary import DEFAULT_FEATURES
from ._common import CommandError, json_object
from ._output import Result, add_output_option, output_path

__all__ = []


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
                       action="append",
                       help=".npz (arrays X, y), .pt ({'X', 'y'} tensors) or "
                       "PKG.MODULE:FUNCTION returning a Dataset; once for every group, "
                       "or once per group in the order of --checkpoints")
    group.add_argument("--data-kwargs", metavar="JSON", default=None, action="append",
                       help="keyword arguments of a data factory, as a JSON object (once: "
                       "it applies to every group's data)")
    group.add_argument("--curve-epochs", type=int, default=None,
                       help="epochs of the connectivity curves (default: the --tree's "
                       "recipe, else 50)")
    group.add_argument("--n-pairs", default="all",
                       help="pairs of models per group for connectivity: an int or "
                       "'all' (default: all, which gives its standard error)")
    group.add_argument("--random-state", type=int, default=0,
                       help="seed of probes, curves and mixup batches (default: 0)")
    group.add_argument("--torch-threads", type=_threads, default=None, metavar="N",
                       help="torch's threads while featurizing (default: one per "
                       "process, the featurizers' policy; see their torch_threads)")
    group.add_argument("--quiet", action="store_true",
                       help="no progress bar (by default the featurizing shows one per "
                       "group and stage on stderr)")


def add_parser(sub):
    feat = sub.add_parser(
        "featurize",
        help="loss-landscape features of model groups given as checkpoint files",
        description="Build one model group per --checkpoints (state dicts of one "
        "configuration's models, two or more seeds) from the --model factory and the "
        "--train-data, and write its loss-landscape features and their standard "
        "errors (<feature>_se) as one CSV row, for `mdtree diagnose FEATURES.csv`.",
    )
    add_group_arguments(feat, required=True)
    feat.add_argument("--tree", metavar="NAME", default=None,
                      help="compute the features as this shipped tree's training features "
                      "were (its recipe: curve epochs, Hessian batch, trace method, ...); "
                      "options given explicitly still win")
    feat.add_argument("--features", nargs="+", default=None, metavar="NAME",
                      help="features to compute (default: "
                      f"{' '.join(DEFAULT_FEATURES)})")
    feat.add_argument("--no-se", dest="return_se", action="store_false",
                      help="leave out the standard errors")
    add_output_option(feat, metavar="FEATURES.csv",
                      help="the CSV to write (one row per group); required")
    return feat


def check(parser, args):
    if output_path(args) is None:
        parser.error("the following arguments are required: --output")


def group_inputs(args):
    """Every file the model-group options read."""
    paths = [p for group in (args.checkpoints or []) for p in group]
    paths += [d for d in (args.train_data or []) if ":" not in str(d)]
    return paths


def outputs(args):
    return [("--output", output_path(args))]


def inputs(args):
    return group_inputs(args)


#: The featurizer settings a tree's recipe gives, and the option that overrides each.
_RECIPE_OPTIONS = {"curve_epochs": "curve_epochs", "curve_init": None,
                   "hessian_batch_size": None, "trace_method": None, "trace_matvecs": None}


def recipe_defaults(tree):
    """The featurizer settings of a tree's ``feature_recipe`` (``{}`` without one), and
    a note naming them. ``tree`` is a shipped tree or family name, a tree file, or None."""
    if tree is None:
        return {}, None
    from ..pretrained import PretrainedTree, load_tree, resolve_family

    from ..calibration import is_calibration_file, load_calibrated

    try:
        if is_calibration_file(tree):  # a calibration: its lattice's recipe
            recipe = load_calibrated(tree).recipe_
            loaded = SimpleNamespace(name=os.path.basename(tree), feature_recipe=(
                None if recipe is None else recipe.to_dict()))
        elif is_tree_path(tree):
            loaded = PretrainedTree.from_file(tree)
        else:
            q1, q2 = resolve_family(tree)
            loaded = load_tree(q1 or q2)
    except ValueError as exc:
        raise CommandError(f"argument --tree: {str(exc).splitlines()[0]}") from None
    recipe = getattr(loaded, "feature_recipe", None) or {}
    params = {k: v for k, v in recipe.items() if k in _RECIPE_OPTIONS and v is not None}
    if not params:
        return {}, (f"note: tree {loaded.name} records no feature recipe; the featurizer's "
                    "defaults are used")
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return params, f"featurizer settings from tree {loaded.name}'s recipe: {shown}"


def features_of_groups(args, *, features=None, return_se=True):
    """The feature table of the model-group options, and its warnings (one line each)."""
    from featurizers import featurize_checkpoints
    from featurizers.checkpoints import CheckpointError

    model_kwargs = json_object(args.model_kwargs, "--model-kwargs")
    if args.data_kwargs and len(args.data_kwargs) > 1:
        raise CommandError(
            f"argument --data-kwargs: expected once (it applies to every group's data), "
            f"got {len(args.data_kwargs)} times: {args.data_kwargs}"
        )
    data_kwargs = json_object(args.data_kwargs[0] if args.data_kwargs else None,
                              "--data-kwargs")
    names = args.name or [f"group{i}" for i in range(len(args.checkpoints))]
    if len(names) != len(args.checkpoints):
        raise CommandError(
            f"argument --name: {len(names)} name(s) for {len(args.checkpoints)} group(s) "
            "of --checkpoints; give one per group or none"
        )
    # the names are the CSV's group column, which mdtree diagnose reads as the ids
    if any(not n.strip() for n in names) or len(set(names)) < len(names):
        raise CommandError(f"argument --name: the groups need distinct, non-empty names; "
                           f"got {names}")
    train_data = _per_group_data(args.train_data, names)
    files = [d for d in args.train_data if os.path.exists(d)]
    if data_kwargs and files:
        raise CommandError(
            f"argument --data-kwargs: only with a data factory (PKG.MODULE:FUNCTION); "
            f"--train-data {files[0]!r} is a file"
        )
    n_pairs = args.n_pairs if args.n_pairs == "all" else _positive_int(args.n_pairs)
    tree = getattr(args, "tree", None)
    params, recipe_note = recipe_defaults(tree if isinstance(tree, str) else None)
    if args.curve_epochs is not None:  # an explicit option wins over the recipe
        params["curve_epochs"] = args.curve_epochs
    params.setdefault("curve_epochs", 50)
    # progress on stderr (stdout stays the command's own output)
    params["verbose"] = 0 if args.quiet else 1
    params["torch_threads"] = args.torch_threads
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            table = featurize_checkpoints(
                args.model, args.checkpoints, train_data, names=names,
                features=features, model_kwargs=model_kwargs, data_kwargs=data_kwargs,
                n_pairs=n_pairs, random_state=args.random_state, return_se=return_se,
                **params,
            )
        except (CheckpointError, ValueError, TypeError) as exc:
            raise CommandError(str(exc).splitlines()[0]) from None
    # a NaN feature (non-finite loss, ln of a trace <= 0) is said on the command line
    notes = ["warning: " + str(w.message).splitlines()[0] for w in caught
             if issubclass(w.category, UserWarning)]
    if recipe_note is not None:
        notes.insert(0, recipe_note)
    return table, notes


def _per_group_data(sources, names):
    """The ``--train-data`` values: one shared by every group, or one per group (a dict
    by group name); any other count is refused, never silently the last one taken."""
    if len(sources) == 1:
        return sources[0]
    if len(sources) != len(names):
        raise CommandError(
            f"argument --train-data: expected 1 (shared by every group) or "
            f"{len(names)} (one per group of --checkpoints), got {len(sources)}: {sources}"
        )
    return dict(zip(names, sources))


def _threads(text):
    """``--torch-threads``: an int >= 1 (argparse names the option in its message)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}")
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise CommandError(f"argument --n-pairs: expected an int >= 1 or 'all', got {text!r}")
    return value


def run(args):
    table, notes = features_of_groups(args, features=args.features,
                                      return_se=args.return_se)
    notes.append(f"wrote {len(table)} group(s) to {output_path(args)}")
    return Result(files={"--output": table.to_csv()}, notes=notes)
