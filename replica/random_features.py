r"""Learning curves at ``p = infinity`` without any matrix: random features along ``p/n``, power laws along ``n``.

* :func:`random_features_curve`: the test error of ERM (any loss, any channel) on the Gaussian-equivalent random
  features ``v = sigma(F c)`` of isotropic latents, as a function of ``p/n`` at fixed ``n/D`` -- the axis of the
  double descent of Mei & Montanari (arXiv:1908.05355) -- each point solved on the
  :meth:`spectra.SpectralDensity.random_features` density of its own ``p/D`` (theory §3.3, §6.3).
* :func:`kernel_learning_curve`: the learning curve in the number of samples ``n`` on a per-sample density
  (e.g. :meth:`spectra.SpectralDensity.power_law`), with a penalty per sample ``lambda_K`` that may depend on
  ``n`` (``lambda_K = n^-l`` in Cui et al., arXiv:2105.15004).

**Penalty conventions** (``docs/p_infinity.md``). Ours is the GCM objective
:math:`\sum_\mu \ell(y^\mu, w\cdot v^\mu/\sqrt p) + \frac\lambda2\|w\|^2` with ``alpha = n/p``, ``gamma = D/p``.

* Mei & Montanari minimise :math:`\frac1n\sum_i (y_i - a\cdot\sigma(\Theta x_i/\sqrt d))^2 + \frac{N\lambda_{MM}}{d}
  \|a\|^2` with ``N = p`` features and ``d = D``: with ``a = w/sqrt(p)`` and the objective times ``2/n``,
  ``lambda_MM = lam D/n = lam gamma/alpha = lam/psi_2`` (theory §6.3; verified against their closed form to
  1e-6 by ``tests/replica/test_random_features.py``). Their ``lambda_bar = lambda_MM/mu_*^2``.
* Gerace et al. (ICML 2020) and the GCM papers (Loureiro et al. 2021) write the same objective as ours, with
  ``alpha = n/p`` and ``gamma = d/p``: ``lam`` is their ``lambda``.

Along ``p/n`` at fixed ``n/D``, a fixed ``lam`` is a fixed ``lambda_MM``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

import numpy as np
from tqdm.auto import tqdm

from gaussequiv import checks
from gaussequiv.progress import show as show_progress
from replica.channel import Channel
from replica.curves import _NUMERIC, Curve, _sweep
from replica.loss import Loss
from replica.problem import is_valid_point, validate_problem
from replica.result import Solution
from replica.solver import solve
from spectra import SpectralDensity
from spectra.analytic import kappas

__all__ = ["RandomFeaturesCurve", "random_features_curve", "kernel_learning_curve", "mei_montanari_lambda",
           "lambda_from_mei_montanari", "LAM_CONVENTIONS"]

#: Accepted values of ``lam_convention``: ours (= Gerace et al. = GCM) or Mei & Montanari's ``lambda``.
LAM_CONVENTIONS = ("gcm", "mei-montanari")


def mei_montanari_lambda(lam: float | np.ndarray, alpha: float | np.ndarray,
                         gamma: float | np.ndarray) -> float | np.ndarray:
    """Mei & Montanari's ``lambda`` from ours: ``lambda_MM = lam gamma/alpha`` (``= lam D/n``).

    Examples
    --------
    >>> mei_montanari_lambda(0.3, alpha=2.0, gamma=0.5)   # p = 100, n = 200, D = 50: lam D/n
    0.075
    """
    return _scalar_or_array(np.asarray(lam, dtype=float) * np.asarray(gamma, dtype=float)
                            / np.asarray(alpha, dtype=float))


def lambda_from_mei_montanari(lam_mm: float | np.ndarray, alpha: float | np.ndarray,
                              gamma: float | np.ndarray) -> float | np.ndarray:
    """Our ``lam`` from Mei & Montanari's ``lambda``: ``lam = lambda_MM alpha/gamma`` (``= lambda_MM n/D``).

    Examples
    --------
    >>> lambda_from_mei_montanari(0.075, alpha=2.0, gamma=0.5)
    0.3
    """
    return _scalar_or_array(np.asarray(lam_mm, dtype=float) * np.asarray(alpha, dtype=float)
                            / np.asarray(gamma, dtype=float))


def _scalar_or_array(x: np.ndarray):
    return float(x) if x.ndim == 0 else x


@dataclass(frozen=True, eq=False)
class RandomFeaturesCurve:
    """A random-features curve along ``p/n`` at fixed ``n/D`` (``p = n = D = infinity``).

    Attributes
    ----------
    p_over_n : ndarray
        The points, ``p/n = 1/alpha``.
    n_over_d : float
        ``psi_2 = n/D``, fixed along the curve.
    activation : str
        The activation's name.
    kappa0, kappa1, kappa_star : float
        Its coefficients (theory §3.3); ``kappa0`` is removed by centring.
    lam : float
        Our penalty (GCM convention), the same at every point.
    lam_mei_montanari : float
        Mei & Montanari's ``lambda = lam/psi_2`` (also fixed along the curve).
    rho : float
        Teacher variance.
    curve : replica.Curve
        The solutions (``curve.alpha = n/p``), with their status per point.

    Examples
    --------
    >>> from replica import Loss, Channel, random_features_curve
    >>> rf = random_features_curve("relu", Loss.logistic(), Channel.sign(), [0.5, 2.0], n_over_d=1.0, lam=0.1)
    >>> rf.p_over_d.tolist(), rf.gamma.tolist(), rf.converged.tolist()
    ([0.5, 2.0], [2.0, 0.5], [True, True])
    """

    p_over_n: np.ndarray
    n_over_d: float
    activation: str
    kappa0: float
    kappa1: float
    kappa_star: float
    lam: float
    lam_mei_montanari: float
    rho: float
    curve: Curve

    @property
    def p_over_d(self) -> np.ndarray:
        """``psi_1 = p/D`` at each point."""
        return self.p_over_n * self.n_over_d

    @property
    def alpha(self) -> np.ndarray:
        """``n/p`` at each point."""
        return 1.0 / self.p_over_n

    @property
    def gamma(self) -> np.ndarray:
        """``D/p`` at each point."""
        return 1.0 / self.p_over_d

    @property
    def test_error(self) -> np.ndarray:
        """Test error at each point (as :attr:`replica.Solution.test_error`)."""
        return self.curve.test_error

    @property
    def converged(self) -> np.ndarray:
        """Boolean mask of converged points."""
        return self.curve.converged

    def __len__(self) -> int:
        return int(self.p_over_n.size)

    def to_dict(self) -> dict:
        """A flat dictionary, one entry per point (``pandas.DataFrame(rf.to_dict())`` is one row per point): the
        curve's fields (:meth:`replica.Curve.to_dict`, ``alpha = n/p``), ``p_over_n``, ``p_over_d``, ``gamma`` and
        the scalars of the curve (activation, ``n_over_d``, the kappas, both lambdas, ``rho``)."""
        out = self.curve.to_dict()
        out.update({f.name: getattr(self, f.name) for f in fields(self) if f.name != "curve"})
        out.update(p_over_d=self.p_over_d, gamma=self.gamma)
        return out

    def to_csv(self, path: str | os.PathLike, *, metadata: dict | None = None) -> None:
        """One row per point under a header row: ``p_over_n, p_over_d, alpha, gamma``, the :class:`replica.Curve`
        columns, status; the sidecar ``path-metadata.json`` (:mod:`gaussequiv.tables`) carries the activation,
        ``n/D``, both lambda conventions, loss, channel and ``metadata``."""
        from gaussequiv.tables import write_csv

        table = {"p_over_n": self.p_over_n, "p_over_d": self.p_over_d, "alpha": self.alpha, "gamma": self.gamma,
                 **{c: getattr(self.curve, c) for c in _NUMERIC[1:]}, "iterations": self.curve.iterations,
                 "status": self.curve.status}
        write_csv(path, table, {"activation": self.activation, "n_over_d": self.n_over_d, "lam": self.lam,
                                "lam_mei_montanari": self.lam_mei_montanari, "loss": self.curve.loss,
                                "channel": self.curve.channel, **(metadata or {})})

    def plot(self, ax=None, *, quantities=("test_error",), **kwargs):
        """Plot the chosen quantities against ``p/n`` (unconverged points marked, never drawn); returns the axis."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        ok = self.converged
        for name in quantities:
            if name not in _NUMERIC:
                raise ValueError(f"unknown quantity {name!r}; choose from {_NUMERIC}")
            ax.plot(self.p_over_n, np.where(ok, getattr(self.curve, name), np.nan),
                    label=f"{name.replace('_', ' ')} (p = infinity)", **kwargs)
        if not ok.all():
            ax.plot(self.p_over_n[~ok], np.zeros((~ok).sum()), "x", color="red", label="not converged")
        ax.set_xlabel("p/n")
        ax.set_title(f"random features {self.activation}, n/D = {self.n_over_d:g}, {self.curve.loss}")
        ax.legend(frameon=False, fontsize=8)
        return ax


