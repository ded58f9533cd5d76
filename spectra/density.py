r"""Spectra at ``p = infinity``: eigenvalue densities with the teacher's weight as a function of the eigenvalue.

The replica equations use a spectrum only through sums :math:`\frac1p\sum_i f(s_i, t_i)` (theory §2.1). A
:class:`SpectralDensity` replaces them by a quadrature :math:`\sum_j w_j f(s_j, t_j)`: nodes ``s_j`` (atoms
included), teacher weights ``t_j`` (the average of ``t`` over the modes at eigenvalue ``s_j``, same meaning and
scale as :attr:`spectra.Spectrum.t`) and weights ``w_j``. Everything else (``rho``, ``gamma``, the ``1/sqrt(gamma)``
factors, ``rho_lin = (1/gamma) sum_j w_j t_j/s_j``) is unchanged, so :func:`replica.solve` accepts a density
wherever it accepts a :class:`~spectra.Spectrum` and returns the same :class:`replica.Solution`.

Two normalisations (see ``docs/p_infinity.md``):

* ``"per-feature"`` (the GCM convention): the weights are a probability measure (they sum to 1), ``alpha = n/p``
  and ``gamma = k/p`` keep their meaning as ``p -> infinity`` at fixed ratios. Built-ins:
  :meth:`SpectralDensity.marchenko_pastur`, :meth:`SpectralDensity.random_features`,
  :meth:`SpectralDensity.from_spectrum`.
* ``"per-sample"``: one unit of weight per mode and ``alpha`` **is the number of samples n** (the ``1/p`` of the
  sums and the ``p`` of ``alpha = n/p`` cancel). This is the ``p -> infinity`` limit at fixed ``n`` of a spectrum
  with a fixed list of modes, e.g. a power law :math:`s_i \propto i^{-a}` (kernel ridge regression, Cui et al.
  2021): :meth:`SpectralDensity.power_law`.

Quadratures: the Marchenko-Pastur law is integrated with its own Gauss rule (Golub-Welsch on its Jacobi matrix:
exact for polynomials of degree ``2 nodes - 1``, square-root edges included), its atom at 0 as a separate node;
a sum over modes :math:`\sum_{i=1}^P g(i)` with ``P`` up to infinity is compressed to a few hundred nodes
(:func:`mode_sum_rule`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special
from scipy.linalg import eigh_tridiagonal

from gaussequiv import checks
from spectra.spectrum import Spectrum

__all__ = ["SpectralDensity", "marchenko_pastur_rule", "mode_sum_rule", "default_mp_nodes", "NORMALISATIONS"]

Normalisation = Literal["per-feature", "per-sample"]
#: The two normalisations of the weights (module docstring).
NORMALISATIONS = ("per-feature", "per-sample")
#: Gauss nodes of the Marchenko-Pastur rule when its lower edge can touch the poles of the replica sums
#: (``shift = 0``); with ``shift > 0`` the default is the Bernstein-ellipse bound of :func:`default_mp_nodes`.
MP_NODES = 256
#: Modes summed exactly at the head of :func:`mode_sum_rule` (the Euler-Maclaurin remainder there is
#: ``~ 3e-3 |g'''(HEAD)|``, ``1e-12`` relative for the functions of the replica sums).
HEAD = 256
#: Gauss-Legendre nodes per panel of :func:`mode_sum_rule` (panels of width ``min(1, 2/a)`` in ``log i``).
PANEL_NODES = 12
#: The infinite tail of :func:`mode_sum_rule` is integrated up to ``log i = log(HEAD) + min(36/(a - 1), LOG_SPAN_MAX)``
#: (the power ``i^(1-a)`` has fallen by ``e^-36`` there) and closed by one node exact for ``g ~ i^-a``.
LOG_SPAN_MAX = 600.0
#: Relative slack of ``rho_lin <= rho`` and of the weight normalisation checks.
RHO_TOL = 1e-6
WEIGHT_TOL = 1e-10

TeacherKind = Literal["fixed", "averaged"]


# ------------------------------------------------------------------------------------------------ quadratures
def marchenko_pastur_rule(ratio: float, nodes: int = MP_NODES) -> tuple[np.ndarray, np.ndarray, float]:
    r"""Gauss rule of the Marchenko-Pastur law of ratio ``c`` (mean 1, variance ``c``): ``(x, w, atom)``.

    The law is that of the eigenvalues of :math:`FF^\top` for ``F`` of shape ``(p, D)`` with i.i.d.
    ``N(0, 1/D)`` entries and ``c = p/D``: density :math:`\sqrt{(x_+ - x)(x - x_-)}/(2\pi c x)` on
    :math:`x_\pm = (1 \pm \sqrt c)^2`, plus an atom of mass ``atom = 1 - 1/c`` at 0 when ``c > 1``.
    ``sum(w) + atom = 1``.

    For ``c <= 1`` the nodes and weights are the Gauss rule of the law itself (Golub-Welsch on its Jacobi matrix,
    diagonal ``1, 1 + c, 1 + c, ...``, off-diagonal ``sqrt(c)``): :math:`\sum_j w_j f(x_j)` is exact for
    polynomials of degree ``2 nodes - 1`` and converges geometrically for ``f`` analytic on the support, at a
    rate set by the distance of ``f``'s singularities to the support (a pole at ``-eps`` next to the edge
    ``x_- = 0`` of ``c = 1`` needs ``nodes ~ 1/sqrt(eps)``). For ``c > 1`` the non-zero eigenvalues are those
    of :math:`F^\top F`, ``c`` times the law of ratio ``1/c``: its rule, scaled, carries mass ``1/c``.

    Examples
    --------
    >>> x, w, atom = marchenko_pastur_rule(2.0, nodes=8)
    >>> round(float(w.sum()) + atom, 14), round(float(w @ x), 14), round(float(w @ x**2), 14)  # 1, 1, 1 + c
    (1.0, 1.0, 3.0)
    """
    c = checks.real("ratio", ratio, low=0.0, low_open=True)
    nodes = checks.integer("nodes", nodes, minimum=2)
    inner = c if c <= 1.0 else 1.0 / c
    diag = np.full(nodes, 1.0 + inner)
    diag[0] = 1.0
    x, vec = eigh_tridiagonal(diag, np.full(nodes - 1, np.sqrt(inner)))
    w = vec[0] ** 2
    w = w / w.sum()  # the first components have unit norm up to round-off
    x = np.maximum(x, 0.0)
    if c <= 1.0:
        return x, w, 0.0
    return c * x, w / c, 1.0 - 1.0 / c


def default_mp_nodes(ratio: float, gap: float) -> int:
    r"""Gauss nodes that integrate ``f(x)`` with a pole at ``x = -gap`` against Marchenko-Pastur(``ratio``) to ~1e-17.

    Every replica sum has its poles at ``s = -lam/V_hat <= 0``; for ``s = shift + variance x`` they sit at
    ``x <= -gap`` with ``gap = shift/variance``. The Gauss error for a pole at ``x_0`` decays like
    :math:`arrho^{-2n}` with :math:`arrho = |u| + \sqrt{u^2 - 1}`, ``u`` the pole mapped to ``[-1, 1]`` by the
    support :math:`[x_-, x_+]` (the Bernstein ellipse through it). Returns ``ceil(ln(1e17) / (2 ln rho)) + 8``
    clipped to ``[32, MP_NODES]``, and ``MP_NODES`` for ``gap = 0``.

    Examples
    --------
    >>> default_mp_nodes(1.0, 0.0), default_mp_nodes(2.0, 0.57), default_mp_nodes(1.0, 0.11)
    (256, 36, 68)
    """
    c = checks.real("ratio", ratio, low=0.0, low_open=True)
    gap = checks.real("gap", gap, low=0.0)
    if gap == 0.0:
        return MP_NODES
    inner, x0 = (c, -gap) if c <= 1.0 else (1.0 / c, -gap / c)  # the continuous part of c > 1 is c MP(1/c)
    lo, hi = (1.0 - np.sqrt(inner)) ** 2, (1.0 + np.sqrt(inner)) ** 2
    u = abs((2.0 * x0 - lo - hi) / (hi - lo))
    rho_b = u + np.sqrt(u * u - 1.0)
    return int(np.clip(np.ceil(np.log(1e17) / (2.0 * np.log(rho_b))) + 8, 32, MP_NODES))


def mode_sum_rule(a: float, cutoff: int | None = None, *, head: int = HEAD) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes ``x`` (real mode indices) and weights ``w`` with :math:`\sum_j w_j g(x_j) \approx \sum_{i=1}^P g(i)`.

    For functions of the form ``g(i) = f(i^-a, i^-b)`` (the replica sums of a power-law spectrum). ``P = cutoff``,
    or infinity (``cutoff=None``, needs ``a > 1`` so that the sums of ``s = i^-a`` converge).

    * ``P <= 4 head``: every mode, weight 1 (exact).
    * Otherwise: the modes ``1..head`` exactly; the rest by the midpoint Euler-Maclaurin formula
      :math:`\sum_{i=M+1}^{X} g(i) = \int_{M+1/2}^{X+1/2} g\,dx + \tfrac1{24}(g'(M+\tfrac12) - g'(X+\tfrac12))
      + O(g''')`, the derivatives as differences of neighbouring modes (which keeps every weight positive) and
      the integral by composite Gauss-Legendre in ``log x`` (panels of width ``min(1, 2/a)``: the integrands
      are analytic in a strip ``|Im log x| < pi/a``, so each panel is accurate to ~1e-15). A finite cutoff keeps
      its last two modes exactly; an infinite one is integrated to ``log x = log(head) + min(36/(a-1), 600)``
      and closed by one node whose weight ``x/(a - 1)`` is exact for ``g ~ x^-a``.

    Accuracy (tested against direct sums and mpmath): ~1e-12 relative for ``a >= 1.1``. The weights sum to
    ``P`` for a finite cutoff (the rule is exact for constants).

    Examples
    --------
    >>> x, w = mode_sum_rule(2.0)
    >>> round(float(w @ x**-2.0), 12), round(np.pi**2 / 6, 12)
    (1.644934066848, 1.644934066848)
    """
    a = checks.real("a", a, low=0.0, low_open=True)
    head = checks.integer("head", head, minimum=8)
    if cutoff is None:
        if a <= 1.0:
            raise ValueError(f"a power law without a cutoff needs a > 1 (finite trace sum_i i^-a), got a = {a:g}; "
                             "pass an integer cutoff")
        P = None
    else:
        P = checks.integer("cutoff", cutoff, minimum=1)
        if P <= 4 * head:
            x = np.arange(1, P + 1, dtype=float)
            return x, np.ones_like(x)
    xs = [np.arange(1, head + 2, dtype=float)]
    ws = [np.ones(head + 1)]
    ws[0][head - 1] -= 1.0 / 24.0  # g'(M + 1/2) ~ g(M + 1) - g(M): node M+1 (not summed exactly) gets 1/24
    ws[0][head] = 1.0 / 24.0
    lo = np.log(head + 0.5)
    width = min(1.0, 2.0 / a)
    if P is None:
        hi = lo + min(36.0 / (a - 1.0), LOG_SPAN_MAX)
    else:
        X = P - 2  # modes X+1..P exactly; -g'(X + 1/2)/24 ~ (g(X) - g(X + 1))/24
        hi = np.log(X + 0.5)
        xs.append(np.arange(X, P + 1, dtype=float))
        ws.append(np.array([1.0 / 24.0, 1.0 - 1.0 / 24.0, 1.0]))
    panels = max(1, int(np.ceil((hi - lo) / width)))
    edges = np.linspace(lo, hi, panels + 1)
    u, v = np.polynomial.legendre.leggauss(PANEL_NODES)
    left, right = edges[:-1, None], edges[1:, None]
    y = (left + 0.5 * (right - left) * (u + 1.0)).ravel()
    wy = (0.5 * (right - left) * v).ravel()
    xs.append(np.exp(y))
    ws.append(wy * np.exp(y))
    if P is None:
        end = float(np.exp(hi))
        xs.append(np.array([end]))
        ws.append(np.array([end / (a - 1.0)]))
    return np.concatenate(xs), np.concatenate(ws)


