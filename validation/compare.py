"""Theory against simulation: z-scores per point and quantity, a verdict, and the paper-style figure."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, fields

import numpy as np
from scipy import stats

from validation.simulate import QUANTITIES, SimulationResult

__all__ = ["Comparison", "compare", "plot"]


@dataclass(frozen=True, eq=False)
class Comparison:
    """Theory, simulation mean, standard error and z-score per alpha and quantity.

    ``z = (simulation mean - theory) / SE``, with the SE over ``seeds`` repetitions; for 0/1 errors the SE
    is at least the binomial one under the theory, ``sqrt(th (1 - th)/(n seeds))`` (so that seeds which all
    count zero errors do not claim an SE of 0). Arrays have shape
    ``(len(quantities), len(alphas))``. A point is *incomplete* when the theory did not converge there or a
    simulation fit was flagged; its z is NaN.

    Attributes
    ----------
    alphas : ndarray
    quantities : tuple of str
    theory, mean, se, z : ndarray
    p_value : ndarray
        Two-sided p-value of each z under a Student t with ``seeds - 1`` degrees of freedom.
    family_p_value : float
        Bonferroni-corrected smallest p-value over the complete points (chance of a max |z| this large
        if theory and simulation agree).
    max_abs_z : float
        Largest |z| over complete points.
    threshold : float
    verdict : {"agree", "disagree", "incomplete"}
        ``"agree"`` iff every point is complete and ``max_abs_z <= threshold``.
    theory_status, simulation_status : ndarray of str
        Per alpha.
    lam : ndarray
        Penalty of each point.
    seeds : int
    loss, channel, teacher : str
    """

    alphas: np.ndarray
    quantities: tuple
    theory: np.ndarray
    mean: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    family_p_value: float
    max_abs_z: float
    threshold: float
    verdict: str
    theory_status: np.ndarray
    simulation_status: np.ndarray
    lam: np.ndarray
    seeds: int
    loss: str
    channel: str
    teacher: str

    def to_dict(self) -> dict:
        """All fields as a plain dictionary."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def family_verdict(self, level: float = 0.01) -> str:
        """``"agree"`` iff every point is complete and :attr:`family_p_value` ``>= level``; else
        ``"disagree"`` or ``"incomplete"``.

        Unlike :attr:`verdict` (a fixed cut on the largest ``|z|``), this keeps the chance of rejecting an exact
        theory at ``level`` however many points and quantities are compared, at any number of seeds.

        Examples
        --------
        >>> import numpy as np
        >>> from replica import Channel, Loss, learning_curve
        >>> from validation import Covariances, gaussian_control, simulate
        >>> from spectra import Spectrum
        >>> cov = Covariances(omega=np.eye(30), phi=0.8 * np.eye(30), mean_v=np.zeros(30))
        >>> spec = Spectrum.from_covariances(omega=cov.omega, phi=cov.phi, psi=np.eye(30), theta=np.ones(30))
        >>> ctrl = gaussian_control(cov, np.ones(30))
        >>> sim = simulate(ctrl.generator, None, ctrl.teacher, Channel.linear(), Loss.square(), 0.1, [1.0, 2.0],
        ...                covariances=ctrl.covariances, n_test=500, seeds=4, seed=0)
        >>> cmp = compare(learning_curve(spec, Loss.square(), Channel.linear(), [1.0, 2.0], 0.1), sim)
        >>> cmp.family_verdict() in ("agree", "disagree")
        True
        """
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        if np.any(np.isnan(self.z)):
            return "incomplete"
        return "agree" if self.family_p_value >= level else "disagree"

    @property
    def is_lambda_path(self) -> bool:
        """True when the points differ in ``lam`` (a lambda path) rather than in ``alpha``."""
        return bool(np.unique(self.lam).size > 1)

    def _lam_text(self) -> str:
        return f"lambda in [{self.lam.min():g}, {self.lam.max():g}]" if self.is_lambda_path else \
            f"lambda = {self.lam[0]:g}"

    def rows(self) -> list[dict]:
        """The table: one dict per (point, quantity)."""
        out = []
        for j, qn in enumerate(self.quantities):
            for i, a in enumerate(self.alphas):
                out.append({"alpha": float(a), "lam": float(self.lam[i]), "quantity": qn,
                            "theory": float(self.theory[j, i]), "mean": float(self.mean[j, i]),
                            "se": float(self.se[j, i]), "z": float(self.z[j, i]),
                            "p_value": float(self.p_value[j, i]), "theory_status": str(self.theory_status[i]),
                            "simulation_status": str(self.simulation_status[i])})
        return out

    def to_csv(self, path: str | os.PathLike) -> None:
        """The table of :meth:`rows` as CSV."""
        rows = self.rows()
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            for r in rows:
                w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})

    def summary(self) -> str:
        """A short Markdown report: problem, verdict, max |z| and the table."""
        lines = [f"**{self.loss} loss, {self.channel} channel, {self._lam_text()}, {self.teacher} teacher, "
                 f"{self.seeds} seeds**", "",
                 f"Verdict: **{self.verdict}** (max |z| = {self.max_abs_z:.2f}, threshold {self.threshold:g}; "
                 f"Bonferroni family p-value {self.family_p_value:.3g}).", "",
                 "| alpha | lambda | quantity | theory | simulation | SE | z |", "|---|---|---|---|---|---|---|"]
        for r in self.rows():
            lines.append(f"| {r['alpha']:.4g} | {r['lam']:.4g} | {r['quantity']} | {r['theory']:.5g} | "
                         f"{r['mean']:.5g} | {r['se']:.2g} | {r['z']:+.2f} |")
        return "\n".join(lines) + "\n"

    def plot(self, path: str | os.PathLike | None = None, **kwargs):
        """Shortcut for :func:`plot` (``validation.plot(self, path)``)."""
        return plot(self, path, **kwargs)


