"""The library API: `infrabench.run`, `compare`, `report` and `Run` do what the commands do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import infrabench
from infrabench.errors import UsageError

RUNS = Path(__file__).parent / "data" / "runs"


def readme_example() -> str:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    return readme.split("## From Python", 1)[1].split("```python", 1)[1].split("```", 1)[0]


@pytest.mark.slow
def test_run_returns_a_run_that_round_trips_and_compares_as_the_cli_does(tmp_path: Path, monkeypatch,
                                                                         capsys) -> None:
    """The README's "From Python" example, run as written, then its objects checked against the CLI."""
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(readme_example(), "README.md (From Python)", "exec"), scope)  # noqa: S102 - our own README
    printed = capsys.readouterr().out
    run = scope["run"]
    assert isinstance(run, infrabench.Run) and run.timed
    assert "TFLOP/s" in printed and (tmp_path / "report.html").is_file() and len(scope["frame"]) == len(run.benchmarks)
    for b in run.timed:
        assert b.throughput is not None and b.throughput.value > 0 and b.throughput.unit == "TFLOP/s"
        assert b.timing.min_sample_s is not None and b.timing.rounds == len(b.stats.data)
        assert b.check is not None and b.check.passed is True
    (path,) = (tmp_path / "results").glob("*/run.json")
    assert infrabench.Run.load(path) == run
    comparison = infrabench.compare([path], path)
    verdicts = {v.fullname: v.verdict for v in comparison.verdicts}
    out = tmp_path / "cli.json"
    proc = subprocess.run([sys.executable, "-m", "infrabench.cli", "compare", str(path), str(path), "--json",
                           str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == comparison.exit_code == 0, proc.stderr
    assert verdicts == {b["fullname"]: b["verdict"] for b in json.loads(out.read_text())["benchmarks"]}
    report = infrabench.report(run, tmp_path / "r.html")
    assert "<svg" in report.read_text(encoding="utf-8")


def test_compare_takes_runs_or_paths_and_report_a_path(tmp_path: Path) -> None:
    path = RUNS / "quick_cpu_sample.json"
    run = infrabench.Run.load(path)
    by_run = infrabench.compare(run, run)
    by_path = infrabench.compare([path], path)
    assert [(v.fullname, v.verdict) for v in by_run.verdicts] == [(v.fullname, v.verdict) for v in by_path.verdicts]
    assert by_path.passed and by_path.exit_code == 0
    assert infrabench.report(path, tmp_path / "r.html").stat().st_size > 10_000


def test_bad_options_are_the_cli_s_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--suite nope: unknown suite"):
        infrabench.run(suites=["nope"], out=tmp_path)
    with pytest.raises(UsageError, match="threshold"):
        infrabench.compare([RUNS / "quick_cpu_sample.json"], RUNS / "quick_cpu_sample.json", threshold=10)


def test_importing_infrabench_stays_cheap() -> None:
    code = ("import sys, infrabench; infrabench.Run\n"
            "print(sorted(m for m in ('torch', 'jax', 'pandas', 'matplotlib', 'jinja2') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
