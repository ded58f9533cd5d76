"""Independent reference formulas used by the replica tests (not imported by the library)."""

import numpy as np


def marchenko_pastur_ridge(gamma_h: float, lam_h: float, r2: float, sigma2: float) -> tuple[float, float]:
    """Excess risk and training MSE of ridge on isotropic data (Hastie et al. 2019; theory §6.2).

    ``gamma_h = p/n``, ``lam_h`` the penalty of ``(1/n)|y - Xb|^2 + lam_h |b|^2``.
    """
    g, lh = gamma_h, lam_h
    m = (-(1 - g + lh) + np.sqrt((1 - g + lh) ** 2 + 4 * g * lh)) / (2 * g * lh)
    mp = (g * m**2 + m) / (2 * lh * g * m + lh + 1 - g)
    risk = r2 * lh**2 * mp + sigma2 * g * (m - lh * mp)
    train = r2 * lh**2 * (m - lh * mp) + sigma2 * (1 - g + g * lh**2 * mp)
    return float(risk), float(train)


def ridgeless_risk(gamma_h: float, r2: float, sigma2: float) -> float:
    """Min-norm least-squares excess risk on isotropic data (theory §6.2)."""
    if gamma_h < 1:
        return sigma2 * gamma_h / (1 - gamma_h)
    return r2 * (1 - 1 / gamma_h) + sigma2 / (gamma_h - 1)
