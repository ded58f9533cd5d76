r"""The DCGAN generator (Radford et al. 2016) with a vectorised numpy forward pass.

Architecture: a stack of transposed convolutions (no bias), each but the last followed by batch norm in
inference form (running statistics) and ReLU; the last is followed by tanh. The first layer maps the
latent, viewed as a ``1 x 1`` image with ``D`` channels, to a small image. Outputs are flattened in
``(channel, row, column)`` order, as torch's ``view(n, -1)``, so a ``3 x 32 x 32`` image gives
``N = 3072`` outputs. An optional 2x2 average pooling halves each image side.

The transposed convolution is one matrix product per layer, ``(n H W, C_in) @ (C_in, k k C_out)``,
followed by ``k*k`` strided, vectorised additions (no Python loop over pixels or channels).

Weight files are ``.npz`` (read with ``allow_pickle=False``) with, for layer ``i``:
``layer{i}_weight`` of shape ``(C_in, C_out, k, k)`` (torch's ``ConvTranspose2d`` layout),
``layer{i}_stride``, ``layer{i}_padding`` and, for every layer but the last, ``layer{i}_bn_weight``,
``layer{i}_bn_bias``, ``layer{i}_bn_mean``, ``layer{i}_bn_var`` (shape ``(C_out,)``) and
``layer{i}_bn_eps``; plus ``n_layers``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gaussequiv.checks import integer
from gaussequiv.seeding import SeedLike, stream
from spectra.base import Generator

__all__ = ["DCGAN", "ConvTransposeLayer", "conv_transpose2d", "builtin_weights_path"]

_BUILTIN = {"fashion-dcgan": "fashion_dcgan.npz"}
#: Samples per internal chunk of the forward pass (bounds the memory of the widest layer).
CHUNK = 256


def builtin_weights_path(name: str = "fashion-dcgan") -> Path:
    """Path of a weight file shipped with the package."""
    if name not in _BUILTIN:
        raise ValueError(f"unknown built-in generator {name!r}; choose one of {sorted(_BUILTIN)}")
    path = Path(__file__).resolve().parent / "data" / _BUILTIN[name]
    if not path.exists():
        raise FileNotFoundError(f"the built-in weights {path} are missing from this installation; "
                                f"reinstall gaussequiv (they ship as package data)")
    return path


def conv_transpose2d(x: np.ndarray, weight: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Transposed 2-d convolution of NHWC images, matching ``torch.nn.functional.conv_transpose2d``.

    Parameters
    ----------
    x : ndarray, shape (n, H, W, C_in)
    weight : ndarray, shape (C_in, C_out, k, k)
        torch layout.
    stride, padding : int

    Returns
    -------
    ndarray, shape (n, (H-1)*stride - 2*padding + k, (W-1)*stride - 2*padding + k, C_out)

    Examples
    --------
    >>> import numpy as np
    >>> from spectra.dcgan import conv_transpose2d
    >>> x = np.ones((1, 2, 2, 1), dtype=np.float32)
    >>> w = np.ones((1, 1, 2, 2), dtype=np.float32)
    >>> conv_transpose2d(x, w, stride=1, padding=0)[0, :, :, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]], dtype=float32)
    """
    n, H, W, cin = x.shape
    _, cout, k, _ = weight.shape
    wmat = weight.transpose(0, 2, 3, 1).reshape(cin, k * k * cout)
    cols = (x.reshape(n * H * W, cin) @ wmat).reshape(n, H, W, k, k, cout)
    Hf, Wf = (H - 1) * stride + k, (W - 1) * stride + k
    out = np.zeros((n, Hf, Wf, cout), dtype=np.result_type(x, weight))
    hs, ws = stride * (H - 1) + 1, stride * (W - 1) + 1
    for ki in range(k):
        for kj in range(k):
            out[:, ki:ki + hs:stride, kj:kj + ws:stride, :] += cols[:, :, :, ki, kj, :]
    return out[:, padding:Hf - padding, padding:Wf - padding, :]


@dataclass(frozen=True)
class ConvTransposeLayer:
    """One layer: transposed convolution, then (optionally) inference-form batch norm folded into
    ``scale``/``shift`` per output channel."""

    weight: np.ndarray
    stride: int
    padding: int
    scale: np.ndarray | None = None
    shift: np.ndarray | None = None

    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[1])

    def out_size(self, size: int) -> int:
        return (size - 1) * self.stride - 2 * self.padding + int(self.weight.shape[2])


def _bn_fold(gamma, beta, mean, var, eps) -> tuple[np.ndarray, np.ndarray]:
    scale = np.asarray(gamma, dtype=np.float64) / np.sqrt(np.asarray(var, dtype=np.float64) + float(eps))
    shift = np.asarray(beta, dtype=np.float64) - np.asarray(mean, dtype=np.float64) * scale
    return scale.astype(np.float32), shift.astype(np.float32)


