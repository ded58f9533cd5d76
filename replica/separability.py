r"""The separability threshold of a Gaussian covariate model: the sample ratio below which the training
data are linearly separable with probability :math:`\to 1`, for any spectrum and any ``+-1`` teacher channel.

Derivation (the full one, with the Gardner computation that gives the same answer, is in
``docs/separability.md``). The data are separable iff some ``w`` has :math:`y^\mu\, w\cdot v^\mu > 0` for
every sample. With :math:`v = \Omega^{1/2} g`, :math:`g \sim N(0, I_p)`, the field is
:math:`w\cdot v = (\Omega^{1/2} w)\cdot g` and :math:`\Omega^{1/2} w` ranges over the range of
:math:`\Omega`: separability depends on the features only through the ``r = rank(Omega)`` whitened
coordinates, not on the eigenvalues :math:`s_i`. The teacher field splits as
:math:`\nu = \nu_{lin} + \nu_\perp` with :math:`\nu_{lin} = E[\nu \mid v]` (variance :math:`\rho_{lin}`,
theory §1.5), a fixed direction of the whitened coordinates, and :math:`\nu_\perp \sim N(0, \rho - \rho_{lin})`
independent of ``v``. So the problem is that of Candès & Sur (isotropic covariates in dimension ``r``,
labels depending on one projection :math:`\xi = \nu_{lin}/\sqrt{\rho_{lin}}` through the effective
channel :math:`P(y \mid \xi) = E_\zeta P_0(y \mid \sqrt{\rho_{lin}}\,\xi + \sqrt{\rho - \rho_{lin}}\,\zeta)`):
by the kinematic formula, the data are separable with probability :math:`\to 1` iff :math:`r/n > h` and
not separable iff :math:`r/n < h`, where

.. math:: h = \min_{t \in \mathbb R} E\big[(t\, y\, \xi + Z)_+^2\big], \qquad Z \sim N(0, 1)
          \text{ independent of } (y, \xi).

In the library's :math:`\alpha = n/p` (theory §1.4) the threshold is therefore

.. math:: \alpha_{sep} = \frac{\mathrm{rank}(\Omega)}{p\, h}.

Special cases: labels independent of the features (:math:`\rho_{lin} = 0`) give :math:`h = E[Z_+^2] = 1/2`,
Cover's two samples per dimension, :math:`\alpha_{sep} = 2\,\mathrm{rank}(\Omega)/p`; a noiseless sign
teacher that the student sees fully (:math:`\rho_{lin} = \rho`, no flips) has :math:`y\xi = |\xi| \ge 0`,
so :math:`h = 0` (take :math:`t \to -\infty`) and the data are separable at every alpha
(:math:`\alpha_{sep} = \infty`).

Numerics. :math:`E_Z (a + Z)_+^2 = \psi(a) = (1 + a^2)\Phi(a) + a\varphi(a)` in closed form, and given the
teacher field, :math:`y\xi` is Gaussian (mean :math:`y\sqrt{\rho_{lin}}\,\nu/\rho`, variance
:math:`s^2 = 1 - \rho_{lin}/\rho`), so :math:`E[(t y \xi + Z)_+^2 \mid \nu, y] = \sigma_t^2\,\psi(t\, E[y\xi \mid
\nu, y]/\sigma_t)` with :math:`\sigma_t^2 = 1 + t^2 s^2`: ``h(t)`` is a one-dimensional expectation over the
teacher field :math:`\nu \sim N(0, \rho)`, with the channel's own law :math:`P_0(y \mid \nu)` (the sign family's
closed form, or the expression of a :meth:`~replica.Channel.from_likelihood` channel), convex in ``t`` and
minimised by a bracketed root of :math:`h'(t)`. The rule in :math:`\nu` is composite Gauss-Legendre, split at
:math:`\nu = 0` (the step of a sign teacher), graded there down to the finer of the likelihood's scale (its
largest slope on a fine grid) and the width of the integrand's kink at :math:`\nu = 0` (about :math:`1/|t|`,
refined after a first minimisation), uniform elsewhere; the result is re-evaluated with twice the order, and a
disagreement beyond ``1e-9`` raises :class:`replica.ConvergenceError` rather than returning a number. Every channel
gives its law through :meth:`replica.Channel.likelihood` (the built-in ``logit`` included).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from gaussequiv import checks
from replica.channel import Channel
from replica.quadrature import PANEL_ORDER, _panels
from replica.result import ConvergenceError
from spectra import Spectrum

__all__ = ["separability_threshold", "require_binary_channel"]

#: ``rho - rho_lin <= FULLY_VISIBLE_RTOL * rho`` counts as a teacher the student sees fully (``rho_lin`` is
#: a sum of ``p`` terms, so exact spectra reproduce ``rho_lin = rho`` only to a few ulps times ``p``).
FULLY_VISIBLE_RTOL = 1e-9


def _mills(x: np.ndarray) -> np.ndarray:
    """Mills ratio ``(1 - Phi(x))/phi(x) = erfcx(x/sqrt 2) sqrt(pi/2)``, for ``x >= 0``."""
    return special.erfcx(x / np.sqrt(2.0)) * np.sqrt(np.pi / 2.0)


def _psi(a: np.ndarray) -> np.ndarray:
    r""":math:`E_Z(a + Z)_+^2 = (1 + a^2)\Phi(a) + a\varphi(a)`; for ``a < 0`` as
    :math:`\varphi(a)[(1 + a^2) R(-a) + a]` with the Mills ratio ``R``, so that it does not cancel to ``0 - 0``."""
    a = np.atleast_1d(np.asarray(a, dtype=float))
    phi = np.exp(-0.5 * a * a) / np.sqrt(2.0 * np.pi)
    out = (1.0 + a * a) * special.ndtr(a) + a * phi
    neg = a < 0
    an = a[neg]
    out[neg] = phi[neg] * ((1.0 + an * an) * _mills(-an) + an)
    return np.maximum(out, 0.0)


def _dpsi(a: np.ndarray) -> np.ndarray:
    r""":math:`\psi'(a) = 2(a\Phi(a) + \varphi(a))`, written :math:`2\varphi(a)(1 + a R(-a))` for ``a < 0``."""
    a = np.atleast_1d(np.asarray(a, dtype=float))
    phi = np.exp(-0.5 * a * a) / np.sqrt(2.0 * np.pi)
    out = 2.0 * (a * special.ndtr(a) + phi)
    neg = a < 0
    out[neg] = 2.0 * phi[neg] * (1.0 + a[neg] * _mills(-a[neg]))
    return np.maximum(out, 0.0)


def require_binary_channel(channel) -> Channel:
    """``channel`` if it is a :class:`replica.Channel` with labels exactly ``-1, +1`` (linear separability, the
    threshold and its simulation are defined for those only); a TypeError or ValueError that says so otherwise.

    Examples
    --------
    >>> from replica import Channel
    >>> require_binary_channel(Channel.linear(0.1))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: channel must give labels -1 and +1 (linear separability is a property of classification data), ...
    """
    checks.instance("channel", channel, Channel, "Channel.sign()")
    labels = channel.labels
    if not channel.is_classification or labels is None or set(labels) != {-1.0, 1.0}:
        raise ValueError(f"channel must give labels -1 and +1 (linear separability is a property of "
                         f"classification data), got {channel!r} with labels {labels}")
    return channel


#: Largest number of uniform panels per half-line of the rule in ``nu`` (resolves likelihoods that vary on
#: scales down to ``12 sqrt(rho) / MAX_PANELS``; sharper variation is resolved only at ``nu = 0``, by grading).
MAX_PANELS = 4000
#: Relative agreement required between the rule and a rule of twice the order at the minimiser.
SELF_CHECK_RTOL = 1e-9


def _label_law(channel: Channel, rho: float):
    """``(P0, scale)``: the law of the label given the teacher field as a vectorised ``P0(y, nu)``
    (:meth:`replica.Channel.likelihood`, closed form for the sign family), and the scale on which it varies
    fastest (from its largest slope on a fine grid of ``|nu| <= 12 sqrt(rho)``)."""
    def p0(y, nu):
        return channel.likelihood(y, nu)

    noise = getattr(channel, "noise", None)
    if noise is not None and getattr(channel, "flip", None) is not None:  # the sign family: a step at nu = 0 (the
        return p0, (np.sqrt(noise) if noise > 0 else np.sqrt(rho))       # rule splits there) smoothed by the noise

    grid = np.linspace(-12.0, 12.0, 24001) * np.sqrt(rho)
    slope = max(float(np.max(np.abs(np.diff(p0(np.full_like(grid, y), grid)) / np.diff(grid)))) for y in (-1.0, 1.0))
    return p0, min(np.sqrt(rho), 1.0 / max(slope, 1e-300))


def _nu_rule(rho: float, width: float, scale: float, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre rule for ``E f(nu)``, ``nu ~ N(0, rho)``, ``f`` smooth on each side of 0, varying
    on scale ``width`` near 0 and ``scale`` elsewhere: panels graded geometrically from ``width/4`` at the origin,
    uniform (``<= scale/2``, at most ``MAX_PANELS``) out to 12 standard deviations; weights include the density.

    Why not :func:`replica.quadrature.gaussian_rule`: that rule refuses more than ``MAX_UNIFORM_PANELS`` uniform
    panels (the solver treats it as a point outside its domain), while a steep likelihood here must still give a
    threshold: this rule caps the uniform panels at ``MAX_PANELS`` and resolves the steep part at ``nu = 0`` by
    grading alone, which the self-check at twice the order then confirms or refuses."""
    span = 12.0 * np.sqrt(rho)
    start = min(width, scale, span) / 4.0
    geo = start * 2.0 ** np.arange(0, int(np.ceil(np.log2(span / start))) + 1)
    step = max(min(scale / 2.0, span / 24.0), span / MAX_PANELS)
    edges = np.unique(np.concatenate([[0.0, span], geo[geo < span], np.arange(step, span, step)]))
    x, w = _panels(edges, order)
    x = np.concatenate([-x[::-1], x])
    w = np.concatenate([w[::-1], w]) * np.exp(-0.5 * x * x / rho) / np.sqrt(2.0 * np.pi * rho)
    return x, w


