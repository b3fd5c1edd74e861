"""Bundled baselines: classes, provenance, datasheet figures matching the design table; user baselines; CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from infrabench.reports import baselines as bl
from infrabench.reports.compare_baselines import compare_figures, log_position
from infrabench.reports.run_figures import RunFigure

from infrabench.errors import UsageError

DEV_RUN = bl.BUNDLED_DIR / "dev-2vcpu-vm.run.json"
# measurement.md's reference table (TFLOP/s dense; memory TB/s), the figures the datasheets give.
DESIGN_TABLE = {
    "nvidia-a100-sxm-80gb": {"fp32": 19.5, "tf32": 156, "bf16": 312, "memory_tbs": 2.0},
    "nvidia-h100-sxm": {"fp32": 67, "tf32": 494.5, "bf16": 989.5, "fp8": 1979, "memory_tbs": 3.35},
    "nvidia-h200-sxm": {"fp32": 67, "tf32": 494.5, "bf16": 989.5, "fp8": 1979, "memory_tbs": 4.8},
    "amd-mi300x": {"fp32": 163.4, "tf32": 653.7, "bf16": 1300, "fp8": 2610, "memory_tbs": 5.3},
    "google-tpu-v5e": {"bf16": 197, "memory_tbs": 0.82},
    "google-tpu-v6e": {"bf16": 918, "memory_tbs": 1.64},
}


@pytest.fixture(scope="module")
def bundled() -> dict[str, bl.Baseline]:
    return {b.name: b for b in bl.load_all(extra_dir=Path("/nonexistent"))}


def test_at_least_three_ai_and_two_it_baselines_each_figure_sourced(bundled) -> None:
    assert sum(b.cls == "ai" for b in bundled.values()) >= 3
    assert sum(b.cls == "it" for b in bundled.values()) >= 2
    for b in bundled.values():
        assert b.description and b.figures
        for f in b.figures.values():
            assert f.provenance.kind in bl.PROVENANCE_KINDS and len(f.provenance.source) > 10


@pytest.mark.parametrize("name", sorted(DESIGN_TABLE))
def test_datasheet_figures_match_the_design_table_and_cite_documents(bundled, name: str) -> None:
    b = bundled[name]
    for dtype, expected in DESIGN_TABLE[name].items():
        key = "peak_memory_gbs" if dtype == "memory_tbs" else f"peak_matmul_tflops.{dtype}"
        fig = b.figures[key]
        want = expected * 1000 if dtype == "memory_tbs" else expected
        assert fig.value == pytest.approx(want, rel=0.025), (key, fig.value, want)
        assert fig.provenance.kind in ("datasheet", "computed")
        assert any(word in fig.provenance.source for word in ("datasheet", "data sheet", "documentation"))


def test_published_achievable_figures_name_their_publication(bundled) -> None:
    for name, value in (("nvidia-a100-sxm-80gb", 271.2), ("nvidia-h100-sxm", 794.5), ("amd-mi300x", 668.4)):
        fig = bundled[name].figures["matmul_tflops.bf16"]
        assert fig.value == value and fig.provenance.kind == "published"
        assert "ml-engineering" in fig.provenance.source
    h200 = bundled["nvidia-h200-sxm"].figures["matmul_tflops.bf16"]
    assert h200.provenance.kind == "reported"  # no public source identified: said so, not dressed as published


def test_dev_machine_is_measured_with_its_run_file_beside(bundled) -> None:
    dev = bundled["dev-2vcpu-vm"]
    assert dev.cls == "it" and dev.source_kinds() == ["measured"]
    for f in dev.figures.values():
        assert f.provenance.run_file == DEV_RUN.name and "infrabench 0.1.0" in f.provenance.source
    assert (bl.BUNDLED_DIR / DEV_RUN.name).is_file()
    run = json.loads(DEV_RUN.read_text())
    derived = bl.from_run("x", run, "it", DEV_RUN.name)["figures"]
    assert {k: v["value"] for k, v in derived.items()} == {k: f.value for k, f in dev.figures.items()}


def test_missing_achieved_figure_falls_back_to_the_labelled_peak_or_dash(bundled) -> None:
    rows = compare_figures({"matmul_tflops.fp32": RunFigure("matmul_tflops.fp32", 1.0, "TFLOP/s", "x")},
                           list(bundled.values()))
    refs = {r.baseline.name: r for r in rows[0].references}
    assert refs["nvidia-h100-sxm"].is_peak and refs["nvidia-h100-sxm"].figure.value == 67
    assert refs["google-tpu-v5e"].figure is None and refs["google-tpu-v5e"].ratio is None
    assert refs["nvidia-h100-sxm"].ratio == pytest.approx(1 / 67)


def test_log_position_between_references() -> None:
    assert log_position(10, 1, 100) == pytest.approx(0.5)
    assert log_position(1, 1, 100) == pytest.approx(0.0)
    assert log_position(1000, 1, 100) == pytest.approx(1.5)
    assert log_position(5, None, 100) is None and log_position(5, 100, 10) is None


def test_save_show_and_list_user_baseline(tmp_path: Path) -> None:
    env_dir = tmp_path / "user"
    import os
    import subprocess
    import sys

    env = {**os.environ, bl.DIR_ENV: str(env_dir)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "infrabench.cli", *args], capture_output=True, text=True,
                              env=env, timeout=60)

    proc = cli("baseline", "save", "my-box", "--from", str(DEV_RUN), "--class", "it")
    assert proc.returncode == 0, proc.stderr
    assert (env_dir / "my-box.json").is_file() and (env_dir / "my-box.run.json").is_file()
    listing = cli("baseline", "list")
    assert listing.returncode == 0
    line = next(ln for ln in listing.stdout.splitlines() if ln.startswith("my-box"))
    assert "IT" in line and "user" in line and "measured" in line
    for name in ("nvidia-h100-sxm", "dual-xeon-8480plus", "google-tpu-v6e"):
        assert name in listing.stdout
    shown = cli("baseline", "show", "my-box")
    assert "matmul_tflops.bf16" in shown.stdout and "measured: infrabench" in shown.stdout


@pytest.mark.parametrize("args, message", [
    (("baseline", "show", "no-such"), "no baseline named"),
    (("baseline", "save", "Bad Name", "--from", str(DEV_RUN)), "lower-case"),
    (("baseline", "save", "ok", "--from", "/nonexistent/run.json"), "no such run file"),
])
def test_baseline_bad_input_is_one_line_exit_2(args, message: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(bl.DIR_ENV, str(tmp_path))
    proc = run_cli(*args)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_broken_baseline_file_is_a_clear_error_and_skipped_by_readers(tmp_path: Path, caplog) -> None:
    bad = tmp_path / "bad.json"
    figure = {"value": 1, "unit": "GB/s", "provenance": {"kind": "datasheet", "source": "x"}}
    bad.write_text(json.dumps({"format": "infrabench-baseline", "name": "bad", "class": "ai",
                               "figures": {"matmul_tflops.bf16": figure}}))
    with pytest.raises(UsageError, match="unit must be 'TFLOP/s'"):
        bl.load_file(bad, "user")
    found = bl.load_all(extra_dir=tmp_path)  # every run and report reads the user's folder: never fatal there
    assert "bad" not in {b.name for b in found} and found
    assert any("bad.json" in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)
    empty = tmp_path / "empty.json"
    empty.write_text("")  # what a full disk used to leave behind
    assert {b.name for b in bl.load_all(extra_dir=tmp_path)} == {b.name for b in found}
    for content in ('{"format": "infrabench-baseline", "name": "x", "class": "ai", "figures": [1]}',
                    '{"format": "infrabench-baseline", "name": "x", "class": "ai", "figures": '
                    '{"memory_gbs": {"value": Infinity, "unit": "GB/s"}}}'):
        bad.write_text(content)
        with pytest.raises(UsageError) as err:
            bl.load_file(bad, "user")
        assert "bad.json" in str(err.value) and "\n" not in str(err.value)
