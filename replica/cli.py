"""``gaussequiv predict``: replica learning curves from a saved spectrum (argument parsing only).

Example::

    gaussequiv predict --spectrum s.npz --loss logistic --channel sign:0.05 --alphas 0.2:3:8 --lam 1e-2 \\
        --out curve.csv --plot curve.png
    gaussequiv predict --spectrum s.npz --loss square --channel linear:0.1 --alphas 2 --lam 1e-4:1:9:log

Solves the saddle-point equations along the alpha grid at one lambda (``replica.learning_curve``), or along a
lambda path at one alpha (``replica.lambda_path``: several ``--lam`` values), warm-started; points that do not
converge keep their status (a column of the CSV) and are never drawn as part of the line. Writes the curve as
CSV (a header row, one row per point; sidecar ``OUT-metadata.json`` with the command, the spectrum and its
provenance) and prints one line per point. The spectrum's teacher (fixed or averaged) is the one it was saved
with: ``gaussequiv spectrum --teacher``.
"""

from __future__ import annotations

import argparse

from gaussequiv import specs
from gaussequiv.specs import parse_grid

__all__ = ["register", "parse_grid", "theory_curve"]


def theory_curve(spectrum, loss, channel, alphas, lam, progress=None):
    """The replica curve of a sweep (:func:`gaussequiv.specs.parse_sweep`): a lambda path when ``lam`` is an
    array, else a learning curve in alpha. Non-converged points keep their status (``strict=False``)."""
    import numpy as np

    import replica

    if np.ndim(lam) > 0:
        return replica.lambda_path(spectrum, loss, channel, float(alphas[0]), lam, strict=False, progress=progress)
    return replica.learning_curve(spectrum, loss, channel, alphas, lam, strict=False, progress=progress)


# ------------------------------------------------------------------------------------- option groups
def _add_input_options(parser) -> None:
    g = parser.add_argument_group("input")
    g.add_argument("--spectrum", required=True,
                   help="Spectrum .npz written by Spectrum.save or `gaussequiv spectrum`")


def _add_output_options(parser) -> None:
    g = parser.add_argument_group("output")
    g.add_argument("--out", default="curve.csv", help="CSV of the curve (default curve.csv)")
    g.add_argument("--plot", default=None, metavar="PNG", help="also draw the curve into this image")


def register(sub) -> None:
    """Add the ``predict`` subcommand."""
    p = sub.add_parser("predict", help="replica learning curve (or lambda path) from a saved spectrum",
                       description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_input_options(p)
    specs.add_problem_options(p)
    specs.add_sweep_options(p)
    _add_output_options(p)
    p.set_defaults(func=_run)


# ------------------------------------------------------------------------------------------------ run
def _source(path: str, spec) -> dict:
    """What the spectrum file's sidecar says about its origin (generator, features, teacher), if it has one."""
    from gaussequiv import tables

    meta = (tables.read_metadata(path) or {}).get("metadata", {})
    keep = ("generator", "features", "teacher", "samples", "seed")
    return {"spectrum": str(path), "p": spec.p, "gamma": spec.gamma, "rho": spec.rho, "teacher": spec.teacher,
            **{k: meta[k] for k in keep if k in meta}}


def _title(curve, source: dict, lam) -> str:
    import numpy as np

    origin = (f"{source['generator']} -> {source['features']}" if "generator" in source
              else f"spectrum {source['spectrum']}")
    lam_text = (f"lambda path at alpha = {float(curve.alpha[0]):g}" if np.ndim(lam) > 0 else f"lam = {lam:g}")
    return f"{origin}, p = {source['p']}, {lam_text}\n{curve.loss} loss, {curve.channel} channel"


def _write(args, curve, source: dict, lam) -> None:
    import numpy as np

    path_in_lam = np.ndim(lam) > 0
    curve.to_csv(args.out, metadata=source)
    print(f"{len(curve)} points, {int(curve.converged.sum())} converged; wrote {args.out}")
    x_name, xs = ("lam", curve.lam) if path_in_lam else ("alpha", curve.alpha)
    for x, e, s in zip(xs, curve.test_error, curve.status, strict=True):
        print(f"  {x_name} = {x:8.4g}  test error = {e:.6f}  [{s}]")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        ax = curve.plot(x=x_name)
        ax.set_title(_title(curve, source, lam), fontsize=8)
        ax.figure.tight_layout()
        ax.figure.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


def _run(args: argparse.Namespace) -> None:
    from gaussequiv import tables
    from gaussequiv.cli import progress

    loss = specs.parse_loss(args.loss, args.loss_expr)
    channel = specs.parse_channel(args.channel)
    alphas, lam = specs.parse_sweep(args.alphas, args.lam)
    spec = specs.load_spectrum(args.spectrum)
    source = _source(args.spectrum, spec)
    tables.note(sizes={"p": spec.p})
    curve = theory_curve(spec, loss, channel, alphas, lam, progress=progress(args))
    _write(args, curve, source, lam)
