r"""Quadrature rules for the Gaussian expectations of the channel side (theory §2.5, "Quadrature").

All of the library's rules live here; :mod:`replica.channel` only chooses where their panels go.

* :func:`gauss_hermite` -- the probabilists' rule, ``E f(xi)`` with ``xi ~ N(0, 1)``, for smooth ``f``.
* :func:`gaussian_rule` -- a composite Gauss-Legendre rule for ``E f(x)``, ``x ~ N(0, var)``, with ``f``
  smooth except at given **breakpoints** (the kinks of a hinge or Huber prox: panel edges, so each piece is
  integrated as the smooth function it is) and across given **steps** (a sign teacher's ``Z0`` as ``V* -> 0``:
  panels graded geometrically from a quarter of the step's width). Its accuracy does not depend on how close
  a kink or a step is to a node, nor on how narrow the step is.
* :func:`convolution_rule` -- for many centres ``c_j`` at once, rules for ``E f(c_j + sd t)`` with ``f``
  smooth on the panels of a given partition (a steep custom likelihood), split wherever a partition edge
  falls inside a centre's window; the panels are shared, so ``f`` is evaluated once per distinct node.
* :func:`resolve_partition` -- the partition on which given functions are polynomials to rounding (adaptive
  bisection with a Chebyshev-coefficient test, once per channel), and their interpolants (:class:`Partition`).
* :func:`logistic_normal_mixture` -- the logistic sigmoid as a finite mixture of normal CDFs,
  ``expit(x) = sum_k c_k Phi(x / s_k)``, from the exact scale-mixture representation of the logistic law.
* :func:`gauss_rule_from_moments` -- a Gauss rule from the moments of its weight (Chebyshev's algorithm in
  high-precision arithmetic, then Golub-Welsch).

Rules are computed once per order and cached; they are returned as read-only arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import mpmath
import numpy as np
from scipy.special import roots_hermitenorm

__all__ = ["gauss_hermite", "gauss_legendre", "nodes_for_variance", "gaussian_rule", "convolution_rule",
           "resolve_partition", "Partition", "logistic_normal_mixture", "gauss_rule_from_moments"]

#: Fewest and most nodes per dimension, and nodes per unit of variance (see :func:`nodes_for_variance`).
N_MIN, N_MAX, N_PER_VARIANCE = 48, 256, 64

#: Gauss-Legendre order per panel. A 12-point panel integrates the Gaussian density to 3e-16 on panels up to
#: 3 standard deviations wide (to 2e-13 at 4 sd); panels are at most ``MAX_PANEL_SD`` sd wide.
PANEL_ORDER = 12
#: Half-width of the domain in standard deviations: the Gaussian mass beyond 10 sd is 1.5e-23, far below
#: double precision even after multiplication by the polynomially growing integrands of the channel side.
PANEL_SPAN = 10.0
#: Widest panel, in standard deviations of the Gaussian and in units of the scale of the integrand.
MAX_PANEL_SD = 2.0
#: A step of width ``w`` gets edges at ``centre +- w * LADDER_START * 2^k`` until a panel would be wider than
#: the uniform panels; the smallest panel is never narrower than ``LADDER_FLOOR`` standard deviations (a step
#: narrower than that changes an expectation by less than its width, ~1e-11 relative).
LADDER_START, LADDER_FLOOR = 0.25, 1e-15
#: Most uniform panels of one rule (20 000 panels, 240 000 nodes, a few MB): reached at a standard deviation of
#: 2000 times the integrand's scale (q ~ 4e6 for the channel side). A wilder iterate of the saddle-point map asked
#: for up to 1e8 nodes (gigabytes); beyond the cap :func:`gaussian_rule` refuses (FloatingPointError), which the
#: solver treats as a point outside the map's domain, instead of silently widening panels past its accuracy.
MAX_UNIFORM_PANELS = 20_000


def nodes_for_variance(var: float) -> int:
    """Order of a Gauss rule for ``E f(sigma xi)`` with ``sigma^2 = var`` and ``f`` varying on scale 1.

    A Gauss-Hermite rule converges like ``exp(-c d sqrt(n) / sigma)`` for ``f`` analytic in a strip of
    half-width ``d``; losses and channels vary on scale ~1, so the order grows like ``sigma^2``. Orders are
    rounded up to multiples of 32 (so few distinct rules are cached) and capped at ``N_MAX``.

    Examples
    --------
    >>> nodes_for_variance(0.1), nodes_for_variance(2.0), nodes_for_variance(1e6)
    (64, 128, 256)
    """
    n = int(np.ceil(max(N_MIN, N_PER_VARIANCE * float(var)) / 32.0) * 32)
    return min(n, N_MAX)


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


@lru_cache(maxsize=8)
def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on ``[-1, 1]`` (exact to degree 2n-1).

    Examples
    --------
    >>> x, w = gauss_legendre(3)
    >>> round(float(np.sum(w * x**4)), 14)  # int_{-1}^{1} x^4 dx = 2/5
    0.4
    """
    if n < 1:
        raise ValueError(f"n (number of nodes) must be >= 1, got {n}")
    return _frozen(*np.polynomial.legendre.leggauss(n))


