r"""Accumulation: one batch of samples reduced to its moments, and the per-group pooled (Chan) update.

A batch is reduced to its size, float64 means and centred cross-products (BLAS-3 ``V_c^T V_c``,
``V_c^T U_c``, ``U_c^T U_c``). :class:`GroupMoments` adds batches to one of ``G`` groups with the exact pooled
update, so a group's state depends only on its own batches in order: a resumed run, a merged run and a run on
dask workers reproduce the single-process result (theory §3.1).
"""

from __future__ import annotations

import numpy as np

__all__ = ["GroupMoments", "batch_moments", "batch_stream", "batch_statistics"]


class GroupMoments:
    """Per-group pooled moments: counts, means and centred cross-product sums (float64).

    Attributes
    ----------
    n : ndarray of int64, shape (G,)
        Samples per group.
    mv, mu : ndarray, shapes (G, p) and (G, k)
        Means of ``v`` and ``u`` per group.
    mvv, mvu, muu : ndarray, shapes (G, p, p), (G, p, k), (G, k, k)
        Centred cross-product sums per group (``n`` times the group covariances).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> v, u = rng.standard_normal((50, 3)), rng.standard_normal((50, 2))
    >>> state = GroupMoments(2, 3, 2)
    >>> state.add(0, *batch_moments(v[:20], u[:20], np.float64))
    >>> state.add(1, *batch_moments(v[20:], u[20:], np.float64))
    >>> n, mv, mu, mvv, mvu, muu = state.pooled()
    >>> bool(np.allclose(mvv / n, np.cov(v.T, bias=True)))
    True
    """

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
        """``(G, p, k)``."""
        return self.mvu.shape

    def arrays(self) -> dict[str, np.ndarray]:
        """The six arrays by field name (not copies)."""
        return {f: getattr(self, f) for f in self.FIELDS}

    @classmethod
    def from_arrays(cls, arrays: dict, where: str = "state") -> GroupMoments:
        """A state from :meth:`arrays` output, with shapes checked against each other (errors name ``where``)."""
        missing = [f for f in cls.FIELDS if f not in arrays]
        if missing:
            raise ValueError(f"{where} is missing the arrays {missing}")
        G, p = np.shape(arrays["mv"])[:2] if np.ndim(arrays["mv"]) == 2 else (0, 0)
        k = np.shape(arrays["mu"])[1] if np.ndim(arrays["mu"]) == 2 else 0
        self = cls(max(G, 1), max(p, 1), max(k, 1))
        for f in cls.FIELDS:
            want = getattr(self, f).shape
            arr = np.asarray(arrays[f])
            if G == 0 or p == 0 or k == 0 or arr.shape != want:
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

    def merge(self, other: GroupMoments) -> GroupMoments:
        """Group-wise pooled combination with another state of the same shape."""
        out = GroupMoments(*self.shape)
        for name in self.FIELDS:
            setattr(out, name, getattr(self, name).copy())
        for g in range(self.shape[0]):
            if other.n[g]:
                out.add(g, int(other.n[g]), other.mv[g], other.mu[g], other.mvv[g], other.mvu[g], other.muu[g])
        return out

    def set_group(self, g: int, other: GroupMoments, source: int = 0) -> None:
        """Overwrite group ``g`` with group ``source`` of ``other``."""
        for name in self.FIELDS:
            getattr(self, name)[g] = getattr(other, name)[source]

    def pooled(self):
        """Pooled count, means and sums over all groups (groups combined in index order)."""
        G, p, k = self.shape
        tot = GroupMoments(1, p, k)
        for g in range(G):
            if self.n[g]:
                tot.add(0, int(self.n[g]), self.mv[g], self.mu[g], self.mvv[g], self.mvu[g], self.muu[g])
        return int(tot.n[0]), tot.mv[0], tot.mu[0], tot.mvv[0], tot.mvu[0], tot.muu[0]


def batch_moments(v: np.ndarray, u: np.ndarray, dtype) -> tuple:
    """Size, float64 means and centred cross-products of one batch (BLAS-3 in ``dtype``, corrected to the
    float64 means).

    Returns ``(nb, mean_v, mean_u, S_vv, S_vu, S_uu)`` with ``S_vv = sum (v - mean_v)(v - mean_v)^T``.
    """
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


def batch_stream(root: np.random.SeedSequence, j: int) -> np.random.Generator:
    """The generator of batch ``j``: equal to ``root.spawn(j + 1)[j]`` without spawning the others."""
    return np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, j),
                                                        pool_size=root.pool_size))


def batch_statistics(generator, maps, root: np.random.SeedSequence, j: int, size: int, dtype, p: int) -> tuple:
    """Draw batch ``j`` (``size`` latents from :func:`batch_stream`), apply the generator and the feature maps,
    check shapes and finiteness, and return its :func:`batch_moments`."""
    features, teacher_features = maps
    rng = batch_stream(root, j)
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
        return batch_moments(v, c, dtype)
    u = np.asarray(teacher_features(c))
    if u.ndim != 2 or u.shape[0] != size or not np.all(np.isfinite(u)):
        raise ValueError(f"teacher_features returned shape {u.shape} (or NaN/inf) for batch {j}; expected finite "
                         f"({size}, k)")
    return batch_moments(v, u, dtype)
