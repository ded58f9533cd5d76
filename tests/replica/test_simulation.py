"""Theory against finite-size simulations of a Gaussian covariate model (theory §5.1, §5.8).

The simulations draw Gaussian (v, u) with the given Omega, Phi, Psi, fit ridge (Cholesky) or logistic
regression (L-BFGS) with validation.fit, each fit certified to its documented relative weight error
(``Fit.certificate <= tol``, from strong convexity, independent of the BLAS's rounding), and measure the test
error on fresh samples. Agreement is a one-sample t-test of the seeds' test errors against the theory (the rule
of validation.compare for a single test) at level LEVEL: an exact theory fails with probability at most LEVEL.
"""

import numpy as np
import pytest
from scipy import stats

from replica import Channel, Loss, solve
from spectra import Spectrum
from validation.fit import fit

#: Level of the agreement t-tests (the chance that an exact theory fails one).
LEVEL = 1e-3


def _structured_gcm(p: int, seed: int):
    """Omega with a power-law spectrum in a random basis, latent teacher u = c (k = p), Phi = Omega^(1/2)...
    rotated so that Omega does not commute with the teacher direction."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((p, p)))
    s = 1.0 / (1.0 + np.arange(p)) ** 0.6
    s = s / s.mean()
    omega = (basis * s) @ basis.T
    # joint covariance of (v, u): u = Omega^{-1/2}-whitened mix so that Psi = I and Phi = A with A A^T <= Omega
    mix = (basis * np.sqrt(s)) @ np.linalg.qr(rng.standard_normal((p, p)))[0]
    phi = 0.8 * mix
    theta = rng.standard_normal(p)
    return omega, phi, theta


def _sample(omega, phi, theta, n, rng):
    """Jointly Gaussian (v, u) with E vv^T = Omega, E vu^T = Phi, E uu^T = I; returns v and nu."""
    k = phi.shape[1]
    u = rng.standard_normal((n, k))
    resid = omega - phi @ phi.T
    w, e = np.linalg.eigh(resid)
    root = e * np.sqrt(np.clip(w, 0, None))
    v = u @ phi.T + rng.standard_normal((n, omega.shape[0])) @ root.T
    return v, u @ theta / np.sqrt(k)


def _fit(loss, X, y, lam):
    """Minimiser of sum loss(y, X w) + lam/2 |w|^2 (X already scaled by 1/sqrt(p)), certified to a relative
    weight error of 1e-6 (validation.fit's default tolerance, far below the error bars here)."""
    res = fit(loss, X, y, lam)
    assert res.converged, (res.method, res.certificate)
    return res.w


def _simulate(omega, phi, theta, loss, channel, alpha, lam, seeds, n_test=4000):
    p = omega.shape[0]
    errs = []
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        n = int(round(alpha * p))
        v, nu = _sample(omega, phi, theta, n + n_test, rng)
        y = nu + 0.0 if not channel.is_classification else np.sign(nu)
        if channel.name.startswith("linear("):
            y = nu + np.sqrt(channel.noise) * rng.standard_normal(nu.size)
        X = v / np.sqrt(p)
        w = _fit(loss, X[:n], y[:n], lam)
        h = X[n:] @ w
        if channel.is_classification:
            errs.append(np.mean(np.sign(h) != np.sign(nu[n:])))
        else:
            errs.append(np.mean((h - nu[n:]) ** 2))
    return np.array(errs)


@pytest.mark.parametrize("loss,channel,lam", [(Loss.square(), Channel.linear(0.25), 0.05),
                                              (Loss.logistic(), Channel.sign(), 0.05)], ids=["ridge", "logistic"])
@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_theory_matches_simulation_structured_gcm(loss, channel, lam, alpha):
    """Reference: simulation at p = 400, 10 seeds, fresh test samples; t-test p-value >= LEVEL."""
    p = 400
    omega, phi, theta = _structured_gcm(p, seed=7)
    spec = Spectrum.from_covariances(omega=omega, phi=phi, psi=np.eye(p), theta=theta)
    sol = solve(spec, loss, channel, alpha, lam)
    errs = _simulate(omega, phi, theta, loss, channel, alpha, lam, seeds=10)
    assert stats.ttest_1samp(errs, sol.test_error).pvalue >= LEVEL, (sol.test_error, errs.mean(), errs.std(ddof=1))


def test_commuting_shortcut_trap():
    """Theory §5.1: diagonal Omega = Phi = Psi with distinct eigenvalues and the teacher along the
    smallest-eigenvalue direction. Reference: simulation (12 seeds; t-test p-value >= LEVEL); the prediction of
    the 'sorted spectra' shortcut, which puts the teacher on the largest eigenvalue, is rejected at LEVEL (it
    is more than 10 standard errors away)."""
    p = 300
    s = np.linspace(0.2, 3.0, p)
    omega = np.diag(s)
    theta = np.zeros(p)
    theta[0] = np.sqrt(p)  # all teacher weight on the smallest eigenvalue s[0] = 0.2
    spec = Spectrum.from_covariances(omega=omega, phi=omega, psi=omega, theta=theta)
    assert spec.t[0] > 0 and np.all(spec.t[1:] == 0)
    alpha, lam = 1.5, 0.1
    ch = Channel.linear(0.1)
    sol = solve(spec, Loss.square(), ch, alpha, lam)
    # simulate directly: v = sqrt(s) g, u = v (so Phi = Psi = Omega), nu = theta.u/sqrt(p)
    errs = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        n = int(alpha * p)
        v = rng.standard_normal((n + 3000, p)) * np.sqrt(s)
        nu = v @ theta / np.sqrt(p)
        y = nu + np.sqrt(0.1) * rng.standard_normal(nu.size)
        X = v / np.sqrt(p)
        w = _fit(Loss.square(), X[:n], y[:n], lam)
        errs.append(np.mean((X[n:] @ w - nu[n:]) ** 2))
    assert stats.ttest_1samp(errs, sol.test_error).pvalue >= LEVEL
    wrong = Spectrum.from_arrays(s, np.sort(spec.t), rho=spec.rho, gamma=1.0)
    bad = solve(wrong, Loss.square(), ch, alpha, lam)
    assert stats.ttest_1samp(errs, bad.test_error).pvalue < LEVEL
