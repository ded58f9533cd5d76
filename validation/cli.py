"""``gaussequiv validate``: theory against simulation on real generator samples, end to end.

Example::

    gaussequiv validate --generator fashion-dcgan --features rf-relu:1024 --loss logistic --lam 1e-2 \\
        --alphas 0.2:3:8 --seeds 5 --out report/

Estimates (or loads from the cache; ``--no-cache`` to neither read nor write it) the covariances of the
features, solves the replica theory on the alpha grid with a fixed random teacher, simulates, and writes
``theory.csv``, ``simulation.csv``, ``simulation_per_seed.csv``, ``comparison.csv``, ``comparison.png`` and
``summary.md`` to ``--out``; ``--json PATH`` also writes the machine-readable report (``-``: to standard
output). Generator and feature specs are those of ``gaussequiv spectrum``. Losses: ``square``, ``logistic``,
``hinge``, ``huber[:A]``. Channels: ``sign``, ``sign:FLIP``, ``probit:NOISE``, ``linear``, ``linear:NOISE``.
Alphas: ``START:STOP:NUM`` (linear grid) or a comma list. A lambda path: ``--lam START:STOP:NUM`` (a
geometric grid) or a comma list, with a single ``--alphas`` value.

Verdict (the rule of ``validation.compare``): Holm over every (point, quantity) t-test of theory against
simulation at family-wise level ``--level`` (default 0.01), reported per group (test error, training
quantities, overlaps q and m). Exit status: 0 the theory agrees with the generator data, 3 it disagrees, 4
incomplete (a theory point or a fit did not converge and nothing disagrees), 1 an error (2: the options
could not be parsed). With ``--gaussian-control`` the control's verdict is reported beside it (it tells a
Gaussian-equivalence gap of the data from an error of the theory) but does not set the exit status.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np

__all__ = ["EXIT_CODES", "register", "parse_alphas", "parse_loss", "parse_channel"]

#: Exit status of ``gaussequiv validate`` per verdict of the generator-data comparison (errors: 1).
EXIT_CODES = {"agree": 0, "disagree": 3, "incomplete": 4}


def parse_alphas(text: str) -> np.ndarray:
    """``START:STOP:NUM`` (``numpy.linspace``) or ``a,b,c`` (the grid syntax of ``gaussequiv predict``)."""
    from replica.cli import parse_grid

    try:
        return parse_grid(text)
    except ValueError:
        raise ValueError(f"--alphas: expected START:STOP:NUM or a comma list, got {text!r}") from None


def parse_lams(text: str) -> np.ndarray:
    """A float, ``START:STOP:NUM`` (``numpy.geomspace``) or ``a,b,c``."""
    try:
        if ":" in text:
            start, stop, num = text.split(":")
            return np.geomspace(float(start), float(stop), int(num))
        return np.array([float(t) for t in text.split(",")])
    except ValueError:
        raise ValueError(f"--lam: expected a number, START:STOP:NUM or a comma list, got {text!r}") from None


def parse_loss(text: str):
    """A :class:`replica.Loss` from ``square``, ``logistic``, ``hinge`` or ``huber[:A]`` (``Loss.from_name``)."""
    from replica import Loss

    try:
        return Loss.from_name(text)
    except ValueError:
        raise ValueError(f"unknown --loss {text!r}; use square, logistic, hinge or huber[:A]") from None


def parse_channel(text: str):
    """A :class:`replica.Channel` from ``sign[:FLIP]``, ``probit:NOISE`` or ``linear[:NOISE]``."""
    from replica import Channel

    name, _, arg = text.partition(":")
    try:
        if name == "sign":
            return Channel.sign(float(arg) if arg else 0.0)
        if name == "probit" and arg:
            return Channel.probit(float(arg))
        if name == "linear":
            return Channel.linear(float(arg) if arg else 0.0)
    except ValueError as exc:
        raise ValueError(f"--channel {text!r}: {exc}") from None
    raise ValueError(f"unknown --channel {text!r}; use sign[:FLIP], probit:NOISE or linear[:NOISE]")


def _theory_curve(spec, loss, channel, alphas, lam, progress):
    """The replica curve: a lambda path when ``lam`` is a sequence, else an alpha sweep. Non-converged points
    keep their status and are reported as incomplete; a warm start that fails is re-solved cold by replica."""
    import replica

    if np.ndim(lam) > 0:
        return replica.lambda_path(spec, loss, channel, float(alphas[0]), lam, strict=False, progress=progress)
    return replica.learning_curve(spec, loss, channel, alphas, lam, strict=False, progress=progress)


def _run(args: argparse.Namespace) -> int:
    from spectra import Spectrum, estimate_covariances
    from spectra.cli import centred_problem
    from spectra.teachers import LinearTeacher
    from validation.compare import compare
    from validation.control import gaussian_control
    from validation.simulate import simulate

    loss, channel = parse_loss(args.loss), parse_channel(args.channel)
    alphas = parse_alphas(args.alphas)
    lams = parse_lams(args.lam)
    if lams.size > 1 and alphas.size > 1:
        raise ValueError("--lam with several values (a lambda path) needs a single --alphas value")
    lam = lams if lams.size > 1 else float(lams[0])
    if args.seeds < 2:
        raise ValueError(f"--seeds must be >= 2 for error bars, got {args.seeds}")
    if not 0 < args.level < 1:
        raise ValueError(f"--level must be in (0, 1), got {args.level:g}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # the human-readable lines go to stderr when the JSON report goes to stdout
    say = functools.partial(print, file=sys.stderr if args.json == "-" else sys.stdout)
    # the same centred feature map as `gaussequiv spectrum` with this seed, so the cached spectrum is shared
    gen, fmap = centred_problem(args.generator, args.features, args.seed, args.center_samples)
    cache = False if args.no_cache else (args.cache if args.cache else True)
    est = estimate_covariances(gen, fmap, args.samples, batch_size=args.batch_size, seed=args.seed,
                               progress=not args.no_progress, precision=args.precision, cache=cache)
    # A stream of its own: a plain int seed would reproduce the weights of a generator built with the same
    # int (SingleLayer(D, N, seed=0) has F[0] = theta/sqrt(D) for LinearTeacher.random(D, seed=0)), making the
    # label sign(nu) one of the generator's units, where Gaussian equivalence fails.
    teacher = LinearTeacher.random(gen.latent_dim, seed=np.random.SeedSequence([args.teacher_seed, 7]))
    spec = Spectrum.from_estimate(est, teacher.theta)
    curve = _theory_curve(spec, loss, channel, alphas, lam, progress=not args.no_progress)
    sim_alphas = alphas if np.ndim(lam) == 0 else float(alphas[0])
    sim = simulate(gen, fmap, teacher, channel, loss, lam, sim_alphas, covariances=est, n_test=args.n_test,
                   seeds=args.seeds, seed=np.random.SeedSequence([args.seed, 2]), progress=not args.no_progress)
    cmp = compare(curve, sim, spectrum=spec, level=args.level)
    curve.to_csv(out / "theory.csv")
    sim.to_csv(out / "simulation.csv")
    sim.to_csv(out / "simulation_per_seed.csv", per_seed=True)
    sim.save(out / "simulation.npz")
    cmp.to_csv(out / "comparison.csv")
    cmp.plot(out / "comparison.png")
    header = (f"# gaussequiv validate\n\n{est.config['generator']} -> {est.config['features']}: p = {est.p}, "
              f"D = {est.k}; covariances from {est.n} samples; fixed teacher (seed {args.teacher_seed}), "
              f"rho = {spec.rho:.4g}, rho_lin = {spec.rho_lin:.4g}; n_test = {args.n_test}.\n\n")
    report = header + cmp.summary()
    files = ["theory.csv", "simulation.csv", "simulation_per_seed.csv", "simulation.npz", "comparison.csv",
             "comparison.png", "summary.md"]
    cmp_g = None
    if args.gaussian_control:
        ctrl = gaussian_control(est, teacher)
        sim_g = simulate(ctrl.generator, None, ctrl.teacher, channel, loss, lam, sim_alphas,
                         covariances=ctrl.covariances, n_test=args.n_test, seeds=args.seeds,
                         seed=np.random.SeedSequence([args.seed, 3]), progress=not args.no_progress)
        cmp_g = compare(curve, sim_g, level=args.level)
        cmp_g.to_csv(out / "control_comparison.csv")
        cmp_g.plot(out / "control_comparison.png")
        files += ["control_comparison.csv", "control_comparison.png"]
        report += ("\n## Gaussian control\n\nThe same estimator on Gaussian data with the estimated covariances "
                   "(validation.gaussian_control). If the control agrees and the generator data do not, the gap "
                   "is a failure of Gaussian equivalence at this size, not of the theory.\n\n" + cmp_g.summary())
    (out / "summary.md").write_text(report)
    code = EXIT_CODES[cmp.verdict]
    if args.json is not None:
        doc = {"command": "validate", "exit_code": code, "exit_codes": {**EXIT_CODES, "error": 1},
               "config": {"generator": args.generator, "features": args.features, "loss": loss.name,
                          "channel": channel.name, "lam": np.atleast_1d(lam).tolist(),
                          "alphas": np.atleast_1d(sim_alphas).tolist(), "seeds": args.seeds, "n_test": args.n_test,
                          "samples": args.samples, "seed": args.seed, "teacher_seed": args.teacher_seed,
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


def register(subparsers) -> None:
    """Add the ``validate`` subcommand."""
    p = subparsers.add_parser("validate", help="replica theory against ERM on generator samples",
                              description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", default="fashion-dcgan", help="generator spec (default fashion-dcgan)")
    p.add_argument("--features", default="identity", help="feature spec (default identity)")
    p.add_argument("--loss", default="logistic", help="square, logistic, hinge or huber[:A] (default logistic)")
    p.add_argument("--channel", default="sign", help="sign[:FLIP], probit:NOISE or linear[:NOISE] (default sign)")
    p.add_argument("--lam", default="1e-2",
                   help="ridge penalty (default 1e-2), or START:STOP:NUM / a comma list for a lambda path")
    p.add_argument("--alphas", default="0.2:3:8", help="START:STOP:NUM or a comma list (default 0.2:3:8)")
    p.add_argument("--seeds", type=int, default=5, help="independent repetitions (>= 2; default 5)")
    p.add_argument("--n-test", type=int, default=10_000, help="fresh test samples per seed (default 1e4)")
    p.add_argument("--samples", type=int, default=100_000, help="samples of the covariance estimate (default 1e5)")
    p.add_argument("--center-samples", type=int, default=10_000,
                   help="pilot samples for the feature map's input mean (as `gaussequiv spectrum`)")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--precision", choices=("float64", "float32"), default="float64")
    cache = p.add_mutually_exclusive_group()
    cache.add_argument("--cache", default=None, help="cache directory of the estimate (default: the spectra cache)")
    cache.add_argument("--no-cache", action="store_true",
                       help="neither read nor write the covariance cache (estimate afresh)")
    p.add_argument("--seed", type=int, default=0, help="root seed of the estimate and the simulation")
    p.add_argument("--teacher-seed", type=int, default=0,
                   help="seed of the fixed teacher theta (drawn from SeedSequence([SEED, 7]))")
    p.add_argument("--level", type=float, default=0.01,
                   help="family-wise level of the verdict (Holm over all points and quantities; default 0.01)")
    p.add_argument("--gaussian-control", action="store_true",
                   help="also simulate the Gaussian model with the estimated covariances (separates a Gaussian-"
                        "equivalence gap from a theory error)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="also write the machine-readable report (verdicts, rule, tables) as JSON to PATH ('-': stdout)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=_run, error_code=1)
