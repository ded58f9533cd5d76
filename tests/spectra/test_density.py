"""spectra.SpectralDensity: the quadratures against closed forms and high-precision sums, the validation of
inputs, and the weights code path of the solver (a discrete spectrum as a density gives the same answer)."""

import math

import mpmath as mp
import numpy as np
import pytest

from replica import Channel, Loss, solve
from spectra import SpectralDensity, Spectrum
from spectra.analytic import kappas
from spectra.density import marchenko_pastur_rule, mode_sum_rule

RATIOS = [0.25, 0.9, 1.0, 1.1, 3.0]


def _narayana_moment(c, k):
    """E[x^k] of Marchenko-Pastur(c) (atom included): the Narayana polynomial sum_j c^j/(j+1) C(k,j) C(k-1,j)."""
    return sum(mp.mpf(c) ** j / (j + 1) * mp.binomial(k, j) * mp.binomial(k - 1, j) for j in range(k))


def _mp_stieltjes(c, z):
    """m(z) = E[1/(x - z)] of Marchenko-Pastur(c): the root of c z m^2 + (z - 1 + c) m + 1 = 0 that is the transform
    of a probability measure (Im m > 0 for Im z > 0; m > 0 for real z < 0), at 30 digits."""
    with mp.workdps(30):
        c, z = mp.mpf(c), mp.mpc(z)
        disc = mp.sqrt((z - 1 + c) ** 2 - 4 * c * z)
        roots = [(-(z - 1 + c) + sgn * disc) / (2 * c * z) for sgn in (1, -1)]
        if mp.im(z) != 0:
            good = [r for r in roots if mp.im(r) * mp.im(z) > 0]
        else:
            good = [r for r in roots if mp.re(r) > 0]
        assert len(good) == 1
        return complex(good[0])


@pytest.mark.parametrize("c", RATIOS)
def test_marchenko_pastur_rule_moments_are_narayana(c):
    """Reference: the closed-form moments of Marchenko-Pastur (Narayana polynomials). A Gauss rule of n nodes is
    exact up to degree 2n - 1: 6 nodes give the first 11 moments to round-off, and no more."""
    x, w, atom = marchenko_pastur_rule(c, nodes=6)
    assert math.isclose(w.sum() + atom, 1.0, rel_tol=0, abs_tol=1e-14)
    assert atom == pytest.approx(max(0.0, 1 - 1 / c), abs=1e-15)
    for k in range(1, 12):
        ref = float(_narayana_moment(c, k))
        assert float(w @ x**k) == pytest.approx(ref, rel=1e-12), k
    # degree 12 is beyond the rule: it must show (the test can fail); the cap keeps the check away from round-off
    ref12 = float(_narayana_moment(c, 12))
    assert abs(float(w @ x**12) / ref12 - 1) > 1e-10


@pytest.mark.parametrize("c", RATIOS)
@pytest.mark.parametrize("z", [-2.0, -0.3, -0.01, 0.5 + 0.7j, 2.0 + 1.0j])
def test_marchenko_pastur_density_stieltjes_transform(c, z):
    """Reference: the Stieltjes transform of Marchenko-Pastur in closed form (the quadratic of theory §6.2, solved
    at 30 digits with mpmath), to 1e-10, on the negative axis where the solver evaluates it (``z = -lam/V_hat``, down
    to 0.01 from the edge x_- = 0 of c = 1 and from the atom at 0 of c > 1) and off the real axis."""
    dens = SpectralDensity.marchenko_pastur(c)
    got = dens.stieltjes(z)
    ref = _mp_stieltjes(c, z)
    assert abs(got - ref) <= 1e-10 * abs(ref)


def test_marchenko_pastur_variance_and_shift():
    """Reference: E[s] = shift + variance and Var s = variance^2 c for s = shift + variance x (moments of MP)."""
    c, var, shift = 0.7, 2.5, 0.3
    d = SpectralDensity.marchenko_pastur(c, variance=var, shift=shift, rho=1.7)
    mean = d.integrate(lambda s, t: s)
    assert mean == pytest.approx(shift + var, rel=1e-13)
    assert d.integrate(lambda s, t: (s - mean) ** 2) == pytest.approx(var**2 * c, rel=1e-12)
    assert np.allclose(d.t, 1.7 * (d.s - shift), rtol=1e-13, atol=1e-15)
    assert d.gamma == pytest.approx(1 / c)


