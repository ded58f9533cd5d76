"""Generators, feature maps, covariance estimation and the spectra the replica theory consumes (finite
:class:`Spectrum` objects and ``p = infinity`` :class:`SpectralDensity` objects)."""

from spectra import analytic, dcgan, features, generators, teachers
from spectra.density import SpectralDensity
from spectra.estimate import CovarianceEstimate, estimate_covariances
from spectra.spectrum import Spectrum

__all__ = ["Spectrum", "SpectralDensity", "CovarianceEstimate", "estimate_covariances", "analytic", "dcgan", "features",
           "generators", "teachers"]
