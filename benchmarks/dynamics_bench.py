"""Speed of the online-SGD ODE integrators and of the SGD simulation (issue 5). Prints a table; never asserts.

Problem: single-layer sign generator with exact covariances (theory §3.4), N = 3072 modes, D = 100,
K = M = 2, eta = 0.2, erf(z/sqrt 2) units, t_max = 1000 (200 log-spaced output times). Targets (issue 5):
adaptive <= 10 s; binned (200 bins) <= 1 s with eps_g within 1e-3 of the unbinned run. SGD: steps per
second at N = 1000. eps_g carries the 1/2 (half mean squared error).

Run: ``.venv/bin/python benchmarks/dynamics_bench.py [--quick]`` (``--quick``: t_max = 100).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from dynamics import Setup, Student, integrate, simulate_sgd
from spectra.analytic import single_layer_covariances
from spectra.generators import SingleLayer
from spectra.teachers import CommitteeTeacher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="t_max = 100 instead of 1000")
    args = parser.parse_args()
    t_max = 100.0 if args.quick else 1000.0
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

    # SGD simulation speed at N = 1000.
    Ns, Ds = 1000, 100
    gen_s = SingleLayer(Ds, Ns, "sign", seed=0)
    om, ph = single_layer_covariances(gen_s.weights, "sign")
    teacher_s = CommitteeTeacher.random(2, Ds, seed=1)
    student_s = Student.random(2, Ns, seed=2)
    sim = simulate_sgd(gen_s, teacher_s, student_s, 0.5, 20.0, seed=3, n_test=1000, times=[0.0, 20.0],
                       omega=om, phi=ph, progress=False)
    print(f"SGD simulation, N = {Ns}, D = {Ds}, K = M = 2: {sim.info['steps_per_s']:.0f} steps/s "
          f"({sim.info['steps']} steps in {sim.info['wall_time_s']:.2f} s, incl. generator and 2 measurements)")


if __name__ == "__main__":
    main()
