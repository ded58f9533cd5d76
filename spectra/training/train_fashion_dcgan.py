"""Train the built-in Fashion-MNIST DCGAN generator (run once; its output is committed).

This script is the only place torch is used. It is not imported by the library and not installed as a
runtime dependency. Run it in a separate environment::

    python -m venv /work/torchvenv && /work/torchvenv/bin/pip install torch==2.13.0 numpy pillow
    /work/torchvenv/bin/python spectra/training/train_fashion_dcgan.py --out spectra/data

Data: the Debian package ``dataset-fashion-mnist`` (Zalando Research, MIT licence), read from
``/usr/share/datasets/fashion-mnist``. The script runs on one CPU thread and stops after ``--minutes``.

Outputs (in ``--out``):

* ``fashion_dcgan.npz``: the generator weights in the layout read by :class:`spectra.dcgan.DCGAN`
  (transposed-convolution kernels ``(C_in, C_out, k, k)`` as in torch, batch-norm running statistics);
* ``fashion_dcgan_fixture.npz`` (in ``--fixture-out``, default ``tests/spectra/data``): a few latents and
  the torch generator's outputs (eval mode), which pin the numpy forward pass in the tests;
* ``fashion_dcgan_samples.png``: an 8x8 grid of samples.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

DATA = Path("/usr/share/datasets/fashion-mnist")
NZ = 100


def load_images(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = np.frombuffer(raw[:16], dtype=">i4")
    if magic != 2051:
        raise ValueError(f"{path} is not an idx3 image file (magic {magic})")
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, 1, rows, cols)


class Generator(nn.Module):
    """Standard DCGAN generator for 28x28: 1x1 -> 7x7 -> 14x14 -> 28x28."""

    def __init__(self, ngf: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(NZ, 4 * ngf, 7, 1, 0, bias=False), nn.BatchNorm2d(4 * ngf), nn.ReLU(True),
            nn.ConvTranspose2d(4 * ngf, 2 * ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ngf), nn.ReLU(True),
            nn.ConvTranspose2d(2 * ngf, 1, 4, 2, 1, bias=False), nn.Tanh(),
        )

    def forward(self, z):
        return self.net(z.view(-1, NZ, 1, 1))


class Discriminator(nn.Module):
    def __init__(self, ndf: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ndf), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * ndf, 1, 7, 1, 0),
        )

    def forward(self, x):
        return self.net(x).view(-1)


def init_weights(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def export(gen: Generator, out: Path, meta: dict) -> None:
    """Weights in the numpy DCGAN layout: layer{i}_weight, layer{i}_stride/_padding, layer{i}_bn_*."""
    arrays = {}
    convs = [m for m in gen.net if isinstance(m, nn.ConvTranspose2d)]
    bns = [m for m in gen.net if isinstance(m, nn.BatchNorm2d)]
    for i, conv in enumerate(convs):
        arrays[f"layer{i}_weight"] = conv.weight.detach().numpy().astype(np.float32)
        arrays[f"layer{i}_stride"] = np.int64(conv.stride[0])
        arrays[f"layer{i}_padding"] = np.int64(conv.padding[0])
        if i < len(bns):
            bn = bns[i]
            arrays[f"layer{i}_bn_weight"] = bn.weight.detach().numpy().astype(np.float32)
            arrays[f"layer{i}_bn_bias"] = bn.bias.detach().numpy().astype(np.float32)
            arrays[f"layer{i}_bn_mean"] = bn.running_mean.detach().numpy().astype(np.float32)
            arrays[f"layer{i}_bn_var"] = bn.running_var.detach().numpy().astype(np.float32)
            arrays[f"layer{i}_bn_eps"] = np.float64(bn.eps)
    arrays["n_layers"] = np.int64(len(convs))
    arrays["metadata"] = np.str_(json.dumps(meta, sort_keys=True))
    np.savez(out / "fashion_dcgan.npz", **arrays)


def save_grid(images: np.ndarray, path: Path, nrow: int = 8) -> None:
    from PIL import Image

    imgs = ((np.clip(images[:, 0], -1, 1) + 1) * 127.5).round().astype(np.uint8)
    n, h, w = imgs.shape
    ncol = int(np.ceil(n / nrow))
    grid = np.full((ncol * (h + 2) + 2, nrow * (w + 2) + 2), 255, dtype=np.uint8)
    for k in range(n):
        r, c = divmod(k, nrow)
        grid[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + c * (w + 2):2 + c * (w + 2) + w] = imgs[k]
    Image.fromarray(grid).resize((grid.shape[1] * 3, grid.shape[0] * 3), Image.NEAREST).save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    ap.add_argument("--fixture-out", type=Path, default=Path(__file__).resolve().parents[2] / "tests" / "spectra"
                    / "data", help="where the torch input/output fixture goes")
    ap.add_argument("--ngf", type=int, default=32)
    ap.add_argument("--ndf", type=int, default=32)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--minutes", type=float, default=25.0, help="wall-clock budget; stops after an epoch")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)

    x_all = torch.from_numpy(load_images(DATA / "train-images-idx3-ubyte.gz").astype(np.float32) / 127.5 - 1)
    gen, disc = Generator(args.ngf), Discriminator(args.ndf)
    gen.apply(init_weights)
    disc.apply(init_weights)
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    fixed = torch.from_numpy(rng.standard_normal((64, NZ)).astype(np.float32))
    t0 = time.time()
    n = x_all.shape[0]
    epochs_done = 0
    for epoch in range(args.epochs):
        perm = torch.from_numpy(rng.permutation(n))
        gen.train()
        disc.train()
        for it in range(n // args.batch):
            real = x_all[perm[it * args.batch:(it + 1) * args.batch]]
            b = real.shape[0]
            z = torch.randn(b, NZ)
            fake = gen(z)
            opt_d.zero_grad()
            loss_d = bce(disc(real), torch.full((b,), 0.9)) + bce(disc(fake.detach()), torch.zeros(b))
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            loss_g = bce(disc(fake), torch.ones(b))
            loss_g.backward()
            opt_g.step()
            if it % 100 == 0:
                print(f"epoch {epoch} it {it} loss_d {loss_d.item():.3f} loss_g {loss_g.item():.3f} "
                      f"t {time.time() - t0:.0f}s", flush=True)
        epochs_done = epoch + 1
        gen.eval()
        meta = {"dataset": "Fashion-MNIST (dataset-fashion-mnist, MIT licence)", "latent_dim": NZ,
                "epochs": epochs_done, "batch": args.batch, "ngf": args.ngf, "ndf": args.ndf,
                "seed": args.seed, "torch": torch.__version__, "output": "1x28x28 in [-1, 1]"}
        export(gen, args.out, meta)
        with torch.no_grad():
            save_grid(gen(fixed).numpy(), args.out / "fashion_dcgan_samples.png")
        print(f"epoch {epochs_done} exported, {time.time() - t0:.0f}s", flush=True)
        if (time.time() - t0) / 60 * (epochs_done + 1) / epochs_done > args.minutes:
            break

    gen.eval()
    zfix = rng.standard_normal((6, NZ)).astype(np.float32)
    zfix[0] = 0.0
    with torch.no_grad():
        out = gen(torch.from_numpy(zfix)).numpy()
    args.fixture_out.mkdir(parents=True, exist_ok=True)
    np.savez(args.fixture_out / "fashion_dcgan_fixture.npz", latents=zfix, outputs=out.astype(np.float32),
             torch_version=np.str_(torch.__version__))
    print(f"done: {epochs_done} epochs in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
