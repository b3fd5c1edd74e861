"""Charts of the baseline comparison and the roofline, as inline SVG (see plots.py for the safety rules)."""

from __future__ import annotations

import math
from typing import Any

from infrabench.probes.machine_view import MachineView

from infrabench.results import Benchmark

from .cells import as_dict, as_list, as_number
from .compare_baselines import ComparisonRow
from .plots import TAB10, chart_device, figure_to_svg, legend_below, plain, title
from .rows import is_suspicious, throughput_of

CLASS_COLOURS = {"run": TAB10[2], "ai": TAB10[3], "it": TAB10[0]}
BYTES_PER = {"fp64": 8, "fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1}
DTYPE_COLOURS = {"fp64": TAB10[0], "fp32": TAB10[1], "tf32": TAB10[4], "bf16": TAB10[2], "fp16": TAB10[5],
                 "fp8": TAB10[6]}
CHART_KEYS = ("matmul_tflops.", "memory_gbs", "host_to_device_gbs", "device_to_host_gbs", "dataload_samples_s",
              "train_")


def baseline_bars(rows: list[ComparisonRow]) -> str | None:
    """One panel per figure: this run beside every baseline that has a reference, on a log axis."""
    rows = [r for r in rows if r.key.startswith(CHART_KEYS) and any(ref.figure for ref in r.references)]
    if not rows:
        return None
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    heights = [1 + sum(1 for ref in r.references if ref.figure) for r in rows]
    fig = Figure(figsize=(9.5, 0.9 + 0.24 * sum(heights) + 0.45 * len(rows)))
    axes = fig.subplots(len(rows), 1, squeeze=False, gridspec_kw={"height_ratios": heights})
    for ax, row in zip(axes[:, 0], rows, strict=True):
        labels, values, colours, hatches = ["this run"], [row.measured.value], [CLASS_COLOURS["run"]], [""]
        for ref in row.references:
            if ref.figure is None:
                continue
            labels.append(plain(ref.baseline.name + (" (peak)" if ref.is_peak else "")))
            values.append(ref.figure.value)
            colours.append(CLASS_COLOURS[ref.baseline.cls])
            hatches.append("//" if ref.is_peak else "")
        ys = list(range(len(values)))[::-1]
        bars = ax.barh(ys, values, color=colours, height=0.7)
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)
            bar.set_edgecolor("white" if hatch else bar.get_facecolor())
        ax.set_yticks(ys, labels, fontsize=7)
        ax.set_xscale("log")
        low, high = min(values), max(values)
        ax.set_xlim(low / 2, high * 3)
        for y, v in zip(ys, values, strict=True):
            ax.annotate(f"{v:.3g}", xy=(v, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=6)
        ax.set_title(title(f"{row.spec.label} ({row.spec.unit}, log scale)", 110), fontsize=8, loc="left")
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(True, axis="x", which="major", alpha=0.3)
    fig.tight_layout()
    legend_below(fig, [Patch(color=CLASS_COLOURS["run"], label="this run"),
                       Patch(color=CLASS_COLOURS["ai"], label="AI baseline"),
                       Patch(color=CLASS_COLOURS["it"], label="IT baseline"),
                       Patch(facecolor="#999999", hatch="//", edgecolor="white",
                             label="datasheet peak (no achieved figure)")], 4, fontsize=7)
    return figure_to_svg(fig, "baselines")


def _intensity(e: Benchmark) -> float | None:
    dims = [e.params.get(k) for k in ("m", "n", "k")]
    size = BYTES_PER.get(e.dtype)
    if size is None or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims):
        return None
    m, n, k = dims
    return 2 * m * n * k / ((m * k + k * n + m * n) * size)


def _theoretical(profile: dict[str, Any], device: str) -> tuple[dict[str, float], float | None]:
    """Peaks per dtype and peak memory GB/s the profile gives for a device (CPU: no memory peak recorded);
    the accelerator behind a device name is the MachineView's, as for every other peak."""
    if device == "cpu":
        peaks = as_list(as_dict(profile.get("cpu")).get("peaks"))
        bandwidth = None
    else:
        acc = MachineView(profile).accelerator(device)[0] or {}
        peaks, bandwidth = as_list(acc.get("peaks")), as_number(acc.get("peak_memory_bandwidth_gbs"))
    out = {}
    for p in peaks:
        if isinstance(p, dict) and as_number(p.get("tflops")) is not None:
            out.setdefault(str(p.get("dtype")), float(p["tflops"]))
    return out, bandwidth


