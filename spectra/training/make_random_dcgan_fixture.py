"""Write the test fixture pinning the numpy forward pass of ``DCGAN.random`` to torch's.

    PYTHONPATH=. /work/torchvenv/bin/python spectra/training/make_random_dcgan_fixture.py --out tests/spectra/data

The seeded random DCGAN (``seed=0, ngf=16``, 3x32x32) is rebuilt as a torch ``nn.Sequential`` of
``ConvTranspose2d``/``BatchNorm2d`` (eval mode; the folded batch norm is set as gain ``scale``, shift
``shift``, running mean 0 and running variance ``1 - eps``), and its outputs for a few latents are saved
together with the weights in the DCGAN weight-file layout (batch norm written the same way), so the test
reads the very weights torch used (``DCGAN.load(fixture)``) whatever seed stream ``DCGAN.random`` has.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from spectra.dcgan import DCGAN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = DCGAN.random(seed=0, ngf=16)
    mods = []
    for layer in gen.layers:
        conv = nn.ConvTranspose2d(layer.in_channels, layer.out_channels, layer.weight.shape[2], layer.stride,
                                  layer.padding, bias=False)
        conv.weight.data = torch.from_numpy(layer.weight.copy())
        mods.append(conv)
        if layer.scale is not None:
            bn = nn.BatchNorm2d(layer.out_channels, eps=1e-5)
            bn.weight.data = torch.from_numpy(layer.scale.copy())
            bn.bias.data = torch.from_numpy(layer.shift.copy())
            bn.running_mean.zero_()
            bn.running_var.fill_(1 - 1e-5)
            mods += [bn, nn.ReLU()]
    net = nn.Sequential(*mods, nn.Tanh()).eval()
    z = np.random.default_rng(1).standard_normal((4, 100)).astype(np.float32)
    with torch.no_grad():
        out = net(torch.from_numpy(z).view(4, 100, 1, 1)).numpy().reshape(4, -1)
    weights = {"n_layers": np.int64(len(gen.layers))}
    for i, layer in enumerate(gen.layers):
        weights[f"layer{i}_weight"] = layer.weight
        weights[f"layer{i}_stride"] = np.int64(layer.stride)
        weights[f"layer{i}_padding"] = np.int64(layer.padding)
        if layer.scale is not None:
            weights[f"layer{i}_bn_weight"] = layer.scale
            weights[f"layer{i}_bn_bias"] = layer.shift
            weights[f"layer{i}_bn_mean"] = np.zeros_like(layer.scale)
            weights[f"layer{i}_bn_var"] = np.full_like(layer.scale, 1 - 1e-5)
            weights[f"layer{i}_bn_eps"] = np.float64(1e-5)
    np.savez_compressed(args.out / "random_dcgan_fixture.npz", latents=z, outputs=out, seed=0, ngf=16,
                        torch_version=np.str_(torch.__version__), **weights)


if __name__ == "__main__":
    main()
