r"""Convex losses :math:`\ell(y, z)` and their proximal operators (theory §2.2).

A :class:`Loss` carries its sympy expression in the symbols ``y`` (label) and ``z`` (pre-activation
:math:`w \cdot v/\sqrt{p}`), the derivatives sympy derives from it, and a vectorised proximal map

.. math:: \mathrm{prox}(y, \omega, V) = \arg\min_z \Big[\frac{(z-\omega)^2}{2V} + \ell(y, z)\Big].

:meth:`Loss.prox` returns the prox together with ``r = (1 - d prox / d omega) / V``, so that
:math:`\partial_\omega f_g = -r` with :math:`f_g = (\mathrm{prox} - \omega)/V`. For a C² loss,
``r = l''(prox) / (1 + V l''(prox))`` (implicit-function theorem), computed without cancellation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from scipy.special import expit

from replica._symbolic import Y, Z, lambdify_safe, parse_expression

__all__ = ["Loss", "NonConvexLossError"]

ProxFunction = Callable[[np.ndarray, np.ndarray, float, "np.ndarray | None"], tuple[np.ndarray, np.ndarray]]


class NonConvexLossError(ValueError):
    """The loss is not convex in ``z``: the replica equations of this library do not apply."""


@dataclass(frozen=True, eq=False)
class Loss:
    """A convex loss ``l(y, z)`` with its symbolic form and a vectorised proximal operator.

    Use the constructors :meth:`square`, :meth:`logistic`, :meth:`hinge`, :meth:`huber` or
    :meth:`from_expr`; do not build instances directly.

    Attributes
    ----------
    name : str
        Short name used in results and files.
    expr : sympy.Expr
        The loss as a sympy expression in ``y`` and ``z``.
    is_square : bool
        True only for the built-in ``square`` loss ``(y - z)^2 / 2``, whose channel integrals the
        solver evaluates in closed form (theory §2.5).
    lipschitz : float or None
        A bound on ``|dl/dz|`` when one is known (used for documentation and tests).
    smooth : bool
        False for losses with kinks (hinge, Huber): their ``r`` jumps, so the solver computes
        ``V_hat`` from ``f_g`` alone through Gaussian integration by parts instead.
    """

    name: str
    expr: sp.Expr
    _prox: ProxFunction = field(repr=False)
    _value: Callable[[np.ndarray, np.ndarray], np.ndarray] = field(repr=False)
    _d1: Callable[[np.ndarray, np.ndarray], np.ndarray] = field(repr=False)
    _d2: Callable[[np.ndarray, np.ndarray], np.ndarray] = field(repr=False)
    is_square: bool = False
    lipschitz: float | None = None
    smooth: bool = True

    # ------------------------------------------------------------------ numerics
    def __call__(self, y, z) -> np.ndarray:
        """The loss ``l(y, z)``, elementwise."""
        return self._value(np.asarray(y, float), np.asarray(z, float))

    def derivative(self, y, z) -> np.ndarray:
        """``dl/dz`` elementwise (a subgradient at kinks of non-smooth losses)."""
        return self._d1(np.asarray(y, float), np.asarray(z, float))

    def second_derivative(self, y, z) -> np.ndarray:
        """``d2l/dz2`` elementwise, evaluated stably (no overflow for any ``z``).

        For the kinked losses (hinge, Huber) this is the almost-everywhere derivative: 0 on the flat and
        linear pieces, 1 inside Huber's quadratic piece; the kinks themselves carry no mass.

        Examples
        --------
        >>> float(Loss.logistic().second_derivative(1.0, 0.0))
        0.25
        """
        y, z = np.broadcast_arrays(np.asarray(y, float), np.asarray(z, float))
        return np.asarray(self._d2(y, z), dtype=float)

    def prox(self, y, omega, V: float, guess=None) -> tuple[np.ndarray, np.ndarray]:
        """Proximal map and its slope term.

        Parameters
        ----------
        y, omega : array_like
            Labels and centres, broadcast together.
        V : float
            The variance overlap, ``V > 0``.
        guess : array_like, optional
            A warm start for iterative proxes (e.g. the prox of the previous sweep).

        Returns
        -------
        prox : ndarray
            ``argmin_z (z - omega)^2 / (2 V) + l(y, z)``.
        r : ndarray
            ``(1 - d prox/d omega) / V`` (non-negative).

        Examples
        --------
        >>> z, r = Loss.square().prox(1.0, 0.0, 1.0)
        >>> float(z), float(r)
        (0.5, 0.5)
        """
        if not (np.isfinite(V) and V > 0):
            raise ValueError(f"V must be finite and > 0, got {V}")
        y, omega = np.broadcast_arrays(np.asarray(y, float), np.asarray(omega, float))
        return self._prox(y, omega, float(V), guess)

    def threshold(self, y, V: float) -> np.ndarray:
        """The centre ``omega_c(y) = V l'(y, 0)`` at which ``prox(y, omega_c, V) = 0``.

        Because the prox increases with ``omega``, ``y * prox < 0`` exactly when
        ``y * (omega - omega_c) < 0``; the training 0/1 error uses this (theory §2.4).
        """
        y = np.asarray(y, float)
        return V * self._d1(y, np.zeros_like(y))

    def __repr__(self) -> str:
        return f"Loss({self.name}: {sp.sstr(self.expr)})"

    @classmethod
    def from_name(cls, name: str) -> Loss:
        """Built-in loss by name: ``square``, ``logistic``, ``hinge``, ``huber`` or ``huber:A`` (threshold A)."""
        base, _, arg = name.partition(":")
        table = {"square": cls.square, "logistic": cls.logistic, "hinge": cls.hinge}
        if base == "huber":
            return cls.huber(float(arg) if arg else 1.0)
        if base not in table or arg:
            raise ValueError(f"unknown loss {name!r}; choose one of square, logistic, hinge, huber[:A], "
                             "or use Loss.from_expr for a formula")
        return table[base]()

    # ------------------------------------------------------------------ built-ins
    @classmethod
    def square(cls) -> Loss:
        """Square loss ``(y - z)^2 / 2``; closed-form prox ``(omega + V y)/(1 + V)``."""

        def prox(y, omega, V, guess):
            return (omega + V * y) / (1.0 + V), np.full(omega.shape, 1.0 / (1.0 + V))

        return cls(name="square", expr=(Y - Z) ** 2 / 2, _prox=prox,
                   _value=lambda y, z: 0.5 * (y - z) ** 2, _d1=lambda y, z: z - y,
                   _d2=lambda y, z: np.ones(np.broadcast(y, z).shape), is_square=True)

    @classmethod
    def logistic(cls) -> Loss:
        """Logistic loss ``log(1 + exp(-y z))`` for labels ``y = +-1``.

        Evaluated as ``logaddexp(0, -y z)`` with ``expit`` derivatives, so no overflow for any ``z``;
        the prox is a safeguarded Newton solve inside the bracket ``[omega, omega + V y]``.
        """

        def d1(y, z):
            return -y * expit(-y * z)

        def d2(y, z):
            return y * y * expit(y * z) * expit(-y * z)

        def prox(y, omega, V, guess):
            return newton_prox(d1, d2, y, omega, V, guess)

        return cls(name="logistic", expr=sp.log(1 + sp.exp(-Y * Z)), _prox=prox,
                   _value=lambda y, z: np.logaddexp(0.0, -y * z), _d1=d1, _d2=d2, lipschitz=1.0)

    @classmethod
    def hinge(cls) -> Loss:
        """Hinge loss ``max(0, 1 - y z)`` for labels ``y = +-1``; piecewise closed-form prox."""

        def prox(y, omega, V, guess):
            yw = y * omega
            low = yw <= 1.0 - V
            mid = (~low) & (yw < 1.0)
            z = np.where(low, omega + V * y, np.where(mid, y, omega))
            r = np.where(mid, 1.0 / V, 0.0)
            return z, r

        return cls(name="hinge", expr=sp.Max(0, 1 - Y * Z), _prox=prox,
                   _value=lambda y, z: np.maximum(0.0, 1.0 - y * z),
                   _d1=lambda y, z: np.where(y * z < 1.0, -y, 0.0),
                   _d2=lambda y, z: np.zeros(np.broadcast(y, z).shape), lipschitz=1.0, smooth=False)

    @classmethod
    def huber(cls, a: float = 1.0) -> Loss:
        """Huber loss of the residual ``u = y - z``: ``u^2/2`` for ``|u| <= a``, else ``a|u| - a^2/2``."""
        a = float(a)
        if not (np.isfinite(a) and a > 0):
            raise ValueError(f"a (the Huber threshold) must be finite and > 0, got {a}")

        def prox(y, omega, V, guess):
            u = y - omega
            inner = np.abs(u) <= a * (1.0 + V)
            z = np.where(inner, (omega + V * y) / (1.0 + V), omega + V * a * np.sign(u))
            r = np.where(inner, 1.0 / (1.0 + V), 0.0)
            return z, r

        def value(y, z):
            u = np.abs(y - z)
            return np.where(u <= a, 0.5 * u * u, a * u - 0.5 * a * a)

        expr = sp.Piecewise(((Y - Z) ** 2 / 2, sp.Abs(Y - Z) <= a), (a * sp.Abs(Y - Z) - a**2 / 2, True))
        return cls(name=f"huber({a:g})", expr=expr, _prox=prox, _value=value,
                   _d1=lambda y, z: np.clip(z - y, -a, a),
                   _d2=lambda y, z: (np.abs(y - z) <= a).astype(float), lipschitz=a, smooth=False)

    @classmethod
    def from_expr(cls, expr, name: str | None = None) -> Loss:
        """A loss from a formula in ``y`` and ``z`` (sympy expression or string).

        sympy derives ``l'`` and ``l''`` and checks convexity (``l'' >= 0``: symbolically where it can
        decide, otherwise on a grid of ``y`` and ``z``; a non-convex loss raises
        :class:`NonConvexLossError`). If ``l`` is quadratic in ``z`` the prox is solved in closed form by
        sympy; otherwise it is a vectorised, bracketed, safeguarded Newton solve. Numeric evaluation
        uses numpy, with an exact mpmath fallback on entries that overflow.

        Only smooth (C²) formulas are accepted; for the hinge and Huber losses use :meth:`hinge` and
        :meth:`huber`.

        Examples
        --------
        >>> loss = Loss.from_expr("log(1 + exp(-y*z))")
        >>> z, r = loss.prox([1.0, -1.0], [0.3, 0.3], 2.0)
        >>> bool(np.allclose(z, Loss.logistic().prox([1.0, -1.0], [0.3, 0.3], 2.0)[0]))
        True
        """
        ex = parse_expression(expr, "expr")
        if ex.has(sp.Max, sp.Min, sp.Abs, sp.Piecewise, sp.Heaviside, sp.sign):
            raise ValueError(f"expr {ex} is not smooth (contains Max/Min/Abs/Piecewise/Heaviside/sign); "
                             "use Loss.hinge() or Loss.huber(a), or give a smooth formula")
        if not ex.has(Z):
            raise ValueError(f"expr {ex} does not depend on z (the pre-activation)")
        d1 = sp.simplify(sp.diff(ex, Z))
        d2 = sp.simplify(sp.diff(d1, Z))
        _check_convex(ex, d2)
        f_value = lambdify_safe(ex)
        f_d1 = lambdify_safe(d1)
        f_d2 = lambdify_safe(d2)
        prox = _closed_form_prox(d1) if not d2.has(Z) else None
        if prox is None:
            def prox(y, omega, V, guess):
                return newton_prox(f_d1, f_d2, y, omega, V, guess)

        return cls(name=name or sp.sstr(ex), expr=ex, _prox=prox, _value=f_value, _d1=f_d1, _d2=f_d2)


# ---------------------------------------------------------------------- helpers
def _check_convex(expr: sp.Expr, d2: sp.Expr) -> None:
    yr, zr = sp.symbols("y z", real=True)
    d2_real = d2.subs({Y: yr, Z: zr})
    verdict = sp.ask(sp.Q.nonnegative(d2_real)) if d2_real.free_symbols else bool(d2_real >= 0)
    if verdict is False or (verdict is None and d2_real.is_negative):
        raise NonConvexLossError(f"loss {expr} is not convex in z: d2l/dz2 = {d2} can be negative")
    if verdict is True:
        return
    f = lambdify_safe(d2)
    ys = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    zs = np.linspace(-30.0, 30.0, 601)
    vals = f(ys[:, None] + 0 * zs, zs[None, :] + 0 * ys[:, None])
    vals = np.where(np.isfinite(vals), vals, 0.0)
    if np.min(vals) < -1e-12:
        i, j = np.unravel_index(np.argmin(vals), vals.shape)
        raise NonConvexLossError(f"loss {expr} is not convex in z: d2l/dz2 = {vals[i, j]:.3g} < 0 at "
                                 f"y = {ys[i]}, z = {zs[j]:.3g}")


def _closed_form_prox(d1: sp.Expr) -> ProxFunction | None:
    """sympy's solution of ``(z - omega)/V + l'(y, z) = 0`` for a loss quadratic in z."""
    w, v = sp.symbols("omega V", positive=True)
    sols = sp.solve(sp.Eq((Z - w) / v + d1, 0), Z)
    if len(sols) != 1:
        return None
    sol = sp.simplify(sols[0])
    zfun = lambdify_safe(sol, args=(Y, w, v))
    slope = sp.simplify((1 - sp.diff(sol, w)) / v)
    rfun = lambdify_safe(slope, args=(Y, w, v))

    def prox(y, omega, V, guess):
        z = np.broadcast_to(zfun(y, omega, V), omega.shape).astype(float)
        r = np.broadcast_to(rfun(y, omega, V), omega.shape).astype(float)
        return z, r

    return prox


def newton_prox(d1, d2, y: np.ndarray, omega: np.ndarray, V: float, guess=None, *, tol: float = 1e-13,
                max_iter: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised, bracketed, safeguarded Newton solve of ``(z - omega) + V l'(y, z) = 0``.

    For convex ``l`` the root lies between ``omega`` and ``omega - V l'(y, omega)``; Newton steps that
    leave the current bracket are replaced by bisection, so the iteration always converges. Returns the
    prox and ``r = l''/(1 + V l'')`` at it.
    """
    shape = np.shape(omega)
    y = np.array(np.broadcast_to(y, shape), dtype=float).ravel()
    omega = np.array(omega, dtype=float).ravel()
    if guess is not None:
        guess = np.ravel(guess) if np.shape(guess) == shape else None
    g0 = d1(y, omega)
    if not np.all(np.isfinite(g0)):
        raise FloatingPointError("loss derivative is not finite at the prox centre")
    end = omega - V * g0
    lo = np.minimum(omega, end)
    hi = np.maximum(omega, end)
    if guess is not None and np.shape(guess) == omega.shape:
        z = np.clip(np.array(guess, dtype=float), lo, hi)
    else:
        z = omega - V * g0 / (1.0 + V * d2(y, omega))
        z = np.clip(z, lo, hi)
    eps = np.finfo(float).eps
    active = np.ones(z.shape, dtype=bool)
    last_step = hi - lo  # rtsafe safeguard: bisect when Newton steps stop halving
    for _ in range(max_iter):
        za, wa, ya = z[active], omega[active], y[active]
        grad = V * d1(ya, za)
        g = (za - wa) + grad
        lo_a = np.where(g < 0, za, lo[active])
        hi_a = np.where(g > 0, za, hi[active])
        z_new = za - g / (1.0 + V * d2(ya, za))
        outside = ~((z_new > lo_a) & (z_new < hi_a)) | (np.abs(z_new - za) > 0.5 * last_step[active])
        z_new = np.where(outside, 0.5 * (lo_a + hi_a), z_new)
        last_step[active] = np.abs(z_new - za)
        scale = np.maximum(1.0, np.abs(za))
        # converged: Newton step negligible, bracket collapsed, or residual at the rounding level of its terms
        done = ((np.abs(z_new - za) <= tol * scale) | (hi_a - lo_a <= tol * scale)
                | (np.abs(g) <= 8 * eps * (np.abs(za - wa) + np.abs(grad) + np.abs(za))))
        z[active] = np.where(done & ~outside, z_new, np.where(done, za, z_new))
        lo[active], hi[active] = lo_a, hi_a
        idx = np.flatnonzero(active)
        active[idx[done]] = False
        if not active.any():
            break
    else:
        raise FloatingPointError(f"prox Newton did not converge in {max_iter} iterations")
    dd = d2(y, z)
    r = dd / (1.0 + V * dd)
    if not (np.all(np.isfinite(z)) and np.all(np.isfinite(r))):
        raise FloatingPointError("prox produced a non-finite value")
    return z.reshape(shape), r.reshape(shape)