def roofline(entries: list[Benchmark], profile: dict[str, Any]) -> str | None:
    """Measured matmul points on log-log axes, with measured ceilings (best matmul per dtype, best triad)
    in solid lines and theoretical ones (profile peaks) dashed, one panel per device."""
    points: dict[str, list[tuple[float, float, str, bool]]] = {}
    triad: dict[str, float] = {}
    for e in entries:
        if e.status != "ok":
            continue
        value, unit = throughput_of(e)
        if value is None:
            continue
        device = chart_device(e.device)
        if e.suite == "matmul" and unit == "TFLOP/s":
            ai = _intensity(e)
            if ai:
                points.setdefault(device, []).append((ai, value, e.dtype, is_suspicious(e)))
        elif e.suite == "memory" and e.name.removeprefix("stream_") == "triad" and unit == "GB/s":
            triad[device] = max(triad.get(device, 0.0), value)
    if not points:
        return None
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    devices = sorted(points)
    fig = Figure(figsize=(min(4.8 * len(devices), 9.5) if len(devices) > 1 else 7.5, 4.3))
    axes = fig.subplots(1, len(devices), squeeze=False)
    for ax, device in zip(axes[0], devices, strict=True):
        pts = points[device]
        xs = [p[0] for p in pts]
        x_lo, x_hi = min(xs) / 8, max(xs) * 8
        grid = [x_lo * (x_hi / x_lo) ** (i / 50) for i in range(51)]
        peaks, peak_bw = _theoretical(profile, device)
        dtypes = sorted({p[2] for p in pts})
        for dtype in dtypes:
            colour = DTYPE_COLOURS.get(dtype, "#7f7f7f")
            mine = [p for p in pts if p[2] == dtype]
            ax.scatter([p[0] for p in mine], [p[1] for p in mine], color=colour, s=22, zorder=4)
            bad = [p for p in mine if p[3]]
            if bad:
                ax.scatter([p[0] for p in bad], [p[1] for p in bad], s=90, facecolors="none", edgecolors="#d62728",
                           linewidths=1.5, zorder=5)
            best = max(p[1] for p in mine if not p[3]) if any(not p[3] for p in mine) else None
            if best is not None:
                ax.axhline(best, color=colour, linewidth=1, alpha=0.8)
            if dtype in peaks:
                ax.axhline(peaks[dtype], color=colour, linewidth=1, linestyle="--", alpha=0.8)
        if device in triad:
            ax.plot(grid, [triad[device] * x / 1e3 for x in grid], color="#333333", linewidth=1.2)
        if peak_bw:
            ax.plot(grid, [peak_bw * x / 1e3 for x in grid], color="#333333", linewidth=1.2, linestyle="--")
        ys = [p[1] for p in pts] + [peaks[d] for d in dtypes if d in peaks]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(min(ys) / 4, max(ys) * 3)
        ax.set_title(title(device, 50), fontsize=9)
        ax.set_xlabel("arithmetic intensity (FLOP per byte moved, ideal reuse)", fontsize=7)
        ax.set_ylabel("TFLOP/s (median)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="major", alpha=0.3)
    handles = [Line2D([], [], color=DTYPE_COLOURS.get(d, "#7f7f7f"), marker="o", linestyle="none", label=plain(d))
               for d in sorted({p[2] for pts in points.values() for p in pts})]
    handles += [Line2D([], [], color="#333333", label="measured ceiling (best matmul; triad GB/s slope)"),
                Line2D([], [], color="#333333", linestyle="--", label="theoretical ceiling (profile peak)")]
    fig.tight_layout()
    legend_below(fig, handles, min(len(handles), 4), fontsize=7)
    return figure_to_svg(fig, "roofline")


def position_percent(position: float | None) -> float | None:
    """Position on the IT→AI scale as a bar width in percent, clipped to the drawn range."""
    if position is None or math.isnan(position):
        return None
    return max(0.0, min(100.0, position * 100.0))