def compare(curve, simulation: SimulationResult, *, quantities=QUANTITIES, threshold: float = 3.0,
            spectrum=None, rtol: float = 1e-9) -> Comparison:
    """Compare a :class:`replica.Curve` with a :class:`SimulationResult` of the same problem.

    Parameters
    ----------
    curve : replica.Curve
        Theory at the simulation's points (the same alpha and lam per point: :func:`replica.learning_curve`
        for an alpha sweep, :func:`replica.lambda_path` for a lambda path), same loss and channel.
    simulation : SimulationResult
        With ``seeds >= 2`` (an error bar is needed).
    quantities : sequence of str
        Subset of :data:`validation.simulate.QUANTITIES`.
    threshold : float
        Largest |z| accepted for the verdict ``"agree"``.
    spectrum : spectra.Spectrum, optional
        The theory's spectrum (a ``p = infinity`` :class:`spectra.SpectralDensity` is refused: no finite ``p`` to
        match): when given, its ``p``, ``gamma``, teacher convention and ``rho`` (fixed
        teacher) must match the simulation.
    rtol : float
        Relative tolerance of the alpha-grid and ``lam`` checks.

    Raises
    ------
    ValueError
        Different grids, ``lam``, loss, channel or (with ``spectrum``) problem; fewer than two seeds.

    Examples
    --------
    >>> import numpy as np
    >>> from replica import Loss, Channel, learning_curve
    >>> from spectra import Spectrum
    >>> from spectra.generators import SingleLayer
    >>> from spectra.teachers import LinearTeacher
    >>> from spectra.analytic import single_layer_covariances
    >>> from validation import Covariances, simulate
    >>> gen = SingleLayer(20, 40, "sign", seed=0)
    >>> omega, phi = single_layer_covariances(gen.weights, "sign")
    >>> teacher = LinearTeacher.random(20, seed=1)
    >>> sim = simulate(gen, None, teacher, Channel.linear(0.1), Loss.square(), 0.1, [1.0, 2.0],
    ...                covariances=Covariances(omega, phi, np.zeros(40)), n_test=500, seeds=4, seed=2)
    >>> spec = Spectrum.from_covariances(omega=omega, phi=phi, psi=np.eye(20), theta=teacher.theta)
    >>> curve = learning_curve(spec, Loss.square(), Channel.linear(0.1), [1.0, 2.0], lam=0.1)
    >>> cmp = compare(curve, sim, spectrum=spec)
    >>> cmp.z.shape, cmp.verdict in ("agree", "disagree")
    ((6, 2), True)
    """
    if not isinstance(simulation, SimulationResult):
        raise TypeError(f"simulation must be a SimulationResult, got {type(simulation).__name__}")
    for attr in ("alpha", "lam", "status", "loss", "channel"):
        if not hasattr(curve, attr):
            raise TypeError(f"curve must be a replica.Curve, got {type(curve).__name__}")
    if simulation.seeds < 2:
        raise ValueError(f"the simulation has seeds = {simulation.seeds}; an error bar needs seeds >= 2: rerun "
                         f"simulate(..., seeds=5) or more")
    a_th = np.asarray(curve.alpha, dtype=float)
    a_sim = np.asarray(simulation.alphas, dtype=float)
    if a_th.shape != a_sim.shape or not np.allclose(a_th, a_sim, rtol=rtol, atol=0):
        raise ValueError(f"theory and simulation are on different alpha grids ({a_th.tolist()} vs "
                         f"{a_sim.tolist()}); solve the theory on simulation.alphas")
    lams = np.asarray(curve.lam, dtype=float)
    if lams.shape != simulation.lam.shape or not np.allclose(lams, simulation.lam, rtol=rtol, atol=0):
        raise ValueError(f"theory lam {np.unique(lams).tolist()} differs from the simulation's lam "
                         f"{np.unique(simulation.lam).tolist()}: different problems (use replica.lambda_path for a "
                         f"lambda path, replica.learning_curve for an alpha sweep)")
    if curve.loss != simulation.loss:
        raise ValueError(f"theory loss {curve.loss!r} differs from the simulation's {simulation.loss!r}")
    if curve.channel != simulation.channel:
        raise ValueError(f"theory channel {curve.channel!r} differs from the simulation's {simulation.channel!r}")
    if spectrum is not None:
        _check_spectrum(spectrum, simulation)
    quantities = tuple(quantities)
    bad = [q for q in quantities if q not in QUANTITIES]
    if bad or not quantities:
        raise ValueError(f"unknown quantities {bad}; choose from {QUANTITIES}")
    threshold = float(threshold)
    if not (np.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be finite and > 0, got {threshold}")

    th_ok = np.asarray(curve.status) == "converged"
    sim_ok = simulation.status == "converged"
    ok = th_ok & sim_ok
    theory = np.array([np.where(th_ok, np.asarray(getattr(curve, q), dtype=float), np.nan) for q in quantities])
    mean = np.array([simulation.mean(q) for q in quantities])
    se = np.array([simulation.se(q) for q in quantities])
    if simulation.classification:
        # A 0/1 error averaged over N = n seeds Bernoulli draws has at least the binomial variance th(1 - th)/N
        # if the theory is right; seeds that all give 0 errors would otherwise claim SE = 0.
        counts = {"train_error": simulation.n.astype(float), "test_error": float(simulation.n_test),
                  "test_error_noisy": float(simulation.n_test)}
        for j, q in enumerate(quantities):
            if q in counts:
                th = np.clip(theory[j], 0.0, 1.0)
                se[j] = np.maximum(se[j], np.sqrt(th * (1 - th) / (counts[q] * simulation.seeds)))
    diff = mean - theory
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / se, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
    z = np.where(ok[None, :], z, np.nan)
    dof = simulation.seeds - 1
    p_value = np.where(np.isfinite(z), 2 * stats.t.sf(np.abs(z), dof), np.where(np.isnan(z), np.nan, 0.0))
    complete = ~np.isnan(z)
    max_abs_z = float(np.max(np.abs(z[complete]))) if complete.any() else float("nan")
    family = float(min(1.0, complete.sum() * np.min(p_value[complete]))) if complete.any() else float("nan")
    if not ok.all():
        verdict = "incomplete"
    else:
        verdict = "agree" if max_abs_z <= threshold else "disagree"
    return Comparison(alphas=a_sim.copy(), quantities=quantities, theory=theory, mean=mean, se=se, z=z,
                      p_value=p_value, family_p_value=family, max_abs_z=max_abs_z, threshold=threshold,
                      verdict=verdict, theory_status=np.asarray(curve.status).copy(),
                      simulation_status=simulation.status, lam=np.array(simulation.lam), seeds=simulation.seeds,
                      loss=simulation.loss, channel=simulation.channel, teacher=simulation.teacher)


def _check_spectrum(spectrum, sim: SimulationResult) -> None:
    if hasattr(spectrum, "normalisation"):  # a spectra.SpectralDensity: p = infinity (or a compressed spectrum)
        raise ValueError(f"a SpectralDensity ({spectrum.label or 'p = infinity'}) has no finite-size simulation to "
                         f"match: compare the simulation with the Spectrum of its own p (e.g. from sampled F)")
    if spectrum.p != sim.p:
        raise ValueError(f"the theory's spectrum has p = {spectrum.p} but the simulation p = {sim.p}")
    if not np.isclose(spectrum.gamma, sim.k / sim.p, rtol=1e-12):
        raise ValueError(f"the theory's gamma = {spectrum.gamma:g} but the simulation has k/p = {sim.k / sim.p:g}")
    if spectrum.teacher != sim.teacher:
        raise ValueError(f"the theory uses the {spectrum.teacher} teacher but the simulation the {sim.teacher} "
                         f"one (theory §1.5): use Spectrum.from_estimate(est, theta) for a fixed teacher, "
                         f"Spectrum.from_estimate(est) with teacher='averaged'")
    if sim.teacher == "fixed":
        # Psi is I_D exactly for exact covariances and up to Monte Carlo error for an estimate
        if not np.isclose(spectrum.rho, sim.rho[0], rtol=0.05):
            raise ValueError(f"the theory's rho = {spectrum.rho:.6g} but the simulation's teacher has "
                             f"|theta|^2/D = {sim.rho[0]:.6g}: a different teacher")


_LABELS = {"test_error": "test error", "test_error_noisy": "test error (noisy labels)", "train_loss": "train loss",
           "train_error": "train error", "q": "q", "m": "m"}


def plot(comparison: Comparison, path: str | os.PathLike | None = None, *, quantities=None, theory=None,
         logx: bool | None = None, logy: bool = False):
    """Paper-style figure: theory lines, simulation means with error bars (± 1 SE), against alpha.

    Parameters
    ----------
    comparison : Comparison
    path : path, optional
        Save the figure here (PNG, PDF, ... by extension); the figure is returned either way.
    quantities : sequence of str, optional
        Default: the errors present in the comparison (test error, train error).
    theory : replica.Curve, optional
        A denser theory curve to draw as the line (default: the compared points).
    logx : bool, optional
        Default: log scale when alpha spans more than a factor 30.
    logy : bool

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib as mpl
    from matplotlib.figure import Figure

    if not isinstance(comparison, Comparison):
        raise TypeError(f"comparison must be a Comparison, got {type(comparison).__name__}")
    if quantities is None:
        quantities = [q for q in ("test_error", "train_error") if q in comparison.quantities] or \
            list(comparison.quantities[:2])
    for q in quantities:
        if q not in comparison.quantities:
            raise ValueError(f"quantity {q!r} is not in the comparison {comparison.quantities}")
    path_in_lam = comparison.is_lambda_path
    a = comparison.lam if path_in_lam else comparison.alphas
    if logx is None:
        logx = path_in_lam or bool(a.max() / a.min() > 30)
    fig = Figure(figsize=(5.0, 3.6), constrained_layout=True)  # no pyplot: no global backend state
    ax = fig.subplots()
    colors = mpl.rcParams["axes.prop_cycle"].by_key()["color"]
    for c, q in zip(colors, quantities, strict=False):
        j = comparison.quantities.index(q)
        if theory is not None:
            ok = np.asarray(theory.status) == "converged"
            ax.plot(np.asarray(theory.lam if path_in_lam else theory.alpha), np.where(ok, getattr(theory, q), np.nan),
                    "-", color=c, lw=1.5,
                    label=f"{_LABELS[q]} (theory)")
        else:
            ax.plot(a, comparison.theory[j], "-", color=c, lw=1.5, label=f"{_LABELS[q]} (theory)")
        ax.errorbar(a, comparison.mean[j], yerr=comparison.se[j], fmt="o", color=c, ms=4, capsize=2.5, mfc="white",
                    label=f"{_LABELS[q]} (simulation)")
    bad = comparison.simulation_status != "converged"
    if bad.any():
        ax.plot(a[bad], np.zeros(bad.sum()), "x", color="red", label="fit not converged")
    bad_th = comparison.theory_status != "converged"
    if bad_th.any():
        ax.plot(a[bad_th], np.zeros(bad_th.sum()), "+", color="black", ms=8, label="theory not converged")
    if logx:
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ax.set_xscale("log")
        if not path_in_lam:  # alpha grids span little: plain numbers; lambda paths keep powers of ten
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(r"$\lambda$" + f" ($\\alpha$ = {comparison.alphas[0]:g})" if path_in_lam else r"$\alpha = n/p$")
    ax.set_ylabel("error")
    ax.set_title(f"{comparison.loss}, {comparison.channel}, {comparison._lam_text()}: "
                 f"max |z| = {comparison.max_abs_z:.2f} ({comparison.verdict})", fontsize=9)
    ax.legend(frameon=False, fontsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig
