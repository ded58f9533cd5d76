"""The shared conventions: one seed normaliser with independent streams per kind, one set of argument checks."""

import numpy as np
import pytest

from gaussequiv import checks, seeding


def test_streams_of_different_kinds_are_independent():
    """Reference: independent N(0,1) vectors of length 4000 have sample correlation ~ N(0, 1/4000)."""
    for seed in (0, 1, 12345):
        a = seeding.rng(seed, "generator").standard_normal(4000)
        b = seeding.rng(seed, "teacher").standard_normal(4000)
        assert abs(np.corrcoef(a, b)[0, 1]) < 6 / np.sqrt(4000)


def test_streams_are_reproducible_and_seed_dependent():
    a = seeding.rng(7, "teacher").standard_normal(5)
    assert np.array_equal(a, seeding.rng(7, "teacher").standard_normal(5))
    assert not np.array_equal(a, seeding.rng(8, "teacher").standard_normal(5))
    ss = np.random.SeedSequence(7)
    assert np.array_equal(a, seeding.rng(ss, "teacher").standard_normal(5))


def test_generator_seed_is_consumed_reproducibly():
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    first = seeding.rng(g1, "x").standard_normal(3)
    assert np.array_equal(first, seeding.rng(g2, "x").standard_normal(3))
    assert not np.array_equal(first, seeding.rng(g1, "x").standard_normal(3))


@pytest.mark.parametrize("bad, exc", [(None, TypeError), (1.0, TypeError), (True, TypeError), ("1", TypeError),
                                      (-1, ValueError)])
def test_bad_seeds_are_refused(bad, exc):
    with pytest.raises(exc, match="seed"):
        seeding.seed_sequence(bad)


def test_real_accepts_numpy_scalars_and_refuses_bools():
    assert checks.real("alpha", np.asarray(2.0), low=0, low_open=True) == 2.0
    assert checks.real("alpha", np.float32(0.5)) == 0.5
    with pytest.raises(TypeError, match="alpha"):
        checks.real("alpha", True)
    with pytest.raises(ValueError, match="alpha must be finite"):
        checks.real("alpha", np.nan)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        checks.real("lam", -1e-3, low=0.0)


def test_flag_accepts_only_bools():
    """Reference: the documented rule (True/False and numpy bools; 0/1, strings and None are refused)."""
    assert checks.flag("train_second_layer", True) is True
    assert checks.flag("train_second_layer", np.asarray(False)) is False
    for bad in (0, 1, 1.0, "no", None):
        with pytest.raises(TypeError, match="train_second_layer must be a bool"):
            checks.flag("train_second_layer", bad)


def test_integer_and_grid():
    assert checks.integer("n", np.int64(3)) == 3
    with pytest.raises(ValueError, match="n must be >= 1"):
        checks.integer("n", 0)
    with pytest.raises(ValueError, match="entry 1 is 0"):
        checks.grid("alphas", [1.0, 0.0], low=0.0, low_open=True)
    with pytest.raises(ValueError, match="non-empty"):
        checks.grid("alphas", [])


def test_arrays_refuse_complex_and_nan_and_keep_float32_on_request():
    with pytest.raises(ValueError, match="complex"):
        checks.vector("s", np.array([1.0, 1.0 + 1e-3j]))
    assert checks.vector("s", np.array([1.0 + 0j, 2.0])).dtype == float
    with pytest.raises(ValueError, match=r"omega must be finite; entry \(1, 0\)"):
        checks.matrix("omega", [[1.0, 0.0], [np.nan, 1.0]])
    assert checks.matrix("omega", np.eye(2, dtype=np.float32), dtype=None).dtype == np.float32
    with pytest.raises(ValueError, match=r"phi must have shape \(3, \*\)"):
        checks.matrix("phi", np.eye(2), (3, None))


def test_concat_stacks_flat_tables_and_refuses_mismatches():
    """gaussequiv.tables.concat: rows in order, scalars repeated, labels first (reference: the inputs); columns
    that differ, a non-flat table and a label named like a column are refused."""
    from gaussequiv.tables import concat
    from tests.helpers import assert_flat_table

    out = concat([{"x": np.arange(3), "c": "a"}, {"x": np.arange(2), "c": "b"}], [{"k": 0}, {"k": 1}])
    assert_flat_table(out, rows=5)
    assert out["k"].tolist() == [0, 0, 0, 1, 1] and out["x"].tolist() == [0, 1, 2, 0, 1]
    assert out["c"].tolist() == ["a"] * 3 + ["b"] * 2
    with pytest.raises(ValueError, match="same columns"):
        concat([{"x": [1]}, {"y": [1]}])
    with pytest.raises(ValueError, match="not flat"):
        concat([{"x": [1, 2], "y": [1]}])
    with pytest.raises(ValueError, match="also its columns"):
        concat([{"x": [1]}], [{"x": 0}])
