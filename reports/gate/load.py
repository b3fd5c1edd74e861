"""Benchmarks of one run, from an infrabench run file or a pytest-benchmark saved run, keyed by fullname.

Both formats keep raw seconds-per-iteration samples in `stats.data` (pytest-benchmark only when saved
with `--benchmark-save-data`, or in its `--benchmark-json` output). A benchmark without raw samples, or
whose status is not ok, is kept as not comparable with its reason: it is listed, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infrabench.errors import UsageError
from infrabench.results import Benchmark, Run


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
    machine_info: dict[str, Any] = field(default_factory=dict)  # pytest-benchmark's machine keys
    paired: bool = False
    label: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)  # the MachineProfile, where the run has one
    threads: int | None = None  # CPU threads the run's benchmarks used (see `run_threads`); None: not recorded


def _bench(b: Benchmark, fmt: str) -> Bench:
    device = b.device if b.device != "?" else "cpu"
    group = b.suite if b.suite != "?" else None
    if b.status != "ok":
        return Bench(b.fullname, [], b.status, b.reason or b.status, device, group)
    samples = b.stats.valid_samples if b.stats is not None else None
    if samples is None:
        hint = " (save with --benchmark-save-data)" if fmt == "pytest-benchmark" else ""
        return Bench(b.fullname, [], "no_data", "no raw samples in stats.data" + hint, device, group)
    if len(samples) < 2:
        return Bench(b.fullname, samples, "no_data", "fewer than 2 samples", device, group)
    return Bench(b.fullname, samples, "ok", None, device, group)


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def run_threads(run: Run) -> int | None:
    """CPU threads the run's benchmarks ran on: its `--threads` option (the run config), else the usable CPUs
    its machine profile recorded, which is what `infrabench run` uses without the option. None where neither is
    recorded (pytest-benchmark files). The effective count, not the option: `--threads 2` on a 2-CPU machine
    measures what the default does, while `--threads 1` against the default can halve a matmul's throughput."""
    return _positive_int(run.config.get("threads")) or _positive_int(run.machine.cpu.get("usable_cpus"))


def bench_set(run: Run | Any, source: str) -> BenchSet:
    """The benchmarks of a run (infrabench) or saved run (pytest-benchmark), as the results model reads them."""
    if not isinstance(run, Run):
        try:
            run = Run.from_dict(run, source)
        except UsageError as exc:
            raise GateInputError(str(exc)) from None
    benches: dict[str, Bench] = {}
    for b in run.benchmarks:
        if not b.fullname_recorded:
            raise GateInputError(f"{source}: a benchmark entry has no fullname")
        if b.fullname in benches:
            raise GateInputError(f"{source}: benchmark {b.fullname!r} appears twice")
        benches[b.fullname] = _bench(b, run.file_format)
    if not benches:
        raise GateInputError(f"{source}: the run has no benchmarks")
    return BenchSet(source, run.file_format, benches, run.machine_info, label=run.run_id or run.datetime,
                    profile=run.profile, threads=run_threads(run) if run.file_format == "infrabench" else None)
