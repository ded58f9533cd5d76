"""Paper-scale checks (minutes): run with ``make test-slow``."""

import numpy as np
import pytest

from spectra import Spectrum, estimate_covariances
from spectra.analytic import single_layer_covariances
from spectra.features import random_features
from spectra.generators import SingleLayer, pretrained


@pytest.mark.slow
def test_fashion_spectrum_is_stable_under_halving_the_samples():
    """Reference: simulation (theory §3.2). The leading eigenvalues from n/2 and n samples agree within
    their batch-means errors, and the two halves merge into the full estimate."""
    gen = pretrained("fashion-dcgan")
    kw = dict(n_samples=200_000, batch_size=2000, seed=0, progress=False, precision="float32", groups=10)
    a = estimate_covariances(gen, batch_range=(0, 50), **kw)
    b = estimate_covariances(gen, batch_range=(50, 100), **kw)
    full = a.merge(b)
    se = np.sqrt(a.eigvals_se[:5] ** 2 + b.eigvals_se[:5] ** 2)
    assert np.all(np.abs(a.eigvals[:5] - b.eigvals[:5]) < 5 * se)
    spec = Spectrum.from_estimate(full)
    assert spec.p == 784 and full.n == 200_000


@pytest.mark.slow
def test_sign_layer_at_n_3072_matches_arcsine_law():
    """Reference: exact arcsine-law covariance at the paper's N = 3072, D = 100 (closed form)."""
    gen = SingleLayer(100, 3072, "sign", seed=0)
    omega, phi = single_layer_covariances(gen.weights, "sign")
    est = estimate_covariances(gen, n_samples=100_000, batch_size=2000, seed=1, progress=False,
                               precision="float32", groups=16)
    ratio = np.sum((est.phi - phi) ** 2) / np.sum(est.phi_se**2)
    assert 0.8 < ratio < 1.25
    top = np.sort(np.linalg.eigvalsh(omega))[::-1][:3]
    assert np.all(np.abs(est.eigvals[:3] - top) < 5 * est.eigvals_se[:3])


@pytest.mark.slow
def test_random_features_on_fashion_generator_runs():
    gen = pretrained("fashion-dcgan")
    rf = random_features(784, 1024, "erf", seed=0)
    est = estimate_covariances(gen, rf, n_samples=50_000, batch_size=2000, seed=0, progress=False,
                               precision="float32")
    assert est.omega.shape == (1024, 1024)
    assert Spectrum.from_estimate(est).p == 1024
