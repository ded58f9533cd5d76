"""The driver: :func:`estimate_covariances` (configuration, cache, checkpoint/resume, local or dask run)."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np

from gaussequiv import __version__
from gaussequiv.checks import integer, matrix
from gaussequiv.progress import show as show_progress
from gaussequiv.seeding import SeedLike, stream
from spectra.estimate.distributed import run_dask
from spectra.estimate.fingerprint import FingerprintError, fingerprint
from spectra.estimate.moments import GroupMoments, batch_statistics
from spectra.estimate.result import CovarianceEstimate
from spectra.estimate.storage import (
    EstimateFileError,
    StorageWarning,
    atomic_savez,
    cache_key,
    check_counts,
    default_cache_dir,
    read_state,
    state_arrays,
    writable_dir_problem,
)

__all__ = ["estimate_covariances", "CONFIG_KEYS", "SEED_KIND"]

logger = logging.getLogger("spectra.estimate")

#: Keys of the configuration that a checkpoint must share with the run that resumes it.
CONFIG_KEYS = ("generator", "generator_fingerprint", "features", "features_fingerprint", "latent_dim",
               "output_dim", "p", "k", "teacher_features_fingerprint", "model_key", "n_samples", "batch_size",
               "seed", "groups", "precision")
#: The kind of the latent sample stream (:func:`gaussequiv.seeding.stream`): batch ``j`` draws from child ``j``
#: of ``stream(seed, SEED_KIND)``, independent of every model built from the same seed.
SEED_KIND = "estimate.latents"


def _seed_id(ss: np.random.SeedSequence) -> str:
    entropy = ss.entropy if isinstance(ss.entropy, int) else ",".join(map(str, ss.entropy))
    pool = "" if ss.pool_size == 4 else f"/pool{ss.pool_size}"
    return f"{entropy}/{','.join(map(str, ss.spawn_key))}{pool}"


def _fingerprint_or_reason(obj, name: str) -> tuple[str | None, str | None]:
    try:
        return fingerprint(obj, name), None
    except FingerprintError as exc:
        return None, str(exc)


def estimate_covariances(generator, features=None, n_samples: int = 10_000, *, batch_size: int = 1000,
                         seed: SeedLike = 0, progress: bool | None = None, checkpoint: str | os.PathLike | None = None,
                         checkpoint_every: int = 20, groups: int = 8, precision: str = "float64",
                         batch_range: tuple[int, int] | None = None, client=None,
                         cache: bool | str | os.PathLike | None = None, model_key: str | None = None,
                         reference=None, n_eig: int = 10, teacher_features=None) -> CovarianceEstimate:
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
    seed : int >= 0, numpy.random.SeedSequence or numpy.random.Generator
        Seed of the latent samples (default 0). Batch ``j`` draws from child ``j`` of
        ``gaussequiv.seeding.stream(seed, "estimate.latents")``: independent of the generator's weights,
        teachers and feature maps built from the same seed, and of :func:`spectra.features.generator_mean`.
    progress : bool or None
        Show a progress bar on stderr: True always, False never, None (default) only on a terminal
        (:func:`gaussequiv.progress.show`).
    checkpoint : path, optional
        ``.npz`` file written (atomically) every ``checkpoint_every`` batches and at the end. If it
        exists, the run resumes from it; the result equals an uninterrupted run with the same seed. A
        checkpoint of a different configuration is refused with the setting that differs; a damaged one
        (truncated, edited, NaN, counts that do not match its progress) raises
        :class:`~spectra.estimate.EstimateFileError`. The directory must be writable (checked before any
        work); a later failed write is a :class:`~spectra.estimate.StorageWarning` and the run goes on.
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
        Look up / store the result on disk (``True``: :func:`default_cache_dir`). The key hashes the file
        format, the package version, the fingerprints of the generator, features and teacher features (every
        attribute and array they compute with, see :mod:`spectra.estimate.fingerprint`), ``model_key``, the
        sampling settings, the seed and ``batch_range``. A model that cannot be fingerprinted is refused
        unless ``model_key`` is given. An unwritable cache never costs the result: the estimate is computed
        and returned with a :class:`~spectra.estimate.StorageWarning`. A damaged cache file is recomputed.
    model_key : str, optional
        A name you guarantee identifies the generator, features and teacher features together; it is added
        to the cache and checkpoint keys and to the merge check. Needed only for models that cannot be
        fingerprinted (C objects with hidden state, e.g. a torch module).
    reference : array, shape (p, p), optional
        Exact ``omega``; the relative Frobenius error is logged and kept in ``history``.
    n_eig : int
        Number of leading eigenvalues reported with standard errors (also on a cache hit).
    teacher_features : callable, optional
        Teacher features ``u = teacher_features(c)`` of shape ``(n, k)`` (theory §1.3); ``None`` is the
        latent itself (``u = c``, ``k = D``, ``Psi ~ I_D``).

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
    n_samples = integer("n_samples", n_samples, minimum=2)
    batch_size = integer("batch_size", batch_size)
    groups = integer("groups", groups)
    checkpoint_every = integer("checkpoint_every", checkpoint_every)
    n_eig = integer("n_eig", n_eig)
    if precision not in ("float64", "float32"):
        raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
    if model_key is not None and (not isinstance(model_key, str) or not model_key):
        raise TypeError(f"model_key must be a non-empty string or None, got {model_key!r}")
    if cache is not None and not isinstance(cache, (bool, str, os.PathLike)):
        raise TypeError(f"cache must be True, False, None or a directory path, got {type(cache).__name__}")
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
    root = stream(seed, SEED_KIND)
    prints = {name: _fingerprint_or_reason(obj, name) for name, obj in
              (("generator", generator), ("features", features), ("teacher_features", teacher_features))}
    config = {"generator": getattr(generator, "name", type(generator).__name__),
              "generator_fingerprint": prints["generator"][0],
              "features": "identity" if features is None else getattr(features, "name", type(features).__name__),
              "features_fingerprint": prints["features"][0], "latent_dim": D, "output_dim": N, "p": p, "k": k,
              "teacher_features": "latent" if teacher_features is None else
              getattr(teacher_features, "name", type(teacher_features).__name__),
              "teacher_features_fingerprint": prints["teacher_features"][0], "model_key": model_key,
              "n_samples": n_samples, "batch_size": batch_size, "seed": _seed_id(root), "groups": groups,
              "precision": precision}
    blind = [reason for _, reason in prints.values() if reason is not None]
    if reference is not None:
        reference = matrix("reference", reference, (p, p))
    if blind and model_key is None and (cache not in (None, False) or checkpoint is not None):
        what = "cache=" if cache not in (None, False) else "checkpoint="
        raise ValueError(f"{what} needs to identify the model, but {blind[0]}. Pass model_key='...' (a name that "
                         f"identifies generator, features and teacher features together) or give the object a "
                         f"fingerprint() method")

    cache_file = None
    if cache not in (None, False):
        cache_dir = default_cache_dir() if cache is True else Path(cache)
        cache_file = cache_dir / f"{cache_key(config, start, stop)}.npz"
        hit = _cache_lookup(cache_file, config, start, stop, n_eig)
        if hit is not None:
            return hit
        problem = writable_dir_problem(cache_dir)
        if problem is not None:
            warnings.warn(f"cache={str(cache_dir)!r} is not usable ({problem}); the estimate is computed and "
                          f"returned but not cached", StorageWarning, stacklevel=2)
            cache_file = None
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        if checkpoint.is_dir():
            raise ValueError(f"checkpoint={str(checkpoint)!r} is a directory; pass a file path (e.g. run.npz)")
        problem = writable_dir_problem(checkpoint.parent)
        if problem is not None:
            raise ValueError(f"checkpoint={str(checkpoint)!r} cannot be written ({problem}); choose a writable "
                             f"path (checked before any work is done)")

    sizes = {j: min(batch_size, n_samples - j * batch_size) for j in range(start, stop)}
    if client is not None:
        state = run_dask(client, generator, (features, teacher_features), root, sizes, groups, dtype,
                         (groups, p, k), progress)
        history: dict = {}
    else:
        state, history = _run_local(generator, (features, teacher_features), root, start, stop, sizes, groups,
                                    dtype, p, k, config, checkpoint, checkpoint_every, progress, reference, n_eig)
    est = CovarianceEstimate._from_groups(state, config, [(config["seed"], start, stop)], history, n_eig)
    if cache_file is not None:
        try:
            est.save(cache_file)
        except OSError as exc:
            warnings.warn(f"could not write the cache file {cache_file} ({type(exc).__name__}: {exc}); the "
                          f"estimate is returned but not cached", StorageWarning, stacklevel=2)
    return est


def _cache_lookup(path: Path, config: dict, start: int, stop: int, n_eig: int) -> CovarianceEstimate | None:
    """The cached estimate at ``path`` if it exists, is intact and was written for exactly ``config``; else None
    (a damaged or foreign file is reported with a warning and recomputed)."""
    try:
        state = read_state(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (EstimateFileError, OSError) as exc:
        warnings.warn(f"cached estimate unusable ({exc}); recomputing", StorageWarning, stacklevel=3)
        return None
    why = None
    if state.config != config:
        diff = sorted(k for k in set(config) | set(state.config) if config.get(k) != state.config.get(k))
        why = f"it was written for a different configuration ({', '.join(diff)})"
    elif state.version != __version__:
        why = f"it was written by gaussequiv {state.version}, this is {__version__}"
    elif not state.complete or state.sources != [(config["seed"], start, stop)]:
        why = "it is not a finished estimate of these batches"
    else:
        try:
            check_counts(path, state, start, stop)
        except EstimateFileError as exc:
            why = str(exc)
    if why is not None:
        warnings.warn(f"cached estimate {path} not used: {why}; recomputing", StorageWarning, stacklevel=3)
        return None
    logger.info("covariance estimate loaded from cache %s", path)
    return CovarianceEstimate._from_groups(state.groups, state.config, state.sources, state.history, n_eig)


def _check_checkpoint_config(path, saved: dict, config: dict) -> None:
    for key in CONFIG_KEYS:
        if saved.get(key) != config.get(key):
            raise ValueError(f"checkpoint {path} was written for a different configuration: {key} is "
                             f"{saved.get(key)!r} in the checkpoint but {config.get(key)!r} now; use a new "
                             f"checkpoint path or the original settings")


def _resume(checkpoint: Path, config: dict, start: int, stop: int):
    """The validated state of an existing checkpoint and the first batch still to run."""
    try:
        saved = read_state(checkpoint)
    except EstimateFileError as exc:
        raise EstimateFileError(f"cannot resume: {exc}. Delete it to start over, or pass another checkpoint= "
                                f"path") from None
    _check_checkpoint_config(checkpoint, saved.config, config)
    if saved.sources != [(config["seed"], start, stop)]:
        covered = ", ".join(f"{a}..{b}" for _, a, b in saved.sources)
        raise ValueError(f"checkpoint {checkpoint} covers batches {covered} but this run asks for {start}..{stop}")
    done = stop if saved.complete else saved.next_batch
    if not start <= done <= stop or saved.complete != (done == stop) or (
            saved.complete and saved.next_batch not in (stop, -1)):
        raise EstimateFileError(f"cannot resume: checkpoint {checkpoint} says next_batch = {saved.next_batch}, "
                                f"complete = {saved.complete} for batches {start}..{stop}. Delete it to start over")
    try:
        check_counts(checkpoint, saved, start, done)
    except EstimateFileError as exc:
        raise EstimateFileError(f"cannot resume: {exc}. Delete it to start over") from None
    return saved, done


def _run_local(generator, maps, root, start, stop, sizes, G, dtype, p, k, config, checkpoint, checkpoint_every,
               progress, reference, n_eig):
    from tqdm.auto import tqdm

    state = GroupMoments(G, p, k)
    history = {"n": [], "rms_change": [], "rel_error": []}
    first = start
    if checkpoint is not None and checkpoint.exists():
        saved, first = _resume(checkpoint, config, start, stop)
        state = saved.groups
        history = {key: list(v) for key, v in saved.history.items()}
        logger.info("resuming from %s at batch %d", checkpoint, first)
    prev = None
    if history["n"]:
        n, *_, mvv, _, _ = state.pooled()
        prev = mvv / n
    done = sum(sizes[j] for j in range(start, first))
    write_failed = False
    with tqdm(total=sum(sizes.values()), initial=done, disable=not show_progress(progress), unit="samples",
              desc="covariances") as bar:
        for j in range(first, stop):
            state.add(j % G, *batch_statistics(generator, maps, root, j, sizes[j], dtype, p))
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
                    try:
                        atomic_savez(checkpoint, state_arrays(state, config, [(config["seed"], start, stop)],
                                                              history, next_batch=j + 1, complete=last,
                                                              n_eig=n_eig))
                    except OSError as exc:
                        if not write_failed:
                            warnings.warn(f"could not write checkpoint {checkpoint} ({type(exc).__name__}: {exc}); "
                                          f"the run goes on without it", StorageWarning, stacklevel=3)
                        write_failed = True
    return state, {key: np.asarray(v, dtype=float) for key, v in history.items()}
