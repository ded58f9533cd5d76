r"""A generic damped fixed-point iterator with safeguarded Anderson acceleration and an accuracy certificate.

:func:`iterate` solves ``x = F(x)`` for a map ``F`` given as a callback, knowing nothing of the replica
equations. It is the engine of :func:`replica.solve` (whose map is the saddle-point sweep, theory §2.6) and is
unit tested on linear contractions, where the fixed point is known exactly.

The iteration (theory §2.6): ``x <- (1 - d) F(x) + d x``, ``d`` the weight of the **old** iterate, with an
Anderson extrapolation over the last few steps; a step that leaves the map's domain or makes no progress
raises the damping and restarts from the best iterate seen.

**When it stops.** ``converged`` requires two things at the returned point ``x``:

* the relative residual ``max_k |F(x)_k - x_k| / |x_k|`` of the **undamped** map is below ``tol``; and
* the Newton estimate of the relative distance to the fixed point,
  ``|(I - J)^{-1} (F(x) - x)|_k / |x_k|`` with ``J`` the Jacobian of ``F`` at ``x`` (finite differences), is
  below ``tol`` as well. A small residual alone does not make an accurate answer: where the map contracts
  slowly (``J`` has an eigenvalue near 1, e.g. near an interpolation peak) the distance to the fixed point is
  the residual divided by ``1 - eigenvalue``. When the estimate is too large, Newton steps with this Jacobian
  polish the point.

Other outcomes: ``stalled`` (no progress even with the damping at its ceiling: the iteration cannot get closer
from here), ``invalid`` (the map cannot be evaluated near the iterates), ``diverging`` (the caller's
divergence test fired) and ``max_iterations`` (the budget of sweeps ran out while progress was still made).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["FixedPointResult", "iterate", "relative_change"]

#: Sweeps without a new best residual before the damping is raised (an oscillation or a stall shows up well
#: within this window; much shorter windows raise the damping on the transient of a good run).
STALL_WINDOW = 25
#: The damping is raised as ``d <- (1 + d)/2``; past this ceiling (about 10 doublings of the step count) the
#: iteration makes no progress that more damping would rescue, and it reports ``stalled``.
MAX_DAMPING = 0.999
#: A window of STALL_WINDOW sweeps that lowers the best residual by less than this factor counts as slow progress
#: (at this rate 1e-10 takes thousands of sweeps): Newton is tried from the best point.
SLOW_PROGRESS = 0.5
#: Anderson history (depth 4 is the usual sweet spot for small smooth maps; deeper histories are
#: ill-conditioned in 3 dimensions).
ANDERSON_DEPTH = 4
#: Relative step of the finite-difference Jacobian: ~ sqrt(machine epsilon) balances truncation and rounding.
JACOBIAN_STEP = 1.5e-8
#: Newton steps per Newton phase (near the fixed point each gains the factor by which the finite-difference
#: Jacobian is accurate: at least 10 unless (I - J) is nearly singular; further away, quadratic convergence).
NEWTON_STEPS = 12
#: Residuals below this many machine epsilons are rounding noise of a well-scaled map evaluation.
ROUNDING_FLOOR = 64
#: Newton phases tried from the best point when the damped iteration stalls (each costs at most
#: NEWTON_STEPS * (dimension + LINE_SEARCH_HALVINGS) map evaluations).
NEWTON_RESTARTS = 3
#: Step halvings of Newton's backtracking line search.
LINE_SEARCH_HALVINGS = 8


@dataclass(frozen=True, eq=False)
class FixedPointResult:
    """Outcome of :func:`iterate`.

    Attributes
    ----------
    x : ndarray
        The returned point (the best one the iteration reached).
    fx : ndarray
        ``F(x)``, the undamped image of ``x`` (NaN if ``x`` could not be evaluated).
    aux : object
        What the map returned alongside ``F(x)`` at ``x`` (e.g. the conjugate overlaps).
    residual : float
        ``max_k |F(x)_k - x_k| / |x_k|`` at the returned ``x``.
    error_estimate : float
        Newton estimate of ``max_k |x*_k - x_k| / |x_k|`` (NaN where no Jacobian was computed).
    iterations : int
        Map evaluations spent (sweeps, Jacobian columns included).
    status : str
        ``converged``, ``stalled``, ``max_iterations``, ``invalid`` or ``diverging``.
    damping : float
        Damping in use when the iteration stopped.
    message : str
        A sentence on why it stopped.
    """

    x: np.ndarray
    fx: np.ndarray
    aux: object = field(repr=False)
    residual: float
    error_estimate: float
    iterations: int
    status: str
    damping: float
    message: str

    @property
    def converged(self) -> bool:
        """True iff ``status == "converged"``."""
        return self.status == "converged"

    def to_dict(self) -> dict:
        """The fields as a plain dictionary (``aux`` left out: it belongs to the caller)."""
        return {"x": np.array(self.x), "fx": np.array(self.fx), "residual": self.residual,
                "error_estimate": self.error_estimate, "iterations": self.iterations, "status": self.status,
                "converged": self.converged, "damping": self.damping, "message": self.message}


def relative_change(new: np.ndarray, old: np.ndarray) -> float:
    """``max_k |new_k - old_k| / max(|new_k|, |old_k|)`` (0 where both are 0)."""
    scale = np.maximum(np.maximum(np.abs(new), np.abs(old)), 1e-300)
    return float(np.max(np.abs(new - old) / scale))


@dataclass
class _Point:
    x: np.ndarray
    fx: np.ndarray
    aux: object
    residual: float


Evaluate = Callable[[np.ndarray], "tuple[np.ndarray, object] | None"]


def iterate(evaluate: Evaluate, x0, *, tol: float, max_iter: int, damping: float = 0.0,
            acceleration: bool = True, valid: Callable[[np.ndarray], bool] | None = None,
            diverged: Callable[[np.ndarray], bool] | None = None,
            coordinates: tuple[Callable, Callable] | None = None) -> FixedPointResult:
    r"""Solve ``x = F(x)`` by damped iteration with safeguarded Anderson acceleration.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(x) -> (F(x), aux)``, or None where ``F`` cannot be evaluated (outside its domain,
        overflow). It must not raise for such points.
    x0 : array_like
        Starting point (1-d, nonzero entries: the residual is relative).
    tol : float
        Target of both the relative residual and the certified relative distance to the fixed point.
    max_iter : int
        Budget of map evaluations.
    damping : float
        Initial weight ``d`` of the old iterate in ``x <- (1 - d) F(x) + d x``; raised automatically.
    acceleration : bool
        Anderson acceleration (depth :data:`ANDERSON_DEPTH`); a step outside ``valid`` falls back to the
        plain damped step.
    valid : callable, optional
        ``valid(x) -> bool``: the domain of ``F`` (default: all finite points).
    diverged : callable, optional
        ``diverged(x) -> bool``: stop with status ``diverging`` when it returns True.
    coordinates : (forward, inverse), optional
        A smooth bijection ``y = forward(x)`` from the domain ``valid`` onto all of R^n, in which Newton's method
        works (its steps then never leave the domain, and a map that is nearly linear in ``y`` converges in
        few steps). The damped iteration, the residual and the certificate stay in ``x``.

    Returns
    -------
    FixedPointResult

    Examples
    --------
    A linear contraction ``F(x) = A x + b`` has the fixed point ``(I - A)^{-1} b``:

    >>> A = np.array([[0.5, 0.2], [0.1, 0.9]]); b = np.array([1.0, 2.0])
    >>> res = iterate(lambda x: (A @ x + b, None), [1.0, 1.0], tol=1e-12, max_iter=500)
    >>> res.status, bool(np.allclose(res.x, np.linalg.solve(np.eye(2) - A, b), rtol=1e-11))
    ('converged', True)
    """
    is_valid = valid if valid is not None else (lambda x: bool(np.all(np.isfinite(x))))
    budget = [int(max_iter)]

    def point(x: np.ndarray) -> _Point | None:
        if not is_valid(x):
            return None
        budget[0] -= 1
        out = evaluate(x)
        if out is None:
            return None
        fx, aux = out
        fx = np.asarray(fx, dtype=float)
        if not np.all(np.isfinite(fx)):
            return None
        return _Point(x=x, fx=fx, aux=aux, residual=relative_change(fx, x))

    def finish(p: _Point | None, x: np.ndarray, status: str, message: str, d: float,
               error: float = np.nan) -> FixedPointResult:
        if p is None:
            nan = np.full(np.shape(x), np.nan)
            return FixedPointResult(np.array(x, float), nan, None, np.inf, np.nan, int(max_iter) - budget[0],
                                    status, d, message)
        return FixedPointResult(p.x, p.fx, p.aux, p.residual, error, int(max_iter) - budget[0], status, d, message)

    x = np.array(x0, dtype=float)
    cur = point(x)
    if cur is None:
        return finish(None, x, "invalid", "the map cannot be evaluated at the starting point", damping)
    d = float(damping)
    best = cur
    hist_x: list[np.ndarray] = []
    hist_g: list[np.ndarray] = []
    stall = 0
    newton_tries = 0
    window, window_start = 0, cur.residual  # progress over the last STALL_WINDOW sweeps
    certify_below = tol  # certify when the residual drops below this (lowered after a failed certificate)
    last_error = np.nan
    while True:
        if cur.residual < certify_below:
            cert = _newton(point, cur, tol, is_valid, coordinates)
            certify_below = 0.1 * cur.residual
            if cert is not None:
                p, last_error = cert
                if last_error < tol and p.residual < tol:
                    return finish(p, p.x, "converged", "residual and certified distance below tol", d, last_error)
                if p.residual < best.residual:
                    best, stall = p, 0
                cur = p
                certify_below = min(certify_below, 0.1 * p.residual)
        if diverged is not None and diverged(cur.x):
            return finish(cur, cur.x, "diverging", "the divergence test fired (the norm grows without bound)", d)
        if budget[0] <= 0:
            return finish(best, best.x, "max_iterations", f"the budget of {max_iter} sweeps ran out while "
                          "still progressing: pass a larger max_iter", d)
        if cur.residual < best.residual:
            best, stall = cur, 0
        else:
            stall += 1
        window += 1
        slow = window >= STALL_WINDOW and best.residual > SLOW_PROGRESS * window_start
        if slow:  # progressing, but too slowly to finish in the budget (a Jacobian eigenvalue near 1): try Newton
            window, window_start = 0, best.residual
            found = _newton(point, best, tol, is_valid, coordinates)
            if found is not None:
                p, last_error = found
                if last_error < tol and p.residual < tol:
                    return finish(p, p.x, "converged", "residual and certified distance below tol (Newton)",
                                  d, last_error)
                if p.residual < best.residual:
                    hist_x.clear()
                    hist_g.clear()
                    cur = best = p
                    stall = 0
                    window_start = p.residual
                    continue
        elif window >= STALL_WINDOW:
            window, window_start = 0, best.residual
        if stall >= STALL_WINDOW:  # stalled or oscillating: try Newton from the best point, then more damping
            if newton_tries < NEWTON_RESTARTS and budget[0] > 0:
                newton_tries += 1
                found = _newton(point, best, tol, is_valid, coordinates)
                if found is not None:
                    p, last_error = found
                    if last_error < tol and p.residual < tol:
                        return finish(p, p.x, "converged", "residual and certified distance below tol (Newton)",
                                      d, last_error)
                    if p.residual < best.residual:  # progress: iterate on from there
                        hist_x.clear()
                        hist_g.clear()
                        cur = best = p
                        stall = 0
                        continue
            d = 0.5 * (1.0 + d) if d > 0 else 0.5
            hist_x.clear()
            hist_g.clear()
            cur, stall = best, 0
            if d > MAX_DAMPING:
                why = (f"no progress below a residual of {best.residual:.3g} even with the damping at its ceiling"
                       if best.residual >= tol else
                       f"the residual {best.residual:.3g} is below tol but the estimated distance to the fixed "
                       f"point, {last_error:.3g}, is not (the map is nearly singular here)")
                return finish(best, best.x, "stalled", why, d, last_error)
        g = cur.fx - cur.x
        plain = cur.x + (1.0 - d) * g
        nxt = None
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
                cand = plain - scale * ((dX + (1.0 - d) * dG) @ coef)
                nxt = point(cand) if np.all(np.isfinite(cand)) else None
                # safeguard: keep the extrapolation only if it lowers the residual; otherwise the history
                # describes the map badly (far from the fixed point, the map is not near-linear)
                if nxt is None or nxt.residual >= cur.residual:
                    nxt = None
                    hist_x.clear()
                    hist_g.clear()
        if nxt is None:
            nxt = point(plain)
        if nxt is None:  # left the domain: restart from the best point with more damping
            d = 0.5 * (1.0 + d) if d > 0 else 0.5
            hist_x.clear()
            hist_g.clear()
            cur, stall = best, 0
            if d > MAX_DAMPING:
                return finish(best, best.x, "invalid", "every step from the best point leaves the map's domain", d)
            continue
        cur = nxt


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _jacobian(point, p: _Point, fwd, inv) -> np.ndarray | None:
    """Forward-difference Jacobian of ``G = fwd o F o inv`` at ``fwd(p.x)``; None if a column fails."""
    y, gy = fwd(p.x), fwd(p.fx)
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(gy))):
        return None
    n = y.size
    J = np.empty((n, n))
    for k in range(n):
        for h in (JACOBIAN_STEP * max(abs(y[k]), 1.0), -JACOBIAN_STEP * max(abs(y[k]), 1.0)):
            yk = y.copy()
            yk[k] += h
            q = point(inv(yk))
            if q is not None:
                gq = fwd(q.fx)
                if np.all(np.isfinite(gq)):
                    J[:, k] = (gq - gy) / h
                    break
        else:
            return None
    return J


def _newton(point, p: _Point, tol: float, is_valid, coordinates=None) -> tuple[_Point, float] | None:
    """Newton's method on ``G(y) - y`` (``G`` the map in the coordinates ``y``) from ``p``, with a backtracking line
    search on the residual.

    Each full step, mapped back to ``x``, is also the estimate of the distance to the fixed point (the certificate).
    Newton converges where the damped iteration cannot: at a fixed point that repels the plain map (an eigenvalue
    of ``J`` above 1, which no damping cures), or along a nearly neutral direction. Returns the best point and its
    estimated relative distance, or None if no Jacobian could be formed.
    """
    fwd, inv = coordinates if coordinates is not None else (_identity, _identity)
    best: tuple[_Point, float] | None = None
    floor = ROUNDING_FLOOR * np.finfo(float).eps
    for _ in range(NEWTON_STEPS):
        J = _jacobian(point, p, fwd, inv)
        if J is None:
            return best
        y = fwd(p.x)
        try:
            step = np.linalg.solve(np.eye(y.size) - J, fwd(p.fx) - y)
        except np.linalg.LinAlgError:
            return best
        with np.errstate(all="ignore"):
            full = inv(y + step)
        error = float(np.max(np.abs(full - p.x) / np.maximum(np.abs(p.x), 1e-300)))
        if not np.isfinite(error):
            return best
        if best is None or error < best[1] or best[0] is not p:
            best = (p, error)
        if error < tol and p.residual < tol:
            return best
        # backtrack until the residual falls; at the rounding floor the residual no longer ranks points, but the
        # full step (from the Jacobian) still does, so it is taken
        q = None
        for halving in range(LINE_SEARCH_HALVINGS):
            with np.errstate(all="ignore"):
                x_new = inv(y + step * 0.5**halving)
            trial = point(x_new) if np.all(np.isfinite(x_new)) and is_valid(x_new) else None
            if trial is not None and (trial.residual < p.residual or trial.residual <= floor):
                q = trial
                break
        if q is None:
            return best
        p = q
    return best
