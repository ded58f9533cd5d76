"""replica.bayes_optimal: the Bayes-optimal errors of the Gaussian covariate model (docs/bayes_optimal.md).

References: mpmath closed forms of the output functions and of the channel integral; the classic Bayes-optimal
perceptron (Gardner/Gyorgyi-Tishby overlap equation, Opper & Haussler 1991; the large-alpha constant 0.4417 of
Aubin, Krzakala, Lu & Zdeborova 2020); the scalar MMSE equation of the Gaussian linear model (generalised ridge);
ridge at its optimal lam where that is the posterior mean; the weak-recovery threshold of a symmetric channel;
and the requirement that no estimator beats the Bayes error (hypothesis).
"""

import csv
import json

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from replica import (
    BayesCurve,
    Channel,
    ConvergenceError,
    Loss,
    bayes_optimal,
    bayes_optimal_curve,
    learning_curve,
    optimal_lambda,
    solve,
    solve_square,
)
from replica.bayes import OutputChannel, _potential_gap, _root, _solve, _StateEvolution, prior_eigenvalues
from spectra import Spectrum

PROBIT_LIK = "(1 + y*erf(z/sqrt(2*0.3)))/2"  # Channel.probit(0.3) written as a likelihood
LOGIT = "1/(1 + exp(-2*y*z))"


def _sign_family_z0(y, w, v, noise=0.0, flip=0.0):
    """Z0 of y = sign(z + sqrt(noise) zeta), flipped w.p. flip, z ~ N(w, v) (theory §2.3), in mpmath."""
    return flip + (1 - 2 * flip) * mp.ncdf(y * w / mp.sqrt(v + noise))


# ------------------------------------------------------------------------------------------ output functions
def _logit_moments(y, w, v, order):
    """E_zeta d^order/dz^order sigma(2 y z) at z = w + sqrt(v) zeta (mpmath quadrature of the analytic derivatives)."""
    def f(z):
        s = 1 / (1 + mp.exp(-2 * y * z))
        return [s, 2 * y * s * (1 - s), 4 * s * (1 - s) * (1 - 2 * s)][order]
    return mp.quad(lambda t: mp.npdf(t) * f(w + mp.sqrt(v) * t), [-mp.inf, -w / mp.sqrt(v), mp.inf])


@pytest.mark.parametrize("channel,z0", [
    (Channel.sign(), lambda y, w, v: _sign_family_z0(y, w, v)),
    (Channel.probit(0.3), lambda y, w, v: _sign_family_z0(y, w, v, noise=0.3)),
    (Channel.sign(flip=0.1), lambda y, w, v: _sign_family_z0(y, w, v, flip=0.1)),
    (Channel.from_likelihood(LOGIT), None),
])
def test_output_functions_match_mpmath(channel, z0):
    """Z0, g = d log Z0/d omega and dg/d omega against 30-digit mpmath (closed forms with numerical derivatives; the
    logit likelihood by quadrature of its analytic derivatives), also deep in the tails where Z0 underflows in a
    naive evaluation (the erf forms are rewritten without cancellation)."""
    out = OutputChannel(channel)
    ys = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    ws = np.array([0.3, 0.3, -2.0, 4.0, -9.0, 9.0])
    v = 0.2
    z, g, dg = out(ys, ws, v)
    with mp.workdps(30):
        for i in range(ys.size):
            y, w = ys[i], mp.mpf(ws[i])
            if z0 is None:
                m0, m1, m2 = (_logit_moments(y, w, v, k) for k in range(3))
                ref = (m0, m1 / m0, m2 / m0 - (m1 / m0) ** 2)
            else:
                f = lambda w, y=y: mp.log(z0(y, w, v))  # noqa: E731
                ref = (z0(y, w, v), mp.diff(f, w), mp.diff(f, w, 2))
            assert z[i] == pytest.approx(float(ref[0]), rel=1e-10)
            assert g[i] == pytest.approx(float(ref[1]), rel=1e-8)
            assert dg[i] == pytest.approx(float(ref[2]), rel=1e-6)


