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
    code = main(["predict", "--spectrum", str(tmp_path / "s.npz"), "--loss", "logistic", "--channel", "probit:0.2",
                 "--alphas", "0.5,2", "--lam", "0.1", "--out", str(out), "--plot", str(tmp_path / "c.png")])
    assert code == 0 and (tmp_path / "c.png").stat().st_size > 1000
    rows = list(csv.DictReader(open(out)))
    for row in rows:
        ref = solve(spec, Loss.logistic(), Channel.probit(0.2), float(row["alpha"]), 0.1)
        assert float(row["test_error"]) == pytest.approx(ref.test_error, rel=1e-8)  # both certified to 1e-10
        assert row["status"] == "converged"


def test_predict_cli_lambda_path(tmp_path):
    """Several --lam values (a geometric grid, ``:log``) at one alpha are a lambda path; reference:
    replica.solve at each lam (both certified to 1e-10)."""
    spec = Spectrum.isotropic(20, gamma=1.0)
    spec.save(tmp_path / "s.npz")
    out = tmp_path / "path.csv"
    code = main(["predict", "--spectrum", str(tmp_path / "s.npz"), "--loss", "square", "--channel", "linear:0.1",
                 "--alphas", "1.5", "--lam", "1e-2:1:3:log", "--out", str(out), "--no-progress"])
    assert code == 0
    rows = list(csv.DictReader(open(out)))
    np.testing.assert_allclose([float(r["lam"]) for r in rows], [1e-2, 1e-1, 1.0], rtol=1e-12)
    for row in rows:
        ref = solve(spec, Loss.square(), Channel.linear(0.1), 1.5, float(row["lam"]))
        assert float(row["test_error"]) == pytest.approx(ref.test_error, rel=1e-8)
        assert float(row["alpha"]) == 1.5


@pytest.mark.parametrize("argv, message", [
    (["--loss", "cauchy"], "unknown --loss 'cauchy'"),
    (["--channel", "probit"], "probit:NOISE"),
    (["--channel", "sign:0.7"], "flip must be < 0.5"),
    (["--alphas", "1:2"], "--alphas '1:2': expected START:STOP:NUM"),
    (["--alphas", "1:2:3", "--lam", "0.1,1"], "a lambda path needs a single --alphas value"),
])
def test_predict_cli_rejects_bad_specs(tmp_path, capsys, argv, message):
    """Bad specs give exit code 2 (usage) and a one-line message naming the option, and write nothing."""
    Spectrum.isotropic(5).save(tmp_path / "s.npz")
    assert main(["predict", "--spectrum", str(tmp_path / "s.npz"), *argv, "--out", str(tmp_path / "c.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c.csv").exists()


def test_demo_runs_small(tmp_path, monkeypatch):
    """`gaussequiv demo` end to end at a small size (the README's first command uses the defaults)."""
    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    code = main(["demo", "--out", str(tmp_path / "demo"), "--p", "30", "--samples", "3000", "--seeds", "2",
                 "--n-test", "200"])
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
