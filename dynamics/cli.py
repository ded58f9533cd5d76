"""gaussequiv dynamics: integrate the online-SGD ODEs on a generator and optionally compare with SGD.

Writes ode.csv (and sgd.csv with --simulate or --seeds) and eps_g.png (theory against simulation) into --out,
and prints the plateau height and length and the escape time of each curve (dynamics.Plateau). With
--seeds N (N >= 2) the SGD curve is the mean over N runs from the same initial network, with standard errors
(sgd.csv has the mean, SE and every run). The generalisation error is eps_g = 1/2 E[(yhat - y)^2] (half mean
squared error, with the 1/2).

Activations are the names of the library's one registry: erf_sqrt2 is erf(z/sqrt 2) (the default, Saad &
Solla's unit), erf is erf(z), linear is z.

Example::

    gaussequiv dynamics --generator single-layer-sign --K 2 --M 2 --lr 0.2 --t-max 100 --seeds 8 --out d/
    gaussequiv dynamics --generator isotropic --N 500 --lr 0.5 --t-max 300 --fixed-second-layer --out ss/
"""

from __future__ import annotations

import argparse
import os

from dynamics.integrals import ODE_ACTIVATIONS, gaussian_integrals

#: Generators whose exact Omega and Phi are known (theory §3.4), by CLI name; "isotropic" is x = c.
GENERATORS = {"single-layer-sign": "sign", "single-layer-erf": "erf", "isotropic": None}


def register(subparsers) -> None:
    """Add the ``dynamics`` subcommand."""
    p = subparsers.add_parser("dynamics", help="online-SGD ODEs of a two-layer network on generator data",
                              description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", choices=sorted(GENERATORS), default="single-layer-sign",
                   help="generator with exact covariances (default single-layer-sign); isotropic: x = c, D = N")
    p.add_argument("--N", type=int, default=1000, help="input dimension (default 1000)")
    p.add_argument("--D", type=int, default=None,
                   help="latent dimension (default 100; = N for isotropic); delta = D/N")
    p.add_argument("--K", type=int, default=2, help="student hidden units (default 2)")
    p.add_argument("--M", type=int, default=2, help="teacher hidden units (default 2)")
    p.add_argument("--lr", type=float, required=True, help="learning rate eta")
    p.add_argument("--t-max", type=float, required=True, help="final time, in steps/N")
    p.add_argument("--activation", choices=ODE_ACTIVATIONS, default=ODE_ACTIVATIONS[0],
                   help="student and teacher activation: "
                        + ", ".join(f"{a} = {gaussian_integrals(a).formula}" for a in ODE_ACTIVATIONS)
                        + f" (default {ODE_ACTIVATIONS[0]})")
    p.add_argument("--fixed-second-layer", action="store_true", help="do not train the student's v")
    p.add_argument("--method", choices=("adaptive", "euler", "rk4"), default="adaptive")
    p.add_argument("--solver", choices=("RK45", "RK23", "DOP853"), default="RK45",
                   help="scipy Runge-Kutta pair of the adaptive method (default RK45)")
    p.add_argument("--dt", type=float, default=0.01, help="step of euler/rk4 (default 0.01, the reference)")
    p.add_argument("--bins", type=int, default=None, help="group eigenvalues into at most this many bins")
    p.add_argument("--simulate", action="store_true", help="also run online SGD from the same initial state")
    p.add_argument("--seeds", type=int, default=1,
                   help="SGD runs (sample streams) to average, with standard errors; >= 2 implies --simulate "
                        "(default 1)")
    p.add_argument("--n-test", type=int, default=10_000, help="test samples of each SGD run (default 1e4)")
    p.add_argument("--seed", type=int, default=0, help="seed of generator, teacher, student and SGD")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_run)


