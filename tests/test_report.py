"""The HTML report: every section from a run file, self-contained (no script, no external URL), escaped."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import run_cli
from infrabench.reports import cells, plots
from infrabench.reports import rows as report_rows
from infrabench.reports.html import render_report, write_report

from infrabench.results import Benchmark, Peak, Run, Stats, Throughput, run_schema

FIXTURE = Path(__file__).parent / "data" / "runs" / "quick_cpu_sample.json"
SVG_NAMESPACES = ('xmlns="http://www.w3.org/2000/svg"', 'xmlns:xlink="http://www.w3.org/1999/xlink"')
HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_ATTR = '"><img src=x onerror=alert(1)>'
SECTIONS = ("Machine", "Matrix multiply", "Memory", "STREAM kernels", "Bandwidth against working-set size",
            "Dispatch latency", "Host↔device copies", "Warnings", "Skipped, failed, timed out, out of memory",
            "How this was measured")


class Tables(HTMLParser):
    """Collects every <table> as (class, rows of cell texts) and every heading text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self.headings: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._heading: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append((dict(attrs).get("class") or "", []))
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag in ("h1", "h2", "h3", "h4"):
            self._heading = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1][1].append(self._row)
            self._row = None
        elif tag == "tbody":
            self._in_body = False
        elif tag in ("h1", "h2", "h3", "h4") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)


def parse(html: str) -> Tables:
    parser = Tables()
    parser.feed(html)
    return parser


def table(parsed: Tables, css_class: str) -> list[list[str]]:
    return next(rows for cls, rows in parsed.tables if css_class in cls.split())


@pytest.fixture(scope="module")
def run() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def html(run: dict) -> str:
    return render_report(run)


def _ib(entry: dict) -> dict:
    return entry["extra_info"]["infrabench"]


def test_fixture_is_a_valid_run_file_with_a_real_profile(run: dict) -> None:
    import jsonschema

    jsonschema.validate(run, run_schema())
    from infrabench.probes.profile import validate_profile

    validate_profile(run["machine_info"]["infrabench"])
    assert "not a measurement" in run["_fixture_note"].lower()


def test_every_section_is_there(html: str) -> None:
    headings = parse(html).headings
    for title in SECTIONS:
        assert title in headings, title


def test_matmul_table_has_every_matmul_result_with_its_figures(run: dict, html: str) -> None:
    rows = table(parse(html), "matmul")
    all_results = run["benchmarks"] + run["infrabench"]["results_without_timing"]
    matmul = [e for e in all_results if e["group"] == "matmul"]
    skipped = [e for e in matmul if _ib(e)["status"] == "skipped"]
    assert skipped, "the fixture needs skipped matmul results"
    assert len(rows) == len(matmul) - len(skipped)  # skipped ones are listed with their reasons elsewhere
    assert f"{len(skipped)} skipped configurations" in html
    # benchmark, params, backend, device, dtype, median, TFLOP/s, best, % peak, % best, error, status
    torch_fp32 = next(e for e in matmul if _ib(e)["backend"] == "torch" and _ib(e)["dtype"] == "fp32"
                      and e["params"]["m"] == 1024 and _ib(e)["benchmark"] == "square")
    row = next(r for r in rows if r[:5] == ["square", "m=1024 n=1024 k=1024", "torch", "cpu", "fp32"])
    assert row[6] == f"{_ib(torch_fp32)['throughput']['value']:.3g}"
    assert row[8] == f"{_ib(torch_fp32)['pct_of_peak']:.1f}%"
    assert row[10].endswith("pass") and row[11] == "ok"
    failed = next(r for r in rows if r[2:5] == ["jax", "cpu:0", "fp64"] and r[1] == "m=2048 n=2048 k=2048")
    assert failed[6].startswith("—") and failed[11].startswith("failed") and "correctness" in failed[11]
    assert "FAIL" in failed[10]


def test_suspicious_result_is_shown_as_such(run: dict, html: str) -> None:
    suspicious = [e for e in run["benchmarks"] if _ib(e)["suspicious"]]
    assert suspicious, "the fixture needs a suspicious result"
    rows = table(parse(html), "matmul")
    for e in suspicious:
        params = " ".join(f"{k}={v}" for k, v in e["params"].items())
        row = next(r for r in rows if r[1] == params and r[2:5] == [_ib(e)["backend"], "cpu", _ib(e)["dtype"]])
        assert "suspicious" in row[8] and report_rows.SUSPICIOUS_TEXT in row[8]
        warnings = html[html.index('id="warnings"'):]
        assert e["fullname"] in warnings and _ib(e)["suspicious_reason"] in warnings