def test_linear_output_functions_closed_form():
    """Linear channel: Z0 = N(y; omega, V + noise), g = (y - omega)/(V + noise), dg = -1/(V + noise)."""
    out = OutputChannel(Channel.linear(0.5))
    y, w = np.array([0.3, -40.0]), np.array([1.0, 2.0])
    z, g, dg = out(y, w, 0.25)
    np.testing.assert_allclose(z[0], np.exp(-(0.7**2) / 1.5) / np.sqrt(2 * np.pi * 0.75), rtol=1e-13)
    np.testing.assert_allclose(g, (y - w) / 0.75, rtol=1e-13)
    np.testing.assert_allclose(dg, -1 / 0.75, rtol=1e-13)


@pytest.mark.parametrize("noise,flip", [(0.0, 0.0), (0.3, 0.0), (0.0, 0.1)])
@pytest.mark.parametrize("q", [1e-3, 0.5, 0.99])
def test_channel_integral_matches_mpmath(noise, flip, q):
    """G(q) = E_xi sum_y (d Z0)^2 / Z0 at omega = sqrt(q) xi, V = rho - q: the channel rules (both of them) against
    mpmath quadrature of the closed form (split at 0, where the sign teacher's Z0 has its step)."""
    channel = Channel.probit(noise) if noise else Channel.sign(flip=flip)
    se = _StateEvolution(Spectrum.isotropic(10), channel)
    got, check = se.G(q), se.G_check(q)
    v = 1.0 - q + noise

    def integrand(w):
        dens = mp.npdf(w, 0, mp.sqrt(q))
        dz = (1 - 2 * flip) * mp.npdf(w / mp.sqrt(v)) / mp.sqrt(v)
        return dens * sum(dz**2 / _sign_family_z0(y, w, 1.0 - q, noise, flip) for y in (-1, 1))

    with mp.workdps(30):
        ref = float(mp.quad(integrand, [-mp.inf, -mp.sqrt(v), 0, mp.sqrt(v), mp.inf]))
    assert got == pytest.approx(ref, rel=1e-10)
    assert check == pytest.approx(ref, rel=1e-10)


# ------------------------------------------------------------------------------------------ the perceptron
def _gibbs_overlap(alpha: float) -> float:
    """Overlap R of the spherical perceptron's Gibbs/Bayes problem: R / sqrt(1 - R) = (alpha/pi) int Dt
    exp(-R t^2/2) / H(-sqrt(R) t) (Gyorgyi & Tishby 1990; Engel & Van den Broeck 2001, ch. 2); the Bayes-optimal
    error is arccos(sqrt(R))/pi (Opper & Haussler 1991). Solved here with mpmath."""
    def eq(r):
        rhs = alpha / mp.pi * mp.quad(lambda t: mp.npdf(t) * mp.exp(-r * t * t / 2) / mp.ncdf(mp.sqrt(r) * t),
                                      [-mp.inf, 0, mp.inf])
        return float(r / mp.sqrt(1 - r) - rhs)
    return brentq(eq, 1e-9, 1 - 1e-12, xtol=1e-15, rtol=1e-14)


@pytest.mark.parametrize("alpha", [0.5, 3.0, 10.0])
def test_sign_teacher_is_the_bayes_optimal_perceptron(alpha):
    """Isotropic data, sign teacher: the published Bayes-optimal perceptron (the overlap equation of
    `_gibbs_overlap`, an independent formulation), to 1e-8."""
    sol = bayes_optimal(Spectrum.isotropic(50), Channel.sign(), alpha)
    r = _gibbs_overlap(alpha)
    assert sol.converged and sol.q == pytest.approx(r, rel=1e-8)
    assert sol.test_error == pytest.approx(np.arccos(np.sqrt(r)) / np.pi, rel=1e-8)


def test_perceptron_large_alpha_constant():
    """alpha * error -> sqrt(2 pi) / int exp(-t^2)/Phi(t) dt = 0.4417 (Opper & Haussler 1991; Aubin et al. 2020,
    'eps_BO ~ 0.4417/alpha'): the constant from mpmath, the limit from the state evolution at alpha = 1000
    (corrections O(1/alpha))."""
    with mp.workdps(20):
        const = float(mp.sqrt(2 * mp.pi) / mp.quad(lambda t: mp.exp(-t * t) / mp.ncdf(t), [-mp.inf, 0, mp.inf]))
    assert round(const, 4) == 0.4417
    sol = bayes_optimal(Spectrum.isotropic(50), Channel.sign(), 1000.0)
    assert sol.converged and 1000 * sol.test_error == pytest.approx(const, rel=2e-3)
    # far out, rho_lin - q ~ 1e-8: the certificate's difference step stays above rounding (it once reported a
    # well-conditioned point as marginal here)
    far = bayes_optimal(Spectrum.isotropic(50), Channel.sign(), 1e4, tol=1e-6)
    assert far.converged and np.isfinite(far.error_estimate)
    assert 1e4 * far.test_error == pytest.approx(const, rel=2e-4)


