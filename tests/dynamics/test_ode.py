"""The spectral ODE integrator: Saad-Solla reduction, binning, step-size convergence, breakdown."""

import math

import numpy as np
import pytest

from dynamics import Setup, Student, bin_modes, integrate


# --- the classic soft-committee ODEs, written independently (Saad & Solla 1995; Goldt et al. 2019) --------
# Order parameters Q (K x K), R (K x M), T (M x M) and second layers v, A; g(z) = erf(z/sqrt 2). The
# integrals are written for explicit lists of (covariance-row) fields, in the 1-based notation of the papers,
# and I3 takes three *distinct roles* (no regression onto pairs, no determinants): this is the form that
# the per-mode equations must reduce to when Omega = Phi = I and D = N (theory §4.6, §6.1).
def _cov(Q, R, T, f1, f2):
    (s1, i1), (s2, i2) = f1, f2
    if s1 == "s" and s2 == "s":
        return Q[i1][i2]
    if s1 == "s" and s2 == "t":
        return R[i1][i2]
    if s1 == "t" and s2 == "s":
        return R[i2][i1]
    return T[i1][i2]


def _classic_i2(Q, R, T, f1, f2):
    c11, c22, c12 = _cov(Q, R, T, f1, f1), _cov(Q, R, T, f2, f2), _cov(Q, R, T, f1, f2)
    return 2 / math.pi * math.asin(c12 / math.sqrt((1 + c11) * (1 + c22)))


def _classic_i3(Q, R, T, f1, f2, f3):
    c = [[_cov(Q, R, T, a, b) for b in (f1, f2, f3)] for a in (f1, f2, f3)]
    lam3 = (1 + c[0][0]) * (1 + c[2][2]) - c[0][2] ** 2
    return 2 / math.pi / math.sqrt(lam3) * (c[1][2] * (1 + c[0][0]) - c[0][1] * c[0][2]) / (1 + c[0][0])


def _classic_i4(Q, R, T, f1, f2, f3, f4):
    fs = (f1, f2, f3, f4)
    C = [[None] * 5 for _ in range(5)]
    for a in range(4):
        for b in range(4):
            C[a + 1][b + 1] = _cov(Q, R, T, fs[a], fs[b])
    lam4 = (1 + C[1][1]) * (1 + C[2][2]) - C[1][2] ** 2
    lam0 = (lam4 * C[3][4] - C[2][3] * C[2][4] * (1 + C[1][1]) - C[1][3] * C[1][4] * (1 + C[2][2])
            + C[1][2] * C[1][3] * C[2][4] + C[1][2] * C[1][4] * C[2][3])
    lam1 = lam4 * (1 + C[3][3]) - C[2][3] ** 2 * (1 + C[1][1]) - C[1][3] ** 2 * (1 + C[2][2]) \
        + 2 * C[1][2] * C[1][3] * C[2][3]
    lam2 = lam4 * (1 + C[4][4]) - C[2][4] ** 2 * (1 + C[1][1]) - C[1][4] ** 2 * (1 + C[2][2]) \
        + 2 * C[1][2] * C[1][4] * C[2][4]
    return 4 / math.pi**2 / math.sqrt(lam4) * math.asin(lam0 / math.sqrt(lam1 * lam2))


