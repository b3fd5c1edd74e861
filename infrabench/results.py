"""The one results model: typed records for everything a run file holds, read and written one way.

Every reader of a run (the HTML report, the gate, `export`, the run summary, `infrabench.load()`) gets
these records; nothing outside this module indexes a run file's dicts. The file itself stays a
superset of pytest-benchmark's saved-run JSON, so `pytest-benchmark compare` reads it, and
`Run.from_dict(run.to_dict())` gives the same records back (pyperf's rule: the JSON round-trips into
the classes that wrote it).

Reading is lenient where the schema allows (files written by infrabench 0.1.0 have no `timing`
record; pytest-benchmark's own saved runs have no `infrabench` block at all) and strict where it does
not: `Run.load()` validates an infrabench file against the shipped schema and every problem is one
UsageError line naming the file and where it is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from infrabench.errors import UsageError
from infrabench.probes.machine_view import MachineView
from infrabench.suites.result import WORK_UNITS as WORK_UNITS  # the unit of each kind of work

SCHEMA_VERSION = "1.1"  # 1.1 adds extra_info.infrabench.timing; 1.0 files (infrabench 0.1.0) still read
PYTEST_BENCHMARK_FORMAT = "5.1.0"  # the pytest-benchmark saved-run format the file mimics


# --- small helpers (the only place loose JSON values are looked at) ------------------------------------

def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _split(data: Mapping[str, Any], names: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the declared keys, everything else): undeclared keys are kept, never dropped."""
    return ({k: v for k, v in data.items() if k in names}, {k: v for k, v in data.items() if k not in names})


# --- statistics ---------------------------------------------------------------------------------------

@dataclass
class Stats:
    """pytest-benchmark's stats of seconds-per-iteration samples, with the raw samples (`data`) always kept.

    q1/q3 are numpy's 25th/75th percentiles (linear interpolation); pytest-benchmark's own quartile
    method can differ slightly for the same data.
    """

    data: list[float]
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    stddev: float | None = None
    rounds: int | None = None
    median: float | None = None
    iqr: float | None = None
    q1: float | None = None
    q3: float | None = None
    iqr_outliers: int | None = None
    stddev_outliers: int | None = None
    outliers: str | None = None
    ld15iqr: float | None = None
    hd15iqr: float | None = None
    ops: float | None = None
    total: float | None = None
    iterations: int | None = None
    other: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_samples(cls, samples: list[float], iterations: int | None) -> Stats:
        import numpy as np

        a = np.asarray(samples, dtype=float)
        s = np.sort(a)
        mean = float(a.mean())
        stddev = float(a.std(ddof=1)) if a.size > 1 else 0.0
        q1, median, q3 = (float(v) for v in np.percentile(a, [25, 50, 75]))
        iqr = q3 - q1
        low, high = q1 - 1.5 * iqr, q3 + 1.5 * iqr
        iqr_outliers = int(((a < low) | (a > high)).sum())
        stddev_outliers = int(((a < mean - stddev) | (a > mean + stddev)).sum())
        return cls(
            data=[float(v) for v in a], min=float(s[0]), max=float(s[-1]), mean=mean, stddev=stddev,
            rounds=int(a.size), median=median, iqr=iqr, q1=q1, q3=q3, iqr_outliers=iqr_outliers,
            stddev_outliers=stddev_outliers, outliers=f"{stddev_outliers};{iqr_outliers}",
            ld15iqr=float(s[np.searchsorted(s, low, side="left")]),
            hd15iqr=float(s[np.searchsorted(s, high, side="right") - 1]),
            ops=1.0 / mean, total=float(a.sum()), iterations=int(iterations or 1))

    @property
    def cv(self) -> float | None:
        return self.stddev / self.mean if self.stddev is not None and self.mean else None

    @property
    def valid_samples(self) -> list[float] | None:
        """The raw samples when every one is a finite positive number of seconds, else None."""
        if not self.data:
            return None
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
                   for v in self.data):
            return None
        return [float(v) for v in self.data]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stats:
        names = {f.name for f in fields(cls)} - {"other", "data"}
        known, other = _split(data, names | {"data"})
        kwargs: dict[str, Any] = {}
        for name in names:
            value = known.get(name)
            kwargs[name] = value if not isinstance(value, bool) else None
        raw = data.get("data")
        return cls(data=list(raw) if isinstance(raw, list) else [], other=other, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("other", "data")}
        out = {k: v for k, v in out.items() if v is not None}
        return {**out, "data": list(self.data), **self.other}


