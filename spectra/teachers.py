"""Teachers acting on the latent ``c`` (theory §1.2): the linear teacher of the replica part and the
committee teacher of the online-SGD part."""

from __future__ import annotations

import numpy as np

from gaussequiv.checks import integer
from gaussequiv.seeding import SeedLike, rng
from spectra._util import check_batch
from spectra.activations import get_activation

__all__ = ["LinearTeacher", "CommitteeTeacher"]

#: Committee activations, by their names in the one registry (``spectra.activations.ACTIVATIONS``): the ones whose
#: Gaussian integrals the online-SGD ODEs know in closed form. ``"erf_sqrt2"`` is g(z) = erf(z / sqrt 2), the
#: unit of the online-SGD literature and the default; ``"erf"`` is g(z) = erf(z); ``"linear"`` is g(z) = z.
COMMITTEE_ACTIVATIONS = ("erf_sqrt2", "erf", "linear")


def _finite(name: str, value, ndim: int) -> np.ndarray:
    arr = np.array(value, dtype=float)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    arr.setflags(write=False)
    return arr


class LinearTeacher:
    r"""Linear teacher field on the latent, :math:`\nu = \theta_0 \cdot c / \sqrt{D}`.

    Pair it with a replica channel (``y = nu``, ``y = sign(nu)``, ...). Its variance is
    :attr:`rho` :math:`= \|\theta_0\|^2 / D`.

    Parameters
    ----------
    theta : array, shape (D,)

    Examples
    --------
    >>> import numpy as np
    >>> from spectra.teachers import LinearTeacher
    >>> teacher = LinearTeacher(np.array([1.0, -1.0, 2.0, 0.0]))
    >>> teacher(np.array([[1.0, 1.0, 1.0, 1.0]]))
    array([1.])
    >>> teacher.rho
    1.5
    """

    def __init__(self, theta):
        self.theta = _finite("theta", theta, 1)
        self.latent_dim = int(self.theta.size)

    @classmethod
    def random(cls, D: int, seed: SeedLike = 0) -> LinearTeacher:
        """Teacher with ``theta ~ N(0, I_D)``.

        ``seed`` (int >= 0, SeedSequence or Generator; default 0) draws through
        ``gaussequiv.seeding.stream(seed, "teacher.linear")``: independent of generator weights, feature maps
        and samples built from the same seed (``LinearTeacher.random(D, seed=0)`` is not a row of
        ``SingleLayer(D, N, seed=0).weights``).
        """
        D = integer("D", D)
        return cls(rng(seed, "teacher.linear").standard_normal(D))

    @property
    def rho(self) -> float:
        """Teacher variance ``|theta|^2 / D``."""
        return float(self.theta @ self.theta) / self.latent_dim

    def __call__(self, c) -> np.ndarray:
        """Teacher fields ``nu`` (shape ``(n,)``) of latents ``c`` (shape ``(n, D)``)."""
        c = check_batch("c", c, self.latent_dim, what="len(theta)")
        return (c @ self.theta) / np.sqrt(self.latent_dim)


class CommitteeTeacher:
    r"""Committee teacher :math:`y = \sum_m A_m g(\nu_m)`, :math:`\nu_m = B_m \cdot c/\sqrt{D}` (theory §1.2).

    Parameters
    ----------
    B : array, shape (M, D)
        Teacher first-layer weights (reference: entries ~ N(0, 1)).
    A : array, shape (M,), optional
        Second-layer weights; default all ones.
    activation : {"erf_sqrt2", "erf", "linear"}
        A name of the activation registry: ``"erf_sqrt2"`` (default) is :math:`g(z) = \mathrm{erf}(z/\sqrt 2)`,
        ``"erf"`` is :math:`g(z) = \mathrm{erf}(z)` (as everywhere in the library), ``"linear"`` is
        :math:`g(z) = z`.

    Examples
    --------
    >>> import numpy as np
    >>> from spectra.teachers import CommitteeTeacher
    >>> teacher = CommitteeTeacher(np.eye(2, 4), activation="linear")
    >>> teacher.fields(np.array([[2.0, 4.0, 0.0, 0.0]]))
    array([[1., 2.]])
    >>> teacher(np.array([[2.0, 4.0, 0.0, 0.0]]))
    array([3.])
    """

    def __init__(self, B, A=None, activation: str = "erf_sqrt2"):
        self.B = _finite("B", B, 2)
        self.M, self.latent_dim = self.B.shape
        if A is None:
            A = np.ones(self.M)
        self.A = _finite("A", A, 1)
        if self.A.size != self.M:
            raise ValueError(f"A must have length M = B.shape[0] = {self.M}, got {self.A.size}")
        self._g = get_activation(activation, COMMITTEE_ACTIVATIONS)
        self.activation = self._g.name

    @classmethod
    def random(cls, M: int, D: int, activation: str = "erf_sqrt2", seed: SeedLike = 0) -> CommitteeTeacher:
        """Reference teacher: ``B`` with N(0, 1) entries and ``A = 1``.

        ``seed`` (default 0) draws through ``gaussequiv.seeding.stream(seed, "teacher.committee")``,
        independent of every other kind of object built from the same seed.
        """
        M, D = integer("M", M), integer("D", D)
        return cls(rng(seed, "teacher.committee").standard_normal((M, D)), activation=activation)

    def fields(self, c) -> np.ndarray:
        """Local fields ``nu`` of shape ``(n, M)``: ``c @ B.T / sqrt(D)``."""
        c = check_batch("c", c, self.latent_dim, what="B.shape[1]")
        return (c @ self.B.T) / np.sqrt(self.latent_dim)

    def __call__(self, c) -> np.ndarray:
        """Labels ``y = g(nu) @ A`` of shape ``(n,)``."""
        return self._g(self.fields(c)) @ self.A
