"""Quadrature rules against closed forms and mpmath (theory §2.5, "Quadrature")."""

import math

import mpmath
import numpy as np
import pytest
from scipy import special

from replica.quadrature import (
    N_MAX,
    convolution_rule,
    gauss_hermite,
    gauss_rule_from_moments,
    gaussian_rule,
    logistic_normal_mixture,
    nodes_for_variance,
    resolve_partition,
)


@pytest.mark.parametrize("n", [1, 7, 48, 160, 320, N_MAX])
def test_full_rule_moments(n):
    """Reference: E[xi^(2j)] = (2j-1)!! exactly, for 2j <= 2n-1 and j <= 10; all weights finite and positive."""
    x, w = gauss_hermite(n)
    assert np.all(np.isfinite(w)) and np.all(w >= 0)  # extreme weights underflow to 0, never NaN
    for j in range(min(n, 10)):
        assert np.sum(w * x ** (2 * j)) == pytest.approx(math.prod(range(1, 2 * j, 2)), rel=1e-12)


def test_nodes_grow_with_variance_and_are_capped():
    """The rule order grows like the variance (multiples of 32) and stops at N_MAX."""
    assert nodes_for_variance(0.0) == nodes_for_variance(0.5) >= 32
    assert nodes_for_variance(4.0) > nodes_for_variance(1.0)
    assert nodes_for_variance(1e9) == N_MAX
    assert nodes_for_variance(3.0) % 32 == 0


@pytest.mark.parametrize("var", [1e-4, 0.3, 1.0, 40.0])
@pytest.mark.parametrize("b", [0.0, 0.37, -1.3, 2.9])
def test_breakpoints_integrate_kinks_exactly(var, b):
    """Reference: E (x - b)_+ = s phi(b/s) - b Phi(-b/s) and E 1{x < b} = Phi(b/s) (closed forms, s = sd).
    With the kink as a panel edge the rule is exact to rounding wherever the kink is (a fixed Gauss rule
    across it converges only algebraically)."""
    sd = np.sqrt(var)
    bb = b * sd
    x, w = gaussian_rule(var, breakpoints=[bb])
    ramp = sd * np.exp(-0.5 * b * b) / np.sqrt(2 * np.pi) - bb * special.ndtr(-b)
    assert np.sum(w * np.maximum(x - bb, 0.0)) == pytest.approx(ramp, rel=1e-13, abs=1e-16 * sd)
    assert np.sum(w[x < bb]) == pytest.approx(special.ndtr(b), rel=1e-13, abs=1e-16)


@pytest.mark.parametrize("centre,width", [(0.0, 1.0), (0.0, 1e-3), (0.0, 1e-8), (0.0, 1e-14), (0.8, 1.0),
                                          (0.8, 1e-3), (0.8, 1e-6), (-2.5, 1e-3), (-2.5, 1e-6)])
def test_steps_stay_accurate_as_they_sharpen(centre, width):
    """Reference: E Phi((x - c)/w) = Phi(-c/sqrt(1 + w^2)) and E phi((x - c)/w)/w = N(c; 0, 1 + w^2) for
    x ~ N(0, 1) (Gaussian convolutions, closed forms). Graded panels keep 1e-12 as w -> 0, up to the limit of
    any rule in absolute coordinates: a node's position relative to an off-centre step is known to eps |c| / w
    (the sign and logit channels' steps sit at 0)."""
    x, w = gaussian_rule(1.0, steps=[(centre, width)])
    t = (x - centre) / width
    v = 1.0 + width * width
    tol = max(1e-12, 4 * np.finfo(float).eps * abs(centre) / width)  # the nodes' positions relative to the step
    assert np.sum(w * special.ndtr(t)) == pytest.approx(special.ndtr(-centre / np.sqrt(v)), rel=tol)
    bump = np.sum(w * np.exp(-0.5 * t * t) / (np.sqrt(2 * np.pi) * width))
    assert bump == pytest.approx(np.exp(-0.5 * centre**2 / v) / np.sqrt(2 * np.pi * v), rel=tol)


def test_gaussian_rule_rejects_bad_variance():
    """A zero, negative or non-finite variance is refused with the argument named."""
    for var in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="var"):
            gaussian_rule(var)


