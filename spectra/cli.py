"""``gaussequiv spectrum``: estimate the spectrum of a generator's features from the command line.

Example::

    gaussequiv spectrum --generator fashion-dcgan --features rf-erf:1024 --samples 100000 --out s.npz --csv s.csv

Estimates the covariances of the (centred) features by streaming Monte Carlo (``spectra.estimate_covariances``;
cached, ``--checkpoint`` to resume), builds the ``Spectrum`` the replica equations need with the chosen teacher
(``--teacher``: the same default, one fixed teacher ``random:0``, as ``gaussequiv validate``, so ``predict`` on
this file gives the theory ``validate`` compares with), and saves it as ``.npz`` (with a sidecar
``OUT-metadata.json`` naming the generator, features, teacher and seeds, which ``predict`` uses for its plot
titles). ``--csv`` also writes the spectrum as a table: per eigenmode of Omega, its eigenvalue ``s`` and teacher
weight ``t`` (``Spectrum.s``, ``Spectrum.t``).
"""

from __future__ import annotations

import argparse

from gaussequiv import specs
from gaussequiv.specs import centred_problem, parse_features, parse_generator

__all__ = ["register", "parse_generator", "parse_features", "centred_problem"]


def register(subparsers) -> None:
    """Add the ``spectrum`` subcommand."""
    p = subparsers.add_parser("spectrum", help="estimate the spectrum of a generator's features (Monte Carlo) and "
                                               "save it",
                              description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    specs.add_data_options(p)
    specs.add_teacher_option(p)
    g = p.add_argument_group("estimate")
    g.add_argument("--groups", type=int, default=8, help="batch-means groups for the error bars (default 8)")
    g.add_argument("--checkpoint", default=None, help="checkpoint .npz (resumes if it exists)")
    g.add_argument("--cache", default=None, help="cache directory for the estimate (default: the spectra cache)")
    out = p.add_argument_group("output")
    out.add_argument("--out", required=True, help="output .npz of the Spectrum")
    out.add_argument("--csv", default=None, help="also write the spectrum (rank, s, t) as CSV")
    out.add_argument("--estimate-out", default=None, help="also save the full CovarianceEstimate (.npz)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> None:
    import numpy as np

    from gaussequiv import tables
    from gaussequiv.cli import progress
    from spectra.estimate import estimate_covariances
    from spectra.spectrum import Spectrum

    gen, fmap = centred_problem(args.generator, args.features, args.seed, args.center_samples)
    teacher = specs.parse_teacher(args.teacher, gen.latent_dim)
    est = estimate_covariances(gen, fmap, args.samples, batch_size=args.batch_size, seed=args.seed,
                               progress=progress(args), checkpoint=args.checkpoint, groups=args.groups,
                               precision=args.precision, cache=args.cache)
    spec = Spectrum.from_estimate(est, None if teacher == "averaged" else teacher.theta)
    provenance = {"generator": args.generator, "features": args.features, "teacher": args.teacher,
                  "samples": int(est.n), "seed": args.seed, "center_samples": args.center_samples,
                  "p": int(est.p), "k": int(est.k), "rho": spec.rho, "rho_lin": spec.rho_lin,
                  "gamma": spec.gamma, "generator_name": est.config["generator"],
                  "features_name": est.config["features"]}
    tables.note(seeds={"seed": args.seed, "teacher": args.teacher},
                sizes={"p": int(est.p), "D": int(est.k), "N": int(gen.output_dim), "samples": int(est.n)})
    spec.save(args.out)
    tables.write_metadata(args.out, provenance)
    written = [args.out]
    if args.csv:
        order = np.argsort(spec.s)[::-1]
        tables.write_csv(args.csv, {"rank": np.arange(1, spec.p + 1), "s": spec.s[order], "t": spec.t[order]},
                         {**provenance, "columns_meaning": {"s": "eigenvalue of Omega", "t": "teacher weight of the "
                                                            "eigenmode (Spectrum.t)"}})
        written.append(args.csv)
    if args.estimate_out:
        est.save(args.estimate_out)
        written.append(args.estimate_out)
    top = ", ".join(f"{s:.4g} +- {e:.2g}" for s, e in zip(est.eigvals[:5], est.eigvals_se[:5], strict=False))
    print(f"{est.config['generator']} -> {est.config['features']}: n = {est.n}, p = {est.p}, k = {est.k}")
    print(f"leading eigenvalues of Omega: {top}")
    print(f"rho = {spec.rho:.6g}, rho_lin = {spec.rho_lin:.6g}, teacher = {spec.teacher} ({args.teacher}); "
          f"wrote {', '.join(map(str, written))}")
