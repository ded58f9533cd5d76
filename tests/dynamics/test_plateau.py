"""The Saad-Solla plateau (K = M = 2, g = erf(z/sqrt 2)) and the plateau analysis of dynamics.Plateau.

References: the closed form of the symmetric fixed point of the soft committee machine (derived below; Saad &
Solla, PRE 52, 4225 (1995), symmetric phase; Biehl, Riegler & Woehler, J. Phys. A 29, 4769 (1996)); roots and
the Jacobian of the classic soft-committee ODEs, written independently in test_ode.py; and online SGD.

Closed form. Fixed second layers v = A = 1, orthonormal teacher T = I, K = M, and the symmetric ansatz
Q_kk = Q, Q_kl = C, R_kn = R. The first-order (eta -> 0) parts of dR and dQ vanish at Q = C with
(1 + Q - M R^2)/sqrt(2(1 + Q) - R^2) = K R/sqrt(1 + 2Q) and M R/sqrt(2(1 + Q) - R^2) = K Q/sqrt(1 + 2Q); their
ratio gives R^2 = Q/M, and then (2K - 1) Q^2 + (2K - 2) Q - 1 = 0, so Q = C = 1/(2K - 1), R = 1/sqrt(K(2K - 1)).
With theory §4.5 every arcsin argument is 1/(2K) except the teacher diagonal (1/2), so
eps_g* = (K/pi) (pi/6 - K arcsin(1/(2K))); for K = 2: (1/pi)(pi/3 - 4 arcsin(1/4)) = 0.0116108...
At finite eta the eta^2 terms shift it by O(eta) and split it in two: identical students (Q = C exactly, an
invariant manifold of SGD) and the saddle the plateaus are made of, with Q - C ~ 0.068 eta (Q - C is the
slow direction of the dynamics near it). Both tend to the closed form.
"""

import numpy as np
import pytest
from scipy.optimize import fsolve

from dynamics import (
    IsotropicInputs,
    Setup,
    SGDAverage,
    Student,
    default_times,
    find_plateau,
    integrate,
    simulate_sgd_seeds,
)
from dynamics.trajectory import Plateau
from tests.dynamics.references import classic_rhs

K = 2
Q_STAR, R_STAR = 1 / (2 * K - 1), 1 / np.sqrt(K * (2 * K - 1))
EPS_STAR = K / np.pi * (np.pi / 6 - K * np.arcsin(1 / (2 * K)))
ONES, EYE = [1.0, 1.0], np.eye(2)


def _symmetric(x):
    Q, C, R = x
    return [[Q, C], [C, Q]], [[R, R], [R, R]]


def _eps_symmetric(Q, C, R):
    """theory §4.5 on the symmetric ansatz, T = I, v = A = 1."""
    return (2 * np.arcsin(Q / (1 + Q)) + 2 * np.arcsin(C / (1 + Q)) + np.pi / 3
            - 8 * np.arcsin(R / np.sqrt(2 * (1 + Q)))) / np.pi


def saddle(eta):
    """The plateau saddle (Q, C, R), Q > C, of the classic ODEs at learning rate eta: a root of the
    independent right-hand side of references.py, found from Q - C = 0.02 (from Q = C, Newton stays on the
    identical-students manifold)."""
    def f(x):
        Qm, Rm = _symmetric(x)
        dQ, dR, _ = classic_rhs(Qm, Rm, EYE.tolist(), ONES, ONES, eta)
        return [dQ[0, 0], dQ[0, 1], dR[0, 0]]

    x = fsolve(f, [Q_STAR + 0.01, Q_STAR - 0.01, R_STAR], xtol=1e-11)
    assert np.max(np.abs(f(x))) < 1e-15 and x[0] - x[1] > 0.03 * eta
    return x


