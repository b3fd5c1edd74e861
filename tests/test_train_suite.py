"""The training suite on this CPU: real short runs per backend, the loss check, MFU with and without a peak."""

from __future__ import annotations

import json

import pytest
from conftest import requires_jax, requires_torch, run_cli
from infrabench.suites.backends import get_backend
from infrabench.suites.options import SuiteOptions
from infrabench.suites.result import BenchResult
from infrabench.suites.train import summary
from infrabench.suites.train.measure import loss_failure
from infrabench.suites.train.suite import run_suite

TINY = {
    "mlp": {"batch": 32, "d_in": 16, "hidden": 32, "layers": 1, "warmup": 1, "timed": 6},
    "cnn": {"batch": 4, "channels": 4, "blocks": 1, "image": 8, "warmup": 1, "timed": 6, "lr": 1e-2},
    "gpt": {"batch": 2, "seq": 16, "d_model": 16, "layers": 1, "heads": 2, "vocab": 32, "warmup": 1, "timed": 6},
}
MACHINE = {"cpu": {"model_name": "test CPU", "isa_flags": ["avx512_bf16"],
                   "peaks": [{"dtype": "fp32", "tflops": 1.0, "source": "test", "confidence": "user"},
                             {"dtype": "bf16", "tflops": None, "reason": "not known here"}]}}


def _run(backend: str, models: list[str], machine: dict | None = None, overrides: dict | None = None,
         modes: list[str] | None = None, dtypes: list[str] | None = None) -> list[BenchResult]:
    out: list[BenchResult] = []
    args = {"models": models, "overrides": {m: {**TINY[m], **(overrides or {}).get(m, {})} for m in models}}
    if modes:
        args["modes"] = modes
    opts = SuiteOptions(profile="quick", machine=MACHINE if machine is None else machine, dtypes=dtypes,
                        suite_args={"train": args})
    run_suite(get_backend(backend), opts, out.append)
    return out


def _ok(results: list[BenchResult]) -> list[BenchResult]:
    return [r for r in results if r.status == "ok"]


def _check_trained(r: BenchResult) -> None:
    e = r.extra
    assert r.status == "ok", r.reason
    assert len(r.samples_s) == 6 and all(s > 0 for s in r.samples_s)
    assert e["loss_last"] < e["loss_first"]
    assert e["achieved_tflops"] == pytest.approx(e["flops_per_step"] / e["step_time_p50_s"] / 1e12)
    assert e["mfu_pct_of_peak"] == pytest.approx(100 * e["achieved_tflops"] / 1.0)
    assert 0 < e["mfu_pct_of_peak"] <= 100
    assert e["step_time_per_sample_s"] == pytest.approx(e["step_time_p50_s"] / r.work["samples"])
    assert e["peak_memory_bytes"] > 0 and e["peak_memory_basis"]


def test_numpy_trains_the_mlp_and_skips_the_rest():
    results = _run("numpy", ["mlp", "cnn"])
    (mlp,) = _ok(results)
    _check_trained(mlp)
    assert mlp.fullname.startswith("train/mlp[mode=numpy-batch=32") and mlp.backend == "numpy"
    skipped = {r.name: r.reason for r in results if r.status == "skipped"}
    assert "MLP only" in skipped["cnn"]


def test_a_loss_that_does_not_fall_fails_the_result():
    (mlp,) = [r for r in _run("numpy", ["mlp"], overrides={"mlp": {"lr": 0.0}}) if r.dtype == "fp32"]
    assert mlp.status == "failed" and "loss did not fall" in mlp.reason
    assert mlp.extra["loss_last"] == pytest.approx(mlp.extra["loss_first"], rel=0.2)
    assert "did not fall" in loss_failure([2.0, 2.0])
    assert "not finite" in loss_failure([2.0, float("nan"), 1.0])
    assert loss_failure([2.0, 1.0]) is None


def test_mfu_is_null_with_the_reason_when_the_peak_is_unknown():
    (mlp,) = _ok(_run("numpy", ["mlp"], machine={}))
    assert mlp.extra["mfu_pct_of_peak"] is None and "no fp32 peak" in mlp.extra["mfu_reason"]
    assert mlp.extra["achieved_tflops"] > 0


