"""Fixed Gauss rules for the Gaussian expectations of the channel side (theory §2.5, "Quadrature").

* :func:`gauss_hermite` -- the probabilists' rule: ``E[f(xi)]``, ``xi ~ N(0, 1)``.
* :func:`half_gauss_hermite` -- the Gauss rule of the weight ``exp(-x^2/2)`` on ``[0, inf)``, normalised
  so that ``sum(w f(x)) ~= E[f(|xi|) 1{xi > 0}]`` (weights sum to 1/2). It integrates a half-line exactly
  up to its degree, which is what makes expectations with a sign teacher (a step at ``nu = 0``) converge
  geometrically instead of like the jump of a step function.

Rules are computed once per order and cached; they are returned as read-only arrays.
"""

from __future__ import annotations

from functools import lru_cache

import mpmath
import numpy as np
from scipy.special import roots_hermitenorm

__all__ = ["gauss_hermite", "half_gauss_hermite", "nodes_for_variance", "gaussian_panels"]

#: Fewest and most nodes per dimension, and nodes per unit of variance (see :func:`nodes_for_variance`).
N_MIN, N_MAX, N_PER_VARIANCE = 48, 256, 64


def nodes_for_variance(var: float) -> int:
    """Order of a Gauss rule for ``E f(sigma xi)`` with ``sigma^2 = var`` and ``f`` varying on scale 1.

    A Gauss-Hermite rule converges like ``exp(-c d sqrt(n) / sigma)`` for ``f`` analytic in a strip of
    half-width ``d``; losses and channels vary on scale ~1, so the order grows like ``sigma^2``. Orders are
    rounded up to multiples of 32 (so few distinct rules are cached) and capped at ``N_MAX``.
    """
    n = int(np.ceil(max(N_MIN, N_PER_VARIANCE * float(var)) / 32.0) * 32)
    return min(n, N_MAX)


#: Gauss-Legendre order per panel, half-width of the domain in standard deviations (the Gaussian mass
#: beyond 12 sd is 3.6e-33, far below double precision), and the most uniform panels per half-line.
PANEL_ORDER, PANEL_SPAN, MAX_UNIFORM_PANELS = 12, 12.0, 120


@lru_cache(maxsize=4)
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    return _frozen(*np.polynomial.legendre.leggauss(n))


def gaussian_panels(var: float, width: float, *, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre rule for ``E f(x)``, ``x ~ N(0, var)``, with ``f`` smooth on each side of 0.

    Panels are graded geometrically around 0 (from ``width/4``: the scale of a near-step of ``f`` at the
    origin, such as a sign teacher's ``Z0`` when ``V*`` is small) and uniform (``<= scale``, the scale on
    which ``f`` varies elsewhere) out to 12 standard deviations; the weights include the Gaussian density.
    """
    sd = np.sqrt(var)
    span = PANEL_SPAN * sd
    h = max(min(scale, span), span / MAX_UNIFORM_PANELS)
    start = min(max(width, 1e-300), span) / 4.0
    geo = start * 2.0 ** np.arange(0, int(np.ceil(np.log2(span / start))) + 1)
    geo = geo[geo < span]
    edges = np.unique(np.concatenate([[0.0, span], geo, np.arange(h, span, h)]))
    edges = edges[np.concatenate([[True], np.diff(edges) > 1e-12 * span])]
    x0, w0 = _legendre(PANEL_ORDER)
    a, b = edges[:-1, None], edges[1:, None]
    x = (0.5 * (b - a) * x0 + 0.5 * (a + b)).ravel()
    w = (0.5 * (b - a) * w0).ravel()
    x = np.concatenate([-x[::-1], x])
    w = np.concatenate([w[::-1], w]) * np.exp(-0.5 * x * x / var) / np.sqrt(2.0 * np.pi * var)
    return x, w


def _frozen(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for a in arrays:
        a.setflags(write=False)
    return arrays


@lru_cache(maxsize=64)
def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights with ``sum(w * f(x)) ~= E[f(xi)]`` for ``xi ~ N(0, 1)`` (exact to degree 2n-1).

    Examples
    --------
    >>> x, w = gauss_hermite(10)
    >>> round(float(np.sum(w * x**4)), 12)  # E[xi^4] = 3
    3.0
    """
    if n < 1:
        raise ValueError(f"n (number of nodes) must be >= 1, got {n}")
    x, w = roots_hermitenorm(n)  # stable for large n (numpy's hermegauss overflows past n ~ 300)
    return _frozen(x, w / np.sqrt(2.0 * np.pi))


@lru_cache(maxsize=64)
def half_gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss rule of the weight ``phi(x) = exp(-x^2/2)/sqrt(2 pi)`` on ``[0, inf)``; weights sum to 1/2.

    The recurrence coefficients come from the exact moments ``int_0^inf x^k e^{-x^2/2} dx =
    2^{(k-1)/2} Gamma((k+1)/2)`` by Chebyshev's algorithm in 60+ digit arithmetic (mpmath), and the
    rule from the eigen-decomposition of the Jacobi matrix (Golub-Welsch).

    Examples
    --------
    >>> x, w = half_gauss_hermite(12)
    >>> bool(abs(np.sum(w * x) - 1 / np.sqrt(2 * np.pi)) < 1e-14)  # E[xi 1{xi > 0}]
    True
    """
    if n < 1:
        raise ValueError(f"n (number of nodes) must be >= 1, got {n}")
    with mpmath.workdps(60 + n):
        mom = [mpmath.power(2, mpmath.mpf(k - 1) / 2) * mpmath.gamma(mpmath.mpf(k + 1) / 2)
               for k in range(2 * n)]
        alpha, beta = _chebyshev(mom, n)
        a = np.array([float(v) for v in alpha])
        b = np.array([float(v) for v in beta])
    jac = np.diag(a) + np.diag(np.sqrt(b[1:]), 1) + np.diag(np.sqrt(b[1:]), -1)
    x, vec = np.linalg.eigh(jac)
    w = b[0] * vec[0] ** 2 / np.sqrt(2.0 * np.pi)
    return _frozen(x, w)


def _chebyshev(mom: list, n: int) -> tuple[list, list]:
    """Chebyshev's algorithm: recurrence coefficients (alpha_k, beta_k), k < n, from 2n moments."""
    alpha = [mom[1] / mom[0]]
    beta = [mom[0]]
    sig_prev = [mpmath.mpf(0)] * (2 * n)
    sig = list(mom)
    for k in range(1, n):
        new = [mpmath.mpf(0)] * (2 * n)
        for l in range(k, 2 * n - k):
            new[l] = sig[l + 1] - alpha[k - 1] * sig[l] - beta[k - 1] * sig_prev[l]
        alpha.append(new[k + 1] / new[k] - sig[k] / sig[k - 1])
        beta.append(new[k] / sig[k - 1])
        sig_prev, sig = sig, new
    return alpha, beta
