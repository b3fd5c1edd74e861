"""Run-file benchmarks turned into report rows: every figure formatted, every missing one with its reason.

Works on the plain run-file dict (no pandas), so any saved run renders. A row is a dict of `Cell`s;
a cell whose figure is missing reads "—" and carries the reason as plain text beside it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

STREAM_KERNELS = ("copy", "scale", "add", "triad")
TRANSFER_NAMES = ("host_to_device", "device_to_host", "device_to_device", "h2d", "d2h", "d2d")
LATENCY_NAMES = ("dispatch_latency",)
NOT_TIMED = ("skipped", "failed", "timeout", "oom")
SUSPICIOUS_TEXT = "over 100% of theoretical peak: a measurement or lookup bug"
NOISY_IQR_FRACTION = 0.10  # IQR above 10% of the median: the figure is noisy, say so


@dataclass
class Cell:
    """One table cell: display text, the reason a figure is missing (shown beside "—"), a CSS class."""

    text: str
    reason: str | None = None
    css: str = ""
    value: Any = None  # the raw figure, for sorting and tests

    def __str__(self) -> str:
        return self.text


def missing(reason: str | None) -> Cell:
    return Cell("—", reason or "not recorded", "missing")


@dataclass
class Entry:
    """One result from either `benchmarks[]` or `infrabench.results_without_timing[]`, normalised."""

    raw: dict[str, Any]
    ib: dict[str, Any]
    stats: dict[str, Any] | None
    suite: str
    benchmark: str
    backend: str
    device: str
    dtype: str
    params: dict[str, Any]
    status: str
    reason: str | None
    fullname: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def section(self) -> str:
        """Which part of the report shows this result."""
        name = self.benchmark.removeprefix("stream_")
        if name in LATENCY_NAMES:
            return "latency"
        if self.suite == "matmul":
            return "matmul"
        if "working_set_bytes" in self.params:
            return "sweep"
        if name in TRANSFER_NAMES or "direction" in self.extra:
            return "transfer"
        if self.suite == "memory" and name in STREAM_KERNELS:
            return "stream"
        return "other"

    @property
    def median_s(self) -> float | None:
        return as_number((self.stats or {}).get("median"))

    def throughput(self, key: str = "throughput") -> tuple[float | None, str | None]:
        tp = self.ib.get(key)
        if not isinstance(tp, dict):
            return None, None
        return as_number(tp.get("value")), _str(tp.get("unit"))


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def entries(run: dict[str, Any]) -> list[Entry]:
    """Every result in the run, timed or not, in file order."""
    ib_run = as_dict(run.get("infrabench"))
    raw_items = as_list(run.get("benchmarks")) + as_list(ib_run.get("results_without_timing"))
    out = []
    for raw in raw_items:
        if not isinstance(raw, dict):
            continue
        ib = as_dict(as_dict(raw.get("extra_info")).get("infrabench"))
        stats = raw.get("stats") if isinstance(raw.get("stats"), dict) else None
        status = str(ib.get("status") or ("ok" if stats else "failed"))
        out.append(Entry(
            raw=raw, ib=ib, stats=stats,
            suite=str(ib.get("suite") or raw.get("group") or "?"),
            benchmark=str(ib.get("benchmark") or str(raw.get("name") or "?").split("[")[0]),
            backend=str(ib.get("backend") or "?"),
            device=str(ib.get("device") or "?"),
            dtype=str(ib.get("dtype") or "?"),
            params=as_dict(raw.get("params")),
            status=status,
            reason=_str(ib.get("reason")),
            fullname=str(raw.get("fullname") or raw.get("name") or "?"),
            extra=as_dict(ib.get("extra")),
        ))
    return out


# ---- formatting -------------------------------------------------------------------------------------------

def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def fmt_bytes_si(value: float | None) -> str:
    """SI units (GB = 1e9 bytes), as every throughput in the report."""
    if value is None:
        return "—"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value:g} B"


def fmt_bytes_binary(value: float | None) -> str:
    """Binary units for sizes that are powers of two (caches, working sets)."""
    if value is None:
        return "—"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value:g} B"


def fmt_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) if params else "—"


def fmt_figure(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def status_cell(entry: Entry) -> Cell:
    css = "ok" if entry.status == "ok" else ("skipped" if entry.status == "skipped" else "bad")
    return Cell(entry.status, None if entry.status == "ok" else entry.reason, css, entry.status)


def _not_timed_reason(entry: Entry) -> str:
    """Beside each missing figure of a result that was not timed: its status (the status cell has the reason)."""
    return entry.status


def time_cell(entry: Entry) -> Cell:
    median = entry.median_s
    if median is None:
        return missing(_not_timed_reason(entry) if entry.status != "ok" else "no timing samples")
    return Cell(fmt_seconds(median), value=median)


def throughput_cell(entry: Entry, key: str = "throughput") -> Cell:
    value, unit = entry.throughput(key)
    if value is None:
        return missing(_not_timed_reason(entry) if entry.status != "ok" else "no throughput recorded")
    return Cell(fmt_figure(value), value=value, css="num")


def pct_of_peak_cell(entry: Entry) -> Cell:
    pct = as_number(entry.ib.get("pct_of_peak"))
    if pct is None:
        if entry.status != "ok":
            return missing(_not_timed_reason(entry))
        return missing(_str(entry.ib.get("pct_of_peak_reason")) or "peak unknown")
    if is_suspicious(entry):
        clock = as_number(entry.ib.get("implied_clock_ghz"))
        note = (f"the peak's clock is too low: this implies >= {clock:.2f} GHz (see Warnings)" if clock is not None
                else SUSPICIOUS_TEXT)
        return Cell(f"{pct:.1f}% suspicious", note, "bad", pct)
    return Cell(f"{pct:.1f}%", value=pct, css="num")


def pct_of_best_cell(entry: Entry) -> Cell:
    pct = as_number(entry.ib.get("pct_of_best"))
    if pct is None:
        return missing(_not_timed_reason(entry) if entry.status != "ok" else "not computed")
    return Cell(f"{pct:.1f}%", value=pct, css="num")


def check_cell(entry: Entry) -> Cell:
    check = entry.ib.get("check")
    if not isinstance(check, dict):
        return missing("no correctness check recorded")
    err, tol = as_number(check.get("rel_error")), as_number(check.get("tolerance"))
    passed = check.get("passed")
    verdict = "pass" if passed is True else ("FAIL" if passed is False else "?")
    text = f"{err:.1e}" if err is not None else "—"
    if tol == 0:
        text += f" (exact match required) {verdict}"
    elif tol is not None:
        text += f" (tol {tol:.0e}) {verdict}"
    else:
        text += f" {verdict}"
    return Cell(text, None if err is not None else "error not recorded", "" if passed else "bad", err)


def is_suspicious(entry: Entry) -> bool:
    """Flagged in the file, or over 100% of peak whatever the flag says (the report re-checks)."""
    pct = as_number(entry.ib.get("pct_of_peak"))
    return bool(entry.ib.get("suspicious")) or (pct is not None and pct > 100.0)


def noisy_fraction(entry: Entry) -> float | None:
    """IQR / median of the raw samples, when both are known."""
    stats = entry.stats or {}
    iqr, median = as_number(stats.get("iqr")), as_number(stats.get("median"))
    if iqr is None or not median:
        return None
    return iqr / median


def _size_key(entry: Entry) -> tuple:
    return tuple(v if isinstance(v, (int, float)) else 0 for v in entry.params.values())


def _sorted(items: Iterable[Entry], *keys: str) -> list[Entry]:
    return sorted(items, key=lambda e: tuple(str(getattr(e, k)) for k in keys) + _size_key(e))


# ---- the tables -------------------------------------------------------------------------------------------

def in_section(all_entries: list[Entry], section: str, with_skipped: bool = False) -> list[Entry]:
    """A section's results; skipped ones only where asked (they are all listed under "Skipped, failed ...")."""
    return [e for e in all_entries if e.section == section and (with_skipped or e.status != "skipped")]


