"""Channel quadratures against 30-digit mpmath integrals of the sympy closed forms of Z0 (theory §2.2-2.4)."""

import mpmath
import numpy as np
import pytest
import sympy as sp

from replica import Channel
from replica._symbolic import OMEGA_STAR as _W
from replica._symbolic import V_STAR as _VP
from replica._symbolic import Y

OVERLAPS = [(1.0, 0.5, 0.3), (1.0, 2.0, 1.4), (1.0, 1.0, 0.999), (0.7, 3.0, 0.2), (2.0, 0.1, -0.2), (1.0, 6.0, 2.2)]
CHANNELS = [Channel.sign(), Channel.sign(flip=0.1), Channel.probit(0.3)]


def _f(y, w):
    """A smooth test function standing in for f_g, f_g^2 or r."""
    if isinstance(w, mpmath.mpf):
        return mpmath.tanh(w + mpmath.mpf(3) / 10 * y) + mpmath.mpf(1) / 5 * w * w
    return np.tanh(w + 0.3 * y) + 0.2 * w * w


def _mpmath_expectations(ch, rho, q, m):
    """E_xi sum_y Z0 F and E_xi sum_y dZ0 F by mpmath quadrature (30 digits) of the closed forms."""
    with mpmath.workdps(30):
        rho, q, m = mpmath.mpf(rho), mpmath.mpf(q), mpmath.mpf(m)
        vs = rho - m * m / q
        sq = mpmath.sqrt(q)
        if isinstance(ch.Z0(), sp.Integral):
            p0 = sp.lambdify((Y, sp.Symbol("z")), ch.expr, "mpmath")
            dp0 = sp.lambdify((Y, sp.Symbol("z")), sp.diff(ch.expr, sp.Symbol("z")), "mpmath")

            def z0(y, w, v):
                return mpmath.quad(lambda t: mpmath.npdf(t) * p0(y, w + mpmath.sqrt(v) * t), [-mpmath.inf, mpmath.inf])

            def dz0(y, w, v):
                return mpmath.quad(lambda t: mpmath.npdf(t) * dp0(y, w + mpmath.sqrt(v) * t),
                                   [-mpmath.inf, mpmath.inf])
        else:
            z0 = sp.lambdify((Y, _W, _VP), ch.Z0(), "mpmath")
            dz0 = sp.lambdify((Y, _W, _VP), ch.dZ0(), "mpmath")
        tot, totd = mpmath.mpf(0), mpmath.mpf(0)
        if ch.labels is None:
            raise NotImplementedError("continuous labels: see _scipy_expectations")
        for y in ch.labels:
            y = mpmath.mpf(y)
            tot += mpmath.quad(lambda xi, y=y: mpmath.npdf(xi) * z0(y, m / sq * xi, vs) * _f(y, sq * xi),
                               [-mpmath.inf, 0, mpmath.inf])
            totd += mpmath.quad(lambda xi, y=y: mpmath.npdf(xi) * dz0(y, m / sq * xi, vs) * _f(y, sq * xi),
                                [-mpmath.inf, 0, mpmath.inf])
        return float(tot), float(totd)


CASES = [(ch, *ov) for ch in CHANNELS[:3] for ov in OVERLAPS]


@pytest.mark.parametrize("channel,rho,q,m", CASES, ids=lambda v: getattr(v, "name", str(v)))
def test_measure_matches_mpmath(channel, rho, q, m):
    """Reference: mpmath (30 digits) of E_xi sum_y Z0 F and E_xi sum_y dZ0/domega* F with the closed-form
    Z0 (custom likelihood: Z0 by an inner mpmath integral). The default rules agree to 1e-10."""
    meas = channel.measure(rho, q, m)
    vals = _f(meas.y, meas.omega)
    ref, ref_d = _mpmath_expectations(channel, rho, q, m)
    assert meas.expect(vals) == pytest.approx(ref, abs=1e-10)
    assert meas.expect_d(vals) == pytest.approx(ref_d, abs=1e-10)


