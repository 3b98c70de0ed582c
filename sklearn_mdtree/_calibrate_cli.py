"""``mdtree calibrate``: calibrate a diagnosis on a lattice of one's own model family.

A command module to plug into the command line's package: :func:`add_arguments`
fills a subparser, :func:`run` runs the parsed arguments and returns the exit status
(0, or 2 after a one-line error on stderr), :func:`inputs` / :func:`outputs` name the
files it reads and writes. It wraps :func:`featurizers.calibrate`; the file it
writes is read by :func:`sklearn_mdtree.calibration.load_calibrated` (``mdtree
diagnose --tree calibrated.json``).

Example::

    mdtree calibrate --model mymodels:mlp --train-data train.npz --test-data test.npz \\
        --optimizer "learning rate" --base 0.1 --budget 10 --output calibrated.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["CalibrateError", "add_arguments", "inputs", "outputs", "run"]

_OPTIMIZERS = {"learning rate": "learning rate", "lr": "learning rate",
               "learning-rate": "learning rate", "batch size": "batch size",
               "bs": "batch size", "batch-size": "batch size"}

DESCRIPTION = (
    "Train a lattice of your own model family around your setting (the optimizer knob "
    "in x4 steps, the width in x4 steps, the data in x2 steps; 6 seeds each, on CPU, "
    "cached and resumable), label it by one-step RFI by measurement, featurize it, choose "
    "by cross-validation on the lattice among the MD tree (fixed or learned leaves), a "
    "free tree and nearest neighbours, and write the model, the lattice, the feature "
    "recipe and the measured accuracies to one JSON file for `mdtree diagnose --tree`."
)


class CalibrateError(Exception):
    """An error reported in one line (exit status 2)."""


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a {kind.__name__}; got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0; got {text!r}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _optimizer(text):
    key = text.strip().lower()
    if key not in _OPTIMIZERS:
        raise argparse.ArgumentTypeError(
            f"must be 'learning rate' or 'batch size' (or lr / bs); got {text!r}")
    return _OPTIMIZERS[key]


def _n_jobs(text):
    value = int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a non-zero int (-1: all cores)")
    return value


def add_arguments(parser):
    """Add the options of ``mdtree calibrate`` to ``parser`` (a subparser).

    Parameters
    ----------
    parser : argparse.ArgumentParser

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    parser.description = DESCRIPTION
    parser.add_argument("--model", required=True, metavar="PKG.MODULE:FACTORY",
                        help="model factory: FACTORY(width, **fixed) returns a fresh "
                             "torch.nn.Module")
    parser.add_argument("--train-data", required=True, metavar="FILE",
                        help="the training pool (.npz with X and y, .pt, or "
                             "PKG.MODULE:FUNCTION); a configuration takes its first n "
                             "samples, so shuffle it beforehand")
    parser.add_argument("--test-data", required=True, metavar="FILE",
                        help="the test set the labels are measured on (same forms)")
    parser.add_argument("--optimizer", type=_optimizer, default="learning rate",
                        metavar="KNOB",
                        help="the optimizer knob the lattice varies: 'learning rate' or "
                             "'batch size' (default: learning rate)")
    parser.add_argument("--base", type=_positive(float), required=True,
                        help="the knob's value in your setting (the lattice's middle)")
    parser.add_argument("--width", type=_positive(int), default=32,
                        help="your model's width, passed to the factory (default 32)")
    parser.add_argument("--fixed", default=None, metavar="JSON",
                        help="fixed keyword arguments of the factory, a JSON object, or a "
                             "list of them to repeat the lattice for each (e.g. "
                             "'[{\"batchnorm\": false}, {\"batchnorm\": true}]')")
    parser.add_argument("--budget", type=_positive(float), default=10.0, metavar="MINUTES",
                        help="minutes the calibration may take; the largest lattice that "
                             "fits is trained (default 10)")
    parser.add_argument("--epochs", type=_positive(float), default=20.0,
                        help="passes over the training data per training (default 20)")
    parser.add_argument("--lr", type=_positive(float), default=0.05,
                        help="learning rate when the knob is the batch size (default 0.05)")
    parser.add_argument("--batch-size", type=_positive(int), default=32,
                        help="batch size when the knob is the learning rate (default 32)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (0.9)")
    parser.add_argument("--seeds", type=_positive(int), default=6,
                        help="seeds per configuration for the labels (default 6)")
    parser.add_argument("--curve-epochs", type=_positive(int), default=50,
                        help="curve training epochs of the connectivity feature (default "
                             "50, the featurizer's)")
    parser.add_argument("--output", "-o", default="calibrated.json", metavar="FILE",
                        help="the JSON file written (default calibrated.json)")
    parser.add_argument("--cache-dir", default=None, metavar="DIR",
                        help="cache of the trainings and features (default: the zoo's "
                             "cache folder); a rerun resumes from it")
    parser.add_argument("--no-cache", action="store_true", help="train without a cache")
    parser.add_argument("--n-jobs", type=_n_jobs, default=None, metavar="N",
                        help="joblib workers over configurations (-1: all cores; "
                             "default 1)")
    parser.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                        help="run the trainings as tasks of this Dask scheduler (through "
                             "joblib.parallel_config(backend='dask'))")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    return parser