def classic_rhs(Q, R, T, v, A, eta):
    K, M = len(v), len(A)
    S = [("s", k) for k in range(K)]
    Te = [("t", m) for m in range(M)]
    dR = [[0.0] * M for _ in range(K)]
    dQ = [[0.0] * K for _ in range(K)]
    dv = [0.0] * K
    for i in range(K):
        for n in range(M):
            dR[i][n] = eta * v[i] * (sum(A[m] * _classic_i3(Q, R, T, S[i], Te[n], Te[m]) for m in range(M))
                                     - sum(v[j] * _classic_i3(Q, R, T, S[i], Te[n], S[j]) for j in range(K)))
    for i in range(K):
        for k in range(K):
            lin = 0.0
            for a, b in ((i, k), (k, i)):
                lin += eta * v[a] * (sum(A[m] * _classic_i3(Q, R, T, S[a], S[b], Te[m]) for m in range(M))
                                     - sum(v[j] * _classic_i3(Q, R, T, S[a], S[b], S[j]) for j in range(K)))
            quad = (sum(A[n] * A[m] * _classic_i4(Q, R, T, S[i], S[k], Te[n], Te[m])
                        for n in range(M) for m in range(M))
                    - 2 * sum(v[j] * A[m] * _classic_i4(Q, R, T, S[i], S[k], S[j], Te[m])
                              for j in range(K) for m in range(M))
                    + sum(v[j] * v[l] * _classic_i4(Q, R, T, S[i], S[k], S[j], S[l])
                          for j in range(K) for l in range(K)))
            dQ[i][k] = lin + eta**2 * v[i] * v[k] * quad
    for i in range(K):
        dv[i] = eta * (sum(A[n] * _classic_i2(Q, R, T, S[i], Te[n]) for n in range(M))
                       - sum(v[j] * _classic_i2(Q, R, T, S[i], S[j]) for j in range(K)))
    return np.array(dQ), np.array(dR), np.array(dv)


def classic_euler(Q, R, T, v, A, eta, dt, n_steps, train_second_layer):
    Q, R, v = np.array(Q, float), np.array(R, float), np.array(v, float)
    for _ in range(n_steps):
        dQ, dR, dv = classic_rhs(Q.tolist(), R.tolist(), T.tolist(), v.tolist(), A.tolist(), eta)
        Q, R = Q + dt * dQ, R + dt * dR
        if train_second_layer:
            v = v + dt * dv
    return Q, R, v


# --- helpers --------------------------------------------------------------------------------------------
def identity_setup(K, M, N, eta, seed, train_second_layer=True):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((K, N))
    B = rng.standard_normal((M, N))
    return Setup.from_weights(w, rng.standard_normal(K), B, rng.uniform(0.5, 1.5, M), omega=np.eye(N),
                              phi=np.eye(N), eta=eta, train_second_layer=train_second_layer)


def linear_generator_setup(N, D, s_levels, counts, noise, eta, seed, activation="erf"):
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
        assert traj.success
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
    that shrinks as bins get narrower; with one bin per distinct eigenvalue it is exact."""
    setup = sign_setup(N=300, D=30, eta=0.5)
    times = [0.0, 1.0, 10.0, 50.0]
    ref = integrate(setup, 50.0, times=times, method="rk4", dt=0.02)
    errors = []
    for bins in (5, 20, 80):
        traj = integrate(setup, 50.0, times=times, method="rk4", dt=0.02, bins=bins)
        errors.append(np.max(np.abs(traj.eps_g - ref.eps_g)))
    assert errors[0] > errors[1] > errors[2], errors
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
        assert traj.status == "failed" and not traj.success
        assert "det" in traj.message
        assert traj.t.tolist() == [0.0] and traj.eps_g.shape == (1,)


def test_default_times_and_outputs():
    """Default output: t = 0 plus 200 log-spaced times up to t_max; eps_g at t = 0 is the initial one."""
    setup = identity_setup(2, 2, N=20, eta=0.3, seed=1)
    traj = integrate(setup, 3.0, method="euler")
    assert traj.t.size == 201 and traj.t[0] == 0.0 and traj.t[-1] == pytest.approx(3.0)
    assert np.all(np.diff(np.log(traj.t[1:])) == pytest.approx(np.log(300.0) / 199))
    assert traj.eps_g[0] == pytest.approx(setup.eps_g, rel=1e-14)
    assert traj.Q.shape == (201, 2, 2) and traj.R.shape == (201, 2, 2) and traj.v.shape == (201, 2)


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
    assert traj.success and traj.eps_g[-1] < 0.5 * traj.eps_g[0]


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
