r"""The Bayes-optimal errors of the Gaussian covariate model with the averaged teacher (``docs/bayes_optimal.md``).

How far is an estimator from the best possible one? :func:`bayes_optimal` answers with the state evolution of
Bayes-optimal (approximate message passing) inference, written over spectral sums. Whitening the student features,
:math:`\tilde x = \Omega^{+1/2} v`, the teacher field splits into the best linear predictor
:math:`z = b\cdot\tilde x/\sqrt p` with :math:`b \sim N(0, \Sigma_b)`,
:math:`\Sigma_b = (p/k)\,\Omega^{+1/2}\Phi\Phi^\top\Omega^{+1/2}`, and an independent Gaussian remainder of variance
:math:`\rho - \rho_{\rm lin}`. The learning problem is then a generalised linear model with isotropic Gaussian design,
the Gaussian prior :math:`N(0, \Sigma_b)` and the channel ``P0`` with the remainder added to its input; by rotation
invariance only the eigenvalues :math:`\sigma_j` of :math:`\Sigma_b` enter. With the Nishimori identity
(``m = q``) the state evolution is one scalar equation:

.. math::
    q = \frac1p\sum_j \frac{\sigma_j^2 \hat q}{1 + \sigma_j\hat q},\qquad
    \hat q = \alpha\, E_\xi \sum_y \frac{\big(\partial_\omega Z_0(y, \omega, \rho - q)\big)^2}{Z_0(y, \omega, \rho - q)}
    \Big|_{\omega = \sqrt q\,\xi},

with the channel's own :math:`Z_0` (theory §2.3). Test errors: regression ``rho - q`` (the MMSE of the teacher
field), classification ``arccos(sqrt(q/rho))/pi``.

* :func:`bayes_optimal` -- one ``alpha``; a :class:`BayesSolution` with status, residual and certified error.
* :func:`bayes_optimal_curve` -- a sweep in ``alpha``; a :class:`BayesCurve` that plots beside a
  :class:`replica.Curve` (``Curve.plot(bayes=...)`` or ``bayes.plot(ax=curve.plot())``).
* :func:`prior_eigenvalues` -- the :math:`\sigma_j` used, and where they came from.
* :class:`OutputChannel` -- :math:`Z_0`, :math:`g = \partial_\omega\log Z_0` and :math:`\partial_\omega g` of a
  channel, pointwise and vectorised (also the denoiser of :mod:`validation.amp`).

A fixed teacher is refused: the Bayes estimator of one given :math:`\theta_0` needs a prior matched to that
:math:`\theta_0`, which ``(s, t)`` of a fixed teacher do not describe (see the docs page).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit
from tqdm.auto import tqdm

from gaussequiv import checks
from gaussequiv.progress import show as show_progress
from replica.channel import Channel
from replica.quadrature import N_MAX, gauss_hermite, gaussian_rule, nodes_for_variance
from replica.result import ConvergenceError, PointTable
from spectra import Spectrum

if TYPE_CHECKING:
    import sympy as sp

__all__ = ["BayesSolution", "BayesCurve", "OutputChannel", "bayes_optimal", "bayes_optimal_curve", "output_channel",
           "prior_eigenvalues"]

#: Points of the scan of ``F(q) - q`` between the certified bounds of the fixed points (each pair of neighbours
#: is a bracket; two fixed points closer than a scan step could be missed).
SCAN_POINTS = 15
#: Relative distance to ``rho`` of the largest overlap the channel rule can resolve when ``rho_lin = rho``
#: (``V* = rho - q`` is computed by the channel in double precision).
EDGE = 1e-12
#: Overlaps below this fraction of ``rho_lin`` are indistinguishable from 0 (no better than chance).
FLOOR = 1e-12
#: Gauss-Legendre nodes of the free-entropy integral between two stable fixed points.
POTENTIAL_NODES = 48


# ============================================================================ output channel
def _symbols(expr: sp.Expr) -> dict[str, sp.Symbol]:
    return {s.name: s for s in expr.free_symbols}


def _cancellation_free(expr: sp.Expr, omega: sp.Symbol) -> sp.Expr:
    """``expr`` with each ``erf(u)`` written as ``1 - erfc(u)`` or ``erfc(-u) - 1`` so that, if possible, it becomes a
    non-negative constant plus erfc terms with positive weights: a sum without cancellation, accurate deep in the
    tails (``(1 - erf(u))/2`` is 0 in double precision from ``u = 6``; ``erfc(u)/2`` is exact to ``u = 26``)."""
    import sympy as sp

    erfs = sorted(expr.atoms(sp.erf), key=sp.default_sort_key)
    if not erfs or len(erfs) > 3:
        return expr
    best, best_const = expr, None
    for choice in itertools.product((0, 1), repeat=len(erfs)):
        # evaluate=False: sympy would turn erfc(-u) back into 2 - erfc(u)
        sub = {e: (1 - sp.erfc(e.args[0])) if c == 0 else (sp.erfc(-e.args[0], evaluate=False) - 1)
               for e, c in zip(erfs, choice, strict=True)}
        cand = sp.expand(expr.xreplace(sub))
        const, rest = cand.as_independent(omega, as_Add=True)
        if not const.is_number or rest.has(sp.erf):
            continue
        terms = sp.Add.make_args(rest)
        weights = [t.as_independent(omega, as_Add=False)[0] for t in terms]
        if float(const) < 0 or not all(w.is_number and float(w) > 0 for w in weights):
            continue
        if best_const is None or float(const) < best_const:
            best, best_const = cand, float(const)
    return best


class OutputChannel:
    r"""Pointwise output functions of a channel: :math:`Z_0(y, \omega, V)`, :math:`g = \partial_\omega \log Z_0`
    and its derivative :math:`\partial_\omega g` (the denoiser of AMP and its Onsager term), vectorised.

    Built from the channel's public :meth:`replica.Channel.Z0`: a closed form is differentiated by sympy (erf forms
    rewritten without cancellation, ratios evaluated by :func:`replica._symbolic.lambdify_safe`, which recomputes
    under- and overflowing entries in logarithmic form); an unevaluated Gaussian integral (a likelihood channel)
    by a Gauss-Hermite rule in the integration variable, with the derivatives taken under the integral.

    Examples
    --------
    >>> import numpy as np
    >>> from replica import Channel
    >>> out = OutputChannel(Channel.sign())
    >>> z0, g, dg = out(np.array([1.0, -1.0]), np.array([0.0, 30.0]), 1.0)
    >>> float(z0[0]), round(float(g[0]), 12)  # Z0(1, 0, 1) = 1/2, g = 2 phi(0) = sqrt(2/pi)
    (0.5, 0.797884560803)
    >>> bool(np.isfinite(g[1]) and abs(g[1] + 30.0) < 0.05)  # deep in the tail: g ~ -omega/V, no 0/0
    True
    """

    def __init__(self, channel: Channel):
        checks.instance("channel", channel, Channel, "Channel.sign()")
        self.channel = channel
        z0 = channel.Z0()
        syms = _symbols(z0)
        if "omega_star" not in syms or "V_star" not in syms:
            raise TypeError(f"channel {channel.name}: Z0() must be an expression in omega_star and V_star, got {z0}")
        self._w, self._v, self._y = syms["omega_star"], syms["V_star"], syms.get("y")
        self.labels = channel.labels
        if self.labels is None:
            self._funcs = {None: self._compile(z0, with_y=True)}
        else:
            self._funcs = {float(v): self._compile(z0 if self._y is None else z0.subs(self._y, v), with_y=False)
                           for v in self.labels}

    def _compile(self, expr: sp.Expr, with_y: bool):
        import sympy as sp

        from replica._symbolic import lambdify_safe

        w, v = self._w, self._v
        args = (self._y, w, v) if with_y else (w, v)
        ints = list(expr.atoms(sp.Integral))
        if not ints:
            expr = _cancellation_free(expr, w)
            g = sp.diff(expr, w) / expr
            return ("closed", lambdify_safe(expr, args), lambdify_safe(g, args), lambdify_safe(sp.diff(g, w), args))
        if len(ints) != 1 or expr != ints[0] or len(ints[0].limits) != 1:
            raise TypeError(f"channel {self.channel.name}: Z0 must be a closed form or one Gaussian integral, got "
                            f"{expr}")
        (zeta, lo, hi), = ints[0].limits
        if lo != -sp.oo or hi != sp.oo:
            raise TypeError(f"channel {self.channel.name}: the integral in Z0 must run over the real line, got {expr}")
        f = ints[0].function
        dens, lik = f.as_independent(w, as_Add=False)  # the Gaussian density of zeta times the likelihood
        if sp.simplify(dens - sp.exp(-zeta**2 / 2) / sp.sqrt(2 * sp.pi)) != 0:
            raise TypeError(f"channel {self.channel.name}: Z0 must integrate against the standard normal density, "
                            f"got {expr}")
        lik = _cancellation_free(lik, w)
        d1 = sp.diff(lik, w)
        iargs = (*args, zeta)
        return ("integral", lambdify_safe(lik, iargs), lambdify_safe(d1, iargs), lambdify_safe(sp.diff(d1, w), iargs))

    def _integral(self, funcs, args, V: float, refine: bool = False):
        """``Z0, Z0', Z0''`` at the nodes ``args`` (arrays of equal length): the likelihood and its derivatives
        averaged over the Gauss-Hermite nodes of the integration variable. ``refine`` doubles the order (an
        independent rule, for error estimates)."""
        n = nodes_for_variance(4.0 * V)
        x, wts = gauss_hermite(min(2 * n, 2 * N_MAX) if refine else n)
        cols = [np.asarray(a, dtype=float)[:, None] for a in args]
        return [fn(*cols, x[None, :]) @ wts for fn in funcs]

    def __call__(self, y, omega, V: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(Z0, g, dg)`` at labels ``y`` and centres ``omega`` (equal-length arrays), variance ``V > 0``.

        ``g = d log Z0 / d omega`` and ``dg = d g / d omega``. Labels must belong to the channel's label set.
        Non-finite values are returned as they are (the callers treat them as an error).
        """
        return self._evaluate(y, omega, V, (True, True, True))

    def g(self, y, omega, V: float, *, refine: bool = False) -> np.ndarray:
        """``g = d log Z0 / d omega`` alone (as :meth:`__call__`, without the other two). ``refine``: an integral
        form is evaluated with a rule of twice the order (for independent error estimates)."""
        return self._evaluate(y, omega, V, (False, True, False), refine)[1]

    def z0(self, y, omega, V: float, *, refine: bool = False) -> np.ndarray:
        """``Z0`` alone (as :meth:`__call__`, without the derivatives)."""
        return self._evaluate(y, omega, V, (True, False, False), refine)[0]

    def z0_g(self, y, omega, V: float, *, refine: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(Z0, g)`` (as :meth:`__call__`, without ``dg``)."""
        return self._evaluate(y, omega, V, (True, True, False), refine)[:2]

    @property
    def has_integral(self) -> bool:
        """True if ``Z0`` is an integral evaluated by quadrature (a likelihood channel), not a closed form."""
        return any(f[0] == "integral" for f in self._funcs.values())

    def _evaluate(self, y, omega, V, want, refine=False):
        y = np.atleast_1d(np.asarray(y, dtype=float))
        omega = np.atleast_1d(np.asarray(omega, dtype=float))
        if y.shape != omega.shape:
            raise ValueError(f"y and omega must have equal shapes, got {y.shape} and {omega.shape}")
        V = float(V)
        if not V > 0:
            raise ValueError(f"V (the variance of the output channel) must be > 0, got {V}")
        res = [np.full(y.shape, np.nan) if w else None for w in want]
        if self.labels is None:
            groups = [(None, slice(None))]
        else:
            groups = [(lab, y == lab) for lab in self._funcs]
            known = np.any(np.stack([m for _, m in groups]), axis=0)
            if not np.all(known):
                raise ValueError(f"y holds values outside the labels {self.labels} of channel {self.channel.name}")
        for lab, mask in groups:
            om = omega[mask]
            if not om.size:
                continue
            kind, *funcs = self._funcs[lab]
            args = [om, np.full(om.size, V)] if lab is not None else [y[mask], om, np.full(om.size, V)]
            if kind == "closed":
                for i, (w, f) in enumerate(zip(want, funcs, strict=True)):
                    if w:
                        res[i][mask] = f(*args)
                continue
            # integral form: evaluate once per distinct centre (rules repeat each centre many times)
            if len(args) == 2:  # finite labels: the centre alone (1-d unique is a plain sort)
                uniq, inv = np.unique(args[0], return_inverse=True)
                uniq = uniq[:, None]
            else:
                uniq, inv = np.unique(np.stack(args[:-1], axis=1), axis=0, return_inverse=True)
            inv = np.ravel(inv)
            cols = [uniq[:, i] for i in range(uniq.shape[1])] + [np.full(uniq.shape[0], V)]
            need = funcs if want[2] else funcs[:2]
            a = self._integral(need, cols, V, refine)
            with np.errstate(all="ignore"):
                r1 = a[1] / a[0]
                vals = (a[0], r1, a[2] / a[0] - r1 * r1 if want[2] else None)
            for i, w in enumerate(want):
                if w:
                    res[i][mask] = vals[i][inv]
        return tuple(res)


_COMPILED: dict = {}


def output_channel(channel: Channel) -> OutputChannel:
    """The :class:`OutputChannel` of ``channel``, compiled once per (hashable) channel: sympy differentiation and
    lambdification cost a fraction of a second, a learning curve needs them once."""
    try:
        key = (type(channel), channel)
        hash(key)
    except TypeError:
        return OutputChannel(channel)
    if key not in _COMPILED:
        if len(_COMPILED) >= 32:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = OutputChannel(channel)
    return _COMPILED[key]


# ============================================================================ prior spectrum
def prior_eigenvalues(spectrum: Spectrum) -> tuple[np.ndarray, str]:
    r"""The eigenvalues :math:`\sigma_j` of the Bayes prior covariance :math:`\Sigma_b` and their source.

    ``spectrum.bayes_prior`` when the spectrum carries it (``"covariances"``: filled by
    :meth:`spectra.Spectrum.from_covariances_averaged`), otherwise the commuting form
    :math:`\sigma_i = t_i/(\gamma s_i)` on ``s_i > 0`` (``"commuting"``), exact when :math:`\Omega` and
    :math:`\Phi\Phi^\top` commute (e.g. :meth:`spectra.Spectrum.isotropic`) and only then. Both have mean
    :math:`\rho_{\rm lin}`.

    Examples
    --------
    >>> from spectra import Spectrum
    >>> sig, source = prior_eigenvalues(Spectrum.isotropic(3, gamma=2.0, rho=0.5))
    >>> sig, source
    (array([0.5, 0.5, 0.5]), 'commuting')
    """
    checks.instance("spectrum", spectrum, Spectrum)
    if spectrum.teacher != "averaged":
        raise ValueError("the Bayes-optimal error is defined here for the averaged teacher (theta ~ N(0, I_k)); this "
                         "spectrum has a fixed teacher, whose t_i = (e_i^T Phi theta)^2 do not define a prior. Build "
                         "the spectrum with Spectrum.from_covariances_averaged (or teacher='averaged'); see "
                         "docs/bayes_optimal.md for what a fixed teacher would need")
    prior = getattr(spectrum, "bayes_prior", None)
    if prior is not None:
        return np.array(prior, dtype=float), "covariances"
    sig = np.zeros(spectrum.p)
    pos = spectrum.s > 0
    sig[pos] = spectrum.t[pos] / (spectrum.gamma * spectrum.s[pos])
    return sig, "commuting"


# ============================================================================ state evolution
class _StateEvolution:
    """The scalar map ``q -> F(q) = q_prior(alpha G(q))`` with ``G(q) = E_xi sum_y (d Z0)^2 / Z0``."""

    def __init__(self, spectrum: Spectrum, channel: Channel):
        self.channel = channel
        self.rho = float(spectrum.rho)
        sigma, self.source = prior_eigenvalues(spectrum)
        self.p = spectrum.p
        self.sigma = sigma[sigma > 0]
        self.rho_lin = float(np.sum(self.sigma)) / self.p
        if not self.sigma.size:
            raise ValueError("the teacher has no component the student features can represent (rho_lin = 0): every "
                             "estimator has the trivial error")
        self.out = output_channel(channel)
        # the largest overlap: rho_lin if the remainder rho - rho_lin keeps V* = rho - q resolvable, else just below rho
        self.edge = self.rho_lin >= self.rho * (1.0 - 1e3 * EDGE)
        self.q_top = min(self.rho_lin, self.rho * (1.0 - EDGE)) if self.edge else self.rho_lin
        self.evaluations = 0
        self._cache: dict[float, tuple[float, float]] = {}

    # prior side
    def q_prior(self, q_hat: float) -> float:
        s = self.sigma
        return float(np.sum(s * s * q_hat / (1.0 + s * q_hat))) / self.p

    def dq_prior(self, q_hat: float) -> float:
        s = self.sigma
        return float(np.sum((s / (1.0 + s * q_hat)) ** 2)) / self.p

    # channel side
    def G(self, q: float) -> float:
        """``G(q) = E_omega sum_y (dZ0)^2 / Z0`` at ``omega ~ N(0, q)``, ``V = rho - q``: composite Gauss-Legendre
        panels in ``omega`` graded around ``omega = 0`` (where a sign teacher's ``Z0`` has a near-step of width
        ``sqrt(V)``), labels summed (continuous labels: a Gauss-Hermite rule in ``y``, normalisation checked)."""
        if q not in self._cache:
            self.evaluations += 1
            value = self._own_rule(q, refine=False)
            if not (np.isfinite(value) and value >= 0):
                raise FloatingPointError(f"the channel integral E[(dZ0)^2/Z0] is not finite at q = {q:.6g} "
                                         f"(rho = {self.rho:.6g}): {value}")
            self._cache[q] = value
        return self._cache[q]

    def G_check(self, q: float) -> float:
        """``G(q)`` by an independent rule, for the error estimate: the channel's own quadrature
        (:meth:`replica.Channel.measure`, ``sum wdz g``) for closed-form channels; for a likelihood channel (whose
        ``Z0`` is itself an integral) the rule of :meth:`G` with the inner Gauss-Hermite order doubled and the
        panels halved."""
        if self.out.has_integral:
            return self._own_rule(q, refine=True)
        with np.errstate(all="ignore"):
            meas = self.channel.measure(self.rho, q, q)
            d = meas.wdz != 0
            return float(np.sum(meas.wdz[d] * self.out.g(meas.y[d], meas.omega[d], self.rho - q)))

    def _own_rule(self, q: float, refine: bool) -> float:
        V = self.rho - q
        omega, w = gaussian_rule(q, steps=[(0.0, np.sqrt(V))], scale=0.5 if refine else 1.0)
        out = self.out
        with np.errstate(all="ignore"):
            if self.channel.labels is not None:
                total = 0.0
                for lab in self.channel.labels:
                    ys = np.full(omega.shape, float(lab))
                    z, g = out.z0_g(ys, omega, V, refine=refine)
                    # where Z0 underflows to 0, Z0 g^2 = (dZ0)^2 / Z0 underflows too
                    total += float(np.sum(w * np.where(z > 0, z * g * g, 0.0)))
                return total
            ey2 = float(self.channel.moments(self.rho)[0])
            sd = np.sqrt(max(ey2 - q, V))
            x, wx = gauss_hermite(nodes_for_variance(2.0 if refine else 1.0))
            yy = (omega[:, None] + sd * x[None, :]).ravel()
            om = np.repeat(omega, x.size)
            dens = np.exp(-0.5 * x * x) / (np.sqrt(2.0 * np.pi) * sd)
            z, g = out.z0_g(yy, om, V, refine=refine)
            z = z.reshape(omega.size, x.size) / dens[None, :]
            g = g.reshape(omega.size, x.size)
            if np.max(np.abs(z @ wx - 1.0)) > 1e-8:
                return float("nan")  # the rule in y does not hold this channel's label density
            return float(np.sum(w * ((z * g * g) @ wx)))

    def F(self, q: float, alpha: float) -> float:
        return self.q_prior(alpha * self.G(q))


@dataclass(frozen=True)
class BayesSolution:
    r"""The Bayes-optimal errors at one ``alpha`` (state evolution of theory-style spectral sums; docs page
    ``docs/bayes_optimal.md``).

    Attributes
    ----------
    alpha : float
        ``n/p``.
    q, q_hat : float
        The overlap :math:`q = E[\hat z^2] = E[\hat z\, z]` of the posterior-mean field (Nishimori: ``m = q``) and its
        conjugate.
    overlap : float
        ``q / rho_lin``: the overlap of the posterior mean with the teacher's visible weights, normalised (1 at
        perfect recovery).
    mmse : float
        ``rho - q``: the minimum mean squared error of the teacher field :math:`\nu` on a fresh sample.
    mmse_weights : float
        ``rho_lin - q``: the part of it that more samples can remove (``(1/p) E|b - E[b|data]|^2``).
    test_error : float
        The Bayes-optimal test error against the noiseless target in the library's conventions: regression
        ``rho - q`` (MSE, no 1/2); classification ``arccos(sqrt(q/rho))/pi``.
    test_error_noisy : float
        The Bayes-optimal error against fresh labels from the channel: classification ``1 - E max_y P(y|data, v)``,
        regression ``E y^2 - E[E[y|data, v]^2]``.
    q_amp, test_error_amp : float
        The fixed point reached from an uninformed start (what AMP attains) and its test error; equal to ``q`` and
        ``test_error`` unless the state evolution has several stable fixed points.
    fixed_points : int
        Number of stable fixed points found.
    converged : bool
        True iff ``status == "converged"``.
    status : str
        ``converged`` (certified), ``stalled`` (the fixed point is bracketed, but not to ``tol``: the channel
        quadrature limits the accuracy) or ``invalid`` (the channel integral cannot be evaluated).
    residual : float
        ``|F(q) - q| / q`` for the undamped map ``F`` at the returned point.
    error_estimate : float
        Estimated relative error of ``q`` and of ``rho_lin - q`` (hence of ``rho - q``): the root bracket plus the
        Newton distance ``(|F(q) - q| + dF) / (1 - F'(q))``, ``dF`` the channel quadrature's error (the difference of
        two independent rules) carried through the prior side.
    evaluations : int
        Evaluations of the channel integral.
    rho, rho_lin : float
        Teacher variance and its linearly representable part.
    prior : str
        Where the prior eigenvalues came from: ``covariances`` (``Spectrum.bayes_prior``) or ``commuting``
        (:math:`\sigma_i = t_i/(\gamma s_i)`, exact only when :math:`\Omega` and :math:`\Phi\Phi^\top` commute).
    channel : str
    message : str
    """

    alpha: float
    q: float
    q_hat: float
    overlap: float
    mmse: float
    mmse_weights: float
    test_error: float
    test_error_noisy: float
    q_amp: float
    test_error_amp: float
    fixed_points: int
    converged: bool
    status: str
    residual: float
    error_estimate: float
    evaluations: int
    rho: float
    rho_lin: float
    prior: str
    channel: str
    message: str

    def to_dict(self) -> dict:
        """All fields as a plain dictionary."""
        return asdict(self)


def _test_errors(se: _StateEvolution, q: float) -> tuple[float, float]:
    """Bayes-optimal ``(test_error, test_error_noisy)`` at overlap ``q`` (``m = q``)."""
    ch, rho = se.channel, se.rho
    if q <= 0:
        q = 0.0
    clean = float(ch.test_error(rho, q, q)) if q > 0 else (0.5 if ch.is_classification else rho)
    V = rho - q
    if V <= 0:  # perfect recovery of the field: only the label noise remains
        return 0.0, float(ch.test_error_noisy(rho, rho * (1 - EDGE), rho * (1 - EDGE)))
    if q > 0:
        omega, w = gaussian_rule(q, steps=[(0.0, np.sqrt(V))])
    else:
        omega, w = np.zeros(1), np.ones(1)
    out = se.out
    with np.errstate(all="ignore"):
        if ch.labels is not None:
            z0 = np.stack([out.z0(np.full(omega.shape, lab), omega, V) for lab in ch.labels])
            if ch.is_classification:
                noisy = 1.0 - float(np.dot(w, np.max(z0, axis=0)))
            else:
                labs = np.asarray(ch.labels, dtype=float)[:, None]
                noisy = float(np.dot(w, np.sum(labs**2 * z0, axis=0) - np.sum(labs * z0, axis=0) ** 2))
        else:  # continuous labels: E[y | omega] by a Gauss-Hermite rule in y, normalisation checked
            ey2 = float(ch.moments(rho)[0])
            sd = np.sqrt(max(ey2 - q, V))
            x, wx = gauss_hermite(nodes_for_variance(1.0))
            yy = omega[:, None] + sd * x[None, :]
            dens = np.exp(-0.5 * x * x) / (np.sqrt(2.0 * np.pi) * sd)
            z0 = out.z0(yy.ravel(), np.repeat(omega, x.size), V).reshape(yy.shape) / dens[None, :]
            norm = z0 @ wx
            mean = (z0 * yy) @ wx
            if np.max(np.abs(norm - 1.0)) > 1e-8:
                return clean, float("nan")
            noisy = ey2 - float(np.dot(w, mean**2))
    return clean, float(noisy)


def _finish(se, alpha, q, q_amp, n_stable, status, residual, error, message) -> BayesSolution:
    q_hat = alpha * se.G(q) if 0 < q < se.rho else (np.inf if q >= se.rho else 0.0)
    clean, noisy = _test_errors(se, q)
    clean_amp = clean if q_amp == q else _test_errors(se, q_amp)[0]
    values = [q, clean, noisy]
    if status == "converged" and not np.all(np.isfinite(values)):
        status, message = "invalid", "the errors cannot be evaluated at the fixed point"
    return BayesSolution(alpha=float(alpha), q=float(q), q_hat=float(q_hat), overlap=float(q / se.rho_lin),
                         mmse=float(se.rho - q), mmse_weights=float(se.rho_lin - q), test_error=float(clean),
                         test_error_noisy=float(noisy), q_amp=float(q_amp), test_error_amp=float(clean_amp),
                         fixed_points=int(n_stable), converged=status == "converged", status=status,
                         residual=float(residual), error_estimate=float(error), evaluations=int(se.evaluations),
                         rho=se.rho, rho_lin=se.rho_lin, prior=se.source, channel=se.channel.name, message=message)


class _Unresolved(ArithmeticError):
    """The state evolution cannot be evaluated or solved numerically at this point (reported as status invalid)."""


def _root(se: _StateEvolution, alpha: float, lo: float, hi: float, tol: float) -> tuple[float, float, float]:
    """A fixed point in the bracket ``[lo, hi]`` (``D(lo) >= 0 >= D(hi)``, ``D = F - id``): ``(q, residual,
    relative error estimate)``."""
    # relative accuracy of q, of rho_lin - q (the learnable error) and so of rho - q
    scale = lambda q: max(min(q, se.rho_lin - q), FLOOR * se.rho_lin)  # noqa: E731
    D = lambda q: se.F(q, alpha) - q  # noqa: E731
    if hi - lo <= 0.5 * tol * scale(hi):
        r, bracket = 0.5 * (lo + hi), 0.5 * (hi - lo)
    else:
        from scipy.optimize import brentq  # here: scipy.optimize is not loaded with replica (issue 13)

        xtol = max(0.25 * tol * min(scale(lo), scale(hi)), 1e-300)
        try:
            r = brentq(D, lo, hi, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=200)
        except (ValueError, RuntimeError) as exc:  # no sign change left (rounding), or no convergence in maxiter
            raise _Unresolved(f"the fixed point in [{lo:.6g}, {hi:.6g}] cannot be bracketed: {exc}") from exc
        bracket = xtol + 4 * np.finfo(float).eps * r
    fr = se.F(r, alpha)
    residual = abs(fr - r) / max(r, FLOOR * se.rho_lin)
    # Newton estimate of the distance to the exact fixed point: |F(q) - q| plus the quadrature error of F (the
    # difference of two channel rules, through the prior side), over 1 - F'(q) (finite difference)
    # a step above the rounding level of F (~ eps rho) however close q is to rho_lin, within the domain
    h = max(1e-6 * scale(r), 1e-9 * se.rho_lin)
    r2 = r - h if r + h >= se.q_top else r + h
    f2 = se.F(r2, alpha)
    slope = 1.0 - (f2 - fr) / (r2 - r)  # 1 - F'(q) > 0 at a stable fixed point
    # rounding in the difference quotient: F is a sum of quadrature terms, good to ~100 eps of its size
    slope_noise = 100 * np.finfo(float).eps * max(abs(fr), abs(f2), abs(r)) / abs(r2 - r)
    g = se.G(r)
    dg = abs(g - se.G_check(r))
    if not np.isfinite(dg):
        dg = g  # the independent rule failed: no accuracy can be certified
    dF = alpha * dg * se.dq_prior(alpha * g)
    if not slope > slope_noise:
        # a marginal fixed point (1 - F'(q) at rounding level): any error in F moves it by an unknown amount
        return float(r), float(residual), float("inf")
    error = ((abs(fr - r) + dF) / slope + bracket) / scale(r)
    return float(r), float(residual), float(error)


def _potential_gap(se: _StateEvolution, alpha: float, q1: float, q2: float) -> float:
    r"""``Phi(q2) - Phi(q1)`` for the replica potential :math:`\Phi` with ``dPhi/dq = (q_hat_channel - q_hat_prior)/2``:
    in the prior's hat variable, ``(1/2) int (alpha G(q_prior(h)) - h) q_prior'(h) dh`` between the two hats."""
    h1 = alpha * se.G(q1) if q1 > 0 else 0.0
    h2 = alpha * se.G(q2)
    x, w = np.polynomial.legendre.leggauss(POTENTIAL_NODES)
    hs = 0.5 * (h2 - h1) * x + 0.5 * (h1 + h2)
    vals = [(alpha * se.G(se.q_prior(h)) - h) * se.dq_prior(h) for h in hs]
    return float(0.25 * (h2 - h1) * np.dot(w, vals))


def bayes_optimal(spectrum: Spectrum, channel: Channel, alpha: float, *, tol: float = 1e-8,
                  strict: bool = True) -> BayesSolution:
    r"""The Bayes-optimal test error (and MMSE, overlap) of the Gaussian covariate model with the averaged teacher.

    Solves the scalar state evolution of the module docstring. All its fixed points lie between
    ``F(0)`` and ``F(q_max)`` (``F`` is non-decreasing); ``F(q) - q`` is scanned between these bounds and each sign
    change refined by Brent's method. With several stable fixed points, the Bayes-optimal one maximises the replica
    potential (compared by integrating its derivative), and the one AMP reaches from an uninformed start is
    reported as ``q_amp``.

    Parameters
    ----------
    spectrum : spectra.Spectrum
        An averaged-teacher spectrum (``teacher == "averaged"``). Its ``bayes_prior`` (filled by
        :meth:`spectra.Spectrum.from_covariances_averaged`) gives the prior eigenvalues; without it the commuting
        form ``sigma_i = t_i / (gamma s_i)`` is used and ``BayesSolution.prior`` says so.
    channel : Channel
        Any channel: the built-in ones and :meth:`replica.Channel.from_likelihood`.
    alpha : float
        ``n/p > 0``.
    tol : float
        Target of the certified relative error of ``q`` and of ``rho - q``.
    strict : bool
        If True (default) a point that is not ``converged`` raises :class:`replica.ConvergenceError`.

    Returns
    -------
    BayesSolution

    Raises
    ------
    ValueError
        For a fixed-teacher spectrum (its Bayes estimator needs a prior matched to that one teacher) and bad
        arguments.

    Examples
    --------
    >>> from spectra import Spectrum
    >>> from replica import Channel, bayes_optimal
    >>> sol = bayes_optimal(Spectrum.isotropic(100), Channel.linear(0.5), alpha=2.0)
    >>> sol.status, round(sol.mmse, 6)  # = ridge at lam = noise/rho, Bayes-optimal on this isotropic spectrum
    ('converged', 0.280776)
    >>> sol = bayes_optimal(Spectrum.isotropic(100), Channel.sign(), alpha=100.0)
    >>> round(sol.test_error * 100, 3)  # the Bayes-optimal perceptron: ~ 0.4417 / alpha at large alpha
    0.442
    """
    checks.instance("channel", channel, Channel, "Channel.sign()")
    checks.instance("spectrum", spectrum, Spectrum)
    alpha = checks.real("alpha", alpha, low=0.0, low_open=True)
    tol = checks.real("tol", tol, low=0.0, high=1.0, low_open=True, high_open=True)
    se = _StateEvolution(spectrum, channel)
    sol = _solve(se, alpha, tol)
    if strict and not sol.converged:
        raise ConvergenceError(f"Bayes-optimal state evolution not solved at alpha={alpha:g} ({channel.name}): status "
                               f"{sol.status} ({sol.message}); pass strict=False to inspect it, or a larger tol", sol)
    return sol


def _solve(se: _StateEvolution, alpha: float, tol: float) -> BayesSolution:
    try:
        return _solve_unchecked(se, alpha, tol)
    except (FloatingPointError, ZeroDivisionError, _Unresolved) as exc:  # numerical failures only: bugs propagate
        nan = float("nan")
        return BayesSolution(alpha=alpha, q=nan, q_hat=nan, overlap=nan, mmse=nan, mmse_weights=nan, test_error=nan,
                             test_error_noisy=nan, q_amp=nan, test_error_amp=nan, fixed_points=0, converged=False,
                             status="invalid", residual=nan, error_estimate=nan, evaluations=se.evaluations,
                             rho=se.rho, rho_lin=se.rho_lin, prior=se.source, channel=se.channel.name,
                             message=f"the state evolution cannot be evaluated: {exc}")


def _solve_unchecked(se: _StateEvolution, alpha: float, tol: float) -> BayesSolution:
    scale_floor = FLOOR * se.rho_lin
    tiny = 0.1 * tol * scale_floor  # an overlap below this is 0 to the requested accuracy
    roots, certs = [], []
    if se.F(tiny, alpha) <= tiny:
        # a fixed point in [0, tiny] (F(0) >= 0): the trivial one, stable (no better than chance; e.g. a channel
        # symmetric in the teacher field below its weak-recovery threshold). Others may lie above.
        roots.append(0.0)
        certs.append((0.0, tiny / scale_floor))
        lo = tiny
    else:
        lo = se.F(tiny, alpha)      # every fixed point q > tiny has q = F(q) >= F(tiny) (F non-decreasing)
    hi = se.F(se.q_top, alpha)      # ... and every fixed point is <= F(q_top)
    if se.edge and hi >= se.q_top:  # F(q) > q up to the edge: the fixed point is q = rho (perfect recovery)
        below = [q for q in np.linspace(lo, se.q_top, SCAN_POINTS) if se.F(q, alpha) - q < 0]
        if roots or below:
            return _finish(se, alpha, np.nan, np.nan, 0, "invalid", np.nan, np.nan,
                           "several fixed points including perfect recovery: not resolved")
        q = se.rho_lin
        return _finish(se, alpha, q, q, 1, "converged", 0.0, 0.0,
                       f"perfect recovery: F(q) > q up to q = rho (1 - {EDGE:g}), the error vanishes")
    if hi <= lo:  # the trivial fixed point is the only one
        return _conclude(se, alpha, roots, certs, tol, "")
    if not roots and hi - lo <= 0.5 * tol * max(min(lo, se.rho_lin - hi), scale_floor):  # bounds meet
        q, residual, error = _root(se, alpha, lo, hi, tol)
        return _conclude(se, alpha, [q], [(residual, error)], tol, "the bounds F(0) and F(q_max) meet")
    u = np.linspace(-8.0, 8.0, SCAN_POINTS)
    grid = np.concatenate([[lo], lo + (hi - lo) * expit(u), [hi]])
    d = np.array([se.F(q, alpha) - q for q in grid])
    if not roots:
        d[0] = max(d[0], 0.0)  # exact sign by monotonicity (rounding aside): F(lo) >= F(tiny) = lo
    d[-1] = min(d[-1], 0.0)    # F(hi) <= F(q_top) = hi
    for i in range(grid.size - 1):
        if d[i] > 0 and d[i + 1] <= 0:  # a stable fixed point (F - id goes from + to -)
            r, res, err = _root(se, alpha, grid[i], grid[i + 1], tol)
            roots.append(r)
            certs.append((res, err))
    if not roots:
        return _finish(se, alpha, np.nan, np.nan, 0, "invalid", np.nan, np.nan,
                       "no stable fixed point found between the bounds (F is not monotone?)")
    return _conclude(se, alpha, roots, certs, tol, "")


def _conclude(se, alpha, roots, certs, tol, note) -> BayesSolution:
    best = 0
    if len(roots) > 1:
        # the Bayes-optimal fixed point maximises the replica potential
        values = [0.0] + [_potential_gap(se, alpha, roots[0], r) for r in roots[1:]]
        best = int(np.argmax(values))
    q, (residual, error) = roots[best], certs[best]
    status = "converged" if error < tol else "stalled"
    msg = note or ("unique stable fixed point" if len(roots) == 1 else
                   f"{len(roots)} stable fixed points: the Bayes-optimal one maximises the potential; AMP from an "
                   "uninformed start stops at q_amp")
    if status != "converged" and np.isinf(error):
        msg += ("; the fixed point is marginal (1 - F'(q) is at rounding level, as at a spinodal): its position "
                "cannot be certified; move alpha away from this point")
    elif status != "converged":
        msg += (f"; the estimated error {error:.3g} exceeds tol: the channel quadrature limits the accuracy here "
                "(pass a larger tol)")
    return _finish(se, alpha, q, roots[0], len(roots), status, residual, error, msg)


# ============================================================================ curves
_CURVE_NUMERIC = ("alpha", "q", "q_hat", "overlap", "mmse", "mmse_weights", "test_error", "test_error_noisy", "q_amp",
                  "test_error_amp", "residual", "error_estimate")


@dataclass(frozen=True, eq=False)
class BayesCurve(PointTable):
    """Bayes-optimal solutions along a sweep in ``alpha`` (fields as :class:`BayesSolution`, one entry per point).

    It shares :class:`replica.Curve`'s interface where the quantities coincide (``alpha``, ``test_error``,
    ``test_error_noisy``, ``status``, ``converged``, ``all_converged``, ``to_dict``, ``to_csv``, ``plot``), so the
    two plot on one axis: ``curve.plot(bayes=bo)`` or ``bo.plot(ax=curve.plot())``.
    """

    alpha: np.ndarray
    q: np.ndarray
    q_hat: np.ndarray
    overlap: np.ndarray
    mmse: np.ndarray
    mmse_weights: np.ndarray
    test_error: np.ndarray
    test_error_noisy: np.ndarray
    q_amp: np.ndarray
    test_error_amp: np.ndarray
    residual: np.ndarray
    error_estimate: np.ndarray
    fixed_points: np.ndarray
    evaluations: np.ndarray
    status: np.ndarray
    prior: str
    channel: str

    @classmethod
    def from_solutions(cls, solutions: list[BayesSolution]) -> BayesCurve:
        """Stack a list of solutions of one problem."""
        if not solutions:
            raise ValueError("solutions must not be empty")
        data = {k: np.array([getattr(s, k) for s in solutions], dtype=float) for k in _CURVE_NUMERIC}
        return cls(**data, fixed_points=np.array([s.fixed_points for s in solutions]),
                   evaluations=np.array([s.evaluations for s in solutions]),
                   status=np.array([s.status for s in solutions]), prior=solutions[0].prior,
                   channel=solutions[0].channel)

    def to_csv(self, path: str | os.PathLike, *, metadata: dict | None = None) -> None:
        """One row per point under a header row: the fields of :data:`_CURVE_NUMERIC`, ``fixed_points``,
        ``status``, ``prior`` and ``channel`` (floats round-trip exactly); and the sidecar ``path-metadata.json``
        (:mod:`gaussequiv.tables`) with the channel, prior, counts and ``metadata``."""
        from gaussequiv.tables import write_csv

        n = len(self)
        table = {c: getattr(self, c) for c in _CURVE_NUMERIC}
        table.update(fixed_points=self.fixed_points, status=self.status, prior=[self.prior] * n,
                     channel=[self.channel] * n)
        write_csv(path, table, {"channel": self.channel, "prior": self.prior, "points": n,
                                "converged": int(np.sum(self.converged)), "estimator": "Bayes-optimal",
                                **(metadata or {})})

    def plot(self, ax=None, *, x: str = "alpha", quantities=("test_error",), **kwargs):
        """Plot the Bayes-optimal quantities against ``alpha`` (dashed black by default) on ``ax``; returns the axis.

        Pass the axis of a :class:`replica.Curve` plot to draw the bound beside the ERM curves.
        """
        import matplotlib.pyplot as plt

        if x != "alpha":
            raise ValueError(f"x must be 'alpha' for a Bayes-optimal curve (it has no lam), got {x!r}")
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
            ax.set_xlabel(r"$\alpha = n/p$")
            ax.set_title(f"Bayes-optimal, {self.channel}")
        style = {"color": "black", "linestyle": "--", **kwargs}
        ok = self.converged
        for name in quantities:
            if name not in _CURVE_NUMERIC[1:]:
                raise ValueError(f"unknown quantity {name!r}; choose from {_CURVE_NUMERIC[1:]}")
            ys = np.where(ok, getattr(self, name), np.nan)
            ax.plot(self.alpha, ys, label=f"{name.replace('_', ' ')} (Bayes-optimal)", **style)
        if not ok.all():
            ax.plot(self.alpha[~ok], np.zeros((~ok).sum()), "x", color="red", label="not converged")
        ax.legend(frameon=False, fontsize=8)
        return ax


def bayes_optimal_curve(spectrum: Spectrum, channel: Channel, alphas, *, tol: float = 1e-8, strict: bool = True,
                        progress: bool | None = None) -> BayesCurve:
    """:func:`bayes_optimal` at each ``alpha``; a :class:`BayesCurve` to plot beside ERM learning curves.

    With ``strict=True`` (default) the first point that does not converge raises
    :class:`replica.ConvergenceError`; with ``strict=False`` it is kept with its status (plots skip it).

    Parameters
    ----------
    spectrum, channel, tol
        As :func:`bayes_optimal`.
    alphas : array_like
        Sample ratios ``n/p > 0``.
    strict : bool
        Raise on the first point that is not ``converged`` (default), or keep it with its status.
    progress : bool or None
        True shows a tqdm bar, False hides it; None (default) shows it on a terminal or in a notebook, never in a
        redirected log (gaussequiv.progress.show), and only after 3 s.

    Returns
    -------
    BayesCurve

    Examples
    --------
    >>> import numpy as np
    >>> from spectra import Spectrum
    >>> from replica import Channel, Loss, bayes_optimal_curve, learning_curve
    >>> spec = Spectrum.isotropic(100)
    >>> bo = bayes_optimal_curve(spec, Channel.sign(), [0.5, 2.0, 8.0])
    >>> bo.test_error.round(4)
    array([0.3224, 0.1745, 0.0541])
    >>> erm = learning_curve(spec, Loss.logistic(), Channel.sign(), [0.5, 2.0, 8.0], lam=0.1)
    >>> bool(np.all(erm.test_error >= bo.test_error))
    True
    """
    checks.instance("channel", channel, Channel, "Channel.sign()")
    alphas = checks.grid("alphas", alphas, low=0.0, low_open=True)
    tol = checks.real("tol", tol, low=0.0, high=1.0, low_open=True, high_open=True)
    checks.instance("spectrum", spectrum, Spectrum)
    se = _StateEvolution(spectrum, channel)

    sols = []
    bar = tqdm(alphas, desc="alphas", disable=not show_progress(progress), delay=0 if progress else 3.0, leave=False)
    for a in bar:
        se.evaluations = 0
        sol = _solve(se, float(a), tol)
        if strict and not sol.converged:
            raise ConvergenceError(f"Bayes-optimal state evolution not solved at alpha={a:g} ({channel.name}): "
                                   f"status {sol.status} ({sol.message})", sol)
        sols.append(sol)
    return BayesCurve.from_solutions(sols)
