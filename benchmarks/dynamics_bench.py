"""Speed of the online-SGD ODE integrators and of the SGD simulation (issues 5, 13). Prints tables; never asserts.

Problem: single-layer sign generator with exact covariances (theory §3.4), N = 3072 modes, D = 100,
K = M = 2, eta = 0.2, erf(z/sqrt 2) units, t_max = 1000 (200 log-spaced output times). Targets (issue 5):
adaptive <= 10 s; binned (200 bins) <= 1 s with eps_g within 1e-3 of the unbinned run. SGD: steps per
second at N = 1000, one run and an average over seeds. eps_g carries the 1/2 (half mean squared error).

Issue 13 asks whether ``scipy.integrate.solve_ivp`` with a terminal event should replace the hand-stepped
scipy Runge-Kutta pair of ``integrate(method="adaptive")``. The second table times both on the same
right-hand side, interleaved and repeated (the machine is shared: compare the medians of one run of this
script, not numbers across runs). The ``solve_ivp`` route needs a right-hand side that returns NaN instead of
raising (an exception inside ``solve_ivp`` loses every output computed so far) and a terminal event on the
smallest pair determinant (so a breakdown ends the run at the event instead of as a step-size failure).

Run: ``.venv/bin/python benchmarks/dynamics_bench.py [--quick]`` (``--quick``: t_max = 100, fewer repeats).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from scipy.integrate import solve_ivp

from dynamics import IsotropicInputs, Setup, Student, integrate, simulate_sgd, simulate_sgd_seeds
from dynamics.ode import _blas_single, _Breakdown, _SpectralODE, default_times
from spectra.analytic import single_layer_covariances
from spectra.generators import SingleLayer
from spectra.teachers import CommitteeTeacher


def solve_ivp_route(setup: Setup, t_max: float, times: np.ndarray, rtol: float = 1e-8, atol: float = 1e-10,
                    bins=None):
    """The adaptive route written with ``solve_ivp`` + a terminal event; returns ``(eps_g, status, nfev)``."""
    from dynamics import bin_modes, generalisation_error

    ode = _SpectralODE(setup, None if bins is None else bin_modes(setup.eigenvalues, bins))
    K = setup.K

    def fun(t, y):
        try:
            return ode(t, y)
        except (_Breakdown, FloatingPointError):
            return np.full_like(y, np.nan)

    def min_det(t, y):
        Q, R, _ = ode.order_parameters(y)
        dq = np.diag(Q)
        det_kj = dq[:, None] * dq[None, :] - Q * Q + np.eye(K)
        det_kn = dq[:, None] * np.diag(setup.T)[None, :] - R * R
        return min(det_kj.min(), det_kn.min())

    min_det.terminal = True
    with _blas_single(), np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        sol = solve_ivp(fun, (0.0, t_max), ode.y0, method="RK45", t_eval=times, rtol=rtol, atol=atol,
                        events=min_det)
    Qs, Rs, vs = zip(*(ode.order_parameters(y) for y in sol.y.T), strict=True)
    n = len(Qs)
    eps = generalisation_error(np.array(Qs), np.array(Rs), np.broadcast_to(setup.T, (n, *setup.T.shape)),
                               np.array(vs), np.broadcast_to(setup.A, (n, setup.M)), setup.activation)
    return eps, sol.status, sol.nfev


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="t_max = 100 instead of 1000")
    args = parser.parse_args()
    t_max = 100.0 if args.quick else 1000.0
    repeats = 2 if args.quick else 3
    N, D, eta = 3072, 100, 0.2

    t0 = time.perf_counter()
    gen = SingleLayer(D, N, "sign", seed=0)
    omega, phi = single_layer_covariances(gen.weights, "sign")
    teacher = CommitteeTeacher.random(2, D, seed=1)
    student = Student.random(2, N, seed=2)
    setup = Setup.from_network(student, teacher, omega=omega, phi=phi, eta=eta)
    t_setup = time.perf_counter() - t0

    rows = []

    def run(label, target, **kw):
        start = time.perf_counter()
        traj = integrate(setup, t_max, **kw)
        rows.append((label, time.perf_counter() - start, target, traj))
        return traj

    euler = run("euler dt=0.01 (reference)", "-", method="euler", progress=False)
    adaptive = run("adaptive RK45 rtol=1e-8", "<= 10 s", method="adaptive", progress=False)
    binned = run("adaptive RK45, 200 bins", "<= 1 s", method="adaptive", bins=200, progress=False)
    run("adaptive RK23 rtol=1e-6", "-", method="adaptive", solver="RK23", rtol=1e-6, atol=1e-8,
        progress=False)
    run("adaptive RK23 1e-6, 200 bins", "<= 1 s", method="adaptive", bins=200, solver="RK23", rtol=1e-6,
        atol=1e-8, progress=False)
    run("euler dt=0.01, 200 bins", "-", method="euler", bins=200, progress=False)

    print(f"dynamics benchmark: N = {N}, D = {D}, delta = {setup.delta:.4g}, K = M = 2, eta = {eta}, "
          f"t_max = {t_max:g}; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"setup (exact Omega, eigh of {N}x{N}): {t_setup:.2f} s; eps_g(0) = {setup.eps_g:.5f} "
          "(eps_g = 1/2 E(yhat - y)^2)")
    print()
    print(f"| {'run':<29} | {'time [s]':>8} | {'target':>7} | {'bins':>5} | {'eps_g(t_max)':>12} | "
          f"{'max|d eps_g| vs adaptive':>24} |")
    print(f"|{'-' * 31}|{'-' * 10}|{'-' * 9}|{'-' * 7}|{'-' * 14}|{'-' * 26}|")
    for label, seconds, target, traj in rows:
        diff = np.max(np.abs(traj.eps_g - adaptive.eps_g))
        print(f"| {label:<29} | {seconds:8.2f} | {target:>7} | {traj.info['n_bins']:>5} | "
              f"{traj.eps_g[-1]:12.6f} | {diff:24.2e} |")
    print()
    print(f"binned (200 bins) vs unbinned adaptive: max |d eps_g| = "
          f"{np.max(np.abs(binned.eps_g - adaptive.eps_g)):.2e} (target 1e-3); "
          f"euler vs adaptive: {np.max(np.abs(euler.eps_g - adaptive.eps_g)):.2e}")

    # Issue 13: hand-stepped RK45 against solve_ivp with a terminal event, interleaved.
    times = default_times(t_max)
    timing: dict[str, list[float]] = {"hand-stepped RK45 (integrate)": [], "solve_ivp RK45 + terminal event": [],
                                      "hand-stepped, 200 bins": [], "solve_ivp, 200 bins": []}
    diffs, nfev = [], 0
    for _ in range(repeats):
        for bins, (hand, ivp) in ((None, list(timing)[:2]), (200, list(timing)[2:])):
            start = time.perf_counter()
            ref = integrate(setup, t_max, times=times, bins=bins, progress=False)
            timing[hand].append(time.perf_counter() - start)
            start = time.perf_counter()
            eps, status, nfev = solve_ivp_route(setup, t_max, times, bins=bins)
            timing[ivp].append(time.perf_counter() - start)
            diffs.append(np.max(np.abs(eps - ref.eps_g)))
    print()
    print(f"adaptive route, {repeats} interleaved repeats (median [min, max]), t_max = {t_max:g}:")
    print(f"| {'route':<33} | {'median [s]':>10} | {'min [s]':>7} | {'max [s]':>7} |")
    print(f"|{'-' * 35}|{'-' * 12}|{'-' * 9}|{'-' * 9}|")
    for label, ts in timing.items():
        print(f"| {label:<33} | {np.median(ts):10.2f} | {min(ts):7.2f} | {max(ts):7.2f} |")
    print(f"solve_ivp vs integrate: max |d eps_g| = {max(diffs):.1e} (same RK45 steps); solve_ivp status {status}, "
          f"{nfev} right-hand sides")

    # SGD simulation speed at N = 1000: one run, and an average over seeds (sequential runs).
    Ns, Ds = 1000, 100
    gen_s = SingleLayer(Ds, Ns, "sign", seed=0)
    om, ph = single_layer_covariances(gen_s.weights, "sign")
    teacher_s = CommitteeTeacher.random(2, Ds, seed=1)
    student_s = Student.random(2, Ns, seed=2)
    sim = simulate_sgd(gen_s, teacher_s, student_s, 0.5, 20.0, seed=3, n_test=1000, times=[0.0, 20.0],
                       omega=om, phi=ph, progress=False)
    print()
    print(f"SGD simulation, N = {Ns}, D = {Ds}, K = M = 2: {sim.info['steps_per_s']:.0f} steps/s "
          f"({sim.info['steps']} steps in {sim.info['wall_time_s']:.2f} s, incl. generator and 2 measurements)")
    start = time.perf_counter()
    avg = simulate_sgd_seeds(IsotropicInputs(Ns), CommitteeTeacher.random(2, Ns, seed=1),
                             Student.random(2, Ns, seed=2), 0.5, 5.0, seeds=4, seed=3, n_test=1000,
                             times=[0.0, 5.0], progress=False)
    wall = time.perf_counter() - start
    print(f"simulate_sgd_seeds, isotropic N = {Ns}, 4 seeds x {int(5 * Ns)} steps: {wall:.2f} s "
          f"({4 * 5 * Ns / wall:.0f} steps/s); {avg.status}")


if __name__ == "__main__":
    main()
