"""Generators, feature maps, covariance estimation and the spectra the replica theory consumes (finite
:class:`Spectrum` objects and ``p = infinity`` :class:`SpectralDensity` objects)."""

__gaussequiv__ = True  # marker checked by gaussequiv.integrity (a foreign package of this name lacks it)

from spectra import analytic, dcgan, features, generators, teachers
from spectra.density import SpectralDensity
from spectra.estimate import CovarianceEstimate, estimate_covariances
from spectra.spectrum import Spectrum

__all__ = ["Spectrum", "SpectralDensity", "CovarianceEstimate", "estimate_covariances", "analytic", "dcgan", "features",
           "generators", "teachers"]