def test_logistic_normal_mixture_is_the_sigmoid():
    """Reference: expit and its derivative (closed forms) on a grid to 5e-16, and E expit(a + b t) against a
    30-digit mpmath quadrature, through the identity E Phi((a + b t)/s) = Phi(a/sqrt(s^2 + b^2))."""
    s, c = logistic_normal_mixture()
    assert np.sum(c) == pytest.approx(1.0, rel=1e-15)
    assert np.dot(c, s**2) == pytest.approx(np.pi**2 / 3, rel=1e-13)  # the logistic variance
    x = np.linspace(-40, 40, 4001)
    assert np.max(np.abs(special.ndtr(x[:, None] / s) @ c - special.expit(x))) < 5e-16
    dens = (np.exp(-0.5 * (x[:, None] / s) ** 2) / (np.sqrt(2 * np.pi) * s)) @ c
    assert np.max(np.abs(dens - special.expit(x) * special.expit(-x))) < 5e-16
    with mpmath.workdps(30):
        for a, b in [(0.3, 0.5), (-2.0, 3.0), (4.0, 0.01)]:
            ref = mpmath.quad(lambda t, a=a, b=b: mpmath.npdf(t) / (1 + mpmath.exp(-(a + b * t))),
                              [-mpmath.inf, min(0, -a / b), max(0, -a / b), mpmath.inf])
            assert float(special.ndtr(a / np.sqrt(s**2 + b * b)) @ c) == pytest.approx(float(ref), rel=1e-14)


def test_gauss_rule_from_moments_reproduces_gauss_hermite():
    """Reference: the probabilists' Gauss-Hermite rule (scipy) from the moments (2j-1)!! of N(0, 1)."""
    n = 12
    with mpmath.workdps(60):
        mom = [math.prod(range(1, k, 2)) if k % 2 == 0 else 0 for k in range(2 * n)]
        x, w = gauss_rule_from_moments(mom)
    xr, wr = gauss_hermite(n)
    assert np.allclose(x, xr, rtol=1e-12, atol=1e-13) and np.allclose(w, wr, rtol=1e-11, atol=1e-17)


def test_partition_resolves_a_steep_function():
    """Reference: tanh(z/eps) and its derivative (closed forms) on a fine grid; the partition refines only near
    the step, and its interpolants agree to 1e-13 relative to each function's maximum."""
    eps = 1e-4

    def sech2(x):  # 1/cosh(x)^2 without overflow: 4 e^{-2|x|} / (1 + e^{-2|x|})^2
        e = np.exp(-2.0 * np.abs(x))
        return 4.0 * e / (1.0 + e) ** 2

    def funcs(z):
        return np.stack([np.tanh(z / eps), sech2(z / eps) / eps])

    part = resolve_partition(funcs, -3.0, 3.0, width=1.0)
    d = np.diff(part.edges)
    assert d.min() < 10 * eps and d.max() >= 0.5  # graded: fine at 0, coarse elsewhere
    z = np.concatenate([np.linspace(-3, 3, 20001), np.linspace(-20 * eps, 20 * eps, 2001)])
    vals = part(z)
    assert np.max(np.abs(vals[0] - np.tanh(z / eps))) < 1e-13
    assert np.max(np.abs(vals[1] - sech2(z / eps) / eps)) < 1e-13 / eps


@pytest.mark.parametrize("sd", [1e-6, 0.05, 1.0, 3.0])
def test_convolution_rule_across_a_steep_step(sd):
    """Reference: E Phi((c + sd t - a)/w) = Phi((c - a)/sqrt(sd^2 + w^2)) (closed form) for many centres c,
    with a step of width w = 1e-3 at a = 0.2 resolved by a partition."""
    a, wd = 0.2, 1e-3

    def funcs(z):
        return special.ndtr((z - a) / wd)[None, :]

    part = resolve_partition(funcs, -40.0, 40.0, width=2.0)
    centres = np.concatenate([np.linspace(-4, 4, 41), a + np.array([-1e-3, -1e-7, 0.0, 3e-6, 2e-3])])
    owner, node, w, z = convolution_rule(centres, sd, part.edges)
    got = np.bincount(owner, w * part(z)[0][node], centres.size)
    ref = special.ndtr((centres - a) / np.hypot(sd, wd))
    assert np.max(np.abs(got - ref)) < 1e-13


def test_gaussian_rule_refuses_a_variance_beyond_its_panel_budget():
    """A rule that would need more than MAX_UNIFORM_PANELS panels (here sd = 1e6 at scale 1) raises instead of
    allocating gigabytes; the solver treats that iterate as outside the map's domain."""
    from replica.quadrature import MAX_UNIFORM_PANELS, gaussian_rule

    with pytest.raises(FloatingPointError, match="MAX_UNIFORM_PANELS"):
        gaussian_rule(1e12)
    x, _ = gaussian_rule(1e6)  # sd = 1000: within the budget
    assert x.size <= 12 * (MAX_UNIFORM_PANELS + 100)