# --- the figures of one benchmark -------------------------------------------------------------------------

@dataclass
class Work:
    """What one iteration did ({"flops": 2mnk} or {"bytes": read + written} ...): the first kind names the
    throughput; later kinds (e.g. tokens beside samples) are kept for readers that want them."""

    amounts: dict[str, float] = field(default_factory=dict)

    @property
    def kind(self) -> str | None:
        return next(iter(self.amounts), None)

    @property
    def amount(self) -> float | None:
        return _num(self.amounts.get(self.kind)) if self.kind else None

    def get(self, kind: str) -> float | None:
        return _num(self.amounts.get(kind))

    def __contains__(self, kind: str) -> bool:
        return kind in self.amounts


@dataclass
class Throughput:
    value: float
    unit: str  # "TFLOP/s" | "GB/s" | "samples/s" | "tokens/s" | "calls/s"

    @classmethod
    def from_dict(cls, data: Any) -> Throughput | None:
        d = _d(data)
        value = _num(d.get("value"))
        return cls(value, str(d.get("unit") or "")) if value is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit}


@dataclass
class Peak:
    """The theoretical peak a figure is read against; `unit` TFLOP/s or GB/s (the file keys it tflops/gbs)."""

    value: float
    unit: str
    source: str | None = None
    confidence: str | None = None
    dtype: str | None = None
    basis: dict[str, Any] | None = None
    note: str | None = None

    @property
    def tflops(self) -> float | None:
        return self.value if self.unit == "TFLOP/s" else None

    @property
    def gbs(self) -> float | None:
        return self.value if self.unit == "GB/s" else None

    @classmethod
    def from_found(cls, found: Any) -> Peak:
        """From the MachineView's PeakFound."""
        return cls(found.value, found.unit, found.source, found.confidence, found.dtype,
                   dict(found.basis) if found.basis else None, found.note)

    @classmethod
    def from_dict(cls, data: Any) -> Peak | None:
        d = _d(data)
        if _num(d.get("tflops")) is not None:
            value, unit = _num(d.get("tflops")), "TFLOP/s"
        elif _num(d.get("gbs")) is not None:
            value, unit = _num(d.get("gbs")), "GB/s"
        else:
            return None
        return cls(float(value), unit, _str(d.get("source")), _str(d.get("confidence")), _str(d.get("dtype")),
                   _d(d.get("basis")) or None, _str(d.get("note")))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tflops" if self.unit == "TFLOP/s" else "gbs": self.value, "source": self.source,
                               "confidence": self.confidence}
        if self.dtype is not None:
            out["dtype"] = self.dtype
        if self.basis:
            out["basis"] = self.basis
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Check:
    """The correctness check a figure stands on: relative error against a reference, within a tolerance."""

    passed: bool | None
    rel_error: float | None = None
    tolerance: float | None = None
    reference: str | None = None
    other: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> Check | None:
        if not isinstance(data, dict):
            return None
        known, other = _split(data, {"passed", "rel_error", "tolerance", "reference"})
        passed = known.get("passed")
        raw = known.get("rel_error")
        if isinstance(raw, float) and not math.isfinite(raw):  # NaN or inf in the output: no error to show
            other["rel_error_not_finite"] = str(raw)
        return cls(passed if isinstance(passed, bool) else None, _num(raw),
                   _num(known.get("tolerance")), _str(known.get("reference")), other)

    def to_dict(self) -> dict[str, Any]:
        out = {"rel_error": self.rel_error, "tolerance": self.tolerance, "reference": self.reference,
               "passed": self.passed}
        return {**out, **self.other}


