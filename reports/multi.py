"""Several runs side by side: the same benchmarks, each run's figure and its ratio to the first run.

Ratios are only as good as the runs: on a shared or noisy machine, compare runs measured close in
time, and read the report of each run for its own spread and warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infrabench.results import Run, as_run

from .baselines import Baseline, load_all
from .cells import Cell, as_dict, fmt_figure, missing
from .compare_baselines import compare_run
from .gate.words import describe_change
from .rows import throughput_of
from .run_figures import FIGURES, run_figures
from .scorecard import build_scorecard


@dataclass
class LabelledRun:
    label: str  # the path it was read from
    run: Run

    def __post_init__(self) -> None:
        self.run = as_run(self.run, self.label)


def _ratio(value: float | None, first: float | None, unit: str | None, is_first: bool) -> str:
    """The change against run 1: a rate (unit per second) in compare's words ("30.0% faster"), a count or a
    size (cores, GB, devices) as a plain ratio, which is neither faster nor slower; nothing in run 1's column."""
    if is_first or value is None or not first:
        return ""
    if not (unit or "").endswith("/s"):
        return f" (×{value / first:.3g} run 1)"
    words = describe_change(value / first, higher_is_better=True)
    return " (same as run 1)" if words == "no change" else f" ({words} than run 1)"


def _machine(run: Run) -> str:
    profile = run.profile
    cpu = as_dict(profile.get("cpu"))
    accs = [str(a.get("name") or a.get("sku") or "?") for a in profile.get("accelerators") or [] if isinstance(a, dict)]
    text = f"{cpu.get('model_name') or 'CPU ?'} ({cpu.get('usable_cpus') or '?'} usable CPUs)"
    return text + ("; " + ", ".join(accs) if accs else "; no accelerator")


def multi_context(runs: list[LabelledRun], baselines: list[Baseline] | None = None) -> dict[str, Any]:
    baselines = load_all() if baselines is None else baselines
    heads = []
    for i, lr in enumerate(runs):
        card = build_scorecard(lr.run, compare_run(lr.run, baselines))
        heads.append({"key": f"r{i}", "label": lr.label, "run_id": str(lr.run.run_id or "?"),
                      "datetime": str(lr.run.datetime or "?"), "version": str(lr.run.infrabench_version or "?"),
                      "machine": _machine(lr.run), "verdict": card.verdict, "headline": card.headline})
    columns = [("what", "figure")] + [(h["key"], f"run {i + 1}: {h['run_id']}") for i, h in enumerate(heads)]

    figs = [run_figures(lr.run) for lr in runs]
    figure_rows = []
    for key, spec in FIGURES.items():
        if not any(key in f for f in figs):
            continue
        first = figs[0].get(key)
        row = {"what": Cell(f"{spec.label} ({spec.unit})")}
        for i, (h, f) in enumerate(zip(heads, figs, strict=True)):
            fig = f.get(key)
            change = _ratio(fig.value, first.value if first else None, spec.unit, i == 0) if fig else ""
            row[h["key"]] = (Cell(fmt_figure(fig.value) + change, css="num", value=fig.value) if fig
                             else missing("not in this run"))
        figure_rows.append(row)

    per_run = [{e.fullname: e for e in lr.run.benchmarks} for lr in runs]
    common = [name for name in per_run[0] if all(name in p for p in per_run[1:])]
    bench_rows = []
    for name in common:
        first_value, unit = throughput_of(per_run[0][name])
        row = {"what": Cell(name)}
        for i, (h, p) in enumerate(zip(heads, per_run, strict=True)):
            e = p[name]
            value, u = throughput_of(e)
            if e.status != "ok" or value is None:
                row[h["key"]] = missing(e.status if e.status != "ok" else "no throughput")
            else:
                row[h["key"]] = Cell(f"{fmt_figure(value)} {u or ''}{_ratio(value, first_value, u, i == 0)}", css="num",
                                     value=value)
        bench_rows.append(row)
    only = sum(len(p) for p in per_run) - len(common) * len(per_run)
    return {"heads": heads, "columns": columns, "figure_rows": figure_rows, "bench_rows": bench_rows,
            "not_common": only}


def render_multi(runs: list[LabelledRun], baselines: list[Baseline] | None = None) -> str:
    from .html import _environment

    return _environment().get_template("report_multi.html.j2").render(**multi_context(runs, baselines))
