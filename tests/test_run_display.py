"""What `infrabench run` prints: a short summary a reader can act on, and progress a CI log can hold.

The summary is rendered from recorded run files (tests/data/runs) into a 120-column console; the progress
display is fed synthetic ProgressEvents on a fake clock; one end-to-end run uses the tiny suite of
tests/data/runner. Nothing here depends on how fast this machine is.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from infrabench.reports.baselines import load_all
from infrabench.reports.cells import fmt_figure
from infrabench.reports.compare_baselines import compare_run
from infrabench.reports.rows import is_suspicious, warnings
from infrabench.reports.scorecard import build_scorecard
from infrabench.suites.result import BenchResult
from infrabench.suites.runner import BackendOutcome, ProgressEvent
from infrabench.suites.worker import MARKER
from rich.console import Console

import infrabench
from infrabench.results import Run
from infrabench.run_display import RunFiles, RunProgress, fmt_left, print_summary

RUNS = Path(__file__).parent / "data" / "runs"
DATA = Path(__file__).parent / "data" / "runner"
FILES = RunFiles(Path("results/20261204-041135-e360/run.json"), Path("results/20261204-041135-e360/report.html"))
MAX_LINES = 25


def load(name: str) -> Run:
    return Run.load(RUNS / name)


def rendered(run: Run, files: RunFiles | None = FILES, verbose: bool = False, width: int = 120) -> str:
    buf = io.StringIO()
    print_summary(Console(file=buf, width=width, force_terminal=False), run, files, verbose)
    return buf.getvalue()


def flat(text: str) -> str:
    """The text with line breaks and indents as single spaces (a long line may wrap)."""
    return " ".join(text.split())


def test_the_summary_of_a_default_run_is_short_and_says_what_matters() -> None:
    run = load("quick_all_suites_0.1.0.json")
    text = rendered(run)
    lines = text.splitlines()
    assert len(lines) <= MAX_LINES, text
    assert all(len(line) <= 120 for line in lines) and "\x1b" not in text
    card = build_scorecard(run, compare_run(run, load_all()))  # the report's own headline, not a second opinion
    assert f"verdict: {card.headline}" in flat(text)
    assert "198 results (136 ok, 62 skipped)" in lines[0]
    # the best figure per device, each with its unit and its share of the peak
    assert "cpu (AMD EPYC)  matmul" in text
    assert "fp32 0.166 TFLOP/s (99.6% of peak, jax)" in text and "bf16 0.266 TFLOP/s (80.0% of peak, torch)" in text
    assert "46.8 GB/s (torch)" in next(line for line in lines if "STREAM triad" in line)
    assert "mlp 45,878 samples/s (MFU 58.8%, numpy)" in text
    # warnings with their counts, as the report counts them
    kinds = [w["kind"] for w in warnings(run, run.benchmarks)]
    assert f"{kinds.count('suspicious')} suspicious: over 100% of the theoretical peak" in text
    assert f"{kinds.count('noisy')} noisy: the IQR of the samples is above 10% of the median" in text
    # skipped, grouped by reason, most common first; where the rest are listed
    assert "skipped: 62 results, 15 reasons:" in text
    assert "12 × no accelerator: host<->device copies need a device other than the CPU" in text
    assert "… 12 more reasons (38 results): listed by --verbose and the report" in text
    assert "failed: none" in text
    assert f"run file: {FILES.run_path}" in text and f"report:   {FILES.report_path}" in text


def test_a_figure_flagged_suspicious_is_never_shown_as_fact() -> None:
    run = load("quick_all_suites_0.1.0.json")
    text = rendered(run)
    flagged = [b for b in run.benchmarks if is_suspicious(b) and b.throughput is not None]
    assert flagged
    for b in flagged:  # a credible figure of the same dtype exists: the flagged one is not the "best"
        figure = f"{fmt_figure(b.throughput.value)} {b.throughput.unit}"
        assert all("suspicious" in line for line in text.splitlines() if figure in line), figure

    data = copy.deepcopy(run)
    for b in data.benchmarks:  # every fp32 matmul flagged: the best fp32 figure can only be shown as a doubt
        if b.suite == "matmul" and b.dtype == "fp32" and b.status == "ok":
            b.suspicious, b.pct_of_peak = True, 130.0
    best = max(b.throughput.value for b in data.benchmarks
               if b.suite == "matmul" and b.dtype == "fp32" and b.throughput is not None)
    text = rendered(data)
    figure = f"{fmt_figure(best)} TFLOP/s"
    assert f"fp32 suspicious: {figure} (130.0% of peak, check the peak" in text
    assert all("suspicious: " + figure in line for line in text.splitlines() if figure in line)


def test_failed_results_are_grouped_with_their_reasons() -> None:
    run = load("quick_cpu_sample.json")
    text = rendered(run, files=RunFiles(Path("r/run.json"), None, "report.html not written: the run was interrupted"))
    assert len(text.splitlines()) <= MAX_LINES
    assert "86 results (70 ok, 15 skipped, 1 failed)" in text
    assert "failed: 1 result, 1 reason:" in text
    assert "1 × failed: correctness check failed: relative Frobenius error" in text
    assert "skipped: 15 results, 2 reasons:" in text and "3 × numpy has no bfloat16 dtype" in text
    assert "1 failed the correctness check" in text
    assert "report:   report.html not written: the run was interrupted" in text


def test_hostile_text_in_a_run_is_shown_inert() -> None:
    run = load("quick_cpu_sample.json")
    hostile = "why\x1b[31m [bold]not[/bold] \u202eevil\nsecond line"
    for b in run.benchmarks:
        if b.status == "skipped":
            b.reason = hostile
    text = rendered(run)
    assert "\x1b" not in text and "\u202e" not in text
    assert "why<U+001B>[31m [bold]not[/bold] <U+202E>evil second line" in text  # markup printed, not applied


def test_verbose_adds_the_full_table() -> None:
    run = load("quick_cpu_sample.json")
    short, full = rendered(run, width=200), rendered(run, verbose=True, width=200)
    assert len(full.splitlines()) > len(short.splitlines()) + len(run.benchmarks)
    assert short in full  # the same summary after the table
    row = next(line for line in full.splitlines() if "square[m=512-n=512-k=512]" in line and "numpy" in line)
    assert "TFLOP/s" in row


# --- progress ----------------------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def result(suite: str, backend: str, status: str = "ok", name: str = "square", reason: str | None = None
           ) -> ProgressEvent:
    return ProgressEvent("result", backend, BenchResult(suite, name, backend, "cpu", "fp64", status=status,
                                                        reason=reason))


def log_console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=120, force_terminal=False), buf


def test_progress_in_a_log_is_one_plain_line_per_suite_and_backend() -> None:
    console, buf = log_console()
    clock = Clock()
    with RunProgress(console, ["matmul", "memory"], ["numpy", "torch"], clock=clock, poll_s=None) as progress:
        progress(ProgressEvent("backend_start", "numpy"))
        clock.now = 2.0
        progress(result("matmul", "numpy"))
        clock.now = 12.0
        progress(result("matmul", "numpy", "skipped", reason="numpy has no bfloat16 dtype"))
        assert buf.getvalue() == ""  # nothing finished yet
        progress(result("memory", "numpy"))  # the next suite's first result: matmul is over
        clock.now = 32.0
        progress(ProgressEvent("backend_end", "numpy", outcome=BackendOutcome("ok", duration_s=32.0)))
        progress(ProgressEvent("backend_start", "torch"))
        for suite in ("matmul", "memory"):
            progress(result(suite, "torch", "skipped", name="backend", reason="torch is not installed"))
        progress(ProgressEvent("backend_end", "torch", outcome=BackendOutcome("skipped", "torch is not installed")))
    lines = buf.getvalue().splitlines()
    assert lines == [
        "1 of 4 done  matmul on numpy: 1 ok, 1 skipped in 10 s  (12 s elapsed, about 30 s left (estimate))",
        "2 of 4 done  memory on numpy: 1 ok in 20 s  (32 s elapsed, about 30 s left (estimate))",
        "4 of 4 done  torch: 2 suites skipped (matmul, memory): torch is not installed  (32 s elapsed)",
    ]
    assert "\x1b" not in buf.getvalue()


def test_the_worker_log_markers_end_a_suite_once_its_results_have_arrived(tmp_path: Path) -> None:
    console, buf = log_console()
    clock = Clock()
    log = tmp_path / "worker-numpy.log"

    def mark(event: str, **fields: object) -> None:
        with log.open("a") as fh:
            fh.write("\n" + MARKER + json.dumps({"event": event, **fields}) + "\n")

    with RunProgress(console, ["matmul", "memory"], ["numpy"], tmp_path, clock=clock, poll_s=None) as progress:
        progress(ProgressEvent("backend_start", "numpy"))
        log.write_text("numpy's own output\n")
        clock.now = 1.0
        mark("suite_start", suite="matmul", results=0)
        progress.poll()
        assert progress.describe() == "matmul on numpy"
        progress(result("matmul", "numpy"))
        clock.now = 5.0
        mark("suite_end", suite="matmul", results=2)  # the worker has journalled a second result not yet read
        progress.poll()
        assert buf.getvalue() == "" and progress.done == 0
        progress(result("matmul", "numpy"))
        assert buf.getvalue().startswith("1 of 2 done  matmul on numpy: 2 ok in 4.0 s")
        mark("suite_start", suite="memory", results=2)
        with log.open("a") as fh:
            fh.write(MARKER + '{"event": "suite_end", "sui')  # half a line: read once it is whole
        progress.poll()
        assert progress.describe() == "memory on numpy" and progress.done == 1
        clock.now = 9.0
        progress(ProgressEvent("backend_end", "numpy", outcome=BackendOutcome("ok")))
    assert buf.getvalue().splitlines()[1].startswith("2 of 2 done  memory on numpy: no results in 4.0 s")


def test_the_time_left_is_estimated_from_the_suites_finished_and_labelled() -> None:
    console, _ = log_console()
    clock = Clock()
    progress = RunProgress(console, ["a", "b"], ["x", "y"], clock=clock, poll_s=None)
    assert progress.estimate_left_s(0.0) is None and "estimated once a suite has finished" in fmt_left(None)
    progress(ProgressEvent("backend_start", "x"))
    clock.now = 2.0  # two seconds of worker start-up
    progress(result("a", "x"))
    clock.now = 12.0
    progress(result("b", "x"))
    clock.now = 32.0
    progress(ProgressEvent("backend_end", "x", outcome=BackendOutcome("ok")))
    assert progress.estimate_left_s(32.0) == pytest.approx(2.0 + 10.0 + 20.0)  # start-up, a, b on y
    assert fmt_left(32.0) == "about 30 s left (estimate)" and fmt_left(600) == "about 10 min left (estimate)"
    progress(ProgressEvent("backend_start", "y"))
    clock.now = 40.0
    progress(result("a", "y"))
    assert progress.estimate_left_s(44.0) == pytest.approx(6.0 + 20.0)  # a has 4 of its 10 s behind it


def test_a_crashed_worker_ends_its_suite_failed_and_names_the_rest() -> None:
    console, buf = log_console()
    with RunProgress(console, ["a", "b", "c"], ["x"], clock=Clock(), poll_s=None) as progress:
        progress(ProgressEvent("backend_start", "x"))
        progress(result("a", "x"))
        progress(result("a", "x", "failed", name="backend", reason="worker crashed: SIGSEGV"))
        for suite in ("b", "c"):
            progress(result(suite, "x", "skipped", name="backend", reason="not run: the x worker ended"))
        progress(ProgressEvent("backend_end", "x", outcome=BackendOutcome("failed", "worker crashed: SIGSEGV")))
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("1 of 3 done  a on x: 1 ok, 1 failed in ")
    assert lines[1].startswith("3 of 3 done  x: 2 suites not run (failed) (b, c): worker crashed: SIGSEGV")


def test_on_a_terminal_the_display_is_live_and_leaves_no_lines() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=100, force_terminal=True)
    clock = Clock()
    with RunProgress(console, ["matmul"], ["numpy"], clock=clock, poll_s=None) as progress:
        assert progress.live
        progress(ProgressEvent("backend_start", "numpy"))
        progress(result("matmul", "numpy"))
        clock.now = 42.0
        shown = io.StringIO()
        Console(file=shown, width=80, force_terminal=False).print(progress.view())
        line, below = shown.getvalue().splitlines()  # a spinner, what runs, a bar, N of M; then the times
        assert line.split()[1:] == "matmul on numpy 0 of 1 done".split()
        assert below == "  42 s elapsed · time left: estimated once a suite has finished"
        progress(ProgressEvent("backend_end", "numpy", outcome=BackendOutcome("ok")))
        assert progress.done == 1
    assert "1 of 1 done  matmul" not in buf.getvalue()  # no log lines beside the live display


# --- the command ---------------------------------------------------------------------------------------------

@pytest.fixture
def selftest(monkeypatch):
    monkeypatch.setenv("INFRABENCH_EXTRA_SUITES", "selftest=selftest_suite:run_suite")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(DATA), os.environ.get("PYTHONPATH")])))
    for name in ("INFRABENCH_TEST_FAULT", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def cli_run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infrabench.cli", "run", "--suite", "selftest", "--backend", "numpy",
                           "--out", str(tmp_path), *extra], capture_output=True, text=True, timeout=120)


def test_the_command_prints_a_short_log_and_verbose_adds_the_table(selftest, tmp_path: Path) -> None:
    proc = cli_run(tmp_path / "a")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) <= MAX_LINES and "\x1b" not in proc.stdout, proc.stdout
    assert any(line.startswith("1 of 1 done  selftest on numpy: 2 ok in ") for line in lines), proc.stdout
    (run_path,) = (tmp_path / "a").glob("*/run.json")
    assert "verdict: " in proc.stdout and f"run file: {run_path}" in proc.stdout
    assert f"report:   {run_path.parent / 'report.html'}" in proc.stdout
    assert "square[n=16]" not in proc.stdout  # the per-benchmark table is --verbose's

    proc = cli_run(tmp_path / "b", "--verbose")
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if "square[n=" in line]
    assert len(rows) == 2 and all("TFLOP/s" in row and "numpy" in row for row in rows), proc.stdout
    assert "verdict: " in proc.stdout


def test_the_library_run_is_quiet_by_default_and_prints_the_summary_when_asked(selftest, tmp_path: Path,
                                                                                 capsys) -> None:
    selftest.syspath_prepend(str(DATA))
    run = infrabench.run(suites="selftest", backends="numpy", out=tmp_path / "q")
    assert [b.status for b in run.benchmarks] == ["ok", "ok"] and capsys.readouterr().out == ""
    infrabench.run(suites="selftest", backends="numpy", out=tmp_path / "loud", quiet=False)
    printed = capsys.readouterr().out
    assert "selftest on numpy: 2 ok" in printed and "verdict: " in printed and "\x1b" not in printed
    assert len(printed.splitlines()) <= MAX_LINES
