"""The spectral ODE integrator: Saad-Solla reduction, binning, step-size convergence, breakdown."""

import io
import sys

import numpy as np
import pytest

from dynamics import Setup, Student, bin_modes, default_times, integrate
from tests.dynamics.references import classic_euler


# --- helpers --------------------------------------------------------------------------------------------
def identity_setup(K, M, N, eta, seed, train_second_layer=True):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((K, N))
    B = rng.standard_normal((M, N))
    return Setup.from_weights(w, rng.standard_normal(K), B, rng.uniform(0.5, 1.5, M), omega=np.eye(N),
                              phi=np.eye(N), eta=eta, train_second_layer=train_second_layer)


def linear_generator_setup(N, D, s_levels, counts, noise, eta, seed, activation="erf_sqrt2"):
    """x = F c + noise * xi with Omega = F F^T + noise^2 I having repeated eigenvalues s_levels (x counts)."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((N, N)))
    V, _ = np.linalg.qr(rng.standard_normal((D, D)))
    sing = np.repeat(np.sqrt(s_levels), counts)
    F = U[:, : sing.size] * sing @ V[: sing.size, :]
    omega = F @ F.T + noise**2 * np.eye(N)
    student = Student.random(K=2, N=N, seed=rng, activation=activation)
    B = rng.standard_normal((2, D))
    return Setup.from_weights(student.w, student.v, B, np.ones(2), omega=omega, phi=F, eta=eta,
                              activation=activation)


# --- tests ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("K,M,train", [(2, 2, True), (3, 2, False)])
def test_saad_solla_reduction_per_mode_and_one_bin(K, M, train):
    """Omega = Phi = I, D = N (theory §4.6, §6.1): the per-mode ODEs, with N modes and with one bin, follow
    the classic soft-committee ODEs (written independently above, with three-field I3 and no determinants)
    to machine precision under the same explicit Euler steps."""
    setup = identity_setup(K, M, N=30, eta=0.7, seed=K, train_second_layer=train)
    dt, n_steps = 0.01, 200
    Q, R, v = classic_euler(setup.Q, setup.R, setup.T, setup.v, setup.A, setup.eta, dt, n_steps, train)
    for bins in (None, 1):
        traj = integrate(setup, n_steps * dt, times=[0.0, n_steps * dt], method="euler", dt=dt, bins=bins)
        assert traj.converged
        np.testing.assert_allclose(traj.Q[-1], Q, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(traj.R[-1], R, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(traj.v[-1], v, rtol=1e-11, atol=1e-13)
    # the dynamics moved: the comparison is not trivially between initial states
    assert np.max(np.abs(Q - setup.Q)) > 0.05


def test_binned_equals_unbinned_on_repeated_eigenvalues():
    """Theory §4.6, §6.1: with eigenvalues repeated (three levels plus a null space filled by isotropic
    noise), bin sums evolve exactly; binned and unbinned runs on the same fixed-step grid agree to 1e-10."""
    setup = linear_generator_setup(N=60, D=40, s_levels=[0.5, 2.0, 4.0], counts=[10, 15, 5], noise=0.3,
                                   eta=0.5, seed=3)
    assert np.unique(np.round(setup.eigenvalues, 9)).size == 4
    times = [0.0, 0.5, 2.0, 10.0]
    for method in ("euler", "rk4"):
        ref = integrate(setup, 10.0, times=times, method=method, dt=0.02)
        for bins in (4, 10, bin_modes(setup.eigenvalues, 4)):
            binned = integrate(setup, 10.0, times=times, method=method, dt=0.02, bins=bins)
            assert binned.info["n_bins"] == 4
            np.testing.assert_allclose(binned.eps_g, ref.eps_g, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(binned.Q, ref.Q, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(binned.R, ref.R, rtol=1e-10, atol=1e-12)
        assert ref.eps_g[-1] < 0.8 * ref.eps_g[0]


def sign_setup(N, D, eta, seed=0):
    from spectra.analytic import single_layer_covariances
    from spectra.generators import SingleLayer

    gen = SingleLayer(D, N, "sign", seed=seed)
    omega, phi = single_layer_covariances(gen.weights, "sign")
    rng = np.random.default_rng(seed + 1)
    student = Student.random(K=2, N=N, seed=rng)
    return Setup.from_weights(student.w, student.v, rng.standard_normal((2, D)), np.ones(2), omega=omega,
                              phi=phi, eta=eta)


def test_euler_converges_first_order_and_agrees_with_rk4_and_adaptive():
    """Halving dt halves the Euler error (first order), RK4 converges at fourth order, and the adaptive RK45
    run agrees with the dt -> 0 limit (theory §4.6: every integrator must agree with the reference)."""
    setup = sign_setup(N=200, D=40, eta=0.5)
    times = [0.0, 1.0, 5.0, 20.0]
    ref = integrate(setup, 20.0, times=times, method="rk4", dt=0.0025)
    errs = []
    for dt in (0.04, 0.02, 0.01):
        traj = integrate(setup, 20.0, times=times, method="euler", dt=dt)
        errs.append(np.max(np.abs(traj.eps_g - ref.eps_g)))
    assert 1.8 < errs[0] / errs[1] < 2.2 and 1.8 < errs[1] / errs[2] < 2.2, errs
    rk = [np.max(np.abs(integrate(setup, 20.0, times=times, method="rk4", dt=dt).eps_g - ref.eps_g))
          for dt in (0.04, 0.02)]
    assert 12 < rk[0] / rk[1] < 20, rk
    for solver in ("RK45", "DOP853", "RK23"):
        adaptive = integrate(setup, 20.0, times=times, method="adaptive", rtol=1e-9, atol=1e-12, solver=solver)
        np.testing.assert_allclose(adaptive.eps_g, ref.eps_g, rtol=1e-6)


def test_binning_error_decreases_with_bins():
    """Theory §4.6: on a spread spectrum (single-layer sign generator) binning is approximate, with an error
    controlled by the bin width: going from 5 bins (widest bin ~1.7) to 80 bins (~2e-3) shrinks the error by
    more than 10x (measured: 50x to 2500x over seeds 0-4; it need not fall monotonically in between), and with
    one bin per distinct eigenvalue it is exact."""
    setup = sign_setup(N=300, D=30, eta=0.5)
    times = [0.0, 1.0, 10.0, 50.0]
    ref = integrate(setup, 50.0, times=times, method="rk4", dt=0.02)
    errors = [np.max(np.abs(integrate(setup, 50.0, times=times, method="rk4", dt=0.02, bins=bins).eps_g - ref.eps_g))
              for bins in (5, 80)]
    assert errors[1] < errors[0] / 10, errors
    exact = integrate(setup, 50.0, times=times, method="rk4", dt=0.02, bins=setup.N)
    np.testing.assert_allclose(exact.eps_g, ref.eps_g, rtol=1e-10)


def test_breakdown_ends_with_failed_status():
    """Two identical student units make det(Q_kj) = 0: integration stops with status 'failed' and reports
    nothing past the failure (theory §4.4), for every method."""
    rng = np.random.default_rng(0)
    N = 20
    w = np.tile(rng.standard_normal(N), (2, 1))
    setup = Setup.from_weights(w, [1.0, 1.0], rng.standard_normal((2, N)), np.ones(2), omega=np.eye(N),
                               phi=np.eye(N), eta=0.5)
    for method in ("euler", "rk4", "adaptive"):
        traj = integrate(setup, 5.0, times=[0.0, 1.0, 5.0], method=method)
        assert traj.status == "failed" and not traj.converged
        assert not hasattr(traj, "success")  # one name for it: converged (the alias was removed)
        assert "det" in traj.message
        assert traj.t.tolist() == [0.0] and traj.eps_g.shape == (1,)


def test_perfect_learning_ends_with_learned_status():
    """On isotropic inputs a K = M student can learn its teacher exactly; as eps_g -> 0 the pair covariance of
    a student and its teacher field becomes singular (det -> round-off). That ends the run with status
    'learned' (converged, nothing reported past it), not 'failed', once eps_g <= 1e-8 eps_g(0), for the
    adaptive and the fixed-step routes; the last reported eps_g is tiny."""
    setup = Setup.from_overlaps(0.2 * np.eye(2), 0.03 * np.array([[1.0, 0.4], [0.3, 0.9]]), np.eye(2),
                                [1.0, 1.0], [1.0, 1.0], eta=1.0, train_second_layer=False)
    for kwargs in ({"method": "adaptive"}, {"method": "rk4", "dt": 0.2}):
        traj = integrate(setup, 2000.0, times=np.linspace(0.0, 2000.0, 201), **kwargs)
        assert traj.status == "learned" and traj.converged, traj.message
        assert traj.t[-1] < 2000.0 and traj.eps_g[-1] < 1e-6 * traj.eps_g[0]
        assert "perfect-learning fixed point" in traj.message


def test_default_times_and_outputs():
    """Default output: t = 0 plus 200 log-spaced times up to t_max (exactly); eps_g at t = 0 is the initial one.
    default_times(..., N=N) is the SGD step grid."""
    setup = identity_setup(2, 2, N=20, eta=0.3, seed=1)
    traj = integrate(setup, 3.0, method="euler")
    assert traj.t.size == 201 and traj.t[0] == 0.0 and traj.t[-1] == pytest.approx(3.0)
    assert np.all(np.diff(np.log(traj.t[1:])) == pytest.approx(np.log(300.0) / 199))
    assert traj.eps_g[0] == pytest.approx(setup.eps_g, rel=1e-14)
    assert traj.Q.shape == (201, 2, 2) and traj.R.shape == (201, 2, 2) and traj.v.shape == (201, 2)
    for t_max in (3.0, 8000.0, 1e4 / 3):
        assert default_times(t_max)[-1] == t_max  # not 10**log10(t_max), which can exceed it
    grid = default_times(50.0, N=40)
    np.testing.assert_allclose(grid * 40, np.rint(grid * 40), atol=1e-9)
    assert np.all(np.diff(grid) > 0) and grid[-1] == 50.0


def test_default_times_on_the_step_grid_end_at_t_max():
    """Reference: the step grid t = steps/N. With N given the grid ends at t_max exactly when t_max is a whole number
    of steps (also when t_max * N is one only up to rounding, 0.3 * 10 = 3.0000000000000004); otherwise it is
    refused, naming the valid neighbours (it used to drop t_max silently when rounding went up, so the ODE and SGD
    runs stopped early)."""
    for t_max, N in ((0.3, 10), (1 / 3, 3), (1.1, 10), (50.0, 40), (5.0, 1000)):
        grid = default_times(t_max, N=N)
        assert grid[-1] == t_max and grid[0] == 0.0 and np.all(np.diff(grid) > 0)
        np.testing.assert_allclose(grid * N, np.rint(grid * N), rtol=1e-12)
    with pytest.raises(ValueError, match=r"whole number of SGD steps.*10\.6 steps.*t_max = 1 or 1\.1"):
        default_times(1.06, N=10)
    with pytest.raises(ValueError, match=r"t_max = 0\.1$"):
        default_times(0.04, N=10)


def test_fixed_second_layer_keeps_v():
    """With the second layer fixed, v stays at its initial value."""
    setup = identity_setup(2, 2, N=20, eta=0.3, seed=2, train_second_layer=False)
    traj = integrate(setup, 2.0, times=[0.0, 2.0], method="rk4")
    np.testing.assert_array_equal(traj.v[-1], setup.v)


def test_linear_activation_runs_and_decreases():
    """The linear activation path integrates and eps_g falls (a linear student learns a linear teacher)."""
    setup = linear_generator_setup(N=40, D=20, s_levels=[1.0, 2.0], counts=[10, 10], noise=0.5, eta=0.1,
                                   seed=5, activation="linear")
    traj = integrate(setup, 20.0, times=[0.0, 20.0])
    assert traj.converged and traj.eps_g[-1] < 0.5 * traj.eps_g[0]


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"t_max": 0.0}, ValueError, "t_max"),
        ({"t_max": float("nan")}, ValueError, "t_max"),
        ({"t_max": "10"}, TypeError, "t_max"),
        ({"method": "rk45"}, ValueError, "method"),
        ({"solver": "LSODA"}, ValueError, "solver"),
        ({"dt": 0.0}, ValueError, "dt"),
        ({"times": [0.0, 2.0, 1.0]}, ValueError, "times"),
        ({"times": [0.0, 20.0]}, ValueError, "times"),
        ({"bins": 0}, ValueError, "bins"),
        ({"bins": np.zeros(3, dtype=int)}, ValueError, "bins"),
        ({"bins": 2.5}, TypeError, "bins"),
    ],
)
def test_integrate_bad_input(kwargs, exc, match):
    """Every bad argument of integrate raises, naming it."""
    setup = identity_setup(2, 2, N=10, eta=0.3, seed=0)
    args = {"t_max": 10.0, **kwargs}
    t_max = args.pop("t_max")
    with pytest.raises(exc, match=match):
        integrate(setup, t_max, **args)


def test_integrate_requires_setup():
    """integrate takes a Setup, nothing else."""
    with pytest.raises(TypeError, match="Setup"):
        integrate({"eigenvalues": [1.0]}, 1.0)


def test_progress_bar_runs(capsys):
    """progress=True shows a tqdm bar (on stderr) for every method and does not change the result."""
    setup = identity_setup(2, 2, N=10, eta=0.3, seed=3)
    for method in ("euler", "adaptive"):
        a = integrate(setup, 2.0, times=[0.0, 2.0], method=method, progress=True)
        b = integrate(setup, 2.0, times=[0.0, 2.0], method=method, progress=False)
        np.testing.assert_array_equal(a.eps_g, b.eps_g)
    assert "integrate" in capsys.readouterr().err


class _Terminal(io.StringIO):
    """A standard error that says it is a terminal."""

    def isatty(self):
        return True


def test_progress_follows_the_one_progress_rule(monkeypatch):
    """Reference: gaussequiv.progress.show. progress=None: no bar when standard error is redirected, however long
    the run; a bar on a terminal, however short (it draws only after 3 s, so a quick run prints nothing);
    True and False decide. The old rule (a work estimate > 5e7 and a TTY) hid short runs' bars on a terminal."""
    from dynamics.ode import _progress

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert _progress(None, 1e9) is None
    assert _progress(False, 1.0) is None
    bar = _progress(True, 1.0)
    assert bar is not None
    bar.close()
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    bar = _progress(None, 1.0)
    assert bar is not None
    bar.update(1.0)
    bar.close()
    assert term.getvalue() == ""  # the 3 s delay: nothing drawn for a quick run
    assert _progress(False, 1.0) is None


