"""Streaming covariance estimation (theory §3.1-3.2)."""

import json
import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaussequiv.seeding import stream
from spectra import CovarianceEstimate, Spectrum, estimate_covariances
from spectra.analytic import single_layer_covariances
from spectra.estimate import SEED_KIND, GroupMoments, batch_moments
from spectra.features import random_features
from spectra.generators import SingleLayer


class _NaNGenerator(SingleLayer):
    """A sign layer whose batch with a huge first latent returns NaN (to test the error path)."""

    def _forward(self, c):
        x = super()._forward(c)
        if c[0, 0] > 2.0:
            x[1, 3] = np.nan
        return x


def test_monte_carlo_converges_like_inverse_sqrt_n():
    """Reference: the exact arcsine-law covariance (closed form). The relative Frobenius error of the
    estimate falls like n^(-1/2): fitted log-log slope in [-0.6, -0.4]."""
    gen = SingleLayer(30, 60, "sign", seed=0)
    omega, _ = single_layer_covariances(gen.weights, "sign")
    ns = np.array([1000, 4000, 16000, 64000])
    errs = []
    for n in ns:
        est = estimate_covariances(gen, n_samples=int(n), batch_size=2000, seed=1, progress=False,
                                   reference=omega)
        errs.append(np.linalg.norm(est.omega - omega) / np.linalg.norm(omega))
        assert est.history["rel_error"][-1] == pytest.approx(errs[-1])
    slope = np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert -0.6 < slope < -0.4, slope


def _latents(seed, sizes, D):
    """The estimator's latents, regenerated from its documented streams: batch j draws from child j of
    gaussequiv.seeding.stream(seed, "estimate.latents")."""
    children = stream(seed, "estimate.latents").spawn(len(sizes))
    return [np.random.default_rng(ch).standard_normal((n, D), dtype=np.float32)
            for ch, n in zip(children, sizes, strict=True)]


def test_pooled_estimate_equals_numpy_covariance():
    """Reference: numpy.cov(bias=True) of the very same samples (regenerated from the batch streams)."""
    gen = SingleLayer(6, 9, "relu", seed=2)
    est = estimate_covariances(gen, n_samples=2500, batch_size=300, seed=7, progress=False, groups=3)
    assert SEED_KIND == "estimate.latents"
    root = stream(7, SEED_KIND)
    cs = [np.random.default_rng(child).standard_normal((min(300, 2500 - 300 * j), 6), dtype=np.float32)
          for j, child in enumerate(root.spawn(9))]
    c = np.concatenate(cs).astype(float)
    x = gen(c.astype(np.float32)).astype(float)
    joint = np.cov(np.hstack([x, c]).T, bias=True)
    np.testing.assert_allclose(est.omega, joint[:9, :9], atol=1e-12)
    np.testing.assert_allclose(est.phi, joint[:9, 9:], atol=1e-12)
    np.testing.assert_allclose(est.psi, joint[9:, 9:], atol=1e-12)
    np.testing.assert_allclose(est.mean_v, x.mean(0), atol=1e-12)
    assert est.n == 2500


def test_standard_errors_are_calibrated():
    """Reference: simulation. Over 20 independent runs the spread of an entry's estimate matches its
    reported batch-means standard error (ratio within sampling error)."""
    gen = SingleLayer(5, 6, "sign", seed=3)
    runs = [estimate_covariances(gen, n_samples=4000, batch_size=250, seed=s, progress=False, groups=16)
            for s in range(20)]
    spread = np.std([r.omega for r in runs], axis=0, ddof=1)
    se = np.mean([r.omega_se for r in runs], axis=0)
    off = ~np.eye(6, dtype=bool)
    ratio = np.mean(se[off] / spread[off])
    assert 0.75 < ratio < 1.3, ratio
    ratio_eig = np.mean([r.eigvals_se[0] for r in runs]) / np.std([r.eigvals[0] for r in runs], ddof=1)
    assert 0.5 < ratio_eig < 2.0, ratio_eig


