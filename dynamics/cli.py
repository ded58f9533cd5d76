"""``gaussequiv dynamics``: integrate the online-SGD ODEs on a generator and optionally compare with SGD.

Example::

    gaussequiv dynamics --generator single-sign:100x1000 --K 2 --M 2 --lr 0.2 --t-max 100 --seeds 8 --out d/
    gaussequiv dynamics --generator isotropic:500 --lr 0.5 --t-max 300 --fixed-second-layer --out ss/
    gaussequiv dynamics --generator fashion-dcgan --samples 50000 --lr 0.2 --t-max 20 --simulate --out f/

Writes ode.csv (and sgd.csv with --simulate or --seeds; each with a header row and a sidecar
NAME.csv-metadata.json) and eps_g.png (theory against simulation) into --out, and prints the plateau height
and length and the escape time of each curve (dynamics.Plateau). With --seeds N (N >= 2) the SGD curve is the
mean over N runs from the same initial network, with standard errors (sgd.csv has the mean, SE and every run).
The generalisation error is eps_g = 1/2 E[(yhat - y)^2] (half mean squared error, with the 1/2).

The generator is any spec of the one grammar (``gaussequiv --help``). Omega and Phi are exact for isotropic:N
and for single-layer sign and erf generators (theory §3.4); for any other generator they and the output mean
are estimated from --samples Monte Carlo samples (spectra.estimate_covariances, cached). --seed seeds the
teacher, the student, the SGD samples and the estimate (independent streams); the generator's own seed is part
of its spec.

Activations are the names of the library's one registry: erf_sqrt2 is erf(z/sqrt 2) (the default, Saad &
Solla's unit), erf is erf(z), linear is z.
"""

from __future__ import annotations

import argparse
import os

from gaussequiv import specs

__all__ = ["register"]

#: Activations of the ODEs, named in the help (the registry itself is ``dynamics.integrals.ODE_ACTIVATIONS``;
#: a test checks that the two agree). Listed here so the parser does not import the library.
ACTIVATIONS_HELP = "erf_sqrt2 (erf(z/sqrt 2), the default), erf (erf(z)), linear (z)"


def register(subparsers) -> None:
    """Add the ``dynamics`` subcommand."""
    p = subparsers.add_parser("dynamics", help="online-SGD ODEs of a two-layer network on generator data, and SGD",
                              description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("generator data")
    g.add_argument("--generator", default="single-sign:100x1000",
                   help=f"generator spec: {specs.HELP['generator']} (default single-sign:100x1000)")
    g.add_argument("--samples", type=int, default=100_000,
                   help="Monte Carlo samples of Omega, Phi and the mean when they are not exact (default 1e5)")
    g.add_argument("--no-cache", action="store_true", help="do not read or write the covariance cache")
    net = p.add_argument_group("networks and learning")
    net.add_argument("--K", type=int, default=2, help="student hidden units (default 2)")
    net.add_argument("--M", type=int, default=2, help="teacher hidden units (default 2)")
    net.add_argument("--activation", default="erf_sqrt2", help=f"student and teacher activation: {ACTIVATIONS_HELP}")
    net.add_argument("--lr", type=float, required=True, help="learning rate eta")
    net.add_argument("--t-max", type=float, required=True,
                     help="final time, in steps/N: a whole number of SGD steps (t-max times N an integer)")
    net.add_argument("--fixed-second-layer", action="store_true", help="do not train the student's v")
    ode = p.add_argument_group("ODE integration")
    ode.add_argument("--method", choices=("adaptive", "euler", "rk4"), default="adaptive")
    ode.add_argument("--solver", choices=("RK45", "RK23", "DOP853"), default="RK45",
                     help="scipy Runge-Kutta pair of the adaptive method (default RK45)")
    ode.add_argument("--dt", type=float, default=0.01, help="step of euler/rk4 (default 0.01, the reference)")
    ode.add_argument("--bins", type=int, default=None, help="group eigenvalues into at most this many bins")
    sgd = p.add_argument_group("simulation")
    sgd.add_argument("--simulate", action="store_true", help="also run online SGD from the same initial state")
    sgd.add_argument("--seeds", type=int, default=1,
                     help="SGD runs (sample streams) to average, with standard errors; >= 2 implies --simulate "
                          "(default 1)")
    sgd.add_argument("--n-test", type=int, default=10_000, help="test samples of each SGD run (default 1e4)")
    sgd.add_argument("--seed", type=int, default=0,
                     help="root seed of teacher, student, SGD samples and the estimate (independent streams)")
    out = p.add_argument_group("output")
    out.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=_run)


def _covariances(gen, args, progress):
    """(omega, phi, mean, description): exact where the library has them, else a Monte Carlo estimate."""
    from dynamics import IsotropicInputs
    from spectra.analytic import single_layer_covariances
    from spectra.estimate import estimate_covariances
    from spectra.generators import SingleLayer

    if isinstance(gen, IsotropicInputs):
        return None, None, None, "exact (x = c)"
    if isinstance(gen, SingleLayer):
        try:
            omega, phi = single_layer_covariances(gen.weights, gen.activation)
            return omega, phi, None, "exact (theory §3.4)"
        except ValueError:  # no closed form for this activation: estimate below
            pass
    est = estimate_covariances(gen, None, args.samples, seed=args.seed, progress=progress,
                               cache=False if args.no_cache else True)
    return est.omega, est.phi, est.mean_v, f"estimated from {est.n} samples"


