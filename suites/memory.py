"""Memory suite: STREAM bandwidth, bandwidth vs working-set size, host<->device copies, dispatch latency.

Bandwidth is counted the STREAM way (bytes read + bytes written by the kernel, no write-allocate
traffic), on arrays at least 4x the last-level cache so DRAM, not cache, is measured. Every kernel
writes into an existing array (`out=`, `copy_`, or a donated buffer under jax), so no allocation is
timed, and every kernel's output is checked once against a float64 numpy reference before it is
timed. On the CPU each timed round of a STREAM kernel gets freshly allocated copies of its arrays
(untimed): bandwidth depends on where a large array's pages land, which is fixed for one allocation,
so without this every round of one process shares one placement and two runs differ by more than
their rounds show (25-55% between processes on a KVM guest with rounds within a few %). Kernels are
framework-specific (numpy ufuncs, torch ops, jitted jax functions); timing and arrays come from the
backend.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backends.base import Backend
from .options import Emit, SuiteOptions
from .result import BenchResult, skipped
from .timing import Call, Clock, TimingConfig, WallClock, measure

log = logging.getLogger(__name__)

SUITE = "memory"
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
STREAM_SCALAR = 3.0  # STREAM's `scalar`
COUNTING = "STREAM convention: read + written, no write-allocate"
TRANSFER_COUNTING = "bytes transferred across the host-device link, counted once"
NO_ACCELERATOR = "no accelerator: host<->device copies need a device other than the CPU"
UNKNOWN_LLC_ARRAY_BYTES = 256 * MIB  # per array when the machine profile has no cache sizes
SWEEP_START_BYTES = 16 * KIB
CHECK_MAX_ELEMENTS = 1 << 20  # the check reads every k-th element so that it stays cheap at any size
DISPATCH_ELEMENTS = 16
MEMORY_DTYPES = ("fp64", "fp32", "bf16", "fp16")  # dtypes with elementwise kernels in every framework
TOLERANCE = {"fp64": 1e-12, "fp32": 1e-6, "bf16": 1e-2, "fp16": 1e-3}
ITEMSIZE = {"fp64": 8, "fp32": 4, "bf16": 2, "fp16": 2}
TRANSFER_DTYPE = "fp32"
DIRECTIONS = ("host_to_device", "device_to_host")
HOST_MEMORY = ("pageable", "pinned")
FRESH_BUFFERS_NOTE = ("each timed round runs on freshly allocated copies of the arrays (copied before the round, "
                      "untimed): where a large array's pages land in host memory differs between allocations, so "
                      "the rounds' spread includes it instead of one process's placement biasing every round")


# --------------------------------------------------------------------------------------------------
# What is measured: kernels, bytes, cache levels, sizes (pure functions, no framework).


@dataclass(frozen=True)
class StreamKernel:
    """One STREAM kernel: which arrays it reads and which it writes (decides the bytes it moves)."""

    name: str
    output: str
    inputs: tuple[str, ...]
    formula: str

    def bytes_moved(self, n: int, itemsize: int) -> dict[str, int]:
        """Bytes one call moves under the STREAM convention (read + written, no write-allocate)."""
        read = len(self.inputs) * n * itemsize
        written = n * itemsize
        return {"bytes": read + written, "bytes_read": read, "bytes_written": written}

    def reference(self, inputs: dict[str, np.ndarray], scalar: float = STREAM_SCALAR) -> np.ndarray:
        """The kernel in float64 numpy, from float64 copies of its inputs."""
        if self.name == "copy":
            return inputs["a"].copy()
        if self.name == "scale":
            return scalar * inputs["c"]
        if self.name == "add":
            return inputs["a"] + inputs["b"]
        if self.name == "triad":
            return inputs["b"] + scalar * inputs["c"]
        raise ValueError(f"unknown STREAM kernel {self.name!r}")


KERNELS: dict[str, StreamKernel] = {
    "copy": StreamKernel("copy", "c", ("a",), "c = a"),
    "scale": StreamKernel("scale", "b", ("c",), "b = s*c"),
    "add": StreamKernel("add", "c", ("a", "b"), "c = a + b"),
    "triad": StreamKernel("triad", "a", ("b", "c"), "a = b + s*c"),
}


@dataclass(frozen=True)
class CacheLevel:
    """A data (or unified) cache level as the machine profile reports it."""

    label: str  # "L1" | "L2" | "L3" | "L4"
    size_bytes: int  # one instance
    instances: int

    @property
    def total_bytes(self) -> int:
        return self.size_bytes * max(self.instances, 1)


def data_caches(machine: dict[str, Any]) -> list[CacheLevel]:
    """Data/unified cache levels from MachineProfile.cpu.caches, smallest level first (L1i left out)."""
    levels: dict[str, CacheLevel] = {}
    for entry in ((machine.get("cpu") or {}).get("caches") or []):
        name = str(entry.get("name") or "")
        size = entry.get("size_bytes")
        if not size or name.upper().endswith("I") or not name.upper().startswith("L"):
            continue
        label = name.upper().rstrip("DU")  # "L1d" -> "L1", "L2" -> "L2"
        if not label[1:].isdigit():
            continue
        level = CacheLevel(label, int(size), int(entry.get("instances") or 1))
        if label not in levels or level.size_bytes > levels[label].size_bytes:
            levels[label] = level
    return sorted(levels.values(), key=lambda c: int(c.label[1:]))


def last_level_cache_bytes(machine: dict[str, Any]) -> int | None:
    """All instances of the highest cache level together (what an all-core kernel can keep cached)."""
    caches = data_caches(machine)
    return caches[-1].total_bytes if caches else None


def level_label(working_set_bytes: int, caches: list[CacheLevel]) -> str:
    """Where a working set lives: the first level whose one instance holds it, else DRAM ("unknown" without
    cache sizes). Per-instance sizes: what one thread can use."""
    if not caches:
        return "unknown"
    for cache in caches:
        if working_set_bytes <= cache.size_bytes:
            return cache.label
    return "DRAM"


def sweep_sizes(top_bytes: int, factor: float, start_bytes: int = SWEEP_START_BYTES) -> list[int]:
    """Working sets from `start_bytes` growing by `factor` (rounded to KiB), ending exactly at `top_bytes`."""
    sizes: list[int] = []
    ws = float(start_bytes)
    while ws < top_bytes:
        size = int(round(ws / KIB)) * KIB
        if not sizes or size > sizes[-1]:
            sizes.append(size)
        ws *= factor
    if not sizes or sizes[-1] != top_bytes:
        sizes.append(top_bytes)
    return sizes


def rel_error(out: np.ndarray, ref: np.ndarray) -> float:
    """Relative Frobenius error; NaN/inf anywhere gives inf (never passes)."""
    if out.shape != ref.shape or not np.all(np.isfinite(out)):
        return math.inf
    norm = float(np.linalg.norm(ref))
    diff = float(np.linalg.norm(out - ref))
    return diff / norm if norm > 0 else diff


def usable_cpus(opts: SuiteOptions) -> int:
    """Threads to pin: opts.threads, else usable CPUs from the profile, else this process's affinity."""
    if opts.threads:
        return int(opts.threads)
    usable = (opts.machine.get("cpu") or {}).get("usable_cpus")
    if usable:
        return int(usable)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# --------------------------------------------------------------------------------------------------
