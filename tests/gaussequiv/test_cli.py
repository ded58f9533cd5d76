"""The ``gaussequiv`` command line as a whole: one grammar for every subcommand, exit codes, a light ``--help``,
progress bars only on a terminal, logging with ``-v``, and CSVs with header rows and metadata sidecars.

References are named per test: the documented exit codes and grammar (``gaussequiv --help``), the library
function each command calls, and the CSV format every reader (``csv``, pandas) expects."""

import csv
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gaussequiv
from gaussequiv import cli, specs
from gaussequiv.cli import COMMANDS, EXIT_CODES, main
from gaussequiv.progress import show
from gaussequiv.tables import metadata_path
from spectra import Spectrum

ROOT = Path(__file__).resolve().parents[2]
#: A small problem every data command can run in seconds (the same generator, features and sizes everywhere).
DATA = ["--generator", "single-sign:20x40", "--features", "rf-relu:40", "--samples", "4000", "--center-samples",
        "500", "--batch-size", "500"]


def check_tables(directory: Path, command: str, columns: dict[str, set[str]] | None = None) -> list[Path]:
    """Every CSV in ``directory`` has a plain header row that csv.DictReader (and pandas, if installed) reads as
    its columns, rows with a value in every column, and a sidecar that parses and names the command, the version,
    the columns and the row count. ``columns`` maps file names to columns that must be present."""
    paths = sorted(directory.glob("*.csv"))
    assert paths, f"no CSV in {directory}"
    for path in paths:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = reader.fieldnames
        assert header and not header[0].startswith("#"), path
        assert all(None not in r and all(v is not None for v in r.values()) for r in rows), path
        side = json.loads(metadata_path(path).read_text())
        assert side["file"] == path.name and side["columns"] == header and side["rows"] == len(rows), path
        assert side["gaussequiv_version"] == gaussequiv.__version__
        assert side["command"].startswith(f"gaussequiv {command}") and isinstance(side["arguments"], dict)
        if columns and path.name in columns:
            assert columns[path.name] <= set(header), (path.name, columns[path.name] - set(header))
        try:
            import pandas
        except ImportError:
            continue
        frame = pandas.read_csv(path)
        assert list(frame.columns) == header and len(frame) == len(rows)
    return paths


