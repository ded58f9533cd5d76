"""Cache keys: a cache hit is impossible for a different model; the key carries format and version."""

import numpy as np
import pytest

from spectra import estimate_covariances
from spectra.estimate import FingerprintError, fingerprint
from spectra.generators import Generator, SingleLayer

KW = dict(n_samples=600, batch_size=200, seed=1, progress=False)


class _Private(Generator):
    """A generator whose weights are a private attribute (x = tanh(c W^T))."""

    def __init__(self, w):
        self._w = np.asarray(w, dtype=np.float32)
        self.output_dim, self.latent_dim = self._w.shape
        self.name = "private"

    def _forward(self, c):
        return np.tanh(c @ self._w.T)


class _Closure(Generator):
    """A generator that holds its model as a function (a closure or a lambda)."""

    def __init__(self, f, D, N):
        self.f, self.latent_dim, self.output_dim, self.name = f, D, N, "closure"

    def _forward(self, c):
        return self.f(c)


def _scaled(scale):
    def f(c):
        return np.tanh(scale * c)

    return f


_MODEL = {"scale": 1.0}


def _global_model(c):
    return np.tanh(_MODEL["scale"] * c)


class _Hidden(Generator):
    """Keeps a numpy Generator (hidden C state): cannot be fingerprinted."""

    def __init__(self):
        self.latent_dim = self.output_dim = 3
        self.name = "hidden"
        self._rng = np.random.default_rng(0)

    def _forward(self, c):
        return c


def _count_batches(monkeypatch):
    from spectra.estimate import driver

    calls = {"n": 0}
    real = driver.batch_statistics

    def counting(*args):
        calls["n"] += 1
        return real(*args)

    monkeypatch.setattr(driver, "batch_statistics", counting)
    return calls


def _check_cache_separates(tmp_path, a, b):
    """Reference: an uncached run of each model. Two models that differ must get their own cache files, and the
    second must get its own covariances (not the first one's)."""
    assert fingerprint(a) != fingerprint(b)
    est_a = estimate_covariances(a, cache=tmp_path, **KW)
    est_b = estimate_covariances(b, cache=tmp_path, **KW)
    assert len(list(tmp_path.glob("*.npz"))) == 2
    np.testing.assert_array_equal(est_b.omega, estimate_covariances(b, **KW).omega)
    assert not np.allclose(est_a.omega, est_b.omega)
    np.testing.assert_array_equal(estimate_covariances(a, cache=tmp_path, **KW).omega, est_a.omega)


def test_models_differing_only_in_a_private_weight_matrix(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3))
    _check_cache_separates(tmp_path, _Private(w), _Private(w[::-1]))


def test_models_held_in_closures(tmp_path):
    _check_cache_separates(tmp_path, _Closure(_scaled(0.5), 3, 3), _Closure(_scaled(2.0), 3, 3))


def test_models_held_in_lambdas_and_module_globals(tmp_path, monkeypatch):
    a, b = _Closure(lambda c: np.tanh(c), 3, 3), _Closure(lambda c: np.tanh(3 * c), 3, 3)
    _check_cache_separates(tmp_path / "lambda", a, b)
    g = _Closure(_global_model, 3, 3)
    before = fingerprint(g)
    monkeypatch.setitem(_MODEL, "scale", 2.0)  # the model changes through a global the function reads
    assert fingerprint(g) != before


def test_same_model_rebuilt_hits_the_cache(tmp_path, monkeypatch):
    """An equal model built again (a new object) is a cache hit: no batch is computed."""
    est = estimate_covariances(SingleLayer(3, 5, seed=2), cache=tmp_path, **KW)
    calls = _count_batches(monkeypatch)
    again = estimate_covariances(SingleLayer(3, 5, seed=2), cache=tmp_path, **KW)
    assert calls["n"] == 0
    np.testing.assert_array_equal(again.omega, est.omega)
    estimate_covariances(SingleLayer(3, 5, "tanh", seed=2), cache=tmp_path, **KW)
    assert calls["n"] == 3 and len(list(tmp_path.glob("*.npz"))) == 2


