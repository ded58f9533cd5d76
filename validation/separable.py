r"""Finite-size check of the separability threshold (:func:`replica.separability_threshold`): linear
programs on Gaussian covariate data drawn with a spectrum's covariance.

One draw: ``n_max = ceil(alpha_max p)`` samples of the features ``v ~ N(0, diag(s))`` (the eigenbasis of
:math:`\Omega`; coordinates with ``s_i = 0`` are identically zero and left out), the teacher field

.. math:: \nu = \nu_{lin} + \sqrt{\rho - \rho_{lin}}\,\zeta,\qquad
          \nu_{lin} = \sum_{i:\,s_i>0} \frac{\sqrt{t_i/k}}{s_i}\, v_i

(:math:`\mathrm{Var}\,\nu_{lin} = \sum_i t_i/(k s_i) = \rho_{lin}`, the best linear predictor of theory §1.5;
the part the student cannot see is independent Gaussian noise, ``zeta ~ N(0, 1)``), and labels
``y ~ P0(. | nu)`` from the channel (:func:`validation.sample_labels`). The first ``n`` samples are
separable iff some ``w`` has :math:`y^\mu w\cdot v^\mu > 0` for all :math:`\mu \le n`: a linear program
(:func:`is_separable`). A prefix of separable data is separable, so each draw has a critical size
``n_c`` (the largest separable ``n``), found by bisection between ``rank(Omega)`` (fewer points than
dimensions in general position are always separable) and ``n_max``; its critical ratio is
``alpha_c = n_c/p``.

The fraction of separable draws at ``alpha`` (``n = round(alpha p)``) is the fraction with
``n_c >= n``. Its 1/2-crossing is the median of ``alpha_c``, reported with a distribution-free
confidence interval from the order statistics (:meth:`SeparabilityResult.median_interval`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats
from tqdm.auto import tqdm

from gaussequiv import checks, seeding
from gaussequiv.progress import show as show_progress
from gaussequiv.seeding import SeedLike

__all__ = ["SeparabilityResult", "is_separable", "simulate_separability"]


def _max_margin(X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    r"""``max t`` subject to :math:`y_\mu x_\mu\cdot w \ge t`, :math:`|w_j| \le 1`, ``t <= 1`` (HiGHS).

    Returns the margin of the maximiser ``w`` recomputed in float64 (a positive value certifies
    separability independently of the solver's tolerances), ``w`` itself, and the constraints' dual
    weights :math:`\lambda_\mu \ge 0` (when the margin is 0 they are a Farkas certificate:
    :math:`\sum_\mu \lambda_\mu y_\mu x_\mu = 0` with :math:`\sum_\mu\lambda_\mu = 1`, so the samples
    they weight are not separable on their own).
    """
    n, d = X.shape
    A = np.hstack([-(y[:, None] * X), np.ones((n, 1))])
    c = np.zeros(d + 1)
    c[-1] = -1.0
    bounds = [(-1.0, 1.0)] * d + [(None, 1.0)]
    res = optimize.linprog(c, A_ub=A, b_ub=np.zeros(n), bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"the separability linear program did not solve (HiGHS status {res.status}: "
                           f"{res.message})")
    w = res.x[:d]
    return float(np.min(y * (X @ w))), w, -np.asarray(res.ineqlin.marginals)


def is_separable(X, y, *, rtol: float = 1e-9) -> bool:
    r"""Whether some ``w`` has :math:`y_\mu\, x_\mu\cdot w > 0` for every row ``x_mu`` of ``X``.

    Solves the linear program :math:`\max t` subject to :math:`y_\mu x_\mu\cdot w \ge t`,
    :math:`|w_j| \le 1` (scipy's HiGHS) and checks the maximiser itself: the data are called separable iff
    :math:`\min_\mu y_\mu x_\mu\cdot w > \mathrm{rtol}\cdot\max_\mu\|x_\mu\|_1` (the largest field the box
    allows), so a solver tolerance never turns non-separable data into separable data.

    Parameters
    ----------
    X : array, shape (n, d)
    y : array, shape (n,)
        Labels ``+-1``.
    rtol : float
        Relative margin below which the data count as not separable.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    >>> is_separable(X, np.array([1.0, 1.0, -1.0])), is_separable(X, np.array([1.0, 1.0, 1.0]))
    (True, False)
    """
    X = checks.matrix("X", X)
    y = checks.vector("y", y, size=X.shape[0])
    if not np.all(np.abs(y) == 1.0):
        raise ValueError("y must hold labels -1 and +1 only")
    rtol = checks.real("rtol", rtol, low=0.0)
    margin = _max_margin(X, y)[0]
    return margin > rtol * float(np.max(np.sum(np.abs(X), axis=1)))


@dataclass(frozen=True, eq=False)
class SeparabilityResult:
    """Critical sizes of independent draws of a Gaussian covariate model (:func:`simulate_separability`).

    Attributes
    ----------
    n_critical : ndarray of int, shape (draws,)
        Per draw, the largest ``n`` whose first ``n`` samples are separable (``n_max`` when censored).
    censored : ndarray of bool, shape (draws,)
        Draws still separable at ``n_max``: their critical size is only known to be ``>= n_max``.
    p : int
        Number of features (``alpha = n/p``).
    rank : int
        Dimensions drawn (eigenvalues above the rank tolerance).
    n_max : int
    rho, rho_lin : float
        Teacher variance and its part the student sees linearly.
    channel : str
    lp_solves : int
        Linear programs solved.

    A linear program that HiGHS does not solve raises ``RuntimeError`` (no result is returned), so every
    bisection closes; :attr:`status` says whether every critical size is exact (``"converged"``) or some draws
    are censored at ``n_max`` (``"censored"``: raise ``alpha_max``).
    """

    n_critical: np.ndarray
    censored: np.ndarray
    p: int
    rank: int
    n_max: int
    rho: float
    rho_lin: float
    channel: str
    lp_solves: int

    @property
    def status(self) -> str:
        """``"converged"``: every draw's critical size is exact (its bisection closed below ``n_max``);
        ``"censored"``: some draws were still separable at ``n_max``, so their critical size is only a lower
        bound (:meth:`fraction` stays exact up to ``alpha = n_max/p``; :meth:`median` is inf when more than
        half of the draws are censored)."""
        return "censored" if bool(np.any(self.censored)) else "converged"

    @property
    def converged(self) -> bool:
        """True iff :attr:`status` is ``"converged"`` (no censored draw)."""
        return self.status == "converged"

    @property
    def draws(self) -> int:
        """Number of independent draws."""
        return int(self.n_critical.size)

    @property
    def critical_alpha(self) -> np.ndarray:
        """``n_critical / p`` per draw."""
        return self.n_critical / self.p

    def fraction(self, alphas) -> np.ndarray:
        """Fraction of draws separable at each ``alpha`` (``n = round(alpha p)`` samples).

        Raises ValueError for an ``alpha`` with ``n > n_max``, where censored draws are undetermined.
        """
        alphas = checks.grid("alphas", alphas, low=0.0)
        n = np.rint(alphas * self.p).astype(int)
        if np.any(n > self.n_max):
            raise ValueError(f"alphas must satisfy round(alpha p) <= n_max = {self.n_max}")
        return np.mean(self.n_critical[None, :] >= n[:, None], axis=1)

    def median(self) -> float:
        """The 1/2-crossing of the fraction separable: the median critical alpha (inf if more than half of
        the draws are censored)."""
        return float(np.quantile(self._alpha_censored(), 0.5, method="inverted_cdf"))

    def median_interval(self, level: float = 1 - 1e-6) -> tuple[float, float]:
        r"""Distribution-free confidence interval of the population median of the critical alpha.

        With ``R`` draws sorted, :math:`[\alpha_{(j)}, \alpha_{(R+1-j)}]` covers the median with
        probability :math:`\ge 1 - 2 P(\mathrm{Bin}(R, 1/2) \le j - 1)`; ``j`` is the largest index that
        keeps this ``>= level``. Censored draws sit at ``+inf``. Raises ValueError when ``R`` draws are too
        few for ``level``.
        """
        level = checks.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
        r = self.draws
        j = int(stats.binom.ppf((1 - level) / 2, r, 0.5))  # P(Bin <= j - 1) <= (1 - level)/2 for this j
        while j >= 1 and 2 * stats.binom.cdf(j - 1, r, 0.5) > 1 - level:
            j -= 1
        if j < 1:
            raise ValueError(f"{r} draws are too few for a median interval at level {level}; use more draws")
        a = np.sort(self._alpha_censored())
        return float(a[j - 1]), float(a[r - j])

    def _alpha_censored(self) -> np.ndarray:
        return np.where(self.censored, np.inf, self.critical_alpha)

    def to_dict(self) -> dict:
        """A flat table, one row per draw: equal-length 1-d numpy arrays (``pandas.DataFrame``-ready).

        Columns: ``draw``, ``n_critical``, ``critical_alpha``, ``censored``, and ``p``, ``rank``, ``n_max``,
        ``rho``, ``rho_lin``, ``channel``, ``lp_solves``, ``status``, ``converged`` (of the result) repeated
        on every row.

        Examples
        --------
        >>> import numpy as np
        >>> from spectra import Spectrum
        >>> from replica import Channel
        >>> spec = Spectrum.from_arrays(np.ones(10), np.zeros(10), rho=1.0, gamma=1.0)
        >>> table = simulate_separability(spec, Channel.sign(), alpha_max=4.0, draws=3, seed=0).to_dict()
        >>> {len(v) for v in table.values()}, table["draw"].tolist()
        ({3}, [0, 1, 2])
        """
        r = self.draws
        out = {"draw": np.arange(r), "n_critical": np.asarray(self.n_critical, dtype=int),
               "critical_alpha": np.asarray(self.critical_alpha, dtype=float),
               "censored": np.asarray(self.censored, dtype=bool)}
        out.update({name: np.full(r, getattr(self, name)) for name in ("p", "rank", "n_max", "rho", "rho_lin",
                                                                          "channel", "lp_solves", "status",
                                                                          "converged")})
        return out


def simulate_separability(spectrum, channel, *, alpha_max: float, draws: int = 40, seed: SeedLike,
                          rank_rtol: float | None = None, progress: bool | None = None) -> SeparabilityResult:
    r"""Critical sample ratios of separability for independent draws of a Gaussian covariate model.

    Parameters
    ----------
    spectrum : spectra.Spectrum
        Feature covariance ``diag(s)`` and teacher weights ``t`` (``rho_lin`` visible, ``rho - rho_lin``
        drawn as independent noise on the teacher field).
    channel : replica.Channel
        A ``+-1`` channel; labels come from :func:`validation.sample_labels`.
    alpha_max : float
        Largest ratio examined; ``n_max = ceil(alpha_max p)`` samples per draw.
    draws : int
        Independent draws (each a fresh data set).
    seed : int, numpy.random.Generator or numpy.random.SeedSequence
        Draw ``i`` uses child ``i`` of the ``"separability"`` stream of ``seed``.
    rank_rtol : float, optional
        Eigenvalues ``s_i <= rank_rtol * max(s)`` are treated as zero (default ``p * eps``, as
        :func:`replica.separability_threshold`).
    progress : bool or None
        tqdm bar over draws. None (default): only on a terminal or in a notebook
        (:func:`gaussequiv.progress.show`), and there only once the run has lasted 3 s.

    Returns
    -------
    SeparabilityResult

    Examples
    --------
    Random labels in 20 dimensions: Cover's count puts the median critical ratio at 2.

    >>> import numpy as np
    >>> from spectra import Spectrum
    >>> from replica import Channel
    >>> spec = Spectrum.from_arrays(np.ones(20), np.zeros(20), rho=1.0, gamma=1.0)
    >>> res = simulate_separability(spec, Channel.sign(), alpha_max=4.0, draws=9, seed=0)
    >>> res.draws, bool(res.censored.any())
    (9, False)
    """
    from replica.separability import require_binary_channel
    from spectra import Spectrum
    from validation.simulate import sample_labels

    checks.instance("spectrum", spectrum, Spectrum)
    require_binary_channel(channel)
    alpha_max = checks.real("alpha_max", alpha_max, low=0.0, low_open=True)
    draws = checks.integer("draws", draws)
    s, t, p = np.asarray(spectrum.s), np.asarray(spectrum.t), spectrum.p
    rtol = p * np.finfo(float).eps if rank_rtol is None else checks.real("rank_rtol", rank_rtol, low=0.0,
                                                                           high=1.0, high_open=True)
    kept = s > rtol * np.max(s)
    rank = int(np.count_nonzero(kept))
    sd = np.sqrt(s[kept])
    coef = np.sqrt(t[kept] / spectrum.k) / s[kept]  # nu_lin = v . coef
    rho = float(spectrum.rho)
    rho_lin = min(float(np.sum(coef**2 * s[kept])), rho)
    hidden = np.sqrt(max(rho - rho_lin, 0.0))
    n_max = int(np.ceil(alpha_max * p - 1e-9))
    children = seeding.stream(seed, "separability").spawn(draws)
    n_crit = np.zeros(draws, dtype=int)
    censored = np.zeros(draws, dtype=bool)
    solves = 0
    for i in tqdm(range(draws), desc="separability", disable=not show_progress(progress),
                  delay=0 if progress else 3.0, leave=False):
        s_data, s_labels = children[i].spawn(2)
        rng = np.random.default_rng(s_data)
        v = rng.standard_normal((n_max, rank)) * sd
        nu = v @ coef + hidden * rng.standard_normal(n_max)
        y = sample_labels(channel, nu, seed=s_labels)
        tol = 1e-9 * float(np.max(np.sum(np.abs(v), axis=1)))
        field = y[:, None] * v
        lo, hi = min(rank, n_max), n_max + 1  # n <= rank points in general position are separable
        n = n_max
        while hi - lo > 1:
            margin, w, dual = _max_margin(v[:n], y[:n])
            solves += 1
            if margin > tol:
                # w also separates the samples after n up to its first mistake: a longer separable prefix
                bad = np.flatnonzero(field[n:] @ w <= tol)
                lo = n + (int(bad[0]) if bad.size else n_max - n)
            else:
                # the samples carrying the Farkas certificate are not separable: nor is their shortest prefix
                # (checked: sum_mu lambda_mu y_mu v_mu ~ 0; otherwise only the n samples solved are known)
                support = np.flatnonzero(dual > 1e-12 * max(float(np.max(dual)), 1e-300))
                resid = float(np.sum(np.abs(dual[support] @ field[support]))) if support.size else np.inf
                certified = resid <= 1e-7 * tol * 1e9 * max(float(np.sum(dual)), 1e-300)
                hi = min(n, int(support[-1]) + 1) if certified else n
            n = (lo + hi) // 2
        censored[i] = lo >= n_max
        n_crit[i] = lo
    return SeparabilityResult(n_critical=n_crit, censored=censored, p=p, rank=rank, n_max=n_max, rho=rho,
                              rho_lin=rho_lin, channel=channel.name, lp_solves=solves)
