r"""The Gaussian covariate model of a (generator, features, teacher) problem, as a problem :func:`simulate` runs.

Gaussian equivalence says ERM on generator features behaves like ERM on Gaussian features ``v`` and latents
``u`` with the same joint covariance

.. math:: J = \begin{pmatrix} \Omega & \Phi \\ \Phi^\top & \Psi \end{pmatrix}.

:func:`gaussian_control` builds exactly that Gaussian model from the covariances the theory used, so that a
simulation on it isolates the two possible causes of a theory/simulation gap on real generator data:

* the control agrees with the theory, the generator data do not: the gap is a failure of Gaussian
  equivalence at this size (a property of the data, not of the solver);
* the control disagrees too: the theory, its solver or the covariance estimate is wrong.

Construction: with a square root ``J = R R^T`` (``R`` of shape ``(p + k, r)``, ``r = rank J``) and
``xi ~ N(0, I_r)``, the pair ``(v, u) = R xi`` has covariance ``J``. The control's generator is the linear
map ``xi -> R_v xi`` (latent dimension ``r``, features ``v`` directly, mean zero), and its teacher is the
linear teacher on ``xi`` with ``theta_xi = sqrt(r/k) R_u^T theta``, so that
``theta_xi . xi/sqrt(r) = theta . u/sqrt(k)``: the same teacher field as the original problem. The
control's ``phi = E[v xi^T] = R_v`` with ``theta_xi`` gives the same overlap ``m`` (``R_v R_u^T = Phi``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from gaussequiv import checks
from spectra.generators import Generator
from spectra.teachers import LinearTeacher
from validation.simulate import Covariances

__all__ = ["GaussianControl", "gaussian_control"]

#: Relative size (to the largest eigenvalue of J, per dimension) below which negative eigenvalues count as
#: rounding: float64 covariances, and covariances accumulated in float32 (``precision="float32"``).
PSD_RTOL = {"float64": 1e-10, "float32": 1e-6}


class _LinearGaussianFeatures(Generator):
    """``xi -> xi @ R_v^T``: Gaussian features with covariance ``R_v R_v^T`` (float32 like every generator)."""

    def __init__(self, root_v: np.ndarray):
        self.root_v = np.ascontiguousarray(root_v, dtype=np.float32)
        self.output_dim, self.latent_dim = self.root_v.shape
        self.name = f"gaussian-control-p{self.output_dim}-r{self.latent_dim}"

    def _forward(self, c: np.ndarray) -> np.ndarray:
        return c @ self.root_v.T


@dataclass(frozen=True, eq=False)
class GaussianControl:
    r"""A Gaussian covariate model with given covariances, ready for :func:`validation.simulate`.

    Run it with ``simulate(control.generator, None, control.teacher, channel, loss, lam, alphas,
    covariances=control.covariances)`` and compare with the theory of the original problem.

    Attributes
    ----------
    generator : spectra.generators.Generator
        ``xi -> v`` with ``xi ~ N(0, I_r)``; outputs are the (already centred) features, shape ``(n, p)``.
    teacher : spectra.teachers.LinearTeacher
        The original teacher field expressed on ``xi``.
    covariances : Covariances
        ``omega`` (the given one), ``phi = E[v xi^T]`` and ``mean_v = 0``: what ``simulate`` measures
        ``q`` and ``m`` with.
    rank : int
        ``r``, the rank of the joint covariance (the control's latent dimension).
    clipped : float
        Largest negative eigenvalue of ``J`` set to zero, relative to the largest eigenvalue (rounding).
    """

    generator: Generator
    teacher: LinearTeacher
    covariances: Covariances
    rank: int
    clipped: float

    def to_dict(self) -> dict:
        """The fields, with the generator and teacher as their matrices."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["generator"] = self.generator.root_v.astype(np.float64)
        out["teacher"] = self.teacher.theta
        out["covariances"] = {"omega": self.covariances.omega, "phi": self.covariances.phi,
                              "mean_v": self.covariances.mean_v}
        return out


def _precision(covariances) -> str:
    """"float32" if the covariances were accumulated or are stored in single precision, else "float64"."""
    config = getattr(covariances, "config", None)
    if isinstance(config, dict) and config.get("precision") == "float32":
        return "float32"
    arrays = [getattr(covariances, name, None) for name in ("omega", "phi", "psi")]
    return "float32" if any(getattr(a, "dtype", None) == np.float32 for a in arrays) else "float64"


def gaussian_control(covariances, theta) -> GaussianControl:
    r"""The Gaussian model with the joint covariance of ``(v, u)`` the theory used, and the same teacher.

    Parameters
    ----------
    covariances : spectra.CovarianceEstimate or object with ``omega``, ``phi`` and optionally ``psi``
        ``omega = E[v v^T]`` (p, p), ``phi = E[v u^T]`` (p, k), ``psi = E[u u^T]`` (k, k; the identity when
        absent, as for latents ``u = c ~ N(0, I_k)``). Pass the same object the theory's
        :class:`spectra.Spectrum` was built from (``Spectrum.from_estimate`` uses the estimated ``psi``).
    theta : array, shape (k,) or spectra.teachers.LinearTeacher
        The fixed teacher: ``nu = theta . u/sqrt(k)``.

    Returns
    -------
    GaussianControl

    Raises
    ------
    ValueError
        On inconsistent shapes, non-finite entries, or a joint covariance that is not PSD beyond rounding
        (``PSD_RTOL`` per dimension, relative to its largest eigenvalue; looser for float32 estimates). Then
        ``omega``, ``phi`` and ``psi`` cannot be the covariances of one pair ``(v, u)``: estimate them from the
        same samples, as :func:`spectra.estimate_covariances` does.

    Examples
    --------
    >>> import numpy as np
    >>> from replica import Channel, Loss
    >>> from validation import Covariances, gaussian_control, simulate
    >>> ctrl = gaussian_control(Covariances(omega=np.eye(30), phi=0.8 * np.eye(30), mean_v=np.zeros(30)),
    ...                         np.ones(30))
    >>> ctrl.rank, ctrl.teacher.latent_dim
    (60, 60)
    >>> sim = simulate(ctrl.generator, None, ctrl.teacher, Channel.linear(), Loss.square(), 0.1, [2.0],
    ...                covariances=ctrl.covariances, n_test=200, seeds=2, seed=0)
    >>> sim.status.tolist()
    ['converged']
    """
    if isinstance(theta, LinearTeacher):
        theta = theta.theta
    precision = _precision(covariances)
    omega = checks.matrix("omega", getattr(covariances, "omega", None), (None, None))
    p = omega.shape[0]
    if omega.shape != (p, p):
        raise ValueError(f"omega must be square (p, p), got shape {omega.shape}")
    phi = checks.matrix("phi", getattr(covariances, "phi", None), (p, None))
    k = phi.shape[1]
    psi = getattr(covariances, "psi", None)
    psi = np.eye(k) if psi is None else checks.matrix("psi", psi, (k, k))
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (k,) or not np.all(np.isfinite(theta)):
        raise ValueError(f"theta must be a finite vector of length k = phi.shape[1] = {k}, got shape {theta.shape}")

    rtol = PSD_RTOL[precision]
    joint = np.block([[omega, phi], [phi.T, psi]])
    if not np.allclose(joint, joint.T, rtol=0, atol=rtol * np.abs(joint).max()):
        raise ValueError("omega and psi must be symmetric")
    w, e = np.linalg.eigh(0.5 * (joint + joint.T))
    top = float(w[-1])
    if top <= 0:
        raise ValueError("the joint covariance of (v, u) is zero or negative; check omega, phi and psi")
    clipped = float(max(0.0, -w[0]) / top)
    if clipped > rtol * joint.shape[0]:
        raise ValueError(f"the joint covariance [[omega, phi], [phi^T, psi]] is not PSD (smallest eigenvalue "
                         f"{w[0]:.3g}, largest {top:.3g}): omega, phi and psi are not the covariances of one pair "
                         f"(v, u). Estimate them from the same samples (spectra.estimate_covariances).")
    keep = w > rtol * joint.shape[0] * top
    root = e[:, keep] * np.sqrt(w[keep])
    r = int(keep.sum())
    root_v, root_u = root[:p], root[p:]
    theta_xi = np.sqrt(r / k) * (root_u.T @ theta)
    gen = _LinearGaussianFeatures(root_v)
    cov = Covariances(omega=omega, phi=gen.root_v.astype(np.float64), mean_v=np.zeros(p))
    return GaussianControl(generator=gen, teacher=LinearTeacher(theta_xi), covariances=cov, rank=r, clipped=clipped)