def _read_npz(path) -> dict:
    path = Path(path)
    try:
        f = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read DCGAN weights from {path}: {exc}") from exc
    with f:
        return {k: f[k] for k in f.files}


def _layers_from_arrays(arrays: dict, where: str) -> list[ConvTransposeLayer]:
    """Validated layers from a dictionary in the weight-file layout (errors name the array)."""
    def get(key, shape=None, ndim=None):
        if key not in arrays:
            raise ValueError(f"{where}: missing array {key!r}")
        a = np.asarray(arrays[key])
        if ndim is not None and a.ndim != ndim:
            raise ValueError(f"{where}: array {key!r} must be {ndim}-d, got shape {a.shape}")
        if shape is not None and a.shape != shape:
            raise ValueError(f"{where}: array {key!r} must have shape {shape}, got {a.shape}")
        if a.dtype.kind not in "fiu" or not np.all(np.isfinite(a)):
            raise ValueError(f"{where}: array {key!r} must be finite real numbers")
        return a

    n_layers = int(get("n_layers", shape=()))
    if n_layers < 1:
        raise ValueError(f"{where}: n_layers must be >= 1, got {n_layers}")
    layers = []
    for i in range(n_layers):
        w = get(f"layer{i}_weight", ndim=4).astype(np.float32)
        if w.shape[2] != w.shape[3]:
            raise ValueError(f"{where}: layer{i}_weight must have square kernels, got shape {w.shape}")
        stride = int(get(f"layer{i}_stride", shape=()))
        padding = int(get(f"layer{i}_padding", shape=()))
        if stride < 1 or padding < 0:
            raise ValueError(f"{where}: layer {i} has stride {stride}, padding {padding}")
        scale = shift = None
        if i < n_layers - 1:
            cout = (w.shape[1],)
            scale, shift = _bn_fold(get(f"layer{i}_bn_weight", cout), get(f"layer{i}_bn_bias", cout),
                                    get(f"layer{i}_bn_mean", cout), get(f"layer{i}_bn_var", cout),
                                    get(f"layer{i}_bn_eps", shape=()))
        layers.append(ConvTransposeLayer(w, stride, padding, scale, shift))
    return layers


