"""compare() refuses what cannot be compared; plot() writes a figure; results round-trip to files."""

import numpy as np
import pytest

import replica
from replica import Channel, Loss
from spectra import Spectrum
from spectra.analytic import single_layer_covariances
from spectra.generators import SingleLayer
from spectra.teachers import LinearTeacher
from validation import Covariances, SimulationResult, compare, plot, simulate

ALPHAS = [0.5, 1.0, 2.0]


@pytest.fixture(scope="module")
def small():
    gen = SingleLayer(30, 60, "sign", seed=0)
    omega, phi = single_layer_covariances(gen.weights, "sign")
    teacher = LinearTeacher.random(30, seed=1)
    cov = Covariances(omega, phi, np.zeros(60))
    spec = Spectrum.from_covariances(omega=omega, phi=phi, psi=np.eye(30), theta=teacher.theta)
    sim = simulate(gen, None, teacher, Channel.linear(0.1), Loss.square(), 0.1, ALPHAS, covariances=cov,
                   n_test=500, seeds=3, seed=2)
    curve = replica.learning_curve(spec, Loss.square(), Channel.linear(0.1), ALPHAS, 0.1)
    return gen, teacher, cov, spec, sim, curve


def test_refuses_different_problems(small):
    """Reference: the documented refusals (different grids, lam, loss, channel, teacher convention, p)."""
    gen, teacher, cov, spec, sim, curve = small
    with pytest.raises(ValueError, match="alpha grids"):
        compare(replica.learning_curve(spec, Loss.square(), Channel.linear(0.1), [0.5, 1.0], 0.1), sim)
    with pytest.raises(ValueError, match="lam"):
        compare(replica.learning_curve(spec, Loss.square(), Channel.linear(0.1), ALPHAS, 0.2), sim)
    with pytest.raises(ValueError, match="channel"):
        compare(replica.learning_curve(spec, Loss.square(), Channel.linear(0.2), ALPHAS, 0.1), sim)
    with pytest.raises(ValueError, match="loss"):
        compare(replica.learning_curve(spec, Loss.huber(1.0), Channel.linear(0.1), ALPHAS, 0.1), sim)
    averaged = Spectrum.from_covariances_averaged(omega=cov.omega, phi=cov.phi, psi=np.eye(30))
    with pytest.raises(ValueError, match="teacher"):
        compare(curve, sim, spectrum=averaged)
    with pytest.raises(ValueError, match="p ="):
        compare(curve, sim, spectrum=Spectrum.isotropic(10))
    with pytest.raises(TypeError, match="Curve"):
        compare(sim, sim)


def test_refuses_single_seed(small):
    """Reference: an error bar needs two seeds (issue: seeds < 2 when an error bar is asked for)."""
    gen, teacher, cov, spec, sim, curve = small
    one = simulate(gen, None, teacher, Channel.linear(0.1), Loss.square(), 0.1, ALPHAS, covariances=cov, n_test=100,
                   seeds=1, seed=2)
    assert np.all(np.isnan(one.se("test_error")))
    with pytest.raises(ValueError, match="seeds >= 2"):
        compare(curve, one)


def test_nonconverged_fit_is_flagged(small):
    """Reference: an impossible optimiser tolerance; the point is flagged, warned about, its mean is NaN and
    the verdict is 'incomplete' (never a silent number)."""
    from validation import SimulationWarning

    gen, teacher, cov, spec, sim, curve = small
    with pytest.warns(SimulationWarning, match="did not converge"):
        bad = simulate(gen, None, teacher, Channel.sign(), Loss.logistic(), 0.1, ALPHAS, covariances=cov,
                       n_test=100, seeds=2, seed=2, tol=1e-30)
    assert set(bad.status) == {"not_converged"} and np.all(np.isnan(bad.mean("test_error")))
    theory = replica.learning_curve(spec, Loss.logistic(), Channel.sign(), ALPHAS, 0.1)
    assert compare(theory, bad).verdict == "incomplete"


def test_z_scores_by_hand(small):
    """Reference: z = (mean over seeds - theory)/(std(ddof=1)/sqrt(seeds)) computed here with numpy."""
    gen, teacher, cov, spec, sim, curve = small
    cmp = compare(curve, sim)
    j = cmp.quantities.index("test_error")
    vals = sim.test_error
    z = (vals.mean(axis=1) - curve.test_error) / (vals.std(axis=1, ddof=1) / np.sqrt(3))
    np.testing.assert_allclose(cmp.z[j], z, rtol=1e-12)
    assert cmp.max_abs_z == pytest.approx(np.nanmax(np.abs(cmp.z)))


def test_plot_and_files(small, tmp_path):
    """Reference: the files exist and round-trip (npz without pickles, CSV with one row per alpha)."""
    gen, teacher, cov, spec, sim, curve = small
    cmp = compare(curve, sim)
    plot(cmp, tmp_path / "fig.png", theory=curve)
    assert (tmp_path / "fig.png").stat().st_size > 10_000
    sim.save(tmp_path / "sim.npz")
    back = SimulationResult.load(tmp_path / "sim.npz")
    np.testing.assert_array_equal(back.test_error, sim.test_error)
    assert back.loss == sim.loss and back.seeds == sim.seeds and back.classification == sim.classification
    sim.to_csv(tmp_path / "sim.csv")
    sim.to_csv(tmp_path / "seeds.csv", per_seed=True)
    cmp.to_csv(tmp_path / "cmp.csv")
    assert len((tmp_path / "sim.csv").read_text().splitlines()) == 1 + len(ALPHAS)
    assert len((tmp_path / "seeds.csv").read_text().splitlines()) == 1 + 3 * len(ALPHAS)
    assert "Verdict" in cmp.summary() and set(cmp.to_dict()) >= {"z", "verdict", "max_abs_z"}