def test_unfingerprintable_model_needs_an_explicit_key(tmp_path, monkeypatch):
    gen = _Hidden()
    with pytest.raises(FingerprintError, match=r"gen._rng is a numpy.random._generator.Generator"):
        fingerprint(gen, "gen")
    with pytest.raises(ValueError, match=r"cache= needs to identify the model, but generator._rng is a numpy"):
        estimate_covariances(gen, cache=tmp_path, **KW)
    with pytest.raises(ValueError, match="checkpoint= needs to identify the model.*model_key"):
        estimate_covariances(gen, checkpoint=tmp_path / "ck.npz", **KW)
    assert not list(tmp_path.iterdir())
    est = estimate_covariances(gen, **KW)  # without cache or checkpoint nothing needs a key
    assert est.config["generator_fingerprint"] is None
    with pytest.raises(ValueError, match="cannot merge: the generator of one estimate could not be fingerprinted"):
        est.merge(estimate_covariances(gen, **dict(KW, seed=2)))
    keyed = estimate_covariances(gen, cache=tmp_path, model_key="identity-3", **KW)
    calls = _count_batches(monkeypatch)
    np.testing.assert_array_equal(estimate_covariances(gen, cache=tmp_path, model_key="identity-3", **KW).omega,
                                  keyed.omega)
    assert calls["n"] == 0
    estimate_covariances(gen, cache=tmp_path, model_key="another", **KW)
    assert calls["n"] == 3 and len(list(tmp_path.glob("*.npz"))) == 2
    with pytest.raises(TypeError, match="model_key must be a non-empty string"):
        estimate_covariances(gen, model_key="", **KW)


def test_key_includes_format_and_package_version(tmp_path, monkeypatch):
    from spectra.estimate import storage

    gen = SingleLayer(3, 5, seed=2)
    estimate_covariances(gen, cache=tmp_path, **KW)
    names = {p.name for p in tmp_path.glob("*.npz")}
    monkeypatch.setattr(storage, "__version__", "999.0")
    estimate_covariances(gen, cache=tmp_path, **KW)
    names2 = {p.name for p in tmp_path.glob("*.npz")}
    monkeypatch.setattr(storage, "FORMAT", "gaussequiv-covariance-estimate-999")
    monkeypatch.setattr(storage, "_READABLE_FORMATS", ("gaussequiv-covariance-estimate-999",))
    estimate_covariances(gen, cache=tmp_path, **KW)
    names3 = {p.name for p in tmp_path.glob("*.npz")}
    assert len(names) == 1 and len(names2) == 2 and len(names3) == 3


def test_cached_run_returns_the_n_eig_asked_for(tmp_path, monkeypatch):
    """Reference: the uncached estimate with the same n_eig (leading eigenvalues of the same omega)."""
    gen = SingleLayer(4, 12, "relu", seed=0)
    first = estimate_covariances(gen, cache=tmp_path, n_eig=3, **KW)
    assert first.eigvals.size == 3
    calls = _count_batches(monkeypatch)
    hit = estimate_covariances(gen, cache=tmp_path, n_eig=7, **KW)
    assert calls["n"] == 0 and hit.eigvals.size == 7
    ref = estimate_covariances(gen, n_eig=7, **KW)
    np.testing.assert_allclose(hit.eigvals, ref.eigvals, rtol=1e-12)
    np.testing.assert_allclose(hit.eigvals_se, ref.eigvals_se, rtol=1e-9)


def test_seed_sequences_are_cacheable(tmp_path, monkeypatch):
    gen = SingleLayer(3, 5, seed=2)
    kw = dict(KW, seed=np.random.SeedSequence(11, spawn_key=(3,)))
    est = estimate_covariances(gen, cache=tmp_path, **kw)
    calls = _count_batches(monkeypatch)
    np.testing.assert_array_equal(estimate_covariances(gen, cache=tmp_path, **kw).omega, est.omega)
    assert calls["n"] == 0
    estimate_covariances(gen, cache=tmp_path, **dict(KW, seed=np.random.SeedSequence(11, spawn_key=(4,))))
    assert calls["n"] == 3


def test_fingerprint_walks_cycles_and_sees_every_attribute():
    a = SingleLayer(3, 4, seed=0)
    b = SingleLayer(3, 4, seed=0)
    a.me = a  # a reference cycle
    b.me = b
    assert fingerprint(a) == fingerprint(b)
    b.extra = {"k": [1, 2.0, (np.float32(3),)]}
    assert fingerprint(a) != fingerprint(b)
    assert fingerprint(None) == "none"
    assert fingerprint({"x": 1.0}) != fingerprint({"x": 1})  # types matter


def test_fingerprints_are_the_same_in_another_process(tmp_path):
    """A cache written by one session must be found by the next: fingerprints do not depend on object ids or
    on the string-hash seed (reference: the same objects built in a subprocess with another PYTHONHASHSEED)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from spectra.cli import centred_problem

    code = ("from spectra.cli import centred_problem; from spectra.estimate import fingerprint; "
            "print(' '.join(fingerprint(o) for o in centred_problem('single-sign:10x20:3', 'rf-erf:30', 0, 100)))")
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=str(Path(__file__).resolve().parents[2]),
               OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    here = " ".join(fingerprint(o) for o in centred_problem("single-sign:10x20:3", "rf-erf:30", 0, 100))
    assert out.split() == here.split()


def test_too_deep_objects_are_refused_not_crashed():
    deep = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(FingerprintError, match="nested too deeply"):
        fingerprint(deep, "deep")
