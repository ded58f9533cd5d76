"""Online-SGD ODEs of two-layer networks on generator data and the matching SGD simulations (theory §4).

Public API
----------
Setup, Student, IsotropicInputs
    Initial state and parameters of the spectral ODEs (from networks and covariances, isotropic inputs, or
    initial overlaps); the initial student network; Saad & Solla's inputs ``x = c`` as a generator.
integrate
    Integrate the ODEs (adaptive Runge-Kutta, the reference explicit Euler, or RK4), optionally binned.
simulate_sgd, simulate_sgd_seeds
    One-pass SGD on generator samples, measured the same way; averaged over seeds with error bars.
Trajectory, SGDAverage, Plateau
    Results: ``t``, ``eps_g`` (with the 1/2), ``Q``, ``R``, ``v``, ``T``; the seed average; the plateau
    height, length and escape time (:meth:`Trajectory.plateau`, :meth:`SGDAverage.plateau`).
generalisation_error, bin_modes, default_times, find_plateau
    Helpers.

Activations are the names of the one registry, ``spectra.activations.ACTIVATIONS``: ``"erf_sqrt2"`` is
erf(z/sqrt 2) (the default, Saad & Solla's unit), ``"erf"`` is erf(z), ``"linear"`` is z.

Each name is imported from its submodule when first used (:func:`gaussequiv.integrity.lazy_exports`).
"""

from typing import TYPE_CHECKING

__gaussequiv__ = True  # marker checked by gaussequiv.integrity (a foreign package of this name lacks it)

from gaussequiv.integrity import lazy_exports, require_own

require_own("spectra")

#: Public name -> the submodule that defines it (imported on first use).
_EXPORTS = {
    "generalisation_error": "integrals",
    "REFERENCE_DT": "ode", "bin_modes": "ode", "default_times": "ode", "integrate": "ode",
    "IsotropicInputs": "setup", "Setup": "setup", "Student": "setup",
    "SGDAverage": "sgd", "simulate_sgd": "sgd", "simulate_sgd_seeds": "sgd",
    "Plateau": "trajectory", "Trajectory": "trajectory", "find_plateau": "trajectory",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # the same names, for static analysis
    from dynamics.integrals import generalisation_error
    from dynamics.ode import REFERENCE_DT, bin_modes, default_times, integrate
    from dynamics.setup import IsotropicInputs, Setup, Student
    from dynamics.sgd import SGDAverage, simulate_sgd, simulate_sgd_seeds
    from dynamics.trajectory import Plateau, Trajectory, find_plateau

__all__ = [
    "REFERENCE_DT",
    "IsotropicInputs",
    "Plateau",
    "SGDAverage",
    "Setup",
    "Student",
    "Trajectory",
    "bin_modes",
    "default_times",
    "find_plateau",
    "generalisation_error",
    "integrate",
    "simulate_sgd",
    "simulate_sgd_seeds",
]
