"""How much the memory suite measures and for how long: per-profile plans, array sizes, dtypes, threads.

Pure functions of the profile name and the machine profile (no framework), so sizes can be tested and
reused (bench/memory_ceiling.py sizes its bare-torch triad the same way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from infrabench.probes.machine_view import MachineView

from .memory_caches import last_level_cache_bytes
from .options import SuiteOptions
from .timing import TimingConfig

SUITE = "memory"
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
UNKNOWN_LLC_ARRAY_BYTES = 256 * MIB  # per array when the machine profile has no cache sizes
MEMORY_DTYPES = ("fp64", "fp32", "bf16", "fp16")  # dtypes with elementwise kernels in every framework
TOLERANCE = {"fp64": 1e-12, "fp32": 1e-6, "bf16": 1e-2, "fp16": 1e-3}
ITEMSIZE = {"fp64": 8, "fp32": 4, "bf16": 2, "fp16": 2}


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


def usable_cpus(opts: SuiteOptions) -> int:
    """Threads to pin: opts.threads, else usable CPUs from the profile, else this process's affinity."""
    return MachineView(opts.machine).usable_cpus(opts.threads)
