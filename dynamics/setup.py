r"""The initial state and parameters of the spectral ODEs (theory §4.2, §4.6): :class:`Setup` and
:class:`Student`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynamics.integrals import ODE_ACTIVATIONS, gaussian_integrals, generalisation_error
from gaussequiv import checks, seeding

__all__ = ["IsotropicInputs", "Setup", "Student"]

#: Relative slack allowed in the consistency bound ``sum_i b_i^2 / s_i <= D T_mm`` (theory §4.2).
CONSISTENCY_TOL = 1e-6
#: The default activation of students, teachers and ODEs: ``"erf_sqrt2"``, g(z) = erf(z/sqrt 2) (theory §4).
DEFAULT_ACTIVATION = ODE_ACTIVATIONS[0]


def _array(name: str, value, shape: tuple[int | None, int | None] | None = None, size: int | None = None):
    """A private, non-empty float64 copy of a checked vector (``size``) or matrix (``shape``)."""
    if shape is None:
        arr = checks.vector(name, value, size=size)
    else:
        arr = checks.matrix(name, value, shape)
        if 0 in arr.shape:
            raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    return np.array(arr, dtype=float)  # a copy: the caller's array is never made read-only


def _eigh_covariance(omega: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Eigenpairs of a symmetric PSD ``omega`` and the size below which an eigenvalue is round-off.

    ``eps`` is the machine epsilon of the precision ``omega`` was given in. The computed eigenvalues are exact
    for a matrix within ``~ N eps |omega|`` of ``omega`` (backward stability of the symmetric eigensolver,
    plus rounding of the entries), so ``null_tol = N eps max(s_max, max|omega_ij|)`` bounds their round-off:
    an eigenvalue below it cannot be told from 0, one below ``-null_tol`` is a real negative eigenvalue.
    """
    N = omega.shape[0]
    scale = max(float(np.max(np.abs(omega))), np.finfo(float).tiny)
    asym = float(np.max(np.abs(omega - omega.T)))
    if asym > 1e-8 * scale:
        raise ValueError(f"omega must be symmetric; max |omega - omega.T| = {asym:.3g}")
    s, e = np.linalg.eigh(0.5 * (omega + omega.T))
    null_tol = N * eps * max(scale, float(s[-1]))
    if s[0] < -null_tol:
        raise ValueError(f"omega must be positive semi-definite; its smallest eigenvalue is {s[0]:.3g}, below the "
                         f"round-off level -{null_tol:.3g} (N eps max|omega|)")
    return s, e, null_tol


@dataclass(frozen=True, eq=False)
class Student:
    r"""Initial weights of a two-layer student :math:`\hat y = \sum_k v_k g(w_k \cdot x / \sqrt N)`.

    Parameters
    ----------
    w : array_like, shape (K, N)
        First-layer weights (rows are the hidden units).
    v : array_like, shape (K,)
        Second-layer weights.
    activation : {"erf_sqrt2", "erf", "linear"}
        A name of the activation registry (``spectra.activations.ACTIVATIONS``): ``"erf_sqrt2"`` (default) is
        :math:`g(z) = \mathrm{erf}(z/\sqrt2)`, ``"erf"`` is :math:`g(z) = \mathrm{erf}(z)`, ``"linear"`` is
        :math:`g(z) = z`.
    train_second_layer : bool
        Whether SGD (and the ODEs) update ``v`` (with learning rate ``eta/N``, theory §4.1).

    Examples
    --------
    >>> from dynamics import Student
    >>> student = Student.random(K=2, N=50, seed=0)
    >>> student.w.shape, student.v.shape, student.activation
    ((2, 50), (2,), 'erf_sqrt2')
    """

    w: np.ndarray
    v: np.ndarray
    activation: str = DEFAULT_ACTIVATION
    train_second_layer: bool = True

    def __post_init__(self) -> None:
        w = _array("w", self.w, (None, None))
        v = _array("v", self.v, size=w.shape[0])
        gaussian_integrals(self.activation)
        w.setflags(write=False)
        v.setflags(write=False)
        object.__setattr__(self, "w", w)
        object.__setattr__(self, "v", v)
        object.__setattr__(self, "train_second_layer", checks.flag("train_second_layer", self.train_second_layer))

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
        seed: seeding.SeedLike,
        activation: str = DEFAULT_ACTIVATION,
        train_second_layer: bool = True,
    ) -> Student:
        r"""The reference initialisation of theory §4.1: :math:`(w_k)_i \sim N(0,1)`, :math:`v_k \sim N(0,1)`.

        Parameters
        ----------
        K, N : int
            Hidden units and input dimension.
        seed : int, numpy.random.SeedSequence or numpy.random.Generator
            Source of randomness (``gaussequiv.seeding``: the ``"student"`` stream of ``seed``, independent of
            the generator, teacher and SGD streams of the same seed).
        activation, train_second_layer
            As in :class:`Student`.

        Returns
        -------
        Student
        """
        K = checks.integer("K", K)
        N = checks.integer("N", N)
        rng = seeding.rng(seed, "student")
        w = rng.standard_normal((K, N))
        v = rng.standard_normal(K)
        return cls(w=w, v=v, activation=activation, train_second_layer=train_second_layer)

    def to_dict(self) -> dict:
        """Plain-dict view (arrays as numpy arrays). A parameter object, not a result: not flat."""
        return {"w": self.w, "v": self.v, "activation": self.activation,
                "train_second_layer": self.train_second_layer}


