"""The report's rows per section (matmul, STREAM, cache sweep, latency, transfers, other, not measured)
and the warnings a reader must not miss, from the results model's benchmarks."""

from __future__ import annotations

from collections.abc import Iterable

from infrabench.results import Benchmark, MemoryFigures, Run

from .cells import Cell, as_number, fmt_bytes_binary, fmt_bytes_si, fmt_figure, fmt_params, fmt_seconds, missing

STREAM_KERNELS = ("copy", "scale", "add", "triad")
TRANSFER_NAMES = ("host_to_device", "device_to_host", "device_to_device", "h2d", "d2h", "d2d")
LATENCY_NAMES = ("dispatch_latency",)
SUSPICIOUS_TEXT = "over 100% of theoretical peak: a measurement or lookup bug"
NOISY_IQR_FRACTION = 0.10  # IQR above 10% of the median: the figure is noisy, say so
EXPECTED_STATUSES = ("skipped",)  # not an error: a backend not installed, a device absent, a size out of range


def section_of(b: Benchmark) -> str:
    """Which part of the report shows this result."""
    name = b.name.removeprefix("stream_")
    if name in LATENCY_NAMES:
        return "latency"
    if b.suite == "matmul":
        return "matmul"
    if "working_set_bytes" in b.params:
        return "sweep"
    if name in TRANSFER_NAMES or (isinstance(b.figures, MemoryFigures) and b.figures.direction is not None) \
            or "direction" in b.figures.other:
        return "transfer"
    if b.suite == "memory" and name in STREAM_KERNELS:
        return "stream"
    return "other"


def throughput_of(b: Benchmark, best: bool = False) -> tuple[float | None, str | None]:
    tp = b.throughput_best if best else b.throughput
    return (tp.value, tp.unit or None) if tp is not None else (None, None)


def is_suspicious(b: Benchmark) -> bool:
    """Flagged in the file, or over 100% of peak whatever the flag says (the report re-checks)."""
    return b.suspicious or (b.pct_of_peak is not None and b.pct_of_peak > 100.0)


def noisy_fraction(b: Benchmark) -> float | None:
    """IQR / median of the raw samples, when both are known."""
    if b.stats is None:
        return None
    iqr, median = as_number(b.stats.iqr), as_number(b.stats.median)
    if iqr is None or not median:
        return None
    return iqr / median


# ---- cells ------------------------------------------------------------------------------------------------

def status_css(status: str | None) -> str:
    """The one styling rule for a status: ok, expected skip (muted), or error (alarming)."""
    if status == "ok":
        return "ok"
    return "skipped" if status in EXPECTED_STATUSES else "bad"


def status_cell(b: Benchmark) -> Cell:
    return Cell(b.status, None if b.status == "ok" else b.reason, status_css(b.status), b.status)


def _why_missing(b: Benchmark, ok_reason: str) -> Cell:
    """Beside each missing figure of a result that was not timed: its status (the status cell has the reason)."""
    return missing(b.status if b.status != "ok" else ok_reason)


def time_cell(b: Benchmark) -> Cell:
    median = b.median_s
    if median is None:
        return _why_missing(b, "no timing samples")
    return Cell(fmt_seconds(median), value=median)


def throughput_cell(b: Benchmark, best: bool = False) -> Cell:
    value, _ = throughput_of(b, best)
    if value is None:
        return _why_missing(b, "no throughput recorded")
    return Cell(fmt_figure(value), value=value, css="num")


def pct_of_peak_cell(b: Benchmark) -> Cell:
    pct = b.pct_of_peak
    if pct is None:
        if b.status != "ok":
            return missing(b.status)
        return missing(b.pct_of_peak_reason or "peak unknown")
    if is_suspicious(b):
        clock = b.implied_clock_ghz
        note = (f"the peak's clock is too low: this implies >= {clock:.2f} GHz (see Warnings)" if clock is not None
                else SUSPICIOUS_TEXT)
        return Cell(f"{pct:.1f}% suspicious", note, "bad", pct)
    return Cell(f"{pct:.1f}%", value=pct, css="num")


