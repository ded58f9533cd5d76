"""Finite-size simulations that check the theory, comparisons, plots and the Gaussian-equivalence check.

* :func:`simulate`: ERM (ridge, logistic, hinge, any smooth convex loss) on fresh generator samples,
  measured in the conventions of :mod:`replica` (:class:`SimulationResult`);
* :func:`compare` and :func:`plot`: theory against simulation with z-scores and a verdict per group of
  quantities, by one rule (Holm at a family-wise level, :mod:`validation.compare`) (:class:`Comparison`);
* :func:`gaussian_equivalence`: distance between the law of the local fields and the matched Gaussian
  for growing input dimension, with its Monte Carlo floor (:class:`EquivalenceResult`);
* :func:`gaussian_control`: the Gaussian covariate model with the same covariances, as a problem
  :func:`simulate` runs (separates a Gaussian-equivalence gap from a theory error);
* :func:`simulate_separability` and :func:`is_separable`: linear-programming feasibility of Gaussian covariate
  data at finite size, the check of :func:`replica.separability_threshold` (:class:`SeparabilityResult`);
* :mod:`validation.fit`: the estimators themselves.

Each name is imported from its submodule when first used (:func:`gaussequiv.integrity.lazy_exports`).
"""

from typing import TYPE_CHECKING

__gaussequiv__ = True  # marker checked by gaussequiv.integrity (a foreign package of this name lacks it)

from gaussequiv.integrity import lazy_exports, require_own

require_own("spectra")
require_own("replica")

#: Public name -> the submodule that defines it (imported on first use). ``simulate`` and ``compare`` are the
#: functions, not their submodules, as before (see gaussequiv.integrity.lazy_exports).
_EXPORTS = {
    "AmpSimulation": "amp", "GampResult": "amp", "gamp": "amp", "simulate_amp": "amp",
    "GROUPS": "compare", "LEVEL": "compare", "Comparison": "compare", "GroupVerdict": "compare", "compare": "compare",
    "plot": "compare",
    "GaussianControl": "control", "gaussian_control": "control",
    "EquivalenceResult": "equivalence", "gaussian_equivalence": "equivalence", "sliced_wasserstein": "equivalence",
    "SeparabilityResult": "separable", "is_separable": "separable", "simulate_separability": "separable",
    "QUANTITIES": "simulate", "Covariances": "simulate", "SimulationResult": "simulate",
    "SimulationWarning": "simulate", "sample_labels": "simulate", "simulate": "simulate",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, ("fit",))

if TYPE_CHECKING:  # the same names, for static analysis
    from validation import fit
    from validation.amp import AmpSimulation, GampResult, gamp, simulate_amp
    from validation.compare import GROUPS, LEVEL, Comparison, GroupVerdict, compare, plot
    from validation.control import GaussianControl, gaussian_control
    from validation.equivalence import EquivalenceResult, gaussian_equivalence, sliced_wasserstein
    from validation.separable import SeparabilityResult, is_separable, simulate_separability
    from validation.simulate import (
        QUANTITIES,
        Covariances,
        SimulationResult,
        SimulationWarning,
        sample_labels,
        simulate,
    )

__all__ = ["GROUPS", "LEVEL", "QUANTITIES", "AmpSimulation", "Comparison", "Covariances", "EquivalenceResult",
           "GampResult", "GaussianControl", "GroupVerdict", "SeparabilityResult", "SimulationResult",
           "SimulationWarning", "compare", "fit", "gamp", "gaussian_control", "gaussian_equivalence", "is_separable",
           "plot", "sample_labels", "simulate", "simulate_amp", "simulate_separability", "sliced_wasserstein"]
