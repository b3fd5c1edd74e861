"""The memory suite: STREAM byte counts, cache-level labels, correctness gating, real CPU runs at tiny sizes."""

from __future__ import annotations

import numpy as np
import pytest
from infrabench.suites import memory
from infrabench.suites.backends import get_backend
from infrabench.suites.backends.numpy_backend import NumpyBackend
from infrabench.suites.memory import (
    KERNELS,
    NO_ACCELERATOR,
    OVERHEAD_BOUND,
    Built,
    CacheLevel,
    Plan,
    cpu_sizes,
    data_caches,
    last_level_cache_bytes,
    level_label,
    overhead_bound,
    overhead_label,
    run_suite,
    sweep_sizes,
)
from infrabench.suites.memory_sweep import OVERHEAD_LARGE_NOTE, OVERHEAD_UNCHECKED
from infrabench.suites.options import SuiteOptions
from infrabench.suites.result import BenchResult
from infrabench.suites.timing import TimingConfig

KIB, MIB = 1024, 1024 * 1024

# Caches shaped like MachineProfile.cpu.caches, small enough that the whole suite runs in well under a second.
TINY_CACHES = [
    {"name": "L1d", "size_bytes": 4 * KIB, "instances": 1, "cpus_per_instance": 1},
    {"name": "L1i", "size_bytes": 4 * KIB, "instances": 1, "cpus_per_instance": 1},
    {"name": "L2", "size_bytes": 16 * KIB, "instances": 1, "cpus_per_instance": 1},
    {"name": "L3", "size_bytes": 64 * KIB, "instances": 1, "cpus_per_instance": 1},
]
TINY_MACHINE = {"cpu": {"usable_cpus": 1, "caches": TINY_CACHES}, "memory": {"usable_bytes": 8 << 30}}
FAST_PLAN = Plan(TimingConfig(warmup_s=0.001, min_sample_s=2e-4, rounds=3, budget_s=0.2), 8.0, [1 * MIB],
                 1 * MIB, ("fp32",))


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(memory.PLANS, "quick", FAST_PLAN)


def run(backend_name: str, **opts) -> list[BenchResult]:
    results: list[BenchResult] = []
    run_suite(get_backend(backend_name), SuiteOptions(profile="quick", machine=TINY_MACHINE, threads=1, **opts),
              results.append)
    return results


def by_name(results: list[BenchResult], name: str) -> list[BenchResult]:
    return [r for r in results if r.name == name]


# ---------------------------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(("kernel", "itemsize", "read", "written"), [
    ("copy", 8, 8000, 8000), ("scale", 8, 8000, 8000), ("add", 8, 16000, 8000), ("triad", 8, 16000, 8000),
    ("copy", 4, 4000, 4000), ("triad", 4, 8000, 4000), ("add", 2, 4000, 2000),
])
def test_stream_bytes_read_plus_written(kernel: str, itemsize: int, read: int, written: int) -> None:
    moved = KERNELS[kernel].bytes_moved(1000, itemsize)
    assert moved == {"bytes": read + written, "bytes_read": read, "bytes_written": written}


def test_reference_kernels_follow_stream() -> None:
    a, b, c = np.array([1.0, 2.0]), np.array([10.0, 20.0]), np.array([100.0, 200.0])
    ins = {"a": a, "b": b, "c": c}
    assert KERNELS["copy"].reference(ins).tolist() == [1.0, 2.0]
    assert KERNELS["scale"].reference(ins).tolist() == [300.0, 600.0]
    assert KERNELS["add"].reference(ins).tolist() == [11.0, 22.0]
    assert KERNELS["triad"].reference(ins).tolist() == [310.0, 620.0]


def test_cache_levels_from_profile_and_labels() -> None:
    caches = data_caches({"cpu": {"caches": [
        {"name": "L3", "size_bytes": 32 * MIB, "instances": 2},
        {"name": "L1i", "size_bytes": 32 * KIB, "instances": 2},
        {"name": "L1d", "size_bytes": 48 * KIB, "instances": 2},
        {"name": "L2", "size_bytes": 2 * MIB, "instances": 2},
    ]}})
    assert caches == [CacheLevel("L1", 48 * KIB, 2), CacheLevel("L2", 2 * MIB, 2), CacheLevel("L3", 32 * MIB, 2)]
    assert level_label(16 * KIB, caches) == "L1"
    assert level_label(48 * KIB, caches) == "L1"
    assert level_label(48 * KIB + 1, caches) == "L2"
    assert level_label(2 * MIB, caches) == "L2"
    assert level_label(8 * MIB, caches) == "L3"
    assert level_label(32 * MIB + 1, caches) == "DRAM"
    assert level_label(1 * KIB, []) == "unknown"
    assert last_level_cache_bytes({"cpu": {"caches": [{"name": "L3", "size_bytes": 32 * MIB, "instances": 2}]}}) \
        == 64 * MIB


