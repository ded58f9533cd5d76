"""Proximal operators: optimality conditions (hypothesis) and independent scalar minimisation."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from scipy.special import expit

from replica import Loss

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
