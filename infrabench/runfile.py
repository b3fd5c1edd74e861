"""Building a run from raw results: every derived figure computed once, when the run file is written.

The raw results (`BenchResult`: samples and the work they did) become the results model's records
(`infrabench.results`): stats from the raw samples, throughput from the work each result names, % of
peak from the MachineView's peak lookup, % of best from the run's matmuls. A figure can always be
traced back to its samples.

Choices worth knowing when reading the figures:
- throughput = work / median seconds per iteration; throughput_best = work / min.
- pct_of_peak divides the median throughput by the theoretical peak of the device and executed dtype
  (see `find_peak`); an unknown peak gives null with `pct_of_peak_reason`, never a neighbour's figure.
- pct_of_best = throughput / the best median throughput any `matmul` result of this run reached on
  the same physical device and dtype, across backends (numpy "cpu", torch "cpu" and jax "cpu:0" share
  one ceiling; see `MachineView.device_key`): the attainable ceiling. The training verdict reads the
  same ceiling (`best_matmul`). It is given for every ok result whose work is FLOPs.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import secrets
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from infrabench.probes.machine_view import MachineView
from infrabench.results import (
    PYTEST_BENCHMARK_FORMAT,
    SCHEMA_VERSION,
    WORK_UNITS,
    BackendOutcome,
    Benchmark,
    Check,
    Commit,
    Peak,
    Run,
    Stats,
    Throughput,
    Timing,
    Work,
    suite_figures,
)
from infrabench.suites.ceiling import best_matmul
from infrabench.suites.journal import read_results
from infrabench.suites.registry import compute_verdicts
from infrabench.suites.result import BenchResult

GIT_TIMEOUT_S = 5.0
TRANSFERS = ("host_to_device", "device_to_host")
__all__ = ["PYTEST_BENCHMARK_FORMAT", "SCHEMA_VERSION", "best_matmul", "build_run", "commit_info", "find_peak",
           "new_run_id", "read_journal"]


# --- peaks -------------------------------------------------------------------------------------------

def find_peak(profile: Mapping[str, Any], result: BenchResult) -> tuple[Peak | None, str | None]:
    """The theoretical peak a result is measured against, or None and why.

    FLOPs work: the device's peak for the executed dtype (fp32 with `env.tf32_allowed` true on an
    accelerator uses the tf32 peak). Bytes work: the device memory's theoretical bandwidth; host-device
    copies (`extra.direction` or the name host_to_device / device_to_host), cache-resident working sets
    (`extra.level` other than DRAM) and call-overhead-bound points get none. A suite can set
    `extra["peak_basis"] = "none"` (with an optional `extra["peak_reason"]`) for work no theoretical
    peak describes.
    """
    if result.extra.get("peak_basis") == "none":
        return None, result.extra.get("peak_reason") or "no theoretical peak applies to this benchmark"
    kind = next(iter(result.work), None)
    if kind == "bytes" and (result.extra.get("direction") in TRANSFERS or result.name in TRANSFERS):
        return None, "host-device copy: bounded by the link (PCIe, NVLink-C2C), whose peak is not in the profile"
    level = result.extra.get("level")
    if kind == "bytes" and level == "overhead-bound":
        return None, "call overhead dominates this working set: no memory bandwidth peak applies"
    if kind == "bytes" and level not in (None, "DRAM"):
        return None, f"working set held in {level}: the memory bandwidth peak does not apply to a cache level"
    if kind is None:
        return None, "the result names no work"
    if kind not in ("flops", "bytes"):
        return None, f"no theoretical peak for {kind} work"
    view = MachineView(profile)
    if kind == "bytes":
        found, why = view.bandwidth_peak(result.device)
    else:
        found, why = view.flops_peak(result.device, result.dtype, result.env.get("tf32_allowed") is True)
    return (Peak.from_found(found), None) if found is not None else (None, why)


def suspicious_reason(peak: Peak, per_s: float, pct: float) -> tuple[str, float | None]:
    """Why a figure above 100% of peak cannot be a fact, naming the likeliest culprit when the peak says it.

    A CPU peak whose clock is not the readable maximum (a VM's nominal clock from cpuinfo, no boost
    clock exposed) is a lower bound on the real peak: the measured rate then implies the clock the
    cores really ran at, which is the useful thing to say. Returns the reason and that clock (GHz) if any.
    """
    basis = peak.basis or {}
    source = str(basis.get("ghz_source") or "")
    if basis.get("cores") and basis.get("flops_per_cycle") and basis.get("ghz") and "sysfs" not in source:
        implied_ghz = per_s / (basis["cores"] * basis["flops_per_cycle"] * 1e9)
        return (f"{pct:.0f}% of a peak computed at {basis['ghz']:g} GHz ({source}): the cores must have run "
                f"at >= {implied_ghz:.2f} GHz, so that clock is below the real one (a peak lookup limit, "
                "not a measured efficiency)"), implied_ghz
    return f"{pct:.0f}% of the theoretical peak is impossible: a measurement or peak lookup bug", None


def suspicious_warnings(benchmarks: list[Benchmark]) -> list[str]:
    """One warning per suspicious result, except that results blamed on the same low clock share one."""
    warnings: list[str] = []
    by_clock: dict[tuple[Any, str], list[Benchmark]] = {}
    for b in benchmarks:
        if not b.suspicious:
            continue
        if b.implied_clock_ghz is None or b.peak is None or not b.peak.basis:
            warnings.append(f"suspicious: {b.fullname}: {b.suspicious_reason}")
            continue
        by_clock.setdefault((b.peak.basis["ghz"], str(b.peak.basis.get("ghz_source"))), []).append(b)
    for (ghz, source), group in by_clock.items():
        top = max(g.implied_clock_ghz or 0.0 for g in group)
        names = ", ".join(g.fullname for g in group[:3]) + (f" and {len(group) - 3} more" if len(group) > 3 else "")
        warnings.append(f"suspicious: {len(group)} result(s) exceed a CPU peak computed at {ghz:g} GHz ({source}); "
                        f"they imply the cores ran at up to {top:.2f} GHz, so that clock is below the real one "
                        f"(a peak lookup limit, not a measured efficiency): {names}")
    return warnings


# --- benchmarks --------------------------------------------------------------------------------------

def _timing(result: BenchResult, stats: Stats | None) -> Timing:
    used = result.timing or {}
    return Timing(timer=result.timer, iterations=result.iterations, rounds=stats.rounds if stats else None,
                  warmup_s=result.warmup_s, min_sample_s=used.get("min_sample_s"), budget_s=used.get("budget_s"),
                  compile_s=result.compile_s)


def benchmark(result: BenchResult, profile: Mapping[str, Any]) -> Benchmark:
    """The results model's record of one raw result, with every derived figure."""
    status, reason = result.status, result.reason
    if status == "ok" and (why := result.unusable_reason()) is not None:
        status, reason = "failed", why
    timed = status == "ok"
    stats = Stats.from_samples(result.samples_s, result.iterations) if timed else None
    b = Benchmark(
        fullname=result.fullname, suite=result.suite, name=result.name, backend=result.backend,
        device=result.device, dtype=result.dtype, params=dict(result.params), status=status, reason=reason,
        stats=stats, work=Work(dict(result.work)), check=Check.from_dict(result.check),
        timing=_timing(result, stats), env=dict(result.env), figures=suite_figures(result.suite, result.extra),
        options={"timer": result.timer or "unknown", "warmup": bool(result.warmup_s),
                 "min_time": result.timing.get("min_sample_s"), "max_time": result.timing.get("budget_s"),
                 "min_rounds": stats.rounds if stats else None, "disable_gc": False},
    )
    kind = b.work.kind
    if stats is None:
        b.pct_of_peak_reason = f"no throughput: status {status}"
        if result.samples_s:
            b.samples_s = list(result.samples_s)  # kept for diagnosis, never turned into a figure
        return b
    if kind not in WORK_UNITS:
        b.pct_of_peak_reason = f"no throughput: work {kind!r} has no unit" if kind else "no work recorded"
        return b
    scale, unit = WORK_UNITS[kind]
    amount = float(result.work[kind])
    b.throughput = Throughput(amount / stats.median / scale, unit)
    b.throughput_best = Throughput(amount / stats.min / scale, unit)
    b.peak, b.pct_of_peak_reason = find_peak(profile, result)
    if b.peak is not None:
        per_s = amount / stats.median
        ceiling = b.peak.value * (1e12 if b.peak.unit == "TFLOP/s" else 1e9)
        b.pct_of_peak = 100.0 * per_s / ceiling
        b.suspicious = b.pct_of_peak > 100.0
        if b.suspicious:
            b.suspicious_reason, b.implied_clock_ghz = suspicious_reason(b.peak, per_s, b.pct_of_peak)
    return b


