r"""The prior side of the saddle point: the ridge penalty integrated against the spectrum (theory §2.1).

.. math::
    V = \frac1p\sum_i \frac{s_i}{\lambda + \hat V s_i},\quad
    q = \frac1p\sum_i \frac{\hat q s_i^2 + \hat m^2 t_i s_i}{(\lambda + \hat V s_i)^2},\quad
    m = \frac{\hat m}{\sqrt\gamma}\frac1p\sum_i \frac{t_i}{\lambda + \hat V s_i}.

Modes with ``s_i = 0`` carry ``t_i = 0`` (checked by :class:`spectra.Spectrum`) and drop out, so
``lam = 0`` is well defined whenever ``V_hat > 0``. Everything is O(p) and vectorised; no p x p matrix.
"""

from __future__ import annotations

import numpy as np

from spectra import Spectrum

__all__ = ["prior_overlaps", "SpectralSums"]


class SpectralSums:
    """Cached per-spectrum arrays for the repeated evaluation of the prior side."""

    def __init__(self, spectrum: Spectrum):
        pos = spectrum.s > 0
        self.s = np.ascontiguousarray(spectrum.s[pos])
        self.t = np.ascontiguousarray(spectrum.t[pos])
        self.ts = self.t * self.s
        self.p = spectrum.p
        self.sqrt_gamma = np.sqrt(spectrum.gamma)

    def __call__(self, lam: float, V_hat: float, q_hat: float, m_hat: float) -> tuple[float, float, float]:
        """``(V, q, m)`` from the hats; requires ``lam + V_hat s_i > 0``."""
        inv = 1.0 / (lam + V_hat * self.s)
        si = self.s * inv
        inv2 = inv * inv
        V = float(np.sum(si)) / self.p
        q = (q_hat * float(si @ si) + m_hat * m_hat * float(self.ts @ inv2)) / self.p
        m = m_hat / self.sqrt_gamma * float(self.t @ inv) / self.p
        return V, q, m


def prior_overlaps(spectrum: Spectrum, lam: float, V_hat: float, q_hat: float,
                   m_hat: float) -> tuple[float, float, float]:
    """``(V, q, m)`` of theory §2.1 for one set of hats (convenience wrapper around :class:`SpectralSums`)."""
    return SpectralSums(spectrum)(lam, V_hat, q_hat, m_hat)
