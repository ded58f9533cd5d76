"""compare() refuses what cannot be compared, computes its z-scores and p-values as documented, and reports one
verdict per group by the rule of validation.compare; plot() writes a figure; results round-trip to files and
their to_dict() are flat tables."""

import numpy as np
import pytest
from scipy import stats

import replica
from replica import Channel, Loss
from spectra import Spectrum
from spectra.analytic import single_layer_covariances
from spectra.generators import SingleLayer
from spectra.teachers import LinearTeacher
from tests.helpers import Scaled, assert_flat_table
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
    cmp = compare(theory, bad)
    assert cmp.verdict == "incomplete" and not cmp.converged and set(cmp.status) == {"not_converged"}
    assert {g.verdict for g in cmp.groups} == {"incomplete"} and cmp.n_tests == 0


def test_z_scores_by_hand(small):
    """Reference: z = (mean over seeds - theory)/(std(ddof=1)/sqrt(seeds)) computed here with numpy, its two-sided
    p-value from scipy's Student t with seeds - 1 = 2 degrees of freedom, and Holm's adjustment of the smallest
    p-value (times the number of tests)."""
    gen, teacher, cov, spec, sim, curve = small
    cmp = compare(curve, sim)
    j = cmp.quantities.index("test_error")
    vals = sim.test_error
    z = (vals.mean(axis=1) - curve.test_error) / (vals.std(axis=1, ddof=1) / np.sqrt(3))
    np.testing.assert_allclose(cmp.z[j], z, rtol=1e-12)
    np.testing.assert_allclose(cmp.p_value[j], 2 * stats.t.sf(np.abs(z), 2), rtol=1e-10)
    assert cmp.max_abs_z == pytest.approx(np.nanmax(np.abs(cmp.z)))
    assert cmp.n_tests == cmp.z.size == 5 * len(ALPHAS)
    assert cmp.family_p_value == pytest.approx(min(1.0, cmp.n_tests * np.min(cmp.p_value)), rel=1e-12)
    assert (cmp.verdict == "disagree") == (cmp.family_p_value <= cmp.level)


def test_tolerance_is_an_equivalence_margin(small):
    """Reference: the documented p-value with a relative margin, 2 t.sf((|mean - theory| - tol |theory|)/SE), and 1
    when the gap is inside the margin: a margin larger than every observed relative gap gives p = 1 everywhere."""
    gen, teacher, cov, spec, sim, curve = small
    exact = compare(curve, sim)
    gap = np.abs(exact.mean - exact.theory)
    tol = 0.5 * float(np.median(gap / np.abs(exact.theory)))
    cmp = compare(curve, sim, tolerance=tol)
    excess = np.maximum(gap - tol * np.abs(exact.theory), 0.0)
    np.testing.assert_allclose(cmp.p_value, 2 * stats.t.sf(excess / exact.se, 2), rtol=1e-10)
    np.testing.assert_array_equal(cmp.z, exact.z)  # the reported z-scores do not change
    wide = compare(curve, sim, tolerance=1.01 * float(np.max(gap / np.abs(exact.theory))))
    assert np.all(wide.p_value == 1.0) and wide.verdict == "agree" and "margin" in wide.verdict_text()


def test_group_verdicts_blame_the_wrong_quantity(small):
    """Reference: the exact theory with q multiplied by 3 (a wrong overlap) on 12 seeds of exact covariances: the
    overlaps group disagrees, the comparison disagrees, and the rejected points are all q; the unchanged groups
    are not blamed at level 1e-3 (probability >= 1 - 1e-3 for exact quantities). Twelve seeds, not three: with a
    t distribution of 2 degrees of freedom the Holm threshold at 1e-3 is |t| ~ 100, which a 3x error in q only
    exceeds for some draws; with 11 degrees of freedom it is ~ 7, and q is off by ~ 2 q / (0.05 q / sqrt 12) ~ 140
    standard errors at p = 60, at any seed."""
    gen, teacher, cov, spec, _, curve = small
    sim = simulate(gen, None, teacher, Channel.linear(0.1), Loss.square(), 0.1, ALPHAS, covariances=cov, n_test=500,
                   seeds=12, seed=5)
    cmp = compare(Scaled(curve, "q", 3.0), sim, level=1e-3)
    assert cmp.verdict == "disagree" and cmp.group("overlaps").verdict == "disagree"
    assert {cmp.quantities[j] for j in np.flatnonzero(cmp.rejected.any(axis=1))} == {"q"}
    assert cmp.group("test error").verdict == cmp.group("training").verdict == "agree"
    assert "overlaps disagree" in cmp.verdict_text() and "**rejected**" in cmp.summary()
    with pytest.raises(ValueError, match="no quantity of group"):
        compare(curve, sim, quantities=("q",)).group("training")


