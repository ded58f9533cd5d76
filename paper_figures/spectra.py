"""Figure 4: eigenvalue densities of Omega for each generator and feature map (log-log).

Generators: a single-layer sign generator (``D = N/2``), a random-weight DCGAN (one channel) and the
built-in pretrained Fashion-MNIST DCGAN (the face DCGAN enters figures 2 and 3 only). Feature maps of
each generator's centred output: the identity (``Omega`` of ``x`` itself),
ReLU random features and learned erf features (trained on a linear latent teacher). ``Omega`` comes from
:func:`spectra.estimate_covariances` (cached) and, for the sign generator seen directly, also from the
exact arcsine law (:func:`spectra.analytic.single_layer_covariances`).

Printed agreement: for every estimate, the spread of its 10 leading eigenvalues between the two
independent half samples (``CovarianceEstimate.halves``, theory §3.2), relative to the eigenvalue. For the
sign generator, the estimate against the exact ``Omega``: the estimated ``Omega`` projected on the exact
leading eigenvectors, ``e_i . Omega_hat e_i``, is an unbiased estimate of the exact eigenvalue ``s_i``
(the sorted sample eigenvalues are not: at ``p/n = 0.02`` they sit about 2.6% above ``s_i``, a bias
that the figure shows and the comparison avoids). Its relative error is compared with its Monte Carlo
error, taken as half the rms over the 10 leading modes of the same projection's half-sample difference
(the full sample has half the standard deviation of the difference of two halves). Criterion: every
``|z_i| <= 4``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gaussequiv.seeding import seed_sequence
from gaussequiv.tables import concat, write_csv
from paper_figures._common import (
    FigureResult,
    figure,
    main,
    save,
)

__all__ = ["N_LEADING", "Z_TOL", "SpectraResult", "run"]

#: Leading eigenvalues compared with the exact sign-generator spectrum and between half samples, and the
#: accepted |z| of the projected comparison.
N_LEADING, Z_TOL = 10, 4.0


@dataclass(frozen=True)
class SpectraResult(FigureResult):
    """Eigenvalues of every Omega of the figure and the agreement statistics.

    Attributes
    ----------
    eigenvalues : dict
        ``{(generator, features): ndarray}`` (descending); the exact sign spectrum is under
        ``("single-layer sign", "identity (exact)")``.
    exact_rel : ndarray
        ``e_i . Omega_hat e_i / s_i - 1`` on the ``N_LEADING`` leading exact eigenvectors of the sign generator.
    exact_z : ndarray
        The same, in units of its half-sample Monte Carlo error (module docstring).
    sorted_rel : ndarray
        ``(sorted sample eigenvalue - s_i)/s_i`` of the leading ones (biased upward; shown, not tested).
    half_spread : dict
        ``{(generator, features): float}``, largest ``|half1 - half2| / eigenvalue`` over the leading ones.
    png, csv : pathlib.Path
    """

    eigenvalues: dict
    exact_rel: np.ndarray
    exact_z: np.ndarray
    sorted_rel: np.ndarray
    half_spread: dict
    png: Path
    csv: Path

    def tables(self) -> dict[str, dict]:
        """Flat tables: ``"eigenvalues"``, one row per (generator, features, rank) with ``eigenvalue`` (the
        figure's CSV); ``"exact"``, one row per leading exact eigenvector (``index``, ``exact_rel``,
        ``exact_z``, ``sorted_rel``; empty when the sign identity estimate was not run); ``"half_spread"``,
        one row per (generator, features)."""
        return {"eigenvalues": _eigen_table(self.eigenvalues),
                "exact": {"index": np.arange(self.exact_rel.size), "exact_rel": np.asarray(self.exact_rel, float),
                          "exact_z": np.asarray(self.exact_z, float), "sorted_rel": np.asarray(self.sorted_rel, float)},
                "half_spread": concat([{"half_spread": [v]} for v in self.half_spread.values()],
                                      [{"generator": g, "features": f} for g, f in self.half_spread])}


def _eigen_table(eigenvalues: dict) -> dict:
    """One row per (generator, features, rank): the eigenvalues, descending."""
    return concat([{"rank": np.arange(1, ev.size + 1), "eigenvalue": np.asarray(ev, dtype=float)}
                   for ev in eigenvalues.values()], [{"generator": g, "features": f} for g, f in eigenvalues])


def _settings(quick: bool) -> dict:
    if quick:
        return dict(N_sign=200, image_size=16, ngf=16, p=200, samples=20_000, n_learn=1_000, learn_steps=50,
                    mean_samples=4_000)
    return dict(N_sign=1000, image_size=32, ngf=32, p=1000, samples=50_000, n_learn=4_000, learn_steps=200,
                mean_samples=20_000)


def _leading_half_spread(est) -> float:
    a, b = est.halves()
    k = min(N_LEADING, a.eigvals.size)
    return float(np.max(np.abs(a.eigvals[:k] - b.eigvals[:k]) / est.eigvals[:k]))


def run(out: str | Path = "figures", *, quick: bool = False, seed: int = 0,
        progress: bool | None = None) -> SpectraResult:
    """Compute, plot and print figure 4.

    Parameters
    ----------
    out : path
        Output directory (created if missing).
    quick : bool
        Small generators and sample counts (the test-suite variant); skips the face generator.
    seed : int
        Root seed; every generator, feature map and estimate uses its own child stream.
    progress : bool or None
        Show progress bars: None (default) only on a terminal (:func:`gaussequiv.progress.show`).

    Returns
    -------
    SpectraResult
    """
    from spectra import estimate_covariances
    from spectra.analytic import single_layer_covariances
    from spectra.dcgan import DCGAN
    from spectra.features import generator_mean, learn_features, random_features
    from spectra.generators import SingleLayer, pretrained
    from spectra.teachers import LinearTeacher

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = _settings(quick)
    s_sign, s_rnd, s_fash = seed_sequence(seed).spawn(3)
    # each kind of object draws from its own stream of a seed (gaussequiv.seeding), so the generator's weights,
    # its pilot mean, teacher, features and estimates may all take children of the same root
    gens = {"single-layer sign": (SingleLayer(cfg["N_sign"] // 2, cfg["N_sign"], "sign", seed=s_sign), s_sign),
            "random DCGAN": (DCGAN.random(s_rnd, channels=1, image_size=cfg["image_size"], ngf=cfg["ngf"]), s_rnd),
            "fashion-dcgan": (pretrained("fashion-dcgan"), s_fash)}

    eig, spread = {}, {}
    exact_z = exact_rel = sorted_rel = np.array([])
    for gname, (gen, s) in gens.items():
        s_mean, s_teacher, s_rf, s_learn, s_est = s.spawn(6)[1:]
        samples = cfg["samples"]
        mean = generator_mean(gen, cfg["mean_samples"], seed=s_mean)
        teacher = LinearTeacher.random(gen.latent_dim, seed=s_teacher)
        fmaps = {"identity": None,
                 "ReLU random features": random_features(gen.output_dim, cfg["p"], "relu", seed=s_rf,
                                                         input_mean=mean),
                 "learned erf features": learn_features(gen, teacher, cfg["p"], cfg["n_learn"], activation="erf",
                                                        steps=cfg["learn_steps"], seed=s_learn)}
        for (fname, fmap), s_e in zip(fmaps.items(), s_est.spawn(3), strict=True):
            est = estimate_covariances(gen, fmap, samples, batch_size=1000, seed=s_e, progress=progress,
                                       cache=True)
            ev = np.linalg.eigvalsh(est.omega)[::-1]
            eig[(gname, fname)] = ev
            spread[(gname, fname)] = _leading_half_spread(est)
            print(f"{gname} -> {fname}: p = {est.p}, {est.n} samples; eigenvalues {ev[0]:.4g} ... {ev[-1]:.3g}; "
                  f"leading {N_LEADING}: largest half-sample spread {spread[(gname, fname)]:.2%}")
            if gname == "single-layer sign" and fname == "identity":
                omega, _ = single_layer_covariances(gen.weights, "sign")
                vals, vecs = np.linalg.eigh(omega)
                lead = vecs[:, ::-1][:, :N_LEADING]
                exact = vals[::-1]
                eig[(gname, "identity (exact)")] = exact
                half_a, half_b = est.halves()

                proj = [np.einsum("ij,ik,kj->j", lead, m, lead) / exact[:N_LEADING]
                        for m in (est.omega, half_a.omega, half_b.omega)]
                exact_rel = proj[0] - 1
                mc_err = np.sqrt(np.mean((proj[1] - proj[2]) ** 2)) / 2
                exact_z = exact_rel / mc_err
                sorted_rel = est.eigvals[:N_LEADING] / exact[:N_LEADING] - 1
                ok = np.max(np.abs(exact_z)) <= Z_TOL
                print(f"  exact arcsine-law Omega vs estimate on the {N_LEADING} leading exact eigenvectors: relative "
                      f"errors {np.round(exact_rel, 4).tolist()}, Monte Carlo error {mc_err:.2%}, max |z| = "
                      f"{np.max(np.abs(exact_z)):.2f} ({'agree' if ok else 'DISAGREE'}, criterion {Z_TOL:g}); "
                      f"sorted sample eigenvalues sit {np.mean(sorted_rel):+.2%} (mean) from the exact ones")
    csv_path = write_csv(out / "spectra.csv", _eigen_table(eig), {"figure": 4, "seed": seed, "quick": quick})

    fig, axes = figure(1, len(gens), width=4.0)
    styles = {"identity": ("C0", "-"), "identity (exact)": ("k", ":"), "ReLU random features": ("C1", "-"),
              "learned erf features": ("C2", "-")}
    for ax, gname in zip(axes[0], gens, strict=True):
        for (g, fname), ev in eig.items():
            if g != gname:
                continue
            pos = ev[ev > max(ev[0] * 1e-10, 0)]
            bins = np.geomspace(pos.min(), pos.max() * 1.0001, 40)
            dens, edges = np.histogram(pos, bins=bins, density=True)
            centres = np.sqrt(edges[:-1] * edges[1:])
            color, ls = styles[fname]
            ax.plot(centres[dens > 0], dens[dens > 0], ls, color=color, marker=".", ms=3,
                    label=f"{fname} (p={ev.size})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set(xlabel=r"eigenvalue $s$ of $\Omega$", ylabel="density", title=gname)
        ax.legend(frameon=False, fontsize=7)
    title = "eigenvalue densities of Omega"
    if exact_z.size:
        title += (f"; sign generator, estimate on the {N_LEADING} leading exact eigenvectors: max |z| = "
                  f"{np.max(np.abs(exact_z)):.2f}")
    fig.suptitle(title, fontsize=9)
    png = save(fig, out / "spectra.png")
    print(f"wrote {png} and {csv_path}")
    return SpectraResult(eigenvalues=eig, exact_rel=exact_rel, exact_z=exact_z, sorted_rel=sorted_rel,
                         half_spread=spread, png=png, csv=csv_path)


if __name__ == "__main__":
    main(__doc__, run)
