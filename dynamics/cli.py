"""gaussequiv dynamics: integrate the online-SGD ODEs on a generator and optionally compare with SGD.

Writes ode.csv (and sgd.csv with --simulate) and eps_g.png (theory against simulation) into --out.
The generalisation error is eps_g = 1/2 E[(yhat - y)^2] (half mean squared error, with the 1/2).

Example::

    gaussequiv dynamics --generator single-layer-sign --K 2 --M 2 --lr 0.2 --t-max 100 --simulate --out d/
"""

from __future__ import annotations

import argparse
import os

#: Generators whose exact Omega and Phi are known (theory §3.4), by CLI name.
GENERATORS = {"single-layer-sign": "sign", "single-layer-erf": "erf"}


def register(subparsers) -> None:
    """Add the ``dynamics`` subcommand."""
    p = subparsers.add_parser("dynamics", help="online-SGD ODEs of a two-layer network on generator data",
                              description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", choices=sorted(GENERATORS), default="single-layer-sign",
                   help="generator with exact covariances (default single-layer-sign)")
    p.add_argument("--N", type=int, default=1000, help="input dimension (default 1000)")
    p.add_argument("--D", type=int, default=100, help="latent dimension (default 100); delta = D/N")
    p.add_argument("--K", type=int, default=2, help="student hidden units (default 2)")
    p.add_argument("--M", type=int, default=2, help="teacher hidden units (default 2)")
    p.add_argument("--lr", type=float, required=True, help="learning rate eta")
    p.add_argument("--t-max", type=float, required=True, help="final time, in steps/N")
    p.add_argument("--activation", choices=("erf", "linear"), default="erf",
                   help="student and teacher activation; erf means erf(z/sqrt 2) (default)")
    p.add_argument("--fixed-second-layer", action="store_true", help="do not train the student's v")
    p.add_argument("--method", choices=("adaptive", "euler", "rk4"), default="adaptive")
    p.add_argument("--solver", choices=("RK45", "RK23", "DOP853"), default="RK45",
                   help="scipy Runge-Kutta pair of the adaptive method (default RK45)")
    p.add_argument("--dt", type=float, default=0.01, help="step of euler/rk4 (default 0.01, the reference)")
    p.add_argument("--bins", type=int, default=None, help="group eigenvalues into at most this many bins")
    p.add_argument("--simulate", action="store_true", help="also run online SGD from the same initial state")
    p.add_argument("--n-test", type=int, default=10_000, help="test samples of the SGD run (default 1e4)")
    p.add_argument("--seed", type=int, default=0, help="seed of generator, teacher, student and SGD")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_run)


def _run(args) -> None:
    from dynamics import Setup, Student, integrate, simulate_sgd
    from dynamics.sgd import spawn_seeds
    from spectra.analytic import single_layer_covariances
    from spectra.generators import SingleLayer
    from spectra.teachers import CommitteeTeacher

    os.makedirs(args.out, exist_ok=True)
    progress = False if args.no_progress else None
    s_gen, s_teacher, s_student, s_sgd = spawn_seeds(args.seed, 4)
    gen = SingleLayer(args.D, args.N, activation=GENERATORS[args.generator], seed=s_gen)
    teacher = CommitteeTeacher.random(args.M, args.D, activation=args.activation, seed=s_teacher)
    student = Student.random(args.K, args.N, seed=s_student, activation=args.activation,
                             train_second_layer=not args.fixed_second_layer)
    omega, phi = single_layer_covariances(gen.weights, gen.activation)
    setup = Setup.from_network(student, teacher, omega=omega, phi=phi, eta=args.lr)
    print(f"{args.generator}: N = {args.N}, D = {args.D}, delta = D/N = {setup.delta:.4g}; K = {args.K}, "
          f"M = {args.M}, eta = {args.lr}, activation = {args.activation}")
    print("eps_g = 1/2 E[(yhat - y)^2] (half mean squared error, with the 1/2)")
    ode = integrate(setup, args.t_max, method=args.method, bins=args.bins, dt=args.dt, solver=args.solver,
                    progress=progress)
    ode.to_csv(os.path.join(args.out, "ode.csv"))
    binned = "" if args.bins is None else f", {ode.info['n_bins']} bins"
    print(f"ODE ({args.method}{binned}): {ode.status}, "
          f"{ode.message}; eps_g(0) = {ode.eps_g[0]:.5g}, eps_g(t = {ode.t[-1]:.4g}) = {ode.eps_g[-1]:.5g}")
    if not ode.success:
        print("warning: the ODE run stopped early; see the message above")
    ax = ode.plot(label="ODE")
    if args.simulate:
        sim = simulate_sgd(gen, teacher, student, args.lr, args.t_max, seed=s_sgd, n_test=args.n_test,
                           omega=omega, phi=phi, times=ode.t, progress=progress)
        sim.to_csv(os.path.join(args.out, "sgd.csv"))
        print(f"SGD: {sim.status}, {sim.message}; eps_g(t = {sim.t[-1]:.4g}) = {sim.eps_g[-1]:.5g} from the order "
              f"parameters, {sim.eps_g_mc[-1]:.5g} +- {sim.eps_g_mc_err[-1]:.2g} Monte Carlo")
        sim.plot(ax=ax, label="SGD", ls="--")
    ax.set_title(f"{args.generator}, N={args.N}, D={args.D}, K={args.K}, M={args.M}, eta={args.lr}",
                 fontsize=9)
    path = os.path.join(args.out, "eps_g.png")
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    print(f"wrote {args.out}/ode.csv{', sgd.csv' if args.simulate else ''} and eps_g.png")
