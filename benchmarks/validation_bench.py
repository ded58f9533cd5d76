"""Validation benchmarks: a table of wall times (never asserts).

* logistic fit (L-BFGS, certified to the default tol) at n = 1e4, p = 1e3, lam = 1e-2 (target <= 2 s);
* ridge path of 50 lams from one eigendecomposition at n = p = 2000 (target <= 1 s);
* ridge at one lam, n = p = 1000: the Cholesky solve of ``fit_ridge`` against the eigendecomposition route
  (``ridge_path`` with one lam, what ``fit_ridge`` did before), and the dual route at n = 500, p = 1000.
"""

import time

import numpy as np

from replica import Loss
from validation.fit import design, fit_ridge, fit_smooth, ridge_path


def best_of(fn, repeats=3):
    times = []
    out = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    rng = np.random.default_rng(0)
    rows = []
    n, p = 10_000, 1_000
    V = rng.standard_normal((n, p))
    X = design(V)
    y = np.sign(V @ rng.standard_normal(p) / np.sqrt(p) + 0.3 * rng.standard_normal(n))
    t, f = best_of(lambda: fit_smooth(Loss.logistic(), X, y, 1e-2))
    rows.append((f"logistic fit n=1e4 p=1e3 lam=1e-2 ({f.method}, cert {f.certificate:.1e})", t, 2.0))
    n = p = 2000
    X = design(rng.standard_normal((n, p)))
    y = rng.standard_normal(n)
    t, _ = best_of(lambda: ridge_path(X, y, np.logspace(-3, 1, 50)))
    rows.append(("ridge path 50 lams n=p=2000", t, 1.0))
    for n, p in ((1000, 1000), (500, 1000)):
        X = design(rng.standard_normal((n, p)))
        y = rng.standard_normal(n)
        t, f = best_of(lambda X=X, y=y: fit_ridge(X, y, 1e-2))
        rows.append((f"ridge one lam n={n} p={p} ({f.method}, cert {f.certificate:.1e})", t, 0.1))
        t, _ = best_of(lambda X=X, y=y: ridge_path(X, y, [1e-2]))
        rows.append((f"ridge one lam n={n} p={p} (eigendecomposition, before)", t, None))
    print(f"{'benchmark':<62} {'time [s]':>9} {'target':>7}")
    for name, t, target in rows:
        print(f"{name:<62} {t:9.3f} {'-' if target is None else f'{target:.1f}':>7}")


if __name__ == "__main__":
    main()
