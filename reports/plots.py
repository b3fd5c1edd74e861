"""Charts for the HTML report, as inline SVG strings (no files, no external references).

matplotlib is imported inside the functions (importing infrabench.reports stays cheap) and figures
are built with `matplotlib.figure.Figure` directly, never pyplot, so no GUI backend is selected and
a caller's own matplotlib state is left alone. Text from the run file reaches the SVG only through
matplotlib, which escapes it as XML; `$` is escaped first so a label is never parsed as mathtext.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

from infrabench.results import Benchmark

from .cells import as_number
from .rows import is_suspicious, section_of, throughput_of

# matplotlib's tab10, the qualitative palette every chart draws its series from: ten distinct colours.
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
         "#17becf")
BACKEND_COLOURS = {"numpy": TAB10[0], "torch": TAB10[1], "jax": TAB10[2]}
OTHER_COLOURS = (TAB10[4], TAB10[5], TAB10[6], TAB10[7], TAB10[8], TAB10[9])
LEVEL_COLOURS = {"L1": TAB10[0], "L2": TAB10[2], "L3": TAB10[1], "DRAM": TAB10[3], "HBM": TAB10[4]}
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
MAX_LABEL = 60  # tick and legend labels: a longer one is cut with "…" (titles are wrapped instead)
MAX_TITLE = 300  # a title longer than this comes from a broken or hostile file: cut, still marked "…"
TITLE_WIDTH = 70  # characters per line of a wrapped title
_PROLOG = re.compile(r"\A\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_TAG = re.compile(r"<[^>]+>")  # matplotlib escapes "<" and ">" in text and attribute values: a match is a tag
_ID_ATTR = re.compile(r'\sid="([^"]+)"')
_ID_REF = re.compile(r'(url\(#|href="#)([^)"]+)')
_NOT_ID_CHAR = re.compile(r"[^A-Za-z0-9_-]+")


def plain(text: Any, limit: int = MAX_LABEL) -> str:
    """A run-file string made safe as a matplotlib label: no mathtext, no legend-hiding leading '_'."""
    s = str(text)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("\\", "\\\\").replace("$", r"\$")
    return " " + s if s.startswith("_") else s


def title(text: Any, width: int = TITLE_WIDTH) -> str:
    """A chart title in full, wrapped onto lines of `width` characters rather than cut."""
    import textwrap

    return "\n".join(textwrap.wrap(plain(text, MAX_TITLE), width, break_on_hyphens=False)) or " "


def integer_axis(axis: Any) -> None:
    """Ticks on whole numbers only: an axis of counts (workers, devices) never shows 2.5."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def count_log_axis(axis: Any) -> None:
    """A log2 axis of counts: ticks at powers of two, labelled as plain integers, no minor ticks."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    axis.set_major_locator(LogLocator(base=2))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}" if v >= 1 else f"{v:g}"))


def chart_device(device: str) -> str:
    """Charts put "cpu:0" (jax's name for the host CPU) with "cpu" (numpy's and torch's): the same device."""
    return "cpu" if re.fullmatch(r"cpu(:\d+)?", device) else device


def _colour(name: str, palette: dict[str, str], seen: dict[str, str]) -> str:
    if name in palette:
        return palette[name]
    if name not in seen:
        seen[name] = OTHER_COLOURS[len(seen) % len(OTHER_COLOURS)]
    return seen[name]


def legend_below(fig: Any, handles: list[Any], ncol: int, fontsize: float = 8) -> None:
    """A figure legend hung under the whole figure (after tight_layout), so it never covers data or ticks;
    savefig's tight bounding box takes it in."""
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=max(1, ncol),
               fontsize=fontsize, frameon=False)