@dataclass
class Timing:
    """How a benchmark was really timed: the harness settings it ran with, not the ones it was asked for."""

    timer: str | None = None  # "perf_counter" | "perf_counter+sync" | "cuda_event" | ...
    iterations: int | None = None  # calls timed as one block per round
    rounds: int | None = None
    warmup_s: float | None = None
    min_sample_s: float | None = None  # each round lasted at least this long (None: not recorded)
    budget_s: float | None = None  # the time the benchmark's rounds were allowed
    compile_s: float | None = None  # jit/compile time, kept apart from the samples

    @classmethod
    def from_dict(cls, data: Any) -> Timing:
        d = _d(data)
        return cls(_str(d.get("timer")), _int(d.get("iterations")), _int(d.get("rounds")), _num(d.get("warmup_s")),
                   _num(d.get("min_sample_s")), _num(d.get("budget_s")), _num(d.get("compile_s")))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- each suite's own figures -------------------------------------------------------------------------

@dataclass
class SuiteFigures:
    """A suite's own figures for one benchmark (`extra_info.infrabench.extra`). Subclasses declare the
    fields their suite writes; anything else the file holds is kept in `other`, never dropped."""

    other: dict[str, Any] = field(default_factory=dict)
    present: tuple[str, ...] = field(default=(), repr=False, compare=False)  # declared keys the file had

    @classmethod
    def declared(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name not in ("other", "present")]

    @classmethod
    def from_dict(cls, data: Any) -> SuiteFigures:
        d = _d(data)
        known, other = _split(d, set(cls.declared()))
        return cls(other=other, present=tuple(known), **known)

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.declared()
               if name in self.present or getattr(self, name) is not None}
        return {**out, **self.other}

    def value(self, key: str) -> Any:
        """A figure by name, declared or not: for code that reads any suite's figures alike."""
        if key in self.declared():
            return getattr(self, key)
        return self.other.get(key)

    def notes(self) -> list[str]:
        """Caveats the suite attached (threading, dtype substitutions, dispatch overhead, timing notes)."""
        found: list[str] = []
        for key in ("threading", "dtype_note", "overhead_note", "timing_notes"):
            value = self.value(key)
            if isinstance(value, list):
                found.extend(str(v) for v in value)
            elif value:
                found.append(str(value))
        return found


@dataclass
class MatmulFigures(SuiteFigures):
    """matmul: threading caveats and the dtype the kernel really executed."""

    threading: str | None = None
    dtype_note: str | None = None
    timing_notes: list[str] | None = None


@dataclass
class MemoryFigures(SuiteFigures):
    """memory: how bytes were counted, where the working set lives, and the overheads that bound a figure."""

    kernel: str | None = None
    scalar: float | None = None
    n: int | None = None
    bytes_read: float | None = None
    bytes_written: float | None = None
    counting: str | None = None
    bytes_counting: str | None = None
    array_size_basis: str | None = None
    threading: str | None = None
    level: str | None = None  # "L1" ... "DRAM", or "overhead-bound" when the call overhead dominates
    level_basis: str | None = None
    buffers_rotated: bool | None = None
    overhead_note: str | None = None
    timing_notes: list[str] | None = None
    dtype_note: str | None = None
    direction: str | None = None  # host_to_device | device_to_host | device_to_device


