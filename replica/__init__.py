"""Replica saddle-point theory of full-batch ERM on Gaussian covariate models.

The public surface: :class:`Loss`, :class:`Channel`, :func:`solve` (one point), :func:`learning_curve`
and :func:`lambda_path` (warm-started sweeps returning a :class:`Curve`), :func:`optimal_lambda`, and
:func:`equations` (the saddle-point equations as sympy objects).
"""

from replica.channel import Channel
from replica.loss import Loss, NonConvexLossError
from replica.result import ConvergenceError, Solution
from replica.solver import solve

__all__ = ["Channel", "ConvergenceError", "Loss", "NonConvexLossError", "Solution", "solve"]
