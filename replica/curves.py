"""Warm-started sweeps of the solver: learning curves in alpha, regularisation paths in lambda, and the
optimal lambda. Results are :class:`Curve` objects (numpy arrays, CSV, plots)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from gaussequiv import checks
from gaussequiv.progress import show as show_progress
from replica.channel import Channel
from replica.loss import Loss
from replica.problem import validate_problem
from replica.result import ConvergenceError, PointTable, Solution
from replica.solver import solve
from spectra import Spectrum

__all__ = ["Curve", "learning_curve", "lambda_path", "optimal_lambda"]

_NUMERIC = ("alpha", "lam", "V", "q", "m", "V_hat", "q_hat", "m_hat", "test_error", "test_error_noisy",
            "train_loss", "train_error", "residual", "error_estimate")


@dataclass(frozen=True, eq=False)
class Curve(PointTable):
    """Solutions along a sweep, one array entry per point (fields as :class:`replica.Solution`).

    ``status[i]`` says whether point ``i`` converged; :attr:`all_converged` checks them all. Plots mark
    points that did not converge, and never draw them as part of the line.
    """

    alpha: np.ndarray
    lam: np.ndarray
    V: np.ndarray
    q: np.ndarray
    m: np.ndarray
    V_hat: np.ndarray
    q_hat: np.ndarray
    m_hat: np.ndarray
    test_error: np.ndarray
    test_error_noisy: np.ndarray
    train_loss: np.ndarray
    train_error: np.ndarray
    residual: np.ndarray
    error_estimate: np.ndarray
    iterations: np.ndarray
    status: np.ndarray
    route: np.ndarray
    loss: str
    channel: str

    @classmethod
    def from_solutions(cls, solutions: list[Solution]) -> Curve:
        """Stack a list of solutions of one problem."""
        if not solutions:
            raise ValueError("solutions must not be empty")
        data = {k: np.array([getattr(s, k) for s in solutions], dtype=float) for k in _NUMERIC}
        return cls(**data, iterations=np.array([s.iterations for s in solutions]),
                   status=np.array([s.status for s in solutions]), route=np.array([s.route for s in solutions]),
                   loss=solutions[0].loss,
                   channel=solutions[0].channel)

    def to_csv(self, path: str | os.PathLike, *, metadata: dict | None = None) -> None:
        """One row per point under a header row: the fields of :data:`_NUMERIC`, ``iterations``, ``status``,
        ``loss`` and ``channel`` (floats round-trip exactly). Writes the sidecar ``path-metadata.json`` too
        (:mod:`gaussequiv.tables`): loss, channel, counts, the error conventions and ``metadata``.
        """
        from gaussequiv.tables import write_csv

        n = len(self)
        table = {c: getattr(self, c) for c in _NUMERIC}
        table.update(iterations=self.iterations, status=self.status, loss=[self.loss] * n, channel=[self.channel] * n)
        write_csv(path, table, {"loss": self.loss, "channel": self.channel, "points": n,
                                "converged": int(np.sum(self.converged)),
                                "errors": "regression: MSE against the clean target (no 1/2); classification: "
                                          "0/1 error; train_loss excludes the penalty",
                                **(metadata or {})})

    def plot(self, ax=None, *, x: str = "alpha", quantities=("test_error", "train_error"), bayes=None, **kwargs):
        """Plot the chosen quantities against ``alpha`` or ``lam`` on a matplotlib axis; returns the axis.

        ``bayes``: a :class:`replica.BayesCurve` (:func:`replica.bayes_optimal_curve`) drawn on the same axis, the
        Bayes-optimal test error beside the estimator's (``x = "alpha"`` only).
        """
        import matplotlib.pyplot as plt

        if x not in ("alpha", "lam"):
            raise ValueError(f"x must be 'alpha' or 'lam', got {x!r}")
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        xs = getattr(self, x)
        ok = self.converged
        for name in quantities:
            if name not in _NUMERIC:
                raise ValueError(f"unknown quantity {name!r}; choose from {_NUMERIC}")
            ys = np.where(ok, getattr(self, name), np.nan)
            ax.plot(xs, ys, label=f"{name.replace('_', ' ')} (theory)", **kwargs)
        if not ok.all():
            ax.plot(xs[~ok], np.zeros((~ok).sum()), "x", color="red", label="not converged")
        if bayes is not None:
            if x != "alpha":
                raise ValueError("bayes is a curve in alpha: plot it with x='alpha'")
            bayes.plot(ax=ax)
        ax.set_xlabel(r"$\alpha = n/p$" if x == "alpha" else r"$\lambda$")
        if x == "lam":
            ax.set_xscale("log")
        ax.set_title(f"{self.loss}, {self.channel}")
        ax.legend(frameon=False, fontsize=8)
        return ax


def _sweep(points, solve_one, progress, desc) -> list[Solution]:
    """Solve at each point in order, warm-starting from the previous point when (and only when) it converged.

    :func:`replica.solve` itself falls back to the cold starts and to continuation in ``lam`` when a warm start
    fails, so an unconverged neighbour never decides a point.
    """
    sols: list[Solution] = []
    prev = None
    bar = tqdm(points, desc=desc, disable=not show_progress(progress), delay=0 if progress else 3.0, leave=False)
    for point in bar:
        sol = solve_one(point, prev if prev is not None and prev.converged else None)
        sols.append(sol)
        prev = sol
    return sols


def learning_curve(spectrum: Spectrum, loss: Loss, channel: Channel, alphas, lam: float, *,
                   progress: bool | None = None, **solve_kwargs) -> Curve:
    """Solve at each ``alpha`` (in the given order) with a warm start from the previous point.

    Parameters
    ----------
    spectrum, loss, channel, lam
        As :func:`replica.solve`.
    alphas : sequence of float
        Sample ratios ``n/p > 0``.
    progress : bool or None
        True shows a tqdm bar, False hides it; None (default) shows it on a terminal or in a notebook, never in a
        redirected log (gaussequiv.progress.show), and only after 3 s.
    **solve_kwargs
        Passed to :func:`replica.solve` (``tol``, ``strict``, ``damping``, ``max_iter``...). With the
        default ``strict=True`` the first point that does not converge raises ``ConvergenceError``.

    Examples
    --------
    >>> from spectra import Spectrum
    >>> from replica import Loss, Channel, learning_curve
    >>> c = learning_curve(Spectrum.isotropic(100), Loss.square(), Channel.linear(), [0.5, 2.0], lam=0.1)
    >>> c.test_error.round(4)
    array([0.5173, 0.0123])
    """
    alphas = checks.grid("alphas", alphas, low=0.0, low_open=True)
    validate_problem(spectrum, loss, channel, float(alphas[0]), lam)
    return Curve.from_solutions(_sweep(alphas, lambda a, init: solve(spectrum, loss, channel, a, lam, init=init,
                                                                      **solve_kwargs), progress, "alphas"))


def lambda_path(spectrum: Spectrum, loss: Loss, channel: Channel, alpha: float, lams, *,
                progress: bool | None = None, **solve_kwargs) -> Curve:
    """Solve at each ``lam`` (in the given order) at fixed ``alpha``, warm-starting along the path.

    Examples
    --------
    >>> from spectra import Spectrum
    >>> from replica import Loss, Channel, lambda_path
    >>> c = lambda_path(Spectrum.isotropic(100), Loss.square(), Channel.linear(0.5), 2.0, [1.0, 0.1])
    >>> c.all_converged
    True
    """
    lams = checks.grid("lams", lams, low=0.0)
    validate_problem(spectrum, loss, channel, alpha, float(lams[0]))
    return Curve.from_solutions(_sweep(lams, lambda lam, init: solve(spectrum, loss, channel, alpha, lam, init=init,
                                                                      **solve_kwargs), progress, "lams"))


def optimal_lambda(spectrum: Spectrum, loss: Loss, channel: Channel, alpha: float, *,
                   bounds: tuple[float, float] = (1e-6, 1e2), quantity: str = "test_error",
                   xatol: float = 1e-4, grid: int = 25, **solve_kwargs) -> Solution:
    """The ``lam`` in ``bounds`` that minimises ``quantity`` (a converged optimum, or an error).

    A regularisation path over ``grid`` log-spaced values from ``bounds[1]`` down to ``bounds[0]`` (continuation
    in ``lam``: each point warm-starts from the previous one) brackets the minimum; a bounded Brent search in
    ``log lam`` inside the bracket then refines it to ``xatol``. Only converged points enter the minimisation:
    if any point of the path or of the refinement does not converge, :class:`ConvergenceError` names its
    ``lam`` (whatever ``strict`` says: a minimum over unconverged values is meaningless).

    Returns the :class:`Solution` at the optimum (its ``lam`` field). Raises ``ValueError`` if the minimum sits on
    a bound, where a wider ``bounds`` is needed.

    Examples
    --------
    >>> from spectra import Spectrum
    >>> from replica import Loss, Channel, optimal_lambda
    >>> sol = optimal_lambda(Spectrum.isotropic(100), Loss.square(), Channel.linear(0.5), alpha=2.0)
    >>> round(sol.lam, 3), sol.status  # Bayes-optimal ridge in this scaling: lam = noise / rho
    (0.5, 'converged')
    """
    lo, hi = (float(b) for b in bounds)
    if not (0 < lo < hi and np.isfinite(hi)):
        raise ValueError(f"bounds must satisfy 0 < low < high < inf, got {bounds}")
    if quantity not in _NUMERIC[2:-2]:
        raise ValueError(f"unknown quantity {quantity!r}; choose from {_NUMERIC[2:-2]}")
    grid = checks.integer("grid", grid, minimum=3)
    validate_problem(spectrum, loss, channel, alpha, lo)
    solve_kwargs = {**solve_kwargs, "strict": False}

    def converged(sol: Solution) -> Solution:
        if not sol.converged:
            raise ConvergenceError(f"optimal_lambda: the fixed point at lam = {sol.lam:.6g} (alpha = {alpha:g}) did "
                                   f"not converge (status {sol.status}: {sol.message}); no optimum is reported over "
                                   "unconverged points. Narrow bounds away from it, or pass a larger max_iter/tol.",
                                   sol)
        return sol

    lams = np.geomspace(hi, lo, grid)
    path = [converged(s) for s in _sweep(lams, lambda lam, init: solve(spectrum, loss, channel, alpha, lam, init=init,
                                                                        **solve_kwargs), False, "lams")]
    values = np.array([getattr(s, quantity) for s in path])
    i = int(np.argmin(values))
    if i in (0, grid - 1):
        raise ValueError(f"the optimum lam = {lams[i]:.3g} sits on a bound of {bounds}; widen bounds")
    cache: dict[float, Solution] = {}

    def objective(log_lam: float) -> float:
        lam = float(np.exp(log_lam))
        near = path[int(np.argmin(np.abs(np.log(lams) - log_lam)))]
        sol = converged(solve(spectrum, loss, channel, alpha, lam, init=near, **solve_kwargs))
        cache[log_lam] = sol
        return getattr(sol, quantity)

    from scipy.optimize import minimize_scalar  # here: scipy.optimize is not loaded with replica (issue 13)

    res = minimize_scalar(objective, bounds=(np.log(lams[i + 1]), np.log(lams[i - 1])), method="bounded",
                          options={"xatol": xatol})
    best = cache[res.x] if res.x in cache else converged(solve(spectrum, loss, channel, alpha,
                                                               float(np.exp(res.x)), init=path[i], **solve_kwargs))
    return best if getattr(best, quantity) <= values[i] else path[i]
