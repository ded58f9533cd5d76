"""Every channel samples its own labels (``Channel.sample``), from the law its theory uses.

The references are the channel's own likelihood (written out independently below) and its moments. Each
statistical check is a z-test at 6 standard errors: a false alarm has probability 2e-9 per check, so the tests
hold at any seed, not just the ones used here.
"""

import numpy as np
import pytest
from scipy import special

from replica import Channel
from validation import sample_labels

Z_MAX = 6.0
N = 40_000

#: (channel, an independent P(y = +1 | nu) or None for regression)
CHANNELS = [
    (Channel.sign(), lambda nu: (nu >= 0).astype(float)),
    (Channel.sign(flip=0.15), lambda nu: np.where(nu >= 0, 0.85, 0.15)),
    (Channel.probit(0.5), lambda nu: special.ndtr(nu / np.sqrt(0.5))),
    (Channel.logit(3.0), lambda nu: special.expit(3.0 * nu)),
    (Channel.from_likelihood("1/20 + (9/10)/(1 + exp(-3*y*z))"), lambda nu: 0.05 + 0.9 * special.expit(3 * nu)),
    (Channel.from_likelihood("1/(1 + exp(-1000*y*z))"), lambda nu: special.expit(1000.0 * nu)),
    (Channel.linear(0.3), None),
]
IDS = [c.name for c, _ in CHANNELS]


@pytest.mark.parametrize("channel,p_plus", CHANNELS, ids=IDS)
def test_label_frequencies_follow_the_likelihood(channel, p_plus):
    """Reference: P(y = +1 | nu) written out from each channel's definition, at five teacher fields (binomial
    z-test); for the linear channel y - nu ~ N(0, Delta) (z-tests of mean and variance, SE Delta sqrt(2/n))."""
    nus = np.array([-1.3, -0.2, 0.0, 4e-4, 0.7])
    nu = np.repeat(nus, N)
    y = channel.sample(nu, seed=11).reshape(nus.size, N)
    if p_plus is None:
        r = y - nus[:, None]
        assert np.all(np.abs(r.mean(axis=1)) < Z_MAX * np.sqrt(0.3 / N))
        assert np.all(np.abs(r.var(axis=1) - 0.3) < Z_MAX * 0.3 * np.sqrt(2.0 / N))
        return
    assert set(np.unique(y)) <= {-1.0, 1.0}
    p = p_plus(nus)
    freq = (y == 1.0).mean(axis=1)
    se = np.sqrt(np.maximum(p * (1 - p), 1e-12) / N)
    assert np.all(np.abs(freq - p) <= Z_MAX * se + 1e-12), (freq, p)
    # the likelihood the theory integrates is the one sampled from
    assert np.allclose(channel.likelihood(1.0, nus), p, rtol=1e-12, atol=1e-15)
    assert np.allclose(channel.likelihood(-1.0, nus) + channel.likelihood(1.0, nus), 1.0, rtol=0, atol=1e-14)


@pytest.mark.parametrize("channel,p_plus", CHANNELS, ids=IDS)
def test_sample_moments_match_channel_moments(channel, p_plus):
    """Reference: channel.moments(rho) = (E y^2, E[y nu]/rho), which the square loss's closed forms use; sample
    means of y^2 and y nu / rho over nu ~ N(0, rho) within 6 standard errors."""
    rho = 1.7
    nu = np.sqrt(rho) * np.random.default_rng(5).standard_normal(4 * N)
    y = channel.sample(nu, seed=12)
    ey2, kappa = channel.moments(rho)
    for vals, want in ((y * y, ey2), (y * nu / rho, kappa)):
        se = vals.std() / np.sqrt(vals.size)
        assert abs(vals.mean() - want) <= Z_MAX * se + 1e-12, (vals.mean(), want, se)


def test_seeds_and_generators():
    """An int seed is reproducible and independent of the other kinds of streams; a Generator is drawn from (two
    calls differ); None and negative seeds are refused (gaussequiv.seeding); the shape of nu is kept."""
    ch = Channel.logit(1.0)
    nu = np.zeros((3, 500))
    a, b = ch.sample(nu, seed=4), ch.sample(nu, seed=4)
    assert a.shape == nu.shape and np.array_equal(a, b)
    gen = np.random.default_rng(4)
    assert not np.array_equal(ch.sample(nu, gen), ch.sample(nu, gen))
    with pytest.raises(TypeError, match="seed"):
        ch.sample(nu, None)
    with pytest.raises(ValueError, match="seed"):
        ch.sample(nu, -1)
    with pytest.raises(ValueError, match="nu"):
        ch.sample(np.array([0.0, np.nan]), 0)


def test_sample_labels_delegates_to_the_channel():
    """validation.sample_labels is Channel.sample on its stream: the same labels from the same generator state,
    for every kind of channel."""
    from gaussequiv.seeding import rng

    nu = np.linspace(-2, 2, 301)
    for ch, _ in CHANNELS:
        assert np.array_equal(sample_labels(ch, nu, seed=9), ch.sample(nu, rng(9, "validation.labels")))
