"""Analytic covariances of random generators (theory §3.3-3.4)."""

import mpmath
import numpy as np
import pytest

from spectra import Spectrum, estimate_covariances
from spectra.analytic import (
    deep_sign_covariances,
    deep_sign_spectrum,
    gaussian_expectation,
    kappas,
    random_features_covariances,
    random_features_spectrum,
    single_layer_covariances,
    single_layer_spectrum,
)
from spectra.generators import DeepRandom, SingleLayer

MP_FUNCS = {
    "sign": lambda z: mpmath.sign(z),
    "erf": lambda z: mpmath.erf(z),
    "erf_sqrt2": lambda z: mpmath.erf(z / mpmath.sqrt(2)),
    "tanh": lambda z: mpmath.tanh(z),
    "relu": lambda z: max(z, 0),
}


def _mp_kappas(f):
    """kappa0, kappa1, kappa_star by mpmath.quad at 30 digits, each half-line separately."""
    with mpmath.workdps(30):
        def gauss(g):
            phi = lambda z: g(z) * mpmath.exp(-z * z / 2) / mpmath.sqrt(2 * mpmath.pi)  # noqa: E731
            return mpmath.quad(phi, [-mpmath.inf, 0]) + mpmath.quad(phi, [0, mpmath.inf])
        k0 = gauss(f)
        k1 = gauss(lambda z: z * f(z))
        m2 = gauss(lambda z: f(z) ** 2)
        return float(k0), float(k1), float(mpmath.sqrt(m2 - k0**2 - k1**2))


@pytest.mark.parametrize("name", sorted(MP_FUNCS))
def test_kappas_match_mpmath(name):
    """Reference: mpmath.quad at 30 digits of E[s(z)], E[z s(z)], E[s(z)^2] (z ~ N(0, 1))."""
    ref = _mp_kappas(MP_FUNCS[name])
    got = kappas(name)
    np.testing.assert_allclose([got.kappa0, got.kappa1, got.kappa_star], ref, rtol=0, atol=1e-13)


def test_kappas_match_theory_table():
    """Reference: the closed forms of the table in theory §3.3 (tanh: the table's 6-digit values)."""
    pi = np.pi
    table = {
        "sign": (0.0, np.sqrt(2 / pi), np.sqrt(1 - 2 / pi)),
        "erf": (0.0, 2 / np.sqrt(3 * pi), np.sqrt((2 / pi) * np.arcsin(2 / 3) - 4 / (3 * pi))),
        "erf_sqrt2": (0.0, 1 / np.sqrt(pi), np.sqrt(1 / 3 - 1 / pi)),
        "relu": (1 / np.sqrt(2 * pi), 0.5, np.sqrt((pi - 2) / (4 * pi))),
    }
    for name, ref in table.items():
        k = kappas(name)
        np.testing.assert_allclose([k.kappa0, k.kappa1, k.kappa_star], ref, rtol=1e-12, atol=1e-13,
                                   err_msg=name)
    k = kappas("tanh")
    assert abs(k.kappa1 - 0.605706) < 5e-7 and abs(k.kappa_star - 0.165576) < 5e-7
    assert abs(kappas("erf").kappa_star - 0.200364) < 5e-7
    assert kappas("linear").to_dict() == {"activation": "linear", "kappa0": pytest.approx(0, abs=1e-15),
                                          "kappa1": pytest.approx(1, abs=1e-14), "kappa_star": 0.0}


def test_kappas_of_a_callable():
    """Reference: closed form for s(z) = sin z + z^2: kappa0 = 1, kappa1 = e^{-1/2},
    E[s^2] = (1 - e^{-2})/2 + 3."""
    f = lambda z: np.sin(z) + z**2  # noqa: E731
    for smooth in (True, False):
        k = kappas(f, smooth=smooth)
        kstar = np.sqrt((1 - np.exp(-2)) / 2 + 3 - 1 - np.exp(-1))
        np.testing.assert_allclose([k.kappa0, k.kappa1, k.kappa_star], [1, np.exp(-0.5), kstar], rtol=1e-12)
    assert gaussian_expectation(lambda z: z**6, smooth=True) == pytest.approx(15, rel=1e-13)


