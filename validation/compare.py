"""Theory against simulation: z-scores per point and quantity, one verdict rule, and the paper-style figure.

**The verdict rule** (the only one: :func:`compare`, ``gaussequiv validate``, its ``summary.md`` and PNGs, the
demo and the paper figures all report :attr:`Comparison.verdict` and :attr:`Comparison.groups`):

1. Every compared quantity at every point gets ``z = (simulation mean - theory)/SE`` (SE over the seeds) and a
   two-sided p-value from Student's t with ``seeds - 1`` degrees of freedom. With a relative ``tolerance``
   (a stated equivalence margin, default 0) the p-value is that of the excess ``|mean - theory| - tolerance
   |theory|`` over the SE (1 when there is no excess).
2. Holm's step-down procedure over all complete (point, quantity) tests of the comparison, at family-wise
   level ``level`` (default :data:`LEVEL` = 0.01), decides which points are rejected: for an exact theory
   the chance that **any** point is rejected is at most ``level``, however many points and quantities are
   compared. (Holm rejects something iff the Bonferroni test of the smallest p-value does:
   :attr:`Comparison.family_p_value` = ``min(1, tests x smallest p)``.)
3. Each group of quantities (:data:`GROUPS`: the test error; the training quantities; the overlaps ``q``,
   ``m``) **disagrees** iff Holm rejects one of its points; else it is **incomplete** iff one of its points
   did not converge (the theory, or a fit of a seed); else it **agrees**. The comparison's verdict is the same
   statement over all its quantities.

The z-scores and p-values stay reported per point and quantity; a large ``|z|`` alone decides nothing (a
fixed cut on the largest of many z-scores rejects an exact theory by chance, more often the more points and
the fewer seeds).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np
from scipy import stats

from gaussequiv import checks
from validation.simulate import QUANTITIES, SimulationResult

__all__ = ["GROUPS", "LEVEL", "Comparison", "GroupVerdict", "compare", "holm", "plot"]

#: Default family-wise level of the verdict rule.
LEVEL = 0.01

#: The groups of quantities a verdict is reported for, in this order.
GROUPS = {"test error": ("test_error", "test_error_noisy"), "training": ("train_loss", "train_error"),
          "overlaps": ("q", "m")}

_GROUP_OF = {q: g for g, qs in GROUPS.items() for q in qs}


def holm(p_values) -> np.ndarray:
    """Holm step-down adjusted p-values: point ``i`` is rejected at family-wise level ``a`` iff its adjusted
    p-value is ``<= a``.

    With the p-values sorted, ``p_(1) <= ... <= p_(m)``, the adjusted value of ``p_(j)`` is
    ``max_{i <= j} min(1, (m - i + 1) p_(i))`` (Holm 1979). NaN entries are not tests (an incomplete
    point): they are ignored and stay NaN.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, float("nan")])
    array([0.03, 0.06, 0.06,  nan])
    """
    p = np.asarray(p_values, dtype=float)
    flat = p.ravel()
    out = np.full(flat.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(flat))
    if ok.size:
        order = ok[np.argsort(flat[ok], kind="stable")]
        m = order.size
        out[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * flat[order]))
    return out.reshape(p.shape)


@dataclass(frozen=True)
class GroupVerdict:
    """The verdict of one group of quantities (:data:`GROUPS`) under the rule of :mod:`validation.compare`.

    Attributes
    ----------
    name : str
        ``"test error"``, ``"training"`` or ``"overlaps"``.
    quantities : tuple of str
        The group's quantities in the comparison.
    verdict : {"agree", "disagree", "incomplete"}
    p_value : float
        Smallest Holm-adjusted p-value of the group's complete points (NaN if none is complete); the group
        disagrees iff it is ``<= level``.
    max_abs_z : float
        Largest ``|z|`` of the group's complete points (reported, not decisive).
    """

    name: str
    quantities: tuple
    verdict: str
    p_value: float
    max_abs_z: float

    def to_dict(self) -> dict:
        """The fields as a plain dictionary."""
        return {"name": self.name, "quantities": list(self.quantities), "verdict": self.verdict,
                "p_value": self.p_value, "max_abs_z": self.max_abs_z}


def _verdict(rejected: np.ndarray, complete: np.ndarray) -> str:
    if rejected.any():
        return "disagree"
    return "agree" if complete.all() else "incomplete"


def _nanmax_abs(z: np.ndarray) -> float:
    z = z[~np.isnan(z)]
    return float(np.max(np.abs(z))) if z.size else float("nan")


def _nanmin(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    return float(np.min(x)) if x.size else float("nan")


@dataclass(frozen=True, eq=False)
class Comparison:
    """Theory, simulation mean, standard error, z-score and p-value per point and quantity, with the verdict.

    ``z = (simulation mean - theory)/SE``, with the SE over ``seeds`` repetitions; for 0/1 errors the SE is at
    least the binomial one under the theory, ``sqrt(th (1 - th)/(n seeds))`` (so that seeds which all count
    zero errors do not claim an SE of 0). Arrays have shape ``(len(quantities), len(alphas))``. A point is
    *incomplete* when the theory did not converge there or a simulation fit was flagged; its z is NaN. The
    verdicts follow the rule of :mod:`validation.compare` (Holm at family-wise level ``level``).
    :meth:`to_dict` is a flat table, one row per (quantity, point): ``pandas.DataFrame(cmp.to_dict())``.

    Attributes
    ----------
    alphas, lam : ndarray
        ``alpha`` and penalty of each point.
    quantities : tuple of str
    theory, mean, se, z : ndarray
    p_value : ndarray
        Two-sided p-value of each point (Student t with ``seeds - 1`` degrees of freedom; of the excess over
        ``tolerance`` when one is given). NaN where incomplete.
    p_adjusted : ndarray
        Holm-adjusted p-values over all complete points (:func:`holm`).
    rejected : ndarray of bool
        ``p_adjusted <= level``: the points that disagree.
    level : float
        Family-wise level of the rule.
    tolerance : float
        Relative equivalence margin of the null hypothesis ``|E[simulation] - theory| <= tolerance |theory|``
        (0: exact agreement).
    verdict : {"agree", "disagree", "incomplete"}
        Over all compared quantities.
    groups : tuple of GroupVerdict
        The verdict per group of quantities present (:data:`GROUPS` order).
    family_p_value : float
        Smallest Holm-adjusted p-value: the comparison disagrees iff it is ``<= level``.
    max_abs_z : float
        Largest ``|z|`` over complete points (reported, not decisive).
    theory_status, simulation_status : ndarray of str
        Per point.
    seeds : int
    loss, channel, teacher : str
    """

    alphas: np.ndarray
    lam: np.ndarray
    quantities: tuple
    theory: np.ndarray
    mean: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    p_adjusted: np.ndarray
    rejected: np.ndarray
    level: float
    tolerance: float
    verdict: str
    groups: tuple
    family_p_value: float
    max_abs_z: float
    theory_status: np.ndarray
    simulation_status: np.ndarray
    seeds: int
    loss: str
    channel: str
    teacher: str

    # ------------------------------------------------------------------------------------------ status
    @property
    def status(self) -> np.ndarray:
        """``"converged"`` per point where the theory and every seed's fit converged, else ``"not_converged"``."""
        ok = (np.asarray(self.theory_status) == "converged") & (np.asarray(self.simulation_status) == "converged")
        return np.where(ok, "converged", "not_converged")

    @property
    def converged(self) -> bool:
        """Whether every point is complete (theory and fits converged)."""
        return bool(np.all(self.status == "converged"))

    @property
    def n_tests(self) -> int:
        """Number of complete (point, quantity) tests in Holm's family."""
        return int(np.count_nonzero(~np.isnan(self.p_value)))

    def group(self, name: str) -> GroupVerdict:
        """The :class:`GroupVerdict` of ``name`` (one of :data:`GROUPS` present in the comparison)."""
        for g in self.groups:
            if g.name == name:
                return g
        raise ValueError(f"no quantity of group {name!r} is compared; groups here: {[g.name for g in self.groups]}")

    @property
    def is_lambda_path(self) -> bool:
        """True when the points differ in ``lam`` (a lambda path) rather than in ``alpha``."""
        return bool(np.unique(self.lam).size > 1)

    def _lam_text(self) -> str:
        return f"lambda in [{self.lam.min():g}, {self.lam.max():g}]" if self.is_lambda_path else \
            f"lambda = {self.lam[0]:g}"

    def _point_text(self, j: int, i: int) -> str:
        where = f"lambda = {self.lam[i]:g}" if self.is_lambda_path else f"alpha = {self.alphas[i]:g}"
        return f"{self.quantities[j]} at {where}"

    def rule_text(self) -> str:
        """The decision rule in one sentence, with this comparison's level, test count and degrees of freedom."""
        margin = f" of the excess over a {self.tolerance:.3g} relative margin" if self.tolerance > 0 else ""
        return (f"Holm over the {self.n_tests} complete (point, quantity) tests at family-wise level {self.level:g}; "
                f"two-sided p-values{margin} from Student's t with {self.seeds - 1} degrees of freedom")

    def verdict_text(self) -> str:
        """The verdict with its groups, smallest Holm p-value and largest ``|z|``: the line the CLI, the demo and
        the figures print, and the one ``summary()`` states.

        Examples
        --------
        >>> import numpy as np
        >>> from replica import Channel, Loss, learning_curve
        >>> from spectra import Spectrum
        >>> from validation import Covariances, gaussian_control, simulate
        >>> cov = Covariances(omega=np.eye(30), phi=0.8 * np.eye(30), mean_v=np.zeros(30))
        >>> ctrl = gaussian_control(cov, np.ones(30))
        >>> sim = simulate(ctrl.generator, None, ctrl.teacher, Channel.linear(), Loss.square(), 0.1, [1.0, 2.0],
        ...                covariances=ctrl.covariances, n_test=500, seeds=4, seed=0)
        >>> spec = Spectrum.from_covariances(omega=cov.omega, phi=cov.phi, psi=np.eye(30), theta=np.ones(30))
        >>> cmp = compare(learning_curve(spec, Loss.square(), Channel.linear(), [1.0, 2.0], 0.1), sim)
        >>> cmp.verdict_text().startswith(cmp.verdict)
        True
        """
        groups = ", ".join(f"{g.name} {g.verdict}" for g in self.groups)
        parts = [f"Holm at family-wise level {self.level:g} over {self.n_tests} tests"
                 + (f" (relative margin {self.tolerance:.3g})" if self.tolerance > 0 else "")]
        if self.n_tests:
            j, i = np.unravel_index(np.nanargmin(np.where(np.isnan(self.p_adjusted), np.inf, self.p_adjusted)),
                                    self.p_adjusted.shape)
            where = f" ({self._point_text(j, i)})" if self.family_p_value < 1 else ""
            parts.append(f"smallest Holm p = {self.family_p_value:.3g}{where}")
            parts.append(f"max |z| = {self.max_abs_z:.2f}")
        incomplete = int(np.count_nonzero(self.status != "converged"))
        if incomplete:
            parts.append(f"{incomplete} of {self.status.size} points incomplete")
        return f"{self.verdict}: {groups} ({'; '.join(parts)})"

    # ------------------------------------------------------------------------------------------ tables
    def to_dict(self) -> dict:
        """A flat table, one row per (quantity, point): equal-length 1-d numpy arrays (``pandas.DataFrame``-ready).

        Columns: ``quantity``, ``group``, ``point``, ``alpha``, ``lam``, ``theory``, ``mean``, ``se``, ``z``,
        ``p_value``, ``p_adjusted``, ``rejected``, ``status``, ``theory_status``, ``simulation_status``,
        ``group_verdict`` (of the row's group), and the constants ``verdict``, ``level``, ``tolerance``,
        ``seeds``, ``loss``, ``channel``, ``teacher`` repeated on every row.
        """
        nq, npts = len(self.quantities), len(self.alphas)
        rows = nq * npts
        group_verdict = {q: g.verdict for g in self.groups for q in g.quantities}
        out = {"quantity": np.repeat(np.array(self.quantities), npts),
               "group": np.repeat(np.array([_GROUP_OF[q] for q in self.quantities]), npts),
               "point": np.tile(np.arange(npts), nq), "alpha": np.tile(self.alphas, nq),
               "lam": np.tile(self.lam, nq)}
        for name in ("theory", "mean", "se", "z", "p_value", "p_adjusted"):
            out[name] = np.asarray(getattr(self, name), dtype=float).ravel()
        out["rejected"] = np.asarray(self.rejected, dtype=bool).ravel()
        out["status"] = np.tile(self.status, nq)
        out["theory_status"] = np.tile(np.asarray(self.theory_status, dtype=str), nq)
        out["simulation_status"] = np.tile(np.asarray(self.simulation_status, dtype=str), nq)
        out["group_verdict"] = np.repeat(np.array([group_verdict[q] for q in self.quantities]), npts)
        for name in ("verdict", "level", "tolerance", "seeds", "loss", "channel", "teacher"):
            out[name] = np.full(rows, getattr(self, name))
        return out

    def rows(self) -> list[dict]:
        """The table of :meth:`to_dict` as one dict of Python scalars per (quantity, point)."""
        table = self.to_dict()
        return [{k: v[r].item() for k, v in table.items()} for r in range(len(table["quantity"]))]

    def to_csv(self, path: str | os.PathLike, *, metadata: dict | None = None) -> None:
        """The table of :meth:`to_dict` as CSV under a header row (floats round-trip exactly), with the sidecar
        ``path-metadata.json`` (:mod:`gaussequiv.tables`): the verdict, the rule, the groups and ``metadata``."""
        from gaussequiv.tables import write_csv

        report = self.report()
        write_csv(path, self.to_dict(), {**{k: v for k, v in report.items() if k != "table"}, **(metadata or {})})

    def report(self) -> dict:
        """The machine-readable report (JSON-ready: NaN and infinite values become None): the verdict, the rule,
        the groups and the table of :meth:`rows`."""
        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        return {"verdict": self.verdict, "converged": self.converged, "rule": self.rule_text(),
                "verdict_text": self.verdict_text(), "level": self.level, "tolerance": self.tolerance,
                "family_p_value": clean(self.family_p_value), "max_abs_z": clean(self.max_abs_z),
                "n_tests": self.n_tests, "seeds": self.seeds, "loss": self.loss, "channel": self.channel,
                "teacher": self.teacher, "quantities": list(self.quantities),
                "groups": [{k: clean(v) for k, v in g.to_dict().items()} for g in self.groups],
                "table": [{k: clean(v) for k, v in r.items()} for r in self.rows()]}

    def to_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`report` as JSON."""
        with open(path, "w") as fh:
            json.dump(self.report(), fh, indent=1, allow_nan=False)

    def summary(self) -> str:
        """A short Markdown report: problem, verdict (overall and per group), the rule, and the table."""
        lines = [f"**{self.loss} loss, {self.channel} channel, {self._lam_text()}, {self.teacher} teacher, "
                 f"{self.seeds} seeds**", "",
                 f"Verdict: **{self.verdict}**: {self.verdict_text().split(': ', 1)[1]}.", "",
                 f"Rule: {self.rule_text()}; a group disagrees iff Holm rejects one of its points "
                 f"(marked below), is incomplete iff a point of it did not converge and none is rejected.", "",
                 "| group | verdict | smallest Holm p | max abs z |", "|---|---|---|---|"]
        for g in self.groups:
            lines.append(f"| {g.name} | {g.verdict} | {g.p_value:.3g} | {g.max_abs_z:.2f} |")
        lines += ["", "| alpha | lambda | quantity | theory | simulation | SE | z | p | Holm p | |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in self.rows():
            mark = "**rejected**" if r["rejected"] else ("incomplete" if r["status"] != "converged" else "")
            lines.append(f"| {r['alpha']:.4g} | {r['lam']:.4g} | {r['quantity']} | {r['theory']:.5g} | "
                         f"{r['mean']:.5g} | {r['se']:.2g} | {r['z']:+.2f} | {r['p_value']:.2g} | "
                         f"{r['p_adjusted']:.2g} | {mark} |")
        return "\n".join(lines) + "\n"

    def plot(self, path: str | os.PathLike | None = None, **kwargs):
        """Shortcut for :func:`plot` (``validation.plot(self, path)``)."""
        return plot(self, path, **kwargs)


def compare(curve, simulation: SimulationResult, *, quantities=None, level: float = LEVEL, tolerance: float = 0.0,
            spectrum=None, rtol: float = 1e-9) -> Comparison:
    """Compare a :class:`replica.Curve` with a :class:`SimulationResult` of the same problem.

    Parameters
    ----------
    curve : replica.Curve
        Theory at the simulation's points (the same alpha and lam per point: :func:`replica.learning_curve`
        for an alpha sweep, :func:`replica.lambda_path` for a lambda path), same loss and channel.
    simulation : SimulationResult
        With ``seeds >= 2`` (an error bar is needed).
    quantities : sequence of str, optional
        Subset of :attr:`SimulationResult.quantities` (default: all of them; a quantity that would repeat
        another, ``test_error_noisy`` of a noiseless channel or ``train_loss`` of the square loss, is not
        measured).
    level : float
        Family-wise level of the verdict rule (module docstring), in (0, 1); default :data:`LEVEL`.
    tolerance : float
        Relative equivalence margin (default 0: exact agreement). With ``tolerance > 0`` a point is rejected only
        if the data show ``|E[simulation] - theory| > tolerance |theory|`` (used for a finite-size
        Gaussian-equivalence margin on generator data).
    spectrum : spectra.Spectrum, optional
        The theory's spectrum (a ``p = infinity`` :class:`spectra.SpectralDensity` is refused: no finite ``p`` to
        match): when given, its ``p``, ``gamma``, teacher convention and ``rho`` (fixed
        teacher) must match the simulation.
    rtol : float
        Relative tolerance of the alpha-grid and ``lam`` checks.

    Raises
    ------
    ValueError
        Different grids, ``lam``, loss, channel or (with ``spectrum``) problem; fewer than two seeds; a
        quantity that was not measured; ``level`` outside (0, 1) or a negative ``tolerance``.

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
    >>> cmp.z.shape, cmp.verdict in ("agree", "disagree"), [g.name for g in cmp.groups]
    ((5, 2), True, ['test error', 'training', 'overlaps'])
    """
    checks.instance("simulation", simulation, SimulationResult)
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
    quantities = simulation.quantities if quantities is None else tuple(quantities)
    bad = [q for q in quantities if q not in QUANTITIES]
    if bad or not quantities:
        raise ValueError(f"unknown quantities {bad}; choose from {simulation.quantities}")
    if len(set(quantities)) != len(quantities):
        raise ValueError(f"quantities must not repeat (a repeated quantity would count twice in the family), got "
                         f"{list(quantities)}")
    level = checks.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    tolerance = checks.real("tolerance", tolerance, low=0.0)

    th_ok = np.asarray(curve.status) == "converged"
    sim_ok = simulation.status == "converged"
    ok = th_ok & sim_ok
    mean = np.array([simulation.mean(q) for q in quantities])  # raises for a quantity that was not measured
    se = np.array([simulation.se(q) for q in quantities])
    theory = np.array([np.where(th_ok, np.asarray(getattr(curve, q), dtype=float), np.nan) for q in quantities])
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
    excess = np.maximum(np.abs(diff) - tolerance * np.abs(theory), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / se, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
        t = np.where(se > 0, excess / se, np.where(excess == 0, 0.0, np.inf))
    z = np.where(ok[None, :], z, np.nan)
    p_value = np.where(ok[None, :], 2 * stats.t.sf(t, simulation.seeds - 1), np.nan)
    p_adjusted = holm(p_value)
    rejected = np.nan_to_num(p_adjusted, nan=np.inf) <= level
    complete = np.broadcast_to(ok[None, :], z.shape)
    groups = []
    for name, members in GROUPS.items():
        rows = [j for j, q in enumerate(quantities) if q in members]
        if rows:
            groups.append(GroupVerdict(name=name, quantities=tuple(quantities[j] for j in rows),
                                       verdict=_verdict(rejected[rows], complete[rows]),
                                       p_value=_nanmin(p_adjusted[rows]), max_abs_z=_nanmax_abs(z[rows])))
    return Comparison(alphas=a_sim.copy(), lam=np.array(simulation.lam), quantities=quantities, theory=theory,
                      mean=mean, se=se, z=z, p_value=p_value, p_adjusted=p_adjusted, rejected=rejected, level=level,
                      tolerance=tolerance, verdict=_verdict(rejected, complete), groups=tuple(groups),
                      family_p_value=_nanmin(p_adjusted), max_abs_z=_nanmax_abs(z),
                      theory_status=np.asarray(curve.status).copy(), simulation_status=simulation.status,
                      seeds=simulation.seeds, loss=simulation.loss, channel=simulation.channel,
                      teacher=simulation.teacher)


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
    """Paper-style figure of what the verdict is about: one panel per group of quantities, theory lines and
    simulation means with error bars (± 1 SE), each panel titled with its group's verdict.

    Points Holm rejects are circled in red; the figure title states the comparison's verdict (and the verdict
    of any group not plotted).

    Parameters
    ----------
    comparison : Comparison
    path : path, optional
        Save the figure here (PNG, PDF, ... by extension); the figure is returned either way.
    quantities : sequence of str, optional
        Default: every compared quantity (so every group's verdict is shown with its data).
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

    checks.instance("comparison", comparison, Comparison)
    quantities = list(comparison.quantities) if quantities is None else list(quantities)
    for q in quantities:
        if q not in comparison.quantities:
            raise ValueError(f"quantity {q!r} is not in the comparison {comparison.quantities}")
    panels = [(g, [q for q in g.quantities if q in quantities]) for g in comparison.groups]
    shown = [(g, qs) for g, qs in panels if qs]
    hidden = [g for g, qs in panels if not qs]
    path_in_lam = comparison.is_lambda_path
    a = comparison.lam if path_in_lam else comparison.alphas
    if logx is None:
        logx = path_in_lam or bool(a.max() / a.min() > 30)
    fig = Figure(figsize=(4.4 * len(shown), 3.8), constrained_layout=True)  # no pyplot: no global backend state
    axes = np.atleast_1d(fig.subplots(1, len(shown), squeeze=False)[0])
    colors = mpl.rcParams["axes.prop_cycle"].by_key()["color"]
    bad = comparison.simulation_status != "converged"
    bad_th = comparison.theory_status != "converged"
    for ax, (g, qs) in zip(axes, shown, strict=True):
        for c, q in zip(colors, qs, strict=False):
            j = comparison.quantities.index(q)
            if theory is not None:
                ok = np.asarray(theory.status) == "converged"
                ax.plot(np.asarray(theory.lam if path_in_lam else theory.alpha),
                        np.where(ok, getattr(theory, q), np.nan), "-", color=c, lw=1.5, label=f"{_LABELS[q]} (theory)")
            else:
                ax.plot(a, comparison.theory[j], "-", color=c, lw=1.5, label=f"{_LABELS[q]} (theory)")
            ax.errorbar(a, comparison.mean[j], yerr=comparison.se[j], fmt="o", color=c, ms=4, capsize=2.5,
                        mfc="white", label=f"{_LABELS[q]} (simulation)")
            rej = comparison.rejected[j]
            if rej.any():
                ax.plot(a[rej], comparison.mean[j][rej], "o", ms=10, mfc="none", mec="red", mew=1.2,
                        label="rejected (Holm)" if q == qs[0] else None)
        if bad.any():
            ax.plot(a[bad], np.zeros(bad.sum()), "x", color="red", label="fit not converged")
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
        ax.set_title(f"{g.name}: {g.verdict} (smallest Holm p = {g.p_value:.2g}, max |z| = {g.max_abs_z:.1f})",
                     fontsize=8)
        ax.legend(frameon=False, fontsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    not_shown = "; not plotted: " + ", ".join(f"{g.name} {g.verdict}" for g in hidden) if hidden else ""
    fig.suptitle(f"{comparison.loss}, {comparison.channel}, {comparison._lam_text()}, {comparison.seeds} seeds: "
                 f"{comparison.verdict} (Holm, family-wise level {comparison.level:g}"
                 + (f", margin {comparison.tolerance:.3g}" if comparison.tolerance > 0 else "") + f"){not_shown}",
                 fontsize=9)
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig
