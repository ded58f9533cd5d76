"""Solve the replica saddle-point equations at one point (theory §2.6), robustly.

:func:`solve` iterates the saddle-point map (:class:`SaddlePointMap`: channel side, then prior side) with the
generic :func:`replica.fixed_point.iterate`. When the default cold start does not converge, it tries the
informed start and then walks to the requested ``lam`` from an easier, larger one (continuation in ``lam``);
the :class:`Solution` records the route taken. The square loss goes through the exact scalar reduction
(:func:`replica.solve_square`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from gaussequiv import checks
from replica.channel import Channel
from replica.channel_side import make_channel_side
from replica.fixed_point import FixedPointResult, iterate
from replica.loss import Loss
from replica.prior import SpectralSums
from replica.problem import INFORMED, UNINFORMED, initial_point, is_valid_point, validate_problem
from replica.result import ConvergenceError, Solution
from replica.ridge import solve_square
from spectra import Spectrum

__all__ = ["solve", "SaddlePointMap"]

#: q above this multiple of (1 + rho) counts as a diverging norm (no finite fixed point).
Q_DIVERGENCE = 1e10
#: Continuation in lam starts from lam * LAM_START_FACTOR**k, k = 1, 2, ..., up to LAM_START_MAX_STEPS tries:
#: a larger penalty makes the map more contractive (V_hat's influence on V shrinks like 1/lam).
LAM_START_FACTOR = 10.0
LAM_START_MAX_STEPS = 12
#: First step of the walk down in lam (a factor of 10^(1/2)), the largest (10) and the smallest before giving
#: up (a factor of 1.001: the path has a genuine obstruction there).
LAM_STEP_FIRST, LAM_STEP_MAX, LAM_STEP_MIN = 10.0**0.5, 10.0, 1.001


class SaddlePointMap:
    """One sweep of the saddle-point equations at fixed ``(alpha, lam)``: ``(V, q, m) -> (V', q', m')``.

    The channel side (:mod:`replica.channel_side`) gives the hats from ``(V, q, m)``; the prior side
    (:class:`replica.prior.SpectralSums`) gives the new overlaps from the hats.
    """

    def __init__(self, spectrum: Spectrum, loss: Loss, channel: Channel, alpha: float):
        self.spectrum, self.loss, self.channel, self.alpha = spectrum, loss, channel, alpha
        self.rho = spectrum.rho
        self.prior = SpectralSums(spectrum)
        self.side = make_channel_side(loss, channel, self.rho, alpha, spectrum.gamma)

    def hats(self, x: np.ndarray) -> np.ndarray | None:
        """``(V_hat, q_hat, m_hat)`` at ``x = (V, q, m)``, or None where they cannot be evaluated."""
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                hats = np.array(self.side.hats(*x), dtype=float)
        except (FloatingPointError, ValueError, ZeroDivisionError):
            return None
        if not (np.all(np.isfinite(hats)) and hats[0] >= 0 and hats[1] >= 0):
            return None
        return hats

    def evaluator(self, lam: float):
        """The callback of :func:`replica.fixed_point.iterate` at penalty ``lam``."""

        def evaluate(x: np.ndarray):
            hats = self.hats(x)
            if hats is None or (lam == 0 and hats[0] <= 0):
                return None
            try:
                with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                    fx = np.array(self.prior(lam, *hats))
            except (FloatingPointError, ZeroDivisionError):
                return None
            return fx, hats

        return evaluate

    def valid(self, x: np.ndarray) -> bool:
        return is_valid_point(x, self.rho)

    def diverged(self, x: np.ndarray) -> bool:
        return bool(x[1] > Q_DIVERGENCE * (1.0 + self.rho))

    def to_free(self, x: np.ndarray) -> np.ndarray:
        """``(log V, log q, artanh(m / sqrt(rho q)))``: the domain ``V, q > 0, m^2 < rho q`` onto all of R^3."""
        with np.errstate(all="ignore"):
            return np.array([np.log(x[0]), np.log(x[1]), np.arctanh(x[2] / np.sqrt(self.rho * x[1]))])

    def from_free(self, y: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`to_free`."""
        q = np.exp(y[1])
        return np.array([np.exp(y[0]), q, np.tanh(y[2]) * np.sqrt(self.rho * q)])

    def run(self, lam: float, x0: np.ndarray, *, tol: float, max_iter: int, damping: float,
            acceleration: bool) -> FixedPointResult:
        """Iterate from ``x0`` (budget ``max_iter`` map evaluations); Newton steps in :meth:`to_free` coordinates,
        where they cannot leave the domain (near ``m^2 = rho q``, a straight step in ``m`` and ``q`` does)."""
        return iterate(self.evaluator(lam), x0, tol=tol, max_iter=max_iter, damping=damping,
                       acceleration=acceleration, valid=self.valid, diverged=self.diverged,
                       coordinates=(self.to_free, self.from_free))

    def solution(self, lam: float, res: FixedPointResult, route: str) -> Solution:
        """The :class:`Solution` of an iteration result (errors evaluated at the returned point)."""
        V, q, m = (float(v) for v in res.x)
        hats = res.aux if res.aux is not None else np.full(3, np.nan)
        status, message = res.status, res.message
        errors = [np.nan] * 4
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                errors = [self.channel.test_error(self.rho, q, m), self.channel.test_error_noisy(self.rho, q, m),
                          *self.side.training(V, q, m)]
        except (FloatingPointError, ValueError, ZeroDivisionError):
            if status == "converged":
                status, message = "invalid", "the errors cannot be evaluated at the fixed point"
        values = [V, q, m, *map(float, hats), *errors]
        if status == "converged" and not np.all(np.isfinite(values)):
            status, message = "invalid", "the fixed point holds a non-finite value"
        return Solution(alpha=self.alpha, lam=lam, V=V, q=q, m=m, V_hat=float(hats[0]), q_hat=float(hats[1]),
                        m_hat=float(hats[2]), test_error=float(errors[0]), test_error_noisy=float(errors[1]),
                        train_loss=float(errors[2]), train_error=float(errors[3]), iterations=int(res.iterations),
                        converged=status == "converged", status=status, residual=float(res.residual),
                        error_estimate=float(res.error_estimate), damping=float(res.damping),
                        loss=self.loss.name, channel=self.channel.name, method="fixed-point", route=route,
                        message=message)


def solve(spectrum: Spectrum, loss: Loss, channel: Channel, alpha: float, lam: float, *,
          tol: float = 1e-10, max_iter: int = 20000, damping: float = 0.0, init=None,
          strict: bool = True, acceleration: bool = True) -> Solution:
    r"""Solve the replica saddle-point equations of ERM on a Gaussian covariate model.

    The estimator is :math:`\hat w = \arg\min_w \sum_{\mu=1}^n \ell(y^\mu, w\cdot v^\mu/\sqrt p)
    + (\lambda/2)\|w\|^2` with ``n = alpha p`` samples, student features of covariance spectrum
    ``spectrum`` and labels from ``channel`` applied to the teacher field (theory §1.4).

    The iteration starts from ``init`` (default: the uninformed start). If that does not converge, ``solve``
    tries the informed start, then continuation in ``lam``: it solves at a larger, easier penalty and walks
    down to ``lam`` with warm starts, shortening its steps where needed. :attr:`Solution.route` says which
    route gave the answer. Convergence is certified (see :mod:`replica.fixed_point`): the residual of one
    undamped sweep and the Newton estimate of the distance to the fixed point are both below ``tol``.

    Parameters
    ----------
    spectrum : spectra.Spectrum
        Eigenvalues ``s`` of Omega, teacher weights ``t``, ``rho`` and ``gamma = k/p``.
    loss : Loss
        A convex loss. The built-in square loss goes through the exact scalar reduction
        (:func:`replica.solve_square`).
    channel : Channel
        The teacher channel ``P0(y | nu)``.
    alpha : float
        ``n/p > 0``.
    lam : float
        Ridge penalty ``>= 0``. ``lam = 0`` is supported for the square loss (the min-norm interpolator below
        the interpolation threshold ``alpha < rank(Omega)/p``, least squares above it).
    tol : float
        Target of the relative residual and of the certified relative distance of ``(V, q, m)`` to the fixed
        point.
    max_iter : int
        Budget of evaluations of the saddle-point map over the whole route (every start, Newton step, bridge and
        continuation counted). Most points need tens to a few thousand; the default leaves room for the slowest
        routes measured by ``benchmarks/convergence_bench.py`` (hinge at ``alpha = 50``, ``lam <= 1e-6``: ~7000).
    damping : float
        Initial weight ``d`` of the **old** iterate: ``x <- (1 - d) F(x) + d x`` for ``x in {V, q, m}``.
        It rises automatically when the iteration stalls, oscillates or leaves the valid domain.
    init : {'uninformed', 'informed'}, Solution or (V, q, m), optional
        Starting point (default uninformed: ``V = 1000, q = m = 1e-3``); pass a neighbouring
        :class:`Solution` to warm-start.
    strict : bool
        If True (default), a point that does not converge raises :class:`ConvergenceError`; if False
        it is returned with ``converged=False``, its ``status`` and ``message``.
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
    >>> sol.converged, round(sol.test_error, 4), sol.route
    (True, 0.1797, 'uninformed')
    """
    alpha, lam = validate_problem(spectrum, loss, channel, alpha, lam)
    tol = checks.real("tol", tol, low=0.0, high=1.0, low_open=True, high_open=True)
    damping = checks.real("damping", damping, low=0.0, high=1.0, high_open=True)
    max_iter = checks.integer("max_iter", max_iter, minimum=1)
    if loss.is_square:
        return solve_square(spectrum, channel, alpha, lam, strict=strict)
    problem = SaddlePointMap(spectrum, loss, channel, alpha)
    if lam == 0:
        return _solve_unregularised(problem, loss, channel, alpha, tol, max_iter, damping, acceleration, init,
                                    strict)
    return _solve_routes(problem, lam, init, tol=tol, max_iter=max_iter, damping=damping, acceleration=acceleration,
                         strict=strict)


def _solve_routes(problem: SaddlePointMap, lam: float, init, *, tol: float, max_iter: int, damping: float,
                  acceleration: bool, strict: bool, continuation: bool = True) -> Solution:
    """The direct starts, then continuation in ``lam``; the first converged route wins."""
    rho = problem.rho
    kwargs = dict(tol=tol, damping=damping, acceleration=acceleration)
    first = UNINFORMED if init is None else (init if isinstance(init, str) else "warm start")
    starts = [(initial_point(init, rho), first)]
    if init is not None and first != UNINFORMED:
        starts.append((initial_point(None, rho), UNINFORMED))
    if first != INFORMED:
        starts.append((initial_point(INFORMED, rho), INFORMED))
    spent = 0
    tried: list[_Attempt] = []
    for x0, label in starts:
        if spent >= max_iter:
            break
        res = problem.run(lam, x0, max_iter=max_iter - spent, **kwargs)
        spent += res.iterations
        if res.converged:
            return _finish(problem, lam, res, _route_text(label, tried), spent, strict)
        tried.append(_Attempt(res, label))
    if continuation and spent < max_iter:
        res, label, used = _continuation_in_lam(problem, lam, max_iter - spent, kwargs)
        spent += used
        if res is not None and res.converged:
            return _finish(problem, lam, res, _route_text(label, tried), spent, strict)
        if res is not None:
            tried.append(_Attempt(res, label))
        else:
            tried.append(_Attempt(None, label))
    done = [a for a in tried if a.result is not None]
    res = min(done, key=lambda a: a.result.residual).result
    if spent >= max_iter:
        res = FixedPointResult(res.x, res.fx, res.aux, res.residual, res.error_estimate, res.iterations,
                               "max_iterations", res.damping, f"the budget of {max_iter} map evaluations ran out "
                               "before any route converged: pass a larger max_iter")
    return _finish(problem, lam, res, _route_text("failed", tried), spent, strict)


#: lam = 0: the warm start for the unregularised fixed point comes from this penalty (continuous in lam above the
#: separability threshold, and the solution there is ~ this far from the limit).
LAM_ZERO_BRIDGE = 1e-10
#: Relative distance to the separability threshold inside which lam = 0 is refused (the norm diverges there).
THRESHOLD_RTOL = 1e-9
#: Losses with an unregularised limit this solver handles: logistic (the MLE, which exists iff the data are not
#: separable) and hinge (its minimiser above the threshold, the max-margin classifier below it).
_LAM_ZERO_LOSSES = ("logistic", "hinge")


def _solve_unregularised(problem: SaddlePointMap, loss: Loss, channel: Channel, alpha: float, tol: float,
                         max_iter: int, damping: float, acceleration: bool, init, strict: bool) -> Solution:
    """``lam = 0`` for a margin loss, on either side of :func:`replica.separability_threshold`.

    Above the threshold the fixed point at ``lam = 0`` is iterated directly (warm-started from
    ``lam = LAM_ZERO_BRIDGE`` when the direct starts fail). Below it the training data are separable: the logistic
    minimiser does not exist (status ``separable``; ``strict`` raises), the hinge's ``lam -> 0+`` limit is the
    max-margin classifier (:mod:`replica.max_margin`).
    """
    from replica.separability import separability_threshold

    if loss.name not in _LAM_ZERO_LOSSES:
        raise ValueError(f"lam = 0 is supported for the square loss (exact ridgeless limit), the logistic loss (the "
                         f"unregularised MLE above the separability threshold) and the hinge (its minimiser above the "
                         f"threshold, the max-margin classifier below it); for {loss.name} use lam > 0")
    if not channel.is_classification:
        raise ValueError(f"lam = 0 with the {loss.name} loss needs labels +-1")
    threshold = separability_threshold(problem.spectrum, channel)
    if np.isfinite(threshold) and abs(alpha - threshold) <= THRESHOLD_RTOL * threshold:
        raise ValueError(f"alpha = {alpha:g} is the separability threshold {threshold:.10g}: the unregularised "
                         f"{loss.name} minimiser's norm diverges there; use lam > 0 or another alpha")
    kwargs = dict(tol=tol, max_iter=max_iter, damping=damping, acceleration=acceleration)
    if alpha < threshold and loss.name == "hinge":
        return _max_margin(problem, alpha, kwargs, strict)
    if alpha < threshold:
        nan = np.full(3, np.nan)
        res = FixedPointResult(nan, nan, None, np.nan, np.nan, 0, "separable", 0.0,
                               f"the training data are linearly separable at alpha = {alpha:g} < {threshold:.6g} "
                               f"(replica.separability_threshold): the unregularised {loss.name} minimiser does not "
                               "exist (its norm is infinite). Use lam > 0; as lam -> 0 logistic regression tends to "
                               "the max-margin classifier in direction")
        return _finish(problem, 0.0, res, "separability threshold", 0, strict)
    direct = _solve_routes(problem, 0.0, init, strict=False, continuation=False, **kwargs)
    if direct.converged:
        return direct
    left = max_iter - direct.iterations  # one budget for the whole route
    bridge = _solve_routes(problem, LAM_ZERO_BRIDGE, None, strict=False, **{**kwargs, "max_iter": max(left, 1)})
    left -= bridge.iterations
    if bridge.converged and left > 0:
        res = problem.run(0.0, np.array([bridge.V, bridge.q, bridge.m]), tol=tol, max_iter=left,
                          damping=damping, acceleration=acceleration)
        if res.converged:
            return _finish(problem, 0.0, res, f"warm start from lam = {LAM_ZERO_BRIDGE:g} (after {direct.route})",
                           direct.iterations + bridge.iterations + res.iterations, strict)
    if strict:
        _finish(problem, 0.0, FixedPointResult(np.array([direct.V, direct.q, direct.m]), np.full(3, np.nan), None,
                                               direct.residual, direct.error_estimate, direct.iterations,
                                               direct.status, direct.damping, direct.message), direct.route,
                direct.iterations, strict)
    return direct


#: Max-margin route: the hinge is walked down in lam (factor 10 per step, from MAX_MARGIN_LAM_START) until its
#: linear piece ``y omega <= 1 - V`` lies MAX_MARGIN_SD standard deviations of omega out (Gaussian mass < 1e-32,
#: below double precision): there the hinge's fixed point is the hard-margin one, rescaled by lam.
MAX_MARGIN_LAM_START, MAX_MARGIN_LAM_MIN, MAX_MARGIN_SD = 1e-2, 1e-14, 12.0


def _max_margin(problem: SaddlePointMap, alpha: float, kwargs: dict, strict: bool) -> Solution:
    """The hinge's ``lam -> 0+`` limit on separable data: the hard-margin fixed point, reported in the hinge's
    variables (:mod:`replica.max_margin`).

    The hard-margin map is reached from the hinge: walk the hinge down in ``lam`` (warm starts) until its linear
    piece carries no mass, then iterate the hard-margin map from the rescaled hinge point ``(lam V, q, m)``
    (the same fixed point to double precision), which certifies the limit itself.
    """
    from replica.max_margin import HARD_MARGIN_PENALTY, hard_margin_loss

    lam, init, spent, hinge = MAX_MARGIN_LAM_START, None, 0, None
    while lam >= MAX_MARGIN_LAM_MIN and spent < kwargs["max_iter"]:
        hinge = _solve_routes(problem, lam, init, strict=False, **{**kwargs, "max_iter": kwargs["max_iter"] - spent})
        spent += hinge.iterations
        if not hinge.converged:
            break
        if hinge.V - 1.0 >= MAX_MARGIN_SD * np.sqrt(hinge.q):
            break
        lam, init = lam / 10.0, hinge
    hard = SaddlePointMap(problem.spectrum, hard_margin_loss(), problem.channel, alpha)
    route = "max-margin: hard-margin fixed point"
    if hinge is not None and hinge.converged:
        x0 = np.array([hinge.lam * hinge.V / HARD_MARGIN_PENALTY, hinge.q, hinge.m])
        route += f" from the hinge at lam = {hinge.lam:.3g} ({hinge.route})"
    else:
        x0 = initial_point(None, problem.rho)
        route += f" (the hinge's walk in lam failed: {hinge.status if hinge else 'not started'})"
    left = kwargs["max_iter"] - spent
    if left > 0:
        res = hard.run(HARD_MARGIN_PENALTY, x0, tol=kwargs["tol"], max_iter=left, damping=kwargs["damping"],
                       acceleration=kwargs["acceleration"])
    else:
        nan = np.full(3, np.nan)
        res = FixedPointResult(nan, nan, None, np.nan, np.nan, 0, "max_iterations", kwargs["damping"],
                               f"the budget of {kwargs['max_iter']} map evaluations ran out on the hinge's walk in "
                               "lam: pass a larger max_iter")
    sol = hard.solution(HARD_MARGIN_PENALTY, res, route)
    limit = dict(lam=0.0, loss=problem.loss.name, iterations=spent + res.iterations)
    if sol.converged:
        limit.update(V=np.inf, V_hat=0.0, q_hat=0.0, m_hat=0.0, train_loss=0.0, train_error=0.0,
                     message="the max-margin classifier (lam -> 0+ limit of the hinge on separable data): "
                             + sol.message)
    out = replace(sol, **limit)
    if strict and not out.converged:
        raise ConvergenceError(f"the max-margin fixed point was not reached at alpha={alpha:g} "
                               f"({problem.channel.name}): status {out.status} ({out.message}); route {out.route}",
                               out)
    return out


@dataclass
class _Attempt:
    result: FixedPointResult | None
    label: str


def _route_text(label: str, failed: list[_Attempt]) -> str:
    """``label``, followed by the earlier attempts and how they ended."""
    earlier = [a.label + (f": {a.result.status}" if a.result is not None else "") for a in failed]
    if label == "failed":
        return "failed (" + ", ".join(earlier) + ")"
    return label + (f" (after {', '.join(earlier)})" if earlier else "")


def _continuation_in_lam(problem: SaddlePointMap, lam: float, budget: int, kwargs: dict):
    """Solve at a larger lam, then walk down to ``lam`` with warm starts.

    Returns ``(result at lam or None, route label, map evaluations used)``; the result is None when the walk
    did not reach ``lam``.
    """
    used = 0
    start, lam_start = None, lam
    for _ in range(LAM_START_MAX_STEPS):
        lam_start *= LAM_START_FACTOR
        res = problem.run(lam_start, initial_point(None, problem.rho), max_iter=budget - used, **kwargs)
        used += res.iterations
        if res.converged:
            start = res
            break
        if used >= budget:
            break
    if start is None:
        return None, f"continuation in lam: no start converged up to lam = {lam_start:.3g}", used
    current, lam_now, factor, steps = start, lam_start, LAM_STEP_FIRST, 0
    while used < budget:
        lam_next = max(lam, lam_now / factor)
        res = problem.run(lam_next, current.x, max_iter=budget - used, **kwargs)
        used += res.iterations
        steps += 1
        if res.converged:
            if lam_next == lam:
                return res, f"continuation in lam from {lam_start:.3g} ({steps} steps)", used
            current, lam_now = res, lam_next
            factor = min(factor * factor, LAM_STEP_MAX)
            continue
        if lam_next == lam and factor <= LAM_STEP_MIN:
            return res, f"continuation in lam from {lam_start:.3g}", used
        factor = np.sqrt(factor)
        if factor < LAM_STEP_MIN:
            break
    return None, f"continuation in lam from {lam_start:.3g} stopped at {lam_now:.3g}", used


def _finish(problem: SaddlePointMap, lam: float, res: FixedPointResult, route: str, spent: int,
            strict: bool) -> Solution:
    res = FixedPointResult(res.x, res.fx, res.aux, res.residual, res.error_estimate, spent, res.status,
                           res.damping, res.message)
    sol = problem.solution(lam, res, route)
    if strict and not sol.converged:
        raise ConvergenceError(
            f"replica fixed point not reached at alpha={sol.alpha:g}, lam={lam:g} ({sol.loss}, {sol.channel}): "
            f"status {sol.status} ({sol.message}); route {route}; residual {sol.residual:.3g}, q = {sol.q:.3g}. "
            "Pass strict=False to inspect the best iterate, a larger tol or max_iter, or solve along "
            "replica.lambda_path / replica.learning_curve from an easier point.", sol)
    return sol