def skipped_count(all_entries: list[Entry], section: str) -> int:
    return sum(1 for e in all_entries if e.section == section and e.status == "skipped")


def matmul_rows(all_entries: list[Entry]) -> list[dict[str, Cell]]:
    rows = []
    for e in _sorted(in_section(all_entries, "matmul"), "device", "dtype", "benchmark", "backend"):
        rows.append({
            "benchmark": Cell(e.benchmark), "params": Cell(fmt_params(e.params)), "backend": Cell(e.backend),
            "device": Cell(e.device), "dtype": Cell(e.dtype), "median": time_cell(e),
            "tflops": throughput_cell(e), "tflops_best": throughput_cell(e, "throughput_best"),
            "pct_peak": pct_of_peak_cell(e), "pct_best": pct_of_best_cell(e), "check": check_cell(e),
            "status": status_cell(e),
        })
    return rows


def _bytes_counted(e: Entry) -> tuple[Cell, Cell]:
    """Bytes one iteration counted, and how the suite says it counted them (formula, read/written split)."""
    work = as_dict(e.ib.get("work"))
    nbytes = as_number(work.get("bytes"))
    if nbytes is not None:
        count_cell = Cell(fmt_bytes_si(nbytes), value=nbytes)
    else:
        count_cell = missing(_not_timed_reason(e) if e.status != "ok" else "no bytes recorded")
    parts = []
    formula = e.extra.get("kernel")
    if isinstance(formula, str) and formula:
        parts.append(formula)
    read, written = as_number(e.extra.get("bytes_read")), as_number(e.extra.get("bytes_written"))
    if read is not None and written is not None:
        parts.append(f"read {fmt_bytes_si(read)} + written {fmt_bytes_si(written)}")
    counting = _str(e.extra.get("bytes_counting") or e.extra.get("counting"))
    if counting:
        parts.append(counting)
    how = Cell("; ".join(parts)) if counting else missing(
        ("; ".join(parts) + "; " if parts else "") + "counting convention not recorded by the suite")
    return count_cell, how


