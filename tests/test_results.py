"""The one results model: files written by infrabench 0.1.0 read back, render and gate exactly as before;
the model round-trips; nothing outside it reads run-file dicts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from report_snapshot import report_snapshot

from infrabench.errors import UsageError
from infrabench.results import SCHEMA_VERSION, MemoryFigures, Run, TrainFigures

ROOT = Path(__file__).resolve().parent.parent
RUNS = Path(__file__).parent / "data" / "runs"
RECORDED = ("quick_cpu_sample", "quick_all_suites_0.1.0")  # run files written by infrabench 0.1.0


@pytest.mark.parametrize("name", RECORDED)
def test_a_recorded_0_1_0_run_renders_the_report_it_rendered_before(name: str) -> None:
    """Tables, cells, warnings, sections, scorecard and verdicts equal the snapshot taken with 0.1.0's reader.

    The "how this was measured" notes are compared too, except the minimum sample duration, which 0.1.0
    did not record (the notes now say so instead of assuming 1 ms)."""
    before = json.loads((RUNS / f"{name}.report.json").read_text())
    after = json.loads(json.dumps(report_snapshot(Run.load(RUNS / f"{name}.json")), sort_keys=True))
    before["notes"].pop("min_sample")
    after["notes"].pop("min_sample")
    assert after == before


def test_compare_gives_the_verdicts_it_gave_before() -> None:
    from infrabench.reports.gate import GateSettings

    from infrabench.compare_command import compare_files

    recorded = json.loads((RUNS / "compare_verdicts_0.1.0.json").read_text())
    for pair, expected in recorded.items():
        base, new = pair.split("__")
        comparison = compare_files([RUNS / f"{base}.json"], RUNS / f"{new}.json", GateSettings(), True)
        got = {v.fullname: [v.verdict, v.reason, v.ratio, v.p, v.mde] for v in comparison.verdicts}
        assert comparison.passed == expected["passed"] and comparison.exit_code == expected["exit_code"], pair
        assert got.keys() == expected["benchmarks"].keys(), pair
        for fullname, row in expected["benchmarks"].items():  # the reasons are worded anew since; the verdicts
            assert got[fullname][0] == row[0], (pair, fullname)  # and every number behind them are not
            assert bool(got[fullname][1]) == bool(row[1]), (pair, fullname)
            for value, want in zip(got[fullname][2:], row[2:], strict=True):
                assert value == (None if want is None else pytest.approx(want, rel=1e-9)), (pair, fullname)


@pytest.mark.parametrize("name", RECORDED)
def test_run_round_trips_through_its_file_form(name: str, tmp_path: Path) -> None:
    run = Run.load(RUNS / f"{name}.json")
    assert run.schema_version == "1.0"  # written by 0.1.0
    assert Run.from_dict(run.to_dict()) == run
    path = run.write(tmp_path / "run.json")
    again = Run.load(path)
    assert again.schema_version == SCHEMA_VERSION  # written now: the current schema
    again.schema_version = run.schema_version
    assert again == run
    written = json.loads(path.read_text())
    written["infrabench"]["schema_version"] = "1.0"
    assert again.to_dict() == written
    assert [b.fullname for b in again.timed] == [b["fullname"] for b in json.loads(path.read_text())["benchmarks"]]


def test_suite_figures_are_declared_records_and_unknown_keys_are_kept() -> None:
    run = Run.load(RUNS / "quick_all_suites_0.1.0.json")
    triad = next(b for b in run.timed if b.suite == "memory" and b.name == "triad")
    assert isinstance(triad.figures, MemoryFigures) and triad.figures.kernel and triad.figures.bytes_read > 0
    train = next(b for b in run.timed if b.suite == "train")
    assert isinstance(train.figures, TrainFigures) and train.figures.samples_per_s > 0
    assert train.throughput.unit == "samples/s" and train.timing.timer
    raw = json.loads((RUNS / "quick_all_suites_0.1.0.json").read_text())
    raw["benchmarks"][0]["extra_info"]["infrabench"]["extra"]["future_figure"] = 42
    again = Run.from_dict(raw)
    assert again.benchmarks[0].figures.other["future_figure"] == 42
    assert again.to_dict()["benchmarks"][0]["extra_info"]["infrabench"]["extra"]["future_figure"] == 42


def test_a_0_1_0_file_reads_its_timing_from_the_old_keys() -> None:
    run = Run.load(RUNS / "quick_cpu_sample.json")
    b = run.timed[0]
    assert b.timing.timer and b.timing.iterations and b.timing.rounds == b.stats.rounds
    assert b.timing.min_sample_s == 0.001  # pytest-benchmark's options.min_time, where that file had it


def test_pytest_benchmark_files_read_only_where_asked(tmp_path: Path) -> None:
    saved = {"machine_info": {"node": "x"}, "commit_info": {}, "datetime": "2026-01-01", "version": "5.1.0",
             "benchmarks": [{"group": None, "name": "test_a", "fullname": "t.py::test_a", "params": None,
                             "stats": {"min": 1.0, "median": 1.0, "data": [1.0, 1.1]}, "extra_info": {}}]}
    path = tmp_path / "pb.json"
    path.write_text(json.dumps(saved))
    with pytest.raises(UsageError, match="not an infrabench run file"):
        Run.load(path)
    run = Run.load(path, accept_pytest_benchmark=True)
    assert run.file_format == "pytest-benchmark" and run.benchmarks[0].stats.valid_samples == [1.0, 1.1]
    assert run.benchmarks[0].status == "ok" and run.benchmarks[0].device == "cpu"


RUN_FILE_KEYS = ("extra_info", "results_without_timing", "machine_info", "commit_info", "benchmarks", "stats",
                 "verdicts")
INDEXING = re.compile(r"""(\[\s*["'](?P<a>\w+)["']\s*\]|\.get\(\s*["'](?P<b>\w+)["'])""")
# Files that read or write a dict with one of those keys that is not a run file, each with why.
NOT_RUN_FILES = {
    "reports/gate/noise.py": "the noise-profile format has its own `benchmarks` table",
    "infrabench/pytest_cases.py": "fills pytest-benchmark's own `extra_info` fixture attribute",
}


def test_no_run_file_dict_indexing_outside_the_results_module() -> None:
    offenders = []
    for folder in ("infrabench", "probes", "suites", "reports", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "infrabench/results.py" or rel in NOT_RUN_FILES:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for m in INDEXING.finditer(line):
                    if (m.group("a") or m.group("b")) in RUN_FILE_KEYS:
                        offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == []


def test_the_scan_finds_what_it_looks_for() -> None:
    assert INDEXING.search('x = run["benchmarks"]').group("a") == "benchmarks"
    assert INDEXING.search("e.get('extra_info') or {}").group("b") == "extra_info"


def test_the_readme_states_the_timing_settings_the_code_uses() -> None:
    from infrabench.suites.timing_plans import table_rows

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- timing-table -->", 1)[1].split("\n\n", 1)[0]
    stated = [line for line in block.splitlines() if line.startswith("| ") and not line.startswith("| suite")]
    assert stated == table_rows()
    assert "at least 1 ms" not in readme
