"""Generators, feature maps, covariance estimation and the spectra the replica theory consumes."""

from spectra import analytic, generators, teachers
from spectra.spectrum import Spectrum

__all__ = ["Spectrum", "analytic", "generators", "teachers"]
