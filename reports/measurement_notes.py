"""What the report's "how this was measured" section states, read from the timing each result recorded.

The text never assumes a default: the warm-up, minimum sample duration, rounds and calls per sample are
the values the harness really used (`extra_info.infrabench.timing`); a file that did not record one
(written by infrabench 0.1.0) says so instead of guessing.
"""

from __future__ import annotations

from typing import Any

from infrabench.results import Benchmark

from .cells import fmt_seconds


def _span(values: list[float] | list[int], fmt: Any = str) -> str:
    if not values:
        return "not recorded"
    lo, hi = min(values), max(values)
    return fmt(lo) if lo == hi else f"{fmt(lo)} – {fmt(hi)}"


def timing_notes(all_entries: list[Benchmark]) -> dict[str, Any]:
    """Timers per backend and device, tolerances, and the spans of the timing settings used."""
    timers: dict[str, set[str]] = {}
    tolerances: dict[tuple[str, str, float], str] = {}
    rounds: list[int] = []
    iterations: list[int] = []
    warmups: list[float] = []
    compiles: list[float] = []
    min_samples: dict[str, list[float]] = {}
    not_rotated = 0
    level_basis: str | None = None
    for b in all_entries:
        if b.status != "ok":
            continue
        not_rotated += b.figures.value("buffers_rotated") is False
        basis = b.figures.value("level_basis")
        level_basis = level_basis or (str(basis) if basis else None)
        key = f"{b.backend} on {b.device}"
        timer = b.timing.timer or b.options.get("timer")
        timers.setdefault(key, set()).add(str(timer) if timer else "not recorded")
        if b.check is not None and b.check.tolerance is not None:
            tolerances.setdefault((b.suite, b.dtype, b.check.tolerance), str(b.check.reference or "not recorded"))
        if b.stats is not None:
            for bucket, value in ((rounds, b.stats.rounds), (iterations, b.stats.iterations)):
                if isinstance(value, int):
                    bucket.append(value)
        for bucket, seconds in ((warmups, b.timing.warmup_s), (compiles, b.timing.compile_s)):
            if seconds is not None:
                bucket.append(float(seconds))
        if b.timing.min_sample_s is not None:
            min_samples.setdefault(f"{b.suite} on {b.device.split(':')[0]}", []).append(b.timing.min_sample_s)
    min_sample = "; ".join(f"{_span(v, fmt_seconds)} ({k})" for k, v in sorted(min_samples.items())) or None
    return {
        "timers": sorted((k, ", ".join(sorted(v))) for k, v in timers.items()),
        "tolerances": [{"suite": suite, "dtype": dtype, "tolerance": "exact" if tol == 0 else f"{tol:.0e}",
                        "reference": ref} for (suite, dtype, tol), ref in sorted(tolerances.items())],
        "rounds": _span(rounds),
        "iterations": _span(iterations),
        "warmup": _span(warmups, fmt_seconds),
        "compile": _span(compiles, fmt_seconds),
        "min_sample": min_sample,
        "not_rotated": not_rotated,
        "level_basis": level_basis,
    }
