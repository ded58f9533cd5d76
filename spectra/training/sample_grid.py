"""Draw the 8x8 sample grid of the built-in generator with the numpy forward pass (no torch).

    .venv/bin/python spectra/training/sample_grid.py --out spectra/data/fashion_dcgan_samples.png
"""

from __future__ import annotations

import argparse

import matplotlib
import numpy as np

from spectra.generators import pretrained

matplotlib.use("Agg")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import matplotlib.pyplot as plt

    gen = pretrained("fashion-dcgan")
    imgs = gen.images(np.random.default_rng(args.seed).standard_normal((64, gen.latent_dim)))[:, 0]
    grid = np.ones((8 * 30 + 2, 8 * 30 + 2))
    for k, img in enumerate(imgs):
        r, c = divmod(k, 8)
        grid[2 + 30 * r:30 * r + 30, 2 + 30 * c:30 * c + 30] = (img + 1) / 2
    grid = np.kron(grid, np.ones((3, 3)))  # nearest-neighbour upscaling
    plt.imsave(args.out, grid, cmap="gray", vmin=0, vmax=1)


if __name__ == "__main__":
    main()
