"""The result of a covariance estimation: :class:`CovarianceEstimate` (merge, halves, save/load, spectrum)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from spectra.estimate.moments import GroupMoments
from spectra.estimate.storage import (
    EstimateFileError,
    atomic_savez,
    check_counts,
    read_state,
    state_arrays,
)
from spectra.spectrum import Spectrum

__all__ = ["CovarianceEstimate", "MERGE_KEYS", "leading_eigh"]

#: Keys that partial estimates must share to be merged.
MERGE_KEYS = ("generator", "generator_fingerprint", "features", "features_fingerprint", "latent_dim",
              "output_dim", "p", "k", "teacher_features_fingerprint", "model_key", "groups", "precision")
#: Number of leading eigenvalues of an estimate when nobody asked for another number.
DEFAULT_N_EIG = 10


def leading_eigh(omega: np.ndarray, n_eig: int) -> tuple[np.ndarray, np.ndarray]:
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
    _groups: GroupMoments | None = field(default=None, repr=False)

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
    def _from_groups(cls, groups: GroupMoments, config: dict, sources, history=None,
                     n_eig: int = DEFAULT_N_EIG) -> CovarianceEstimate:
        n, mv, mu, mvv, mvu, muu = groups.pooled()
        if n < 2:
            raise ValueError(f"an estimate needs at least 2 samples, got {n}")
        omega, phi, psi = mvv / n, mvu / n, muu / n
        omega = 0.5 * (omega + omega.T)
        psi = 0.5 * (psi + psi.T)
        full = np.flatnonzero(groups.n > 0)
        G = int(full.size)
        n_eig = min(n_eig, omega.shape[0])
        s, e = leading_eigh(omega, n_eig)
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
        for est in (self, other):
            blind = [name for name in ("generator", "features", "teacher_features")
                     if est.config.get(f"{name}_fingerprint", "") is None]
            if blind and est.config.get("model_key") is None:
                raise ValueError(f"cannot merge: the {' and '.join(blind)} of one estimate could not be fingerprinted, "
                                 f"so spectra cannot check that both come from the same model; run both with "
                                 f"the same model_key=")
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
            part = GroupMoments(len(idx), p, k)
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
        """Write the estimate (with its group state, so it can still be merged) to ``.npz``, atomically.

        The file is written under a unique temporary name in the same directory and moved into place, so a
        reader never sees a partial file and concurrent writers of one path do not collide.
        """
        if self._groups is None:
            raise ValueError("this estimate carries no group state; cannot save it")
        atomic_savez(path, state_arrays(self._groups, self.config, self.sources, self.history, next_batch=-1,
                                        complete=True, n_eig=int(self.eigvals.size)))

    @classmethod
    def load(cls, path: str | os.PathLike, n_eig: int | None = None) -> CovarianceEstimate:
        """Read an estimate written by :meth:`save` (or a completed checkpoint), checked on the way in.

        Parameters
        ----------
        path : path
        n_eig : int, optional
            Number of leading eigenvalues to report; default: as many as the saved estimate had.

        Raises
        ------
        EstimateFileError
            (a ``ValueError``) The file is damaged (truncated, bit flips, not an estimate), holds NaN/inf or
            negative counts, is an incomplete checkpoint, or its per-group sample counts disagree with the
            run configuration stored with it.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from spectra import estimate_covariances
        >>> from spectra.generators import SingleLayer
        >>> est = estimate_covariances(SingleLayer(4, 6, seed=0), n_samples=400, batch_size=100, seed=0,
        ...                            progress=False)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     est.save(pathlib.Path(tmp) / "e.npz")
        ...     back = CovarianceEstimate.load(pathlib.Path(tmp) / "e.npz")
        >>> bool(np.array_equal(back.omega, est.omega))
        True
        """
        state = read_state(path)
        if not state.complete:
            raise EstimateFileError(f"{path} is an incomplete checkpoint, not a finished estimate; resume it "
                                    f"with estimate_covariances(..., checkpoint={str(path)!r})")
        if len(state.sources) == 1:
            _, start, stop = state.sources[0]
            check_counts(path, state, start, stop)
        n = int(state.groups.n.sum())
        if n < 2:
            raise EstimateFileError(f"{path} holds {n} samples; an estimate needs at least 2")
        if n_eig is None:
            n_eig = state.n_eig if state.n_eig is not None else DEFAULT_N_EIG
        return cls._from_groups(state.groups, state.config, state.sources, state.history, n_eig)

    def __repr__(self) -> str:
        return (f"CovarianceEstimate(n={self.n}, p={self.p}, k={self.k}, generator="
                f"{self.config.get('generator')!r}, features={self.config.get('features')!r})")


