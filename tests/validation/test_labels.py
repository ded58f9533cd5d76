"""Labels drawn through each replica channel follow its law (the channel's own formulas are the reference)."""

import numpy as np
import pytest
from scipy import special

from replica import Channel
from validation import sample_labels

N = 200_000


def test_linear_noise_variance():
    """Reference: y - nu ~ N(0, Delta); sample variance within 5 SE (SE of a variance: Delta sqrt(2/n))."""
    nu = np.zeros(N)
    y = sample_labels(Channel.linear(0.3), nu, seed=0)
    assert abs(y.var() - 0.3) < 5 * 0.3 * np.sqrt(2 / N)


def test_probit_and_flip_rates():
    """Reference: P(y = 1 | nu) = Phi(nu/sqrt(Delta)) for probit and 1 - flip for sign with flips at nu > 0;
    frequencies within 5 binomial SE."""
    nu = np.full(N, 0.4)
    y = sample_labels(Channel.probit(0.5), nu, seed=1)
    p = special.ndtr(0.4 / np.sqrt(0.5))
    assert abs(np.mean(y == 1) - p) < 5 * np.sqrt(p * (1 - p) / N)
    y = sample_labels(Channel.sign(0.1), nu, seed=2)
    assert abs(np.mean(y == -1) - 0.1) < 5 * np.sqrt(0.09 / N)


def test_likelihood_channel():
    """Reference: the logit likelihood P(y|z) = 1/(1 + exp(-2 y z)) evaluated by hand at nu = 0.3."""
    ch = Channel.from_likelihood("1/(1 + exp(-2*y*z))")
    y = sample_labels(ch, np.full(N, 0.3), seed=3)
    p = 1 / (1 + np.exp(-0.6))
    assert set(np.unique(y)) == {-1.0, 1.0}
    assert abs(np.mean(y == 1) - p) < 5 * np.sqrt(p * (1 - p) / N)


def test_sign_labels_are_pm1():
    """Reference: sign(0) is +1 here (a label must be +-1), never 0."""
    assert set(sample_labels(Channel.sign(), np.array([-1.0, 0.0, 2.0]), seed=0)) == {-1.0, 1.0}
    with pytest.raises(TypeError, match="channel"):
        sample_labels(object(), np.zeros(3), seed=0)
