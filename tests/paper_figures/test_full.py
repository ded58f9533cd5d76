"""The full (paper-scale) figure runs, with the same agreement criteria as the quick variants. Minutes to tens
of minutes each on 2 cores: `make test-slow`."""

import numpy as np
import pytest

from paper_figures import learning_curves, local_fields, online_sgd, spectra

pytestmark = pytest.mark.slow


def test_full_local_fields(tmp_path):
    """Reference: exact covariances / Monte Carlo floor. Sign generator: the distance falls with N (largest
    below smallest by 5 floor sd, negative slope); both negative controls stay above floor + 10 sd."""
    res = local_fields.run(tmp_path, progress=False).results
    r = res[("single-layer sign", "random")]
    assert r.distance[-1] < r.distance[0] - 5 * r.floor_sd[0] and r.slope < 0
    for gen in ("single-layer sign", "fashion-dcgan pixels"):
        loc = res[(gen, "localised")]
        assert np.all(loc.distance > loc.floor + 10 * loc.floor_sd)


def test_full_online_sgd(tmp_path):
    """Reference: the ODE. Every generator's SGD mean within 4 SE + 5% of the ODE at every time."""
    panels = online_sgd.run(tmp_path, progress=False)
    assert all(p.agree for p in panels.values()), {k: (p.max_rel_gap, p.max_z) for k, p in panels.items()}


def test_full_learning_curves(tmp_path):
    """Reference: replica theory on the estimated spectrum. Every panel complete, family p-value >= 1%."""
    panels = learning_curves.run(tmp_path, progress=False)
    assert all(p.agree for p in panels), [(p.generator, p.features, p.task, p.comparison.max_abs_z) for p in panels]


def test_full_spectra(tmp_path):
    """Reference: the exact sign-generator Omega: the estimate on its 10 leading eigenvectors within 4
    Monte Carlo errors."""
    res = spectra.run(tmp_path, progress=False)
    assert np.max(np.abs(res.exact_z)) <= spectra.Z_TOL