def test_array_size_is_four_llc_or_256_mib_when_unknown() -> None:
    known = cpu_sizes({"cpu": {"caches": [{"name": "L3", "size_bytes": 32 * MIB, "instances": 1}]}})
    assert known.array_bytes == 128 * MIB and known.sweep_top_bytes == 128 * MIB
    unknown = cpu_sizes({"cpu": {"caches": None}})
    assert unknown.array_bytes == 256 * MIB and "unknown" in unknown.basis


def test_sweep_sizes_per_profile() -> None:
    assert sweep_sizes(128 * MIB, memory.PLANS["quick"].sweep_factor) == \
        [16 * KIB, 128 * KIB, 1 * MIB, 8 * MIB, 64 * MIB, 128 * MIB]
    standard = sweep_sizes(128 * MIB, memory.PLANS["standard"].sweep_factor)
    assert standard[0] == 16 * KIB and standard[-1] == 128 * MIB and len(standard) == 14
    assert all(b == 2 * a for a, b in zip(standard, standard[1:], strict=False))


def test_overhead_bound_rule() -> None:
    """Dispatch latency above 20% of the median call: the call measures overhead, not the cache level."""
    assert overhead_bound(2e-6, 1e-6)  # 50%
    assert overhead_bound(4e-6, 1e-6)  # 25%
    assert not overhead_bound(10e-6, 1e-6)  # 10%
    assert not overhead_bound(1e-3, 1e-6)  # a DRAM-sized call
    assert overhead_bound(10e-6, 1e-6, threshold=0.05)
    assert not overhead_bound(2e-6, None)  # not measured: nothing to say


def test_overhead_label_names_the_figures() -> None:
    bound = overhead_label("L1", 4e-6, 3e-6)
    assert bound["level"] == OVERHEAD_BOUND and bound["cache_level"] == "L1"
    assert bound["dispatch_latency_s"] == 3e-6 and bound["overhead_fraction"] == pytest.approx(0.75)
    assert bound["overhead_note"] == ("dispatch latency 3 µs is 75% of the 4 µs call: the figure is call overhead, "
                                      "not L1 cache bandwidth")
    cached = overhead_label("L2", 20e-6, 1e-6)  # 5%: the cache level's figure
    assert cached["level"] == "L2" and "cache_level" not in cached and "overhead_note" not in cached
    assert cached["overhead_fraction"] == pytest.approx(0.05)
    large = overhead_label("L3", 8e-6, 1e-6)  # 12.5%: labelled L3, overhead still noted
    assert large["level"] == "L3" and large["overhead_note"] == OVERHEAD_LARGE_NOTE
    dram = overhead_label("DRAM", 5e-3, 2e-6)
    assert dram["level"] == "DRAM" and "overhead_note" not in dram
    unchecked = overhead_label("L1", 2e-6, None)
    assert unchecked == {"level": "L1", "overhead_note": OVERHEAD_UNCHECKED}


# ---------------------------------------------------------------------------------------------- real CPU runs


def assert_ok_bandwidth(result: BenchResult) -> None:
    assert result.status == "ok", result.reason
    assert result.check and result.check["passed"]
    assert result.samples_s and all(s > 0 for s in result.samples_s)
    assert result.work["bytes"] == result.extra["bytes_read"] + result.extra["bytes_written"]
    assert result.extra["counting"] == memory.COUNTING


@pytest.mark.usefixtures("fast")
def test_numpy_suite_tiny() -> None:
    results = run("numpy")
    for name in KERNELS:
        (res,) = by_name(results, name)
        assert_ok_bandwidth(res)
        assert res.dtype == "fp64" and res.params == {"array_bytes": 256 * KIB}
        n = 256 * KIB // 8
        assert res.work["bytes"] == KERNELS[name].bytes_moved(n, 8)["bytes"]
        assert res.env["ufunc_threads"] == 1 and "one thread" in res.extra["threading"]
        assert res.extra["buffers"] == memory.FRESH_BUFFERS_NOTE  # each round on freshly allocated arrays
    sweep = by_name(results, "triad_working_set")
    assert all("buffers" not in r.extra for r in sweep)  # the sweep keeps its buffers: it measures cache levels
    assert [r.params["working_set_bytes"] for r in sweep] == [16 * KIB, 128 * KIB, 256 * KIB]
    assert [r.extra.get("cache_level", r.extra["level"]) for r in sweep] == ["L2", "DRAM", "DRAM"]
    for res in sweep:  # numpy's overhead is small but not nil: each point is labelled by the rule, whatever it gives
        bound = res.extra["overhead_fraction"] > memory.OVERHEAD_THRESHOLD
        assert (res.extra["level"] == OVERHEAD_BOUND) == bound
    assert ["level_note" in r.extra for r in sweep] == [False, True, False]  # 2x LLC is partly cached; 4x is not
    for res in sweep:
        assert_ok_bandwidth(res)
    (dispatch,) = by_name(results, "dispatch_latency")
    assert dispatch.status == "ok" and dispatch.work == {"calls": 1}
    assert dispatch.extra["latency_us"] == pytest.approx(np.median(dispatch.samples_s) * 1e6)


