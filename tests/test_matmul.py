"""The matmul suite on this machine's CPU with small shapes: results, checks, skips and failures."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from infrabench.suites.backends import MatmulKernel, get_backend
from infrabench.suites.backends.jax_backend import X64_OFF
from infrabench.suites.backends.numpy_backend import NumpyBackend
from infrabench.suites.matmul import (
    CHECK_SIZE,
    TOLERANCES,
    Shape,
    plan_for,
    run_suite,
    search_sizes,
    shapes_for,
    transformer_shapes,
)
from infrabench.suites.options import SuiteOptions
from infrabench.suites.result import BenchResult

SMALL = [Shape("square", 64, 64, 64), *transformer_shapes(32, 16, ("mlp_up",))]
MACHINE = {"cpu": {"usable_cpus": 2, "caches": [
    {"name": "L1d", "size_bytes": 32768, "instances": 2},
    {"name": "L2", "size_bytes": 1048576, "instances": 2},
    {"name": "L3", "size_bytes": 32 * 2**20, "instances": 1}]}}


def run(backend, shapes=SMALL, **opts) -> list[BenchResult]:
    results: list[BenchResult] = []
    run_suite(backend, SuiteOptions(machine=opts.pop("machine", MACHINE), **opts), results.append, shapes=shapes)
    return results


def by_status(results: list[BenchResult], status: str) -> list[BenchResult]:
    return [r for r in results if r.status == status]


def test_numpy_results_carry_work_timer_check_and_env():
    results = run(get_backend("numpy"), threads=1)
    ok = by_status(results, "ok")
    assert {(r.dtype, r.name) for r in ok} == {("fp64", "square"), ("fp32", "square"),
                                                ("fp64", "transformer"), ("fp32", "transformer")}
    for r in ok:
        m, n, k = r.params["m"], r.params["n"], r.params["k"]
        assert r.work == {"flops": 2 * m * n * k}
        assert r.timer == "perf_counter" and r.iterations >= 1 and len(r.samples_s) >= 3
        assert all(s > 0 for s in r.samples_s) and r.warmup_s > 0 and r.compile_s is None
        assert r.check["passed"] and r.check["rel_error"] < TOLERANCES[r.dtype]
        assert str(CHECK_SIZE) in r.check["reference"]
        assert r.env["threads_requested"] == 1 and r.env["threads"] == 1  # pinned and recorded
        assert r.env["blas"] and r.env["op"] == "numpy.matmul"
        assert r.extra["first_call_s"] > 0 and r.extra["rotation"]["input_sets"] == 3  # fits in the 32 MiB L3
    mlp = next(r for r in ok if r.name == "transformer" and r.dtype == "fp32")
    assert mlp.params == {"layer": "mlp_up", "m": 32, "n": 64, "k": 16}
    assert mlp.extra["tokens"] == 32 and mlp.extra["d_model"] == 16
    assert mlp.fullname == "matmul/transformer[layer=mlp_up-m=32-n=64-k=16]/numpy/cpu/fp32"
    square = next(r for r in ok if r.name == "square" and r.dtype == "fp32")
    assert square.fullname == "matmul/square[m=64-n=64-k=64]/numpy/cpu/fp32"


def test_unsupported_dtypes_are_skipped_with_reasons():
    results = run(get_backend("numpy"), dtypes=["bf16", "fp16", "tf32", "fp8", "int4"])
    assert len(results) == 5 * len(SMALL)
    assert all(r.status == "skipped" and r.reason and not r.samples_s for r in results)
    assert any("unknown dtype" in r.reason for r in results if r.dtype == "int4")


def test_no_rotation_when_inputs_exceed_the_cache():
    tiny_cache = {"cpu": {"caches": [{"name": "L3", "size_bytes": 1024, "instances": 1}]}}
    [r] = run(get_backend("numpy"), shapes=SMALL[:1], dtypes=["fp32"], machine=tiny_cache)
    assert r.extra["rotation"]["input_sets"] == 1 and r.extra["rotation"]["cache_source"].startswith("L3")


class WrongNumpy(NumpyBackend):
    """Returns a + b (plus noise) instead of a @ b."""

    def matmul_kernel(self, device, dtype, a, b):
        rng = np.random.default_rng(0)
        return MatmulKernel(fn=lambda x, y: x + y + rng.standard_normal(x.shape[:1] + y.shape[1:]))


def test_wrong_kernel_fails_every_result_of_the_configuration():
    results = run(WrongNumpy(), dtypes=["fp32"])
    assert len(results) == len(SMALL)
    for r in results:
        assert r.status == "failed" and not r.samples_s
        assert "relative error" in r.reason and "tolerance 0.001" in r.reason
        assert r.check["passed"] is False and r.check["rel_error"] > 0.5


class NanNumpy(NumpyBackend):
    def matmul_kernel(self, device, dtype, a, b):
        return MatmulKernel(fn=lambda x, y: np.full((x.shape[0], y.shape[1]), np.nan))


def test_nan_never_passes():
    results = run(NanNumpy(), shapes=SMALL[:1], dtypes=["fp64"])
    assert results[0].status == "failed" and results[0].check["passed"] is False


class RaisingNumpy(NumpyBackend):
    """Runs the check size, then runs out of memory at m=128 and raises a plain error at m=96."""

    def matmul_kernel(self, device, dtype, a, b):
        def fn(x, y):
            if x.shape[0] == 128:
                raise MemoryError("Unable to allocate 1 TiB")
            if x.shape[0] == 96:
                raise RuntimeError("kernel exploded")
            return x @ y
        return MatmulKernel(fn=fn)


def test_a_raising_size_is_recorded_and_the_sweep_goes_on():
    shapes = [Shape("square", 128, 128, 128), Shape("square", 96, 96, 96), Shape("square", 64, 64, 64)]
    results = run(RaisingNumpy(), shapes=shapes, dtypes=["fp32"])
    assert [r.status for r in results] == ["oom", "failed", "ok"]
    assert "MemoryError" in results[0].reason and "kernel exploded" in results[1].reason


class SlowNumpy(NumpyBackend):
    def matmul_kernel(self, device, dtype, a, b):
        def fn(x, y):
            time.sleep(0.005)
            return x @ y
        return MatmulKernel(fn=fn)


def test_a_size_predicted_over_the_per_call_limit_is_skipped_with_the_estimate():
    shapes = [Shape("square", 64, 64, 64), Shape("square", 4096, 4096, 4096)]
    results = run(SlowNumpy(), shapes=shapes, dtypes=["fp64"])
    assert results[0].status == "ok"
    assert results[1].status == "skipped" and "per-call limit" in results[1].reason and "GFLOP/s" in results[1].reason


def test_a_call_over_the_limit_is_skipped_after_one_timed_call(monkeypatch):
    from infrabench.suites import matmul

    quick = matmul.plan_for("quick", "cpu")
    monkeypatch.setitem(matmul._CPU_PLANS, "quick", dataclasses.replace(quick, max_call_s=0.002))
    shapes = [Shape("square", 64, 64, 64), Shape("square", 128, 128, 128)]
    results = run(SlowNumpy(), shapes=shapes, dtypes=["fp64"])
    assert results[0].status == "skipped" and results[0].reason.startswith("one call took")
    assert results[1].status == "skipped" and results[1].reason.startswith("one call would take")


def test_full_profile_searches_around_the_best_square(monkeypatch):
    from infrabench.suites import matmul

    monkeypatch.setitem(matmul._CPU_PLANS, "quick", dataclasses.replace(matmul.plan_for("quick", "cpu"), search=True))
    results = run(get_backend("numpy"), shapes=[Shape("square", 64, 64, 64), Shape("square", 256, 256, 256)],
                  dtypes=["fp32"])
    searched = [r for r in results if r.name == "search"]
    assert searched and all(r.status == "ok" and r.params["m"] % 64 == 0 for r in searched)
    assert not {r.params["m"] for r in searched} & {64, 256}


def test_torch_cpu_dtypes():
    pytest.importorskip("torch")
    results = run(get_backend("torch"), shapes=SMALL[:1], threads=1)
    status = {r.dtype: r.status for r in results}
    assert status == {"fp64": "ok", "fp32": "ok", "tf32": "skipped", "bf16": "ok", "fp16": "ok", "fp8": "skipped"}
    for r in by_status(results, "ok"):
        assert r.device == "cpu" and r.timer == "perf_counter" and r.env["threads"] == 1
        assert r.check["passed"] and r.work == {"flops": 2 * 64**3}
    bf16 = next(r for r in results if r.dtype == "bf16")
    assert bf16.env["onednn_impl"] and "cpu_bf16_fp16_isa" in bf16.env
    assert 1e-4 < bf16.check["rel_error"] < 1e-2  # really computed in bf16, not fp32


def test_jax_compile_time_apart_from_samples_and_fp64_skipped():
    pytest.importorskip("jax")
    results = run(get_backend("jax"), shapes=SMALL[:1], dtypes=["fp64", "fp32", "bf16"])
    fp64 = next(r for r in results if r.dtype == "fp64")
    assert fp64.status == "skipped" and fp64.reason == X64_OFF
    for r in by_status(results, "ok"):
        assert r.device == "cpu:0" and r.timer == "perf_counter+block_until_ready"
        assert r.compile_s > 0 and max(r.samples_s) < r.compile_s  # a 64^3 call is far shorter than a compile
        assert r.env["jax_enable_x64"] is False and r.env["precision"] in ("HIGHEST", "DEFAULT")
    assert {r.dtype for r in by_status(results, "ok")} == {"fp32", "bf16"}


def test_plans_and_shapes():
    quick_cpu = shapes_for(plan_for("quick", "cpu"))
    assert [s.m for s in quick_cpu if s.name == "square"] == [256, 1024, 2048]
    assert any(s.name == "transformer" for s in quick_cpu)
    standard_gpu = shapes_for(plan_for("standard", "gpu"))
    assert max(s.m for s in standard_gpu if s.name == "square") == 16384
    layers = {s.layer: (s.m, s.n, s.k) for s in standard_gpu if s.name == "transformer" and s.tokens == 2048}
    assert layers == {"qkv": (2048, 12288, 4096), "attn_out": (2048, 4096, 4096),
                      "mlp_up": (2048, 16384, 4096), "mlp_down": (2048, 4096, 16384)}
    assert plan_for("full", "cpu").search and not plan_for("quick", "cpu").search
    assert search_sizes(2048, {2048, 3072}, "cpu") == [1536, 1792, 2304, 2560]
    assert all(s % 256 == 0 for s in search_sizes(8192, set(), "gpu"))
