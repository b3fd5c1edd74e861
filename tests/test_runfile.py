"""The run file: stats from raw samples, throughput and % of peak from named work, journal and file safety."""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import jsonschema
import pytest
from infrabench.suites.journal import JournalTail, append_result
from infrabench.suites.result import BenchResult

from infrabench.errors import UsageError
from infrabench.files import write_atomic
from infrabench.results import Run, Stats, run_schema
from infrabench.runfile import build_run, commit_info, find_peak, read_journal


def validate_run(data) -> None:
    jsonschema.validate(data, run_schema())


def load_run(path) -> dict:
    return Run.load(path).to_dict()


def sample_stats(samples, iterations) -> dict:
    s = Stats.from_samples(samples, iterations)
    return {**s.to_dict(), "cv": s.cv}

CPU_PROFILE = {
    "cpu": {"model_name": "Test CPU", "logical_cpus": 2, "vendor": "x", "peaks": [
        {"dtype": "fp64", "tflops": 0.1, "source": "computed: test", "confidence": "computed"},
        {"dtype": "fp32", "tflops": 0.2, "source": "computed: test", "confidence": "computed"},
        {"dtype": "fp16", "tflops": None, "source": None, "confidence": "unknown", "reason": "no fp16 FMA"},
    ]},
    "memory": {},
    "accelerators": [
        {"vendor": "nvidia", "index": 1, "sku": "GPU-B", "peak_memory_bandwidth_gbs": 2000.0,
         "peaks": [{"dtype": "fp32", "tflops": 20.0, "source": "datasheet B", "confidence": "exact"},
                   {"dtype": "tf32", "tflops": 150.0, "source": "datasheet B", "confidence": "exact"}]},
        {"vendor": "nvidia", "index": 0, "sku": "GPU-A", "peak_memory_bandwidth_gbs": 1000.0,
         "peaks": [{"dtype": "fp32", "tflops": 10.0, "source": "datasheet A", "confidence": "exact"}]},
        {"vendor": "google", "index": 0, "sku": "TPU v4", "peak_memory_bandwidth_gbs": None,
         "peaks": [{"dtype": "bf16", "tflops": 275.0, "source": "tpu doc", "confidence": "exact"}]},
    ],
    "software": {"env": {}},
}


def result(samples, work=None, device="cpu", dtype="fp64", backend="numpy", suite="matmul", name="square",
           status="ok", **kw) -> BenchResult:
    return BenchResult(suite, name, backend, device, dtype, kw.pop("params", {"n": 8}), status=status,
                       samples_s=list(samples), iterations=4, work=work or {"flops": 2e9}, **kw)


def info(run: dict, fullname: str) -> dict:
    entries = run["benchmarks"] + run["infrabench"]["results_without_timing"]
    return next(e for e in entries if e["fullname"] == fullname)["extra_info"]["infrabench"]


def build(results, profile=CPU_PROFILE, **kw) -> dict:
    run = build_run(results, profile, {"suites": ["matmul"], "backends": ["numpy"], "profile": "quick"},
                    {"numpy": {"status": "ok", "reason": None, "duration_s": 1.0}}, kw.pop("interrupted", False),
                    "20260101-000000-abcd", "run.journal.jsonl", commit={"id": None, "time": None,
                    "author_time": None, "dirty": None, "project": "t", "branch": None}, **kw).to_dict()
    validate_run(run)
    return run


def test_stats_on_known_samples_count_the_outlier() -> None:
    s = sample_stats([3.0, 1.0, 100.0, 2.0, 4.0], iterations=8)
    assert s["median"] == 3.0 and s["min"] == 1.0 and s["max"] == 100.0 and s["rounds"] == 5
    assert (s["q1"], s["q3"], s["iqr"]) == (2.0, 4.0, 2.0)  # numpy 25th/75th percentiles
    assert s["mean"] == 22.0 and s["stddev"] == pytest.approx(math.sqrt(7610 / 4))  # ddof=1
    assert s["iqr_outliers"] == 1 and s["stddev_outliers"] == 1 and s["outliers"] == "1;1"
    assert (s["ld15iqr"], s["hd15iqr"]) == (1.0, 4.0)  # lowest/highest datum inside the 1.5 IQR fences
    assert s["ops"] == pytest.approx(1 / 22) and s["total"] == 110.0 and s["iterations"] == 8
    assert s["data"] == [3.0, 1.0, 100.0, 2.0, 4.0] and s["cv"] == pytest.approx(s["stddev"] / 22)


