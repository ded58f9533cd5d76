"""`gaussequiv validate` runs end to end, writes its report, and its verdict, printout, summary.md, JSON report and
exit status say the same thing (the one rule of validation.compare)."""

import csv
import json

import numpy as np
import pytest

from gaussequiv.cli import main
from tests.helpers import Scaled
from validation.cli import EXIT_CODES

SMALL = ["validate", "--generator", "single-sign:30x60", "--features", "rf-relu:60", "--loss", "square",
         "--channel", "linear:0.1", "--lam", "0.1", "--alphas", "0.5:2:3", "--samples", "5000",
         "--center-samples", "1000", "--no-progress"]


def _group_verdicts_in_summary(text: str) -> dict[str, str]:
    """The group table rows of a Comparison.summary() section: {group: verdict}."""
    out = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0] in ("test error", "training", "overlaps"):
            out[cells[0]] = cells[1]
    return out


def test_validate_cli(tmp_path, monkeypatch, capsys):
    """Reference: the files the issue asks for exist; the exit status, the printed line, summary.md and the JSON
    report state the same verdict (and the same per-group verdicts) as the comparison table."""
    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "report"
    code = main([*SMALL, "--seeds", "3", "--n-test", "500", "--out", str(out), "--json", str(tmp_path / "r.json")])
    for name in ("theory.csv", "simulation.csv", "simulation_per_seed.csv", "comparison.csv", "comparison.png",
                 "summary.md", "simulation.npz"):
        assert (out / name).exists(), name
    report = json.loads((tmp_path / "r.json").read_text())
    verdict = report["generator_data"]["verdict"]
    assert code == EXIT_CODES[verdict] == report["exit_code"]
    summary = (out / "summary.md").read_text()
    assert f"Verdict: **{verdict}**" in summary
    assert f"generator data: {verdict}:" in capsys.readouterr().out
    groups = {g["name"]: g["verdict"] for g in report["generator_data"]["groups"]}
    assert _group_verdicts_in_summary(summary) == groups
    # linear:0.1 has label noise (test_error_noisy measured); the square loss has train_loss = train_error/2 (not)
    assert report["generator_data"]["quantities"] == ["test_error", "test_error_noisy", "train_error", "q", "m"]
    rejected = [r for r in report["generator_data"]["table"] if r["rejected"]]
    assert (verdict == "disagree") == bool(rejected)
    assert report["gaussian_control"] is None and report["config"]["cache"] is True


def test_validate_cli_gaussian_control(tmp_path, monkeypatch, capsys):
    """Reference: the replica theory. With --gaussian-control the report has a second comparison, on Gaussian
    data with the estimated covariances (the model the equations are exact for); the control's verdict is the
    same in the printout, summary.md (its group table) and the JSON report, and for this exact model it agrees
    (at --level 1e-3: an exact theory is rejected with probability <= 1e-3)."""
    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "control"
    code = main([*SMALL, "--seeds", "6", "--n-test", "1000", "--out", str(out), "--gaussian-control", "--json", "-",
                 "--level", "1e-3"])
    printed = capsys.readouterr()
    report = json.loads(printed.out)  # the JSON goes to stdout, the human lines to stderr
    assert code == report["exit_code"] == EXIT_CODES[report["generator_data"]["verdict"]]
    assert (out / "control_comparison.csv").exists() and (out / "control_comparison.png").exists()
    control = report["gaussian_control"]
    assert control["verdict"] == "agree", control["verdict_text"]
    assert f"Gaussian control: {control['verdict']}:" in printed.err
    summary = (out / "summary.md").read_text()
    section = summary.split("## Gaussian control", 1)[1]
    assert f"Verdict: **{control['verdict']}**" in section
    assert _group_verdicts_in_summary(section) == {g["name"]: g["verdict"] for g in control["groups"]}


