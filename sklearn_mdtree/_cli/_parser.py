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


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr, exit status 2.

    argparse prints the whole usage (up to 21 lines for ``mdtree diagnose``) above
    its error line; here the line points to ``--help`` instead. ``--help`` itself is
    unchanged. ``add_subparsers`` makes its subparsers of this class too.
    """

    def error(self, message):
        """Print ``<prog>: error: <message>; see <prog> --help`` and exit with status 2."""
        message = " ".join(str(message).split())  # one line, whatever the message
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parsers():
    """The parser of ``mdtree`` and a dict of its subcommands' parsers."""
    parser = Parser(
        prog="mdtree",
        description="MD tree: diagnose why a trained neural network underperforms, "
        "from its loss landscape (Zhou et al., ICML 2024).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    return parser, {name: module.add_parser(sub) for name, module in COMMANDS.items()}