def test_small_alpha_expansion():
    """alpha -> 0: q = alpha G(0) = 2 alpha/pi, so error = 1/2 - sqrt(2 alpha/pi)/pi + O(alpha) (isotropic, sign)."""
    alpha = 1e-6
    sol = bayes_optimal(Spectrum.isotropic(50), Channel.sign(), alpha)
    assert sol.q == pytest.approx(2 * alpha / np.pi, rel=1e-5)
    assert sol.test_error == pytest.approx(0.5 - np.sqrt(2 * alpha / np.pi) / np.pi, abs=2 * alpha)


def test_likelihood_route_equals_closed_form_route():
    """The probit channel as Channel.probit (closed form Z0) and as Channel.from_likelihood (Gauss-Hermite integral
    of the likelihood) give the same Bayes errors: two independent evaluations of one channel."""
    spec = Spectrum.isotropic(50)
    for alpha in (0.3, 4.0):
        a = bayes_optimal(spec, Channel.probit(0.3), alpha)
        b = bayes_optimal(spec, Channel.from_likelihood(PROBIT_LIK), alpha)
        assert a.test_error == pytest.approx(b.test_error, rel=1e-8)
        assert a.test_error_noisy == pytest.approx(b.test_error_noisy, rel=1e-8)


def test_noisy_test_error_of_symmetric_channels():
    """Symmetric channels: the Bayes label prediction is sign(omega), so the noisy error equals the channel's own
    formula for the predictor with overlaps (q, m = q) (theory §2.4: probit and flips in closed form)."""
    spec = Spectrum.isotropic(50)
    for ch in (Channel.probit(0.3), Channel.sign(flip=0.1)):
        sol = bayes_optimal(spec, ch, 2.0)
        assert sol.test_error_noisy == pytest.approx(ch.test_error_noisy(1.0, sol.q, sol.q), rel=1e-9)


# ------------------------------------------------------------------------------------------ linear channel
def _linear_mmse(sigma, p, alpha, delta_eff):
    """The MMSE of the Gaussian linear model y = b.x/sqrt(p) + noise, b ~ N(0, diag(sigma)), isotropic x (generalised
    ridge): e = (1/p) sum sigma / (1 + sigma alpha / (delta_eff + e)), solved by brentq."""
    sigma = np.asarray(sigma, dtype=float)
    f = lambda e: np.sum(sigma / (1 + sigma * alpha / (delta_eff + e))) / p - e  # noqa: E731
    hi = np.sum(sigma) / p
    lo = 1e-14 * hi  # f(0) is 0/0 without noise; f > 0 just above 0 iff the MMSE is positive
    return brentq(f, lo, hi, xtol=1e-15, rtol=1e-14) if f(lo) > 0 else 0.0


def _random_spectrum(seed, p=40, commuting_power=None):
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.05, 3.0, p)
    gamma = float(rng.uniform(0.5, 2.0))
    if commuting_power is None:
        t = rng.uniform(0.0, 1.0, p) * s
    else:
        t = s**commuting_power
    rho_lin = np.sum(t / s) / (gamma * p)
    t = t / rho_lin * 0.8  # rho_lin = 0.8
    rho = 0.8 + float(rng.uniform(0.0, 0.5))
    return Spectrum.from_arrays(s, t, rho=rho, gamma=gamma, teacher="averaged")


@pytest.mark.parametrize("seed", range(4))
def test_linear_mmse_matches_scalar_equation(seed):
    """Random spectra, linear channel: MMSE = rho - rho_lin + e with e from the generalised-ridge MMSE equation
    (`_linear_mmse`, independent of the channel quadrature), to 1e-8."""
    spec = _random_spectrum(seed)
    noise = 0.1 * seed
    sigma, source = prior_eigenvalues(spec)
    assert source == "commuting"
    for alpha in (0.3, 1.5):
        sol = bayes_optimal(spec, Channel.linear(noise), alpha)
        e = _linear_mmse(sigma, spec.p, alpha, noise + spec.rho - spec.rho_lin)
        assert sol.mmse_weights == pytest.approx(e, rel=1e-8)
        assert sol.test_error == pytest.approx(spec.rho - spec.rho_lin + e, rel=1e-8)
        assert sol.test_error_noisy == pytest.approx(sol.test_error + noise, rel=1e-8)