@dataclass
class TrainFigures(SuiteFigures):
    """train: the model, its step times, losses, FLOPs per step and MFU against the theoretical peak."""

    model: str | None = None
    mode: str | None = None
    batch_size: int | None = None
    param_count: int | None = None
    lr: float | None = None
    steps_warmup: int | None = None
    steps_timed: int | None = None
    loss_first: float | None = None
    loss_last: float | None = None
    loss_window_steps: int | None = None
    loss_step0: float | None = None
    loss_final: float | None = None
    losses: list[float] | None = None
    first_step_s: float | None = None
    compile_s: float | None = None
    step_time_p50_s: float | None = None
    step_time_p90_s: float | None = None
    step_time_p99_s: float | None = None
    step_time_per_sample_s: float | None = None
    samples_per_s: float | None = None
    tokens_per_step: float | None = None
    tokens_per_s: float | None = None
    flops_per_step: float | None = None
    flops_formula: str | None = None
    achieved_tflops: float | None = None
    mfu_pct_of_peak: float | None = None
    mfu_peak: dict[str, Any] | None = None
    mfu_reason: str | None = None
    peak_memory_bytes: float | None = None
    peak_memory_basis: str | None = None
    suspicious: bool | None = None
    suspicious_reason: str | None = None


@dataclass
class DataloadFigures(SuiteFigures):
    """dataload: loader settings and the rates of each stage of the input pipeline."""

    format: str | None = None
    loader: str | None = None
    workers: int | None = None
    samples_per_s: float | None = None


SUITE_FIGURES: dict[str, type[SuiteFigures]] = {
    "matmul": MatmulFigures, "memory": MemoryFigures, "train": TrainFigures, "dataload": DataloadFigures,
}


def suite_figures(suite: str, data: Any) -> SuiteFigures:
    return SUITE_FIGURES.get(suite, SuiteFigures).from_dict(data)


# --- one benchmark ---------------------------------------------------------------------------------------

def _param_id(params: Mapping[str, Any]) -> str:
    return "-".join(f"{k}={v}" for k, v in params.items())


def _pytest_name(name: str, params: Mapping[str, Any]) -> str:
    return f"{name}[{_param_id(params)}]" if params else name


INFO_KEYS = {"suite", "benchmark", "backend", "device", "dtype", "status", "reason", "work", "throughput",
             "throughput_best", "pct_of_peak", "peak", "pct_of_peak_reason", "pct_of_best", "suspicious",
             "suspicious_reason", "implied_clock_ghz", "cv", "check", "timer", "iterations", "warmup_s",
             "compile_s", "env", "extra", "timing", "samples_s"}
ENTRY_KEYS = {"group", "name", "fullname", "params", "param", "options", "stats", "extra_info"}