def prefix_ids(svg: str, prefix: str) -> str:
    """Every id in one SVG and every reference to it (`url(#…)`, `href="#…"`) prefixed, so charts inline in
    one page never share an id: matplotlib numbers its groups (figure_1, line2d_1, …) afresh in each figure."""

    def in_tag(tag: re.Match[str]) -> str:
        text = _ID_ATTR.sub(lambda m: f' id="{prefix}-{m.group(1)}"', tag.group())
        return _ID_REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)

    return _TAG.sub(in_tag, svg)  # tags only: a label that reads id="x" is drawn as it is


def id_part(text: str) -> str:
    """Text made fit for an HTML id: letters, digits, '-' and '_' only (never whitespace, never empty)."""
    return _NOT_ID_CHAR.sub("-", text).strip("-") or "x"


def svg_prefix(salt: str) -> str:
    """The id prefix of one chart, from its salt."""
    return "fig-" + id_part(salt)


def figure_to_svg(fig: Any, salt: str) -> str:
    """The figure as an SVG fragment fit to put inside HTML: no XML prolog, DOCTYPE or metadata.

    `salt` names the chart, unique within a page: its ids are prefixed with it (see `prefix_ids`), and the
    root element gets the id `fig-<salt>` so a reader can link to it.
    """
    import matplotlib

    prefix = svg_prefix(salt)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", bbox_inches="tight",
                    metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = _PROLOG.sub("", buf.getvalue(), count=1)
    text = prefix_ids(_METADATA.sub("", text, count=1).strip(), prefix)
    text = text.replace("<svg ", f'<svg id="{prefix}" ', 1)
    # matplotlib's stylesheet says `*{...}`: inside an HTML page that would reach every element.
    return text.replace('<style type="text/css">*{', '<style type="text/css">svg *{', 1)


def _square_size(entry: Benchmark) -> int | None:
    dims = [entry.params.get(k) for k in ("m", "n", "k")]
    if all(isinstance(d, int) and not isinstance(d, bool) for d in dims) and len(set(dims)) == 1:
        return int(dims[0])
    return None


