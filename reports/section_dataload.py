"""The data-loading section of the HTML report: the capacity verdict in plain words, the ceilings per
format, samples/s vs loader workers and AU vs N (inline SVG; text reaches the SVG only via matplotlib)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from infrabench.results import Benchmark, DataloadFigures, Run, as_run

from .plots import MARKERS, TAB10, count_log_axis, figure_to_svg, integer_axis, plain
from .sections import Section


def _num(v: Any, digits: int = 4) -> str:
    return "—" if not isinstance(v, (int, float)) else f"{v:.{digits}g}"


def sentence(name: str, p: dict[str, Any]) -> str:
    """One profile's verdict in plain words (autoescaped by the template)."""
    prof = p.get("profile") or {}
    n = p.get("n_max")
    who = f"{prof.get('workload', name)} on {prof.get('accelerator', '?')}"
    thr = f"{100 * (p.get('threshold_au') or 0):.0f}%"
    if p.get("n_max_is_lower_bound"):
        head = f"This machine keeps at least {n} × {who} fed (AU ≥ {thr}; the search stopped at its cap)"
    elif not n:
        head = f"This machine cannot keep even one {who} fed at AU ≥ {thr}"
    else:
        head = f"This machine keeps {n} × {who} fed at AU ≥ {thr}"
    tail = f"; bottleneck: {p.get('bottleneck')} ({p.get('evidence')})"
    if p.get("cache_inflated"):
        tail += "; some passes were served from the page cache (cache-inflated)"
    basis = "" if p.get("basis") == "emulated" else f" [{p.get('basis')}]"
    return head + tail + basis + "."


def _workers_chart(entries: list[Benchmark]) -> str | None:
    from matplotlib.figure import Figure

    series: dict[str, list[tuple[int, float]]] = {}
    for e in entries:
        if e.suite != "dataload" or e.name != "loader" or e.status != "ok" \
                or not isinstance(e.figures, DataloadFigures):
            continue
        x = e.figures
        rate, workers = x.samples_per_s, x.workers
        if isinstance(rate, (int, float)) and isinstance(workers, int):
            series.setdefault(f"{x.format} / {x.loader}", []).append((workers, rate))
    if not series:
        return None
    fig = Figure(figsize=(8, 3.6))
    ax = fig.add_subplot()
    for i, (label, pts) in enumerate(sorted(series.items())):
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=MARKERS[i // len(TAB10) % len(MARKERS)],
                color=TAB10[i % len(TAB10)], label=plain(label))
    ax.set_yscale("log")
    integer_axis(ax.xaxis)
    ax.set_xlabel("loader workers (threads or processes)")
    ax.set_ylabel("samples/s (log scale)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return figure_to_svg(fig, "dataload-workers")


def _au_chart(profiles: dict[str, Any]) -> str | None:
    from matplotlib.figure import Figure

    if not any(p.get("au_vs_n") for p in profiles.values()):
        return None
    fig = Figure(figsize=(8, 3.6))
    ax = fig.add_subplot()
    drawn = [(name, p.get("au_vs_n")) for name, p in sorted(profiles.items()) if p.get("au_vs_n")]
    for i, (name, pts) in enumerate(drawn):
        ax.plot([q["n"] for q in pts], [100 * q["au"] for q in pts], marker=MARKERS[i // len(TAB10) % len(MARKERS)],
                color=TAB10[i % len(TAB10)], label=plain(name))
    ax.axhline(90, color="grey", ls="--", lw=0.8, label="AU 90%")
    ax.axhline(70, color="grey", ls=":", lw=0.8, label="AU 70%")
    ax.set_xscale("log", base=2)
    count_log_axis(ax.xaxis)
    ax.set_xlabel("emulated accelerators N (log2 scale)")
    ax.set_ylabel("AU (%)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return figure_to_svg(fig, "dataload-au")


def build(run: Run, entries: list[Benchmark]) -> Section | None:
    verdict = as_run(run).verdicts.get("dataload")
    has_results = any(e.suite == "dataload" for e in entries)
    if not verdict and not has_results:
        return None
    verdict = verdict or {}
    profiles = verdict.get("profiles") or {}
    rows = [{"name": name, "sentence": sentence(name, p), "n_max": p.get("n_max"),
             "lower_bound": p.get("n_max_is_lower_bound"), "format": p.get("format"),
             "required": _num(p.get("required_samples_per_s")), "supplied": _num(p.get("supplied_samples_per_s")),
             "required_mbs": _num((p.get("required_bytes_per_s") or 0) / 1e6 or None),
             "supplied_mbs": _num((p.get("supplied_bytes_per_s") or 0) / 1e6 or None),
             "headroom": "—" if p.get("headroom") is None else f"{100 * p['headroom']:+.0f}%",
             "bottleneck": p.get("bottleneck"), "cache_inflated": p.get("cache_inflated"), "basis": p.get("basis")}
            for name, p in sorted(profiles.items())]
    ceilings = [{"format": fmt, **{k: _num(c.get(k)) for k in ("storage", "cpu", "memory", "loader")},
                 "device_bytes": ", ".join(f"{k}: {_num(v / 1e6 if v else None)} MB"
                                           for k, v in (c.get("device_bytes_read") or {}).items()),
                 "cache_inflated": c.get("cache_inflated")}
                for fmt, c in sorted((verdict.get("ceilings_by_format") or {}).items())]
    workers_svg, au_svg = _workers_chart(entries), _au_chart(profiles)
    return Section("dataload", "Data loading", "_dataload.html.j2", {
        "rows": rows, "ceilings": ceilings, "errors": verdict.get("errors") or [],
        "any_cache_inflated": verdict.get("any_cache_inflated"), "rule": verdict.get("rule"),
        "workers_svg": Markup(workers_svg) if workers_svg else None,
        "au_svg": Markup(au_svg) if au_svg else None,
    })
