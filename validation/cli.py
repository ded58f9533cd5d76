"""``gaussequiv validate``: theory against simulation on real generator samples, end to end.

Example::

    gaussequiv validate --generator fashion-dcgan --features rf-relu:1024 --loss logistic --lam 1e-2 \\
        --alphas 0.2:3:8 --seeds 5 --out report/

Estimates (or loads from the cache; ``--no-cache`` to neither read nor write it) the covariances of the
features, solves the replica theory on the grid, simulates ERM on fresh generator samples, and writes
``theory.csv``, ``simulation.csv``, ``simulation_per_seed.csv``, ``comparison.csv`` (each with a header row and a
sidecar ``NAME.csv-metadata.json``), ``simulation.npz``, ``comparison.png`` and ``summary.md`` to ``--out``;
``--json PATH`` also writes the machine-readable report (``-``: to standard output). Specs and grids are those
of every command (``gaussequiv --help``); a lambda path is several ``--lam`` values (e.g. ``1e-3:1:7:log``) with
a single ``--alphas`` value. The teacher defaults to the fixed ``random:0``, as in ``gaussequiv spectrum``: the
theory here is what ``gaussequiv predict`` computes from that command's spectrum. With ``--teacher averaged``
the theory averages over teachers and the simulation draws a fresh teacher per seed.

Verdict (the rule of ``validation.compare``): Holm over every (point, quantity) t-test of theory against
simulation at family-wise level ``--level`` (default 0.01), reported per group (test error, training
quantities, overlaps q and m). Exit status: 0 the theory agrees with the generator data, 3 it disagrees, 4
incomplete (a theory point or a fit did not converge and nothing disagrees), 1 an error while running, 2 a
usage error (an option or its value is wrong). With ``--gaussian-control`` the control's verdict is reported
beside it (it tells a Gaussian-equivalence gap of the data from an error of the theory) but does not set the exit
status.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

from gaussequiv import cli as _cli
from gaussequiv import specs
from gaussequiv.specs import parse_channel, parse_loss

__all__ = ["EXIT_CODES", "register", "parse_alphas", "parse_loss", "parse_channel"]

#: Exit status of ``gaussequiv validate`` per verdict of the generator-data comparison (errors: 1, usage: 2).
EXIT_CODES = {"agree": _cli.EXIT_CODES["ok"], "disagree": _cli.EXIT_CODES["disagree"],
              "incomplete": _cli.EXIT_CODES["incomplete"]}


def parse_alphas(text: str):
    """The ``--alphas`` grid (:func:`gaussequiv.specs.parse_grid`)."""
    return specs.parse_grid(text, "--alphas")


def _theory_curve(spec, loss, channel, alphas, lam, progress):
    """The replica curve (:func:`replica.cli.theory_curve`): a lambda path when ``lam`` is an array, else an alpha
    sweep; non-converged points keep their status and are reported as incomplete."""
    from replica.cli import theory_curve

    return theory_curve(spec, loss, channel, alphas, lam, progress=progress)


def register(subparsers) -> None:
    """Add the ``validate`` subcommand."""
    p = subparsers.add_parser("validate", help="replica theory against ERM on generator samples, with a verdict",
                              description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    specs.add_data_options(p)
    specs.add_teacher_option(p)
    specs.add_problem_options(p)
    specs.add_sweep_options(p)
    g = p.add_argument_group("simulation and verdict")
    g.add_argument("--seeds", type=int, default=5, help="independent repetitions (>= 2; default 5)")
    g.add_argument("--n-test", type=int, default=10_000, help="fresh test samples per seed (default 1e4)")
    g.add_argument("--level", type=float, default=0.01,
                   help="family-wise level of the verdict (Holm over all points and quantities; default 0.01)")
    g.add_argument("--gaussian-control", action="store_true",
                   help="also simulate the Gaussian model with the estimated covariances (separates a Gaussian-"
                        "equivalence gap from a theory error; needs a fixed teacher)")
    cache = p.add_argument_group("cache").add_mutually_exclusive_group()
    cache.add_argument("--cache", default=None, help="cache directory of the estimate (default: the spectra cache)")
    cache.add_argument("--no-cache", action="store_true",
                       help="neither read nor write the covariance cache (estimate afresh)")
    out = p.add_argument_group("output")
    out.add_argument("--out", required=True, help="output directory")
    out.add_argument("--json", default=None, metavar="PATH",
                     help="also write the machine-readable report (verdicts, rule, tables) as JSON to PATH "
                          "('-': stdout)")
    p.set_defaults(func=_run)


def _figure(cmp, path: Path, what: str) -> None:
    """The comparison's figure, its title prefixed with the data, the generator, the features and p."""
    fig = cmp.plot()
    fig.suptitle(f"{what}\n{fig.get_suptitle()}", fontsize=8)
    fig.savefig(path, dpi=150)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from gaussequiv import checks, seeding, tables
    from spectra import Spectrum, estimate_covariances
    from validation.compare import compare
    from validation.control import gaussian_control
    from validation.simulate import simulate

    loss, channel = parse_loss(args.loss, args.loss_expr), parse_channel(args.channel)
    alphas, lam = specs.parse_sweep(args.alphas, args.lam)
    checks.integer("--seeds", args.seeds, minimum=2)
    checks.real("--level", args.level, low=0.0, high=1.0, low_open=True, high_open=True)
    gen, fmap = specs.centred_problem(args.generator, args.features, args.seed, args.center_samples)
    teacher = specs.parse_teacher(args.teacher, gen.latent_dim)
    fixed = teacher != "averaged"
    if args.gaussian_control and not fixed:
        raise ValueError("--gaussian-control needs a fixed teacher (--teacher random[:SEED]), not 'averaged'")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # the human-readable lines go to stderr when the JSON report goes to stdout
    say = functools.partial(print, file=sys.stderr if args.json == "-" else sys.stdout)
    progress = _cli.progress(args)
    # the same centred feature map and estimate as `gaussequiv spectrum` with this seed: the cache is shared
    cache = False if args.no_cache else (args.cache if args.cache else True)
    est = estimate_covariances(gen, fmap, args.samples, batch_size=args.batch_size, seed=args.seed,
                               progress=progress, precision=args.precision, cache=cache)
    spec = Spectrum.from_estimate(est, teacher.theta if fixed else None)
    tables.note(seeds={"seed": args.seed, "teacher": args.teacher, "simulation": args.seed,
                       "gaussian_control": f"stream({args.seed}, 'validate.gaussian_control')"},
                sizes={"p": int(est.p), "D": int(est.k), "N": int(gen.output_dim), "samples": int(est.n),
                       "n_test": args.n_test, "seeds": args.seeds})
    curve = _theory_curve(spec, loss, channel, alphas, lam, progress)
    sim_alphas = alphas if np.ndim(lam) == 0 else float(alphas[0])
    # simulate() draws from its own stream of the seed, independent of the estimate's samples
    sim = simulate(gen, fmap, teacher, channel, loss, lam, sim_alphas, covariances=est, n_test=args.n_test,
                   seeds=args.seeds, seed=args.seed, progress=progress)
    cmp = compare(curve, sim, spectrum=spec, level=args.level)
    meta = {"generator": args.generator, "features": args.features, "teacher": args.teacher, "p": int(est.p)}
    curve.to_csv(out / "theory.csv", metadata=meta)
    sim.to_csv(out / "simulation.csv", metadata=meta)
    sim.to_csv(out / "simulation_per_seed.csv", per_seed=True, metadata=meta)
    sim.save(out / "simulation.npz")
    cmp.to_csv(out / "comparison.csv", metadata=meta)
    what = f"{args.generator} -> {args.features}, p = {est.p}, teacher {args.teacher}"
    _figure(cmp, out / "comparison.png", f"generator data: {what}")
    teacher_text = (f"fixed teacher ({args.teacher})" if fixed
                    else "teacher averaged over theta ~ N(0, I_D) (a fresh one per seed)")
    header = (f"# gaussequiv validate\n\n{est.config['generator']} -> {est.config['features']}: p = {est.p}, "
              f"D = {est.k}; covariances from {est.n} samples; {teacher_text}, rho = {spec.rho:.4g}, "
              f"rho_lin = {spec.rho_lin:.4g}; n_test = {args.n_test}.\n\n")
    report = header + cmp.summary()
    files = ["theory.csv", "simulation.csv", "simulation_per_seed.csv", "simulation.npz", "comparison.csv",
             "comparison.png", "summary.md"]
    cmp_g = None
    if args.gaussian_control:
        ctrl = gaussian_control(est, teacher)
        sim_g = simulate(ctrl.generator, None, ctrl.teacher, channel, loss, lam, sim_alphas,
                         covariances=ctrl.covariances, n_test=args.n_test, seeds=args.seeds,
                         seed=seeding.stream(args.seed, "validate.gaussian_control"), progress=progress)
        cmp_g = compare(curve, sim_g, level=args.level)
        cmp_g.to_csv(out / "control_comparison.csv", metadata={**meta, "data": "Gaussian control"})
        _figure(cmp_g, out / "control_comparison.png", f"Gaussian control of {what}")
        files += ["control_comparison.csv", "control_comparison.png"]
        report += ("\n## Gaussian control\n\nThe same estimator on Gaussian data with the estimated covariances "
                   "(validation.gaussian_control). If the control agrees and the generator data do not, the gap "
                   "is a failure of Gaussian equivalence at this size, not of the theory.\n\n" + cmp_g.summary())
    files += [f"{name}{tables.SIDECAR_SUFFIX}" for name in files if name.endswith(".csv")]
    (out / "summary.md").write_text(report)
    code = EXIT_CODES[cmp.verdict]
    if args.json is not None:
        doc = {"command": "validate", "exit_code": code,
               "exit_codes": {**EXIT_CODES, "error": _cli.EXIT_CODES["error"], "usage": _cli.EXIT_CODES["usage"]},
               "config": {"generator": args.generator, "features": args.features, "loss": loss.name,
                          "channel": channel.name, "lam": np.atleast_1d(lam).tolist(),
                          "alphas": np.atleast_1d(sim_alphas).tolist(), "seeds": args.seeds, "n_test": args.n_test,
                          "samples": args.samples, "seed": args.seed, "teacher": args.teacher,
                          "level": args.level, "cache": not args.no_cache},
               "problem": {"p": int(est.p), "k": int(est.k), "rho": float(spec.rho), "rho_lin": float(spec.rho_lin)},
               "generator_data": cmp.report(),
               "gaussian_control": None if cmp_g is None else cmp_g.report(),
               "out": str(out), "files": files}
        text = json.dumps(doc, indent=1, allow_nan=False)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    if cmp_g is not None:
        say(f"Gaussian control: {cmp_g.verdict_text()}")
    say(f"generator data: {cmp.verdict_text()}; report in {out}/ (exit status {code})")
    return code
