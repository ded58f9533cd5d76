r"""Streaming Monte Carlo estimation of the feature covariances of a generator (theory §3.1).

Latents ``c ~ N(0, I_D)`` are drawn in batches; batch ``j`` uses its own child stream
``SeedSequence(seed).spawn(...)[j]``, so any subset of batches can be computed anywhere (another process,
a resumed run, a dask worker) and gives the same numbers. The student features are ``v = features(G(c))``
and the teacher features are the latents ``u = c`` (``k = D``, ``Psi ~ I_D``).

Each batch is reduced to its size, means and centred cross-products (BLAS-3 ``V_c^T V_c`` and
``V_c^T U_c``), which are added to one of ``groups`` accumulators (batch ``j`` goes to group
``j % groups``) with the exact pooled (Chan) update. The estimate pools the groups; the spread of the
group estimates gives batch-means standard errors of every entry and of the leading eigenvalues. A
group's state depends only on its own batches in order, so a resumed run and a run on dask workers (one
task per group) reproduce the single-process result.

Covariances are normalised by ``n`` (the maximum-likelihood form of theory §3.1).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spectra._util import SeedLike, check_positive_int, seed_sequence
from spectra.spectrum import Spectrum

__all__ = ["CovarianceEstimate", "estimate_covariances", "default_cache_dir"]

logger = logging.getLogger(__name__)

#: Keys of the configuration that a checkpoint must share with the run that resumes it.
CONFIG_KEYS = ("generator", "generator_fingerprint", "features", "features_fingerprint", "latent_dim",
               "output_dim", "p", "k", "teacher_features_fingerprint", "n_samples", "batch_size", "seed",
               "groups", "precision")
#: Keys that partial estimates must share to be merged.
MERGE_KEYS = ("generator", "generator_fingerprint", "features", "features_fingerprint", "latent_dim",
              "output_dim", "p", "k", "teacher_features_fingerprint", "groups", "precision")
_FORMAT = "gaussequiv-covariance-estimate-1"


# ------------------------------------------------------------------------------------------- fingerprints
def _hash_value(h, value) -> None:
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        h.update(str((arr.dtype.str, arr.shape)).encode())
        h.update(arr.tobytes())
    elif isinstance(value, (list, tuple)):
        h.update(b"[")
        for item in value:
            _hash_value(h, item)
        h.update(b"]")
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            h.update(repr(key).encode())
            _hash_value(h, value[key])
    elif isinstance(value, (str, int, float, bool, np.generic)) or value is None:
        h.update(repr(value).encode())
    elif hasattr(value, "__dict__") or dataclasses.is_dataclass(value):
        h.update(type(value).__qualname__.encode())
        attrs = vars(value) if hasattr(value, "__dict__") else {f.name: getattr(value, f.name)
                                                                 for f in dataclasses.fields(value)}
        for key in sorted(attrs):
            h.update(key.encode())
            _hash_value(h, attrs[key])


def fingerprint(obj) -> str:
    """A short hash identifying a generator or feature map: its class, name and array/scalar attributes."""
    if obj is None:
        return "none"
    if hasattr(obj, "fingerprint") and callable(obj.fingerprint):
        return str(obj.fingerprint())
    h = hashlib.sha256(type(obj).__qualname__.encode())
    attrs = getattr(obj, "__dict__", {})
    for key in sorted(attrs):
        if key.startswith("_"):
            continue
        h.update(key.encode())
        _hash_value(h, attrs[key])
    return h.hexdigest()[:16]


def _seed_id(ss: np.random.SeedSequence) -> str:
    return f"{ss.entropy}/{','.join(map(str, ss.spawn_key))}"


def _batch_stream(root: np.random.SeedSequence, j: int) -> np.random.Generator:
    """The generator of batch ``j``: equal to ``root.spawn(j + 1)[j]`` without spawning the others."""
    return np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, j),
                                                        pool_size=root.pool_size))


# ------------------------------------------------------------------------------------------- accumulators
class _Groups:
    """Per-group pooled moments: counts, means and centred cross-product sums (float64)."""

    FIELDS = ("n", "mv", "mu", "mvv", "mvu", "muu")

    def __init__(self, G: int, p: int, k: int):
        self.n = np.zeros(G, dtype=np.int64)
        self.mv = np.zeros((G, p))
        self.mu = np.zeros((G, k))
        self.mvv = np.zeros((G, p, p))
        self.mvu = np.zeros((G, p, k))
        self.muu = np.zeros((G, k, k))

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.mvu.shape

    def arrays(self) -> dict[str, np.ndarray]:
        return {f: getattr(self, f) for f in self.FIELDS}

    @classmethod
    def from_arrays(cls, arrays: dict, where: str = "state") -> _Groups:
        missing = [f for f in cls.FIELDS if f not in arrays]
        if missing:
            raise ValueError(f"{where} is missing the arrays {missing}")
        G, p = np.shape(arrays["mv"])[:2] if np.ndim(arrays["mv"]) == 2 else (0, 0)
        k = np.shape(arrays["mu"])[1] if np.ndim(arrays["mu"]) == 2 else 0
        self = cls(max(G, 1), max(p, 1), max(k, 1))
        for f in cls.FIELDS:
            want = getattr(self, f).shape
            arr = np.asarray(arrays[f])
            if G == 0 or arr.shape != want:
                raise ValueError(f"{where}: array {f!r} has shape {arr.shape}, expected {want}")
            setattr(self, f, arr.astype(np.int64 if f == "n" else float))
        return self

    def add(self, g: int, nb: int, mv, mu, svv, svu, suu) -> None:
        """Chan's exact pooled update of group ``g`` with one batch's size, means and centred sums."""
        na = int(self.n[g])
        n = na + nb
        dv, du = mv - self.mv[g], mu - self.mu[g]
        f = na * nb / n
        self.mv[g] += dv * (nb / n)
        self.mu[g] += du * (nb / n)
        self.mvv[g] += svv + f * np.outer(dv, dv)
        self.mvu[g] += svu + f * np.outer(dv, du)
        self.muu[g] += suu + f * np.outer(du, du)
        self.n[g] = n

    def merge(self, other: _Groups) -> _Groups:
        """Group-wise pooled combination with another state of the same shape."""
        out = _Groups(*self.shape)
        for name in self.FIELDS:
            setattr(out, name, getattr(self, name).copy())
        for g in range(self.shape[0]):
            if other.n[g]:
                out.add(g, int(other.n[g]), other.mv[g], other.mu[g], other.mvv[g], other.mvu[g], other.muu[g])
        return out

    def set_group(self, g: int, other: _Groups, source: int = 0) -> None:
        for name in self.FIELDS:
            getattr(self, name)[g] = getattr(other, name)[source]

    def pooled(self):
        """Pooled count, means and sums over all groups (groups combined in index order)."""
        G, p, k = self.shape
        tot = _Groups(1, p, k)
        for g in range(G):
            if self.n[g]:
                tot.add(0, int(self.n[g]), self.mv[g], self.mu[g], self.mvv[g], self.mvu[g], self.muu[g])
        return int(tot.n[0]), tot.mv[0], tot.mu[0], tot.mvv[0], tot.mvu[0], tot.muu[0]


def _batch_moments(v: np.ndarray, u: np.ndarray, dtype) -> tuple:
    """Size, float64 means and centred cross-products of one batch (BLAS-3, corrected to float64 means)."""
    nb = v.shape[0]
    mv = v.mean(axis=0, dtype=np.float64)
    mu = u.mean(axis=0, dtype=np.float64)
    vc = v.astype(dtype, copy=False) - mv.astype(dtype)
    uc = u.astype(dtype, copy=False) - mu.astype(dtype)
    rv = vc.mean(axis=0, dtype=np.float64)  # rounding residual of the centring in ``dtype``
    ru = uc.mean(axis=0, dtype=np.float64)
    svv = (vc.T @ vc).astype(np.float64) - nb * np.outer(rv, rv)
    svu = (vc.T @ uc).astype(np.float64) - nb * np.outer(rv, ru)
    suu = (uc.T @ uc).astype(np.float64) - nb * np.outer(ru, ru)
    return nb, mv, mu, svv, svu, suu


def _run_batch(generator, maps, root, j: int, size: int, dtype, p: int) -> tuple:
    features, teacher_features = maps
    rng = _batch_stream(root, j)
    c = rng.standard_normal((size, generator.latent_dim), dtype=np.float32)
    x = np.asarray(generator(c))
    if x.shape != (size, generator.output_dim):
        raise ValueError(f"generator returned shape {x.shape} for batch {j}, expected "
                         f"({size}, {generator.output_dim})")
    if not np.all(np.isfinite(x)):
        rows = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
        raise ValueError(f"generator returned NaN or inf in batch {j} (sample {rows[0]} of the batch, "
                         f"{rows.size} bad samples); the estimate was not updated with this batch")
    v = x if features is None else np.asarray(features(x))
    if v.shape != (size, p):
        raise ValueError(f"features returned shape {v.shape} for batch {j}, expected ({size}, {p})")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"features returned NaN or inf in batch {j}; the estimate was not updated")
    if teacher_features is None:
        return _batch_moments(v, c, dtype)
    u = np.asarray(teacher_features(c))
    if u.ndim != 2 or u.shape[0] != size or not np.all(np.isfinite(u)):
        raise ValueError(f"teacher_features returned shape {u.shape} (or NaN/inf) for batch {j}; expected finite "
                         f"({size}, k)")
    return _batch_moments(v, u, dtype)


def _group_task(generator, maps, root, g: int, batches: list[tuple[int, int]], dtype, shape) -> dict:
    """Worker task: one group's state over its batches (in order). Used by the dask path."""
    state = _Groups(1, shape[1], shape[2])
    for j, size in batches:
        state.add(0, *_run_batch(generator, maps, root, j, size, dtype, shape[1]))
    return state.arrays()


