"""Benchmarks of one run, from an infrabench run file or a pytest-benchmark saved run, keyed by fullname.

Both formats keep raw seconds-per-iteration samples in `stats.data` (pytest-benchmark only when saved
with `--benchmark-save-data`, or in its `--benchmark-json` output). A benchmark without raw samples, or
whose status is not ok, is kept as not comparable with its reason: it is listed, never dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


class GateInputError(ValueError):
    """A file that cannot be compared: not a run, no benchmarks, malformed entries. One line of text."""


@dataclass
class Bench:
    """One benchmark's samples (seconds per iteration: higher is worse) or why it has none usable."""

    fullname: str
    samples: list[float]
    status: str = "ok"  # ok | failed | skipped | timeout | oom | no_data
    reason: str | None = None
    device: str = "cpu"
    group: str | None = None

    @property
    def comparable(self) -> bool:
        return self.status == "ok" and len(self.samples) >= 2

    @property
    def accelerator(self) -> bool:
        return not (self.device == "cpu" or self.device.startswith("cpu:"))


@dataclass
class BenchSet:
    """A run reduced to what a comparison needs. `paired` when samples are round-aligned (interleaved A/B)."""

    source: str
    fmt: str  # "infrabench" | "pytest-benchmark" | "ab"
    benches: dict[str, Bench]
    machine_info: dict[str, Any] = field(default_factory=dict)
    paired: bool = False
    label: str | None = None


def _samples(stats: Any) -> list[float] | None:
    data = stats.get("data") if isinstance(stats, dict) else None
    if not isinstance(data, list) or not data:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in data):
        return None
    return [float(v) for v in data]


def _entry(raw: Any, where: str, fmt: str) -> Bench:
    if not isinstance(raw, dict):
        raise GateInputError(f"{where}: a benchmark entry is not an object")
    name = raw.get("fullname")
    if not isinstance(name, str) or not name:
        raise GateInputError(f"{where}: a benchmark entry has no fullname")
    info = ((raw.get("extra_info") or {}).get("infrabench") or {}) if isinstance(raw.get("extra_info"), dict) else {}
    status = str(info.get("status") or "ok")
    device = str(info.get("device") or "cpu")
    group = raw.get("group") if isinstance(raw.get("group"), str) else None
    samples = _samples(raw.get("stats"))
    if status != "ok":
        return Bench(name, [], status, info.get("reason") or status, device, group)
    if samples is None:
        hint = " (save with --benchmark-save-data)" if fmt == "pytest-benchmark" else ""
        why = "no raw samples in stats.data" + hint
        return Bench(name, [], "no_data", why, device, group)
    if len(samples) < 2:
        return Bench(name, samples, "no_data", "fewer than 2 samples", device, group)
    return Bench(name, samples, "ok", None, device, group)


def bench_set(data: Any, source: str) -> BenchSet:
    """The benchmarks of a parsed run file (infrabench) or saved run (pytest-benchmark)."""
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise GateInputError(f"{source}: not a run file (no benchmarks list)")
    fmt = "infrabench" if isinstance(data.get("infrabench"), dict) else "pytest-benchmark"
    entries = list(data["benchmarks"])
    if fmt == "infrabench":
        entries += list(data["infrabench"].get("results_without_timing") or [])
    benches: dict[str, Bench] = {}
    for raw in entries:
        bench = _entry(raw, source, fmt)
        if bench.fullname in benches:
            raise GateInputError(f"{source}: benchmark {bench.fullname!r} appears twice")
        benches[bench.fullname] = bench
    if not benches:
        raise GateInputError(f"{source}: the run has no benchmarks")
    machine = data.get("machine_info") if isinstance(data.get("machine_info"), dict) else {}
    label = None
    if fmt == "infrabench":
        label = data["infrabench"].get("run_id")
    return BenchSet(source, fmt, benches, machine, label=label or data.get("datetime"))
