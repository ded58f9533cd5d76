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
    run = _Run(evaluate, tol=tol, max_iter=max_iter, damping=damping, acceleration=acceleration,
               valid=valid if valid is not None else (lambda x: bool(np.all(np.isfinite(x)))), diverged=diverged,
               coordinates=coordinates)
    return run.solve(np.array(x0, dtype=float))


class _Done(Exception):
    """Carries the result out of the iteration's decision methods."""

    def __init__(self, result: FixedPointResult):
        super().__init__(result.status)
        self.result = result


class _Run:
    """The state of one :func:`iterate` call; each decision of the loop is one method."""

    def __init__(self, evaluate: Evaluate, *, tol: float, max_iter: int, damping: float, acceleration: bool,
                 valid: Callable[[np.ndarray], bool], diverged, coordinates):
        self.evaluate, self.tol, self.max_iter = evaluate, tol, int(max_iter)
        self.acceleration, self.valid, self.diverged, self.coordinates = acceleration, valid, diverged, coordinates
        self.budget = int(max_iter)
        self.d = float(damping)
        self.hist_x: list[np.ndarray] = []
        self.hist_g: list[np.ndarray] = []
        self.stall = 0  # sweeps since the best residual last improved
        self.newton_tries = 0  # Newton phases spent on stalls
        self.window, self.window_start = 0, np.inf  # progress over the last STALL_WINDOW sweeps
        self.certify_below = tol  # certify when the residual drops below this (lowered after a failed certificate)
        self.last_error = np.nan

    # ------------------------------------------------------------------ evaluation and results
    def point(self, x: np.ndarray) -> _Point | None:
        """``x`` with its image, or None outside the map's domain or once the budget is spent (each call spends one
        unit of budget: Newton's Jacobians and line searches count too)."""
        if self.budget <= 0 or not self.valid(x):
            return None
        self.budget -= 1
        out = self.evaluate(x)
        if out is None:
            return None
        fx, aux = out
        fx = np.asarray(fx, dtype=float)
        if not np.all(np.isfinite(fx)):
            return None
        return _Point(x=x, fx=fx, aux=aux, residual=relative_change(fx, x))

    def done(self, p: _Point | None, status: str, message: str, error: float = np.nan, x=None) -> _Done:
        spent = self.max_iter - self.budget
        if p is None:
            nan = np.full(np.shape(x), np.nan)
            return _Done(FixedPointResult(np.array(x, float), nan, None, np.inf, np.nan, spent, status, self.d,
                                          message))
        return _Done(FixedPointResult(p.x, p.fx, p.aux, p.residual, error, spent, status, self.d, message))

    def forget(self) -> None:
        """Drop the Anderson history (after a restart, a Newton jump, or a failed extrapolation)."""
        self.hist_x.clear()
        self.hist_g.clear()

    # ------------------------------------------------------------------ the loop
    def solve(self, x0: np.ndarray) -> FixedPointResult:
        cur = self.point(x0)
        if cur is None:
            return self.done(None, "invalid", "the map cannot be evaluated at the starting point", x=x0).result
        self.best, self.window_start = cur, cur.residual
        try:
            while True:
                cur = self.certify(cur)
                self.check_limits(cur)
                cur = self.track(cur)
                nxt = self.step(cur)
                cur = nxt if nxt is not None else self.left_domain()
        except _Done as end:
            return end.result

    def newton(self, p: _Point, how: str) -> _Point | None:
        """A Newton phase from ``p``: raises :class:`_Done` on a certified point, returns a better point or None."""
        found = _newton(self.point, p, self.tol, self.valid, self.coordinates)
        if found is None:
            return None
        q, self.last_error = found
        if self.last_error < self.tol and q.residual < self.tol:
            raise self.done(q, "converged", f"residual and certified distance below tol{how}", self.last_error)
        return q if q.residual < self.best.residual else None

    def certify(self, cur: _Point) -> _Point:
        """Below the residual target, ask Newton for the certified distance (and polish)."""
        if cur.residual >= self.certify_below:
            return cur
        self.certify_below = 0.1 * cur.residual
        q = self.newton(cur, "")
        if q is None:
            return cur
        self.best, self.stall = q, 0
        self.certify_below = min(self.certify_below, 0.1 * q.residual)
        return q

    def check_limits(self, cur: _Point) -> None:
        if self.diverged is not None and self.diverged(cur.x):
            raise self.done(cur, "diverging", "the divergence test fired (the norm grows without bound)")
        if self.budget <= 0:
            raise self.done(self.best, "max_iterations", f"the budget of {self.max_iter} sweeps ran out while still "
                            "progressing: pass a larger max_iter")

    def track(self, cur: _Point) -> _Point:
        """Book-keeping of progress; slow progress tries Newton, a stall tries Newton and then more damping."""
        if cur.residual < self.best.residual:
            self.best, self.stall = cur, 0
        else:
            self.stall += 1
        self.window += 1
        if self.window >= STALL_WINDOW:
            slow = self.best.residual > SLOW_PROGRESS * self.window_start
            self.window, self.window_start = 0, self.best.residual
            if slow:  # progressing, but too slowly to finish (a Jacobian eigenvalue near 1): try Newton
                q = self.newton(self.best, " (Newton)")
                if q is not None:
                    return self.jump(q)
        if self.stall >= STALL_WINDOW:  # stalled or oscillating: Newton from the best point, then more damping
            if self.newton_tries < NEWTON_RESTARTS and self.budget > 0:
                self.newton_tries += 1
                q = self.newton(self.best, " (Newton)")
                if q is not None:
                    return self.jump(q)
            self.more_damping()
            if self.d > MAX_DAMPING:
                why = (f"no progress below a residual of {self.best.residual:.3g} even with the damping at its "
                       "ceiling" if self.best.residual >= self.tol else
                       f"the residual {self.best.residual:.3g} is below tol but the estimated distance to the fixed "
                       f"point, {self.last_error:.3g}, is not (the map is nearly singular here)")
                raise self.done(self.best, "stalled", why, self.last_error)
            return self.best
        return cur

    def jump(self, q: _Point) -> _Point:
        """Continue from a point Newton found (a new best)."""
        self.forget()
        self.best, self.stall, self.window_start = q, 0, q.residual
        return q

    def more_damping(self) -> None:
        self.d = 0.5 * (1.0 + self.d) if self.d > 0 else 0.5
        self.forget()
        self.stall = 0

    def step(self, cur: _Point) -> _Point | None:
        """One damped step, replaced by the Anderson extrapolation when that lowers the residual."""
        g = cur.fx - cur.x
        plain = cur.x + (1.0 - self.d) * g
        if self.acceleration:
            nxt = self.anderson(cur, g, plain)
            if nxt is not None:
                return nxt
        return self.point(plain)

    def anderson(self, cur: _Point, g: np.ndarray, plain: np.ndarray) -> _Point | None:
        self.hist_x.append(cur.x.copy())
        self.hist_g.append(g.copy())
        if len(self.hist_x) > ANDERSON_DEPTH + 1:
            self.hist_x.pop(0)
            self.hist_g.pop(0)
        if len(self.hist_x) < 2:
            return None
        scale = np.maximum(np.abs(cur.x), 1e-300)
        dX = np.diff(np.array(self.hist_x), axis=0).T / scale[:, None]
        dG = np.diff(np.array(self.hist_g), axis=0).T / scale[:, None]
        coef = np.linalg.lstsq(dG, g / scale, rcond=None)[0]
        cand = plain - scale * ((dX + (1.0 - self.d) * dG) @ coef)
        nxt = self.point(cand) if np.all(np.isfinite(cand)) else None
        # safeguard: keep the extrapolation only if it lowers the residual; otherwise the history describes the
        # map badly (far from the fixed point, the map is not near-linear)
        if nxt is None or nxt.residual >= cur.residual:
            self.forget()
            return None
        return nxt

    def left_domain(self) -> _Point:
        """Both steps left the map's domain: restart from the best point with more damping."""
        self.more_damping()
        if self.d > MAX_DAMPING:
            raise self.done(self.best, "invalid", "every step from the best point leaves the map's domain")
        return self.best


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
