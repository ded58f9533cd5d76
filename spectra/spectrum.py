"""The one input object of the replica theory: the spectrum of the student covariance and the teacher's
weights on its eigenvectors (theory §1.5)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from gaussequiv import checks

__all__ = ["Spectrum"]

#: Relative size below which a negative eigenvalue is treated as round-off and clipped to zero.
NEGATIVE_TOL = 1e-10
#: Relative slack allowed in the Cauchy-Schwarz bound ``t_i <= k rho s_i`` and in ``rho_lin <= rho``.
BOUND_TOL = 1e-8

TeacherKind = Literal["fixed", "averaged"]


def _precision(*arrays: np.ndarray) -> float:
    """Machine epsilon of the least precise floating input (float64's for integer or float64 input)."""
    return max([float(np.finfo(a.dtype).eps) for a in arrays if a.dtype.kind == "f"] + [float(np.finfo(float).eps)])


def _round_off(p: int, eps: float) -> float:
    """Relative size (to the largest eigenvalue) below which an eigenvalue of a ``p x p`` covariance stored
    with machine epsilon ``eps`` is round-off: ``max(NEGATIVE_TOL, p * eps)``. For float64 input below
    ``p = 4.5e5`` this is ``NEGATIVE_TOL``; for float32 it is ``p * 1.2e-7`` (the eigenvalues of a matrix
    whose entries carry relative errors ``eps`` move by up to ``eps`` times its Frobenius norm, which is at
    most ``sqrt(p)`` times its largest eigenvalue, and a float32 Gram matrix accumulates more)."""
    return max(NEGATIVE_TOL, p * eps)


def _symmetric_eigh(name: str, mat: np.ndarray, eps: float = float(np.finfo(float).eps)
                    ) -> tuple[np.ndarray, np.ndarray, int]:
    """Eigen-decomposition (float64) of a covariance stored with machine epsilon ``eps``: symmetry checked to
    ``max(1e-8, 64 eps)`` relative, PSD-ness to :func:`_round_off`; round-off negatives are set to 0 and
    counted (the third value)."""
    if mat.shape[0] != mat.shape[1]:
        raise ValueError(f"{name} must be square, got shape {mat.shape}")
    mat = np.asarray(mat, dtype=float)
    scale = max(float(np.max(np.abs(mat))), np.finfo(float).tiny)
    asym = float(np.max(np.abs(mat - mat.T)))
    if asym > max(1e-8, 64 * eps) * scale:
        raise ValueError(f"{name} must be symmetric; max |{name} - {name}.T| = {asym:.3g}")
    s, e = np.linalg.eigh(0.5 * (mat + mat.T))
    smax = max(float(np.max(s)), 0.0)
    tol = _round_off(mat.shape[0], eps) * smax
    if s.min() < -tol:
        i = int(np.argmin(s))
        raise ValueError(f"{name} must be positive semi-definite; its smallest eigenvalue {s[i]:.6g} is below "
                         f"the round-off threshold -{tol:.3g} (= -{tol / max(smax, np.finfo(float).tiny):.3g} * "
                         f"the largest) of a {mat.shape[0]} x {mat.shape[0]} matrix at this precision")
    neg = s < 0
    s = np.where(neg, 0.0, s)
    return s, e, int(np.count_nonzero(neg))


def _reconcile(s: np.ndarray, t: np.ndarray, rho: float, k: int, eps: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Make a spectrum computed from input less precise than float64 consistent to that precision.

    1. Eigenvalues at or below the round-off threshold ``thr`` of :func:`_round_off` are indistinguishable
       from 0: set to 0 with their teacher weight, which Cauchy-Schwarz bounds by ``k rho thr`` (a larger
       one raises). Otherwise ``t_i / s_i`` there is rounding noise divided by rounding noise.
    2. ``rho_lin = sum(t_i / s_i) / k`` then carries a relative error up to ``thr / min(s_i > 0)`` (each
       ``s_i`` is known to ``thr``, each ``t_i / s_i`` to that relative error), while ``rho`` needs no
       inversion. A ``rho_lin`` above ``rho`` by less than that is rounding: ``t`` is scaled down to
       ``rho_lin = rho``; by more, the spectrum is left for :class:`Spectrum` to refuse.

    float64 input is returned unchanged. The third value counts the eigenvalues set to 0.
    """
    if eps <= np.finfo(float).eps:
        return s, t, 0
    k_rho = k * rho
    thr = _round_off(s.size, eps) * max(float(np.max(s)), 0.0)
    null = (s > 0) & (s <= thr)
    big = np.flatnonzero(null & (t > k_rho * thr * (1 + BOUND_TOL)))
    if big.size:
        i = int(big[0])
        raise ValueError(f"t[{i}] = {t[i]:.6g} on an eigenvalue s[{i}] = {s[i]:.3g} below the round-off threshold "
                         f"{thr:.3g} of the input precision exceeds the Cauchy-Schwarz bound k*rho*threshold = "
                         f"{k_rho * thr:.6g}: Phi, theta and rho are inconsistent")
    s, t = np.where(null, 0.0, s), np.where(null, 0.0, t)
    pos = s > 0
    if pos.any():
        rho_lin = float(np.sum(t[pos] / s[pos])) / k
        slack = thr / float(np.min(s[pos]))
        if rho < rho_lin <= rho * (1 + slack):
            t = t * (rho / rho_lin)
    return s, t, int(np.count_nonzero(null))


def _check_bayes_prior(value, p: int, teacher: str, rho_lin: float) -> np.ndarray:
    """The validated, read-only ``bayes_prior`` of a :class:`Spectrum` (see its docstring)."""
    if teacher != "averaged":
        raise ValueError("bayes_prior belongs to the averaged teacher (theta ~ N(0, I_k)); a fixed teacher has no "
                         "Bayes prior spectrum: build the spectrum with teacher='averaged'")
    sig = checks.vector("bayes_prior", value, size=p).copy()
    top = max(float(np.max(sig)), 0.0)
    neg = np.flatnonzero(sig < 0)
    if neg.size and float(np.min(sig)) < -NEGATIVE_TOL * top:
        i = int(neg[np.argmin(sig[neg])])
        raise ValueError(f"bayes_prior must be >= 0 (eigenvalues of a covariance); bayes_prior[{i}] = {sig[i]:.6g}")
    sig[neg] = 0.0
    mean = float(np.sum(sig)) / p
    if abs(mean - rho_lin) > 1e-6 * max(rho_lin, np.finfo(float).tiny):
        raise ValueError(f"bayes_prior must have mean rho_lin = {rho_lin:.10g} (trace identity tr Sigma_b = "
                         f"p rho_lin), got {mean:.10g}: it belongs to another Omega or Phi")
    sig.setflags(write=False)
    return sig


def _bayes_prior_eigenvalues(e: np.ndarray, s: np.ndarray, phi: np.ndarray, k: int) -> np.ndarray:
    """Eigenvalues of ``(p/k) Omega^{+1/2} Phi Phi^T Omega^{+1/2}`` (length p, zeros included) from Omega's
    eigenpairs ``(s, e)``, the pseudo-inverse taken on the eigenvalues ``s > 0``."""
    p = s.size
    pos = s > 0
    m = (e[:, pos] / np.sqrt(s[pos])).T @ phi  # (r, k): the whitened student-teacher covariance
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    sig = np.clip(np.linalg.eigvalsh(gram)[::-1], 0.0, None) * (p / k)
    out = np.zeros(p)
    out[:min(sig.size, p)] = sig[:p]
    return out


@dataclass(frozen=True, eq=False)
class Spectrum:
    r"""Spectral data of a Gaussian covariate model: everything the replica equations need.

    With :math:`\Omega = \sum_i s_i e_i e_i^\top` the student-student covariance (``p x p``),
    :math:`\Phi` the student-teacher covariance (``p x k``, rows are student features) and
    :math:`\theta_0` the teacher weights on the ``k`` teacher features, the spectrum holds

    * ``s[i]``: the eigenvalues of :math:`\Omega` (length ``p``, non-negative);
    * ``t[i]``: :math:`(e_i^\top \Phi \theta_0)^2`, the teacher's squared projection on the ``i``-th
      eigenvector (**not** divided by ``k``); for the averaged teacher :math:`e_i^\top\Phi\Phi^\top e_i`;
    * ``rho``: the teacher variance :math:`\rho = \theta_0^\top \Psi \theta_0 / k = \mathrm{Var}\,\nu`;
    * ``gamma``: :math:`k/p`, teacher features per student feature;
    * ``teacher``: ``"fixed"`` (one given :math:`\theta_0`) or ``"averaged"`` (over
      :math:`\theta_0 \sim N(0, I_k)`), so a user always knows which convention a spectrum carries;
    * ``bayes_prior`` (optional, averaged teacher only): the eigenvalues :math:`\sigma_j` of the prior
      covariance :math:`\Sigma_b = (p/k)\,\Omega^{+1/2}\Phi\Phi^\top\Omega^{+1/2}` of the Bayes-optimal
      estimator (length ``p``, zeros included; ``docs/bayes_optimal.md``). ``(s, t)`` do not determine it
      unless :math:`\Omega` and :math:`\Phi\Phi^\top` commute; :meth:`from_covariances_averaged` fills it,
      ``None`` means unknown (:func:`replica.bayes_optimal` then uses the commuting form
      :math:`\sigma_i = t_i/(\gamma s_i)` and says so).

    Validation on construction (``ValueError`` naming the entry, through :mod:`gaussequiv.checks`): finite
    real arrays of equal length (complex entries are refused, not truncated);
    ``s >= 0`` (negatives with ``|s| <= 1e-10 max(s)`` are round-off and clipped to 0, larger ones
    raise); ``t >= 0``; the Cauchy-Schwarz bound ``t_i <= k rho s_i`` (so ``t_i = 0`` where
    ``s_i = 0``); and ``rho_lin <= rho``. A ``bayes_prior`` must be non-negative, of length ``p``, belong to
    an averaged teacher and satisfy the trace identity ``mean(bayes_prior) = rho_lin``.

    Build one with :meth:`from_covariances`, :meth:`from_covariances_averaged`, :meth:`from_arrays` or
    :meth:`isotropic` rather than calling the class directly.

    Examples
    --------
    >>> import numpy as np
    >>> from spectra import Spectrum
    >>> omega = np.diag([2.0, 1.0, 0.5])
    >>> spec = Spectrum.from_covariances(omega=omega, phi=omega, psi=omega, theta=np.array([0., 0., 1.]))
    >>> spec.p, spec.gamma, round(spec.rho, 6)
    (3, 1.0, 0.166667)
    >>> spec.t.round(6)  # the teacher sits on the smallest eigenvalue, not the largest
    array([0.25, 0.  , 0.  ])
    """

    s: np.ndarray
    t: np.ndarray
    rho: float
    gamma: float
    teacher: TeacherKind = "fixed"
    clipped: int = field(default=0)
    bayes_prior: np.ndarray | None = None

    def __post_init__(self) -> None:
        s = checks.vector("s", self.s)
        t = checks.vector("t", self.t)
        if s.shape != t.shape:
            raise ValueError(f"s and t must have equal lengths, got {s.size} and {t.size}")
        rho = checks.real("rho (the teacher variance)", self.rho, low=0.0, low_open=True)
        gamma = checks.real("gamma = k/p", self.gamma, low=0.0, low_open=True)
        if self.teacher not in ("fixed", "averaged"):
            raise ValueError(f"teacher must be 'fixed' or 'averaged', got {self.teacher!r}")
        smax = max(float(np.max(s)), 0.0)
        if smax <= 0:
            raise ValueError("s must have at least one positive eigenvalue")
        neg = np.flatnonzero(s < 0)
        big = neg[s[neg] < -NEGATIVE_TOL * smax]
        if big.size:
            i = int(big[0])
            raise ValueError(f"s must be >= 0 (a covariance is PSD); s[{i}] = {s[i]:.6g} is below the "
                             f"round-off threshold -{NEGATIVE_TOL:g} * max(s); check the covariance")
        s = s.copy()
        s[neg] = 0.0
        negt = np.flatnonzero(t < 0)
        if negt.size:
            i = int(negt[0])
            raise ValueError(f"t must be >= 0 (squared projections); t[{i}] = {t[i]:.6g}")
        k_rho = gamma * s.size * rho
        slack = BOUND_TOL * k_rho * smax
        viol = np.flatnonzero(t > k_rho * s + slack)
        if viol.size:
            i = int(viol[0])
            raise ValueError(f"t[{i}] = {t[i]:.6g} exceeds the Cauchy-Schwarz bound k*rho*s[{i}] = "
                             f"{k_rho * s[i]:.6g}: Phi, theta and rho are inconsistent (is Phi transposed, "
                             f"or rho from a different teacher?)")
        pos = s > 0
        rho_lin = float(np.sum(t[pos] / s[pos])) / (gamma * s.size)
        if rho_lin > rho * (1 + 1e-6):
            raise ValueError(f"rho_lin = {rho_lin:.6g} exceeds rho = {rho:.6g}: the teacher cannot be "
                             f"better predicted linearly than its own variance; check Phi, Psi and theta")
        s.setflags(write=False)
        t = t.copy()
        t.setflags(write=False)
        object.__setattr__(self, "s", s)
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "rho", rho)
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "clipped", int(self.clipped) + int(neg.size))
        if self.bayes_prior is not None:
            object.__setattr__(self, "bayes_prior", _check_bayes_prior(self.bayes_prior, s.size, self.teacher,
                                                                       rho_lin))

    # ------------------------------------------------------------------ derived quantities
    @property
    def p(self) -> int:
        """Number of student features."""
        return int(self.s.size)

    @property
    def k(self) -> float:
        """Number of teacher features, ``gamma * p``."""
        return self.gamma * self.p

    @property
    def weights(self) -> np.ndarray:
        """Quadrature weights of the replica sums: ``1/p`` per mode (``(1/p) sum_i f = sum_i w_i f``).

        A :class:`spectra.SpectralDensity` carries its own weights; the solver only uses ``sum_i w_i f(s_i, t_i)``.
        """
        return np.full(self.p, 1.0 / self.p)

    @property
    def rho_lin(self) -> float:
        """Variance of the best linear predictor of the teacher field from the student features."""
        pos = self.s > 0
        return float(np.sum(self.t[pos] / self.s[pos])) / self.k

    @property
    def rank(self) -> int:
        """Number of strictly positive eigenvalues of Omega."""
        return int(np.count_nonzero(self.s > 0))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(cls, s, t, *, rho: float, gamma: float, teacher: TeacherKind = "fixed",
                    bayes_prior=None) -> Spectrum:
        """Spectrum from eigenvalues ``s`` and teacher weights ``t`` given directly.

        ``t[i]`` must be the squared projection of :math:`\\Phi\\theta_0` on the eigenvector of ``s[i]``
        (not divided by ``k``); ``gamma = k/p``. ``bayes_prior`` (averaged teacher only) is optional: the
        eigenvalues of the Bayes prior covariance (see the class docstring).
        """
        return cls(s=s, t=t, rho=rho, gamma=gamma, teacher=teacher, bayes_prior=bayes_prior)

    @classmethod
    def from_covariances(cls, *, omega, phi, psi, theta) -> Spectrum:
        r"""Spectrum of a Gaussian covariate model with a fixed teacher :math:`\theta_0`.

        Parameters
        ----------
        omega : array, shape (p, p)
            Student-student covariance :math:`E[v v^\top]` (symmetric PSD).
        phi : array, shape (p, k)
            Student-teacher covariance :math:`E[v u^\top]`; rows are student features. Passed by name
            because a transposed ``phi`` cannot be detected when ``p == k``.
        psi : array, shape (k, k)
            Teacher-teacher covariance :math:`E[u u^\top]` (``np.eye(D)`` for a latent teacher).
        theta : array, shape (k,)
            Teacher weights; the teacher field is :math:`\nu = \theta_0 \cdot u / \sqrt{k}`.

        Notes
        -----
        Omega is diagonalised with ``numpy.linalg.eigh`` (in float64) and :math:`\Phi\theta_0` is projected
        on the eigenvectors: ``t_i = (e_i^T phi theta)^2``. Separately sorted spectra are never paired.

        The tolerances follow the precision of the least precise input. For float64 a negative eigenvalue
        above ``-1e-10 max(s)`` is round-off (clipped to 0, counted in ``clipped``). For float32 (e.g. a
        low-rank Omega computed in float32) the round-off level is ``p * eps32 * max(s)``: eigenvalues within
        it of 0, of either sign, are set to 0 with their (Cauchy-Schwarz-bounded) teacher weight and counted
        in ``clipped``, and ``rho_lin`` may exceed ``rho`` by its own rounding error, ``threshold /
        min(s > 0)``, before ``t`` is scaled to ``rho_lin = rho``. Directions so dropped change the replica
        quantities at ``lam`` by at most ``k rho threshold / lam`` each; they matter only as ``lam -> 0``.

        Examples
        --------
        >>> import numpy as np
        >>> w = np.random.default_rng(0).standard_normal((40, 10)).astype(np.float32)
        >>> spec = Spectrum.from_covariances(omega=w @ w.T / 10, phi=w / np.sqrt(10), psi=np.eye(10, dtype=np.float32),
        ...                                  theta=np.ones(10, dtype=np.float32))
        >>> spec.rank, spec.clipped, bool(abs(spec.rho_lin / spec.rho - 1) < 1e-5)
        (10, 30, True)
        """
        omega = checks.matrix("omega", omega, dtype=None)
        p = omega.shape[0]
        phi = checks.matrix("phi", phi, (p, None), dtype=None)
        k = phi.shape[1]
        psi = checks.matrix("psi", psi, (k, k), dtype=None)
        theta = checks.vector("theta", theta, dtype=None)
        if theta.size != k:
            raise ValueError(f"theta must have length k = phi.shape[1] = {k}, got {theta.size}")
        eps = _precision(omega, phi, psi, theta)
        s, e, clipped = _symmetric_eigh("omega", omega, eps)
        _symmetric_eigh("psi", psi, eps)
        phi, psi, theta = (np.asarray(a, dtype=float) for a in (phi, psi, theta))
        rho = float(theta @ psi @ theta) / k
        t = (e.T @ (phi @ theta)) ** 2
        s, t, nulled = _reconcile(s, t, rho, k, eps)
        return cls(s=s, t=t, rho=rho, gamma=k / p, teacher="fixed", clipped=clipped + nulled)

    @classmethod
    def from_covariances_averaged(cls, *, omega, phi, psi) -> Spectrum:
        r"""Spectrum averaged over the teacher :math:`\theta_0 \sim N(0, I_k)` (theory §1.5).

        ``t_i = e_i^T Phi Phi^T e_i`` and ``rho = tr(Psi)/k``. A single fixed teacher deviates from this
        by :math:`O(k^{-1/2})`; compare it only with simulations that redraw the teacher per seed.

        ``bayes_prior`` holds the eigenvalues of :math:`(p/k)\,\Omega^{+1/2}\Phi\Phi^\top\Omega^{+1/2}`, the
        pseudo-inverse taken on the eigenvalues of Omega kept positive (the prior of the Bayes-optimal estimator,
        :func:`replica.bayes_optimal`; ``(s, t)`` alone do not determine it).

        Examples
        --------
        >>> import numpy as np
        >>> a = Spectrum.from_covariances_averaged(omega=np.eye(2), phi=np.array([[1.0, 0.0], [1.0, 0.0]]),
        ...                                        psi=np.eye(2))
        >>> b = Spectrum.from_covariances_averaged(omega=np.eye(2), phi=np.eye(2), psi=np.eye(2))
        >>> a.t, b.t  # the same (s, t) ...
        (array([1., 1.]), array([1., 1.]))
        >>> a.bayes_prior, b.bayes_prior  # ... but a rank-one and an isotropic teacher prior
        (array([2., 0.]), array([1., 1.]))
        """
        omega = checks.matrix("omega", omega, dtype=None)
        p = omega.shape[0]
        phi = checks.matrix("phi", phi, (p, None), dtype=None)
        k = phi.shape[1]
        psi = checks.matrix("psi", psi, (k, k), dtype=None)
        eps = _precision(omega, phi, psi)
        s, e, clipped = _symmetric_eigh("omega", omega, eps)
        _symmetric_eigh("psi", psi, eps)
        phi64 = np.asarray(phi, dtype=float)
        proj = e.T @ phi64
        t = np.einsum("ij,ij->i", proj, proj)
        rho = float(np.trace(np.asarray(psi, dtype=float))) / k
        t_raw = t
        s, t, nulled = _reconcile(s, t, rho, k, eps)
        sigma = _bayes_prior_eigenvalues(e, s, phi64, k)
        pos = s > 0
        total = float(np.sum(t_raw[pos] / s[pos]))
        if total > 0:  # _reconcile may scale t (input less precise than float64): scale the prior alike
            sigma *= float(np.sum(t[pos] / s[pos])) / total
        return cls(s=s, t=t, rho=rho, gamma=k / p, teacher="averaged", clipped=clipped + nulled, bayes_prior=sigma)

    @classmethod
    def from_estimate(cls, estimate, theta=None) -> Spectrum:
        r"""Spectrum of a Monte Carlo :class:`~spectra.estimate.CovarianceEstimate` (theory §3.2).

        Uses the estimated ``omega``, ``phi`` and ``psi`` of the same samples, so the joint covariance is
        PSD and the Cauchy-Schwarz bound holds. ``theta`` (shape ``(k,)``) gives a fixed teacher
        (:meth:`from_covariances`); ``None`` averages over ``theta ~ N(0, I_k)``
        (:meth:`from_covariances_averaged`). The estimated spectrum is spread by a relative
        ``~sqrt(p/n)`` (Marchenko-Pastur); take ``n >> p``.

        Examples
        --------
        >>> from spectra import Spectrum, estimate_covariances
        >>> from spectra.generators import SingleLayer
        >>> est = estimate_covariances(SingleLayer(8, 12, seed=0), n_samples=2000, seed=1, progress=False)
        >>> spec = Spectrum.from_estimate(est)
        >>> spec.p, spec.gamma, spec.teacher
        (12, 0.6666666666666666, 'averaged')
        """
        for attr in ("omega", "phi", "psi"):
            if not hasattr(estimate, attr):
                raise TypeError(f"estimate must be a CovarianceEstimate (with omega, phi, psi), got "
                                f"{type(estimate).__name__}")
        if theta is None:
            return cls.from_covariances_averaged(omega=estimate.omega, phi=estimate.phi, psi=estimate.psi)
        return cls.from_covariances(omega=estimate.omega, phi=estimate.phi, psi=estimate.psi, theta=theta)

    @classmethod
    def isotropic(cls, p: int, gamma: float = 1.0, rho: float = 1.0) -> Spectrum:
        """Isotropic student covariance ``Omega = I_p`` with a fully linearly representable teacher.

        All ``s_i = 1`` and the teacher weight is spread evenly, ``t_i = gamma * rho`` (so
        ``rho_lin = rho``). With ``gamma = 1`` this is ``Omega = Phi = Psi = I_p`` averaged over the
        teacher, the setting of the Marchenko-Pastur closed form (theory §6.2).
        """
        p = checks.integer("p", p)
        return cls(s=np.ones(p), t=np.full(p, float(gamma) * float(rho)), rho=rho, gamma=gamma,
                   teacher="averaged")

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        """Plain dictionary of the fields (arrays as numpy arrays)."""
        return {"s": np.array(self.s), "t": np.array(self.t), "rho": self.rho, "gamma": self.gamma,
                "teacher": self.teacher, "clipped": self.clipped,
                "bayes_prior": None if self.bayes_prior is None else np.array(self.bayes_prior)}

    def save(self, path: str | os.PathLike) -> None:
        """Write the spectrum to an ``.npz`` file (no pickles); ``bayes_prior`` is stored when known."""
        extra = {} if self.bayes_prior is None else {"bayes_prior": self.bayes_prior}
        np.savez(path, s=self.s, t=self.t, rho=self.rho, gamma=self.gamma, teacher=np.str_(self.teacher),
                 clipped=self.clipped, **extra)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Spectrum:
        """Read a spectrum written by :meth:`save`; the file is validated like any new spectrum."""
        with np.load(path, allow_pickle=False) as f:
            missing = {"s", "t", "rho", "gamma", "teacher"} - set(f.files)
            if missing:
                raise ValueError(f"{path} is not a saved Spectrum: missing {sorted(missing)}")
            return cls(s=f["s"], t=f["t"], rho=float(f["rho"]), gamma=float(f["gamma"]),
                       teacher=str(f["teacher"]), clipped=int(f["clipped"]) if "clipped" in f.files else 0,
                       bayes_prior=f["bayes_prior"] if "bayes_prior" in f.files else None)

    def __repr__(self) -> str:
        return (f"Spectrum(p={self.p}, gamma={self.gamma:.6g}, rho={self.rho:.6g}, "
                f"rho_lin={self.rho_lin:.6g}, teacher={self.teacher!r}, s in [{self.s.min():.3g}, "
                f"{self.s.max():.3g}])")
