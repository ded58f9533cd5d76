"""CSV tables every tool can load, each with a JSON metadata sidecar: the one CSV writer of gaussequiv.

Every CSV the packages write (:meth:`replica.Curve.to_csv`, :meth:`validation.SimulationResult.to_csv`,
:meth:`validation.Comparison.to_csv`, :meth:`dynamics.Trajectory.to_csv`, :meth:`dynamics.SGDAverage.to_csv`,
the paper figures' tables, the command line's) goes through :func:`write_csv`:

* the first line is a plain header row of column names (no ``#`` comment lines), so ``csv.DictReader``,
  ``pandas.read_csv`` and ``numpy.genfromtxt(..., names=True)`` read the columns by name;
* floats are written with ``repr``, so they round-trip exactly (``nan`` and ``inf`` as such);
* next to ``name.csv`` goes ``name.csv-metadata.json`` (the file name the W3C "CSV on the Web" recommendation
  uses to locate a table's metadata): the columns, the number of rows, the gaussequiv version, what the
  writer knows about the table (``metadata``: loss, channel, status, conventions, ...) and, when the table is
  written during a command (:func:`run_record`), the command line, its arguments, its seeds and its sizes.

The run record is the only state kept here (a :mod:`contextvars` variable set by the command line for the
duration of one command); it never changes a number, only what the sidecars say about where a table came from.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import datetime
import json
import logging
import math
import numbers
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

__all__ = ["SIDECAR_SUFFIX", "concat", "metadata_path", "read_metadata", "run_record", "note", "write_csv",
           "write_metadata"]

#: Appended to a CSV's file name to name its metadata sidecar.
SIDECAR_SUFFIX = "-metadata.json"

logger = logging.getLogger(__name__)

_RUN: contextvars.ContextVar[dict | None] = contextvars.ContextVar("gaussequiv_run", default=None)


def metadata_path(path: str | os.PathLike) -> Path:
    """The sidecar of a file: ``theory.csv`` -> ``theory.csv-metadata.json``.

    Examples
    --------
    >>> metadata_path("out/theory.csv").name
    'theory.csv-metadata.json'
    """
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


@contextlib.contextmanager
def run_record(command: str, argv: Sequence[str] = (), arguments: Mapping | None = None) -> Iterator[dict]:
    """Record, for the duration of the block, which command is running: every sidecar written inside it
    carries ``command``, ``argv`` and ``arguments`` (and whatever :func:`note` adds).

    Parameters
    ----------
    command : str
        The command as a user would type it (``"gaussequiv predict"``, ``"python -m paper_figures.spectra"``).
    argv : sequence of str
        Its arguments as given.
    arguments : mapping, optional
        The parsed options, defaults included.

    Yields
    ------
    dict
        The record (a fresh dict per block; blocks nest, the inner one wins).

    Examples
    --------
    >>> with run_record("gaussequiv predict", ["--lam", "0.1"], {"lam": "0.1"}) as rec:
    ...     note(sizes={"p": 30})
    >>> rec["sizes"], rec["command"]
    ({'p': 30}, 'gaussequiv predict --lam 0.1')
    """
    record = {"command": " ".join([command, *map(str, argv)]), "argv": [str(a) for a in argv],
              "arguments": _jsonable(dict(arguments or {}))}
    token = _RUN.set(record)
    try:
        yield record
    finally:
        _RUN.reset(token)


def note(**fields) -> None:
    """Add ``fields`` (merged into existing dicts: ``note(seeds={"teacher": 0})``) to the current run record;
    outside :func:`run_record` this does nothing."""
    record = _RUN.get()
    if record is None:
        return
    for key, value in _jsonable(fields).items():
        if isinstance(value, dict) and isinstance(record.get(key), dict):
            record[key].update(value)
        else:
            record[key] = value


def _jsonable(value):
    """Plain JSON data: numpy scalars and arrays become numbers and lists, non-finite floats None, paths and
    other objects their string."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalar or 0-d array
        return _jsonable(value.item())
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return str(value)


