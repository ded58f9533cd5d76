"""Cost of the channel side: CPU time per evaluation of the hats for every built-in loss x channel pair, and per
solver point; prints a table, never asserts.

Each pair is solved once on an isotropic spectrum (p = 500, alpha = 3, lam = 0.1); the hats are then timed at 20
overlaps within 1e-3 of the fixed point (the last sweeps of a solve), best of 3, in process CPU time (robust to
other jobs on the machine). Run it against another checkout to compare::

    PYTHONPATH=/path/to/other/checkout python benchmarks/channel_bench.py
"""

from __future__ import annotations

import time

import numpy as np

from replica import Channel, Loss, solve
from replica.channel_side import make_channel_side
from spectra import Spectrum


def channels() -> list:
    out = [Channel.linear(0.5), Channel.sign(), Channel.sign(flip=0.1), Channel.probit(0.1)]
    if hasattr(Channel, "logit"):
        out.append(Channel.logit(2.0))
    out.append(Channel.from_likelihood("1/(1 + exp(-2*y*z))", name="likelihood logit(2)"))
    out.append(Channel.from_likelihood("1/(1 + exp(-1000*y*z))", name="likelihood logit(1000)"))
    return out


def cpu(fn, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main() -> None:
    spec = Spectrum.isotropic(500)
    alpha, lam = 3.0, 0.1
    rows = []
    for ch in channels():
        for loss in (Loss.square(), Loss.logistic(), Loss.hinge(), Loss.huber(1.0)):
            if loss.name in ("logistic", "hinge") and not ch.is_classification:
                continue
            t0 = time.process_time()
            sol = solve(spec, loss, ch, alpha, lam, strict=False)
            t_solve = time.process_time() - t0
            side = make_channel_side(loss, ch, spec.rho, alpha, spec.gamma)
            pts = [(sol.V * (1 + 1e-4 * k), sol.q * (1 - 5e-5 * k), sol.m * (1 - 1e-4 * k)) for k in range(20)]
            side.hats(*pts[0])
            t_hats = cpu(lambda side=side, pts=pts: [side.hats(*p) for p in pts]) / len(pts)
            rows.append((ch.name, loss.name, t_hats, t_solve, sol.iterations, sol.status, sol.test_error))
    print(f"| {'channel':24s} | {'loss':9s} | {'hats / eval':>11s} | {'solve (CPU)':>11s} | sweeps | "
          f"{'status':9s} | {'test error':>12s} |")
    print(f"|{'-' * 26}|{'-' * 11}|{'-' * 13}|{'-' * 13}|--------|{'-' * 11}|{'-' * 14}|")
    for ch, lo, th, ts, it, st, te in rows:
        print(f"| {ch:24s} | {lo:9s} | {th * 1e3:8.3f} ms | {ts:9.3f} s | {it:6d} | {st:9s} | {te:12.8f} |")


if __name__ == "__main__":
    main()
