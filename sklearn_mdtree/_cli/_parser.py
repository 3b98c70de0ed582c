"""The parser of ``mdtree``: one subparser per command module."""

from __future__ import annotations

import argparse

from . import calibrate, demo, diagnose, featurize, presets, reproduce

__all__ = []

#: The command modules, by name: each has ``add_parser(sub)``, ``outputs(args)``,
#: ``inputs(args)``, ``run(args) -> Result`` and optionally ``check(parser, args)``.
COMMANDS = {
    "reproduce": reproduce,
    "diagnose": diagnose,
    "featurize": featurize,
    "calibrate": calibrate,
    "presets": presets,
    "demo": demo,
}


def build_parsers():
    """The parser of ``mdtree`` and a dict of its subcommands' parsers."""
    parser = argparse.ArgumentParser(
        prog="mdtree",
        description="MD tree: diagnose why a trained neural network underperforms, "
        "from its loss landscape (Zhou et al., ICML 2024).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    return parser, {name: module.add_parser(sub) for name, module in COMMANDS.items()}
