"""Shared sympy symbols, parsing and safe lambdification for losses and channels."""

from __future__ import annotations

import numpy as np
import sympy as sp

__all__ = ["Y", "Z", "parse_expression", "lambdify_safe"]

#: Label and pre-activation (or teacher field) symbols used in every user formula.
Y, Z = sp.symbols("y z")


def parse_expression(expr, argname: str, allowed=(Y, Z)) -> sp.Expr:
    """Parse a user formula (string or sympy expression) in the symbols ``y`` and ``z``."""
    if isinstance(expr, str):
        try:
            ex = sp.sympify(expr, locals={"y": Y, "z": Z})
        except (sp.SympifyError, SyntaxError, TypeError) as exc:
            raise ValueError(f"{argname}: sympy cannot parse {expr!r}: {exc}") from None
    elif isinstance(expr, sp.Expr):
        ex = expr.subs({s: {"y": Y, "z": Z}[s.name] for s in expr.free_symbols
                        if isinstance(s, sp.Symbol) and s.name in ("y", "z")})
    else:
        raise TypeError(f"{argname} must be a string or a sympy expression, got {type(expr).__name__}")
    if not isinstance(ex, sp.Expr):
        raise ValueError(f"{argname}: {expr!r} is not an expression")
    extra = ex.free_symbols - set(allowed)
    if extra:
        names = ", ".join(sorted(str(s) for s in extra))
        raise ValueError(f"{argname}: unknown symbols {names}; use only "
                         f"{', '.join(str(s) for s in allowed)} (substitute numbers for parameters)")
    return ex


def lambdify_safe(expr: sp.Expr, args=(Y, Z)):
    """Vectorised numpy function of ``expr`` with an exact mpmath fallback where numpy overflows.

    The numpy evaluation runs with floating-point warnings silenced; entries that come out NaN or inf
    are recomputed one by one with mpmath at 30 digits. Entries that are still not finite stay so, and
    the callers treat that as an error.
    """
    f_np = sp.lambdify(args, expr, modules="numpy")
    f_mp = sp.lambdify(args, expr, modules="mpmath")

    def f(*xs):
        xs = [np.asarray(x, dtype=float) for x in xs]
        with np.errstate(all="ignore"):
            out = np.asarray(f_np(*xs), dtype=float)
        shape = np.broadcast_shapes(*(x.shape for x in xs), out.shape)
        out = np.array(np.broadcast_to(out, shape), dtype=float)
        bad = ~np.isfinite(out)
        if np.any(bad):
            bx = [np.broadcast_to(x, shape)[bad] for x in xs]
            import mpmath

            with mpmath.workdps(30):
                vals = [float(f_mp(*(mpmath.mpf(float(v)) for v in row))) for row in zip(*bx, strict=True)]
            out[bad] = vals
        return out

    return f