def inputs(args):
    """The files the command reads (existing paths only)."""
    return [Path(p) for p in (args.train_data, args.test_data) if os.path.exists(p)]


def outputs(args):
    """The files the command writes."""
    return [Path(args.output)]


def _fixed(text):
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CalibrateError(f"argument --fixed: not JSON ({exc.msg}); got {text!r}") from None
    if isinstance(value, dict) or (isinstance(value, list) and value
                                   and all(isinstance(v, dict) for v in value)):
        return value
    raise CalibrateError(f"argument --fixed: must be a JSON object or a non-empty list of "
                         f"objects; got {text!r}")


def _check_output(path):
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.suffix.lower() != ".json":
        raise CalibrateError(f"argument --output: must be a .json file; got {str(path)!r}")
    if path.is_dir():
        raise CalibrateError(f"argument --output: {str(path)!r} is a folder")
    if not folder.is_dir():
        raise CalibrateError(f"argument --output: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise CalibrateError(f"argument --output: the folder {str(folder)!r} is not writable")


def calibrate_from_args(args):
    """Run :func:`featurizers.calibrate` with the parsed options; return the diagnoser."""
    from featurizers.calibration import calibrate
    from featurizers.checkpoints import CheckpointError, load_data, load_factory

    _check_output(args.output)
    fixed = _fixed(args.fixed)
    try:
        factory = load_factory(args.model)
        train = load_data(args.train_data)
        test = load_data(args.test_data)
    except CheckpointError as exc:
        raise CalibrateError(str(exc).splitlines()[0]) from None
    for option, data in (("--train-data", train), ("--test-data", test)):
        if not isinstance(data, tuple):
            raise CalibrateError(f"argument {option}: must give an (X, y) pair of tensors; "
                                 f"got a {type(data).__name__}")
    base = args.base
    if args.optimizer == "batch size":
        if base != int(base):
            raise CalibrateError(f"argument --base: a batch size must be an integer; got "
                                 f"{base:g}")
        base = int(base)
    kwargs = dict(
        optimizer=args.optimizer, base=base, width=args.width, fixed=fixed,
        budget=args.budget, n_seeds=args.seeds, n_featurized=min(3, args.seeds),
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, momentum=args.momentum,
        curve_epochs=args.curve_epochs, output=args.output,
        cache_dir=False if args.no_cache else args.cache_dir,
        n_jobs=1 if args.n_jobs is None and args.dask_scheduler is None else args.n_jobs,
        progress=not args.quiet, random_state=args.random_state,
    )
    if args.dask_scheduler is None:
        return calibrate(factory, train, test, **kwargs)
    try:
        from distributed import Client
        from joblib import parallel_config
    except ImportError:
        raise CalibrateError("argument --dask-scheduler: needs the 'distributed' package "
                             "(pip install distributed)") from None
    with Client(args.dask_scheduler) as client, parallel_config(backend="dask"):
        del client
        return calibrate(factory, train, test, **kwargs)


def run(args, out=None):
    """Run ``mdtree calibrate``; return the exit status.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by a parser filled by :func:`add_arguments`.
    out : file, default=sys.stdout
        Where the summary goes (progress goes to stderr).

    Returns
    -------
    status : int
        0 on success; 2 after a one-line error on stderr (nothing written).
    """
    from featurizers.calibration import CalibrationBudgetError

    out = sys.stdout if out is None else out
    try:
        diagnoser = calibrate_from_args(args)
    except CalibrateError as exc:
        print(f"mdtree calibrate: error: {exc}", file=sys.stderr)
        return 2
    except (CalibrationBudgetError, ValueError, TypeError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"mdtree calibrate: error: {message}", file=sys.stderr)
        return 2
    meta = diagnoser.metadata_
    print(diagnoser.summary(), file=out)
    print(f"lattice {' x '.join(map(str, meta['shape']))} (knob x width x data), "
          f"{meta['n_labelled']} labelled of {meta['n_configurations']} configurations, "
          f"labels {meta['labels']}; {meta['seconds']['total'] / 60:.1f} min "
          f"(budget {meta['budget_minutes']:g})", file=out)
    print(f"wrote {args.output}: use it with `mdtree diagnose --tree {args.output}`", file=out)
    return 0


def main(argv=None):
    """Stand-alone entry (until the command is plugged into ``mdtree``)."""
    parser = argparse.ArgumentParser(prog="mdtree calibrate")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
