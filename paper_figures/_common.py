"""Plumbing shared by the figure modules: command line, seeds, CSV, figures and the optional face generator.

No formulas live here (architecture.md): every number a figure shows comes from :mod:`spectra`,
:mod:`replica`, :mod:`dynamics` or :mod:`validation`.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["FACE_SKIP_MESSAGE", "FigureResult", "face_generator", "figure", "log_axis", "main", "save"]


class FigureResult:
    """Mixin of the figures' frozen result dataclasses: :meth:`tables` are the result's flat tables (dicts of
    equal-length 1-d numpy arrays, ``pandas.DataFrame``-ready), :meth:`to_dict` is the first of them. Nested
    results (curves, comparisons, trajectories) keep their own ``to_dict``."""

    def tables(self) -> dict[str, dict]:
        """The result's flat tables by name (each figure documents its own)."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        """The result's main flat table: the first of :meth:`tables`."""
        return next(iter(self.tables().values()))


#: Printed (and written to the CSV notes) when the optional face generator is not installed.
FACE_SKIP_MESSAGE = ("face-dcgan (N = 3072) skipped: the optional face generator is not installed "
                     "(`make faces` installs it)")


def face_generator(*, quick: bool = False, enabled: bool = True):
    """The paper-scale face generator (N = 3072) for a figure's full run, or None after printing why it is skipped.

    Parameters
    ----------
    quick : bool
        The figure's ``--quick`` run (the face part runs only in full runs).
    enabled : bool
        False for ``--no-face``.

    Returns
    -------
    spectra.generators.Generator or None
        None for quick runs, ``--no-face``, or when the optional package is not installed.
    """
    from spectra.generators import pretrained

    if quick or not enabled:
        print("face-dcgan (N = 3072): skipped (" + ("runs only without --quick)" if quick else "--no-face)"))
        return None
    try:
        return pretrained("face-dcgan")
    except (ImportError, FileNotFoundError, OSError, ModuleNotFoundError):
        print(FACE_SKIP_MESSAGE)
        return None


def figure(nrows: int, ncols: int, *, width: float = 4.2, height: float = 3.4):
    """A matplotlib Figure with a grid of axes, made without pyplot (no global backend state).

    Parameters
    ----------
    nrows, ncols : int
        Grid of panels.
    width, height : float
        Size of one panel in inches.

    Returns
    -------
    (matplotlib.figure.Figure, ndarray of Axes)
        The axes array always has shape ``(nrows, ncols)``.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), constrained_layout=True)
    axes = np.atleast_2d(fig.subplots(nrows, ncols, squeeze=False))
    for ax in axes.flat:
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, axes


def log_axis(ax, which: str = "x", plain: bool = True, ticks=None) -> None:
    """Log scale on ``which`` ("x" or "y") of ``ax``; with ``plain``, major ticks as plain numbers and no
    minor tick labels (which overlap on short ranges).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    which : {"x", "y"}
    plain : bool
    ticks : sequence of float, optional
        Labelled tick positions (for ranges shorter than a decade or two).
    """
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter, ScalarFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    if ticks is not None:
        axis.set_major_locator(FixedLocator(list(ticks)))
        axis.set_major_formatter(FormatStrFormatter("%g"))
    elif plain:
        axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())


def save(fig, path: str | os.PathLike, dpi: int = 130) -> Path:
    """Save a figure (format from the extension) and return the path."""
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    return path


def main(description: str, run: Callable[..., object], argv: list[str] | None = None) -> object:
    """Command line of a figure module: ``python -m paper_figures.NAME [--quick] [--out DIR] [--seed S] [-v]``
    (plus ``--no-face`` and ``--level`` for figures whose ``run`` takes ``face`` / ``level``).

    Progress bars are drawn only on a terminal (``--no-progress`` hides them there too); ``-v`` / ``-vv`` log
    INFO / DEBUG messages of the packages to stderr. Every CSV the figure writes gets a sidecar recording this
    command line (:mod:`gaussequiv.tables`).

    Parameters
    ----------
    description : str
        Help text (the module docstring).
    run : callable
        ``run(out=..., quick=..., seed=..., progress=...)`` of the figure.
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    object
        Whatever ``run`` returns.
    """
    from gaussequiv import tables
    from gaussequiv.cli import log_to_stderr

    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (the variant the test suite runs)")
    ap.add_argument("--out", default="figures", help="output directory (default: figures)")
    ap.add_argument("--seed", type=int, default=0, help="root seed of every random draw (default 0)")
    ap.add_argument("--no-progress", action="store_true",
                    help="never draw progress bars (by default they are drawn only on a terminal)")
    ap.add_argument("-v", "--verbose", action="count", default=0, help="log INFO messages (-vv: DEBUG) to stderr")
    params = inspect.signature(run).parameters
    takes_face = "face" in params
    if takes_face:
        ap.add_argument("--no-face", action="store_true",
                        help="skip the face-dcgan (N = 3072) part even when the face generator is installed")
    if "level" in params:
        ap.add_argument("--level", type=float, default=params["level"].default,
                        help="family-wise level of the figure's verdicts (Holm, validation.compare; default "
                             f"{params['level'].default:g})")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    kw = {"face": not args.no_face} if takes_face else {}
    if "level" in params:
        kw["level"] = args.level
    module = getattr(run, "__module__", None) or "paper_figures"
    spec = getattr(sys.modules.get(module), "__spec__", None)  # under `python -m`, the module is __main__
    command = f"python -m {spec.name if spec is not None else module}"
    with log_to_stderr(args.verbose), tables.run_record(command, argv, vars(args)):
        tables.note(seeds={"seed": args.seed}, sizes={"quick": args.quick})
        res = run(out=out, quick=args.quick, seed=args.seed, progress=False if args.no_progress else None, **kw)
    print(f"done in {time.perf_counter() - t0:.1f} s; outputs in {out}/")
    return res