@pytest.mark.parametrize("seed", range(3))
def test_ridge_at_its_optimal_lambda_is_bayes_when_the_prior_is_isotropic(seed):
    """t_i proportional to s_i^2 (commuting, an isotropic prior on w): the posterior mean is ridge with
    lam* = gamma (noise + rho - rho_lin) / c, c = t_i/s_i^2 (closed form), so the Bayes MMSE equals ridge's test error
    at lam* (scalar reduction, independent code), ridge at lam*/2 and 2 lam* is worse, and optimal_lambda finds lam*."""
    spec = _random_spectrum(seed, commuting_power=2)
    noise = 0.2
    c = spec.t[0] / spec.s[0] ** 2
    lam_star = spec.gamma * (noise + spec.rho - spec.rho_lin) / c
    ch = Channel.linear(noise)
    bayes = bayes_optimal(spec, ch, 1.3)
    ridge = solve_square(spec, ch, 1.3, lam_star)
    assert bayes.test_error == pytest.approx(ridge.test_error, rel=1e-8)
    for lam in (0.5 * lam_star, 2 * lam_star):
        assert solve_square(spec, ch, 1.3, lam).test_error > bayes.test_error * (1 + 1e-6)
    best = optimal_lambda(spec, Loss.square(), ch, 1.3, bounds=(lam_star / 100, lam_star * 100), xatol=1e-6)
    assert best.lam == pytest.approx(lam_star, rel=1e-3)


def test_noiseless_linear_recovery_threshold():
    """Noiseless linear channel with rho_lin = rho: perfect recovery (MMSE 0) iff alpha exceeds the fraction of
    non-zero prior eigenvalues (here 1/2); below, MMSE = the generalised-ridge equation's root."""
    s = np.ones(20)
    t = np.r_[np.full(10, 2.0), np.zeros(10)]  # half the directions carry the teacher
    spec = Spectrum.from_arrays(s, t, rho=1.0, gamma=1.0, teacher="averaged")
    above = bayes_optimal(spec, Channel.linear(), 0.6)
    below = bayes_optimal(spec, Channel.linear(), 0.4)
    assert above.mmse == 0.0 and "perfect recovery" in above.message
    sigma, _ = prior_eigenvalues(spec)
    assert below.mmse == pytest.approx(_linear_mmse(sigma, 20, 0.4, 0.0), rel=1e-8)
    assert below.mmse == pytest.approx(1.0 - 0.4 / 0.5, rel=1e-8)  # e = rho (1 - alpha / fraction)


# ------------------------------------------------------------------------------------------ the prior spectrum
def test_same_s_t_different_bayes_errors():
    """Omega = I, Psi = diag(p, 1, ..., 1), k = p, with Phi Phi^T = 1 1^T (rank one) or Phi = I: the same (s, t, rho,
    gamma), so every ERM prediction is the same, but the Bayes priors (and errors) differ: the rank-one prior is
    learnt almost perfectly. Each matches the generalised-ridge MMSE equation with its own prior eigenvalues."""
    p = 30
    psi = np.diag(np.r_[float(p), np.ones(p - 1)])
    rank_one = np.zeros((p, p))
    rank_one[:, 0] = 1.0
    a_spec = Spectrum.from_covariances_averaged(omega=np.eye(p), phi=rank_one, psi=psi)
    b_spec = Spectrum.from_covariances_averaged(omega=np.eye(p), phi=np.eye(p), psi=psi)
    np.testing.assert_allclose(a_spec.t, b_spec.t)
    assert (a_spec.rho, a_spec.gamma, a_spec.s.tolist()) == (b_spec.rho, b_spec.gamma, b_spec.s.tolist())
    assert np.count_nonzero(a_spec.bayes_prior > 1e-10 * p) == 1 and a_spec.bayes_prior.max() == pytest.approx(p)
    ch = Channel.linear(0.5)
    a, b = bayes_optimal(a_spec, ch, 1.0), bayes_optimal(b_spec, ch, 1.0)
    assert a.prior == "covariances" and b.prior == "covariances"
    for spec, sol in ((a_spec, a), (b_spec, b)):
        e = _linear_mmse(spec.bayes_prior, p, 1.0, 0.5 + spec.rho - spec.rho_lin)
        assert sol.mmse_weights == pytest.approx(e, rel=1e-8)
    assert a.mmse_weights < 0.1 * b.mmse_weights
    # the commuting default (no bayes_prior) treats both as the diagonal case
    plain = Spectrum.from_arrays(a_spec.s, a_spec.t, rho=a_spec.rho, gamma=a_spec.gamma, teacher="averaged")
    c = bayes_optimal(plain, ch, 1.0)
    assert c.prior == "commuting" and c.test_error == pytest.approx(b.test_error, rel=1e-10)


