r"""Teacher channels :math:`P_0(y \mid \nu)` and the Gaussian expectations of the channel side.

The hats of theory §2.2 are expectations over the teacher field :math:`\nu` and the student centre
:math:`\omega`, jointly Gaussian with :math:`\mathrm{Var}\,\nu = \rho`, :math:`\mathrm{Var}\,\omega = q`,
:math:`\mathrm{Cov} = m`:

.. math::
    E_\xi \sum_y Z_0(y, \omega^*, V^*) F(y, \omega) = E_{\nu,\omega} \sum_y P_0(y|\nu) F(y, \omega),\qquad
    E_\xi \sum_y \partial_{\omega^*} Z_0\, F = E_{\nu,\omega} \sum_y \partial_\nu P_0(y|\nu) F(y, \omega).

Each channel turns these into a quadrature, a :class:`Measure`: label and centre nodes ``(y_j, omega_j)``
with weights ``wz_j`` (first expectation) and ``wdz_j`` (second), so that the solver evaluates the loss's prox
once per sweep on whole arrays. For a finite label set the rule is one-dimensional in ``omega`` and carries
``Z0(y, omega*)`` and ``dZ0/domega*`` at its nodes:

* the loss's :class:`~replica.loss.Kinks` are panel edges, so a hinge or Huber prox is integrated piece by
  piece (a fixed rule across a kink converges only algebraically: the 2.4% test-error errors of issue 9);
* the steep part of ``Z0`` (a sign teacher as ``V* -> 0``, a steep logit) gets panels graded geometrically
  from a quarter of its width (:func:`replica.quadrature.gaussian_rule`);
* ``Z0`` itself is a closed form (sign, probit, flips), an exact finite mixture of probit ``Z0`` (the logit,
  :func:`replica.quadrature.logistic_normal_mixture`), or an inner composite rule on a partition that
  resolves the likelihood (:meth:`Channel.from_likelihood`).

The tests compare every loss and channel with an independent adaptive quadrature (scipy ``quad_vec`` split at
the kinks) and with 30-digit mpmath.

The built-in channels are numeric; their sympy forms (:meth:`Channel.Z0`, :meth:`Channel.dZ0`, the logit's
``expr``) are built when asked for, and only :meth:`Channel.from_likelihood` needs sympy to build a channel, so
that solving with the built-ins never imports it (issue 13).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from gaussequiv import checks
from gaussequiv.checks import real
from gaussequiv.seeding import SeedLike
from gaussequiv.seeding import rng as _rng
from replica.loss import Kinks
from replica.quadrature import (
    PANEL_SPAN,
    Partition,
    convolution_rule,
    gauss_hermite,
    gaussian_rule,
    logistic_normal_mixture,
    nodes_for_variance,
    resolve_partition,
)

if TYPE_CHECKING:
    import sympy as sp

__all__ = ["Channel", "Measure"]


@dataclass(frozen=True)
class Measure:
    """A quadrature for the channel expectations: ``E sum_y Z0 F ~= sum(wz * F(y, omega))`` and
    ``E sum_y dZ0/domega* F ~= sum(wdz * F(y, omega))``."""

    y: np.ndarray
    omega: np.ndarray
    wz: np.ndarray
    wdz: np.ndarray

    def expect(self, values: np.ndarray) -> float:
        """``E_xi sum_y Z0 * values``."""
        return float(np.dot(self.wz, values))

    def expect_d(self, values: np.ndarray) -> float:
        """``E_xi sum_y dZ0/domega* * values``."""
        return float(np.dot(self.wdz, values))


def _stack(parts: list[tuple]) -> Measure:
    y, w, a, b = (np.concatenate([np.ravel(np.broadcast_to(p[i], np.shape(p[1]))) for p in parts])
                  for i in range(4))
    return Measure(y=y, omega=w, wz=a, wdz=b)


class Channel(ABC):
    """A teacher channel ``P0(y | nu)``, the law of a label given the teacher field ``nu``.

    Build one with :meth:`linear`, :meth:`sign`, :meth:`probit`, :meth:`logit` or :meth:`from_likelihood`.

    Attributes
    ----------
    name : str
        Short name used in results and files.
    is_classification : bool
        True for labels ``+-1``: test and training errors are then 0/1 errors; otherwise the errors
        are mean squared errors (no 1/2).
    """

    name: str
    is_classification: bool

    # ---- constructors ------------------------------------------------------------------------
    @staticmethod
    def linear(noise: float = 0.0) -> Channel:
        """Regression ``y = nu + sqrt(noise) * zeta``, ``zeta ~ N(0, 1)`` (``noise`` is the variance Delta)."""
        return _Linear(real("noise", noise, low=0.0))

    @staticmethod
    def sign(flip: float = 0.0) -> Channel:
        """Classification ``y = sign(nu)``, each label flipped independently with probability ``flip``."""
        flip = real("flip", flip, low=0.0)
        if flip >= 0.5:
            raise ValueError(f"flip must be < 0.5 (0.5 makes labels independent of the teacher), got {flip}")
        return _SignFamily(noise=0.0, flip=flip)

    @staticmethod
    def probit(noise: float) -> Channel:
        """Classification ``y = sign(nu + sqrt(noise) * zeta)`` (``noise`` is the variance Delta > 0)."""
        noise = real("noise", noise, low=0.0)
        if noise == 0:
            raise ValueError("noise must be > 0 for the probit channel; use Channel.sign() for noise = 0")
        return _SignFamily(noise=noise, flip=0.0)

    @staticmethod
    def logit(beta: float) -> Channel:
        """Classification with ``P(y | nu) = 1 / (1 + exp(-beta y nu))``, labels ``+-1`` (``beta > 0``).

        ``beta -> inf`` is the sign teacher. The channel integrals are exact: the logistic law is a scale
        mixture of normals, so ``Z0`` is a finite mixture of probit ``Z0``
        (:func:`replica.quadrature.logistic_normal_mixture`), and a solver point costs about as much as with
        :meth:`probit`.

        Examples
        --------
        >>> ch = Channel.logit(2.0)
        >>> ch.name, ch.is_classification
        ('logit(2)', True)
        >>> round(float(ch.likelihood(1.0, 0.5)), 10)  # 1/(1 + e^-1)
        0.7310585786
        """
        beta = real("beta", beta, low=0.0, low_open=True)
        return _Logit(beta=beta)

    @staticmethod
    def from_likelihood(expr, labels=(-1.0, 1.0), name: str | None = None) -> Channel:
        """A channel from a likelihood ``P0(y | z)`` (sympy expression or string in ``y`` and ``z``,
        ``z`` standing for the teacher field) over a finite set of ``labels``.

        The likelihood must be smooth in ``z`` (it may be steep: ``1/(1 + exp(-1000 y z))`` is accurate).
        Its expectations use an inner composite rule on a partition of the ``z`` axis on which ``P0`` and
        ``dP0/dz`` (from sympy) are polynomials to rounding, found once per ``rho`` by adaptive bisection
        (:func:`replica.quadrature.resolve_partition`). The probabilities must sum to one over
        ``labels``; this is checked on a grid. For a logistic teacher :meth:`logit` is faster.

        Examples
        --------
        >>> ch = Channel.from_likelihood("1/(1 + exp(-2*y*z))")
        >>> ch.is_classification
        True
        """
        return _Likelihood(expr, labels, name)

    @staticmethod
    def from_name(name: str, **params) -> Channel:
        """Channel by name: ``linear``, ``sign``, ``probit``, ``logit``; keyword parameters as the constructors.

        Examples
        --------
        >>> Channel.from_name("logit", beta=3.0).name
        'logit(3)'
        """
        table = {"linear": Channel.linear, "sign": Channel.sign, "probit": Channel.probit, "logit": Channel.logit}
        if name not in table:
            raise ValueError(f"unknown channel {name!r}; choose one of {sorted(table)} or use "
                             "Channel.from_likelihood")
        return table[name](**params)

    # ---- interface ---------------------------------------------------------------------------
    @abstractmethod
    def measure(self, rho: float, q: float, m: float, kinks: Kinks | None = None) -> Measure:
        """Quadrature of the channel expectations at overlaps ``(rho, q, m)``; requires ``m^2 < rho q``.

        ``kinks`` (from :meth:`replica.Loss.kinks`) are the points where the integrand is not smooth in
        ``omega``; the rule puts panel edges there.
        """

    @abstractmethod
    def moments(self, rho: float) -> tuple[float, float]:
        """``(E[y^2], E[y nu] / rho)``: all the square loss needs of the channel (theory §2.5)."""

    @abstractmethod
    def test_error(self, rho: float, q: float, m: float) -> float:
        """Test error against the noiseless target (MSE ``E(nu - h)^2`` or ``P(sign h != sign nu)``)."""

    @abstractmethod
    def test_error_noisy(self, rho: float, q: float, m: float) -> float:
        """Test error against fresh labels drawn from the channel (noise included)."""

    @abstractmethod
    def wrong_side(self, rho: float, q: float, m: float, c: dict[float, float]) -> float:
        """``sum_y P(label = y, y (omega - c[y]) < 0)`` with ``omega ~ N(0, q)``, ``Cov(omega, nu) = m``.

        With ``c[y] = V l'(y, 0)`` this is the training 0/1 error; with ``c = 0`` the noisy test error.
        """

    @abstractmethod
    def likelihood(self, y, nu) -> np.ndarray:
        """``P0(y | nu)`` elementwise (a density in ``y`` for continuous labels)."""

    @abstractmethod
    def _draw(self, nu: np.ndarray, gen: np.random.Generator) -> np.ndarray:
        """Labels for the teacher fields ``nu`` from the generator ``gen``."""

    def sample(self, nu, seed: SeedLike) -> np.ndarray:
        """Labels ``y ~ P0(. | nu)`` for teacher fields ``nu``, noise included.

        Parameters
        ----------
        nu : array_like
            Teacher fields, any shape.
        seed : int, numpy.random.SeedSequence or numpy.random.Generator
            A ``Generator`` is drawn from directly (so a simulation can share its stream); an int or a
            ``SeedSequence`` gives the channel's own stream (:func:`gaussequiv.seeding.rng`, kind
            ``"labels"``).

        Returns
        -------
        ndarray
            Labels of the shape of ``nu``: ``+-1`` (classification; ``sign(0) = +1``), one of
            :attr:`labels`, or real (regression).

        Examples
        --------
        >>> Channel.sign().sample(np.array([-0.5, 0.0, 2.0]), seed=0)
        array([-1.,  1.,  1.])
        """
        nu = np.asarray(nu, dtype=float)
        if not np.all(np.isfinite(nu)):
            raise ValueError("nu (teacher fields) must be finite")
        gen = seed if isinstance(seed, np.random.Generator) else _rng(seed, "labels")
        return self._draw(nu, gen)

    def Z0(self) -> sp.Expr:
        """``Z0(y, omega*, V*) = E_{z ~ N(omega*, V*)} P0(y|z)`` as a sympy expression (imports sympy).

        In the symbols ``y``, ``omega_star`` (real) and ``V_star`` (positive) of :mod:`replica._symbolic`.

        Examples
        --------
        >>> Channel.sign().Z0()
        y*erf(sqrt(2)*omega_star/(2*sqrt(V_star)))/2 + 1/2
        """
        return self._z0

    def dZ0(self) -> sp.Expr:
        """``d Z0 / d omega*`` as a sympy expression (imports sympy)."""
        import sympy as sp

        from replica._symbolic import OMEGA_STAR

        return sp.diff(self._z0, OMEGA_STAR)

    @property
    def labels(self) -> tuple[float, ...] | None:
        """The finite label set, or None for continuous labels."""
        return self._labels

    def __repr__(self) -> str:
        return f"Channel({self.name})"


def _check_overlaps(rho: float, q: float, m: float, strict: bool = True) -> None:
    if not (np.isfinite(rho) and np.isfinite(q) and np.isfinite(m)):
        raise ValueError(f"overlaps must be finite; got rho={rho}, q={q}, m={m}")
    if not (q > 0 and (m * m < rho * q if strict else m * m <= rho * q)):
        raise ValueError(f"overlaps need q > 0 and m^2 < rho q; got rho={rho}, q={q}, m={m}")


def _sign(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, 1.0, -1.0)


# ============================================================================ finite label sets
class _Discrete(Channel):
    """A channel with a finite label set: a one-dimensional rule in ``omega`` carrying ``Z0`` and ``dZ0``."""

    @abstractmethod
    def _conditional(self, y: float, ws: np.ndarray, vs: float, rho: float) -> tuple[np.ndarray, np.ndarray]:
        """``(Z0(y, omega*, V*), dZ0/domega*(y, omega*, V*))`` at the centres ``ws`` (teacher variance ``rho``)."""

    @abstractmethod
    def _features(self, rho: float) -> list[tuple[float, float]]:
        """``(nu_k, width_k)``: where ``P0`` is steep in the teacher field, and how steep."""

    def _steps(self, rho: float, q: float, m: float) -> list[tuple[float, float]]:
        """The steep parts of ``Z0`` as functions of ``omega = (q/m) omega*``: ``P0``'s features,
        smoothed by ``V*``."""
        if m == 0:
            return []
        vs = rho - m * m / q
        return [(q / m * c, q / abs(m) * np.sqrt(vs + w * w)) for c, w in self._features(rho)]

    def measure(self, rho, q, m, kinks=None):
        _check_overlaps(rho, q, m)
        vs = rho - m * m / q
        steps = self._steps(rho, q, m)
        parts = []
        for y in self._labels:
            x, w = gaussian_rule(q, breakpoints=kinks.omega(y) if kinks else (), steps=steps)
            z0, dz0 = self._conditional(y, m / q * x, vs, rho)
            parts.append((y, x, w * z0, w * dz0))
        return _stack(parts)

    def wrong_side(self, rho, q, m, c):
        if not self.is_classification:
            raise TypeError("0/1 errors need labels (-1, 1)")
        _check_overlaps(rho, q, m)
        vs = rho - m * m / q
        steps = self._steps(rho, q, m)
        total = 0.0
        for y in (-1.0, 1.0):
            x, w = gaussian_rule(q, breakpoints=[c[y]], steps=steps)
            wrong = y * (x - c[y]) < 0
            total += float(np.dot(w[wrong], self._conditional(y, m / q * x[wrong], vs, rho)[0]))
        return total

    def test_error(self, rho, q, m):
        if not self.is_classification:  # other label sets are regression-type: MSE against nu, as _Linear
            return float(rho + q - 2 * m)
        return float(np.arccos(np.clip(m / np.sqrt(rho * q), -1, 1)) / np.pi)

    def test_error_noisy(self, rho, q, m):
        if not self.is_classification:  # E (y - h)^2 = E y^2 - 2 (m / rho) E[y nu] + q, (nu, h) jointly Gaussian
            ey2, b = self.moments(rho)
            return float(ey2 - 2 * m * b + q)
        return self.wrong_side(rho, q, m, {-1.0: 0.0, 1.0: 0.0})

    def _draw(self, nu, gen):
        labels = np.asarray(self._labels, dtype=float)
        probs = np.stack([np.broadcast_to(self.likelihood(v, nu), nu.shape) for v in labels], axis=-1)
        cum = np.cumsum(probs, axis=-1)
        idx = (gen.random(nu.shape)[..., None] > cum[..., :-1]).sum(axis=-1)
        return labels[idx]


# ============================================================================ sign, probit, flips
@dataclass(frozen=True, repr=False)
class _SignFamily(_Discrete):
    r"""``y = sign(nu + sqrt(noise) zeta)``, then flipped with probability ``flip``.

    ``Z0 = flip + (1 - 2 flip) Phi(y omega* / sqrt(V* + noise))`` and
    ``dZ0 = (1 - 2 flip) y phi(omega* / sqrt(V* + noise)) / sqrt(V* + noise)`` in closed form (theory §2.3):
    a near-step and a near-delta at ``omega = 0``, of width ``sqrt(V* + noise) q/|m|``, on graded panels.
    """

    noise: float
    flip: float
    is_classification: bool = field(default=True, init=False)

    @property
    def name(self) -> str:  # type: ignore[override]
        if self.noise > 0:
            return f"probit({self.noise:g})"
        return f"sign(flip={self.flip:g})" if self.flip > 0 else "sign"

    @property
    def _labels(self):
        return (-1.0, 1.0)

    @property
    def _z0(self):
        import sympy as sp

        from replica._symbolic import OMEGA_STAR, V_STAR, Y

        base = (1 + Y * sp.erf(OMEGA_STAR / sp.sqrt(2 * (V_STAR + self.noise)))) / 2
        return sp.nsimplify(self.flip) + (1 - 2 * sp.nsimplify(self.flip)) * base

    def _features(self, rho):
        return [(0.0, np.sqrt(self.noise))]

    def _conditional(self, y, ws, vs, rho):
        sd = np.sqrt(vs + self.noise)
        keep = 1.0 - 2.0 * self.flip
        t = ws / sd
        return (self.flip + keep * special.ndtr(y * t),
                keep * y * np.exp(-0.5 * t * t) / (np.sqrt(2 * np.pi) * sd))

    def moments(self, rho):
        keep = 1.0 - 2.0 * self.flip
        return 1.0, keep * np.sqrt(2.0 / (np.pi * (rho + self.noise)))

    def test_error_noisy(self, rho, q, m):
        eg = np.arccos(np.clip(m / np.sqrt((rho + self.noise) * q), -1, 1)) / np.pi
        return float(self.flip + (1 - 2 * self.flip) * eg)

    def likelihood(self, y, nu):
        y, nu = np.broadcast_arrays(np.asarray(y, float), np.asarray(nu, float))
        if self.noise > 0:
            p = special.ndtr(y * nu / np.sqrt(self.noise))
        else:
            p = (_sign(nu) == y).astype(float)
        return self.flip + (1 - 2 * self.flip) * p

    def _draw(self, nu, gen):
        z = nu + np.sqrt(self.noise) * gen.standard_normal(nu.shape) if self.noise > 0 else nu
        y = _sign(z)
        if self.flip > 0:
            y = np.where(gen.random(nu.shape) < self.flip, -y, y)
        return y


# ============================================================================ logit
@dataclass(frozen=True, repr=False)
class _Logit(_Discrete):
    r"""``P0(y | nu) = expit(beta y nu)`` as the exact mixture ``sum_k c_k Phi(beta y nu / s_k)``.

    With the noise variances ``Delta_k = (s_k / beta)^2``, ``Z0 = sum_k c_k Phi(y omega* / sqrt(V* + Delta_k))``
    and ``dZ0 = y sum_k c_k phi(.) / sqrt(V* + Delta_k)``: the probit formulas averaged over the mixture.
    """

    beta: float
    is_classification: bool = field(default=True, init=False)

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"logit({self.beta:g})"

    @property
    def _labels(self):
        return (-1.0, 1.0)

    @property
    def expr(self) -> sp.Expr:
        """The likelihood ``1/(1 + exp(-beta y z))`` as a sympy expression (imports sympy)."""
        import sympy as sp

        from replica._symbolic import Y, Z

        return 1 / (1 + sp.exp(-sp.nsimplify(self.beta) * Y * Z))

    @property
    def _z0(self):
        return _gaussian_integral(self.expr)

    def _mixture(self) -> tuple[np.ndarray, np.ndarray]:
        s, c = logistic_normal_mixture()
        return (s / self.beta) ** 2, c

    def _features(self, rho):
        return [(0.0, 1.0 / self.beta)]

    def _conditional(self, y, ws, vs, rho):
        delta, c = self._mixture()
        sd = np.sqrt(vs + delta)
        t = np.asarray(ws)[..., None] / sd
        return special.ndtr(y * t) @ c, y * (np.exp(-0.5 * t * t) / (np.sqrt(2 * np.pi) * sd)) @ c

    def moments(self, rho):
        delta, c = self._mixture()
        return 1.0, float(np.sqrt(2.0 / (np.pi * (rho + delta))) @ c)

    def test_error_noisy(self, rho, q, m):
        _check_overlaps(rho, q, m, strict=False)
        delta, c = self._mixture()
        return float(np.arccos(np.clip(m / np.sqrt((rho + delta) * q), -1, 1)) @ c / np.pi)

    def likelihood(self, y, nu):
        y, nu = np.broadcast_arrays(np.asarray(y, float), np.asarray(nu, float))
        return special.expit(self.beta * y * nu)

    def _draw(self, nu, gen):
        return np.where(gen.random(nu.shape) < special.expit(self.beta * nu), 1.0, -1.0)


def _gaussian_integral(expr: sp.Expr) -> sp.Expr:
    """``Z0 = E_{z ~ N(omega*, V*)} P0(y|z)`` of the likelihood ``expr`` as an unevaluated integral over
    ``zeta ~ N(0, 1)``, ``z = omega* + sqrt(V*) zeta``."""
    import sympy as sp

    from replica._symbolic import OMEGA_STAR, V_STAR, Z

    zi = sp.Symbol("zeta", real=True)
    dens = sp.exp(-zi**2 / 2) / sp.sqrt(2 * sp.pi)
    return sp.Integral(expr.subs(Z, OMEGA_STAR + sp.sqrt(V_STAR) * zi) * dens, (zi, -sp.oo, sp.oo))


# ============================================================================ linear (regression)
@dataclass(frozen=True, repr=False)
class _Linear(Channel):
    """``y = nu + sqrt(noise) zeta``.

    A smooth loss gets a two-dimensional Gauss-Hermite rule in ``(omega, y | omega)``. A loss with kinks in the
    residual ``u = y - omega`` (Huber) gets the rule in ``(u, omega | u)``: composite panels split at the
    kinks in ``u``, Gauss-Hermite in ``omega`` given ``u``. The weights of ``dZ0/domega* = Z0 (y - omega*)/
    (V* + noise)`` are written without cancellation in either form.
    """

    noise: float
    is_classification: bool = field(default=False, init=False)

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"linear({self.noise:g})" if self.noise > 0 else "linear"

    @property
    def _labels(self):
        return None

    @property
    def _z0(self):
        import sympy as sp

        from replica._symbolic import OMEGA_STAR, V_STAR, Y

        var = V_STAR + self.noise
        return sp.exp(-(Y - OMEGA_STAR) ** 2 / (2 * var)) / sp.sqrt(2 * sp.pi * var)

    def measure(self, rho, q, m, kinks=None):
        _check_overlaps(rho, q, m, strict=self.noise == 0)
        if kinks is not None and kinks.margin:
            raise ValueError("a loss with kinks in y*z (hinge) needs labels +-1; the linear channel has real "
                             "labels")
        var = max(rho - m * m / q, 0.0) + self.noise  # Var(y | omega)
        if kinks is not None and kinks.residual:
            return self._residual_measure(rho, q, m, var, kinks.residual)
        sd = np.sqrt(var)
        x, w = gauss_hermite(nodes_for_variance(4.0 * max(q, m * m / q)))
        x2, w2 = gauss_hermite(nodes_for_variance(4.0 * var))
        omega = np.sqrt(q) * x[:, None] + 0 * x2[None, :]
        y = (m / np.sqrt(q)) * x[:, None] + sd * x2[None, :]
        wz = w[:, None] * w2[None, :]
        return Measure(y=y.ravel(), omega=omega.ravel(), wz=wz.ravel(),
                       wdz=(wz * x2[None, :] / sd).ravel())

    def _residual_measure(self, rho, q, m, var, residual):
        # u = y - omega: Var u = rho + noise + q - 2m; omega | u ~ N(cu u, tau^2)
        s2 = rho + self.noise + q - 2.0 * m
        cu = (m - q) / s2
        tau2 = q * var / s2  # = q - (m - q)^2 / s2
        u, wu = gaussian_rule(s2, breakpoints=residual)
        x, wx = gauss_hermite(nodes_for_variance(4.0 * tau2))
        tau = np.sqrt(tau2)
        omega = cu * u[:, None] + tau * x[None, :]
        y = u[:, None] + omega
        wz = wu[:, None] * wx[None, :]
        # y - omega* = u var/s2 + tau x (1 - m/q), so (y - omega*)/var without cancellation
        wdz = wz * (u[:, None] / s2 + x[None, :] * (1.0 - m / q) * np.sqrt(q / (s2 * var)))
        return Measure(y=y.ravel(), omega=omega.ravel(), wz=wz.ravel(), wdz=wdz.ravel())

    def moments(self, rho):
        return rho + self.noise, 1.0

    def test_error(self, rho, q, m):
        return float(rho + q - 2 * m)

    def test_error_noisy(self, rho, q, m):
        return float(rho + q - 2 * m + self.noise)

    def wrong_side(self, rho, q, m, c):
        raise TypeError("0/1 errors are not defined for a regression channel")

    def likelihood(self, y, nu):
        y, nu = np.broadcast_arrays(np.asarray(y, float), np.asarray(nu, float))
        if self.noise == 0:
            raise ValueError("the noiseless linear channel has no likelihood density (y = nu exactly)")
        return np.exp(-0.5 * (y - nu) ** 2 / self.noise) / np.sqrt(2 * np.pi * self.noise)

    def _draw(self, nu, gen):
        return nu + np.sqrt(self.noise) * gen.standard_normal(nu.shape) if self.noise > 0 else nu.copy()


# ============================================================================ custom likelihood
#: Relative tolerance to which the likelihood and its derivative are polynomials on each partition panel.
LIKELIHOOD_TOL = 1e-14


class _Likelihood(_Discrete):
    """A smooth likelihood ``P0(y|z)`` over a finite label set.

    ``Z0`` and ``dZ0`` at each ``omega`` node are inner integrals over ``z ~ N(omega*, V*)`` by
    :func:`replica.quadrature.convolution_rule` on a partition of the ``z`` axis that resolves ``P0`` and
    ``dP0/dz`` (computed once per ``rho``); the clusters of small panels of that partition are the steep
    parts of ``P0``, which the outer rule grades around.
    """

    is_classification = True

    def __init__(self, expr, labels, name):
        import sympy as sp

        from replica._symbolic import Z, lambdify_safe, parse_expression

        ex = parse_expression(expr, "expr")
        labels = tuple(float(v) for v in checks.vector("labels", labels))
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValueError(f"labels must hold at least two distinct values, got {labels}")
        if ex.has(sp.Heaviside, sp.sign, sp.Piecewise, sp.Abs, sp.Max, sp.Min):
            raise ValueError(f"expr {ex} is not smooth in z; use Channel.sign/probit for sign teachers")
        self.expr = ex
        self.name = name or f"P0={sp.sstr(ex)}"
        self._labels = labels
        self.is_classification = set(labels) == {-1.0, 1.0}
        self._p = lambdify_safe(ex)
        self._dp = lambdify_safe(sp.diff(ex, Z))
        zs = np.linspace(-20, 20, 81)
        tot = sum(self._p(np.full_like(zs, v), zs) for v in labels)
        probs = np.stack([self._p(np.full_like(zs, v), zs) for v in labels])
        if np.any(probs < -1e-12) or np.max(np.abs(tot - 1)) > 1e-8:
            raise ValueError(f"expr {ex} is not a probability over labels {labels}: sum_y P0(y|z) - 1 "
                             f"reaches {np.max(np.abs(tot - 1)):.3g} on z in [-20, 20]")
        self._z0 = _gaussian_integral(ex)
        self._partitions: dict[float, tuple[Partition, list]] = {}

    def _resolve(self, lo: float, hi: float, width: float) -> Partition:
        """Interpolants of ``P0(y|z)`` and ``dP0/dz`` for every label, resolved on ``[lo, hi]``."""
        labels = self._labels

        def funcs(z):
            return np.concatenate([np.stack([self._p(np.full_like(z, v), z), self._dp(np.full_like(z, v), z)])
                                   for v in labels])

        return resolve_partition(funcs, lo, hi, width=width, tol=LIKELIHOOD_TOL)

    def _partition(self, rho: float) -> tuple[Partition, list[tuple[float, float]]]:
        """P0 and dP0 resolved over ``|z| <= 20 sqrt(rho)`` (all the inner rules reach), and its steep parts."""
        if rho not in self._partitions:
            half = 2 * PANEL_SPAN * np.sqrt(rho)
            width = 2.0 * np.sqrt(rho)
            part = self._resolve(-half, half, width)
            edges = part.edges
            d = np.diff(edges)
            fine = d < width / 4  # panels refined at least twice: a steep part of P0
            feats = []
            if fine.any():
                # clusters of consecutive fine panels; each cluster's narrowest panels locate the steep part
                breaks = np.flatnonzero(np.diff(fine.astype(int)) != 0) + 1
                for seg in np.split(np.arange(d.size), breaks):
                    if fine[seg[0]]:
                        narrow = seg[d[seg] <= 1.0000001 * d[seg].min()]
                        feats.append((0.5 * (edges[narrow[0]] + edges[narrow[-1] + 1]), float(d[seg].min())))
            if len(self._partitions) > 8:
                self._partitions.clear()
            self._partitions[rho] = (part, feats)
        return self._partitions[rho]

    def _features(self, rho):
        return self._partition(rho)[1]

    def _conditional(self, y, ws, vs, rho):
        part, _ = self._partition(rho)
        ws = np.asarray(ws, dtype=float)
        owner, node, w, z = convolution_rule(ws.ravel(), np.sqrt(vs), part.edges)
        k = 2 * self._labels.index(y)
        vals = part(z, rows=slice(k, k + 2))[:, node]
        z0 = np.bincount(owner, w * vals[0], ws.size)
        dz0 = np.bincount(owner, w * vals[1], ws.size)
        return z0.reshape(ws.shape), dz0.reshape(ws.shape)

    def moments(self, rho):
        ey2 = eyn = 0.0
        for v in self._labels:
            z0, dz0 = self._conditional(v, np.zeros(1), rho, rho)
            ey2 += v * v * float(z0[0])
            eyn += v * float(dz0[0])  # E[y nu]/rho = sum_y y E[dP0/dnu] (Stein)
        return ey2, eyn

    def _draw(self, nu, gen):
        # the resolved interpolants over the range of nu: exact to 1e-14 and cheap for any likelihood
        lo, hi = float(np.min(nu, initial=0.0)), float(np.max(nu, initial=0.0))
        part = self._resolve(lo - 1.0, hi + 1.0, 0.5)
        vals = part(nu.ravel(), rows=slice(0, None, 2))  # (labels, n)
        cum = np.cumsum(np.clip(vals, 0.0, 1.0), axis=0)
        idx = (gen.random(nu.shape).ravel()[None, :] > cum[:-1]).sum(axis=0)
        return np.asarray(self._labels, dtype=float)[idx].reshape(nu.shape)

    def likelihood(self, y, nu):
        y, nu = np.broadcast_arrays(np.asarray(y, float), np.asarray(nu, float))
        return self._p(y, nu)
