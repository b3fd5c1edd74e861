"""Run a training loop under the backend's clock and turn it into one BenchResult with its checks and figures.

Each step is one timed sample (after the first step, timed apart, and a few untimed warm-up steps).
The clock is the backend's own: CUDA events per step with one synchronize after the loop on NVIDIA/
AMD GPUs, block_until_ready on jax outputs, plain wall time on synchronous CPUs. Losses stay on the
device during the loop and are read after it. A result whose loss is not finite or did not fall
(mean over the first rotation of batches vs the last) is `failed`: it did not train, so its speed
means nothing.
"""

from __future__ import annotations

import math
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from infrabench.probes.machine_view import MachineView

from ..result import BenchResult
from ..timing import Clock
from .data import BATCHES
from .flops import FORMULAS
from .presets import GPTConfig, Preset, Steps

SUITE = "train"


@dataclass
class Trained:
    first_step_s: float
    samples_s: list[float]  # one per timed step
    losses: list[float]  # every step, in order (step 0 first)
    timer: str


def run_loop(step: Callable[[int], Any], loss_of: Callable[[Any], Any], to_float: Callable[[Any], float],
             clock: Clock, steps: Steps) -> Trained:
    """First step (timed alone), warm-up steps, then `steps.timed` steps timed one by one."""
    kept: list[Any] = []
    counter = [0]

    def call(_i: int) -> Any:
        out = step(counter[0])
        counter[0] += 1
        kept.append(loss_of(out))
        return out

    first = clock.block(call, 0, 1)
    if steps.warmup:
        clock.rounds(call, steps.warmup, 1)
    samples = clock.rounds(call, 1, steps.timed)
    return Trained(first, samples, [to_float(v) for v in kept], clock.name)


def loss_ends(losses: list[float], window: int = BATCHES) -> tuple[float, float]:
    """(loss_first, loss_last): the mean loss over the first and the last `window` steps.

    The batches rotate, so one batch's loss is not comparable with another's; a window of one full
    rotation sees every batch once at each end (with fewer than 2 windows of steps: step 0 vs the last).
    """
    if len(losses) < 2 * window:
        window = 1
    return sum(losses[:window]) / window, sum(losses[-window:]) / window


def loss_failure(losses: list[float], window: int = BATCHES) -> str | None:
    """Why the run did not train, or None: every loss finite and loss_last below loss_first."""
    if not losses:
        return "no loss recorded"
    bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
    if bad:
        return f"loss not finite at step {bad[0]} ({losses[bad[0]]})"
    first, last = loss_ends(losses, window)
    if not last < first:
        return (f"loss did not fall: {first:.6g} over the first steps, {last:.6g} over the last "
                f"({len(losses)} steps; the model did not train, so its speed is not a training speed)")
    return None


def cpu_peak_rss_bytes() -> int:
    """This process's resident-set high-water mark (ru_maxrss: KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


CPU_MEMORY_BASIS = ("process RSS high-water mark (getrusage ru_maxrss) of the benchmark worker: "
                    "includes the framework and every earlier benchmark in the same process")


@dataclass
class Outcome:
    """What one backend/model/precision run produced, before it becomes a BenchResult."""

    backend: str
    device: str
    dtype: str
    mode: str  # eager | compile | jit | numpy
    preset: Preset
    flops_per_step: int
    params: int
    trained: Trained | None = None
    compile_s: float | None = None
    peak_memory_bytes: int | None = None
    memory_basis: str | None = None
    env: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _params(o: Outcome) -> dict[str, Any]:
    return {"mode": o.mode, **o.preset.params()}


def to_result(o: Outcome, machine: dict[str, Any]) -> BenchResult:
    """The BenchResult: raw step times, samples as work, losses, FLOPs, MFU vs the theoretical peak."""
    c = o.preset.config
    tokens = c.tokens if isinstance(c, GPTConfig) else None
    work: dict[str, float] = {"samples": float(c.batch)}
    if tokens is not None:
        work["tokens"] = float(tokens)
    t = o.trained
    assert t is not None
    p50, p90, p99 = (float(v) for v in np.percentile(t.samples_s, [50, 90, 99]))
    achieved = o.flops_per_step / p50 / 1e12
    found, why = MachineView(machine).flops_peak(o.device, o.dtype)
    peak = ({"tflops": found.value, "source": found.source, "confidence": found.confidence, "dtype": found.dtype}
            if found is not None else None)
    mfu = 100.0 * achieved / found.value if found is not None else None
    loss_first, loss_last = loss_ends(t.losses)
    extra: dict[str, Any] = {
        "model": o.preset.model, "mode": o.mode, "batch_size": c.batch, "param_count": o.params,
        "lr": o.preset.lr, "steps_warmup": o.preset.steps.warmup, "steps_timed": len(t.samples_s),
        "loss_first": loss_first, "loss_last": loss_last, "loss_window_steps": min(BATCHES, len(t.losses) // 2),
        "loss_step0": t.losses[0], "loss_final": t.losses[-1], "losses": t.losses,
        "first_step_s": t.first_step_s, "compile_s": o.compile_s,
        "step_time_p50_s": p50, "step_time_p90_s": p90, "step_time_p99_s": p99,
        "step_time_per_sample_s": p50 / c.batch, "samples_per_s": c.batch / p50,
        "tokens_per_step": tokens, "tokens_per_s": tokens / p50 if tokens else None,
        "flops_per_step": o.flops_per_step, "flops_formula": FORMULAS[o.preset.model],
        "achieved_tflops": achieved, "mfu_pct_of_peak": mfu, "mfu_peak": peak,
        "mfu_reason": why, "peak_memory_bytes": o.peak_memory_bytes, "peak_memory_basis": o.memory_basis,
        **o.extra,
    }
    if mfu is not None and mfu > 100.0:
        extra["suspicious"] = True
        extra["suspicious_reason"] = (f"MFU {mfu:.0f}% of the {o.dtype} peak is impossible: a FLOP count, "
                                      "timing or peak lookup bug")
    failure = loss_failure(t.losses)
    return BenchResult(
        SUITE, o.preset.model, o.backend, o.device, o.dtype, _params(o),
        status="failed" if failure else "ok", reason=failure, samples_s=list(t.samples_s), iterations=1,
        warmup_s=None, compile_s=o.compile_s, timer=t.timer, work=work, env=o.env, extra=extra)


def not_run(backend: str, device: str, dtype: str, mode: str, preset: Preset, status: str, reason: str,
            env: dict[str, Any] | None = None) -> BenchResult:
    return BenchResult(SUITE, preset.model, backend, device, dtype, {"mode": mode, **preset.params()},
                       status=status, reason=reason, env=env or {},  # type: ignore[arg-type]
                       extra={"model": preset.model, "mode": mode})
