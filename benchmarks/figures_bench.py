"""Wall time of the demo and of the paper figures' ``--quick`` variants from an empty covariance cache (issue 6).

Targets (issue 6): ``gaussequiv demo`` at most 3 minutes on 2 cores from a fresh clone; the four ``--quick``
figures (which run in the default test suite) under about 3 minutes together. Each run gets a fresh
``GAUSSEQUIV_CACHE`` so nothing estimated earlier is reused. Prints a table; never asserts.

Run: ``.venv/bin/python benchmarks/figures_bench.py`` (about 4 minutes).
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import tempfile
import time


def _timed(fn) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GAUSSEQUIV_CACHE"] = os.path.join(tmp, "cache")
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            fn(os.path.join(tmp, "out"))
        return time.perf_counter() - t0


def main() -> None:
    from gaussequiv.demo import run_demo
    from paper_figures import learning_curves, local_fields, online_sgd, spectra

    rows = [("gaussequiv demo (defaults)", _timed(lambda out: run_demo(out, progress=False)))]
    for mod in (local_fields, online_sgd, learning_curves, spectra):
        rows.append((f"paper_figures.{mod.__name__.split('.')[-1]} --quick",
                     _timed(lambda out, m=mod: m.run(out, quick=True, progress=False))))
    quick_total = sum(t for name, t in rows[1:])
    print(f"# figures benchmark ({platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"load {os.getloadavg()[0]:.1f})")
    print(f"| {'run':42s} | {'wall time':>10s} |")
    print(f"|{'-' * 44}|{'-' * 12}|")
    for name, t in rows:
        print(f"| {name:42s} | {t:8.1f} s |")
    print(f"| {'four --quick figures together':42s} | {quick_total:8.1f} s |")
    print("targets: demo <= 180 s; quick figures together <= ~180 s")


if __name__ == "__main__":
    main()
