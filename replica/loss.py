r"""Convex losses :math:`\ell(y, z)` and their proximal operators (theory §2.2).

A :class:`Loss` carries its sympy expression in the symbols ``y`` (label) and ``z`` (pre-activation
:math:`w \cdot v/\sqrt{p}`), the derivatives sympy derives from it, and a vectorised proximal map

.. math:: \mathrm{prox}(y, \omega, V) = \arg\min_z \Big[\frac{(z-\omega)^2}{2V} + \ell(y, z)\Big].

:meth:`Loss.prox` returns the prox together with ``r = (1 - d prox / d omega) / V``, so that
:math:`\partial_\omega f_g = -r` with :math:`f_g = (\mathrm{prox} - \omega)/V`. For a C² loss,
``r = l''(prox) / (1 + V l''(prox))`` (implicit-function theorem), computed without cancellation.

The built-in losses are numeric: their sympy expression :attr:`Loss.expr` is built on first access, so that
building and solving with them never imports sympy (issue 13). :meth:`Loss.from_expr` derives its loss with
sympy (:mod:`replica._symbolic`), imported there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit

from gaussequiv import checks

if TYPE_CHECKING:
    import sympy as sp

__all__ = ["Kinks", "Loss", "NonConvexLossError"]

ProxFunction = Callable[[np.ndarray, np.ndarray, float, "np.ndarray | None"], tuple[np.ndarray, np.ndarray]]


class NonConvexLossError(ValueError):
    """The loss is not convex in ``z``: the replica equations of this library do not apply."""


@dataclass(frozen=True)
class Kinks:
    """Where the prox of a loss is not smooth in ``omega``, at a given ``V`` (theory §2.2, prox facts).

    The channel's quadrature puts panel edges there, so that each smooth piece of the prox is integrated as
    the smooth function it is (a fixed rule across a kink converges only algebraically).

    Attributes
    ----------
    margin : tuple of float
        Kinks at ``y * omega = c`` (hinge: ``1 - V`` and ``1``); need a finite label set.
    residual : tuple of float
        Kinks at ``y - omega = c`` (Huber: ``-a (1 + V)`` and ``a (1 + V)``).

    Examples
    --------
    >>> Loss.hinge().kinks(0.5).omega(-1.0)
    array([-0.5, -1. ])
    """

    margin: tuple[float, ...] = ()
    residual: tuple[float, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.margin or self.residual)

    def omega(self, y: float) -> np.ndarray:
        """The kinks in ``omega`` for the label ``y`` (margin kinks need ``y != 0``; none then)."""
        y = float(y)
        out = [c / y for c in self.margin] if y != 0 else []
        return np.array(out + [y - c for c in self.residual], dtype=float)

    def to_dict(self) -> dict:
        return {"margin": list(self.margin), "residual": list(self.residual)}


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
        The loss as a sympy expression in ``y`` and ``z`` (built on first access, which imports sympy; the
        numerics of the built-in losses never need it).
    is_square : bool
        True only for the built-in ``square`` loss ``(y - z)^2 / 2``, whose channel integrals the
        solver evaluates in closed form (theory §2.5).
    lipschitz : float or None
        A bound on ``|dl/dz|`` when one is known (used for documentation and tests).
    smooth : bool
        False for losses with kinks (hinge, Huber): their prox is piecewise in ``omega`` and ``r`` jumps
        at the kinks, which :meth:`kinks` locates so that the channel's quadrature splits there.
    labels : tuple of float or None
        For a :meth:`from_expr` loss given ``labels``: the only labels it is checked convex for, and
        accepted by its prox; None (every other loss) means any real label.
    """

    name: str
    _expr: Callable[[], sp.Expr] = field(repr=False)  # builds :attr:`expr` (on first access)
    _prox: ProxFunction = field(repr=False)
    _value: Callable[[np.ndarray, np.ndarray], np.ndarray] = field(repr=False)
    _d1: Callable[[np.ndarray, np.ndarray], np.ndarray] = field(repr=False)
    _d2: Callable[[np.ndarray, np.ndarray], np.ndarray] = field(repr=False)
    is_square: bool = False
    lipschitz: float | None = None
    smooth: bool = True
    labels: tuple[float, ...] | None = None
    _kinks: Callable[[float], Kinks] | None = field(default=None, repr=False)
    _fg: Callable[[np.ndarray, np.ndarray, float, np.ndarray], np.ndarray] | None = field(default=None, repr=False)

    @functools.cached_property
    def expr(self) -> sp.Expr:
        """The loss as a sympy expression in ``y`` and ``z``, built once on first access (imports sympy).

        Examples
        --------
        >>> Loss.logistic().expr
        log(1 + exp(-y*z))
        """
        return self._expr()

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

    def fg(self, y, omega, V: float, prox, r=None) -> np.ndarray:
        """``f_g = (prox - omega)/V`` (theory §2.2), evaluated by whichever of two exact forms is accurate.

        The hinge and Huber losses use their piecewise closed forms. For a smooth loss, where ``V l''(prox) <= 1``
        this is ``-l'(y, prox)`` (the prox's optimality condition; the difference quotient would lose
        ``eps |omega| / V`` relative accuracy, 1e-7 at ``V = 1e-9``), and elsewhere the difference quotient itself:
        there ``l'(prox)`` is small (``~ 1/V``) and the prox's own rounding ``delta`` costs ``l'' delta / |l'|``
        relative accuracy in ``-l'`` (1e-7 at ``V = 1e6``), against ``delta / |prox - omega|`` in the quotient.
        ``r``, the prox's second output ``l''/(1 + V l'')`` if the caller has it, decides the same split
        (``V r > 1/2`` where ``V l'' > 1``, up to rounding at the boundary, where both forms are accurate) without
        evaluating ``l''`` again.

        Examples
        --------
        >>> loss = Loss.hinge()
        >>> z, _ = loss.prox(1.0, -2.0, 1e-9)
        >>> float(loss.fg(1.0, -2.0, 1e-9, z))  # y in the linear piece, exactly
        1.0
        """
        y, omega, prox = np.broadcast_arrays(np.asarray(y, float), np.asarray(omega, float), np.asarray(prox, float))
        if self._fg is not None:
            return self._fg(y, omega, float(V), prox)
        V = float(V)
        slope = -np.asarray(self._d1(y, prox), dtype=float)
        if r is None:
            stiff = V * np.asarray(self._d2(y, prox), dtype=float) > 1.0
        else:
            stiff = V * np.broadcast_to(np.asarray(r, dtype=float), prox.shape) > 0.5
        if not np.any(stiff):
            return slope
        return np.where(stiff, (prox - omega) / V, slope)

    def kinks(self, V: float) -> Kinks:
        """Where the prox at variance ``V`` is not smooth in ``omega`` (empty for smooth losses).

        Examples
        --------
        >>> Loss.huber(2.0).kinks(0.5)
        Kinks(margin=(), residual=(-3.0, 3.0))
        >>> bool(Loss.logistic().kinks(0.5))
        False
        """
        if not (np.isfinite(V) and V > 0):
            raise ValueError(f"V must be finite and > 0, got {V}")
        return self._kinks(float(V)) if self._kinks is not None else Kinks()

    def threshold(self, y, V: float) -> np.ndarray:
        """The centre ``omega_c(y) = V l'(y, 0)`` at which ``prox(y, omega_c, V) = 0``.

        Because the prox increases with ``omega``, ``y * prox < 0`` exactly when
        ``y * (omega - omega_c) < 0``; the training 0/1 error uses this (theory §2.4).
        """
        y = np.asarray(y, float)
        return V * self._d1(y, np.zeros_like(y))

    def __repr__(self) -> str:
        import sympy as sp

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

        return cls(name="square", _expr=_square_expr, _prox=prox,
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

        return cls(name="logistic", _expr=_logistic_expr, _prox=prox,
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

        def fg(y, omega, V, z):
            yw = y * omega
            return np.where(yw <= 1.0 - V, y, np.where(yw < 1.0, (y - omega) / V, 0.0))

        return cls(name="hinge", _expr=_hinge_expr, _prox=prox,
                   _value=lambda y, z: np.maximum(0.0, 1.0 - y * z),
                   _d1=lambda y, z: np.where(y * z < 1.0, -y, 0.0),
                   _d2=lambda y, z: np.zeros(np.broadcast(y, z).shape), lipschitz=1.0, smooth=False,
                   _kinks=lambda V: Kinks(margin=(1.0 - V, 1.0)), _fg=fg)

    @classmethod
    def huber(cls, a: float = 1.0) -> Loss:
        """Huber loss of the residual ``u = y - z``: ``u^2/2`` for ``|u| <= a``, else ``a|u| - a^2/2``."""
        a = checks.real("a (the Huber threshold)", a, low=0.0, low_open=True)

        def prox(y, omega, V, guess):
            u = y - omega
            inner = np.abs(u) <= a * (1.0 + V)
            z = np.where(inner, (omega + V * y) / (1.0 + V), omega + V * a * np.sign(u))
            r = np.where(inner, 1.0 / (1.0 + V), 0.0)
            return z, r

        def fg(y, omega, V, z):
            u = y - omega
            return np.where(np.abs(u) <= a * (1.0 + V), u / (1.0 + V), a * np.sign(u))

        def value(y, z):
            u = np.abs(y - z)
            return np.where(u <= a, 0.5 * u * u, a * u - 0.5 * a * a)

        return cls(name=f"huber({a:g})", _expr=functools.partial(_huber_expr, a), _prox=prox, _value=value,
                   _d1=lambda y, z: np.clip(z - y, -a, a),
                   _d2=lambda y, z: (np.abs(y - z) <= a).astype(float), lipschitz=a, smooth=False,
                   _kinks=lambda V: Kinks(residual=(-a * (1.0 + V), a * (1.0 + V))), _fg=fg)

    @classmethod
    def from_expr(cls, expr, name: str | None = None, *, labels=None) -> Loss:
        """A loss from a formula in ``y`` and ``z`` (sympy expression or string).

        A string is read by a whitelist parser, never executed (see :mod:`replica._symbolic` for the
        grammar: ``y``, ``z``, numbers, ``+ - * / **``, and functions such as ``exp``, ``log``, ``erf``,
        ``log1p``); anything else raises ``ValueError`` naming the offending token. sympy derives ``l'``
        and ``l''``, and the loss must be convex in ``z`` for every real label ``y`` (``l'' >= 0``): decided
        symbolically where sympy can, otherwise numerically over the whole range the prox can reach (see
        :func:`_check_convex`); a non-convex loss raises :class:`NonConvexLossError`. If ``l`` is
        quadratic in ``z`` the prox is solved in closed form by sympy; otherwise it is a vectorised,
        bracketed, safeguarded Newton solve. Numeric evaluation uses numpy and scipy, with an
        overflow-free vectorised re-evaluation of entries that overflow (:func:`replica._symbolic.lambdify_safe`).

        Only smooth (C²) formulas are accepted; for the hinge and Huber losses use :meth:`hinge` and
        :meth:`huber`. Labels are any real numbers (e.g. ``(y - z)**2/2`` with labels 0 and 1).

        Parameters
        ----------
        expr : str or sympy.Expr
            The loss ``l(y, z)``.
        name : str, optional
            Name in results and files (default: the formula).
        labels : sequence of float, optional
            The finite label set the loss will see (e.g. ``(-1, 1)``): convexity is then required, and
            checked, at these labels only, and the prox refuses any other label. By default the loss must
            be convex for every real label.

        Examples
        --------
        >>> loss = Loss.from_expr("log(1 + exp(-y*z))")
        >>> z, r = loss.prox([1.0, -1.0], [0.3, 0.3], 2.0)
        >>> bool(np.allclose(z, Loss.logistic().prox([1.0, -1.0], [0.3, 0.3], 2.0)[0]))
        True
        >>> Loss.from_expr("(y - z)**2/2 - z**4/1e6")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        replica.loss.NonConvexLossError: loss -1.0e-6*z**4 + (y - z)**2/2 is not convex in z: d2l/dz2 = ...
        """
        import sympy as sp

        from replica._symbolic import Z, lambdify_safe, parse_expression

        ex = parse_expression(expr, "expr")
        if labels is not None:
            labels = tuple(float(v) for v in np.unique(checks.vector("labels", labels)))
        if ex.has(sp.Max, sp.Min, sp.Abs, sp.Piecewise, sp.Heaviside, sp.sign):
            raise ValueError(f"expr {ex} is not smooth (contains Max/Min/Abs/Piecewise/Heaviside/sign); "
                             "use Loss.hinge() or Loss.huber(a), or give a smooth formula")
        if not ex.has(Z):
            raise ValueError(f"expr {ex} does not depend on z (the pre-activation)")
        d1, _ = _derivative(ex)
        d2, d2_simple = _derivative(d1)
        _check_convex(ex, d2, d2_simple, labels=labels)
        f_value = lambdify_safe(ex)
        f_d1 = lambdify_safe(d1)
        f_d2 = lambdify_safe(d2)
        solve = _closed_form_prox(d1) if not d2.has(Z) else None
        if solve is None:
            def solve(y, omega, V, guess):
                return newton_prox(f_d1, f_d2, y, omega, V, guess)

        def prox(y, omega, V, guess):
            if labels is not None and not np.isin(y, labels).all():
                bad = y[~np.isin(y, labels)].flat[0]
                raise ValueError(f"label y = {bad:g} given to the loss {name or sp.sstr(ex)}, which was checked "
                                 f"convex for the labels {labels} only (Loss.from_expr(..., labels=...))")
            return solve(y, omega, V, guess)

        return cls(name=name or sp.sstr(ex), _expr=lambda: ex, _prox=prox, _value=f_value, _d1=f_d1, _d2=f_d2,
                   labels=labels)


# ---------------------------------------------------------------------- expressions of the built-ins
def _square_expr() -> sp.Expr:
    from replica._symbolic import Y, Z

    return (Y - Z) ** 2 / 2


def _logistic_expr() -> sp.Expr:
    import sympy as sp

    from replica._symbolic import Y, Z

    return sp.log(1 + sp.exp(-Y * Z))


def _hinge_expr() -> sp.Expr:
    import sympy as sp

    from replica._symbolic import Y, Z

    return sp.Max(0, 1 - Y * Z)


def _huber_expr(a: float) -> sp.Expr:
    import sympy as sp

    from replica._symbolic import Y, Z

    return sp.Piecewise(((Y - Z) ** 2 / 2, sp.Abs(Y - Z) <= a), (a * sp.Abs(Y - Z) - a**2 / 2, True))


# ---------------------------------------------------------------------- helpers
def _derivative(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """``d expr/dz`` in the form to evaluate, and sympy's simplified form.

    ``simplify`` often gives a stabler form (``-y/(exp(y z) + 1)`` for the logistic loss) but can also
    multiply out a Gaussian bump into ``(...) * exp((z - 50)**2) * exp(-(z - 50)**2)``, which overflows
    into ``inf * 0`` for ``|z - 50| > 27``. The form kept for evaluation is the one plain numpy evaluates
    finitely at more points of a probe grid (labels -3 ... 3, ``|z| <= 1e3``); then the shorter one; then
    the simplified one.
    """
    import sympy as sp

    from replica._symbolic import Y, Z, lambdify

    raw = sp.diff(expr, Z)
    simple = sp.simplify(raw)
    if raw == simple:
        return simple, simple

    def badness(form):
        f = lambdify((Y, Z), form, ["scipy", "numpy"])
        with np.errstate(all="ignore"):
            vals = np.asarray(f(_PROBE_Y, _PROBE_Z), dtype=float)
        return int(np.count_nonzero(~np.isfinite(np.broadcast_to(vals, _PROBE_Z.shape)))), sp.count_ops(form)

    return (raw if badness(raw) < badness(simple) else simple), simple


_PROBE_Y = np.array([-3.0, -1.0, 0.0, 1.0, 3.0])[:, None] + np.zeros((1, 801))
_PROBE_Z = np.zeros((5, 1)) + np.linspace(-1e3, 1e3, 801)[None, :]


#: Labels at which convexity in z is checked numerically: 0 and +-(0.01, 0.1, 0.5, 1, 2, 3, 10, 100, 1e4).
CONVEX_LABELS = np.concatenate([[0.0], np.outer([-1.0, 1.0], [0.01, 0.1, 0.5, 1, 2, 3, 10, 100, 1e4]).ravel()])
#: Values of z at which convexity is checked: step 1/32 on [-64, 64], then ratio 1.1 out to |z| = 1e100.
CONVEX_Z = np.unique(np.concatenate([np.linspace(-64.0, 64.0, 4097),
                                     np.outer([-1.0, 1.0], np.geomspace(64.0, 1e100, 2373)).ravel()]))
#: A curvature ``l'' < -CONVEX_RTOL * (sum of the magnitudes of its terms)`` is negative beyond rounding.
CONVEX_RTOL = 1e-10
#: Added around each feature point of ``l''`` (see :func:`_feature_points`): step 1/256 within 8 of it.
_PATCH = np.linspace(-8.0, 8.0, 4097)


def _feature_points(d2: sp.Expr, labels: np.ndarray, limit: int = 256) -> np.ndarray:
    """Values of ``z`` where ``l''`` may have a narrow feature far from 0.

    For each argument of a function (``exp``, ``erf``, ...) and each base of a negative or fractional
    power that is a polynomial in ``z`` (degree <= 20), the real parts of the roots in ``z`` of the
    polynomial and of its derivative, at every label: ``exp(-(z - 1000)**2)`` gives 1000 and
    ``1/(1 + (z - 300)**2)`` gives 300.
    """
    import sympy as sp

    from replica._symbolic import Y, Z, lambdify

    polys = set()
    for node in sp.preorder_traversal(d2):
        if isinstance(node, sp.Function):
            polys.update(node.args)
        elif isinstance(node, sp.Pow) and not (node.exp.is_integer and node.exp.is_positive):
            polys.add(node.base)
    out = []
    for a in polys:
        if not (a.has(Z) and a.is_polynomial(Z)):
            continue
        poly = sp.Poly(a, Z)
        if not 1 <= poly.degree() <= 20:
            continue
        for coeffs in (poly.all_coeffs(), sp.Poly(poly.diff(Z), Z).all_coeffs()):
            f = lambdify(Y, coeffs, ["numpy"])
            with np.errstate(all="ignore"):
                rows = np.array([np.broadcast_to(np.asarray(c, dtype=float), labels.shape)
                                 for c in f(labels)]).T
            for c in rows:
                if np.all(np.isfinite(c)) and c.size > 1 and np.any(c[:-1] != 0):
                    c = np.trim_zeros(c, "f")
                    out.extend(np.real(np.roots(c)) if c.size > 1 else [])
    pts = np.unique(np.asarray(out, dtype=float))
    pts = pts[np.isfinite(pts) & (np.abs(pts) > 8.0) & (np.abs(pts) < 1e100)]
    return pts[np.argsort(np.abs(pts))][:limit]


def _check_convex(expr: sp.Expr, d2: sp.Expr, d2_symbolic: sp.Expr | None = None, *,
                  labels: tuple[float, ...] | None = None) -> None:
    """Raise :class:`NonConvexLossError` unless ``l''(y, z) >= 0`` for every real ``z`` and every real
    label ``y`` (every label in ``labels`` if given).

    1. Symbolic: sympy's ``ask(Q.nonnegative(.))`` on ``d2_symbolic`` (default ``d2``; e.g. its simplified
       form) with real ``y`` and ``z``; a definite answer decides.
    2. Otherwise numeric, over the labels :data:`CONVEX_LABELS` (or ``labels``) and every ``z`` in :data:`CONVEX_Z`,
       which reaches ``|z| = 1e100``, beyond any point the prox can visit; the values are overflow-free
       (a ``z**4`` term is ``-inf``, not NaN, at ``1e100``). The lowest local minima of each row are then
       refined by golden-section search between their neighbours, so a dip narrower than the grid is
       found once one grid point sits on its flank. ``l''`` counts as negative where it is below
       ``-CONVEX_RTOL`` times the sum of the magnitudes of its terms (rounding cannot do that); a NaN
       ``l''`` (a loss undefined for some real ``z``) raises ``ValueError``.

    Around the feature points of :func:`_feature_points` (where a term such as ``exp(-(z - 1000)**2)``
    lives) the grid is refined to step 1/256. A negative curvature confined between two grid points
    (narrower than 1/32 for ``|z| <= 64`` or 10% of ``|z|`` beyond, away from feature points) and not
    seen by sympy can go unnoticed.
    """
    import sympy as sp

    from replica._symbolic import Y, Z, lambdify_safe

    yr, zr = sp.symbols("y z", real=True)
    form = (d2 if d2_symbolic is None else d2_symbolic).subs({Y: yr, Z: zr})
    verdicts = []
    for f_real in ([form] if labels is None else [form.subs(yr, sp.Float(v)) for v in labels]):
        verdicts.append(sp.ask(sp.Q.nonnegative(f_real)) if f_real.free_symbols else bool(f_real >= 0))
    if any(v is False for v in verdicts):
        raise NonConvexLossError(f"loss {expr} is not convex in z: d2l/dz2 = {d2} can be negative")
    if all(v is True for v in verdicts):
        return
    grid_y = CONVEX_LABELS if labels is None else np.asarray(labels, dtype=float)
    terms = sp.Add.make_args(d2)
    f = lambdify_safe(d2)
    parts = [lambdify_safe(t) for t in terms] if len(terms) > 1 else []

    def curvature(y, z):
        vals = f(y, z)
        scale = sum(np.abs(p(y, z)) for p in parts) if parts else np.abs(vals)
        return vals, scale

    grid_z = CONVEX_Z
    extra = _feature_points(d2, grid_y)
    if extra.size:
        grid_z = np.unique(np.concatenate([grid_z, (extra[:, None] + _PATCH[None, :]).ravel()]))
    y, z = grid_y[:, None] + 0 * grid_z[None, :], grid_z[None, :] + 0 * grid_y[:, None]
    undefined = np.isnan(lambdify_safe(expr)(y, z))
    if undefined.any():
        i = np.unravel_index(np.argmin(np.where(undefined, np.abs(z), np.inf)), undefined.shape)
        raise ValueError(f"loss {expr} is not defined (NaN) at y = {y[i]:.6g}, z = {z[i]:.6g}; a loss must be "
                         "finite and twice differentiable in z for every real z and label y")
    vals, scale = curvature(y, z)
    _judge(expr, d2, vals, scale, y, z, labels)
    # refine the lowest local minima of each row between their neighbours (golden section, vectorised)
    rel = np.where(np.isinf(vals), np.sign(vals), vals / np.where(scale > 0, scale, 1.0))
    inner = (rel[:, 1:-1] <= rel[:, :-2]) & (rel[:, 1:-1] <= rel[:, 2:])
    key = np.where(inner, rel[:, 1:-1], np.inf)
    cols = np.argsort(key, axis=1)[:, :16] + 1
    rows = np.broadcast_to(np.arange(vals.shape[0])[:, None], cols.shape)
    keep = np.isfinite(key[rows, cols - 1])
    rows, cols = rows[keep], cols[keep]
    if rows.size == 0:
        return
    ys = grid_y[rows]
    a, b = grid_z[cols - 1], grid_z[cols + 1]
    g = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(60):
        c, d = b - g * (b - a), a + g * (b - a)
        fc, sc = curvature(ys, c)
        fd, sd = curvature(ys, d)
        left = fc / np.where(sc > 0, sc, 1.0) < fd / np.where(sd > 0, sd, 1.0)
        a, b = np.where(left, a, c), np.where(left, d, b)
    zm = 0.5 * (a + b)
    vals, scale = curvature(ys, zm)
    _judge(expr, d2, vals, scale, ys, zm, labels)


def _judge(expr, d2, vals, scale, ys, zs, labels) -> None:
    if np.isnan(vals).any():
        i = np.unravel_index(np.flatnonzero(np.isnan(vals).ravel())[0], vals.shape)
        raise ValueError(f"loss {expr}: d2l/dz2 = {d2} is not a number at y = {ys[i]:.6g}, z = {zs[i]:.6g}; "
                         "a loss must be finite and twice differentiable in z for every real z and label y")
    with np.errstate(invalid="ignore"):
        neg = vals < -CONVEX_RTOL * np.where(np.isfinite(scale), scale, np.inf)
    neg |= np.isneginf(vals)
    if neg.any():  # report where the curvature first turns negative: smallest |z|, then smallest |y|
        ys, zs = np.broadcast_arrays(ys, zs)
        order = np.lexsort((np.abs(ys[neg]), np.abs(zs[neg])))
        i = tuple(ix[order[0]] for ix in np.nonzero(neg))
        hint = ("" if labels is not None else "; if the loss only ever sees a few labels (e.g. +-1), pass "
                "them: Loss.from_expr(..., labels=(-1, 1))")
        raise NonConvexLossError(f"loss {expr} is not convex in z: d2l/dz2 = {vals[i]:.3g} < 0 at "
                                 f"y = {ys[i]:.6g}, z = {zs[i]:.6g}{hint}")


def _closed_form_prox(d1: sp.Expr) -> ProxFunction | None:
    """sympy's solution of ``(z - omega)/V + l'(y, z) = 0`` for a loss quadratic in z."""
    import sympy as sp

    from replica._symbolic import Y, Z, lambdify_safe

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
    leave the current bracket or stop halving are replaced by bisection, so the iteration always converges.
    The bisection halves ``asinh(z)`` rather than ``z``, so that a bracket spanning many orders of magnitude
    (``[-60, 1e78]`` for ``exp(-3 z)``) shrinks in tens of steps, not hundreds. Returns the prox and
    ``r = l''/(1 + V l'')`` at it; ``FloatingPointError`` if ``l'`` is not finite at ``omega`` or the
    iteration does not converge.
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
        scale = np.maximum(1.0, np.abs(za))
        # the halving rule only for steps above the tolerance: at the rounding floor successive Newton steps no
        # longer halve, and bisecting there threw away a converged point (~45 extra sweeps of the nodes)
        slow = (np.abs(z_new - za) > 0.5 * last_step[active]) & (np.abs(z_new - za) > tol * scale)
        outside = ~((z_new >= lo_a) & (z_new <= hi_a)) | slow
        z_new = np.where(outside, _bisect(lo_a, hi_a), z_new)
        last_step[active] = np.abs(z_new - za)
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


def _bisect(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Midpoint of ``[lo, hi]`` in ``asinh`` scale (arithmetic where that does not fall strictly inside)."""
    with np.errstate(over="ignore", invalid="ignore"):
        mid = np.sinh(0.5 * (np.arcsinh(lo) + np.arcsinh(hi)))
    return np.where((mid > lo) & (mid < hi), mid, 0.5 * lo + 0.5 * hi)
