"""One benchmark's outcome, as a suite produces it: raw samples and the work they did, nothing derived.

Throughput, % of peak and the pytest-benchmark-compatible stats are derived from this record when
the run file is written, so a figure can always be traced back to its samples and its work.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

ResultStatus = Literal["ok", "skipped", "failed", "timeout", "oom"]
RESULT_STATUSES: tuple[str, ...] = ("ok", "skipped", "failed", "timeout", "oom")

# What each kind of work is divided by (median seconds per iteration) to give a throughput, and its unit.
WORK_UNITS: dict[str, tuple[float, str]] = {
    "flops": (1e12, "TFLOP/s"),
    "bytes": (1e9, "GB/s"),  # SI: 1 GB = 1e9 bytes
    "samples": (1.0, "samples/s"),
    "tokens": (1.0, "tokens/s"),
    "calls": (1.0, "calls/s"),
}


@dataclass
class BenchResult:
    """A single benchmark on one backend, device and dtype.

    `samples_s` holds seconds per iteration, one entry per round (each round timed `iterations`
    calls as a block). `work` is what one iteration did, e.g. {"flops": 2*m*n*k} or
    {"bytes": bytes read + written}; its first key names the throughput.
    """

    suite: str
    name: str
    backend: str
    device: str
    dtype: str
    params: dict[str, Any] = field(default_factory=dict)
    status: ResultStatus = "ok"
    reason: str | None = None
    samples_s: list[float] = field(default_factory=list)
    iterations: int | None = None
    warmup_s: float | None = None
    compile_s: float | None = None  # jit/compile time, kept apart from the samples
    timer: str | None = None  # "perf_counter+sync" | "cuda_event" | ...
    work: dict[str, float] = field(default_factory=dict)
    check: dict[str, Any] | None = None  # {"rel_error": .., "tolerance": .., "reference": ..., "passed": ..}
    env: dict[str, Any] = field(default_factory=dict)  # threads, BLAS, tf32 allowed, jax x64, ...
    extra: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)  # harness settings used: min_sample_s, budget_s

    def unusable_reason(self) -> str | None:
        """Why an `ok` result cannot carry a throughput (failed check, bad samples), or None when it can."""
        import math

        if self.check is not None and self.check.get("passed") is False:
            return f"correctness check failed: {self.check}"
        if not self.samples_s:
            return "no timing samples recorded"
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in self.samples_s):
            return "a timing sample is zero, negative or not finite (timer or sync bug)"
        return None

    @property
    def param_id(self) -> str:
        return "-".join(f"{k}={v}" for k, v in self.params.items())

    @property
    def fullname(self) -> str:
        """Stable id across runs: suite/benchmark[params]/backend/device/dtype."""
        return f"{self.suite}/{self.name}[{self.param_id}]/{self.backend}/{self.device}/{self.dtype}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_json_line(self) -> str:
        return json.dumps(self.to_dict(), default=str)


def skipped(suite: str, name: str, backend: str, device: str, dtype: str, reason: str,
            params: dict[str, Any] | None = None) -> BenchResult:
    return BenchResult(suite, name, backend, device, dtype, params or {}, status="skipped", reason=reason)