NOTE_KEYS = ("threading", "dtype_note", "overhead_note", "timing_notes")


def notes_cell(e: Entry) -> Cell:
    """Caveats the suite attached to a result (threading, dtype substitutions, dispatch overhead ...)."""
    notes = []
    for key in NOTE_KEYS:
        value = e.extra.get(key)
        if isinstance(value, list):
            notes.extend(str(v) for v in value)
        elif value:
            notes.append(str(value))
    return Cell("; ".join(notes))


def stream_rows(all_entries: list[Entry]) -> list[dict[str, Cell]]:
    order = {k: i for i, k in enumerate(STREAM_KERNELS)}
    items = in_section(all_entries, "stream")
    items.sort(key=lambda e: (e.device, e.backend, order.get(e.benchmark.removeprefix("stream_"), 9)))
    rows = []
    for e in items:
        counted, how = _bytes_counted(e)
        rows.append({
            "kernel": Cell(e.benchmark), "backend": Cell(e.backend), "device": Cell(e.device),
            "dtype": Cell(e.dtype), "params": Cell(fmt_params(e.params)), "bytes": counted, "counting": how,
            "median": time_cell(e), "gbs": throughput_cell(e), "gbs_best": throughput_cell(e, "throughput_best"),
            "pct_peak": pct_of_peak_cell(e), "status": status_cell(e), "notes": notes_cell(e),
        })
    return rows


def sweep_rows(all_entries: list[Entry]) -> list[dict[str, Cell]]:
    rows = []
    items = in_section(all_entries, "sweep")
    items.sort(key=lambda e: (e.device, e.backend, as_number(e.params.get("working_set_bytes")) or 0))
    for e in items:
        ws = as_number(e.params.get("working_set_bytes"))
        level = _str(e.extra.get("level"))
        rows.append({
            "backend": Cell(e.backend), "device": Cell(e.device), "dtype": Cell(e.dtype),
            "working_set": Cell(fmt_bytes_binary(ws), value=ws),
            "level": Cell(level) if level else missing("level not labelled"),
            "gbs": throughput_cell(e), "status": status_cell(e), "notes": notes_cell(e),
        })
    return rows


def latency_rows(all_entries: list[Entry]) -> list[dict[str, Cell]]:
    rows = []
    for e in _sorted(in_section(all_entries, "latency"), "device", "backend"):
        stats = e.stats or {}
        med, best, iqr = (as_number(stats.get(k)) for k in ("median", "min", "iqr"))

        def us(v: float | None, e: Entry = e) -> Cell:
            if v is None:
                return missing(_not_timed_reason(e) if e.status != "ok" else "not recorded")
            return Cell(f"{v * 1e6:.3g}", value=v * 1e6, css="num")

        rows.append({
            "backend": Cell(e.backend), "device": Cell(e.device), "dtype": Cell(e.dtype),
            "params": Cell(fmt_params(e.params)), "median_us": us(med), "min_us": us(best), "iqr_us": us(iqr),
            "iterations": Cell(str(stats.get("iterations", "—"))), "status": status_cell(e),
        })
    return rows