def test_sign_rule_stays_accurate_as_vstar_vanishes():
    """Reference: mpmath. With m^2/(rho q) = 1 - 1e-8 the Z0 step is sharp in xi; the half-line rule keeps 1e-10."""
    rho, q = 1.0, 1.0
    m = np.sqrt(1 - 1e-8)
    meas = Channel.sign().measure(rho, q, m)
    ref, ref_d = _mpmath_expectations(Channel.sign(), rho, q, m)
    vals = _f(meas.y, meas.omega)
    assert meas.expect(vals) == pytest.approx(ref, abs=1e-10)
    assert meas.expect_d(vals) == pytest.approx(ref_d, abs=1e-10)


@pytest.mark.parametrize("channel", [Channel.sign(), Channel.sign(flip=0.2), Channel.probit(0.5), Channel.logit(1.5),
                                     Channel.from_likelihood("1/(1 + exp(-2*y*z))")], ids=lambda c: c.name)
@pytest.mark.parametrize("c", [{-1.0: 0.0, 1.0: 0.0}, {-1.0: 0.7, 1.0: -0.7}, {-1.0: -0.3, 1.0: 0.3}])
def test_wrong_side_probability_matches_mpmath(channel, c):
    """Reference: mpmath (closed-form Z0) or nested scipy quad (custom likelihood) of
    sum_y int phi(xi) Z0(y, omega*, V*) 1{y (sqrt(q) xi - c_y) < 0} d xi."""
    rho, q, m = 1.0, 1.5, 0.8
    if isinstance(channel.Z0(), sp.Integral):  # custom likelihood: nested scipy quad (mpmath is too slow)
        from scipy import integrate

        p0 = sp.lambdify((Y, sp.Symbol("z")), channel.expr, "numpy")
        vs = rho - m * m / q
        ref = 0.0
        for y in (-1.0, 1.0):
            def inner(xi, y=y):
                return integrate.quad(lambda t: np.exp(-t * t / 2) / np.sqrt(2 * np.pi)
                                      * p0(y, m / np.sqrt(q) * xi + np.sqrt(vs) * t), -np.inf, np.inf,
                                      epsabs=1e-14)[0] * np.exp(-xi * xi / 2) / np.sqrt(2 * np.pi)
            cut = c[y] / np.sqrt(q)
            lims = (-np.inf, cut) if y > 0 else (cut, np.inf)
            ref += integrate.quad(inner, *lims, epsabs=1e-13)[0]
        assert channel.wrong_side(rho, q, m, c) == pytest.approx(ref, abs=1e-9)
        return
    with mpmath.workdps(20):
        if True:
            z0 = sp.lambdify((Y, _W, _VP), channel.Z0(), "mpmath")
        vs = rho - m * m / q
        ref = 0.0
        for y in (-1.0, 1.0):
            cut = c[y] / np.sqrt(q)
            lims = [-mpmath.inf, cut] if y > 0 else [cut, mpmath.inf]
            ref += float(mpmath.quad(lambda xi, y=y: mpmath.npdf(xi) * z0(y, m / np.sqrt(q) * xi, vs), lims))
    assert channel.wrong_side(rho, q, m, c) == pytest.approx(ref, abs=1e-9)


def test_noisy_test_errors_closed_forms():
    """Reference: probit arccos(m/sqrt((rho + Delta) q))/pi and flips eps + (1 - 2 eps) eps_g (theory §2.4);
    the sign family's closed form also equals its generic wrong-side probability with c = 0."""
    rho, q, m = 1.0, 2.0, 1.1
    eg = np.arccos(m / np.sqrt(rho * q)) / np.pi
    assert Channel.sign(flip=0.1).test_error_noisy(rho, q, m) == pytest.approx(0.1 + 0.8 * eg, rel=1e-14)
    pr = Channel.probit(0.5)
    assert pr.test_error_noisy(rho, q, m) == pytest.approx(np.arccos(m / np.sqrt(1.5 * q)) / np.pi, rel=1e-14)
    for ch in (Channel.sign(flip=0.1), pr):
        assert ch.wrong_side(rho, q, m, {-1.0: 0.0, 1.0: 0.0}) == pytest.approx(ch.test_error_noisy(rho, q, m),
                                                                                 abs=1e-11)