def _panels(edges: np.ndarray, order: int = PANEL_ORDER) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights (``dx``, no density) on consecutive ``edges``."""
    x0, w0 = gauss_legendre(order)
    half = 0.5 * (edges[1:] - edges[:-1])[:, None]
    return (half * x0 + (edges[:-1, None] + half)).ravel(), (half * w0).ravel()


def _ladder(centre: float, width: float, h: float, floor: float) -> np.ndarray:
    """Edges graded geometrically around ``centre``: ``centre +- max(width/4, floor) 2^k`` while the panels
    are narrower than ``h``."""
    start = max(LADDER_START * width, floor)
    if not np.isfinite(start) or start >= h:
        return np.array([centre])
    k = int(np.floor(np.log2(h / start))) + 1
    off = start * 2.0 ** np.arange(k)
    return np.concatenate([[centre], centre - off, centre + off])


def gaussian_rule(var: float, *, breakpoints: Sequence[float] = (), steps: Sequence[tuple[float, float]] = (),
                  scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Composite Gauss-Legendre rule for ``E f(x)``, ``x ~ N(0, var)``; the weights include the density.

    Parameters
    ----------
    var : float
        Variance of ``x`` (> 0).
    breakpoints : sequence of float
        Points where ``f`` or a derivative jumps (kinks of a prox): they become panel edges.
    steps : sequence of (centre, width)
        Smooth near-steps or bumps of ``f`` (``Z0`` of a sign teacher, width ``sqrt(V*) q/|m|``): panels
        graded geometrically around each centre, from a quarter of its width.
    scale : float
        The scale on which ``f`` varies elsewhere; panels are at most ``2 * min(scale, sd)`` wide.

    Returns
    -------
    x, w : ndarray
        Nodes and weights, ``sum(w * f(x)) ~= E f(x)``, over ``|x| <= 10 sd``.

    Examples
    --------
    >>> x, w = gaussian_rule(2.0, breakpoints=[0.3])
    >>> # E (x - 0.3)_+ = s phi(a/s) - a Phi(-a/s) with s = sqrt(2), a = 0.3
    >>> bool(abs(np.sum(w * np.maximum(x - 0.3, 0.0)) - 0.4268364590395) < 1e-12)
    True
    """
    var = float(var)
    if not (np.isfinite(var) and var > 0):  # before the square root: a negative var is an error, not a warning
        raise ValueError(f"var must be finite and > 0, got {var}")
    sd = float(np.sqrt(var))
    span = PANEL_SPAN * sd
    h = MAX_PANEL_SD * min(sd, float(scale))
    n_half = int(np.ceil(span / h))
    if 2 * n_half > MAX_UNIFORM_PANELS:
        raise FloatingPointError(f"a Gaussian of variance {var:.3g} needs {2 * n_half} panels of width {h:.3g}, more "
                                 f"than MAX_UNIFORM_PANELS = {MAX_UNIFORM_PANELS}")
    parts = [np.arange(-n_half, n_half + 1) * (span / n_half)]
    bp = np.asarray(breakpoints, dtype=float).ravel()
    parts.append(bp[np.isfinite(bp)])
    for centre, width in steps:
        if np.isfinite(centre) and abs(centre) < span + width:
            parts.append(_ladder(float(centre), float(width), h, LADDER_FLOOR * sd))
    edges = np.sort(np.clip(np.concatenate(parts), -span, span))
    edges = edges[np.concatenate([[True], np.diff(edges) > 4 * np.finfo(float).eps * span])]
    edges[-1] = span
    x, w = _panels(edges)
    return x, w * np.exp(-0.5 * x * x / var) / np.sqrt(2.0 * np.pi * var)


