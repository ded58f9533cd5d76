"""Speed of the spectra package: generator sample rates, covariance accumulation against a plain numpy
matmul of the same shapes (same run), end-to-end estimation, and eigh at p = 3072. Prints a table; never
asserts.

Run: ``.venv/bin/python benchmarks/spectra_bench.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from spectra import estimate_covariances
from spectra.dcgan import DCGAN
from spectra.estimate import GroupMoments, batch_moments
from spectra.generators import DeepRandom, SingleLayer, pretrained


def best_of(f, repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls (after one warm-up call)."""
    f()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (p = 1024), for a smoke run")
    args = ap.parse_args()
    p = 1024 if args.quick else 3072
    b = 1000
    rows = []
    print(f"# spectra benchmark  (numpy {np.__version__}, {os.cpu_count()} cpus, "
          f"OMP/OPENBLAS threads = {os.environ.get('OPENBLAS_NUM_THREADS', 'default')})")

    # ------------------------------------------------------------------ generators
    gens = {
        "SingleLayer sign 100->3072": SingleLayer(100, 3072, "sign", seed=0),
        "DeepRandom sign 100x100x100->3072": DeepRandom([100, 100, 100, 3072], "sign", seed=0),
        "fashion-dcgan (pretrained) 100->784": pretrained("fashion-dcgan"),
        "DCGAN random 100->3x32x32": DCGAN.random(seed=0),
    }
    try:
        gens["face-dcgan pooled 100->3x32x32"] = pretrained("face-dcgan")
    except (ImportError, FileNotFoundError, ValueError) as exc:
        print(f"# face-dcgan skipped: {exc}")
    c = np.random.default_rng(0).standard_normal((b, 100)).astype(np.float32)
    for name, gen in gens.items():
        t = best_of(lambda gen=gen: gen(c), repeat=3)
        rows.append(("generator", name, f"{b / t:,.0f} samples/s", f"batch {b}"))

    # ------------------------------------------------------------------ accumulation vs matmul
    rng = np.random.default_rng(1)
    v = rng.standard_normal((b, p)).astype(np.float32)
    u = rng.standard_normal((b, 100)).astype(np.float32)
    flops = 2 * b * (p * p + p * 100 + 100 * 100)  # gemm-equivalent flop count of the three products
    for prec in ("float64", "float32"):
        dt = np.dtype(prec)
        state = GroupMoments(2, p, 100)

        def accumulate(dt=dt, state=state):
            state.add(0, *batch_moments(v, u, dt))

        vv, uu = v.astype(dt), u.astype(dt)
        vt, ut = np.ascontiguousarray(vv.T), np.ascontiguousarray(uu.T)

        def matmul(vt=vt, vv=vv, ut=ut, uu=uu):
            vt @ vv
            vt @ uu
            ut @ uu

        t_acc = best_of(accumulate)
        t_mm = best_of(matmul)
        rows.append(("accumulate", f"batch {b} x p {p} + k 100, {prec}", f"{flops / t_acc / 1e9:.1f} GFLOP/s",
                     f"numpy matmul {flops / t_mm / 1e9:.1f} GFLOP/s -> {100 * t_mm / t_acc:.0f}%"))

    # ------------------------------------------------------------------ end to end
    fashion = pretrained("fashion-dcgan")
    n = 20_000 if not args.quick else 5000
    for prec in ("float64", "float32"):
        t = time.perf_counter()
        estimate_covariances(fashion, None, n, batch_size=b, seed=0, progress=False, precision=prec)
        t = time.perf_counter() - t
        rows.append(("estimate", f"fashion-dcgan identity p=784, n={n}, {prec}", f"{n / t:,.0f} samples/s",
                     f"{t:.1f} s total"))
    gen = SingleLayer(100, p, "sign", seed=0)
    n = 10_000 if not args.quick else 3000
    t = time.perf_counter()
    estimate_covariances(gen, None, n, batch_size=b, seed=0, progress=False, precision="float32")
    t = time.perf_counter() - t
    rows.append(("estimate", f"SingleLayer sign p={p}, n={n}, float32", f"{n / t:,.0f} samples/s", f"{t:.1f} s"))

    # ------------------------------------------------------------------ eigh
    a = rng.standard_normal((p, p))
    a = a @ a.T / p
    t = time.perf_counter()
    np.linalg.eigh(a)
    rows.append(("eigh", f"numpy.linalg.eigh p={p}", f"{time.perf_counter() - t:.2f} s", "vectors included"))

    w = [max(len(r[i]) for r in rows) for i in range(4)]
    print(" | ".join(h.ljust(w[i]) for i, h in enumerate(("what", "case", "rate", "note"))))
    print("-+-".join("-" * x for x in w))
    for r in rows:
        print(" | ".join(x.ljust(w[i]) for i, x in enumerate(r)))


if __name__ == "__main__":
    main()
