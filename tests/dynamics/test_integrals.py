"""Gaussian integrals I2, I3, I4 (theory §4.3) and eps_g (theory §4.5) against mpmath and Monte Carlo."""

import itertools

import mpmath as mp
import numpy as np
import pytest

from dynamics import generalisation_error
from dynamics.integrals import get_activation

ERF = get_activation("erf")
LIN = get_activation("linear")


def random_cov(L, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((L, L + 2))
    return X @ X.T / (L + 2) + 0.1 * np.eye(L)


# --- independent references --------------------------------------------------------------------------
# g(z) = erf(z/sqrt 2) = 2 Phi(z) - 1, so for z ~ N(m, s2):  E g(z) = erf(m / sqrt(2 (1 + s2)))  and
# E g'(z) = sqrt(2/pi) exp(-m^2 / (2 (1 + s2))) / sqrt(1 + s2)  (Gaussian convolution of the probit).
# Conditioning on z_a reduces I2 and I3 to one-dimensional integrals, done by mpmath.quad.


def _cond(C, a, b):
    """Mean coefficient and conditional variance of z_b given z_a."""
    return C[a, b] / C[a, a], C[b, b] - C[a, b] ** 2 / C[a, a]


def _Eg(m, s2):
    return mp.erf(m / mp.sqrt(2 * (1 + s2)))


def _Edg(m, s2):
    return mp.sqrt(2 / mp.pi) * mp.exp(-m * m / (2 * (1 + s2))) / mp.sqrt(1 + s2)


def _gauss_1d(f, var):
    sd = mp.sqrt(var)
    return mp.quad(lambda x: f(sd * x) * mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi), [-mp.inf, 0, mp.inf])


def i2_mpmath(C, a, b):
    kb, vb = _cond(C, a, b)
    return float(_gauss_1d(lambda za: mp.erf(za / mp.sqrt(2)) * _Eg(kb * za, vb), C[a, a]))


def i3_mpmath(C, a, b, c):
    """E[g'(z_a) z_b g(z_c)]: given z_a, E[z_b g(z_c)] = m_b E g(z_c) + Cov(z_b, z_c | z_a) E g'(z_c)."""
    kb, _ = _cond(C, a, b)
    kc, vc = _cond(C, a, c)
    cov_bc = C[b, c] - C[a, b] * C[a, c] / C[a, a]

    def f(za):
        mc = kc * za
        inner = kb * za * _Eg(mc, vc) + cov_bc * _Edg(mc, vc)
        return mp.sqrt(2 / mp.pi) * mp.exp(-za * za / 2) * inner

    return float(_gauss_1d(f, C[a, a]))


def monte_carlo(C, fn, n, seed):
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal(np.zeros(C.shape[0]), C, size=n, method="eigh")
    vals = fn(z)
    return vals.mean(), vals.std(ddof=1) / np.sqrt(n)


# --- tests -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_i2_erf_against_mpmath(seed):
    """I2 closed form (theory §4.3) equals a 1-d mpmath quadrature (probit convolution), repeated indices too."""
    C = random_cov(4, seed)
    for a, b in [(0, 1), (0, 3), (2, 2), (3, 1)]:
        assert ERF.i2(C, a, b) == pytest.approx(i2_mpmath(C, a, b), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_i3_erf_against_mpmath(seed):
    """I3 closed form (theory §4.3) equals mpmath quadrature after conditioning on z_a, for distinct and
    repeated indices (k,k,j), (k,j,j), (k,k,k) and (k,n,n)."""
    C = random_cov(4, seed)
    tuples = [(0, 1, 2), (0, 0, 1), (0, 1, 1), (0, 0, 0), (1, 3, 3), (1, 2, 0), (2, 1, 2)]
    for a, b, c in tuples:
        assert ERF.i3(C, a, b, c) == pytest.approx(i3_mpmath(C, a, b, c), rel=1e-10, abs=1e-12), (a, b, c)
    # vectorised call equals the scalar calls
    a, b, c = (np.array(x) for x in zip(*tuples, strict=True))
    np.testing.assert_allclose(ERF.i3(C, a, b, c), [ERF.i3(C, *t) for t in tuples], rtol=1e-14)


def test_i4_erf_against_monte_carlo():
    """I4 closed form (theory §4.3) within 5 standard errors of a 4e6-sample Monte Carlo, all repetition
    patterns; the standard errors are about 2e-4, far below the size of the integrals."""
    C = random_cov(4, 7)
    g, dg = ERF.g, ERF.dg
    tuples = [(0, 1, 2, 3), (0, 0, 1, 1), (0, 1, 0, 1), (0, 0, 0, 0), (0, 1, 2, 2), (1, 1, 3, 2), (0, 1, 3, 3)]
    rng = np.random.default_rng(11)
    z = rng.multivariate_normal(np.zeros(4), C, size=4_000_000, method="eigh")
    gz, dgz = g(z), dg(z)
    for a, b, c, d in tuples:
        vals = dgz[:, a] * dgz[:, b] * gz[:, c] * gz[:, d]
        mean, sem = vals.mean(), vals.std(ddof=1) / np.sqrt(vals.size)
        assert abs(ERF.i4(C, a, b, c, d) - mean) < 5 * sem, (a, b, c, d, ERF.i4(C, a, b, c, d), mean, sem)


def test_i3_erf_against_monte_carlo_all_patterns():
    """I3 over every index tuple of a 3x3 covariance against Monte Carlo (1e6 samples, 5 standard errors)."""
    C = random_cov(3, 3)
    rng = np.random.default_rng(5)
    z = rng.multivariate_normal(np.zeros(3), C, size=1_000_000, method="eigh")
    gz, dgz = ERF.g(z), ERF.dg(z)
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


@pytest.mark.parametrize("activation", ["erf", "linear"])
def test_eps_g_against_monte_carlo(activation):
    """eps_g = 1/2 E(yhat - y)^2 (theory §4.5, with the 1/2) against Monte Carlo on Gaussian fields with
    covariance [[Q, R], [R^T, T]] (2e6 samples, 5 standard errors)."""
    K, M = 3, 2
    C = random_cov(K + M, 21)
    Q, R, T = C[:K, :K], C[:K, K:], C[K:, K:]
    rng = np.random.default_rng(4)
    v, A = rng.standard_normal(K), np.array([1.0, 0.7])
    g = get_activation(activation).g
    mean, sem = monte_carlo(C, lambda z: 0.5 * (g(z[:, :K]) @ v - g(z[:, K:]) @ A) ** 2, 2_000_000, 9)
    value = generalisation_error(Q, R, T, v, A, activation)
    assert abs(value - mean) < 5 * sem, (value, mean, sem)


def test_eps_g_zero_for_student_equal_to_teacher():
    """Closed form: a student identical to the teacher (Q = R = T, v = A) has eps_g = 0."""
    C = random_cov(2, 1)
    assert generalisation_error(C, C, C, [1.0, 0.5], [1.0, 0.5]) == pytest.approx(0.0, abs=1e-15)


def test_non_psd_covariance_raises():
    """An impossible covariance (|correlation| > 1) must raise, never return a number."""
    C = np.array([[1.0, 3.0], [3.0, 1.0]])
    with pytest.raises(FloatingPointError, match="positive semi-definite"):
        ERF.i2(C, 0, 1)


def test_unknown_activation():
    """Unknown names and non-strings are refused with the list of choices."""
    with pytest.raises(ValueError, match="erf"):
        get_activation("relu")
    with pytest.raises(TypeError):
        get_activation(3)
