"""Proximal operators: optimality conditions (hypothesis) and independent scalar minimisation."""

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from scipy.special import expit

from replica import Loss, NonConvexLossError

omegas = st.floats(-1e3, 1e3)
variances = st.floats(1e-8, 1e8)
labels = st.sampled_from([-1.0, 1.0])


@given(y=labels, omega=omegas, V=variances)
def test_logistic_prox_optimality(y, omega, V):
    """The logistic prox satisfies (z - omega)/V + l'(y, z) = 0 and lies in its bracket, for |omega| <= 1e3 and
    V in [1e-8, 1e8], without overflow; r equals l''/(1 + V l'') (implicit-function theorem)."""
    loss = Loss.logistic()
    z, r = loss.prox(y, omega, V)
    z, r = float(z), float(r)
    assert np.isfinite(z) and np.isfinite(r)
    lo, hi = sorted((omega, omega + V * y))
    assert lo - 1e-9 * abs(lo) <= z <= hi + 1e-9 * abs(hi)
    g = (z - omega) + V * float(loss.derivative(y, z))
    assert abs(g) <= 1e-10 * max(1.0, abs(omega), V)
    d2 = expit(z) * expit(-z)
    assert r == pytest.approx(d2 / (1 + V * d2), rel=1e-8, abs=1e-300)


