"""Emulated training: N accelerators in synchronous data-parallel steps, each taking B samples and computing t_c.

One global step asks the loader for N*B samples (the data wait), then "computes" for t_c (a sleep: the
accelerator works while the host's loader threads prefetch). AU = compute time / wall time, the first
step excluded. To keep runs short, a long step is time-compressed: t_c is scaled to at most `max_step_s`
and the global batch by the same factor, so the required samples/s (N*B/t_c) is unchanged; the scale is
recorded. n_max is found by emulation around the estimate from the loader's measured rate.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from .datasets import Dataset
from .loaders import ThreadPoolReader, percentiles
from .profiles import AccelProfile
from .storage import block_device_for, drop_cache


@dataclass
class EmuRun:
    n: int
    au: float
    steps: int
    step_s: float  # emulated (scaled) t_c
    time_scale: float  # emulated t_c / profile t_c
    samples_per_step: int
    required_samples_per_s: float  # what the emulation asked for: samples_per_step / step_s
    supplied_samples_per_s: float  # what it got: samples consumed / wall
    wall_s: float
    compute_s: float
    waits_s: list[float]
    device_bytes_read: int | None
    stored_bytes: int
    cache_inflated: bool
    passed: bool
    threshold: float

    def summary(self) -> dict[str, Any]:
        return {"n": self.n, "au": self.au, "passed": self.passed, "threshold_au": self.threshold,
                "steps": self.steps, "step_s": self.step_s, "time_scale": self.time_scale,
                "samples_per_step": self.samples_per_step, "required_samples_per_s": self.required_samples_per_s,
                "supplied_samples_per_s": self.supplied_samples_per_s, "wall_s": self.wall_s,
                "data_wait": percentiles(self.waits_s), "device_bytes_read": self.device_bytes_read,
                "stored_bytes": self.stored_bytes, "cache_inflated": self.cache_inflated}


def accelerator_utilisation(compute_s: float, wall_s: float) -> float:
    """AU = compute time / wall time."""
    return compute_s / wall_s if wall_s > 0 else 0.0


def emulate(ds: Dataset, profile: AccelProfile, n: int, threads: int, steps: int = 6, max_step_s: float = 0.05,
            delay_s: float = 0.0, seed: int = 0, cold: bool = True) -> EmuRun:
    """One emulated training run of `n` accelerators for `steps` timed steps (plus one untimed first step)."""
    scale = min(1.0, max_step_s / profile.step_s)
    step_s = profile.step_s * scale
    per_step = max(1, round(n * profile.batch_per_accel * scale))
    device = block_device_for(ds.files[0])
    if cold:
        for path in ds.files:
            drop_cache(path)
    reader = ThreadPoolReader(ds, per_step, threads, prefetch_batches=2, seed=seed, delay_s=delay_s)
    before = device.sectors_read()
    try:
        batch = next(reader)  # first step: start-up, excluded
        time.sleep(step_s)
        got = 0
        waits: list[float] = []
        start = time.perf_counter()
        for _ in range(steps):
            t = time.perf_counter()
            batch = next(reader)
            waits.append(time.perf_counter() - t)
            got += batch.shape[0]
            time.sleep(step_s)  # the accelerators compute; the loader keeps reading meanwhile
        wall = time.perf_counter() - start
        stored = reader.stored_bytes
    finally:
        reader.close()
    after = device.sectors_read()
    dev = None if before is None or after is None else (after - before) * 512
    compute = steps * step_s
    au = accelerator_utilisation(compute, wall)
    actual_per_step = got / steps
    inflated = dev is None or dev < 0.5 * stored
    return EmuRun(n, au, steps, step_s, scale, int(actual_per_step), actual_per_step / step_s, got / wall, wall,
                  compute, waits, dev, stored, inflated, au >= profile.threshold, profile.threshold)


@dataclass
class Search:
    n_max: int
    capped: bool  # n_max reached the cap with AU still above the threshold: a lower bound
    estimate: int
    trials: list[EmuRun] = field(default_factory=list)


def estimate_n(supply_samples_per_s: float, profile: AccelProfile) -> int:
    """The N where AU ~ supply*t_c/(N*B) still meets the threshold: floor(supply*t_c/(B*threshold))."""
    if supply_samples_per_s <= 0:
        return 0
    return int(math.floor(supply_samples_per_s * profile.step_s / (profile.batch_per_accel * profile.threshold)))


def find_n_max(ds: Dataset, profile: AccelProfile, supply_samples_per_s: float, threads: int, cap: int = 1024,
               max_trials: int = 6, **kw: Any) -> Search:
    """Largest N whose emulated AU meets the profile's threshold, searched from the estimate outward."""
    est = min(cap, estimate_n(supply_samples_per_s, profile))
    trials: dict[int, EmuRun] = {}

    def passes(n: int) -> bool:
        if n not in trials:
            trials[n] = emulate(ds, profile, n, threads, **kw)
        return trials[n].passed

    lo, hi = 0, None  # lo passes (0 trivially), hi fails
    first = min(cap, max(1, est))
    n = first
    while len(trials) < max_trials:  # expand: the estimate, one above it, then doubling
        if not passes(n):
            hi = n
            break
        lo = n
        if n >= cap:
            break
        n = min(cap, n + 1 if n == first else n * 2)
    while hi is not None and hi - lo > 1 and len(trials) < max_trials:  # bisect between a pass and a fail
        mid = (lo + hi) // 2
        if passes(mid):
            lo = mid
        else:
            hi = mid
    return Search(lo, lo >= cap, est, [trials[k] for k in sorted(trials)])
