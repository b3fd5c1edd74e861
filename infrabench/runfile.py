"""The run file (run.json): built from raw results, validated, written atomically, loaded with one clear error.

The file is a superset of pytest-benchmark's saved-run JSON (`pytest-benchmark compare run.json` reads
it). Every derived figure (stats, throughput, % of peak, % of best) is computed here, when the file is
written, from the raw samples and the work each result names; a figure can always be traced back.

Choices worth knowing when reading the figures:
- q1/q3 are numpy's 25th/75th percentiles (linear interpolation). pytest-benchmark's own Stats use
  Wikipedia quartile methods 2/3 instead; for the same data the two can differ slightly.
- throughput = work / median seconds per iteration; throughput_best = work / min.
- pct_of_peak divides the median throughput by the theoretical peak of the device and executed dtype
  (see `find_peak`); an unknown peak gives null with `pct_of_peak_reason`, never a neighbour's figure.
- pct_of_best = throughput / the best median throughput any `matmul` result of this run reached on
  the same device and dtype, across backends (numpy "cpu", torch "cpu" and jax "cpu:0" share one
  ceiling; see `device_key`): the attainable ceiling. It is given for every ok result whose work is
  FLOPs, so other suites' FLOP rates read against it too.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import secrets
import subprocess
import sys
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from infrabench.errors import UsageError
from infrabench.files import read_json
from infrabench.suites.journal import read_results
from infrabench.suites.registry import compute_verdicts
from infrabench.suites.result import WORK_UNITS, BenchResult

SCHEMA_VERSION = "1.0"
PYTEST_BENCHMARK_FORMAT = "5.1.0"  # the pytest-benchmark saved-run format this file mimics
BEST_SUITE = "matmul"  # whose best median throughput per device/dtype is the attainable ceiling
GIT_TIMEOUT_S = 5.0

# Device prefix -> accelerator vendors in the MachineProfile it can be (torch on ROCm says "cuda").
DEVICE_VENDORS: dict[str, tuple[str, ...]] = {
    "cuda": ("nvidia", "amd"), "gpu": ("nvidia", "amd"), "rocm": ("amd",), "tpu": ("google",),
    "mps": ("apple",), "xpu": ("intel",),
}
TRANSFERS = ("host_to_device", "device_to_host")
VISIBLE_ENV = {"nvidia": "CUDA_VISIBLE_DEVICES", "amd": "HIP_VISIBLE_DEVICES"}


# --- statistics --------------------------------------------------------------------------------------

def sample_stats(data: list[float], iterations: int | None) -> dict[str, Any]:
    """pytest-benchmark's stats keys from raw seconds-per-iteration samples, plus `cv` (stddev / mean)."""
    import numpy as np

    a = np.asarray(data, dtype=float)
    s = np.sort(a)
    mean = float(a.mean())
    stddev = float(a.std(ddof=1)) if a.size > 1 else 0.0
    q1, median, q3 = (float(v) for v in np.percentile(a, [25, 50, 75]))
    iqr = q3 - q1
    low, high = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    iqr_outliers = int(((a < low) | (a > high)).sum())
    stddev_outliers = int(((a < mean - stddev) | (a > mean + stddev)).sum())
    return {
        "min": float(s[0]), "max": float(s[-1]), "mean": mean, "stddev": stddev, "rounds": int(a.size),
        "median": median, "iqr": iqr, "q1": q1, "q3": q3,
        "iqr_outliers": iqr_outliers, "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": float(s[np.searchsorted(s, low, side="left")]),
        "hd15iqr": float(s[np.searchsorted(s, high, side="right") - 1]),
        "ops": 1.0 / mean, "total": float(a.sum()), "iterations": int(iterations or 1),
        "data": [float(v) for v in a], "cv": stddev / mean,
    }


# --- peaks -------------------------------------------------------------------------------------------

def _split_device(device: str) -> tuple[str, int]:
    prefix, _, index = device.partition(":")
    return prefix, int(index) if index.isdigit() else 0


