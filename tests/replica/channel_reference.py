r"""An independent evaluation of the channel side (theory §2.2, §2.4) by adaptive quadrature with breakpoints.

Nothing here uses the library's quadrature rules, its ``Z0`` formulas or its prox solvers: the likelihood of each
channel is written out from its definition (theory §2.3), ``Z0(y, omega*, V*) = E_{z ~ N(omega*, V*)} P0(y|z)`` is
the closed form of the sign family or an inner adaptive integral (logit, custom likelihoods), the prox is a closed
form (square, hinge, Huber) or a scalar ``brentq`` root of ``(z - omega)/V + l'(y, z) = 0`` (smooth losses), and
the Gaussian expectations are ``scipy.integrate.quad_vec`` (adaptive Gauss-Kronrod) split at every kink of the
prox and around every steep part of ``Z0``. The library's :class:`replica.Loss` supplies only ``l``, ``l'`` and
``l''`` (sympy-derived or closed forms), the channel only its parameters.

Returned quantities (per unit ``alpha``; ``m_hat`` without the ``1/sqrt(gamma)``):

* ``vhat`` = :math:`E_\xi \sum_y Z_0\, r`, ``r = (1 - d prox/d omega)/V``;
* ``qhat`` = :math:`E_\xi \sum_y Z_0 f_g^2`;
* ``mhat`` = :math:`E_\xi \sum_y \partial_{\omega^*} Z_0 f_g`;
* ``train_loss`` = :math:`E_\xi \sum_y Z_0\, \ell(y, \mathrm{prox})`;
* ``train_error`` = :math:`E_\xi \sum_y Z_0\, 1\{y\,\mathrm{prox} < 0\}` (classification) or
  :math:`E (y - \mathrm{prox})^2` (regression).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
from scipy import integrate, optimize, special

QUANTITIES = ("vhat", "qhat", "mhat", "train_loss", "train_error")
_EPS = dict(epsabs=1e-14, epsrel=1e-12, limit=4000)


# ------------------------------------------------------------------------------------------ losses
class RefLoss:
    """Prox, slope term and value of a loss, scalar, written independently of the library's prox code."""

    def __init__(self, loss):
        self.loss = loss
        self.kind = loss.name.split("(")[0] if loss.name.split("(")[0] in ("square", "hinge", "huber") else "smooth"
        if self.kind == "huber":
            self.a = float(loss.name[len("huber("):-1])
        if self.kind == "smooth":  # scalar l' and l'' from the sympy expression (math module, library fallback)
            ys, zs = sp.Symbol("y"), sp.Symbol("z")
            d1 = sp.diff(loss.expr, zs)
            f1, f2 = (sp.lambdify((ys, zs), e, "math") for e in (d1, sp.diff(d1, zs)))

            def safe(fast, slow):
                def h(y, z):
                    try:
                        v = float(fast(y, z))
                        if math.isfinite(v):
                            return v
                    except (OverflowError, ZeroDivisionError, ValueError):
                        pass
                    return float(slow(y, z))
                return h

            self.d1 = safe(f1, loss.derivative)
            self.d2 = safe(f2, loss.second_derivative)

    def kinks(self, y: float, V: float) -> list[float]:
        """Values of omega where the prox is not smooth, for label y."""
        if self.kind == "hinge":
            return [y * (1.0 - V), y * 1.0]
        if self.kind == "huber":
            return [y - self.a * (1 + V), y + self.a * (1 + V)]
        return []

    def prox(self, y: float, w: float, V: float) -> tuple[float, float]:
        """``(prox, r)`` at one point."""
        if self.kind == "square":
            return (w + V * y) / (1 + V), 1 / (1 + V)
        if self.kind == "hinge":
            if y * w <= 1 - V:
                return w + V * y, 0.0
            if y * w < 1:
                return y, 1 / V
            return w, 0.0
        if self.kind == "huber":
            u = y - w
            if abs(u) <= self.a * (1 + V):
                return (w + V * y) / (1 + V), 1 / (1 + V)
            return w + V * self.a * np.sign(u), 0.0
        d1 = self.d1(y, w)
        lo, hi = sorted((w, w - V * d1))

        def g(z):
            return (z - w) / V + self.d1(y, z)

        glo, ghi = g(lo), g(hi)
        if glo * ghi >= 0:  # the root is at an end of the bracket (to rounding)
            z = lo if abs(glo) <= abs(ghi) else hi
        else:
            z = optimize.brentq(g, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
        d2 = self.d2(y, z)
        return z, d2 / (1 + V * d2)

    def fg(self, y: float, w: float, V: float, z: float) -> float:
        """``(prox - omega)/V`` without cancellation: the closed forms, or ``-l'(y, prox)``."""
        if self.kind == "hinge":
            return y if y * w <= 1 - V else ((y - w) / V if y * w < 1 else 0.0)
        if self.kind == "huber":
            u = y - w
            return u / (1 + V) if abs(u) <= self.a * (1 + V) else self.a * np.sign(u)
        if self.kind == "square":
            return (y - w) / (1 + V)
        return -self.d1(y, z)

    def value(self, y: float, z: float) -> float:
        if self.kind == "square":
            return 0.5 * (y - z) ** 2
        if self.kind == "hinge":
            return max(0.0, 1 - y * z)
        if self.kind == "huber":
            u = abs(y - z)
            return 0.5 * u * u if u <= self.a else self.a * u - 0.5 * self.a**2
        return float(self.loss(y, z))


# ------------------------------------------------------------------------------------------ channels
class RefChannel:
    """``Z0`` and ``dZ0/domega*`` of a discrete-label channel from its definition (theory §2.3)."""

    def __init__(self, channel):
        self.channel = channel
        name = channel.name
        if name.startswith(("sign", "probit")):
            self.kind = "sign"
            self.noise, self.flip = float(channel.noise), float(channel.flip)
            self.features = [(0.0, np.sqrt(self.noise))]
        elif name.startswith("logit"):
            self.kind = "inner"
            beta = float(channel.beta)

            def expit(x):
                return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))

            self.p = lambda y, z: expit(beta * y * z)
            self.dp = lambda y, z: beta * y * expit(beta * z) * expit(-beta * z)
            self.features = [(0.0, 1.0 / beta)]
        elif name.startswith("linear"):
            self.kind = "linear"
            self.noise = float(channel.noise)
        else:
            self.kind = "inner"
            ys, zs = sp.Symbol("y"), sp.Symbol("z")
            expr = channel.expr
            f = sp.lambdify((ys, zs), expr, "math")
            df = sp.lambdify((ys, zs), sp.diff(expr, zs), "math")
            fm = sp.lambdify((ys, zs), expr, "mpmath")
            dfm = sp.lambdify((ys, zs), sp.diff(expr, zs), "mpmath")

            def safe(fast, slow):
                def h(y, z):
                    try:
                        return float(fast(y, z))
                    except (OverflowError, ZeroDivisionError):
                        return float(slow(y, z))
                return h

            self.p, self.dp = safe(f, fm), safe(df, dfm)
            self.features = []
        self.labels = channel.labels

    def z0(self, y: float, ws: float, vs: float) -> tuple[float, float]:
        if self.kind == "sign":
            v = vs + self.noise
            keep = 1 - 2 * self.flip
            t = ws / np.sqrt(v)
            return (self.flip + keep * special.ndtr(y * t),
                    keep * y * np.exp(-t * t / 2) / np.sqrt(2 * np.pi * v))
        sd = np.sqrt(vs)
        lo, hi = ws - 12 * sd, ws + 12 * sd
        pts = sorted({c + k * w for c, w in self.features for k in (-8, -2, -0.5, 0, 0.5, 2, 8)
                      if lo < c + k * w < hi})
        norm = 1.0 / (math.sqrt(2 * math.pi) * sd)
        out = []
        for fun in (self.p, self.dp):
            def g(z, fun=fun):
                t = (z - ws) / sd
                return fun(y, z) * math.exp(-0.5 * t * t) * norm
            out.append(integrate.quad(g, lo, hi, points=pts or None, epsabs=1e-15, epsrel=1e-13, limit=2000)[0])
        return tuple(out)

    def step_points(self, rho: float, q: float, m: float) -> list[float]:
        """Values of omega around which Z0 is steep (a ladder of widths around each feature of P0)."""
        if m == 0:
            return []
        vs = rho - m * m / q
        out = []
        for c, w in self.features:
            width = q / abs(m) * np.sqrt(vs + w * w)
            centre = q / m * c
            out += [centre + s * k * width for s in (-1, 1) for k in (0, 0.25, 1, 4, 16)]
        return out


