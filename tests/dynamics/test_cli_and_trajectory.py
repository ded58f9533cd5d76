"""The ``gaussequiv dynamics`` command and the Trajectory result object (files, dict, plot)."""

import dataclasses
import json

import numpy as np
import pytest

from dynamics import Setup, Student, integrate
from gaussequiv.cli import main


def small_trajectory():
    rng = np.random.default_rng(0)
    N = 12
    student = Student.random(2, N, seed=1)
    setup = Setup.from_weights(student.w, student.v, rng.standard_normal((2, N)), np.ones(2), omega=np.eye(N),
                               phi=np.eye(N), eta=0.5)
    return integrate(setup, 2.0, times=[0.0, 1.0, 2.0], method="rk4")


def _csv(path):
    """(header, float rows) of a CSV with a header row."""
    with open(path) as fh:
        header = fh.readline().strip().split(",")
    return header, np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def test_cli_dynamics_writes_csv_and_png(tmp_path, capsys):
    """`gaussequiv dynamics --generator single-sign:12x60 ... --simulate --out d/` (the generator spec of every
    command) runs end to end, writes ode.csv, sgd.csv (header rows, sidecars stating the 1/2 of eps_g) and
    eps_g.png, and states the 1/2 in eps_g."""
    out = tmp_path / "d"
    code = main(["dynamics", "--generator", "single-sign:12x60", "--K", "2", "--M", "2", "--lr", "0.2",
                 "--t-max", "2", "--simulate", "--n-test", "200", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "1/2" in printed and "delta = D/N = 0.2" in printed and "covariances exact" in printed
    for name in ("ode.csv", "sgd.csv", "eps_g.png"):
        assert (out / name).stat().st_size > 0
    ode_cols, ode = _csv(out / "ode.csv")
    sgd_cols, sgd = _csv(out / "sgd.csv")
    assert ode_cols[:2] == ["t", "eps_g"] and sgd_cols[:4] == ["t", "eps_g", "eps_g_mc", "eps_g_mc_err"]
    assert np.all(np.isfinite(ode)) and ode.shape[0] > 50
    # the output times are on the SGD step grid (t = steps / N), so ODE and SGD rows align
    np.testing.assert_array_equal(ode[:, 0], sgd[:, 0])
    np.testing.assert_allclose(ode[:, 0] * 60, np.rint(ode[:, 0] * 60), rtol=1e-9, atol=1e-9)
    side = json.loads((out / "sgd.csv-metadata.json").read_text())
    assert "1/2" in side["metadata"]["eps_g_convention"] and side["metadata"]["source"] == "sgd"
    assert side["command"].startswith("gaussequiv dynamics --generator single-sign:12x60")
    assert side["sizes"] == {"N": 60, "D": 12, "K": 2, "M": 2}


def test_cli_dynamics_seeds_average_and_plateau(tmp_path, capsys):
    """`--seeds 3` averages three SGD runs (implies --simulate): sgd.csv has the mean, its SE and every run;
    the ODE and SGD plateau analyses are printed; the activation is printed with its formula."""
    out = tmp_path / "s"
    code = main(["dynamics", "--generator", "single-sign:8x40", "--lr", "0.5", "--t-max", "2", "--seeds", "3",
                 "--n-test", "50", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "mean of 3 runs" in printed and "ODE plateau:" in printed and "SGD plateau:" in printed
    assert "erf_sqrt2 (g(z) = erf(z/sqrt(2)))" in printed
    cols, sgd = _csv(out / "sgd.csv")
    assert cols[:6] == ["t", "eps_g_mean", "eps_g_se", "eps_g_mc_mean", "eps_g_mc_se", "eps_g_seed_0"]
    np.testing.assert_allclose(sgd[:, 1], sgd[:, 5:8].mean(axis=1), rtol=1e-8)


def test_cli_dynamics_isotropic(tmp_path, capsys):
    """`--generator isotropic:30` is Saad & Solla's x = c with D = N (delta = 1) and exact covariances; the spec
    without N is refused (exit 2), naming the syntax."""
    out = tmp_path / "iso"
    code = main(["dynamics", "--generator", "isotropic:30", "--lr", "0.5", "--t-max", "1", "--simulate",
                 "--n-test", "50", "--fixed-second-layer", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "D = 30, delta = D/N = 1," in printed and (out / "sgd.csv").stat().st_size > 0
    assert main(["dynamics", "--generator", "isotropic", "--lr", "0.5", "--t-max", "1", "--out", str(out)]) == 2
    assert "isotropic:N" in capsys.readouterr().err


def test_cli_dynamics_estimates_covariances_of_other_generators(tmp_path, monkeypatch, capsys):
    """A generator without exact covariances (a relu single layer) runs on Monte Carlo Omega, Phi and mean
    (spectra.estimate_covariances); reference: the estimate's own sample count, printed and in the sidecar."""
    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "relu"
    code = main(["dynamics", "--generator", "single-relu:6x30", "--samples", "4000", "--lr", "0.2",
                 "--t-max", "1", "--out", str(out), "--no-progress", "--no-cache"])
    assert code == 0
    assert "covariances estimated from 4000 samples" in capsys.readouterr().out
    side = json.loads((out / "ode.csv-metadata.json").read_text())
    assert side["metadata"]["covariances"] == "estimated from 4000 samples"


def test_cli_dynamics_bad_arguments(tmp_path, capsys):
    """Bad values exit with code 2 and a message naming the argument; the old generator names point to the
    new specs."""
    code = main(["dynamics", "--lr", "-0.2", "--t-max", "2", "--generator", "single-sign:5x20",
                 "--out", str(tmp_path)])
    assert code == 2 and "eta" in capsys.readouterr().err
    assert main(["dynamics", "--generator", "single-layer-sign", "--lr", "0.2", "--t-max", "2",
                 "--out", str(tmp_path)]) == 2
    assert "single-ACT:DxN" in capsys.readouterr().err
    assert main(["dynamics", "--generator", "single-sign:5x20", "--activation", "gelu", "--lr", "0.2",
                 "--t-max", "2", "--out", str(tmp_path)]) == 2
    assert "gelu" in capsys.readouterr().err


def test_activation_help_names_the_registry():
    """The --activation help (static, so the parser imports no library) names every ODE activation."""
    from dynamics.cli import ACTIVATIONS_HELP
    from dynamics.integrals import ODE_ACTIVATIONS

    for name in ODE_ACTIVATIONS:
        assert name in ACTIVATIONS_HELP, name


def test_trajectory_files_and_dict(tmp_path):
    """to_csv / to_npz round-trip the columns (npz without pickles); to_dict is flat (one row per time) and
    carries the status and the eps_g convention."""
    traj = small_trajectory()
    traj.to_csv(tmp_path / "t.csv")
    cols, data = _csv(tmp_path / "t.csv")
    assert cols == list(traj.columns())
    np.testing.assert_array_equal(data[:, 0], traj.t)
    np.testing.assert_array_equal(data[:, 1], traj.eps_g)  # floats written with repr: exact
    side = json.loads((tmp_path / "t.csv-metadata.json").read_text())
    assert side["metadata"]["status"] == "completed" and side["columns"] == cols and side["rows"] == 3
    traj.to_npz(tmp_path / "t.npz")
    with np.load(tmp_path / "t.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["Q"], traj.Q)
        assert str(z["status"]) == "completed"
    back = type(traj).from_npz(tmp_path / "t.npz")
    np.testing.assert_array_equal(back.eps_g, traj.eps_g)
    assert back.info == traj.info and back.method == "rk4" and back.eps_g_mc is None
    d = traj.to_dict()
    assert "1/2" in d["eps_g_convention"][0] and d["source"] == ["ode"] * 3 and d["N"] == [12] * 3
    assert {len(v) for v in d.values()} == {3}  # flat: equal-length columns, pandas-ready
    np.testing.assert_array_equal(d["Q_0_1"], traj.Q[:, 0, 1])
    assert d["converged"] == [True] * 3 and d["status"] == ["completed"] * 3
    assert d["activation"] == ["erf_sqrt2"] * 3 and d["activation_formula"] == ["erf(z/sqrt(2))"] * 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        traj.status = "x"


def test_trajectory_plot(tmp_path):
    """plot() draws eps_g(t) on log axes and saves a PNG."""
    traj = small_trajectory()
    ax = traj.plot(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0
    assert ax.get_xscale() == "log"