def _run(args) -> None:
    from dynamics import (
        IsotropicInputs,
        Setup,
        Student,
        default_times,
        integrate,
        simulate_sgd,
        simulate_sgd_seeds,
    )
    from gaussequiv import checks, seeding
    from spectra.analytic import single_layer_covariances
    from spectra.generators import SingleLayer
    from spectra.teachers import CommitteeTeacher

    seeds = checks.integer("seeds", args.seeds)
    N = checks.integer("N", args.N)
    isotropic = args.generator == "isotropic"
    if isotropic and args.D is not None and args.D != N:
        raise ValueError(f"--generator isotropic has D = N = {N} (x = c); got --D {args.D}")
    D = N if isotropic else (100 if args.D is None else args.D)
    os.makedirs(args.out, exist_ok=True)
    progress = False if args.no_progress else None
    # Independent streams per kind of object (gaussequiv.seeding), all reproducible from --seed.
    teacher = CommitteeTeacher.random(args.M, D, activation=args.activation,
                                      seed=seeding.stream(args.seed, "teacher"))
    student = Student.random(args.K, N, seed=args.seed, activation=args.activation,
                             train_second_layer=not args.fixed_second_layer)
    if isotropic:
        gen = IsotropicInputs(N)
        omega = phi = None
        setup = Setup.isotropic(student, teacher, eta=args.lr)
    else:
        gen = SingleLayer(D, N, activation=GENERATORS[args.generator], seed=seeding.stream(args.seed, "generator"))
        omega, phi = single_layer_covariances(gen.weights, gen.activation)
        setup = Setup.from_network(student, teacher, omega=omega, phi=phi, eta=args.lr)
    act = gaussian_integrals(args.activation)
    print(f"{args.generator}: N = {N}, D = {D}, delta = D/N = {setup.delta:.4g}; K = {args.K}, M = {args.M}, "
          f"eta = {args.lr}, activation = {args.activation} (g(z) = {act.formula})")
    print("eps_g = 1/2 E[(yhat - y)^2] (half mean squared error, with the 1/2)")
    times = default_times(args.t_max, N=N)  # on the SGD step grid, so ODE and SGD outputs align
    bins = 1 if isotropic and args.bins is None else args.bins  # one eigenvalue: one bin is exact
    ode = integrate(setup, args.t_max, times=times, method=args.method, bins=bins, dt=args.dt, solver=args.solver,
                    progress=progress)
    ode.to_csv(os.path.join(args.out, "ode.csv"))
    binned = "" if bins is None else f", {ode.info['n_bins']} bins"
    print(f"ODE ({args.method}{binned}): {ode.status}, "
          f"{ode.message}; eps_g(0) = {ode.eps_g[0]:.5g}, eps_g(t = {ode.t[-1]:.4g}) = {ode.eps_g[-1]:.5g}")
    if not ode.converged:
        print("warning: the ODE run stopped early; see the message above")
    print(f"ODE plateau: {ode.plateau().message}")
    ax = ode.plot(label="ODE")
    if args.simulate or seeds > 1:
        kw = dict(n_test=args.n_test, omega=omega, phi=phi, times=times, progress=progress)
        if seeds > 1:
            avg = simulate_sgd_seeds(gen, teacher, student, args.lr, args.t_max, seeds=seeds, seed=args.seed, **kw)
            avg.to_csv(os.path.join(args.out, "sgd.csv"))
            print(f"SGD, mean of {seeds} runs: {avg.status}, {avg.message}; eps_g(t = {avg.t[-1]:.4g}) = "
                  f"{avg.eps_g_mean[-1]:.5g} +- {avg.eps_g_se[-1]:.2g} from the order parameters, "
                  f"{avg.eps_g_mc_mean[-1]:.5g} +- {avg.eps_g_mc_se[-1]:.2g} Monte Carlo")
            print(f"SGD plateau: {avg.plateau().message}")
            avg.plot(ax=ax, label=f"SGD, mean of {seeds} runs (+-1 SE)")
        else:
            sim = simulate_sgd(gen, teacher, student, args.lr, args.t_max, seed=args.seed, **kw)
            sim.to_csv(os.path.join(args.out, "sgd.csv"))
            print(f"SGD: {sim.status}, {sim.message}; eps_g(t = {sim.t[-1]:.4g}) = {sim.eps_g[-1]:.5g} from the "
                  f"order parameters, {sim.eps_g_mc[-1]:.5g} +- {sim.eps_g_mc_err[-1]:.2g} Monte Carlo")
            print(f"SGD plateau: {sim.plateau().message}")
            sim.plot(ax=ax, label="SGD", ls="--")
    ax.set_title(f"{args.generator}, N={N}, D={D}, K={args.K}, M={args.M}, eta={args.lr}, g = {act.formula}",
                 fontsize=9)
    path = os.path.join(args.out, "eps_g.png")
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    sgd = ", sgd.csv" if args.simulate or seeds > 1 else ""
    print(f"wrote {args.out}/ode.csv{sgd} and eps_g.png")
