"""The channel side of the saddle point (theory §2.2): hats and training quantities from ``(V, q, m)``.

Two implementations of one interface:

* :class:`SquareChannelSide` -- the square loss, whose Gaussian integrals are closed forms in the channel
  moments ``E[y^2]`` and ``E[y nu]/rho`` (theory §2.5);
* :class:`QuadratureChannelSide` -- any other loss: the loss's prox evaluated once per sweep on the
  channel's quadrature nodes (a :class:`replica.channel.Measure` whose panels split at the loss's kinks),
  warm-started from the previous sweep.
"""

from __future__ import annotations

import numpy as np

from replica.channel import Channel
from replica.loss import Loss

__all__ = ["make_channel_side"]


class SquareChannelSide:
    """Closed-form hats of the square loss ``(y - z)^2 / 2`` for any channel."""

    def __init__(self, loss: Loss, channel: Channel, rho: float, alpha: float, gamma: float):
        self.loss, self.channel, self.rho, self.alpha = loss, channel, rho, alpha
        self.sqrt_gamma = np.sqrt(gamma)
        self.ey2, self.kappa = channel.moments(rho)

    def _residual2(self, q: float, m: float) -> float:
        """``E[(y - omega)^2] = E[y^2] - 2 m E[y nu]/rho + q``."""
        return self.ey2 - 2.0 * m * self.kappa + q

    def hats(self, V: float, q: float, m: float) -> tuple[float, float, float]:
        """``(V_hat, q_hat, m_hat)``."""
        a = self.alpha / (1.0 + V)
        return a, a * self._residual2(q, m) / (1.0 + V), a * self.kappa / self.sqrt_gamma

    def training(self, V: float, q: float, m: float) -> tuple[float, float]:
        """``(train_loss, train_error)`` at the fixed point; the loss is half the training MSE."""
        mse = self._residual2(q, m) / (1.0 + V) ** 2
        if self.channel.is_classification:
            err = self.channel.wrong_side(self.rho, q, m, {-1.0: V, 1.0: -V})
        else:
            err = mse
        return 0.5 * mse, err


class QuadratureChannelSide:
    """Hats of a general convex loss by the channel's quadrature rule, split at the loss's kinks.

    Every expectation is a sum of non-negative terms except ``m_hat``'s: ``V_hat = alpha E sum_y Z0 r``
    with ``r = (1 - d prox/d omega)/V >= 0`` (exact piece by piece for the hinge and Huber losses, whose
    kinks are panel edges), ``q_hat = alpha E sum_y Z0 f_g^2``. A sum of non-negative terms can come out
    negative only through rounding of terms that should be >= 0 (a custom likelihood a hair below 0): a
    result whose magnitude is within the summation's rounding bound ``n eps sum |terms|`` is zero, anything
    more negative is returned as is (and the solver reports the point invalid).
    """

    def __init__(self, loss: Loss, channel: Channel, rho: float, alpha: float, gamma: float):
        self.loss, self.channel, self.rho, self.alpha = loss, channel, rho, alpha
        self.sqrt_gamma = np.sqrt(gamma)
        self._guess: np.ndarray | None = None
        self._cache: tuple | None = None

    def _prox(self, V: float, q: float, m: float):
        key = (V, q, m)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        meas = self.channel.measure(self.rho, q, m, kinks=self.loss.kinks(V))
        z, r = self.loss.prox(meas.y, meas.omega, V, self._guess)
        if not (np.all(np.isfinite(z)) and np.all(np.isfinite(r))):
            raise FloatingPointError("non-finite prox on the quadrature nodes")
        self._guess = z
        self._cache = (key, (meas, z, r))
        return meas, z, r

    def hats(self, V: float, q: float, m: float) -> tuple[float, float, float]:
        """``(V_hat, q_hat, m_hat)``."""
        meas, z, r = self._prox(V, q, m)
        fg = self.loss.fg(meas.y, meas.omega, V, z, r)
        return (self.alpha * _nonnegative_sum(meas.wz * r), self.alpha * _nonnegative_sum(meas.wz * fg * fg),
                self.alpha / self.sqrt_gamma * meas.expect_d(fg))

    def training(self, V: float, q: float, m: float) -> tuple[float, float]:
        """``(train_loss, train_error)``: 0/1 error for classification, MSE (no 1/2) for regression."""
        meas, z, _ = self._prox(V, q, m)
        train_loss = meas.expect(self.loss(meas.y, z))
        if self.channel.is_classification:
            thresholds = {y: float(self.loss.threshold(y, V)) for y in (-1.0, 1.0)}
            err = self.channel.wrong_side(self.rho, q, m, thresholds)
        else:
            err = meas.expect((meas.y - z) ** 2)
        return train_loss, err


def _nonnegative_sum(terms: np.ndarray) -> float:
    """``sum(terms)`` of terms that are >= 0 in exact arithmetic: a negative result within the rounding bound
    of the summation (``n eps sum |terms|``, Higham's bound for recursive summation) is 0."""
    total = float(np.sum(terms))
    if total < 0 and -total <= terms.size * np.finfo(float).eps * float(np.sum(np.abs(terms))):
        return 0.0
    return total


def make_channel_side(loss: Loss, channel: Channel, rho: float, alpha: float, gamma: float):
    """The closed-form side for the built-in square loss, the quadrature side otherwise."""
    cls = SquareChannelSide if loss.is_square else QuadratureChannelSide
    return cls(loss, channel, rho, alpha, gamma)
