"""Figure 1: Gaussian equivalence of the local fields as the dimension grows, with the negative control.

Two generators, each with random student weights and with the localised negative control
``w = sqrt(p) e_k`` (theory §7, step 5), through :func:`validation.gaussian_equivalence`:

* a single-layer sign generator ``x = sign(F c)``, ``D = N/2``, exact ``Omega`` and ``Phi``; the fields
  ``lambda = w.x/sqrt(N)`` as ``N`` grows;
* the built-in pretrained Fashion-MNIST DCGAN (784 pixels) restricted to its first ``N`` pixels in one
  seeded random order (nested subsets, so the localised control always sees the same pixel) of the pixels
  that vary (standard deviation > 0.05 on a pilot sample; background
  pixels are constant and would make the fields degenerate); the fields ``lambda = w.x_S/sqrt(N)`` as
  ``N`` grows. The covariance of the fields is estimated from an independent reference sample, and so is
  the Monte Carlo floor.

Writes ``local_fields.png`` (sliced 2-Wasserstein distance to the matched Gaussian against the dimension,
log-log, with the Monte Carlo floor) and ``local_fields.csv``, and prints the tables and slopes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paper_figures._common import FigureResult, child_seeds, figure, log_axis, main, save, write_csv
from spectra.generators import Generator

__all__ = ["LocalFieldsResult", "PixelSubset", "run"]


class PixelSubset(Generator):
    """A generator seen through a fixed subset of its output coordinates (a view, no new randomness).

    Parameters
    ----------
    generator : spectra.generators.Generator
    pixels : array of int
        Output coordinates kept, in order.
    """

    def __init__(self, generator: Generator, pixels):
        self.generator = generator
        self.pixels = np.asarray(pixels, dtype=int)
        self.latent_dim = generator.latent_dim
        self.output_dim = int(self.pixels.size)
        self.name = f"{generator.name}[{self.output_dim} pixels]"

    def _forward(self, c: np.ndarray) -> np.ndarray:
        return self.generator(c)[:, self.pixels]


@dataclass(frozen=True)
class LocalFieldsResult(FigureResult):
    """The four equivalence checks of the figure, keyed ``(generator, weights)``.

    Attributes
    ----------
    results : dict
        ``{("single-layer sign", "random"): validation.EquivalenceResult, ...}``.
    png, csv : pathlib.Path
    """

    results: dict
    png: Path
    csv: Path


def _settings(quick: bool) -> dict:
    if quick:
        return {"sign": dict(sizes=(25, 100, 400), n_samples=10_000, n_directions=60, floor_repeats=4),
                "fashion": dict(sizes=(4, 32, 256), n_samples=3_000, n_reference=6_000, n_directions=60,
                                floor_repeats=4)}
    return {"sign": dict(sizes=(25, 50, 100, 200, 400, 800, 1600), n_samples=40_000, n_directions=200,
                         floor_repeats=6),
            "fashion": dict(sizes=(2, 8, 32, 128, 512), n_samples=10_000, n_reference=20_000,
                            n_directions=200, floor_repeats=6)}


def run(out: str | Path = "figures", *, quick: bool = False, seed: int = 0, progress: bool | None = None
        ) -> LocalFieldsResult:
    """Compute, plot and print figure 1.

    Parameters
    ----------
    out : path
        Output directory (created if missing).
    quick : bool
        Small sizes and sample counts (the test-suite variant).
    seed : int
        Root seed; every draw comes from its child streams.
    progress : bool or None
        Show progress bars: None (default) only on a terminal (:func:`gaussequiv.progress.show`).

    Returns
    -------
    LocalFieldsResult
    """
    from spectra.generators import pretrained
    from validation import gaussian_equivalence

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = _settings(quick)
    s_sign, s_mean, s_fash, s_order = child_seeds(seed, 4)
    fashion = pretrained("fashion-dcgan")
    _, pilot = fashion.sample(2_000, seed=s_mean)
    varying = np.flatnonzero(pilot.std(axis=0) > 0.05)
    print(f"fashion-dcgan: {varying.size} of {fashion.output_dim} pixels vary (sd > 0.05 on 2000 pilot samples)")

    order = np.random.default_rng(s_order).permutation(varying)

    def fashion_pixels(N: int, s) -> PixelSubset:
        return PixelSubset(fashion, order[:N])

    results = {}
    for weights in ("random", "localised"):
        results[("single-layer sign", weights)] = gaussian_equivalence(
            "sign", weights=weights, delta=0.5, seed=s_sign, progress=progress, **cfg["sign"])
        results[("fashion-dcgan pixels", weights)] = gaussian_equivalence(
            fashion_pixels, weights=weights, seed=s_fash, progress=progress,
            **cfg["fashion"])

    rows = []
    for (gen, weights), r in results.items():
        print(f"\n{gen}, {weights} student weights ({'exact' if r.exact else 'estimated'} Sigma, "
              f"{r.n_samples} samples per size):")
        print(r.table())
        print(f"distance ratio largest/smallest size: {r.distance[-1] / r.distance[0]:.3f}")
        for i in range(r.sizes.size):
            rows.append({"generator": gen, "weights": weights, "size": int(r.sizes[i]), "D": int(r.latent_dims[i]),
                         "p": int(r.feature_dims[i]), "distance": float(r.distance[i]), "floor": float(r.floor[i]),
                         "floor_sd": float(r.floor_sd[i]), "erf_gap": float(r.erf_gap[i]),
                         "erf_gap_se": float(r.erf_gap_se[i]), "eg_gap": float(r.eg_gap[i]),
                         "eg_gap_se": float(r.eg_gap_se[i]), "slope": float(r.slope), "exact": bool(r.exact)})
    csv_path = write_csv(out / "local_fields.csv", rows, {"figure": 1, "seed": seed, "quick": quick})

    fig, axes = figure(1, 2, width=4.6)
    xlabels = {"single-layer sign": "input dimension N (D = N/2)",
               "fashion-dcgan pixels": "pixels N (D = 100)"}
    for ax, gen in zip(axes[0], xlabels, strict=True):
        for weights, color, marker in (("random", "C0", "o"), ("localised", "C3", "s")):
            r = results[(gen, weights)]
            ax.plot(r.sizes, r.distance, marker + "-", color=color, ms=4,
                    label=f"{weights} w (slope {r.slope:.2f})")
            ax.fill_between(r.sizes, np.maximum(r.floor - 2 * r.floor_sd, 1e-4), r.floor + 2 * r.floor_sd,
                            color=color, alpha=0.15, lw=0)
        ax.plot([], [], color="grey", alpha=0.3, lw=6, label="Monte Carlo floor (±2 sd)")
        log_axis(ax, "x")
        log_axis(ax, "y", plain=False)
        ax.set(xlabel=xlabels[gen], ylabel="sliced $W_2$ to matched Gaussian", title=gen)
        ax.legend(frameon=False, fontsize=7)
    fig.suptitle("Gaussian equivalence of the local fields (K = M = 2); localised w is the negative control",
                 fontsize=9)
    png = save(fig, out / "local_fields.png")
    print(f"wrote {png} and {csv_path}")
    return LocalFieldsResult(results=results, png=png, csv=csv_path)


if __name__ == "__main__":
    main(__doc__, run)