def random_features_curve(activation, loss: Loss, channel: Channel, p_over_n, *, n_over_d: float, lam: float,
                          lam_convention: str = "gcm", rho: float = 1.0, nodes: int | None = None,
                          smooth: bool | None = None, progress: bool | None = None,
                          **solve_kwargs) -> RandomFeaturesCurve:
    r"""Random-features ERM along ``p/n`` at fixed ``n/D``, at ``p = infinity`` (no matrix is built).

    Each point solves :func:`replica.solve` on :meth:`spectra.SpectralDensity.random_features` with
    ``p/D = p_over_n * n_over_d`` at ``alpha = n/p = 1/p_over_n``, warm-started from the previous point when it
    converged (the solver's own fallbacks apply when a warm start fails).

    Parameters
    ----------
    activation : str or callable
        Any activation of :func:`spectra.analytic.kappas`.
    loss, channel
        As :func:`replica.solve` (any convex loss; a linear teacher ``nu = theta . c/sqrt(D)`` seen through the
        channel).
    p_over_n : sequence of float
        ``p/n > 0`` (in the order to sweep; a fine grid makes warm starts effective).
    n_over_d : float
        ``psi_2 = n/D > 0``.
    lam : float
        The penalty, in the convention ``lam_convention``: ``"gcm"`` (ours = Gerace et al.'s ``lambda``) or
        ``"mei-montanari"`` (their ``lambda``; ours is ``lam * n_over_d``).
    rho : float
        Teacher variance.
    nodes : int, optional
        Gauss nodes of the Marchenko-Pastur rule (default: :func:`spectra.density.default_mp_nodes`).
    smooth : bool, optional
        For a callable activation.
    progress : bool or None
        True shows a tqdm bar, False hides it; None (default) shows it on a terminal or in a notebook, never in a
        redirected log (gaussequiv.progress.show), and only after 3 s.
    **solve_kwargs
        Passed to :func:`replica.solve` (``strict``, ``tol``, ``max_iter``...).

    Returns
    -------
    RandomFeaturesCurve

    Examples
    --------
    >>> from replica import Loss, Channel, random_features_curve
    >>> c = random_features_curve("sign", Loss.square(), Channel.linear(0.1), [0.5, 1.0, 2.0], n_over_d=2.0,
    ...                           lam=1e-3)
    >>> c.test_error.round(3), c.lam_mei_montanari   # the double descent peak at p = n
    (array([1.141, 4.946, 0.554]), 0.0005)
    """
    grid = checks.grid("p_over_n", p_over_n, low=0.0, low_open=True)
    psi2 = checks.real("n_over_d", n_over_d, low=0.0, low_open=True)
    if lam_convention not in LAM_CONVENTIONS:
        raise ValueError(f"lam_convention must be one of {LAM_CONVENTIONS}, got {lam_convention!r}")
    lam_in = checks.real("lam", lam, low=0.0)
    lam_ours = lam_in * psi2 if lam_convention == "mei-montanari" else lam_in
    k = kappas(activation, smooth=smooth)
    if not k.kappa1 > 1e-12 * max(k.kappa_star, 1.0):
        raise ValueError(f"activation {k.activation!r} has kappa1 = {k.kappa1:.3g}: its random features carry no "
                         "linear information on a linear teacher")
    rho = checks.real("rho", rho, low=0.0, low_open=True)

    def density(r: float) -> SpectralDensity:
        return SpectralDensity.marchenko_pastur(r * psi2, variance=k.kappa1**2, shift=k.kappa_star**2, rho=rho,
                                                nodes=nodes)

    validate_problem(density(float(grid[0])), loss, channel, 1.0 / grid[0], lam_ours)
    sols: list[Solution] = []
    bar = tqdm(range(grid.size), desc="p/n", disable=not show_progress(progress), delay=0 if progress else 3.0,
               leave=False)
    for j in bar:
        r = float(grid[j])
        sol = solve(density(r), loss, channel, 1.0 / r, lam_ours, init=_warm_start(grid, j, sols, rho),
                    **solve_kwargs)
        sols.append(sol)
    return RandomFeaturesCurve(p_over_n=grid.copy(), n_over_d=psi2, activation=k.activation, kappa0=k.kappa0,
                               kappa1=k.kappa1, kappa_star=k.kappa_star, lam=lam_ours,
                               lam_mei_montanari=lam_ours / psi2, rho=rho, curve=Curve.from_solutions(sols))


