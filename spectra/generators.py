"""Generators: deterministic maps from latents ``c ~ N(0, I_D)`` (rows of an ``(n, D)`` array) to raw,
uncentred outputs ``x = G(c)`` (rows of an ``(n, N)`` array), with a float32 forward pass in numpy
(theory §1.1).

Centring is not done here: :func:`spectra.estimate_covariances` estimates the means together with the
covariances, and every consumer subtracts those same means.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gaussequiv.checks import integer
from gaussequiv.seeding import SeedLike, rng, stream
from spectra.activations import get_activation
from spectra.base import Generator
from spectra.dcgan import DCGAN, builtin_weights_path
from spectra.faces import face_generator

__all__ = ["Generator", "SingleLayer", "DeepRandom", "DCGAN", "pretrained", "PRETRAINED"]

GENERATOR_ACTIVATIONS = ("sign", "erf", "tanh", "relu")


class SingleLayer(Generator):
    r"""Single-layer random generator :math:`x = \sigma(F c)` with :math:`F_{ij} \sim N(0, 1/D)`.

    The rows of ``F`` have norm close to 1, the setting of the equivalence theorem (theory §1.1).

    Parameters
    ----------
    D : int
        Latent dimension.
    N : int
        Output dimension.
    activation : {"sign", "erf", "tanh", "relu"}
        Pointwise non-linearity; ``"erf"`` is the plain :math:`\mathrm{erf}(z)`.
    seed : int >= 0, numpy.random.SeedSequence or numpy.random.Generator
        Seed of the weights (default 0), drawn from ``gaussequiv.seeding.stream(seed, "generator.single_layer")``:
        independent of teachers, feature maps and samples built from the same seed.

    Attributes
    ----------
    weights : ndarray, shape (N, D), float64
        The matrix ``F`` (read-only); exact covariances use it in float64.
    latent_dim, output_dim : int
        ``D`` and ``N``.
    activation : str

    Examples
    --------
    >>> import numpy as np
    >>> from spectra.generators import SingleLayer
    >>> gen = SingleLayer(4, 6, activation="sign", seed=0)
    >>> x = gen(np.ones((2, 4)))
    >>> x.shape, x.dtype
    ((2, 6), dtype('float32'))
    """

    def __init__(self, D: int, N: int, activation: str = "sign", seed: SeedLike = 0):
        self.latent_dim = integer("D", D)
        self.output_dim = integer("N", N)
        self._act = get_activation(activation, GENERATOR_ACTIVATIONS)
        self.activation = self._act.name
        draw = rng(seed, "generator.single_layer")
        weights = draw.standard_normal((self.output_dim, self.latent_dim)) / np.sqrt(self.latent_dim)
        weights.setflags(write=False)
        self.weights = weights
        self._wt32 = np.ascontiguousarray(weights.T, dtype=np.float32)
        self.name = f"single-{self.activation}"

    @classmethod
    def from_weights(cls, weights, activation: str = "sign") -> SingleLayer:
        """A single-layer generator with a given ``(N, D)`` weight matrix."""
        w = np.array(weights, dtype=float)
        if w.ndim != 2:
            raise ValueError(f"weights must be a 2-d array of shape (N, D), got shape {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError("weights contain NaN or inf")
        self = cls.__new__(cls)
        self.output_dim, self.latent_dim = w.shape
        self._act = get_activation(activation, GENERATOR_ACTIVATIONS)
        self.activation = self._act.name
        w.setflags(write=False)
        self.weights = w
        self._wt32 = np.ascontiguousarray(w.T, dtype=np.float32)
        self.name = f"single-{self.activation}"
        return self

    def _forward(self, c: np.ndarray) -> np.ndarray:
        return self._act(c @ self._wt32)


class DeepRandom(Generator):
    r"""Fully connected random network :math:`x = \sigma(W_L \sigma(\cdots \sigma(W_1 c)))`, no biases.

    :math:`(W_l)_{ij} \sim N(0, 1/\text{fan-in})`. With ``activation="sign"`` and widths ``[D]*L + [N]``
    this is the deep random sign generator of theory §1.1.

    Parameters
    ----------
    widths : sequence of int
        ``[D, h_1, ..., N]``: latent dimension, hidden widths, output dimension (at least two entries).
    activation : {"sign", "erf", "tanh", "relu"}
    seed : int >= 0, numpy.random.SeedSequence or numpy.random.Generator
        Seed of the weights (default 0): layer ``l`` draws from child ``l`` of
        ``gaussequiv.seeding.stream(seed, "generator.deep_random")``.

    Attributes
    ----------
    weights : tuple of ndarray
        ``W_1, ..., W_L`` with shapes ``(widths[l+1], widths[l])`` (float64, read-only).

    Examples
    --------
    >>> import numpy as np
    >>> from spectra.generators import DeepRandom
    >>> gen = DeepRandom([5, 5, 5, 8], activation="sign", seed=1)
    >>> gen(np.ones((3, 5))).shape
    (3, 8)
    """

    def __init__(self, widths: Sequence[int], activation: str = "sign", seed: SeedLike = 0):
        if isinstance(widths, (int, np.integer, str)) or not isinstance(widths, Sequence | np.ndarray):
            raise TypeError(f"widths must be a sequence of ints [D, ..., N], got {widths!r}")
        widths = [integer(f"widths[{i}]", w) for i, w in enumerate(widths)]
        if len(widths) < 2:
            raise ValueError(f"widths must have at least two entries [D, N], got {widths}")
        self.widths = tuple(widths)
        self.latent_dim, self.output_dim = widths[0], widths[-1]
        self._act = get_activation(activation, GENERATOR_ACTIVATIONS)
        self.activation = self._act.name
        children = stream(seed, "generator.deep_random").spawn(len(widths) - 1)
        ws = []
        for child, fan_in, fan_out in zip(children, widths[:-1], widths[1:], strict=True):
            w = np.random.default_rng(child).standard_normal((fan_out, fan_in)) / np.sqrt(fan_in)
            w.setflags(write=False)
            ws.append(w)
        self.weights = tuple(ws)
        self._wt32 = [np.ascontiguousarray(w.T, dtype=np.float32) for w in ws]
        self.name = f"deep-{self.activation}-{'x'.join(map(str, widths))}"

    def _forward(self, c: np.ndarray) -> np.ndarray:
        h = c
        for wt in self._wt32:
            h = self._act(h @ wt)
        return h


# ---------------------------------------------------------------------------------------- pretrained models
def _pretrained_fashion() -> Generator:
    return DCGAN.load(builtin_weights_path("fashion-dcgan"), name="fashion-dcgan")


#: Names accepted by :func:`pretrained`.
PRETRAINED = {"fashion-dcgan": _pretrained_fashion, "face-dcgan": face_generator}


def pretrained(name: str = "fashion-dcgan") -> Generator:
    """A pretrained generator by name.

    ``"fashion-dcgan"`` is the built-in DCGAN trained on Fashion-MNIST (``D = 100``, ``N = 784``, outputs
    in ``[-1, 1]``); its weights ship inside the package and need numpy only. ``"face-dcgan"`` is the
    paper-scale face generator of the optional ``gan-face-generate`` package, pooled to ``3 x 32 x 32``
    (``make faces`` installs it; its weights were trained on a dataset with a non-commercial licence).

    Examples
    --------
    >>> from spectra.generators import pretrained
    >>> gen = pretrained("fashion-dcgan")
    >>> gen.latent_dim, gen.output_dim
    (100, 784)
    """
    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained generator {name!r}; choose one of {sorted(PRETRAINED)}")
    return PRETRAINED[name]()