def write_metadata(path: str | os.PathLike, metadata: Mapping | None = None, *, columns: Sequence[str] | None = None,
                   rows: int | None = None) -> Path:
    """Write the sidecar of ``path`` (any output file) and return the sidecar's path.

    The sidecar holds ``file``, ``columns`` and ``rows`` (for tables), ``gaussequiv_version``, ``created``
    (UTC), the current run record (:func:`run_record`: ``command``, ``argv``, ``arguments``, ``seeds``,
    ``sizes``, ...) and ``metadata``.
    """
    from gaussequiv import __version__

    path = Path(path)
    doc: dict = {"file": path.name}
    if columns is not None:
        doc["columns"] = list(columns)
    if rows is not None:
        doc["rows"] = int(rows)
    doc["gaussequiv_version"] = __version__
    doc["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    record = _RUN.get()
    if record is not None:
        doc.update(record)
    doc["metadata"] = _jsonable(dict(metadata or {}))
    side = metadata_path(path)
    side.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    return side


def read_metadata(path: str | os.PathLike) -> dict | None:
    """The sidecar of ``path`` as a dict, or None if there is none (or it is not valid JSON)."""
    side = metadata_path(path)
    try:
        return json.loads(side.read_text())
    except (OSError, ValueError):
        return None


def _cell(value):
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalar or 0-d array
        value = value.item()
    if value is None:
        return ""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return repr(float(value))
    return value


def concat(tables: Sequence[Mapping], labels: Sequence[Mapping] | None = None) -> dict:
    """Stack flat tables with the same columns into one flat table (a dict of equal-length 1-d numpy arrays).

    Each table maps column names to 1-d sequences of one length or to scalars (repeated on every row, as
    ``pandas.DataFrame`` broadcasts them); ``labels[i]`` (scalars) become the first columns of table ``i``'s
    rows, e.g. ``{"problem": "ridge"}``. Every table must have the same columns, every label mapping the
    same keys, and no label may be named like a column.

    Examples
    --------
    >>> t = concat([{"x": [1.0, 2.0], "loss": "square"}, {"x": [3.0], "loss": "hinge"}],
    ...            [{"problem": "a"}, {"problem": "b"}])
    >>> {k: v.tolist() for k, v in t.items()}
    {'problem': ['a', 'a', 'b'], 'x': [1.0, 2.0, 3.0], 'loss': ['square', 'square', 'hinge']}
    """
    import numpy as np

    tables = list(tables)
    labels = [{}] * len(tables) if labels is None else list(labels)
    if not tables or len(labels) != len(tables):
        raise ValueError(f"concat needs at least one table and one label mapping per table, got {len(tables)} "
                         f"tables and {len(labels)} label mappings")
    names = [*labels[0], *tables[0]]
    parts: dict[str, list] = {name: [] for name in names}
    for i, (table, label) in enumerate(zip(tables, labels, strict=True)):
        if set(label) & set(table):
            raise ValueError(f"labels {sorted(set(label) & set(table))} of table {i} are also its columns; "
                             "give the labels other names")
        if [*label, *table] != names:
            raise ValueError(f"table {i} has columns {[*label, *table]}, table 0 has {names}: tables to stack must "
                             "have the same columns")
        arrays = {k: np.asarray(v) for k, v in table.items()}
        lengths = {k: a.shape[0] for k, a in arrays.items() if a.ndim == 1}
        if len(set(lengths.values())) > 1 or any(a.ndim > 1 for a in arrays.values()):
            shapes = {k: a.shape for k, a in arrays.items() if a.ndim}
            raise ValueError(f"table {i} is not flat: columns must be 1-d of one length or scalars, got {shapes}")
        rows = next(iter(lengths.values()), 1)
        for k, v in label.items():
            parts[k].append(np.full(rows, v))
        for k, a in arrays.items():
            parts[k].append(a if a.ndim == 1 else np.full(rows, a[()]))
    return {k: np.concatenate(v) for k, v in parts.items()}


def write_csv(path: str | os.PathLike, table, metadata: Mapping | None = None) -> Path:
    """Write a table as CSV with a plain header row, and its metadata sidecar (module docstring).

    Parameters
    ----------
    path : path
        The CSV file.
    table : mapping of str to sequence, or sequence of mappings
        Columns of equal length (``{"alpha": [...], "test_error": [...]}``), or rows sharing the keys of the
        first one.
    metadata : mapping, optional
        What the writer knows about the table, stored in the sidecar under ``metadata``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import csv, json, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = write_csv(out, {"alpha": [0.5, 1.0], "status": ["converged", "converged"]}, {"loss": "square"})
    >>> [dict(r) for r in csv.DictReader(open(out))][0]
    {'alpha': '0.5', 'status': 'converged'}
    >>> side = json.loads(metadata_path(out).read_text())
    >>> side["columns"], side["rows"], side["metadata"]
    (['alpha', 'status'], 2, {'loss': 'square'})
    """
    path = Path(path)
    if isinstance(table, Mapping):
        names = [str(k) for k in table]
        cols = [list(v) for v in table.values()]
        lengths = {len(c) for c in cols}
        if len(lengths) > 1:
            sizes = dict(zip(names, map(len, cols), strict=True))
            raise ValueError(f"table columns must have equal lengths, got {sizes}")
        rows = [list(r) for r in zip(*cols, strict=True)]
    else:
        records = list(table)
        names = [str(k) for k in records[0]] if records else []
        rows = [[r[k] for k in records[0]] for r in records]
    if not names:
        raise ValueError(f"no columns to write to {path}")
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        w.writerows([_cell(v) for v in r] for r in rows)
    side = write_metadata(path, metadata, columns=names, rows=len(rows))
    logger.info("wrote %s (%d rows, %d columns) and %s", path, len(rows), len(names), side.name)
    return path