def _nodes(p0, width: float, scale: float, rho: float, rho_lin: float, order: int):
    """Nodes of ``h(t) = E_nu sum_y P0(y|nu) sigma_t^2 psi(t y c nu / sigma_t)``: ``(a, w)`` with ``a = y c nu``,
    ``c = sqrt(rho_lin)/rho`` (so that ``a = y E[xi | nu]``) and ``w = P0(y|nu)`` times the rule's weight."""
    nu, w = _nu_rule(rho, width, scale, order)
    c = np.sqrt(rho_lin) / rho
    a = np.concatenate([-c * nu, c * nu])
    wy = np.concatenate([w * p0(np.full_like(nu, -1.0), nu), w * p0(np.full_like(nu, 1.0), nu)])
    total = float(np.sum(wy))
    if not np.all(np.isfinite(wy)) or np.any(wy < -1e-15) or abs(total - 1.0) > 1e-8:
        raise ConvergenceError(f"the quadrature of the label law at rho = {rho:g} has total weight {total!r} "
                               f"instead of 1 (is P0 a probability over the labels -1, +1?)")
    keep = wy > 0
    return a[keep], wy[keep]


def _h(t: float, a: np.ndarray, w: np.ndarray, s2: float) -> float:
    sig = np.sqrt(1.0 + t * t * s2)
    return float((1.0 + t * t * s2) * np.dot(w, _psi(t * a / sig)))


