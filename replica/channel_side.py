"""The channel side of the saddle point (theory §2.2): hats and training quantities from ``(V, q, m)``.

Two implementations of one interface:

* :class:`SquareChannelSide` -- the square loss, whose Gaussian integrals are closed forms in the channel
  moments ``E[y^2]`` and ``E[y nu]/rho`` (theory §2.5);
* :class:`QuadratureChannelSide` -- any other loss: the loss's prox evaluated once per sweep on the
  channel's quadrature nodes (a :class:`replica.channel.Measure`), warm-started from the previous sweep.
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
    """Hats of a general convex loss by the channel's fixed quadrature rule."""

    def __init__(self, loss: Loss, channel: Channel, rho: float, alpha: float, gamma: float):
        self.loss, self.channel, self.rho, self.alpha = loss, channel, rho, alpha
        self.sqrt_gamma = np.sqrt(gamma)
        self._guess: np.ndarray | None = None

    def _prox(self, V: float, q: float, m: float):
        meas = self.channel.measure(self.rho, q, m)
        z, r = self.loss.prox(meas.y, meas.omega, V, self._guess)
        if not (np.all(np.isfinite(z)) and np.all(np.isfinite(r))):
            raise FloatingPointError("non-finite prox on the quadrature nodes")
        self._guess = z
        return meas, z, r

    def hats(self, V: float, q: float, m: float) -> tuple[float, float, float]:
        """``(V_hat, q_hat, m_hat)``."""
        meas, z, r = self._prox(V, q, m)
        fg = (z - meas.omega) / V
        if self.loss.smooth:
            v_hat = self.alpha * meas.expect(r)
        else:
            # Gaussian integration by parts in xi (omega = sqrt(q) xi, omega* = m xi / sqrt(q)):
            # E sum_y Z0 d_omega f_g = (E sum_y Z0 omega f_g - m E sum_y dZ0 f_g) / q, smooth in (V, q, m)
            # where the jumps of r = -d_omega f_g would make a fixed rule piecewise constant.
            v_hat = -self.alpha * (meas.expect(meas.omega * fg) - m * meas.expect_d(fg)) / q
        return (v_hat, self.alpha * meas.expect(fg * fg),
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


def make_channel_side(loss: Loss, channel: Channel, rho: float, alpha: float, gamma: float):
    """The closed-form side for the built-in square loss, the quadrature side otherwise."""
    cls = SquareChannelSide if loss.is_square else QuadratureChannelSide
    return cls(loss, channel, rho, alpha, gamma)