def matmul_chart(entries: list[Benchmark]) -> str | None:
    """TFLOP/s vs square size (log2 x), one panel per device and dtype, one line per backend;
    a horizontal line at the theoretical peak the run used, labelled with its confidence."""
    points: dict[tuple[str, str], dict[str, list[tuple[int, float, bool]]]] = {}
    peaks: dict[tuple[str, str], Any] = {}
    for e in entries:
        if section_of(e) != "matmul" or e.status != "ok":
            continue
        size, (value, _) = _square_size(e), throughput_of(e)
        if size is None or value is None:
            continue
        panel = (chart_device(e.device), e.dtype)
        points.setdefault(panel, {}).setdefault(e.backend, []).append((size, value, is_suspicious(e)))
        if e.peak is not None and e.peak.tflops is not None:
            peaks.setdefault(panel, e.peak)
    if not points:
        return None

    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    panels = sorted(points)
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.3 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    extra_colours: dict[str, str] = {}
    backends_seen: dict[str, str] = {}
    any_suspicious = False
    for ax, panel in zip(list(axes.flat)[: len(panels)], panels, strict=True):
        ymax = 0.0
        for backend, pts in sorted(points[panel].items()):
            pts.sort()
            colour = _colour(backend, BACKEND_COLOURS, extra_colours)
            backends_seen[backend] = colour
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            ax.plot(xs, ys, marker="o", color=colour, linewidth=1.5, markersize=4)
            bad = [(x, y) for x, y, s in pts if s]
            if bad:
                any_suspicious = True
                ax.scatter([b[0] for b in bad], [b[1] for b in bad], s=110, facecolors="none",
                           edgecolors="#d62728", linewidths=2, zorder=5)
            ymax = max(ymax, *ys)
        peak = peaks.get(panel)
        if peak is not None:
            value = float(peak.tflops)
            ax.axhline(value, color="#555555", linestyle="--", linewidth=1)
            ax.annotate(plain(f"peak {value:.3g} TFLOP/s ({peak.confidence or 'confidence unknown'})"),
                        xy=(0.02, value), xycoords=("axes fraction", "data"), xytext=(0, 3),
                        textcoords="offset points", fontsize=7, color="#333333")
            ymax = max(ymax, value)
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_ylim(0, ymax * 1.18 if ymax > 0 else 1)
        ax.set_title(title(f"{panel[1]} on {panel[0]}", 45), fontsize=9)
        ax.set_xlabel("m = n = k", fontsize=8)
        ax.set_ylabel("TFLOP/s (median)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="major", alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=c, marker="o", label=plain(b)) for b, c in sorted(backends_seen.items())]
    handles.append(Line2D([], [], color="#555555", linestyle="--", label="theoretical peak"))
    if any_suspicious:
        handles.append(Line2D([], [], color="#d62728", marker="o", markerfacecolor="none", linestyle="none",
                              markersize=9, label="suspicious: over 100% of peak"))
    fig.tight_layout()
    legend_below(fig, handles, min(len(handles), 5))
    return figure_to_svg(fig, "matmul")


def sweep_chart(entries: list[Benchmark], caches: list[dict[str, Any]]) -> str | None:
    """GB/s vs working-set size (log2 x), points coloured by the cache level the suite labelled,
    a marker per backend, and vertical lines at the cache sizes in the machine profile."""
    series: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    for e in entries:
        if section_of(e) != "sweep" or e.status != "ok":
            continue
        ws, (value, _) = as_number(e.params.get("working_set_bytes")), throughput_of(e)
        if ws is None or ws <= 0 or value is None:
            continue
        level = str(e.figures.value("level") or "unlabelled")
        series.setdefault((e.backend, chart_device(e.device)), []).append((ws, value, level))
    if not series:
        return None

    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(9.5, 4.2))
    ax = fig.subplots()
    levels_seen: dict[str, str] = {}
    extra_colours: dict[str, str] = {}
    markers: dict[tuple[str, str], str] = {}
    for i, (key, pts) in enumerate(sorted(series.items())):
        pts.sort()
        marker = MARKERS[i % len(MARKERS)]
        markers[key] = marker
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color="#999999", linewidth=0.8, zorder=1)
        for ws, value, level in pts:
            colour = LEVEL_COLOURS.get(level) or _colour(level, {}, extra_colours)
            levels_seen[level] = colour
            ax.scatter([ws], [value], color=colour, marker=marker, s=30, zorder=3)
    ymax = max(p[1] for pts in series.values() for p in pts)
    ax.set_ylim(0, ymax * 1.15)
    for cache in caches or []:
        if not isinstance(cache, dict):
            continue
        name, size = str(cache.get("name") or "?"), as_number(cache.get("size_bytes"))
        if size is None or size <= 0 or name.upper().endswith("I"):  # instruction caches hold no data
            continue
        instances = cache.get("instances")
        label = f"{name} {_binary(size)}" + (f" ×{instances}" if isinstance(instances, int) and instances > 1 else "")
        ax.axvline(size, color="#444444", linestyle=":", linewidth=1)
        ax.annotate(plain(label), xy=(size, 0.98), xycoords=("data", "axes fraction"), rotation=90,
                    fontsize=7, va="top", ha="right", color="#333333")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _binary(v)))
    ax.set_xlabel("working set (log2 scale); dotted: cache size per instance from the machine profile",
                  fontsize=8)
    ax.set_ylabel("GB/s (median, GB = 1e9 bytes)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)
    order = {k: i for i, k in enumerate(("L1", "L2", "L3", "DRAM", "HBM"))}
    handles = [Line2D([], [], color=c, marker="o", linestyle="none", label=plain(lvl))
               for lvl, c in sorted(levels_seen.items(), key=lambda kv: (order.get(kv[0], 9), kv[0]))]
    handles += [Line2D([], [], color="#555555", marker=m, linestyle="none", label=plain(f"{b} on {d}"))
                for (b, d), m in sorted(markers.items())]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    return figure_to_svg(fig, "sweep")


def _binary(size: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size:g} B"
