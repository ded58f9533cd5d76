"""Replica saddle-point theory of full-batch ERM on Gaussian covariate models.

The public surface: :class:`Loss`, :class:`Channel`, :func:`solve` (one point), :func:`learning_curve`
and :func:`lambda_path` (warm-started sweeps returning a :class:`Curve`), :func:`optimal_lambda`,
:func:`solve_square` (the scalar ridge reduction), :func:`separability_threshold` (the sample ratio below
which the data are linearly separable) and :func:`equations` (the saddle-point equations as sympy objects).
At ``p = infinity`` (a :class:`spectra.SpectralDensity` in place of the spectrum): :func:`random_features_curve`
(random features along ``p/n``) and :func:`kernel_learning_curve` (per-sample spectra along ``n``).

Each name is imported from its submodule when first used (:func:`gaussequiv.integrity.lazy_exports`), and sympy
only when a formula is derived (:meth:`Loss.from_expr`, :attr:`Loss.expr`, :meth:`Channel.Z0`,
:meth:`Channel.from_likelihood`, :func:`equations`, :func:`bayes_optimal`): ``import replica`` is light, and the
built-in losses and channels solve without sympy.
"""

from typing import TYPE_CHECKING

__gaussequiv__ = True  # marker checked by gaussequiv.integrity (a foreign package of this name lacks it)

from gaussequiv.integrity import lazy_exports, require_own

require_own("spectra")

#: Public name -> the submodule that defines it (imported on first use).
_EXPORTS = {
    "BayesCurve": "bayes", "BayesSolution": "bayes", "bayes_optimal": "bayes", "bayes_optimal_curve": "bayes",
    "Channel": "channel",
    "Curve": "curves", "lambda_path": "curves", "learning_curve": "curves", "optimal_lambda": "curves",
    "Loss": "loss", "NonConvexLossError": "loss",
    "RandomFeaturesCurve": "random_features", "kernel_learning_curve": "random_features",
    "lambda_from_mei_montanari": "random_features", "mei_montanari_lambda": "random_features",
    "random_features_curve": "random_features",
    "ConvergenceError": "result", "Solution": "result",
    "solve_square": "ridge",
    "separability_threshold": "separability",
    "solve": "solver",
    "Equations": "symbolic_equations", "equations": "symbolic_equations",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # the same names, for static analysis
    from replica.bayes import BayesCurve, BayesSolution, bayes_optimal, bayes_optimal_curve
    from replica.channel import Channel
    from replica.curves import Curve, lambda_path, learning_curve, optimal_lambda
    from replica.loss import Loss, NonConvexLossError
    from replica.random_features import (
        RandomFeaturesCurve,
        kernel_learning_curve,
        lambda_from_mei_montanari,
        mei_montanari_lambda,
        random_features_curve,
    )
    from replica.result import ConvergenceError, Solution
    from replica.ridge import solve_square
    from replica.separability import separability_threshold
    from replica.solver import solve
    from replica.symbolic_equations import Equations, equations

__all__ = ["BayesCurve", "BayesSolution", "Channel", "ConvergenceError", "Curve", "Equations", "Loss",
           "NonConvexLossError", "RandomFeaturesCurve", "Solution", "bayes_optimal", "bayes_optimal_curve",
           "equations", "kernel_learning_curve", "lambda_from_mei_montanari", "lambda_path", "learning_curve",
           "mei_montanari_lambda", "optimal_lambda", "random_features_curve",
           "separability_threshold", "solve", "solve_square"]
