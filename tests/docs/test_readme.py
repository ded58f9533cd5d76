"""The README's Python examples run as written, in order, in one namespace (each continues the previous one
where it says so). Paper-sized (1e5 covariance samples, p = 1024): marker ``slow``."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    """The examples this test runs exist (from covariances, a generator, the dynamics, custom formulas, a check)."""
    text = "\n".join(_blocks())
    for needle in ("Spectrum.from_covariances", "estimate_covariances", "dynamics.integrate", "Loss.from_expr",
                   "gaussian_control"):
        assert needle in text, needle


@pytest.mark.slow
def test_readme_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {}
    for block in _blocks():
        exec(compile(block, str(README), "exec"), namespace)
    assert (tmp_path / "logistic.png").stat().st_size > 1000
    assert namespace["ode"].converged and namespace["sim_g"].status.tolist() == ["converged"] * 3