def test_bayes_prior_from_covariances_is_the_eigenvalues_of_sigma_b():
    """bayes_prior = eig((p/k) Omega^{-1/2} Phi Phi^T Omega^{-1/2}) (direct numpy), carried by save/load."""
    rng = np.random.default_rng(3)
    p, k = 12, 7
    phi = rng.standard_normal((p, k)) / np.sqrt(k)
    omega = phi @ phi.T + np.diag(rng.uniform(0.1, 1.0, p))
    spec = Spectrum.from_covariances_averaged(omega=omega, phi=phi, psi=np.eye(k))
    w, e = np.linalg.eigh(omega)
    root = e @ np.diag(w**-0.5) @ e.T
    ref = np.linalg.eigvalsh(p / k * root @ phi @ phi.T @ root)
    np.testing.assert_allclose(np.sort(spec.bayes_prior), np.sort(np.clip(ref, 0, None)), atol=1e-12)
    assert np.mean(spec.bayes_prior) == pytest.approx(spec.rho_lin, rel=1e-12)


def test_bayes_prior_round_trip(tmp_path):
    """Spectrum.save/load keep bayes_prior; files without it load with None (the commuting default)."""
    spec = Spectrum.from_covariances_averaged(omega=np.diag([2.0, 1.0]), phi=np.array([[1.0, 0.5], [0.5, 0.5]]),
                                              psi=np.eye(2))
    spec.save(tmp_path / "a.npz")
    back = Spectrum.load(tmp_path / "a.npz")
    np.testing.assert_array_equal(back.bayes_prior, spec.bayes_prior)
    Spectrum.isotropic(3).save(tmp_path / "b.npz")
    assert Spectrum.load(tmp_path / "b.npz").bayes_prior is None


@pytest.mark.parametrize("kwargs,match", [
    (dict(teacher="fixed", bayes_prior=[1.0, 1.0]), "averaged teacher"),
    (dict(teacher="averaged", bayes_prior=[1.0]), "length 2"),
    (dict(teacher="averaged", bayes_prior=[3.0, -1.0]), ">= 0"),
    (dict(teacher="averaged", bayes_prior=[3.0, 3.0]), "mean rho_lin"),
])
def test_bad_bayes_prior(kwargs, match):
    """A bayes_prior that is not a prior spectrum of this (s, t) is refused, naming the problem."""
    with pytest.raises(ValueError, match=match):
        Spectrum.from_arrays([1.0, 1.0], [1.0, 1.0], rho=1.0, gamma=1.0, **kwargs)


# ------------------------------------------------------------------------------------------ several fixed points
def test_weak_recovery_threshold_of_a_symmetric_channel():
    """P0(y|z) even in z: q = 0 is a fixed point, stable below alpha_c = 1/G'(0) with
    G'(0) = sum_y E[P0(y|z)(z^2 - 1)]^2 / E[P0(y|z)] (rho = 1; mpmath). Below: error 1/2 (chance), status converged;
    above: a non-trivial fixed point."""
    ch = Channel.from_likelihood("(1 + 0.9*y*tanh(z**2 - 1))/2")

    def p0(y, z):
        return (1 + 0.9 * y * mp.tanh(z * z - 1)) / 2

    with mp.workdps(20):
        g1 = sum(mp.quad(lambda z, y=y: mp.npdf(z) * p0(y, z) * (z * z - 1), [-mp.inf, 0, mp.inf]) ** 2
                 / mp.quad(lambda z, y=y: mp.npdf(z) * p0(y, z), [-mp.inf, 0, mp.inf]) for y in (-1, 1))
    alpha_c = 1 / float(g1)
    spec = Spectrum.isotropic(20)
    below = bayes_optimal(spec, ch, 0.97 * alpha_c)
    above = bayes_optimal(spec, ch, 1.03 * alpha_c)
    assert below.q == 0.0 and below.test_error == 0.5 and below.converged
    assert above.q > 0 and above.test_error < 0.5 and above.converged