def channel_side(loss, channel, rho: float, V: float, q: float, m: float, *,
                 features: list[tuple[float, float]] | None = None) -> dict[str, float]:
    """The channel-side expectations at ``(V, q, m)`` (see the module docstring), by adaptive quadrature.

    ``features`` ``[(z_k, width_k)]``: where a custom likelihood is steep (read off its formula by the caller),
    to split the integrals there as for the built-in channels.
    """
    rl, rc = RefLoss(loss), RefChannel(channel)
    if features is not None:
        rc.features = list(features)
    if rc.kind == "linear":
        return _linear(rl, rc, rho, V, q, m)
    vs = rho - m * m / q
    sd = np.sqrt(q)
    total = np.zeros(5)
    for y in rc.labels:
        thresh = _sign_change(rl, y, V)
        pts = rl.kinks(y, V) + rc.step_points(rho, q, m) + ([thresh] if thresh is not None else [])
        lo, hi = -12 * sd, 12 * sd
        pts = sorted({p for p in pts if lo < p < hi})

        def f(w, y=y):
            z, r = rl.prox(y, w, V)
            z0, dz0 = rc.z0(y, m / q * w, vs)
            fg = rl.fg(y, w, V, z)
            dens = np.exp(-0.5 * w * w / q) / np.sqrt(2 * np.pi * q)
            return dens * np.array([z0 * r, z0 * fg * fg, dz0 * fg, z0 * rl.value(y, z), z0 * (y * z < 0)])

        total += integrate.quad_vec(f, lo, hi, points=pts or None, **_EPS)[0]
    return dict(zip(QUANTITIES, map(float, total), strict=True))


