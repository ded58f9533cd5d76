"""The solver at p = infinity: random features against the Mei-Montanari closed form and against finite-p matrices
and simulations; per-sample power laws against their finite-cutoff Spectrum, and their error rates against Cui,
Loureiro, Krzakala & Zdeborova (arXiv:2105.15004); the drivers and the command line."""

import csv

import mpmath as mp
import numpy as np
import pytest

from gaussequiv.cli import main as cli_main
from replica import (
    Channel,
    Loss,
    kernel_learning_curve,
    lambda_from_mei_montanari,
    mei_montanari_lambda,
    random_features_curve,
    solve,
)
from spectra import SpectralDensity, Spectrum
from spectra.analytic import kappas
from validation.fit import design, fit


# ------------------------------------------------------------------------------------ Mei & Montanari closed form
def mei_montanari_risk(psi1, psi2, lam_bar, zeta, f1_sq, tau_sq):
    """The p = infinity ridge risk of Mei & Montanari (arXiv:1908.05355) as written in theory §6.3 (F_* = 0),
    implemented independently of the library: nu_j = i b_j on the axis xi = i sqrt(psi1 psi2 lam_bar), the real
    equations for b_1, b_2 > 0 solved by a damped fixed point and polished by mpmath's findroot at 30 digits."""
    with mp.workdps(30):
        psi1, psi2, lam_bar, z = (mp.mpf(v) for v in (psi1, psi2, lam_bar, zeta))
        x, z2 = mp.sqrt(psi1 * psi2 * lam_bar), z * z

        def rhs(b1, b2):
            return (psi1 / (x + b2 + z2 * b2 / (1 + z2 * b1 * b2)), psi2 / (x + b1 + z2 * b1 / (1 + z2 * b1 * b2)))

        b1, b2 = mp.mpf(1), mp.mpf(1)
        for _ in range(500):
            n1, n2 = rhs(b1, b2)
            b1, b2 = (b1 + n1) / 2, (b2 + n2) / 2
        b1, b2 = mp.findroot(lambda u, v: [u - rhs(u, v)[0], v - rhs(u, v)[1]], (b1, b2))
        assert b1 > 0 and b2 > 0
        chi = -b1 * b2
        e0 = (-chi**5 * z**6 + 3 * chi**4 * z**4 + (psi1 * psi2 - psi2 - psi1 + 1) * chi**3 * z**6
              - 2 * chi**3 * z**4 - 3 * chi**3 * z**2 + (psi1 + psi2 - 3 * psi1 * psi2 + 1) * chi**2 * z**4
              + 2 * chi**2 * z**2 + chi**2 + 3 * psi1 * psi2 * chi * z**2 - psi1 * psi2)
        e1 = psi2 * chi**3 * z**4 - psi2 * chi**2 * z**2 + psi1 * psi2 * chi * z**2 - psi1 * psi2
        e2 = (chi**5 * z**6 - 3 * chi**4 * z**4 + (psi1 - 1) * chi**3 * z**6 + 2 * chi**3 * z**4
              + 3 * chi**3 * z**2 + (-psi1 - 1) * chi**2 * z**4 - 2 * chi**2 * z**2 - chi**2)
        return float(f1_sq * e1 / e0 + tau_sq * e2 / e0)


MM_POINTS = [(0.5, 2.0, 1e-3, 0.1), (2.0, 2.0, 1e-3, 0.1), (1.0, 2.0, 1e-3, 0.1), (3.0, 0.7, 0.1, 0.0),
             (0.3, 5.0, 1.0, 0.5)]


@pytest.mark.parametrize("activation", ["erf", "sign", "tanh"])
@pytest.mark.parametrize("psi1, psi2, lam, noise", MM_POINTS)
def test_ridge_on_random_features_density_matches_mei_montanari(activation, psi1, psi2, lam, noise):
    """Reference: the Mei-Montanari closed form (theory §6.3, :func:`mei_montanari_risk`), with the mapping
    psi1 = 1/gamma, psi2 = alpha/gamma, lambda_MM = lam gamma/alpha, zeta = kappa1/kappa_*, F1^2 = rho, tau^2 = noise.
    Agreement to 1e-8 (measured: 1e-15) verifies both the density quadrature and the lambda mapping; it includes
    p = n (psi1 = psi2, the interpolation peak) and p > D (an atom at kappa_*^2)."""
    k = kappas(activation)
    gamma, alpha = 1.0 / psi1, psi2 / psi1
    lam_bar = mei_montanari_lambda(lam, alpha, gamma) / k.kappa_star**2
    ref = mei_montanari_risk(psi1, psi2, lam_bar, k.kappa1 / k.kappa_star, 1.0, noise)
    sol = solve(SpectralDensity.random_features(psi1, activation), Loss.square(), Channel.linear(noise), alpha, lam)
    assert sol.test_error == pytest.approx(ref, rel=1e-8)


