r"""The scalar reduction of the square loss (theory §2.5, §2.7): one 1-d root plus explicit formulas.

With the square loss ``V_hat = alpha/(1 + V)`` depends on ``V`` alone, so

.. math::
    h(\hat V) = \hat V\,(1 + V(\hat V)) - \alpha = 0,\qquad V(\hat V) = \frac1p\sum_i\frac{s_i}{\lambda+\hat V s_i}

is a monotone equation with a unique root in ``(0, alpha]`` whenever ``lam > 0``; ``m`` follows
explicitly and ``q`` from the linear equation ``q (1 - a) = a (E y^2 - 2 m kappa) + b``, with
``kappa = E[y nu]/rho`` from the channel. This route is independent of the fixed-point iteration (the tests
compare the two) and is the one used at ``lam = 0``:

* above the interpolation threshold (``alpha > rank/p``): ``V_hat = alpha - rank/p`` exactly;
* below it: the min-norm interpolator, with ``V = u/lam`` and ``V_hat = alpha lam/u`` in the limit, ``u``
  the root of ``(1/p) sum_i s_i/(u + alpha s_i) = 1``; all overlaps stay finite;
* at it (``alpha = rank/p``), the min-norm error diverges (interpolation peak): refused.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from replica.channel import Channel
from replica.loss import Loss
from replica.prior import spectral_measure
from replica.problem import validate_problem
from replica.result import ConvergenceError, Solution
from spectra import SpectralDensity, Spectrum

__all__ = ["solve_square"]


@lru_cache(maxsize=1)
def _square_loss() -> Loss:
    """The built-in square loss, built once (one object for every ridge solution it labels)."""
    return Loss.square()


def _root_v_hat(s: np.ndarray, ws: np.ndarray, lam: float, alpha: float, lo: float, hi: float) -> float:
    """The root ``V_hat`` of ``h = V_hat (1 + V(V_hat)) - alpha``, ``V(v) = sum_i w_i s_i/(lam + v s_i)``.

    ``h`` increases with ``V_hat`` (``dh/dv = 1 + sum_i w_i s_i lam/(lam + v s_i)^2 > 0``), so Newton's method in
    ``x = log V_hat`` with the bracket ``[lo, hi]`` as a safeguard (a step leaving it bisects) converges
    quadratically: 4-6 evaluations of two spectral sums instead of brentq's 10-15 of one.
    """
    x = 0.5 * (lo + hi)
    for _ in range(200):
        v = np.exp(x)
        inv = 1.0 / (lam + v * s)
        V = float(ws @ inv)
        h = v * (1.0 + V) - alpha
        if h > 0:
            hi = x
        else:
            lo = x
        dh = v * (1.0 + lam * float(ws @ (inv * inv)))  # d h / d log v = v (1 + V + v dV/dv)
        step = h / dh
        x_new = x - step
        if not lo < x_new < hi:
            x_new = 0.5 * (lo + hi)
        if abs(x_new - x) <= 4 * np.finfo(float).eps * max(1.0, abs(x)) or hi - lo <= 1e-15:
            return float(np.exp(x_new))
        x = x_new
    raise ConvergenceError(f"the scalar ridge root did not converge (alpha={alpha:g}, lam={lam:g})")


def solve_square(spectrum: Spectrum | SpectralDensity, channel: Channel, alpha: float, lam: float, *,
                 strict: bool = True) -> Solution:
    """Square-loss (ridge) solution by the scalar reduction; ``lam >= 0``.

    Conventions and result fields as :func:`replica.solve` with ``Loss.square()``. The sums ``(1/p) sum_i``
    are ``sum_i w_i`` with the spectrum's weights (``1/p``, or a density's quadrature weights), and ``rank/p``
    is the weight of the non-zero eigenvalues.

    Examples
    --------
    >>> from spectra import Spectrum
    >>> from replica import Channel
    >>> sol = solve_square(Spectrum.isotropic(100), Channel.linear(0.5), alpha=0.5, lam=0.0)
    >>> round(sol.test_error, 12)  # ridgeless, gamma_H = 2: r^2 (1 - 1/2) + sigma^2/(2 - 1)
    1.0
    """
    loss = _square_loss()
    alpha, lam = validate_problem(spectrum, loss, channel, alpha, lam)
    s, t, w, ratio = spectral_measure(spectrum)  # ratio: rank / p, the weight of the non-zero eigenvalues
    ws, trace = w * s, float(w @ s)
    sg = np.sqrt(spectrum.gamma)
    rho = spectrum.rho
    ey2, kappa = channel.moments(rho)
    if lam > 0 or alpha > ratio:
        if lam > 0:
            lo = np.log(alpha * lam / (lam + trace)) - 1.0  # V <= trace/lam there, so h < 0
            v_hat = _root_v_hat(s, ws, lam, alpha, lo, np.log(alpha))
        else:
            v_hat = alpha - ratio
        den = lam + v_hat * s
        V = float(ws @ (1.0 / den))
        one_plus_V = 1.0 + V
        m_hat = alpha * kappa / sg / one_plus_V
        m = m_hat / sg * float(w @ (t / den))
        a = alpha / one_plus_V**2 * float(w @ ((s / den) ** 2))
        b = m_hat**2 * float(w @ (t * s / den**2))
    elif alpha < ratio:
        # sum_i w_i s_i/(u + alpha s_i) < trace/u <= 1 at u = trace; -> ratio/alpha > 1 as u -> 0
        from scipy.optimize import brentq  # here: scipy.optimize is not loaded with replica (issue 13)

        u = brentq(lambda lu: float(ws @ (1.0 / (np.exp(lu) + alpha * s))) - 1.0,
                   np.log(1e-300) / 2, np.log(trace), xtol=1e-15, rtol=4 * np.finfo(float).eps)
        u = float(np.exp(u))
        den = u + alpha * s
        V, v_hat, one_plus_V = np.inf, 0.0, np.inf
        m_hat = 0.0
        m = alpha * kappa / spectrum.gamma * float(w @ (t / den))
        a = alpha * float(w @ ((s / den) ** 2))
        b = alpha**2 * kappa**2 / spectrum.gamma * float(w @ (t * s / den**2))
    else:
        raise ValueError(f"alpha = rank(Omega)/p = {ratio:g} with lam = 0 is the interpolation threshold: the "
                         "min-norm estimator's error diverges there; use lam > 0 or another alpha")
    if not a < 1.0:
        raise ValueError(f"no finite solution: a = {a:.6g} >= 1 at alpha={alpha:g}, lam={lam:g}")
    q = (a * (ey2 - 2.0 * m * kappa) + b) / (1.0 - a)
    resid = ey2 - 2.0 * m * kappa + q
    q_hat = alpha * resid / one_plus_V**2 if np.isfinite(one_plus_V) else 0.0
    if np.isfinite(one_plus_V):
        mse = resid / one_plus_V**2
    else:
        mse = 0.0  # the min-norm interpolator fits every training label exactly
    if channel.is_classification:
        train_err = 0.0 if not np.isfinite(V) else channel.wrong_side(rho, q, m, {-1.0: V, 1.0: -V})
    else:
        train_err = mse
    values = np.array([q, m, mse, train_err])
    ok = bool(np.all(np.isfinite(values)) and q > 0 and m * m <= rho * q * (1 + 1e-12))
    status = "converged" if ok else "invalid"
    sol = Solution(alpha=alpha, lam=lam, V=float(V), q=float(q), m=float(m), V_hat=float(v_hat),
                   q_hat=float(q_hat), m_hat=float(m_hat), test_error=channel.test_error(rho, q, m) if ok else np.nan,
                   test_error_noisy=channel.test_error_noisy(rho, q, m) if ok else np.nan,
                   train_loss=0.5 * float(mse), train_error=float(train_err), iterations=0, converged=ok,
                   status=status, residual=0.0, error_estimate=0.0, damping=0.0, loss=loss.name,
                   channel=channel.name, method="scalar", route="scalar",
                   message="exact scalar reduction" if ok else "the scalar reduction gave an invalid point")
    if strict and not ok:
        raise ConvergenceError(f"scalar ridge reduction gave an invalid point at alpha={alpha:g}, lam={lam:g}",
                               sol)
    return sol
