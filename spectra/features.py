r"""Feature maps applied to generator outputs: identity, random features, random Fourier features and
learned features (the hidden layer of a trained two-layer network).

A feature map is a callable from ``(n, input_dim)`` to ``(n, output_dim)`` with a ``name``. Feature
maps do not centre their outputs: :func:`spectra.estimate_covariances` estimates the feature means with
the covariances, and every consumer subtracts those same means (theory §1.1). A map can centre its
*input* with a fixed ``input_mean`` (e.g. the generator mean from an earlier estimate), so that it acts
on the centred ``x = G(c) - mu_x``.
"""

from __future__ import annotations

import numpy as np

from gaussequiv import checks
from gaussequiv.seeding import SeedLike, rng, stream
from spectra._util import check_batch
from spectra.activations import get_activation

__all__ = [
    "FeatureMap",
    "Identity",
    "RandomFeatures",
    "RandomFourierFeatures",
    "LearnedFeatures",
    "identity",
    "random_features",
    "random_fourier_features",
    "learn_features",
    "generator_mean",
]

FEATURE_ACTIVATIONS = ("erf", "relu", "tanh", "sign")


class FeatureMap:
    """Base class: a callable ``(n, input_dim) -> (n, output_dim)`` with a ``name``."""

    input_dim: int
    output_dim: int
    name: str

    def __call__(self, x) -> np.ndarray:
        """Features of a batch ``x`` of shape ``(n, input_dim)``; returns ``(n, output_dim)``."""
        x = check_batch("x", x, self.input_dim, what="the feature map's input_dim")
        return self._apply(x)

    def _apply(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, {self.input_dim} -> {self.output_dim})"


def _input_mean(mean, dim: int) -> np.ndarray | None:
    if mean is None:
        return None
    return np.array(checks.vector("input_mean", mean, size=dim))  # a copy: the map is fixed once built


class Identity(FeatureMap):
    """The identity map ``v = x`` (the student sees the generator output)."""

    def __init__(self, dim: int):
        self.input_dim = self.output_dim = checks.integer("dim", dim)
        self.name = "identity"

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return x


