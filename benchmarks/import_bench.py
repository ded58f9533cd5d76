"""Import cost of the packages (issue 13 §1): prints a table, never asserts.

Each row runs a fresh interpreter (``sys.executable``, this environment's ``PYTHONPATH``) five times and reports

* the wall time of the whole process, best of 5 (interpreter start-up included; ``python -c pass`` is the first
  row, ``import numpy, scipy.special`` the floor every numeric row pays);
* ``-X importtime``: the cumulative import time of the named top-level module (microseconds as Python reports
  them), best of 5, and the sum over every top-level import of the process;
* whether ``sympy``, ``scipy.optimize`` and ``matplotlib`` are in ``sys.modules`` at exit.

Run it against another checkout with ``PYTHONPATH=/path/to/checkout``, or compare checkouts on the same load by
naming them (the runs alternate between them, one table each)::

    python benchmarks/import_bench.py /path/to/before /path/to/after
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time

REPEAT = 5

SOLVE = ("import replica, spectra; "
         "replica.solve(spectra.Spectrum.isotropic(200), replica.Loss.logistic(), replica.Channel.sign(), 2.0, 0.1); "
         "replica.solve(spectra.Spectrum.isotropic(200), replica.Loss.square(), replica.Channel.linear(0.1), 2.0, 0.1)")

#: (label, module whose cumulative import time is reported or None, code after ``-c`` or ``-m`` arguments)
CASES = [
    ("python -c pass", None, ["-c", "pass"]),
    ("import numpy, scipy.special", "scipy.special", ["-c", "import numpy, scipy.special"]),
    ("import replica", "replica", ["-c", "import replica"]),
    ("import spectra", "spectra", ["-c", "import spectra"]),
    ("import validation", "validation", ["-c", "import validation"]),
    ("import dynamics", "dynamics", ["-c", "import dynamics"]),
    ("from replica import Loss, Channel, solve", "replica", ["-c", "from replica import Loss, Channel, solve"]),
    ("solve logistic/sign + square/linear", "replica", ["-c", SOLVE]),
    ("python -m gaussequiv --help", "gaussequiv", ["-m", "gaussequiv", "--help"]),
]

_PROBE = ("; import sys; print('MODULES', *[m for m in ('sympy', 'scipy.optimize', 'matplotlib') "
          "if m in sys.modules], file=sys.stderr)")
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


def run(args: list[str], module: str | None, cwd: str, path: str | None) -> tuple[float, int | None, int, str]:
    """Wall time, cumulative import time of ``module``, total top-level import time, heavy modules loaded.

    ``cwd`` is an empty directory: ``-c`` and ``-m`` put the working directory first on ``sys.path``, before
    ``PYTHONPATH``, so a checkout as working directory would be measured instead of the one asked for. ``path``
    (a checkout) replaces ``PYTHONPATH`` if given."""
    if args[0] == "-c":
        args = ["-c", args[1] + _PROBE]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    if path is not None:
        env["PYTHONPATH"] = path
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    err = subprocess.run([sys.executable, "-X", "importtime", *args], check=True, env=env, cwd=cwd, text=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).stderr
    cumulative, total, loaded = None, 0, "-"
    for line in err.splitlines():
        if line.startswith("MODULES"):
            loaded = " ".join(line.split()[1:]) or "none"
        match = _LINE.match(line)
        if match and len(match.group(3)) == 1:  # a top-level import (nested ones are indented further)
            total += int(match.group(2))
            if match.group(4) == module:
                cumulative = int(match.group(2))
    return wall, cumulative, total, loaded


def main(checkouts: list[str]) -> None:
    paths = [os.path.abspath(c) for c in checkouts] or [None]
    results: dict = {(label, path): [] for label, _, _ in CASES for path in paths}
    with tempfile.TemporaryDirectory() as empty:
        for _ in range(REPEAT):
            for label, module, args in CASES:
                for path in paths:
                    results[label, path].append(run(args, module, empty, path))
    for path in paths:
        where = path if path is not None else f"PYTHONPATH={os.environ.get('PYTHONPATH', '')}"
        print(f"python {sys.version.split()[0]}, {where}, best of {REPEAT}")
        print(f"| {'command':42s} | {'wall':>8s} | {'importtime (module)':>19s} | {'importtime (all)':>16s} | "
              "heavy modules at exit |")
        print(f"|{'-' * 44}|{'-' * 10}|{'-' * 21}|{'-' * 18}|{'-' * 23}|")
        for label, _, _ in CASES:
            runs = results[label, path]
            wall = min(r[0] for r in runs)
            cums = [r[1] for r in runs if r[1] is not None]
            cum = f"{min(cums) / 1e6:7.3f} s" if cums else "-"
            total = min(r[2] for r in runs) / 1e6
            print(f"| {label:42s} | {wall:6.3f} s | {cum:>19s} | {total:14.3f} s | {runs[-1][3]:21s} |")
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