def _warm_start(grid: np.ndarray, j: int, sols: list[Solution], rho: float):
    """Start of point ``j``: the previous solution if it converged, linearly extrapolated from the two before when
    both converged and the prediction is a valid point (fewer sweeps on smooth curves; :func:`replica.solve` falls
    back to its cold starts and to continuation when a warm start fails)."""
    if j == 0 or not sols[-1].converged:
        return None
    if j == 1 or not sols[-2].converged or grid[j - 1] == grid[j - 2]:
        return sols[-1]
    x1 = np.array([sols[-1].V, sols[-1].q, sols[-1].m])
    x0 = np.array([sols[-2].V, sols[-2].q, sols[-2].m])
    guess = x1 + (x1 - x0) * (grid[j] - grid[j - 1]) / (grid[j - 1] - grid[j - 2])
    return guess if is_valid_point(guess, rho) else sols[-1]


def kernel_learning_curve(density: SpectralDensity, loss: Loss, channel: Channel, n, lam_per_sample, *,
                          progress: bool | None = None, **solve_kwargs) -> Curve:
    r"""Learning curve in the number of samples on a per-sample density (kernel ridge/ERM at ``p = infinity``).

    Solves at ``alpha = n`` with ``lam = n * lam_per_sample``: the estimator minimises
    :math:`\frac1n\sum_\mu \ell(y^\mu, w\cdot\psi^\mu) + \frac{\lambda_K}2\|w\|^2` (for the square loss
    :math:`\ell = \frac12(y - z)^2`, kernel ridge regression with penalty ``lambda_K``), ``E[psi psi^T] = diag(s)``.
    Warm-started along ``n``.

    Parameters
    ----------
    density : spectra.SpectralDensity
        With ``normalisation="per-sample"`` (e.g. :meth:`~spectra.SpectralDensity.power_law`).
    loss, channel
        As :func:`replica.solve`.
    n : sequence of float
        Numbers of samples (``> 0``).
    lam_per_sample : float or sequence of float
        ``lambda_K`` at each ``n`` (e.g. ``n**-l``), ``>= 0``.
    progress : bool or None
        True shows a tqdm bar, False hides it; None (default) shows it on a terminal or in a notebook, never in a
        redirected log (gaussequiv.progress.show), and only after 3 s.
    **solve_kwargs
        Passed to :func:`replica.solve`.

    Returns
    -------
    replica.Curve
        ``curve.alpha`` holds ``n`` and ``curve.lam`` holds ``n * lam_per_sample``.

    Examples
    --------
    >>> from spectra import SpectralDensity
    >>> from replica import Loss, Channel, kernel_learning_curve
    >>> pl = SpectralDensity.power_law(2.0, 3.0)   # capacity a = 2, source r = (b - 1)/(2a) = 1/2
    >>> ns = [1e2, 1e4]
    >>> c = kernel_learning_curve(pl, Loss.square(), Channel.linear(), ns, 0.0)   # ridgeless, noiseless
    >>> round(float(np.log(c.test_error[0] / c.test_error[1]) / np.log(100)), 2)   # -> 2 a min(r, 1) = 2
    2.0
    """
    if not isinstance(density, SpectralDensity) or not density.per_sample:
        raise TypeError("density must be a spectra.SpectralDensity with normalisation='per-sample' (e.g. "
                        "SpectralDensity.power_law); for a per-feature spectrum use replica.learning_curve with "
                        "alpha = n/p")
    ns = checks.grid("n", n, low=0.0, low_open=True)
    if np.ndim(lam_per_sample) == 0:
        lam_k = np.full(ns.shape, checks.real("lam_per_sample", lam_per_sample, low=0.0))
    else:
        lam_k = checks.grid("lam_per_sample", lam_per_sample, low=0.0)
        if lam_k.size != ns.size:
            raise ValueError(f"lam_per_sample must be a scalar or have one value per n ({ns.size}), got {lam_k.size}")
    lams = ns * lam_k
    validate_problem(density, loss, channel, float(ns[0]), float(lams[0]))
    return Curve.from_solutions(_sweep(range(ns.size), lambda i, init: solve(
        density, loss, channel, float(ns[i]), float(lams[i]), init=init, **solve_kwargs), progress, "n"))