def transfer_rows(all_entries: list[Entry]) -> list[dict[str, Cell]]:
    rows = []
    for e in _sorted(in_section(all_entries, "transfer", with_skipped=True), "device", "backend", "benchmark"):
        counted, _ = _bytes_counted(e)
        rows.append({
            "direction": Cell(e.benchmark), "backend": Cell(e.backend), "device": Cell(e.device),
            "params": Cell(fmt_params(e.params)), "bytes": counted, "median": time_cell(e),
            "gbs": throughput_cell(e), "status": status_cell(e),
        })
    return rows


def other_rows(all_entries: list[Entry]) -> list[dict[str, Cell]]:
    """Results no section knows: shown generically rather than dropped."""
    rows = []
    for e in _sorted(in_section(all_entries, "other"), "suite", "benchmark", "backend"):
        value, unit = e.throughput()
        rows.append({
            "suite": Cell(e.suite), "benchmark": Cell(e.benchmark), "params": Cell(fmt_params(e.params)),
            "backend": Cell(e.backend), "device": Cell(e.device), "dtype": Cell(e.dtype),
            "median": time_cell(e),
            "throughput": Cell(f"{fmt_figure(value)} {unit or ''}".strip(), value=value) if value is not None
            else missing(_not_timed_reason(e) if e.status != "ok" else "no throughput recorded"),
            "status": status_cell(e),
        })
    return rows


def not_measured_rows(all_entries: list[Entry]) -> list[dict[str, Cell]]:
    rows = []
    for e in all_entries:
        if e.status == "ok":
            continue
        rows.append({
            "result": Cell(e.fullname), "status": Cell(e.status, css=status_cell(e).css, value=e.status),
            "reason": Cell(e.reason) if e.reason else missing("no reason recorded"),
        })
    order = {s: i for i, s in enumerate(("failed", "oom", "timeout", "skipped"))}
    rows.sort(key=lambda r: (order.get(r["status"].text, 9), r["result"].text))
    return rows


def warnings(run: dict[str, Any], all_entries: list[Entry]) -> list[dict[str, str]]:
    """Everything a reader must not miss, each as {"kind", "subject", "text"}."""
    out: list[dict[str, str]] = []
    ib_run = as_dict(run.get("infrabench"))
    run_warnings = [str(w) for w in as_list(ib_run.get("warnings")) if w]
    suspicious_names = [e.fullname for e in all_entries if is_suspicious(e)]
    if ib_run.get("interrupted") is True:
        recorded = next((w for w in run_warnings if "interrupted" in w), None)
        out.append({"kind": "interrupted", "subject": "run", "text": recorded or
                    "the run was interrupted: only the results finished before it are in the file"})
    for text in run_warnings:
        if "interrupted" in text and ib_run.get("interrupted") is True:
            continue
        if text.startswith("suspicious:") or any(text.startswith(f"{name}:") for name in suspicious_names):
            continue  # restated below, one per result, with its peak and source
        out.append({"kind": "run", "subject": "run", "text": text})
    for e in all_entries:
        if is_suspicious(e):
            pct = as_number(e.ib.get("pct_of_peak"))
            peak = as_dict(e.ib.get("peak"))
            peak_text = ""
            if as_number(peak.get("tflops")) is not None:
                peak_text = (f" of a {fmt_figure(as_number(peak.get('tflops')))} TFLOP/s peak "
                             f"(confidence {peak.get('confidence') or 'unknown'}; source: "
                             f"{peak.get('source') or 'not recorded'})")
            pct_text = f"{pct:.1f}%" if pct is not None else "flagged"
            why = _str(e.ib.get("suspicious_reason")) or SUSPICIOUS_TEXT
            out.append({"kind": "suspicious", "subject": e.fullname, "text": f"{pct_text}{peak_text} — {why}"})
    for e in all_entries:
        check = e.ib.get("check")
        if isinstance(check, dict) and check.get("passed") is False:
            out.append({"kind": "correctness", "subject": e.fullname,
                        "text": f"correctness check failed ({check_cell(e).text}); no throughput is shown for it"})
    for e in all_entries:
        frac = noisy_fraction(e)
        if e.status == "ok" and frac is not None and frac > NOISY_IQR_FRACTION:
            out.append({"kind": "noisy", "subject": e.fullname,
                        "text": f"noisy: the IQR of the samples is {100 * frac:.0f}% of the median"})
    for name, info in sorted(as_dict(ib_run.get("backends")).items()):
        info = as_dict(info)
        if info.get("status") not in (None, "ok"):
            out.append({"kind": "backend", "subject": str(name),
                        "text": f"backend {info.get('status')}: {info.get('reason') or 'no reason recorded'}"})
    return out