def pct_of_best_cell(b: Benchmark) -> Cell:
    if b.pct_of_best is None:
        return _why_missing(b, "not computed")
    return Cell(f"{b.pct_of_best:.1f}%", value=b.pct_of_best, css="num")


def check_cell(b: Benchmark) -> Cell:
    check = b.check
    if check is None:
        return missing("no correctness check recorded")
    err, tol, passed = check.rel_error, check.tolerance, check.passed
    verdict = "pass" if passed is True else ("FAIL" if passed is False else "?")
    not_finite = check.other.get("rel_error_not_finite")
    text = f"{err:.1e}" if err is not None else (str(not_finite) if not_finite else "—")
    if tol == 0:
        text += f" (exact match required) {verdict}"
    elif tol is not None:
        text += f" (tol {tol:.0e}) {verdict}"
    else:
        text += f" {verdict}"
    why = None if err is not None else ("NaN or inf in the output" if not_finite else "error not recorded")
    return Cell(text, why, "" if passed else "bad", err)


def _bytes_counted(b: Benchmark) -> tuple[Cell, Cell]:
    """Bytes one iteration counted, and how the suite says it counted them (formula, read/written split)."""
    nbytes = b.work.get("bytes")
    count_cell = (Cell(fmt_bytes_si(nbytes), value=nbytes) if nbytes is not None
                  else _why_missing(b, "no bytes recorded"))
    fig = b.figures
    parts = []
    formula = fig.value("kernel")
    if isinstance(formula, str) and formula:
        parts.append(formula)
    read, written = as_number(fig.value("bytes_read")), as_number(fig.value("bytes_written"))
    if read is not None and written is not None:
        parts.append(f"read {fmt_bytes_si(read)} + written {fmt_bytes_si(written)}")
    counting = fig.value("bytes_counting") or fig.value("counting")
    counting = None if counting is None else str(counting)
    if counting:
        parts.append(counting)
    how = Cell("; ".join(parts)) if counting else missing(
        ("; ".join(parts) + "; " if parts else "") + "counting convention not recorded by the suite")
    return count_cell, how


def notes_cell(b: Benchmark) -> Cell:
    """Caveats the suite attached to a result (threading, dtype substitutions, dispatch overhead ...)."""
    return Cell("; ".join(b.notes))


def footnotes(table: list[dict[str, Cell]], key: str) -> list[str]:
    """Notes repeated row after row moved under the table, so no column grows wide: each distinct text once,
    numbered in order; the cell keeps its number, with the full text as tooltip (and as its value)."""
    texts: list[str] = []
    for row in table:
        text = row[key].text
        if not text:
            continue
        if text not in texts:
            texts.append(text)
        row[key] = Cell(f"[{texts.index(text) + 1}]", css="note-ref", value=text, title=text)
    return texts


def _size_key(b: Benchmark) -> tuple:
    return tuple(v if isinstance(v, (int, float)) else 0 for v in b.params.values())


def _sorted(items: Iterable[Benchmark], *keys: str) -> list[Benchmark]:
    return sorted(items, key=lambda b: tuple(str(getattr(b, k)) for k in keys) + _size_key(b))


# ---- the tables -------------------------------------------------------------------------------------------

def in_section(all_entries: list[Benchmark], section: str, with_skipped: bool = False) -> list[Benchmark]:
    """A section's results; skipped ones only where asked (they are all listed under "Skipped, failed ...")."""
    return [b for b in all_entries if section_of(b) == section and (with_skipped or b.status != "skipped")]


def skipped_count(all_entries: list[Benchmark], section: str) -> int:
    return sum(1 for b in all_entries if section_of(b) == section and b.status == "skipped")


def matmul_rows(all_entries: list[Benchmark]) -> list[dict[str, Cell]]:
    rows = []
    for b in _sorted(in_section(all_entries, "matmul"), "device", "dtype", "name", "backend"):
        rows.append({
            "benchmark": Cell(b.name), "params": Cell(fmt_params(b.params)), "backend": Cell(b.backend),
            "device": Cell(b.device), "dtype": Cell(b.dtype), "median": time_cell(b),
            "tflops": throughput_cell(b), "tflops_best": throughput_cell(b, best=True),
            "pct_peak": pct_of_peak_cell(b), "pct_best": pct_of_best_cell(b), "check": check_cell(b),
            "status": status_cell(b),
        })
    return rows


