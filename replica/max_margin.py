r"""The max-margin limit of the hinge loss: ``lam = 0`` below the separability threshold (theory §2.7).

On linearly separable data the hinge ERM :math:`\sum_\mu \max(0, 1 - y^\mu h^\mu) + (\lambda/2)\|w\|^2` equals, for
every small enough :math:`\lambda > 0`, the hard-margin problem :math:`\min \|w\|^2` subject to
:math:`y^\mu h^\mu \ge 1`; its :math:`\lambda \to 0^+` limit (the max-margin classifier, at finite norm) is what
``solve(..., Loss.hinge(), ..., lam=0)`` returns there.

The hard-margin problem is ERM with the convex indicator loss :math:`\ell(y, z) = 0` if :math:`yz \ge 1`, else
:math:`+\infty`, whose proximal map is the projection :math:`\mathrm{prox}(y, \omega) = y\max(y\omega, 1)` (the
hinge's prox as :math:`V \to \infty`), independent of :math:`V`. Its minimiser does not depend on the penalty
(:math:`\min (\lambda/2)\|w\|^2` under the constraints has one solution for every :math:`\lambda > 0`), so the replica
fixed point of the indicator loss at any penalty gives the max-margin overlaps ``q`` and ``m``. In the hinge's own
variables the limit has :math:`V = u/\lambda \to \infty` and :math:`\hat V, \hat q, \hat m \to 0` (they scale like
:math:`\lambda, \lambda^2, \lambda`), which is how the returned :class:`Solution` reports them; the training
data are separated with margin 1, so the training loss and 0/1 error are exactly 0.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from replica.loss import Kinks, Loss

if TYPE_CHECKING:
    import sympy as sp

__all__ = ["hard_margin_loss", "HARD_MARGIN_PENALTY"]

#: The penalty at which the indicator loss's fixed point is solved (any value gives the same q and m).
HARD_MARGIN_PENALTY = 1.0


def _hard_margin_expr() -> sp.Expr:
    import sympy as sp

    from replica._symbolic import Y, Z

    return sp.Piecewise((0, Y * Z >= 1), (sp.oo, True))


@lru_cache(maxsize=1)
def hard_margin_loss() -> Loss:
    """The indicator loss of the margin constraints ``y z >= 1`` (the ``V -> infinity`` limit of the hinge).

    Examples
    --------
    >>> loss = hard_margin_loss()
    >>> z, r = loss.prox(np.array([1.0, 1.0]), np.array([0.2, 3.0]), 5.0)
    >>> z.tolist(), (r * 5.0).tolist()   # projected onto y z >= 1: 1 - d prox / d omega is 1, then 0
    ([1.0, 3.0], [1.0, 0.0])
    """

    def prox(y, omega, V, guess):
        inside = y * omega < 1.0
        return np.where(inside, y, omega), np.where(inside, 1.0 / V, 0.0)

    def fg(y, omega, V, z):
        return np.where(y * omega < 1.0, (y - omega) / V, 0.0)

    def value(y, z):
        return np.where(y * z >= 1.0 - 1e-12, 0.0, np.inf)

    return Loss(name="hard-margin", _expr=_hard_margin_expr, _prox=prox, _value=value,
                _d1=lambda y, z: np.zeros(np.broadcast(y, z).shape),
                _d2=lambda y, z: np.zeros(np.broadcast(y, z).shape), smooth=False,
                _kinks=lambda V: Kinks(margin=(1.0,)), _fg=fg)