def test_random_features_curve_along_p_over_n_matches_mei_montanari_in_both_lambda_conventions():
    """Reference: the Mei-Montanari closed form along p/n at fixed n/D (their double descent axis), with the penalty
    given in our convention and in theirs (lambda_MM = lam/psi2, fixed along the curve)."""
    k = kappas("sign")
    grid = np.array([0.3, 0.8, 1.0, 1.25, 3.0])
    psi2, lam_mm = 1.5, 2e-3
    ours = random_features_curve("sign", Loss.square(), Channel.linear(0.2), grid, n_over_d=psi2, lam=lam_mm * psi2)
    theirs = random_features_curve("sign", Loss.square(), Channel.linear(0.2), grid, n_over_d=psi2, lam=lam_mm,
                                   lam_convention="mei-montanari")
    assert ours.lam_mei_montanari == pytest.approx(lam_mm) and theirs.lam == pytest.approx(lam_mm * psi2)
    assert np.allclose(ours.test_error, theirs.test_error, rtol=1e-12)
    refs = [mei_montanari_risk(r * psi2, psi2, lam_mm / k.kappa_star**2, k.kappa1 / k.kappa_star, 1.0, 0.2)
            for r in grid]
    assert np.allclose(ours.test_error, refs, rtol=1e-8)
    assert np.argmax(ours.test_error) == 2  # the peak sits at p = n
    assert lambda_from_mei_montanari(mei_montanari_lambda(0.7, 2.0, 0.5), 2.0, 0.5) == pytest.approx(0.7)


# ------------------------------------------------------------------------------- finite p converges to p = infinity
def _finite_p_error(activation, p, ratio, seed, loss, channel, alpha, lam):
    """Test error on the GCM of one sampled F (p x D, N(0, 1/D) entries), teacher averaged (t_i = kappa1^2 lambda_i)."""
    k = kappas(activation)
    D = round(p / ratio)
    F = np.random.default_rng([seed, p]).standard_normal((p, D)) / np.sqrt(D)
    omega = k.kappa1**2 * F @ F.T + k.kappa_star**2 * np.eye(p)
    spec = Spectrum.from_covariances_averaged(omega=omega, phi=k.kappa1 * F, psi=np.eye(D))
    return solve(spec, loss, channel, alpha, lam).test_error


@pytest.mark.parametrize("loss, channel, bound", [(Loss.square(), Channel.linear(0.1), 4.0),
                                                  (Loss.logistic(), Channel.sign(), 1.0)])
def test_finite_p_matrix_spectra_converge_to_the_density(loss, channel, bound):
    """Reference: the density result. Matrix spectra of sampled F deviate from it by O(1/p): measured rms
    0.55/p (ridge) and 0.1/p (logistic) for p = 100..1600 (see the slow test); every seed must lie within
    bound/p (about 7 standard deviations), at p = 60 and p = 240."""
    ratio, alpha, lam = 2.0, 0.5, 0.1
    ref = solve(SpectralDensity.random_features(ratio, "erf"), loss, channel, alpha, lam).test_error
    for p in (60, 240):
        errs = [abs(_finite_p_error("erf", p, ratio, seed, loss, channel, alpha, lam) - ref) for seed in range(4)]
        assert max(errs) < bound / p, (p, errs)


@pytest.mark.slow
def test_finite_p_convergence_rate_is_one_over_p():
    """Reference: the density result; the rms deviation of matrix spectra over seeds falls like p^-1 (fitted slope
    in [-1.25, -0.75] over p = 100..1600; measured -0.98)."""
    ratio, alpha, lam = 2.0, 0.5, 0.1
    ref = solve(SpectralDensity.random_features(ratio, "erf"), Loss.square(), Channel.linear(0.1), alpha,
                lam).test_error
    ps = np.array([100, 200, 400, 800, 1600])
    rms = []
    for p in ps:
        errs = [_finite_p_error("erf", int(p), ratio, seed, Loss.square(), Channel.linear(0.1), alpha, lam) - ref
                for seed in range(16)]
        rms.append(np.sqrt(np.mean(np.square(errs))))
    slope = np.polyfit(np.log(ps), np.log(rms), 1)[0]
    assert -1.25 < slope < -0.75, (slope, rms)


