"""The ``gaussequiv spectrum`` subcommand."""

import numpy as np
import pytest

from gaussequiv.cli import main
from spectra import CovarianceEstimate, Spectrum
from spectra.cli import parse_features, parse_generator


def test_spectrum_command_writes_a_spectrum(tmp_path, capsys):
    out, est_out = tmp_path / "s.npz", tmp_path / "e.npz"
    rc = main(["spectrum", "--generator", "single-sign:10x20:3", "--features", "rf-erf:30", "--samples", "3000",
               "--batch-size", "500", "--out", str(out), "--estimate-out", str(est_out), "--no-progress",
               "--teacher", "random:1"])
    assert rc == 0
    spec = Spectrum.load(out)
    est = CovarianceEstimate.load(est_out)
    assert spec.p == 30 and spec.teacher == "fixed" and est.n == 3000
    np.testing.assert_allclose(np.sort(spec.s), np.sort(np.linalg.eigvalsh(est.omega)), atol=1e-10)
    assert "leading eigenvalues" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--generator", "single-sign:10x20", "--features", "rf-gelu:5"], "unknown activation 'gelu'"),
    (["--generator", "cifar"], "unknown --generator 'cifar'"),
    (["--generator", "single-sign:10", "--features", "identity"], "needs two widths"),
    (["--generator", "single-sign:10x20", "--samples", "1"], "n_samples must be >= 2"),
    (["--generator", "single-sign:10x20", "--batch-size", "0"], "batch_size must be >= 1"),
])
def test_spectrum_command_bad_input(tmp_path, capsys, argv, message):
    rc = main(["spectrum", *argv, "--out", str(tmp_path / "s.npz"), "--no-progress"])
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s.npz").exists()


def test_parsers():
    gen = parse_generator("deep-sign:5x6x7:2")
    assert (gen.latent_dim, gen.output_dim) == (5, 7)
    assert parse_features("identity", 7) is None
    assert parse_features("rff:10:0.5:1", 7).output_dim == 10
    with pytest.raises(ValueError, match="unknown --features"):
        parse_features("pca:3", 7)
