"""Linear-programming separability simulations (validation.simulate_separability) against Cover's exact finite-size
law and against the asymptotic threshold replica.separability_threshold (docs/separability.md §7).

Every randomised criterion is a confidence statement at level 1 - 1e-6 (binomial error bars, order-statistic
intervals for the median), so it holds at any seed, not only at the seeds below."""

import numpy as np
import pytest
from scipy import stats

from replica import Channel, separability_threshold
from spectra import Spectrum
from tests.helpers import assert_flat_table
from validation import SeparabilityResult, is_separable, simulate_separability

#: One-sided normal quantile of the per-point binomial checks (with Bonferroni over <= 10 points, family 1e-6).
Z_POINT = stats.norm.isf(1e-6 / 20)
#: Confidence level of the median interval.
LEVEL = 1 - 1e-6
#: Finite-size tolerance of the 1/2-crossing: the crossing of a finite system sits a few samples from rank/h;
#: we allow 2/h samples, i.e. a relative 2/rank(Omega) of the threshold (docs/separability.md §7).
FINITE_SIZE_SAMPLES = 2.0


def _structured(p, frac_visible=0.7, rank_frac=0.8):
    """A non-isotropic, rank-deficient spectrum (s_i = i^-1/2 on the first 80% of directions, zero after) with
    the teacher spread unevenly over the kept directions and 30% of its variance invisible to the student."""
    r = int(round(rank_frac * p))
    s = np.zeros(p)
    s[:r] = (np.arange(r) + 1.0) ** -0.5
    t = np.zeros(p)
    t[:r] = s[:r] * np.linspace(0.2, 1.8, r)
    t *= frac_visible * p / np.sum(t[:r] / s[:r])
    return Spectrum.from_arrays(s, t, rho=1.0, gamma=1.0, teacher="fixed")


def _crossing_agrees(res: SeparabilityResult, theory: float) -> tuple[bool, tuple[float, float], float]:
    lo, hi = res.median_interval(LEVEL)
    tol = FINITE_SIZE_SAMPLES * theory / res.rank
    return lo - tol <= theory <= hi + tol, (lo, hi), tol


def test_is_separable_small_cases():
    """Reference: hand-checkable configurations. Three points with labels realisable by w = (1, 1) are separable;
    all-positive labels with the origin inside their convex hull are not; a point and its negative with equal
    labels are not; d >= n points in general position always are."""
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    assert is_separable(X, [1, 1, -1])
    assert not is_separable(X, [1, 1, 1])
    assert not is_separable(np.array([[1.0, 2.0], [-1.0, -2.0]]), [1, 1])
    rng = np.random.default_rng(0)
    assert is_separable(rng.standard_normal((10, 12)), np.sign(rng.standard_normal(10)))


def test_is_separable_rejects_bad_input():
    """Reference: the documented argument checks (labels +-1, matching lengths)."""
    with pytest.raises(ValueError, match="labels -1 and \\+1"):
        is_separable(np.eye(2), [1, 0])
    with pytest.raises(ValueError, match="y must have length 2"):
        is_separable(np.eye(2), [1, 1, 1])


def test_cover_exact_finite_size_law():
    """Reference: Cover's function counting theorem, exact at finite size: n Gaussian points in R^r with labels
    independent of them are separable with probability P(Bin(n - 1, 1/2) <= r - 1). The teacher is invisible to
    the student (rho_lin = 0) and Omega has rank 20 of p = 25 with unequal eigenvalues (60 draws). At every alpha the
    fraction of separable draws is within Z_POINT binomial standard errors of the exact law, the median
    interval contains the exact crossing alpha = 2r/p, and so does it for the threshold of the theory."""
    p, r = 25, 20
    s = np.r_[np.geomspace(3.0, 0.2, r), np.zeros(p - r)]
    spec = Spectrum.from_arrays(s, np.zeros(p), rho=1.0, gamma=1.0)
    res = simulate_separability(spec, Channel.sign(flip=0.1), alpha_max=2.8, draws=60, seed=0, progress=False)
    assert res.rank == r and not res.censored.any()
    alphas = np.arange(1.2, 2.01, 0.08)
    n = np.rint(alphas * p).astype(int)
    exact = stats.binom.cdf(r - 1, n - 1, 0.5)
    se = np.sqrt(np.maximum(exact * (1 - exact), 1.0 / res.draws) / res.draws)
    assert np.all(np.abs(res.fraction(alphas) - exact) <= Z_POINT * se), (res.fraction(alphas), exact)
    lo, hi = res.median_interval(LEVEL)
    assert lo <= 2 * r / p <= hi
    assert separability_threshold(spec, Channel.sign(flip=0.1)) == 2 * r / p


def test_crossing_matches_the_theory_on_a_structured_spectrum():
    """Reference: replica.separability_threshold (asymptotic). Labels from a sign teacher with 5% flips, 30% of the
    teacher variance invisible to the student, a rank-deficient power-law spectrum (p = 30, rank 24): the median
    critical alpha of 50 draws has a 1 - 1e-6 order-statistic interval that, widened by the finite-size
    tolerance 2 alpha_sep/rank, contains alpha_sep."""
    spec, ch = _structured(30), Channel.sign(flip=0.05)
    theory = separability_threshold(spec, ch)
    res = simulate_separability(spec, ch, alpha_max=1.6 * theory, draws=50, seed=1, progress=False)
    ok, interval, tol = _crossing_agrees(res, theory)
    assert ok, (theory, interval, tol)


