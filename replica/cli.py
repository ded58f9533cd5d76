"""``gaussequiv predict``: replica learning curves from a saved spectrum, or random-features curves along ``p/n`` at
``p = infinity`` (argument parsing only).

Example::

    gaussequiv predict --spectrum s.npz --loss logistic --channel sign:0.05 --alphas 0.2:3:8 --lam 1e-2 \\
        --out curve.csv --plot curve.png
    gaussequiv predict --spectrum s.npz --loss square --channel linear:0.1 --alphas 2 --lam 1e-4:1:9:log
    gaussequiv predict --random-features relu --p-over-n 0.1:3:30 --n-over-d 2 --loss logistic --lam 1e-2

Solves the saddle-point equations along the alpha grid at one lambda (``replica.learning_curve``), or along a
lambda path at one alpha (``replica.lambda_path``: several ``--lam`` values), warm-started; points that do not
converge keep their status (a column of the CSV) and are never drawn as part of the line. Writes the curve as
CSV (a header row, one row per point; sidecar ``OUT-metadata.json`` with the command, the spectrum and its
provenance) and prints one line per point. The spectrum's teacher (fixed or averaged) is the one it was saved
with: ``gaussequiv spectrum --teacher``. With ``--random-features ACT`` instead of ``--spectrum``, no matrix is
built: the Gaussian-equivalent spectrum of ``sigma(F c)`` at ``p = infinity`` (``replica.random_features_curve``)
is swept along ``p/n`` at fixed ``n/D``.
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
    g = parser.add_argument_group("input (one of --spectrum, --random-features)")
    g.add_argument("--spectrum", default=None,
                   help="Spectrum .npz written by Spectrum.save or `gaussequiv spectrum`")


def _add_random_features_options(parser) -> None:
    g = parser.add_argument_group("random features at p = infinity (instead of --spectrum)")
    g.add_argument("--random-features", default=None, metavar="ACTIVATION",
                   help="sigma of v = sigma(F c): relu, sign, erf (= erf(z)), erf_sqrt2 (= erf(z/sqrt 2)), tanh, "
                        "linear; sweeps p/n at fixed n/D (--lam: one value)")
    g.add_argument("--p-over-n", default="0.1:3:30", help="START:STOP:NUM[:log] or a comma list of p/n")
    g.add_argument("--n-over-d", type=float, default=1.0, help="n/D, fixed along the curve")
    g.add_argument("--lam-convention", default="gcm", choices=("gcm", "mei-montanari"),
                   help="gcm: --lam is ours (= Gerace et al.); mei-montanari: their lambda (ours = lambda n/D)")
    g.add_argument("--rho", type=float, default=1.0, help="teacher variance")


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
    _add_random_features_options(p)
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


def _run_random_features(args: argparse.Namespace, loss, channel) -> None:
    import numpy as np

    from gaussequiv.cli import progress
    from replica.random_features import random_features_curve

    lam = specs.parse_grid(args.lam)
    if lam.size != 1:
        raise ValueError(f"--lam takes one value with --random-features (the curve runs along p/n), got {args.lam!r}")
    rf = random_features_curve(args.random_features, loss, channel, specs.parse_grid(args.p_over_n),
                               n_over_d=args.n_over_d, lam=float(lam[0]), lam_convention=args.lam_convention,
                               rho=args.rho, strict=False, progress=progress(args))
    rf.to_csv(args.out, metadata={"random_features": rf.activation, "p": "infinity"})
    print(f"random features {rf.activation} at p = infinity, n/D = {rf.n_over_d:g}, lam = {rf.lam:g} "
          f"(Mei-Montanari lambda = {rf.lam_mei_montanari:g}): {len(rf)} points, {int(np.sum(rf.converged))} "
          f"converged; wrote {args.out}")
    for r, e, st in zip(rf.p_over_n, rf.test_error, rf.curve.status, strict=True):
        print(f"  p/n = {r:8.4f}  test error = {e:.6f}  [{st}]")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        ax = rf.plot()
        ax.set_title(f"random features ({rf.activation}), p = infinity, n/D = {rf.n_over_d:g}, lam = {rf.lam:g}\n"
                     f"{rf.curve.loss} loss, {rf.curve.channel} channel", fontsize=8)
        ax.figure.tight_layout()
        ax.figure.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


def _run(args: argparse.Namespace) -> None:
    from gaussequiv import tables
    from gaussequiv.cli import progress

    loss = specs.parse_loss(args.loss, args.loss_expr)
    channel = specs.parse_channel(args.channel)
    if (args.spectrum is None) == (args.random_features is None):
        raise ValueError("pass exactly one of --spectrum FILE (a saved Spectrum) and --random-features ACTIVATION "
                         "(p = infinity)")
    if args.random_features is not None:
        _run_random_features(args, loss, channel)
        return
    alphas, lam = specs.parse_sweep(args.alphas, args.lam)
    spec = specs.load_spectrum(args.spectrum)
    source = _source(args.spectrum, spec)
    tables.note(sizes={"p": spec.p})
    curve = theory_curve(spec, loss, channel, alphas, lam, progress=progress(args))
    _write(args, curve, source, lam)