# -------------------------------------------------------------------------------- logistic against a simulation
def _simulate_logistic_rf(p_over_n, n_over_d, D, lam, seeds, activation="erf"):
    """Direct simulation of logistic ERM on Gaussian-equivalent random features v = kappa1 F c + kappa_* z with a
    sign teacher on the latent c; the test error of each fit is the exact Gaussian one, arccos(m/sqrt(rho q))/pi
    with q = w'Omega w/p, m = w'Phi theta/sqrt(pD), rho = |theta|^2/D (no test-set noise). Teacher and F redrawn
    per seed (the density is their p = infinity limit)."""
    k = kappas(activation)
    n = round(n_over_d * D)
    p = round(p_over_n * n)
    out = []
    for seed in range(seeds):
        rng = np.random.default_rng([seed, p, D, 11])
        F = rng.standard_normal((p, D)) / np.sqrt(D)
        theta = rng.standard_normal(D)
        c = rng.standard_normal((n, D))
        v = k.kappa1 * c @ F.T + k.kappa_star * rng.standard_normal((n, p))
        y = np.where(c @ theta >= 0, 1.0, -1.0)
        res = fit(Loss.logistic(), design(v), y, lam, tol=1e-7)
        assert res.converged
        w = res.w
        q = (k.kappa1**2 * np.sum((F.T @ w) ** 2) + k.kappa_star**2 * w @ w) / p
        m = k.kappa1 * (w @ F @ theta) / np.sqrt(p * D)
        rho = theta @ theta / D
        out.append(np.arccos(np.clip(m / np.sqrt(rho * q), -1, 1)) / np.pi)
    out = np.array(out)
    return out.mean(), out.std(ddof=1) / np.sqrt(seeds)


def _check_logistic_against_simulation(grid, n_over_d, D, lam, seeds):
    theory = random_features_curve("erf", Loss.logistic(), Channel.sign(), grid, n_over_d=n_over_d, lam=lam)
    assert theory.converged.all()
    for r, th in zip(grid, theory.test_error, strict=True):
        mean, se = _simulate_logistic_rf(r, n_over_d, D, lam, seeds)
        # 5 standard errors plus the O(1/p) finite-size bias (measured ~0.1/p above)
        assert abs(mean - th) < 5 * se + 0.5 / (r * n_over_d * D), (r, mean, se, th)


def test_logistic_random_features_along_p_over_n_matches_simulation():
    """Reference: a finite-size simulation (logistic ERM on Gaussian-equivalent random features, D = 60, n = 120,
    p = 60, 120 and 240, 12 seeds) agrees with the p = infinity curve within 5 standard errors plus an O(1/p)
    allowance (measured |z| < 1)."""
    _check_logistic_against_simulation(np.array([0.5, 1.0, 2.0]), 2.0, 60, 0.1, 12)


@pytest.mark.slow
def test_logistic_random_features_along_p_over_n_matches_simulation_large():
    """Reference: as the fast test, at D = 500 (n = 1000, p = 250..3000) with 10 seeds, across the p = n region."""
    _check_logistic_against_simulation(np.array([0.25, 0.8, 1.0, 1.5, 3.0]), 2.0, 500, 0.05, 10)


# ------------------------------------------------------------------------------------------------ power laws
def test_power_law_cutoff_is_the_finite_spectrum_at_alpha_n_over_p():
    """Reference: the finite Spectrum of P modes s_i = P i^-a, t_i = k s_i c_i solved at alpha = n/P (a GCM with P
    features). The per-sample density with cutoff P (alpha = n, compressed sums for P = 5000) gives the same
    overlaps to 1e-9, for ridge at lam > 0 and lam = 0 and for logistic."""
    from scipy.special import zeta

    a, b, rho = 1.7, 2.4, 1.0
    for P in (400, 5000):
        i = np.arange(1, P + 1, dtype=float)
        c = rho * i**-b / zeta(b)
        gamma = 0.8
        s = P * i**-a
        spec = Spectrum.from_arrays(s, gamma * P * s * c, rho=rho, gamma=gamma)
        dens = SpectralDensity.power_law(a, b, cutoff=P, rho=rho)
        for loss, channel, n, lam in [(Loss.square(), Channel.linear(0.3), 300.0, 0.05),
                                      (Loss.square(), Channel.linear(0.3), 300.0, 0.0),
                                      (Loss.square(), Channel.linear(0.3), 9000.0, 0.0),
                                      (Loss.logistic(), Channel.sign(), 300.0, 0.5)]:
            x = solve(spec, loss, channel, n / P, lam)
            y = solve(dens, loss, channel, n, lam)
            for f in ("q", "m", "test_error"):
                assert getattr(y, f) == pytest.approx(getattr(x, f), rel=1e-9), (P, loss.name, n, lam, f)


