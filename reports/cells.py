"""Report cells and number formatting: every figure formatted one way, every missing one with its reason.

A row of a report table is a dict of `Cell`s; a cell whose figure is missing reads "—" and carries
the reason as plain text beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class Cell:
    """One table cell: display text, the reason a figure is missing (shown beside "—"), a CSS class, and a
    tooltip (the full text of a cell shown shortened)."""

    text: str
    reason: str | None = None
    css: str = ""
    value: Any = None  # the raw figure, for sorting and tests
    title: str | None = None

    def __str__(self) -> str:
        return self.text


def missing(reason: str | None) -> Cell:
    return Cell("—", reason or "not recorded", "missing")


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


