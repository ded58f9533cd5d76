"""The separability threshold (replica.separability_threshold, docs/separability.md) against Cover's closed form,
an independent mpmath / adaptive-quadrature minimisation of Candès & Sur's h, and identities between channels that
go through different code paths. The finite-size linear-programming check is in tests/validation/test_separable.py."""

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, optimize, special

from replica import Channel, ConvergenceError, separability_threshold
from replica.separability import _dpsi, _psi
from spectra import Spectrum


def _spec(p=100, rho=1.0, rho_lin=None, s=None, rank=None):
    """A spectrum with eigenvalues ``s`` (default 1), the first ``rank`` of them kept, the teacher spread over the
    kept directions with ``rho_lin`` visible (k = p)."""
    rho_lin = rho if rho_lin is None else rho_lin
    s = np.ones(p) if s is None else np.asarray(s, dtype=float)
    rank = p if rank is None else rank
    s = np.where(np.arange(p) < rank, s, 0.0)
    t = np.where(s > 0, s * np.linspace(0.5, 1.5, p), 0.0)
    t *= rho_lin * p / np.sum(t[s > 0] / s[s > 0]) if rho_lin > 0 else 0.0
    return Spectrum.from_arrays(s, t, rho=rho, gamma=1.0, teacher="fixed")


def _psi_ref(a):
    """E(a + Z)_+^2 in closed form, written out naively (checked against quadrature below)."""
    return (1 + a * a) * special.ndtr(a) + a * np.exp(-a * a / 2) / np.sqrt(2 * np.pi)


def _h_quad(p_label, bracket=(-3.0, -0.5)):
    """Reference: min_t E[psi(t y xi)], xi ~ N(0, 1), P(y | xi) = p_label(y, xi): adaptive quadrature (scipy quad,
    split at 0 where a sign teacher steps) minimised by Brent's method."""
    def h(t):
        return sum(integrate.quad(lambda x, y: np.exp(-x * x / 2) / np.sqrt(2 * np.pi) * p_label(y, x)
                                  * _psi_ref(t * y * x), lo, hi, args=(y,), epsabs=1e-14, epsrel=1e-12, limit=200)[0]
                   for y in (-1, 1) for lo, hi in ((-np.inf, 0.0), (0.0, np.inf)))
    return float(optimize.minimize_scalar(h, bracket=bracket, tol=1e-10).fun)


