"""Generators, feature maps, covariance estimation and the spectra the replica theory consumes."""

from spectra import analytic, dcgan, features, generators, teachers
from spectra.estimate import CovarianceEstimate, estimate_covariances
from spectra.spectrum import Spectrum

__all__ = ["Spectrum", "CovarianceEstimate", "estimate_covariances", "analytic", "dcgan", "features",
           "generators", "teachers"]
