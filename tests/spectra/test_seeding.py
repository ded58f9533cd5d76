"""One randomness convention: every spectra object draws from its own kind of stream (gaussequiv.seeding)."""

import itertools

import numpy as np
import pytest

from spectra import estimate_covariances
from spectra.dcgan import DCGAN
from spectra.features import generator_mean, learn_features, random_features, random_fourier_features
from spectra.generators import DeepRandom, SingleLayer
from spectra.teachers import CommitteeTeacher, LinearTeacher

SEEDS = (0, 1, 2, 7, 12345)


class _Recorder(SingleLayer):
    """A sign layer that keeps every latent batch it is called with (to see the stream a function draws)."""

    def _forward(self, c):
        self.seen.append(np.array(c, dtype=float))
        return super()._forward(c)


def _recorder(D, seed):
    gen = _Recorder(D, 8, "sign", seed=seed)
    gen.seen = []
    return gen


@pytest.mark.parametrize("seed", SEEDS)
def test_teacher_is_not_a_row_of_the_generator(seed):
    """Reference: for independent N(0, 1) vectors of length D the sample correlation is ~ N(0, 1/D), so over
    N = 50 rows max |corr| < 6/sqrt(D) fails with probability < 1e-7. Before the per-kind streams,
    LinearTeacher.random(D, seed) equalled sqrt(D) times row 0 of SingleLayer(D, N, seed) (correlation 1.0)."""
    D = 400
    theta = LinearTeacher.random(D, seed=seed).theta
    weights = SingleLayer(D, 50, "sign", seed=seed).weights
    corr = (weights - weights.mean(1, keepdims=True)) @ (theta - theta.mean())
    corr /= np.linalg.norm(weights - weights.mean(1, keepdims=True), axis=1) * np.linalg.norm(theta - theta.mean())
    assert np.max(np.abs(corr)) < 6 / np.sqrt(D)
    committee = CommitteeTeacher.random(3, D, seed=seed).B
    assert abs(np.corrcoef(committee[0], theta)[0, 1]) < 6 / np.sqrt(D)


def _first_draws(seed, m):
    """The first ``m`` standard-normal numbers each kind of object drew for ``seed`` (rescaled to N(0, 1))."""
    D = 20
    out = {
        "SingleLayer": SingleLayer(D, m // D, seed=seed).weights.ravel() * np.sqrt(D),
        "DeepRandom": DeepRandom([D, m // D, 3], seed=seed).weights[0].ravel() * np.sqrt(D),
        "DCGAN.random": DCGAN.random(seed, latent_dim=m // 16, ngf=2, channels=1, image_size=8,
                                     calibration=2).layers[0].weight.ravel()[:m] / 0.02,
        "LinearTeacher": LinearTeacher.random(m, seed=seed).theta,
        "CommitteeTeacher": CommitteeTeacher.random(m // D, D, seed=seed).B.ravel(),
        "random_features": random_features(D, m // D, seed=seed).weights.ravel(),
        "random_fourier_features": random_fourier_features(D, m // D, seed=seed).weights.ravel(),
    }
    gen = _recorder(D, 99)
    learn_features(gen, lambda c: c[:, 0], p=2, n_train=m // D, steps=1, seed=seed)
    out["learn_features samples"] = gen.seen[-1].ravel()
    gen = _recorder(D, 99)
    generator_mean(gen, m // D, seed=seed)
    out["generator_mean samples"] = gen.seen[-1].ravel()
    gen = _recorder(D, 99)
    out["Generator.sample"] = gen.sample(m // D, seed=seed)[0].astype(float).ravel()
    gen = _recorder(D, 99)
    estimate_covariances(gen, n_samples=m // D, batch_size=m // D, seed=seed, progress=False)
    out["estimate_covariances samples"] = gen.seen[-1].ravel()
    return out


@pytest.mark.parametrize("seed", (0, 3, 2**40))
def test_every_kind_of_object_has_its_own_stream(seed):
    """Reference: independent N(0, 1) samples of length m have sample correlation ~ N(0, 1/m); each of the 55
    pairs of kinds stays below 6/sqrt(m) (all pairs fail together with probability < 1e-6 at any seed)."""
    m = 800
    draws = _first_draws(seed, m)
    assert all(v.size == m for v in draws.values()), {k: v.size for k, v in draws.items()}
    for (a, x), (b, y) in itertools.combinations(draws.items(), 2):
        r = np.corrcoef(x, y)[0, 1]
        assert abs(r) < 6 / np.sqrt(m), (a, b, r)
    again = _first_draws(seed, m)  # and each stream is reproducible
    for key, value in draws.items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)


def _constructors():
    gen = SingleLayer(4, 6, seed=0)
    return {
        "SingleLayer": lambda s: SingleLayer(4, 6, seed=s),
        "DeepRandom": lambda s: DeepRandom([4, 5, 6], seed=s),
        "DCGAN.random": lambda s: DCGAN.random(s, ngf=2, image_size=8, calibration=4),
        "LinearTeacher.random": lambda s: LinearTeacher.random(4, seed=s),
        "CommitteeTeacher.random": lambda s: CommitteeTeacher.random(2, 4, seed=s),
        "random_features": lambda s: random_features(6, 3, seed=s),
        "random_fourier_features": lambda s: random_fourier_features(6, 3, seed=s),
        "learn_features": lambda s: learn_features(gen, lambda c: c[:, 0], p=2, n_train=10, steps=1, seed=s),
        "generator_mean": lambda s: generator_mean(gen, 10, seed=s),
        "Generator.sample": lambda s: gen.sample(3, seed=s),
        "estimate_covariances": lambda s: estimate_covariances(gen, n_samples=10, seed=s, progress=False),
    }


@pytest.mark.parametrize("name", list(_constructors()))
def test_none_and_negative_seeds_are_refused_everywhere(name):
    make = _constructors()[name]
    with pytest.raises(TypeError, match="seed must be an int >= 0"):
        make(None)
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -3"):
        make(-3)
    with pytest.raises(TypeError, match="seed must be"):
        make(1.5)
    make(np.random.SeedSequence(4))
    make(np.random.default_rng(4))


def test_default_seed_is_zero():
    """The documented default: every seeded constructor uses seed=0 when none is given."""
    np.testing.assert_array_equal(SingleLayer(4, 6).weights, SingleLayer(4, 6, seed=0).weights)
    np.testing.assert_array_equal(LinearTeacher.random(5).theta, LinearTeacher.random(5, seed=0).theta)
    np.testing.assert_array_equal(random_features(6, 3).weights, random_features(6, 3, seed=0).weights)
    np.testing.assert_array_equal(DeepRandom([3, 4]).weights[0], DeepRandom([3, 4], seed=0).weights[0])
    gen = SingleLayer(4, 6, seed=0)
    a = estimate_covariances(gen, n_samples=50, batch_size=10, progress=False)
    b = estimate_covariances(gen, n_samples=50, batch_size=10, seed=0, progress=False)
    np.testing.assert_array_equal(a.omega, b.omega)
