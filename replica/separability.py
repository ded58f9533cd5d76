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

Numerics. :math:`E_Z (a + Z)_+^2 = (1 + a^2)\Phi(a) + a\varphi(a)` in closed form, so ``h(t)`` is a
one-dimensional expectation over :math:`(y, \xi)`, strictly convex in ``t``; it is minimised by a
bracketed root of :math:`h'(t)`. The expectation over :math:`(y, \xi)` uses the channel's own quadrature
(:meth:`replica.Channel.measure` at overlaps :math:`q = m = \rho_{lin}`, which is exactly the joint law of
``y`` and :math:`\nu_{lin}`), so any ``+-1`` channel works; when the student sees the whole teacher
(:math:`\rho_{lin} = \rho`, where that quadrature is singular) the law of ``y`` given :math:`\nu` is used
directly, on Gauss-Legendre panels split at :math:`\nu = 0` (sign, probit, flips, and any
:meth:`~replica.Channel.from_likelihood` channel).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

from gaussequiv import checks
from replica._symbolic import Y, Z, lambdify_safe
from replica.channel import Channel
from replica.quadrature import gaussian_panels
from replica.result import ConvergenceError
from spectra import Spectrum

__all__ = ["separability_threshold"]

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


def _check_channel(channel) -> None:
    if not isinstance(channel, Channel):
        raise TypeError(f"channel must be a replica.Channel, got {type(channel).__name__}")
    labels = channel.labels
    if not channel.is_classification or labels is None or set(labels) != {-1.0, 1.0}:
        raise ValueError(f"channel must give labels -1 and +1 (linear separability is a property of "
                         f"classification data), got {channel!r} with labels {labels}")


def _visible_law(channel: Channel, rho: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes ``(y, xi, weight)`` of the joint law of the label and the standardised teacher field
    ``xi = nu/sqrt(rho)``, for a teacher the student sees fully (``rho_lin = rho``)."""
    noise = getattr(channel, "noise", None)
    flip = getattr(channel, "flip", None)
    expr = getattr(channel, "expr", None)
    if noise is not None and flip is not None:  # sign, probit, flips: P0 = flip + (1 - 2 flip) Phi(y nu / sqrt noise)
        width = np.sqrt(noise / rho) if noise > 0 else 1.0
        xi, w = gaussian_panels(1.0, width, scale=min(1.0, 0.5 / np.sqrt(rho)))
        xi = np.concatenate([xi, xi])
        w = np.concatenate([w, w])
        y = np.repeat([-1.0, 1.0], w.size // 2)
        nu = np.sqrt(rho) * xi
        step = special.ndtr(y * nu / np.sqrt(noise)) if noise > 0 else (y * nu > 0).astype(float)
        return y, xi, w * (flip + (1.0 - 2.0 * flip) * step)
    if expr is not None:  # a likelihood P0(y|z): smooth, evaluated on the same panels
        p0 = lambdify_safe(expr, (Y, Z))
        sc = min(1.0, 0.25 / np.sqrt(rho))
        xi, w = gaussian_panels(1.0, sc, scale=sc)
        xi = np.concatenate([xi, xi])
        w = np.concatenate([w, w])
        y = np.repeat([-1.0, 1.0], w.size // 2)
        return y, xi, w * p0(y, np.sqrt(rho) * xi)
    raise TypeError(f"separability_threshold needs the law of the label given the teacher field when the "
                    f"student sees the whole teacher (rho_lin = rho); {channel!r} exposes neither the "
                    f"sign-family parameters (noise, flip) nor a likelihood expression (expr)")


def _joint_law(channel: Channel, rho: float, rho_lin: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes ``(y, xi, weight)`` of the joint law of the label and ``xi = nu_lin/sqrt(rho_lin)``."""
    if rho - rho_lin <= FULLY_VISIBLE_RTOL * rho:
        y, xi, w = _visible_law(channel, rho)
    else:
        # (nu, omega) with Var nu = rho, Var omega = Cov = rho_lin is exactly (nu, nu_lin)
        meas = channel.measure(rho, rho_lin, rho_lin)
        y, xi, w = meas.y, meas.omega / np.sqrt(rho_lin), meas.wz
    keep = w > 0
    y, xi, w = y[keep], xi[keep], w[keep]
    total = float(np.sum(w))
    if not np.all(np.isfinite(w)) or abs(total - 1.0) > 1e-8:
        raise ConvergenceError(f"the quadrature of the label law of {channel!r} at rho = {rho:g}, rho_lin = "
                               f"{rho_lin:g} has total weight {total!r} instead of 1")
    return y, xi, w


def _h_min(u: np.ndarray, w: np.ndarray) -> float:
    r""":math:`\min_t \sum_j w_j \psi(t u_j)` for a law of ``u = y xi`` given by nodes ``u`` and weights ``w``.

    Strictly convex in ``t``; its derivative is bracketed by doubling steps away from ``t = 0`` and solved
    with Brent's method. If no ``u`` is negative the infimum is 0, approached as ``t -> -inf``.
    """
    def dh(t: float) -> float:
        return float(np.dot(w, u * _dpsi(t * u)))

    d0 = dh(0.0)
    if d0 == 0.0:
        return float(np.dot(w, _psi(0.0 * u)))
    direction = -1.0 if d0 > 0 else 1.0
    if not np.any(direction * u > 0):  # u never on the side that stops t: h -> 0 as |t| -> inf
        return 0.0
    lo, hi = 0.0, direction
    for _ in range(200):
        if np.sign(dh(hi)) != np.sign(d0):
            break
        lo, hi = hi, 2.0 * hi
    else:
        raise ConvergenceError(f"could not bracket the minimiser of h(t) (|t| reached {abs(hi):.3g})")
    a, b = min(lo, hi), max(lo, hi)
    t = optimize.brentq(dh, a, b, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500)
    return float(np.dot(w, _psi(t * u)))


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
    if not isinstance(spectrum, Spectrum):
        raise TypeError(f"spectrum must be a spectra.Spectrum, got {type(spectrum).__name__}")
    _check_channel(channel)
    s, t = np.asarray(spectrum.s, dtype=float), np.asarray(spectrum.t, dtype=float)
    p = spectrum.p
    rtol = p * np.finfo(float).eps if rank_rtol is None else checks.real("rank_rtol", rank_rtol, low=0.0,
                                                                           high=1.0, high_open=True)
    kept = s > rtol * np.max(s)
    rank = int(np.count_nonzero(kept))
    rho = float(spectrum.rho)
    rho_lin = float(np.sum(t[kept] / s[kept])) / spectrum.k
    rho_lin = min(max(rho_lin, 0.0), rho)
    if rho_lin == 0.0:  # labels independent of the features: Cover's h = E[Z_+^2] = 1/2
        h = 0.5
    else:
        y, xi, w = _joint_law(channel, rho, rho_lin)
        h = _h_min(y * xi, w)
    return float("inf") if h <= 0.0 else rank / (p * h)