def timing_notes(all_entries: list[Entry]) -> dict[str, Any]:
    """What the "how this was measured" section states, read from the results themselves."""
    timers: dict[str, set[str]] = {}
    tolerances: dict[tuple[str, str, float], str] = {}
    rounds: list[int] = []
    iterations: list[int] = []
    warmups: list[float] = []
    compiles: list[float] = []
    min_times: set[str] = set()
    not_rotated = 0
    level_basis: str | None = None
    for e in all_entries:
        if e.status != "ok":
            continue
        not_rotated += e.extra.get("buffers_rotated") is False
        level_basis = level_basis or _str(e.extra.get("level_basis"))
        key = f"{e.backend} on {e.device}"
        timer = e.ib.get("timer") or as_dict(e.raw.get("options")).get("timer")
        timers.setdefault(key, set()).add(str(timer) if timer else "not recorded")
        check = e.ib.get("check")
        tol = as_number(check.get("tolerance")) if isinstance(check, dict) else None
        if isinstance(check, dict) and tol is not None:
            tolerances.setdefault((e.suite, e.dtype, tol), str(check.get("reference") or "not recorded"))
        stats = e.stats or {}
        for bucket, value in ((rounds, stats.get("rounds")), (iterations, stats.get("iterations"))):
            if isinstance(value, int):
                bucket.append(value)
        for bucket, value in ((warmups, e.ib.get("warmup_s")), (compiles, e.ib.get("compile_s"))):
            if as_number(value) is not None:
                bucket.append(float(value))
        min_time = as_number(as_dict(e.raw.get("options")).get("min_time"))
        if min_time is not None:
            min_times.add(fmt_seconds(min_time))

    def span(values: list[float] | list[int], fmt=str) -> str:
        if not values:
            return "not recorded"
        lo, hi = min(values), max(values)
        return fmt(lo) if lo == hi else f"{fmt(lo)} – {fmt(hi)}"

    return {
        "timers": sorted((k, ", ".join(sorted(v))) for k, v in timers.items()),
        "tolerances": [{"suite": suite, "dtype": dtype, "tolerance": "exact" if tol == 0 else f"{tol:.0e}",
                        "reference": ref} for (suite, dtype, tol), ref in sorted(tolerances.items())],
        "rounds": span(rounds),
        "iterations": span(iterations),
        "warmup": span(warmups, fmt_seconds),
        "compile": span(compiles, fmt_seconds),
        "min_sample": ", ".join(sorted(min_times)) or None,
        "not_rotated": not_rotated,
        "level_basis": level_basis,
    }


def backend_env_rows(all_entries: list[Entry]) -> list[dict[str, str]]:
    """The environment each backend ran with (threads, BLAS and its kernel, tf32, x64), as the results record it."""
    seen: dict[tuple[str, str], dict[str, set[str]]] = {}
    for e in all_entries:
        env = as_dict(e.ib.get("env"))
        target = seen.setdefault((e.backend, e.device), {})
        for k, v in env.items():
            target.setdefault(str(k), set()).add(str(v))
    rows = []
    for (backend, device), env in sorted(seen.items()):
        text = "; ".join(f"{k}={' | '.join(sorted(v))}" for k, v in sorted(env.items())) or "not recorded"
        rows.append({"backend": backend, "device": device, "env": text})
    return rows


# ---- machine summary (from machine_info.infrabench, the MachineProfile) ------------------------------------

def _field(record: dict[str, Any], key: str, fmt=None) -> Cell:
    """A profile field, or "—" with the profile's own reason for the null."""
    value = record.get(key)
    if value is None or value == [] or value == {}:
        reasons = as_dict(record.get("null_reasons"))
        return missing(_str(reasons.get(key)) or "not recorded")
    if isinstance(value, bool):
        return Cell("yes" if value else "no", value=value)
    return Cell(fmt(value) if fmt else str(value), value=value)


def _join(values: Any) -> str:
    return ", ".join(str(v) for v in values) if isinstance(values, list) else str(values)


def _mhz(value: Any) -> str:
    return f"{value:g} MHz" if isinstance(value, (int, float)) else str(value)


