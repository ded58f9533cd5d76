"""Gaussian integrals I2, I3, I4 (theory §4.3) and eps_g (theory §4.5) against mpmath and Monte Carlo."""

import itertools

import mpmath as mp
import numpy as np
import pytest
from scipy.special import erf

from dynamics import generalisation_error
from dynamics.integrals import CLOSED_FORMS, ODE_ACTIVATIONS, gaussian_integrals
from spectra.activations import ACTIVATIONS

ERF = gaussian_integrals("erf_sqrt2")
LIN = gaussian_integrals("linear")
#: g(z) = erf(a z) for the two erf units: a = 1/sqrt 2 ("erf_sqrt2") and a = 1 ("erf").
ERF_SCALE = {"erf_sqrt2": 1 / np.sqrt(2), "erf": 1.0}


def random_cov(L, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((L, L + 2))
    return X @ X.T / (L + 2) + 0.1 * np.eye(L)


# --- independent references --------------------------------------------------------------------------
# g(z) = erf(a z), written here with scipy/mpmath (not through the registry). For z ~ N(m, s2), Gaussian
# convolution gives E g(z) = erf(a m / sqrt(1 + 2 a^2 s2)) and
# E g'(z) = a (2/sqrt pi) exp(-a^2 m^2 / (1 + 2 a^2 s2)) / sqrt(1 + 2 a^2 s2).
# Conditioning on z_a reduces I2 and I3 to one-dimensional integrals, done by mpmath.quad.


def _cond(C, a, b):
    """Mean coefficient and conditional variance of z_b given z_a."""
    return C[a, b] / C[a, a], C[b, b] - C[a, b] ** 2 / C[a, a]


def _Eg(m, s2, k):
    return mp.erf(k * m / mp.sqrt(1 + 2 * k * k * s2))


def _Edg(m, s2, k):
    d = 1 + 2 * k * k * s2
    return k * 2 / mp.sqrt(mp.pi) * mp.exp(-k * k * m * m / d) / mp.sqrt(d)


def _gauss_1d(f, var):
    sd = mp.sqrt(var)
    return mp.quad(lambda x: f(sd * x) * mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi), [-mp.inf, 0, mp.inf])


def i2_mpmath(C, a, b, k):
    kb, vb = _cond(C, a, b)
    return float(_gauss_1d(lambda za: mp.erf(k * za) * _Eg(kb * za, vb, k), C[a, a]))


def i3_mpmath(C, a, b, c, k):
    """E[g'(z_a) z_b g(z_c)]: given z_a, E[z_b g(z_c)] = m_b E g(z_c) + Cov(z_b, z_c | z_a) E g'(z_c)."""
    kb, _ = _cond(C, a, b)
    kc, vc = _cond(C, a, c)
    cov_bc = C[b, c] - C[a, b] * C[a, c] / C[a, a]

    def f(za):
        mc = kc * za
        inner = kb * za * _Eg(mc, vc, k) + cov_bc * _Edg(mc, vc, k)
        return k * 2 / mp.sqrt(mp.pi) * mp.exp(-k * k * za * za) * inner

    return float(_gauss_1d(f, C[a, a]))


def erf_g(z, k):
    return erf(k * z)


def erf_dg(z, k):
    return k * 2 / np.sqrt(np.pi) * np.exp(-k * k * z * z)


def monte_carlo(C, fn, n, seed):
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal(np.zeros(C.shape[0]), C, size=n, method="eigh")
    vals = fn(z)
    return vals.mean(), vals.std(ddof=1) / np.sqrt(n)