def test_divergence_ends_with_failed_status():
    """A linear network with a fixed second layer and eta = 30 diverges: every method stops with status
    'failed' and a message, and reports only finite values up to the failure."""
    base = linear_generator_setup(N=40, D=20, s_levels=[1.0, 2.0], counts=[10, 10], noise=0.5, eta=0.1, seed=5,
                                  activation="linear")
    fields = ("eigenvalues", "student_proj", "teacher_proj", "latent_dim", "v", "A", "T", "activation")
    setup = Setup(**{f: getattr(base, f) for f in fields}, eta=30.0, train_second_layer=False)
    for method in ("euler", "rk4", "adaptive"):
        traj = integrate(setup, 50.0, method=method)
        assert traj.status == "failed" and "failed" in traj.message
        assert traj.t[-1] < 50.0 and np.all(np.isfinite(traj.eps_g))


@pytest.mark.parametrize("K,M", [(1, 1), (1, 3), (3, 1), (4, 2)])
def test_saad_solla_reduction_other_sizes(K, M):
    """The Saad-Solla reduction (theory §6.1) for other network sizes, including K = 1 (no student pairs) and
    M = 1: 20 Euler steps agree with the classic ODEs to machine precision."""
    setup = identity_setup(K, M, N=25, eta=0.6, seed=10 * K + M)
    dt, n_steps = 0.01, 20
    Q, R, v = classic_euler(setup.Q, setup.R, setup.T, setup.v, setup.A, setup.eta, dt, n_steps, True)
    traj = integrate(setup, n_steps * dt, times=[n_steps * dt], method="euler", dt=dt)
    np.testing.assert_allclose(traj.Q[-1], Q, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(traj.R[-1], R, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(traj.v[-1], v, rtol=1e-11, atol=1e-13)