def _leading_eigh(omega: np.ndarray, n_eig: int) -> tuple[np.ndarray, np.ndarray]:
    """Leading ``n_eig`` eigenpairs (descending): dense ``eigh`` for small ``p``, else Lanczos (``eigsh``)
    with a fixed start vector, so the same matrix always gives the same numbers."""
    p = omega.shape[0]
    if p <= 400 or n_eig >= p // 4:
        s, e = np.linalg.eigh(omega)
    else:
        from scipy.sparse.linalg import eigsh

        s, e = eigsh(omega, k=n_eig, which="LA", v0=np.ones(p), tol=0)
    order = np.argsort(s)[::-1][:n_eig]
    return s[order], e[:, order]


# ---------------------------------------------------------------------------------------------- the result
@dataclass(frozen=True, eq=False)
class CovarianceEstimate:
    r"""A Monte Carlo estimate of the joint covariance of student features ``v`` and latents ``u = c``.

    Attributes
    ----------
    n : int
        Number of samples.
    mean_v : ndarray, shape (p,)
        Feature means (subtract these from any sample used with this estimate).
    mean_u : ndarray, shape (k,)
        Latent means (close to 0).
    omega : ndarray, shape (p, p)
        :math:`\hat\Omega = \widehat{E}[(v-\bar v)(v-\bar v)^\top]`.
    phi : ndarray, shape (p, k)
        :math:`\hat\Phi = \widehat{E}[(v-\bar v)(u-\bar u)^\top]` (rows are student features).
    psi : ndarray, shape (k, k)
        :math:`\hat\Psi` (close to :math:`I_D`).
    omega_se, phi_se, psi_se : ndarray
        Batch-means standard errors of every entry (spread of the ``groups`` group estimates divided by
        ``sqrt(groups)``; NaN with fewer than two non-empty groups).
    eigvals, eigvals_se : ndarray, shape (n_eig,)
        Leading eigenvalues of ``omega`` (descending) and their batch-means standard errors
        (``e_i^T Omega_g e_i`` over the groups, with ``e_i`` the pooled eigenvectors).
    config : dict
        Generator, features, batch size, seed, groups and precision of the run.
    sources : tuple of (str, int, int)
        ``(seed id, first batch, stop batch)`` of every piece merged into this estimate.
    history : dict
        ``n``, ``rms_change`` and ``rel_error`` at each logging interval of the run (may be empty).
    """

    n: int
    mean_v: np.ndarray
    mean_u: np.ndarray
    omega: np.ndarray
    phi: np.ndarray
    psi: np.ndarray
    omega_se: np.ndarray
    phi_se: np.ndarray
    psi_se: np.ndarray
    eigvals: np.ndarray
    eigvals_se: np.ndarray
    config: dict
    sources: tuple
    history: dict = field(default_factory=dict)
    _groups: _Groups | None = field(default=None, repr=False)

    @property
    def p(self) -> int:
        """Number of student features."""
        return int(self.omega.shape[0])

    @property
    def k(self) -> int:
        """Number of teacher features (the latent dimension unless ``teacher_features`` was given)."""
        return int(self.psi.shape[0])

    # ----------------------------------------------------------------------------- construction
    @classmethod
    def _from_groups(cls, groups: _Groups, config: dict, sources, history=None,
                     n_eig: int = 10) -> CovarianceEstimate:
        n, mv, mu, mvv, mvu, muu = groups.pooled()
        if n < 2:
            raise ValueError(f"an estimate needs at least 2 samples, got {n}")
        omega, phi, psi = mvv / n, mvu / n, muu / n
        omega = 0.5 * (omega + omega.T)
        psi = 0.5 * (psi + psi.T)
        full = np.flatnonzero(groups.n > 0)
        G = int(full.size)
        n_eig = min(n_eig, omega.shape[0])
        s, e = _leading_eigh(omega, n_eig)
        if G >= 2:
            # spread of the group estimates, one group at a time (Welford): O(p^2) extra memory, not O(G p^2)
            stats = [[np.zeros_like(a), np.zeros_like(a)] for a in (omega, phi, psi)]
            eig_g = np.empty((G, n_eig))
            for i, g in enumerate(full):
                cnt = float(groups.n[g])
                parts = (groups.mvv[g] / cnt, groups.mvu[g] / cnt, groups.muu[g] / cnt)
                for (mean, m2), x in zip(stats, parts, strict=True):
                    d = x - mean
                    mean += d / (i + 1)
                    m2 += d * (x - mean)
                eig_g[i] = np.einsum("pi,pq,qi->i", e, parts[0], e, optimize=True)
            om_se, ph_se, ps_se = (np.sqrt(m2 / (G - 1) / G) for _, m2 in stats)
            eig_se = eig_g.std(axis=0, ddof=1) / np.sqrt(G)
        else:
            om_se, ph_se, ps_se = (np.full_like(a, np.nan) for a in (omega, phi, psi))
            eig_se = np.full(n_eig, np.nan)
        arrays = dict(mean_v=mv, mean_u=mu, omega=omega, phi=phi, psi=psi, omega_se=om_se, phi_se=ph_se,
                      psi_se=ps_se, eigvals=s, eigvals_se=eig_se)
        for a in arrays.values():
            a.setflags(write=False)
        return cls(n=n, config=dict(config), sources=tuple(tuple(x) for x in sources),
                   history=dict(history or {}), _groups=groups, **arrays)

    # ----------------------------------------------------------------------------- operations
    def merge(self, other: CovarianceEstimate) -> CovarianceEstimate:
        """Exact pooled combination with another partial estimate of the same configuration.

        Partial estimates from different seeds, or from disjoint batch ranges of one seed (see
        ``batch_range`` in :func:`estimate_covariances`), combine into the estimate of all their samples.
        Overlapping batch ranges of one seed would count the same samples twice and are refused.

        Examples
        --------
        >>> from spectra import estimate_covariances
        >>> from spectra.generators import SingleLayer
        >>> gen = SingleLayer(4, 6, seed=0)
        >>> kw = dict(n_samples=1000, batch_size=100, seed=3, progress=False)
        >>> a = estimate_covariances(gen, batch_range=(0, 4), **kw)
        >>> b = estimate_covariances(gen, batch_range=(4, 10), **kw)
        >>> whole = estimate_covariances(gen, **kw)
        >>> bool(np.allclose(a.merge(b).omega, whole.omega, rtol=1e-12, atol=0))
        True
        """
        if not isinstance(other, CovarianceEstimate):
            raise TypeError(f"can only merge a CovarianceEstimate, got {type(other).__name__}")
        for key in MERGE_KEYS:
            if self.config.get(key) != other.config.get(key):
                raise ValueError(f"cannot merge estimates with different {key}: {self.config.get(key)!r} vs "
                                 f"{other.config.get(key)!r}")
        for sid, a0, a1 in self.sources:
            for tid, b0, b1 in other.sources:
                if sid == tid and a0 < b1 and b0 < a1:
                    raise ValueError(f"the estimates share batches {max(a0, b0)}..{min(a1, b1) - 1} of seed "
                                     f"{sid}: merging would count those samples twice")
        if self._groups is None or other._groups is None:
            raise ValueError("this estimate carries no group state (it was loaded without it); cannot merge")
        config = dict(self.config)
        for key in ("n_samples", "batch_size", "seed"):
            if self.config.get(key) != other.config.get(key):
                config[key] = "merged"
        return CovarianceEstimate._from_groups(self._groups.merge(other._groups), config,
                                               self.sources + other.sources, n_eig=self.eigvals.size)

    def halves(self) -> tuple[CovarianceEstimate, CovarianceEstimate]:
        """Two independent estimates from disjoint halves of the batch-means groups (theory §3.2).

        Each uses about half the samples; predictions that change between the halves (or between a half and
        the whole) are not resolved by this ``n``. Needs ``groups >= 4``. ``a.merge(b)`` of the two halves
        equals this estimate to round-off.

        Examples
        --------
        >>> from spectra import estimate_covariances
        >>> from spectra.generators import SingleLayer
        >>> est = estimate_covariances(SingleLayer(4, 6, seed=0), n_samples=1600, batch_size=100, seed=1,
        ...                            progress=False)
        >>> a, b = est.halves()
        >>> a.n + b.n
        1600
        """
        if self._groups is None:
            raise ValueError("this estimate carries no group state; cannot split it")
        G, p, k = self._groups.shape
        if G < 4:
            raise ValueError(f"halves() needs at least 4 batch-means groups (groups >= 4), got {G}")
        out = []
        for tag, idx in (("a", range(G // 2)), ("b", range(G // 2, G))):
            part = _Groups(len(idx), p, k)
            for i, g in enumerate(idx):
                part.set_group(i, self._groups, g)
            if part.n.sum() < 2:
                raise ValueError("too few samples to split this estimate into halves")
            config = dict(self.config, groups=len(idx), half=tag)
            sources = [(f"{sid}#half-{tag}", a, b) for sid, a, b in self.sources]
            out.append(CovarianceEstimate._from_groups(part, config, sources, n_eig=self.eigvals.size))
        return out[0], out[1]

    def spectrum(self, theta=None) -> Spectrum:
        """Shortcut for :meth:`spectra.Spectrum.from_estimate`."""
        return Spectrum.from_estimate(self, theta)

    def to_dict(self) -> dict:
        """Plain dictionary of the public fields (arrays as numpy arrays)."""
        return {"n": self.n, "mean_v": np.array(self.mean_v), "mean_u": np.array(self.mean_u),
                "omega": np.array(self.omega), "phi": np.array(self.phi), "psi": np.array(self.psi),
                "omega_se": np.array(self.omega_se), "phi_se": np.array(self.phi_se),
                "psi_se": np.array(self.psi_se), "eigvals": np.array(self.eigvals),
                "eigvals_se": np.array(self.eigvals_se), "config": dict(self.config),
                "sources": [list(s) for s in self.sources],
                "history": {k: np.array(v) for k, v in self.history.items()}}

    def save(self, path: str | os.PathLike) -> None:
        """Write the estimate (with its group state, so it can still be merged) to ``.npz``, atomically."""
        _atomic_savez(path, _state_arrays(self._groups, self.config, self.sources, self.history,
                                          next_batch=-1, complete=True))

    @classmethod
    def load(cls, path: str | os.PathLike) -> CovarianceEstimate:
        """Read an estimate written by :meth:`save` (or a completed checkpoint)."""
        groups, config, sources, history, _, complete = _load_state(path)
        if not complete:
            raise ValueError(f"{path} is an incomplete checkpoint, not a finished estimate; resume it with "
                             f"estimate_covariances(..., checkpoint={str(path)!r})")
        return cls._from_groups(groups, config, sources, history)

    def __repr__(self) -> str:
        return (f"CovarianceEstimate(n={self.n}, p={self.p}, k={self.k}, generator="
                f"{self.config.get('generator')!r}, features={self.config.get('features')!r})")


# ------------------------------------------------------------------------------------------- persistence
def _state_arrays(groups: _Groups, config: dict, sources, history, next_batch: int, complete: bool) -> dict:
    arrays = {f"group_{k}": v for k, v in groups.arrays().items()}
    arrays["format"] = np.str_(_FORMAT)
    arrays["config"] = np.str_(json.dumps(config, sort_keys=True))
    arrays["sources"] = np.str_(json.dumps([list(s) for s in sources]))
    arrays["next_batch"] = np.int64(next_batch)
    arrays["complete"] = np.bool_(complete)
    for key in ("n", "rms_change", "rel_error"):
        arrays[f"history_{key}"] = np.asarray(history.get(key, []), dtype=float)
    return arrays


def _atomic_savez(path, arrays: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def _load_state(path):
    path = Path(path)
    try:
        f = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path} as a covariance estimate or checkpoint: {exc}") from exc
    with f:
        if "format" not in f.files or str(f["format"]) != _FORMAT:
            raise ValueError(f"{path} is not a covariance estimate or checkpoint written by spectra")
        needed = {"config", "sources", "next_batch", "complete"}
        missing = needed - set(f.files)
        if missing:
            raise ValueError(f"{path} is missing {sorted(missing)}")
        groups = _Groups.from_arrays({k[6:]: f[k] for k in f.files if k.startswith("group_")}, where=str(path))
        config = json.loads(str(f["config"]))
        sources = [tuple(s) for s in json.loads(str(f["sources"]))]
        history = {k: f[f"history_{k}"] for k in ("n", "rms_change", "rel_error") if f"history_{k}" in f.files}
        return groups, config, sources, history, int(f["next_batch"]), bool(f["complete"])


def default_cache_dir() -> Path:
    """``$GAUSSEQUIV_CACHE`` if set, else ``~/.cache/gaussequiv/spectra``."""
    env = os.environ.get("GAUSSEQUIV_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "gaussequiv" / "spectra"


# --------------------------------------------------------------------------------------------- the driver
def estimate_covariances(generator, features=None, n_samples: int = 10_000, *, batch_size: int = 1000,
                         seed: SeedLike = None, progress: bool = True, checkpoint: str | os.PathLike | None = None,
                         checkpoint_every: int = 20, groups: int = 8, precision: str = "float64",
                         batch_range: tuple[int, int] | None = None, client=None,
                         cache: bool | str | os.PathLike | None = None, reference=None,
                         n_eig: int = 10, teacher_features=None) -> CovarianceEstimate:
    r"""Estimate the means and covariances of ``v = features(G(c))`` and ``u = c`` by streaming Monte Carlo.

    Parameters
    ----------
    generator : callable
        Maps latents ``(n, D)`` to outputs ``(n, N)``; needs ``latent_dim`` and ``output_dim`` (e.g. a
        :mod:`spectra.generators` object).
    features : callable, optional
        Feature map ``(n, N) -> (n, p)`` with ``input_dim``/``output_dim`` (:mod:`spectra.features`);
        ``None`` is the identity (``v = x``).
    n_samples : int
        Number of samples (>= 2). Batch ``j`` has ``min(batch_size, n_samples - j*batch_size)`` samples.
    batch_size : int
        Samples per batch (>= 1); memory is ``O(groups (p^2 + p k) + batch_size (N + p))``.
    seed : int, numpy.random.Generator or SeedSequence
        Root seed; batch ``j`` draws from its ``j``-th child stream.
    progress : bool
        Show a progress bar on stderr.
    checkpoint : path, optional
        ``.npz`` file written (atomically) every ``checkpoint_every`` batches and at the end. If it
        exists, the run resumes from it; the result equals an uninterrupted run with the same seed. A
        checkpoint of a different configuration is refused with the setting that differs.
    checkpoint_every : int
        Batches between checkpoints; also the interval of the logged RMS change of ``omega``.
    groups : int
        Number of batch-means groups (>= 2 for standard errors).
    precision : {"float64", "float32"}
        Precision of the per-batch products (accumulation is always float64). ``"float32"`` doubles the
        speed; its relative round-off (~1e-6) is far below the Monte Carlo error of any practical ``n``.
    batch_range : (int, int), optional
        Compute only batches ``start <= j < stop`` of the run (a partial estimate to :meth:`merge`).
    client : dask.distributed.Client, optional
        Run the groups as tasks on its workers (needs the ``[distributed]`` extra). The result equals the
        single-process result with the same seed.
    cache : bool or path, optional
        Look up / store the result on disk under a key of the generator, features, ``n_samples``, batch
        size, groups, precision and seed (``True``: :func:`default_cache_dir`). Needs an int ``seed``.
    teacher_features : callable, optional
        Teacher features ``u = teacher_features(c)`` of shape ``(n, k)`` (theory §1.3); ``None`` is the
        latent itself (``u = c``, ``k = D``, ``Psi ~ I_D``).
    reference : array, shape (p, p), optional
        Exact ``omega``; the relative Frobenius error is logged and kept in ``history``.
    n_eig : int
        Number of leading eigenvalues reported with standard errors.

    Returns
    -------
    CovarianceEstimate

    Examples
    --------
    >>> from spectra.generators import SingleLayer
    >>> from spectra import estimate_covariances
    >>> gen = SingleLayer(10, 20, "sign", seed=0)
    >>> est = estimate_covariances(gen, n_samples=4000, batch_size=500, seed=1, progress=False)
    >>> est.omega.shape, est.phi.shape, est.n
    ((20, 20), (20, 10), 4000)
    >>> bool(abs(est.omega[0, 0] - 1.0) < 0.01)   # sign outputs have unit variance
    True
    """
    if not callable(generator) or not hasattr(generator, "latent_dim") or not hasattr(generator, "output_dim"):
        raise TypeError("generator must be callable with latent_dim and output_dim attributes "
                        "(see spectra.generators)")
    D, N = int(generator.latent_dim), int(generator.output_dim)
    if features is not None:
        if not callable(features) or not hasattr(features, "input_dim") or not hasattr(features, "output_dim"):
            raise TypeError("features must be callable with input_dim and output_dim (see spectra.features)")
        if int(features.input_dim) != N:
            raise ValueError(f"features take input_dim = {features.input_dim} inputs but the generator has "
                             f"output_dim = {N}: build the feature map with input_dim={N}")
        p = int(features.output_dim)
    else:
        p = N
    if teacher_features is None:
        k = D
    else:
        if not callable(teacher_features):
            raise TypeError("teacher_features must be callable, mapping latents (n, D) to (n, k)")
        k = getattr(teacher_features, "output_dim", None)
        if k is None:
            probe = np.asarray(teacher_features(np.zeros((1, D), dtype=np.float32)))
            if probe.ndim != 2 or probe.shape[0] != 1:
                raise ValueError(f"teacher_features must map (n, {D}) latents to (n, k), got shape {probe.shape}")
            k = probe.shape[1]
        k = int(k)
    n_samples = check_positive_int("n_samples", n_samples, minimum=2)
    batch_size = check_positive_int("batch_size", batch_size)
    groups = check_positive_int("groups", groups)
    checkpoint_every = check_positive_int("checkpoint_every", checkpoint_every)
    n_eig = check_positive_int("n_eig", n_eig)
    if precision not in ("float64", "float32"):
        raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
    dtype = np.dtype(precision)
    n_batches = -(-n_samples // batch_size)
    if batch_range is None:
        start, stop = 0, n_batches
    else:
        start, stop = (int(b) for b in batch_range)
        if not 0 <= start < stop <= n_batches:
            raise ValueError(f"batch_range must satisfy 0 <= start < stop <= n_batches = {n_batches}, got "
                             f"{batch_range}")
    if client is not None and checkpoint is not None:
        raise ValueError("checkpoint= cannot be combined with client=: a dask run is not checkpointed; "
                         "use batch_range pieces and merge() for restartable cluster runs")
    if cache not in (None, False) and not isinstance(seed, (int, np.integer)):
        raise ValueError("cache= needs an int seed (a Generator or None seed has no reproducible cache key)")
    root = seed_sequence(seed)
    config = {"generator": getattr(generator, "name", type(generator).__name__),
              "generator_fingerprint": fingerprint(generator),
              "features": "identity" if features is None else getattr(features, "name", type(features).__name__),
              "features_fingerprint": fingerprint(features), "latent_dim": D, "output_dim": N, "p": p, "k": k,
              "teacher_features": "latent" if teacher_features is None else
              getattr(teacher_features, "name", type(teacher_features).__name__),
              "teacher_features_fingerprint": fingerprint(teacher_features),
              "n_samples": n_samples, "batch_size": batch_size, "seed": _seed_id(root), "groups": groups,
              "precision": precision}
    if reference is not None:
        reference = np.asarray(reference, dtype=float)
        if reference.shape != (p, p):
            raise ValueError(f"reference must have shape ({p}, {p}), got {reference.shape}")

    cache_file = None
    if cache not in (None, False):
        cache_dir = default_cache_dir() if cache is True else Path(cache)
        key = hashlib.sha256(json.dumps({**config, "batch_range": [start, stop], "n_eig": n_eig},
                                        sort_keys=True).encode()).hexdigest()[:24]
        cache_file = cache_dir / f"{key}.npz"
        if cache_file.exists():
            logger.info("covariance estimate loaded from cache %s", cache_file)
            return CovarianceEstimate.load(cache_file)

    sizes = {j: min(batch_size, n_samples - j * batch_size) for j in range(start, stop)}
    if client is not None:
        state = _run_dask(client, generator, (features, teacher_features), root, sizes, groups, dtype,
                          (groups, p, k), progress)
        history: dict = {}
    else:
        state, history = _run_local(generator, (features, teacher_features), root, start, stop, sizes, groups,
                                    dtype, p, k, config,
                                    checkpoint, checkpoint_every, progress, reference)
    est = CovarianceEstimate._from_groups(state, config, [(config["seed"], start, stop)], history, n_eig)
    if cache_file is not None:
        est.save(cache_file)
    return est


def _check_checkpoint_config(path, saved: dict, config: dict) -> None:
    for key in CONFIG_KEYS:
        if saved.get(key) != config.get(key):
            raise ValueError(f"checkpoint {path} was written for a different configuration: {key} is "
                             f"{saved.get(key)!r} in the checkpoint but {config.get(key)!r} now; use a new "
                             f"checkpoint path or the original settings")


def _run_local(generator, maps, root, start, stop, sizes, G, dtype, p, k, config, checkpoint,
               checkpoint_every, progress, reference):
    from tqdm.auto import tqdm

    state = _Groups(G, p, k)
    history = {"n": [], "rms_change": [], "rel_error": []}
    first = start
    if checkpoint is not None and Path(checkpoint).exists():
        saved_state, saved_config, sources, saved_hist, next_batch, complete = _load_state(checkpoint)
        _check_checkpoint_config(checkpoint, saved_config, config)
        if sources and tuple(sources[0][1:]) != (start, stop):
            raise ValueError(f"checkpoint {checkpoint} covers batches {sources[0][1]}..{sources[0][2]} but this "
                             f"run asks for {start}..{stop}")
        state = saved_state
        history = {k: list(v) for k, v in saved_hist.items()}
        first = stop if complete else next_batch
        logger.info("resuming from %s at batch %d", checkpoint, first)
    prev = None
    if history["n"]:
        n, *_, mvv, _, _ = state.pooled()
        prev = mvv / n
    done = sum(sizes[j] for j in range(start, first))
    with tqdm(total=sum(sizes.values()), initial=done, disable=not progress, unit="samples",
              desc="covariances") as bar:
        for j in range(first, stop):
            state.add(j % G, *_run_batch(generator, maps, root, j, sizes[j], dtype, p))
            bar.update(sizes[j])
            last = j == stop - 1
            if (j - start + 1) % checkpoint_every == 0 or last:
                n, *_, mvv, _, _ = state.pooled()
                omega = mvv / n
                rms = float(np.sqrt(np.mean((omega - prev) ** 2))) if prev is not None else float("nan")
                rel = (float(np.linalg.norm(omega - reference) / np.linalg.norm(reference))
                       if reference is not None else float("nan"))
                prev = omega
                history["n"].append(n)
                history["rms_change"].append(rms)
                history["rel_error"].append(rel)
                logger.info("n = %d: RMS change of omega %.3g, relative Frobenius error %.3g", n, rms, rel)
                if checkpoint is not None:
                    _atomic_savez(checkpoint, _state_arrays(state, config, [(config["seed"], start, stop)],
                                                            history, next_batch=j + 1, complete=last))
    return state, {k: np.asarray(v, dtype=float) for k, v in history.items()}


def _run_dask(client, generator, maps, root, sizes, G, dtype, shape, progress):
    try:
        from distributed import as_completed
    except ImportError as exc:  # pragma: no cover - only without the extra
        raise ImportError("client= needs dask.distributed: pip install 'gaussequiv[distributed]'") from exc
    from tqdm.auto import tqdm

    futures = {}
    for g in range(G):
        batches = [(j, s) for j, s in sizes.items() if j % G == g]
        if batches:
            fut = client.submit(_group_task, generator, maps, root, g, batches, dtype, shape, pure=False)
            futures[fut] = (g, sum(s for _, s in batches))
    state = _Groups(*shape)
    with tqdm(total=sum(sizes.values()), disable=not progress, unit="samples", desc="covariances") as bar:
        for fut in as_completed(list(futures)):
            g, size = futures[fut]
            state.set_group(g, _Groups.from_arrays(fut.result(), where=f"group {g} result"))
            bar.update(size)
    return state