def test_single_sample_has_zero_spread() -> None:
    s = sample_stats([0.5], None)
    assert s["stddev"] == 0.0 and s["iqr"] == 0.0 and s["outliers"] == "0;0" and s["iterations"] == 1


def test_throughput_and_pct_of_peak_from_the_profile() -> None:
    # 2e9 FLOPs per iteration at a median of 0.04 s = 0.05 TFLOP/s; CPU fp64 peak 0.1 -> 50 %.
    r = result([0.05, 0.04, 0.02, 0.04, 0.04])
    i = info(build([r]), r.fullname)
    assert i["throughput"] == {"value": pytest.approx(0.05), "unit": "TFLOP/s"}
    assert i["throughput_best"]["value"] == pytest.approx(0.1)  # work / min
    assert i["pct_of_peak"] == pytest.approx(50.0) and i["suspicious"] is False
    assert i["peak"]["tflops"] == 0.1 and i["peak"]["confidence"] == "computed"
    assert i["pct_of_best"] == pytest.approx(100.0)


def test_above_peak_is_flagged_suspicious_with_a_run_warning() -> None:
    r = result([0.01] * 3)  # 0.2 TFLOP/s against a 0.1 peak
    run = build([r])
    i = info(run, r.fullname)
    assert i["pct_of_peak"] == pytest.approx(200.0) and i["suspicious"] is True
    assert any(r.fullname in w and "suspicious" in w for w in run["infrabench"]["warnings"])
    assert "impossible" in i["suspicious_reason"]


def test_suspicious_cpu_figure_names_the_clock_it_implies() -> None:
    """A VM exposes only its nominal clock: a rate above that peak says how fast the cores really ran."""
    profile = json.loads(json.dumps(CPU_PROFILE))
    profile["cpu"]["peaks"][0].update(tflops=0.08, basis={
        "cores": 2, "ghz": 2.5, "ghz_source": "/proc/cpuinfo 'cpu MHz'", "flops_per_cycle": 16})
    r = result([0.02] * 3)  # 2e9 / 0.02 = 0.1 TFLOP/s = 2 cores x 16 FLOPs x 3.125 GHz
    r2 = result([0.022] * 3, params={"n": 16})
    run = build([r, r2], profile=profile)
    i = info(run, r.fullname)
    assert i["suspicious"] is True
    [warning] = [w for w in run["infrabench"]["warnings"] if w.startswith("suspicious:")]
    assert "2 result(s)" in warning and "up to 3.12 GHz" in warning
    assert "2.5 GHz" in i["suspicious_reason"] and ">= 3.12 GHz" in i["suspicious_reason"]
    assert i["implied_clock_ghz"] == pytest.approx(3.125)


def test_unknown_peaks_are_null_with_a_reason() -> None:
    cases = [
        (result([0.1], dtype="fp16"), "no fp16 FMA"),
        (result([0.1], dtype="tf32"), "tf32"),
        (result([0.1], dtype="bf16"), "no bf16 peak"),
        (result([0.1], work={"bytes": 1e9}, name="copy"), "DRAM bandwidth"),
        (result([0.1], work={"samples": 64}, name="load"), "no theoretical peak for samples"),
        (result([0.1], device="cuda:3", dtype="fp32"), "only 2"),
        (result([0.1], device="xpu:0", dtype="fp32"), "no intel accelerator"),
        (result([0.1], device="cuda:0", work={"bytes": 1e9}, name="h2d", extra={"peak_basis": "none",
                                                                     "peak_reason": "host-device copy"}),
         "host-device copy"),
        (result([0.1], device="cuda:1", work={"bytes": 1e9}, name="device_to_host", suite="memory"), "link"),
        (result([0.1], device="cuda:1", work={"bytes": 1e9}, name="triad_ws", extra={"level": "L2"}), "L2"),
    ]
    run = build([r for r, _ in cases])
    assert len({r.fullname for r, _ in cases}) == len(cases)
    for r, why in cases:
        i = info(run, r.fullname)
        assert i["pct_of_peak"] is None and i["peak"] is None and i["suspicious"] is False
        assert why in i["pct_of_peak_reason"], (r.fullname, i["pct_of_peak_reason"])


