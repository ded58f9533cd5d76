"""Work is never lost, files never mixed up: fault injection on the cache, checkpoints and estimate files."""

import errno
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from spectra import CovarianceEstimate, estimate_covariances
from spectra.estimate import EstimateFileError, StorageWarning
from spectra.estimate.storage import atomic_savez, read_state
from spectra.generators import SingleLayer

GEN = SingleLayer(4, 6, "tanh", seed=5)
KW = dict(n_samples=1600, batch_size=200, seed=3, progress=False, groups=4)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def whole():
    """The uninterrupted, uncached run: the reference every recovered run must equal bitwise."""
    return estimate_covariances(GEN, **KW)


def _leftovers(directory):
    return [p.name for p in Path(directory).rglob("*") if ".partial" in p.name or ".write-probe" in p.name]


# ------------------------------------------------------------------------------------ unwritable cache
@pytest.mark.parametrize("make", ["file", "under_file"])
def test_unusable_cache_path_still_returns_the_result(tmp_path, whole, make):
    """The cache path is an existing file, or lies under one (unwritable even for root): the estimate is
    computed, returned (equal to the uncached run) and a StorageWarning says it was not cached."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    cache = blocker if make == "file" else blocker / "sub"
    with pytest.warns(StorageWarning, match="not cached"):
        est = estimate_covariances(GEN, cache=cache, **KW)
    np.testing.assert_array_equal(est.omega, whole.omega)
    assert blocker.read_text() == "not a directory"


def test_read_only_cache_directory(tmp_path, whole):
    """chmod 0o555: blocks writes for ordinary users (skipped where it does not, e.g. as root)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        try:
            (ro / "probe").write_text("x")
        except PermissionError:
            pass
        else:
            pytest.skip("chmod does not block writes here (running as root)")
        with pytest.warns(StorageWarning, match="not cached"):
            est = estimate_covariances(GEN, cache=ro, **KW)
        np.testing.assert_array_equal(est.omega, whole.omega)
    finally:
        ro.chmod(0o755)


def test_failed_cache_write_at_the_end_returns_the_result(tmp_path, whole, monkeypatch):
    """The disk fills up as the finished estimate is written: the result is still returned, with a warning,
    and no temporary file is left behind."""
    from spectra.estimate import storage

    real = np.savez

    def full_disk(f, **arrays):
        real(f, **arrays)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.np, "savez", full_disk)
    with pytest.warns(StorageWarning, match="could not write the cache file"):
        est = estimate_covariances(GEN, cache=tmp_path, **KW)
    np.testing.assert_array_equal(est.omega, whole.omega)
    assert not list(tmp_path.glob("*.npz")) and not _leftovers(tmp_path)


def test_cached_result_survives_a_read_only_cache(tmp_path, whole, monkeypatch):
    """A cache that can be read but not written still serves its hits."""
    from spectra.estimate import driver

    estimate_covariances(GEN, cache=tmp_path, **KW)
    monkeypatch.setattr(driver, "writable_dir_problem", lambda d: "read-only for this test")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hit = estimate_covariances(GEN, cache=tmp_path, **KW)
    np.testing.assert_array_equal(hit.omega, whole.omega)


# ------------------------------------------------------------------------------------ checkpoints
def test_unwritable_checkpoint_is_refused_before_any_work(tmp_path, monkeypatch):
    from spectra.estimate import driver

    calls = []
    monkeypatch.setattr(driver, "batch_statistics", lambda *a: calls.append(a))
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="checkpoint=.*cannot be written.*before any work"):
        estimate_covariances(GEN, checkpoint=blocker / "run.npz", **KW)
    with pytest.raises(ValueError, match="is a directory"):
        estimate_covariances(GEN, checkpoint=tmp_path, **KW)
    assert not calls


def test_failed_checkpoint_write_mid_run_keeps_going(tmp_path, whole, monkeypatch):
    from spectra.estimate import driver

    def broken(path, arrays):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(driver, "atomic_savez", broken)
    with pytest.warns(StorageWarning, match="could not write checkpoint") as record:
        est = estimate_covariances(GEN, checkpoint=tmp_path / "run.npz", checkpoint_every=2, **KW)
    assert len([w for w in record if issubclass(w.category, StorageWarning)]) == 1  # warned once, not per write
    np.testing.assert_array_equal(est.omega, whole.omega)


