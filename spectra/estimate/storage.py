"""Persistence of estimates, checkpoints and the cache: atomic writes, validated reads, cache keys.

Files are ``.npz`` read with ``allow_pickle=False``. Every write goes to a temporary file with a unique name
in the target directory and is moved into place with :func:`os.replace`, so concurrent writers never share a
temporary file and readers see either the old or the new complete file. Every read checks the file
(readable zip, known format, shapes, finiteness, non-negative counts) and any damage is reported as one
:class:`EstimateFileError` naming the file; :func:`check_counts` further checks the per-group sample counts
against the configuration that wrote them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gaussequiv import __version__
from spectra.estimate.moments import GroupMoments

__all__ = ["FORMAT", "EstimateFileError", "StorageWarning", "StoredState", "state_arrays", "atomic_savez",
           "read_state", "check_counts", "expected_counts", "writable_dir_problem", "cache_key",
           "default_cache_dir"]

#: Format tag written into every file; the cache key includes it.
FORMAT = "gaussequiv-covariance-estimate-2"
_READABLE_FORMATS = ("gaussequiv-covariance-estimate-1", FORMAT)
_HISTORY = ("n", "rms_change", "rel_error")


class EstimateFileError(ValueError):
    """A covariance estimate or checkpoint file that is damaged, foreign or inconsistent with itself."""


class StorageWarning(UserWarning):
    """A cache or checkpoint file could not be written or read; the computation went on without it."""


@dataclass(frozen=True)
class StoredState:
    """The validated contents of an estimate or checkpoint file."""

    groups: GroupMoments
    config: dict
    sources: list
    history: dict
    next_batch: int
    complete: bool
    n_eig: int | None
    version: str | None


def state_arrays(groups: GroupMoments, config: dict, sources, history, next_batch: int, complete: bool,
                 n_eig: int | None = None) -> dict:
    """The arrays of one file (group state, configuration, provenance, progress and history)."""
    arrays = {f"group_{k}": v for k, v in groups.arrays().items()}
    arrays["format"] = np.str_(FORMAT)
    arrays["package_version"] = np.str_(__version__)
    arrays["config"] = np.str_(json.dumps(config, sort_keys=True))
    arrays["sources"] = np.str_(json.dumps([list(s) for s in sources]))
    arrays["next_batch"] = np.int64(next_batch)
    arrays["complete"] = np.bool_(complete)
    if n_eig is not None:
        arrays["n_eig"] = np.int64(n_eig)
    for key in _HISTORY:
        arrays[f"history_{key}"] = np.asarray(history.get(key, []), dtype=float)
    return arrays


def atomic_savez(path: str | os.PathLike, arrays: dict) -> None:
    """Write ``arrays`` to ``path`` atomically: a uniquely named temporary file in the same directory, flushed
    to disk, then :func:`os.replace`. The temporary file is removed if anything fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.partial")
    try:
        with open(tmp, "xb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        for attempt in range(6):
            try:
                os.replace(tmp, path)
                break
            except PermissionError:  # Windows: the target is open in a reader; it closes soon
                if attempt == 5:
                    raise
                time.sleep(0.05 * 2**attempt)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # pragma: no cover - the directory itself went away
            pass
        raise


def _damaged(path, why: str) -> EstimateFileError:
    return EstimateFileError(f"{path} is damaged or is not a covariance estimate / checkpoint written by spectra "
                             f"({why})")


def read_state(path: str | os.PathLike) -> StoredState:
    """Read and check one file. Raises :class:`EstimateFileError` (a ``ValueError``) for any damage:
    unreadable or truncated zip, bit flips (CRC), unknown format, missing or misshapen arrays, NaN/inf,
    negative counts, moments in empty groups, negative variances, or an inconsistent history. A missing or
    unreadable path raises the usual ``OSError`` (``FileNotFoundError``, ``PermissionError``, ...)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            raw = {k: f[k] for k in f.files}  # reads every member to its end: the zip CRCs are checked
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
        raise  # no file there, or not ours to read: not a damaged file
    except Exception as exc:  # BadZipFile, EOFError, zlib.error, ValueError of a bad header, ...
        raise _damaged(path, f"{type(exc).__name__}: {exc}") from None
    fmt = str(raw["format"]) if "format" in raw and raw["format"].shape == () else None
    if fmt not in _READABLE_FORMATS:
        raise _damaged(path, f"format tag {fmt!r}, expected {FORMAT!r}")
    needed = {"config", "sources", "next_batch", "complete", *(f"group_{k}" for k in GroupMoments.FIELDS)}
    missing = sorted(needed - set(raw))
    if missing:
        raise _damaged(path, f"missing arrays {missing}")
    try:
        config = json.loads(str(raw["config"]))
        sources = json.loads(str(raw["sources"]))
    except (json.JSONDecodeError, UnicodeError) as exc:
        raise _damaged(path, f"unreadable configuration: {exc}") from None
    if not isinstance(config, dict):
        raise _damaged(path, "the configuration is not a mapping")
    if not (isinstance(sources, list) and sources and all(
            isinstance(s, list) and len(s) == 3 and isinstance(s[0], str)
            and all(isinstance(b, int) and not isinstance(b, bool) for b in s[1:]) and 0 <= s[1] < s[2]
            for s in sources)):
        raise _damaged(path, f"invalid sources {sources!r}")
    for key, kind in (("next_batch", "i"), ("complete", "b"), ("n_eig", "i")):
        if key in raw and (raw[key].shape != () or raw[key].dtype.kind != kind):
            raise _damaged(path, f"{key} must be a scalar of kind {kind!r}, got {raw[key].dtype} {raw[key].shape}")
    arrays = {k: raw[f"group_{k}"] for k in GroupMoments.FIELDS}
    if arrays["n"].dtype.kind not in "iu" or any(arrays[k].dtype.kind != "f" for k in GroupMoments.FIELDS[1:]):
        raise _damaged(path, "group arrays of the wrong type")
    try:
        groups = GroupMoments.from_arrays(arrays, where=str(path))
    except ValueError as exc:
        raise _damaged(path, str(exc)) from None
    _check_moments(path, groups)
    history = {}
    for key in _HISTORY:
        h = raw.get(f"history_{key}", np.zeros(0))
        if h.ndim != 1 or h.dtype.kind != "f":
            raise _damaged(path, f"history_{key} must be a 1-d float array")
        history[key] = h
    lengths = {h.size for h in history.values()}
    hist_n = history["n"]
    if len(lengths) > 1 or not np.all(np.isfinite(hist_n)) or np.any(np.diff(hist_n) < 0) or \
            np.any(hist_n < 0) or np.any(hist_n > groups.n.sum()):
        raise _damaged(path, "inconsistent history (lengths, or sample counts not increasing up to the total)")
    n_eig = int(raw["n_eig"]) if "n_eig" in raw else None
    if n_eig is not None and n_eig < 1:
        raise _damaged(path, f"n_eig = {n_eig}")
    version = str(raw["package_version"]) if "package_version" in raw else None
    return StoredState(groups=groups, config=config, sources=[tuple(s) for s in sources], history=history,
                       next_batch=int(raw["next_batch"]), complete=bool(raw["complete"]), n_eig=n_eig,
                       version=version)


def _check_moments(path, g: GroupMoments) -> None:
    for name in GroupMoments.FIELDS[1:]:
        arr = getattr(g, name)
        if not np.all(np.isfinite(arr)):
            bad = np.argwhere(~np.isfinite(arr))[0]
            raise _damaged(path, f"group_{name} holds NaN or inf (group {bad[0]})")
    if np.any(g.n < 0):
        raise _damaged(path, f"negative sample counts {g.n.tolist()}")
    empty = g.n == 0
    if empty.any() and any(np.any(getattr(g, name)[empty] != 0) for name in GroupMoments.FIELDS[1:]):
        raise _damaged(path, "moments in a group without samples")
    for name in ("mvv", "muu"):
        diag = np.diagonal(getattr(g, name), axis1=1, axis2=2)
        scale = np.abs(diag).max(axis=1, keepdims=True)
        if np.any(diag < -1e-8 * scale - 1e-300):
            raise _damaged(path, f"negative sums of squares in group_{name}")


def expected_counts(config: dict, start: int, stop: int, G: int) -> np.ndarray | None:
    """Samples per group after batches ``start <= j < stop`` of the run ``config`` describes (batch ``j`` has
    ``min(batch_size, n_samples - j batch_size)`` samples and goes to group ``j % G``); None if the
    configuration does not say (a merged estimate)."""
    n, b = config.get("n_samples"), config.get("batch_size")
    if not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in (n, b)) or "half" in config:
        return None
    counts = np.zeros(G, dtype=np.int64)
    j = np.arange(start, stop)
    np.add.at(counts, j % G, np.minimum(b, n - j * b))
    return counts


def check_counts(path, state: StoredState, start: int, stop: int) -> None:
    """Check the per-group counts of ``state`` against its configuration: batches ``start..stop-1`` done.
    Raises :class:`EstimateFileError`."""
    G = state.groups.shape[0]
    if state.config.get("groups") not in (None, G):
        raise _damaged(path, f"the configuration has groups = {state.config.get('groups')} but the file holds {G}")
    want = expected_counts(state.config, start, stop, G)
    if want is not None and not np.array_equal(state.groups.n, want):
        raise _damaged(path, f"the groups hold {state.groups.n.tolist()} samples ({int(state.groups.n.sum())} in "
                             f"all) but batches {start}..{stop - 1} give {want.tolist()} ({int(want.sum())})")


def writable_dir_problem(directory: str | os.PathLike) -> str | None:
    """None if files can be created in ``directory`` (created if missing), else the reason they cannot."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create the directory {directory}: {type(exc).__name__}: {exc.strerror or exc}"
    probe = directory / f".write-probe-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    try:
        with open(probe, "xb"):
            pass
    except OSError as exc:
        return f"cannot create files in {directory}: {type(exc).__name__}: {exc.strerror or exc}"
    try:
        probe.unlink()
    except OSError:  # pragma: no cover - created but not removable: still writable
        warnings.warn(f"could not remove the write probe {probe}", StorageWarning, stacklevel=2)
    return None


def cache_key(config: dict, start: int, stop: int) -> str:
    """The cache file name stem: a hash of the file format, the package version and the full configuration
    (model fingerprints, sampling settings, seed and batch range)."""
    material = {"format": FORMAT, "version": __version__, "config": config, "batch_range": [start, stop]}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]


def default_cache_dir() -> Path:
    """``$GAUSSEQUIV_CACHE`` if set, else ``~/.cache/gaussequiv/spectra``."""
    env = os.environ.get("GAUSSEQUIV_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "gaussequiv" / "spectra"