def convolution_rule(centres: np.ndarray, sd: float, edges: np.ndarray, *, order: int = PANEL_ORDER,
                     gh_order: int = 24) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Rules for ``E f(c_j + sd t)``, ``t ~ N(0, 1)``, for every centre ``c_j``, with ``f`` resolved by
    polynomials of degree < 12 on the panels of the partition ``edges`` (see :func:`resolve_partition`) and
    smooth beyond its ends; ``f`` is evaluated once per distinct node.

    A panel at least as wide as ``2 sd`` (the lattice spacing below) makes ``f`` analytic within ~7 sd of the
    real axis there (a degree-12 resolution to 1e-14 needs a Bernstein ellipse of parameter ~15). So a centre
    whose window ``c_j +- 10 sd`` meets no narrower panel gets the ``gh_order``-point Gauss-Hermite rule
    (error ~exp(-7 sqrt(2 gh_order)), below rounding). Any other centre gets composite Gauss-Legendre panels:
    the cells of a lattice of spacing ``2 sd`` that cover its window, split at the edges of the narrow
    panels. The panels are shared between centres, so their nodes are distinct only once.

    Returns
    -------
    owner, node, w, z : ndarray
        Entry ``i`` of ``owner``, ``node`` and ``w`` says that the node ``z[node[i]]`` carries the weight
        ``w[i]`` (density included) in the rule of centre ``owner[i]``; so
        ``np.bincount(owner, w * f(z)[node], len(centres))`` is the vector of expectations.

    Examples
    --------
    >>> owner, node, w, z = convolution_rule(np.array([0.0, 5.0]), 0.5, np.array([-1.0, -0.1, 0.0, 1.0]))
    >>> np.round(np.bincount(owner, w * (z**2)[node], 2), 12)  # E (c + t/2)^2 = c^2 + 1/4
    array([ 0.25, 25.25])
    """
    centres = np.asarray(centres, dtype=float).ravel()
    edges = np.asarray(edges, dtype=float).ravel()
    half = PANEL_SPAN * sd
    h = MAX_PANEL_SD * sd
    narrow = np.diff(edges) < h
    a_n, b_n = edges[:-1][narrow], edges[1:][narrow]  # disjoint and sorted
    if a_n.size:
        j = np.minimum(np.searchsorted(b_n, centres - half, side="right"), a_n.size - 1)
        smooth = ~((b_n[j] > centres - half) & (a_n[j] < centres + half))
    else:
        smooth = np.ones(centres.size, dtype=bool)
    edges = np.unique(np.concatenate([a_n, b_n]))
    xg, wg = gauss_hermite(gh_order)
    sm = np.flatnonzero(smooth)
    owner_s = np.repeat(sm, gh_order)
    z_s = (centres[sm][:, None] + sd * xg).ravel()
    w_s = np.broadcast_to(wg, (sm.size, gh_order)).ravel()
    rough = np.flatnonzero(~smooth)
    if rough.size == 0:
        return owner_s, np.arange(z_s.size), w_s, z_s
    # lattice cells covering each rough window, refined by the narrow panels' edges inside any window
    k_lo = np.floor((centres[rough] - half) / h).astype(np.int64)
    k_hi = np.ceil((centres[rough] + half) / h).astype(np.int64)
    n_cells = int(np.max(k_hi - k_lo))
    lattice = np.unique((k_lo[:, None] + np.arange(n_cells + 1)).ravel()) * h
    a_idx = np.searchsorted(edges, k_lo * h, side="right")
    b_idx = np.searchsorted(edges, k_hi * h, side="left")
    cover = np.zeros(edges.size + 1, dtype=np.int64)
    np.add.at(cover, a_idx, 1)
    np.add.at(cover, b_idx, -1)
    inside = np.cumsum(cover)[:-1] > 0
    gedges = np.unique(np.concatenate([lattice, edges[inside]]))
    x0, w0 = gauss_legendre(order)
    ga, gb = gedges[:-1], gedges[1:]
    z_r = (0.5 * (gb - ga)[:, None] * x0 + 0.5 * (ga + gb)[:, None]).ravel()
    w_gl = (0.5 * (gb - ga)[:, None] * w0).ravel()
    # each rough centre uses the global panels between its lattice ends (ragged)
    p_lo = np.searchsorted(gedges, k_lo * h)
    p_hi = np.searchsorted(gedges, k_hi * h)
    cnt = (p_hi - p_lo) * order
    who = np.repeat(np.arange(rough.size), cnt)
    node = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt) + np.repeat(p_lo * order, cnt)
    # offsets from the centre as (left edge - centre) + position in the panel: the difference of nearby numbers
    # is exact, so a narrow Gaussian far from 0 keeps its relative accuracy (z - c would lose eps |c| / sd)
    pan, k = np.divmod(node, order)
    t = ((ga[pan] - centres[rough][who]) + (gb[pan] - ga[pan]) * (0.5 * (x0[k] + 1.0))) / sd
    w_r = w_gl[node] * np.exp(-0.5 * t * t) / (np.sqrt(2 * np.pi) * sd)
    return (np.concatenate([owner_s, rough[who]]), np.concatenate([np.arange(z_s.size), z_s.size + node]),
            np.concatenate([w_s, w_r]), np.concatenate([z_s, z_r]))


@dataclass(frozen=True)
class Partition:
    """Piecewise Chebyshev interpolants of ``k`` functions on the panels ``edges`` (see :func:`resolve_partition`).

    Calling it evaluates the interpolants (Clenshaw's recurrence), shape ``(k, n)`` for ``n`` points; points
    beyond the ends are clamped to them.
    """

    edges: np.ndarray
    coef: np.ndarray  # (k, panels, degree) Chebyshev coefficients per panel

    def __call__(self, z, rows: slice = slice(None)) -> np.ndarray:
        """Values of the interpolants ``rows`` (all by default) at the points ``z``, shape ``(k, n)``."""
        z = np.clip(np.asarray(z, dtype=float).ravel(), self.edges[0], self.edges[-1])
        i = np.clip(np.searchsorted(self.edges, z, side="right") - 1, 0, self.edges.size - 2)
        a, b = self.edges[i], self.edges[i + 1]
        t2 = 2.0 * (2.0 * z - (a + b)) / (b - a)
        coef = self.coef[rows]
        b1 = np.zeros((coef.shape[0], z.size))
        b2 = np.zeros_like(b1)
        for j in range(coef.shape[2] - 1, 0, -1):
            b1, b2 = coef[:, i, j] + t2 * b1 - b2, b1
        return coef[:, i, 0] + 0.5 * t2 * b1 - b2


def resolve_partition(funcs: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, *, width: float,
                      tol: float = 1e-14, degree: int = 12, min_width: float = 1e-12) -> Partition:
    r"""A partition of ``[lo, hi]`` on whose panels ``funcs`` are polynomials of degree < ``degree`` to ``tol``
    (relative to the largest value of each function on the interval), with their interpolants.

    ``funcs(z)`` maps points of shape ``(n,)`` to values of shape ``(k, n)`` (``k`` functions at once).
    Panels start ``width`` wide and are bisected while the Chebyshev coefficients of degree ``>= degree``
    (from values at ``2 degree`` Chebyshev points) exceed the tolerance, down to ``min_width``. The result
    interpolates at those ``2 degree`` points per panel, so evaluating it costs a few flops per point
    whatever ``funcs`` costs (a steep sympy likelihood that overflows numpy and falls back to mpmath).

    Examples
    --------
    >>> part = resolve_partition(lambda z: np.tanh(z[None, :] / 1e-3), -1.0, 1.0, width=0.5)
    >>> bool(np.min(np.diff(part.edges)) < 1e-2 < np.max(np.diff(part.edges)))  # fine near 0 only
    True
    >>> z = np.linspace(-1, 1, 1001)
    >>> bool(np.max(np.abs(part(z)[0] - np.tanh(z / 1e-3))) < 1e-13)
    True
    """
    npts = 2 * degree
    theta = np.pi * (np.arange(npts) + 0.5) / npts
    tk = np.cos(theta)  # Chebyshev points of the first kind
    basis = np.cos(np.outer(np.arange(npts), theta)) * (2.0 / npts)
    basis[0] *= 0.5
    n0 = max(1, int(np.ceil((hi - lo) / width)))
    todo = np.linspace(lo, hi, n0 + 1)
    todo = np.stack([todo[:-1], todo[1:]], axis=1)
    done, done_coef = [], []
    scale = None
    while todo.size:
        mid, rad = todo.mean(axis=1), 0.5 * (todo[:, 1] - todo[:, 0])
        z = (mid[:, None] + rad[:, None] * tk).ravel()
        vals = np.asarray(funcs(z), dtype=float).reshape(-1, len(todo), npts)
        if not np.all(np.isfinite(vals)):
            raise FloatingPointError("a function to resolve is not finite on the interval")
        big = np.max(np.abs(vals), axis=(1, 2))
        scale = big if scale is None else np.maximum(scale, big)
        coef = vals @ basis.T  # (k, panels, npts) Chebyshev coefficients
        tail = np.max(np.abs(coef[:, :, degree:]) / np.maximum(scale, np.finfo(float).tiny)[:, None, None],
                      axis=(0, 2))
        ok = (tail <= tol) | (rad <= 0.5 * min_width)
        done.append(todo[ok])
        done_coef.append(coef[:, ok])
        split = todo[~ok]
        m = split.mean(axis=1)
        todo = np.concatenate([np.stack([split[:, 0], m], 1), np.stack([m, split[:, 1]], 1)])
    panels = np.concatenate(done)
    coef = np.concatenate(done_coef, axis=1)
    order_ = np.argsort(panels[:, 0])
    panels, coef = panels[order_], coef[:, order_]
    edges = np.append(panels[:, 0], panels[-1, 1])
    return Partition(edges=_frozen(edges)[0], coef=_frozen(np.ascontiguousarray(coef))[0])


@lru_cache(maxsize=4)
def logistic_normal_mixture(n: int = 48, prune: float = 1e-17) -> tuple[np.ndarray, np.ndarray]:
    r"""Scales ``s_k`` and weights ``c_k`` with ``expit(x) = sum_k c_k Phi(x / s_k)`` to rounding.

    The logistic law is a scale mixture of normals: ``X = s Z`` with ``Z ~ N(0, 1)`` and ``s/2`` independent
    of ``Z`` with Kolmogorov's distribution (Andrews & Mallows 1974; Stefanski 1991). The rule is the Gauss
    rule of the law of ``s``, whose moments are ``E s^k = 2^(k/2) k Gamma(k/2) eta(k)`` (``eta`` Dirichlet's
    eta function; ``E s^2 = pi^2/3``, the logistic variance). Nodes of weight below ``prune`` are dropped
    (48 nodes keep 36): the mixture reproduces ``expit`` and its derivative to 5e-16 on the real line, and
    so convolutions ``E expit(a + b t) = sum_k c_k Phi(a / sqrt(s_k^2 + b^2))`` to the same.

    Examples
    --------
    >>> s, c = logistic_normal_mixture()
    >>> from scipy.special import expit, ndtr
    >>> x = np.linspace(-30, 30, 601)
    >>> bool(np.max(np.abs(ndtr(x[:, None] / s) @ c - expit(x))) < 1e-14)
    True
    """
    with mpmath.workdps(40 + 2 * n):
        mom = [mpmath.mpf(1)] + [mpmath.power(2, mpmath.mpf(k) / 2) * k * mpmath.gamma(mpmath.mpf(k) / 2)
                                 * mpmath.altzeta(k) for k in range(1, 2 * n)]
        s, c = gauss_rule_from_moments(mom)
    keep = c >= prune
    return _frozen(np.ascontiguousarray(s[keep]), np.ascontiguousarray(c[keep]))


def gauss_rule_from_moments(moments: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Gauss rule with ``len(moments) // 2`` nodes of the weight whose moments ``int x^k dmu`` are given.

    Chebyshev's algorithm turns the moments into recurrence coefficients, in the working precision of
    ``mpmath`` (the map is ill-conditioned: use ~2 digits per moment), then Golub-Welsch gives the rule.

    Examples
    --------
    >>> import math
    >>> x, w = gauss_rule_from_moments([math.prod(range(1, k, 2)) if k % 2 == 0 else 0 for k in range(8)])
    >>> np.round(x, 12)  # the 4-point probabilists' Gauss-Hermite rule
    array([-2.33441422, -0.74196378,  0.74196378,  2.33441422])
    """
    mom = [mpmath.mpf(v) for v in moments]
    n = len(mom) // 2
    alpha, beta = _chebyshev(mom, n)
    a = np.array([float(v) for v in alpha])
    b = np.array([float(v) for v in beta])
    jac = np.diag(a) + np.diag(np.sqrt(b[1:]), 1) + np.diag(np.sqrt(b[1:]), -1)
    x, vec = np.linalg.eigh(jac)
    return x, b[0] * vec[0] ** 2


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
