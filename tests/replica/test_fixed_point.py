"""The generic fixed-point iterator on maps whose fixed point is known exactly (linear contractions)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replica.fixed_point import iterate


def _contraction(seed: int, n: int = 3, radius: float = 0.9):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    A *= radius / max(abs(np.linalg.eigvals(A)))
    b = rng.standard_normal(n) + 3.0
    return A, b, np.linalg.solve(np.eye(n) - A, b)


@given(seed=st.integers(0, 10_000), radius=st.floats(0.1, 0.99), acceleration=st.booleans())
def test_linear_contraction_reaches_the_exact_fixed_point(seed, radius, acceleration):
    """Reference: the closed form (I - A)^{-1} b. 'converged' certifies the relative distance to it: for a linear
    map the Newton estimate is exact, so the true error is below tol (up to the rounding of the linear solve)."""
    A, b, exact = _contraction(seed, radius=radius)
    tol = 1e-10
    res = iterate(lambda x: (A @ x + b, None), np.ones(3), tol=tol, max_iter=20_000, acceleration=acceleration)
    assert res.status == "converged"
    err = np.max(np.abs(res.x - exact) / np.abs(exact))
    cond = np.linalg.cond(np.eye(3) - A)
    assert err <= 1.01 * tol + 1e-15 * cond
    assert res.error_estimate < tol and res.residual < tol


def test_a_small_residual_is_not_enough_where_the_map_contracts_slowly():
    """With an eigenvalue 1 - 1e-6, the residual is 1e-6 times the distance to the fixed point: from a start 5e-5
    away along that direction the residual is 5e-11 < tol at once, and a residual-only rule would stop there. The
    certificate (Newton estimate, then Newton polish) returns the exact point (1, 1, 1)."""
    A = np.diag([1 - 1e-6, 0.3, 0.5])
    b = np.array([1e-6, 0.7, 0.5])
    res = iterate(lambda x: (A @ x + b, None), np.array([1 + 5e-5, 2.0, 2.0]), tol=1e-10, max_iter=2000,
                  acceleration=False)
    assert res.status == "converged"
    assert np.max(np.abs(res.x - 1.0)) < 1.01e-10


def test_noise_floor_is_stalled_not_max_iterations():
    """A map that cannot be evaluated more accurately than 1e-3 (noise) has no progress to make below that residual:
    'stalled', well before the budget, with the best residual reported. With 6 components the best of 1e4 draws of
    max_k |noise_k| stays above 1e-5 except with probability ~1e-8, whatever the seed."""
    rng = np.random.default_rng(0)
    c = np.arange(2.0, 8.0)
    res = iterate(lambda x: (c * (1 + 1e-3 * rng.standard_normal(6)), None), np.ones(6), tol=1e-10,
                  max_iter=100_000)
    assert res.status == "stalled" and res.iterations < 10_000
    assert res.residual > 1e-5 and "damping" in res.message


def test_budget_runs_out_while_progressing():
    """A slow contraction (0.999 per sweep) with a budget of 20 sweeps, shorter than the window after which slow
    progress calls Newton: 'max_iterations'. With a larger budget Newton solves the linear map exactly."""
    res = iterate(lambda x: (0.999 * x + 0.001, None), np.array([5.0]), tol=1e-12, max_iter=20,
                  acceleration=False)
    assert res.status == "max_iterations" and res.iterations <= 20 and "max_iter" in res.message
    res = iterate(lambda x: (0.999 * x + 0.001, None), np.array([5.0]), tol=1e-12, max_iter=200,
                  acceleration=False)
    assert res.status == "converged" and res.x[0] == pytest.approx(1.0, rel=1e-12)


def test_invalid_and_diverging():
    """A map that cannot be evaluated gives 'invalid'; the caller's divergence test gives 'diverging'."""
    res = iterate(lambda x: None, np.ones(2), tol=1e-10, max_iter=100)
    assert res.status == "invalid" and not res.converged
    res = iterate(lambda x: (2.0 * x, None), np.ones(1), tol=1e-10, max_iter=1000, acceleration=False,
                  diverged=lambda x: bool(x[0] > 1e6))
    assert res.status == "diverging"


def test_result_to_dict():
    res = iterate(lambda x: (0.5 * x + 1, "aux"), np.ones(1), tol=1e-12, max_iter=100)
    d = res.to_dict()
    assert d["status"] == "converged" and d["converged"] and res.aux == "aux"
    assert d["x"] == pytest.approx([2.0], rel=1e-12)
