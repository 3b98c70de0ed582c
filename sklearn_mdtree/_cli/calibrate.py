"""``mdtree calibrate``: calibrate a diagnosis on a lattice of one's own model family.

Trains a lattice of the user's family around their setting, labels it by retraining,
featurizes it and fits a :class:`~sklearn_mdtree.calibration.CalibratedDiagnoser`
(the work is :func:`featurizers.calibrate`; with ``mdtree featurize``, the only
command importing torch, when it runs). The file ``--output`` names is read by
``mdtree diagnose --tree calibrated.json``. Progress goes to stderr, the summary to
stdout.

Example::

    mdtree calibrate --model mymodels:mlp --train-data train.npz --test-data test.npz \\
        --optimizer "learning rate" --base 0.1 --budget 10 --output calibrated.json
"""

from __future__ import annotations

import argparse
import json
import os

from . import _common
from ._common import CommandError
from ._output import Result

__all__ = []

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


def _share(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number; got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1]; got {text!r}")
    return value


def _optimizer(text):
    key = text.strip().lower()
    if key not in _OPTIMIZERS:
        raise argparse.ArgumentTypeError(
            f"must be 'learning rate' or 'batch size' (or lr / bs); got {text!r}")
    return _OPTIMIZERS[key]


def add_parser(sub):
    cal = sub.add_parser(
        "calibrate",
        help="calibrate a diagnosis on a lattice of your own model family (needs torch)",
        description=DESCRIPTION,
    )
    cal.add_argument("--model", required=True, metavar="PKG.MODULE:FACTORY",
                     help="model factory: FACTORY(width, **fixed) returns a fresh "
                          "torch.nn.Module")
    cal.add_argument("--train-data", required=True, metavar="FILE",
                     help="the training pool (.npz with X and y, .pt, or "
                          "PKG.MODULE:FUNCTION); a configuration takes its first n "
                          "samples, so shuffle it beforehand")
    cal.add_argument("--test-data", required=True, metavar="FILE",
                     help="the test set the labels are measured on (same forms)")
    cal.add_argument("--optimizer", type=_optimizer, default="learning rate", metavar="KNOB",
                     help="the optimizer knob the lattice varies: 'learning rate' or "
                          "'batch size' (default: learning rate)")
    cal.add_argument("--base", type=_positive(float), required=True,
                     help="the knob's value in your setting (the lattice's middle)")
    cal.add_argument("--width", type=_positive(int), default=32,
                     help="your model's width, passed to the factory (default 32)")
    cal.add_argument("--fixed", default=None, metavar="JSON",
                     help="fixed keyword arguments of the factory, a JSON object, or a "
                          "list of them to repeat the lattice for each (e.g. "
                          "'[{\"batchnorm\": false}, {\"batchnorm\": true}]')")
    cal.add_argument("--budget", type=_positive(float), default=10.0, metavar="MINUTES",
                     help="minutes the calibration may take; the largest lattice that "
                          "fits is trained (default 10)")
    cal.add_argument("--epochs", type=_positive(float), default=20.0,
                     help="passes over the training data per training (default 20)")
    cal.add_argument("--lr", type=_positive(float), default=0.05,
                     help="learning rate when the knob is the batch size (default 0.05)")
    cal.add_argument("--batch-size", type=_positive(int), default=32,
                     help="batch size when the knob is the learning rate (default 32)")
    cal.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (0.9)")
    cal.add_argument("--seeds", type=_positive(int), default=6,
                     help="seeds per configuration for the labels (default 6)")
    cal.add_argument("--curve-epochs", type=_positive(int), default=50,
                     help="curve training epochs of the connectivity feature (default "
                          "50, the featurizer's)")
    cal.add_argument("--target-accuracy", type=_share, default=0.8, metavar="SHARE",
                     help="share of right answers the lattice's own out-of-fold answers "
                          "must reach above the confidence threshold chosen on it "
                          "(default 0.8; higher: fewer, surer verdicts)")
    cal.add_argument("--output", default="calibrated.json", metavar="FILE.json",
                     help="the JSON file written (default calibrated.json)")
    cal.add_argument("--cache-dir", default=None, metavar="DIR",
                     help="cache of the trainings and features (default: the zoo's "
                          "cache folder); a rerun resumes from it")
    cal.add_argument("--no-cache", action="store_true", help="train without a cache")
    cal.add_argument("--n-jobs", type=_common.n_jobs, default=None, metavar="N",
                     help="joblib workers over configurations (-1: all cores; default 1)")
    cal.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                     help="run the trainings as tasks of this Dask scheduler (through "
                          "joblib.parallel_config(backend='dask'))")
    cal.add_argument("--random-state", type=int, default=0)
    cal.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return cal