def test_a_steep_likelihood_is_not_certified_beyond_its_quadrature():
    """A likelihood with features the Gauss-Hermite rules resolve only to ~1e-8 (tanh(2 z^2 - 2)): the estimate of
    the quadrature error (an independent, refined rule) makes the point 'stalled' at tol = 1e-9, never a converged
    number that is wrong in its certified digits; at tol = 1e-5 it converges."""
    ch = Channel.from_likelihood("(1 + 0.95*y*tanh(2*z**2 - 2))/2")
    spec = Spectrum.isotropic(20)
    tight = bayes_optimal(spec, ch, 1.5, tol=1e-9, strict=False)
    loose = bayes_optimal(spec, ch, 1.5, tol=1e-5)
    assert tight.status == "stalled" and loose.converged
    assert tight.error_estimate > 1e-9 and loose.error_estimate < 1e-5


class _SShaped(_StateEvolution):
    """Isotropic prior (q_prior(h) = h/(1 + h)) with an analytic channel side G(q) = a + b q^3: the map has two stable
    fixed points for suitable (a, b), and the potential is known in closed form."""

    a, b = 0.05, 12.0

    def G(self, q):
        return self.a + self.b * q**3

    def G_check(self, q):
        return self.G(q)

    def potential(self, q):
        """Phi(q) up to a constant: (1/2) int (G(q) - q/(1 - q)) dq (alpha = 1)."""
        return 0.5 * (self.a * q + self.b * q**4 / 4 + q + np.log1p(-q))


def test_several_fixed_points_resolved_by_the_potential():
    """An S-shaped map (analytic channel side, `_SShaped`): both stable fixed points are found (roots of
    G(q) = q/(1 - q), numpy), q_amp is the lower one and q the one with the larger closed-form potential."""
    se = _SShaped(Spectrum.isotropic(10), Channel.sign())
    roots = np.roots([se.b, -se.b, 0.0, 1.0 + se.a, -se.a])  # (a + b q^3)(1 - q) = q
    roots = np.sort(roots[np.isreal(roots)].real)
    roots = roots[(roots > 0) & (roots < 1)]
    assert roots.size == 3  # stable, unstable, stable
    sol = _solve(se, 1.0, 1e-10)
    stable = roots[[0, 2]]
    best = stable[int(np.argmax([se.potential(r) for r in stable]))]
    assert sol.fixed_points == 2 and sol.converged
    assert sol.q_amp == pytest.approx(stable[0], rel=1e-9)
    assert sol.q == pytest.approx(best, rel=1e-9)
    gap = _potential_gap(se, 1.0, stable[0], stable[1])
    assert gap == pytest.approx(se.potential(stable[1]) - se.potential(stable[0]), rel=1e-8)


class _LinearMap:
    """A state evolution reduced to what `_root` reads: F(q) = q0 + (1 - s)(q - q0) (so 1 - F'(q) = s) and a channel
    side whose two quadrature rules differ by `delta` (dq_prior = 1, alpha = 1: F is uncertain by `delta`)."""

    rho_lin, q_top, q0 = 1.0, 1.0 - 1e-12, 0.3

    def __init__(self, s, delta):
        self.s, self.delta = s, delta

    def F(self, q, alpha):
        return self.q0 + (1.0 - self.s) * (q - self.q0)

    def G(self, q):
        return 0.5

    def G_check(self, q):
        return 0.5 + self.delta

    def dq_prior(self, h):
        return 1.0


