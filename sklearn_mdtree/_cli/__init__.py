"""The ``mdtree`` command line: a thin adapter over the library.

Subcommands (one module each):

``mdtree reproduce``
    Table B of the paper (five transfer cases x six methods), ours beside the paper's
    figures with the gap; ``--one-step`` adds Tables 1 and 2 (Appendix A).
``mdtree featurize``
    Loss-landscape features (with their standard errors) of model groups built from
    a model factory, checkpoint files and training data, written to a CSV
    (:func:`featurizers.featurize_checkpoints`; imports torch, as calibrate does).
``mdtree calibrate``
    Train a lattice of your own model family, label it by retraining, and fit a
    diagnosis chosen by cross-validation on it; writes one JSON file for ``mdtree
    diagnose --tree calibrated.json`` (:func:`featurizers.calibrate`; imports torch).
``mdtree diagnose``
    Recommend a one-step change for every model group (row) of a CSV of features,
    or of groups given as checkpoint files: with a shipped tree (``--tree``), a tree
    fitted on a labelled table (``--fit-on``), or, by default, a Q1 and a Q2 tree
    (``--no-q2``: Q1 alone) fitted on the public collection F -- every route through
    :func:`sklearn_mdtree.diagnose`, with the same domain checks.
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

import sys

from . import _output
from ._common import CommandError
from ._parser import COMMANDS, build_parsers

__all__ = ["build_parser", "main"]


def build_parser():
    """Return the argument parser of ``mdtree``.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    return build_parsers()[0]


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
        written). Usage errors (an unknown option, an invalid value) are one line on
        stderr too, and exit through :class:`SystemExit` with status 2, as argparse
        does; ``--help`` exits through it with status 0.
    """
    parser, parsers = build_parsers()
    args, extra = parser.parse_known_args(argv)
    if extra:  # named by the command they were given to, not by ``mdtree``
        parsers[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    command = COMMANDS[args.command]
    if hasattr(command, "check"):
        command.check(parsers[args.command], args)
    for note in _output.deprecation_notes(args):
        print(f"mdtree {args.command}: {note}", file=sys.stderr)
    try:
        outputs = command.outputs(args)
        inputs = command.inputs(args) + _output.argument_files(args, outputs)
        # before any work: an output onto an input, or an unwritable one, fails at once
        opened = _output.open_outputs(outputs, inputs)
        try:
            result = command.run(args)
        except BaseException:
            _output.discard(opened)
            raise
        _output.write_outputs(opened, result)
    except CommandError as exc:
        print(f"mdtree {args.command}: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(result.text)
    for note in result.notes:
        print(f"mdtree {args.command}: {note}", file=sys.stderr)
    return 0
