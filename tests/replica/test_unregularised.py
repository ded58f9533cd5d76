"""lam = 0 for the logistic loss: the unregularised MLE above the separability threshold, 'separable' below it."""

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy import optimize, special

from replica import Channel, ConvergenceError, Loss, separability_threshold, solve
from spectra import Spectrum


def _sur_candes(kappa: float, gamma: float, n: int = 80) -> tuple[float, float]:
    """The Sur-Candes system (PNAS 2019; theory §6.4) for the logistic MLE with a logistic teacher of signal strength
    gamma at kappa = p/n: unknowns (alpha*, sigma*, lambda*), with (Q1, Q2) jointly Gaussian, Var Q1 = gamma^2,
    Var Q2 = alpha^2 gamma^2 + kappa sigma^2, Cov = alpha gamma^2, rho(t) = log(1 + e^t):
    kappa^2 sigma^2 = E[2 rho'(Q1) (lambda rho'(prox(Q2)))^2], 0 = E[rho'(Q1) Q1 lambda rho'(prox(Q2))],
    1 - kappa = E[2 rho'(Q1) / (1 + lambda rho''(prox(Q2)))]. Solved on a 2-d Gauss-Hermite product rule with an
    exact scalar Newton prox. Returns (|alpha*|, sigma*): the bias factor m/rho and q = alpha^2 gamma^2 + kappa
    sigma^2 in the replica's variables."""
    x, w = hermegauss(n)
    w = w / np.sqrt(2 * np.pi)
    X1, X2 = np.meshgrid(x, x, indexing="ij")
    W = np.outer(w, w)

    def d1(t):
        return special.expit(t)

    def d2(t):
        return special.expit(t) * special.expit(-t)

    def prox(z, lam):
        t = z.copy()
        for _ in range(100):
            t = t - (lam * d1(t) + t - z) / (lam * d2(t) + 1)
        return t

    def equations(v):
        a, s, lam = v
        Q1 = gamma * X1
        P = prox(a * gamma * X1 + np.sqrt(kappa) * s * X2, lam)
        return [np.sum(W * 2 * d1(Q1) * (lam * d1(P)) ** 2) - kappa**2 * s**2,
                np.sum(W * d1(Q1) * Q1 * lam * d1(P)),
                np.sum(W * 2 * d1(Q1) / (1 + lam * d2(P))) - (1 - kappa)]

    (a, s, _), info, ier, msg = optimize.fsolve(equations, [1.2, 1.0, 1.0], xtol=1e-13, full_output=True)
    assert ier == 1, msg
    return abs(a), abs(s)


@pytest.mark.parametrize("kappa", [0.1, 0.25])
def test_logistic_mle_matches_sur_candes(kappa):
    """Reference: the Sur-Candes system above, an independent formulation of the same limit (the MLE's bias factor
    and variance), for a logit teacher of strength gamma = 1 on isotropic features at alpha = 1/kappa."""
    gamma = 1.0
    spec = Spectrum.isotropic(100, rho=gamma**2)
    channel = Channel.from_likelihood("1/(1 + exp(-y*z))")
    assert 1 / kappa > separability_threshold(spec, channel)
    a, s = _sur_candes(kappa, gamma)
    sol = solve(spec, Loss.logistic(), channel, 1 / kappa, 0.0)
    assert sol.converged and sol.lam == 0.0
    assert sol.m / spec.rho == pytest.approx(a, rel=1e-7)
    assert sol.q == pytest.approx(a**2 * gamma**2 + kappa * s**2, rel=1e-7)