def test_suspicious_is_rechecked_when_the_flag_is_missing(run: dict) -> None:
    bad = copy.deepcopy(run)
    entry = next(e for e in bad["benchmarks"] if _ib(e)["suspicious"])
    _ib(entry)["suspicious"] = False
    loaded = Run.from_dict(bad)
    found = [w for w in report_rows.warnings(loaded, loaded.benchmarks) if w["kind"] == "suspicious"]
    assert [w["subject"] for w in found] == [entry["fullname"]]


def test_memory_tables_state_bytes_counted_and_gbs(run: dict, html: str) -> None:
    rows = table(parse(html), "memory")
    stream = [e for e in run["benchmarks"] if _ib(e)["benchmark"] in ("copy", "scale", "add", "triad")]
    assert len(rows) == len(stream) == 12
    triad = next(e for e in stream if _ib(e)["benchmark"] == "triad" and _ib(e)["backend"] == "torch")
    row = next(r for r in rows if r[0] == "triad" and r[1] == "torch")
    assert row[5] == cells.fmt_bytes_si(_ib(triad)["work"]["bytes"])
    assert "read + written" in row[6]
    assert row[8] == f"{_ib(triad)['throughput']['value']:.3g}"
    assert row[10].startswith("—") and "DRAM" in row[10]  # missing % of peak: "—" and the reason beside it
    assert "GB = 10" in html


def test_latency_and_transfer_tables(html: str) -> None:
    parsed = parse(html)
    latency = next(rows for cls, rows in parsed.tables if rows and rows[0][0] in ("numpy", "torch", "jax")
                   and len(rows[0]) == 9)
    assert {r[0] for r in latency} == {"numpy", "torch", "jax"}
    transfer_section = html[html.index('id="transfer"'):html.index('id="warnings"')]
    assert "host_to_device" in transfer_section and "skipped" in transfer_section
    assert "no accelerator" in transfer_section


def test_not_measured_lists_every_result_without_timing(run: dict, html: str) -> None:
    section = html[html.index('id="not-measured"'):html.index('id="method"')]
    for e in run["infrabench"]["results_without_timing"]:
        assert e["fullname"] in section
        assert _ib(e)["reason"].replace("<", "&lt;").replace(">", "&gt;") in section


def test_two_inline_svg_charts_and_nothing_external(html: str) -> None:
    assert html.count("<svg") >= 2
    assert "<!DOCTYPE svg" not in html and "<?xml" not in html and "<metadata>" not in html
    assert '<style type="text/css">*{' not in html, "matplotlib's page-wide stylesheet must be scoped to svg"
    stripped = html
    for ns in SVG_NAMESPACES:
        stripped = stripped.replace(ns, "")
    assert "http://" not in stripped and "https://" not in stripped
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<link" not in lowered
    assert not re.search(r"\ssrc\s*=", lowered)
    assert "@import" not in lowered
    assert not re.search(r"url\(\s*[\"']?(?!#)", lowered), "only in-document url(#id) references"
    assert not re.search(r"href\s*=\s*[\"'](?!#)", lowered), "only in-page anchors may be linked"


def _hostile(run: dict) -> dict:
    bad = copy.deepcopy(run)
    bad["machine_info"]["infrabench"]["cpu"]["model_name"] = HOSTILE_SCRIPT + HOSTILE_ATTR
    bad["infrabench"]["run_id"] = HOSTILE_ATTR
    entry = next(e for e in bad["benchmarks"] if _ib(e)["suspicious"])
    ib = _ib(entry)
    ib["benchmark"] = HOSTILE_SCRIPT
    ib["device"] = HOSTILE_ATTR
    ib["backend"] = "$\\frac{" + HOSTILE_SCRIPT  # a mathtext parse error if it reached matplotlib raw
    entry["name"] = entry["fullname"] = HOSTILE_SCRIPT + HOSTILE_ATTR
    entry["params"] = {HOSTILE_SCRIPT: HOSTILE_ATTR, "m": 2048, "n": 2048, "k": 2048}
    ib["peak"]["source"] = HOSTILE_SCRIPT
    ib["peak"]["confidence"] = HOSTILE_ATTR
    skipped = bad["infrabench"]["results_without_timing"][0]
    _ib(skipped)["reason"] = HOSTILE_SCRIPT + HOSTILE_ATTR
    sweep = next(e for e in bad["benchmarks"] if "working_set_bytes" in e["params"])
    _ib(sweep)["extra"]["level"] = HOSTILE_SCRIPT
    bad["infrabench"]["backends"][HOSTILE_SCRIPT] = {"status": HOSTILE_ATTR, "reason": HOSTILE_SCRIPT,
                                                     "duration_s": 1.0}
    return bad


