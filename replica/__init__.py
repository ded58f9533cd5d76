"""Replica saddle-point theory of full-batch ERM on Gaussian covariate models.

The public surface: :class:`Loss`, :class:`Channel`, :func:`solve` (one point), :func:`learning_curve`
and :func:`lambda_path` (warm-started sweeps returning a :class:`Curve`), :func:`optimal_lambda`,
:func:`solve_square` (the scalar ridge reduction), :func:`separability_threshold` (the
sample ratio below which the data are linearly separable) and :func:`equations` (the saddle-point equations as
sympy objects).
"""

from replica.channel import Channel
from replica.curves import Curve, lambda_path, learning_curve, optimal_lambda
from replica.loss import Loss, NonConvexLossError
from replica.result import ConvergenceError, Solution
from replica.ridge import solve_square
from replica.separability import separability_threshold
from replica.solver import solve
from replica.symbolic_equations import Equations, equations

__all__ = ["Channel", "ConvergenceError", "Curve", "Equations", "Loss", "NonConvexLossError", "Solution",
           "equations", "lambda_path", "learning_curve", "optimal_lambda", "separability_threshold", "solve",
           "solve_square"]
