"""Helpers shared by tests of several packages (import as ``from tests.helpers import ...``)."""

from __future__ import annotations

import numpy as np


def assert_flat_table(table: dict, rows: int | None = None) -> int:
    """Check the layout every result's ``to_dict()`` promises (architecture.md): a non-empty dict of str to
    1-d numpy arrays of one common length (``rows`` if given), so that ``pandas.DataFrame(table)`` builds one
    row per entry; checked with pandas too when it is importable. Returns the number of rows."""
    assert isinstance(table, dict) and table, table
    lengths = {}
    for name, column in table.items():
        assert isinstance(name, str), name
        assert isinstance(column, np.ndarray) and column.ndim == 1, (name, type(column), np.shape(column))
        assert column.dtype != object, (name, column.dtype)
        lengths[name] = column.size
    assert len(set(lengths.values())) == 1, lengths
    n = next(iter(lengths.values()))
    if rows is not None:
        assert n == rows, (n, rows)
    try:
        import pandas as pd
    except ImportError:
        return n
    frame = pd.DataFrame(table)
    assert frame.shape == (n, len(table)) and list(frame.columns) == list(table)
    return n


class Scaled:
    """A theory curve with one quantity multiplied by ``factor`` (every other attribute is the curve's): a
    known-wrong theory, to check that comparisons and verdicts catch it."""

    def __init__(self, curve, quantity: str, factor: float):
        self._curve = curve
        setattr(self, quantity, factor * np.asarray(getattr(curve, quantity), dtype=float))

    def __getattr__(self, name):
        return getattr(self._curve, name)
