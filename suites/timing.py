"""Timing that is correct for synchronous and asynchronous devices.

Every sample covers a block of calls and ends with the backend's synchronisation, so asynchronous
work (CUDA, MPS, XLA dispatch) is inside the timed region. On CUDA the device's own events time each
round and the host synchronises once after the loop (no bubbles between rounds). Warm-up is by time,
then the block size is calibrated so one sample lasts at least `min_sample_s` (>= 100x the timer
resolution), then `rounds` samples are kept, raw.

An optional `before_round(r)` runs before each timed round, outside the timed region (on CUDA before
the round's start event is recorded): a suite uses it to give each round fresh buffers, so that what
differs between processes (where the pages of large arrays land) also differs between rounds and the
spread of the rounds shows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

Call = Callable[[int], Any]  # call(i): one iteration, using input set i (so buffers can rotate)
BeforeRound = Callable[[int], None]  # before_round(r): untimed setup for round r (must leave the device idle on
# a WallClock: synchronise inside it)


@dataclass
class TimingConfig:
    warmup_s: float = 0.05  # run the kernel at least this long before timing
    min_sample_s: float = 1e-3  # each sample lasts at least this long
    rounds: int = 10
    max_iterations: int = 1_000_000
    budget_s: float = 5.0  # soft cap on one benchmark's timed rounds: fewer rounds (>= 3) if exceeded


@dataclass
class Timing:
    samples_s: list[float]  # seconds per iteration, one per round
    iterations: int  # calls per sample
    warmup_s: float  # how long warm-up ran
    warmup_calls: int
    first_call_s: float  # the first call alone (includes lazy init / autotune / compile)
    timer: str
    rounds_requested: int
    notes: list[str] = field(default_factory=list)
    config: TimingConfig = field(default_factory=lambda: TimingConfig())  # the settings these samples ran with

    def settings(self) -> dict[str, float]:
        """The harness settings used, as the run file records them (`extra_info.infrabench.timing`)."""
        return {"min_sample_s": self.config.min_sample_s, "budget_s": self.config.budget_s}


class Clock(Protocol):
    """How one backend times a block of calls. `rounds` returns seconds per block, one per round."""

    name: str

    def block(self, call: Call, start: int, n: int) -> float: ...

    def rounds(self, call: Call, n: int, rounds: int, before_round: BeforeRound | None = None) -> list[float]: ...


class WallClock:
    """perf_counter around each block, with the backend's sync at the end of the block.

    `sync(outputs)` receives the block's outputs (jax blocks on them; torch MPS/XPU synchronise the
    device); None means the backend is synchronous (numpy, torch CPU).
    """

    def __init__(self, sync: Callable[[list[Any]], None] | None = None, name: str | None = None):
        self.sync = sync
        self.name = name or ("perf_counter" if sync is None else "perf_counter+sync")

    def block(self, call: Call, start: int, n: int) -> float:
        outputs: list[Any] = []
        keep = outputs.append if self.sync is not None else _discard
        t0 = time.perf_counter()
        for i in range(start, start + n):
            keep(call(i))
        if self.sync is not None:
            self.sync(outputs)
        return time.perf_counter() - t0

    def rounds(self, call: Call, n: int, rounds: int, before_round: BeforeRound | None = None) -> list[float]:
        out = []
        for r in range(rounds):
            if before_round is not None:
                before_round(r)
            out.append(self.block(call, r * n, n))
        return out


class CudaEventClock:
    """CUDA (and ROCm) events around each block on the current stream; one synchronize after all rounds."""

    name = "cuda_event"

    def __init__(self, torch_module: Any):
        self.torch = torch_module

    def block(self, call: Call, start: int, n: int) -> float:
        return self.rounds(call, n, 1)[0]

    def rounds(self, call: Call, n: int, rounds: int, before_round: BeforeRound | None = None) -> list[float]:
        """Setup work queued by `before_round` lies before the start event on the same stream: not timed."""
        cuda = self.torch.cuda
        starts = [cuda.Event(enable_timing=True) for _ in range(rounds)]
        ends = [cuda.Event(enable_timing=True) for _ in range(rounds)]
        cuda.synchronize()
        for r in range(rounds):
            if before_round is not None:
                before_round(r)
            starts[r].record()
            for i in range(r * n, (r + 1) * n):
                call(i)
            ends[r].record()
        cuda.synchronize()
        return [s.elapsed_time(e) / 1e3 for s, e in zip(starts, ends, strict=True)]


def _discard(_: Any) -> None:
    return None


def measure(call: Call, clock: Clock, config: TimingConfig | None = None,
            before_round: BeforeRound | None = None) -> Timing:
    """Warm up by time, calibrate the block size, then time `config.rounds` blocks (`before_round(r)` untimed
    before each)."""
    cfg = config or TimingConfig()
    first = clock.block(call, 0, 1)

    # Warm-up: keep calling, in doubling blocks, until warmup_s has passed; the last block's speed
    # seeds the calibration.
    warm_calls, warm_time, n, per_call = 1, first, 1, first
    while warm_time < cfg.warmup_s and warm_calls < cfg.max_iterations:
        took = clock.block(call, warm_calls, n)
        warm_calls += n
        warm_time += took
        per_call = took / n
        n = min(n * 2, cfg.max_iterations)
    per_call = max(per_call, 1e-9)

    # Calibrate: the smallest power-of-two block that lasts >= min_sample_s.
    iterations = 1
    while iterations * per_call < cfg.min_sample_s and iterations < cfg.max_iterations:
        iterations *= 2
    probe = clock.block(call, 0, iterations)
    while probe < cfg.min_sample_s and iterations < cfg.max_iterations:
        iterations *= 2
        probe = clock.block(call, 0, iterations)

    notes = []
    rounds = cfg.rounds
    if probe * rounds > cfg.budget_s and rounds > 3:
        rounds = max(3, int(cfg.budget_s / max(probe, 1e-12)))
        notes.append(f"rounds reduced from {cfg.rounds} to {rounds} to stay within {cfg.budget_s:g} s")
    blocks = clock.rounds(call, iterations, rounds, before_round) if before_round is not None \
        else clock.rounds(call, iterations, rounds)
    return Timing(
        samples_s=[b / iterations for b in blocks],
        iterations=iterations,
        warmup_s=warm_time,
        warmup_calls=warm_calls,
        first_call_s=first,
        timer=clock.name,
        rounds_requested=cfg.rounds,
        notes=notes,
        config=cfg,
    )
