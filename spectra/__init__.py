"""Generators, feature maps, covariance estimation and the spectra the replica theory consumes (finite
:class:`Spectrum` objects and ``p = infinity`` :class:`SpectralDensity` objects).

Each name is imported from its submodule when first used (:func:`gaussequiv.integrity.lazy_exports`):
``import spectra`` is light, ``spectra.Spectrum`` imports :mod:`spectra.spectrum` alone.
"""

from typing import TYPE_CHECKING

__gaussequiv__ = True  # marker checked by gaussequiv.integrity (a foreign package of this name lacks it)

from gaussequiv.integrity import lazy_exports

#: Public name -> the submodule that defines it (imported on first use).
_EXPORTS = {"Spectrum": "spectrum", "SpectralDensity": "density", "CovarianceEstimate": "estimate",
            "estimate_covariances": "estimate"}
#: Public submodules (imported on first use).
_SUBMODULES = ("analytic", "dcgan", "features", "generators", "teachers")

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)

if TYPE_CHECKING:  # the same names, for static analysis
    from spectra import analytic, dcgan, features, generators, teachers
    from spectra.density import SpectralDensity
    from spectra.estimate import CovarianceEstimate, estimate_covariances
    from spectra.spectrum import Spectrum

__all__ = ["Spectrum", "SpectralDensity", "CovarianceEstimate", "estimate_covariances", "analytic", "dcgan", "features",
           "generators", "teachers"]