def stream_rows(all_entries: list[Benchmark]) -> list[dict[str, Cell]]:
    order = {k: i for i, k in enumerate(STREAM_KERNELS)}
    items = in_section(all_entries, "stream")
    items.sort(key=lambda b: (b.device, b.backend, order.get(b.name.removeprefix("stream_"), 9)))
    rows = []
    for b in items:
        counted, how = _bytes_counted(b)
        rows.append({
            "kernel": Cell(b.name), "backend": Cell(b.backend), "device": Cell(b.device),
            "dtype": Cell(b.dtype), "params": Cell(fmt_params(b.params)), "bytes": counted, "counting": how,
            "median": time_cell(b), "gbs": throughput_cell(b), "gbs_best": throughput_cell(b, best=True),
            "pct_peak": pct_of_peak_cell(b), "status": status_cell(b), "notes": notes_cell(b),
        })
    return rows


def sweep_rows(all_entries: list[Benchmark]) -> list[dict[str, Cell]]:
    rows = []
    items = in_section(all_entries, "sweep")
    items.sort(key=lambda b: (b.device, b.backend, as_number(b.params.get("working_set_bytes")) or 0))
    for b in items:
        ws = as_number(b.params.get("working_set_bytes"))
        level = b.figures.value("level")
        rows.append({
            "backend": Cell(b.backend), "device": Cell(b.device), "dtype": Cell(b.dtype),
            "working_set": Cell(fmt_bytes_binary(ws), value=ws),
            "level": Cell(str(level)) if level else missing("level not labelled"),
            "gbs": throughput_cell(b), "status": status_cell(b), "notes": notes_cell(b),
        })
    return rows


def latency_rows(all_entries: list[Benchmark]) -> list[dict[str, Cell]]:
    rows = []
    for b in _sorted(in_section(all_entries, "latency"), "device", "backend"):
        stats = b.stats
        med, best, iqr = ((as_number(stats.median), as_number(stats.min), as_number(stats.iqr)) if stats
                          else (None, None, None))

        def us(v: float | None, b: Benchmark = b) -> Cell:
            if v is None:
                return _why_missing(b, "not recorded")
            return Cell(f"{v * 1e6:.3g}", value=v * 1e6, css="num")

        iterations = stats.iterations if stats and stats.iterations is not None else "—"
        rows.append({
            "backend": Cell(b.backend), "device": Cell(b.device), "dtype": Cell(b.dtype),
            "params": Cell(fmt_params(b.params)), "median_us": us(med), "min_us": us(best), "iqr_us": us(iqr),
            "iterations": Cell(str(iterations)), "status": status_cell(b),
        })
    return rows


def transfer_rows(all_entries: list[Benchmark]) -> list[dict[str, Cell]]:
    rows = []
    for b in _sorted(in_section(all_entries, "transfer", with_skipped=True), "device", "backend", "name"):
        counted, _ = _bytes_counted(b)
        rows.append({
            "direction": Cell(b.name), "backend": Cell(b.backend), "device": Cell(b.device),
            "params": Cell(fmt_params(b.params)), "bytes": counted, "median": time_cell(b),
            "gbs": throughput_cell(b), "status": status_cell(b),
        })
    return rows


def other_rows(all_entries: list[Benchmark]) -> list[dict[str, Cell]]:
    """Results no section knows: shown generically rather than dropped."""
    rows = []
    for b in _sorted(in_section(all_entries, "other"), "suite", "name", "backend"):
        value, unit = throughput_of(b)
        rows.append({
            "suite": Cell(b.suite), "benchmark": Cell(b.name), "params": Cell(fmt_params(b.params)),
            "backend": Cell(b.backend), "device": Cell(b.device), "dtype": Cell(b.dtype),
            "median": time_cell(b),
            "throughput": Cell(f"{fmt_figure(value)} {unit or ''}".strip(), value=value) if value is not None
            else _why_missing(b, "no throughput recorded"),
            "status": status_cell(b),
        })
    return rows


