"""Figure 2: online SGD of a two-layer network on generator data, ODE against simulation.

``eps_g(t)`` (with the 1/2: ``eps_g = 1/2 E[(yhat - y)^2]``) for ``K = M = 2`` networks of
``g(z) = erf(z/sqrt 2)`` units (activation ``"erf_sqrt2"``), both layers trained, ``eta = 0.2`` (the authors'
code), on

* a single-layer sign generator ``x = sign(F c)`` (exact ``Omega``, ``Phi``, theory §3.4),
* a random-weight DCGAN (``spectra.DCGAN.random``, one channel),
* the built-in pretrained Fashion-MNIST DCGAN (``N = 784``),
* with the optional face generator, the face DCGAN at ``N = 3072`` (full run only).

For the DCGANs ``Omega``, ``Phi`` and the output mean come from :func:`spectra.estimate_covariances`
(cached). The ODE (:func:`dynamics.integrate`) starts from the same student and teacher as the SGD runs
(:func:`dynamics.simulate_sgd_seeds`: independent sample streams from that one initial state); the figure
shows the ODE line, the mean over SGD runs of ``eps_g`` from the measured order parameters with ±1 SE, and
the Monte Carlo test error of the SGD students on fresh generator samples. Printed agreement: the largest
relative gap ``|SGD - ODE|/ODE`` and largest z-score over time, and the largest Monte Carlo gap
``eps_g(MC) - eps_g(Q, R)`` (the finite-N Gaussian-equivalence gap).

Agreement criterion (stated before running, as in the dynamics tests): at every output time
``|mean SGD - ODE| <= 4 SE + 5% of the ODE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gaussequiv.seeding import seed_sequence
from gaussequiv.tables import concat, write_csv
from paper_figures._common import (
    FigureResult,
    face_generator,
    figure,
    main,
    save,
)

__all__ = ["ETA", "K", "M", "REL_TOL", "Z_TOL", "Panel", "run"]

K = M = 2
ETA = 0.2
#: Agreement criterion: |mean SGD - ODE| <= Z_TOL * SE + REL_TOL * ODE at every time.
Z_TOL, REL_TOL = 4.0, 0.05


@dataclass(frozen=True)
class Panel(FigureResult):
    """One generator's ODE and SGD runs and their agreement.

    Attributes
    ----------
    name : str
    N, D : int
    ode : dynamics.Trajectory
    sgd : list of dynamics.Trajectory
        The runs of ``average``.
    average : dynamics.SGDAverage
        Mean, SE and per-run curves of the SGD runs.
    mean, se : ndarray
        Mean over SGD runs of ``eps_g`` (order parameters) and its standard error.
    mc_mean, mc_se : ndarray
        The same for the Monte Carlo test error on fresh generator samples.
    max_rel_gap, max_z : float
        Largest ``|mean - ode|/ode`` and ``|mean - ode|/se`` over time.
    max_mc_gap : float
        Largest ``|mc_mean - mean|`` over time (finite-N Gaussian-equivalence gap).
    agree : bool
        The criterion of the module docstring at every time.
    covariances : str
        ``"exact"`` or ``"estimated (n samples)"``.
    """

    name: str
    N: int
    D: int
    ode: object
    sgd: list
    average: object
    mean: np.ndarray
    se: np.ndarray
    mc_mean: np.ndarray
    mc_se: np.ndarray
    max_rel_gap: float
    max_z: float
    max_mc_gap: float
    agree: bool
    covariances: str

    def tables(self) -> dict[str, dict]:
        """Flat tables: ``"times"``, one row per output time (the figure's CSV): ``generator``, ``N``, ``D``,
        ``t``, ``ode``, ``sgd_mean``, ``sgd_se``, ``z`` (NaN at times without spread, e.g. ``t = 0``),
        ``sgd_mc_mean``, ``sgd_mc_se``, ``runs``, ``covariances``, ``agree``. The runs themselves are in
        ``ode.to_dict()``, ``average.to_dict()`` and each ``sgd[i].to_dict()``."""
        n = self.ode.t.size
        spread = self.se > 1e-12 * self.mean
        z = np.full(n, np.nan)
        z[spread] = (self.mean[spread] - self.ode.eps_g[spread]) / self.se[spread]
        return {"times": {"generator": np.full(n, self.name), "N": np.full(n, self.N), "D": np.full(n, self.D),
                          "t": np.asarray(self.ode.t, dtype=float), "ode": np.asarray(self.ode.eps_g, dtype=float),
                          "sgd_mean": np.asarray(self.mean, dtype=float), "sgd_se": np.asarray(self.se, dtype=float),
                          "z": z, "sgd_mc_mean": np.asarray(self.mc_mean, dtype=float),
                          "sgd_mc_se": np.asarray(self.mc_se, dtype=float), "runs": np.full(n, len(self.sgd)),
                          "covariances": np.full(n, self.covariances), "agree": np.full(n, self.agree)}}


def _settings(quick: bool) -> dict:
    if quick:
        return dict(N_sign=200, D_sign=20, image_size=16, ngf=16, t_max=5.0, n_runs=4, n_test=2_000,
                    cov_samples=20_000, times=np.array([0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0]))
    return dict(N_sign=1000, D_sign=100, image_size=32, ngf=32, t_max=20.0, n_runs=4, n_test=4_000,
                cov_samples=50_000, times=np.array([0.0, 0.5, 1, 2, 3, 5, 7, 10, 15, 20.0]))


def _panel(name, gen, omega, phi, mean, cov_text, cfg, seed, progress) -> Panel:
    from dynamics import Setup, Student, integrate, simulate_sgd_seeds
    from spectra.teachers import CommitteeTeacher

    s_teacher, s_student, s_sgd = seed_sequence(seed).spawn(3)
    N, D = gen.output_dim, gen.latent_dim
    teacher = CommitteeTeacher.random(M, D, activation="erf_sqrt2", seed=s_teacher)
    student = Student.random(K, N, seed=s_student, activation="erf_sqrt2")
    setup = Setup.from_network(student, teacher, omega=omega, phi=phi, eta=ETA)
    times = np.unique(np.rint(cfg["times"] * N)) / N  # whole SGD steps: ODE and SGD outputs align
    ode = integrate(setup, float(times[-1]), times=times, progress=progress)
    if not ode.converged:
        raise RuntimeError(f"{name}: the ODE stopped early: {ode.message}")
    avg = simulate_sgd_seeds(gen, teacher, student, ETA, float(times[-1]), seeds=cfg["n_runs"], seed=s_sgd,
                             n_test=cfg["n_test"], omega=omega, phi=phi, mean=mean, times=times, progress=progress)
    if not avg.converged:
        raise RuntimeError(f"{name}: an SGD run stopped early: {avg.message}")
    mean_, se = avg.eps_g_mean, avg.eps_g_se
    gap = np.abs(mean_ - ode.eps_g)
    agree = bool(np.all(gap <= Z_TOL * se + REL_TOL * ode.eps_g))
    spread = se > 1e-12 * mean_  # at t = 0 every run starts from the same state: no spread, no z
    return Panel(name=name, N=N, D=D, ode=ode, sgd=list(avg.runs), average=avg, mean=mean_, se=se,
                 mc_mean=avg.eps_g_mc_mean, mc_se=avg.eps_g_mc_se, max_rel_gap=float(np.max(gap / ode.eps_g)),
                 max_z=float(np.max(gap[spread] / se[spread])),
                 max_mc_gap=float(np.max(np.abs(avg.eps_g_mc_mean - mean_))), agree=agree, covariances=cov_text)


def _estimated(gen, n_samples, seed, progress):
    from spectra import estimate_covariances

    est = estimate_covariances(gen, None, n_samples, batch_size=1000, seed=seed, progress=progress,
                               cache=True)
    return est.omega, est.phi, est.mean_v, f"estimated ({est.n} samples)"


def run(out: str | Path = "figures", *, quick: bool = False, seed: int = 0, progress: bool | None = None,
        face: bool = True
        ) -> dict[str, Panel]:
    """Compute, plot and print figure 2.

    Parameters
    ----------
    out : path
        Output directory (created if missing).
    quick : bool
        Small sizes and short runs (the test-suite variant); skips the face generator.
    seed : int
        Root seed; each generator, teacher, student and SGD run uses its own child stream.
    progress : bool or None
        Show progress bars: None (default) only on a terminal (:func:`gaussequiv.progress.show`).
    face : bool
        Also run the face-dcgan (N = 3072) part when the face generator is installed (full runs only).

    Returns
    -------
    dict of str to Panel
    """
    from spectra.analytic import single_layer_covariances
    from spectra.dcgan import DCGAN
    from spectra.generators import SingleLayer, pretrained

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = _settings(quick)
    seeds = seed_sequence(seed).spawn(8)
    panels: dict[str, Panel] = {}
    print(f"K = {K}, M = {M}, eta = {ETA}, erf(z/sqrt 2) units, both layers trained; eps_g = 1/2 E[(yhat - y)^2] "
          f"(with the 1/2); {cfg['n_runs']} SGD runs per generator; criterion |SGD - ODE| <= {Z_TOL:g} SE + "
          f"{REL_TOL:.0%} ODE")

    sign = SingleLayer(cfg["D_sign"], cfg["N_sign"], activation="sign", seed=seeds[0])
    omega, phi = single_layer_covariances(sign.weights, "sign")
    panels["single-layer sign"] = _panel("single-layer sign", sign, omega, phi, np.zeros(sign.output_dim), "exact",
                                         cfg, seeds[1], progress)

    rnd = DCGAN.random(seeds[2], channels=1, image_size=cfg["image_size"], ngf=cfg["ngf"])
    panels["random DCGAN"] = _panel("random DCGAN", rnd, *_estimated(rnd, cfg["cov_samples"], seeds[3], progress),
                                    cfg, seeds[4], progress)

    fashion = pretrained("fashion-dcgan")
    panels["fashion-dcgan"] = _panel("fashion-dcgan", fashion,
                                     *_estimated(fashion, cfg["cov_samples"], seeds[5], progress), cfg, seeds[6],
                                     progress)
    face = face_generator(quick=quick, enabled=face)
    if face is not None:
        face_cfg = {**cfg, "n_runs": 3, "n_test": 1_000, "times": np.array([0.0, 0.5, 1.0, 2.0, 3.0, 5.0])}
        sub = seed_sequence(seeds[7]).spawn(2)
        panels["face-dcgan"] = _panel("face-dcgan", face, *_estimated(face, 30_000, sub[0], progress),
                                      face_cfg, sub[1], progress)

    for name, pnl in panels.items():
        print(f"\n{name}: N = {pnl.N}, D = {pnl.D}, covariances {pnl.covariances}")
        print(f"  {'t':>6s} {'ODE':>9s} {'SGD mean':>9s} {'SE':>8s} {'z':>6s} {'SGD MC':>9s} {'MC SE':>8s}")
        zs = pnl.to_dict()["z"]
        for i, t in enumerate(pnl.ode.t):
            print(f"  {t:6.2f} {pnl.ode.eps_g[i]:9.5f} {pnl.mean[i]:9.5f} {pnl.se[i]:8.1e} {zs[i]:+6.2f} "
                  f"{pnl.mc_mean[i]:9.5f} {pnl.mc_se[i]:8.1e}")
        print(f"  max |SGD - ODE|/ODE = {pnl.max_rel_gap:.3%}, max |z| (t > 0) = {pnl.max_z:.2f}, "
              f"max |MC - order-parameter eps_g| = {pnl.max_mc_gap:.2e}; {'agree' if pnl.agree else 'DISAGREE'}")
    csv_path = write_csv(out / "online_sgd.csv", concat([p.to_dict() for p in panels.values()]),
                         {"figure": 2, "K": K, "M": M, "eta": ETA, "seed": seed, "quick": quick,
                          "eps_g": "1/2 E[(yhat - y)^2] (with the 1/2)"})

    fig, axes = figure(1, len(panels), width=3.9)
    for ax, (name, pnl) in zip(axes[0], panels.items(), strict=True):
        t = pnl.ode.t
        ax.plot(t, pnl.ode.eps_g, "-", color="C0", lw=1.5, label="ODE")
        ax.errorbar(t, pnl.mean, yerr=pnl.se, fmt="o", ms=4, mfc="white", color="C1", capsize=2,
                    label=f"SGD, order params ({len(pnl.sgd)} runs)")
        ax.errorbar(t, pnl.mc_mean, yerr=pnl.mc_se, fmt="x", ms=4, color="C2", capsize=2, label="SGD, test set")
        ax.set(xlabel="t = steps / N", ylabel=r"$\epsilon_g$ (with the 1/2)")
        ax.set_title(f"{name}, N={pnl.N}, D={pnl.D}\nmax rel gap {pnl.max_rel_gap:.1%}, max |z| {pnl.max_z:.1f}",
                     fontsize=8)
        ax.legend(frameon=False, fontsize=7)
    fig.suptitle(f"online SGD, K = M = {K}, eta = {ETA}: ODE vs simulation", fontsize=9)
    png = save(fig, out / "online_sgd.png")
    print(f"wrote {png} and {csv_path}")
    return panels


if __name__ == "__main__":
    main(__doc__, run)
