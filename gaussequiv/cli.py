"""The ``gaussequiv`` command: argument parsing only; every subcommand calls public library functions.

Each subcommand lives in a ``cli`` module (``replica.cli`` for ``predict``, ...) with ``register(subparsers)``,
which adds its parser and sets ``func`` on it to a function of the parsed arguments. Only the module of the
subcommand being run is imported: ``gaussequiv --help`` lists the subcommands from :data:`COMMANDS` without
importing the library (no numpy, scipy or sympy), and the library is imported when a subcommand runs.

The options shared by every subcommand (``-v``, ``--debug``, ``--no-progress``) are added here; the specs
(generator, features, loss, channel, teacher, grids) are parsed by :mod:`gaussequiv.specs`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
import textwrap

from gaussequiv import __version__
from gaussequiv.specs import DEFAULT_TEACHER, HELP

__all__ = ["COMMANDS", "EXIT_CODES", "build_parser", "log_to_stderr", "main", "progress"]

#: Subcommand -> (module whose ``register`` adds it, one-line help), in the order of ``--help``.
COMMANDS = {
    "demo": ("gaussequiv.demo", "estimate a generator spectrum, predict learning curves and check them (the README "
                                "demo)"),
    "spectrum": ("spectra.cli", "estimate the spectrum of a generator's features (Monte Carlo) and save it"),
    "predict": ("replica.cli", "replica learning curve (or lambda path) from a saved spectrum"),
    "validate": ("validation.cli", "replica theory against ERM on generator samples, with a verdict"),
    "dynamics": ("dynamics.cli", "online-SGD ODEs of a two-layer network on generator data, and SGD"),
}

#: Exit status of every subcommand; ``validate`` reports its verdict with 0 / 3 / 4.
EXIT_CODES = {"ok": 0, "error": 1, "usage": 2, "disagree": 3, "incomplete": 4, "interrupted": 130}

#: The packages whose loggers ``-v`` / ``-vv`` turn up (each package logs under its own name).
PACKAGES = ("gaussequiv", "replica", "spectra", "validation", "dynamics", "paper_figures")

DESCRIPTION = ("Gaussian equivalence of generative models: replica learning curves, online-SGD dynamics and their "
               "validation on generator data, from the command line. `gaussequiv COMMAND --help` lists a command's "
               "options.")

_SPECS = "\n".join(textwrap.fill(text, 112, initial_indent=f"  {name:<13s}", subsequent_indent=" " * 15,
                                 break_on_hyphens=False)
                   for name, text in (("--generator", HELP["generator"]), ("--features", HELP["features"]),
                                      ("--loss", HELP["loss"]), ("--channel", HELP["channel"]),
                                      ("--teacher", f"random[:SEED] (default {DEFAULT_TEACHER}, in spectrum and "
                                                    "validate alike) or averaged"),
                                      ("grids", HELP["grid"])))

EPILOG = f"""\
exit status (every command):
  {EXIT_CODES['ok']}    success (validate: the theory agrees with the generator data)
  {EXIT_CODES['error']}    error while running: a missing or unreadable file, a fixed point that did not converge,
       an optional part not installed, another package shadowing one of gaussequiv's, ...
  {EXIT_CODES['usage']}    usage: the command line or an option's value is wrong (the message names the option)
  {EXIT_CODES['disagree']}    validate: the theory disagrees with the generator data
  {EXIT_CODES['incomplete']}    validate: incomplete (a theory point or a fit did not converge, nothing disagrees)
  {EXIT_CODES['interrupted']}  interrupted (Ctrl-C)

specs, the same in every command (gaussequiv.specs):
{_SPECS}

outputs: every CSV starts with a header row and has a sidecar NAME.csv-metadata.json (command, version,
arguments, seeds, sizes). Progress bars are drawn only on a terminal (--no-progress hides them there too);
-v logs progress messages (INFO), -vv debug messages; --debug shows the traceback of an error.
"""


def _add_common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``-v``, ``--debug`` and ``--no-progress``, accepted before and after the subcommand's name."""
    keep = {} if top else {"default": argparse.SUPPRESS}  # a subcommand's parser must not reset the top's values
    group = parser.add_argument_group("common options")
    group.add_argument("-v", "--verbose", action="count", help="log INFO messages (-vv: DEBUG) to stderr",
                       **({"default": 0} if top else keep))
    group.add_argument("--debug", action="store_true", help="show the traceback of an error", **keep)
    group.add_argument("--no-progress", action="store_true",
                       help="never draw progress bars (by default they are drawn only on a terminal)", **keep)


def progress(args: argparse.Namespace) -> bool | None:
    """The ``progress`` argument of library calls: False with ``--no-progress``, else None (only on a terminal,
    :func:`gaussequiv.progress.show`)."""
    return False if getattr(args, "no_progress", False) else None


def build_parser(commands=None) -> argparse.ArgumentParser:
    """The argument parser; the subcommands in ``commands`` (default: all) get their full parsers, the others are
    listed with their one-line help only (so that building the parser imports only what runs)."""
    commands = COMMANDS if commands is None else commands
    parser = argparse.ArgumentParser(prog="gaussequiv", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"gaussequiv {__version__}")
    _add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, text) in COMMANDS.items():
        if name in commands:
            importlib.import_module(module).register(sub)
            command = sub.choices[name]
            _add_common(command, top=False)
            for attr in ("description", "epilog"):  # the modules' docstrings are reST; the terminal is not
                text = getattr(command, attr)
                if text:
                    setattr(command, attr, text.replace("``", "").replace("Example::", "Example:"))
        else:
            sub.add_parser(name, help=text)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not an option: the top-level options take no
    value)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


@contextlib.contextmanager
def log_to_stderr(verbosity: int):
    """Context manager: log records of our packages (:data:`PACKAGES`) at or above the level of ``verbosity``
    (0: WARNING, 1: INFO, 2 or more: DEBUG) go to stderr for the duration of the block; the loggers' levels and
    handlers are restored afterwards. Only command lines call this: the library never configures logging."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved = []
    for name in PACKAGES:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(level)
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger, old in saved:
            logger.removeHandler(handler)
            logger.setLevel(old)


def _file_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean an unreadable input file (among the modules already imported)."""
    from gaussequiv.specs import InputFileError

    errors: list[type[BaseException]] = [InputFileError]
    storage = sys.modules.get("spectra.estimate.storage")
    if storage is not None:
        errors.append(storage.EstimateFileError)
    return tuple(errors)


def _status(exc: BaseException) -> tuple[int, str]:
    """(exit status, message prefix) of an exception a command raised."""
    # ImportError: an optional part is not installed, or gaussequiv.integrity.ForeignPackageError (a subclass)
    if isinstance(exc, (*_file_errors(), OSError, ImportError)):
        return EXIT_CODES["error"], "error"
    if isinstance(exc, (ValueError, TypeError)):
        return EXIT_CODES["usage"], "error"
    conv = sys.modules.get("replica.result")
    if conv is not None and isinstance(exc, conv.ConvergenceError):
        return EXIT_CODES["error"], "did not converge"
    if isinstance(exc, RuntimeError):
        return EXIT_CODES["error"], "error"
    return EXIT_CODES["error"], f"internal error ({type(exc).__name__}; --debug shows the traceback)"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status (:data:`EXIT_CODES`; the epilog of
    ``gaussequiv --help``).

    A subcommand's ``func`` may return its own exit status as an int (``gaussequiv validate``: 0 agree, 3
    disagree, 4 incomplete); any other return value is 0. Errors are reported in one line on stderr, without a
    traceback unless ``--debug`` is given: bad input (ValueError, TypeError) exits with 2, like argparse's usage
    errors; a failure while running (a missing or unreadable file, ``replica.ConvergenceError``, a missing
    optional package, ``gaussequiv.integrity.ForeignPackageError``, any other exception) with 1.
    """
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    command = _command_in(argv)
    try:
        parser = build_parser([command] if command in COMMANDS else [])
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and usage errors (2), printed by argparse
        return exc.code if isinstance(exc.code, int) else EXIT_CODES["usage"]
    from gaussequiv import tables

    arguments = {k: v for k, v in vars(args).items() if k != "func"}
    try:
        with log_to_stderr(args.verbose), tables.run_record("gaussequiv", argv, arguments):
            code = args.func(args)
    except KeyboardInterrupt:
        print(f"gaussequiv {args.command}: interrupted", file=sys.stderr)
        return EXIT_CODES["interrupted"]
    except Exception as exc:  # noqa: BLE001 - one line per error; --debug re-raises
        if args.debug:
            raise
        status, prefix = _status(exc)
        print(f"gaussequiv {args.command}: {prefix}: {exc}", file=sys.stderr)
        return status
    return code if isinstance(code, int) and not isinstance(code, bool) else EXIT_CODES["ok"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
