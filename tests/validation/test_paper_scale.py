"""Paper-scale check (slow): the built-in Fashion-MNIST DCGAN with ReLU random features, p = 1000."""

import numpy as np
import pytest

import replica
from replica import Channel, Loss
from spectra import Spectrum, estimate_covariances
from spectra.features import generator_mean, random_features
from spectra.generators import pretrained
from spectra.teachers import LinearTeacher
from validation import compare, simulate

ALPHAS = [0.5, 1.5, 3.0]


@pytest.fixture(scope="module")
def dcgan_problem():
    gen = pretrained("fashion-dcgan")
    mu = generator_mean(gen, 10_000, seed=np.random.SeedSequence([0, 1]))
    fmap = random_features(gen.output_dim, 1000, "relu", seed=1, input_mean=mu)
    est = estimate_covariances(gen, fmap, 200_000, batch_size=2000, seed=2, progress=False, precision="float32")
    teacher = LinearTeacher.random(gen.latent_dim, seed=np.random.SeedSequence([3, 7]))
    return gen, fmap, est, teacher, Spectrum.from_estimate(est, teacher.theta)


@pytest.mark.slow
@pytest.mark.parametrize("loss,channel,lam", [
    (Loss.square(), Channel.linear(0.1), 0.1),
    (Loss.logistic(), Channel.sign(), 0.01),
])
def test_dcgan_theory_matches_simulation(dcgan_problem, loss, channel, lam):
    """Reference: simulation on fresh DCGAN samples (10 seeds, 5000 test samples); every quantity at three
    alphas agrees by the verdict rule (Holm at family-wise level 1e-3)."""
    gen, fmap, est, teacher, spec = dcgan_problem
    curve = replica.learning_curve(spec, loss, channel, ALPHAS, lam)
    sim = simulate(gen, fmap, teacher, channel, loss, lam, ALPHAS, covariances=est, n_test=5000, seeds=10, seed=4)
    cmp = compare(curve, sim, spectrum=spec, level=1e-3)
    print(cmp.summary())
    assert cmp.verdict == "agree", cmp.summary()
