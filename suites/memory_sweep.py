"""The cache sweep: triad bandwidth vs working set, each point labelled with where its data lives.

A point is labelled with the cache level that holds its working set (L1/L2/L3, DRAM beyond the last
level), except where the call is too short to measure that level: when the suite's own dispatch latency
(the per-call overhead of the same backend and device) is more than OVERHEAD_THRESHOLD of the point's
median call time, the figure is mostly call overhead, and the point is labelled "overhead-bound" instead,
with the figures that decided it. Buffers are not rotated here on purpose: the point is to see each
cache level's bandwidth.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .memory_caches import last_level_cache_bytes, level_label
from .memory_context import Context, guarded, release
from .memory_dispatch import run_dispatch
from .memory_plan import ITEMSIZE, KIB
from .memory_stream import KERNELS, kernel_result, stream_arrays
from .result import BenchResult

SWEEP_START_BYTES = 16 * KIB
OVERHEAD_BOUND = "overhead-bound"
OVERHEAD_THRESHOLD = 0.2  # dispatch latency above this fraction of a call: the call measures overhead
OVERHEAD_LARGE = 10.0  # a call under this many dispatch latencies still has overhead as a visible part
OVERHEAD_UNCHECKED = ("dispatch latency not measured on this device (the dispatch_latency benchmark failed or was "
                      "skipped): whether call overhead dominates this point could not be checked")
OVERHEAD_LARGE_NOTE = ("one call takes under 10x this device's dispatch latency: framework overhead is a large part "
                       "of the time, so the figure understates this level's bandwidth")


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


def overhead_bound(call_s: float, dispatch_s: float | None, threshold: float = OVERHEAD_THRESHOLD) -> bool:
    """True when the per-call overhead `dispatch_s` is more than `threshold` of the median call `call_s`."""
    if dispatch_s is None or not math.isfinite(dispatch_s):
        return False
    return dispatch_s > threshold * call_s


def overhead_label(cache_level: str, call_s: float, dispatch_s: float | None,
                   threshold: float = OVERHEAD_THRESHOLD, calls: int = 1) -> dict[str, Any]:
    """The extra keys that label one sweep point: `level` (the cache level, or OVERHEAD_BOUND), the figures
    used, and a note saying what the figure is when overhead is large or could not be checked. `calls` is
    the number of framework calls one iteration makes: each pays `dispatch_s`."""
    if dispatch_s is None:
        return {"level": cache_level, "overhead_note": OVERHEAD_UNCHECKED}
    overhead_s = dispatch_s * calls
    fraction = overhead_s / call_s if call_s > 0 else math.inf
    out: dict[str, Any] = {"level": cache_level, "dispatch_latency_s": dispatch_s, "framework_calls": calls,
                           "overhead_fraction": fraction}
    if overhead_bound(call_s, overhead_s, threshold):
        what = f"{cache_level} cache" if cache_level.startswith("L") else "memory"
        per = f"{calls} calls x {dispatch_s * 1e6:.3g} µs" if calls > 1 else f"{dispatch_s * 1e6:.3g} µs"
        out.update(level=OVERHEAD_BOUND, cache_level=cache_level,
                   overhead_note=f"dispatch latency {per} is {fraction:.0%} of the "
                                 f"{call_s * 1e6:.3g} µs call: the figure is call overhead, not {what} bandwidth")
    elif call_s < OVERHEAD_LARGE * overhead_s:
        out["overhead_note"] = OVERHEAD_LARGE_NOTE
    return out


def run_sweep(ctx: Context, device: str, dtype: str, top_bytes: int, dtype_note: str | None = None) -> None:
    """Triad bandwidth vs working set (all three arrays), labelled with the cache level that holds it, or
    OVERHEAD_BOUND; the device's dispatch latency is measured first unless the suite already did."""
    kernel = KERNELS["triad"]
    itemsize = ITEMSIZE[dtype]
    if device not in ctx.dispatch_latency_s:
        run_dispatch(ctx, device)
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
            arrays = stream_arrays(ctx, device, dtype, n, ctx.opts.seed + ws)
            res = kernel_result(ctx, kernel, arrays, name="triad_working_set", device=device, dtype=dtype,
                                n=n, params=params, extra=extra)
            if res.status == "ok" and res.unusable_reason() is None:
                # numpy's triad is two ufunc calls: each pays the dispatch latency
                calls = int(res.extra.get("framework_calls") or 1)
                res.extra.update(overhead_label(extra["level"], float(np.median(res.samples_s)), latency,
                                                calls=calls))
            return res

        guarded(ctx, "triad_working_set", device, dtype, params, body)
    release(ctx, device)
