"""The commands' output files: one option spelling, checked before any work, written
atomically after it, never over an input.

A command declares its outputs (option, path) and its inputs; :func:`open_outputs`
refuses an output that is the same file as an input (a hard link included) or as
another output, and opens each (:class:`sklearn_mdtree._files.AtomicOutput`) so that
an unwritable place fails before the work. The command's :class:`Result` then holds
the text of each; :func:`write_outputs` puts them in place, or :func:`discard`
leaves nothing behind.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field

from .._files import AtomicOutput, check_not_an_input, same_file
from ._common import CommandError

__all__ = []


@dataclass
class Result:
    """What a command produced: ``text`` for stdout, ``files`` (option -> text) for its
    output files, ``notes`` (one line each) for stderr."""

    text: str = ""
    files: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def add_output_option(parser, *, metavar, help, required=False, default=None):
    """``--output`` (and the deprecated ``--out``, removed in 0.2)."""
    parser.add_argument("--output", metavar=metavar, default=default, help=help)
    parser.add_argument("--out", dest="deprecated_out", metavar=metavar, default=None,
                        help=argparse.SUPPRESS)


def output_path(args):
    """The ``--output`` value (or the deprecated ``--out``)."""
    deprecated = getattr(args, "deprecated_out", None)
    return args.output if deprecated is None else deprecated


def deprecation_notes(args):
    if getattr(args, "deprecated_out", None) is not None:
        return ["--out is deprecated and will be removed in 0.2; use --output"]
    return []


def argument_files(args, outputs):
    """Every existing file named by a (single-valued) argument other than an output."""
    dests = {id(path) for _, path in outputs}
    return [value for value in vars(args).values()
            if isinstance(value, (str, os.PathLike)) and id(value) not in dests
            and os.path.isfile(value)]


def open_outputs(outputs, inputs):
    """Check the outputs against the inputs and each other, then open them.

    ``outputs`` is a list of ``(option, path)`` (None paths skipped). Returns a list of
    ``(option, AtomicOutput)``.
    """
    outputs = [(option, path) for option, path in outputs if path is not None]
    for i, (option, path) in enumerate(outputs):
        try:
            check_not_an_input(path, inputs, option=option)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for other, other_path in outputs[:i]:
            if same_file(path, other_path) or (
                    os.path.abspath(path) == os.path.abspath(other_path)):
                raise CommandError(f"{other} and {option} name the same file {str(path)!r}; "
                                   "give each its own.")
    opened = []
    try:
        for option, path in outputs:
            try:
                opened.append((option, AtomicOutput(path)))
            except OSError as exc:
                raise CommandError(f"argument {option}: {exc}") from None
    except BaseException:
        discard(opened)
        raise
    return opened


def write_outputs(opened, result):
    """Put each output's text in place."""
    for option, handle in opened:
        try:
            handle.write(result.files[option])
        except OSError as exc:
            discard(opened)
            raise CommandError(f"argument {option}: {exc}") from None


def discard(opened):
    for _, handle in opened:
        handle.discard()