def _apply_best(benchmarks: list[Benchmark], results: list[BenchResult], view: MachineView) -> None:
    best = best_matmul(results, view)
    for b in benchmarks:
        top = best.get((view.device_key(b.device), b.dtype))
        if top is not None and b.throughput is not None and b.work.kind == "flops":
            b.pct_of_best = 100.0 * b.throughput.value / top.tflops


def build_run(results: Iterable[BenchResult], profile: dict[str, Any], config: dict[str, Any],
              backends: Mapping[str, Any], interrupted: bool, run_id: str, journal_name: str,
              commit: dict[str, Any] | None = None, signal_name: str | None = None) -> Run:
    """The run. `backends` maps name -> {status, reason, duration_s, ...} (or objects with to_dict)."""
    from infrabench import __version__

    results = list(results)
    view = MachineView(profile)
    built = [benchmark(r, profile) for r in results]
    timed = [b for b in built if b.timed]
    _apply_best(timed, results, view)
    warnings = suspicious_warnings(timed)
    if interrupted:
        warnings.append(f"the run was interrupted{f' by {signal_name}' if signal_name else ''}: "
                        "only the results finished before it are in this file")
    return Run(
        profile=dict(profile), machine_info=machine_info(profile),
        commit=Commit.from_dict(commit if commit is not None else commit_info()),
        datetime=_dt.datetime.now(_dt.timezone.utc).isoformat(),
        benchmarks=timed + [b for b in built if not b.timed], run_id=run_id, config=dict(config),
        backends={k: BackendOutcome.from_dict(v.to_dict() if hasattr(v, "to_dict") else dict(v))
                  for k, v in backends.items()},
        verdicts=compute_verdicts(results, profile, config), warnings=warnings, interrupted=interrupted,
        journal=journal_name, schema_version=SCHEMA_VERSION, infrabench_version=__version__,
    )