def test_merge_of_two_halves_equals_the_whole():
    """Reference: the uninterrupted single run (exact pooled update; equal to round-off)."""
    gen = SingleLayer(8, 12, "erf", seed=4)
    feats = random_features(12, 10, "relu", seed=5)
    kw = dict(n_samples=5000, batch_size=400, seed=9, progress=False, groups=4)
    whole = estimate_covariances(gen, feats, **kw)
    a = estimate_covariances(gen, feats, batch_range=(0, 5), **kw)
    b = estimate_covariances(gen, feats, batch_range=(5, 13), **kw)
    for merged in (a.merge(b), b.merge(a)):
        assert merged.n == whole.n
        for name in ("mean_v", "mean_u", "omega", "phi", "psi", "omega_se", "eigvals"):
            np.testing.assert_allclose(getattr(merged, name), getattr(whole, name), rtol=1e-12, atol=1e-14,
                                       err_msg=name)
    with pytest.raises(ValueError, match="share batches 4..4"):
        a.merge(estimate_covariances(gen, feats, batch_range=(4, 6), **kw))
    other = estimate_covariances(SingleLayer(8, 12, "erf", seed=99), feats, **kw)
    with pytest.raises(ValueError, match="different generator_fingerprint"):
        whole.merge(other)
    with pytest.raises(TypeError, match="can only merge"):
        whole.merge(whole.omega)


def test_independent_seeds_merge_into_more_samples():
    gen = SingleLayer(4, 5, "sign", seed=0)
    a = estimate_covariances(gen, n_samples=1000, batch_size=100, seed=1, progress=False)
    b = estimate_covariances(gen, n_samples=3000, batch_size=100, seed=2, progress=False)
    m = a.merge(b)
    assert m.n == 4000 and len(m.sources) == 2
    np.testing.assert_allclose(m.mean_v, (a.mean_v * 1000 + b.mean_v * 3000) / 4000, atol=1e-14)


def test_resume_equals_uninterrupted(tmp_path, monkeypatch):
    """Reference: the uninterrupted run with the same seed (bitwise)."""
    from spectra.estimate import driver

    gen = SingleLayer(6, 8, "tanh", seed=5)
    kw = dict(n_samples=3000, batch_size=200, seed=3, progress=False, checkpoint_every=4)
    whole = estimate_covariances(gen, **kw)
    ck = tmp_path / "run.npz"

    class Interrupt(Exception):
        pass

    calls = {"n": 0}
    real = driver.batch_statistics

    def flaky(*args):  # the run is interrupted from outside the model (its fingerprint stays the same)
        calls["n"] += 1
        if calls["n"] == 10:
            raise Interrupt
        return real(*args)

    monkeypatch.setattr(driver, "batch_statistics", flaky)
    with pytest.raises(Interrupt):
        estimate_covariances(gen, checkpoint=ck, **kw)
    with np.load(ck) as f:
        assert not bool(f["complete"]) and int(f["next_batch"]) == 8
    resumed = estimate_covariances(gen, checkpoint=ck, **kw)
    assert calls["n"] == 10 + (15 - 8)  # only the missing batches ran
    np.testing.assert_array_equal(resumed.omega, whole.omega)
    np.testing.assert_array_equal(resumed.phi, whole.phi)
    np.testing.assert_array_equal(resumed.omega_se, whole.omega_se)
    # a completed checkpoint is returned as is, and loads as an estimate
    again = estimate_covariances(gen, checkpoint=ck, **kw)
    assert calls["n"] == 17
    np.testing.assert_array_equal(again.omega, whole.omega)
    np.testing.assert_array_equal(CovarianceEstimate.load(ck).omega, whole.omega)


def test_mismatched_checkpoint_is_refused(tmp_path):
    gen = SingleLayer(6, 8, "tanh", seed=5)
    ck = tmp_path / "run.npz"
    estimate_covariances(gen, n_samples=1000, batch_size=200, seed=3, progress=False, checkpoint=ck)
    with pytest.raises(ValueError, match="batch_size is 200 in the checkpoint but 100 now"):
        estimate_covariances(gen, n_samples=1000, batch_size=100, seed=3, progress=False, checkpoint=ck)
    with pytest.raises(ValueError, match="seed is"):
        estimate_covariances(gen, n_samples=1000, batch_size=200, seed=4, progress=False, checkpoint=ck)
    with pytest.raises(ValueError, match="generator_fingerprint"):
        estimate_covariances(SingleLayer(6, 8, "tanh", seed=6), n_samples=1000, batch_size=200, seed=3,
                             progress=False, checkpoint=ck)
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.ones(3))
    with pytest.raises(ValueError, match="not a covariance estimate"):
        estimate_covariances(gen, n_samples=1000, batch_size=200, seed=3, progress=False, checkpoint=bad)


def test_nan_generator_names_the_batch_and_leaves_no_complete_checkpoint(tmp_path):
    gen = _NaNGenerator(5, 7, "sign", seed=0)
    ck = tmp_path / "nan.npz"
    with pytest.raises(ValueError, match=r"NaN or inf in batch \d+ \(sample 1 of the batch"):
        estimate_covariances(gen, n_samples=20_000, batch_size=10, seed=0, progress=False, checkpoint=ck,
                             checkpoint_every=1)
    if ck.exists():
        with np.load(ck) as f:
            assert not bool(f["complete"])
        with pytest.raises(ValueError, match="incomplete checkpoint"):
            CovarianceEstimate.load(ck)
    assert not list(tmp_path.glob("*.partial"))


