r"""The prior side of the saddle point: the ridge penalty integrated against the spectrum (theory §2.1).

.. math::
    V = \sum_i w_i\frac{s_i}{\lambda + \hat V s_i},\quad
    q = \sum_i w_i\frac{\hat q s_i^2 + \hat m^2 t_i s_i}{(\lambda + \hat V s_i)^2},\quad
    m = \frac{\hat m}{\sqrt\gamma}\sum_i w_i\frac{t_i}{\lambda + \hat V s_i},

with the weights ``w_i`` of the spectrum: ``1/p`` for a discrete :class:`spectra.Spectrum` (the sums of theory
§2.1), quadrature weights for a :class:`spectra.SpectralDensity` (``p = infinity``).

Modes with ``s_i = 0`` carry ``t_i = 0`` (checked by both spectrum types) and drop out, so ``lam = 0`` is well
defined whenever ``V_hat > 0``. Everything is O(number of nodes) and vectorised; no p x p matrix.
"""

from __future__ import annotations

import numpy as np

from spectra import SpectralDensity, Spectrum

__all__ = ["prior_overlaps", "SpectralSums", "spectral_measure"]


def spectral_measure(spectrum: Spectrum | SpectralDensity) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``(s, t, w, mass)`` over the modes with ``s > 0``: the measure every replica sum integrates against.

    ``mass`` is the weight of those modes: ``rank/p`` for a :class:`~spectra.Spectrum` (exact), the positive
    mass of a :class:`~spectra.SpectralDensity` (``inf`` for an infinite per-sample spectrum).

    Examples
    --------
    >>> s, t, w, mass = spectral_measure(Spectrum.from_arrays([2.0, 0.0], [1.0, 0.0], rho=1.0, gamma=1.0))
    >>> s.tolist(), w.tolist(), mass
    ([2.0], [0.5], 0.5)
    """
    pos = spectrum.s > 0
    s, t, w = spectrum.s[pos], spectrum.t[pos], spectrum.weights[pos]
    if isinstance(spectrum, Spectrum):
        mass = spectrum.rank / spectrum.p
    else:
        mass = spectrum.positive_mass
    return np.ascontiguousarray(s), np.ascontiguousarray(t), np.ascontiguousarray(w), float(mass)


class SpectralSums:
    """Cached per-spectrum arrays for the repeated evaluation of the prior side (weights folded in)."""

    def __init__(self, spectrum: Spectrum | SpectralDensity):
        s, t, w, _ = spectral_measure(spectrum)
        self.s = s
        self.ws = w * s
        self.ws2 = self.ws * s
        self.wt = w * t
        self.wts = self.wt * s
        self.sqrt_gamma = np.sqrt(spectrum.gamma)

    def __call__(self, lam: float, V_hat: float, q_hat: float, m_hat: float) -> tuple[float, float, float]:
        """``(V, q, m)`` from the hats; requires ``lam + V_hat s_i > 0``."""
        inv = 1.0 / (lam + V_hat * self.s)
        inv2 = inv * inv
        V = float(self.ws @ inv)
        q = q_hat * float(self.ws2 @ inv2) + m_hat * m_hat * float(self.wts @ inv2)
        m = m_hat / self.sqrt_gamma * float(self.wt @ inv)
        return V, q, m


def prior_overlaps(spectrum: Spectrum | SpectralDensity, lam: float, V_hat: float, q_hat: float,
                   m_hat: float) -> tuple[float, float, float]:
    """``(V, q, m)`` of theory §2.1 for one set of hats (convenience wrapper around :class:`SpectralSums`)."""
    return SpectralSums(spectrum)(lam, V_hat, q_hat, m_hat)
