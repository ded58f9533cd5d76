"""Result objects of the replica solver: :class:`Solution` and :class:`ConvergenceError`."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Solution", "ConvergenceError", "STATUSES"]

#: Possible values of :attr:`Solution.status`.
STATUSES = ("converged", "max_iterations", "diverging", "invalid")


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
        Number of sweeps of the fixed-point map (0 for the scalar route).
    converged : bool
        True iff ``status == "converged"``; a converged solution never holds NaN.
    status : str
        One of ``converged``, ``max_iterations``, ``diverging``, ``invalid``.
    residual : float
        Largest relative change of the six overlaps under one undamped sweep at the returned point.
    damping : float
        Weight of the old iterate in the last step (``x <- (1 - d) F(x) + d x``).
    loss, channel, method : str
        Names of the loss and channel, and ``fixed-point`` or ``scalar`` (ridge reduction).
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
    damping: float
    loss: str
    channel: str
    method: str

    def to_dict(self) -> dict:
        """All fields as a plain dictionary."""
        return asdict(self)


class ConvergenceError(RuntimeError):
    """The fixed point was not reached; ``.solution`` holds the last iterate and its diagnostics."""

    def __init__(self, message: str, solution: Solution | None = None):
        super().__init__(message)
        self.solution = solution