def test_kappas_bad_input():
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        kappas("softplus")
    with pytest.raises(TypeError, match="activation must be"):
        kappas(3)


def test_arcsine_law_small_closed_form():
    """Reference: closed form (2/pi) arcsin(rho) for two unit rows at angle 60 and 90 degrees."""
    w = np.array([[1.0, 0.0], [0.5, np.sqrt(3) / 2], [0.0, 3.0]])
    omega, phi = single_layer_covariances(w, "sign")
    assert omega[0, 1] == pytest.approx(1 / 3, abs=1e-15)  # (2/pi) arcsin(1/2) = 1/3
    assert omega[0, 2] == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(np.diag(omega), 1.0)
    np.testing.assert_allclose(phi[2], [0, np.sqrt(2 / np.pi)], atol=1e-15)  # rows normalised
    omega, phi = single_layer_covariances(w, "erf")
    # E[erf(a z)^2] = (2/pi) arcsin(2a^2/(1 + 2a^2)); a = 3 for the third row
    assert omega[2, 2] == pytest.approx(2 / np.pi * np.arcsin(18 / 19), abs=1e-15)
    assert phi[2, 1] == pytest.approx(2 / np.sqrt(np.pi) * 3 / np.sqrt(19), abs=1e-15)


@pytest.mark.parametrize("activation", ["sign", "erf"])
def test_single_layer_exact_against_monte_carlo(activation):
    """Reference: simulation. 1.2e5 samples, 32 batch-means groups; the squared Frobenius error must
    match the summed squared standard errors (ratio 1 +- sampling), and no entry beyond 6 sigma."""
    gen = SingleLayer(20, 30, activation, seed=11)
    omega, phi = single_layer_covariances(gen.weights, activation)
    est = estimate_covariances(gen, n_samples=120_000, batch_size=1500, groups=32, seed=5, progress=False)
    for exact, mc, se in ((omega, est.omega, est.omega_se), (phi, est.phi, est.phi_se)):
        ratio = np.sum((mc - exact) ** 2) / np.sum(se**2)
        assert 0.6 < ratio < 1.6, ratio
        assert np.max(np.abs(mc - exact) / se) < 6


def test_linearised_form_is_distinguishable_from_exact():
    """The Monte Carlo test above can fail: the kappa (linearised) form of the same sign layer at D = 5
    differs from the simulation by many standard errors (reference: simulation)."""
    gen = SingleLayer(5, 12, "sign", seed=2)
    lin, _ = random_features_covariances(gen.weights, "sign")
    est = estimate_covariances(gen, n_samples=60_000, batch_size=1000, groups=16, seed=3, progress=False)
    assert np.sum((est.omega - lin) ** 2) / np.sum(est.omega_se**2) > 10


@pytest.mark.parametrize("activation", ["tanh", "erf"])
def test_random_features_ge_against_monte_carlo(activation):
    """Reference: simulation. For odd activations the GE covariance misses only O(D^{-3/2}) terms; at
    D = 200 the Monte Carlo Omega, Phi and its leading eigenvalue agree within the batch-means errors."""
    gen = SingleLayer(200, 120, activation, seed=4)
    omega, phi = random_features_covariances(gen.weights, activation)
    est = estimate_covariances(gen, n_samples=40_000, batch_size=2000, groups=20, seed=6, progress=False)
    for exact, mc, se in ((omega, est.omega, est.omega_se), (phi, est.phi, est.phi_se)):
        ratio = np.sum((mc - exact) ** 2) / np.sum(se**2)
        assert 0.6 < ratio < 1.6, ratio
    s = np.linalg.eigvalsh(omega)[::-1]
    assert abs(s[0] - est.eigvals[0]) < 4 * est.eigvals_se[0]
    spec_ge = random_features_spectrum(gen.weights, activation)
    spec_mc = Spectrum.from_estimate(est)
    assert abs(spec_ge.s.mean() - spec_mc.s.mean()) < 0.01 * spec_ge.s.mean()