def test_random_features_density_rho_lin_closed_form():
    """Reference: rho_lin = rho c E[x/(x + a)] = rho c (1 - a m(-a)), a = kappa_*^2/kappa1^2, with the closed-form
    Stieltjes transform m of MP(c) (mpmath), for activations with and without an atom (c > 1)."""
    for act, c in (("relu", 2.0), ("tanh", 0.5), ("sign", 1.0)):
        k = kappas(act)
        d = SpectralDensity.random_features(c, act, rho=0.8)
        a = k.kappa_star**2 / k.kappa1**2
        ref = 0.8 * c * (1 - a * _mp_stieltjes(c, -a).real)
        assert d.rho_lin == pytest.approx(ref, rel=1e-11), act
        assert np.allclose(d.t, 0.8 * (d.s - k.kappa_star**2), rtol=1e-12, atol=1e-14)
        assert d.s.min() >= k.kappa_star**2 * (1 - 1e-14)


def test_random_features_refuses_an_even_activation():
    """kappa1 = 0: no linear information on the teacher; refused with a message naming the activation."""
    with pytest.raises(ValueError, match="kappa1"):
        SpectralDensity.random_features(2.0, lambda z: z * z, smooth=True)


def _em_reference(f, a, N0=1000):
    """sum_{i>=1} f(i) at 25 digits: the first N0 - 1 terms exactly, the rest by the midpoint Euler-Maclaurin
    formula with the integral by mpmath quadrature split at every decade, and two derivative corrections."""
    with mp.workdps(25):
        head = mp.fsum(f(mp.mpf(i)) for i in range(1, N0))
        c = N0 - mp.mpf(1) / 2
        pts = [c] + [mp.mpf(10) ** k for k in range(4, 40)] + [mp.inf]
        return float(head + mp.quad(f, pts) + mp.diff(f, c) / 24 - 7 * mp.diff(f, c, 3) / 5760)


@pytest.mark.parametrize("lam", [1.0, 1e-4, 1e-9])
def test_mode_sum_rule_infinite_power_law(lam):
    """Reference: the infinite sums of the replica prior side for s_i = i^-a, t_i = i^-(a+b) (mpmath Euler-Maclaurin
    at 25 digits, :func:`_em_reference`), to 1e-10, with the crossover lam = s_i at i = 1, 1e2.7 and 1e6."""
    a, b = 1.5, 2.2
    x, w = mode_sum_rule(a)
    s, t = x**-a, x ** -(a + b)
    cases = [(lambda s, t: s / (lam + s), lambda i: i**-a / (lam + i**-a)),
             (lambda s, t: t / (lam + s), lambda i: i ** -(a + b) / (lam + i**-a)),
             (lambda s, t: s * s / (lam + s) ** 2, lambda i: i ** (-2 * a) / (lam + i**-a) ** 2)]
    for f_np, f_mp in cases:
        got = float(w @ f_np(s, t))
        assert got == pytest.approx(_em_reference(f_mp, a), rel=1e-10)


@pytest.mark.parametrize("a", [0.7, 1.3, 3.0])
def test_mode_sum_rule_finite_cutoff_against_direct_sums(a):
    """Reference: the direct sum over all P = 300000 modes (numpy, pairwise summation), to 1e-11; the weights count
    the modes exactly."""
    P = 300_000
    x, w = mode_sum_rule(a, P)
    assert x.size < 2000
    assert float(w.sum()) == pytest.approx(P, rel=1e-13)
    i = np.arange(1, P + 1, dtype=float)
    for lam in (1.0, 1e-3, 1e-8):
        for f in (lambda s, lam=lam: s / (lam + s), lambda s, lam=lam: s * s / (lam + s) ** 2,
                  lambda s, lam=lam: s**1.7 / (lam + s)):
            assert float(w @ f(x**-a)) == pytest.approx(float(np.sum(f(i**-a))), rel=1e-11)


def test_power_law_teacher_weights():
    """Reference: zeta functions. rho_lin = rho for no cutoff, rho (1 - zeta(b, P+1)/zeta(b)) with P modes; the
    normalisation is per sample (alpha = n)."""
    from scipy.special import zeta

    pl = SpectralDensity.power_law(1.8, 2.5, rho=2.0)
    assert pl.rho_lin == pytest.approx(2.0, rel=1e-11)
    assert pl.per_sample and math.isinf(pl.p) and math.isinf(pl.positive_mass)
    for P in (7, 5000):
        cut = SpectralDensity.power_law(1.8, 2.5, cutoff=P, rho=2.0)
        assert cut.rho_lin == pytest.approx(2.0 * (1 - zeta(2.5, P + 1) / zeta(2.5)), rel=1e-11)
        assert cut.p == P and cut.positive_mass == pytest.approx(P, rel=1e-13)