def _sign_change(rl: RefLoss, y: float, V: float) -> float | None:
    """The omega at which y * prox(y, omega) changes sign (a breakpoint of the training 0/1 error)."""
    if y == 0:
        return None
    g = lambda w: y * rl.prox(y, w, V)[0]  # noqa: E731
    lo, hi = -1.0, 1.0
    while g(lo * y) >= 0:
        lo *= 2
    while g(hi * y) < 0:
        hi *= 2
    return y * optimize.brentq(lambda t: g(t * y), lo, hi, xtol=1e-15)


def _linear(rl: RefLoss, rc: RefChannel, rho: float, V: float, q: float, m: float) -> dict[str, float]:
    """Regression: Z0(y) = N(y; omega*, V* + noise); inner adaptive integral over y split at the kinks."""
    var = rho - m * m / q + rc.noise
    sdy = np.sqrt(var)
    sd = np.sqrt(q)

    def inner(w):
        ws = m / q * w
        lo, hi = ws - 12 * sdy, ws + 12 * sdy
        pts = sorted({w + c for c in _residual_kinks(rl, V) if lo < w + c < hi})

        def g(y):
            z, r = rl.prox(y, w, V)
            fg = rl.fg(y, w, V, z)
            z0 = np.exp(-0.5 * (y - ws) ** 2 / var) / np.sqrt(2 * np.pi * var)
            dz0 = z0 * (y - ws) / var
            return np.array([z0 * r, z0 * fg * fg, dz0 * fg, z0 * rl.value(y, z), z0 * (y - z) ** 2])

        dens = np.exp(-0.5 * w * w / q) / np.sqrt(2 * np.pi * q)
        return dens * integrate.quad_vec(g, lo, hi, points=pts or None, epsabs=1e-15, epsrel=1e-13, limit=2000)[0]

    tot = integrate.quad_vec(inner, -12 * sd, 12 * sd, **_EPS)[0]
    return dict(zip(QUANTITIES, map(float, tot), strict=True))


def _residual_kinks(rl: RefLoss, V: float) -> list[float]:
    """Kinks of the prox in u = y - omega."""
    if rl.kind == "huber":
        return [-rl.a * (1 + V), rl.a * (1 + V)]
    if rl.kind == "hinge":
        raise ValueError("hinge needs labels +-1")
    return []


def reference_fixed_point(spec, loss, channel, alpha, lam, x0):
    """The fixed point ``(V, q, m)`` of the saddle-point equations with this module's channel side and the
    library's prior side (theory §2.1), by ``scipy.optimize.root`` from ``x0`` in ``(log V, log q, m)``;
    returns it with the largest residual of the three equations."""
    from replica.prior import SpectralSums

    prior = SpectralSums(spec)
    rho, sg = spec.rho, np.sqrt(spec.gamma)

    def fmap(x):
        V, q = np.exp(x[0]), np.exp(x[1])
        m = x[2]
        if m * m >= rho * q:
            return np.full(3, 1e3)
        h = channel_side(loss, channel, rho, V, q, m)
        Vn, qn, mn = prior(lam, alpha * h["vhat"], alpha * h["qhat"], alpha * h["mhat"] / sg)
        return np.array([np.log(Vn) - x[0], np.log(qn) - x[1], mn - m])

    x = np.array([np.log(x0[0]), np.log(x0[1]), x0[2]])
    sol = optimize.root(fmap, x, method="hybr", options={"xtol": 1e-12})
    V, q, m = np.exp(sol.x[0]), np.exp(sol.x[1]), sol.x[2]
    res = float(np.max(np.abs(fmap(sol.x))))
    return V, q, m, res
