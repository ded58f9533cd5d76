"""The numpy DCGAN, the built-in Fashion-MNIST generator and the optional face generator."""

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from spectra.dcgan import DCGAN, builtin_weights_path, conv_transpose2d
from spectra.faces import load_torch_state_dict
from spectra.generators import pretrained

DATA = Path(__file__).parent / "data"


def _naive_conv_transpose(x, w, stride, padding):
    """Definition of the transposed convolution (NCHW): every input pixel scatters w[c_in] * x."""
    n, cin, H, W = x.shape
    _, cout, k, _ = w.shape
    full = np.zeros((n, cout, (H - 1) * stride + k, (W - 1) * stride + k))
    for i in range(H):
        for j in range(W):
            full[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += np.einsum(
                "nc,cokl->nokl", x[:, :, i, j], w)
    return full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]


@pytest.mark.parametrize("stride, padding, k", [(1, 0, 4), (2, 1, 4), (2, 0, 3), (3, 1, 5)])
def test_conv_transpose_matches_definition(stride, padding, k):
    """Reference: the scatter definition of a transposed convolution, in float64."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 4))
    w = rng.standard_normal((3, 2, k, k))
    got = conv_transpose2d(x.transpose(0, 2, 3, 1), w, stride, padding).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, _naive_conv_transpose(x, w, stride, padding), atol=1e-12)


def test_fashion_dcgan_matches_torch_fixture():
    """Reference: outputs of the torch generator (eval mode) saved by the training script; pinned to 1e-5."""
    fixture = np.load(DATA / "fashion_dcgan_fixture.npz")
    gen = pretrained("fashion-dcgan")
    assert (gen.latent_dim, gen.output_dim, gen.image_shape) == (100, 784, (1, 28, 28))
    out = gen(fixture["latents"])
    assert np.max(np.abs(out - fixture["outputs"].reshape(len(out), -1))) < 1e-5


def test_random_dcgan_matches_torch_fixture():
    """Reference: a random DCGAN (ngf=16, 3x32x32, folded batch norm) rebuilt in torch (eval mode) by
    spectra/training/make_random_dcgan_fixture.py; pinned to 1e-5. The fixture stores the weights it was built
    from, so it pins the forward pass whatever seed stream DCGAN.random uses."""
    fixture = DATA / "random_dcgan_fixture.npz"
    gen = DCGAN.load(fixture)
    with np.load(fixture) as f:
        assert gen.output_dim == f["outputs"].shape[1] == 3072
        assert np.max(np.abs(gen(f["latents"]) - f["outputs"])) < 1e-5


def test_fashion_dcgan_outputs_look_like_images():
    gen = pretrained("fashion-dcgan")
    x = gen(np.random.default_rng(0).standard_normal((64, 100)))
    assert np.all(np.abs(x) <= 1) and x.dtype == np.float32
    assert x.std(axis=0).mean() > 0.1  # samples differ: the generator has not collapsed to one image
    assert gen.metadata["dataset"].startswith("Fashion-MNIST")


def test_face_dcgan_matches_torch_fixture():
    """Reference: outputs of the package's torch Generator loaded with torch.load (fixture); 1e-5."""
    pytest.importorskip("spectra.faces")
    try:
        from spectra.faces import face_generator
        gen_full, gen = face_generator(pool=False), face_generator()
    except ImportError:
        pytest.skip("gan-face-generate is not installed (make faces)")
    fixture = np.load(DATA / "face_dcgan_fixture.npz")
    assert gen.output_dim == 3072 and gen.image_shape == (3, 32, 32)
    assert np.max(np.abs(gen_full(fixture["latents"]) - fixture["outputs"])) < 1e-5
    assert np.max(np.abs(gen(fixture["latents"]) - fixture["pooled"])) < 1e-5


def test_pooling_is_2x2_average():
    """Reference: reshape-mean of the unpooled images."""
    gen = DCGAN.random(seed=1, ngf=4, image_size=16, calibration=32)
    pooled = DCGAN(gen.layers, pool=True)
    c = np.random.default_rng(2).standard_normal((3, 100))
    full = gen.images(c)
    ref = full.reshape(3, 3, 8, 2, 8, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(pooled.images(c), ref, atol=1e-6)


def test_random_dcgan_is_seeded():
    a = DCGAN.random(seed=3, ngf=4, calibration=32)
    b = DCGAN.random(seed=3, ngf=4, calibration=32)
    c = np.random.default_rng(0).standard_normal((2, 100))
    np.testing.assert_array_equal(a(c), b(c))
    assert not np.allclose(a(c), DCGAN.random(seed=4, ngf=4, calibration=32)(c))
    with pytest.raises(ValueError, match="image_size must be 4 \\* 2\\*\\*j"):
        DCGAN.random(seed=0, image_size=28)


def _weights_dict():
    with np.load(builtin_weights_path("fashion-dcgan")) as f:
        return {k: f[k] for k in f.files}


def test_bad_weight_files(tmp_path):
    arrays = _weights_dict()
    missing = {k: v for k, v in arrays.items() if k != "layer1_bn_var"}
    np.savez(tmp_path / "missing.npz", **missing)
    with pytest.raises(ValueError, match="missing array 'layer1_bn_var'"):
        DCGAN.load(tmp_path / "missing.npz")
    bad = dict(arrays, layer0_bn_mean=np.zeros(7, dtype=np.float32))
    np.savez(tmp_path / "shape.npz", **bad)
    with pytest.raises(ValueError, match="'layer0_bn_mean' must have shape"):
        DCGAN.load(tmp_path / "shape.npz")
    bad = dict(arrays, layer1_weight=arrays["layer1_weight"][:5])
    np.savez(tmp_path / "chain.npz", **bad)
    with pytest.raises(ValueError, match="layer 1 takes 5 channels but layer 0 gives"):
        DCGAN.load(tmp_path / "chain.npz")
    bad = dict(arrays, layer2_weight=arrays["layer2_weight"][..., 0])
    np.savez(tmp_path / "ndim.npz", **bad)
    with pytest.raises(ValueError, match="'layer2_weight' must be 4-d"):
        DCGAN.load(tmp_path / "ndim.npz")
    bad = dict(arrays, layer0_weight=np.full_like(arrays["layer0_weight"], np.nan))
    np.savez(tmp_path / "nan.npz", **bad)
    with pytest.raises(ValueError, match="finite"):
        DCGAN.load(tmp_path / "nan.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read DCGAN weights"):
        DCGAN.load(tmp_path / "junk.npz")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def _torch_like_zip(path, payload: bytes):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/byteorder", "little")


def test_restricted_unpickler_refuses_non_tensor_payloads(tmp_path, monkeypatch):
    _torch_like_zip(tmp_path / "evil.pt", pickle.dumps({"netG_state_dict": _Evil()}, protocol=2))
    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    with pytest.raises(ValueError, match="refusing .*system: the payload is not a plain tensor"):
        load_torch_state_dict(tmp_path / "evil.pt")
    assert not called

    # a persistent id that is not a storage record
    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return ("file", "/etc/passwd") if obj == "x" else None

    buf = io.BytesIO()
    P(buf, protocol=2).dump({"a": "x"})
    _torch_like_zip(tmp_path / "pid.pt", buf.getvalue())
    with pytest.raises(ValueError, match="not a tensor storage"):
        load_torch_state_dict(tmp_path / "pid.pt")
    (tmp_path / "plain.pt").write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(ValueError, match="not a torch zip checkpoint"):
        load_torch_state_dict(tmp_path / "plain.pt")