@pytest.mark.parametrize("s", [1e-1, 1e-3, 1e-5])
def test_root_certificate_bounds_the_shift_of_a_slow_fixed_point(s):
    """Reference: the fixed point of F + delta is q0 + delta/s (closed form). `_root`'s error estimate must cover
    that shift however small 1 - F'(q) = s is (it used to divide by max(s, 1e-3) and understated it 100x at
    s = 1e-5)."""
    delta = 1e-12
    q, _, error = _root(_LinearMap(s, delta), 1.0, 0.1, 0.5, 1e-10)
    assert q == pytest.approx(0.3, rel=1e-9)
    shift = delta / s / 0.3  # relative to scale(q) = min(q, rho_lin - q)
    assert shift <= error <= 10 * shift + 1e-9


def test_a_marginal_fixed_point_is_not_certified():
    """At 1 - F'(q) = 1e-15 (rounding level, as at a spinodal) the position of the fixed point cannot be certified:
    the error estimate is infinite, and a solve would end `stalled` with a message that says why."""
    _, _, error = _root(_LinearMap(1e-15, 1e-14), 1.0, 0.1, 0.5, 1e-10)
    assert error == np.inf


# ------------------------------------------------------------------------------------------ ERM never beats Bayes
@st.composite
def averaged_spectra(draw):
    p = draw(st.integers(5, 40))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.05, 3.0, p)
    gamma = draw(st.floats(0.3, 3.0))
    t = rng.uniform(0.0, 1.0, p) * s * draw(st.floats(0.1, 2.0))
    rho_lin = float(np.sum(t / s)) / (gamma * p)
    rho = rho_lin * (1.0 + draw(st.floats(0.0, 1.0)))
    return Spectrum.from_arrays(s, t, rho=rho, gamma=gamma, teacher="averaged")


def _optimum_or_best_bound(optimise, solve_at, bounds):
    """``optimise()``, or the better of the two bounds when the optimum sits on one (only that ValueError: any
    other error, a bad argument or a failed solve, propagates and fails the test)."""
    try:
        return optimise()
    except ValueError as exc:
        if "sits on a bound" not in str(exc):
            raise
    return min((solve_at(lam) for lam in bounds), key=lambda s: s.test_error)


def test_optimum_or_best_bound_swallows_only_the_bound_error():
    """The helper above falls back only for optimal_lambda's "sits on a bound" error (reference: its message);
    a ValueError of a bad argument still fails."""
    spec = Spectrum.isotropic(20)
    with pytest.raises(ValueError, match="bounds must satisfy"):
        _optimum_or_best_bound(lambda: optimal_lambda(spec, Loss.square(), Channel.linear(0.0), 1.0,
                                                      bounds=(1.0, 0.1)), None, (1.0, 0.1))
    sol = _optimum_or_best_bound(lambda: optimal_lambda(spec, Loss.square(), Channel.linear(0.0), 2.0,
                                                        bounds=(1e-3, 1e-1), grid=3),
                                 lambda lam: solve_square(spec, Channel.linear(0.0), 2.0, lam), (1e-3, 1e-1))
    assert sol.lam == pytest.approx(1e-3)  # noiseless ridge: the smallest lam is best


@given(spec=averaged_spectra(), alpha=st.floats(0.2, 4.0), noise=st.floats(0.0, 1.0))
@settings(max_examples=15)
def test_ridge_never_beats_bayes(spec, alpha, noise):
    """Ridge at its optimal lam (replica theory, independent solver) has test error >= the Bayes MMSE, on random
    averaged spectra with effective and label noise (the Bayes error is a lower bound on every estimator)."""
    ch = Channel.linear(noise)
    bayes = bayes_optimal(spec, ch, alpha)
    # the optimum may sit on a bound (e.g. lam -> 0 for noiseless data): then check the bounds themselves
    ridge = _optimum_or_best_bound(lambda: optimal_lambda(spec, Loss.square(), ch, alpha, bounds=(1e-8, 1e4)),
                                   lambda lam: solve_square(spec, ch, alpha, lam), (1e-8, 1e4))
    assert ridge.test_error >= bayes.test_error * (1 - 1e-7)


@given(spec=averaged_spectra(), alpha=st.floats(0.5, 3.0))
@settings(max_examples=4)
def test_logistic_never_beats_bayes(spec, alpha):
    """Logistic regression at its optimal lam on a probit teacher: 0/1 test error >= the Bayes-optimal one."""
    ch = Channel.probit(0.1)
    bayes = bayes_optimal(spec, ch, alpha)
    erm = _optimum_or_best_bound(
        lambda: optimal_lambda(spec, Loss.logistic(), ch, alpha, bounds=(1e-4, 1e3), grid=9, xatol=1e-2),
        lambda lam: solve(spec, Loss.logistic(), ch, alpha, lam), (1e-4, 1e3))
    assert erm.test_error >= bayes.test_error * (1 - 1e-7)


