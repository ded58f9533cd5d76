"""Result objects of the replica solver: :class:`Solution` and :class:`ConvergenceError`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

__all__ = ["Solution", "ConvergenceError", "STATUSES"]

#: Possible values of :attr:`Solution.status`:
#:
#: * ``converged`` -- the residual and the certified distance to the fixed point are below ``tol``;
#: * ``stalled`` -- no further progress from the best point reached, whatever the damping and route;
#: * ``max_iterations`` -- the budget of sweeps ran out while the iteration was still progressing;
#: * ``diverging`` -- the norm grows without bound (no finite fixed point at these parameters);
#: * ``separable`` -- ``lam = 0`` on linearly separable data, where the loss has no finite minimiser;
#: * ``invalid`` -- the saddle-point map cannot be evaluated near the iterates.
STATUSES = ("converged", "stalled", "max_iterations", "diverging", "separable", "invalid")


@dataclass(frozen=True)
class Solution:
    r"""Fixed point of the replica saddle-point equations at one ``(alpha, lam)``.

    Conventions (theory §1.4, §2.4): the estimator minimises
    :math:`\sum_\mu \ell(y^\mu, w\cdot v^\mu/\sqrt p) + (\lambda/2)\|w\|^2`; ``alpha = n/p``.

    Attributes
    ----------
    alpha, lam : float
        Sample ratio ``n/p`` and ridge penalty.
    V, q, m : float
        Overlaps: ``q = E[h^2]``, ``m = E[h nu]`` for a fresh sample, ``V`` the response overlap.
    V_hat, q_hat, m_hat : float
        Conjugate overlaps.
    test_error : float
        Against the noiseless target: regression MSE ``E(nu - h)^2 = rho + q - 2m`` (no 1/2);
        classification ``P(sign h != sign nu) = arccos(m / sqrt(rho q)) / pi``.
    test_error_noisy : float
        Against fresh labels drawn from the channel (label noise included).
    train_loss : float
        Average training loss ``(1/n) sum_mu l(y_mu, h_mu)``, penalty excluded.
    train_error : float
        Classification: training 0/1 error. Regression: training MSE ``(1/n) sum (y - h)^2`` (no 1/2).
    iterations : int
        Evaluations of the saddle-point map over the whole route (0 for the scalar route).
    converged : bool
        True iff ``status == "converged"``; a converged solution never holds NaN.
    status : str
        One of :data:`STATUSES`.
    residual : float
        ``max |F(x) - x| / |x|`` over ``x = (V, q, m)`` for one undamped sweep ``F`` at the returned point
        (0 for the exact scalar route).
    error_estimate : float
        Newton estimate of the largest relative distance of ``(V, q, m)`` to the exact fixed point
        (``|(I - J)^{-1}(F(x) - x)| / |x|``, ``J`` the Jacobian of the sweep); ``converged`` requires it below
        ``tol``. 0 for the exact scalar route, NaN where it was not computed.
    damping : float
        Weight of the old iterate in the last step (``x <- (1 - d) F(x) + d x``).
    loss, channel, method : str
        Names of the loss and channel, and ``fixed-point`` or ``scalar`` (ridge reduction).
    route : str
        How the point was reached: ``uninformed``/``informed``/``warm start`` for a direct iteration,
        ``continuation in lam from L (N steps)`` when :func:`replica.solve` walked from an easier problem,
        ``scalar`` for the ridge reduction; earlier failed attempts follow in brackets.
    message : str
        Why the iteration stopped, and for a failed point what to try.
    """

    alpha: float
    lam: float
    V: float
    q: float
    m: float
    V_hat: float
    q_hat: float
    m_hat: float
    test_error: float
    test_error_noisy: float
    train_loss: float
    train_error: float
    iterations: int
    converged: bool
    status: str
    residual: float
    error_estimate: float
    damping: float
    loss: str
    channel: str
    method: str
    route: str
    message: str

    def to_dict(self) -> dict:
        """All fields as a plain dictionary."""
        return asdict(self)


class PointTable:
    """What every sweep result (:class:`replica.Curve`, :class:`replica.BayesCurve`) shares: one entry per point in
    ``alpha`` and the others, a ``status`` per point, and a flat :meth:`to_dict` (arrays of one length, strings that
    broadcast: ``pandas.DataFrame(curve.to_dict())`` is one row per point)."""

    @property
    def converged(self) -> np.ndarray:
        """Boolean mask of converged points."""
        return self.status == "converged"

    @property
    def all_converged(self) -> bool:
        """True iff every point converged."""
        return bool(np.all(self.converged))

    def __len__(self) -> int:
        return int(self.alpha.size)

    def to_dict(self) -> dict:
        """All fields as a plain dictionary of arrays and strings."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class ConvergenceError(RuntimeError):
    """The fixed point was not reached; ``.solution`` holds the last iterate and its diagnostics."""

    def __init__(self, message: str, solution: Solution | None = None):
        super().__init__(message)
        self.solution = solution