@pytest.mark.usefixtures("fast")
def test_host_device_skipped_without_accelerator() -> None:
    transfers = [r for r in run("numpy") if r.name in memory.DIRECTIONS]
    assert {(r.name, r.params["memory"]) for r in transfers} == {
        (d, m) for d in memory.DIRECTIONS for m in memory.HOST_MEMORY}
    assert all(r.status == "skipped" and r.reason == NO_ACCELERATOR and not r.samples_s for r in transfers)


@pytest.mark.usefixtures("fast")
def test_wrong_kernel_is_failed_not_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    right = NumpyBackend.stream_kernel

    def wrong(self, kernel, arrays, s):
        if kernel.name != "triad":
            return right(self, kernel, arrays, s)
        a, b, c = arrays["a"], arrays["b"], arrays["c"]
        return Built(lambda i: np.subtract(b, c, out=a), "a = b - c (wrong)")

    monkeypatch.setattr(NumpyBackend, "stream_kernel", wrong)
    results = run("numpy")
    (triad,) = by_name(results, "triad")
    assert triad.status == "failed" and "correctness" in triad.reason
    assert not triad.samples_s and not triad.check["passed"]
    assert all(r.status == "failed" for r in by_name(results, "triad_working_set"))
    assert by_name(results, "copy")[0].status == "ok"


@pytest.mark.usefixtures("fast")
def test_copy_must_be_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    right = NumpyBackend.stream_kernel

    def off_by_ulp(self, kernel, arrays, s):
        if kernel.name != "copy":
            return right(self, kernel, arrays, s)
        a, c = arrays["a"], arrays["c"]
        return Built(lambda i: np.nextafter(a, np.inf, out=c), "c = nextafter(a)")

    monkeypatch.setattr(NumpyBackend, "stream_kernel", off_by_ulp)
    (copy,) = by_name(run("numpy"), "copy")
    assert copy.status == "failed"


@pytest.mark.usefixtures("fast")
def test_torch_cpu_suite_tiny() -> None:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    results = run("torch")  # threads=1 asked for
    assert torch.get_num_threads() == before  # restored after the suite
    for name in KERNELS:
        (res,) = by_name(results, name)
        assert_ok_bandwidth(res)
        assert res.env["torch_threads"] == 1
    assert all(r.status == "ok" for r in by_name(results, "triad_working_set"))
    assert by_name(results, "dispatch_latency")[0].status == "ok"


@pytest.mark.usefixtures("fast")
def test_jax_compile_time_kept_apart() -> None:
    pytest.importorskip("jax")
    results = run("jax")
    for name in KERNELS:
        (res,) = by_name(results, name)
        assert_ok_bandwidth(res)
        assert res.compile_s is not None and res.compile_s > 0
        assert res.timer == "perf_counter+block_until_ready"
        n = res.extra["n"]
        assert res.work["bytes"] == KERNELS[name].bytes_moved(n, memory.ITEMSIZE[res.dtype])["bytes"]
        if res.dtype == "fp32":  # jax without x64: fp32 recorded, and why
            assert "fp64 unsupported" in res.extra["dtype_note"]


@pytest.mark.usefixtures("fast")
def test_unsupported_requested_dtype_is_skipped() -> None:
    results = run("numpy", dtypes=["fp8"])
    stream = [r for r in results if r.name in KERNELS]
    assert len(stream) == 4 and all(r.status == "skipped" and "fp8" in r.reason for r in stream)


# ---------------------------------------------------------------------------------------------- accelerator path