class RandomFeatures(FeatureMap):
    r"""Random features :math:`v = \sigma(W (x - \mu)/\sqrt{N})`, :math:`W_{ij} \sim N(0, 1)`, shape (p, N)."""

    def __init__(self, weights, activation: str = "erf", input_mean=None):
        w = np.array(checks.matrix("weights", weights))  # a copy: made read-only below, never the caller's
        w.setflags(write=False)
        self.weights = w
        self.output_dim, self.input_dim = w.shape
        self._act = get_activation(activation, FEATURE_ACTIVATIONS)
        self.activation = self._act.name
        self.input_mean = _input_mean(input_mean, self.input_dim)
        self._wt32 = np.ascontiguousarray(w.T / np.sqrt(self.input_dim), dtype=np.float32)
        self.name = f"rf-{self.activation}:{self.output_dim}"

    def _apply(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if self.input_mean is not None:
            x = x - self.input_mean.astype(np.float32)
        return self._act(x @ self._wt32)


class RandomFourierFeatures(FeatureMap):
    r"""Random Fourier features :math:`v = \sqrt2 \cos(W (x-\mu)/(\sqrt N\,\ell) + b)`.

    With :math:`W_{ij} \sim N(0,1)` and :math:`b \sim U[0, 2\pi)`, :math:`E[v(x)\cdot v(x')]/p` tends to
    the Gaussian kernel :math:`\exp(-\|x - x'\|^2/(2N\ell^2))` (Rahimi & Recht 2007).
    """

    def __init__(self, weights, offsets, bandwidth: float = 1.0, input_mean=None):
        w = np.array(checks.matrix("weights", weights))
        b = np.array(checks.vector("offsets", offsets, size=w.shape[0]))
        bandwidth = checks.real("bandwidth", bandwidth, low=0.0, low_open=True)
        self.weights, self.offsets, self.bandwidth = w, b, bandwidth
        self.output_dim, self.input_dim = w.shape
        self.input_mean = _input_mean(input_mean, self.input_dim)
        self._wt32 = np.ascontiguousarray(w.T / (np.sqrt(self.input_dim) * self.bandwidth), dtype=np.float32)
        self._b32 = b.astype(np.float32)
        self.name = f"rff:{self.output_dim}:{self.bandwidth:g}"

    def _apply(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if self.input_mean is not None:
            x = x - self.input_mean.astype(np.float32)
        return np.float32(np.sqrt(2.0)) * np.cos(x @ self._wt32 + self._b32)


#: Activations :func:`learn_features` trains with (differentiable, gradients from ``Activation.dg``).
LEARNED_ACTIVATIONS = ("erf", "tanh", "relu")


class LearnedFeatures(RandomFeatures):
    r"""Hidden layer :math:`\sigma(W(x - \mu)/\sqrt N)` of a trained two-layer network (see
    :func:`learn_features`). ``train_loss`` holds the half-MSE after each logged step."""

    def __init__(self, weights, activation: str, input_mean, train_loss):
        super().__init__(weights, activation, input_mean)
        self.train_loss = np.asarray(train_loss, dtype=float)
        self.name = f"learned-{self.activation}:{self.output_dim}"


# ------------------------------------------------------------------------------------------- constructors
def generator_mean(generator, n_samples: int = 10_000, seed: SeedLike = 0, batch_size: int = 2000) -> np.ndarray:
    """Monte Carlo mean of a generator's outputs (float64), to centre a feature map's input (theory §1.1).

    The latents come from ``gaussequiv.seeding.rng(seed, "features.generator_mean")``, a stream of its own:
    with the same ``seed`` they are independent of the estimation run's samples
    (:func:`spectra.estimate_covariances`). The feature map then subtracts this fixed vector, so it is one
    well-defined map; simulations must use the same feature-map object.

    Examples
    --------
    >>> from spectra.generators import SingleLayer
    >>> from spectra.features import generator_mean, random_features
    >>> gen = SingleLayer(5, 8, "relu", seed=0)
    >>> mu = generator_mean(gen, 2000, seed=1)
    >>> rf = random_features(8, 16, "erf", seed=2, input_mean=mu)
    >>> mu.shape
    (8,)
    """
    n_samples = checks.integer("n_samples", n_samples)
    batch_size = checks.integer("batch_size", batch_size)
    draw = rng(seed, "features.generator_mean")
    total = np.zeros(generator.output_dim)
    for start in range(0, n_samples, batch_size):
        size = min(batch_size, n_samples - start)
        x = np.asarray(generator(draw.standard_normal((size, generator.latent_dim), dtype=np.float32)))
        if not np.all(np.isfinite(x)):
            raise ValueError(f"generator returned NaN or inf in the batch starting at sample {start}")
        total += x.sum(axis=0, dtype=np.float64)
    return total / n_samples


def identity(dim: int) -> Identity:
    """The identity feature map on ``dim`` inputs.

    Examples
    --------
    >>> from spectra.features import identity
    >>> identity(3)
    Identity(identity, 3 -> 3)
    """
    return Identity(dim)


def random_features(input_dim: int, p: int, activation: str = "erf", seed: SeedLike = 0,
                    input_mean=None) -> RandomFeatures:
    r"""Random features :math:`v = \sigma(W (x-\mu)/\sqrt N)` with Gaussian :math:`W \in R^{p \times N}`.

    Parameters
    ----------
    input_dim : int
        ``N``, the generator's output dimension.
    p : int
        Number of features.
    activation : {"erf", "relu", "tanh", "sign"}
        A name of the activation registry (``spectra.activations.ACTIVATIONS``); ``"erf"`` is :math:`\mathrm{erf}(z)`.
    seed : int >= 0, numpy.random.SeedSequence or numpy.random.Generator
        Seed of ``W`` (default 0), drawn through ``gaussequiv.seeding.stream(seed, "features.random")``:
        independent of generator weights, teachers and samples built from the same seed.
    input_mean : array, shape (N,), optional
        Subtracted from ``x`` first (e.g. ``estimate.mean_v`` of an identity-feature estimate).

    Examples
    --------
    >>> import numpy as np
    >>> from spectra.features import random_features
    >>> rf = random_features(5, 3, "relu", seed=0)
    >>> rf(np.zeros((2, 5)))
    array([[0., 0., 0.],
           [0., 0., 0.]], dtype=float32)
    """
    N, p = checks.integer("input_dim", input_dim), checks.integer("p", p)
    w = rng(seed, "features.random").standard_normal((p, N))
    return RandomFeatures(w, activation, input_mean)


def random_fourier_features(input_dim: int, p: int, bandwidth: float = 1.0, seed: SeedLike = 0,
                            input_mean=None) -> RandomFourierFeatures:
    r"""Random Fourier features of the Gaussian kernel of width :math:`\ell\sqrt N` (``bandwidth`` = :math:`\ell`).

    ``W`` and ``b`` come from children 0 and 1 of ``gaussequiv.seeding.stream(seed, "features.fourier")``
    (``seed`` defaults to 0).

    Examples
    --------
    >>> import numpy as np
    >>> from spectra.features import random_fourier_features
    >>> rff = random_fourier_features(4, 2000, seed=0)
    >>> x = np.zeros((1, 4), dtype=np.float32)
    >>> round(float((rff(x) ** 2).sum()) / 2000, 1)   # k(x, x) = 1
    1.0
    """
    N, p = checks.integer("input_dim", input_dim), checks.integer("p", p)
    ss = stream(seed, "features.fourier").spawn(2)
    w = np.random.default_rng(ss[0]).standard_normal((p, N))
    b = np.random.default_rng(ss[1]).uniform(0, 2 * np.pi, p)
    return RandomFourierFeatures(w, b, bandwidth, input_mean)


def learn_features(generator, teacher, p: int, n_train: int, *, activation: str = "erf", steps: int = 200,
                   learning_rate: float = 1.0, seed: SeedLike = 0, log_every: int = 10) -> LearnedFeatures:
    r"""Learned features: the hidden layer of a two-layer network trained on generator data.

    The network :math:`f(x) = a \cdot \sigma(W (x-\mu)/\sqrt N)/\sqrt p` is trained by full-batch gradient
    descent on the half-MSE :math:`\frac{1}{2n}\sum_\mu (f(x^\mu) - y^\mu)^2` over ``n_train`` samples
    ``x = G(c)`` labelled ``y = teacher(c)``; ``mu`` is their mean (so the features act on centred
    inputs). Both layers are trained; the learning rate of each is scaled so that a step changes the
    output by O(learning_rate) (``W`` by ``lr * p``, ``a`` by ``lr``). Returns the hidden layer only.

    Parameters
    ----------
    generator : callable
        Generator with ``latent_dim`` and ``output_dim``.
    teacher : callable
        Labels from latents, ``(n, D) -> (n,)`` (e.g. :class:`spectra.teachers.LinearTeacher`).
    p : int
        Hidden width (number of features).
    n_train : int
        Training samples (independent of any later estimation samples, which use other seeds).
    activation : {"erf", "tanh", "relu"}
        Registry name of the hidden activation; ``"erf"`` is :math:`\mathrm{erf}(z)`.
    steps : int
        Gradient steps.
    learning_rate : float
    seed : int >= 0, numpy.random.SeedSequence or numpy.random.Generator
        Seeds the training samples, ``W`` and ``a`` (children 0, 1, 2 of
        ``gaussequiv.seeding.stream(seed, "features.learned")``; default 0), independent of the estimator's
        samples and of any model built from the same seed.

    Examples
    --------
    >>> from spectra.generators import SingleLayer
    >>> from spectra.teachers import LinearTeacher
    >>> from spectra.features import learn_features
    >>> gen = SingleLayer(10, 20, "erf", seed=0)
    >>> feats = learn_features(gen, LinearTeacher.random(10, seed=1), p=8, n_train=200, steps=20, seed=2)
    >>> bool(feats.train_loss[-1] < feats.train_loss[0])
    True
    """
    p, n_train = checks.integer("p", p), checks.integer("n_train", n_train, minimum=2)
    steps = checks.integer("steps", steps)
    log_every = checks.integer("log_every", log_every)
    act = get_activation(activation, LEARNED_ACTIVATIONS)
    learning_rate = checks.real("learning_rate", learning_rate, low=0.0, low_open=True)
    s_data, s_w, s_a = stream(seed, "features.learned").spawn(3)
    c = np.random.default_rng(s_data).standard_normal((n_train, generator.latent_dim))
    x = np.asarray(generator(c), dtype=float)
    y = np.asarray(teacher(c), dtype=float)
    if y.shape != (n_train,):
        raise ValueError(f"teacher must return shape (n,) = ({n_train},), got {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("generator or teacher returned NaN or inf on the training samples")
    N = x.shape[1]
    mu = x.mean(axis=0)
    xs = (x - mu) / np.sqrt(N)
    w = np.random.default_rng(s_w).standard_normal((p, N))
    a = np.random.default_rng(s_a).standard_normal(p)
    losses = []
    for step in range(steps + 1):
        z = xs @ w.T
        h = act(z)
        resid = h @ a / np.sqrt(p) - y
        if step % log_every == 0 or step == steps:
            losses.append(0.5 * float(resid @ resid) / n_train)
        if step == steps:
            break
        grad_a = h.T @ resid / (n_train * np.sqrt(p))
        grad_z = (resid[:, None] * a[None, :] / np.sqrt(p)) * act.dg(z)
        grad_w = grad_z.T @ xs / n_train
        a = a - learning_rate * grad_a
        w = w - learning_rate * p * grad_w
    if not np.all(np.isfinite(w)):
        raise ValueError(f"training diverged (non-finite weights); lower learning_rate (got {learning_rate})")
    return LearnedFeatures(w, activation, mu, losses)
