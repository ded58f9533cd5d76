"""The base class of the generators (its own module, so that :mod:`spectra.generators`, :mod:`spectra.dcgan`
and :mod:`spectra.faces` import it without importing each other in a cycle)."""

from __future__ import annotations

import numpy as np

from gaussequiv.checks import integer
from gaussequiv.seeding import SeedLike, rng
from spectra._util import check_batch

__all__ = ["Generator"]


class Generator:
    """Base class of the generators: a callable ``(n, latent_dim) -> (n, output_dim)`` float32 map.

    Subclasses implement :meth:`_forward` on a validated float32 batch and set ``latent_dim``,
    ``output_dim`` and ``name`` (a short, stable description shown in estimates and logs).
    """

    latent_dim: int
    output_dim: int
    name: str

    def __call__(self, c) -> np.ndarray:
        """Outputs for a batch of latents ``c`` of shape ``(n, latent_dim)``; returns ``(n, output_dim)``."""
        c = check_batch("c", c, self.latent_dim)
        return self._forward(np.ascontiguousarray(c, dtype=np.float32))

    def _forward(self, c: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample(self, n: int, seed: SeedLike = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` latents ``c ~ N(0, I)`` and return ``(c, G(c))`` (both float32, raw outputs).

        The latents come from ``gaussequiv.seeding.rng(seed, "generator.sample")``: independent of the
        estimator's samples (:func:`spectra.estimate_covariances`) and of any weights built from the same seed.

        Examples
        --------
        >>> from spectra.generators import SingleLayer
        >>> c, x = SingleLayer(3, 5, seed=0).sample(4, seed=1)
        >>> c.shape, x.shape
        ((4, 3), (4, 5))
        """
        n = integer("n", n)
        c = rng(seed, "generator.sample").standard_normal((n, self.latent_dim), dtype=np.float32)
        return c, self(c)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, D={self.latent_dim}, N={self.output_dim})"