def _dh(t: float, a: np.ndarray, w: np.ndarray, s2: float) -> float:
    sig = np.sqrt(1.0 + t * t * s2)
    x = t * a / sig
    return float(2.0 * t * s2 * np.dot(w, _psi(x)) + np.dot(w, a * _dpsi(x)) / sig)


def _h_min(a: np.ndarray, w: np.ndarray, s2: float = 0.0) -> tuple[float, float]:
    r"""``(min_t h(t), argmin)`` for :math:`h(t) = E[(t y \xi + Z)_+^2]` with
    :math:`y\xi \mid \nu \sim N(a, s^2)`: by :math:`E(\mu + \sigma Z)_+^2 = \sigma^2\psi(\mu/\sigma)`,
    :math:`h(t) = \sum_j w_j \sigma_t^2 \psi(t a_j/\sigma_t)`, :math:`\sigma_t^2 = 1 + t^2 s^2`.

    Convex in ``t``; its derivative is bracketed by doubling steps away from ``t = 0`` and solved with Brent's
    method. With ``s2 = 0`` and no ``a < 0`` the infimum is 0, approached as ``t -> -inf`` (returned as
    ``(0.0, -inf)``).
    """
    d0 = _dh(0.0, a, w, s2)
    if d0 == 0.0:
        return _h(0.0, a, w, s2), 0.0
    direction = -1.0 if d0 > 0 else 1.0
    if s2 == 0.0 and not np.any(direction * a > 0):  # h decreases to 0 as |t| -> inf
        return 0.0, direction * np.inf
    lo, hi = 0.0, direction
    for _ in range(200):
        if np.sign(_dh(hi, a, w, s2)) != np.sign(d0):
            break
        lo, hi = hi, 2.0 * hi
    else:
        raise ConvergenceError(f"could not bracket the minimiser of h(t) (|t| reached {abs(hi):.3g})")
    from scipy import optimize  # here: scipy.optimize is not loaded with replica (issue 13)

    t = optimize.brentq(_dh, min(lo, hi), max(lo, hi), args=(a, w, s2), xtol=1e-14,
                        rtol=4 * np.finfo(float).eps, maxiter=500)
    return _h(t, a, w, s2), t