def test_accelerator_peaks_match_device_index_dtype_and_executed_precision() -> None:
    tf32 = result([0.001], device="cuda:1", dtype="fp32", backend="torch", env={"tf32_allowed": True})
    plain = result([0.001], device="cuda:0", dtype="fp32", backend="jax")
    copy = result([0.001], device="cuda:1", work={"bytes": 1e9}, suite="memory", name="copy")
    tpu = result([0.001], device="tpu:0", dtype="bf16", backend="jax")
    peaks = {r.fullname: find_peak(CPU_PROFILE, r)[0] for r in (tf32, plain, copy, tpu)}
    assert peaks[tf32.fullname].tflops == 150.0  # GPU index 1, tf32 peak because tf32 was allowed
    assert peaks[plain.fullname].tflops == 10.0  # GPU index 0 (listed second in the profile)
    assert peaks[copy.fullname].gbs == 2000.0
    assert peaks[tpu.fullname].tflops == 275.0
    i = info(build([copy]), copy.fullname)
    assert i["throughput"] == {"value": pytest.approx(1000.0), "unit": "GB/s"} and i["pct_of_peak"] == 50.0


def test_visible_devices_remap_the_index() -> None:
    profile = {**CPU_PROFILE, "software": {"env": {"CUDA_VISIBLE_DEVICES": "1"}}}
    peak, _ = find_peak(profile, result([0.001], device="cuda:0", dtype="fp32"))
    assert peak.tflops == 20.0  # cuda:0 is physical GPU 1


def test_pct_of_best_is_per_device_and_dtype_across_backends() -> None:
    fast = result([0.01], backend="torch")  # 0.2 TFLOP/s
    slow = result([0.04], backend="numpy")  # 0.05 TFLOP/s
    other = result([0.02], dtype="fp32", backend="jax")
    train = result([0.02], suite="training", name="mlp", backend="torch")  # 0.1 TFLOP/s vs the 0.2 matmul best
    jax_cpu = result([0.02], backend="jax", device="cpu:0")  # the same host CPU under jax's name
    gpu_torch = result([0.001], backend="torch", device="cuda:0", dtype="fp32")
    gpu_jax = result([0.004], backend="jax", device="gpu:0", dtype="fp32")  # same GPU (index 0), jax's name
    run = build([fast, slow, other, train, jax_cpu, gpu_torch, gpu_jax])
    assert info(run, jax_cpu.fullname)["pct_of_best"] == pytest.approx(50.0)
    assert info(run, gpu_jax.fullname)["pct_of_best"] == pytest.approx(25.0)
    assert info(run, fast.fullname)["pct_of_best"] == pytest.approx(100.0)
    assert info(run, slow.fullname)["pct_of_best"] == pytest.approx(25.0)
    assert info(run, other.fullname)["pct_of_best"] == pytest.approx(100.0)
    assert info(run, train.fullname)["pct_of_best"] == pytest.approx(50.0)


def test_untimed_and_failed_results_never_show_a_throughput() -> None:
    skipped = result([], status="skipped", reason="bf16 unsupported", dtype="bf16")
    bad_check = result([0.01, 0.01], check={"rel_error": 0.5, "tolerance": 1e-3, "passed": False})
    zero = result([0.0, 0.01], name="zero")
    ok = result([0.01], name="fine")
    run = build([skipped, bad_check, zero, ok])
    assert [e["fullname"] for e in run["benchmarks"]] == [ok.fullname]
    untimed = {e["fullname"]: e for e in run["infrabench"]["results_without_timing"]}
    assert set(untimed) == {skipped.fullname, bad_check.fullname, zero.fullname}
    assert all(e["stats"] is None and e["extra_info"]["infrabench"]["throughput"] is None for e in untimed.values())
    assert untimed[bad_check.fullname]["extra_info"]["infrabench"]["status"] == "failed"
    assert "correctness check failed" in untimed[bad_check.fullname]["extra_info"]["infrabench"]["reason"]
    assert untimed[bad_check.fullname]["extra_info"]["infrabench"]["samples_s"] == [0.01, 0.01]
    assert "zero" in untimed[zero.fullname]["extra_info"]["infrabench"]["reason"]


