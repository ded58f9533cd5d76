"""A foreign package with one of our top-level names is detected with a clear message (issue 13)."""

import subprocess
import sys
import textwrap

import pytest

from gaussequiv.integrity import OWN_PACKAGES, ForeignPackageError, require_own


def test_our_packages_carry_the_marker():
    for name in OWN_PACKAGES:
        assert require_own(name).__gaussequiv__ is True


def test_a_foreign_spectra_is_refused_by_replica_and_the_cli(tmp_path):
    """Reference: a fake 'spectra' package placed first on sys.path, as an unrelated PyPI project would be."""
    fake = tmp_path / "spectra"
    fake.mkdir()
    (fake / "__init__.py").write_text('"""An unrelated project."""\n')
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        try:
            import replica
        except ImportError as exc:
            print(type(exc).__name__, exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "ForeignPackageError" in out.stdout and "pip uninstall spectra" in out.stdout


def test_require_own_names_the_culprit(monkeypatch):
    import types

    monkeypatch.setitem(sys.modules, "dynamics", types.ModuleType("dynamics"))
    with pytest.raises(ForeignPackageError, match="'dynamics'"):
        require_own("dynamics")


def test_one_version_string():
    """setup.cfg reads gaussequiv.__version__; CITATION.cff must carry the same."""
    import pathlib

    import gaussequiv

    root = pathlib.Path(__file__).resolve().parents[2]
    assert "version = attr: gaussequiv.__version__" in (root / "setup.cfg").read_text()
    assert f"version: {gaussequiv.__version__}\n" in (root / "CITATION.cff").read_text()
    assert (root / "LICENSE").read_text().startswith("MIT License")