def test_rule_arguments_are_checked(small):
    """Reference: the documented refusals of level, tolerance and repeated quantities."""
    gen, teacher, cov, spec, sim, curve = small
    for level in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="level"):
            compare(curve, sim, level=level)
    with pytest.raises(ValueError, match="tolerance"):
        compare(curve, sim, tolerance=-0.1)
    with pytest.raises(ValueError, match="repeat"):
        compare(curve, sim, quantities=("q", "q"))


def test_repeated_quantities_are_not_measured(small):
    """Reference: a noiseless channel's labels are the clean target (y = sign(nu), or nu), so test_error_noisy
    equals test_error; the square loss's train_loss is train_error/2. Neither is measured, tabulated or counted:
    asking for one names the reason."""
    gen, teacher, cov, spec, sim, curve = small
    assert sim.quantities == ("test_error", "test_error_noisy", "train_error", "q", "m") and sim.train_loss is None
    logit = simulate(gen, None, teacher, Channel.sign(), Loss.logistic(), 0.1, [1.0], covariances=cov, n_test=100,
                     seeds=2, seed=3)
    assert logit.quantities == ("test_error", "train_loss", "train_error", "q", "m")
    assert logit.test_error_noisy is None
    with pytest.raises(ValueError, match="no label noise"):
        logit.mean("test_error_noisy")
    theory = replica.learning_curve(spec, Loss.logistic(), Channel.sign(), [1.0], 0.1)
    with pytest.raises(ValueError, match="no label noise"):
        compare(theory, logit, quantities=("test_error_noisy",))
    with pytest.raises(ValueError, match="train_error'/2"):
        sim.se("train_loss")
    assert compare(theory, logit).quantities == logit.quantities


def test_to_dict_is_a_flat_table(small):
    """Reference: one row per (point, seed) for a simulation and per (quantity, point) for a comparison, as
    documented (equal-length 1-d columns, checked with numpy alone); the rows hold the same numbers as the
    arrays."""
    gen, teacher, cov, spec, sim, curve = small
    table = sim.to_dict()
    assert_flat_table(table, rows=len(ALPHAS) * sim.seeds)
    np.testing.assert_array_equal(table["q"].reshape(len(ALPHAS), sim.seeds), sim.q)
    assert "train_loss" not in table and set(table["status"]) == {"converged"}
    cmp = compare(curve, sim)
    ctable = cmp.to_dict()
    assert_flat_table(ctable, rows=len(cmp.quantities) * len(ALPHAS))
    np.testing.assert_array_equal(ctable["z"].reshape(cmp.z.shape), cmp.z)
    assert set(ctable["verdict"]) == {cmp.verdict} and len(cmp.rows()) == len(ctable["z"])
    group = dict(zip(ctable["quantity"], ctable["group_verdict"], strict=True))
    assert all(group[q] == g.verdict for g in cmp.groups for q in g.quantities)


