r"""A direct check of Gaussian equivalence (theory §7): how far the law of the local fields is from the
Gaussian with the matched covariance, as the input dimension grows.

For each input dimension ``N`` a single-layer generator ``x = sigma(F c)`` (``F_ij ~ N(0, 1/D)``,
``D = round(delta N)``) is built, optionally followed by a feature map ``v = phi(x)`` (``p`` features),
with student weights ``w_1..w_K`` and teacher weights ``B_1..B_M`` (``N(0, 1)`` entries). The fields

.. math:: \lambda_k = w_k\cdot v/\sqrt p,\qquad \nu_m = B_m\cdot c/\sqrt D

of ``n_samples`` fresh latents are compared with :math:`N(0, \Sigma)`,
:math:`\Sigma = [[Q, R], [R^\top, T]]`, :math:`Q = w\Omega w^\top/p`, :math:`R = w\Phi B^\top/\sqrt{pD}`,
:math:`T = BB^\top/D`. ``Omega`` and ``Phi`` are exact for ``sign``/``erf`` generators seen directly
(arcsine law, :func:`spectra.analytic.single_layer_covariances`); otherwise the covariance (and the mean)
of the fields is estimated from an independent reference sample, and the Monte Carlo floor includes
that estimation step.

Measured per ``N``:

* ``distance``: the sliced 2-Wasserstein distance in whitened coordinates (:func:`sliced_wasserstein`),
  exact against the Gaussian (no second sample), averaged over a fixed set of directions;
* ``floor``: the same statistic for samples drawn from the Gaussian itself (``floor_repeats`` times):
  what a perfectly Gaussian law would show with this many samples;
* ``erf_gap``: the largest :math:`|E[g(\lambda_k)g(\nu_m)] - I_2|` over ``(k, m)``,
  ``g(z) = erf(z/\sqrt 2)``, against the closed form :math:`I_2 = (2/\pi)\arcsin(C_{01}/\sqrt{(1+C_{00})(1+C_{11})})`
  (theory §4.3), with its standard error;
* ``eg_gap``: :math:`\epsilon_g(\mathrm{MC}) - \epsilon_g(Q, R, T)` for the committee
  :math:`\tfrac12 E(\sum_k g(\lambda_k) - \sum_m g(\nu_m))^2`, with its standard error.

A log-log fit of the distance against ``N`` gives ``slope``; ``excess_slope`` fits the part above the
floor, :math:`\sqrt{d^2 - \mathrm{floor}^2}`. An ``N^{-1/2}`` rate is a hypothesis, not an assertion.

The negative control ``weights="localised"`` uses :math:`w_k = \sqrt p\,e_k`, so :math:`\lambda_k = v_k`
is one unit of the generator: for a sign generator a ``+-1`` variable, which no ``N`` makes Gaussian.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats
from tqdm.auto import tqdm

from gaussequiv import checks
from gaussequiv.progress import show as show_progress
from gaussequiv.seeding import SeedLike, stream

__all__ = ["EquivalenceResult", "gaussian_equivalence", "sliced_wasserstein"]

_EXACT_ACTIVATIONS = ("sign", "erf")


def _w2_to_standard_normal(x: np.ndarray) -> np.ndarray:
    r"""Squared 2-Wasserstein distance between the empirical law of each column of ``x`` and N(0, 1).

    Exact: :math:`W_2^2 = \overline{x^2} - 2\sum_i x_{(i)}[\varphi(\Phi^{-1}((i-1)/n)) - \varphi(\Phi^{-1}(i/n))] + 1`,
    because :math:`\int_a^b \Phi^{-1}(u)\,du = \varphi(\Phi^{-1}(a)) - \varphi(\Phi^{-1}(b))`.
    """
    n = x.shape[0]
    xs = np.sort(x, axis=0)
    u = np.arange(n + 1) / n
    dens = np.exp(-0.5 * special.ndtri(u) ** 2) / np.sqrt(2 * np.pi)
    dens[0] = dens[-1] = 0.0
    inc = dens[:-1] - dens[1:]
    return np.mean(xs * xs, axis=0) - 2.0 * (inc @ xs) + 1.0


def _directions(dim: int, n_directions: int, seed) -> np.ndarray:
    d = np.random.default_rng(seed).standard_normal((n_directions, dim))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def sliced_wasserstein(samples, cov, *, mean=None, n_directions: int = 200, seed: SeedLike = 0) -> float:
    r"""Sliced 2-Wasserstein distance between an empirical law and the Gaussian :math:`N(\mu, \Sigma)`.

    The samples are whitened with the Cholesky factor of ``cov``; for each of ``n_directions`` uniform
    unit directions ``u`` the 1-d distance :math:`W_2` between the projections and :math:`N(0, 1)` is
    exact (no second sample). Returns :math:`\sqrt{\mathrm{mean}_u W_2^2}`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((20000, 2))
    >>> float(sliced_wasserstein(x, np.eye(2))) < 0.03
    True
    >>> signs = np.sign(x)
    >>> d = sliced_wasserstein(signs[:, :1], np.eye(1))   # Rademacher vs N(0, 1): sqrt(2 - 2 sqrt(2/pi))
    >>> round(float(d), 3), round(float(np.sqrt(2 - 2 * np.sqrt(2 / np.pi))), 3)
    (0.636, 0.636)
    """
    x = np.asarray(samples, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"samples must be a 2-d array (n, dim), got shape {x.shape}")
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    if cov.shape != (x.shape[1], x.shape[1]):
        raise ValueError(f"cov must have shape ({x.shape[1]}, {x.shape[1]}), got {cov.shape}")
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError("cov must be positive definite (the fields are degenerate)") from None
    if mean is not None:
        x = x - np.asarray(mean, dtype=float)
    white = np.linalg.solve(chol, x.T).T
    dirs = _directions(x.shape[1], checks.integer("n_directions", n_directions), stream(seed, "validation.directions"))
    return float(np.sqrt(max(float(np.mean(_w2_to_standard_normal(white @ dirs.T))), 0.0)))


def _i2_erf(cov: np.ndarray) -> np.ndarray:
    """``E[g(z_a) g(z_b)]`` for ``g(z) = erf(z/sqrt 2)``, all pairs (theory §4.3)."""
    d = 1.0 + np.diag(cov)
    return (2 / np.pi) * np.arcsin(np.clip(cov / np.sqrt(np.outer(d, d)), -1, 1))


@dataclass(frozen=True, eq=False)
class EquivalenceResult:
    """Distances between the law of the local fields and the matched Gaussian, per input dimension.

    Attributes
    ----------
    sizes : ndarray of int
        Input dimensions ``N``.
    latent_dims, feature_dims : ndarray of int
        ``D`` and ``p`` at each size.
    n_samples : int
    distance : ndarray
        Sliced 2-Wasserstein distance to the matched Gaussian.
    floor, floor_sd : ndarray
        Mean and standard deviation of the same statistic on exactly Gaussian samples.
    erf_gap, erf_gap_se : ndarray
        Largest ``|E[g(lambda_k) g(nu_m)] - I2|`` and its standard error.
    eg_gap, eg_gap_se : ndarray
        ``eps_g(MC) - eps_g(Q, R, T)`` of the committee and its standard error.
    slope, excess_slope : float
        Log-log slopes of ``distance`` and of ``sqrt(distance^2 - floor^2)`` against ``N`` (NaN when
        fewer than two sizes are above the floor).
    exact : bool
        Whether ``Sigma`` was exact (True) or estimated from a reference sample.
    weights : str
        ``"random"``, ``"localised"`` or ``"custom"``.
    generator : str
    floor_repeats : int
        Gaussian samples behind ``floor`` and ``floor_sd``.

    A size that cannot be computed (e.g. a degenerate covariance of the fields) raises an error, so every size
    is computed; :attr:`status` also checks that every statistic came out finite.
    """

    sizes: np.ndarray
    latent_dims: np.ndarray
    feature_dims: np.ndarray
    n_samples: int
    distance: np.ndarray
    floor: np.ndarray
    floor_sd: np.ndarray
    erf_gap: np.ndarray
    erf_gap_se: np.ndarray
    eg_gap: np.ndarray
    eg_gap_se: np.ndarray
    slope: float
    excess_slope: float
    exact: bool
    weights: str
    generator: str
    floor_repeats: int

    @property
    def status(self) -> str:
        """``"converged"``: every size was computed and all its statistics (distance, floor, floor_sd and the
        gaps with their standard errors) are finite; ``"incomplete"`` otherwise (e.g. a generator that returned
        NaN made a statistic NaN: that size carries no information)."""
        per_size = (self.distance, self.floor, self.floor_sd, self.erf_gap, self.erf_gap_se, self.eg_gap,
                    self.eg_gap_se)
        return "converged" if all(np.all(np.isfinite(a)) for a in per_size) else "incomplete"

    @property
    def converged(self) -> bool:
        """True iff :attr:`status` is ``"converged"``."""
        return self.status == "converged"

    def to_dict(self) -> dict:
        """A flat table, one row per size: equal-length 1-d numpy arrays (``pandas.DataFrame``-ready).

        Columns: ``size``, ``latent_dim``, ``feature_dim``, ``distance``, ``floor``, ``floor_sd``,
        ``floor_z``, ``erf_gap``, ``erf_gap_se``, ``eg_gap``, ``eg_gap_se``, and ``n_samples``, ``slope``,
        ``excess_slope``, ``exact``, ``weights``, ``generator``, ``floor_repeats``, ``status``, ``converged``
        repeated on every row.

        Examples
        --------
        >>> res = gaussian_equivalence("sign", n_samples=500, sizes=(20, 40), n_directions=10, floor_repeats=2)
        >>> table = res.to_dict()
        >>> {len(v) for v in table.values()}, table["size"].tolist(), res.status
        ({2}, [20, 40], 'converged')
        """
        n = self.sizes.size
        out = {"size": np.asarray(self.sizes, dtype=int), "latent_dim": np.asarray(self.latent_dims, dtype=int),
               "feature_dim": np.asarray(self.feature_dims, dtype=int)}
        for name in ("distance", "floor", "floor_sd", "floor_z", "erf_gap", "erf_gap_se", "eg_gap", "eg_gap_se"):
            out[name] = np.asarray(getattr(self, name), dtype=float)
        out.update({name: np.full(n, getattr(self, name)) for name in (
            "n_samples", "slope", "excess_slope", "exact", "weights", "generator", "floor_repeats", "status",
            "converged")})
        return out

    def floor_bound(self, alpha: float = 1e-6) -> np.ndarray:
        r"""Per size, the distance an exactly Gaussian law of the fields stays below with probability
        ``1 - alpha``: the one-sided prediction bound :math:`\mathrm{floor} + t_{R-1}(1 - \alpha)\,
        \mathrm{floor\_sd}\sqrt{1 + 1/R}` from the ``R = floor_repeats`` Gaussian repeats (Student's t, so the
        estimated standard deviation is accounted for; the statistic is treated as normal).

        A distance above it rejects Gaussianity at level ``alpha``; below it, the fields are indistinguishable from
        the Gaussian with this many samples.
        """
        alpha = checks.real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
        r = self.floor_repeats
        return self.floor + stats.t.isf(alpha, r - 1) * np.sqrt(1.0 + 1.0 / r) * self.floor_sd

    @property
    def floor_z(self) -> np.ndarray:
        """``(distance - floor) / floor_sd`` per size: how many floor standard deviations the law of the fields
        is from what an exactly Gaussian law shows with the same number of samples."""
        return (self.distance - self.floor) / self.floor_sd

    def table(self) -> str:
        """A plain-text table, one row per size."""
        lines = [f"{'N':>6} {'D':>5} {'p':>6} {'SW2':>9} {'floor':>9} {'erf gap':>10} {'+-':>8} {'eg gap':>10} "
                 f"{'+-':>8}"]
        for i, N in enumerate(self.sizes):
            lines.append(f"{N:6d} {self.latent_dims[i]:5d} {self.feature_dims[i]:6d} {self.distance[i]:9.4f} "
                         f"{self.floor[i]:9.4f} {self.erf_gap[i]:10.2e} {self.erf_gap_se[i]:8.1e} "
                         f"{self.eg_gap[i]:10.2e} {self.eg_gap_se[i]:8.1e}")
        lines.append(f"slope of log SW2 vs log N: {self.slope:.3f}; above the floor: {self.excess_slope:.3f}")
        return "\n".join(lines)


def _slope(x, y) -> float:
    ok = np.isfinite(y) & (y > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def _make_generator(generator, N: int, delta: float, seed):
    if isinstance(generator, str):
        from spectra.generators import SingleLayer

        return SingleLayer(max(1, int(round(delta * N))), N, generator, seed=seed)
    if callable(generator):
        return generator(N, seed)
    raise TypeError("generator must be an activation name ('sign', 'erf', 'tanh', 'relu') or a callable "
                    "(N, seed) -> generator")


def _make_weights(weights, p: int, K: int, rng) -> np.ndarray:
    if isinstance(weights, str):
        if weights == "random":
            return rng.standard_normal((K, p))
        if weights == "localised":
            if K > p:
                raise ValueError(f"localised weights need K <= p, got K = {K}, p = {p}")
            return np.sqrt(p) * np.eye(K, p)
        raise ValueError(f"weights must be 'random', 'localised' or a callable (p, rng) -> (K, p), got {weights!r}")
    w = np.asarray(weights(p, rng), dtype=float)
    if w.shape != (K, p):
        raise ValueError(f"weights(p, rng) must return shape (K, p) = ({K}, {p}), got {w.shape}")
    return w


def _fields(gen, fmap, W, B, n, rng, batch):
    D = gen.latent_dim
    out = []
    for start in range(0, n, batch):
        size = min(batch, n - start)
        c = rng.standard_normal((size, D), dtype=np.float32)
        x = np.asarray(gen(c))
        v = x if fmap is None else np.asarray(fmap(x))
        v = v.astype(np.float64)
        out.append(np.hstack([v @ W.T / np.sqrt(W.shape[1]), c.astype(np.float64) @ B.T / np.sqrt(D)]))
    return np.concatenate(out)


def _gaps(fields_: np.ndarray, cov: np.ndarray, K: int):
    g = special.erf(fields_ / np.sqrt(2))
    i2 = _i2_erf(cov)
    prods = g[:, :K, None] * g[:, None, K:]
    gap = prods.mean(axis=0) - i2[:K, K:]
    se = prods.std(axis=0, ddof=1) / np.sqrt(fields_.shape[0])
    j = np.unravel_index(np.argmax(np.abs(gap)), gap.shape)
    resid = g[:, :K].sum(axis=1) - g[:, K:].sum(axis=1)
    eg_mc = 0.5 * resid**2
    eg_th = 0.5 * (i2[:K, :K].sum() + i2[K:, K:].sum() - 2 * i2[:K, K:].sum())
    return float(abs(gap[j])), float(se[j]), float(eg_mc.mean() - eg_th), float(eg_mc.std(ddof=1) / np.sqrt(eg_mc.size))


def gaussian_equivalence(generator: str | Callable = "sign", features: Callable | None = None,
                         weights: str | Callable = "random", n_samples: int = 20_000,
                         sizes: Sequence[int] = (100, 200, 400, 800), *, delta: float = 0.5, K: int = 2, M: int = 2,
                         n_directions: int = 200, floor_repeats: int = 5, n_reference: int | None = None,
                         seed: SeedLike = 0, batch_size: int = 2000, progress: bool | None = None
                         ) -> EquivalenceResult:
    r"""Distance between the law of the local fields and the matched Gaussian for growing ``N`` (theory §7).

    Parameters
    ----------
    generator : str or callable
        An activation (``"sign"``, ``"erf"``, ``"tanh"``, ``"relu"``) for ``SingleLayer(D, N, act)`` with
        ``D = round(delta N)``, or a callable ``(N, seed) -> generator``.
    features : callable, optional
        ``(N, seed) -> feature map`` applied to the generator output; None: the student sees ``x``.
    weights : {"random", "localised"} or callable
        Student weights: ``N(0, 1)`` entries; :math:`\sqrt p\,e_k` (the negative control); or
        ``(p, rng) -> (K, p)``.
    n_samples : int
        Samples of the fields per size.
    sizes : sequence of int
        Input dimensions ``N``.
    delta : float
        ``D/N`` for a named generator.
    K, M : int
        Student and teacher units.
    n_directions : int
        Directions of the sliced distance (the same set at every size).
    floor_repeats : int
        Gaussian samples for the Monte Carlo floor (>= 2).
    n_reference : int, optional
        Size of the reference sample when ``Sigma`` is estimated (default ``4 n_samples``).
    seed : int, numpy.random.Generator or SeedSequence
        Size ``i`` uses child ``i`` (generator, weights, samples, reference, floor streams).

    Returns
    -------
    EquivalenceResult

    Examples
    --------
    >>> res = gaussian_equivalence("sign", n_samples=2000, sizes=(20, 40), n_directions=20, floor_repeats=2)
    >>> res.distance.shape, res.exact
    ((2,), True)
    """
    n_samples = checks.integer("n_samples", n_samples, 10)
    K, M = checks.integer("K", K), checks.integer("M", M)
    floor_repeats = checks.integer("floor_repeats", floor_repeats, 2)
    n_directions = checks.integer("n_directions", n_directions)
    batch_size = checks.integer("batch_size", batch_size)
    n_reference = 4 * n_samples if n_reference is None else checks.integer("n_reference", n_reference, 10)
    if isinstance(sizes, (int, np.integer, str)):
        raise TypeError(f"sizes must be a sequence of ints, got {sizes!r}")
    sizes = np.array([checks.integer(f"sizes[{i}]", s, 2) for i, s in enumerate(sizes)])
    if sizes.size < 1:
        raise ValueError("sizes must not be empty")
    delta = checks.real("delta", delta, low=0.0, low_open=True)
    if features is not None and not callable(features):
        raise TypeError("features must be None or a callable (N, seed) -> feature map")
    root = stream(seed, "validation.gaussian_equivalence")
    s_dirs, *children = root.spawn(1 + sizes.size)
    dims = {k: np.zeros(sizes.size, dtype=int) for k in ("D", "p")}
    res = {k: np.full(sizes.size, np.nan) for k in ("distance", "floor", "floor_sd", "erf_gap", "erf_gap_se",
                                                    "eg_gap", "eg_gap_se")}
    exact_all = True
    gen_name = ""
    for i, N in enumerate(tqdm(sizes, desc="GE check", disable=not show_progress(progress),
                               delay=0 if progress else 3.0, leave=False)):
        s_gen, s_feat, s_w, s_b, s_data, s_ref, s_floor = children[i].spawn(7)
        gen = _make_generator(generator, int(N), delta, s_gen)
        gen_name = str(getattr(gen, "name", type(gen).__name__))
        fmap = None if features is None else features(int(N), s_feat)
        D = int(gen.latent_dim)
        p = int(gen.output_dim) if fmap is None else int(fmap.output_dim)
        dims["D"][i], dims["p"][i] = D, p
        W = _make_weights(weights, p, K, np.random.default_rng(s_w))
        B = np.random.default_rng(s_b).standard_normal((M, D))
        exact = fmap is None and getattr(gen, "activation", None) in _EXACT_ACTIVATIONS and hasattr(gen, "weights")
        if exact:
            from spectra.analytic import single_layer_covariances

            omega, phi = single_layer_covariances(gen.weights, gen.activation)
            q = W @ omega @ W.T / p
            r = W @ phi @ B.T / np.sqrt(p * D)
            t = B @ B.T / D
            cov = np.block([[q, r], [r.T, t]])
            mean = np.zeros(K + M)
        else:
            exact_all = False
            ref = _fields(gen, fmap, W, B, n_reference, np.random.default_rng(s_ref), batch_size)
            mean, cov = ref.mean(axis=0), np.cov(ref, rowvar=False)
        flds = _fields(gen, fmap, W, B, n_samples, np.random.default_rng(s_data), batch_size)
        res["distance"][i] = sliced_wasserstein(flds, cov, mean=mean, n_directions=n_directions, seed=s_dirs)
        res["erf_gap"][i], res["erf_gap_se"][i], res["eg_gap"][i], res["eg_gap_se"][i] = _gaps(flds - mean, cov, K)
        # the floor: the same statistic (and, if Sigma is estimated, the same estimation) on Gaussian samples
        rng_f = np.random.default_rng(s_floor)
        chol = np.linalg.cholesky(cov)
        floors = []
        for _ in range(floor_repeats):
            gauss = rng_f.standard_normal((n_samples, K + M)) @ chol.T
            if exact:
                floors.append(sliced_wasserstein(gauss, cov, n_directions=n_directions, seed=s_dirs))
            else:
                g_ref = rng_f.standard_normal((n_reference, K + M)) @ chol.T
                floors.append(sliced_wasserstein(gauss, np.cov(g_ref, rowvar=False), mean=g_ref.mean(axis=0),
                                                 n_directions=n_directions, seed=s_dirs))
        res["floor"][i] = float(np.mean(floors))
        res["floor_sd"][i] = float(np.std(floors, ddof=1))
    excess = np.sqrt(np.clip(res["distance"] ** 2 - res["floor"] ** 2, 0, None))
    excess = np.where(res["distance"] > res["floor"] + 2 * res["floor_sd"], excess, np.nan)
    weights_name = weights if isinstance(weights, str) else "custom"
    return EquivalenceResult(sizes=sizes, latent_dims=dims["D"], feature_dims=dims["p"], n_samples=n_samples,
                             **res, slope=_slope(sizes, res["distance"]), excess_slope=_slope(sizes, excess),
                             exact=exact_all, weights=weights_name, generator=gen_name,
                             floor_repeats=floor_repeats)