def unstable_rate(eta, x):
    """Largest eigenvalue of the Jacobian of the classic ODEs (Q00, Q01, Q11, R) at the saddle."""
    def full(z):
        Q = [[z[0], z[1]], [z[1], z[2]]]
        R = [[z[3], z[4]], [z[5], z[6]]]
        dQ, dR, _ = classic_rhs(Q, R, EYE.tolist(), ONES, ONES, eta)
        return np.array([dQ[0, 0], dQ[0, 1], dQ[1, 1], *dR.ravel()])

    Q, C, R = x
    z0, h = np.array([Q, C, Q, R, R, R, R]), 1e-6
    J = np.array([(full(z0 + h * e) - full(z0 - h * e)) / (2 * h) for e in np.eye(7)]).T
    return float(np.max(np.linalg.eigvals(J).real))


def test_symmetric_saddle_tends_to_the_closed_form():
    """Closed form (module docstring; Saad & Solla 1995): the root of the independent classic ODEs tends to
    Q = C = 1/3, R = 1/sqrt 6, eps_g = 0.0116108 as eta -> 0, with an O(eta) shift (the error falls 10x
    when eta does)."""
    assert EPS_STAR == pytest.approx(0.0116108403, rel=1e-8)
    errs = []
    for eta in (1e-3, 1e-4):
        x = saddle(eta)
        np.testing.assert_allclose(x, [Q_STAR, Q_STAR, R_STAR], rtol=30 * eta)
        errs.append(abs(_eps_symmetric(*x) - EPS_STAR))
    assert 8 < errs[0] / errs[1] < 12, errs


def _near_saddle_setup(eta, x, asym):
    """Start on the symmetric subspace with Q - C at its saddle value (so the slow Q - C mode, rate ~1e-4 at
    eta = 0.1, is not excited), R at half its saddle value (an initial descent) and an asymmetry ``asym``
    along the specialisation direction [[1, -1], [-1, 1]] of R (the unstable mode)."""
    Q, C, R = x
    Q0 = np.array([[Q + 0.2, C + 0.2], [C + 0.2, Q + 0.2]])
    R0 = 0.5 * R * np.ones((2, 2)) + asym * np.array([[1.0, -1.0], [-1.0, 1.0]])
    return Setup.from_overlaps(Q0, R0, EYE, ONES, ONES, eta=eta, train_second_layer=False)


def test_ode_plateau_height_and_escape_match_the_saddle():
    """Reference: the saddle of the independent classic ODEs at eta = 0.1 and the largest eigenvalue lambda
    of their Jacobian there. The ODE's plateau (Trajectory.plateau) sits at the saddle's eps_g to 1e-4
    (measured 2e-5), and shrinking the initial asymmetry 100-fold delays the escape by ln(100)/lambda (the
    linear instability of the plateau) to 1% (measured 0.3%)."""
    eta = 0.1
    x = saddle(eta)
    lam = unstable_rate(eta, x)
    escapes = []
    for asym in (1e-6, 1e-8):
        traj = integrate(_near_saddle_setup(eta, x, asym), 3000.0, times=default_times(3000.0, 400), rtol=1e-10,
                         atol=1e-12)
        p = traj.plateau()
        assert traj.converged and p.status == "escaped", p.message
        assert p.height == pytest.approx(_eps_symmetric(*x), rel=1e-4)
        assert p.t_start < p.t_flat < p.t_end < p.escape_time and p.length == pytest.approx(p.t_end - p.t_start)
        escapes.append(p.escape_time)
    assert escapes[1] - escapes[0] == pytest.approx(np.log(100) / lam, rel=0.01)


def test_find_plateau_on_a_synthetic_curve_with_bounded_noise():
    """Reference: a constructed curve, descent to 0.02, a plateau from t ~ 3 to ~ 100, a fall to 0. Its
    plateau is found with height 0.02 and the escape where 0.02 (1 - exp(-(t/300)^4)) reaches half the
    height, t = 300 (ln 2)^(1/4); multiplicative noise bounded by 0.2% (any seed) does not change that:
    it moves the fitted local exponent by at most ~0.01 < the threshold 0.05."""
    t = np.concatenate([[0.0], np.logspace(-2, 3.3, 250)])
    clean = 0.02 * np.exp(-((t / 300.0) ** 4)) + 0.4 * np.exp(-2 * t)
    want = 300.0 * np.log(2) ** 0.25
    for seed in range(3):
        noise = np.random.default_rng(seed).uniform(-2e-3, 2e-3, t.size)
        p = find_plateau(t, clean * (1 + noise))
        assert p.status == "escaped" and p.converged, p.message
        assert p.height == pytest.approx(0.02, rel=5e-3)
        assert p.escape_time == pytest.approx(want, rel=0.01)
        assert 1.0 < p.t_start < 5.0 and 60 < p.t_end < 200


