"""The house: no import cycles inside spectra, no private spectra names used by other packages."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OTHERS = ("replica", "validation", "dynamics", "gaussequiv", "paper_figures", "benchmarks")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """(module, name) pairs of every import in the file, including those inside functions."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
            for alias in node.names:
                yield base, alias.name


def test_no_import_cycles_in_spectra():
    """Reference: a depth-first search of the import graph (module-level and function-level imports)."""
    files = [p for p in (ROOT / "spectra").rglob("*.py") if "training" not in p.parts]
    names = {_module_name(p): p for p in files}
    graph = {}
    for name, path in names.items():
        deps = set()
        for module, item in _imports(path):
            for target in (f"{module}.{item}" if item else None, module):
                if target in names and target != name:
                    deps.add(target)
                    break
        graph[name] = deps
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycle = stack[stack.index(dep):] + [dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    for mod in ("spectra.dcgan", "spectra.faces"):
        assert "spectra.generators" not in graph[mod]


def test_other_packages_use_only_public_spectra_names():
    bad = []
    for package in OTHERS:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            for module, item in _imports(path):
                if not module.startswith("spectra"):
                    continue
                private_module = any(part.startswith("_") for part in module.split("."))
                private_name = item is not None and item.startswith("_")
                if (private_module or private_name):
                    bad.append(f"{rel}: from {module} import {item}")
    assert not bad, bad


def test_public_names_stay_importable_from_where_they_were():
    import spectra
    from spectra.estimate import CovarianceEstimate, default_cache_dir, estimate_covariances, fingerprint
    from spectra.generators import DCGAN, Generator, pretrained

    assert spectra.estimate_covariances is estimate_covariances
    assert spectra.CovarianceEstimate is CovarianceEstimate
    assert callable(default_cache_dir) and callable(fingerprint) and callable(pretrained)
    assert issubclass(DCGAN, Generator)
