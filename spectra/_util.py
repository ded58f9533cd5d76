"""Small shared helpers of the spectra package: the batch-shape check and the activation registry.

Seeds and generic argument checks live in :mod:`gaussequiv.seeding` and :mod:`gaussequiv.checks`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special


def check_batch(name: str, c, dim: int, what: str = "latent_dim") -> np.ndarray:
    """A 2-d float array of shape ``(n, dim)``; a clear error otherwise (a 1-d vector is not promoted)."""
    arr = np.asarray(c)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array of shape (n, {dim}) (samples are rows), got shape "
                         f"{arr.shape}; use {name}[None, :] for a single sample")
    if arr.shape[1] != dim:
        raise ValueError(f"{name} has {arr.shape[1]} columns but {what} is {dim}: expected shape (n, {dim})")
    return arr


# ---------------------------------------------------------------------------------------------- activations
@dataclass(frozen=True)
class Activation:
    """A pointwise non-linearity with what the analytic code needs to know about it.

    Attributes
    ----------
    name : str
        Registry name.
    func : callable
        Vectorised function, applied in the dtype of its input.
    smooth : bool
        True if the function is analytic on the real line; False if it has a kink or jump at 0 (then
        Gaussian expectations are integrated on each half-line separately).
    """

    name: str
    func: Callable[[np.ndarray], np.ndarray]
    smooth: bool

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.func(z)


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def _erf(z: np.ndarray) -> np.ndarray:
    return special.erf(z)


_INV_SQRT2 = 0.7071067811865476  # a Python float keeps float32 inputs float32 (NEP 50)


def _erf_sqrt2(z: np.ndarray) -> np.ndarray:
    return special.erf(z * _INV_SQRT2)


def _identity(z: np.ndarray) -> np.ndarray:
    return z


ACTIVATIONS: dict[str, Activation] = {
    "sign": Activation("sign", np.sign, smooth=False),
    "erf": Activation("erf", _erf, smooth=True),
    "erf_sqrt2": Activation("erf_sqrt2", _erf_sqrt2, smooth=True),
    "tanh": Activation("tanh", np.tanh, smooth=True),
    "relu": Activation("relu", _relu, smooth=False),
    "linear": Activation("linear", _identity, smooth=True),
}


def get_activation(name: str | Activation, allowed: tuple[str, ...] | None = None,
                   argname: str = "activation") -> Activation:
    """Look up an activation by name, with an error listing the valid names."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"{argname} must be a string, got {type(name).__name__}")
    names = allowed if allowed is not None else tuple(ACTIVATIONS)
    if name not in names:
        raise ValueError(f"unknown {argname} {name!r}; choose one of {', '.join(map(repr, names))}")
    return ACTIVATIONS[name]