def test_find_plateau_statuses_and_bad_input():
    """A curve without a flat stretch, one that never escapes, and invalid arguments: statuses and NaNs, never
    invented numbers; errors name the argument. The result is flat (one row)."""
    t = np.logspace(-2, 2, 100)
    p = find_plateau(t, np.exp(-t))
    assert p.status == "no_plateau" and not p.found and np.isnan(p.height) and np.isnan(p.escape_time)
    flat_end = find_plateau(t, 0.1 + 0.5 * np.exp(-t))
    assert flat_end.status == "no_escape" and flat_end.found and not flat_end.converged
    assert flat_end.height == pytest.approx(0.1, rel=1e-6) and np.isnan(flat_end.escape_time)
    d = flat_end.to_dict()
    assert {len(v) for v in d.values()} == {1} and d["status"] == ["no_escape"]
    for kwargs, match in (({"threshold": 0.0}, "threshold"), ({"escape_fraction": 1.0}, "escape_fraction"),
                          ({"min_span": 0.5}, "min_span"), ({"window": 0.9}, "window")):
        with pytest.raises(ValueError, match=match):
            find_plateau(t, np.exp(-t), **kwargs)
    with pytest.raises(ValueError, match="eps_g"):
        find_plateau(t, np.full(t.size, np.nan))
    with pytest.raises(ValueError, match="increasing"):
        find_plateau(t[::-1], np.exp(-t))
    assert isinstance(p, Plateau)


def test_sgd_average_plateau_uses_every_run():
    """SGDAverage.plateau: the plateau of the mean curve, height SE = the SE at t_flat, and the escape time
    is the mean +- SE over runs of each run's crossing of one common level (computed here by hand); a run
    that never escapes makes the status 'no_escape'."""
    t = np.concatenate([[0.0], np.logspace(-2, 3, 200)])
    shifts = np.array([250.0, 300.0, 350.0])
    runs = np.array([0.02 * np.exp(-((t / s) ** 4)) + 0.4 * np.exp(-2 * t) for s in shifts])
    avg = SGDAverage(t=t, eps_g_mean=runs.mean(0), eps_g_se=runs.std(0, ddof=1) / np.sqrt(3), eps_g_runs=runs,
                     eps_g_mc_mean=runs.mean(0), eps_g_mc_se=np.zeros(t.size), eps_g_mc_runs=runs,
                     runs=(None, None, None), status="completed", message="")
    p = avg.plateau()
    assert p.status == "escaped" and p.runs == 3
    k = int(np.flatnonzero(t == p.t_flat)[0])
    assert p.height_se == avg.eps_g_se[k]
    level = 0.5 * p.height
    by_hand = []
    for eps in runs:
        e = k + int(np.flatnonzero(eps[k:] <= level)[0])
        x0, x1 = np.log(t[e - 1]), np.log(t[e])
        by_hand.append(np.exp(x0 + (level - eps[e - 1]) * (x1 - x0) / (eps[e] - eps[e - 1])))
    assert p.escape_time == pytest.approx(np.mean(by_hand), rel=1e-12)
    assert p.escape_time_se == pytest.approx(np.std(by_hand, ddof=1) / np.sqrt(3), rel=1e-12)
    stuck = SGDAverage(**{**avg.__dict__, "eps_g_runs": np.vstack([runs[:2], 0.02 + 0 * t])})
    q = stuck.plateau()
    assert q.status == "no_escape" and np.isnan(q.escape_time) and "2 of 3 runs" in q.message


