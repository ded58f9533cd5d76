r"""Teacher channels :math:`P_0(y \mid \nu)` and the Gaussian expectations of the channel side.

The hats of theory §2.2 are expectations over the teacher field :math:`\nu` and the student centre
:math:`\omega`, jointly Gaussian with :math:`\mathrm{Var}\,\nu = \rho`, :math:`\mathrm{Var}\,\omega = q`,
:math:`\mathrm{Cov} = m`:

.. math::
    E_\xi \sum_y Z_0(y, \omega^*, V^*) F(y, \omega) = E_{\nu,\omega} \sum_y P_0(y|\nu) F(y, \omega),\qquad
    E_\xi \sum_y \partial_{\omega^*} Z_0\, F = E_{\nu,\omega} \sum_y \partial_\nu P_0(y|\nu) F(y, \omega).

Each channel turns these into a fixed quadrature, a :class:`Measure`: label and centre nodes
``(y_j, omega_j)`` with weights ``wz_j`` (first expectation) and ``wdz_j`` (second), so that the solver
evaluates the loss's prox once per sweep on whole arrays. The rules are built for each channel's
singularities: a half-line rule across the step of the sign teacher, so that accuracy does not degrade as
:math:`V^* \to 0`; the closed forms of :math:`Z_0` that sympy carries are the independent reference the
tests compare these rules with (at 30 digits, with mpmath).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from scipy import integrate, special

from gaussequiv import checks
from replica._symbolic import Y, Z, lambdify_safe, parse_expression
from replica.quadrature import gauss_hermite, gaussian_panels, nodes_for_variance

__all__ = ["Channel", "Measure"]


# symbols of the closed forms: omega* (w), V* (v)
_W, _V = sp.symbols("omega_star V_star", real=True)
_VP = sp.symbols("V_star", positive=True)


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

    Build one with :meth:`linear`, :meth:`sign`, :meth:`probit` or :meth:`from_likelihood`.

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
        return _Linear(_nonneg("noise", noise))

    @staticmethod
    def sign(flip: float = 0.0) -> Channel:
        """Classification ``y = sign(nu)``, each label flipped independently with probability ``flip``."""
        flip = _nonneg("flip", flip)
        if flip >= 0.5:
            raise ValueError(f"flip must be < 0.5 (0.5 makes labels independent of the teacher), got {flip}")
        return _SignFamily(noise=0.0, flip=flip)

    @staticmethod
    def probit(noise: float) -> Channel:
        """Classification ``y = sign(nu + sqrt(noise) * zeta)`` (``noise`` is the variance Delta > 0)."""
        noise = _nonneg("noise", noise)
        if noise == 0:
            raise ValueError("noise must be > 0 for the probit channel; use Channel.sign() for noise = 0")
        return _SignFamily(noise=noise, flip=0.0)

    @staticmethod
    def from_likelihood(expr, labels=(-1.0, 1.0), name: str | None = None) -> Channel:
        """A channel from a likelihood ``P0(y | z)`` (sympy expression or string in ``y`` and ``z``,
        ``z`` standing for the teacher field) over a finite set of ``labels``.

        The likelihood must be smooth in ``z``; its expectations use a fixed two-dimensional
        Gauss-Hermite rule (theory §2.3, "any other P0"), and ``dP0/dz`` comes from sympy. The
        probabilities must sum to one over ``labels``; this is checked on a grid.

        Examples
        --------
        >>> logit = Channel.from_likelihood("1/(1 + exp(-2*y*z))")
        >>> logit.is_classification
        True
        """
        return _Likelihood(expr, labels, name)

    @staticmethod
    def from_name(name: str, **params) -> Channel:
        """Channel by name: ``linear``, ``sign``, ``probit``; keyword parameters as the constructors."""
        table = {"linear": Channel.linear, "sign": Channel.sign, "probit": Channel.probit}
        if name not in table:
            raise ValueError(f"unknown channel {name!r}; choose one of {sorted(table)} or use "
                             "Channel.from_likelihood")
        return table[name](**params)

    # ---- interface ---------------------------------------------------------------------------
    @abstractmethod
    def measure(self, rho: float, q: float, m: float) -> Measure:
        """Quadrature of the channel expectations at overlaps ``(rho, q, m)``; requires ``m^2 < rho q``."""

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

    def Z0(self) -> sp.Expr:
        """``Z0(y, omega*, V*) = E_{z ~ N(omega*, V*)} P0(y|z)`` as a sympy expression."""
        return self._z0

    def dZ0(self) -> sp.Expr:
        """``d Z0 / d omega*`` as a sympy expression."""
        return sp.diff(self._z0, _W)

    @property
    def labels(self) -> tuple[float, ...] | None:
        """The finite label set, or None for continuous labels."""
        return self._labels

    def __repr__(self) -> str:
        return f"Channel({self.name})"


def _nonneg(name: str, value) -> float:
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return v


def _check_overlaps(rho: float, q: float, m: float, strict: bool = True) -> None:
    if not (q > 0 and (m * m < rho * q if strict else m * m <= rho * q)):
        raise ValueError(f"overlaps need q > 0 and m^2 < rho q; got rho={rho}, q={q}, m={m}")


# ============================================================================ sign, probit, flips
@dataclass(frozen=True, repr=False)
class _SignFamily(Channel):
    r"""``y = sign(nu + sqrt(noise) zeta)``, then flipped with probability ``flip``.

    With ``nu' = nu + sqrt(noise) zeta`` (variance ``rho' = rho + noise``, covariance ``m`` with omega),
    ``Z0 = flip + (1 - 2 flip) (1 + y erf(omega* / sqrt(2 V*'))) / 2``: a near-step at ``omega = 0`` when
    ``V*' -> 0``. The rule is one-dimensional in ``omega`` with Gauss-Legendre panels graded geometrically
    around 0 (so its accuracy does not degrade as ``V* -> 0``). The derivative part is exact in closed form:
    ``E[d_nu P0 F] = (1 - 2 flip) sum_y y E[F(y, omega) | nu' = 0] / sqrt(2 pi rho')``.
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
        base = (1 + Y * sp.erf(_W / sp.sqrt(2 * (_VP + self.noise)))) / 2
        return sp.nsimplify(self.flip) + (1 - 2 * sp.nsimplify(self.flip)) * base

    def measure(self, rho, q, m):
        _check_overlaps(rho, q, m)
        rp = rho + self.noise
        vs = rp - m * m / q  # V* of nu' = nu + sqrt(noise) zeta
        keep = 1.0 - 2.0 * self.flip
        # Z0 part: one-dimensional in omega ~ N(0, q), panels graded around the step of Z0 at omega = 0,
        # whose width in omega is sqrt(V*) q / |m|
        width = np.sqrt(vs) * q / max(abs(m), 1e-300)
        omega, w = gaussian_panels(q, width)
        # derivative part in closed form: E[d_nu P0 F] = keep sum_y y E[F(y, omega) | nu' = 0] / sqrt(2 pi rho')
        b = np.sqrt(q - m * m / rp)
        xf, wf = gauss_hermite(nodes_for_variance(b * b))
        parts = []
        for y in (-1.0, 1.0):
            z0 = self.flip + keep * 0.5 * (1.0 + y * special.erf(m / q * omega / np.sqrt(2.0 * vs)))
            parts.append((y, omega, w * z0, np.zeros_like(w)))
            parts.append((y, b * xf, np.zeros_like(wf), keep * y * wf / np.sqrt(2 * np.pi * rp)))
        return _stack(parts)

    def moments(self, rho):
        keep = 1.0 - 2.0 * self.flip
        return 1.0, keep * np.sqrt(2.0 / (np.pi * (rho + self.noise)))

    def test_error(self, rho, q, m):
        return float(np.arccos(np.clip(m / np.sqrt(rho * q), -1, 1)) / np.pi)

    def test_error_noisy(self, rho, q, m):
        eg = np.arccos(np.clip(m / np.sqrt((rho + self.noise) * q), -1, 1)) / np.pi
        return float(self.flip + (1 - 2 * self.flip) * eg)

    def wrong_side(self, rho, q, m, c):
        rp = rho + self.noise
        a, b = m / rp, np.sqrt(q - m * m / rp)
        s = a * np.sqrt(rp)
        total = 0.0
        for y in (-1.0, 1.0):
            cy = y * c[y]
            # P(y nu' > 0, y (omega - c) < 0) = int_0^inf phi(u) Phi((y c - s u) / b) du,  nu' = y sqrt(rp) u
            def f(u, cy=cy):
                return special.ndtr((cy - s * u) / b) * np.exp(-u * u / 2) / np.sqrt(2 * np.pi)
            cut = cy / s if s > 0 and cy > 0 else 0.0
            val = integrate.quad(f, cut, np.inf, epsabs=1e-15, epsrel=1e-12, limit=200)[0]
            if cut > 0:
                val += integrate.quad(f, 0.0, cut, epsabs=1e-15, epsrel=1e-12, limit=200)[0]
            total += (1 - 2 * self.flip) * val + self.flip * special.ndtr(cy / np.sqrt(q))
        return float(total)


# ============================================================================ linear (regression)
@dataclass(frozen=True, repr=False)
class _Linear(Channel):
    """``y = nu + sqrt(noise) zeta``: a two-dimensional Gauss-Hermite rule in (omega, y | omega)."""

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
        var = _VP + self.noise
        return sp.exp(-(Y - _W) ** 2 / (2 * var)) / sp.sqrt(2 * sp.pi * var)

    def measure(self, rho, q, m):
        _check_overlaps(rho, q, m, strict=self.noise == 0)
        sd = np.sqrt(max(rho - m * m / q, 0.0) + self.noise)
        x, w = gauss_hermite(nodes_for_variance(4.0 * max(q, m * m / q)))
        x2, w2 = gauss_hermite(nodes_for_variance(4.0 * sd * sd))
        omega = np.sqrt(q) * x[:, None] + 0 * x2[None, :]
        y = (m / np.sqrt(q)) * x[:, None] + sd * x2[None, :]
        wz = w[:, None] * w2[None, :]
        return Measure(y=y.ravel(), omega=omega.ravel(), wz=wz.ravel(),
                       wdz=(wz * x2[None, :] / sd).ravel())

    def moments(self, rho):
        return rho + self.noise, 1.0

    def test_error(self, rho, q, m):
        return float(rho + q - 2 * m)

    def test_error_noisy(self, rho, q, m):
        return float(rho + q - 2 * m + self.noise)

    def wrong_side(self, rho, q, m, c):
        raise TypeError("0/1 errors are not defined for a regression channel")


# ============================================================================ custom likelihood
class _Likelihood(Channel):
    """A smooth likelihood ``P0(y|z)`` over a finite label set, by a 2-d Gauss-Hermite rule."""

    is_classification = True

    def __init__(self, expr, labels, name):
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
        zi = sp.Symbol("zeta", real=True)
        dens = sp.exp(-zi**2 / 2) / sp.sqrt(2 * sp.pi)
        self._z0 = sp.Integral(ex.subs(Z, _W + sp.sqrt(_VP) * zi) * dens, (zi, -sp.oo, sp.oo))

    def measure(self, rho, q, m):
        _check_overlaps(rho, q, m)
        vs = rho - m * m / q
        # a likelihood may vary faster than on scale 1 (e.g. a steep logit): rules sized for 4x the variance
        x, w = gauss_hermite(nodes_for_variance(4.0 * max(q, m * m / q)))
        x2, w2 = gauss_hermite(nodes_for_variance(4.0 * vs))
        omega = np.sqrt(q) * x[:, None] + 0 * x2[None, :]
        nu = (m / np.sqrt(q)) * x[:, None] + np.sqrt(vs) * x2[None, :]
        ww = w[:, None] * w2[None, :]
        parts = [(y, omega, ww * self._p(np.full(nu.shape, y), nu), ww * self._dp(np.full(nu.shape, y), nu))
                 for y in self._labels]
        return _stack(parts)

    def moments(self, rho):
        x, w = gauss_hermite(nodes_for_variance(rho))
        nu = np.sqrt(rho) * x
        ey2 = sum(v * v * np.dot(w, self._p(np.full_like(nu, v), nu)) for v in self._labels)
        eyn = sum(v * np.dot(w, nu * self._p(np.full_like(nu, v), nu)) for v in self._labels)
        return float(ey2), float(eyn / rho)

    def test_error(self, rho, q, m):
        if not self.is_classification:  # other label sets are regression-type: MSE against nu, as _Linear
            return float(rho + q - 2 * m)
        return float(np.arccos(np.clip(m / np.sqrt(rho * q), -1, 1)) / np.pi)

    def test_error_noisy(self, rho, q, m):
        if not self.is_classification:  # E (y - h)^2 = E y^2 - 2 (m / rho) E[y nu] + q, (nu, h) jointly Gaussian
            ey2, b = self.moments(rho)
            return float(ey2 - 2 * m * b + q)
        return self.wrong_side(rho, q, m, {v: 0.0 for v in self._labels})

    def wrong_side(self, rho, q, m, c):
        if not self.is_classification:
            raise TypeError("0/1 errors need labels (-1, 1)")
        sd = np.sqrt(max(q - m * m / rho, 0.0))
        total = 0.0
        for y in (-1.0, 1.0):
            def f(nu, y=y):
                mu = m / rho * nu
                p_wrong = special.ndtr(-y * (mu - c[y]) / sd) if sd > 0 else float(y * (mu - c[y]) < 0)
                return float(self._p(np.array(y), np.array(nu))) * p_wrong * np.exp(-nu * nu / (2 * rho))
            total += integrate.quad(f, -np.inf, np.inf, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
        return float(total / np.sqrt(2 * np.pi * rho))