# ------------------------------------------------------------------------------------------------ --help
def test_help_imports_no_library():
    """`gaussequiv --help` builds its parser without importing numpy, scipy, sympy, matplotlib, tqdm or our
    packages (measured: ~0.2 s wall time instead of 4-5 s on a loaded 2-core machine); it lists every
    subcommand and the exit codes. Reference: sys.modules of a fresh interpreter."""
    code = ("import sys\nfrom gaussequiv.cli import main\nassert main(['--help']) == 0\n"
            "heavy = ('numpy', 'scipy', 'sympy', 'matplotlib', 'tqdm', 'replica', 'spectra', 'validation', "
            "'dynamics')\nprint('LOADED', sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""}).stdout
    assert out.strip().splitlines()[-1] == "LOADED []"
    for name in COMMANDS:
        assert f"    {name} " in out, name
    for status in EXIT_CODES.values():
        assert f"\n  {status} " in out


def test_version_and_usage_errors(capsys):
    """Reference: the exit codes. --version exits 0; no command, an unknown command or an unknown option 2."""
    assert main(["--version"]) == 0
    assert gaussequiv.__version__ in capsys.readouterr().out
    assert main([]) == EXIT_CODES["usage"] == 2
    assert main(["estimate"]) == 2 and "invalid choice" in capsys.readouterr().err
    assert main(["predict", "--spectrum", "s.npz", "--noise", "0.1"]) == 2


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_help(command, capsys):
    """Each subcommand's --help works, shows the common options, and its one-line help is COMMANDS' (what the
    light top-level --help shows)."""
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--no-progress" in out and "--debug" in out and "``" not in out
    parser = cli.build_parser([command])
    sub = next(a for a in parser._actions if a.dest == "command")
    helps = {a.dest: a.help for a in sub._choices_actions}
    assert helps[command] == COMMANDS[command][1]


# ----------------------------------------------------------------------------------------------- grammar
@pytest.mark.parametrize("text, expected", [
    ("0.5:2:4", [0.5, 1.0, 1.5, 2.0]),
    ("1e-3:1e-1:3:log", [1e-3, 1e-2, 1e-1]),
    ("2:1:2", [2.0, 1.0]),
    ("1,2.5,4", [1.0, 2.5, 4.0]),
    ("0.3", [0.3]),
    ("1:1:1:log", [1.0]),
])
def test_parse_grid(text, expected):
    """Reference: numpy.linspace / numpy.geomspace, the documented meaning of each form."""
    np.testing.assert_allclose(specs.parse_grid(text, "--lam"), expected, rtol=1e-12)


@pytest.mark.parametrize("text", ["", "a", "1:2", "1:2:x", "1:2:0", "1:2:3:lin", "0:1:3:log", "1,nan", "1:2:3:4:5",
                                  "-1:2:3:log", "inf:2:3"])
def test_parse_grid_refuses(text):
    with pytest.raises(ValueError, match="--alphas"):
        specs.parse_grid(text, "--alphas")


def test_parse_channel_table():
    """Every channel of the table builds through its replica.Channel constructor, with and without its parameter
    (required ones refuse to be left out); reference: the constructors called directly."""
    from replica import Channel

    for name, (constructor, param, required, _) in specs.CHANNELS.items():
        built = specs.parse_channel(f"{name}:0.2")
        assert built.name == getattr(Channel, constructor)(0.2).name
        if required:
            with pytest.raises(ValueError, match=f"{name}:{param}"):
                specs.parse_channel(name)
        else:
            assert specs.parse_channel(name).name == getattr(Channel, constructor)().name
        with pytest.raises(ValueError, match="must be a number"):
            specs.parse_channel(f"{name}:x")
    with pytest.raises(ValueError, match="unknown --channel 'tanh'"):
        specs.parse_channel("tanh")


@pytest.mark.parametrize("text, dims", [
    ("single-sign:10x20", (10, 20)), ("single-relu:4x6:3", (4, 6)), ("deep-tanh:3x5x7:1", (3, 7)),
    ("isotropic:12", (12, 12)), ("fashion-dcgan", (100, 784)),
])
def test_parse_generator(text, dims):
    gen = specs.parse_generator(text)
    assert (gen.latent_dim, gen.output_dim) == dims


@pytest.mark.parametrize("text, message", [
    ("single-layer-sign", "single-ACT:DxN"), ("isotropic", "isotropic:N"), ("single-sign:10", "two widths"),
    ("single-sign:10x20:-1", "seed must be an int >= 0"), ("single-sign:10xa", "widths"),
    ("fashion-dcgan:3", "takes no parameters"), ("single-gelu:3x4", "gelu"),
])
def test_parse_generator_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        specs.parse_generator(text)


def test_generator_seeds_reproduce_and_differ():
    """A spec's seed fixes the weights; reference: the same spec built twice, and another seed."""
    a, b = specs.parse_generator("single-sign:5x8:2"), specs.parse_generator("single-sign:5x8:2")
    c = specs.parse_generator("single-sign:5x8:3")
    assert np.array_equal(a.weights, b.weights) and not np.array_equal(a.weights, c.weights)


def test_parse_teacher():
    """random[:SEED] is LinearTeacher.random(D, seed=SEED) (reference: the constructor); averaged is the string
    the library takes; anything else is refused."""
    from spectra.teachers import LinearTeacher

    assert np.array_equal(specs.parse_teacher("random:4", 6).theta, LinearTeacher.random(6, seed=4).theta)
    assert np.array_equal(specs.parse_teacher("random", 6).theta, LinearTeacher.random(6, seed=0).theta)
    assert specs.parse_teacher(specs.DEFAULT_TEACHER, 6).theta.shape == (6,)
    assert specs.parse_teacher("averaged", 6) == "averaged"
    for bad in ("random:-1", "random:", "averaged:1", "fixed"):
        with pytest.raises(ValueError, match="--teacher"):
            specs.parse_teacher(bad, 6)


def test_help_lists_every_pretrained_generator_and_channel():
    """The static grammar help (built without importing the library) names every pretrained generator of the
    library and every channel of the table."""
    from spectra.generators import PRETRAINED

    for name in PRETRAINED:
        assert name in specs.HELP["generator"] and name in cli.EPILOG
    for name in specs.CHANNELS:
        assert name in specs.HELP["channel"] and name in cli.EPILOG


# ------------------------------------------------------------------------------------ the same numbers
def test_same_setup_same_numbers(tmp_path, monkeypatch):
    """`spectrum` then `predict`, and `validate`, on the same generator, features, seed and default teacher
    compute the same theory (reference: validate's theory.csv against predict's curve, to rounding). With
    --teacher averaged the spectrum is the teacher average instead (Spectrum.teacher)."""
    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    problem = ["--loss", "square", "--channel", "linear:0.1", "--alphas", "0.5,1.5", "--lam", "0.1"]
    assert main(["spectrum", *DATA, "--out", str(tmp_path / "s.npz"), "--no-progress"]) == 0
    assert main(["predict", "--spectrum", str(tmp_path / "s.npz"), *problem, "--out", str(tmp_path / "c.csv")]) == 0
    code = main(["validate", *DATA, *problem, "--seeds", "2", "--n-test", "200", "--out", str(tmp_path / "v"),
                 "--no-progress"])
    assert code in (0, 3, 4)
    predicted = list(csv.DictReader(open(tmp_path / "c.csv")))
    validated = list(csv.DictReader(open(tmp_path / "v" / "theory.csv")))
    assert len(predicted) == len(validated) == 2
    for a, b in zip(predicted, validated, strict=True):
        assert float(a["alpha"]) == float(b["alpha"])
        assert float(a["test_error"]) == pytest.approx(float(b["test_error"]), rel=1e-9)
    assert Spectrum.load(tmp_path / "s.npz").teacher == "fixed"
    assert main(["spectrum", *DATA, "--teacher", "averaged", "--out", str(tmp_path / "a.npz"), "--no-progress"]) == 0
    assert Spectrum.load(tmp_path / "a.npz").teacher == "averaged"


def test_validate_with_averaged_teacher(tmp_path, monkeypatch):
    """--teacher averaged: the theory averages over teachers and the simulation draws a fresh teacher per seed
    (validation.simulate(teacher="averaged")); the report says so."""
    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    code = main(["validate", *DATA, "--teacher", "averaged", "--loss", "square", "--channel", "linear:0.1",
                 "--alphas", "1", "--lam", "0.1", "--seeds", "2", "--n-test", "200", "--out", str(tmp_path / "v"),
                 "--json", str(tmp_path / "r.json"), "--no-progress"])
    report = json.loads((tmp_path / "r.json").read_text())
    assert code == report["exit_code"] and report["generator_data"]["teacher"] == "averaged"
    assert "teacher averaged" in (tmp_path / "v" / "summary.md").read_text()


# ------------------------------------------------------------------------------------------- exit codes
def test_unreadable_input_files_exit_1(tmp_path, capsys):
    """Reference: the exit codes. A missing spectrum file and a file that is not a spectrum are errors while
    running (1), reported in one line without a traceback."""
    assert main(["predict", "--spectrum", str(tmp_path / "missing.npz")]) == EXIT_CODES["error"] == 1
    err = capsys.readouterr().err
    assert "missing.npz" in err and "no such file" in err and "Traceback" not in err
    (tmp_path / "text.npz").write_text("not a spectrum")
    np.savez(tmp_path / "other.npz", x=np.ones(3))
    for name in ("text.npz", "other.npz"):
        assert main(["predict", "--spectrum", str(tmp_path / name), "--out", str(tmp_path / "c.csv")]) == 1
        err = capsys.readouterr().err
        assert "is not a saved Spectrum" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c.csv").exists()


def _spectrum_file(tmp_path) -> str:
    Spectrum.isotropic(8).save(tmp_path / "s.npz")
    return str(tmp_path / "s.npz")


@pytest.mark.parametrize("error, status, message", [
    ("convergence", 1, "did not converge: no fixed point"),
    ("foreign", 1, "not gaussequiv's"),
    ("runtime", 1, "error: worker lost"),
    ("optional", 1, "error: the face generator needs the optional package"),
    ("bug", 1, "internal error (KeyError; --debug shows the traceback)"),
    ("value", 2, "error: lam must be > 0"),
])
def test_errors_while_running(tmp_path, monkeypatch, capsys, error, status, message):
    """Reference: the exit codes. Errors raised while a command runs are one line on stderr with the documented
    status: replica.ConvergenceError, ForeignPackageError, a missing optional package (ImportError) and
    RuntimeError 1, an unexpected exception 1 (named,
    with the --debug hint), bad input (ValueError) 2. --debug re-raises with the traceback."""
    import replica.cli
    from gaussequiv.integrity import ForeignPackageError
    from replica import ConvergenceError

    exc = {"convergence": ConvergenceError("no fixed point"), "foreign": ForeignPackageError("spectra is not "
           "gaussequiv's"), "runtime": RuntimeError("worker lost"), "bug": KeyError("x"),
           "value": ValueError("lam must be > 0"),
           "optional": ImportError("the face generator needs the optional package")}[error]

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(replica.cli, "theory_curve", fail)
    argv = ["predict", "--spectrum", _spectrum_file(tmp_path), "--alphas", "1", "--out", str(tmp_path / "c.csv")]
    assert main(argv) == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    with pytest.raises(type(exc)):
        main([*argv, "--debug"])


# -------------------------------------------------------------------------------- progress and logging
def test_progress_only_on_a_terminal():
    """Reference: gaussequiv.progress.show's rule: None draws bars only where stderr is a terminal."""
    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    assert show(None, Stream(True)) and not show(None, Stream(False))
    assert show(True, Stream(False)) and not show(False, Stream(True))
    assert not show(None, object())  # no isatty: not a terminal


def test_no_progress_lines_in_a_log_and_v_logs(tmp_path, capsys):
    """Run the way a batch job would (stderr redirected, not a TTY) and without --no-progress: no progress bar
    line reaches stderr (the old default drew one per update). With -v the estimator's INFO messages do (the
    spectra logger), and the loggers are restored afterwards (the library configures no handler)."""
    argv = ["spectrum", "--generator", "single-sign:10x20", "--samples", "30000", "--batch-size", "500",
            "--out", str(tmp_path / "s.npz")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "covariances" not in err and "samples/s" not in err and "%|" not in err
    assert main([*argv, "-v"]) == 0
    err = capsys.readouterr().err
    assert "INFO spectra.estimate: n = " in err and "%|" not in err
    assert logging.getLogger("spectra").level == logging.NOTSET and not logging.getLogger("spectra").handlers


# ------------------------------------------------------------------------------------- CSVs and sidecars
def test_predict_tables_and_title(tmp_path, monkeypatch):
    """predict's CSV loads by column name and its sidecar records the command and the spectrum's origin (from
    the spectrum file's own sidecar); the plot's title carries lam, p and the generator."""
    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    assert main(["spectrum", *DATA, "--out", str(tmp_path / "s.npz"), "--csv", str(tmp_path / "s.csv"),
                 "--no-progress"]) == 0
    titles = []
    from matplotlib.figure import Figure

    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: (titles.append(fig.axes[0].get_title()),
                                                                 save(fig, *a, **k)))
    out = tmp_path / "curve"
    out.mkdir()
    assert main(["predict", "--spectrum", str(tmp_path / "s.npz"), "--alphas", "0.5,1", "--lam", "0.05",
                 "--out", str(out / "c.csv"), "--plot", str(out / "c.png")]) == 0
    check_tables(out, "predict", {"c.csv": {"alpha", "lam", "test_error", "train_error", "status", "loss"}})
    side = json.loads(metadata_path(out / "c.csv").read_text())
    assert side["metadata"]["generator"] == "single-sign:20x40" and side["metadata"]["p"] == 40
    assert side["sizes"] == {"p": 40}
    assert "single-sign:20x40" in titles[0] and "p = 40" in titles[0] and "lam = 0.05" in titles[0]
    (spec_csv,) = check_tables(tmp_path, "spectrum", {"s.csv": {"rank", "s", "t"}})
    rows = list(csv.DictReader(open(spec_csv)))
    spec = Spectrum.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(sorted(float(r["s"]) for r in rows), np.sort(spec.s))
    assert json.loads(metadata_path(tmp_path / "s.npz").read_text())["metadata"]["teacher"] == "random:0"


def test_validate_tables_and_titles(tmp_path, monkeypatch):
    """Every CSV validate writes loads by column name and has a sidecar with the seeds and sizes; the figures'
    titles carry the generator, p and lam; the JSON report lists the sidecars."""
    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    from matplotlib.figure import Figure

    titles = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: (titles.append(fig.get_suptitle()),
                                                                 save(fig, *a, **k)))
    out = tmp_path / "v"
    code = main(["validate", *DATA, "--loss", "square", "--channel", "linear:0.1", "--alphas", "0.5,1",
                 "--lam", "0.1", "--seeds", "2", "--n-test", "200", "--gaussian-control", "--out", str(out),
                 "--json", str(tmp_path / "r.json"), "--no-progress"])
    assert code in (0, 3, 4)
    paths = check_tables(out, "validate", {
        "theory.csv": {"alpha", "test_error", "status"},
        "simulation.csv": {"alpha", "n", "test_error", "test_error_se", "status"},
        "simulation_per_seed.csv": {"alpha", "seed", "test_error", "converged"},
        "comparison.csv": {"quantity", "alpha", "theory", "mean", "se", "z", "rejected"},
        "control_comparison.csv": {"quantity", "alpha", "z"}})
    assert {p.name for p in paths} == {"theory.csv", "simulation.csv", "simulation_per_seed.csv", "comparison.csv",
                                       "control_comparison.csv"}
    side = json.loads(metadata_path(out / "simulation.csv").read_text())
    assert side["seeds"]["teacher"] == "random:0" and side["sizes"]["p"] == 40 and side["sizes"]["seeds"] == 2
    assert side["metadata"]["n_test"] == 200 and side["arguments"]["samples"] == 4000
    report = json.loads((tmp_path / "r.json").read_text())
    assert "comparison.csv-metadata.json" in report["files"]
    assert len(titles) == 2 and all("single-sign:20x40" in t and "p = 40" in t and "lambda = 0.1" in t for t in titles)


def test_dynamics_and_demo_tables(tmp_path, monkeypatch):
    """dynamics and demo CSVs load by column name, with sidecars naming the command."""
    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    assert main(["dynamics", "--generator", "single-erf:6x30", "--lr", "0.3", "--t-max", "1", "--seeds", "2",
                 "--n-test", "100", "--out", str(tmp_path / "d")]) == 0
    check_tables(tmp_path / "d", "dynamics", {"ode.csv": {"t", "eps_g", "Q_0_0", "R_0_0", "v_0"},
                                               "sgd.csv": {"t", "eps_g_mean", "eps_g_se", "eps_g_seed_1"}})
    assert main(["demo", "--out", str(tmp_path / "demo"), "--p", "20", "--samples", "2000", "--seeds", "2",
                 "--n-test", "100"]) == 0
    check_tables(tmp_path / "demo", "demo", {"demo_ridge.csv": {"alpha", "test_error", "status"}})