def test_sgd_average_escape_of_a_run_already_below_the_level():
    """Reference: the definition in SGDAverage.plateau, each run's first time >= t_flat at or below the common level.
    A run that is already below the level at t_flat (here flat at 0.004 < level) escapes at t_flat: never before it
    (the old interpolation reached back to the output time before t_flat) and without dividing by zero (its two
    values there are equal)."""
    t = np.concatenate([[0.0], np.logspace(-2, 3, 200)])
    runs = np.array([0.02 * np.exp(-((t / 250.0) ** 4)) + 0.4 * np.exp(-2 * t),
                     0.02 * np.exp(-((t / 300.0) ** 4)) + 0.4 * np.exp(-2 * t),
                     np.where(t < 1.0, 0.004 + 0.4 * np.exp(-2 * t), 0.004)])
    avg = SGDAverage(t=t, eps_g_mean=runs.mean(0), eps_g_se=runs.std(0, ddof=1) / np.sqrt(3), eps_g_runs=runs,
                     eps_g_mc_mean=runs.mean(0), eps_g_mc_se=np.zeros(t.size), eps_g_mc_runs=runs,
                     runs=(None, None, None), status="completed", message="")
    with np.errstate(all="raise"):
        p = avg.plateau()
    assert p.status == "escaped", p.message
    k = int(np.flatnonzero(t == p.t_flat)[0])
    level = 0.5 * p.height
    assert runs[2, k - 1] == runs[2, k] <= level < runs[0, k]
    by_hand = []
    for eps in runs[:2]:
        e = k + int(np.flatnonzero(eps[k:] <= level)[0])
        x0, x1 = np.log(t[e - 1]), np.log(t[e])
        by_hand.append(np.exp(x0 + (level - eps[e - 1]) * (x1 - x0) / (eps[e] - eps[e - 1])))
    by_hand.append(p.t_flat)
    assert min(by_hand) >= p.t_flat
    assert p.escape_time == pytest.approx(np.mean(by_hand), rel=1e-12)


@pytest.mark.slow
def test_sgd_plateau_and_escape_match_the_ode():
    """Reference: online SGD, 8 runs, isotropic inputs N = 500, K = M = 2, erf(z/sqrt 2), fixed second layers,
    eta = 0.5, orthonormal teacher, from Q = 0.2 I, R = 0.03 [[1, .4], [.3, .9]]. The ODE from the same
    weights predicts the plateau height and the escape time (SGDAverage.plateau: mean +- SE over runs):
    both within 4 SE + 2% (measured: height z = 0.2, escape 137.9 +- 3.1 against 135.4, z = 0.8)."""
    N, eta = 500, 0.5
    rng = np.random.default_rng(0)
    O, _ = np.linalg.qr(rng.standard_normal((N, 4)))
    B = np.sqrt(N) * O[:, :2].T  # T = B B^T / N = I
    W = 0.03 * np.array([[1.0, 0.4], [0.3, 0.9]]) @ B + np.sqrt(0.2 * N) * O[:, 2:].T
    from spectra.teachers import CommitteeTeacher

    teacher = CommitteeTeacher(B)
    student = Student(W, ONES, train_second_layer=False)
    times = default_times(300.0, 80, N=N)
    ode = integrate(Setup.isotropic(student, teacher, eta=eta), 300.0, times=times, bins=1)
    avg = simulate_sgd_seeds(IsotropicInputs(N), teacher, student, eta, 300.0, seeds=8, seed=0, n_test=100,
                             times=times)
    p_ode, p_sgd = ode.plateau(), avg.plateau()
    assert p_ode.status == "escaped" and p_sgd.status == "escaped", (p_ode.message, p_sgd.message)
    assert abs(p_sgd.height - p_ode.height) <= 4 * p_sgd.height_se + 0.02 * p_ode.height
    assert abs(p_sgd.escape_time - p_ode.escape_time) <= 4 * p_sgd.escape_time_se + 0.02 * p_ode.escape_time
    # the criterion has power: a plateau 10% higher or an escape 20% later is rejected
    assert not abs(p_sgd.height - 1.1 * p_ode.height) <= 4 * p_sgd.height_se + 0.02 * p_ode.height
    assert not abs(p_sgd.escape_time - 1.2 * p_ode.escape_time) <= 4 * p_sgd.escape_time_se + 0.02 * p_ode.escape_time