def find_accelerator(profile: Mapping[str, Any], device: str) -> tuple[dict[str, Any] | None, str | None]:
    """The profile's accelerator behind a framework device name ("cuda:1", "tpu:0", "mps"), or why none.

    "cuda:i" is the i-th NVIDIA/AMD accelerator by index, through CUDA_VISIBLE_DEVICES (or
    HIP_VISIBLE_DEVICES) when the profile recorded a numeric list; "tpu:i" the i-th Google one.
    """
    prefix, index = _split_device(device)
    vendors = DEVICE_VENDORS.get(prefix)
    if vendors is None:
        return None, f"unknown device kind {prefix!r}"
    accs = [a for a in profile.get("accelerators") or [] if a.get("vendor") in vendors]
    accs.sort(key=lambda a: (a.get("index") is None, a.get("index") or 0))
    if not accs:
        return None, f"no {'/'.join(vendors)} accelerator in the machine profile for device {device}"
    env = (profile.get("software") or {}).get("env") or {}
    visible = env.get(VISIBLE_ENV.get(accs[0].get("vendor") or "", ""), "")
    ids = [v.strip() for v in str(visible).split(",") if v.strip()]
    if ids and all(v.isdigit() for v in ids) and index < len(ids):
        match = [a for a in accs if a.get("index") == int(ids[index])]
        if match:
            return match[0], None
    if index < len(accs):
        return accs[index], None
    return None, f"device {device}: the machine profile lists only {len(accs)} {'/'.join(vendors)} accelerator(s)"


def _peak_for_dtype(peaks: list[dict[str, Any]], dtype: str, where: str) -> tuple[dict[str, Any] | None, str | None]:
    peak = next((p for p in peaks if p.get("dtype") == dtype), None)
    if peak is None:
        return None, f"no {dtype} peak for {where} in the machine profile"
    if peak.get("tflops") is None:
        return None, f"{dtype} peak unknown for {where}: {peak.get('reason') or 'no reason recorded'}"
    found = {"tflops": peak["tflops"], "source": peak.get("source"), "confidence": peak.get("confidence"),
             "dtype": dtype}
    if peak.get("basis"):
        found["basis"] = peak["basis"]
    if peak.get("reason"):
        found["note"] = peak["reason"]
    return found, None


def find_peak(profile: Mapping[str, Any], result: BenchResult) -> tuple[dict[str, Any] | None, str | None]:
    """The theoretical peak a result is measured against, or None and why.

    FLOPs work: the device's peak for the executed dtype (fp32 with `env.tf32_allowed` true on an
    accelerator uses the tf32 peak). Bytes work: an accelerator's datasheet memory bandwidth; CPUs have
    no DRAM bandwidth peak in the profile; host-device copies (`extra.direction` or the name
    host_to_device / device_to_host) and cache-resident working sets (`extra.level` other than DRAM)
    get none. A suite can set `extra["peak_basis"] = "none"` (with an
    optional `extra["peak_reason"]`) for work no theoretical peak describes, e.g. host-device copies.
    """
    if result.extra.get("peak_basis") == "none":
        return None, result.extra.get("peak_reason") or "no theoretical peak applies to this benchmark"
    kind = next(iter(result.work), None)
    if kind == "bytes" and (result.extra.get("direction") in TRANSFERS or result.name in TRANSFERS):
        return None, "host-device copy: bounded by the link (PCIe, NVLink-C2C), whose peak is not in the profile"
    level = result.extra.get("level")
    if kind == "bytes" and level not in (None, "DRAM"):
        return None, f"working set held in {level}: the memory bandwidth peak does not apply to a cache level"
    if kind is None:
        return None, "the result names no work"
    if kind not in ("flops", "bytes"):
        return None, f"no theoretical peak for {kind} work"
    device, dtype = result.device, result.dtype
    if device == "cpu" or device.startswith("cpu:"):
        cpu = profile.get("cpu") or {}
        if kind == "bytes":
            gbs = (profile.get("memory") or {}).get("peak_bandwidth_gbs")
            if gbs:
                return {"gbs": gbs, "source": "machine profile memory.peak_bandwidth_gbs", "confidence": None}, None
            return None, ("no theoretical DRAM bandwidth in the machine profile "
                          "(memory channels and speed are not probed)")
        if dtype == "tf32":
            return None, "tf32 is a GPU tensor-core format; CPUs have no tf32 peak"
        return _peak_for_dtype(cpu.get("peaks") or [], dtype, f"CPU {cpu.get('model_name') or ''}".strip())
    acc, why = find_accelerator(profile, device)
    if acc is None:
        return None, why
    label = acc.get("sku") or acc.get("name") or device
    if kind == "bytes":
        gbs = acc.get("peak_memory_bandwidth_gbs")
        if not gbs:
            return None, f"memory bandwidth unknown for {label}"
        confidence = next((p.get("confidence") for p in acc.get("peaks") or [] if p.get("tflops")), None)
        return {"gbs": gbs, "source": f"datasheet memory bandwidth of {label}", "confidence": confidence}, None
    if dtype == "fp32" and result.env.get("tf32_allowed") is True:
        dtype = "tf32"
    return _peak_for_dtype(acc.get("peaks") or [], dtype, label)