def _h_channel(channel: Channel, rho: float, rho_lin: float) -> float:
    """Candès & Sur's ``h`` of the standardised visible field for any ``+-1`` channel (module docstring)."""
    law = _label_law(channel, rho)
    visible = rho - rho_lin <= FULLY_VISIBLE_RTOL * rho
    p0, scale = law
    width = scale
    s2 = 0.0 if visible else 1.0 - rho_lin / rho
    rho_lin = rho if visible else rho_lin
    c = np.sqrt(rho_lin) / rho
    for _ in range(8):
        a, w = _nodes(p0, width, scale, rho, rho_lin, PANEL_ORDER)
        h, t = _h_min(a, w, s2)
        if not np.isfinite(t):
            return h
        # psi(t a / sigma_t) turns over where |t c nu| ~ sigma_t: the rule must resolve that scale at nu = 0 too
        feature = np.sqrt(1.0 + t * t * s2) / (abs(t) * c) if t != 0 else np.inf
        if feature >= width:
            break
        width = feature
    a2, w2 = _nodes(p0, width, scale, rho, rho_lin, 2 * PANEL_ORDER)  # self-check: twice the order on the same panels
    h2 = _h(t, a2, w2, s2)
    if abs(h2 - h) > SELF_CHECK_RTOL * max(h, 1e-300):
        raise ConvergenceError(f"the quadrature of h for {channel!r} is not resolved (h = {h!r} with "
                               f"{PANEL_ORDER}-point panels, {h2!r} with {2 * PANEL_ORDER}); the likelihood "
                               f"varies on scales finer than its panels")
    return h