@given(y=labels, omega=st.floats(-30, 30), V=st.floats(1e-3, 1e3))
def test_formula_prox_matches_builtin(y, omega, V):
    """Newton on the sympy-derived logistic equals the built-in expit-based prox."""
    a = Loss.logistic().prox(y, omega, V)
    b = Loss.from_expr("log(1 + exp(-y*z))").prox(y, omega, V)
    assert float(b[0]) == pytest.approx(float(a[0]), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("loss", [Loss.hinge(), Loss.huber(0.7), Loss.square(), Loss.logistic(),
                                  Loss.from_expr("log(cosh(y - z))")], ids=lambda v: v.name)
@pytest.mark.parametrize("y,omega,V", [(1.0, -2.0, 0.5), (-1.0, 0.3, 0.5), (1.0, 0.8, 0.1), (1.0, 0.5, 3.0),
                                       (-1.0, 4.0, 2.0), (1.0, 1.5, 0.2)])
def test_prox_is_the_minimiser(loss, y, omega, V):
    """Reference: scipy's bounded scalar minimisation of (z - omega)^2/(2V) + l(y, z)."""
    z, _ = loss.prox(y, omega, V)
    res = minimize_scalar(lambda t: (t - omega) ** 2 / (2 * V) + float(loss(y, t)), bounds=(-50, 50),
                          method="bounded", options={"xatol": 1e-12})
    assert float(z) == pytest.approx(res.x, abs=1e-6)


@pytest.mark.parametrize("loss", [Loss.hinge(), Loss.huber(0.7)], ids=lambda v: v.name)
def test_kinked_slope_term_matches_finite_differences(loss):
    """r = (1 - d prox/d omega)/V by central differences away from the kinks."""
    y = np.array([1.0, 1.0, -1.0, 1.0])
    omega = np.array([-2.0, 0.6, 0.2, 3.0])
    V, h = 0.7, 1e-6
    _, r = loss.prox(y, omega, V)
    zp, _ = loss.prox(y, omega + h, V)
    zm, _ = loss.prox(y, omega - h, V)
    np.testing.assert_allclose(r, (1 - (zp - zm) / (2 * h)) / V, atol=1e-6)


def test_symbolic_square_prox_is_closed_form():
    """sympy solves the prox of a quadratic loss: (omega + V y)/(1 + V), r = 1/(1 + V)."""
    z, r = Loss.from_expr("(y - z)**2/2").prox([1.0, -2.0], [0.5, 3.0], 2.0)
    np.testing.assert_allclose(z, [(0.5 + 2.0) / 3.0, (3.0 - 4.0) / 3.0], rtol=1e-14)
    np.testing.assert_allclose(r, [1 / 3, 1 / 3], rtol=1e-14)


def test_bad_prox_variance():
    """V must be finite and positive."""
    with pytest.raises(ValueError, match="V must be"):
        Loss.logistic().prox(1.0, 0.0, 0.0)


# ------------------------------------------------------------------------------------------ Loss.from_expr
def _curvature_mpmath(text: str, y: float, z: float) -> float:
    """d2l/dz2 from sympy's derivative of the formula, evaluated by mpmath at 30 digits."""
    import mpmath
    import sympy as sp

    from replica._symbolic import Y, Z, parse_expression

    f = sp.lambdify((Y, Z), sp.diff(parse_expression(text, "expr"), Z, 2), "mpmath")
    with mpmath.workdps(30):
        return float(f(mpmath.mpf(y), mpmath.mpf(z)))


@pytest.mark.parametrize("text", [
    "(y - z)**2/2 - z**4/1e6",                        # l'' = 1 - 1.2e-5 z^2 < 0 for |z| > 288.7
    "(y - z)**2/2 - 2*exp(-(z - 50)**2)",             # a bump at z = 50: l'' < 0 near z = 48.8 and 51.2
    "(y - z)**2/2 - 3/(1 + (z - 300)**2)",            # a Cauchy bump at z = 300
    "(y - z)**2/2 - 1e-3*exp(-1e4*(z - 1000)**2)",    # a dip of width 0.01 at z = 1000
    "(y - z)**2/2 + 0.3*cos(z) - 1e-6*z**4*exp(-1e-8*z**2)",  # convex up to |z| ~ 200, not beyond
    "y*z**2",                                         # l'' = 2 y < 0 for every negative label
])
def test_losses_non_convex_far_from_zero_are_refused(text):
    """A loss that is not convex somewhere raises NonConvexLossError, however far from 0 that is; the point
    the error reports is checked non-convex by the reference (sympy's l'' at 30 digits with mpmath)."""
    import re

    with pytest.raises(NonConvexLossError) as info:
        Loss.from_expr(text)
    y, z = map(float, re.search(r"at y = (\S+), z = (\S+?)[;:]?(?:\s|$)", str(info.value)).groups())
    assert _curvature_mpmath(text, y, z) < 0


@pytest.mark.parametrize("text,wmax", [
    ("(y - z)**2/2 - 1e-3*exp(-(z - 50)**2)", 1e3),  # l'' >= 1 - 1e-3 max (4u^2 - 2) e^{-u^2} = 1 - 8.9e-4
    ("log(1 + exp(-y*z))", 1e3),                     # l'' = y^2 / (4 cosh^2(y z / 2)) >= 0
    ("log(cosh(y - z))", 1e3),                       # l'' = 1 - tanh^2 >= 0
    ("exp(-y*z)", 60.0),                             # l'' = y^2 e^{-y z} >= 0 (l' overflows at y z = -710)
    ("(y - z)**2/2 + 0.3*cos(z)", 1e3),              # l'' = 1 - 0.3 cos z >= 0.7
    ("z**4 + (y - z)**2", 1e3),                      # l'' = 12 z^2 + 2
    ("log(1 + exp(z)) - y*z", 1e3),                  # logistic regression, labels 0/1: l'' = sigma(1 - sigma)
    ("(y - z)**2/2 + erf(z)/10", 1e3),               # l'' >= 1 - 0.4 sqrt(2/pi) e^{-1/2} / 2 > 0
])
def test_convex_losses_are_accepted(text, wmax):
    """Losses convex by the closed-form argument in the comment are accepted, and their Newton/closed-form
    prox satisfies the optimality condition (z - omega)/V + l'(y, z) = 0 at |omega| up to wmax."""
    loss = Loss.from_expr(text)
    y = np.array([-1.0, 0.0, 1.0, 3.0])[:, None] + np.zeros((1, 7))
    omega = np.array([-wmax, -60.0, -1.0, 0.0, 2.0, 50.0, wmax])[None, :] + 0 * y
    z, r = loss.prox(y, omega, 0.8)
    g = (z - omega) + 0.8 * loss.derivative(y, z)
    scale = np.abs(z - omega) + 0.8 * np.abs(loss.derivative(y, z)) + np.abs(z) + 1.0
    assert np.all(np.abs(g) <= 1e-12 * scale)
    assert np.all(np.isfinite(r)) and np.all(r >= 0)


def test_labels_restrict_the_convexity_requirement():
    """``l = log(1 + e^{-y z}) + z erf(z)/100`` is convex for y = +-1 (l'' >= 1/(4 cosh^2(z/2)) -
    e^{-3/2}/(25 sqrt(pi)) > 0 where the second term is negative, |z| > 1) but not for |y| large, where the
    logistic curvature vanishes at z = -1: refused by default, accepted with labels=(-1, 1), whose prox then
    refuses any other label."""
    text = "log(1 + exp(-y*z)) + z*erf(z)/100"
    with pytest.raises(NonConvexLossError, match="labels=\\(-1, 1\\)"):
        Loss.from_expr(text)
    loss = Loss.from_expr(text, labels=[1, -1])
    assert loss.labels == (-1.0, 1.0)
    z, _ = loss.prox(np.array([1.0, -1.0]), np.array([0.3, 0.3]), 2.0)
    for zi, yi in zip(z, [1.0, -1.0], strict=True):
        res = minimize_scalar(lambda t, yi=yi: (t - 0.3) ** 2 / 4.0 + float(loss(yi, t)), bounds=(-20, 20),
                              method="bounded", options={"xatol": 1e-12})
        assert zi == pytest.approx(res.x, abs=1e-6)
    with pytest.raises(ValueError, match="label y = 0.5"):
        loss.prox(np.array([0.5]), np.array([0.0]), 1.0)
    with pytest.raises(ValueError, match="labels must be real"):
        Loss.from_expr(text, labels=[1j, 1])


def test_loss_undefined_somewhere_is_refused():
    """-log(z) is NaN for z < 0: not a loss on the real line (a clear ValueError, not a failing prox)."""
    with pytest.raises(ValueError, match="not defined"):
        Loss.from_expr("(y - z)**2 - log(z)")


def test_bump_loss_prox_is_fast_and_right():
    """l = (y - z)^2/2 - 1e-3 exp(-(z - 50)^2) (sympy's simplified l' is inf*0 for |z - 50| > 27; the old
    per-entry mpmath fallback took minutes in the solver). Reference: scipy's brentq on the optimality
    condition written by hand in numpy, on 2001 centres from -200 to 200."""
    from scipy.optimize import brentq

    loss = Loss.from_expr("(y - z)**2/2 - 1e-3*exp(-(z - 50)**2)")
    omega = np.linspace(-200.0, 200.0, 2001)
    y, V = np.ones_like(omega), 1.5
    z, r = loss.prox(y, omega, V)

    def cond(t, w):
        return (t - w) / V + (t - 1.0) + 2e-3 * (t - 50.0) * np.exp(-(t - 50.0) ** 2)

    ref = np.array([brentq(cond, w - 300.0, w + 300.0, args=(w,), xtol=1e-14, rtol=1e-15) for w in omega[::50]])
    np.testing.assert_allclose(z[::50], ref, rtol=1e-12, atol=1e-12)
    assert np.all(np.isfinite(r))


def test_bump_loss_solve_matches_ridge():
    """Reference: the ridge closed form (square loss, theory §2.5). The bump at z = 50 weighs e^{-2000} or
    less wherever the quadrature puts the prox, so the two fixed points agree to the solver's tolerance."""
    from replica import Channel, solve
    from spectra import Spectrum

    spec = Spectrum.isotropic(50)
    a = solve(spec, Loss.from_expr("(y - z)**2/2 - 1e-3*exp(-(z - 50)**2)"), Channel.linear(0.1), 2.0, 0.1)
    b = solve(spec, Loss.square(), Channel.linear(0.1), 2.0, 0.1)
    assert a.converged
    for key in ("V", "q", "m", "test_error"):
        assert getattr(a, key) == pytest.approx(getattr(b, key), rel=1e-8)


@pytest.mark.parametrize("loss, mp_d1", [
    (Loss.from_expr("log(cosh(y - z))"), lambda y, z: -mpmath.tanh(y - z)),
    (Loss.logistic(), lambda y, z: -y / (1 + mpmath.exp(y * z))),
], ids=["log-cosh", "logistic"])
@pytest.mark.parametrize("V", [1e-6, 1.0, 1e3, 1e6, 1e9])
def test_fg_is_accurate_at_any_variance(loss, mp_d1, V):
    """Reference: f_g = (prox - omega)/V with the prox bracketed and bisected in mpmath at 80 digits. The library's f_g
    agrees to 1e-10 relative at V from 1e-6 to 1e9 (at large V, -l'(prox) alone lost 1e-7 at V = 1e6: l'(prox) is
    ~1/V there and inherits the prox's absolute rounding; the difference quotient does not)."""
    ys = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    omegas = np.array([-2.0, 0.3, 0.8, 4.0, -0.05])
    z, r = loss.prox(ys, omegas, V)
    fg = loss.fg(ys, omegas, V, z)
    np.testing.assert_array_equal(loss.fg(ys, omegas, V, z, r), fg)  # the prox's r decides the same split
    with mpmath.workdps(80):
        for y, w, f in zip(ys, omegas, fg, strict=True):
            y, w = mpmath.mpf(float(y)), mpmath.mpf(float(w))
            end = w - V * mp_d1(y, w)  # the root lies between omega and this point (convex loss)
            lo, hi = min(w, end), max(w, end)
            for _ in range(240):  # bisection of an increasing function: the bracket shrinks to 2^-240 of itself
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if (mid - w) + V * mp_d1(y, mid) < 0 else (lo, mid)
            root = (lo + hi) / 2
            ref = float((root - w) / V)
            assert f == pytest.approx(ref, rel=1e-10, abs=1e-300), (y, w, f, ref)


@pytest.mark.parametrize("V", [1.0, 1e4, 1e8])
def test_newton_prox_stops_at_once_from_its_own_root(V):
    """Reference: the prox itself. Restarted from its own converged output (the solver passes the previous
    sweep's prox as the guess), the Newton solve of a smooth loss stops within two evaluations of l': a Newton
    step at the rounding floor is accepted (it used to fail the step-halving safeguard and bisect ~45 times)."""
    from replica.loss import newton_prox

    loss = Loss.from_expr("log(cosh(y - z))")
    rng = np.random.default_rng(0)
    y, omega = rng.standard_normal(4000), 3.0 * rng.standard_normal(4000)
    z, _ = loss.prox(y, omega, V)
    calls = []

    def d1(a, b):
        calls.append(a.size)
        return loss.derivative(a, b)

    z2, _ = newton_prox(d1, loss.second_derivative, y, omega, V, guess=z)
    assert len(calls) <= 3  # the bracket's end point, then one Newton sweep (a second at most)
    np.testing.assert_allclose(z2, z, rtol=1e-12, atol=1e-12)


def test_generated_functions_leave_no_linecache_entry():
    """Reference: linecache.cache before and after deriving and evaluating a formula loss. The library's sympy
    functions register no source entry, so no garbage collection can remove one while linecache.checkcache walks
    the cache (a KeyError decided by GC timing, seen in a doctest)."""
    import linecache

    before = set(linecache.cache)
    loss = Loss.from_expr("log(cosh(y - z)) + 0.1*(y - z)**2")
    loss.prox(np.array([0.5, -1.0]), np.array([0.1, 2.0]), 3.0)
    loss.second_derivative(0.5, 0.1)
    assert {k for k in set(linecache.cache) - before if "lambdify" in k} == set()
