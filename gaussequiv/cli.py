"""The ``gaussequiv`` command: argument parsing only; every subcommand calls public library functions.

Each package that offers subcommands has a ``cli`` module with ``register(subparsers)``, which adds its
parsers and sets ``func`` on each to a function taking the parsed arguments.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from gaussequiv import __version__

#: Modules whose ``register`` adds subcommands, in the order they appear in ``--help``.
COMMAND_MODULES = ("gaussequiv.demo", "replica.cli", "spectra.cli", "dynamics.cli", "validation.cli")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="gaussequiv", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gaussequiv {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code.

    A subcommand's ``func`` may return its own exit status as an int (``gaussequiv validate``: 0 agree, 3
    disagree, 4 incomplete); any other return value is 0. A ValueError or TypeError (bad input) is reported in
    one line and ends with the subcommand's ``error_code`` default (2 unless it sets another; ``validate``: 1).
    """
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except (ValueError, TypeError) as exc:
        print(f"gaussequiv {args.command}: error: {exc}", file=sys.stderr)
        return getattr(args, "error_code", 2)
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