@dataclass
class Benchmark:
    """One benchmark of a run: what ran, its samples and derived figures, or why it has none."""

    fullname: str  # suite/benchmark[params]/backend/device/dtype
    suite: str
    name: str  # the benchmark, without params
    backend: str
    device: str
    dtype: str
    params: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"  # ok | skipped | failed | timeout | oom
    reason: str | None = None
    stats: Stats | None = None
    work: Work = field(default_factory=Work)
    throughput: Throughput | None = None  # work / median seconds per iteration
    throughput_best: Throughput | None = None  # work / min
    peak: Peak | None = None
    pct_of_peak: float | None = None
    pct_of_peak_reason: str | None = None
    pct_of_best: float | None = None  # % of the best matmul of this device and dtype in the run
    suspicious: bool = False
    suspicious_reason: str | None = None
    implied_clock_ghz: float | None = None
    check: Check | None = None
    timing: Timing = field(default_factory=Timing)
    env: dict[str, Any] = field(default_factory=dict)
    figures: SuiteFigures = field(default_factory=SuiteFigures)
    samples_s: list[float] | None = None  # an untimed result's samples, kept for diagnosis only
    display_name: str | None = None  # pytest-benchmark's `name`, where a file had one other than name[params]
    options: dict[str, Any] = field(default_factory=dict)  # pytest-benchmark's per-benchmark options
    other: dict[str, Any] = field(default_factory=dict)  # keys of the entry this version does not know
    other_info: dict[str, Any] = field(default_factory=dict)
    fullname_recorded: bool = field(default=True, compare=False)  # False: the entry had none (name stands in)

    @property
    def timed(self) -> bool:
        return self.stats is not None

    @property
    def median_s(self) -> float | None:
        return _num(self.stats.median) if self.stats else None

    @property
    def notes(self) -> list[str]:
        return self.figures.notes()

    @property
    def param_id(self) -> str:
        return _param_id(self.params)

    @property
    def pytest_name(self) -> str:
        """pytest-benchmark's `name`: the benchmark with its params, e.g. square[m=256-n=256-k=256]."""
        return self.display_name or _pytest_name(self.name, self.params)

    # -- file form --

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], pytest_format: bool = False) -> Benchmark:
        """An entry of `benchmarks[]` or `infrabench.results_without_timing[]` (or a pytest-benchmark entry)."""
        entry, other = _split(raw, ENTRY_KEYS)
        info_all = _d(_d(entry.get("extra_info")).get("infrabench"))
        info, other_info = _split(info_all, INFO_KEYS)
        extra_info_rest = {k: v for k, v in _d(entry.get("extra_info")).items() if k != "infrabench"}
        if extra_info_rest:
            other = {**other, "extra_info": extra_info_rest}
        stats = Stats.from_dict(entry["stats"]) if isinstance(entry.get("stats"), dict) else None
        display = _str(entry.get("name"))
        suite = str(info.get("suite") or entry.get("group") or "?")
        timing = Timing.from_dict(info.get("timing"))
        timing.timer = timing.timer or _str(info.get("timer"))
        timing.iterations = timing.iterations or _int(info.get("iterations"))
        timing.warmup_s = timing.warmup_s if timing.warmup_s is not None else _num(info.get("warmup_s"))
        timing.compile_s = timing.compile_s if timing.compile_s is not None else _num(info.get("compile_s"))
        if timing.rounds is None and stats is not None:
            timing.rounds = _int(stats.rounds)
        options = _d(entry.get("options"))  # pytest-benchmark's names for the same settings
        if timing.min_sample_s is None:
            timing.min_sample_s = _num(options.get("min_time"))
        if timing.budget_s is None:
            timing.budget_s = _num(options.get("max_time"))
        status = str(info.get("status") or ("ok" if stats is not None or pytest_format else "failed"))
        samples = info.get("samples_s")
        name = str(info.get("benchmark") or (display or "?").split("[")[0])
        params = _d(entry.get("params"))
        return cls(
            fullname=str(entry.get("fullname") or display or "?"), suite=suite, name=name,
            backend=str(info.get("backend") or "?"),
            device=str(info.get("device") or ("cpu" if pytest_format else "?")),
            dtype=str(info.get("dtype") or "?"), params=params, status=status,
            reason=_str(info.get("reason")), stats=stats,
            work=Work({str(k): v for k, v in _d(info.get("work")).items()}),
            throughput=Throughput.from_dict(info.get("throughput")),
            throughput_best=Throughput.from_dict(info.get("throughput_best")),
            peak=Peak.from_dict(info.get("peak")), pct_of_peak=_num(info.get("pct_of_peak")),
            pct_of_peak_reason=_str(info.get("pct_of_peak_reason")), pct_of_best=_num(info.get("pct_of_best")),
            suspicious=info.get("suspicious") is True, suspicious_reason=_str(info.get("suspicious_reason")),
            implied_clock_ghz=_num(info.get("implied_clock_ghz")), check=Check.from_dict(info.get("check")),
            timing=timing, env=_d(info.get("env")), figures=suite_figures(suite, info.get("extra")),
            samples_s=list(samples) if isinstance(samples, list) else None,
            display_name=display if display != _pytest_name(name, params) else None,
            fullname_recorded=isinstance(entry.get("fullname"), str) and bool(entry.get("fullname")),
            options=_d(entry.get("options")), other=other, other_info=other_info,
        )

    def to_dict(self) -> dict[str, Any]:
        """The run-file entry: pytest-benchmark's keys, and ours under extra_info.infrabench."""
        info: dict[str, Any] = {
            "suite": self.suite, "benchmark": self.name, "backend": self.backend, "device": self.device,
            "dtype": self.dtype, "status": self.status, "reason": self.reason, "work": dict(self.work.amounts),
            "throughput": self.throughput.to_dict() if self.throughput else None,
            "throughput_best": self.throughput_best.to_dict() if self.throughput_best else None,
            "pct_of_peak": self.pct_of_peak, "peak": self.peak.to_dict() if self.peak else None,
            "pct_of_peak_reason": self.pct_of_peak_reason, "pct_of_best": self.pct_of_best,
            "suspicious": self.suspicious, "cv": self.stats.cv if self.stats else None,
            "check": self.check.to_dict() if self.check else None,
            "timer": self.timing.timer, "iterations": self.timing.iterations, "warmup_s": self.timing.warmup_s,
            "compile_s": self.timing.compile_s, "timing": self.timing.to_dict(),
            "env": self.env, "extra": self.figures.to_dict(),
        }
        if self.suspicious_reason is not None:
            info["suspicious_reason"] = self.suspicious_reason
        if self.implied_clock_ghz is not None:
            info["implied_clock_ghz"] = self.implied_clock_ghz
        if self.samples_s is not None:
            info["samples_s"] = list(self.samples_s)
        info.update(self.other_info)
        extra_info = {**_d(self.other.get("extra_info")), "infrabench": info}
        return {
            "group": self.suite, "name": self.pytest_name,
            "fullname": self.fullname, "params": self.params or None, "param": self.param_id or None,
            "options": self.options, "stats": self.stats.to_dict() if self.stats else None,
            "extra_info": extra_info, **{k: v for k, v in self.other.items() if k != "extra_info"},
        }