# ------------------------------------------------------------------------------------------------ the object
@dataclass(frozen=True, eq=False)
class SpectralDensity:
    r"""A spectrum given as a quadrature of an eigenvalue distribution: the ``p = infinity`` input of the solver.

    The replica sums :math:`\frac1p\sum_i f(s_i, t_i)` of a :class:`~spectra.Spectrum` become
    :math:`\sum_j w_j f(s_j, t_j)` (theory §2.1 with quadrature weights).

    Attributes
    ----------
    s : ndarray
        Quadrature nodes: eigenvalues of Omega (``>= 0``; atoms are nodes too).
    t : ndarray
        Teacher weight at each node: the average of :math:`t_i = (e_i^\top\Phi\theta_0)^2` over the modes at
        eigenvalue ``s_j`` (same scale as :attr:`spectra.Spectrum.t`: ``rho_lin = (1/gamma) sum_j w_j t_j/s_j``).
        ``t = 0`` where ``s = 0``.
    weights : ndarray
        Quadrature weights (``> 0``). ``"per-feature"``: a probability measure (sum 1), the fraction of the
        ``p`` modes each node stands for. ``"per-sample"``: the number of modes each node stands for.
    rho : float
        Teacher variance ``Var nu``.
    gamma : float
        ``k/p`` (the ratio survives ``p -> infinity``). In the per-sample normalisation it is a free gauge
        (the results do not depend on it); the built-ins use 1.
    teacher : {"averaged", "fixed"}
        The convention of ``t``. The built-in densities are the deterministic ``p -> infinity`` limits, which a
        fixed teacher of norm ``|theta|^2/k = rho`` and the average over teachers share: labelled ``"averaged"``.
    normalisation : {"per-feature", "per-sample"}
        ``"per-feature"``: ``alpha = n/p`` as for a :class:`~spectra.Spectrum`. ``"per-sample"``: ``alpha`` is the
        number of samples ``n`` and ``lam`` the penalty of :math:`\sum_\mu \ell(y^\mu, w\cdot\psi^\mu) +
        (\lambda/2)\|w\|^2` with :math:`E[\psi\psi^\top] = \mathrm{diag}(s)` (no ``1/sqrt(p)``).
    p : float
        Number of student features the density stands for: ``math.inf`` for a continuum or an infinite list of
        modes, an integer for a compressed finite spectrum (e.g. a power law with a cutoff).
    label : str
        What the density is (for printing).

    Notes
    -----
    A density has no finite-size simulation to compare with: ``validation.compare(..., spectrum=density)``
    refuses it; build the finite :class:`~spectra.Spectrum` (e.g. from sampled ``F``) for that.

    Examples
    --------
    >>> from spectra import SpectralDensity
    >>> rf = SpectralDensity.random_features(2.0, "relu")   # p/D = 2, Gaussian-equivalent ReLU features
    >>> rf.gamma, rf.p, round(rf.rho_lin, 6)
    (0.5, inf, 0.7717)
    """

    s: np.ndarray
    t: np.ndarray
    weights: np.ndarray
    rho: float
    gamma: float
    teacher: TeacherKind = "averaged"
    normalisation: Normalisation = "per-feature"
    p: float = math.inf
    label: str = ""

    def __post_init__(self) -> None:
        s = checks.vector("s", self.s).copy()
        t = checks.vector("t", self.t, size=s.size).copy()
        w = checks.vector("weights", self.weights, size=s.size).copy()
        rho = checks.real("rho", self.rho, low=0.0, low_open=True)
        gamma = checks.real("gamma", self.gamma, low=0.0, low_open=True)
        if self.teacher not in ("fixed", "averaged"):
            raise ValueError(f"teacher must be 'fixed' or 'averaged', got {self.teacher!r}")
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {self.normalisation!r}")
        if isinstance(self.p, (bool, np.bool_)) or not isinstance(self.p, (int, float, np.integer, np.floating)):
            raise TypeError(f"p must be a number of modes or math.inf, got {type(self.p).__name__}")
        p = float(self.p)
        if not (p >= 1 and (math.isinf(p) or p == int(p))):
            raise ValueError(f"p must be an integer >= 1 or math.inf, got {self.p!r}")
        for name, arr in (("s", s), ("t", t)):
            neg = np.flatnonzero(arr < 0)
            if neg.size:
                raise ValueError(f"{name} must be >= 0; {name}[{neg[0]}] = {arr[neg[0]]:.6g}")
        bad = np.flatnonzero(w <= 0)
        if bad.size:
            raise ValueError(f"weights must be > 0; weights[{bad[0]}] = {w[bad[0]]:.6g}")
        if not np.any(s > 0):
            raise ValueError("s must have at least one positive node")
        zero_t = np.flatnonzero((s == 0) & (t > 0))
        if zero_t.size:
            i = int(zero_t[0])
            raise ValueError(f"t[{i}] = {t[i]:.6g} > 0 at s[{i}] = 0: a null direction of Omega cannot carry teacher "
                             "weight (Cauchy-Schwarz, theory §1.5)")
        total = float(np.sum(w))
        if self.normalisation == "per-feature" and abs(total - 1.0) > WEIGHT_TOL:
            raise ValueError(f"weights must sum to 1 in the per-feature normalisation (a probability measure over "
                             f"the eigenvalues), got {total!r}; normalise them, or use normalisation='per-sample'")
        if self.normalisation == "per-sample" and math.isfinite(p) and abs(total - p) > 1e-8 * p:
            raise ValueError(f"per-sample weights count modes: they must sum to p = {p:g}, got {total!r}")
        pos = s > 0
        rho_lin = float(np.sum(w[pos] * t[pos] / s[pos])) / gamma
        if rho_lin > rho * (1.0 + RHO_TOL):
            raise ValueError(f"rho_lin = {rho_lin:.6g} exceeds rho = {rho:.6g}: the teacher cannot be better "
                             "predicted linearly than its own variance; check t, gamma and rho")
        for arr in (s, t, w):
            arr.setflags(write=False)
        object.__setattr__(self, "s", s)
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "rho", rho)
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "p", p if math.isinf(p) else int(p))
        object.__setattr__(self, "label", str(self.label))

    # ------------------------------------------------------------------------------------- derived quantities
    @property
    def k(self) -> float:
        """Number of teacher features, ``gamma * p`` (infinite for a continuum)."""
        return self.gamma * self.p

    @property
    def rho_lin(self) -> float:
        """Variance of the best linear predictor of the teacher field: ``(1/gamma) sum_j w_j t_j/s_j``."""
        pos = self.s > 0
        return float(np.sum(self.weights[pos] * self.t[pos] / self.s[pos])) / self.gamma

    @property
    def positive_mass(self) -> float:
        """Weight of the non-zero eigenvalues: ``rank/p`` per feature, the rank per sample (``inf`` if infinite).

        With ``lam = 0`` the square loss interpolates below ``alpha = positive_mass`` (theory §2.7).
        """
        if self.normalisation == "per-sample" and math.isinf(self.p):
            return math.inf
        return float(np.sum(self.weights[self.s > 0]))

    @property
    def per_sample(self) -> bool:
        """True if ``alpha`` means the number of samples (normalisation ``"per-sample"``)."""
        return self.normalisation == "per-sample"

    def integrate(self, f: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> float:
        """``sum_j w_j f(s_j, t_j)``: the replacement of ``(1/p) sum_i f(s_i, t_i)``; ``f`` is vectorised.

        Examples
        --------
        >>> mp = SpectralDensity.marchenko_pastur(0.5)
        >>> round(mp.integrate(lambda s, t: s**2), 12)   # second moment 1 + c
        1.5
        """
        return float(np.sum(self.weights * np.asarray(f(self.s, self.t), dtype=float)))

    def stieltjes(self, z) -> complex | float:
        r"""The Stieltjes transform :math:`\sum_j w_j/(s_j - z)` of the eigenvalue measure (``z`` off the support).

        Examples
        --------
        >>> mp = SpectralDensity.marchenko_pastur(1.0)
        >>> round(mp.stieltjes(-1.0), 12)  # m(z) of MP(1): (-z + sqrt(z^2 - 4z))/(2z)
        0.61803398875
        """
        val = np.sum(self.weights / (self.s - z))
        return complex(val) if np.iscomplexobj(val) else float(val)

    # --------------------------------------------------------------------------------------------- builders
    @classmethod
    def from_spectrum(cls, spectrum: Spectrum) -> SpectralDensity:
        """A discrete :class:`~spectra.Spectrum` as a density: nodes ``s_i``, weights ``1/p`` (per feature).

        The solver gives the same answer for both (a test of the weights code path).

        Examples
        --------
        >>> from spectra import Spectrum
        >>> d = SpectralDensity.from_spectrum(Spectrum.isotropic(4))
        >>> d.p, d.weights.tolist()
        (4, [0.25, 0.25, 0.25, 0.25])
        """
        if not isinstance(spectrum, Spectrum):
            raise TypeError(f"spectrum must be a spectra.Spectrum, got {type(spectrum).__name__}")
        return cls(s=spectrum.s, t=spectrum.t, weights=np.full(spectrum.p, 1.0 / spectrum.p), rho=spectrum.rho,
                   gamma=spectrum.gamma, teacher=spectrum.teacher, p=spectrum.p,
                   label=f"discrete spectrum (p = {spectrum.p})")

    @classmethod
    def marchenko_pastur(cls, ratio: float, *, variance: float = 1.0, shift: float = 0.0, rho: float = 1.0,
                         nodes: int | None = None) -> SpectralDensity:
        r"""``Omega = shift I + variance F F^T`` with a latent teacher, at ``p, D -> infinity``, ``p/D = ratio``.

        ``F`` has shape ``(p, D)`` and i.i.d. ``N(0, 1/D)`` entries, the student-teacher covariance is
        :math:`\Phi = \sqrt{\mathrm{variance}}\,F`, :math:`\Psi = I_D` (teacher ``u = c``, ``k = D``,
        ``gamma = 1/ratio``). The eigenvalues are ``shift + variance x`` with ``x`` Marchenko-Pastur of ratio
        ``ratio`` (:func:`marchenko_pastur_rule`), and the teacher weight at eigenvalue ``s`` is

        .. math:: t(s) = \rho\,(s - \mathrm{shift}) = \rho\,\mathrm{variance}\; x,

        (:math:`e^\top\Phi\Phi^\top e = \mathrm{variance}\,x` averaged over the teacher, times
        ``rho = |theta|^2/D`` for a fixed one). When ``ratio > 1`` the null space of ``F F^T`` (mass
        ``1 - 1/ratio``) is an atom at ``s = shift`` with ``t = 0``. :meth:`random_features` is the case
        ``variance = kappa1^2``, ``shift = kappa_*^2``.

        Parameters
        ----------
        ratio : float
            ``p/D > 0`` (features per latent dimension; ``psi_1 = N/d`` of Mei & Montanari).
        variance, shift : float
            ``variance > 0``, ``shift >= 0``.
        rho : float
            Teacher variance ``|theta|^2/D`` (1 for the average over ``theta ~ N(0, I_D)``).
        nodes : int, optional
            Gauss nodes of the continuous part (:func:`marchenko_pastur_rule`). Default: enough for the poles of
            the replica sums (at ``s <= 0``) to be integrated to round-off (:func:`default_mp_nodes`); with
            ``shift = 0`` and ``ratio`` close to 1 the support touches ``s = 0`` and small ``lam/V_hat`` needs more
            than the default 256 (a pole at ``-eps`` from the edge needs ``~ 1/sqrt(eps)`` nodes).

        Examples
        --------
        >>> mp = SpectralDensity.marchenko_pastur(4.0)   # p = 4 D: an atom of mass 3/4 at 0
        >>> mp.gamma, round(mp.positive_mass, 12), round(mp.rho_lin, 12)
        (0.25, 0.25, 1.0)
        """
        c = checks.real("ratio", ratio, low=0.0, low_open=True)
        variance = checks.real("variance", variance, low=0.0, low_open=True)
        shift = checks.real("shift", shift, low=0.0)
        rho = checks.real("rho", rho, low=0.0, low_open=True)
        if nodes is None:
            nodes = default_mp_nodes(c, shift / variance)
        x, w, atom = marchenko_pastur_rule(c, nodes)
        s, t = shift + variance * x, rho * variance * x
        if atom > 0:
            s, t, w = np.append(s, shift), np.append(t, 0.0), np.append(w, atom)
        if shift == 0.0:  # an atom at 0 must carry t = 0 exactly; a Gauss node never sits at 0 for ratio != 1
            t = np.where(s == 0.0, 0.0, t)
        return cls(s=s, t=t, weights=w / w.sum(), rho=rho, gamma=1.0 / c, teacher="averaged",
                   normalisation="per-feature",
                   label=f"Marchenko-Pastur(p/D = {c:g}, variance = {variance:g}, shift = {shift:g})")

    @classmethod
    def random_features(cls, ratio: float, activation="relu", *, rho: float = 1.0, nodes: int | None = None,
                        smooth: bool | None = None) -> SpectralDensity:
        r"""Gaussian-equivalent random features ``v = sigma(F c)`` of isotropic latents at ``p/D = ratio``.

        With the coefficients of :func:`spectra.analytic.kappas` (theory §3.3), the centred features have
        :math:`\Omega = \kappa_1^2 FF^\top + \kappa_*^2 I_p`, :math:`\Phi = \kappa_1 F`, :math:`\Psi = I_D`
        (the :math:`\kappa_0^2 11^\top` term is removed by centring), so this is
        :meth:`marchenko_pastur` with ``variance = kappa1^2``, ``shift = kappa_*^2``: eigenvalues
        :math:`\kappa_*^2 + \kappa_1^2 x` and ``t(s) = rho (s - kappa_*^2)``. The model of Mei & Montanari
        (arXiv:1908.05355) and Gerace et al. (ICML 2020) at ``p, D -> infinity`` (theory §6.3).

        Parameters
        ----------
        ratio : float
            ``p/D`` (``psi_1`` of Mei & Montanari); ``gamma = 1/ratio``.
        activation : str or callable
            Any activation :func:`spectra.analytic.kappas` knows (``"relu"``, ``"sign"``, ``"erf"``, ``"tanh"``,
            ...) or a vectorised function.
        rho : float
            Teacher variance.
        nodes : int, optional
            Gauss nodes of the Marchenko-Pastur part (default: :func:`default_mp_nodes` with the gap
            ``kappa_*^2/kappa1^2``, a few dozen).
        smooth : bool, optional
            For a callable activation (see :func:`spectra.analytic.kappas`).

        Raises
        ------
        ValueError
            If ``kappa1 = 0`` (an even activation): the features carry no linear information on the teacher.

        Examples
        --------
        >>> rf = SpectralDensity.random_features(0.5, "sign")
        >>> bool(rf.s.min() > 1 - 2 / np.pi)   # every eigenvalue above kappa_*^2 = 1 - 2/pi
        True
        """
        from spectra.analytic import kappas

        k = kappas(activation, smooth=smooth)
        if not k.kappa1 > 1e-12 * max(k.kappa_star, 1.0):
            raise ValueError(f"activation {k.activation!r} has kappa1 = {k.kappa1:.3g}: its random features carry no "
                             "linear information on a linear teacher (the Gaussian-equivalent model is degenerate)")
        dens = cls.marchenko_pastur(ratio, variance=k.kappa1**2, shift=k.kappa_star**2, rho=rho, nodes=nodes)
        object.__setattr__(dens, "label", f"random features {k.activation} (p/D = {float(ratio):g}, "
                                          f"kappa1 = {k.kappa1:.6g}, kappa_* = {k.kappa_star:.6g})")
        return dens

    @classmethod
    def power_law(cls, a: float, b: float, *, cutoff: int | None = None, rho: float = 1.0,
                  scale: float = 1.0) -> SpectralDensity:
        r"""Power-law (source/capacity) spectrum ``s_i = scale i^-a``, teacher variance ``c_i ~ i^-b`` per mode.

        The teacher field has variance ``c_i = rho i^-b / zeta(b)`` along mode ``i = 1, 2, ...`` (so
        :math:`\sum_{i\ge1} c_i = \rho`); the student sees the modes ``i <= cutoff`` (all of them if ``cutoff`` is
        None) and ``rho_lin = sum_{i <= cutoff} c_i``: the unseen modes act as effective noise. In the source/
        capacity notation of Cui, Loureiro, Krzakala & Zdeborova (arXiv:2105.15004),
        :math:`\omega_k = k^{-\alpha}` and :math:`\theta_k^{*2}\omega_k = k^{-1-2\alpha r}`: ``a = alpha`` (capacity)
        and ``b = 1 + 2 alpha r`` (source).

        **Normalisation: per sample.** The density has one unit of weight per mode, so ``alpha`` in
        :func:`replica.solve` is the number of samples ``n`` and ``lam`` is the penalty of
        :math:`\sum_\mu \ell(y^\mu, w\cdot\psi^\mu) + \frac\lambda2\|w\|^2` with
        :math:`E[\psi\psi^\top] = \mathrm{diag}(s)`: kernel ridge regression with
        :math:`\frac1{2n}\sum_\mu(y^\mu - f(x^\mu))^2 + \frac{\lambda_K}{2}\|f\|_\mathcal{H}^2` has
        ``lam = n lambda_K``. This is the ``p -> infinity`` limit at fixed ``n`` of the GCM with ``p`` features
        (``alpha = n/p -> 0``): with a finite cutoff ``P`` it is exactly the :class:`~spectra.Spectrum` of ``P``
        modes ``s_i = P scale i^-a``, ``t_i = k s_i c_i`` (any ``gamma = k/P``) solved at ``alpha = n/P`` (the
        ``1/p`` of the sums and the ``p`` of ``alpha`` cancel; see ``docs/p_infinity.md``). Here ``gamma = 1`` and
        ``t_j = s_j c_j``. The sums are compressed by :func:`mode_sum_rule`.

        Parameters
        ----------
        a : float
            Capacity exponent, ``> 1`` without a cutoff (``> 0`` with one).
        b : float
            Source exponent of the teacher variance per mode, ``> 1``.
        cutoff : int, optional
            Number of modes the student sees (``p``); None for all of them.
        rho : float
            Total teacher variance.
        scale : float
            The largest eigenvalue ``s_1``.

        Examples
        --------
        >>> pl = SpectralDensity.power_law(2.0, 3.0)
        >>> pl.normalisation, pl.p, round(pl.rho_lin, 12)
        ('per-sample', inf, 1.0)
        >>> round(SpectralDensity.power_law(2.0, 3.0, cutoff=1).rho_lin, 12)  # 1/zeta(3)
        0.831907372581
        """
        a = checks.real("a", a, low=0.0, low_open=True)
        b = checks.real("b", b, low=1.0, low_open=True)
        rho = checks.real("rho", rho, low=0.0, low_open=True)
        scale = checks.real("scale", scale, low=0.0, low_open=True)
        x, w = mode_sum_rule(a, cutoff)
        logx = np.log(x)
        s = scale * np.exp(-a * logx)
        c = rho * np.exp(-b * logx) / special.zeta(b)
        t = c * s  # gamma = 1: rho_lin = sum_j w_j t_j / s_j = sum_i c_i
        keep = s > 0  # modes beyond the float range carry nothing
        P = math.inf if cutoff is None else int(cutoff)
        return cls(s=s[keep], t=t[keep], weights=w[keep], rho=rho, gamma=1.0, teacher="averaged",
                   normalisation="per-sample", p=P,
                   label=f"power law (a = {a:g}, b = {b:g}, cutoff = {cutoff}, scale = {scale:g}; per sample)")

    # ------------------------------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        """Plain dictionary of the fields (arrays as numpy arrays)."""
        return {"s": np.array(self.s), "t": np.array(self.t), "weights": np.array(self.weights), "rho": self.rho,
                "gamma": self.gamma, "teacher": self.teacher, "normalisation": self.normalisation, "p": self.p,
                "label": self.label}

    def __repr__(self) -> str:
        return (f"SpectralDensity({self.label or 'custom'}; {self.s.size} nodes, {self.normalisation}, p={self.p}, "
                f"gamma={self.gamma:.6g}, rho={self.rho:.6g}, rho_lin={self.rho_lin:.6g})")
