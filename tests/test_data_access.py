"""infrabench.load(paths) -> DataFrame and `infrabench export RUN.json --csv FILE`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import run_cli

import infrabench
from infrabench.errors import UsageError

DEV_RUN = Path(infrabench.__file__).resolve().parent.parent / "reports" / "baselines" / "dev-2vcpu-vm.run.json"


def test_load_gives_one_row_per_benchmark_per_run_with_machine_columns(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    run = json.loads(DEV_RUN.read_text())
    n = len(run["benchmarks"]) + len(run["infrabench"]["results_without_timing"])
    second = tmp_path / "second.json"
    second.write_text(DEV_RUN.read_text())
    df = infrabench.load([DEV_RUN, second])
    assert len(df) == 2 * n
    assert {"run_id", "cpu_model", "hostname", "fullname", "status", "throughput", "throughput_unit"} <= set(df.columns)
    one = infrabench.load(DEV_RUN)
    triad = one[(one.benchmark == "triad") & (one.backend == "torch") & (one.status == "ok")]
    bench = next(b for b in run["benchmarks"] if b["fullname"] == triad.iloc[0].fullname)
    assert triad.iloc[0].throughput == bench["extra_info"]["infrabench"]["throughput"]["value"]
    assert triad.iloc[0].median_s == bench["stats"]["median"]
    assert set(one.status) >= {"ok", "skipped"}


def test_load_bad_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"benchmarks": ')
    with pytest.raises(UsageError, match="not valid JSON"):
        infrabench.load(bad)


def test_export_csv(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    proc = run_cli("export", str(DEV_RUN), "--csv", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(out.open()))
    run = json.loads(DEV_RUN.read_text())
    assert len(rows) == len(run["benchmarks"]) + len(run["infrabench"]["results_without_timing"])
    assert rows[0]["fullname"] == run["benchmarks"][0]["fullname"]
    proc = run_cli("export", str(DEV_RUN), "--csv", str(tmp_path / "no" / "r.csv"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_report_bad_files_one_line_exit_2(tmp_path: Path) -> None:
    truncated = tmp_path / "t.json"
    truncated.write_text(DEV_RUN.read_text()[:500])
    wrong = tmp_path / "w.json"
    wrong.write_text(json.dumps({"benchmarks": "nope"}))
    for path, message in ((tmp_path / "missing.json", "no such run file"), (truncated, "truncated"),
                          (wrong, "not an infrabench run file")):
        proc = run_cli("report", str(path))
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    # several runs: the bad one is named
    proc = run_cli("report", str(DEV_RUN), str(truncated), "-o", str(tmp_path / "x.html"))
    assert proc.returncode == 2 and str(truncated) in proc.stderr


def test_report_of_several_runs_side_by_side(tmp_path: Path) -> None:
    second = tmp_path / "b.json"
    run = json.loads(DEV_RUN.read_text())
    for b in run["benchmarks"]:
        tp = b["extra_info"]["infrabench"].get("throughput")
        if tp:
            tp["value"] *= 2
    second.write_text(json.dumps(run))
    out = tmp_path / "cmp.html"
    proc = run_cli("report", str(DEV_RUN), str(second), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert "2 runs side by side" in html and "(2.0× faster than run 1)" in html and "<script" not in html
