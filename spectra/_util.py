"""Small shared helper of the spectra package: the batch-shape check.

Seeds and generic argument checks live in :mod:`gaussequiv.seeding` and :mod:`gaussequiv.checks`; the activation
registry in :mod:`spectra.activations`."""

from __future__ import annotations

import numpy as np


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
