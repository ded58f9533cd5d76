r"""The saddle-point equations of a (loss, channel) pair as sympy objects, with a LaTeX rendering.

The prior side is written with indexed spectra ``s_i, t_i``; the channel side with the channel's
:math:`Z_0` (closed form where one exists, otherwise an unevaluated Gaussian integral), the Gaussian
measure in :math:`\xi`, and :math:`f_g = (\mathrm{prox} - \omega)/V`, where the prox is explicit when
sympy solves it (square loss) and otherwise given by its defining equation.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from gaussequiv import checks
from replica._symbolic import OMEGA_STAR as _W
from replica._symbolic import V_STAR as _VP
from replica._symbolic import Y, Z
from replica.channel import Channel
from replica.loss import Loss

__all__ = ["Equations", "equations"]


@dataclass(frozen=True)
class Equations:
    """Saddle-point equations: ``prior`` and ``channel`` are tuples of ``sympy.Eq``; ``prox`` defines the
    proximal map (an explicit ``Eq(prox, ...)`` or the optimality condition ``Eq(..., 0)``)."""

    prior: tuple
    channel: tuple
    prox: sp.Eq
    z0: sp.Eq

    def latex(self) -> str:
        """The equations as a LaTeX ``align`` environment, ready for a paper appendix."""
        rows = [*self.prior, *self.channel, self.prox, self.z0]
        body = r" \\" + "\n"
        body = body.join(sp.latex(e.lhs) + " &= " + sp.latex(e.rhs) for e in rows)
        return "\\begin{align}\n" + body + "\n\\end{align}"

    def to_dict(self) -> dict:
        """The equations as strings (sympy's ``sstr``)."""
        return {"prior": [sp.sstr(e) for e in self.prior], "channel": [sp.sstr(e) for e in self.channel],
                "prox": sp.sstr(self.prox), "z0": sp.sstr(self.z0)}


def equations(loss: Loss, channel: Channel) -> Equations:
    r"""The replica saddle-point equations (theory §2.1-2.2) of ``loss`` and ``channel``.

    Examples
    --------
    >>> from replica import Loss, Channel, equations
    >>> eq = equations(Loss.square(), Channel.linear())
    >>> print(eq.prox)
    Eq(prox, (V*y + omega)/(V + 1))
    >>> "\\hat{V}" in eq.latex()
    True
    """
    checks.instance("loss", loss, Loss, "Loss.logistic()")
    checks.instance("channel", channel, Channel, "Channel.sign()")
    V, q, m, rho, lam, alpha, gamma = sp.symbols(r"V q m rho lambda alpha gamma", positive=True)
    Vh, qh, mh = sp.symbols(r"\hat{V} \hat{q} \hat{m}", real=True)
    omega, xi = sp.symbols("omega xi", real=True)
    i, p = sp.symbols("i p", integer=True, positive=True)
    s, t = sp.IndexedBase("s"), sp.IndexedBase("t")
    den = lam + Vh * s[i]
    prior = (
        sp.Eq(V, sp.Sum(s[i] / den, (i, 1, p)) / p),
        sp.Eq(q, sp.Sum((qh * s[i] ** 2 + mh**2 * t[i] * s[i]) / den**2, (i, 1, p)) / p),
        sp.Eq(m, mh / sp.sqrt(gamma) * sp.Sum(t[i] / den, (i, 1, p)) / p),
    )
    prox_sym = sp.Symbol("prox")
    d1 = sp.diff(loss.expr, Z)
    sol = sp.solve(sp.Eq((Z - omega) / V + d1, 0), Z) if loss.smooth and not sp.diff(d1, Z).has(Z) else []
    if len(sol) == 1:
        prox_eq = sp.Eq(prox_sym, sp.simplify(sol[0]))
        prox_expr = prox_eq.rhs
    else:
        prox_eq = sp.Eq((prox_sym - omega) / V + d1.subs(Z, prox_sym), 0)
        prox_expr = sp.Function("prox")(Y, omega, V)
    fg = (prox_expr - omega) / V
    z0 = channel.Z0().subs({_W: m / sp.sqrt(q) * xi, _VP: rho - m**2 / q})
    dz0 = channel.dZ0().subs({_W: m / sp.sqrt(q) * xi, _VP: rho - m**2 / q})
    gauss = sp.exp(-xi**2 / 2) / sp.sqrt(2 * sp.pi)
    at = {omega: sp.sqrt(q) * xi}

    def label_sum(expr):
        if channel.labels is None:
            return sp.Integral(expr, (Y, -sp.oo, sp.oo))
        return sp.Add(*(expr.subs(Y, sp.nsimplify(v)) for v in channel.labels))

    def expect(expr):
        return sp.Integral(gauss * label_sum(expr.subs(at)), (xi, -sp.oo, sp.oo))

    chan = (
        sp.Eq(Vh, -alpha * expect(z0 * sp.diff(fg, omega))),
        sp.Eq(qh, alpha * expect(z0 * fg**2)),
        sp.Eq(mh, alpha / sp.sqrt(gamma) * expect(dz0 * fg)),
    )
    return Equations(prior=prior, channel=chan, prox=prox_eq,
                     z0=sp.Eq(sp.Function("Z_0")(Y, _W, _VP), channel.Z0()))