# How big, how long: one plan per profile.


@dataclass
class Plan:
    """Sizes and timing for one profile. Warm-up lasts several DRAM-sized calls: on a shared 2-core machine the
    first few multithreaded calls after a pause run slower while the scheduler settles."""

    timing: TimingConfig
    sweep_factor: float
    transfer_sizes: list[int]
    device_array_bytes: int  # per array, on accelerators (capped by device memory)
    device_dtypes: tuple[str, ...]
    cpu_dtypes: tuple[str, ...] = ("fp64",)  # fp32 when fp64 is unsupported (jax without x64)


PLANS: dict[str, Plan] = {
    # rounds of >= 10 ms: the cache-level triads take 3-20 us a call, and 1 ms rounds put all ten in ~10 ms
    "quick": Plan(TimingConfig(warmup_s=0.1, min_sample_s=1e-2, rounds=10, budget_s=1.0), 8.0, [64 * MIB],
                  1 * GIB, ("fp32",)),
    "standard": Plan(TimingConfig(warmup_s=0.25, min_sample_s=2e-3, rounds=15, budget_s=5.0), 2.0,
                     [MIB << (2 * i) for i in range(6)], 2 * GIB, ("fp32", "bf16")),
    "full": Plan(TimingConfig(warmup_s=0.5, min_sample_s=5e-3, rounds=30, budget_s=15.0), math.sqrt(2.0),
                 [MIB << i for i in range(11)], 4 * GIB, ("fp32", "bf16")),
}


def plan_for(profile: str) -> Plan:
    return PLANS.get(profile, PLANS["quick"])


@dataclass
class CpuSizes:
    """Per-array bytes for DRAM STREAM and the sweep's top working set, with how they were chosen."""

    array_bytes: int
    sweep_top_bytes: int
    basis: str