# --- entries -----------------------------------------------------------------------------------------

def _usable_samples(result: BenchResult) -> tuple[BenchResult, bool]:
    """Demote an `ok` result that cannot carry a throughput (failed check, bad samples) to `failed`."""
    if result.status != "ok":
        return result, False
    reason = None
    if result.check is not None and result.check.get("passed") is False:
        reason = f"correctness check failed: {result.check}"
    elif not result.samples_s:
        reason = "no timing samples recorded"
    elif not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in result.samples_s):
        reason = "a timing sample is zero, negative or not finite (timer or sync bug)"
    if reason is None:
        return result, True
    return BenchResult.from_dict({**result.to_dict(), "status": "failed", "reason": reason}), False


def _entry(result: BenchResult, profile: Mapping[str, Any], timed: bool) -> dict[str, Any]:
    stats = sample_stats(result.samples_s, result.iterations) if timed else None
    info: dict[str, Any] = {
        "suite": result.suite, "benchmark": result.name, "backend": result.backend, "device": result.device,
        "dtype": result.dtype, "status": result.status, "reason": result.reason, "work": result.work,
        "throughput": None, "throughput_best": None, "pct_of_peak": None, "peak": None,
        "pct_of_peak_reason": None, "pct_of_best": None, "suspicious": False, "cv": None,
        "check": result.check, "timer": result.timer, "iterations": result.iterations,
        "warmup_s": result.warmup_s, "compile_s": result.compile_s, "env": result.env, "extra": result.extra,
    }
    kind = next(iter(result.work), None)
    if stats is None:
        info["pct_of_peak_reason"] = f"no throughput: status {result.status}"
        if result.samples_s:
            info["samples_s"] = list(result.samples_s)  # kept for diagnosis, never turned into a figure
    else:
        info["cv"] = stats.pop("cv")
        if kind in WORK_UNITS:
            scale, unit = WORK_UNITS[kind]
            amount = float(result.work[kind])
            info["throughput"] = {"value": amount / stats["median"] / scale, "unit": unit}
            info["throughput_best"] = {"value": amount / stats["min"] / scale, "unit": unit}
            peak, why = find_peak(profile, result)
            info["peak"], info["pct_of_peak_reason"] = peak, why
            if peak is not None:
                per_s = amount / stats["median"]
                ceiling = peak["tflops"] * 1e12 if "tflops" in peak else peak["gbs"] * 1e9
                info["pct_of_peak"] = 100.0 * per_s / ceiling
                info["suspicious"] = info["pct_of_peak"] > 100.0
                if info["suspicious"]:
                    info["suspicious_reason"], clock = suspicious_reason(peak, per_s, info["pct_of_peak"])
                    if clock is not None:
                        info["implied_clock_ghz"] = clock
        else:
            info["pct_of_peak_reason"] = f"no throughput: work {kind!r} has no unit" if kind else "no work recorded"
    name = f"{result.name}[{result.param_id}]" if result.params else result.name
    return {
        "group": result.suite, "name": name, "fullname": result.fullname, "params": result.params or None,
        "param": result.param_id or None,
        "options": {"timer": result.timer or "unknown", "warmup": bool(result.warmup_s),
                    "min_time": None, "max_time": None, "min_rounds": stats["rounds"] if stats else None,
                    "disable_gc": False},
        "stats": stats, "extra_info": {"infrabench": info},
    }


