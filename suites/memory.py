"""Memory suite: STREAM bandwidth, bandwidth vs working-set size, host<->device copies, dispatch latency.

This module is the suite's entry point (`run_suite`, named in suites/registry.py): it decides what runs on
which device and in which dtypes. The measurements live in one module each, and the framework-specific
calls they time in the backends (`Backend.stream_kernel`, `dispatch_call`, `host_transfer`):

- memory_caches: which cache level holds a working set (from the machine profile)
- memory_plan: per-profile plans, array sizes, dtypes, threads
- memory_context: the shared context, failure capture and checked timing
- memory_stream: STREAM copy/scale/add/triad at DRAM size
- memory_sweep: the triad cache sweep, with overhead-bound points labelled as such
- memory_dispatch: dispatch latency (per-call overhead)
- memory_transfers: host<->device copies

The names other code imports from here (kernels, sizes, plans, constants) are re-exported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .backends import BACKENDS, get_backend
from .backends.base import Backend, Built
from .memory_caches import CacheLevel, data_caches, last_level_cache_bytes, level_label
from .memory_context import FRESH_BUFFERS_NOTE, Context, rel_error
from .memory_dispatch import DISPATCH_ELEMENTS, run_dispatch
from .memory_plan import (
    GIB,
    ITEMSIZE,
    KIB,
    MEMORY_DTYPES,
    MIB,
    PLANS,
    SUITE,
    TOLERANCE,
    UNKNOWN_LLC_ARRAY_BYTES,
    CpuSizes,
    Plan,
    cpu_sizes,
    plan_for,
    usable_cpus,
)
from .memory_stream import COUNTING, KERNELS, STREAM_SCALAR, StreamKernel, run_stream
from .memory_sweep import OVERHEAD_BOUND, OVERHEAD_THRESHOLD, overhead_bound, overhead_label, run_sweep, sweep_sizes
from .memory_transfers import (
    DIRECTIONS,
    HOST_MEMORY,
    NO_ACCELERATOR,
    TRANSFER_COUNTING,
    TRANSFER_DTYPE,
    run_transfers,
    skip_transfers,
)
from .options import Emit, SuiteOptions
from .result import skipped

__all__ = [
    "BACKENDS", "COUNTING", "DIRECTIONS", "DISPATCH_ELEMENTS", "FRESH_BUFFERS_NOTE", "GIB", "HOST_MEMORY",
    "ITEMSIZE", "KERNELS", "KERNEL_BUILDERS", "KIB", "MEMORY_DTYPES", "MIB", "NO_ACCELERATOR", "OVERHEAD_BOUND",
    "OVERHEAD_THRESHOLD", "PLANS", "STREAM_SCALAR", "SUITE", "TOLERANCE", "TRANSFER_COUNTING", "TRANSFER_DTYPE",
    "UNKNOWN_LLC_ARRAY_BYTES", "Built", "CacheLevel", "Context", "CpuSizes", "Plan", "StreamKernel", "cpu_sizes",
    "data_caches", "last_level_cache_bytes", "level_label", "overhead_bound", "overhead_label", "plan_for",
    "rel_error", "run_device", "run_dispatch", "run_stream", "run_suite", "run_sweep", "run_transfers",
    "sweep_sizes", "usable_cpus",
]


def _builder(framework: str) -> Callable[[StreamKernel, dict[str, Any], float], Built]:
    def build(kernel: StreamKernel, arrays: dict[str, Any], scalar: float) -> Built:
        return get_backend(framework).stream_kernel(kernel, arrays, scalar)

    return build


# framework name -> kernel builder, for callers outside the suite (infrabench.pytest_cases); the suite itself
# asks its backend (`Backend.stream_kernel`).
KERNEL_BUILDERS: dict[str, Callable[[StreamKernel, dict[str, Any], float], Built]] = {
    name: _builder(name) for name in BACKENDS}


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


def run_device(ctx: Context, device: str) -> None:
    """Everything the suite measures on one device (made current for the backend while it runs)."""
    with ctx.backend.on_device(device):
        _run_device(ctx, device)


def _run_device(ctx: Context, device: str) -> None:
    kind = ctx.backend.device_kind(device)
    run_dispatch(ctx, device)  # first: the sweep labels overhead-bound points by it
    if kind == "cpu":
        sizes = cpu_sizes(ctx.opts.machine)
        for dtype, note in _stream_dtypes(ctx, device, kind):
            run_stream(ctx, device, dtype, sizes.array_bytes, sizes.basis, note)
            run_sweep(ctx, device, dtype, sizes.sweep_top_bytes, note)
        return
    for dtype, note in _stream_dtypes(ctx, device, kind):
        array_bytes, basis = ctx.plan.device_array_bytes, f"{ctx.opts.profile} profile: per-array size"
        total = ctx.backend.total_memory_bytes(device)
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
    with backend.elementwise_threads(threads):
        for device in devices:
            run_device(ctx, device)
    has_accelerator = any(backend.device_kind(d) != "cpu" for d in backend.devices())
    if not has_accelerator:
        cpu = next((d for d in devices if backend.device_kind(d) == "cpu"), None)
        if cpu is not None:
            skip_transfers(ctx, cpu, NO_ACCELERATOR)