def test_result_api():
    """The result's documented behaviour: fractions fall with alpha from 1, fraction() refuses alphas beyond
    n_max (censored draws are undetermined there), too few draws for the interval level raise, to_dict is plain."""
    spec = Spectrum.from_arrays(np.ones(10), np.zeros(10), rho=1.0, gamma=1.0)
    res = simulate_separability(spec, Channel.sign(), alpha_max=3.0, draws=5, seed=3, progress=False)
    f = res.fraction([0.5, 1.0, 2.0, 3.0])
    assert f[0] == 1.0 and np.all(np.diff(f) <= 0)
    with pytest.raises(ValueError, match="n_max"):
        res.fraction([3.5])
    with pytest.raises(ValueError, match="too few"):
        res.median_interval(LEVEL)
    assert res.status == ("censored" if res.censored.any() else "converged")
    assert_flat_table(res.to_dict(), rows=5)
    np.testing.assert_array_equal(res.to_dict()["n_critical"], res.n_critical)
    assert set(res.to_dict()["p"]) == {10}


def test_status_says_whether_every_critical_size_is_exact():
    """Reference: Cover's count. n <= rank points in general position are always separable, so with
    n_max = 5 < 10 dimensions every draw is censored; with n_max = 60 a draw is censored with probability
    P(60 random-label points in 10 dimensions separable) = 2^-59 sum_{k<10} C(59, k) < 3e-8 (any seed)."""
    spec = Spectrum.from_arrays(np.ones(10), np.zeros(10), rho=1.0, gamma=1.0)
    short = simulate_separability(spec, Channel.sign(), alpha_max=0.5, draws=3, seed=0, progress=False)
    assert short.censored.all() and short.status == "censored" and not short.converged
    assert short.to_dict()["status"].tolist() == ["censored"] * 3
    long = simulate_separability(spec, Channel.sign(), alpha_max=6.0, draws=3, seed=0, progress=False)
    assert long.status == "converged" and long.converged and not long.censored.any()


def test_simulation_rejects_bad_input():
    """Reference: the documented argument checks."""
    spec = Spectrum.isotropic(10)
    with pytest.raises(ValueError, match="labels -1 and \\+1"):
        simulate_separability(spec, Channel.linear(), alpha_max=2.0, seed=0)
    with pytest.raises(ValueError, match="alpha_max"):
        simulate_separability(spec, Channel.sign(), alpha_max=0.0, seed=0)
    with pytest.raises(TypeError, match="draws"):
        simulate_separability(spec, Channel.sign(), alpha_max=2.0, draws=2.0, seed=0)
    with pytest.raises(TypeError, match="seed"):
        simulate_separability(spec, Channel.sign(), alpha_max=2.0, seed=None)
    with pytest.raises(TypeError, match="spectrum"):
        simulate_separability(np.eye(3), Channel.sign(), alpha_max=2.0, seed=0)


def test_fully_visible_sign_teacher_is_separable_at_every_alpha():
    """Reference: the teacher separates its own noiseless labels: every draw is censored (separable at n_max)."""
    res = simulate_separability(Spectrum.isotropic(20), Channel.sign(), alpha_max=6.0, draws=4, seed=0,
                                progress=False)
    assert res.censored.all() and res.median() == np.inf


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", ["structured flip", "isotropic logit (Candes-Sur)"])
def test_crossing_matches_the_theory_at_larger_p(case, seed):
    """Reference: replica.separability_threshold. p = 160 (rank 128 for the structured spectrum, 160 for the
    isotropic one), 100 draws, at several seeds: the 1 - 1e-6 median interval widened by 2 alpha_sep/rank contains
    alpha_sep, and excludes a threshold 15% off on either side (the criterion has power)."""
    if case == "structured flip":
        spec, ch = _structured(160), Channel.sign(flip=0.05)
    else:  # Candes & Sur: P(y = 1 | x) = sigma(x . beta), Var(x . beta) = gamma_s^2 = 4
        spec, ch = Spectrum.isotropic(160, rho=4.0), Channel.from_likelihood("1/(1 + exp(-y*z))")
    theory = separability_threshold(spec, ch)
    res = simulate_separability(spec, ch, alpha_max=1.4 * theory, draws=100, seed=seed, progress=False)
    ok, (lo, hi), tol = _crossing_agrees(res, theory)
    print(f"{case}, seed {seed}: alpha_sep {theory:.4f}, median {res.median():.4f}, interval ({lo:.4f}, {hi:.4f}), "
          f"tolerance {tol:.4f}, censored {int(res.censored.sum())}, LPs {res.lp_solves}")
    assert ok, (theory, (lo, hi), tol)
    assert hi + tol < 1.15 * theory and lo - tol > 0.85 * theory, (theory, (lo, hi), tol)


def test_progress_none_draws_no_bar_off_a_terminal(monkeypatch):
    """Reference: gaussequiv.progress.show. With progress=None and standard error redirected (not a TTY) the bar is
    disabled, whatever the run's length (the old rule, ``disable=progress is False``, drew it after 3 s);
    progress=True enables it."""
    import io
    import sys

    import validation.separable as sep

    seen = []

    def recorder(iterable, **kwargs):
        seen.append(kwargs["disable"])
        return iterable

    monkeypatch.setattr(sep, "tqdm", recorder)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    spec = Spectrum.from_arrays(np.ones(5), np.zeros(5), rho=1.0, gamma=1.0)
    for progress in (None, True):
        simulate_separability(spec, Channel.sign(), alpha_max=3.0, draws=1, seed=0, progress=progress)
    assert seen == [True, False]
