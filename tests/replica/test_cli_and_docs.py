"""Every replica driver runs: `gaussequiv predict` and `gaussequiv demo` (theory §5.7)."""

import csv

import numpy as np
import pytest

from gaussequiv.cli import main
from replica import Channel, Loss, solve
from spectra import Spectrum


def test_predict_cli_writes_the_solver_values(tmp_path):
    """`gaussequiv predict` on a saved spectrum writes the same test errors as replica.solve."""
    spec = Spectrum.isotropic(30, gamma=1.5)
    spec.save(tmp_path / "s.npz")
    out = tmp_path / "c.csv"
    code = main(["predict", "--spectrum", str(tmp_path / "s.npz"), "--loss", "logistic", "--channel", "probit",
                 "--noise", "0.2", "--alphas", "0.5,2", "--lam", "0.1", "--out", str(out), "--plot",
                 str(tmp_path / "c.png")])
    assert code == 0 and (tmp_path / "c.png").stat().st_size > 1000
    rows = list(csv.DictReader(open(out)))
    for row in rows:
        ref = solve(spec, Loss.logistic(), Channel.probit(0.2), float(row["alpha"]), 0.1)
        assert float(row["test_error"]) == pytest.approx(ref.test_error, rel=1e-8)  # both certified to 1e-10
        assert row["status"] == "converged"


def test_predict_cli_rejects_unknown_names(tmp_path, capsys):
    """Unknown loss names give exit code 2 and a message naming the choices."""
    Spectrum.isotropic(5).save(tmp_path / "s.npz")
    assert main(["predict", "--spectrum", str(tmp_path / "s.npz"), "--loss", "cauchy"]) == 2
    assert "unknown loss" in capsys.readouterr().err


def test_demo_runs_small(tmp_path, monkeypatch):
    """`gaussequiv demo` end to end at a small size (the README's first command uses the defaults)."""
    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    code = main(["demo", "--out", str(tmp_path / "demo"), "--p", "40", "--samples", "4000"])
    assert code == 0
    assert (tmp_path / "demo" / "demo.png").stat().st_size > 1000
    rows = list(csv.DictReader(open(tmp_path / "demo" / "demo_logistic.csv")))
    errs = np.array([float(r["test_error"]) for r in rows])
    assert all(r["status"] == "converged" for r in rows) and np.all((errs > 0) & (errs < 0.5))


def test_spectrum_save_load_round_trip(tmp_path):
    """Spectrum.save/.load are exact and refuse files that are not spectra."""
    spec = Spectrum.from_arrays([2.0, 1.0, 0.0], [0.5, 0.1, 0.0], rho=1.0, gamma=2.0)
    spec.save(tmp_path / "a.npz")
    back = Spectrum.load(tmp_path / "a.npz")
    assert np.array_equal(back.s, spec.s) and np.array_equal(back.t, spec.t)
    assert (back.rho, back.gamma, back.teacher) == (spec.rho, spec.gamma, spec.teacher)
    np.savez(tmp_path / "b.npz", x=np.ones(3))
    with pytest.raises(ValueError, match="not a saved Spectrum"):
        Spectrum.load(tmp_path / "b.npz")