class DCGAN(Generator):
    """DCGAN generator with a numpy forward pass (see the module docstring for the architecture).

    Parameters
    ----------
    layers : sequence of ConvTransposeLayer, dict of arrays, or path
        The layers (all but the last carry batch norm), or weights in the weight-file layout (a dict of
        arrays or an ``.npz`` path), validated array by array.
    pool : bool
        Average-pool each output image 2x2 (``3 x 64 x 64 -> 3 x 32 x 32``).
    name : str

    Attributes
    ----------
    image_shape : tuple
        ``(C, H, W)`` of an output image (after pooling).

    Examples
    --------
    >>> import numpy as np
    >>> from spectra.dcgan import DCGAN
    >>> gen = DCGAN.random(seed=0, ngf=8, calibration=64)
    >>> gen.image_shape, gen.latent_dim, gen.output_dim
    ((3, 32, 32), 100, 3072)
    >>> x = gen(np.zeros((2, 100)))
    >>> x.shape, bool(np.all(np.abs(x) <= 1))
    ((2, 3072), True)
    """

    def __init__(self, layers, pool: bool = False, name: str = "dcgan"):
        if isinstance(layers, (str, os.PathLike)):
            where = str(layers)
            layers = _layers_from_arrays(_read_npz(layers), where)
        elif isinstance(layers, dict):
            layers = _layers_from_arrays(layers, "weights")
        layers = list(layers)
        if not layers:
            raise ValueError("layers must not be empty")
        for i, layer in enumerate(layers):
            if not isinstance(layer, ConvTransposeLayer):
                raise TypeError(f"layers[{i}] must be a ConvTransposeLayer, got {type(layer).__name__}")
            if i and layer.in_channels != layers[i - 1].out_channels:
                raise ValueError(f"layer {i} takes {layer.in_channels} channels but layer {i - 1} gives "
                                 f"{layers[i - 1].out_channels}")
            if (layer.scale is None) != (i == len(layers) - 1):
                raise ValueError(f"layer {i}: every layer but the last needs batch norm, the last none")
        self.layers = tuple(layers)
        self.pool = bool(pool)
        size = 1
        for layer in layers:
            size = layer.out_size(size)
            if size < 1:
                raise ValueError("the layer strides/paddings give an empty image")
        if self.pool and size % 2:
            raise ValueError(f"pool=True needs an even image side, got {size}")
        side = size // 2 if self.pool else size
        self.image_shape = (layers[-1].out_channels, side, side)
        self.latent_dim = layers[0].in_channels
        self.output_dim = int(np.prod(self.image_shape))
        self.name = name + ("-pool2" if self.pool else "")

    # ------------------------------------------------------------------------------ forward
    def _forward(self, c: np.ndarray) -> np.ndarray:
        out = np.empty((c.shape[0], self.output_dim), dtype=np.float32)
        for s in range(0, c.shape[0], CHUNK):
            out[s:s + CHUNK] = self._forward_chunk(c[s:s + CHUNK])
        return out

    def _forward_chunk(self, c: np.ndarray) -> np.ndarray:
        h = c.reshape(c.shape[0], 1, 1, self.latent_dim)
        for layer in self.layers:
            h = conv_transpose2d(h, layer.weight, layer.stride, layer.padding)
            if layer.scale is not None:
                h = np.maximum(h * layer.scale + layer.shift, np.float32(0))
        h = np.tanh(h)
        if self.pool:
            n, H, W, C = h.shape
            h = h.reshape(n, H // 2, 2, W // 2, 2, C).mean(axis=(2, 4), dtype=np.float32)
        return h.transpose(0, 3, 1, 2).reshape(h.shape[0], -1)

    def images(self, c) -> np.ndarray:
        """Outputs reshaped to images ``(n, C, H, W)``."""
        return self(c).reshape(-1, *self.image_shape)

    # ------------------------------------------------------------------------------ weights
    @classmethod
    def load(cls, path: str | os.PathLike, *, pool: bool = False, name: str | None = None) -> DCGAN:
        """Read a weight file (layout in the module docstring); every array is checked.

        Examples
        --------
        >>> from spectra.dcgan import DCGAN, builtin_weights_path
        >>> DCGAN.load(builtin_weights_path("fashion-dcgan")).image_shape
        (1, 28, 28)
        """
        arrays = _read_npz(path)
        gen = cls(_layers_from_arrays(arrays, str(path)), pool=pool,
                  name=name or Path(path).stem.replace("_", "-"))
        if "metadata" in arrays:
            gen.metadata = json.loads(str(arrays["metadata"]))
        return gen

    @classmethod
    def from_arrays(cls, arrays: dict, *, pool: bool = False, name: str = "dcgan",
                    where: str = "weights") -> DCGAN:
        """Build from a dictionary of arrays in the weight-file layout (validated)."""
        return cls(_layers_from_arrays(arrays, where), pool=pool, name=name)

    @classmethod
    def random(cls, seed: SeedLike = 0, *, latent_dim: int = 100, ngf: int = 64, channels: int = 3,
               image_size: int = 32, pool: bool = False, calibration: int = 1024) -> DCGAN:
        r"""DCGAN with seeded random weights (the paper's random-weight generator).

        Kernels are drawn from :math:`N(0, 0.02^2)` and batch-norm gains from :math:`N(1, 0.02^2)` (the DCGAN
        initialisation), shifts are 0. The batch-norm running statistics are those of a calibration batch
        of ``calibration`` seeded latents, so the inference-form network normalises like the
        training-mode network it imitates. Layers: ``1 -> 4 -> 8 -> ... -> image_size`` (a power of 2
        times 4), widths ``ngf * 2**j`` down to ``channels``.

        ``seed`` (int >= 0, SeedSequence or Generator; default 0) seeds everything through
        ``gaussequiv.seeding.stream(seed, "generator.dcgan_random")``: independent of teachers, feature maps
        and samples built from the same seed.
        """
        latent_dim = integer("latent_dim", latent_dim)
        ngf = integer("ngf", ngf)
        channels = integer("channels", channels)
        calibration = integer("calibration", calibration, minimum=2)
        n_up = int(np.log2(image_size / 4)) if image_size >= 8 else -1
        if n_up < 1 or 4 * 2**n_up != image_size:
            raise ValueError(f"image_size must be 4 * 2**j with j >= 1 (8, 16, 32, 64, ...), got {image_size}")
        widths = [latent_dim] + [ngf * 2 ** (n_up - 1 - j) for j in range(n_up)] + [channels]
        ss = stream(seed, "generator.dcgan_random").spawn(2 * len(widths))
        layers = []
        c = np.random.default_rng(ss[-1]).standard_normal((calibration, latent_dim)).astype(np.float32)
        h = c.reshape(calibration, 1, 1, latent_dim)
        for i, (cin, cout) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            stride, padding = (1, 0) if i == 0 else (2, 1)
            w = (0.02 * np.random.default_rng(ss[2 * i]).standard_normal((cin, cout, 4, 4))).astype(np.float32)
            h = conv_transpose2d(h, w, stride, padding)
            if i < len(widths) - 2:
                gamma = 1 + 0.02 * np.random.default_rng(ss[2 * i + 1]).standard_normal(cout)
                mean = h.mean(axis=(0, 1, 2), dtype=np.float64)
                var = h.var(axis=(0, 1, 2), dtype=np.float64)
                scale, shift = _bn_fold(gamma, np.zeros(cout), mean, var, 1e-5)
                layers.append(ConvTransposeLayer(w, stride, padding, scale, shift))
                h = np.maximum(h * scale + shift, np.float32(0))
            else:
                layers.append(ConvTransposeLayer(w, stride, padding))
        return cls(layers, pool=pool, name=f"dcgan-random-{channels}x{image_size}x{image_size}")
