"""What `infrabench compare` prints says what it means: changes in words, no absurd figures, a table that reads.

Runs are copies of one recorded run file with known per-run offsets (no timing here: nothing depends on this
machine's speed), compared in-process; the `--threads` refusal goes through the command line.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from infrabench.reports.gate import bench_set, compare, outputs
from infrabench.reports.gate.fingerprint import machine_diffs
from infrabench.reports.gate.words import describe_change, describe_interval, describe_slowdown

from tests.conftest import run_cli

SAMPLE = Path(__file__).parent / "data" / "runs" / "quick_cpu_sample.json"
SLOW, FAST = "matmul/square[m=1024-n=1024-k=1024]/numpy/cpu/fp64", "matmul/square[m=2048-n=2048-k=2048]/numpy/cpu/fp64"
NOISY = "matmul/square[m=512-n=512-k=512]/numpy/cpu/fp32"
# a figure of 1,000% or more, or a factor of 1,000× or more: what "too noisy to tell" replaces
ABSURD = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?[%×]|\d{4,}(\.\d+)?[%×]")


def _data() -> dict:
    return json.loads(SAMPLE.read_text())


def _scaled(data: dict, factors: dict[str, float], every: float = 1.0) -> dict:
    """A copy with each benchmark's samples scaled by `every` times its factor (one factor for all its rounds)."""
    out = json.loads(json.dumps(data))
    for b in out["benchmarks"]:
        f = every * factors.get(b["fullname"], 1.0)
        b["stats"]["data"] = [v * f for v in b["stats"]["data"]]
        for key in ("min", "max", "mean", "median", "q1", "q3"):
            if isinstance(b["stats"].get(key), (int, float)):
                b["stats"][key] *= f
    return out


def _bases(data: dict, offsets=(-0.02, 0.02, -0.01, 0.01, 0.0)) -> list:
    """Base runs whose log offsets average 0: a copy scaled by a factor compares at exactly that ratio."""
    return [bench_set(_scaled(data, {}, math.exp(o)), f"base{i}") for i, o in enumerate(offsets)]


# --- 1. the direction in words -----------------------------------------------------------------------

def test_changes_read_as_pyperf_does_for_times_and_throughputs():
    assert describe_change(1.12) == "12.0% slower" and describe_change(1.12, higher_is_better=True) == "12.0% faster"
    assert describe_change(0.8) == "25.0% faster" and describe_change(0.8, higher_is_better=True) == "25.0% slower"
    assert describe_change(1 / 1.3) == "30.0% faster"  # a change and its reverse read alike
    assert describe_change(2.0) == "2.0× slower" and describe_change(0.4) == "2.5× faster"
    assert describe_change(1.0) == "no change" and describe_change(None) == "—" and describe_change(math.inf) == "—"
    assert describe_interval(1.05, 1.2) == "5.0% to 20.0% slower"
    assert describe_interval(0.97, 1.2) == "3.1% faster to 20.0% slower"
    assert describe_slowdown(0.123) == "12.3% slower"


def test_every_output_says_slower_and_faster_in_words(tmp_path):
    data = _data()
    bases = _bases(data)
    new = bench_set(_scaled(data, {SLOW: 1.3, FAST: 0.5}), "new")
    c = compare(bases, new)
    verdicts = {v.fullname: v for v in c.verdicts}
    assert verdicts[SLOW].verdict == "regression" and verdicts[FAST].verdict == "improvement"
    assert verdicts[SLOW].ratio == pytest.approx(1.3) and verdicts[FAST].ratio == pytest.approx(0.5)

    md = outputs.markdown(c)
    row = next(line for line in md.splitlines() if line.startswith("| regression"))
    assert "| 30.0% slower |" in row and "% slower" in row.split("|")[4]  # the interval too
    assert "| 2.0× faster |" in next(line for line in md.splitlines() if line.startswith("| improvement"))

    failure = next(case.find("failure") for case in ET.fromstring(outputs.junit(c).split("\n", 1)[1]).iter("testcase")
                   if case.find("failure") is not None)
    assert failure.get("message").startswith("regression: 30.0% slower, 99% CI ")
    props = {p.get("name"): p.get("value") for p in ET.fromstring(outputs.junit(c).split("\n", 1)[1]).iter("property")}
    assert "change" in props and "interval" in props

    data_out = json.loads(outputs.to_json(c))
    by_name = {b["fullname"]: b for b in data_out["benchmarks"]}
    assert by_name[SLOW]["change_words"] == "30.0% slower" and by_name[FAST]["change_words"] == "2.0× faster"
    assert by_name[SLOW]["change_pct"] == pytest.approx(30.0) and "change_words" in data_out["method"]["words"]

    from rich.console import Console

    console = Console(record=True, width=200, color_system=None)
    outputs.print_terminal(console, c)
    text = console.export_text()
    assert "30.0% slower" in text and "2.0× faster" in text and "+30.0%" not in text


# --- 2. no absurd figures ----------------------------------------------------------------------------

