"""Imports are light (issue 13 §1): the packages load their submodules on first use, and sympy is imported only
when a formula is derived.

References: ``sys.modules`` of a fresh interpreter (what an import actually loaded), the submodule that defines
each public name (what the eager ``__init__`` bound), and sympy expressions built independently here. The
timings are a benchmark, not a test: ``benchmarks/import_bench.py``.
"""

import ast
import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gaussequiv.integrity import ForeignPackageError, require_own

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("replica", "spectra", "validation", "dynamics")
#: Loaded by none of the package imports: optional or heavy, imported by the functions that need them.
HEAVY = ("sympy", "scipy.optimize", "scipy.integrate", "scipy.stats", "matplotlib")


def run(code: str, path: Path | None = None) -> str:
    """stdout of ``code`` in a fresh interpreter that finds this checkout first (and ``path`` before it)."""
    pythonpath = os.pathsep.join([str(p) for p in (path, ROOT) if p is not None])
    env = {**os.environ, "PYTHONPATH": pythonpath, "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=300)  # -c puts the working directory first on sys.path
    assert out.returncode == 0, out.stderr
    return out.stdout


def loaded(stdout: str) -> list[str]:
    """The module list the code printed last as ``LOADED name ...``."""
    line = [ln for ln in stdout.splitlines() if ln.startswith("LOADED")][-1]
    return line.split()[1:]


def test_package_imports_load_no_heavy_module():
    """Reference: sys.modules after ``import replica, spectra, validation, dynamics`` in a fresh interpreter; none
    of sympy, scipy.optimize/integrate/stats, matplotlib; and none of the submodules behind the public names."""
    out = run(f"""
        import sys
        import replica, spectra, validation, dynamics
        heavy = {HEAVY!r} + ('replica.solver', 'replica.bayes', 'spectra.spectrum', 'validation.simulate',
                             'dynamics.ode')
        print('LOADED', *[m for m in heavy if m in sys.modules])
    """)
    assert loaded(out) == []


def test_solving_with_built_ins_never_imports_sympy():
    """Reference: sys.modules of a fresh interpreter after ``import replica`` and solving with the built-in losses
    and channels (logistic/sign, hinge/probit, logistic/logit, square and Huber/linear, a learning curve, the
    hinge at lam = 0, the separability threshold): sympy is not loaded, and every point converged (so the solves
    ran). Then reading ``Loss.expr`` imports it (the control: the probe does see sympy when it is loaded)."""
    out = run("""
        import sys
        import replica
        from replica import Channel, Loss
        from spectra import Spectrum
        spec = Spectrum.isotropic(100)
        pairs = [(Loss.logistic(), Channel.sign()), (Loss.hinge(), Channel.probit(0.1)),
                 (Loss.logistic(), Channel.logit(2.0)), (Loss.square(), Channel.linear(0.1)),
                 (Loss.huber(1.0), Channel.linear(0.1))]
        sols = [replica.solve(spec, loss, ch, 2.0, 0.1) for loss, ch in pairs]
        curve = replica.learning_curve(spec, Loss.logistic(), Channel.sign(), [1.0, 2.0], 0.1)
        alpha_c = replica.separability_threshold(spec, Channel.probit(0.5))
        sols.append(replica.solve(spec, Loss.hinge(), Channel.probit(0.5), 0.5 * alpha_c, 0.0))
        print('CONVERGED', all(s.converged for s in sols) and curve.all_converged, len(sols) + len(curve.alpha))
        print('LOADED', *[m for m in ('sympy',) if m in sys.modules])
        Loss.logistic().expr
        print('LOADED', *[m for m in ('sympy',) if m in sys.modules])
    """)
    lines = out.splitlines()
    assert "CONVERGED True 8" in lines
    loads = [ln for ln in lines if ln.startswith("LOADED")]
    assert loads == ["LOADED", "LOADED sympy"]


def test_simulating_with_built_ins_never_imports_sympy():
    """Reference: sys.modules of a fresh interpreter after ``validation.simulate`` trains logistic regressions (a
    built-in loss) on a small generator: sympy is not loaded (checking the loss's type must not build its
    expression), and the fits converged."""
    out = run("""
        import sys
        from replica import Channel, Loss
        import numpy as np
        from spectra.analytic import single_layer_covariances
        from spectra.generators import SingleLayer
        from spectra.teachers import LinearTeacher
        from validation import Covariances, simulate
        gen = SingleLayer(20, 40, "sign", seed=0)
        omega, phi = single_layer_covariances(gen.weights, "sign")
        cov = Covariances(omega=omega, phi=phi, mean_v=np.zeros(40))
        sim = simulate(gen, None, LinearTeacher.random(20, seed=1), Channel.sign(), Loss.logistic(), 0.1, [1.0],
                       covariances=cov, n_test=200, seeds=2, seed=0)
        print('CONVERGED', bool(sim.status.tolist() == ['converged']))
        print('LOADED', *[m for m in ('sympy',) if m in sys.modules])
    """)
    assert "CONVERGED True" in out.splitlines() and loaded(out) == []


def test_built_in_expressions_are_built_on_demand_and_cached():
    """Reference: the sympy expressions of the built-in losses written out here (``Loss.expr``, a public attribute,
    is unchanged by becoming lazy), and the sign channel's ``Z0 = (1 + y erf(omega*/sqrt(2 V*)))/2``."""
    import sympy as sp

    from replica import Channel, Loss

    y, z = sp.symbols("y z")
    w, v = sp.Symbol("omega_star", real=True), sp.Symbol("V_star", positive=True)
    expected = {
        "square": (y - z) ** 2 / 2,
        "logistic": sp.log(1 + sp.exp(-y * z)),
        "hinge": sp.Max(0, 1 - y * z),
        "huber(2)": sp.Piecewise(((y - z) ** 2 / 2, sp.Abs(y - z) <= 2.0), (2.0 * sp.Abs(y - z) - 2.0, True)),
    }
    for loss in (Loss.square(), Loss.logistic(), Loss.hinge(), Loss.huber(2.0)):
        assert loss.expr == expected[loss.name], loss.name
        assert loss.expr is loss.expr  # built once
    assert repr(Loss.logistic()) == "Loss(logistic: log(1 + exp(-y*z)))"
    assert sp.simplify(Channel.sign().Z0() - (1 + y * sp.erf(w / sp.sqrt(2 * v))) / 2) == 0
    assert sp.simplify(Channel.sign().dZ0() - y * sp.exp(-w**2 / (2 * v)) / sp.sqrt(2 * sp.pi * v)) == 0
    loss = Loss.from_expr("log(1 + exp(-y*z))")
    assert loss.expr == expected["logistic"]


def init_imports(package: str) -> dict[str, str]:
    """Public name -> defining module, read from the ``if TYPE_CHECKING:`` imports of the package's __init__."""
    tree = ast.parse((ROOT / package / "__init__.py").read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If) and getattr(node.test, "id", "") ==
                 "TYPE_CHECKING")
    out = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom), ast.dump(node)
        for alias in node.names:
            out[alias.asname or alias.name] = node.module
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves_as_before(package):
    """Reference: the defining submodules, as the eager ``__init__`` imported them (its ``from ... import`` lines
    are kept for static analysis under TYPE_CHECKING): every name of ``__all__`` is listed there, resolves to the
    object its module defines (a submodule for ``spectra.generators``), and appears in ``dir(package)``."""
    module = importlib.import_module(package)
    sources = init_imports(package)
    assert sorted(sources) == sorted(module.__all__)
    for name, source in sources.items():
        origin = importlib.import_module(source)
        want = importlib.import_module(f"{source}.{name}") if source == package else getattr(origin, name)
        assert getattr(module, name) is want, (package, name)
        assert name in dir(module)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018
    assert not hasattr(module, "__wrapped__")


