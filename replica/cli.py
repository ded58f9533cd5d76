"""``gaussequiv predict``: replica learning curves from a saved spectrum, or random-features curves along ``p/n`` at
``p = infinity`` (argument parsing only)."""

from __future__ import annotations

import argparse

import numpy as np

from replica.channel import Channel
from replica.curves import learning_curve
from replica.loss import Loss
from replica.random_features import LAM_CONVENTIONS, random_features_curve
from spectra import Spectrum

__all__ = ["register", "parse_grid"]


def parse_grid(text: str) -> np.ndarray:
    """``"a:b:n"`` -> ``n`` points from ``a`` to ``b`` (log-spaced with a ``log`` suffix: ``"a:b:n:log"``);
    otherwise a comma-separated list."""
    parts = text.split(":")
    try:
        if len(parts) in (3, 4):
            a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
            if len(parts) == 4 and parts[3] != "log":
                raise ValueError
            return np.geomspace(a, b, n) if len(parts) == 4 else np.linspace(a, b, n)
        return np.array([float(v) for v in text.split(",")])
    except ValueError:
        raise ValueError(f"cannot read the grid {text!r}: use START:STOP:NUM[:log] or a comma list") from None


def _predict(args) -> None:
    loss = Loss.from_expr(args.loss_expr) if args.loss_expr else Loss.from_name(args.loss)
    params = {"linear": {"noise": args.noise}, "probit": {"noise": args.noise}, "sign": {"flip": args.flip}}
    channel = Channel.from_name(args.channel, **params.get(args.channel, {}))
    if args.random_features is not None:
        _predict_random_features(args, loss, channel)
        return
    if args.spectrum is None:
        raise ValueError("pass --spectrum FILE (a saved Spectrum) or --random-features ACTIVATION (p = infinity)")
    spec = Spectrum.load(args.spectrum)
    curve = learning_curve(spec, loss, channel, parse_grid(args.alphas), args.lam, strict=False)
    curve.to_csv(args.out)
    print(f"{len(curve)} points, {int(curve.converged.sum())} converged; wrote {args.out}")
    for a, e, s in zip(curve.alpha, curve.test_error, curve.status, strict=True):
        print(f"  alpha = {a:8.4f}  test error = {e:.6f}  [{s}]")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        ax = curve.plot()
        ax.figure.tight_layout()
        ax.figure.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


def _predict_random_features(args, loss, channel) -> None:
    rf = random_features_curve(args.random_features, loss, channel, parse_grid(args.p_over_n),
                               n_over_d=args.n_over_d, lam=args.lam, lam_convention=args.lam_convention,
                               rho=args.rho, strict=False)
    rf.to_csv(args.out)
    print(f"random features {rf.activation} at p = infinity, n/D = {rf.n_over_d:g}, lam = {rf.lam:g} "
          f"(Mei-Montanari lambda = {rf.lam_mei_montanari:g}): {len(rf)} points, {int(rf.converged.sum())} "
          f"converged; wrote {args.out}")
    for r, e, st in zip(rf.p_over_n, rf.test_error, rf.curve.status, strict=True):
        print(f"  p/n = {r:8.4f}  test error = {e:.6f}  [{st}]")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        ax = rf.plot()
        ax.figure.tight_layout()
        ax.figure.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


def register(sub) -> None:
    """Add the ``predict`` subcommand."""
    p = sub.add_parser("predict", help="replica learning curve from a saved spectrum (.npz), or random features "
                       "along p/n at p = infinity", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--spectrum", default=None, help="Spectrum .npz written by Spectrum.save or `gaussequiv spectrum`")
    p.add_argument("--loss", default="logistic", help="square, logistic, hinge, huber[:A]")
    p.add_argument("--loss-expr", default=None,
                   help="a convex loss formula in y and z, e.g. 'log(1 + exp(-y*z))' (overrides --loss); read by a "
                        "whitelist parser (numbers, + - * / **, exp, log, erf, ...), never executed")
    p.add_argument("--channel", default="sign", choices=["linear", "sign", "probit"])
    p.add_argument("--noise", type=float, default=0.0, help="label-noise variance (linear, probit)")
    p.add_argument("--flip", type=float, default=0.0, help="label-flip probability (sign)")
    p.add_argument("--alphas", default="0.2:3:8", help="START:STOP:NUM[:log] or a comma list of n/p")
    p.add_argument("--lam", type=float, default=1e-2, help="ridge penalty")
    rf = p.add_argument_group("random features at p = infinity (instead of --spectrum)")
    rf.add_argument("--random-features", default=None, metavar="ACTIVATION",
                    help="sigma of v = sigma(F c): relu, sign, erf (= erf(z)), erf_sqrt2 (= erf(z/sqrt 2)), tanh, "
                         "linear; sweeps p/n at fixed n/D")
    rf.add_argument("--p-over-n", default="0.1:3:30", help="START:STOP:NUM[:log] or a comma list of p/n")
    rf.add_argument("--n-over-d", type=float, default=1.0, help="n/D, fixed along the curve")
    rf.add_argument("--lam-convention", default="gcm", choices=list(LAM_CONVENTIONS),
                    help="gcm: --lam is ours (= Gerace et al.); mei-montanari: their lambda (ours = lambda n/D)")
    rf.add_argument("--rho", type=float, default=1.0, help="teacher variance")
    p.add_argument("--out", default="curve.csv", help="CSV output")
    p.add_argument("--plot", default=None, help="optional PNG of the curve")
    p.set_defaults(func=_predict)