def separability_threshold(spectrum: Spectrum, channel: Channel, *, rank_rtol: float | None = None) -> float:
    r"""The sample ratio :math:`\alpha = n/p` below which the training data are linearly separable.

    For a Gaussian covariate model with student spectrum ``spectrum`` and labels from ``channel`` applied to
    the teacher field, in the limit :math:`n, p \to \infty` at fixed :math:`\alpha = n/p` (theory §1.4),
    the data :math:`\{(v^\mu, y^\mu)\}_{\mu \le n}` admit a ``w`` with :math:`y^\mu w\cdot v^\mu > 0` for all
    :math:`\mu` with probability :math:`\to 1` if :math:`\alpha < \alpha_{sep}` and with probability
    :math:`\to 0` if :math:`\alpha > \alpha_{sep}`, where

    .. math:: \alpha_{sep} = \frac{\mathrm{rank}(\Omega)}{p\, h},\qquad
              h = \min_t E\big[(t\, y\, \xi + Z)_+^2\big]

    with :math:`\xi = \nu_{lin}/\sqrt{\rho_{lin}}` the standardised best linear predictor of the teacher
    field, ``y`` its label and ``Z ~ N(0, 1)`` (module docstring; Candès & Sur 2020 for isotropic data).
    This is where logistic regression at :math:`\lambda \to 0^+` stops having a finite minimiser
    (theory §2.7, §6.4): the unpenalised logistic MLE exists iff :math:`\alpha > \alpha_{sep}`.

    Parameters
    ----------
    spectrum : spectra.Spectrum
        Student covariance spectrum and teacher weights. Only ``rank(Omega)/p``, ``rho_lin`` and ``rho``
        matter: separability is invariant under invertible linear maps of the features.
    channel : replica.Channel
        A channel with labels ``+-1``: :meth:`~replica.Channel.sign` (with ``flip``),
        :meth:`~replica.Channel.probit` or :meth:`~replica.Channel.from_likelihood` on labels ``(-1, 1)``.
    rank_rtol : float, optional
        Eigenvalues ``s_i <= rank_rtol * max(s)`` count as zero (and their ``t_i`` are left out of
        ``rho_lin``). Default ``p * machine epsilon``, numpy's ``matrix_rank`` convention, so that the
        round-off eigenvalues of an exactly rank-deficient covariance do not count.

    Returns
    -------
    float
        :math:`\alpha_{sep}` in units of ``n/p``; ``inf`` when the data are separable at every alpha (a
        noiseless sign teacher that the student sees fully, :math:`\rho_{lin} = \rho` within a relative
        ``1e-9``).

    Raises
    ------
    TypeError
        ``spectrum`` is not a :class:`spectra.Spectrum` or ``channel`` not a :class:`replica.Channel`.
    ValueError
        The channel's labels are not ``+-1`` (regression), or ``rank_rtol`` is not in ``[0, 1)``.
    replica.ConvergenceError
        The quadrature of the label law is inconsistent (weights not summing to 1) or the minimiser of
        ``h`` cannot be bracketed.

    Notes
    -----
    The threshold is an asymptotic statement; at finite size the fraction of separable draws falls from 1
    to 0 over a window of width :math:`O(\alpha_{sep}/\sqrt{\mathrm{rank}\,\Omega})` around it.
    :func:`validation.simulate_separability` measures it with linear programs.

    Examples
    --------
    Random labels (Cover 1965): two samples per dimension.

    >>> from spectra import Spectrum
    >>> from replica import Channel, separability_threshold
    >>> spec = Spectrum.from_arrays([1.0] * 100, [0.0] * 100, rho=1.0, gamma=1.0)  # rho_lin = 0
    >>> round(separability_threshold(spec, Channel.sign()), 12)
    2.0

    A noiseless sign teacher that the student sees fully is separable at every alpha; label noise
    makes a finite threshold.

    >>> separability_threshold(Spectrum.isotropic(100), Channel.sign())
    inf
    >>> round(separability_threshold(Spectrum.isotropic(100), Channel.probit(0.25)), 4)
    4.1374
    """
    checks.instance("spectrum", spectrum, Spectrum)
    require_binary_channel(channel)
    s, t = np.asarray(spectrum.s, dtype=float), np.asarray(spectrum.t, dtype=float)
    p = spectrum.p
    rtol = p * np.finfo(float).eps if rank_rtol is None else checks.real("rank_rtol", rank_rtol, low=0.0,
                                                                           high=1.0, high_open=True)
    kept = s > rtol * np.max(s)
    rank = int(np.count_nonzero(kept))
    rho = float(spectrum.rho)
    rho_lin = float(np.sum(t[kept] / s[kept])) / spectrum.k
    rho_lin = min(max(rho_lin, 0.0), rho)
    h = 0.5 if rho_lin == 0.0 else _h_channel(channel, rho, rho_lin)  # rho_lin = 0: Cover's E[Z_+^2] = 1/2
    return float("inf") if h <= 0.0 else rank / (p * h)