# ------------------------------------------------------------------------------------------ API
def test_fixed_teacher_is_refused():
    """A fixed-teacher spectrum has no Bayes prior: a ValueError that says how to build an averaged one."""
    spec = Spectrum.from_covariances(omega=np.eye(3), phi=np.eye(3), psi=np.eye(3), theta=np.ones(3))
    with pytest.raises(ValueError, match="averaged"):
        bayes_optimal(spec, Channel.sign(), 1.0)


@pytest.mark.parametrize("args,exc,match", [
    (("spec", Channel.sign(), 0.0), ValueError, "alpha"),
    (("spec", Channel.sign(), -1.0), ValueError, "alpha"),
    (("spec", "sign", 1.0), TypeError, "channel"),
    ((np.ones(3), Channel.sign(), 1.0), TypeError, "spectrum"),
    (("spec", Channel.sign(), True), TypeError, "alpha"),
])
def test_bad_arguments(args, exc, match):
    """Bad input raises the right error naming the argument."""
    args = tuple(Spectrum.isotropic(5) if isinstance(a, str) and a == "spec" else a for a in args)
    with pytest.raises(exc, match=match):
        bayes_optimal(*args)


def test_solution_is_frozen_and_serialisable():
    """BayesSolution: frozen dataclass with to_dict; the status fields agree."""
    sol = bayes_optimal(Spectrum.isotropic(5), Channel.sign(), 1.0)
    d = sol.to_dict()
    assert d["status"] == "converged" and d["converged"] and d["prior"] == "commuting" and d["fixed_points"] == 1
    assert d["residual"] < 1e-8 and d["error_estimate"] < 1e-8
    with pytest.raises(AttributeError):
        sol.q = 0.0


def test_non_convergence_is_a_status():
    """A tolerance the quadrature cannot certify gives status 'stalled' (strict=False) or ConvergenceError, never a
    silently reported number."""
    spec = Spectrum.isotropic(5)
    sol = bayes_optimal(spec, Channel.sign(), 1e5, tol=1e-12, strict=False)
    assert sol.status == "stalled" and not sol.converged
    with pytest.raises(ConvergenceError):
        bayes_optimal(spec, Channel.sign(), 1e5, tol=1e-12)


def test_curve_plots_beside_erm(tmp_path):
    """bayes_optimal_curve returns a BayesCurve (points as bayes_optimal, CSV, to_dict); Curve.plot(bayes=...) and
    BayesCurve.plot(ax=...) draw both on one axis; logistic ERM lies above the bound."""
    import matplotlib

    matplotlib.use("Agg")
    spec = Spectrum.isotropic(30)
    alphas = [0.5, 2.0]
    bo = bayes_optimal_curve(spec, Channel.sign(), alphas)
    assert isinstance(bo, BayesCurve) and bo.all_converged and len(bo) == 2
    for a, e in zip(alphas, bo.test_error, strict=True):
        assert e == bayes_optimal(spec, Channel.sign(), a).test_error
    erm = learning_curve(spec, Loss.logistic(), Channel.sign(), alphas, lam=0.1)
    assert np.all(erm.test_error > bo.test_error)
    ax = erm.plot(bayes=bo)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "test error (Bayes-optimal)" in labels and "test error (theory)" in labels
    bo.to_csv(tmp_path / "bo.csv")
    rows = list(csv.DictReader(open(tmp_path / "bo.csv")))  # a plain header row, floats that round-trip
    assert [float(r["test_error"]) for r in rows] == list(bo.test_error) and rows[0]["channel"] == bo.channel
    assert json.loads((tmp_path / "bo.csv-metadata.json").read_text())["metadata"]["converged"] == 2
    table = bo.to_dict()  # flat: every array one entry per point
    assert {np.shape(v) for v in table.values() if not isinstance(v, str)} == {(2,)}
    with pytest.raises(ValueError, match="alpha"):
        erm.plot(x="lam", bayes=bo)
