"""Running and recording one memory measurement: the shared context, failure capture, checked timing.

Every memory benchmark (STREAM, sweep, transfers, dispatch) goes through the same steps: run it so
that an exception becomes a failed (or oom) result and the suite goes on, refuse to time a call whose
correctness check failed, and record the backend's environment, threading and timing with the figure.
"""

from __future__ import annotations

import gc
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backends.base import Backend, Built
from .memory_caches import CacheLevel
from .memory_plan import SUITE, Plan
from .options import Emit, SuiteOptions
from .result import BenchResult
from .timing import measure

log = logging.getLogger("infrabench.suites.memory")

FRESH_BUFFERS_NOTE = ("each timed round runs on freshly allocated copies of the arrays (copied before the round, "
                      "untimed): where a large array's pages land in host memory differs between allocations, so "
                      "the rounds' spread includes it instead of one process's placement biasing every round")


@dataclass
class Context:
    """What every measurement on one backend needs."""

    backend: Backend
    opts: SuiteOptions
    emit: Emit
    plan: Plan
    threads: int
    caches: list[CacheLevel]
    # per device: the median dispatch latency, or None once it was tried and gave no figure (failed, skipped)
    dispatch_latency_s: dict[str, float | None] = field(default_factory=dict)

    @property
    def framework(self) -> str:
        return self.backend.name


def is_oom(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return isinstance(exc, MemoryError) or "OutOfMemory" in text or "RESOURCE_EXHAUSTED" in text \
        or "out of memory" in text.lower()


def guarded(ctx: Context, name: str, device: str, dtype: str, params: dict[str, Any],
            body: Callable[[], BenchResult]) -> BenchResult:
    """Run one measurement; an exception becomes a failed (or oom) result for it, and the suite goes on."""
    try:
        result = body()
    except Exception as exc:  # noqa: BLE001 - one benchmark's failure must not end the suite
        log.debug("memory/%s on %s/%s failed", name, ctx.framework, device, exc_info=True)
        result = BenchResult(SUITE, name, ctx.framework, device, dtype, dict(params),
                             status="oom" if is_oom(exc) else "failed",
                             reason=f"{type(exc).__name__}: {exc}"[:500])
    finally:
        gc.collect()
    ctx.emit(result)
    return result


def rel_error(out: np.ndarray, ref: np.ndarray) -> float:
    """Relative Frobenius error; NaN/inf anywhere gives inf (never passes)."""
    if out.shape != ref.shape or not np.all(np.isfinite(out)):
        return math.inf
    norm = float(np.linalg.norm(ref))
    diff = float(np.linalg.norm(out - ref))
    return diff / norm if norm > 0 else diff


def time_checked(ctx: Context, *, name: str, device: str, dtype: str, params: dict[str, Any], built: Built,
                 check: dict[str, Any] | None, work: dict[str, Any], extra: dict[str, Any],
                 fresh_buffers: bool = False) -> BenchResult:
    """Time `built.call` unless its check failed; a failed check is a failed result without timing.

    fresh_buffers: before each timed round (untimed) move the arrays to newly allocated memory."""
    result = BenchResult(SUITE, name, ctx.framework, device, dtype, dict(params), work=work, check=check,
                         env=ctx.backend.memory_env(device), compile_s=built.compile_s,
                         extra={"implementation": built.implementation, **built.notes, **extra})
    note = ctx.backend.threading_note(device, ctx.threads)
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
    result.timing = timed.settings()
    result.extra["first_call_s"] = timed.first_call_s
    if timed.notes:
        result.extra["timing_notes"] = timed.notes
    return result


def release(ctx: Context, device: str) -> None:
    """Between benchmarks: wait for the device, free what is unreferenced, hand cached device memory back."""
    ctx.backend.sync(device)
    gc.collect()
    ctx.backend.release(device)