# ------------------------------------------------------------------------------------ racing writers
def test_racing_writers_and_readers_threads(tmp_path):
    """Eight threads write the same file while four read it: no writer crashes, every read sees a complete
    file (one of the written versions), and no temporary file is left."""
    target = tmp_path / "shared.npz"
    versions = {i: {"x": np.full(5000, float(i)), "i": np.int64(i)} for i in range(8)}
    atomic_savez(target, versions[0])
    errors, seen = [], set()
    stop = threading.Event()

    def writer(i):
        try:
            for _ in range(15):
                atomic_savez(target, versions[i])
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    def reader():
        while not stop.is_set():
            try:
                with np.load(target) as f:
                    i, x = int(f["i"]), f["x"]
                assert np.all(x == i)
                seen.add(i)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
                return

    readers = [threading.Thread(target=reader) for _ in range(4)]
    writers = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not errors, errors
    assert seen and not _leftovers(tmp_path)


def test_racing_estimates_share_one_cache(tmp_path, whole):
    """Two threads run the same cached estimate at once: both get the right result, one intact cache file."""
    results, errors = [], []

    def run():
        try:
            results.append(estimate_covariances(GEN, cache=tmp_path, **KW))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for est in results:
        np.testing.assert_array_equal(est.omega, whole.omega)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and not _leftovers(tmp_path)
    np.testing.assert_array_equal(CovarianceEstimate.load(files[0]).omega, whole.omega)


