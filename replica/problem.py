"""Argument checks and starting points shared by every solver entry point (the one place they live)."""

from __future__ import annotations

import numpy as np

from gaussequiv import checks
from replica.channel import Channel
from replica.loss import Loss
from replica.result import Solution
from spectra import SpectralDensity, Spectrum

__all__ = ["validate_problem", "initial_point", "is_valid_point", "UNINFORMED", "INFORMED"]

#: Reference starting points of theory §2.6: uninformed ``V = 1000, q = m = 1e-3``; informed ``V = 1e-3``,
#: ``q = 0.999 rho``, ``m = 0.99 rho`` (m kept inside ``m^2 < rho q``).
UNINFORMED, INFORMED = "uninformed", "informed"


def validate_problem(spectrum, loss, channel, alpha, lam) -> tuple[float, float]:
    """Type and range checks of a replica problem; returns ``(alpha, lam)`` as floats.

    Examples
    --------
    >>> import numpy as np
    >>> validate_problem(Spectrum.isotropic(10), Loss.square(), Channel.linear(), np.asarray(2.0), 0)
    (2.0, 0.0)

    A :class:`spectra.SpectralDensity` (``p = infinity``) is accepted wherever a spectrum is.
    """
    checks.instance("spectrum", spectrum, (Spectrum, SpectralDensity))
    checks.instance("loss", loss, Loss, "Loss.logistic()")
    checks.instance("channel", channel, Channel, "Channel.sign()")
    alpha = checks.real("alpha", alpha, low=0.0, low_open=True)
    lam = checks.real("lam", lam, low=0.0)
    if loss.name in ("logistic", "hinge") and not channel.is_classification:
        raise ValueError(f"loss {loss.name} needs labels +-1; channel {channel.name} gives real labels "
                         "(use Channel.sign/probit or the square loss)")
    if loss.labels is not None:
        given = channel.labels
        if given is None or not set(given) <= set(loss.labels):
            raise ValueError(f"loss {loss.name} is defined for the labels {loss.labels} only, but channel "
                             f"{channel.name} gives {'real labels' if given is None else f'labels {given}'}; "
                             "use a channel with those labels or a loss defined for these")
    return alpha, lam


def initial_point(init, rho: float) -> np.ndarray:
    """``(V, q, m)`` from ``init``: ``'uninformed'`` (or None), ``'informed'``, a :class:`Solution` or a triple."""
    if init is None or (isinstance(init, str) and init == UNINFORMED):
        q = 1e-3
        return np.array([1000.0, q, min(1e-3, 0.5 * np.sqrt(rho * q))])
    if isinstance(init, str) and init == INFORMED:
        return np.array([1e-3, 0.999 * rho, 0.99 * rho])
    if isinstance(init, Solution):
        return np.array([init.V, init.q, init.m])
    if isinstance(init, str):
        raise ValueError(f"init must be 'uninformed', 'informed', a Solution or (V, q, m); got {init!r}")
    x = np.asarray(init, dtype=float)
    if x.shape != (3,) or not is_valid_point(x, rho):
        raise ValueError(f"init as (V, q, m) needs finite V > 0, q > 0, m^2 < rho q; got {init!r}")
    return x


def is_valid_point(x: np.ndarray, rho: float) -> bool:
    """The domain of the saddle-point map: finite ``V > 0``, ``q > 0`` and ``m^2 < rho q``."""
    return bool(np.all(np.isfinite(x)) and x[0] > 0 and x[1] > 0 and x[2] * x[2] < rho * x[1])
