"""Solver behaviour: agreement of independent routes, properties over a broad domain, statuses, bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replica import Channel, ConvergenceError, Loss, NonConvexLossError, solve, solve_square
from spectra import Spectrum

PAIRS = [(Loss.square(), Channel.linear(0.2)), (Loss.logistic(), Channel.sign()), (Loss.hinge(), Channel.sign(0.05)),
         (Loss.square(), Channel.probit(0.3)), (Loss.logistic(), Channel.probit(0.3)),
         (Loss.huber(0.5), Channel.linear(0.5))]


def _random_spectrum(seed: int, p: int = 60, gamma: float = 1.0) -> Spectrum:
    rng = np.random.default_rng(seed)
    s = rng.gamma(0.7, size=p)
    frac = rng.dirichlet(np.ones(p))
    rho = 1.0 + rng.random()
    # t_i = k rho_lin s_i frac_i with rho_lin = 0.8 rho keeps t_i <= k rho s_i and rho_lin <= rho
    k = gamma * p
    t = 0.8 * rho * k * frac * s / np.sum(frac)
    return Spectrum.from_arrays(s, t, rho=rho, gamma=gamma)


@pytest.mark.parametrize("loss,channel", PAIRS, ids=lambda v: v.name)
def test_informed_and_uninformed_starts_agree(loss, channel):
    """Convex ERM with lam > 0 has a unique fixed point (theory §2.6): both reference starts reach it."""
    spec = _random_spectrum(1)
    a = solve(spec, loss, channel, 1.7, 0.05)
    b = solve(spec, loss, channel, 1.7, 0.05, init="informed")
    c = solve(spec, loss, channel, 1.7, 0.05, acceleration=False, damping=0.3, tol=1e-12, max_iter=20000)
    for other in (b, c):
        assert other.test_error == pytest.approx(a.test_error, rel=1e-8)
        assert other.q == pytest.approx(a.q, rel=1e-8)


def test_square_loss_routes_agree():
    """The closed-form fixed point, the sympy-derived square loss (quadrature, sympy-solved prox) and the scalar
    reduction are three independent routes to one ridge solution."""
    spec = _random_spectrum(2, gamma=1.3)
    symbolic = Loss.from_expr("(y - z)**2/2")
    for ch in (Channel.linear(0.3), Channel.sign(), Channel.probit(0.2)):
        a = solve(spec, Loss.square(), ch, 0.8, 0.1, tol=1e-12)
        b = solve(spec, symbolic, ch, 0.8, 0.1, tol=1e-12)
        c = solve_square(spec, ch, 0.8, 0.1)
        for other in (b, c):
            for field in ("V", "q", "m", "test_error", "train_error", "train_loss"):
                assert getattr(other, field) == pytest.approx(getattr(a, field), rel=1e-8), (ch.name, field)


def test_formula_logistic_equals_builtin():
    """Loss.from_expr('log(1+exp(-y*z))') (sympy derivatives, generic Newton) equals the built-in logistic."""
    spec = _random_spectrum(3)
    a = solve(spec, Loss.logistic(), Channel.sign(), 2.0, 0.01)
    b = solve(spec, Loss.from_expr("log(1 + exp(-y*z))"), Channel.sign(), 2.0, 0.01)
    assert b.test_error == pytest.approx(a.test_error, rel=1e-9)
    assert b.train_loss == pytest.approx(a.train_loss, rel=1e-9)


@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000))
def test_permutation_invariance(seed, perm_seed):
    """Permuting the spectrum (s and t together) leaves every output unchanged (the prior side is a sum)."""
    spec = _random_spectrum(seed, p=40)
    perm = np.random.default_rng(perm_seed).permutation(spec.p)
    shuffled = Spectrum.from_arrays(spec.s[perm], spec.t[perm], rho=spec.rho, gamma=spec.gamma)
    a = solve(spec, Loss.square(), Channel.linear(0.1), 1.3, 0.02)
    b = solve(shuffled, Loss.square(), Channel.linear(0.1), 1.3, 0.02)
    assert b.test_error == pytest.approx(a.test_error, rel=1e-10)


@given(seed=st.integers(0, 10_000), alpha=st.floats(0.05, 8.0), log_lam=st.floats(-4, 1),
       pair=st.sampled_from(PAIRS[:4]))
def test_valid_outputs_on_a_broad_domain(seed, alpha, log_lam, pair):
    """On random valid inputs: converged, V > 0, q > 0, m^2 <= rho q, every output finite, errors in range;
    for the square loss the training MSE never exceeds the (noisy-label) test MSE."""
    loss, channel = pair
    spec = _random_spectrum(seed, p=50)
    sol = solve(spec, loss, channel, alpha, 10.0**log_lam)
    values = np.array([v for v in sol.to_dict().values() if isinstance(v, float)])
    assert sol.converged and np.all(np.isfinite(values))
    assert sol.V > 0 and sol.q > 0 and sol.m**2 <= spec.rho * sol.q
    if channel.is_classification:
        assert 0 <= sol.test_error <= 1 and 0 <= sol.train_error <= 1
    if loss.is_square and not channel.is_classification:
        assert sol.train_error <= sol.test_error_noisy + 1e-12


def test_non_convergence_raises_or_reports():
    """max_iter too small: ConvergenceError carrying the last iterate; strict=False returns it with its status."""
    spec = _random_spectrum(4)
    with pytest.raises(ConvergenceError) as info:
        solve(spec, Loss.logistic(), Channel.sign(), 2.0, 0.01, max_iter=2)
    assert info.value.solution is not None and not info.value.solution.converged
    sol = solve(spec, Loss.logistic(), Channel.sign(), 2.0, 0.01, max_iter=2, strict=False)
    assert sol.status == "max_iterations" and not sol.converged


def test_logistic_norm_grows_on_separable_data():
    """Theory §2.7: a noiseless sign teacher that the student represents is separable at every alpha, so q grows
    without bound as lam -> 0 while the test error approaches the max-margin value; each finite lam is a valid,
    converged fixed point."""
    spec = Spectrum.isotropic(100)
    sols = [solve(spec, Loss.logistic(), Channel.sign(), 2.0, lam) for lam in (1e-1, 1e-2, 1e-4, 1e-6)]
    qs = [s.q for s in sols]
    assert all(b > 2 * a for a, b in zip(qs, qs[1:], strict=False))
    assert all(s.train_error < 0.01 for s in sols[2:])


def _separability_threshold_probit(rho: float, noise: float) -> float:
    """alpha_c = 1/h with h = min_t E[(t Y X + Z)_+^2], X ~ N(0, rho), Y = sign(X + sqrt(noise) zeta) (Candes-Sur
    criterion of theory §6.4 for a probit teacher), by Gauss-Hermite in X and closed forms in Z."""
    from scipy.optimize import minimize_scalar
    from scipy.stats import norm

    x, w = np.polynomial.hermite_e.hermegauss(120)
    x, w = np.sqrt(rho) * x, w / np.sqrt(2 * np.pi)
    p_plus = norm.cdf(x / np.sqrt(noise))

    def g(a):  # E[(a + Z)_+^2]
        return (a * a + 1) * norm.cdf(a) + a * norm.pdf(a)

    def h(t):
        return float(np.sum(w * (p_plus * g(t * x) + (1 - p_plus) * g(-t * x))))

    return 1.0 / minimize_scalar(h, bounds=(-20, 20), method="bounded").fun


def test_norm_diverges_only_below_the_separability_threshold():
    """Theory §2.7, §6.4: with a noisy (probit) teacher on isotropic features, the lam -> 0+ logistic norm is
    finite iff alpha > alpha_c = 1/h (Candes-Sur criterion, computed independently above). Below alpha_c the
    converged q keeps growing as lam falls (like log^2(1/lam) for logistic: x5 per two decades here); above, it
    saturates (changes by < 5% over the same two decades)."""
    spec = Spectrum.isotropic(100)
    channel = Channel.probit(1.0)
    alpha_c = _separability_threshold_probit(spec.rho, 1.0)
    assert 2.0 < alpha_c < 6.0
    below = [solve(spec, Loss.logistic(), channel, 0.6 * alpha_c, lam).q for lam in (1e-3, 1e-5)]
    above = [solve(spec, Loss.logistic(), channel, 1.6 * alpha_c, lam).q for lam in (1e-3, 1e-5)]
    assert below[1] > 3 * below[0]
    assert above[1] < 1.05 * above[0]


@pytest.mark.parametrize("kwargs,match", [
    (dict(alpha=0.0), "alpha"), (dict(alpha=-1.0), "alpha"), (dict(alpha=float("nan")), "alpha"),
    (dict(lam=-0.1), "lam"), (dict(lam=float("inf")), "lam"), (dict(tol=0.0), "tol"), (dict(damping=1.0), "damping"),
    (dict(max_iter=0), "max_iter"), (dict(init="warm"), "init"), (dict(init=(1.0, 1.0, 2.0)), "init"),
])
def test_bad_solver_arguments(kwargs, match):
    """Every bad argument raises ValueError naming it."""
    args = dict(alpha=1.0, lam=0.1) | kwargs
    alpha, lam = args.pop("alpha"), args.pop("lam")
    with pytest.raises(ValueError, match=match):
        solve(Spectrum.isotropic(10), Loss.logistic(), Channel.sign(), alpha, lam, **args)


def test_bad_problem_combinations():
    """Wrong types, lam = 0 off the supported paths (square, logistic), and a classification loss on real labels are
    refused."""
    spec = Spectrum.isotropic(10)
    with pytest.raises(TypeError, match="spectrum"):
        solve(np.ones(10), Loss.square(), Channel.linear(), 1.0, 0.1)
    with pytest.raises(TypeError, match="loss"):
        solve(spec, "square", Channel.linear(), 1.0, 0.1)
    with pytest.raises(TypeError, match="channel"):
        solve(spec, Loss.square(), "linear", 1.0, 0.1)
    with pytest.raises(TypeError, match="alpha"):
        solve(spec, Loss.square(), Channel.linear(), "1", 0.1)
    with pytest.raises(ValueError, match="lam = 0"):
        solve(spec, Loss.from_expr("log(1 + exp(-y*z))"), Channel.sign(), 2.0, 0.0)
    with pytest.raises(ValueError, match="labels"):
        solve(spec, Loss.logistic(), Channel.linear(), 2.0, 0.1)


def test_bad_losses():
    """Non-convex, non-smooth, unparsable or z-free formulas are refused with a clear error."""
    with pytest.raises(NonConvexLossError):
        Loss.from_expr("-(y - z)**2")
    with pytest.raises(NonConvexLossError):
        Loss.from_expr("cos(z) * y")
    with pytest.raises(ValueError, match="not smooth"):
        Loss.from_expr("Max(0, 1 - y*z)")
    with pytest.raises(ValueError, match="cannot parse"):
        Loss.from_expr("log(1 + exp(-y*z)")
    with pytest.raises(ValueError, match="does not depend on z"):
        Loss.from_expr("y**2")
    with pytest.raises(ValueError, match="unknown symbols"):
        Loss.from_expr("(y - z)**2 * c")
    with pytest.raises(TypeError):
        Loss.from_expr(3.0)
    with pytest.raises(ValueError, match="Huber"):
        Loss.huber(-1.0)


def test_sweeps_equal_pointwise_solves():
    """learning_curve and lambda_path (warm-started) return the same points as independent cold solves."""
    from replica import lambda_path, learning_curve

    spec = _random_spectrum(5)
    alphas = [0.3, 1.0, 3.0]
    curve = learning_curve(spec, Loss.logistic(), Channel.sign(0.05), alphas, 0.02, progress=False)
    for a, e in zip(alphas, curve.test_error, strict=True):
        assert e == pytest.approx(solve(spec, Loss.logistic(), Channel.sign(0.05), a, 0.02).test_error, rel=1e-8)
    path = lambda_path(spec, Loss.square(), Channel.linear(0.3), 1.5, [1.0, 0.1, 0.01, 0.0], progress=False)
    assert path.all_converged and path.status.size == 4
    for lam, e in zip(path.lam, path.test_error, strict=True):
        assert e == pytest.approx(solve_square(spec, Channel.linear(0.3), 1.5, lam).test_error, rel=1e-8)


def test_warm_start_the_channel_cannot_evaluate_starts_uninformed():
    """A warm start outside the channel's numerical domain (V = 1e-300, q = 1e300) is replaced by the
    uninformed start: the result is the cold solve's, bit for bit. Sweeps and their callers rely on this
    instead of catching errors themselves."""
    spec = _random_spectrum(5)
    cold = solve(spec, Loss.logistic(), Channel.sign(), 1.0, 0.01)
    warm = solve(spec, Loss.logistic(), Channel.sign(), 1.0, 0.01, init=(1e-300, 1e300, 0.0))
    assert warm.converged and (warm.V, warm.q, warm.m) == (cold.V, cold.q, cold.m)


def test_optimal_lambda_of_ridge_is_bayes():
    """Closed form: on isotropic data with a Gaussian teacher of variance rho per direction and noise Delta, the
    optimal ridge penalty in this scaling is lam* = Delta/rho at every alpha (posterior mean = ridge)."""
    from replica import optimal_lambda

    spec = Spectrum.isotropic(100, rho=2.0)
    for alpha in (0.5, 3.0):
        sol = optimal_lambda(spec, Loss.square(), Channel.linear(0.6), alpha, xatol=1e-6)
        assert sol.lam == pytest.approx(0.3, rel=1e-3)
    with pytest.raises(ValueError, match="bound"):
        optimal_lambda(spec, Loss.square(), Channel.linear(0.6), 1.0, bounds=(1.0, 10.0))


def test_optimal_lambda_never_uses_an_unconverged_point():
    """Whatever strict says, an unconverged point raises ConvergenceError naming its lam (here a budget of 3 map
    evaluations per point cannot converge anywhere)."""
    from replica import optimal_lambda

    spec = _random_spectrum(6)
    for strict in (True, False):
        with pytest.raises(ConvergenceError, match="lam = "):
            optimal_lambda(spec, Loss.logistic(), Channel.probit(0.3), 2.0, max_iter=3, strict=strict)


def test_optimal_lambda_is_the_minimum_of_the_converged_path():
    """Reference: a dense independent lambda path (cold solves). The optimum converged, lies inside the bounds, and
    its test error is at most the smallest value on the dense path (Brent refines inside the grid bracket)."""
    from replica import optimal_lambda

    spec = _random_spectrum(7)
    loss, channel = Loss.logistic(), Channel.probit(0.3)
    best = optimal_lambda(spec, loss, channel, 1.5, bounds=(1e-4, 1e2), xatol=1e-5)
    assert best.converged
    dense = [solve(spec, loss, channel, 1.5, lam).test_error for lam in np.geomspace(1e-4, 1e2, 61)]
    assert best.test_error <= min(dense) * (1 + 1e-9)
    assert best.test_error > min(dense) - 1e-3 * min(dense)


def test_sweep_with_strict_false_marks_points_and_never_warm_starts_from_them():
    """A curve with a too-small budget: every point is marked unconverged (never raises), and each point's route is
    a direct start, not a warm start from an unconverged neighbour."""
    from replica import learning_curve

    spec = _random_spectrum(8)
    curve = learning_curve(spec, Loss.logistic(), Channel.sign(), [0.5, 1.0, 2.0], 0.01, max_iter=2, strict=False,
                           progress=False)
    assert not curve.converged.any()
    assert all("warm start" not in r for r in curve.route)


def test_hinge_at_small_lam_converges_from_the_default_call():
    """Issue 10 §1: hinge on a sign teacher at lam = 1e-4 and 1e-8 used to stop at max_iterations from the cold
    start. Reference: a warm-started regularisation path from lam = 1 (an independent route to the same point)."""
    from replica import lambda_path

    spec = Spectrum.isotropic(200)
    path = lambda_path(spec, Loss.hinge(), Channel.sign(), 2.0, np.geomspace(1.0, 1e-8, 17), progress=False)
    for lam in (1e-4, 1e-8):
        sol = solve(spec, Loss.hinge(), Channel.sign(), 2.0, lam)
        j = int(np.argmin(np.abs(np.log(path.lam / lam))))
        assert sol.converged and sol.route
        assert sol.test_error == pytest.approx(path.test_error[j], rel=1e-8)
        assert sol.q == pytest.approx(path.q[j], rel=1e-8)


def test_loss_label_set_must_cover_the_channel():
    """A formula loss checked convex for labels (-1, 1) only is refused with a channel of real labels (before: the
    prox refused inside the iteration and solve reported 'invalid', losing the reason)."""
    loss = Loss.from_expr("log(1 + exp(-y*z))", labels=(-1, 1))
    with pytest.raises(ValueError, match="labels"):
        solve(Spectrum.isotropic(10), loss, Channel.linear(0.1), 1.0, 0.1)
    assert solve(Spectrum.isotropic(10), loss, Channel.sign(), 1.0, 0.1).converged


@pytest.mark.parametrize("loss,lam", [(Loss.hinge(), 1e-8), (Loss.hinge(), 0.0), (Loss.logistic(), 1e-8)],
                         ids=["hinge", "hinge-max-margin", "logistic"])
def test_max_iter_is_the_budget_of_the_whole_route(loss, lam):
    """max_iter bounds the map evaluations of every route together (direct starts, continuation, Newton's
    Jacobians, the lam = 0 bridges): a budget too small to converge ends with status max_iterations and at most
    max_iter evaluations."""
    sol = solve(Spectrum.isotropic(60), loss, Channel.sign(), 6.0, lam, max_iter=40, strict=False)
    assert not sol.converged and sol.iterations <= 40