def test_racing_writer_processes(tmp_path):
    """Two processes save the same key 25 times each while reading it back: neither crashes."""
    script = textwrap.dedent("""
        import sys
        import numpy as np
        from spectra.estimate.storage import atomic_savez
        path, tag = sys.argv[1], int(sys.argv[2])
        for k in range(25):
            atomic_savez(path, {"x": np.full(20000, float(tag)), "k": np.int64(k)})
            with np.load(path) as f:
                assert np.all(f["x"] == f["x"][0])
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    target = tmp_path / "shared.npz"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(target), str(t)], env=env,
                              stderr=subprocess.PIPE, text=True) for t in (1, 2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert not _leftovers(tmp_path)


# ------------------------------------------------------------------------------------ damaged files
@pytest.fixture()
def saved(tmp_path, whole):
    path = tmp_path / "est.npz"
    whole.save(path)
    return path


@pytest.mark.parametrize("damage", ["empty", "truncated", "junk", "half-zip"])
def test_damaged_files_give_one_clear_error(saved, damage):
    data = saved.read_bytes()
    saved.write_bytes({"empty": b"", "truncated": data[: len(data) * 2 // 3], "junk": b"\x00junk" * 100,
                       "half-zip": data[: len(data) // 2] + data[-200:]}[damage])
    with pytest.raises(EstimateFileError, match="is damaged or is not a covariance estimate"):
        CovarianceEstimate.load(saved)


def test_a_bit_flip_anywhere_is_an_error_or_harmless(saved, whole):
    """Reference: the intact file. Flipping one bit at any of ~150 positions across the file either raises
    EstimateFileError or (in zip metadata nobody reads, e.g. a timestamp) loads the exact original numbers."""
    data = saved.read_bytes()
    detected = 0
    for pos in range(0, len(data), max(1, len(data) // 150)):
        flipped = bytearray(data)
        flipped[pos] ^= 0x10
        saved.write_bytes(bytes(flipped))
        try:
            back = CovarianceEstimate.load(saved)
        except EstimateFileError:
            detected += 1
            continue
        for name in ("omega", "phi", "psi", "mean_v", "omega_se"):
            np.testing.assert_array_equal(getattr(back, name), getattr(whole, name), err_msg=f"flip at {pos}")
    assert detected > 100


def test_damaged_cache_file_is_recomputed(tmp_path, whole):
    estimate_covariances(GEN, cache=tmp_path, **KW)
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(path.read_bytes()[:300])
    with pytest.warns(StorageWarning, match="recomputing"):
        est = estimate_covariances(GEN, cache=tmp_path, **KW)
    np.testing.assert_array_equal(est.omega, whole.omega)
    np.testing.assert_array_equal(CovarianceEstimate.load(path).omega, whole.omega)  # rewritten intact


def test_damaged_checkpoint_cannot_be_resumed(tmp_path):
    ck = tmp_path / "run.npz"
    estimate_covariances(GEN, checkpoint=ck, **KW)
    ck.write_bytes(ck.read_bytes()[:-100])
    with pytest.raises(EstimateFileError, match="cannot resume.*damaged.*Delete it"):
        estimate_covariances(GEN, checkpoint=ck, **KW)


# ------------------------------------------------------------------------------------ edited contents
def _partial_checkpoint(tmp_path, monkeypatch, stop_after=5):
    """A genuine checkpoint of a run interrupted after ``stop_after`` batches (checkpoint_every=1)."""
    from spectra.estimate import driver

    calls = {"n": 0}
    real = driver.batch_statistics

    def interrupted(*args):
        calls["n"] += 1
        if calls["n"] > stop_after:
            raise KeyboardInterrupt
        return real(*args)

    ck = tmp_path / "run.npz"
    monkeypatch.setattr(driver, "batch_statistics", interrupted)
    with pytest.raises(KeyboardInterrupt):
        estimate_covariances(GEN, checkpoint=ck, checkpoint_every=1, **KW)
    monkeypatch.setattr(driver, "batch_statistics", real)
    with np.load(ck) as f:
        arrays = {k: f[k] for k in f.files}
    assert int(arrays["next_batch"]) == stop_after and not bool(arrays["complete"])
    return ck, arrays


def _rewrite(path, arrays, **changes):
    np.savez(path, **{**arrays, **changes})


def test_checkpoint_marked_complete_mid_run_is_refused(tmp_path, monkeypatch):
    """A valid zip claiming complete=True after 5 of 8 batches must not come back as a finished estimate."""
    ck, arrays = _partial_checkpoint(tmp_path, monkeypatch)
    _rewrite(ck, arrays, complete=np.bool_(True))
    with pytest.raises(EstimateFileError, match=r"1000 in all\) but batches 0..7 give"):
        CovarianceEstimate.load(ck)
    with pytest.raises(EstimateFileError, match="cannot resume"):
        estimate_covariances(GEN, checkpoint=ck, **KW)
    _rewrite(ck, arrays, complete=np.bool_(True), next_batch=np.int64(8))
    with pytest.raises(EstimateFileError, match="cannot resume.*but batches 0..7 give"):
        estimate_covariances(GEN, checkpoint=ck, **KW)


@pytest.mark.parametrize("next_batch", [2, 7, 9, -1])
def test_edited_next_batch_is_refused(tmp_path, monkeypatch, next_batch):
    """Resuming at an edited next_batch would count batches twice (smaller) or skip them (larger)."""
    ck, arrays = _partial_checkpoint(tmp_path, monkeypatch)
    _rewrite(ck, arrays, next_batch=np.int64(next_batch))
    with pytest.raises(EstimateFileError, match="cannot resume"):
        estimate_covariances(GEN, checkpoint=ck, **KW)


@pytest.mark.parametrize("field, value, message", [
    ("group_mvv", np.nan, "NaN or inf"),
    ("group_mv", np.inf, "NaN or inf"),
    ("group_n", -200, "negative sample counts"),
])
def test_corrupt_state_is_refused(tmp_path, monkeypatch, field, value, message):
    ck, arrays = _partial_checkpoint(tmp_path, monkeypatch)
    bad = arrays[field].copy()
    bad.flat[0] = value
    _rewrite(ck, arrays, **{field: bad})
    with pytest.raises(EstimateFileError, match=message):
        estimate_covariances(GEN, checkpoint=ck, **KW)
    with pytest.raises(EstimateFileError, match=message):
        read_state(ck)


def test_intact_partial_checkpoint_resumes_exactly(tmp_path, monkeypatch, whole):
    """Reference: the uninterrupted run (bitwise); the validation does not refuse genuine checkpoints."""
    ck, _ = _partial_checkpoint(tmp_path, monkeypatch)
    resumed = estimate_covariances(GEN, checkpoint=ck, checkpoint_every=1, **KW)
    np.testing.assert_array_equal(resumed.omega, whole.omega)
    np.testing.assert_array_equal(resumed.omega_se, whole.omega_se)
