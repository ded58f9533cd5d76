"""Random generators and latent teachers (theory §1.1-1.2)."""

import numpy as np
import pytest
from scipy import special

from spectra.generators import DeepRandom, SingleLayer, pretrained
from spectra.teachers import CommitteeTeacher, LinearTeacher


@pytest.mark.parametrize("activation", ["sign", "erf", "tanh", "relu"])
def test_single_layer_forward_matches_definition(activation):
    """Reference: the definition x = sigma(F c) evaluated in float64."""
    gen = SingleLayer(7, 11, activation, seed=3)
    assert gen.weights.shape == (11, 7) and gen.latent_dim == 7 and gen.output_dim == 11
    assert gen.activation == activation
    c = np.random.default_rng(0).standard_normal((5, 7))
    f = {"sign": np.sign, "erf": special.erf, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[activation]
    x = gen(c)
    assert x.dtype == np.float32 and x.shape == (5, 11)
    np.testing.assert_allclose(x, f(c @ gen.weights.T), atol=1e-5)


def test_single_layer_weights_scaling_and_seeding():
    """Reference: F_ij ~ N(0, 1/D), so the mean squared row norm is 1 (simulation, D*N = 2e5 entries)."""
    gen = SingleLayer(400, 500, seed=0)
    assert np.mean(np.sum(gen.weights**2, axis=1)) == pytest.approx(1.0, abs=0.01)
    np.testing.assert_array_equal(SingleLayer(4, 5, seed=1).weights, SingleLayer(4, 5, seed=1).weights)
    assert not np.array_equal(SingleLayer(4, 5, seed=1).weights, SingleLayer(4, 5, seed=2).weights)
    rng = np.random.default_rng(5)
    assert SingleLayer(4, 5, seed=rng).weights.shape == (5, 4)
    with pytest.raises(ValueError, match="read-only"):
        gen.weights[0, 0] = 1.0


def test_deep_random_forward_and_seeds():
    """Reference: the definition, layer by layer, in float64."""
    gen = DeepRandom([6, 9, 4], "tanh", seed=2)
    w1, w2 = gen.weights
    assert w1.shape == (9, 6) and w2.shape == (4, 9)
    c = np.random.default_rng(1).standard_normal((3, 6))
    np.testing.assert_allclose(gen(c), np.tanh(np.tanh(c @ w1.T) @ w2.T), atol=1e-5)
    # independent child streams per layer
    assert not np.allclose(DeepRandom([5, 5, 5], seed=0).weights[0], DeepRandom([5, 5, 5], seed=0).weights[1])
    c, x = gen.sample(10, seed=0)
    assert c.shape == (10, 6) and x.shape == (10, 4)


def test_generator_bad_input():
    gen = SingleLayer(4, 6, seed=0)
    with pytest.raises(ValueError, match="c must be a 2-d array of shape \\(n, 4\\)"):
        gen(np.ones(4))
    with pytest.raises(ValueError, match="c has 5 columns but latent_dim is 4"):
        gen(np.ones((2, 5)))
    with pytest.raises(TypeError, match="real numeric"):
        gen(np.array([["a"] * 4]))
    with pytest.raises(ValueError, match="unknown activation 'softmax'"):
        SingleLayer(4, 6, "softmax")
    with pytest.raises(ValueError, match="D must be >= 1"):
        SingleLayer(0, 6)
    with pytest.raises(TypeError, match="N must be an int"):
        SingleLayer(4, 6.0)
    with pytest.raises(TypeError, match="seed must be"):
        SingleLayer(4, 6, seed="x")
    with pytest.raises(ValueError, match="at least two entries"):
        DeepRandom([4])
    with pytest.raises(TypeError, match="widths must be a sequence"):
        DeepRandom(4)
    with pytest.raises(ValueError, match="unknown pretrained generator"):
        pretrained("cifar")


def test_linear_teacher():
    """Reference: nu = theta.c/sqrt(D) by hand; rho = |theta|^2/D."""
    theta = np.array([3.0, 0.0, -1.0, 2.0])
    t = LinearTeacher(theta)
    c = np.array([[1.0, 5.0, 1.0, 0.5]])
    np.testing.assert_allclose(t(c), [(3 - 1 + 1) / 2])
    assert t.rho == pytest.approx(14 / 4)
    assert LinearTeacher.random(50, seed=0).theta.shape == (50,)
    with pytest.raises(ValueError, match="c has 3 columns but len\\(theta\\) is 4"):
        t(np.ones((2, 3)))
    with pytest.raises(ValueError, match="theta must be a 1-d array"):
        LinearTeacher(np.ones((2, 2)))
    with pytest.raises(ValueError, match="NaN or inf"):
        LinearTeacher([1.0, np.inf])


def test_committee_teacher():
    """Reference: y = sum_m A_m erf(nu_m/sqrt 2) by hand."""
    B = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 1.0]])
    A = np.array([0.5, 2.0])
    t = CommitteeTeacher(B, A)
    c = np.array([[1.0, 1.0, 1.0], [0.0, 3.0, -3.0]])
    nu = c @ B.T / np.sqrt(3)
    np.testing.assert_allclose(t.fields(c), nu)
    np.testing.assert_allclose(t(c), special.erf(nu / np.sqrt(2)) @ A)
    lin = CommitteeTeacher(B, activation="linear")
    np.testing.assert_allclose(lin(c), nu.sum(axis=1))
    assert CommitteeTeacher.random(3, 10, seed=0).B.shape == (3, 10)
    with pytest.raises(ValueError, match="A must have length M = B.shape\\[0\\] = 2"):
        CommitteeTeacher(B, np.ones(3))
    with pytest.raises(ValueError, match="unknown activation 'relu'"):
        CommitteeTeacher(B, activation="relu")
    with pytest.raises(ValueError, match="c has 2 columns but B.shape\\[1\\] is 3"):
        t.fields(np.ones((1, 2)))