def test_bad_input():
    gen = SingleLayer(4, 6, "sign", seed=0)
    with pytest.raises(ValueError, match="n_samples must be >= 2"):
        estimate_covariances(gen, n_samples=1, progress=False)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        estimate_covariances(gen, n_samples=10, batch_size=0, progress=False)
    with pytest.raises(TypeError, match="n_samples must be an int"):
        estimate_covariances(gen, n_samples=10.5, progress=False)
    with pytest.raises(ValueError, match="input_dim = 7 inputs but the generator has output_dim = 6"):
        estimate_covariances(gen, random_features(7, 3, seed=0), n_samples=10, progress=False)
    with pytest.raises(TypeError, match="generator must be callable"):
        estimate_covariances(np.eye(3), n_samples=10, progress=False)
    with pytest.raises(ValueError, match="precision"):
        estimate_covariances(gen, n_samples=10, precision="float16", progress=False)
    with pytest.raises(ValueError, match="batch_range"):
        estimate_covariances(gen, n_samples=10, batch_size=5, batch_range=(1, 5), progress=False)
    with pytest.raises(TypeError, match="seed must be an int >= 0"):
        estimate_covariances(gen, n_samples=10, seed=None, progress=False)
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        estimate_covariances(gen, n_samples=10, seed=-1, progress=False)
    with pytest.raises(ValueError, match=r"reference must have shape \(6, 6\)"):
        estimate_covariances(gen, n_samples=10, reference=np.eye(5), progress=False)

    class WrongShape(SingleLayer):
        def _forward(self, c):
            return super()._forward(c)[:, :5]

    with pytest.raises(ValueError, match="generator returned shape"):
        estimate_covariances(WrongShape.from_weights(gen.weights), n_samples=10, progress=False)


def test_float32_precision_close_to_float64():
    """Reference: the float64 run of the same samples (float32 products differ only by round-off)."""
    gen = SingleLayer(10, 30, "erf", seed=0)
    a = estimate_covariances(gen, n_samples=4000, batch_size=1000, seed=0, progress=False)
    b = estimate_covariances(gen, n_samples=4000, batch_size=1000, seed=0, progress=False, precision="float32")
    np.testing.assert_allclose(b.omega, a.omega, atol=1e-5)
    np.testing.assert_allclose(b.phi, a.phi, atol=1e-5)


def test_save_load_cache_and_spectrum(tmp_path, caplog):
    gen = SingleLayer(5, 8, "sign", seed=0)
    kw = dict(n_samples=2000, batch_size=250, seed=1, progress=False)
    with caplog.at_level(logging.INFO, logger="spectra.estimate"):
        est = estimate_covariances(gen, cache=tmp_path, **kw)
    assert any("RMS change" in r.message for r in caplog.records)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    cached = estimate_covariances(gen, cache=tmp_path, **kw)
    np.testing.assert_array_equal(cached.omega, est.omega)
    est.save(tmp_path / "e.npz")
    back = CovarianceEstimate.load(tmp_path / "e.npz")
    for name in ("omega", "phi", "psi", "omega_se", "eigvals", "eigvals_se", "mean_v"):
        np.testing.assert_array_equal(getattr(back, name), getattr(est, name))
    d = est.to_dict()
    json.dumps(d["config"])
    assert d["omega"].shape == (8, 8)
    spec = Spectrum.from_estimate(est, theta=np.ones(5))
    ref = Spectrum.from_covariances(omega=est.omega, phi=est.phi, psi=est.psi, theta=np.ones(5))
    np.testing.assert_allclose(spec.t, ref.t)
    assert est.spectrum().teacher == "averaged"
    with pytest.raises(TypeError, match="must be a CovarianceEstimate"):
        Spectrum.from_estimate(np.eye(3))