@requires_torch
def test_torch_eager_trains_every_model_with_equal_flops_to_jax_counterparts():
    results = _run("torch", ["mlp", "cnn", "gpt"], modes=["eager"], dtypes=["fp32", "bf16"])
    fp32 = {r.name: r for r in _ok(results) if r.dtype == "fp32"}
    assert set(fp32) == {"mlp", "cnn", "gpt"}
    for r in fp32.values():
        _check_trained(r)
        assert r.params["mode"] == "eager"
    assert fp32["gpt"].extra["tokens_per_s"] == pytest.approx(32 / fp32["gpt"].extra["step_time_p50_s"])
    bf16 = {r.name: r for r in results if r.dtype == "bf16"}
    assert all(r.status == "ok" for r in bf16.values()), [r.reason for r in bf16.values()]
    assert bf16["mlp"].extra["mfu_pct_of_peak"] is None and "not known here" in bf16["mlp"].extra["mfu_reason"]


@pytest.mark.slow
@requires_torch
def test_torch_compile_records_compile_time_apart():
    (r,) = [r for r in _run("torch", ["mlp"], modes=["compile"]) if r.status != "skipped"]
    assert r.status == "ok", r.reason
    assert r.params["mode"] == "compile" and r.compile_s is not None and r.compile_s >= 0
    assert r.extra["first_step_s"] >= r.extra["step_time_p50_s"]


@pytest.mark.slow
@requires_jax
def test_jax_jit_trains_every_model():
    results = _ok(_run("jax", ["mlp", "cnn", "gpt"]))
    assert {r.name for r in results} == {"mlp", "cnn", "gpt"}
    for r in results:
        _check_trained(r)
        assert r.params["mode"] == "jit" and r.compile_s > 0


def test_tf32_on_a_cpu_is_skipped_with_the_reason():
    results = _run("numpy", ["mlp"], dtypes=["tf32"])
    assert results[0].status == "skipped" and "GPU tensor-core" in results[0].reason


def _result(backend: str, device: str, mode: str, step_s: float, name: str = "mlp", dtype: str = "fp32",
            achieved: float = 0.05) -> BenchResult:
    return BenchResult("train", name, backend, device, dtype, {"mode": mode, "batch": 10}, samples_s=[step_s] * 3,
                       work={"samples": 10.0}, extra={"achieved_tflops": achieved, "mode": mode})


def test_verdict_reads_mfu_against_the_best_matmul_and_the_torch_jax_ratio():
    matmul = [BenchResult("matmul", "square", "numpy", "cpu", "fp32", {"m": 1}, samples_s=[1.0, 1.0],
                          work={"flops": 0.1e12}),
              BenchResult("matmul", "square", "torch", "cpu", "fp32", {"m": 2}, samples_s=[1.0],
                          work={"flops": 0.2e12})]
    train = [_result("torch", "cpu", "eager", 0.02), _result("torch", "cpu", "compile", 0.01),
             _result("jax", "cpu:0", "jit", 0.04), _result("jax", "cpu:0", "jit", 0.04, name="gpt", dtype="bf16")]
    v = summary.verdict(matmul + train, {}, {})
    eager = v["results"][train[0].fullname]
    assert eager["attainable_tflops"] == pytest.approx(0.2) and eager["mfu_pct_of_attainable"] == pytest.approx(25)
    assert "no ok matmul result" in v["results"][train[3].fullname]["attainable_reason"]
    ratios = {r["torch_mode"]: r["torch_over_jax"] for r in v["torch_jax_ratios"]}
    assert ratios == {"eager": pytest.approx(2.0), "compile": pytest.approx(4.0)}
    assert v["consumer_demand"]["mlp"]["step_time_per_sample_s"] == pytest.approx(0.001)
    assert summary.verdict(matmul, {}, {}) is None


@pytest.mark.slow
def test_cli_run_writes_train_results_and_the_verdict(tmp_path):
    proc = run_cli("run", "--suite", "train", "--backend", "numpy", "--out", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run_file,) = tmp_path.glob("*/run.json")
    run = json.loads(run_file.read_text())
    (mlp,) = run["benchmarks"]
    info = mlp["extra_info"]["infrabench"]
    assert info["status"] == "ok" and info["throughput"]["unit"] == "samples/s"
    assert info["extra"]["loss_last"] < info["extra"]["loss_first"]
    assert mlp["fullname"] in run["infrabench"]["verdicts"]["train"]["results"]


def test_gpu_presets_are_selectable_beside_a_quick_run():
    from infrabench.suites.train.presets import GPTConfig, preset_for
    from infrabench.suites.train.suite import default_dtypes, train_profile

    assert preset_for("standard", "gpu", "gpt").config == GPTConfig(16, 1024, 768, 12, 12, 50304)
    assert default_dtypes("gpu", "quick") == ("tf32", "bf16") and default_dtypes("cpu", "quick") == ("fp32",)
    opts = SuiteOptions(profile="quick", suite_args={"train": {"profile": "standard"}})
    assert train_profile(opts) == "standard" and train_profile(SuiteOptions(profile="full")) == "full"
