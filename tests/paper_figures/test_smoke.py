"""Smoke tests of the four paper figures in the default suite: each runs end to end at a tiny size (its settings
shrunk below ``--quick``) and writes its PNG and CSV with a sidecar. Their agreement criteria are asserted by
``test_quick.py`` and ``test_full.py`` (slow): at this size they have no power, so none is asserted here."""

import numpy as np
import pytest

from paper_figures import learning_curves, local_fields, online_sgd, spectra
from tests.helpers import assert_flat_table

TINY = {
    local_fields: {"sign": dict(sizes=(10, 40), n_samples=2_000, n_directions=10, floor_repeats=3),
                   "fashion": dict(sizes=(4, 16), n_samples=500, n_reference=1_000, n_directions=10,
                                   floor_repeats=3)},
    online_sgd: dict(N_sign=40, D_sign=10, image_size=8, ngf=4, t_max=0.5, n_runs=2, n_test=200, cov_samples=2_000,
                     times=np.array([0.0, 0.25, 0.5])),
    learning_curves: dict(p=30, alphas=np.array([1.0, 2.0]), seeds=2, n_test=200, cov_samples=2_000, n_learn=200,
                          learn_steps=5, mean_samples=500),
    spectra: dict(N_sign=40, image_size=8, ngf=4, p=30, samples=8_000, n_learn=200, learn_steps=5,
                  mean_samples=500),
}


@pytest.mark.parametrize("module", list(TINY), ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_figure_runs_end_to_end(module, tmp_path, monkeypatch):
    """Reference: the files the figure documents (a PNG, a CSV with a header row and its JSON sidecar)."""
    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(module, "_settings", lambda quick: TINY[module])
    kwargs = {"face": False} if "face" in module.run.__code__.co_varnames else {}
    result = module.run(tmp_path / "out", quick=True, seed=0, progress=False, **kwargs)
    assert result is not None
    pngs = list((tmp_path / "out").glob("*.png"))
    csvs = list((tmp_path / "out").glob("*.csv"))
    assert pngs and all(p.stat().st_size > 1000 for p in pngs)
    assert csvs and all(c.with_name(c.name + "-metadata.json").exists() for c in csvs)
    for c in csvs:
        header = c.read_text().splitlines()[0]
        assert not header.startswith("#") and "," in header
    parts = result.values() if isinstance(result, dict) else result if isinstance(result, list) else [result]
    for part in parts:  # flat tables (architecture.md): the layout, not the numbers, at this size
        for table in part.tables().values():
            assert_flat_table(table)
