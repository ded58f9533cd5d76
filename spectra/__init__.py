"""Generators, feature maps, covariance estimation and the spectra the replica theory consumes."""

from spectra.spectrum import Spectrum

__all__ = ["Spectrum"]