# --- environment records -----------------------------------------------------------------------------

def machine_info(profile: Mapping[str, Any]) -> dict[str, Any]:
    """pytest-benchmark's machine_info keys (from `platform`) and the CPU from the profile (the Run adds the
    profile itself)."""
    implementation = platform.python_implementation()
    impl_version = platform.python_version()
    if implementation == "PyPy":
        impl_version = ".".join(str(v) for v in sys.pypy_version_info[:3])  # type: ignore[attr-defined]
    cpu = profile.get("cpu") or {}
    return {
        "node": platform.node(), "processor": platform.processor(), "machine": platform.machine(),
        "python_compiler": platform.python_compiler(), "python_implementation": implementation,
        "python_implementation_version": impl_version, "python_version": platform.python_version(),
        "python_build": list(platform.python_build()), "release": platform.release(),
        "system": platform.system(),
        "cpu": {"arch_string_raw": platform.machine(), "brand_raw": cpu.get("model_name"),
                "vendor_id_raw": cpu.get("vendor"), "count": cpu.get("logical_cpus"),
                "usable": cpu.get("usable_cpus"), "flags": cpu.get("isa_flags") or []},
    }


def _git(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["git failed"])[-1])
    return proc.stdout.strip()


def commit_info(cwd: Path | None = None) -> dict[str, Any]:
    """The git commit of the working directory's repository (pytest-benchmark's keys), or nulls and an error."""
    cwd = Path(cwd or os.getcwd())
    info: dict[str, Any] = {"id": None, "time": None, "author_time": None, "dirty": None,
                            "project": cwd.name, "branch": None}
    try:
        top = _git(["rev-parse", "--show-toplevel"], cwd)
    except FileNotFoundError:
        return {**info, "error": "git is not installed"}
    except subprocess.TimeoutExpired:
        return {**info, "error": f"git did not answer within {GIT_TIMEOUT_S:g} s"}
    except RuntimeError:
        return {**info, "error": "not a git repository"}
    info["project"] = Path(top).name
    try:
        info["id"] = _git(["rev-parse", "HEAD"], cwd)
        info["time"] = _git(["show", "-s", "--format=%cI", "HEAD"], cwd)
        info["author_time"] = _git(["show", "-s", "--format=%aI", "HEAD"], cwd)
        info["branch"] = _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd)
        # Tracked files only: untracked files do not change what the commit measured (and are slow to list).
        info["dirty"] = bool(_git(["status", "--porcelain", "--untracked-files=no"], cwd))
    except subprocess.TimeoutExpired:
        info["error"] = f"git did not answer within {GIT_TIMEOUT_S:g} s"
    except RuntimeError as exc:
        info["error"] = f"git: {exc}"
    return info


def new_run_id(now: _dt.datetime | None = None) -> str:
    """UTC time plus 4 random hex digits, e.g. 20261128-200000-ab12: sortable and unique enough."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


# --- files -------------------------------------------------------------------------------------------

def read_journal(path: Path) -> list[BenchResult]:
    """Every result in a run journal; a truncated last line (a write cut short by a crash) is skipped."""
    return read_results(Path(path))
