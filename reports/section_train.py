"""The training section of the HTML report: per workload a table (torch eager vs compiled vs jax vs numpy),
the step-time distribution (inline SVG), the torch/jax ratio and how many steps repay the compile time.

Figures come from the run only: raw step times (stats.data), the suite's TrainFigures (losses, FLOPs, MFU) and
the train verdict (MFU against the best matmul of the same run). Text reaches the SVG only via matplotlib.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from markupsafe import Markup

from infrabench.results import Benchmark, Run, TrainFigures, as_run

from .cells import as_dict, as_number, fmt_bytes_si
from .plots import chart_device, figure_to_svg, id_part, plain, title
from .rows import status_css
from .sections import Section

SUITE = "train"
MODE_ORDER = {"eager": 0, "compile": 1, "jit": 2, "numpy": 3}
MODEL_ORDER = {"mlp": 0, "cnn": 1, "gpt": 2}
FORMULAS = {
    "mlp": "3 × forward matmul FLOPs − the first layer's input gradient (the data needs none)",
    "cnn": "3 × forward conv + head FLOPs − the stem conv's input gradient",
    "gpt": "6 × (12·L·d² + V·d) × tokens + 12·L·d·T × tokens (matmul weights, plus attention)",
}


def _num(v: Any, digits: int = 3) -> str:
    x = as_number(v)
    return "—" if x is None else f"{x:.{digits}g}"


def _ms(v: Any) -> str:
    x = as_number(v)
    return "—" if x is None else f"{x * 1e3:.3g}"


def _figures(e: Benchmark) -> TrainFigures:
    return e.figures if isinstance(e.figures, TrainFigures) else TrainFigures()


def _mode(e: Benchmark) -> str:
    return str(e.params.get("mode") or _figures(e).mode or "")


def _label(e: Benchmark) -> str:
    mode = _mode(e)
    return f"{e.backend} {mode}" if mode and mode != e.backend else e.backend


def amortisation(compile_s: float | None, eager_s: float | None, compiled_s: float | None) -> tuple[float | None, str]:
    """Steps after which compiling has paid for itself (compile_s / (eager step - compiled step)), and a sentence."""
    if compile_s is None or eager_s is None or compiled_s is None:
        return None, ""
    saved = eager_s - compiled_s
    if saved <= 0:
        return None, "torch.compile never pays for itself here: the compiled step is not faster than eager."
    steps = compile_s / saved
    return steps, (f"torch.compile pays for itself after {steps:,.0f} steps "
                   f"({compile_s:.3g} s of compile time ÷ {saved * 1e3:.3g} ms saved per step).")


def _row(e: Benchmark, verdict: dict[str, Any]) -> dict[str, Any]:
    x = _figures(e)
    v = as_dict(as_dict(verdict.get("results")).get(e.fullname))
    ok = e.status == "ok"
    mfu = as_number(x.mfu_pct_of_peak)
    return {
        "label": _label(e), "status": e.status, "reason": e.reason or "", "ok": ok, "css": status_css(e.status),
        "samples_s": _num(x.samples_per_s, 4) if ok else "—",
        "tokens_s": _num(x.tokens_per_s, 4) if ok and x.tokens_per_s else "—",
        "p50": _ms(x.step_time_p50_s) if ok else "—", "p90": _ms(x.step_time_p90_s) if ok else "—",
        "p99": _ms(x.step_time_p99_s) if ok else "—",
        "tflops": _num(x.achieved_tflops) if ok else "—",
        "mfu": f"{mfu:.1f}%" if ok and mfu is not None else "—",
        "mfu_reason": "" if mfu is not None or not ok else str(x.mfu_reason or ""),
        "mfu_best": f"{v['mfu_pct_of_attainable']:.1f}%" if as_number(v.get("mfu_pct_of_attainable")) else "—",
        "mfu_best_reason": str(v.get("attainable_reason") or ""),
        "compile_s": _num(x.compile_s), "first_step_s": _num(x.first_step_s),
        "loss": f"{_num(x.loss_first, 4)} → {_num(x.loss_last, 4)}" if "loss_first" in x.present else "—",
        "memory": fmt_bytes_si(as_number(x.peak_memory_bytes)) if ok else "—",
        "suspicious": bool(x.suspicious), "suspicious_reason": str(x.suspicious_reason or ""),
    }


def _chart(heading: str, entries: list[Benchmark], salt: str) -> str | None:
    from matplotlib.figure import Figure

    data = [(_label(e), [1e3 * float(s) for s in (e.stats.data if e.stats else [])])
            for e in entries if e.status == "ok"]
    data = [(label, d) for label, d in data if d]
    if not data:
        return None
    fig = Figure(figsize=(7, 0.5 + 0.45 * len(data)))
    ax = fig.add_subplot()
    ax.boxplot([d for _, d in data], orientation="horizontal", whis=(1, 99))
    ax.set_yticks(range(1, len(data) + 1), [plain(label) for label, _ in data])
    ax.set_xscale("log")
    ax.set_xlabel("step time (ms, log scale; box: quartiles, whiskers: p1–p99)")
    ax.set_title(title(heading), fontsize=9)
    ax.grid(alpha=0.3, axis="x")
    return figure_to_svg(fig, salt)


def _groups(entries: Iterable[Benchmark]) -> dict[tuple[str, str, str], list[Benchmark]]:
    groups: dict[tuple[str, str, str], list[Benchmark]] = {}
    for e in entries:
        if e.suite != SUITE or e.name == "suite" or e.name == "backend":
            continue
        groups.setdefault((e.name, chart_device(e.device), e.dtype), []).append(e)
    return groups


def build(run: Run, entries: list[Benchmark]) -> Section | None:
    verdict = as_dict(as_run(run).verdicts.get(SUITE))
    groups = _groups(entries)
    if not groups:
        return None
    workloads = []
    for i, ((model, device, dtype), items) in enumerate(
            sorted(groups.items(), key=lambda kv: (MODEL_ORDER.get(kv[0][0], 9), kv[0][1], kv[0][2]))):
        items.sort(key=lambda e: (MODE_ORDER.get(_mode(e), 9), e.backend))
        ok = [e for e in items if e.status == "ok"]
        eager = next((e for e in ok if e.backend == "torch" and _mode(e) == "eager"), None)
        compiled = next((e for e in ok if e.backend == "torch" and _mode(e) == "compile"), None)
        steps, text = amortisation(as_number(_figures(compiled).compile_s) if compiled else None,
                                   as_number(_figures(eager).step_time_p50_s) if eager else None,
                                   as_number(_figures(compiled).step_time_p50_s) if compiled else None)
        config = next((e.params for e in items if e.params), {})
        heading = f"{model} on {device}, {dtype}"
        svg = _chart(heading, items, f"train-{i}")
        workloads.append({
            "id": f"train-{id_part(f'{model}-{device}-{dtype}')}", "title": heading, "model": model,
            "config": ", ".join(f"{k}={v}" for k, v in config.items() if k != "mode"),
            "formula": FORMULAS.get(model, ""), "rows": [_row(e, verdict) for e in items],
            "amortisation": text if compiled and eager else None, "amortisation_steps": steps,
            "chart": Markup(svg) if svg else None,
        })
    ratios = [{"model": r.get("model"), "dtype": r.get("dtype"), "device": r.get("device"),
               "mode": r.get("torch_mode"), "torch": _num(r.get("torch_samples_per_s"), 4),
               "jax": _num(r.get("jax_samples_per_s"), 4), "ratio": _num(r.get("torch_over_jax"), 3)}
              for r in verdict.get("torch_jax_ratios") or [] if isinstance(r, dict)]
    demand = [{"model": k, "per_sample": _num(as_dict(v).get("step_time_per_sample_s"), 3),
               "step": _ms(as_dict(v).get("step_time_s")), "batch": as_dict(v).get("batch_size"),
               "source": as_dict(v).get("from")}
              for k, v in sorted(as_dict(verdict.get("consumer_demand")).items())]
    return Section("train", "Training", "_train.html.j2",
                   {"workloads": workloads, "ratios": ratios, "demand": demand})
