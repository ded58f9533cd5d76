"""Write the test fixture pinning the numpy forward pass of the face generator to torch's.

Run once in the torch environment, with ``gan-face-generate==1.1.1`` installed (``--no-deps``)::

    /work/torchvenv/bin/python spectra/training/make_face_fixture.py --out tests/spectra/data

It loads ``weights.tar`` with ``torch.load`` into the package's own ``Generator`` (the reference
framework), runs a few fixed latents in eval mode and saves the 64x64 outputs and their 2x2 average pool.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from gan_face_generate.models import Generator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    import gan_face_generate

    ckpt = torch.load(Path(gan_face_generate.__file__).parent / "weights.tar", map_location="cpu",
                      weights_only=True)
    net = Generator(0, 3, 100, 64)
    net.load_state_dict(ckpt["netG_state_dict"])
    net.eval()
    z = np.random.default_rng(0).standard_normal((4, 100)).astype(np.float32)
    with torch.no_grad():
        full = net(torch.from_numpy(z).view(4, 100, 1, 1))
        pooled = torch.nn.functional.avg_pool2d(full, 2)
    np.savez(args.out / "face_dcgan_fixture.npz", latents=z, outputs=full.numpy().reshape(4, -1),
             pooled=pooled.numpy().reshape(4, -1), torch_version=np.str_(torch.__version__))


if __name__ == "__main__":
    main()
