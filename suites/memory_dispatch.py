"""Dispatch latency: the time of the smallest useful op (an add of 16 elements), i.e. per-call overhead.

It is a figure of its own (framework overhead plus kernel launch) and the yardstick the cache sweep uses
to tell a working set whose calls are dominated by that overhead from one that measures a cache level.
The call is the backend's (`Backend.dispatch_call`).
"""

from __future__ import annotations

import numpy as np

from .memory_context import Context, guarded, rel_error, time_checked
from .memory_plan import TOLERANCE
from .result import BenchResult

DISPATCH_ELEMENTS = 16


def run_dispatch(ctx: Context, device: str) -> None:
    """Latency of a tiny add (16 elements): framework overhead plus kernel launch. Records the median seconds
    per call in `ctx.dispatch_latency_s[device]` (None when no figure came out)."""
    dtype = "fp32"
    params = {"elements": DISPATCH_ELEMENTS}
    ctx.dispatch_latency_s[device] = None

    def body() -> BenchResult:
        a, b, c = (ctx.backend.random((DISPATCH_ELEMENTS,), dtype, device, ctx.opts.seed + i) for i in range(3))
        built = ctx.backend.dispatch_call(a, b, c)
        out = built.call(0)
        ctx.backend.sync(device)
        got = np.asarray(ctx.backend.to_numpy64(out), dtype=np.float64)
        ref = np.asarray(ctx.backend.to_numpy64(a), np.float64) + np.asarray(ctx.backend.to_numpy64(b), np.float64)
        err = rel_error(got, ref)
        check = {"rel_error": err, "tolerance": TOLERANCE[dtype], "passed": bool(err <= TOLERANCE[dtype]),
                 "reference": "float64 numpy a + b"}
        res = time_checked(ctx, name="dispatch_latency", device=device, dtype=dtype, params=params, built=built,
                           check=check, work={"calls": 1},
                           extra={"what": "one tiny add per call: the throughput is calls/s; the median "
                                          "seconds per call is the dispatch latency"})
        if res.samples_s:
            median = float(np.median(res.samples_s))
            res.extra["latency_us"] = median * 1e6
            ctx.dispatch_latency_s[device] = median
        return res

    guarded(ctx, "dispatch_latency", device, dtype, params, body)
