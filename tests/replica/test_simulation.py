"""Theory against finite-size simulations of a Gaussian covariate model (theory §5.1, §5.8).

The simulations draw Gaussian (v, u) with the given Omega, Phi, Psi, fit ridge in closed form or logistic
regression by L-BFGS to a tight gradient tolerance, and measure the test error on fresh samples. Theory
and simulation must agree within 3 standard errors over the seeds.
"""

import numpy as np
import pytest
from scipy.special import expit

from replica import Channel, Loss, solve
from spectra import Spectrum


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


def _fit(loss_name, X, y, lam):
    """Minimiser of sum loss(y, X w) + lam/2 |w|^2 (X already scaled by 1/sqrt(p))."""
    p = X.shape[1]
    if loss_name == "square":
        return np.linalg.solve(X.T @ X + lam * np.eye(p), X.T @ y)

    w = np.zeros(p)
    for _ in range(100):  # Newton with backtracking: exact to machine precision, unlike L-BFGS
        z = X @ w
        s = expit(-y * z)
        grad = X.T @ (-y * s) + lam * w
        if np.linalg.norm(grad) < 1e-10:
            return w
        hess = (X.T * (s * (1 - s))) @ X + lam * np.eye(p)
        step = np.linalg.solve(hess, grad)
        obj = np.sum(np.logaddexp(0.0, -y * z)) + 0.5 * lam * w @ w
        t = 1.0
        while np.sum(np.logaddexp(0.0, -y * (X @ (w - t * step)))) + 0.5 * lam * (w - t * step) @ (w - t * step) > obj:
            t /= 2
        w = w - t * step
    raise AssertionError("logistic Newton fit did not converge")


def _simulate(omega, phi, theta, loss_name, channel, alpha, lam, seeds, n_test=4000):
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
        w = _fit(loss_name, X[:n], y[:n], lam)
        h = X[n:] @ w
        if channel.is_classification:
            errs.append(np.mean(np.sign(h) != np.sign(nu[n:])))
        else:
            errs.append(np.mean((h - nu[n:]) ** 2))
    errs = np.array(errs)
    return errs.mean(), errs.std(ddof=1) / np.sqrt(seeds)


@pytest.mark.parametrize("loss,channel,lam", [(Loss.square(), Channel.linear(0.25), 0.05),
                                              (Loss.logistic(), Channel.sign(), 0.05)], ids=["ridge", "logistic"])
@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_theory_matches_simulation_structured_gcm(loss, channel, lam, alpha):
    """Reference: simulation at p = 400, 10 seeds, fresh test samples; within 3 standard errors."""
    p = 400
    omega, phi, theta = _structured_gcm(p, seed=7)
    spec = Spectrum.from_covariances(omega=omega, phi=phi, psi=np.eye(p), theta=theta)
    sol = solve(spec, loss, channel, alpha, lam)
    mean, se = _simulate(omega, phi, theta, loss.name, channel, alpha, lam, seeds=10)
    assert abs(sol.test_error - mean) < 3 * se + 1e-3 * 0, (sol.test_error, mean, se)


def test_commuting_shortcut_trap():
    """Theory §5.1: diagonal Omega = Phi = Psi with distinct eigenvalues and the teacher along the
    smallest-eigenvalue direction. Reference: simulation (12 seeds, 3 standard errors); the prediction of
    the 'sorted spectra' shortcut, which puts the teacher on the largest eigenvalue, is far outside."""
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
        w = np.linalg.solve(X[:n].T @ X[:n] + lam * np.eye(p), X[:n].T @ y[:n])
        errs.append(np.mean((X[n:] @ w - nu[n:]) ** 2))
    mean, se = np.mean(errs), np.std(errs, ddof=1) / np.sqrt(len(errs))
    assert abs(sol.test_error - mean) < 3 * se
    wrong = Spectrum.from_arrays(s, np.sort(spec.t), rho=spec.rho, gamma=1.0)
    bad = solve(wrong, Loss.square(), ch, alpha, lam)
    assert abs(bad.test_error - mean) > 10 * se
