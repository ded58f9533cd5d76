"""Does ``replica.solve`` converge from its default call, and is every "converged" right?

A grid of losses x channels x spectra x lam x alpha (issue 10 §1): hinge, logistic, Huber and a ``from_expr``
loss; isotropic, power-law and random-features spectra; lam from 1e-8 to 10; alpha from 0.05 to 50. Each point
is solved by the default call ``solve(spectrum, loss, channel, alpha, lam, strict=False)``. Its reference is an
independent route to the same fixed point: a warm-started regularisation path from lam = 10 down (one path per
alpha, :func:`replica.lambda_path`), and for the Huber loss on linear labels also the Huber-free check that the
path and the cold solve agree. A converged point is *contradicted* when the path converged there and differs by
more than 1e-6 relative in the test error, q or m (both claim 1e-10).

Prints a table; never asserts. Run: ``python benchmarks/convergence_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from replica import Channel, Loss, lambda_path, solve
from spectra import Spectrum

LAMS = np.array([10.0, 1.0, 1e-1, 1e-2, 1e-4, 1e-6, 1e-8])
ALPHAS = np.array([0.05, 0.2, 0.5, 1.0, 2.0, 5.0, 15.0, 50.0])
AGREE = 1e-6


def spectra_grid(p: int) -> dict[str, Spectrum]:
    """Isotropic; a power law with a partly invisible teacher; Gaussian-equivalent ReLU random features."""
    rng = np.random.default_rng(0)
    iso = Spectrum.isotropic(p)
    s = (1.0 + np.arange(p)) ** -1.2
    s *= p / s.sum()
    t = s * (1.0 + np.arange(p)) ** -0.3
    t *= 0.8 * p / np.sum(t / s)  # rho_lin = 0.8 with k = p, rho = 1
    power = Spectrum.from_arrays(s, t, rho=1.0, gamma=1.0)
    D = p // 2
    F = rng.standard_normal((p, D)) / np.sqrt(D)
    k1, kstar2 = 0.5, (np.pi - 2) / (4 * np.pi)  # ReLU: kappa_1 = 1/2, kappa_*^2 = (pi - 2)/(4 pi)
    omega = k1**2 * F @ F.T + kstar2 * np.eye(p)
    rf = Spectrum.from_covariances(omega=omega, phi=k1 * F, psi=np.eye(D), theta=rng.standard_normal(D))
    return {"isotropic": iso, "power-law": power, "random-features": rf}


def problems():
    return [("hinge", Loss.hinge(), Channel.sign()), ("hinge", Loss.hinge(), Channel.probit(0.1)),
            ("logistic", Loss.logistic(), Channel.sign()), ("logistic", Loss.logistic(), Channel.probit(0.3)),
            ("huber(1)", Loss.huber(1.0), Channel.linear(0.5)),
            ("log(cosh(y-z))", Loss.from_expr("log(cosh(y - z))"), Channel.linear(0.2))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller grid (p = 100, five alphas: 0.05 ... 50)")
    args = parser.parse_args()
    p = 100 if args.quick else 200
    alphas = np.array([0.05, 0.5, 2.0, 15.0, 50.0]) if args.quick else ALPHAS
    rows = []
    totals = collections.Counter()
    for spec_name, spec in spectra_grid(p).items():
        for loss_name, loss, channel in problems():
            stats = collections.Counter()
            routes = collections.Counter()
            times = []
            worst = 0.0
            for alpha in alphas:
                path = lambda_path(spec, loss, channel, alpha, LAMS, strict=False, progress=False)
                for j, lam in enumerate(LAMS):
                    t0 = time.perf_counter()
                    sol = solve(spec, loss, channel, alpha, lam, strict=False)
                    times.append(time.perf_counter() - t0)
                    stats[sol.status] += 1
                    routes[sol.route.split(" (")[0].split(" from")[0]] += 1
                    if sol.converged and path.status[j] == "converged":
                        diff = max(abs(sol.test_error - path.test_error[j]) / max(abs(path.test_error[j]), 1e-300),
                                   abs(sol.q - path.q[j]) / path.q[j], abs(sol.m - path.m[j]) / abs(path.m[j]))
                        worst = max(worst, diff)
                        if diff > AGREE:
                            stats["contradicted"] += 1
                    elif sol.converged:
                        stats["unchecked"] += 1
            n = len(alphas) * len(LAMS)
            totals.update(stats)
            totals["points"] += n
            other = ", ".join(f"{k} {v}" for k, v in sorted(stats.items())
                              if k not in ("converged", "contradicted", "unchecked"))
            rows.append((spec_name, f"{loss_name}, {channel.name}", n, stats["converged"], other or "-",
                         stats["contradicted"], stats["unchecked"], worst, np.median(times), max(times),
                         ", ".join(f"{k} {v}" for k, v in routes.most_common())))
            print("  done:", rows[-1][:8], flush=True)
    print(f"p = {p}; lam in {LAMS.min():g}..{LAMS.max():g} ({len(LAMS)}), alpha in {alphas.min():g}..{alphas.max():g} "
          f"({len(alphas)}); default call solve(..., strict=False)\n")
    print("| spectrum | loss, channel | points | converged | other statuses | contradicted | unchecked | "
          "max rel. diff to path | median time | max time | routes |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]} | {r[7]:.1e} | {1e3 * r[8]:.0f} ms | "
              f"{r[9]:.2f} s | {r[10]} |")
    n = totals["points"]
    print(f"\nall: {n} points, converged {totals['converged']} ({100 * totals['converged'] / n:.2f}%), "
          f"contradicted {totals['contradicted']}, unchecked {totals['unchecked']}; other statuses: "
          + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())
                      if k not in ("points", "converged", "contradicted", "unchecked")))


if __name__ == "__main__":
    main()