@pytest.mark.parametrize("a, b", [(2.0, 2.5), (3.0, 2.0), (1.5, 3.0)])
def test_power_law_cutoff_converges_to_no_cutoff(a, b):
    """Reference: the no-cutoff density, approached like P^(1-a). Derivation: the modes beyond P change
    V = sum_i w_i s_i/(lam + V_hat s_i) by sum_{i>P} s_i/lam ~ P^(1-a) (an effective extra ridge); their teacher
    variance sum_{i>P} c_i counts as error in both cases (unseen, or seen but unlearnt since n s_i << lam) and
    differs only by O(P^(1-a-b)). Measured local exponents within 0.02 of a - 1 (n = 1000, lam = 1)."""
    n = 1000.0
    inf = solve(SpectralDensity.power_law(a, b), Loss.square(), Channel.linear(), n, 1.0).test_error
    gaps = []
    for P in (2000, 20000, 200000):
        e = solve(SpectralDensity.power_law(a, b, cutoff=P), Loss.square(), Channel.linear(), n, 1.0).test_error
        gaps.append(abs(e - inf))
    slopes = -np.diff(np.log(gaps)) / np.log(10)
    assert np.all(np.abs(slopes - (a - 1)) < 0.05), slopes


RATE_CASES = [
    # (a = capacity, r = source, l = decay of lambda_K = n^-l, noise, window of n, predicted exponent)
    (2.0, 0.3, 0.5, 0.0, (1e7, 1e9), 2 * 0.5 * 0.3),        # noiseless, l < a: 2 l min(r, 1)
    (2.0, 0.3, 3.0, 0.0, (1e5, 1e7), 2 * 2.0 * 0.3),        # noiseless, l > a (effectively ridgeless): 2 a min(r, 1)
    (1.5, 1.5, 0.5, 0.0, (1e7, 1e9), 2 * 0.5 * 1.0),        # saturation r > 1: 2 l min(r, 1) = 2 l, not 2 l r
    (2.0, 0.3, 0.3, 1.0, (1e7, 1e9), 2 * 0.3 * 0.3),        # noisy, l < l* = a/(1 + 2a min(r,1)): bias-dominated
    (2.0, 0.3, 1.5, 1.0, (1e7, 1e9), 1 - 1.5 / 2.0),        # noisy, l* < l < a: 1 - l/a
    (2.0, 0.3, 3.0, 1.0, (1e7, 1e9), 0.0),                  # noisy, l > a: the excess error does not decay
]


@pytest.mark.parametrize("a, r, ell, noise, window, rate", RATE_CASES)
def test_ridge_error_rates_on_power_laws_match_cui_et_al(a, r, ell, noise, window, rate):
    """Reference: the excess-error exponents of kernel ridge regression of Cui, Loureiro, Krzakala & Zdeborova
    (arXiv:2105.15004): omega_k = k^-a, teacher variance per mode k^-(1 + 2 a r), lambda_K = n^-l, noise sigma^2:
    eps_g - sigma^2 ~ n^-beta with beta = 2 min(l, a) min(r, 1) (noiseless) and beta = min(2 l min(r,1), 1 - l/a)
    for l < a, 0 for l > a (noisy). Our clean-target test error is their eps_g - sigma^2. The local slope over the
    window is within 0.01 of beta, closer than over a window 100 times smaller n (approach to the asymptote)."""
    pl = SpectralDensity.power_law(a, 1 + 2 * a * r)
    lo, hi = window
    ns = np.array([lo / 100, lo, hi])
    curve = kernel_learning_curve(pl, Loss.square(), Channel.linear(noise), ns, ns**-ell)
    assert curve.all_converged and np.all(curve.test_error > 1e-12)
    slopes = -np.diff(np.log(curve.test_error)) / np.diff(np.log(ns))
    assert abs(slopes[1] - rate) < 0.01, slopes
    assert abs(slopes[1] - rate) <= abs(slopes[0] - rate) + 1e-3, slopes