@pytest.mark.usefixtures("fast")
def test_accelerator_path_with_cpu_standing_in_for_a_device() -> None:
    """No GPU here: torch's CPU device plays the accelerator, so the device code (STREAM at the plan's device size,
    host<->device copies) runs for real; pinning needs a real accelerator, so pinned copies must come back
    skipped with the reason, not crash the suite."""
    torch = pytest.importorskip("torch")
    backend = get_backend("torch")
    backend.device_kind = lambda device: "gpu"  # type: ignore[method-assign]
    results: list[BenchResult] = []
    ctx = memory.Context(backend, SuiteOptions(machine=TINY_MACHINE, threads=1), results.append, FAST_PLAN, 1, [])
    memory.run_device(ctx, "cpu")
    assert not by_name(results, "triad_working_set")  # the cache sweep is for CPUs
    for name in KERNELS:
        (res,) = by_name(results, name)
        assert_ok_bandwidth(res)
        assert res.dtype == "fp32" and res.params == {"array_bytes": 1 * MIB}
    assert by_name(results, "copy")[0].extra["device_to_device_copy"] is True
    pageable = [r for r in results if r.name in memory.DIRECTIONS and r.params["memory"] == "pageable"]
    assert {r.name for r in pageable} == set(memory.DIRECTIONS)
    for res in pageable:
        assert res.status == "ok", res.reason
        assert res.work == {"bytes": 1 * MIB} and res.check["passed"] and res.samples_s
    pinned = [r for r in results if r.name in memory.DIRECTIONS and r.params["memory"] == "pinned"]
    assert len(pinned) == 2
    if not torch.cuda.is_available():
        assert all(r.status == "skipped" and "pinned" in r.reason for r in pinned)


@pytest.mark.usefixtures("fast")
def test_jax_transfers_say_what_is_not_measured() -> None:
    pytest.importorskip("jax")
    backend = get_backend("jax")
    backend.device_kind = lambda device: "gpu"  # type: ignore[method-assign]
    results: list[BenchResult] = []
    ctx = memory.Context(backend, SuiteOptions(machine=TINY_MACHINE), results.append, FAST_PLAN, 1, [])
    memory.run_transfers(ctx, "cpu:0")
    status = {(r.name, r.params["memory"]): r.status for r in results}
    assert status == {("host_to_device", "pageable"): "ok", ("host_to_device", "pinned"): "skipped",
                      ("device_to_host", "pageable"): "skipped", ("device_to_host", "pinned"): "skipped"}
    assert all(r.reason for r in results if r.status == "skipped")


# ---------------------------------------------------------------------------------------------- overhead-bound sweep

SWEEP_PLAN = Plan(TimingConfig(warmup_s=0.001, min_sample_s=2e-4, rounds=3, budget_s=0.2), 4096.0, [1 * MIB],
                  1 * MIB, ("fp32",))  # sweep factor 4096 from 16 KiB: one L2 point and one 64 MiB (DRAM) point


def sweep_only(backend_name: str) -> list[BenchResult]:
    """The sweep alone (16 KiB and 64 MiB on TINY_MACHINE's caches): it measures the dispatch latency first."""
    backend = get_backend(backend_name)
    device = backend.devices()[0]
    results: list[BenchResult] = []
    ctx = memory.Context(backend, SuiteOptions(machine=TINY_MACHINE, threads=1), results.append, SWEEP_PLAN, 1,
                         data_caches(TINY_MACHINE))
    with backend.elementwise_threads(1):
        memory.run_sweep(ctx, device, "fp32", 64 * MIB)
    return results


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_small_sweep_point_is_overhead_bound(framework: str) -> None:
    """A 16 KiB triad on torch/jax CPU costs well under 1 us of data movement against microseconds of call
    overhead: it is labelled overhead-bound with the dispatch latency that decided it; the DRAM point keeps DRAM."""
    pytest.importorskip(framework)
    results = sweep_only(framework)
    (dispatch,) = by_name(results, "dispatch_latency")
    assert dispatch.status == "ok", dispatch.reason
    small, dram = by_name(results, "triad_working_set")
    assert small.params == {"working_set_bytes": 16 * KIB} and dram.params == {"working_set_bytes": 64 * MIB}
    assert small.status == "ok" and dram.status == "ok", (small.reason, dram.reason)
    latency = np.median(dispatch.samples_s)
    assert small.extra["level"] == OVERHEAD_BOUND and small.extra["cache_level"] == "L2"
    assert small.extra["dispatch_latency_s"] == pytest.approx(latency)
    assert small.extra["overhead_fraction"] == pytest.approx(latency / np.median(small.samples_s))
    assert "call overhead, not L2 cache bandwidth" in small.extra["overhead_note"]
    assert dram.extra["level"] == "DRAM" and "cache_level" not in dram.extra
    assert dram.extra["dispatch_latency_s"] == pytest.approx(latency)


@pytest.mark.usefixtures("fast")
def test_sweep_keeps_cache_level_when_dispatch_latency_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self, a, b, c):
        raise RuntimeError("no dispatch call here")

    monkeypatch.setattr(NumpyBackend, "dispatch_call", broken)
    results = run("numpy")
    assert by_name(results, "dispatch_latency")[0].status == "failed"
    sweep = by_name(results, "triad_working_set")
    assert [r.extra["level"] for r in sweep] == ["L2", "DRAM", "DRAM"]
    assert all(r.status == "ok" and r.extra["overhead_note"] == OVERHEAD_UNCHECKED for r in sweep)
    assert all("overhead_fraction" not in r.extra for r in sweep)