def test_an_unusable_interval_and_mde_read_too_noisy_to_tell_with_the_reason(tmp_path):
    """Two base runs 10x apart for one benchmark: its 99% interval ran to +20,527% and its MDE to 240,525,278%."""
    data = _data()
    bases = [bench_set(data, "base0"), bench_set(_scaled(data, {NOISY: 10.0}), "base1")]
    c = compare(bases, bench_set(data, "new"))
    v = next(v for v in c.verdicts if v.fullname == NOISY)
    assert v.verdict == "inconclusive" and v.interval_too_noisy and v.mde_too_noisy
    assert v.interval_words == "too noisy to tell" and v.mde_words == "too noisy to tell"
    assert v.too_noisy and "between-run spread" in v.too_noisy and "of the median, 2 base runs" in v.too_noisy
    assert v.reason == f"too noisy to tell: {v.too_noisy}"
    md = outputs.markdown(c)
    assert not ABSURD.search(md), ABSURD.search(md)
    assert "too noisy to tell" in next(line for line in md.splitlines() if NOISY.split("/")[1][:6] in line
                                       and "fp32" in line and "512\\]" in line)
    assert not ABSURD.search(outputs.junit(c))
    js = json.loads(outputs.to_json(c))
    entry = next(b for b in js["benchmarks"] if b["fullname"] == NOISY)
    assert entry["interval_words"] == "too noisy to tell" and entry["ci_high"] > 100  # the numbers are kept


def test_an_overflowing_interval_is_too_noisy_not_a_crash():
    """Base runs 1e300x apart: the t interval's bound overflows exp(); the gate says too noisy and JSON stays valid."""
    data = _data()
    bases = [bench_set(_scaled(data, {NOISY: 1e150}), "base0"), bench_set(_scaled(data, {NOISY: 1e-150}), "base1")]
    c = compare(bases, bench_set(data, "new"))
    v = next(v for v in c.verdicts if v.fullname == NOISY)
    assert v.verdict == "inconclusive" and v.interval_words == "too noisy to tell" and v.too_noisy
    entry = next(b for b in json.loads(outputs.to_json(c))["benchmarks"] if b["fullname"] == NOISY)
    assert entry["ci_high"] is None and entry["mde"] is None and entry["too_noisy"] == v.too_noisy


# --- 3. the terminal table ---------------------------------------------------------------------------

def test_terminal_table_keeps_verdicts_whole_and_notes_short():
    from rich.console import Console

    data = _data()
    bases = [bench_set(data, "base0"), bench_set(_scaled(data, {NOISY: 10.0}), "base1")]
    c = compare(bases, bench_set(_scaled(data, {SLOW: 1.3}), "new"))
    rows = sum(1 for v in c.verdicts if v.verdict not in ("unchanged", "skipped")) + 2  # + the collapsed two
    for width in (100, 120, 160):
        console = Console(record=True, width=width, color_system=None)
        outputs.print_terminal(console, c)
        text = console.export_text()
        assert not re.search(r"inconclusiv(?!e)|regressio(?!n)", text), f"a verdict wrapped at width {width}"
        # a short note per row: at most 5 lines a row, with the title, header, reasons of failed ones, noise, headline
        assert len(text.splitlines()) <= 5 * rows + 12, f"notes are not short at width {width}"
    failed = next(v for v in c.verdicts if v.verdict == "failed")
    assert failed.note == "base failed, new failed" and "correctness check failed" in failed.reason
    assert f"failed {failed.fullname}: {failed.reason}" in " ".join(text.split())  # the whole reason, below the table


# --- 4. --threads is part of the fingerprint ---------------------------------------------------------

def _with_threads(data: dict, threads: int | None) -> dict:
    out = json.loads(json.dumps(data))
    out["infrabench"]["config"]["threads"] = threads
    return out


def test_threads_differing_between_runs_is_a_fingerprint_difference(tmp_path):
    data = _data()  # its profile: 2 usable CPUs, no --threads
    one = tmp_path / "one.json"
    one.write_text(json.dumps(_with_threads(data, 1)))
    proc = run_cli("compare", str(SAMPLE), str(one))
    assert proc.returncode == 2 and "run.threads: 2 -> 1" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert run_cli("compare", str(SAMPLE), str(one), "--allow-different-machines").returncode == 0
    # --threads 2 on a machine with 2 usable CPUs runs as the default does: no difference
    assert machine_diffs(bench_set(data, "a"), bench_set(_with_threads(data, 2), "b")) == []
    diffs = machine_diffs(bench_set(_with_threads(data, 4), "a"), bench_set(_with_threads(data, 2), "b"))
    assert [(d.field, d.base, d.new) for d in diffs] == [("run.threads", 4, 2)]


def test_report_of_several_runs_words_a_change_as_compare_does() -> None:
    """One change, seen as times by the gate (new/base of seconds) and as rates by `report A B`, reads alike."""
    from infrabench.reports.gate.words import describe_change
    from infrabench.reports.multi import _ratio

    assert describe_change(1 / 1.3) == "30.0% faster"
    assert _ratio(130.0, 100.0, "GB/s", False) == " (30.0% faster than run 1)"
    assert describe_change(2.5) == "2.5× slower"
    assert _ratio(40.0, 100.0, "TFLOP/s", False) == " (2.5× slower than run 1)"
    assert _ratio(100.0, 100.0, "samples/s", False) == " (same as run 1)"
    assert _ratio(100.0, 100.0, "GB/s", True) == ""  # run 1's own column
    assert _ratio(4.0, 2.0, "cores", False) == " (×2 run 1)"  # a count is neither faster nor slower