def cpu_sizes(machine: dict[str, Any]) -> CpuSizes:
    """4x the last-level cache per array (256 MiB when unknown), capped at 1/8 of usable memory."""
    llc = last_level_cache_bytes(machine)
    if llc:
        array_bytes, basis = 4 * llc, f"4 x last-level cache ({llc} B, all instances) per array"
        top = 4 * llc
    else:
        array_bytes = UNKNOWN_LLC_ARRAY_BYTES
        basis = "last-level cache size unknown (no cache sizes in the machine profile): 256 MiB per array"
        top = 3 * array_bytes
    usable = (machine.get("memory") or {}).get("usable_bytes")
    if usable and array_bytes > usable // 8:
        array_bytes = max(int(usable // 8) // MIB * MIB, MIB)
        basis += f"; capped at 1/8 of usable memory ({usable} B)"
    return CpuSizes(array_bytes, top, basis)


# --------------------------------------------------------------------------------------------------
# Kernels per framework: each builder returns (call, compile_s, implementation, own clock or None).


@dataclass
class Built:
    call: Call
    implementation: str
    compile_s: float | None = None
    clock: Clock | None = None  # set when the backend's clock cannot time this call (donated jax buffers)
    notes: dict[str, Any] = field(default_factory=dict)
    renew: Callable[[], None] | None = None  # move the kernel's arrays to freshly allocated buffers (untimed)


def _numpy_kernel(kernel: StreamKernel, arrays: dict[str, Any], s: float) -> Built:
    a, b, c = arrays["a"], arrays["b"], arrays["c"]

    def renew() -> None:  # the kernels below read a, b, c from this scope: rebinding them switches buffers
        nonlocal a, b, c
        _fresh_buffers(arrays, kernel, lambda x: np.array(x, copy=True))
        a, b, c = arrays["a"], arrays["b"], arrays["c"]

    if kernel.name == "copy":
        return Built(lambda i: np.copyto(c, a), "np.copyto(c, a)", renew=renew)
    if kernel.name == "scale":
        return Built(lambda i: np.multiply(c, s, out=b), "np.multiply(c, s, out=b)", renew=renew)
    if kernel.name == "add":
        return Built(lambda i: np.add(a, b, out=c), "np.add(a, b, out=c)", renew=renew)

    def triad(i: int) -> Any:
        np.multiply(c, s, out=a)
        return np.add(a, b, out=a)

    return Built(triad, "np.multiply(c, s, out=a); np.add(a, b, out=a)", renew=renew,
                 notes={"numpy_triad": "numpy has no fused multiply-add ufunc: a is written twice and read once "
                                       "more than STREAM counts, so the figure (STREAM count) is below the "
                                       "memory system's triad bandwidth"})


def _torch_kernel(kernel: StreamKernel, arrays: dict[str, Any], s: float) -> Built:
    import torch

    a, b, c = arrays["a"], arrays["b"], arrays["c"]

    def renew() -> None:
        nonlocal a, b, c
        _fresh_buffers(arrays, kernel, lambda x: x.clone())
        a, b, c = arrays["a"], arrays["b"], arrays["c"]

    if kernel.name == "copy":
        return Built(lambda i: c.copy_(a), "c.copy_(a)", renew=renew)
    if kernel.name == "scale":
        return Built(lambda i: torch.mul(c, s, out=b), "torch.mul(c, s, out=b)", renew=renew)
    if kernel.name == "add":
        return Built(lambda i: torch.add(a, b, out=c), "torch.add(a, b, out=c)", renew=renew)
    return Built(lambda i: torch.add(b, c, alpha=s, out=a), "torch.add(b, c, alpha=s, out=a)", renew=renew)


def _jax_kernel(kernel: StreamKernel, arrays: dict[str, Any], s: float) -> Built:
    """Jitted with the output's old buffer donated, so XLA writes in place instead of allocating each call."""
    import jax
    import jax.numpy as jnp

    bodies: dict[str, Callable[..., Any]] = {
        "copy": lambda old, a: jnp.copy(a),
        "scale": lambda old, c: s * c,
        "add": lambda old, a, b: a + b,
        "triad": lambda old, b, c: b + s * c,
    }
    inputs = [arrays[name] for name in kernel.inputs]
    jitted = jax.jit(bodies[kernel.name], donate_argnums=0, keep_unused=True)
    t0 = time.perf_counter()
    compiled = jitted.lower(arrays[kernel.output], *inputs).compile()
    compile_s = time.perf_counter() - t0
    out = kernel.output

    def call(i: int) -> Any:
        arrays[out] = compiled(arrays[out], *inputs)
        return arrays[out]

    def renew() -> None:
        nonlocal inputs
        _fresh_buffers(arrays, kernel, lambda x: jnp.array(x, copy=True).block_until_ready())
        inputs = [arrays[name] for name in kernel.inputs]

    # Each call donates the previous output, so only the newest output is alive; it depends on every
    # earlier call, so blocking on it waits for the whole block.
    clock = WallClock(lambda outs: outs[-1].block_until_ready() if outs else None,
                      name="perf_counter+block_until_ready")
    impl = f"jax.jit({kernel.formula.split(' = ')[1]}, donate_argnums=0)"
    return Built(call, impl, compile_s, clock, renew=renew)


def _fresh_buffers(arrays: dict[str, Any], kernel: StreamKernel, copy: Callable[[Any], Any]) -> None:
    """Replace the kernel's arrays by copies in newly allocated memory (the old ones are freed)."""
    for name in (*kernel.inputs, kernel.output):
        arrays[name] = copy(arrays[name])


KERNEL_BUILDERS: dict[str, Callable[[StreamKernel, dict[str, Any], float], Built]] = {
    "numpy": _numpy_kernel,
    "torch": _torch_kernel,
    "jax": _jax_kernel,
}


def _dispatch_call(framework: str, a: Any, b: Any, c: Any) -> Built:
    """The smallest useful op: an add of two tiny arrays (framework overhead and kernel launch)."""
    if framework == "numpy":
        return Built(lambda i: np.add(a, b, out=c), "np.add(a, b, out=c)")
    if framework == "torch":
        import torch

        return Built(lambda i: torch.add(a, b, out=c), "torch.add(a, b, out=c)")
    import jax

    t0 = time.perf_counter()
    compiled = jax.jit(lambda x, y: x + y).lower(a, b).compile()
    return Built(lambda i: compiled(a, b), "jax.jit(a + b)", time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------------
# Running and recording.


@dataclass
class Context:
    """What every measurement on one backend needs."""

    backend: Backend
    opts: SuiteOptions
    emit: Emit
    plan: Plan
    threads: int
    caches: list[CacheLevel]
    dispatch_latency_s: dict[str, float] = field(default_factory=dict)  # per device

    @property
    def framework(self) -> str:
        return self.backend.name


def _is_oom(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return isinstance(exc, MemoryError) or "OutOfMemory" in text or "RESOURCE_EXHAUSTED" in text \
        or "out of memory" in text.lower()


def _guarded(ctx: Context, name: str, device: str, dtype: str, params: dict[str, Any],
             body: Callable[[], BenchResult]) -> BenchResult:
    """Run one measurement; an exception becomes a failed (or oom) result for it, and the suite goes on."""
    try:
        result = body()
    except Exception as exc:  # noqa: BLE001 - one benchmark's failure must not end the suite
        log.debug("memory/%s on %s/%s failed", name, ctx.framework, device, exc_info=True)
        result = BenchResult(SUITE, name, ctx.framework, device, dtype, dict(params),
                             status="oom" if _is_oom(exc) else "failed",
                             reason=f"{type(exc).__name__}: {exc}"[:500])
    finally:
        gc.collect()
    ctx.emit(result)
    return result


def _env(ctx: Context, device: str) -> dict[str, Any]:
    env = dict(ctx.backend.env(device))
    kind = ctx.backend.device_kind(device)
    if ctx.framework == "numpy":
        env["ufunc_threads"] = 1
    elif ctx.framework == "torch" and kind == "cpu":
        import torch

        env["torch_threads"] = torch.get_num_threads()
    elif ctx.framework == "jax" and kind == "cpu":
        env.setdefault("XLA_FLAGS", os.environ.get("XLA_FLAGS"))
    return env


def _threading_note(ctx: Context, device: str) -> str | None:
    if ctx.backend.device_kind(device) != "cpu":
        return None
    if ctx.framework == "numpy":
        return "numpy ufuncs run on one thread (BLAS threads do not apply): numpy figures are one core's bandwidth"
    if ctx.framework == "torch":
        return f"torch CPU ops run on torch.get_num_threads() threads (set to {ctx.threads})"
    if ctx.framework == "jax":
        return "XLA CPU chooses the parallelism of elementwise loops itself"
    return None


def _check(ctx: Context, kernel: StreamKernel, arrays: dict[str, Any], dtype: str, n: int) -> dict[str, Any]:
    """Output of one call vs float64 numpy on every k-th element (all of them up to CHECK_MAX_ELEMENTS)."""
    step = max(1, -(-n // CHECK_MAX_ELEMENTS))
    ins = {name: np.asarray(ctx.backend.to_numpy64(arrays[name][::step]), dtype=np.float64)
           for name in kernel.inputs}
    out = np.asarray(ctx.backend.to_numpy64(arrays[kernel.output][::step]), dtype=np.float64)
    ref = kernel.reference(ins)
    if kernel.name == "copy":
        err = 0.0 if out.shape == ref.shape and np.array_equal(out, ref) else math.inf
        tol = 0.0
    else:
        err, tol = rel_error(out, ref), TOLERANCE[dtype]
    every = "every element" if step == 1 else f"every {step}-th element"
    return {"rel_error": err, "tolerance": tol, "passed": bool(err <= tol),
            "reference": f"float64 numpy {kernel.formula} on {every} ({out.size} values)"
                         + (", exact match required" if kernel.name == "copy" else "")}


def _time_checked(ctx: Context, *, name: str, device: str, dtype: str, params: dict[str, Any], built: Built,
                  check: dict[str, Any] | None, work: dict[str, Any], extra: dict[str, Any],
                  fresh_buffers: bool = False) -> BenchResult:
    """Time `built.call` unless its check failed; a failed check is a failed result without timing.

    fresh_buffers: before each timed round (untimed) move the arrays to newly allocated memory."""
    result = BenchResult(SUITE, name, ctx.framework, device, dtype, dict(params), work=work, check=check,
                         env=_env(ctx, device), compile_s=built.compile_s,
                         extra={"implementation": built.implementation, **built.notes, **extra})
    note = _threading_note(ctx, device)
    if note:
        result.extra["threading"] = note
    if check is not None and not check["passed"]:
        result.status = "failed"
        result.reason = (f"correctness check failed: relative error {check['rel_error']:.3g} "
                         f"> tolerance {check['tolerance']:.3g} ({check['reference']})")
        return result
    before_round = None
    if fresh_buffers and built.renew is not None:
        renew = built.renew

        def before_round(_r: int) -> None:
            renew()
            ctx.backend.sync(device)

        result.extra["buffers"] = FRESH_BUFFERS_NOTE
    timed = measure(built.call, built.clock or ctx.backend.clock(device), ctx.plan.timing, before_round)
    ctx.backend.sync(device)
    result.samples_s = timed.samples_s
    result.iterations = timed.iterations
    result.warmup_s = timed.warmup_s
    result.timer = timed.timer
    result.extra["first_call_s"] = timed.first_call_s
    if timed.notes:
        result.extra["timing_notes"] = timed.notes
    return result


def _stream_arrays(ctx: Context, device: str, dtype: str, n: int, seed: int) -> dict[str, Any]:
    return {name: ctx.backend.random((n,), dtype, device, seed + i) for i, name in enumerate("abc")}


def _kernel_result(ctx: Context, kernel: StreamKernel, arrays: dict[str, Any], *, name: str, device: str,
                   dtype: str, n: int, params: dict[str, Any], extra: dict[str, Any],
                   fresh_buffers: bool = False) -> BenchResult:
    built = KERNEL_BUILDERS[ctx.framework](kernel, arrays, STREAM_SCALAR)
    built.call(0)
    ctx.backend.sync(device)
    check = _check(ctx, kernel, arrays, dtype, n)
    moved = kernel.bytes_moved(n, ITEMSIZE[dtype])
    extra = {"kernel": kernel.formula, "scalar": STREAM_SCALAR, "n": n, "bytes_read": moved["bytes_read"],
             "bytes_written": moved["bytes_written"], "counting": COUNTING, **extra}
    return _time_checked(ctx, name=name, device=device, dtype=dtype, params=params, built=built, check=check,
                         work={"bytes": moved["bytes"]}, extra=extra, fresh_buffers=fresh_buffers)


def run_stream(ctx: Context, device: str, dtype: str, array_bytes: int, basis: str,
               dtype_note: str | None = None) -> None:
    """copy, scale, add, triad on three arrays of `array_bytes` each."""
    n = array_bytes // ITEMSIZE[dtype]
    params = {"array_bytes": n * ITEMSIZE[dtype]}
    try:
        arrays = _stream_arrays(ctx, device, dtype, n, ctx.opts.seed)
    except Exception as exc:  # noqa: BLE001 - no arrays: every kernel is recorded as not run, with why
        reason = f"{type(exc).__name__}: {exc}"[:500]
        for kernel in KERNELS.values():
            ctx.emit(BenchResult(SUITE, kernel.name, ctx.framework, device, dtype, dict(params),
                                 status="oom" if _is_oom(exc) else "failed", reason=reason))
        return
    extra: dict[str, Any] = {"array_size_basis": basis}
    if dtype_note:
        extra["dtype_note"] = dtype_note
    on_accelerator = ctx.backend.device_kind(device) != "cpu"
    for kernel in KERNELS.values():
        kernel_extra = {**extra, "device_to_device_copy": True} if on_accelerator and kernel.name == "copy" else extra
        _guarded(ctx, kernel.name, device, dtype, params,
                 lambda k=kernel, arr=arrays, x=kernel_extra: _kernel_result(
                     ctx, k, arr, name=k.name, device=device, dtype=dtype, n=n, params=params, extra=x,
                     fresh_buffers=not on_accelerator))
    del arrays
    _release(ctx, device)


def run_sweep(ctx: Context, device: str, dtype: str, top_bytes: int, dtype_note: str | None = None) -> None:
    """Triad bandwidth vs working set (all three arrays), labelled with the cache level that holds it.

    Buffers are not rotated here on purpose: the point is to see each cache level's bandwidth."""
    kernel = KERNELS["triad"]
    itemsize = ITEMSIZE[dtype]
    latency = ctx.dispatch_latency_s.get(device)
    llc = last_level_cache_bytes(ctx.opts.machine)
    for ws in sweep_sizes(top_bytes, ctx.plan.sweep_factor):
        n = max(1, ws // (len(kernel.inputs) + 1) // itemsize)
        actual = (len(kernel.inputs) + 1) * n * itemsize
        params = {"working_set_bytes": ws}
        extra: dict[str, Any] = {"level": level_label(actual, ctx.caches), "working_set_bytes_actual": actual,
                                 "level_basis": "per-instance cache sizes from the machine profile "
                                                "(what one thread can use)",
                                 "buffers_rotated": False}
        if extra["level"] == "DRAM" and llc and ws < 4 * llc:
            extra["level_note"] = ("between 1x and 4x the last-level cache: part of the working set is still "
                                   "served from cache")
        if dtype_note:
            extra["dtype_note"] = dtype_note

        def body(n: int = n, ws: int = ws, params: dict[str, Any] = params, extra: dict[str, Any] = extra
                 ) -> BenchResult:
            arrays = _stream_arrays(ctx, device, dtype, n, ctx.opts.seed + ws)
            res = _kernel_result(ctx, kernel, arrays, name="triad_working_set", device=device, dtype=dtype,
                                 n=n, params=params, extra=extra)
            if latency and res.samples_s:
                median = float(np.median(res.samples_s))
                res.extra["dispatch_latency_us"] = latency * 1e6
                if median < 10 * latency:
                    res.extra["overhead_note"] = ("one call takes under 10x this device's dispatch latency: "
                                                  "framework overhead is a large part of the time, so the "
                                                  "figure understates this level's bandwidth")
            return res

        _guarded(ctx, "triad_working_set", device, dtype, params, body)
    _release(ctx, device)


def run_dispatch(ctx: Context, device: str) -> None:
    """Latency of a tiny add (16 elements): framework overhead plus kernel launch."""
    dtype = "fp32"
    params = {"elements": DISPATCH_ELEMENTS}

    def body() -> BenchResult:
        a, b, c = (ctx.backend.random((DISPATCH_ELEMENTS,), dtype, device, ctx.opts.seed + i) for i in range(3))
        built = _dispatch_call(ctx.framework, a, b, c)
        out = built.call(0)
        ctx.backend.sync(device)
        got = np.asarray(ctx.backend.to_numpy64(out), dtype=np.float64)
        ref = np.asarray(ctx.backend.to_numpy64(a), np.float64) + np.asarray(ctx.backend.to_numpy64(b), np.float64)
        err = rel_error(got, ref)
        check = {"rel_error": err, "tolerance": TOLERANCE[dtype], "passed": bool(err <= TOLERANCE[dtype]),
                 "reference": "float64 numpy a + b"}
        res = _time_checked(ctx, name="dispatch_latency", device=device, dtype=dtype, params=params, built=built,
                            check=check, work={"calls": 1},
                            extra={"what": "one tiny add per call: the throughput is calls/s; the median "
                                           "seconds per call is the dispatch latency"})
        if res.samples_s:
            median = float(np.median(res.samples_s))
            res.extra["latency_us"] = median * 1e6
            ctx.dispatch_latency_s[device] = median
        return res

    _guarded(ctx, "dispatch_latency", device, dtype, params, body)


def _skip_transfers(ctx: Context, device: str, reason: str, only: tuple[str, str] | None = None) -> None:
    for direction in DIRECTIONS:
        for memory in HOST_MEMORY:
            if only is None or (direction, memory) == only:
                ctx.emit(skipped(SUITE, direction, ctx.framework, device, TRANSFER_DTYPE, reason,
                                 {"memory": memory}))


def run_transfers(ctx: Context, device: str) -> None:
    """Host<->device copies, pageable and pinned, both directions, for the plan's sizes."""
    if ctx.framework == "jax":
        reason = "pinned host copies are not measured with jax (only torch's pin_memory() path is implemented)"
        _skip_transfers(ctx, device, reason, ("host_to_device", "pinned"))
        _skip_transfers(ctx, device, "not measured with jax: an array caches its host copy, so repeated "
                                     "device-to-host reads would not move data", ("device_to_host", "pageable"))
        _skip_transfers(ctx, device, reason, ("device_to_host", "pinned"))
        for size in ctx.plan.transfer_sizes:
            params = {"memory": "pageable", "size_bytes": size}
            _guarded(ctx, "host_to_device", device, TRANSFER_DTYPE, params,
                     lambda p=params: _jax_h2d(ctx, device, p))
        return
    if ctx.framework != "torch":
        _skip_transfers(ctx, device, f"host<->device copies are not measured for {ctx.framework}")
        return
    for size in ctx.plan.transfer_sizes:
        for memory in HOST_MEMORY:
            for direction in DIRECTIONS:
                params = {"memory": memory, "size_bytes": size}
                _guarded(ctx, direction, device, TRANSFER_DTYPE, params,
                         lambda d=direction, p=params: _torch_transfer(ctx, device, d, p))
        _release(ctx, device)


def _transfer_extra(direction: str, memory: str, api: str) -> dict[str, Any]:
    return {"direction": direction, "host_memory": memory, "counting": TRANSFER_COUNTING, "api": api}


def _torch_transfer(ctx: Context, device: str, direction: str, params: dict[str, Any]) -> BenchResult:
    import torch

    pinned = params["memory"] == "pinned"
    n = params["size_bytes"] // ITEMSIZE[TRANSFER_DTYPE]
    host = ctx.backend.random((n,), TRANSFER_DTYPE, "cpu", ctx.opts.seed)
    if pinned:
        try:
            host = host.pin_memory()
        except RuntimeError as exc:  # e.g. no pinned memory for this device type
            return skipped(SUITE, direction, ctx.framework, device, TRANSFER_DTYPE,
                           f"pinned host memory unavailable: {exc}", params)
    dev = torch.empty_like(host, device=device)
    if direction == "host_to_device":
        src, dst = host, dev
    else:
        dev.copy_(host)
        src, dst = dev, torch.empty(host.shape, dtype=host.dtype, pin_memory=pinned)
    call = (lambda i: dst.copy_(src, non_blocking=True)) if pinned else (lambda i: dst.copy_(src))
    api = "dst.copy_(src, non_blocking=True)" if pinned else "dst.copy_(src)"
    call(0)
    ctx.backend.sync(device)
    same = bool(torch.equal(dst.cpu(), src.cpu()))
    check = {"rel_error": 0.0 if same else math.inf, "tolerance": 0.0, "passed": same,
             "reference": "bytes on both sides equal after one copy"}
    built = Built(call, api)
    return _time_checked(ctx, name=direction, device=device, dtype=TRANSFER_DTYPE, params=params, built=built,
                         check=check, work={"bytes": n * ITEMSIZE[TRANSFER_DTYPE]},
                         extra=_transfer_extra(direction, params["memory"], api))


def _jax_h2d(ctx: Context, device: str, params: dict[str, Any]) -> BenchResult:
    import jax

    n = params["size_bytes"] // ITEMSIZE[TRANSFER_DTYPE]
    target = next(iter(ctx.backend.random((1,), TRANSFER_DTYPE, device, 0).devices()))
    host = np.random.default_rng(ctx.opts.seed).standard_normal(n, dtype=np.float32)
    first = jax.device_put(host, target)
    same = bool(np.array_equal(np.asarray(first), host))
    del first
    check = {"rel_error": 0.0 if same else math.inf, "tolerance": 0.0, "passed": same,
             "reference": "bytes on both sides equal after one copy"}
    api = "jax.device_put(host_numpy, device)"
    built = Built(lambda i: jax.device_put(host, target), api)
    return _time_checked(ctx, name="host_to_device", device=device, dtype=TRANSFER_DTYPE, params=params,
                         built=built, check=check, work={"bytes": n * ITEMSIZE[TRANSFER_DTYPE]},
                         extra=_transfer_extra("host_to_device", "pageable", api))


def device_memory_bytes(framework: str, device: str, sample: Any = None) -> int | None:
    """Total memory of an accelerator as its framework reports it (None when it does not say)."""
    try:
        if framework == "torch":
            import torch

            kind = device.split(":")[0]
            if kind == "cuda":
                return int(torch.cuda.mem_get_info(torch.device(device))[1])
            if kind == "xpu":
                return int(torch.xpu.get_device_properties(torch.device(device)).total_memory)
            if kind == "mps":
                return int(torch.mps.recommended_max_memory())
        if framework == "jax" and sample is not None:
            stats = next(iter(sample.devices())).memory_stats() or {}
            return int(stats["bytes_limit"]) if "bytes_limit" in stats else None
    except Exception:  # noqa: BLE001 - unknown memory only means no cap
        return None
    return None


def _release(ctx: Context, device: str) -> None:
    ctx.backend.sync(device)
    gc.collect()
    if ctx.framework == "torch" and device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


# --------------------------------------------------------------------------------------------------
# The suite.


def _stream_dtypes(ctx: Context, device: str, kind: str) -> list[tuple[str, str | None]]:
    """(dtype, note) pairs to run; requested but unsupported dtypes are emitted as skipped here."""
    wanted = list(ctx.opts.dtypes) if ctx.opts.dtypes is not None else None
    defaults = ctx.plan.cpu_dtypes if kind == "cpu" else ctx.plan.device_dtypes
    run: list[tuple[str, str | None]] = []
    for dtype in wanted if wanted is not None else defaults:
        reason = (f"no elementwise memory kernels in {dtype}" if dtype not in MEMORY_DTYPES
                  else ctx.backend.unsupported_reason(device, dtype, "memory"))
        if reason is None:
            run.append((dtype, None))
        elif wanted is None and kind == "cpu" and dtype == "fp64" and \
                ctx.backend.unsupported_reason(device, "fp32", "memory") is None:
            run.append(("fp32", f"fp64 unsupported here ({reason}): fp32 arrays instead"))
        else:
            for kernel in KERNELS:
                ctx.emit(skipped(SUITE, kernel, ctx.framework, device, dtype, reason))
    return run


def _on_device(ctx: Context, device: str) -> AbstractContextManager[Any]:
    """Make `device` current (torch CUDA events and ops with no device go to the current device)."""
    if ctx.framework == "torch" and device.startswith("cuda"):
        import torch

        return torch.cuda.device(torch.device(device))
    return nullcontext()


def run_device(ctx: Context, device: str) -> None:
    """Everything the suite measures on one device."""
    with _on_device(ctx, device):
        _run_device(ctx, device)


def _run_device(ctx: Context, device: str) -> None:
    kind = ctx.backend.device_kind(device)
    run_dispatch(ctx, device)
    if kind == "cpu":
        sizes = cpu_sizes(ctx.opts.machine)
        for dtype, note in _stream_dtypes(ctx, device, kind):
            run_stream(ctx, device, dtype, sizes.array_bytes, sizes.basis, note)
            run_sweep(ctx, device, dtype, sizes.sweep_top_bytes, note)
        return
    for dtype, note in _stream_dtypes(ctx, device, kind):
        array_bytes, basis = ctx.plan.device_array_bytes, f"{ctx.opts.profile} profile: per-array size"
        sample = ctx.backend.random((1,), dtype, device, 0) if ctx.framework == "jax" else None
        total = device_memory_bytes(ctx.framework, device, sample)
        if total and array_bytes > total // 8:
            array_bytes = max(total // 8 // MIB * MIB, MIB)
            basis += f", capped at 1/8 of device memory ({total} B)"
        run_stream(ctx, device, dtype, array_bytes, basis, note)
    run_transfers(ctx, device)


def run_suite(backend: Backend, opts: SuiteOptions, emit: Emit) -> None:
    """The memory suite on every wanted device of `backend`, one result emitted at a time."""
    threads = usable_cpus(opts)
    ctx = Context(backend, opts, emit, plan_for(opts.profile), threads, data_caches(opts.machine))
    devices = [d for d in backend.devices() if opts.wants_device(d)]
    with _torch_threads(backend, threads):
        for device in devices:
            run_device(ctx, device)
    has_accelerator = any(backend.device_kind(d) != "cpu" for d in backend.devices())
    if not has_accelerator:
        cpu = next((d for d in devices if backend.device_kind(d) == "cpu"), None)
        if cpu is not None:
            _skip_transfers(ctx, cpu, NO_ACCELERATOR)


@contextmanager
def _torch_threads(backend: Backend, threads: int) -> Iterator[None]:
    """torch CPU ops on `threads` threads for the suite (restored after); other frameworks untouched."""
    if backend.name != "torch":
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