def test_entries_carry_pytest_benchmark_names() -> None:
    r = result([0.01], params={"m": 1024, "n": 1024, "k": 1024}, backend="torch", dtype="fp32")
    entry = build([r])["benchmarks"][0]
    assert entry["group"] == "matmul" and entry["name"] == "square[m=1024-n=1024-k=1024]"
    assert entry["fullname"] == "matmul/square[m=1024-n=1024-k=1024]/torch/cpu/fp32"
    assert entry["param"] == "m=1024-n=1024-k=1024" and entry["params"] == {"m": 1024, "n": 1024, "k": 1024}


def test_interrupted_run_says_so() -> None:
    run = build([result([0.01])], interrupted=True, signal_name="SIGINT")
    assert run["infrabench"]["interrupted"] is True
    assert any("interrupted by SIGINT" in w for w in run["infrabench"]["warnings"])


def test_schema_rejects_what_compare_could_not_read() -> None:
    run = build([result([0.01])])
    broken = json.loads(json.dumps(run))
    broken["benchmarks"][0]["stats"]["data"] = []
    with pytest.raises(jsonschema.ValidationError):
        validate_run(broken)
    broken = json.loads(json.dumps(run))
    broken["benchmarks"][0]["extra_info"]["infrabench"]["status"] = "great"
    with pytest.raises(jsonschema.ValidationError):
        validate_run(broken)
    broken = json.loads(json.dumps(run))
    del broken["infrabench"]["run_id"]
    with pytest.raises(jsonschema.ValidationError):
        validate_run(broken)


def test_journal_survives_a_truncated_last_line(tmp_path) -> None:
    journal = tmp_path / "run.journal.jsonl"
    first, second = result([0.01], name="a"), result([0.02], name="b")
    append_result(journal, first)
    append_result(journal, second)
    with open(journal, "a") as fh:
        fh.write(result([0.03], name="c").to_json_line()[:40])  # a write cut short by a crash
    assert [r.fullname for r in read_journal(journal)] == [first.fullname, second.fullname]
    assert read_journal(journal)[1].samples_s == [0.02]


def test_journal_tail_returns_only_complete_lines(tmp_path) -> None:
    journal = tmp_path / "j.jsonl"
    tail = JournalTail(journal)
    assert tail.new_results() == []
    append_result(journal, result([0.01], name="a"))
    line = result([0.01], name="b").to_json_line() + "\n"
    with open(journal, "a") as fh:
        fh.write(line[:10])
    assert [r.name for r in tail.new_results()] == ["a"]
    with open(journal, "a") as fh:
        fh.write(line[10:])
    assert [r.name for r in tail.new_results()] == ["b"]
    assert tail.new_results() == []


def test_write_atomic_replaces_and_leaves_no_temp_file(tmp_path) -> None:
    path = tmp_path / "run.json"
    write_atomic(path, {"a": 1})
    write_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_load_run_gives_one_clear_error(tmp_path) -> None:
    run = build([result([0.01])])
    good = write_atomic(tmp_path / "run.json", run)
    assert Run.load(good).run_id == "20260101-000000-abcd"
    truncated = tmp_path / "truncated.json"
    truncated.write_text(good.read_text()[:200])
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"benchmarks": []}))
    for path, words in ((tmp_path / "missing.json", "no such run file"), (truncated, "truncated"),
                        (invalid, "not an infrabench run file"), (tmp_path, "directory")):
        with pytest.raises(UsageError) as err:
            load_run(path)
        assert words in str(err.value) and "\n" not in str(err.value)


def test_commit_info_outside_and_inside_a_git_repository(tmp_path) -> None:
    outside = commit_info(tmp_path)
    assert outside["id"] is None and outside["error"] == "not a git repository"
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    repo = tmp_path / "proj"
    repo.mkdir()
    (repo / "f.txt").write_text("x")
    for cmd in (["init", "-q", "-b", "main"], ["add", "f.txt"], ["commit", "-q", "-m", "c"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True, env={**env, "PATH": "/usr/bin:/bin"})
    info_ = commit_info(repo)
    assert len(info_["id"]) == 40 and info_["branch"] == "main" and info_["dirty"] is False
    assert info_["project"] == "proj" and info_["time"] and "error" not in info_
    (repo / "f.txt").write_text("changed")
    assert commit_info(repo)["dirty"] is True
