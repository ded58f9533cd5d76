"""Audit of converged solver points against an exact channel side (issue 9), as a printed table; never asserts.

For random problems (isotropic or power-law spectrum, alpha log-uniform in [0.2, 50], lam log-uniform in
[1e-3, 10], a built-in channel) and each loss, ``replica.solve`` is run, and the fixed point of the saddle-point
equations is solved again with the channel side replaced by the independent adaptive-quadrature reference of
``tests/replica/channel_reference.py`` (``scipy.optimize.root``, started from the solver's point). The table
gives, per loss, the solver statuses and the largest gap in test error between the two fixed points.

Run it against another checkout to compare (the reference and the problems are the same)::

    PYTHONPATH=/path/to/other/checkout python benchmarks/channel_audit.py --points 200 --out before.csv

Reference fixed points are cached in ``--cache`` (a JSON file) so a second run does not recompute them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time

import numpy as np

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # after PYTHONPATH

from replica import Channel, Loss, solve  # noqa: E402
from spectra import Spectrum  # noqa: E402
from tests.replica.channel_reference import reference_fixed_point  # noqa: E402

LOSSES = {"square": Loss.square, "logistic": Loss.logistic, "hinge": Loss.hinge, "huber": lambda: Loss.huber(1.0)}


def channels() -> dict:
    out = {"sign": Channel.sign(), "flip": Channel.sign(flip=0.1), "probit": Channel.probit(0.1),
           "linear": Channel.linear(0.5)}
    if hasattr(Channel, "logit"):
        out["logit"] = Channel.logit(2.0)
    return out


def problem(i: int, loss: str):
    """The i-th random problem for a loss: (spectrum, channel name, alpha, lam)."""
    r = np.random.default_rng([i, sorted(LOSSES).index(loss)])
    names = ["sign", "flip", "probit"] + (["linear"] if loss in ("square", "huber") else [])
    ch = names[int(r.integers(len(names)))]
    alpha = float(np.exp(r.uniform(np.log(0.2), np.log(50.0))))
    lam = float(np.exp(r.uniform(np.log(1e-3), np.log(10.0))))
    if r.random() < 0.5:
        spec = Spectrum.isotropic(500)
    else:
        p = 300
        s = (1.0 + np.arange(p)) ** -0.7
        s = s / s.mean()
        t = s * r.standard_normal(p) ** 2
        spec = Spectrum.from_arrays(s, t, rho=1.2 * float(np.sum(t / s)) / p, gamma=1.0)
    return spec, ch, alpha, lam


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200, help="random problems per loss")
    ap.add_argument("--losses", default="square,logistic,hinge,huber")
    ap.add_argument("--cache", default="channel_audit_cache.json", help="reference fixed points (JSON)")
    ap.add_argument("--out", default=None, help="optional CSV of every point")
    args = ap.parse_args()
    cache = json.load(open(args.cache)) if os.path.exists(args.cache) else {}
    chans = channels()
    rows = []
    summary = []
    for lname in args.losses.split(","):
        loss = LOSSES[lname]()
        gaps, statuses, t_solve = [], {}, 0.0
        for i in range(args.points):
            spec, cname, alpha, lam = problem(i, lname)
            ch = chans[cname]
            t0 = time.process_time()
            sol = solve(spec, loss, ch, alpha, lam, strict=False)
            t_solve += time.process_time() - t0
            statuses[sol.status] = statuses.get(sol.status, 0) + 1
            key = f"{lname}:{i}"
            if key not in cache and sol.converged:
                V, q, m, res = reference_fixed_point(spec, loss, ch, alpha, lam, (sol.V, sol.q, sol.m))
                if res < 1e-9:
                    cache[key] = [V, q, m]
                    json.dump(cache, open(args.cache, "w"))
            gap = np.nan
            if sol.converged and key in cache:
                V, q, m = cache[key]
                gap = abs(sol.test_error - ch.test_error(spec.rho, q, m))
                gaps.append(gap)
            rows.append((lname, i, cname, alpha, lam, sol.status, sol.test_error, gap))
        g = np.array(gaps)
        summary.append((lname, len(g), statuses, np.max(g) if g.size else np.nan, int(np.sum(g > 1e-4)),
                        int(np.sum(g > 1e-6)), t_solve / args.points))
    print(f"| {'loss':9s} | audited | {'statuses':38s} | {'max |dtest error|':>17s} | > 1e-4 | > 1e-6 | "
          f"{'solve CPU':>9s} |")
    print(f"|{'-' * 11}|---------|{'-' * 40}|{'-' * 19}|--------|--------|{'-' * 11}|")
    for lname, n, st, worst, n4, n6, ts in summary:
        sts = ", ".join(f"{k} {v}" for k, v in sorted(st.items()))
        print(f"| {lname:9s} | {n:7d} | {sts:38s} | {worst:17.2e} | {n4:6d} | {n6:6d} | {ts * 1e3:6.0f} ms |")
    if args.out:
        with open(args.out, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["loss", "index", "channel", "alpha", "lam", "status", "test_error", "gap"])
            w.writerows(rows)


if __name__ == "__main__":
    main()
