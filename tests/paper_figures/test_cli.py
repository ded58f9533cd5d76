"""The figures' command line (``paper_figures._common.main``): progress bars only on a terminal, ``-v`` logging,
and CSVs with a header row and a sidecar recording the command, its seed and its arguments."""

import csv
import json
import logging

from gaussequiv.tables import metadata_path, write_csv
from paper_figures._common import main

CALLS = []


def fake_figure(out, *, quick=False, seed=0, progress=None, level=0.01):
    """A figure's ``run``: writes one table and records how it was called."""
    CALLS.append({"quick": quick, "seed": seed, "progress": progress, "level": level,
                  "log_level": logging.getLogger("paper_figures").getEffectiveLevel()})
    write_csv(out / "fake.csv", [{"alpha": 0.5, "error": 0.25, "label": "a,b"}, {"alpha": 1.0, "error": 0.125,
                                                                                "label": "c"}], {"figure": 0})
    return "done"


def test_main_records_the_command_in_the_sidecars(tmp_path):
    """Reference: the arguments given. The table loads by column name (a comma inside a value is quoted), floats
    round-trip, and its sidecar names the command, the seed and --quick; progress is None (terminal only) unless
    --no-progress; -v turns the packages' loggers to INFO for the run only."""
    CALLS.clear()
    assert main("fake figure", fake_figure, ["--out", str(tmp_path), "--seed", "3", "--quick", "-v"]) == "done"
    assert main("fake figure", fake_figure, ["--out", str(tmp_path), "--no-progress", "--level", "0.001"]) == "done"
    assert [c["progress"] for c in CALLS] == [None, False] and CALLS[0]["seed"] == 3 and CALLS[0]["quick"]
    assert CALLS[0]["log_level"] == logging.INFO and CALLS[1]["log_level"] == logging.WARNING
    assert CALLS[1]["level"] == 0.001
    rows = list(csv.DictReader(open(tmp_path / "fake.csv")))
    assert rows[0] == {"alpha": "0.5", "error": "0.25", "label": "a,b"} and float(rows[1]["error"]) == 0.125
    side = json.loads(metadata_path(tmp_path / "fake.csv").read_text())
    assert side["command"] == f"python -m {fake_figure.__module__} --out {tmp_path} --no-progress --level 0.001"
    assert "--no-progress" in side["argv"] and side["seeds"] == {"seed": 0} and side["sizes"] == {"quick": False}
    assert side["metadata"] == {"figure": 0} and side["columns"] == ["alpha", "error", "label"] and side["rows"] == 2


def test_write_csv_outside_a_command(tmp_path):
    """gaussequiv.tables.write_csv (what the figures call) called from Python (no command line): the sidecar has
    the table's description and no command."""
    write_csv(tmp_path / "t.csv", [{"x": 1}], {"seed": 5})
    side = json.loads(metadata_path(tmp_path / "t.csv").read_text())
    assert "command" not in side and side["metadata"] == {"seed": 5} and side["rows"] == 1