class IsotropicInputs:
    r"""The isotropic Gaussian inputs of Saad & Solla: :math:`x = c \sim N(0, I_N)`, so ``D = N`` and
    :math:`\Omega = \Phi = I_N` exactly.

    A generator object for :func:`dynamics.simulate_sgd` (it knows its exact covariances and zero mean), the
    simulation counterpart of :meth:`Setup.isotropic`.

    Parameters
    ----------
    N : int
        Input (= latent) dimension.

    Examples
    --------
    >>> import numpy as np
    >>> from dynamics import IsotropicInputs
    >>> gen = IsotropicInputs(3)
    >>> gen(np.ones((1, 3))).tolist(), gen.latent_dim, gen.output_dim
    ([[1.0, 1.0, 1.0]], 3, 3)
    """

    def __init__(self, N: int):
        self.N = checks.integer("N", N)
        self.latent_dim = self.output_dim = self.N

    def __call__(self, c) -> np.ndarray:
        """The inputs ``x = c`` (a float64 copy), shape ``(n, N)``."""
        return np.array(checks.matrix("c", c, (None, self.N)), dtype=float)

    @property
    def omega(self) -> np.ndarray:
        r""":math:`\Omega = I_N`."""
        return np.eye(self.N)

    @property
    def phi(self) -> np.ndarray:
        r""":math:`\Phi = E[x c^\top] = I_N`."""
        return np.eye(self.N)

    @property
    def mean(self) -> np.ndarray:
        """The output mean, 0."""
        return np.zeros(self.N)

    def fingerprint(self) -> str:
        """Identifies the generator in caches (``spectra.estimate``)."""
        return f"isotropic-{self.N}"

    def __repr__(self) -> str:
        return f"IsotropicInputs(N={self.N})"


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
    so that the ODE starts from the same state as the simulation it is compared with; with :meth:`isotropic`
    for Saad & Solla's inputs :math:`x = c`; or with :meth:`from_overlaps` from initial order parameters.

    *Consistency.* The joint law of :math:`(x, \nu_m)` needs :math:`\sum_i \tilde b_{mi}^2/s_i \le D\,T_{mm}`
    (the variance of the teacher field explained by the inputs cannot exceed its variance; per mode this is
    Cauchy-Schwarz, :math:`\tilde b_{mi}^2 \le s_i D T_{mm}`). It is checked with a relative slack of
    :data:`CONSISTENCY_TOL`. A mode with :math:`s_i = 0` must therefore carry no teacher projection: entries
    there below the round-off of a rotation, :math:`N\epsilon\,\|\tilde b_m\|`, are set to zero, larger ones
    are refused.

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
    activation : {"erf_sqrt2", "erf", "linear"}
        Student and teacher activation, a registry name: ``"erf_sqrt2"`` (default) is
        :math:`\mathrm{erf}(z/\sqrt2)`, ``"erf"`` is :math:`\mathrm{erf}(z)`, ``"linear"`` is :math:`z`.
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
    ...                            activation="erf_sqrt2")
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
    activation: str = DEFAULT_ACTIVATION
    train_second_layer: bool = True

    def __post_init__(self) -> None:
        s = _array("eigenvalues", self.eigenvalues)
        N = s.shape[0]
        if np.any(s < 0):
            raise ValueError(f"eigenvalues must be >= 0 (Omega is a covariance); the smallest is {s.min():.3g}")
        wp = _array("student_proj", self.student_proj, (None, N))
        bp = _array("teacher_proj", self.teacher_proj, (None, N))
        K, M = wp.shape[0], bp.shape[0]
        D = checks.integer("latent_dim", self.latent_dim)
        v = _array("v", self.v, size=K)
        A = _array("A", self.A, size=M)
        T = _array("T", self.T, (M, M))
        if np.max(np.abs(T - T.T)) > 1e-10 * np.max(np.abs(T)):
            raise ValueError("T must be symmetric (T = B B^T / D)")
        if np.linalg.eigvalsh(T)[0] <= 0:
            raise ValueError("T must be positive definite: the teacher vectors B_m must be linearly "
                             "independent")
        eta = checks.real("eta", self.eta, low=0.0, low_open=True)
        gaussian_integrals(self.activation)
        # A mode with s_i = 0 carries no signal: the teacher cannot project on it (Cauchy-Schwarz). Entries
        # below the round-off of the rotation b~ = e^T (Phi B), N eps |b~_m|, are set to zero; larger ones are
        # refused.
        null = s == 0
        if np.any(null):
            row_norm = np.sqrt(np.sum(bp**2, axis=1, keepdims=True))
            if np.any(np.abs(bp[:, null]) > N * np.finfo(float).eps * row_norm):
                raise ValueError("teacher_proj must vanish on modes with eigenvalue 0 (Cauchy-Schwarz); check "
                                 "that omega and phi come from the same generator and that phi is (N, D)")
            bp[:, null] = 0.0
        _check_consistency(np.sum(bp[:, ~null] ** 2 / s[~null], axis=1) / D, T)
        for name, arr in (("eigenvalues", s), ("student_proj", wp), ("teacher_proj", bp), ("v", v), ("A", A),
                          ("T", T)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "latent_dim", D)
        object.__setattr__(self, "eta", eta)
        object.__setattr__(self, "train_second_layer", checks.flag("train_second_layer", self.train_second_layer))

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
        activation: str = DEFAULT_ACTIVATION,
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
            :math:`\Omega = E[x x^\top]` of the centred inputs: exact, or a Monte Carlo estimate.
        phi : array_like, shape (N, D)
            :math:`\Phi = E[x c^\top]` (rows are input coordinates; never the transpose), from the same source.
        eta, activation, train_second_layer
            As in :class:`Setup`.

        Returns
        -------
        Setup
            With ``latent_dim = D`` taken from ``B``, so :math:`\delta = D/N` is never a free parameter.

        Notes
        -----
        *Small eigenvalues are kept.* Every mode with an eigenvalue above the round-off level of the
        eigendecomposition, ``null_tol = N eps max(s_max, max|omega_ij|)`` (``eps`` of the precision
        ``omega`` is given in), is kept with its computed eigenvalue and projections, however small: a Monte
        Carlo estimate of a generator with nearly constant pixels has genuine modes at ``1e-11 s_max``, and
        its teacher projections there are bounded by Cauchy-Schwarz,
        :math:`\tilde b_{mi}^2 \le s_i\,B_m^\top\hat\Psi B_m`, not by round-off. Such modes evolve on the slow
        time scale :math:`1/(\eta s_i)` and cost nothing extra.

        Only modes with :math:`|s_i| \le` ``null_tol`` are numerically null: their sign and size are round-off,
        so they get :math:`s_i = 0` and :math:`\tilde b_{mi} = 0`. That is consistent to round-off: the
        explained-variance bound :math:`\sum_i \tilde b_{mi}^2/\max(s_i, \text{null\_tol}) \le D T_{mm}` is
        checked with each eigenvalue replaced by the largest value it could have, so a null mode passes only if
        :math:`\tilde b_{mi}^2 \le \text{null\_tol}\, D T_{mm}`, and removing it changes :math:`R` and
        :math:`\tilde T` by round-off. Eigenvalues below ``-null_tol`` are refused (``omega`` is not PSD).

        The bound itself holds for the population covariances and, for a Monte Carlo estimate, with
        :math:`B\hat\Psi B^\top/D` in place of :math:`T` (the estimate is the exact covariance of its
        samples). A violation beyond :data:`CONSISTENCY_TOL` therefore means inconsistent inputs (``phi``
        transposed, ``omega`` and ``phi`` from different samples, a wrong latent dimension) or an estimate
        whose inputs explain all of the teacher's variance (e.g. a linear generator), where the ODE itself
        would break down.

        Examples
        --------
        A generator with a nearly dead pixel (scaled by 1e-6): its mode is kept, not zeroed.

        >>> import numpy as np
        >>> from dynamics import Setup
        >>> rng = np.random.default_rng(0)
        >>> F = rng.standard_normal((6, 4)) / 2
        >>> F[0] *= 1e-6                                   # x_0 = 1e-6 f_0 . c
        >>> B = rng.standard_normal((2, 4))
        >>> setup = Setup.from_weights(rng.standard_normal((2, 6)), [1.0, 1.0], B, [1.0, 1.0],
        ...                            omega=F @ F.T + 1e-14 * np.eye(6), phi=F, eta=0.1)
        >>> bool(setup.eigenvalues.min() > 0)
        True
        """
        w = _array("w", w, (None, None))
        N = w.shape[1]
        B = _array("B", B, (None, None))
        D = B.shape[1]
        omega_in = checks.matrix("omega", omega, (N, N), dtype=None)
        eps = float(np.finfo(omega_in.dtype).eps)
        omega = np.asarray(omega_in, dtype=float)
        phi = _array("phi", phi, (N, D))
        s, e, null_tol = _eigh_covariance(omega, eps)
        teacher_proj = (phi @ B.T).T @ e
        T = B @ B.T / D
        null = s <= null_tol
        _check_consistency(np.sum(teacher_proj**2 / np.maximum(s, null_tol), axis=1) / D, T)
        s[null] = 0.0
        teacher_proj[:, null] = 0.0
        return cls(eigenvalues=s, student_proj=w @ e, teacher_proj=teacher_proj, latent_dim=D, v=v, A=A, T=T,
                   eta=eta, activation=activation, train_second_layer=train_second_layer)

    @classmethod
    def from_network(cls, student: Student, teacher, *, omega, phi, eta: float) -> Setup:
        r"""Build the ODE state from the same student and teacher objects that :func:`simulate_sgd` uses.

        Parameters
        ----------
        student : Student
            Initial student network (weights, activation, whether the second layer is trained).
        teacher : spectra.teachers.CommitteeTeacher
            Committee teacher on the latent variable, with weights ``B`` (M, D) and ``A`` (M,) and the
            student's activation.
        omega : array_like, shape (N, N)
            Covariance of the centred generator outputs (exact, or a Monte Carlo estimate: see
            :meth:`from_weights` for how small eigenvalues are treated).
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
        checks.instance("student", student, Student)
        B, A = _teacher_weights(teacher)
        _check_teacher_activation(teacher, student.activation)
        return cls.from_weights(student.w, student.v, B, A, omega=omega, phi=phi, eta=eta,
                                activation=student.activation, train_second_layer=student.train_second_layer)

    @classmethod
    def isotropic(cls, student: Student, teacher, *, eta: float) -> Setup:
        r"""Saad & Solla's setting: isotropic Gaussian inputs :math:`x = c`, so ``D = N`` and
        :math:`\Omega = \Phi = I_N` (theory §4.6, Saad-Solla reduction), from actual networks.

        Equals :meth:`from_network` with ``omega = phi = I`` (every :math:`s_i = 1`, :math:`\delta = 1`) without
        building or diagonalising an ``N x N`` matrix. All modes share one eigenvalue, so
        ``integrate(..., bins=1)`` is exact and costs ``O(1)`` per step. The matching simulation is
        ``simulate_sgd(IsotropicInputs(N), teacher, student, ...)``.

        Parameters
        ----------
        student : Student
            Initial student, ``(K, N)`` weights.
        teacher : spectra.teachers.CommitteeTeacher
            Committee teacher with ``B`` of shape ``(M, N)`` (latent dimension ``D = N``).
        eta : float
            Learning rate.

        Returns
        -------
        Setup

        Examples
        --------
        >>> from spectra.teachers import CommitteeTeacher
        >>> from dynamics import Setup, Student
        >>> setup = Setup.isotropic(Student.random(2, 100, seed=0), CommitteeTeacher.random(2, 100, seed=1),
        ...                         eta=0.5)
        >>> setup.N, setup.delta, float(setup.eigenvalues.min())
        (100, 1.0, 1.0)
        """
        checks.instance("student", student, Student)
        B, A = _teacher_weights(teacher)
        if B.shape[1] != student.N:
            raise ValueError(f"isotropic inputs x = c need the teacher's latent dimension D = B.shape[1] = "
                             f"{B.shape[1]} to equal the student's input dimension N = {student.N}")
        _check_teacher_activation(teacher, student.activation)
        N = student.N
        return cls(eigenvalues=np.ones(N), student_proj=student.w, teacher_proj=B, latent_dim=N, v=student.v, A=A,
                   T=B @ B.T / N, eta=eta, activation=student.activation,
                   train_second_layer=student.train_second_layer)

    @classmethod
    def from_overlaps(
        cls,
        Q,
        R,
        T,
        v,
        A,
        *,
        eta: float,
        activation: str = DEFAULT_ACTIVATION,
        train_second_layer: bool = True,
    ) -> Setup:
        r"""Isotropic inputs (:math:`\Omega = \Phi = I`, ``D = N``) started from given order parameters.

        On isotropic inputs the ODEs of the order parameters close (theory §4.6, Saad-Solla reduction): they
        depend on the initial weights only through :math:`Q`, :math:`R`, :math:`T`. The state is therefore
        realised with ``N = K + M`` modes: with :math:`G = [[Q, R], [R^\top, T]] = F F^\top`, the projections
        are :math:`\tilde w = \sqrt N F_{:K}` and :math:`\tilde b = \sqrt N F_{K:}`, so that
        :attr:`Q`, :attr:`R` and :attr:`T_tilde` reproduce the input exactly.

        Parameters
        ----------
        Q : array_like, shape (K, K)
            Initial student-student overlaps.
        R : array_like, shape (K, M)
            Initial student-teacher overlaps.
        T : array_like, shape (M, M)
            Teacher-teacher overlaps (positive definite).
        v : array_like, shape (K,)
            Initial student second-layer weights.
        A : array_like, shape (M,)
            Teacher second-layer weights.
        eta, activation, train_second_layer
            As in :class:`Setup`.

        Returns
        -------
        Setup

        Raises
        ------
        ValueError
            If ``[[Q, R], [R^T, T]]`` is not symmetric positive semi-definite (no weights have these overlaps).

        Examples
        --------
        Saad & Solla's soft committee machine, K = M = 2, orthonormal teacher, second layers fixed to 1:

        >>> import numpy as np
        >>> from dynamics import Setup
        >>> setup = Setup.from_overlaps(0.2 * np.eye(2), 1e-3 * np.array([[1.0, 0.5], [0.2, 0.8]]), np.eye(2),
        ...                             [1.0, 1.0], [1.0, 1.0], eta=0.1, train_second_layer=False)
        >>> setup.N, setup.delta, bool(np.allclose(setup.Q, 0.2 * np.eye(2)))
        (4, 1.0, True)
        """
        Q = _array("Q", Q, (None, None))
        K = Q.shape[0]
        Q = _array("Q", Q, (K, K))
        T = _array("T", T, (None, None))
        M = T.shape[0]
        T = _array("T", T, (M, M))
        R = _array("R", R, (K, M))
        G = np.block([[Q, R], [R.T, T]])
        scale = float(np.max(np.abs(G)))
        if np.max(np.abs(G - G.T)) > 1e-12 * scale:
            raise ValueError("Q and T must be symmetric")
        lam, U = np.linalg.eigh(0.5 * (G + G.T))
        if lam[0] < -(K + M) * np.finfo(float).eps * max(scale, float(lam[-1])):
            raise ValueError(f"[[Q, R], [R^T, T]] must be positive semi-definite (a covariance of the local "
                             f"fields); its smallest eigenvalue is {lam[0]:.3g}")
        N = K + M
        F = np.sqrt(N) * U * np.sqrt(np.clip(lam, 0.0, None))  # (K+M) x N, F F^T = N G
        return cls(eigenvalues=np.ones(N), student_proj=F[:K], teacher_proj=F[K:], latent_dim=N, v=v, A=A, T=T,
                   eta=eta, activation=activation, train_second_layer=train_second_layer)

    def to_dict(self) -> dict:
        """Plain-dict view, including the derived ``delta``, ``Q``, ``R`` and ``eps_g`` (with the 1/2).

        A parameter object, not a result: arrays keep their shapes (per-mode ``(N,)``, ``(K, N)``, ...)."""
        return {
            "eigenvalues": self.eigenvalues, "student_proj": self.student_proj,
            "teacher_proj": self.teacher_proj, "latent_dim": self.latent_dim, "v": self.v, "A": self.A,
            "T": self.T, "eta": self.eta, "activation": self.activation,
            "train_second_layer": self.train_second_layer, "delta": self.delta, "Q": self.Q, "R": self.R,
            "eps_g": self.eps_g,
        }