def not_measured_rows(all_entries: list[Benchmark]) -> list[dict[str, Cell]]:
    rows = []
    for b in all_entries:
        if b.status == "ok":
            continue
        rows.append({
            "result": Cell(b.fullname), "status": Cell(b.status, css=status_cell(b).css, value=b.status),
            "reason": Cell(b.reason) if b.reason else missing("no reason recorded"),
        })
    order = {s: i for i, s in enumerate(("failed", "oom", "timeout", "skipped"))}
    rows.sort(key=lambda r: (order.get(r["status"].text, 9), r["result"].text))
    return rows


def warnings(run: Run, all_entries: list[Benchmark]) -> list[dict[str, str]]:
    """Everything a reader must not miss, each as {"kind", "subject", "text", "level"} (level: the CSS class,
    "bad" or "warn"). A backend skipped as expected (not installed) is no warning: the backends table and
    "Skipped, failed …" list it with its reason."""
    out: list[dict[str, str]] = []
    suspicious_names = [b.fullname for b in all_entries if is_suspicious(b)]
    if run.interrupted:
        recorded = next((w for w in run.warnings if "interrupted" in w), None)
        out.append({"kind": "interrupted", "subject": "run", "text": recorded or
                    "the run was interrupted: only the results finished before it are in the file"})
    for text in run.warnings:
        if "interrupted" in text and run.interrupted:
            continue
        if text.startswith("suspicious:") or any(text.startswith(f"{name}:") for name in suspicious_names):
            continue  # restated below, one per result, with its peak and source
        out.append({"kind": "run", "subject": "run", "text": text})
    for b in all_entries:
        if is_suspicious(b):
            pct = b.pct_of_peak
            peak_text = ""
            if b.peak is not None and b.peak.tflops is not None:
                peak_text = (f" of a {fmt_figure(b.peak.tflops)} TFLOP/s peak "
                             f"(confidence {b.peak.confidence or 'unknown'}; source: "
                             f"{b.peak.source or 'not recorded'})")
            pct_text = f"{pct:.1f}%" if pct is not None else "flagged"
            why = b.suspicious_reason or SUSPICIOUS_TEXT
            out.append({"kind": "suspicious", "subject": b.fullname, "text": f"{pct_text}{peak_text} — {why}"})
    for b in all_entries:
        if b.check is not None and b.check.passed is False:
            out.append({"kind": "correctness", "subject": b.fullname,
                        "text": f"correctness check failed ({check_cell(b).text}); no throughput is shown for it"})
    for b in all_entries:
        frac = noisy_fraction(b)
        if b.status == "ok" and frac is not None and frac > NOISY_IQR_FRACTION:
            out.append({"kind": "noisy", "subject": b.fullname,
                        "text": f"noisy: the IQR of the samples is {100 * frac:.0f}% of the median"})
    for name, outcome in sorted(run.backends.items()):
        if outcome.status not in (None, "ok", *EXPECTED_STATUSES):
            out.append({"kind": "backend", "subject": str(name),
                        "text": f"backend {outcome.status}: {outcome.reason or 'no reason recorded'}"})
    for w in out:
        w["level"] = "warn" if w["kind"] == "noisy" else "bad"
    return out


def backend_env_rows(all_entries: list[Benchmark]) -> list[dict[str, str]]:
    """The environment each backend ran with (threads, BLAS and its kernel, tf32, x64), as the results record it."""
    seen: dict[tuple[str, str], dict[str, set[str]]] = {}
    for b in all_entries:
        target = seen.setdefault((b.backend, b.device), {})
        for k, v in b.env.items():
            target.setdefault(str(k), set()).add(str(v))
    rows = []
    for (backend, device), env in sorted(seen.items()):
        text = "; ".join(f"{k}={' | '.join(sorted(v))}" for k, v in sorted(env.items())) or "not recorded"
        rows.append({"backend": backend, "device": device, "env": text})
    return rows