def test_hostile_strings_are_escaped_everywhere(run: dict) -> None:
    out = render_report(_hostile(run))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out
    lowered = out.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "onerror=alert(1)>" not in lowered
    svgs = re.findall(r"<svg.*?</svg>", out, re.S)
    assert len(svgs) == 4  # matmul, sweep, baseline comparison, roofline
    assert any("&lt;script&gt;" in svg for svg in svgs), "the hostile label must reach the chart, escaped"


def test_hostile_chart_labels_are_escaped_by_matplotlib() -> None:
    entry = Benchmark(
        fullname="x", suite="matmul", name="square", backend=HOSTILE_SCRIPT, device=HOSTILE_ATTR, dtype="$x^$",
        params={"m": 64, "n": 64, "k": 64}, stats=Stats(data=[1.0], median=1.0),
        throughput=Throughput(1.0, "TFLOP/s"), peak=Peak(2.0, "TFLOP/s", "x", HOSTILE_ATTR))
    svg = plots.matmul_chart([entry])
    assert svg is not None and svg.startswith("<svg")
    assert "<script" not in svg and "<img" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg


def test_interrupted_run_says_so(run: dict) -> None:
    interrupted = copy.deepcopy(run)
    interrupted["infrabench"]["interrupted"] = True
    interrupted["infrabench"]["warnings"] = ["the run was interrupted by SIGINT: only the results finished "
                                             "before it are in this file"]
    out = render_report(interrupted)
    assert "Interrupted run" in out and "SIGINT" in out


def test_empty_run_renders_with_reasons(run: dict) -> None:
    empty = copy.deepcopy(run)
    empty["benchmarks"] = []
    empty["infrabench"]["results_without_timing"] = []
    del empty["machine_info"]["infrabench"]
    out = render_report(empty)
    assert "<svg" not in out
    assert "no matmul result was timed in this run" in out and "no machine profile in this run file" in out


def test_write_report_is_atomic_and_complete(run: dict, html: str, tmp_path: Path) -> None:
    path = write_report(run, tmp_path / "r.html")
    assert path.read_text(encoding="utf-8") == html
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_renders_a_run_built_by_the_run_file_writer(run: dict) -> None:
    runfile = pytest.importorskip("infrabench.runfile")
    from infrabench.suites.result import BenchResult

    samples = [0.0101, 0.0100, 0.0102, 0.0099, 0.0100]
    results = [
        BenchResult("matmul", "square", "numpy", "cpu", "fp32", {"m": 1024, "n": 1024, "k": 1024},
                    samples_s=samples, iterations=1, timer="perf_counter", work={"flops": 2 * 1024**3},
                    check={"rel_error": 3e-7, "tolerance": 1e-3, "reference": "float64", "passed": True}),
        BenchResult("memory", "triad", "torch", "cpu", "fp64", {"array_bytes": 2**27}, samples_s=samples,
                    iterations=1, timer="perf_counter", work={"bytes": 3 * 2**27},
                    extra={"counting": "STREAM convention: read + written, no write-allocate"}),
        BenchResult("memory", "dispatch_latency", "jax", "cpu", "fp32", {"elements": 16},
                    samples_s=[5e-6] * 5, iterations=256, timer="perf_counter+sync", work={"calls": 1}),
        BenchResult("memory", "host_to_device", "torch", "cpu", "fp32", {"memory": "pinned"}, status="skipped",
                    reason="no accelerator: host<->device copies need a device other than the CPU"),
    ]
    built = runfile.build_run(results, run["machine_info"]["infrabench"], {"suites": ["matmul", "memory"],
                              "backends": ["numpy", "torch", "jax"], "profile": "quick"},
                              {"numpy": {"status": "ok", "reason": None, "duration_s": 1.0}}, False,
                              "20261128-000000-abcd", "run.journal.jsonl",
                              commit={"id": None, "time": None, "author_time": None, "dirty": None,
                                      "project": None, "branch": None})
    out = render_report(built)
    parsed = parse(out)
    assert len(table(parsed, "matmul")) == 1 and len(table(parsed, "memory")) == 1
    assert "host_to_device" in out and "<svg" in out


# ---- the command line ----------------------------------------------------------------------------------------

