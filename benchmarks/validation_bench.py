"""Validation benchmarks: a table of wall times (never asserts).

* logistic fit (L-BFGS, certified to the default tol) at n = 1e4, p = 1e3, lam = 1e-2 (target <= 2 s);
* ridge path of 50 lams from one eigendecomposition at n = p = 2000 (target <= 1 s).
"""

import time

import numpy as np

from replica import Loss
from validation.fit import design, fit_smooth, ridge_path


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
    print(f"{'benchmark':<62} {'time [s]':>9} {'target':>7}")
    for name, t, target in rows:
        print(f"{name:<62} {t:9.3f} {target:7.1f}")


if __name__ == "__main__":
    main()