def test_validate_cli_lambda_path_without_cache(tmp_path, monkeypatch):
    """Reference: a lambda path end to end; the comparison table has one row per lam and quantity (identity
    features, linear:0.1 and the square loss: five quantities). --no-cache leaves no cache behind."""
    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "path"
    code = main(["validate", "--generator", "single-sign:30x60", "--features", "identity", "--loss", "square",
                 "--channel", "linear:0.1", "--lam", "1e-2:1:3:log", "--alphas", "1.5", "--seeds", "3",
                 "--samples", "5000", "--n-test", "500", "--out", str(out), "--no-progress", "--no-cache"])
    assert code in EXIT_CODES.values()
    assert len((out / "comparison.csv").read_text().splitlines()) == 1 + 3 * 5
    lams = sorted({float(r["lam"]) for r in csv.DictReader(open(out / "theory.csv"))})
    np.testing.assert_allclose(lams, [1e-2, 1e-1, 1.0], rtol=1e-12)  # :log is the geometric grid
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.npz"))


def test_validate_cli_noiseless_channel_has_no_duplicate(tmp_path, monkeypatch):
    """Reference: a noiseless sign teacher's labels are sign(nu), so test_error_noisy would repeat test_error:
    it is neither in the table nor counted by the rule."""
    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    code = main(["validate", "--generator", "single-sign:30x60", "--features", "identity", "--loss", "logistic",
                 "--channel", "sign", "--lam", "0.1", "--alphas", "1,2", "--seeds", "3", "--samples", "4000",
                 "--n-test", "300", "--out", str(tmp_path / "o"), "--no-progress", "--json", str(tmp_path / "r.json")])
    report = json.loads((tmp_path / "r.json").read_text())
    assert code == report["exit_code"]
    assert report["generator_data"]["quantities"] == ["test_error", "train_loss", "train_error", "q", "m"]
    assert report["generator_data"]["n_tests"] in (0, 10) and len(report["generator_data"]["table"]) == 10


def test_validate_cli_exit_status_follows_the_verdict(tmp_path, monkeypatch):
    """Reference: EXIT_CODES. A theory whose test error is off by a factor 3 (the CLI's theory curve, scaled)
    disagrees with the simulation (6 seeds: a 200% error is tens of SE, against a Holm threshold of ~6 SE), so
    the exit status is 3, the JSON says disagree and the rejected points are test errors."""
    import validation.cli

    monkeypatch.setenv("GAUSSEQUIV_CACHE", str(tmp_path / "cache"))
    right = validation.cli._theory_curve
    monkeypatch.setattr(validation.cli, "_theory_curve", lambda *a, **k: Scaled(right(*a, **k), "test_error", 3.0))
    code = main([*SMALL, "--seeds", "6", "--n-test", "500", "--out", str(tmp_path / "o"),
                 "--json", str(tmp_path / "r.json")])
    report = json.loads((tmp_path / "r.json").read_text())["generator_data"]
    assert code == 3 and report["verdict"] == "disagree"
    groups = {g["name"]: g["verdict"] for g in report["groups"]}
    assert groups["test error"] == "disagree"
    assert {r["quantity"] for r in report["table"] if r["rejected"]} == {"test_error"}
    assert EXIT_CODES == {"agree": 0, "disagree": 3, "incomplete": 4}


@pytest.mark.parametrize("argv, option", [
    (["--loss", "cubic"], "--loss"),
    (["--seeds", "1"], "--seeds"),
    (["--alphas", "a:b"], "--alphas"),
    (["--level", "1.5"], "--level"),
    (["--lam", "1e-2:1:3:log", "--alphas", "1:2:3"], "--alphas"),
    (["--teacher", "fixed"], "--teacher"),
    (["--teacher", "averaged", "--gaussian-control"], "--gaussian-control"),
    (["--cache", "c", "--no-cache"], "--no-cache"),
])
def test_validate_cli_bad_input(tmp_path, capsys, argv, option):
    """Reference: the exit codes of `gaussequiv --help`. A wrong option or value is a usage error: status 2 and one
    line naming the option (argparse's own errors too), before any work and without a traceback."""
    assert main(["validate", "--generator", "single-sign:10x20", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert option in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