# --- the run ---------------------------------------------------------------------------------------------

@dataclass
class Commit:
    id: str | None = None
    time: str | None = None
    author_time: str | None = None
    dirty: bool | None = None
    project: str | None = None
    branch: str | None = None
    error: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> Commit:
        d = _d(data)
        dirty = d.get("dirty")
        return cls(_str(d.get("id")), _str(d.get("time")), _str(d.get("author_time")),
                   dirty if isinstance(dirty, bool) else None, _str(d.get("project")), _str(d.get("branch")),
                   _str(d.get("error")))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if out["error"] is None:
            del out["error"]
        return out


@dataclass
class BackendOutcome:
    """How one backend's worker process ended."""

    status: str | None  # ok | skipped | failed | timeout | oom | interrupted | not_run
    reason: str | None = None
    duration_s: float | None = None
    other: dict[str, Any] = field(default_factory=dict)  # returncode, results, log ...
    devices: list[str] | None = None  # what the backend had here (None: not recorded, e.g. before 0.2)

    @classmethod
    def from_dict(cls, data: Any) -> BackendOutcome:
        known, other = _split(_d(data), {"status", "reason", "duration_s", "devices"})
        devices = known.get("devices")
        listed = [str(d) for d in devices] if isinstance(devices, list) else None
        return cls(_str(known.get("status")), _str(known.get("reason")), _num(known.get("duration_s")), other,
                   listed)

    def to_dict(self) -> dict[str, Any]:
        out = {"status": self.status, "reason": self.reason, "duration_s": self.duration_s, **self.other}
        if self.devices is not None:
            out["devices"] = list(self.devices)
        return out


RUN_KEYS = {"schema_version", "version", "run_id", "config", "backends", "results_without_timing", "verdicts",
            "interrupted", "journal", "warnings"}