def suspicious_reason(peak: Mapping[str, Any], per_s: float, pct: float) -> tuple[str, float | None]:
    """Why a figure above 100% of peak cannot be a fact, naming the likeliest culprit when the peak says it.

    A CPU peak whose clock is not the readable maximum (a VM's nominal clock from cpuinfo, no boost
    clock exposed) is a lower bound on the real peak: the measured rate then implies the clock the
    cores really ran at, which is the useful thing to say. Returns the reason and that clock (GHz) if any.
    """
    basis = peak.get("basis") or {}
    source = str(basis.get("ghz_source") or "")
    if basis.get("cores") and basis.get("flops_per_cycle") and basis.get("ghz") and "sysfs" not in source:
        implied_ghz = per_s / (basis["cores"] * basis["flops_per_cycle"] * 1e9)
        return (f"{pct:.0f}% of a peak computed at {basis['ghz']:g} GHz ({source}): the cores must have run "
                f"at >= {implied_ghz:.2f} GHz, so that clock is below the real one (a peak lookup limit, "
                "not a measured efficiency)"), implied_ghz
    return f"{pct:.0f}% of the theoretical peak is impossible: a measurement or peak lookup bug", None


def suspicious_warnings(entries: list[dict[str, Any]]) -> list[str]:
    """One warning per suspicious result, except that results blamed on the same low clock share one."""
    warnings: list[str] = []
    by_clock: dict[tuple[Any, str], list[dict[str, Any]]] = {}
    for e in entries:
        info = e["extra_info"]["infrabench"]
        if not info["suspicious"]:
            continue
        if info.get("implied_clock_ghz") is None:
            warnings.append(f"suspicious: {e['fullname']}: {info['suspicious_reason']}")
            continue
        basis = info["peak"]["basis"]
        by_clock.setdefault((basis["ghz"], str(basis.get("ghz_source"))), []).append(e)
    for (ghz, source), group in by_clock.items():
        top = max(g["extra_info"]["infrabench"]["implied_clock_ghz"] for g in group)
        names = ", ".join(g["fullname"] for g in group[:3]) + (f" and {len(group) - 3} more" if len(group) > 3 else "")
        warnings.append(f"suspicious: {len(group)} result(s) exceed a CPU peak computed at {ghz:g} GHz ({source}); "
                        f"they imply the cores ran at up to {top:.2f} GHz, so that clock is below the real one "
                        f"(a peak lookup limit, not a measured efficiency): {names}")
    return warnings


def device_key(profile: Mapping[str, Any], device: str) -> str:
    """One name per physical device whatever the framework calls it: numpy "cpu" and jax "cpu:0" are the
    same host; torch "cuda:0" and jax "gpu:0" the same accelerator when the profile resolves both."""
    if device == "cpu" or device.startswith("cpu:"):
        return "cpu"
    acc, _ = find_accelerator(profile, device)
    if acc is not None:
        return f"{acc.get('vendor')}:{acc.get('index')}"
    prefix, index = _split_device(device)
    return f"{prefix}:{index}"