def test_moments_match_quadrature():
    """E[y^2] and E[y nu]/rho of each channel (closed forms of theory §2.5) against its own measure."""
    rho = 1.3
    for ch in (Channel.sign(), Channel.sign(flip=0.15), Channel.probit(0.4), Channel.linear(0.2), Channel.logit(0.7),
               Channel.from_likelihood("1/(1 + exp(-y*z))")):
        ey2, kappa = ch.moments(rho)
        meas = ch.measure(rho, 1.0, 0.5)
        assert meas.expect(meas.y**2) == pytest.approx(ey2, rel=1e-10)
        # E[dP0/dnu * y] = E[y nu]/rho by Stein's lemma
        assert meas.expect_d(meas.y) == pytest.approx(kappa, rel=1e-9)


@pytest.mark.parametrize("bad", [dict(noise=-1.0), dict(noise=float("nan"))])
def test_bad_channel_parameters(bad):
    """Negative or NaN noise variances are refused with the argument named."""
    with pytest.raises(ValueError, match="noise"):
        Channel.linear(**bad)


def test_bad_channel_inputs():
    """Flip >= 1/2, probit without noise, unknown names, unparsable or improper likelihoods are refused."""
    with pytest.raises(ValueError, match="flip"):
        Channel.sign(flip=0.5)
    with pytest.raises(ValueError, match="noise"):
        Channel.probit(0.0)
    with pytest.raises(ValueError, match="unknown channel"):
        Channel.from_name("gaussian")
    with pytest.raises(ValueError, match="cannot parse"):
        Channel.from_likelihood("1/(1+exp(-y*z)")
    with pytest.raises(ValueError, match="not a probability"):
        Channel.from_likelihood("exp(-y*z)")
    with pytest.raises(ValueError, match="unknown symbols"):
        Channel.from_likelihood("1/(1+exp(-a*y*z))")
    with pytest.raises(ValueError, match="m\\^2 < rho q"):
        Channel.sign().measure(1.0, 1.0, 1.0)


@pytest.mark.parametrize("rho,q,m", [(1.0, 0.5, 0.3), (1.0, 2.0, 1.2), (0.7, 3.0, 0.2)])
@pytest.mark.parametrize("noise", [0.0, 0.4])
def test_linear_measure_matches_adaptive_quadrature(noise, rho, q, m):
    """Reference: scipy dblquad (adaptive) over (xi, y) of phi(xi) Z0(y) F and dZ0/domega* F, closed-form Z0."""
    from scipy import integrate

    ch = Channel.linear(noise)
    vs = rho - m * m / q + noise
    z0 = sp.lambdify((Y, _W, _VP), ch.Z0(), "numpy")
    dz0 = sp.lambdify((Y, _W, _VP), ch.dZ0(), "numpy")
    vstar = rho - m * m / q

    def integrand(fun):
        def g(y, xi):
            gauss = np.exp(-xi * xi / 2) / np.sqrt(2 * np.pi)
            return gauss * fun(y, m / np.sqrt(q) * xi, vstar) * _f(y, np.sqrt(q) * xi)
        return g

    refs = []
    for fun in (z0, dz0):
        refs.append(integrate.dblquad(integrand(fun), -12, 12, lambda xi: m / np.sqrt(q) * xi - 12 * np.sqrt(vs),
                                      lambda xi: m / np.sqrt(q) * xi + 12 * np.sqrt(vs), epsabs=1e-13, epsrel=1e-12)[0])
    meas = ch.measure(rho, q, m)
    vals = _f(meas.y, meas.omega)
    assert meas.expect(vals) == pytest.approx(refs[0], abs=1e-10)
    assert meas.expect_d(vals) == pytest.approx(refs[1], abs=1e-10)