TOP_KEYS = {"machine_info", "commit_info", "benchmarks", "datetime", "version", "infrabench"}


@dataclass
class Run:
    """A run file: the machine it ran on, how it was configured, and every benchmark, timed or not."""

    profile: dict[str, Any]  # the MachineProfile (machine_info.infrabench)
    machine_info: dict[str, Any]  # pytest-benchmark's machine keys (node, cpu, python ...), without the profile
    commit: Commit
    datetime: str | None
    benchmarks: list[Benchmark]  # timed (status ok) and, after them, those without timing
    run_id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    backends: dict[str, BackendOutcome] = field(default_factory=dict)
    verdicts: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False
    journal: str | None = None
    schema_version: str | None = SCHEMA_VERSION
    infrabench_version: str | None = None
    file_format: str = "infrabench"  # "infrabench" | "pytest-benchmark"
    pytest_version: str | None = PYTEST_BENCHMARK_FORMAT
    other: dict[str, Any] = field(default_factory=dict)
    other_run: dict[str, Any] = field(default_factory=dict)

    @property
    def machine(self) -> MachineView:
        return MachineView(self.profile)

    @property
    def timed(self) -> list[Benchmark]:
        return [b for b in self.benchmarks if b.timed]

    @property
    def untimed(self) -> list[Benchmark]:
        return [b for b in self.benchmarks if not b.timed]

    @property
    def profile_name(self) -> str | None:
        return _str(self.config.get("profile"))

    @property
    def suites(self) -> list[str]:
        return [str(s) for s in _l(self.config.get("suites"))]

    # -- file form --

    @classmethod
    def from_dict(cls, data: Any, source: str = "run file") -> Run:
        """A parsed run file (infrabench) or saved run (pytest-benchmark); UsageError when neither."""
        if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
            raise UsageError(f"{source}: not a run file (no benchmarks list)")
        top, other = _split(data, TOP_KEYS)
        ib = top.get("infrabench")
        pytest_format = not isinstance(ib, dict)
        ib_known, ib_other = _split(_d(ib), RUN_KEYS)
        raws = list(top["benchmarks"]) + _l(ib_known.get("results_without_timing"))
        for raw in raws:
            if not isinstance(raw, dict):
                raise UsageError(f"{source}: a benchmark entry is not an object")
        machine_info = dict(_d(top.get("machine_info")))
        profile = _d(machine_info.pop("infrabench", None))
        warnings = [str(w) for w in _l(ib_known.get("warnings")) if w]
        return cls(
            profile=profile, machine_info=machine_info, commit=Commit.from_dict(top.get("commit_info")),
            datetime=_str(top.get("datetime")),
            benchmarks=[Benchmark.from_dict(raw, pytest_format) for raw in raws],
            run_id=_str(ib_known.get("run_id")), config=_d(ib_known.get("config")),
            backends={str(k): BackendOutcome.from_dict(v) for k, v in _d(ib_known.get("backends")).items()},
            verdicts=_d(ib_known.get("verdicts")), warnings=warnings, interrupted=ib_known.get("interrupted") is True,
            journal=_str(ib_known.get("journal")), schema_version=_str(ib_known.get("schema_version")),
            infrabench_version=_str(ib_known.get("version")),
            file_format="pytest-benchmark" if pytest_format else "infrabench",
            pytest_version=_str(top.get("version")), other=other, other_run=ib_other,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "machine_info": {**self.machine_info, "infrabench": self.profile},
            "commit_info": self.commit.to_dict(),
            "benchmarks": [b.to_dict() for b in self.timed],
            "datetime": self.datetime,
            "version": self.pytest_version,
            **self.other,
        }
        if self.file_format == "infrabench":
            out["infrabench"] = {
                "schema_version": self.schema_version, "version": self.infrabench_version, "run_id": self.run_id,
                "config": self.config, "backends": {k: v.to_dict() for k, v in self.backends.items()},
                "results_without_timing": [b.to_dict() for b in self.untimed], "verdicts": self.verdicts,
                "interrupted": self.interrupted, "journal": self.journal, "warnings": list(self.warnings),
                **self.other_run,
            }
        else:
            out["benchmarks"] = [b.to_dict() for b in self.benchmarks]
        return out

    @classmethod
    def load(cls, path: str | Path, accept_pytest_benchmark: bool = False) -> Run:
        """Read and validate a run file (any schema 1.x infrabench has written); with
        `accept_pytest_benchmark`, a pytest-benchmark saved run (no `infrabench` block) is read too.
        Every problem is one UsageError line naming the file and where it is wrong."""
        from infrabench.files import read_json

        path = Path(path)
        hint = "it may be truncated (the journal beside it keeps every finished result)"
        data = read_json(path, truncation_hint=hint)
        return cls.parse(data, path, accept_pytest_benchmark)

    @classmethod
    def parse(cls, data: Any, path: str | Path, accept_pytest_benchmark: bool = False) -> Run:
        """`Run.load` for data already parsed from `path`."""
        if not (accept_pytest_benchmark and isinstance(data, dict) and "infrabench" not in data):
            validate(data, Path(path))
        return cls.from_dict(data, str(path))

    def write(self, path: str | Path) -> Path:
        """Write the current schema atomically (a temporary file in the same folder, fsync, rename).

        No value can stop the results from being written: a NaN or infinite number anywhere is written as
        null and named in the run's warnings. A file that does not match the schema never replaces `path`:
        it is kept beside it as NAME.invalid.json and a RuntimeError says so."""
        from infrabench.files import write_atomic

        path = Path(path)
        data = self.to_dict()
        data["infrabench"]["schema_version"] = SCHEMA_VERSION
        bad = _nullify_non_finite(data)
        if bad:
            data["infrabench"].setdefault("warnings", []).append(
                f"{len(bad)} value(s) were NaN or infinite and are written as null: {', '.join(bad[:5])}"
                + (" ..." if len(bad) > 5 else ""))
        try:
            validate(data, path, written=True)
        except RuntimeError as exc:
            kept = write_atomic(path.with_name(path.stem + ".invalid.json"), data)
            raise RuntimeError(f"{exc}; the results are kept in {kept}") from None
        return write_atomic(path, data)