def test_noise_induced_crossover_on_a_power_law():
    """Reference: Cui et al.'s crossover: with small noise and l > l* = a/(1 + 2a min(r, 1)), the learning curve
    first decays at the noiseless rate 2 l min(r, 1) and then at the noisy rate 1 - l/a."""
    a, r, ell, noise = 2.0, 0.5, 1.2, 1e-6  # l* = 2/3: noiseless rate 1.2, noisy rate 0.4
    pl = SpectralDensity.power_law(a, 1 + 2 * a * r)
    ns = np.array([1e4, 1e5, 1e10, 1e11])
    e = kernel_learning_curve(pl, Loss.square(), Channel.linear(noise), ns, ns**-ell).test_error
    early = -np.log(e[1] / e[0]) / np.log(10)
    late = -np.log(e[3] / e[2]) / np.log(10)
    assert abs(early - 2 * ell * r) < 0.02 and abs(late - (1 - ell / a)) < 0.01, (early, late)


def test_kernel_learning_curve_checks_its_inputs():
    """A per-feature density is refused with a pointer to learning_curve; lam_per_sample must match n."""
    with pytest.raises(TypeError, match="per-sample"):
        kernel_learning_curve(SpectralDensity.marchenko_pastur(2.0), Loss.square(), Channel.linear(), [10.0], 0.1)
    with pytest.raises(ValueError, match="lam_per_sample"):
        kernel_learning_curve(SpectralDensity.power_law(2.0, 2.0), Loss.square(), Channel.linear(), [1.0, 2.0],
                              [0.1, 0.2, 0.3])


def test_random_features_curve_checks_its_inputs():
    """Unknown conventions, bad grids and even activations are refused, naming the argument."""
    with pytest.raises(ValueError, match="lam_convention"):
        random_features_curve("erf", Loss.square(), Channel.linear(), [1.0], n_over_d=1.0, lam=0.1,
                              lam_convention="hastie")
    with pytest.raises(ValueError, match="p_over_n"):
        random_features_curve("erf", Loss.square(), Channel.linear(), [0.0, 1.0], n_over_d=1.0, lam=0.1)
    with pytest.raises(ValueError, match="n_over_d"):
        random_features_curve("erf", Loss.square(), Channel.linear(), [1.0], n_over_d=-1.0, lam=0.1)
    with pytest.raises(ValueError, match="kappa1"):
        random_features_curve(np.cos, Loss.square(), Channel.linear(), [1.0], n_over_d=1.0, lam=0.1, smooth=True)


def test_random_features_curve_csv_and_dict(tmp_path):
    """The result writes one CSV row per point with the p/n axis and the conventions, and converts to a flat dict."""
    c = random_features_curve("relu", Loss.logistic(), Channel.sign(), [0.5, 1.5], n_over_d=1.0, lam=0.1)
    c.to_csv(tmp_path / "rf.csv")
    rows = list(csv.DictReader(open(tmp_path / "rf.csv")))
    assert [float(r["p_over_n"]) for r in rows] == [0.5, 1.5]
    assert float(rows[1]["alpha"]) == pytest.approx(1 / 1.5) and rows[0]["status"] == "converged"
    table = c.to_dict()  # flat: arrays one entry per point, scalars that broadcast (a DataFrame's layout)
    assert set(table) >= {"p_over_n", "n_over_d", "lam_mei_montanari", "alpha", "test_error", "status"}
    assert {np.shape(v) for v in table.values() if np.ndim(v) > 0} == {(2,)}
    assert np.array_equal(table["test_error"], c.test_error)


def test_predict_cli_random_features(tmp_path, capsys):
    """`gaussequiv predict --random-features` runs the p = infinity curve without a spectrum file."""
    out = tmp_path / "rf.csv"
    code = cli_main(["predict", "--random-features", "erf", "--n-over-d", "2", "--p-over-n", "0.5:2:4",
                     "--loss", "square", "--channel", "linear:0.1", "--lam", "1e-3",
                     "--lam-convention", "mei-montanari", "--out", str(out)])
    assert code == 0
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 4 and all(r["status"] == "converged" for r in rows)
    assert float(rows[0]["lam"]) == pytest.approx(2e-3)
    assert "p/n" in capsys.readouterr().out
    assert cli_main(["predict", "--out", str(out)]) == 2  # neither a spectrum nor --random-features
