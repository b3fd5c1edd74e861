"""Terminal summary of a MachineProfile (rich). Works on the plain dict, so it renders saved profiles too."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

STATUS_STYLE = {"ok": "green", "unavailable": "dim", "no_permission": "yellow", "timeout": "red", "error": "red"}
SKIP_KEYS = {"null_reasons", "extra", "peaks", "threadpools", "notes"}


def fmt_value(key: str, value: Any) -> str:
    """Human units for the suffix conventions the records use (_bytes, _mhz, _w, _gbs, _s)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and key.endswith("_bytes"):
        for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if abs(value) >= size:
                return f"{value / size:.1f} {unit}"
        return f"{value} B"
    for suffix, unit in (("_mhz", "MHz"), ("_ghz", "GHz"), ("_w", "W"), ("_c", "°C"), ("_gbs", "GB/s"),
                         ("_s", "s"), ("_tflops", "TFLOP/s")):
        if key.endswith(suffix) and isinstance(value, (int, float)):
            return f"{value:g} {unit}"
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return "; ".join(fmt_value("", {k: v for k, v in item.items() if k != "null_reasons"}) for item in value)
        return ", ".join(str(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) if value else "none"
    return str(value)


def _record_table(title: str, record: dict[str, Any] | None) -> Table:
    table = Table(title=title, show_header=False, title_justify="left", expand=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    if not record:
        table.add_row("—", "not collected (see probe status)")
        return table
    reasons = record.get("null_reasons") or {}
    for key, value in record.items():
        if key in SKIP_KEYS or isinstance(value, dict) and key not in ("scheduler", "env"):
            continue
        if value is None:
            table.add_row(key, Text(f"— {reasons.get(key, '')}".rstrip(), style="dim"))
        else:
            table.add_row(key, fmt_value(key, value))
    return table


def _peaks_table(title: str, peaks: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("dtype", "TFLOP/s", "confidence", "source or reason"):
        table.add_column(col)
    for p in peaks:
        value = "—" if p.get("tflops") is None else f"{p['tflops']:.3g}"
        table.add_row(p.get("dtype", "?"), value, p.get("confidence", ""), p.get("source") or p.get("reason") or "")
    return table


def print_profile(profile: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"[bold]infrabench {profile.get('infrabench_version')}[/] machine profile, "
                  f"collected {profile.get('collected_at')}")
    console.print(_record_table("Host", profile.get("host")))
    cpu = profile.get("cpu") or {}
    console.print(_record_table("CPU", cpu))
    if cpu.get("peaks"):
        console.print(_peaks_table("CPU theoretical peak (computed)", cpu["peaks"]))
    console.print(_record_table("Memory", profile.get("memory")))

    accs = profile.get("accelerators") or []
    if not accs:
        console.print("[bold]Accelerators:[/] none found (each probe's reason is below)")
    for acc in accs:
        label = f"Accelerator {acc.get('index')}: {acc.get('name')} ({acc.get('vendor')})"
        console.print(_record_table(label, acc))
        if acc.get("peaks"):
            console.print(_peaks_table(f"{label} theoretical peak", acc["peaks"]))
    for i, st in enumerate(profile.get("storage") or []):
        console.print(_record_table(f"Storage {i}", st))
    software = profile.get("software") or {}
    console.print(_record_table("Software", {k: v for k, v in software.items() if k not in ("torch", "jax")}))
    for pool in software.get("threadpools") or []:
        console.print(f"  thread pool: {pool.get('internal_api')} {pool.get('version')} "
                      f"kernel {pool.get('architecture')}, {pool.get('num_threads')} threads")
    for name in ("torch", "jax"):
        console.print(_record_table(f"Software: {name}", software.get(name)))

    table = Table(title="Probes", title_justify="left")
    for col in ("probe", "status", "time", "reason"):
        table.add_column(col)
    for p in profile.get("probes") or []:
        style = STATUS_STYLE.get(p.get("status"), "")
        took = "" if p.get("duration_s") is None else f"{p['duration_s']:.2f} s"
        table.add_row(p.get("name"), Text(p.get("status", "?"), style=style), took, p.get("reason") or "")
    console.print(table)
