"""Ridge against the Marchenko-Pastur closed form (theory §6.2), through both solver routes."""

import numpy as np
import pytest

from replica import Channel, Loss, solve, solve_square
from spectra import Spectrum
from tests.replica.references import marchenko_pastur_ridge, ridgeless_risk

GRID = [(a, lam) for a in (0.5, 1.0, 2.0, 4.0) for lam in (1e-4, 1e-2, 1.0)]


@pytest.mark.parametrize("noise", [0.0, 0.5])
@pytest.mark.parametrize("alpha,lam", GRID)
def test_ridge_matches_marchenko_pastur(alpha, lam, noise):
    """Reference: closed form of Hastie-Montanari-Rosset-Tibshirani, gamma_H = 1/alpha, lam_H = lam/alpha;
    includes alpha = 1 with lam = 1e-4 (next to the interpolation peak). Agreement 1e-8."""
    spec = Spectrum.isotropic(64)
    risk, train = marchenko_pastur_ridge(1 / alpha, lam / alpha, 1.0, noise)
    for sol in (solve(spec, Loss.square(), Channel.linear(noise), alpha, lam, tol=1e-13),
                solve_square(spec, Channel.linear(noise), alpha, lam)):
        assert sol.converged
        assert sol.test_error == pytest.approx(risk, rel=1e-8, abs=1e-10)
        assert sol.train_error == pytest.approx(train, rel=1e-8, abs=1e-10)
        assert sol.train_loss == pytest.approx(train / 2, rel=1e-8, abs=1e-10)
        assert sol.test_error_noisy == pytest.approx(risk + noise, rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("alpha", [0.25, 0.5, 0.8, 1.25, 2.0, 5.0])
def test_ridgeless_limit(alpha):
    """Reference: min-norm risk r^2(1 - 1/gamma_H) + sigma^2/(gamma_H - 1) below the threshold,
    sigma^2 gamma_H/(1 - gamma_H) above it; lam = 0 goes through the exact scalar route."""
    spec = Spectrum.isotropic(50)
    sol = solve(spec, Loss.square(), Channel.linear(0.3), alpha, 0.0)
    assert sol.method == "scalar"
    assert sol.test_error == pytest.approx(ridgeless_risk(1 / alpha, 1.0, 0.3), rel=1e-10)
    small = solve_square(spec, Channel.linear(0.3), alpha, 1e-9)
    assert small.test_error == pytest.approx(sol.test_error, rel=1e-6)


def test_interpolation_threshold_refused_at_lam_zero():
    """alpha = rank/p with lam = 0: the min-norm error diverges; the solver refuses instead of a number."""
    with pytest.raises(ValueError, match="interpolation threshold"):
        solve(Spectrum.isotropic(40), Loss.square(), Channel.linear(0.5), 1.0, 0.0)


def test_interpolation_peak_grows_as_lam_decreases():
    """Reference: MP closed form at alpha = 1, noisy labels: the error grows without bound as lam -> 0."""
    spec = Spectrum.isotropic(20)
    errs = [solve(spec, Loss.square(), Channel.linear(0.5), 1.0, lam).test_error for lam in (1e-2, 1e-4, 1e-6)]
    refs = [marchenko_pastur_ridge(1.0, lam, 1.0, 0.5)[0] for lam in (1e-2, 1e-4, 1e-6)]
    np.testing.assert_allclose(errs, refs, rtol=1e-7)
    assert errs[0] < errs[1] < errs[2] and errs[2] > 100


def test_unseen_teacher_directions_act_as_noise():
    """Theory §6.2 variant with gamma != 1: k' unseen teacher directions (Phi = [I, 0]) give
    eps_g = R + sigma^2 with R the MP risk at noise sigma^2, and the same training MSE."""
    p, extra = 40, 20
    k = p + extra
    r2, s2 = 1.0, 0.5
    theta = np.concatenate([np.full(p, np.sqrt(r2 * k / p)), np.full(extra, np.sqrt(s2 * k / extra))])
    spec = Spectrum.from_covariances(omega=np.eye(p), phi=np.eye(p, k), psi=np.eye(k), theta=theta)
    assert spec.gamma == pytest.approx(k / p) and spec.rho == pytest.approx(r2 + s2)
    for alpha, lam in [(0.5, 0.1), (2.0, 0.01), (3.0, 1.0)]:
        risk, train = marchenko_pastur_ridge(1 / alpha, lam / alpha, r2, s2)
        sol = solve(spec, Loss.square(), Channel.linear(), alpha, lam, tol=1e-13)
        assert sol.test_error == pytest.approx(risk + s2, rel=1e-8)
        assert sol.train_error == pytest.approx(train, rel=1e-8)


@pytest.mark.parametrize("loss,channel", [(Loss.square(), Channel.linear(0.2)), (Loss.logistic(), Channel.sign()),
                                          (Loss.square(), Channel.sign())])
def test_padding_the_teacher_leaves_errors_unchanged(loss, channel):
    """Theory §5.2: pad the teacher with unused coordinates and rescale theta by sqrt(k_new/k_old);
    the labels are unchanged, so every predicted error must be too while gamma changes."""
    rng = np.random.default_rng(3)
    p, k = 30, 30
    a = rng.standard_normal((p, p)) / np.sqrt(p)
    omega = a @ a.T + 0.1 * np.eye(p)
    phi = a @ rng.standard_normal((p, k)) / np.sqrt(p)
    psi = np.eye(k)
    theta = rng.standard_normal(k)
    base = Spectrum.from_covariances(omega=omega, phi=phi, psi=psi, theta=theta)
    pad = 17
    k2 = k + pad
    big = Spectrum.from_covariances(omega=omega, phi=np.hstack([phi, np.zeros((p, pad))]), psi=np.eye(k2),
                                    theta=np.concatenate([theta, np.zeros(pad)]) * np.sqrt(k2 / k))
    assert big.gamma != base.gamma
    s1 = solve(base, loss, channel, 1.5, 0.05, tol=1e-12)
    s2 = solve(big, loss, channel, 1.5, 0.05, tol=1e-12)
    assert s2.test_error == pytest.approx(s1.test_error, rel=1e-8)
    assert s2.train_error == pytest.approx(s1.train_error, rel=1e-8, abs=1e-12)
    assert s2.q == pytest.approx(s1.q, rel=1e-8) and s2.m == pytest.approx(s1.m, rel=1e-8)
