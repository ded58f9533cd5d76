r"""The initial state and parameters of the spectral ODEs (theory §4.2, §4.6): :class:`Setup` and
:class:`Student`."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from dynamics.integrals import generalisation_error, get_activation

__all__ = ["Setup", "Student"]

#: Relative size below which a negative eigenvalue of Omega is treated as round-off and clipped to zero.
NEGATIVE_TOL = 1e-10
#: Relative slack allowed in the consistency bound ``sum_i b_i^2 / s_i <= D T_mm`` (theory §4.2).
CONSISTENCY_TOL = 1e-6


def _vector(name: str, value, length: int | None = None) -> np.ndarray:
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers, got {type(value).__name__}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array, got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name} must have length {length}, got {arr.shape[0]}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    _finite(name, arr)
    return arr


def _matrix(name: str, value, shape: tuple[int | None, int | None]) -> np.ndarray:
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers, got {type(value).__name__}") from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array, got shape {arr.shape}")
    for axis, want in enumerate(shape):
        if want is not None and arr.shape[axis] != want:
            want_shape = tuple("*" if s is None else s for s in shape)
            raise ValueError(f"{name} must have shape {want_shape}, got {arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    _finite(name, arr)
    return arr


def _finite(name: str, arr: np.ndarray) -> None:
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")


def _positive_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def _eigh_covariance(omega: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of a symmetric PSD ``omega``; round-off negatives clipped, real negatives refused."""
    scale = max(float(np.max(np.abs(omega))), np.finfo(float).tiny)
    asym = float(np.max(np.abs(omega - omega.T)))
    if asym > 1e-8 * scale:
        raise ValueError(f"omega must be symmetric; max |omega - omega.T| = {asym:.3g}")
    s, e = np.linalg.eigh(0.5 * (omega + omega.T))
    if s[0] < -NEGATIVE_TOL * max(scale, float(s[-1])):
        raise ValueError(f"omega must be positive semi-definite; its smallest eigenvalue is {s[0]:.3g}")
    return np.clip(s, 0.0, None), e


@dataclass(frozen=True, eq=False)
class Student:
    r"""Initial weights of a two-layer student :math:`\hat y = \sum_k v_k g(w_k \cdot x / \sqrt N)`.

    Parameters
    ----------
    w : array_like, shape (K, N)
        First-layer weights (rows are the hidden units).
    v : array_like, shape (K,)
        Second-layer weights.
    activation : {"erf", "linear"}
        ``"erf"`` is :math:`g(z) = \mathrm{erf}(z/\sqrt2)`; ``"linear"`` is :math:`g(z) = z`.
    train_second_layer : bool
        Whether SGD (and the ODEs) update ``v`` (with learning rate ``eta/N``, theory §4.1).

    Examples
    --------
    >>> from dynamics import Student
    >>> student = Student.random(K=2, N=50, seed=0)
    >>> student.w.shape, student.v.shape, student.activation
    ((2, 50), (2,), 'erf')
    """

    w: np.ndarray
    v: np.ndarray
    activation: str = "erf"
    train_second_layer: bool = True

    def __post_init__(self) -> None:
        w = _matrix("w", self.w, (None, None))
        v = _vector("v", self.v, w.shape[0])
        get_activation(self.activation)
        if not isinstance(self.train_second_layer, bool | np.bool_):
            raise TypeError(f"train_second_layer must be a bool, got {type(self.train_second_layer).__name__}")
        w.setflags(write=False)
        v.setflags(write=False)
        object.__setattr__(self, "w", w)
        object.__setattr__(self, "v", v)
        object.__setattr__(self, "train_second_layer", bool(self.train_second_layer))

    @property
    def K(self) -> int:
        """Number of hidden units."""
        return self.w.shape[0]

    @property
    def N(self) -> int:
        """Input dimension."""
        return self.w.shape[1]

    @classmethod
    def random(
        cls,
        K: int,
        N: int,
        *,
        seed: int | np.random.Generator | None,
        activation: str = "erf",
        train_second_layer: bool = True,
    ) -> Student:
        r"""The reference initialisation of theory §4.1: :math:`(w_k)_i \sim N(0,1)`, :math:`v_k \sim N(0,1)`.

        Parameters
        ----------
        K, N : int
            Hidden units and input dimension.
        seed : int, numpy.random.Generator or None
            Source of randomness.
        activation, train_second_layer
            As in :class:`Student`.

        Returns
        -------
        Student
        """
        K = _positive_int("K", K)
        N = _positive_int("N", N)
        rng = np.random.default_rng(seed)
        w = rng.standard_normal((K, N))
        v = rng.standard_normal(K)
        return cls(w=w, v=v, activation=activation, train_second_layer=train_second_layer)

    def to_dict(self) -> dict:
        """Plain-dict view (arrays as numpy arrays)."""
        return {"w": self.w, "v": self.v, "activation": self.activation,
                "train_second_layer": self.train_second_layer}