@pytest.mark.parametrize("rho,q,m", [(1.0, 0.5, 0.3), (1.0, 2.0, 1.4), (0.7, 3.0, 0.2)])
def test_likelihood_measure_matches_adaptive_quadrature(rho, q, m):
    """Reference: scipy dblquad (adaptive) over (xi, nu) of phi(xi) N(nu; omega*, V*) P0(y|nu) F and of
    dP0/dnu F, for a steep logit likelihood; the default 2-d Gauss-Hermite rule agrees to 1e-10."""
    from scipy import integrate

    beta = 3.0
    ch = Channel.from_likelihood(f"1/(1 + exp(-{beta}*y*z))")
    vs = rho - m * m / q

    def p0(y, nu):
        return 1.0 / (1.0 + np.exp(-beta * y * nu))

    def dp0(y, nu):
        return beta * y * p0(y, nu) * (1.0 - p0(y, nu))

    refs = [0.0, 0.0]
    for y in (-1.0, 1.0):
        for i, fun in enumerate((p0, dp0)):
            def g(zeta, xi, fun=fun, y=y):
                nu = m / np.sqrt(q) * xi + np.sqrt(vs) * zeta
                dens = np.exp(-(xi * xi + zeta * zeta) / 2) / (2 * np.pi)
                return dens * fun(y, nu) * _f(y, np.sqrt(q) * xi)
            refs[i] += integrate.dblquad(g, -12, 12, -12, 12, epsabs=1e-13, epsrel=1e-12)[0]
    meas = ch.measure(rho, q, m)
    vals = _f(meas.y, meas.omega)
    assert meas.expect(vals) == pytest.approx(refs[0], abs=1e-10)
    assert meas.expect_d(vals) == pytest.approx(refs[1], abs=1e-10)


@pytest.mark.parametrize("beta", [0.3, 2.0, 40.0])
def test_logit_closed_forms_match_adaptive_quadrature(beta):
    """Reference: scipy quad (adaptive, split at 0) of E[y nu]/rho = E[nu tanh(beta nu/2)]/rho and of the noisy
    test error P(y != sign h) = 2 int phi_rho(nu) expit(-beta nu) Phi(m nu/(rho b)) dnu, b^2 = q - m^2/rho; the
    library uses the probit-mixture closed forms (and, for the generic wrong-side probability, its measure)."""
    from scipy import integrate, special

    ch = Channel.logit(beta)
    rho, q, m = 1.3, 0.9, 0.7
    dens = lambda nu: np.exp(-nu * nu / (2 * rho)) / np.sqrt(2 * np.pi * rho)  # noqa: E731
    kw = dict(points=[0.0], epsabs=1e-15, epsrel=1e-13, limit=500)
    lim = 12 * np.sqrt(rho)
    kappa = integrate.quad(lambda nu: dens(nu) * nu * np.tanh(beta * nu / 2), -lim, lim, **kw)[0] / rho
    assert ch.moments(rho) == pytest.approx((1.0, kappa), rel=1e-12)
    b = np.sqrt(q - m * m / rho)
    noisy = 2 * integrate.quad(lambda nu: dens(nu) * special.expit(-beta * nu) * special.ndtr(m * nu / (rho * b)),
                               -lim, lim, **kw)[0]
    assert ch.test_error_noisy(rho, q, m) == pytest.approx(noisy, rel=1e-12)
    assert ch.wrong_side(rho, q, m, {-1.0: 0.0, 1.0: 0.0}) == pytest.approx(noisy, rel=1e-12)
    assert ch.test_error(rho, q, m) == pytest.approx(np.arccos(m / np.sqrt(rho * q)) / np.pi, rel=1e-14)


def test_logit_by_name_and_bad_beta():
    """Channel.from_name knows logit; beta must be a finite number > 0 (argument named)."""
    assert Channel.from_name("logit", beta=2.0).likelihood(1.0, 0.0) == 0.5
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="beta"):
            Channel.logit(bad)
    with pytest.raises(TypeError, match="beta"):
        Channel.logit("2")