def _h_mpmath(p_label, dps=25):
    """Reference: the same minimisation in mpmath at ``dps`` digits (quadrature split at 0, secant root of the
    derivative)."""
    with mp.workdps(dps):
        def dpsi(a):
            return 2 * (a * mp.ncdf(a) + mp.npdf(a))

        def psi(a):
            return (1 + a * a) * mp.ncdf(a) + a * mp.npdf(a)

        def expect(f):
            return mp.quad(lambda x: mp.npdf(x) * (p_label(1, x) * f(1, x) + p_label(-1, x) * f(-1, x)),
                           [-mp.inf, -4, 0, 4, mp.inf])

        tstar = mp.findroot(lambda t: expect(lambda y, x: y * x * dpsi(t * y * x)), (mp.mpf(-0.5), mp.mpf(-1.5)),
                            solver="secant", tol=mp.mpf(10) ** (-2 * dps // 3))
        return float(expect(lambda y, x: psi(tstar * y * x)))


def _logit_hidden(beta, rho_lin, hidden):
    """P(y | xi) of a logit teacher 1/(1 + exp(-beta y nu)) with nu = sqrt(rho_lin) xi + sqrt(hidden) zeta: the
    zeta-average by a 200-node Gauss-Hermite rule (exact to double precision for this entire integrand)."""
    z, w = special.roots_hermitenorm(200)
    w = w / np.sqrt(2 * np.pi)

    def law(y, x):
        return float(np.dot(w, special.expit(beta * y * (np.sqrt(rho_lin) * x + np.sqrt(hidden) * z))))
    return law


def test_psi_closed_form_against_quadrature():
    """Reference: adaptive quadrature of E(a + Z)_+^2 and of its derivative 2 E(a + Z)_+ at several a, including
    a = -30 where the naive (1 + a^2) Phi(a) + a phi(a) cancels to 0 - 0 (mpmath at 50 digits there)."""
    for a in (-8.0, -2.0, -0.3, 0.0, 0.7, 3.0, 9.0):
        ref = integrate.quad(lambda z, a: (a + z) ** 2 * np.exp(-z * z / 2) / np.sqrt(2 * np.pi), -a, np.inf,
                             args=(a,), epsabs=0, epsrel=1e-13)[0]
        dref = integrate.quad(lambda z, a: 2 * (a + z) * np.exp(-z * z / 2) / np.sqrt(2 * np.pi), -a, np.inf,
                              args=(a,), epsabs=0, epsrel=1e-13)[0]
        assert _psi(np.array(a)) == pytest.approx(ref, rel=1e-10)
        assert _dpsi(np.array(a)) == pytest.approx(dref, rel=1e-10)
    with mp.workdps(50):
        ref = mp.quad(lambda z: (z - 30) ** 2 * mp.npdf(z), [30, mp.inf])
    assert _psi(np.array(-30.0)) == pytest.approx(float(ref), rel=1e-9)


@pytest.mark.parametrize("rank", [100, 60, 25])
def test_cover_random_labels(rank):
    """Reference: Cover (1965), Gardner (1988) at zero margin. Labels independent of the features (rho_lin = 0)
    give h = E[Z_+^2] = 1/2: two samples per dimension of the student space, alpha_sep = 2 rank(Omega)/p, whatever
    the eigenvalues and the channel (a teacher the student cannot see at all)."""
    s = np.geomspace(5.0, 0.01, 100)
    spec = _spec(rho_lin=0.0, s=s, rank=rank)
    for ch in (Channel.sign(), Channel.probit(0.3), Channel.sign(flip=0.1)):
        assert separability_threshold(spec, ch) == 2 * rank / 100


def test_noiseless_sign_teacher_fully_visible_is_always_separable():
    """Reference: the teacher itself separates the data (theory §2.7): rho_lin = rho, sign channel -> inf,
    isotropic or not, full rank or not."""
    assert separability_threshold(Spectrum.isotropic(50), Channel.sign()) == np.inf
    assert separability_threshold(_spec(s=np.geomspace(3, 0.1, 100), rank=70), Channel.sign()) == np.inf


CASES = [
    ("probit 0.25", Channel.probit(0.25), 1.0, 1.0, lambda y, x: special.ndtr(y * x / np.sqrt(0.25))),
    ("probit 0.01 (steep)", Channel.probit(0.01), 1.0, 1.0, lambda y, x: special.ndtr(y * x / 0.1)),
    ("sign, 10% hidden", Channel.sign(), 1.0, 0.9, lambda y, x: special.ndtr(y * np.sqrt(0.9) * x / np.sqrt(0.1))),
    ("sign, 1% hidden", Channel.sign(), 2.0, 1.98, lambda y, x: special.ndtr(y * np.sqrt(1.98) * x / np.sqrt(0.02))),
    ("flip 0.05", Channel.sign(flip=0.05), 1.0, 1.0, lambda y, x: 0.05 + 0.9 * (y * x > 0)),
    ("flip 0.2, 30% hidden, probit 0.1", "flip+probit", 1.0, 0.7,
     lambda y, x: 0.2 + 0.6 * special.ndtr(y * np.sqrt(0.7) * x / np.sqrt(0.3 + 0.1))),
    ("logit, gamma_s = 1 (Candes-Sur)", Channel.from_likelihood("1/(1 + exp(-y*z))"), 1.0, 1.0,
     lambda y, x: special.expit(y * x)),
    ("logit, gamma_s = 2 (Candes-Sur)", Channel.from_likelihood("1/(1 + exp(-y*z))"), 4.0, 4.0,
     lambda y, x: special.expit(2 * y * x)),
    ("steep logit (beta = 4), 20% hidden", Channel.from_likelihood("1/(1 + exp(-4*y*z))"), 1.0, 0.8,
     _logit_hidden(4.0, 0.8, 0.2)),
    ("very steep logit (beta = 30)", Channel.from_likelihood("1/(1 + exp(-30*y*z))"), 1.0, 1.0,
     lambda y, x: special.expit(30 * y * x)),
]


def _channel(kind):
    if kind == "flip+probit":  # flips on top of probit noise: the sign family's most general member
        from replica.channel import _SignFamily

        return _SignFamily(noise=0.1, flip=0.2)
    return kind


@pytest.mark.parametrize("label,kind,rho,rho_lin,law", CASES, ids=[c[0] for c in CASES])
def test_h_against_adaptive_quadrature(label, kind, rho, rho_lin, law):
    """Reference: an independent evaluation of h = min_t E[(t y xi + Z)_+^2]: the label law in closed form (Phi
    for the sign family and a hidden teacher part, the logistic function for Candes & Sur's model, a 200-node
    Gauss-Hermite average for a logit with a hidden part), scipy's adaptive quad split at 0 and Brent's
    minimisation. alpha_sep = rank/(p h) agrees to 1e-8 (relative) on a rank-deficient, non-isotropic spectrum."""
    spec = _spec(p=80, rho=rho, rho_lin=rho_lin, s=np.geomspace(2.0, 0.05, 80), rank=64)
    got = separability_threshold(spec, _channel(kind))
    assert got == pytest.approx(64 / 80 / _h_quad(law, bracket=(-60.0, -0.5)), rel=1e-8), label


@pytest.mark.slow
@pytest.mark.parametrize("label,kind,rho,rho_lin,law", CASES[:5], ids=[c[0] for c in CASES[:5]])
def test_h_against_mpmath(label, kind, rho, rho_lin, law):
    """Reference: the same minimisation in mpmath at 25 digits: alpha_sep agrees to 1e-11."""
    mp_law = {"probit 0.25": lambda y, x: mp.ncdf(y * x / mp.sqrt(0.25)),
              "probit 0.01 (steep)": lambda y, x: mp.ncdf(y * x / mp.mpf("0.1")),
              "sign, 10% hidden": lambda y, x: mp.ncdf(y * mp.sqrt(0.9) * x / mp.sqrt(0.1)),
              "sign, 1% hidden": lambda y, x: mp.ncdf(y * mp.sqrt(1.98) * x / mp.sqrt(0.02)),
              "flip 0.05": lambda y, x: mp.mpf("0.05") + mp.mpf("0.9") * (y * x > 0)}[label]
    spec = _spec(p=80, rho=rho, rho_lin=rho_lin)
    assert separability_threshold(spec, kind) == pytest.approx(1 / _h_mpmath(mp_law), rel=1e-11), label


@pytest.mark.slow
def test_candes_sur_two_dimensional_expectation():
    """Reference: Candès & Sur's definition taken literally, without the closed form of E_Z: h(gamma_s) =
    min_t E[(t Y X + Z)_+^2] as a two-dimensional adaptive quadrature over (X, Z) (scipy dblquad), X ~ N(0,
    gamma_s^2), P(Y = 1 | X) = sigma(X), minimised by Brent's method. At gamma_s = 0 it is Cover's 1/2; at
    gamma_s = 1.5 the threshold 1/h agrees to 1e-6 (the quadrature's accuracy)."""
    def h_2d(t, gs):
        def f(z, x):
            w = np.exp(-0.5 * (x * x + z * z)) / (2 * np.pi)
            return w * sum(special.expit(y * gs * x) * max(t * y * gs * x + z, 0.0) ** 2 for y in (-1, 1))
        return integrate.dblquad(f, -12, 12, -12, 12, epsabs=1e-12, epsrel=1e-10)[0]

    res = optimize.minimize_scalar(lambda t: h_2d(t, 1.5), bracket=(-2.0, -0.5), tol=1e-8)
    ch = Channel.from_likelihood("1/(1 + exp(-y*z))")
    assert separability_threshold(Spectrum.isotropic(50, rho=1.5**2), ch) == pytest.approx(1 / res.fun, rel=1e-6)
    assert h_2d(0.0, 0.0) == pytest.approx(0.5, rel=1e-9)


def test_hidden_teacher_is_probit_on_the_visible_part():
    """Reference: the identity of docs/separability.md §2: a sign teacher with a hidden part rho - rho_lin is a
    probit teacher of noise rho - rho_lin on the visible part. The first goes through Channel.measure, the second
    through the fully visible law (different quadratures); they agree to 1e-10."""
    for rho_lin in (0.3, 0.8, 0.97):
        hidden = separability_threshold(_spec(rho=1.0, rho_lin=rho_lin), Channel.sign())
        probit = separability_threshold(_spec(rho=rho_lin, rho_lin=rho_lin), Channel.probit(1.0 - rho_lin))
        assert hidden == pytest.approx(probit, rel=1e-10)


def test_continuous_at_the_edge_of_visibility():
    """Reference: continuity in rho_lin. With rho_lin = rho (1 - 1e-7) the hidden part enters as a conditional
    variance of the visible field; with rho_lin = rho it is absent (a different branch of the computation); h is
    smooth in rho_lin for a smooth likelihood, so the two agree to 1e-5."""
    ch = Channel.from_likelihood("1/(1 + exp(-3*y*z))")
    edge = separability_threshold(_spec(rho=1.0, rho_lin=1.0 - 1e-7), ch)
    full = separability_threshold(_spec(rho=1.0, rho_lin=1.0), ch)
    assert edge == pytest.approx(full, rel=1e-5)


def test_rare_flips_resolve_the_kink_at_zero():
    """Reference: adaptive quadrature with a breakpoint at the scale 1/|t| where psi(t |xi|) turns over, and the
    asymptotics of docs/separability.md §5. With flips of probability 1e-12 the minimiser is t ~ -5e3, so the
    integrand has a kink of width 2e-4 at xi = 0; the threshold (about 1.5e4, growing like flip^(-1/3)) agrees
    with the reference to 1e-8."""
    eps = 1e-12

    def h(t):
        def f(x):
            return 2 * np.exp(-x * x / 2) / np.sqrt(2 * np.pi) * ((1 - eps) * _psi_ref(t * x) + eps * _psi_ref(-t * x))
        cut = 50 / abs(t)
        return sum(integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-12, limit=500)[0]
                   for lo, hi in ((0.0, cut), (cut, np.inf)))

    ref = optimize.minimize_scalar(h, bracket=(-3e4, -3e3), tol=1e-10)
    got = separability_threshold(Spectrum.isotropic(20), Channel.sign(flip=eps))
    assert got == pytest.approx(1 / ref.fun, rel=1e-8)
    ratio = separability_threshold(Spectrum.isotropic(20), Channel.sign(flip=eps / 1000)) / got
    assert ratio == pytest.approx(10.0, rel=0.01)


def test_unresolvable_likelihood_raises():
    """No silent wrong answer: a likelihood with a step of width 1e-4 away from z = 0 (where the rule is not
    graded) is finer than the panels; the self-check at twice the order fails and raises ConvergenceError."""
    ch = Channel.from_likelihood("1/(1 + exp(-y*10000*(z - 1)))")
    with pytest.raises(ConvergenceError, match="not resolved"):
        separability_threshold(Spectrum.isotropic(20), ch)


def test_only_rank_rho_lin_and_rho_matter():
    """Reference: whitening invariance (docs/separability.md §2). Spectra with different eigenvalues and teacher
    directions but the same rank, rho and rho_lin give the same threshold; a different rank scales it by
    rank/p."""
    a = separability_threshold(_spec(rho=1.3, rho_lin=0.9, rank=70), Channel.sign(flip=0.02))
    b = separability_threshold(_spec(rho=1.3, rho_lin=0.9, s=np.geomspace(10, 1e-3, 100), rank=70),
                               Channel.sign(flip=0.02))
    c = separability_threshold(_spec(rho=1.3, rho_lin=0.9, rank=35), Channel.sign(flip=0.02))
    assert a == pytest.approx(b, rel=1e-12)
    assert c == pytest.approx(a / 2, rel=1e-12)


def test_threshold_falls_with_noise_and_tends_to_cover():
    """Reference: monotonicity of h in the noise (more noise, fewer separable samples), the Cover limit 2 as the
    teacher becomes invisible, and growth without bound as the noise vanishes."""
    noises = [1e-3, 1e-2, 0.1, 1.0, 10.0, 1e4]
    th = [separability_threshold(Spectrum.isotropic(40), Channel.probit(d)) for d in noises]
    assert np.all(np.diff(th) < 0)
    assert th[-1] == pytest.approx(2.0, rel=1e-3) and th[-1] > 2.0
    assert th[0] > 50


def test_rank_of_an_exactly_rank_deficient_covariance():
    """Reference: Cover with rank(Omega) = D. Omega = F F^T / D of rank D = 20 < p = 50 (a linear generator seen
    directly, the teacher on a latent direction the student does not see, so the labels are independent of the
    features) has round-off eigenvalues that must not count: the threshold is 2 * 20/50. With explicit tiny
    eigenvalues, rank_rtol decides whether they count."""
    F = np.random.default_rng(0).standard_normal((50, 20))
    phi = np.hstack([F / np.sqrt(20), np.zeros((50, 1))])
    theta = np.zeros(21)
    theta[-1] = 1.0
    spec = Spectrum.from_covariances(omega=F @ F.T / 20, phi=phi, psi=np.eye(21), theta=theta)
    assert separability_threshold(spec, Channel.sign()) == pytest.approx(0.8, rel=1e-12)
    tiny = Spectrum.from_arrays(np.r_[np.ones(20), np.full(30, 1e-17)], np.zeros(50), rho=1.0, gamma=1.0)
    assert separability_threshold(tiny, Channel.sign()) == pytest.approx(0.8, rel=1e-12)
    assert separability_threshold(tiny, Channel.sign(), rank_rtol=0.0) == pytest.approx(2.0, rel=1e-12)


def test_bad_input():
    """Reference: the documented errors: a regression channel (ValueError naming the channel), a non-Spectrum
    or non-Channel (TypeError), a rank tolerance outside [0, 1) (ValueError)."""
    spec = Spectrum.isotropic(10)
    with pytest.raises(ValueError, match="labels -1 and \\+1"):
        separability_threshold(spec, Channel.linear(0.1))
    with pytest.raises(ValueError, match="labels -1 and \\+1"):
        separability_threshold(spec, Channel.from_likelihood("(1 + y*tanh(z))/3", labels=(-1, 0, 1)))
    with pytest.raises(TypeError, match="spectrum"):
        separability_threshold(np.ones(10), Channel.sign())
    with pytest.raises(TypeError, match="channel"):
        separability_threshold(spec, "sign")
    with pytest.raises(ValueError, match="rank_rtol"):
        separability_threshold(spec, Channel.sign(), rank_rtol=1.5)


def test_any_channel_type_through_its_likelihood():
    """Reference: the probit channel's own (closed-form) result. A +-1 channel type that exposes only the general
    interface (its likelihood, no sign-family parameters) gives the same threshold to 1e-9, with the teacher partly
    hidden and fully visible; the built-in logit equals the same teacher written as a likelihood to 1e-8."""
    base = Channel.probit(0.2)

    class Opaque(Channel):
        name, is_classification = "opaque", True
        _labels = (-1.0, 1.0)
        _z0 = base.Z0()

        def measure(self, rho, q, m, kinks=None):
            return base.measure(rho, q, m, kinks)

        def moments(self, rho):
            return base.moments(rho)

        def test_error(self, rho, q, m):
            return base.test_error(rho, q, m)

        def test_error_noisy(self, rho, q, m):
            return base.test_error_noisy(rho, q, m)

        def wrong_side(self, rho, q, m, c):
            return base.wrong_side(rho, q, m, c)

        def likelihood(self, y, nu):
            return base.likelihood(y, nu)

        def _draw(self, nu, gen):
            return base._draw(nu, gen)

    for spec in (_spec(rho_lin=0.7), Spectrum.isotropic(10)):
        assert separability_threshold(spec, Opaque()) == pytest.approx(separability_threshold(spec, base), rel=1e-9)
    iso = Spectrum.isotropic(10)
    logit = separability_threshold(iso, Channel.logit(2.0))
    assert logit == pytest.approx(separability_threshold(iso, Channel.from_likelihood("1/(1 + exp(-2*y*z))")),
                                  rel=1e-8)

def test_logistic_replica_solution_diverges_exactly_below_the_threshold():
    """Reference: the replica saddle point of logistic regression (replica.solve, theory §2.7, §6.4), an
    independent computation. As lam -> 0+ its norm q stays finite iff the data are not separable: 20% below
    alpha_sep, q grows more than 3x from lam = 1e-3 to 1e-4; 25% above, by less than 1.5x."""
    from replica import Loss, solve

    spec, ch = Spectrum.isotropic(200), Channel.probit(0.25)
    a_sep = separability_threshold(spec, ch)

    def growth(alpha):
        q = [solve(spec, Loss.logistic(), ch, alpha=alpha, lam=lam).q for lam in (1e-3, 1e-4)]
        return q[1] / q[0]

    assert growth(0.8 * a_sep) > 3.0
    assert growth(1.25 * a_sep) < 1.5