def test_dask_local_cluster_equals_single_process():
    """Reference: the single-process run with the same seed (equal to round-off)."""
    distributed = pytest.importorskip("distributed")
    gen = SingleLayer(6, 10, "sign", seed=0)
    kw = dict(n_samples=4000, batch_size=250, seed=2, progress=False, groups=4)
    local = estimate_covariances(gen, **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = estimate_covariances(gen, client=client, **kw)
    for name in ("omega", "phi", "psi", "omega_se", "mean_v"):
        np.testing.assert_allclose(getattr(remote, name), getattr(local, name), rtol=1e-12, atol=1e-15)
    assert remote.n == local.n


def test_fingerprint_sees_nested_weights():
    """Two DCGANs of the same architecture but different weights must not share a checkpoint or cache key."""
    from spectra.dcgan import DCGAN
    from spectra.estimate import fingerprint

    a, b = (DCGAN.random(seed=s, ngf=4, image_size=8, calibration=8) for s in (0, 1))
    assert a.name == b.name and fingerprint(a) != fingerprint(b)
    assert fingerprint(a) == fingerprint(DCGAN.random(seed=0, ngf=4, image_size=8, calibration=8))


@given(sizes=st.lists(st.integers(1, 40), min_size=2, max_size=12), G=st.integers(1, 5),
       split=st.integers(0, 12), seed=st.integers(0, 2**16))
@settings(max_examples=25, deadline=None)
def test_grouped_pooled_update_equals_numpy_cov(sizes, G, split, seed):
    """Reference: numpy.cov(bias=True) of all rows. Property: for any batch sizes, any number of groups and
    any split point, the pooled (Chan) updates, and the merge of the two parts, reproduce the covariance."""
    rng = np.random.default_rng(seed)
    batches = [(rng.standard_normal((n, 3)) * [1, 2, 3] + [5, -1, 0],
                rng.standard_normal((n, 2)) + 1) for n in sizes]
    split = min(split, len(batches))
    whole, first, second = GroupMoments(G, 3, 2), GroupMoments(G, 3, 2), GroupMoments(G, 3, 2)
    for j, (v, u) in enumerate(batches):
        stats = batch_moments(v, u, np.float64)
        whole.add(j % G, *stats)
        (first if j < split else second).add(j % G, *stats)
    v = np.concatenate([b[0] for b in batches])
    u = np.concatenate([b[1] for b in batches])
    joint = np.cov(np.hstack([v, u]).T, bias=True)
    for state in (whole, first.merge(second)):
        n, mv, mu, mvv, mvu, muu = state.pooled()
        assert n == len(v)
        np.testing.assert_allclose(mv, v.mean(0), atol=1e-12)
        np.testing.assert_allclose(mvv / n, joint[:3, :3], atol=1e-11)
        np.testing.assert_allclose(mvu / n, joint[:3, 3:], atol=1e-11)
        np.testing.assert_allclose(muu / n, joint[3:, 3:], atol=1e-11)


def test_teacher_features_estimate_psi():
    """Reference: numpy.cov(bias=True) of the same samples, with u = tanh(c) A as teacher features."""
    gen = SingleLayer(4, 6, "sign", seed=0)
    A = np.random.default_rng(1).standard_normal((4, 3))

    def tf(c):
        return np.tanh(np.asarray(c, dtype=float)) @ A

    est = estimate_covariances(gen, n_samples=900, batch_size=300, seed=2, progress=False, teacher_features=tf)
    assert est.psi.shape == (3, 3) and est.phi.shape == (6, 3) and est.config["k"] == 3
    c = np.concatenate(_latents(2, [300] * 3, 4))
    joint = np.cov(np.hstack([gen(c), tf(c)]).T, bias=True)
    np.testing.assert_allclose(est.psi, joint[6:, 6:], atol=1e-12)
    np.testing.assert_allclose(est.phi, joint[:6, 6:], atol=1e-12)
    with pytest.raises(ValueError, match="teacher_features returned shape"):
        estimate_covariances(gen, n_samples=10, progress=False, teacher_features=lambda c: np.full((len(c), 2),
                                                                                                  np.nan))


def test_halves_are_disjoint_and_recombine():
    """Reference: the whole estimate (pooled identity) and numpy.cov of each half's own batches."""
    gen = SingleLayer(5, 7, "erf", seed=1)
    est = estimate_covariances(gen, n_samples=3200, batch_size=200, seed=4, progress=False, groups=8)
    a, b = est.halves()
    assert a.n + b.n == est.n and a.config["groups"] == 4
    np.testing.assert_allclose(a.merge(b).omega, est.omega, rtol=1e-12, atol=1e-15)
    # half a holds batches j with j % 8 < 4
    c = np.concatenate([c for j, c in enumerate(_latents(4, [200] * 16, 5)) if j % 8 < 4])
    np.testing.assert_allclose(a.omega, np.cov(gen(c).T, bias=True), atol=1e-12)
    small = estimate_covariances(gen, n_samples=400, batch_size=200, seed=4, progress=False, groups=2)
    with pytest.raises(ValueError, match="at least 4 batch-means groups"):
        small.halves()
