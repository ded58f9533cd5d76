"""Replica solver speed: time per point for ridge and logistic at p in {1e3, 1e4, 1e5} (spectrum given),
iterations, a 100-point logistic learning curve, and peak memory of the spectrum path at p = 1e5.

Ridge is also timed against the reference algorithm of the public GCM codes (IdePHICS/GCMProject's state
evolution, re-implemented here from its description in theory.md §2.6, vectorised with numpy like ours): the
plain damped iteration of the full saddle-point equations from the uninformed start, stopped when
``|dV| + |dq| + |dm| < tol`` on the damped step. The ratio is measured in the same process (issue 10 §6: ridge must
beat it by >= 3x).

Prints a table; never asserts. Targets (issue 2, 2 cores): ridge <= 2 ms/point at p = 1e4; logistic
<= 20 ms/point at p = 1e4 to tol 1e-10; 100-point logistic curve <= 2 s; peak memory at p = 1e5 < 200 MB.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from replica import Channel, Loss, learning_curve, solve
from spectra import Spectrum


def power_law_spectrum(p: int, seed: int = 0) -> Spectrum:
    """A structured spectrum: s_i ~ i^-0.7, teacher weights from a random direction."""
    rng = np.random.default_rng(seed)
    s = (1.0 + np.arange(p)) ** -0.7
    s = s / s.mean()
    t = s * rng.standard_normal(p) ** 2
    return Spectrum.from_arrays(s, t, rho=1.2 * float(np.sum(t / s)) / p, gamma=1.0)


def reference_ridge(spec: Spectrum, noise: float, alpha: float, lam: float, *, damping: float = 0.2,
                    tol: float = 1e-10, max_steps: int = 100_000) -> tuple[float, int]:
    """The reference algorithm for ridge (see the module docstring): returns (test error, sweeps)."""
    s, t, sg, rho = spec.s, spec.t, np.sqrt(spec.gamma), spec.rho
    V, q, m = 1000.0, 1e-3, 1e-3
    for step in range(1, max_steps + 1):
        v_hat = alpha / (1 + V)
        q_hat = alpha * (rho + noise + q - 2 * m) / (1 + V) ** 2
        m_hat = alpha / sg / (1 + V)
        den = lam + v_hat * s
        V_new = np.mean(s / den)
        q_new = np.mean((q_hat * s**2 + m_hat**2 * t * s) / den**2)
        m_new = m_hat / sg * np.mean(t / den)
        V_d, q_d, m_d = ((1 - damping) * V_new + damping * V, (1 - damping) * q_new + damping * q,
                         (1 - damping) * m_new + damping * m)
        diff = abs(V_d - V) + abs(q_d - q) + abs(m_d - m)
        V, q, m = V_d, q_d, m_d
        if diff < tol:
            return rho + q - 2 * m, step
    return float("nan"), max_steps


def best_time(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    rows = []
    for p in (1_000, 10_000, 100_000):
        spec = power_law_spectrum(p)
        for name, loss, channel in (("ridge", Loss.square(), Channel.linear(0.1)),
                                    ("logistic", Loss.logistic(), Channel.sign())):
            solve(spec, loss, channel, 2.0, 1e-2)  # warm caches (quadrature rules)
            t, sol = best_time(lambda spec=spec, loss=loss, channel=channel: solve(spec, loss, channel, 2.0, 1e-2))
            rows.append((f"{name} point", p, f"{1e3 * t:9.2f} ms", sol.iterations, f"{sol.test_error:.6f}"))
    for p in (1_000, 10_000, 100_000):
        spec = power_law_spectrum(p)
        t_ref, (err_ref, sweeps) = best_time(lambda spec=spec: reference_ridge(spec, 0.1, 2.0, 1e-2))
        t_ours, sol = best_time(lambda spec=spec: solve(spec, Loss.square(), Channel.linear(0.1), 2.0, 1e-2))
        rows.append(("ridge, reference algorithm", p, f"{1e3 * t_ref:9.2f} ms", sweeps,
                     f"ours {t_ref / t_ours:.1f}x faster; |d err| {abs(err_ref - sol.test_error):.1e}"))
    spec = power_law_spectrum(10_000)
    alphas = np.linspace(0.1, 5.0, 100)
    t, curve = best_time(lambda: learning_curve(spec, Loss.logistic(), Channel.sign(), alphas, 1e-2,
                                                progress=False), repeat=1)
    rows.append(("logistic curve, 100 alphas", 10_000, f"{t:9.3f} s", int(curve.iterations.sum()),
                 f"all converged: {curve.all_converged}"))
    spec = power_law_spectrum(100_000)
    tracemalloc.start()
    solve(spec, Loss.logistic(), Channel.sign(), 2.0, 1e-2)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    rows.append(("peak memory, logistic point", 100_000, f"{peak:9.1f} MB", "-", "(tracemalloc, numpy arrays)"))
    print(f"| {'case':30s} | {'p':>7s} | {'time / memory':>13s} | {'sweeps':>6s} | {'result':30s} |")
    print(f"|{'-' * 32}|{'-' * 9}|{'-' * 15}|{'-' * 8}|{'-' * 32}|")
    for case, p, val, it, res in rows:
        print(f"| {case:30s} | {p:7d} | {val:>13s} | {it!s:>6s} | {res:30s} |")


if __name__ == "__main__":
    main()
