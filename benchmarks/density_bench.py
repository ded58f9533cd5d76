"""Learning curves at p = infinity (issue 12 §2): wall and CPU time of

* a 200-point random-features curve in p/n for the logistic loss (sign teacher, erf features, n/D = 2), solved on
  the Marchenko-Pastur density of each point (no matrix);
* the same curve for ridge (the scalar route);
* learning curves in n on a power law (per-sample density, no cutoff): ridge with lambda_K = n^-l over 200 values
  of n in [1e1, 1e9], and logistic over 50 values of n;
* for scale, what the density replaces: 20 points of the ridge curve from sampled p x p matrices at n = 1000.

Prints a table; never asserts. Target (2 cores): the 200-point logistic curve under 5 s. The machine may be shared,
so CPU time (process time, BLAS pinned to one thread) is printed next to the wall time.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from replica import Channel, Loss, kernel_learning_curve, random_features_curve, solve  # noqa: E402
from spectra import SpectralDensity, Spectrum  # noqa: E402
from spectra.analytic import kappas  # noqa: E402


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def finite_p_ridge_curve(grid, n, n_over_d, lam, seed=0):
    """The matrix route: a fresh p x p Gaussian-equivalent covariance per point, its eigendecomposition, a solve."""
    k = kappas("erf")
    D = round(n / n_over_d)
    rng = np.random.default_rng(seed)
    errs = []
    for r in grid:
        p = round(r * n)
        F = rng.standard_normal((p, D)) / np.sqrt(D)
        omega = k.kappa1**2 * F @ F.T + k.kappa_star**2 * np.eye(p)
        spec = Spectrum.from_covariances_averaged(omega=omega, phi=k.kappa1 * F, psi=np.eye(D))
        errs.append(solve(spec, Loss.square(), Channel.linear(0.1), n / p, lam).test_error)
    return np.array(errs)


def main() -> None:
    rows = []
    grid = np.linspace(0.1, 3.0, 200)
    random_features_curve("erf", Loss.logistic(), Channel.sign(), grid[:3], n_over_d=2.0, lam=1e-2)  # warm caches
    w, c, rf = timed(lambda: random_features_curve("erf", Loss.logistic(), Channel.sign(), grid, n_over_d=2.0,
                                                   lam=1e-2, progress=False))
    rows.append(("RF curve, logistic, 200 p/n", w, c, f"{int(rf.converged.sum())}/200 converged, "
                 f"{int(rf.curve.iterations.sum())} sweeps, min err {rf.test_error.min():.4f}"))
    w, c, rr = timed(lambda: random_features_curve("erf", Loss.square(), Channel.linear(0.1), grid, n_over_d=2.0,
                                                   lam=1e-3, progress=False))
    near = (rr.p_over_n > 0.5) & (rr.p_over_n < 2.0)
    peak = float(rr.p_over_n[near][np.argmax(rr.test_error[near])])
    rows.append(("RF curve, ridge, 200 p/n", w, c, f"{int(rr.converged.sum())}/200 converged, interpolation peak "
                 f"at p/n = {peak:.3f}"))

    pl = SpectralDensity.power_law(2.0, 3.0)
    ns = np.logspace(1, 9, 200)
    w, c, kr = timed(lambda: kernel_learning_curve(pl, Loss.square(), Channel.linear(1e-4), ns, ns**-1.2,
                                                   progress=False))
    slope = -np.polyfit(np.log(ns[-20:]), np.log(kr.test_error[-20:]), 1)[0]
    rows.append((f"power law ridge, 200 n ({pl.s.size} nodes)", w, c,
                 f"{int(kr.converged.sum())}/200 converged, final slope {slope:.3f} (Cui et al.: 0.4)"))
    ns_log = np.logspace(1, 5, 50)
    w, c, kl = timed(lambda: kernel_learning_curve(pl, Loss.logistic(), Channel.sign(), ns_log, 1e-3,
                                                   progress=False))
    rows.append(("power law logistic, 50 n", w, c, f"{int(kl.converged.sum())}/50 converged, "
                 f"err {kl.test_error[0]:.3f} -> {kl.test_error[-1]:.4f}"))

    sub = grid[::10]
    w, c, fin = timed(lambda: finite_p_ridge_curve(sub, 1000, 2.0, 1e-3))
    dens = random_features_curve("erf", Loss.square(), Channel.linear(0.1), sub, n_over_d=2.0, lam=1e-3,
                                 progress=False).test_error
    rows.append(("matrix route, ridge, 20 p/n at n = 1000", w, c,
                 f"max |matrix - density| = {np.max(np.abs(fin - dens)):.2e}"))

    print(f"| {'case':42s} | {'wall':>8s} | {'CPU':>8s} | {'result':60s} |")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 10}|{'-' * 62}|")
    for case, wall, cpu, res in rows:
        print(f"| {case:42s} | {wall:6.2f} s | {cpu:6.2f} s | {res:60s} |")


if __name__ == "__main__":
    main()