def test_below_the_threshold_the_mle_does_not_exist():
    """Reference: replica.separability_threshold (checked against Candes-Sur and an LP simulation in its own tests).
    Below it the status is 'separable' (strict raises, naming the threshold); at it lam = 0 is refused; above it the
    lam = 0 point is the limit of lam -> 0+ (lam = 1e-9 within 1e-6)."""
    spec = Spectrum.isotropic(100)
    channel = Channel.probit(1.0)
    threshold = separability_threshold(spec, channel)
    sol = solve(spec, Loss.logistic(), channel, 0.7 * threshold, 0.0, strict=False)
    assert sol.status == "separable" and not sol.converged and "separable" in sol.message
    with pytest.raises(ConvergenceError, match="separable"):
        solve(spec, Loss.logistic(), channel, 0.7 * threshold, 0.0)
    with pytest.raises(ValueError, match="threshold"):
        solve(spec, Loss.logistic(), channel, threshold, 0.0)
    above = solve(spec, Loss.logistic(), channel, 1.5 * threshold, 0.0)
    near = solve(spec, Loss.logistic(), channel, 1.5 * threshold, 1e-9)
    assert above.test_error == pytest.approx(near.test_error, rel=1e-6)
    assert above.q == pytest.approx(near.q, rel=1e-6)


def test_a_fully_visible_sign_teacher_is_always_separable():
    """Theory §2.7: a noiseless sign teacher that the student represents exactly gives separable data at every
    alpha (threshold infinity), so the logistic MLE never exists."""
    spec = Spectrum.isotropic(50)
    assert separability_threshold(spec, Channel.sign()) == np.inf
    assert solve(spec, Loss.logistic(), Channel.sign(), 50.0, 0.0, strict=False).status == "separable"


def test_lam_zero_refused_for_losses_without_a_handled_limit():
    with pytest.raises(ValueError, match="lam = 0"):
        solve(Spectrum.isotropic(10), Loss.huber(1.0), Channel.linear(0.1), 2.0, 0.0)


@pytest.mark.parametrize("channel", [Channel.sign(), Channel.probit(0.3)], ids=lambda c: c.name)
def test_hinge_lam_zero_is_the_limit_of_small_lam(channel):
    """lam = 0 for the hinge: below the separability threshold the max-margin classifier, above it the unregularised
    minimiser. Reference: the hinge at lam = 1e-9 (on separable data the hinge equals the hard-margin problem for all
    small lam, so q and m agree to the solver's tolerance; above the threshold the limit is continuous)."""
    spec = Spectrum.isotropic(100)
    threshold = separability_threshold(spec, channel)
    for alpha in (0.5, 2.0, 6.0):
        zero = solve(spec, Loss.hinge(), channel, alpha, 0.0)
        near = solve(spec, Loss.hinge(), channel, alpha, 1e-9)
        assert zero.converged and zero.lam == 0.0
        assert zero.test_error == pytest.approx(near.test_error, rel=1e-7)
        assert zero.q == pytest.approx(near.q, rel=1e-6)
        if alpha < threshold:
            assert "max-margin" in zero.route and zero.V == np.inf and zero.train_error == 0.0


def test_max_margin_matches_a_hard_margin_simulation():
    """Reference: finite-size hard-margin SVMs (validation.fit.fit_hinge at lam = 1e-6, certified by its duality gap;
    every training margin >= 1 - 1e-6) on isotropic Gaussian data with a sign teacher, p = 100, alpha = 2, 10 seeds:
    the angle test error and q = |w|^2/p agree with the max-margin theory within 4 standard errors plus an O(1/p)
    finite-size allowance of 2%."""
    from validation.fit import design, fit_hinge

    p, alpha = 100, 2.0
    theory = solve(Spectrum.isotropic(p), Loss.hinge(), Channel.sign(), alpha, 0.0)
    errs, qs = [], []
    for seed in range(10):
        rng = np.random.default_rng([seed, 7])
        theta = rng.standard_normal(p)
        v = rng.standard_normal((int(alpha * p), p))
        y = np.sign(v @ theta)
        X = design(v)
        fit = fit_hinge(X, y, lam=1e-6)
        if not fit.converged:
            continue
        assert np.min(y * (X @ fit.w)) > 1 - 1e-6
        errs.append(np.arccos(fit.w @ theta / np.linalg.norm(fit.w) / np.linalg.norm(theta)) / np.pi)
        qs.append(fit.w @ fit.w / p)
    assert len(errs) >= 8
    for values, th in ((errs, theory.test_error), (qs, theory.q)):
        mean, se = np.mean(values), np.std(values, ddof=1) / np.sqrt(len(values))
        assert abs(mean - th) <= 4 * se + 0.02 * th, (mean, se, th)