def _bytes(value: Any) -> str:
    return fmt_bytes_binary(as_number(value)) if as_number(value) is not None else str(value)


def peak_rows(peaks: Any) -> list[dict[str, Cell]]:
    rows = []
    for p in peaks if isinstance(peaks, list) else []:
        p = as_dict(p)
        tflops = as_number(p.get("tflops"))
        basis = as_dict(p.get("basis"))
        basis_text = ""
        if basis:
            parts = [f"{basis.get('cores')} cores" if basis.get("cores") is not None else "",
                     f"{basis.get('ghz')} GHz" if basis.get("ghz") is not None else "",
                     f"{basis.get('flops_per_cycle')} FLOPs/cycle/core" if basis.get("flops_per_cycle") else ""]
            basis_text = " × ".join(x for x in parts if x)
            if basis.get("isa"):
                basis_text += f" ({basis.get('isa')})"
        rows.append({
            "dtype": Cell(str(p.get("dtype") or "?")),
            "tflops": Cell(f"{tflops:g}", value=tflops, css="num") if tflops is not None
            else missing(_str(p.get("reason")) or "unknown"),
            "confidence": Cell(str(p.get("confidence") or "unknown")),
            "source": Cell(str(p.get("source"))) if p.get("source") else missing(_str(p.get("reason"))),
            "basis": Cell(basis_text) if basis_text else Cell(""),
            "note": Cell(str(p.get("reason"))) if tflops is not None and p.get("reason") else Cell(""),
        })
    return rows


def machine_profile(run: dict[str, Any]) -> dict[str, Any]:
    """The MachineProfile the run recorded ({} when absent)."""
    return as_dict(as_dict(run.get("machine_info")).get("infrabench"))


def machine_summary(run: dict[str, Any]) -> dict[str, Any]:
    """Host, CPU, memory, accelerators and software as labelled cells; nulls keep the profile's reasons."""
    profile = machine_profile(run)
    if not profile:
        return {"present": False}
    host, cpu, mem, sw = (as_dict(profile.get(k)) for k in ("host", "cpu", "memory", "software"))
    hypervisor = host.get("hypervisor_vendor")
    host_rows = [
        ("hostname", _field(host, "hostname")), ("OS", _field(host, "os")), ("kernel", _field(host, "kernel")),
        ("architecture", _field(host, "arch")),
        ("virtualised", _field(host, "virtualized", lambda v: v) if not hypervisor
         else Cell(f"yes ({hypervisor})" if host.get("virtualized") else f"no ({hypervisor})")),
        ("container", _field(host, "container")), ("scheduler", _field(host, "scheduler")),
    ]
    caches = [c for c in as_list(cpu.get("caches")) if isinstance(c, dict)]
    cache_text = "; ".join(
        f"{c.get('name')} {_bytes(c.get('size_bytes'))}" + (f" ×{c.get('instances')}" if c.get("instances") else "")
        for c in caches)
    freq_sources = as_dict(cpu.get("frequency_sources"))
    freq_cells = []
    for key in ("max_frequency_mhz", "base_frequency_mhz", "current_frequency_mhz"):
        c = _field(cpu, key, _mhz)
        if c.value is not None and freq_sources.get(key):
            c = Cell(f"{c.text} (from {freq_sources[key]})", value=c.value)
        freq_cells.append((key.replace("_frequency_mhz", " frequency"), c))
    cpu_rows = [
        ("model", _field(cpu, "model_name")), ("vendor", _field(cpu, "vendor")),
        ("microarchitecture", _field(cpu, "microarchitecture")), ("sockets", _field(cpu, "sockets")),
        ("physical cores", _field(cpu, "physical_cores")), ("logical CPUs", _field(cpu, "logical_cpus")),
        ("usable CPUs (affinity, cpuset, quota)", _field(cpu, "usable_cpus")),
        ("usable cores", _field(cpu, "usable_cores")),
        ("ISA highlights", _field(cpu, "isa_flags", _join)),
        ("caches", Cell(cache_text) if cache_text else _field(cpu, "caches")),
        *freq_cells,
    ]
    mem_rows = [
        ("total", _field(mem, "total_bytes", _bytes)), ("usable", _field(mem, "usable_bytes", _bytes)),
        ("cgroup limit", _field(mem, "cgroup_limit_bytes", _bytes)), ("swap", _field(mem, "swap_total_bytes", _bytes)),
        ("NUMA nodes", _field(mem, "numa_nodes")),
    ]
    accelerators = []
    for acc in as_list(profile.get("accelerators")):
        acc = as_dict(acc)
        title = f"{acc.get('index', '?')}: {acc.get('name') or 'unnamed'} ({acc.get('vendor') or 'vendor unknown'})"
        pcie = (f"gen {acc.get('pcie_gen')} x{acc.get('pcie_width')}" if acc.get("pcie_gen") is not None
                else None)
        rows = [
            ("SKU (peak lookup)", _field(acc, "sku")), ("memory", _field(acc, "memory_total_bytes", _bytes)),
            ("compute units", _field(acc, "compute_units")), ("compute capability", _field(acc, "compute_capability")),
            ("SM clock / max", Cell(f"{acc.get('sm_clock_mhz')} / {acc.get('sm_clock_max_mhz')} MHz")
             if acc.get("sm_clock_max_mhz") is not None else _field(acc, "sm_clock_max_mhz")),
            ("power limit", _field(acc, "power_limit_w", lambda v: f"{v:g} W")),
            ("PCIe", Cell(pcie) if pcie else _field(acc, "pcie_gen")),
            ("MIG mode", _field(acc, "mig_mode")), ("ECC", _field(acc, "ecc_enabled")),
            ("driver / runtime", Cell(f"{acc.get('driver_version')} / {acc.get('runtime_version')}")
             if acc.get("driver_version") else _field(acc, "driver_version")),
            ("peak memory bandwidth", _field(acc, "peak_memory_bandwidth_gbs", lambda v: f"{v:g} GB/s")),
            ("detected by", _field(acc, "detected_by")),
        ]
        accelerators.append({"title": title, "rows": rows, "peaks": peak_rows(acc.get("peaks"))})
    probes = [as_dict(p) for p in as_list(profile.get("probes"))]
    accel_probes = [p for p in probes if p.get("name") in ("nvidia", "amd", "tpu", "torch_devices")]
    bad_probes = [p for p in probes if p.get("status") in ("error", "timeout", "no_permission")]
    return {
        "present": True,
        "collected_at": profile.get("collected_at"),
        "host": host_rows, "cpu": cpu_rows, "cpu_peaks": peak_rows(cpu.get("peaks")), "memory": mem_rows,
        "accelerators": accelerators, "accelerator_probes": accel_probes, "bad_probes": bad_probes,
        "software": software_rows(sw),
    }