def test_star_import_and_incidental_submodules():
    """Reference: the eager __init__s. ``from replica import *`` binds ``__all__``; submodules that ``import
    replica`` used to load as a side effect (``replica.quadrature``, ``spectra.estimate``) are still attributes."""
    out = run("""
        from replica import *
        import replica, spectra
        print('NAMES', all(name in globals() for name in replica.__all__))
        print('SUB', replica.quadrature.__name__, spectra.estimate.__name__)
    """)
    assert "NAMES True" in out and "SUB replica.quadrature spectra.estimate" in out


def test_functions_named_as_their_submodules_stay_functions():
    """Reference: the eager validation __init__, where ``validation.simulate`` and ``validation.compare`` are the
    functions even though submodules of those names exist, whatever was imported first."""
    out = run("""
        import validation.simulate
        from validation.compare import GROUPS
        import validation
        print('KINDS', type(validation.simulate).__name__, validation.simulate.__module__,
              type(validation.compare).__name__, validation.compare.__module__)
        import validation.simulate as again
        print('AGAIN', type(again).__name__)
    """)
    assert "KINDS function validation.simulate function validation.compare" in out
    assert "AGAIN function" in out


def test_lazy_exports_errors(tmp_path):
    """Reference: the contract of lazy_exports on a throwaway package: an unknown name is an AttributeError, a
    submodule that exists but misses a dependency re-raises that ModuleNotFoundError (naming the dependency, not
    hiding it as a missing attribute), and a public function shadowed by its submodule stays the function."""
    pkg = tmp_path / "lazypkg_probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        from gaussequiv.integrity import lazy_exports
        __getattr__, __dir__ = lazy_exports(__name__, {"run": "run", "helper": "tools"})
        __all__ = ["run", "helper"]
    """))
    (pkg / "run.py").write_text("def run():\n    return 'ran'\n")
    (pkg / "tools.py").write_text("def helper():\n    return 'helped'\n")
    (pkg / "broken.py").write_text("import no_such_dependency_of_gaussequiv\n")
    out = run("""
        import sys
        import lazypkg_probe as p
        print('LOADED', *[m for m in ('lazypkg_probe.run', 'lazypkg_probe.tools') if m in sys.modules])
        import lazypkg_probe.run
        print('RUN', p.run(), p.helper(), {'run', 'helper'} <= set(dir(p)))
        try:
            p.nothing
        except AttributeError as exc:
            print('MISSING', exc)
        try:
            p.broken
        except ModuleNotFoundError as exc:
            print('BROKEN', exc.name)
    """, path=tmp_path)
    assert loaded(out) == []
    assert "RUN ran helped True" in out
    assert "MISSING module 'lazypkg_probe' has no attribute 'nothing'" in out
    assert "BROKEN no_such_dependency_of_gaussequiv" in out


def test_require_own_reads_the_marker_itself(monkeypatch):
    """Reference: the marker must be in the package's own namespace. A foreign module whose ``__getattr__`` answers
    every name (as a lazy package does) cannot fake it."""
    import types

    fake = types.ModuleType("dynamics")
    fake.__getattr__ = lambda name: True  # PEP 562 hook answering every name, __gaussequiv__ included
    assert fake.__gaussequiv__ is True
    monkeypatch.setitem(sys.modules, "dynamics", fake)
    with pytest.raises(ForeignPackageError, match="'dynamics'"):
        require_own("dynamics")