def inputs(args):
    """The files the command reads (existing paths only)."""
    return [p for p in (args.train_data, args.test_data) if os.path.isfile(p)]


def outputs(args):
    return [("--output", args.output)]


def _fixed(text):
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"argument --fixed: not JSON ({exc.msg}); got {text!r}") from None
    if isinstance(value, dict) or (isinstance(value, list) and value
                                   and all(isinstance(v, dict) for v in value)):
        return value
    raise CommandError(f"argument --fixed: must be a JSON object or a non-empty list of "
                       f"objects; got {text!r}")


def _calibrate(args):
    """Run :func:`featurizers.calibrate` with the parsed options; return the diagnoser."""
    if not str(args.output).lower().endswith(".json"):
        raise CommandError(f"argument --output: must be a .json file; got {args.output!r}")
    fixed = _fixed(args.fixed)
    try:
        from featurizers.calibration import CalibrationBudgetError, calibrate
        from featurizers.checkpoints import CheckpointError, load_data, load_factory
    except ImportError as exc:
        raise CommandError(
            f"needs PyTorch ({exc}); install it with `pip install \"sklearn-mdtree[torch]\"`"
        ) from None
    try:
        factory = load_factory(args.model)
        train = load_data(args.train_data)
        test = load_data(args.test_data)
    except CheckpointError as exc:
        raise CommandError(str(exc).splitlines()[0]) from None
    for option, data in (("--train-data", train), ("--test-data", test)):
        if not isinstance(data, tuple):
            raise CommandError(f"argument {option}: must give an (X, y) pair of tensors; "
                               f"got a {type(data).__name__}")
    base = args.base
    if args.optimizer == "batch size":
        if base != int(base):
            raise CommandError(f"argument --base: a batch size must be an integer; got "
                               f"{base:g}")
        base = int(base)
    kwargs = dict(
        optimizer=args.optimizer, base=base, width=args.width, fixed=fixed,
        budget=args.budget, n_seeds=args.seeds, n_featurized=min(3, args.seeds),
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, momentum=args.momentum,
        curve_epochs=args.curve_epochs, output=None,  # written by the command, atomically
        cache_dir=False if args.no_cache else args.cache_dir,
        n_jobs=1 if args.n_jobs is None and args.dask_scheduler is None else args.n_jobs,
        progress=not args.quiet, random_state=args.random_state,
        diagnoser_params={"target_accuracy": args.target_accuracy},
    )
    try:
        if args.dask_scheduler is None:
            return calibrate(factory, train, test, **kwargs)
        try:
            from distributed import Client
            from joblib import parallel_config
        except ImportError:
            raise CommandError("argument --dask-scheduler: needs the 'distributed' package "
                               "(pip install distributed)") from None
        with Client(args.dask_scheduler), parallel_config(backend="dask"):
            return calibrate(factory, train, test, **kwargs)
    except (CalibrationBudgetError, ValueError, TypeError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CommandError(message) from None


def run(args):
    from ..calibration._document import dumps

    diagnoser = _calibrate(args)
    meta = diagnoser.metadata_
    lines = [diagnoser.summary()]
    if {"shape", "n_labelled", "n_configurations", "labels", "seconds",
            "budget_minutes"} <= set(meta):
        lines.append(
            f"lattice {' x '.join(map(str, meta['shape']))} (knob x width x data), "
            f"{meta['n_labelled']} labelled of {meta['n_configurations']} configurations, "
            f"labels {meta['labels']}; {meta['seconds']['total'] / 60:.1f} min "
            f"(budget {meta['budget_minutes']:g})")
    lines.append(f"use it with `mdtree diagnose FEATURES.csv --tree {args.output}`")
    return Result("\n".join(lines) + "\n", files={"--output": dumps(diagnoser)},
                  notes=[f"wrote {args.output}"])