def test_cli_writes_report_beside_the_run_file(tmp_path: Path) -> None:
    run_file = tmp_path / "run.json"
    run_file.write_bytes(FIXTURE.read_bytes())
    proc = run_cli("report", str(run_file))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "report.html"
    assert out.is_file() and "Matrix multiply" in out.read_text(encoding="utf-8")
    assert str(out) in proc.stdout


def test_cli_output_option(tmp_path: Path) -> None:
    proc = run_cli("report", str(FIXTURE), "-o", str(tmp_path / "x.html"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "x.html").stat().st_size > 10_000


def test_cli_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = run_cli("report", str(tmp_path / "missing.json"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no such run file" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("content", [FIXTURE.read_text()[:4000], "", "[1, 2]", '{"benchmarks": []}'])
def test_cli_truncated_or_wrong_json_is_one_line_exit_2(tmp_path: Path, content: str) -> None:
    bad = tmp_path / "run.json"
    bad.write_text(content)
    proc = run_cli("report", str(bad))
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.count("\n") == 1 and str(bad) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "report.html").exists()


def test_cli_missing_output_directory_is_exit_2(tmp_path: Path) -> None:
    proc = run_cli("report", str(FIXTURE), "-o", str(tmp_path / "nowhere" / "r.html"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "does not exist" in proc.stderr


def test_report_command_never_imports_torch_or_jax(tmp_path: Path) -> None:
    code = (
        "import sys, io, contextlib\n"
        "from infrabench.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main(['report', {str(FIXTURE)!r}, '-o', {str(tmp_path / 'r.html')!r}])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'jax', 'jaxlib'))\n"
        "print(rc, loaded)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0 []", proc.stdout


def test_importing_the_reports_package_stays_cheap() -> None:
    code = ("import sys, infrabench.reports.html, infrabench.reports.plots, infrabench.reports.rows\n"
            "print(sorted(m for m in ('matplotlib', 'jinja2', 'pandas') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_odd_types_in_a_run_file_do_not_break_the_report(run: dict) -> None:
    odd = copy.deepcopy(run)
    first = odd["benchmarks"][0]
    first["stats"] = "x"
    first["params"] = None
    _ib(first).update({"throughput": "fast", "check": [1], "peak": "high", "pct_of_peak": "9", "env": None,
                       "extra": ["a"]})
    odd["benchmarks"][1]["extra_info"] = None
    odd["machine_info"]["infrabench"]["cpu"].update({"caches": "big", "peaks": {"a": 1}, "isa_flags": None})
    odd["machine_info"]["infrabench"]["accelerators"] = [{"name": "X", "peaks": None}, "junk"]
    odd["infrabench"].update({"backends": ["numpy"], "config": None, "warnings": "text", "interrupted": "no"})
    odd["commit_info"] = None
    out = render_report(odd)
    assert "Matrix multiply" in out and "Accelerator" in out


def test_accelerator_with_sku_and_peaks_is_summarised(run: dict) -> None:
    """No GPU here: a profile entry shaped like the NVIDIA probe's output stands in for one."""
    with_gpu = copy.deepcopy(run)
    with_gpu["machine_info"]["infrabench"]["accelerators"] = [{
        "null_reasons": {"power_limit_w": "NVML: not supported"}, "vendor": "nvidia", "kind": "gpu", "index": 0,
        "name": "NVIDIA H100 80GB HBM3", "sku": "H100 SXM", "detected_by": "nvml", "memory_total_bytes": 85899345920,
        "compute_units": 132, "sm_clock_max_mhz": 1980, "sm_clock_mhz": 1755, "power_limit_w": None,
        "driver_version": "560.35", "runtime_version": "12.6", "peak_memory_bandwidth_gbs": 3350.0,
        "peaks": [{"dtype": "bf16", "tflops": 989.5, "source": "NVIDIA H100 Tensor Core GPU datasheet",
                   "confidence": "exact", "reason": None, "basis": None},
                  {"dtype": "fp8", "tflops": None, "source": None, "confidence": "unknown",
                   "reason": "not in the peak table", "basis": None}],
    }]
    out = render_report(with_gpu)
    section = out[out.index('id="machine"'):out.index('id="matmul"')]
    for text in ("NVIDIA H100 80GB HBM3", "H100 SXM", "989.5", "NVIDIA H100 Tensor Core GPU datasheet", "exact",
                 "80 GiB", "3350 GB/s", "NVML: not supported", "not in the peak table"):
        assert text in section, text
