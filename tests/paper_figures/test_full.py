"""The full (paper-scale) figure runs, with the same agreement criteria as the quick variants. Minutes to tens
of minutes each on 2 cores: `make test-slow`."""

from types import SimpleNamespace

import numpy as np
import pytest

from paper_figures import learning_curves, local_fields, online_sgd, spectra
from validation import compare

pytestmark = pytest.mark.slow

#: Family-wise level of figure 3's verdicts in these tests: an exact theory fails one with probability <= this.
LEVEL = 1e-3


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
    return learning_curves.run(tmp_path_factory.mktemp("curves"), progress=False, face=False, level=LEVEL)


def test_full_learning_curves(full_curves):
    """Reference: replica theory on the estimated spectrum, and the Gaussian control with the same covariances.
    Every panel complete; by the rule of validation.compare at level LEVEL, the control agrees on test and train
    error, the generator data's test error agrees within the 5% margin, and strictly (no margin) for logistic
    regression. Power: the test-error theory multiplied by 1.2 or 1/1.2 disagrees (margin included) in every
    panel (measured: p < 1e-10 in each; a 10% error is resolved in seven of the eight cases, not for ridge on
    random features multiplied by 1.1, whose data sit 1-3% above the theory)."""
    bad = [(p.features, p.task, p.equivalence.verdict_text(), p.control.verdict_text())
           for p in full_curves if not p.agree]
    assert not bad, bad
    assert all(p.converged for p in full_curves)
    assert all(p.test_agree for p in full_curves if p.task == "logistic")
    for pnl in full_curves:
        cmp = pnl.comparison
        row = cmp.quantities.index("test_error")
        for factor in (1.2, 1 / 1.2):
            wrong = SimpleNamespace(alpha=cmp.alphas, lam=cmp.lam, status=cmp.theory_status, loss=cmp.loss,
                                    channel=cmp.channel, test_error=factor * cmp.theory[row])
            judged = compare(wrong, pnl.simulation, quantities=learning_curves.ASSERTED,
                             tolerance=learning_curves.REL_TOL, level=LEVEL)
            assert judged.verdict == "disagree", (pnl.features, pnl.task, factor, judged.verdict_text())


def test_learning_curves_train_gap_is_not_gaussian(full_curves):
    """The finding of figure 3, pinned so that a change is noticed: for ridge on learned features the
    generator data's train error lies above the theory (its training group disagrees by the rule at level LEVEL,
    the data above the theory at every alpha below 1; measured: largest z ~ 9) while the Gaussian control with
    the same covariances agrees with the theory. If this fails because the gap closed, the figure's text and the
    README must change with it."""
    pnl = next(p for p in full_curves if p.features.startswith("learned") and p.task == "ridge")
    row = pnl.comparison.quantities.index("train_error")
    z = pnl.comparison.z[row]
    assert pnl.comparison.group("training").verdict == "disagree", pnl.comparison.summary()
    assert np.all(z[pnl.comparison.alphas < 1] > 0), z
    assert pnl.control_agree, pnl.control.summary()


def test_full_spectra(tmp_path):
    """Reference: the exact sign-generator Omega: the estimate on its 10 leading eigenvectors within 4
    Monte Carlo errors."""
    res = spectra.run(tmp_path, progress=False)
    assert np.max(np.abs(res.exact_z)) <= spectra.Z_TOL
