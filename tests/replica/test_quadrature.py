"""Gauss rules against exact Gaussian moments (closed forms)."""

import math

import numpy as np
import pytest

from replica.quadrature import N_MAX, gauss_hermite, half_gauss_hermite, nodes_for_variance


@pytest.mark.parametrize("n", [1, 7, 48, 160, 320, N_MAX])
def test_full_rule_moments(n):
    """Reference: E[xi^(2j)] = (2j-1)!! exactly, for 2j <= 2n-1 and j <= 10; all weights finite and positive."""
    x, w = gauss_hermite(n)
    assert np.all(np.isfinite(w)) and np.all(w >= 0)  # extreme weights underflow to 0, never NaN
    for j in range(min(n, 10)):
        assert np.sum(w * x ** (2 * j)) == pytest.approx(math.prod(range(1, 2 * j, 2)), rel=1e-12)


@pytest.mark.parametrize("n", [1, 8, 48, 160])
def test_half_rule_moments(n):
    """Reference: int_0^inf x^k phi(x) dx = 2^(k/2 - 1) Gamma((k+1)/2)/sqrt(pi), for k <= min(2n-1, 20)."""
    x, w = half_gauss_hermite(n)
    assert np.all(x > 0) and np.all(np.isfinite(w)) and np.all(w >= 0)
    for k in range(min(2 * n, 21)):
        exact = 2 ** (k / 2 - 1) * math.gamma((k + 1) / 2) / math.sqrt(math.pi)
        assert np.sum(w * x**k) == pytest.approx(exact, rel=1e-12)


def test_nodes_grow_with_variance_and_are_capped():
    """The rule order grows like the variance (multiples of 16) and stops at N_MAX."""
    assert nodes_for_variance(0.0) == nodes_for_variance(0.5) >= 32
    assert nodes_for_variance(4.0) > nodes_for_variance(1.0)
    assert nodes_for_variance(1e9) == N_MAX
    assert nodes_for_variance(3.0) % 16 == 0