def test_per_seed_csv_is_the_to_dict_table(small, tmp_path):
    """Reference: to_dict() itself; the per-seed CSV has its columns in its order and its values (floats
    round-trip exactly through repr)."""
    import csv

    sim = small[4]
    sim.to_csv(tmp_path / "seeds.csv", per_seed=True)
    with open(tmp_path / "seeds.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    table = sim.to_dict()
    assert list(rows[0]) == list(table) and len(rows) == len(table["q"])
    np.testing.assert_array_equal([float(r["q"]) for r in rows], table["q"])
    assert [r["status"] for r in rows] == table["status"].tolist()
    assert [int(r["seed"]) for r in rows] == table["seed"].tolist()


def test_demo_result_tables_are_flat(small, tmp_path):
    """gaussequiv.demo.DemoResult (built here from this module's comparison, without running the demo): to_dict
    is one flat row per (problem, data, quantity, point) and tables()["curves"] one per (problem, point);
    reference: the comparisons' and curves' own tables, stacked in order."""
    from gaussequiv.demo import DemoResult

    sim, curve = small[4], small[5]
    cmp = compare(curve, sim)
    demo = DemoResult(curves={"ridge": curve, "other": curve}, comparisons={"ridge": cmp, "other": cmp},
                      controls={"ridge": cmp, "other": cmp}, out=tmp_path)
    table = demo.to_dict()
    rows = len(cmp.quantities) * len(ALPHAS)
    assert_flat_table(table, rows=4 * rows)
    assert table["problem"].tolist() == ["ridge"] * 2 * rows + ["other"] * 2 * rows
    assert table["data"].tolist()[:2 * rows] == ["generator"] * rows + ["gaussian control"] * rows
    np.testing.assert_array_equal(table["z"][:rows], cmp.to_dict()["z"])
    np.testing.assert_array_equal(table["status"][:rows], cmp.to_dict()["status"])  # each point's, not the demo's
    assert set(table["demo_status"]) == {demo.status} and set(table["out"]) == {str(tmp_path)}
    curves = demo.tables()["curves"]
    assert_flat_table(curves, rows=2 * len(curve))
    np.testing.assert_array_equal(curves["q"], np.tile(curve.q, 2))


def test_to_dict_in_pandas(small):
    """Reference: pandas itself (optional, not a dependency): DataFrame(result.to_dict()) has one row per
    (point, seed) / (quantity, point)."""
    pd = pytest.importorskip("pandas")
    gen, teacher, cov, spec, sim, curve = small
    cmp = compare(curve, sim)
    assert pd.DataFrame(sim.to_dict()).shape == (len(ALPHAS) * sim.seeds, len(sim.to_dict()))
    assert pd.DataFrame(cmp.to_dict()).shape == (len(cmp.quantities) * len(ALPHAS), len(cmp.to_dict()))


def test_select_seeds(small):
    """Reference: the per-seed arrays themselves; bad selections are refused."""
    gen, teacher, cov, spec, sim, curve = small
    part = sim.select_seeds([2, 0])
    assert part.seeds == 2 and np.array_equal(part.test_error, sim.test_error[:, [2, 0]])
    assert np.array_equal(part.rho, sim.rho[[2, 0]]) and part.train_loss is None
    for bad in ([], [0, 0], [3], [1.5]):
        with pytest.raises(ValueError, match="seeds"):
            sim.select_seeds(bad)


def test_plot_and_files(small, tmp_path):
    """Reference: the files exist and round-trip (npz without pickles, CSV with one row per alpha); the figure has
    one panel per group, each titled with that group's verdict, and the title states the comparison's."""
    gen, teacher, cov, spec, sim, curve = small
    cmp = compare(curve, sim)
    fig = plot(cmp, tmp_path / "fig.png", theory=curve)
    assert (tmp_path / "fig.png").stat().st_size > 10_000
    titles = [ax.get_title() for ax in fig.axes]
    assert [t.split(":")[0] for t in titles] == [g.name for g in cmp.groups]
    assert all(t.startswith(f"{g.name}: {g.verdict} ") for t, g in zip(titles, cmp.groups, strict=True))
    assert f": {cmp.verdict} (Holm" in fig.get_suptitle()
    some = plot(cmp, quantities=["test_error"])
    assert len(some.axes) == 1 and "not plotted: training" in some.get_suptitle()
    sim.save(tmp_path / "sim.npz")
    back = SimulationResult.load(tmp_path / "sim.npz")
    np.testing.assert_array_equal(back.test_error, sim.test_error)
    assert back.train_loss is None and back.quantities == sim.quantities
    assert back.loss == sim.loss and back.seeds == sim.seeds and back.classification == sim.classification
    sim.to_csv(tmp_path / "sim.csv")
    sim.to_csv(tmp_path / "seeds.csv", per_seed=True)
    cmp.to_csv(tmp_path / "cmp.csv")
    assert len((tmp_path / "sim.csv").read_text().splitlines()) == 1 + len(ALPHAS)
    assert len((tmp_path / "seeds.csv").read_text().splitlines()) == 1 + 3 * len(ALPHAS)
    assert len((tmp_path / "cmp.csv").read_text().splitlines()) == 1 + 5 * len(ALPHAS)
    assert f"Verdict: **{cmp.verdict}**" in cmp.summary()
    assert cmp.verdict_text().split(": ", 1)[1] in cmp.summary()
    cmp.to_json(tmp_path / "cmp.json")
    import json

    assert json.loads((tmp_path / "cmp.json").read_text())["verdict"] == cmp.verdict
