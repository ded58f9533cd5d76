"""The damped fixed-point iteration of the replica saddle-point equations (theory §2.6)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from replica.channel import Channel
from replica.channel_side import make_channel_side
from replica.loss import Loss
from replica.prior import SpectralSums
from replica.result import ConvergenceError, Solution
from spectra import Spectrum

__all__ = ["solve", "validate_problem"]

#: q above this multiple of (1 + rho) counts as a diverging norm (separable data as lam -> 0).
Q_DIVERGENCE = 1e10
#: Anderson acceleration history length.
ANDERSON_DEPTH = 4


@dataclass
class _Iterate:
    x: np.ndarray  # (V, q, m)
    fx: np.ndarray  # undamped image F(x)
    hats: np.ndarray  # hats at x
    residual: float


def _check_number(name: str, value, *, low: float | None = None, low_open: bool = True,
                   high: float | None = None, high_open: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (v <= low if low_open else v < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {value}")
    if high is not None and (v >= high if high_open else v > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high:g}, got {value}")
    return v


def validate_problem(spectrum, loss, channel, alpha, lam) -> tuple[float, float]:
    """Type and range checks shared by every public entry point; returns ``(alpha, lam)`` as floats."""
    if not isinstance(spectrum, Spectrum):
        raise TypeError(f"spectrum must be a spectra.Spectrum, got {type(spectrum).__name__}")
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a replica.Loss (e.g. Loss.logistic()), got {type(loss).__name__}")
    if not isinstance(channel, Channel):
        raise TypeError(f"channel must be a replica.Channel (e.g. Channel.sign()), got "
                        f"{type(channel).__name__}")
    alpha = _check_number("alpha", alpha, low=0.0)
    lam = _check_number("lam", lam, low=0.0, low_open=False)
    if loss.name in ("logistic", "hinge") and not channel.is_classification:
        raise ValueError(f"loss {loss.name} needs labels +-1; channel {channel.name} gives real labels "
                         "(use Channel.sign/probit or the square loss)")
    return alpha, lam


def _initial_point(init, rho: float) -> np.ndarray:
    if init is None or (isinstance(init, str) and init == "uninformed"):
        q = 1e-3
        return np.array([1000.0, q, min(1e-3, 0.5 * np.sqrt(rho * q))])
    if isinstance(init, str) and init == "informed":
        return np.array([1e-3, 0.999 * rho, 0.99 * rho])
    if isinstance(init, Solution):
        return np.array([init.V, init.q, init.m])
    if isinstance(init, str):
        raise ValueError(f"init must be 'uninformed', 'informed', a Solution or (V, q, m); got {init!r}")
    x = np.asarray(init, dtype=float)
    if x.shape != (3,) or not np.all(np.isfinite(x)) or x[0] <= 0 or x[1] <= 0 or x[2] ** 2 >= rho * x[1]:
        raise ValueError(f"init as (V, q, m) needs V > 0, q > 0, m^2 < rho q; got {init!r}")
    return x


def _valid(x: np.ndarray, rho: float) -> bool:
    return bool(np.all(np.isfinite(x)) and x[0] > 0 and x[1] > 0 and x[2] * x[2] < rho * x[1])


def _relative_change(new: np.ndarray, old: np.ndarray) -> float:
    scale = np.maximum(np.maximum(np.abs(new), np.abs(old)), 1e-300)
    return float(np.max(np.abs(new - old) / scale))


def solve(spectrum: Spectrum, loss: Loss, channel: Channel, alpha: float, lam: float, *,
          tol: float = 1e-10, max_iter: int = 5000, damping: float = 0.0, init=None,
          strict: bool = True, acceleration: bool = True) -> Solution:
    r"""Solve the replica saddle-point equations of ERM on a Gaussian covariate model.

    The estimator is :math:`\hat w = \arg\min_w \sum_{\mu=1}^n \ell(y^\mu, w\cdot v^\mu/\sqrt p)
    + (\lambda/2)\|w\|^2` with ``n = alpha p`` samples, student features of covariance spectrum
    ``spectrum`` and labels from ``channel`` applied to the teacher field (theory §1.4).

    Parameters
    ----------
    spectrum : spectra.Spectrum
        Eigenvalues ``s`` of Omega, teacher weights ``t``, ``rho`` and ``gamma = k/p``.
    loss : Loss
        A convex loss; the built-in square loss uses closed-form channel integrals.
    channel : Channel
        The teacher channel ``P0(y | nu)``.
    alpha : float
        ``n/p > 0``.
    lam : float
        Ridge penalty ``>= 0``. ``lam = 0`` is supported for the square loss only, through the exact
        scalar reduction (:func:`replica.ridge.solve_square`): the min-norm interpolator below the
        interpolation threshold ``alpha < rank(Omega)/p`` and least squares above it.
    tol : float
        Convergence when the undamped map changes each of ``V, q, m, V_hat, q_hat, m_hat`` by less
        than ``tol`` relative to its size.
    max_iter : int
        Maximum number of sweeps.
    damping : float
        Initial weight ``d`` of the **old** iterate: ``x <- (1 - d) F(x) + d x`` for ``x in {V, q, m}``.
        It escalates automatically when the iteration stalls, oscillates or leaves the valid domain.
    init : {'uninformed', 'informed'}, Solution or (V, q, m), optional
        Starting point (default uninformed: ``V = 1000, q = m = 1e-3``); pass a neighbouring
        :class:`Solution` to warm-start.
    strict : bool
        If True (default), a point that does not converge raises :class:`ConvergenceError`; if False
        it is returned with ``converged=False`` and its ``status``.
    acceleration : bool
        Anderson acceleration of the damped map (safeguarded: a step that leaves the valid domain
        ``V > 0, q > 0, m^2 < rho q`` is replaced by the plain damped step).

    Returns
    -------
    Solution
        Overlaps, hats, errors (see :class:`Solution` for which quantity each is) and diagnostics.

    Raises
    ------
    ConvergenceError
        If ``strict`` and the fixed point was not reached.

    Examples
    --------
    >>> from spectra import Spectrum
    >>> from replica import Loss, Channel, solve
    >>> sol = solve(Spectrum.isotropic(200), Loss.logistic(), Channel.sign(), alpha=2.0, lam=0.1)
    >>> sol.converged, round(sol.test_error, 4)
    (True, 0.1797)
    """
    alpha, lam = validate_problem(spectrum, loss, channel, alpha, lam)
    tol = _check_number("tol", tol, low=0.0, high=1.0)
    damping = _check_number("damping", damping, low=0.0, low_open=False, high=1.0)
    if not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if lam == 0:
        if not loss.is_square:
            raise ValueError("lam = 0 is supported only for the square loss (exact ridgeless limit); for "
                             f"{loss.name} use a small lam > 0 and read the status (diverging norm on "
                             "separable data)")
        from replica.ridge import solve_square

        return solve_square(spectrum, channel, alpha, lam, strict=strict)

    rho = spectrum.rho
    prior = SpectralSums(spectrum)
    side = make_channel_side(loss, channel, rho, alpha, spectrum.gamma)

    def evaluate(x: np.ndarray) -> _Iterate | None:
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                hats = np.array(side.hats(*x))
                if not (np.all(np.isfinite(hats)) and hats[0] >= 0 and hats[1] >= 0):
                    return None
                fx = np.array(prior(lam, *hats))
        except (FloatingPointError, ValueError, ZeroDivisionError):
            return None
        if not np.all(np.isfinite(fx)):
            return None
        return _Iterate(x=x, fx=fx, hats=hats, residual=_relative_change(fx, x))

    x = _initial_point(init, rho)
    cur = evaluate(x)
    if cur is None and init is not None:  # e.g. a warm start the channel cannot evaluate: start uninformed
        cur = evaluate(_initial_point(None, rho))
    if cur is None:
        nan = np.full(3, np.nan)
        return _finish(_Iterate(x=x, fx=nan, hats=nan, residual=np.inf), side, channel, loss, rho, alpha, lam,
                       0, "invalid", np.inf, damping, strict)
    d = damping
    best = cur
    hist_x: list[np.ndarray] = []
    hist_g: list[np.ndarray] = []
    q_track: list[float] = []
    status = "max_iterations"
    prev_hats = None
    residual = np.inf
    stall = 0
    sweeps = 0
    for it in range(1, max_iter + 1):
        sweeps = it
        residual = cur.residual
        if prev_hats is not None:
            residual = max(residual, _relative_change(cur.hats, prev_hats))
        if residual < tol:
            status = "converged"
            break
        if cur.x[1] > Q_DIVERGENCE * (1.0 + rho):
            status = "diverging"
            break
        q_track.append(cur.x[1])
        if cur.residual < best.residual:
            best, stall = cur, 0
        else:
            stall += 1
        if stall >= 25:  # stalled or oscillating: more damping, fresh history, restart from the best
            d = 0.5 * (1.0 + d) if d > 0 else 0.5
            hist_x.clear()
            hist_g.clear()
            cur, stall = best, 0
            if d > 0.999:
                break
        g = cur.fx - cur.x
        x_new = cur.x + (1.0 - d) * g
        if acceleration:
            hist_x.append(cur.x.copy())
            hist_g.append(g.copy())
            if len(hist_x) > ANDERSON_DEPTH + 1:
                hist_x.pop(0)
                hist_g.pop(0)
            if len(hist_x) >= 2:
                scale = np.maximum(np.abs(cur.x), 1e-300)
                dX = np.diff(np.array(hist_x), axis=0).T / scale[:, None]
                dG = np.diff(np.array(hist_g), axis=0).T / scale[:, None]
                coef = np.linalg.lstsq(dG, g / scale, rcond=None)[0]
                cand = cur.x + (1.0 - d) * g - scale * ((dX + (1.0 - d) * dG) @ coef)
                if _valid(cand, rho):
                    x_new = cand
                else:
                    hist_x.clear()
                    hist_g.clear()
        if not _valid(x_new, rho):
            x_new = cur.x + (1.0 - d) * g
        nxt = evaluate(x_new) if _valid(x_new, rho) else None
        if nxt is None:  # left the valid domain: restart from the best point with more damping
            d = 0.5 * (1.0 + d) if d > 0 else 0.5
            hist_x.clear()
            hist_g.clear()
            prev_hats = None
            cur = best
            if d > 0.999:
                status = "invalid"
                break
            continue
        prev_hats = cur.hats
        cur = nxt
    if status == "max_iterations" and len(q_track) > 100 and q_track[-1] > 2.0 * q_track[len(q_track) // 2]:
        status = "diverging"
    return _finish(cur, side, channel, loss, rho, alpha, lam, sweeps, status, residual, d, strict)


def _finish(cur: _Iterate, side, channel: Channel, loss: Loss, rho: float, alpha: float, lam: float,
            iterations: int, status: str, residual: float, damping: float, strict: bool) -> Solution:
    V, q, m = (float(v) for v in cur.x)
    errors = [np.nan] * 4
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            errors = [channel.test_error(rho, q, m), channel.test_error_noisy(rho, q, m),
                      *side.training(V, q, m)]
    except (FloatingPointError, ValueError):
        if status == "converged":
            status = "invalid"
    values = [V, q, m, *map(float, cur.hats), *errors]
    if status == "converged" and not np.all(np.isfinite(values)):
        status = "invalid"
    sol = Solution(alpha=alpha, lam=lam, V=V, q=q, m=m, V_hat=float(cur.hats[0]), q_hat=float(cur.hats[1]),
                   m_hat=float(cur.hats[2]), test_error=float(errors[0]), test_error_noisy=float(errors[1]),
                   train_loss=float(errors[2]), train_error=float(errors[3]), iterations=int(iterations),
                   converged=status == "converged", status=status, residual=float(residual),
                   damping=float(damping), loss=loss.name, channel=channel.name, method="fixed-point")
    if strict and not sol.converged:
        raise ConvergenceError(
            f"replica fixed point not reached at alpha={alpha:g}, lam={lam:g} ({loss.name}, {channel.name}): "
            f"status {status} after {iterations} sweeps, residual {residual:.3g}, q = {q:.3g}. "
            "Pass strict=False to inspect the last iterate, a larger max_iter, or warm-start with init=.",
            sol)
    return sol