@dataclass(frozen=True, eq=False)
class Setup:
    r"""Everything the spectral ODEs of theory §4.4 need: spectrum, initial per-mode projections, parameters.

    Let :math:`\Omega = \sum_i s_i e_i e_i^\top` (``N x N``) be the input covariance and
    :math:`\Phi = E[x c^\top]` (``N x D``). The state of the ODEs is built from

    * ``eigenvalues[i]`` :math:`= s_i`, length ``N`` (one per input dimension, zeros included);
    * ``student_proj[k, i]`` :math:`= \tilde w_{ki} = w_k \cdot e_i` (initial student weights);
    * ``teacher_proj[m, i]`` :math:`= \tilde b_{mi} = (\Phi B_m) \cdot e_i` (teacher, fixed in time);

    so that :math:`Q = \frac1N\sum_i s_i \tilde w_i \tilde w_i^\top` and
    :math:`R = \delta^{-1/2}\frac1N \sum_i \tilde w_i \tilde b_i^\top` with :math:`\delta = D/N`.
    Build it with :meth:`from_network` (or :meth:`from_weights`) from the actual weights and covariances,
    so that the ODE starts from the same state as the simulation it is compared with.

    Parameters
    ----------
    eigenvalues : array_like, shape (N,)
        Eigenvalues :math:`s_i \ge 0` of :math:`\Omega`.
    student_proj : array_like, shape (K, N)
        :math:`\tilde w_{ki}`.
    teacher_proj : array_like, shape (M, N)
        :math:`\tilde b_{mi}`.
    latent_dim : int
        ``D``, the latent dimension. Required, never defaulted: :math:`\delta = D/N` is computed from it.
    v : array_like, shape (K,)
        Initial second-layer weights of the student.
    A : array_like, shape (M,)
        Second-layer weights of the teacher.
    T : array_like, shape (M, M)
        :math:`T_{mn} = B_m \cdot B_n / D`, positive definite.
    eta : float
        Learning rate :math:`\eta > 0` (first layer :math:`\eta/\sqrt N`, second layer :math:`\eta/N` per step).
    activation : {"erf", "linear"}
        Student and teacher activation, ``"erf"`` meaning :math:`\mathrm{erf}(z/\sqrt2)`.
    train_second_layer : bool
        Whether ``v`` evolves.

    Examples
    --------
    >>> import numpy as np
    >>> from dynamics import Setup, Student
    >>> rng = np.random.default_rng(0)
    >>> N, D = 40, 20
    >>> F = rng.standard_normal((N, D)) / np.sqrt(D)   # linear generator x = F c
    >>> B = rng.standard_normal((2, D))
    >>> student = Student.random(K=2, N=N, seed=1)
    >>> setup = Setup.from_weights(student.w, student.v, B, np.ones(2), omega=F @ F.T, phi=F, eta=0.2,
    ...                            activation="erf")
    >>> setup.K, setup.M, setup.N, setup.delta
    (2, 2, 40, 0.5)
    """

    eigenvalues: np.ndarray
    student_proj: np.ndarray
    teacher_proj: np.ndarray
    latent_dim: int
    v: np.ndarray
    A: np.ndarray
    T: np.ndarray
    eta: float
    activation: str = "erf"
    train_second_layer: bool = True

    def __post_init__(self) -> None:
        s = _vector("eigenvalues", self.eigenvalues)
        N = s.shape[0]
        if np.any(s < 0):
            raise ValueError(f"eigenvalues must be >= 0 (Omega is a covariance); the smallest is {s.min():.3g}")
        wp = _matrix("student_proj", self.student_proj, (None, None))
        bp = _matrix("teacher_proj", self.teacher_proj, (None, None))
        if wp.shape[1] != N:
            raise ValueError(f"student_proj must have shape (K, N) with N = len(eigenvalues) = {N}, "
                             f"got {wp.shape}")
        if bp.shape[1] != N:
            raise ValueError(f"teacher_proj must have shape (M, N) with N = len(eigenvalues) = {N}, "
                             f"got {bp.shape}")
        K, M = wp.shape[0], bp.shape[0]
        D = _positive_int("latent_dim", self.latent_dim)
        v = _vector("v", self.v, K)
        A = _vector("A", self.A, M)
        T = _matrix("T", self.T, (M, M))
        if np.max(np.abs(T - T.T)) > 1e-10 * np.max(np.abs(T)):
            raise ValueError("T must be symmetric (T = B B^T / D)")
        if np.linalg.eigvalsh(T)[0] <= 0:
            raise ValueError("T must be positive definite: the teacher vectors B_m must be linearly "
                             "independent")
        eta = _positive_float("eta", self.eta)
        get_activation(self.activation)
        if not isinstance(self.train_second_layer, bool | np.bool_):
            raise TypeError(f"train_second_layer must be a bool, got {type(self.train_second_layer).__name__}")
        # A mode with s_i = 0 carries no signal: the teacher cannot project on it (Cauchy-Schwarz). Round-off
        # projections (relative size < 1e-8) on null modes are set to zero; larger ones are refused.
        null = s == 0
        if np.any(null):
            row_norm = np.sqrt(np.sum(bp**2, axis=1, keepdims=True))
            if np.any(np.abs(bp[:, null]) > 1e-8 * row_norm):
                raise ValueError("teacher_proj must vanish on modes with eigenvalue 0 (Cauchy-Schwarz); check "
                                 "that omega and phi come from the same generator and that phi is (N, D)")
            bp = bp.copy()
            bp[:, null] = 0.0
        # Consistency of the joint law of (x, nu): Var(nu_m) >= variance explained by x (theory §4.2).
        explained = np.sum(bp[:, ~null] ** 2 / s[~null], axis=1) / D
        excess = explained - np.diag(T)
        if np.any(excess > CONSISTENCY_TOL * np.diag(T)):
            m = int(np.argmax(excess / np.diag(T)))
            raise ValueError(
                f"teacher {m}: the variance of its field explained by the inputs, {explained[m]:.6g}, exceeds "
                f"T[{m},{m}] = {T[m, m]:.6g}. omega, phi, B and latent_dim are inconsistent (phi transposed, "
                "covariances from different samples, or a wrong latent_dim)"
            )
        for name, arr in (("eigenvalues", s), ("student_proj", wp), ("teacher_proj", bp), ("v", v), ("A", A),
                          ("T", T)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "latent_dim", D)
        object.__setattr__(self, "eta", eta)
        object.__setattr__(self, "train_second_layer", bool(self.train_second_layer))

    # -- derived quantities -------------------------------------------------------------------------------
    @property
    def N(self) -> int:
        """Input dimension (number of eigenmodes)."""
        return self.eigenvalues.shape[0]

    @property
    def K(self) -> int:
        """Student hidden units."""
        return self.student_proj.shape[0]

    @property
    def M(self) -> int:
        """Teacher hidden units."""
        return self.teacher_proj.shape[0]

    @property
    def delta(self) -> float:
        r""":math:`\delta = D/N`, computed from ``latent_dim`` and the number of modes."""
        return self.latent_dim / self.N

    @property
    def Q(self) -> np.ndarray:
        r"""Initial :math:`Q_{kl} = \frac1N \sum_i s_i \tilde w_{ki}\tilde w_{li}`."""
        wp = self.student_proj
        return (wp * self.eigenvalues) @ wp.T / self.N

    @property
    def R(self) -> np.ndarray:
        r"""Initial :math:`R_{km} = \delta^{-1/2}\frac1N\sum_i \tilde w_{ki}\tilde b_{mi}`."""
        return self.student_proj @ self.teacher_proj.T / (self.N * np.sqrt(self.delta))

    @property
    def T_tilde(self) -> np.ndarray:
        r""":math:`\tilde T_{mn} = \frac1N\sum_i \tilde b_{mi}\tilde b_{ni} = B_m^\top\Phi^\top\Phi B_n/N`."""
        return self.teacher_proj @ self.teacher_proj.T / self.N

    @property
    def eps_g(self) -> float:
        r"""Initial generalisation error :math:`\frac12 E(\hat y - y)^2` (with the 1/2)."""
        return float(generalisation_error(self.Q, self.R, self.T, self.v, self.A, self.activation))

    # -- constructors -------------------------------------------------------------------------------------
    @classmethod
    def from_weights(
        cls,
        w,
        v,
        B,
        A,
        *,
        omega,
        phi,
        eta: float,
        activation: str = "erf",
        train_second_layer: bool = True,
    ) -> Setup:
        r"""Build the ODE state from weights and covariances.

        Parameters
        ----------
        w : array_like, shape (K, N)
            Student first-layer weights.
        v : array_like, shape (K,)
            Student second-layer weights.
        B : array_like, shape (M, D)
            Teacher first-layer weights (on the latent ``c``).
        A : array_like, shape (M,)
            Teacher second-layer weights.
        omega : array_like, shape (N, N)
            :math:`\Omega = E[x x^\top]` of the centred inputs.
        phi : array_like, shape (N, D)
            :math:`\Phi = E[x c^\top]` (rows are input coordinates; never the transpose).
        eta, activation, train_second_layer
            As in :class:`Setup`.

        Returns
        -------
        Setup
            With ``latent_dim = D`` taken from ``B``, so :math:`\delta = D/N` is never a free parameter.
        """
        w = _matrix("w", w, (None, None))
        N = w.shape[1]
        B = _matrix("B", B, (None, None))
        D = B.shape[1]
        omega = _matrix("omega", omega, (N, N))
        phi = _matrix("phi", phi, (N, D))
        s, e = _eigh_covariance(omega)
        s[s <= NEGATIVE_TOL * s[-1]] = 0.0  # numerically null directions of a rank-deficient omega
        student_proj = w @ e
        teacher_proj = (phi @ B.T).T @ e
        return cls(eigenvalues=s, student_proj=student_proj, teacher_proj=teacher_proj, latent_dim=D, v=v, A=A,
                   T=B @ B.T / D, eta=eta, activation=activation, train_second_layer=train_second_layer)

    @classmethod
    def from_network(cls, student: Student, teacher, *, omega, phi, eta: float) -> Setup:
        r"""Build the ODE state from the same student and teacher objects that :func:`simulate_sgd` uses.

        Parameters
        ----------
        student : Student
            Initial student network (weights, activation, whether the second layer is trained).
        teacher : spectra.teachers.CommitteeTeacher
            Committee teacher on the latent variable, with weights ``B`` (M, D) and ``A`` (M,).
        omega : array_like, shape (N, N)
            Covariance of the centred generator outputs.
        phi : array_like, shape (N, D)
            :math:`E[x c^\top]`, input-latent covariance (``(N, D)``: rows are input coordinates).
        eta : float
            Learning rate.

        Returns
        -------
        Setup

        Examples
        --------
        >>> from spectra.analytic import single_layer_covariances
        >>> from spectra.generators import SingleLayer
        >>> from spectra.teachers import CommitteeTeacher
        >>> from dynamics import Setup, Student
        >>> gen = SingleLayer(D=10, N=50, activation="sign", seed=0)
        >>> omega, phi = single_layer_covariances(gen.weights, "sign")
        >>> teacher = CommitteeTeacher.random(M=2, D=10, seed=1)
        >>> setup = Setup.from_network(Student.random(K=2, N=50, seed=2), teacher, omega=omega, phi=phi,
        ...                            eta=0.5)
        >>> setup.delta   # D / N, from the shapes
        0.2
        """
        if not isinstance(student, Student):
            raise TypeError(f"student must be a dynamics.Student, got {type(student).__name__}")
        B, A = _teacher_weights(teacher)
        _check_teacher_activation(teacher, student.activation)
        return cls.from_weights(student.w, student.v, B, A, omega=omega, phi=phi, eta=eta,
                                activation=student.activation, train_second_layer=student.train_second_layer)

    def to_dict(self) -> dict:
        """Plain-dict view, including the derived ``delta``, ``Q``, ``R`` and ``eps_g`` (with the 1/2)."""
        return {
            "eigenvalues": self.eigenvalues, "student_proj": self.student_proj,
            "teacher_proj": self.teacher_proj, "latent_dim": self.latent_dim, "v": self.v, "A": self.A,
            "T": self.T, "eta": self.eta, "activation": self.activation,
            "train_second_layer": self.train_second_layer, "delta": self.delta, "Q": self.Q, "R": self.R,
            "eps_g": self.eps_g,
        }