@pytest.mark.parametrize("kwargs, match", [
    ({"weights": [0.5, 0.6]}, "sum to 1"),
    ({"t": [0.0, 1.0], "s": [1.0, 0.0]}, "null direction"),
    ({"s": [-1.0, 1.0]}, "s must be >= 0"),
    ({"weights": [1.0, 0.0]}, "weights must be > 0"),
    ({"rho": 0.1}, "rho_lin"),
    ({"normalisation": "per-p"}, "normalisation"),
    ({"p": 2.5}, "integer"),
    ({"teacher": "mean"}, "teacher"),
    ({"s": [1.0, np.nan]}, "finite"),
])
def test_density_validation(kwargs, match):
    """Bad inputs raise ValueError naming the argument."""
    base = dict(s=[1.0, 2.0], t=[0.5, 0.5], weights=[0.5, 0.5], rho=1.0, gamma=1.0)
    with pytest.raises(ValueError, match=match):
        SpectralDensity(**{**base, **kwargs})


def test_builders_refuse_bad_arguments():
    """Bad exponents, ratios and cutoffs raise with the argument named."""
    with pytest.raises(ValueError, match="a > 1"):
        SpectralDensity.power_law(1.0, 2.0)
    with pytest.raises(ValueError, match="b must be > 1"):
        SpectralDensity.power_law(2.0, 1.0)
    with pytest.raises(ValueError, match="ratio"):
        SpectralDensity.marchenko_pastur(0.0)
    with pytest.raises(TypeError, match="cutoff"):
        SpectralDensity.power_law(2.0, 2.0, cutoff=10.5)
    with pytest.raises(TypeError, match="spectrum"):
        SpectralDensity.from_spectrum(np.ones(3))


@pytest.mark.parametrize("loss, channel, lam", [(Loss.square(), Channel.linear(0.2), 0.05),
                                                (Loss.square(), Channel.linear(0.2), 0.0),
                                                (Loss.logistic(), Channel.sign(), 0.05)])
def test_discrete_spectrum_as_density_gives_the_same_solution(loss, channel, lam):
    """Reference: the solver on the Spectrum itself (weights 1/p implicit). The density built from it (explicit
    weights 1/p) gives the same overlaps to 1e-9, through both routes (scalar ridge, lam = 0 included, and the fixed
    point)."""
    rng = np.random.default_rng(3)
    s = np.concatenate([rng.uniform(0.2, 3.0, 30), np.zeros(10)])
    t = np.where(s > 0, rng.uniform(0, 1, 40) * s, 0.0)
    spec = Spectrum.from_arrays(s, t, rho=1.0, gamma=1.3)
    dens = SpectralDensity.from_spectrum(spec)
    for alpha in (0.4, 1.5):
        a = solve(spec, loss, channel, alpha, lam)
        b = solve(dens, loss, channel, alpha, lam)
        for f in ("q", "m", "test_error", "train_error"):
            assert getattr(b, f) == pytest.approx(getattr(a, f), rel=1e-9), (alpha, f)
    assert np.allclose(spec.weights, 1 / 40) and spec.weights.shape == (40,)


def test_compare_refuses_a_density():
    """validation.compare cannot match a p = infinity theory with a finite simulation: a clear ValueError."""
    from validation.compare import _check_spectrum

    with pytest.raises(ValueError, match="SpectralDensity"):
        _check_spectrum(SpectralDensity.marchenko_pastur(2.0), None)


@pytest.mark.parametrize("activation", ["erf_sqrt2", "sign", "relu"])
def test_default_nodes_of_random_features_are_converged(activation):
    """Reference: the same density with 512 Gauss nodes. The default node count (a few dozen, from the Bernstein
    ellipse of the nearest possible pole, s = 0) gives the same ridge solution to 1e-12 down to lam = 0 and the same
    logistic solution to 1e-9, over ratios on both sides of p = D and p = n."""
    for ratio in (0.3, 1.0, 1.7, 6.0):
        coarse = SpectralDensity.random_features(ratio, activation)
        fine = SpectralDensity.random_features(ratio, activation, nodes=512)
        assert coarse.s.size < 120
        for alpha in (0.5 / ratio, 1.0 / ratio, 3.0 / ratio):
            for lam in (1e-1, 1e-8, 0.0):
                if lam == 0.0 and alpha == 1.0 / ratio:
                    continue  # p = n at lam = 0: the interpolation peak, refused by the solver
                a = solve(coarse, Loss.square(), Channel.linear(0.3), alpha, lam)
                b = solve(fine, Loss.square(), Channel.linear(0.3), alpha, lam)
                # at p = n with lam -> 0, q = (...)/(1 - a) amplifies round-off of the sums by 1/(1 - a) ~ 1e3
                rel = 1e-9 if alpha == 1.0 / ratio else 1e-12
                assert a.test_error == pytest.approx(b.test_error, rel=rel), (ratio, alpha, lam)
        a = solve(coarse, Loss.logistic(), Channel.sign(), 1.0, 1e-3)
        b = solve(fine, Loss.logistic(), Channel.sign(), 1.0, 1e-3)
        assert a.test_error == pytest.approx(b.test_error, rel=1e-9)