# --- tests -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["erf_sqrt2", "erf"])
@pytest.mark.parametrize("seed", [0, 1])
def test_i2_erf_against_mpmath(seed, activation):
    """I2 closed form (theory §4.3; for erf(z) by the rescaling C -> 2C of the module docstring) equals a 1-d
    mpmath quadrature (probit convolution of erf(a z), a = 1/sqrt 2 or 1), repeated indices too."""
    gi, k = gaussian_integrals(activation), mp.mpf(ERF_SCALE[activation])
    C = random_cov(4, seed)
    for a, b in [(0, 1), (0, 3), (2, 2), (3, 1)]:
        assert gi.i2(C, a, b) == pytest.approx(i2_mpmath(C, a, b, k), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("activation", ["erf_sqrt2", "erf"])
@pytest.mark.parametrize("seed", [0, 1])
def test_i3_erf_against_mpmath(seed, activation):
    """I3 closed form (theory §4.3; erf(z) by rescaling) equals mpmath quadrature after conditioning on z_a,
    for distinct and repeated indices (k,k,j), (k,j,j), (k,k,k) and (k,n,n)."""
    gi, k = gaussian_integrals(activation), mp.mpf(ERF_SCALE[activation])
    C = random_cov(4, seed)
    tuples = [(0, 1, 2), (0, 0, 1), (0, 1, 1), (0, 0, 0), (1, 3, 3), (1, 2, 0), (2, 1, 2)]
    for a, b, c in tuples:
        assert gi.i3(C, a, b, c) == pytest.approx(i3_mpmath(C, a, b, c, k), rel=1e-10, abs=1e-12), (a, b, c)
    # vectorised call equals the scalar calls
    a, b, c = (np.array(x) for x in zip(*tuples, strict=True))
    np.testing.assert_allclose(gi.i3(C, a, b, c), [gi.i3(C, *t) for t in tuples], rtol=1e-14)


@pytest.mark.parametrize("activation", ["erf_sqrt2", "erf"])
def test_i4_erf_against_monte_carlo(activation):
    """I4 closed form (theory §4.3; erf(z) by rescaling, with its factor c^2 = 2) within 5 standard errors of
    a 3e6-sample Monte Carlo of g = erf(a z) written with scipy, all repetition patterns; the standard errors
    are about 3e-4, far below the size of the integrals (and of the factor-2 error a missing c^2 would be)."""
    gi, k = gaussian_integrals(activation), ERF_SCALE[activation]
    C = random_cov(4, 7)
    tuples = [(0, 1, 2, 3), (0, 0, 1, 1), (0, 1, 0, 1), (0, 0, 0, 0), (0, 1, 2, 2), (1, 1, 3, 2), (0, 1, 3, 3)]
    rng = np.random.default_rng(11)
    z = rng.multivariate_normal(np.zeros(4), C, size=3_000_000, method="eigh")
    gz, dgz = erf_g(z, k), erf_dg(z, k)
    for a, b, c, d in tuples:
        vals = dgz[:, a] * dgz[:, b] * gz[:, c] * gz[:, d]
        mean, sem = vals.mean(), vals.std(ddof=1) / np.sqrt(vals.size)
        value = gi.i4(C, a, b, c, d)
        assert abs(value - mean) < 5 * sem, (a, b, c, d, value, mean, sem)
        assert abs(value) > 20 * sem  # the comparison can fail: the integrals are resolved


def test_i3_erf_against_monte_carlo_all_patterns():
    """I3 over every index tuple of a 3x3 covariance against Monte Carlo (1e6 samples, 5 standard errors)."""
    C = random_cov(3, 3)
    k = ERF_SCALE["erf_sqrt2"]
    rng = np.random.default_rng(5)
    z = rng.multivariate_normal(np.zeros(3), C, size=1_000_000, method="eigh")
    gz, dgz = erf_g(z, k), erf_dg(z, k)
    tuples = list(itertools.product(range(3), repeat=3))
    a, b, c = (np.array(x) for x in zip(*tuples, strict=True))
    closed = ERF.i3(C, a, b, c)
    for (ia, ib, ic), value in zip(tuples, closed, strict=True):
        vals = dgz[:, ia] * z[:, ib] * gz[:, ic]
        sem = vals.std(ddof=1) / np.sqrt(vals.size)
        assert abs(value - vals.mean()) < 5 * sem


def test_linear_integrals_are_covariances():
    """For g(z) = z the integrals are covariance entries (theory §4.3); checked against Monte Carlo."""
    C = random_cov(4, 2)
    mean, sem = monte_carlo(C, lambda z: z[:, 1] * z[:, 2], 400_000, 3)
    assert abs(LIN.i3(C, 0, 1, 2) - mean) < 5 * sem
    assert LIN.i2(C, 0, 3) == C[0, 3]
    assert LIN.i4(C, 0, 1, 2, 3) == C[2, 3]


@pytest.mark.parametrize("activation", ["erf_sqrt2", "erf", "linear"])
def test_eps_g_against_monte_carlo(activation):
    """eps_g = 1/2 E(yhat - y)^2 (theory §4.5, with the 1/2) against Monte Carlo on Gaussian fields with
    covariance [[Q, R], [R^T, T]] (2e6 samples, 5 standard errors); g written with scipy, not the registry."""
    K, M = 3, 2
    C = random_cov(K + M, 21)
    Q, R, T = C[:K, :K], C[:K, K:], C[K:, K:]
    rng = np.random.default_rng(4)
    v, A = rng.standard_normal(K), np.array([1.0, 0.7])
    g = (lambda z: z) if activation == "linear" else (lambda z: erf_g(z, ERF_SCALE[activation]))
    mean, sem = monte_carlo(C, lambda z: 0.5 * (g(z[:, :K]) @ v - g(z[:, K:]) @ A) ** 2, 2_000_000, 9)
    value = generalisation_error(Q, R, T, v, A, activation)
    assert abs(value - mean) < 5 * sem, (value, mean, sem)


def test_registry_functions_and_derivatives():
    """One registry: the dynamics' g and g' are the registry's; 'erf' is erf(z) and 'erf_sqrt2' is
    erf(z/sqrt 2) (against scipy), and every derivative matches a central finite difference (h = 1e-6,
    error O(h^2) ~ 1e-12)."""
    z = np.linspace(-3, 3, 13)
    np.testing.assert_array_equal(ACTIVATIONS["erf"](z), erf(z))
    np.testing.assert_allclose(ACTIVATIONS["erf_sqrt2"](z), erf(z / np.sqrt(2)), rtol=1e-15, atol=1e-16)
    h = 1e-6
    for name, act in ACTIVATIONS.items():
        if act.derivative is None:
            with pytest.raises(ValueError, match="derivative"):
                act.dg(z)
            continue
        zz = z[np.abs(z) > 0.1]  # away from the kink of relu
        np.testing.assert_allclose(act.dg(zz), (act(zz + h) - act(zz - h)) / (2 * h), rtol=1e-8, atol=1e-9,
                                   err_msg=name)
    for name in ODE_ACTIVATIONS:
        gi = CLOSED_FORMS[name]
        assert gi.activation is ACTIVATIONS[name]
        np.testing.assert_array_equal(gi.g(z), ACTIVATIONS[name](z))


def test_eps_g_zero_for_student_equal_to_teacher():
    """Closed form: a student identical to the teacher (Q = R = T, v = A) has eps_g = 0."""
    C = random_cov(2, 1)
    for activation in ODE_ACTIVATIONS:
        assert generalisation_error(C, C, C, [1.0, 0.5], [1.0, 0.5], activation) == pytest.approx(0.0, abs=1e-15)


def test_non_psd_covariance_raises():
    """An impossible covariance (|correlation| > 1) must raise, never return a number."""
    C = np.array([[1.0, 3.0], [3.0, 1.0]])
    with pytest.raises(FloatingPointError, match="positive semi-definite"):
        ERF.i2(C, 0, 1)


def test_unknown_or_unsupported_activation():
    """Unknown names are refused with every registry name and formula; registry activations without closed
    forms (tanh, relu, sign) are refused with the supported ones; non-strings are a TypeError."""
    with pytest.raises(ValueError, match=r"unknown activation 'erf2'.*'erf_sqrt2' \(erf\(z/sqrt\(2\)\)\)"):
        gaussian_integrals("erf2")
    for name in ("tanh", "relu", "sign"):
        with pytest.raises(ValueError, match=rf"'{name}' .*no closed-form.*'erf_sqrt2'"):
            gaussian_integrals(name)
    with pytest.raises(TypeError):
        gaussian_integrals(3)