def _apply_best(entries: list[dict[str, Any]], profile: Mapping[str, Any]) -> None:
    best: dict[tuple[str, str], float] = {}
    for e in entries:
        info = e["extra_info"]["infrabench"]
        if info["suite"] == BEST_SUITE and "flops" in info["work"] and info["throughput"]:
            key = (device_key(profile, info["device"]), info["dtype"])
            best[key] = max(best.get(key, 0.0), info["throughput"]["value"])
    for e in entries:
        info = e["extra_info"]["infrabench"]
        top = best.get((device_key(profile, info["device"]), info["dtype"]))
        if top and info["throughput"] and next(iter(info["work"]), None) == "flops":
            info["pct_of_best"] = 100.0 * info["throughput"]["value"] / top


def build_run(results: Iterable[BenchResult], profile: dict[str, Any], config: dict[str, Any],
              backends: Mapping[str, Any], interrupted: bool, run_id: str, journal_name: str,
              commit: dict[str, Any] | None = None, signal_name: str | None = None) -> dict[str, Any]:
    """The run file's dict. `backends` maps name -> {status, reason, duration_s, ...} (or objects with to_dict)."""
    from infrabench import __version__

    results = list(results)
    timed, untimed, warnings = [], [], []
    for raw in results:
        result, ok = _usable_samples(raw)
        entry = _entry(result, profile, ok)
        (timed if ok else untimed).append(entry)
    _apply_best(timed, profile)
    warnings.extend(suspicious_warnings(timed))
    if interrupted:
        warnings.append(f"the run was interrupted{f' by {signal_name}' if signal_name else ''}: "
                        "only the results finished before it are in this file")
    return {
        "machine_info": machine_info(profile),
        "commit_info": commit if commit is not None else commit_info(),
        "benchmarks": timed,
        "datetime": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        "version": PYTEST_BENCHMARK_FORMAT,
        "infrabench": {
            "schema_version": SCHEMA_VERSION, "version": __version__, "run_id": run_id, "config": config,
            "backends": {k: (v.to_dict() if hasattr(v, "to_dict") else dict(v)) for k, v in backends.items()},
            "results_without_timing": untimed, "verdicts": compute_verdicts(results, profile, config),
            "interrupted": interrupted,
            "journal": journal_name, "warnings": warnings,
        },
    }


# --- environment records -----------------------------------------------------------------------------

def machine_info(profile: Mapping[str, Any]) -> dict[str, Any]:
    """pytest-benchmark's machine_info keys (from `platform`), the CPU from the profile, and the profile."""
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
        "infrabench": dict(profile),
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


def write_atomic(path: Path, data: Any) -> Path:
    """Write text, bytes or a JSON-able object to `path` via a temporary file and os.replace (never half-written)."""
    path = Path(path)
    if isinstance(data, bytes):
        payload = data
    elif isinstance(data, str):
        payload = data.encode("utf-8")
    else:
        payload = (json.dumps(data, indent=2, default=str, allow_nan=False) + "\n").encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def run_schema() -> dict[str, Any]:
    """The JSON Schema a run file validates against; shipped inside the package."""
    return json.loads(resources.files("infrabench").joinpath("schema/run.schema.json").read_text())


def validate_run(data: Any) -> None:
    """Raise jsonschema.ValidationError when `data` is not a valid run file."""
    import jsonschema

    jsonschema.validate(data, run_schema())


def load_run(path: Path) -> dict[str, Any]:
    """Read and validate a run file; every problem is one UsageError line."""
    path = Path(path)
    data = read_json(path, truncation_hint="it may be truncated (the journal beside it keeps every finished result)")
    return checked_run(data, path)


def checked_run(data: Any, path: Path) -> dict[str, Any]:
    """`data` if it is a valid run file, else one UsageError line naming `path` and where it is wrong."""
    import jsonschema

    try:
        validate_run(data)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        message = exc.message if len(exc.message) <= 160 else exc.message[:157] + "..."
        raise UsageError(f"{path}: not an infrabench run file: {where}: {message}") from None
    return data