def _run(args) -> None:
    from dynamics import IsotropicInputs, Setup, Student, default_times, integrate, simulate_sgd, simulate_sgd_seeds
    from dynamics.integrals import gaussian_integrals
    from gaussequiv import checks, tables
    from gaussequiv.cli import progress as progress_of
    from spectra.teachers import CommitteeTeacher

    seeds = checks.integer("--seeds", args.seeds)
    act = gaussian_integrals(args.activation)
    gen = specs.parse_generator(args.generator)
    N, D = int(gen.output_dim), int(gen.latent_dim)
    os.makedirs(args.out, exist_ok=True)
    progress = progress_of(args)
    # each kind of object draws its own stream of --seed (gaussequiv.seeding): all independent, all reproducible
    teacher = CommitteeTeacher.random(args.M, D, activation=args.activation, seed=args.seed)
    student = Student.random(args.K, N, seed=args.seed, activation=args.activation,
                             train_second_layer=not args.fixed_second_layer)
    omega, phi, mean, cov_text = _covariances(gen, args, progress)
    if isinstance(gen, IsotropicInputs):
        setup = Setup.isotropic(student, teacher, eta=args.lr)
    else:
        setup = Setup.from_network(student, teacher, omega=omega, phi=phi, eta=args.lr)
    tables.note(seeds={"seed": args.seed, "runs": seeds}, sizes={"N": N, "D": D, "K": args.K, "M": args.M})
    print(f"{args.generator}: N = {N}, D = {D}, delta = D/N = {setup.delta:.4g}, covariances {cov_text}; "
          f"K = {args.K}, M = {args.M}, eta = {args.lr}, activation = {args.activation} (g(z) = {act.formula})")
    print("eps_g = 1/2 E[(yhat - y)^2] (half mean squared error, with the 1/2)")
    times = default_times(args.t_max, N=N)  # on the SGD step grid, so ODE and SGD outputs align
    bins = 1 if isinstance(gen, IsotropicInputs) and args.bins is None else args.bins  # one eigenvalue: exact
    ode = integrate(setup, args.t_max, times=times, method=args.method, bins=bins, dt=args.dt, solver=args.solver,
                    progress=progress)
    meta = {"generator": args.generator, "N": N, "D": D, "K": args.K, "M": args.M, "eta": args.lr,
            "activation": args.activation, "covariances": cov_text}
    ode.to_csv(os.path.join(args.out, "ode.csv"), metadata=meta)
    binned = "" if bins is None else f", {ode.info['n_bins']} bins"
    print(f"ODE ({args.method}{binned}): {ode.status}, "
          f"{ode.message}; eps_g(0) = {ode.eps_g[0]:.5g}, eps_g(t = {ode.t[-1]:.4g}) = {ode.eps_g[-1]:.5g}")
    if not ode.converged:
        print("warning: the ODE run stopped early; see the message above")
    print(f"ODE plateau: {ode.plateau().message}")
    ax = ode.plot(label="ODE")
    if args.simulate or seeds > 1:
        kw = dict(n_test=args.n_test, omega=omega, phi=phi, mean=mean, times=times, progress=progress)
        if seeds > 1:
            avg = simulate_sgd_seeds(gen, teacher, student, args.lr, args.t_max, seeds=seeds, seed=args.seed, **kw)
            avg.to_csv(os.path.join(args.out, "sgd.csv"), metadata=meta)
            print(f"SGD, mean of {seeds} runs: {avg.status}, {avg.message}; eps_g(t = {avg.t[-1]:.4g}) = "
                  f"{avg.eps_g_mean[-1]:.5g} +- {avg.eps_g_se[-1]:.2g} from the order parameters, "
                  f"{avg.eps_g_mc_mean[-1]:.5g} +- {avg.eps_g_mc_se[-1]:.2g} Monte Carlo")
            print(f"SGD plateau: {avg.plateau().message}")
            avg.plot(ax=ax, label=f"SGD, mean of {seeds} runs (+-1 SE)")
        else:
            sim = simulate_sgd(gen, teacher, student, args.lr, args.t_max, seed=args.seed, **kw)
            sim.to_csv(os.path.join(args.out, "sgd.csv"), metadata=meta)
            print(f"SGD: {sim.status}, {sim.message}; eps_g(t = {sim.t[-1]:.4g}) = {sim.eps_g[-1]:.5g} from the "
                  f"order parameters, {sim.eps_g_mc[-1]:.5g} +- {sim.eps_g_mc_err[-1]:.2g} Monte Carlo")
            print(f"SGD plateau: {sim.plateau().message}")
            sim.plot(ax=ax, label="SGD", ls="--")
    ax.set_title(f"{args.generator} (N={N}, D={D}, p = N, covariances {cov_text})\nK={args.K}, M={args.M}, "
                 f"eta={args.lr}, g = {act.formula}", fontsize=8)
    path = os.path.join(args.out, "eps_g.png")
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    sgd = ", sgd.csv" if args.simulate or seeds > 1 else ""
    print(f"wrote {args.out}/ode.csv{sgd} and eps_g.png")