def test_random_features_relu_exact_parts_against_monte_carlo():
    """Reference: simulation. Stein's lemma makes Phi and diag(Omega) exact for any rows, also for relu
    (whose off-diagonal GE form misses kappa_2 terms)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((25, 10)) * rng.uniform(0.5, 2.0, size=(25, 1)) / np.sqrt(10)
    gen = SingleLayer.from_weights(w, "relu")
    omega, phi = random_features_covariances(w, "relu")
    est = estimate_covariances(gen, n_samples=100_000, batch_size=2000, groups=25, seed=1, progress=False)
    assert np.max(np.abs(est.phi - phi) / est.phi_se) < 6
    d = np.abs(np.diag(est.omega) - np.diag(omega)) / np.diag(est.omega_se)
    assert np.max(d) < 6


def test_random_features_unit_rows_is_kappa_form():
    """Reference: closed form of theory §3.3, Omega = k1^2 F F^T + k*^2 I, Phi = k1 F, for unit rows."""
    rng = np.random.default_rng(1)
    f = rng.standard_normal((15, 8))
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    k = kappas("tanh")
    omega, phi = random_features_covariances(f, "tanh")
    np.testing.assert_allclose(omega, k.kappa1**2 * f @ f.T + k.kappa_star**2 * np.eye(15), atol=1e-13)
    np.testing.assert_allclose(phi, k.kappa1 * f, atol=1e-14)


def test_deep_sign_one_layer_equals_ge_sign_form():
    """Reference: closed form. With one layer of unit rows the recursion is b^2 F F^T + (1 - b^2) I."""
    rng = np.random.default_rng(2)
    f = rng.standard_normal((12, 6))
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    omega, phi = deep_sign_covariances([f])
    ref_o, ref_p = random_features_covariances(f, "sign")
    np.testing.assert_allclose(omega, ref_o, atol=1e-13)
    np.testing.assert_allclose(phi, ref_p, atol=1e-14)


def test_deep_sign_recursion_by_hand():
    """Reference: the theory §3.4 recursion written out by hand for two layers. (Against simulation the
    recursion is only an approximation: at width 40 its Phi is off by ~17 % in Frobenius norm, mostly
    from the O(width^-1/2) spread of the row norms it ignores; Monte Carlo is the reference for L >= 2.)"""
    gen = DeepRandom([40, 40, 60], "sign", seed=3)
    w1, w2 = gen.weights
    b2 = 2 / np.pi
    sig1 = b2 * w1 @ w1.T + (1 - b2) * np.eye(40)
    om2 = b2 * w2 @ sig1 @ w2.T
    np.fill_diagonal(om2, 1.0)
    omega, phi = deep_sign_covariances(gen.weights)
    np.testing.assert_allclose(omega, om2, atol=1e-13)
    np.testing.assert_allclose(phi, b2 * w2 @ w1, atol=1e-13)
    assert np.all(np.linalg.eigvalsh(omega) > 0)
    spec = deep_sign_spectrum(gen.weights, theta=np.ones(40))
    assert spec.teacher == "fixed" and spec.p == 60


def test_spectrum_helpers_fixed_and_averaged():
    """Reference: Spectrum.from_covariances on the same exact covariances."""
    gen = SingleLayer(10, 14, "sign", seed=0)
    omega, phi = single_layer_covariances(gen.weights, "sign")
    theta = np.arange(10.0)
    ref = Spectrum.from_covariances(omega=omega, phi=phi, psi=np.eye(10), theta=theta)
    got = single_layer_spectrum(gen.weights, "sign", theta)
    np.testing.assert_allclose(got.t, ref.t)
    assert single_layer_spectrum(gen.weights, "sign").teacher == "averaged"


def test_analytic_bad_input():
    with pytest.raises(ValueError, match="exact covariances exist for activation 'sign' or 'erf'"):
        single_layer_covariances(np.eye(3), "tanh")
    with pytest.raises(ValueError, match="weights must be a 2-d array"):
        single_layer_covariances(np.ones(3), "sign")
    with pytest.raises(ValueError, match="row 1 is zero"):
        single_layer_covariances(np.array([[1.0, 0.0], [0.0, 0.0]]), "sign")
    with pytest.raises(ValueError, match="NaN or inf"):
        random_features_covariances(np.array([[np.nan, 1.0]]), "erf")
    with pytest.raises(ValueError, match="do not chain"):
        deep_sign_covariances([np.ones((3, 2)), np.ones((4, 2))])
    with pytest.raises(TypeError, match="non-empty sequence"):
        deep_sign_covariances([])