def _nullify_non_finite(data: Any, where: str = "") -> list[str]:
    """Replace NaN and infinite floats in place by None; returns where they were (JSON paths)."""
    found: list[str] = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in list(items):
        at = f"{where}/{key}" if where else str(key)
        if isinstance(value, float) and not math.isfinite(value):
            data[key] = None
            found.append(at)
        elif isinstance(value, (dict, list)):
            found.extend(_nullify_non_finite(value, at))
    return found


def as_run(run: Run | dict[str, Any], source: str = "run file") -> Run:
    """A Run as it is, or a parsed run file's dict read into one (for callers holding plain data)."""
    return run if isinstance(run, Run) else Run.from_dict(run, source)


# --- schema ----------------------------------------------------------------------------------------------

def run_schema() -> dict[str, Any]:
    """The JSON Schema a run file validates against; shipped inside the package."""
    import json
    from importlib import resources

    return json.loads(resources.files("infrabench").joinpath("schema/run.schema.json").read_text())


def validate(data: Any, path: Path, written: bool = False) -> None:
    """One UsageError line (or, for a file infrabench itself is writing, a RuntimeError) when `data` is
    not a valid run file."""
    import jsonschema

    try:
        jsonschema.validate(data, run_schema())
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        message = exc.message if len(exc.message) <= 160 else exc.message[:157] + "..."
        if written:
            raise RuntimeError(f"{path}: the run file infrabench built does not match the run schema at "
                               f"{where}: {message}") from exc
        raise UsageError(f"{path}: not an infrabench run file: {where}: {message}") from None
