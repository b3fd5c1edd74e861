"""Host<->device copies: bandwidth across the host-device link, both directions, pageable and pinned.

Only meaningful with an accelerator; which (direction, host memory) pairs a framework can measure
honestly, and how it copies, is the backend's (`Backend.transfer_unsupported`, `Backend.host_transfer`);
what it cannot measure is recorded as skipped with the reason.
"""

from __future__ import annotations

import math
from typing import Any

from .backends.base import NotMeasured
from .memory_context import Context, guarded, release, time_checked
from .memory_plan import ITEMSIZE, SUITE
from .result import BenchResult, skipped

TRANSFER_COUNTING = "bytes transferred across the host-device link, counted once"
NO_ACCELERATOR = "no accelerator: host<->device copies need a device other than the CPU"
TRANSFER_DTYPE = "fp32"
DIRECTIONS = ("host_to_device", "device_to_host")
HOST_MEMORY = ("pageable", "pinned")


def skip_transfers(ctx: Context, device: str, reason: str, only: tuple[str, str] | None = None) -> None:
    """Record every (direction, host memory) pair, or only `only`, as skipped for `reason`."""
    for direction in DIRECTIONS:
        for memory in HOST_MEMORY:
            if only is None or (direction, memory) == only:
                ctx.emit(skipped(SUITE, direction, ctx.framework, device, TRANSFER_DTYPE, reason,
                                 {"memory": memory}))


def run_transfers(ctx: Context, device: str) -> None:
    """Host<->device copies, pageable and pinned, both directions, for the plan's sizes; the pairs the backend
    does not measure are recorded as skipped first."""
    measured: list[tuple[str, str]] = []
    for direction in DIRECTIONS:
        for memory in HOST_MEMORY:
            reason = ctx.backend.transfer_unsupported(direction, memory)
            if reason is None:
                measured.append((direction, memory))
            else:
                skip_transfers(ctx, device, reason, (direction, memory))
    if not measured:
        return
    for size in ctx.plan.transfer_sizes:
        for memory in HOST_MEMORY:
            for direction in DIRECTIONS:
                if (direction, memory) not in measured:
                    continue
                params = {"memory": memory, "size_bytes": size}
                guarded(ctx, direction, device, TRANSFER_DTYPE, params,
                        lambda d=direction, p=params: transfer_result(ctx, device, d, p))
        release(ctx, device)


def transfer_result(ctx: Context, device: str, direction: str, params: dict[str, Any]) -> BenchResult:
    """One copy size: built by the backend, checked once (equal bytes on both sides), then timed."""
    memory = params["memory"]
    n = params["size_bytes"] // ITEMSIZE[TRANSFER_DTYPE]
    try:
        transfer = ctx.backend.host_transfer(direction, memory, n, TRANSFER_DTYPE, device, ctx.opts.seed)
    except NotMeasured as exc:
        return skipped(SUITE, direction, ctx.framework, device, TRANSFER_DTYPE, str(exc), params)
    check = {"rel_error": 0.0 if transfer.same else math.inf, "tolerance": 0.0, "passed": transfer.same,
             "reference": "bytes on both sides equal after one copy"}
    api = transfer.built.implementation
    return time_checked(ctx, name=direction, device=device, dtype=TRANSFER_DTYPE, params=params,
                        built=transfer.built, check=check, work={"bytes": n * ITEMSIZE[TRANSFER_DTYPE]},
                        extra={"direction": direction, "host_memory": memory, "counting": TRANSFER_COUNTING,
                               "api": api})
