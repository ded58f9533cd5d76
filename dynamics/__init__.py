"""Online-SGD ODEs of two-layer networks on generator data and the matching SGD simulations (theory §4).

Public API
----------
Setup, Student
    Initial state and parameters of the spectral ODEs; the initial student network.
integrate
    Integrate the ODEs (adaptive RK45, the reference explicit Euler, or RK4), optionally binned.
simulate_sgd
    One-pass SGD on generator samples, measured the same way.
Trajectory
    Result of both: ``t``, ``eps_g`` (with the 1/2), ``Q``, ``R``, ``v``, ``T``.
generalisation_error, bin_modes, default_times
    Helpers.
"""

__gaussequiv__ = True  # marker checked by gaussequiv.integrity (a foreign package of this name lacks it)

from gaussequiv.integrity import require_own

require_own("spectra")

from dynamics.integrals import generalisation_error
from dynamics.ode import REFERENCE_DT, bin_modes, default_times, integrate
from dynamics.setup import Setup, Student
from dynamics.sgd import simulate_sgd
from dynamics.trajectory import Trajectory

__all__ = [
    "REFERENCE_DT",
    "Setup",
    "Student",
    "Trajectory",
    "bin_modes",
    "default_times",
    "generalisation_error",
    "integrate",
    "simulate_sgd",
]
