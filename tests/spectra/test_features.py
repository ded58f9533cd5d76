"""Feature maps: identity, random features, random Fourier features, learned features."""

import numpy as np
import pytest
from scipy import special

from gaussequiv.seeding import stream
from spectra import estimate_covariances
from spectra.features import RandomFeatures, identity, learn_features, random_features, random_fourier_features
from spectra.generators import SingleLayer
from spectra.teachers import LinearTeacher


def test_random_features_definition():
    """Reference: sigma(W (x - mu)/sqrt(N)) in float64 by hand."""
    rf = random_features(6, 4, "erf", seed=0, input_mean=np.full(6, 0.5))
    x = np.random.default_rng(1).standard_normal((3, 6))
    np.testing.assert_allclose(rf(x), special.erf((x - 0.5) @ rf.weights.T / np.sqrt(6)), atol=1e-5)
    assert rf.name == "rf-erf:4" and rf.output_dim == 4 and rf.input_dim == 6
    np.testing.assert_array_equal(identity(6)(x), x)


def test_random_fourier_features_approximate_the_gaussian_kernel():
    """Reference: closed form k(x, x') = exp(-|x - x'|^2/(2 N l^2)); Monte Carlo error ~ 1/sqrt(p)."""
    N, p, ell = 10, 40_000, 0.7
    rff = random_fourier_features(N, p, bandwidth=ell, seed=3)
    x = np.random.default_rng(0).standard_normal((4, N)) * 0.8
    v = rff(x).astype(float)
    gram = v @ v.T / p
    d2 = np.sum((x[:, None] - x[None]) ** 2, axis=-1)
    np.testing.assert_allclose(gram, np.exp(-d2 / (2 * N * ell**2)), atol=4 * np.sqrt(2 / p))


def test_learned_features_gradient_and_training():
    """Reference: the training loss decreases, and learned features fit the teacher better than the
    random initialisation (ridge readout on fresh samples; simulation)."""
    gen = SingleLayer(20, 40, "erf", seed=0)
    teacher = LinearTeacher.random(20, seed=1)
    feats = learn_features(gen, teacher, p=30, n_train=1000, steps=150, learning_rate=0.5, seed=2)
    assert feats.train_loss[-1] < 0.5 * feats.train_loss[0]
    init = learn_features(gen, teacher, p=30, n_train=1000, steps=1, learning_rate=1e-9, seed=2)
    c = np.random.default_rng(9).standard_normal((2000, 20))
    y = teacher(c)
    x = gen(c)

    def ridge_error(f):
        v = f(x).astype(float)
        v -= v.mean(0)
        w = np.linalg.solve(v.T @ v + 1e-3 * np.eye(v.shape[1]), v.T @ (y - y.mean()))
        return np.mean((v @ w - (y - y.mean())) ** 2)

    assert ridge_error(feats) < ridge_error(init)


def test_learn_features_analytic_gradient():
    """Reference: central finite differences of the half-MSE in the first-layer weights."""

    gen = SingleLayer(5, 8, "tanh", seed=0)
    teacher = LinearTeacher.random(5, seed=1)
    lr = 1e-3
    f1 = learn_features(gen, teacher, p=4, n_train=50, steps=1, learning_rate=lr, seed=3, activation="tanh")
    f0 = learn_features(gen, teacher, p=4, n_train=50, steps=1, learning_rate=1e-12, seed=3, activation="tanh")
    # reconstruct the data and second layer of the run
    s_data, s_w, s_a = stream(3, "features.learned").spawn(3)  # the documented streams of learn_features
    c = np.random.default_rng(s_data).standard_normal((50, 5))
    x = gen(c).astype(float)
    y = teacher(c)
    xs = (x - x.mean(0)) / np.sqrt(8)
    a = np.random.default_rng(s_a).standard_normal(4)
    w0 = np.random.default_rng(s_w).standard_normal((4, 8))
    np.testing.assert_allclose(f0.weights, w0, atol=1e-9)

    def loss(w):
        r = np.tanh(xs @ w.T) @ a / 2 - y
        return 0.5 * np.mean(r**2)

    num = np.zeros_like(w0)
    for i in range(4):
        for j in range(8):
            e = np.zeros_like(w0)
            e[i, j] = 1e-6
            num[i, j] = (loss(w0 + e) - loss(w0 - e)) / 2e-6
    step = (w0 - f1.weights) / (lr * 4)  # the update is w -= lr * p * grad
    np.testing.assert_allclose(step, num, rtol=1e-5, atol=1e-9)


def test_features_with_estimator():
    gen = SingleLayer(10, 20, "sign", seed=0)
    rf = random_features(20, 15, "relu", seed=1)
    est = estimate_covariances(gen, rf, n_samples=1000, batch_size=200, seed=0, progress=False)
    assert est.omega.shape == (15, 15) and est.phi.shape == (15, 10)
    assert est.config["features"] == "rf-relu:15"


def test_feature_bad_input():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        random_features(5, 3, "gelu")
    with pytest.raises(ValueError, match="input_mean must have length 5"):
        random_features(5, 3, input_mean=np.zeros(4))
    with pytest.raises(ValueError, match="x has 4 columns"):
        random_features(5, 3, seed=0)(np.ones((2, 4)))
    with pytest.raises(ValueError, match="bandwidth must be > 0"):
        random_fourier_features(5, 3, bandwidth=0.0)
    with pytest.raises(ValueError, match="bandwidth must be finite"):
        random_fourier_features(5, 3, bandwidth=np.inf)
    with pytest.raises(ValueError, match="weights must be finite; entry \\(0, 1\\)"):
        RandomFeatures(np.array([[0.0, np.nan]]))
    gen = SingleLayer(5, 8, seed=0)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        learn_features(gen, LinearTeacher.random(5, seed=0), p=3, n_train=10, learning_rate=-1.0)
    with pytest.raises(ValueError, match="unknown activation 'sign'; choose one of 'erf' \\(erf\\(z\\)\\), 'tanh'"):
        learn_features(gen, LinearTeacher.random(5, seed=0), p=3, n_train=10, activation="sign")
    with pytest.raises(ValueError, match="teacher must return shape"):
        learn_features(gen, lambda c: c, p=3, n_train=10)


def test_generator_mean_and_centred_features():
    """Reference: the closed-form mean of relu(f.c), E = |f|/sqrt(2 pi), within 5 Monte Carlo errors."""
    from spectra.features import generator_mean

    gen = SingleLayer(6, 5, "relu", seed=0)
    mu = generator_mean(gen, 40_000, seed=1)
    norms = np.linalg.norm(gen.weights, axis=1)
    sd = np.sqrt(norms**2 / 2 - norms**2 / (2 * np.pi)) / np.sqrt(40_000)
    assert np.all(np.abs(mu - norms / np.sqrt(2 * np.pi)) < 5 * sd)
    rf = random_features(5, 3, "erf", seed=0, input_mean=mu)
    x = gen(np.random.default_rng(2).standard_normal((4, 6)))
    np.testing.assert_allclose(rf(x), random_features(5, 3, "erf", seed=0)(x - mu), atol=1e-6)