def _teacher_weights(teacher) -> tuple[np.ndarray, np.ndarray]:
    """``(B, A)`` of a committee teacher object; ``A`` defaults to ones as in the teacher itself."""
    B = getattr(teacher, "B", None)
    if B is None:
        B = getattr(teacher, "weights", None)
    if B is None:
        raise TypeError(f"teacher must be a committee teacher with weights B (M, D); got {type(teacher).__name__}")
    B = _matrix("teacher.B", B, (None, None))
    A = getattr(teacher, "A", None)
    A = np.ones(B.shape[0]) if A is None else _vector("teacher.A", A, B.shape[0])
    return B, A


def _check_teacher_activation(teacher, activation: str) -> None:
    """The theory needs the same ``g`` for teacher and student: check it numerically, not by name."""
    B, A = _teacher_weights(teacher)
    rng = np.random.default_rng(12345)
    c = rng.standard_normal((8, B.shape[1]))
    g = get_activation(activation).g
    want = g(c @ B.T / np.sqrt(B.shape[1])) @ A
    got = np.asarray(teacher(c), dtype=float).reshape(-1)
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-6):
        raise ValueError(
            f"the teacher's outputs are not sum_m A_m g(B_m.c/sqrt(D)) with the student's activation "
            f"{activation!r} ({get_activation(activation).description}); teacher and student must share g"
        )