def software_rows(sw: dict[str, Any]) -> list[tuple[str, Cell]]:
    rows: list[tuple[str, Cell]] = [
        ("Python", Cell(f"{sw.get('python_implementation') or ''} {sw.get('python_version')}".strip())
         if sw.get("python_version") else _field(sw, "python_version")),
        ("numpy", _field(sw, "numpy_version")),
    ]
    build = as_dict(sw.get("numpy_blas_build"))
    if build:
        rows.append(("numpy BLAS (build)", Cell(f"{build.get('name')} {build.get('version') or ''}".strip())))
    for pool in as_list(sw.get("threadpools")):
        pool = as_dict(pool)
        rows.append((f"thread pool: {pool.get('user_api') or '?'}",
                     Cell(f"{pool.get('internal_api')} {pool.get('version') or ''}, kernel "
                          f"{pool.get('architecture') or 'unknown'}, {pool.get('num_threads')} threads, "
                          f"{pool.get('threading_layer') or 'threading layer unknown'}")))
    for name in ("torch", "jax"):
        fw = as_dict(sw.get(name))
        if not fw:
            continue
        if not fw.get("installed", True):
            rows.append((name, missing(_str(as_dict(fw.get("null_reasons")).get("version")) or "not installed")))
            continue
        parts = [str(fw.get("version"))]
        for key, label in (("cuda_build", "CUDA"), ("hip_build", "HIP"), ("default_backend", "backend"),
                           ("num_threads", "threads"), ("enable_x64", "x64")):
            if fw.get(key) is not None:
                parts.append(f"{label} {fw.get(key)}")
        if fw.get("devices"):
            parts.append("devices " + _join(fw.get("devices")))
        rows.append((name, Cell(", ".join(parts))))
    env = as_dict(sw.get("env"))
    rows.append(("environment variables", Cell("; ".join(f"{k}={v}" for k, v in sorted(env.items())))
                 if env else Cell("none of the relevant ones set")))
    return rows
