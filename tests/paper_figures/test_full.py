"""The full (paper-scale) figure runs, with the same agreement criteria as the quick variants. Minutes to tens
of minutes each on 2 cores: `make test-slow`."""

import numpy as np
import pytest

from paper_figures import learning_curves, local_fields, online_sgd, spectra

pytestmark = pytest.mark.slow


def test_full_local_fields(tmp_path):
    """Reference: exact covariances / Monte Carlo floor. The figure's claims (paper_figures/local_fields.py
    docstring) at paper scale: both negative controls beyond the 1 - 1e-6 Gaussian bound at every N, the
    pretrained one not falling; random weights on the sign generator beyond it at the smallest N, within it at
    the largest; and the distance falls with N (negative log-log slope)."""
    res = local_fields.run(tmp_path, progress=False)
    claims = res.claims()
    assert all(claims.values()), {k: v for k, v in claims.items() if not v}
    assert res.results[("single-layer sign", "random")].slope < 0


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_quick_local_fields_claims_at_other_seeds(tmp_path, seed):
    """The quick figure's claims are randomised criteria: they must hold at any seed, not only at the seed 0 of
    test_quick.py (--seed 2 broke the criterion they replace: a localised control 0.099 from the Gaussian against
    random weights at 0.118 at N = 4)."""
    claims = local_fields.run(tmp_path, quick=True, seed=seed, progress=False).claims()
    assert all(claims.values()), {k: v for k, v in claims.items() if not v}


def test_full_online_sgd(tmp_path):
    """Reference: the ODE. Every generator's SGD mean within 4 SE + 5% of the ODE at every time."""
    panels = online_sgd.run(tmp_path, progress=False)
    assert all(p.agree for p in panels.values()), {k: (p.max_rel_gap, p.max_z) for k, p in panels.items()}


@pytest.fixture(scope="module")
def full_curves(tmp_path_factory):
    return learning_curves.run(tmp_path_factory.mktemp("curves"), progress=False, face=False)


def test_full_learning_curves(full_curves):
    """Reference: replica theory on the estimated spectrum, and the Gaussian control with the same covariances.
    Every panel complete; the control's test and train error at family p-value >= 1%; generator-data test
    error within 3 SE + 5%, and strictly (family p-value >= 1%) for logistic regression."""
    bad = [(p.features, p.task, p.test_within, p.control_agree, p.comparison.max_abs_z, p.control.max_abs_z)
           for p in full_curves if not p.agree]
    assert not bad, bad
    assert all(p.test_agree for p in full_curves if p.task == "logistic")
    for pnl in full_curves:  # power: a 10% error in the test-error theory leaves the 5% band somewhere
        cmp = pnl.comparison
        row = cmp.quantities.index("test_error")
        wrong = 1.1 * cmp.theory[row]
        assert np.any(np.abs(cmp.mean[row] - wrong) > learning_curves.THRESHOLD * cmp.se[row]
                      + learning_curves.REL_TOL * wrong), (pnl.features, pnl.task)


def test_learning_curves_train_gap_is_not_gaussian(full_curves):
    """The finding of figure 3, pinned so that a change is noticed: for ridge on learned features the
    generator data's train error lies above the theory (largest z > 4, the data above it at every alpha
    below 1) while the Gaussian control with the same covariances agrees with the theory. If this fails
    because the gap closed, the figure's text and the README must change with it."""
    pnl = next(p for p in full_curves if p.features.startswith("learned") and p.task == "ridge")
    row = pnl.comparison.quantities.index("train_error")
    z = pnl.comparison.z[row]
    assert np.nanmax(z) > 4 and np.all(z[pnl.comparison.alphas < 1] > 0), z
    assert pnl.control_agree, pnl.control.summary()


def test_full_spectra(tmp_path):
    """Reference: the exact sign-generator Omega: the estimate on its 10 leading eigenvectors within 4
    Monte Carlo errors."""
    res = spectra.run(tmp_path, progress=False)
    assert np.max(np.abs(res.exact_z)) <= spectra.Z_TOL