def _check_consistency(explained: np.ndarray, T: np.ndarray) -> None:
    """Var(nu_m) >= variance explained by x, to a relative CONSISTENCY_TOL (theory §4.2)."""
    excess = explained - np.diag(T)
    if np.any(excess > CONSISTENCY_TOL * np.diag(T)):
        m = int(np.argmax(excess / np.diag(T)))
        raise ValueError(
            f"teacher {m}: the variance of its field explained by the inputs, {explained[m]:.6g}, exceeds "
            f"T[{m},{m}] = {T[m, m]:.6g}. omega, phi, B and latent_dim are inconsistent (phi transposed, "
            "covariances from different samples, or a wrong latent_dim), or the inputs explain all of the "
            "teacher's variance and the estimate overshoots it (use exact covariances or more samples)"
        )


def _teacher_weights(teacher) -> tuple[np.ndarray, np.ndarray]:
    """``(B, A)`` of a committee teacher object; ``A`` defaults to ones as in the teacher itself."""
    B = getattr(teacher, "B", None)
    if B is None:
        B = getattr(teacher, "weights", None)
    if B is None:
        raise TypeError(f"teacher must be a committee teacher with weights B (M, D); got {type(teacher).__name__}")
    B = _array("teacher.B", B, (None, None))
    A = getattr(teacher, "A", None)
    A = np.ones(B.shape[0]) if A is None else _array("teacher.A", A, size=B.shape[0])
    return B, A


def _check_teacher_activation(teacher, activation: str) -> None:
    """The theory needs the same ``g`` for teacher and student: compare the registry names when the teacher
    has one, and check numerically (any committee-like object) that its outputs are ``sum_m A_m g(nu_m)``."""
    act = gaussian_integrals(activation)
    name = getattr(teacher, "activation", None)
    if isinstance(name, str) and name != act.name:
        formula = gaussian_integrals(name).formula if name in ODE_ACTIVATIONS else "?"
        raise ValueError(f"the teacher's activation {name!r} ({formula}) differs from the student's "
                         f"{act.name!r} ({act.formula}); teacher and student must share g")
    B, A = _teacher_weights(teacher)
    c = seeding.rng(0, "dynamics-activation-check").standard_normal((8, B.shape[1]))
    want = act.g(c @ B.T / np.sqrt(B.shape[1])) @ A
    got = np.asarray(teacher(c), dtype=float).reshape(-1)
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-6):
        raise ValueError(
            f"the teacher's outputs are not sum_m A_m g(B_m.c/sqrt(D)) with the student's activation "
            f"{activation!r} ({act.formula}); teacher and student must share g"
        )
