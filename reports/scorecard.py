"""The scorecard: the four factors that separate AI from IT infrastructure, each from named figures, and a verdict.

Factors: processing power (best matmul per dtype, training throughput), memory and data handling
(memory bandwidth, host↔device copies, accelerator memory, data loading, storage), scalability
(accelerators, CPU cores, interconnect as measured) and software (accelerated frameworks present
and shown working by a result on an accelerator). A factor is rated from the log-scale position of
its figures between the IT and AI references (see compare_baselines): ≥ 2/3 "AI-class", ≤ 1/3
"IT-class", between them "between"; a factor with no figure is "not measured", never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infrabench.results import Run, as_run

from .cells import as_dict, as_list, fmt_figure
from .compare_baselines import ComparisonRow
from .run_figures import RunFigure, best_matmul

AI_FROM, IT_UPTO = 2 / 3, 1 / 3
RATINGS = {"ai": "AI-class", "between": "between IT and AI", "it": "IT-class", "unknown": "not measured"}
FACTOR_TITLES = {"processing": "Processing power", "memory": "Memory and data handling",
                 "scalability": "Scalability", "software": "Software"}


@dataclass
class Evidence:
    label: str
    value: str
    position: float | None = None  # 0 = IT reference, 1 = AI reference
    note: str | None = None


@dataclass
class Factor:
    key: str
    title: str
    rating: str  # "ai" | "between" | "it" | "unknown"
    summary: str
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def rating_text(self) -> str:
        return RATINGS[self.rating]


@dataclass
class Scorecard:
    factors: list[Factor]
    verdict: str  # "ai" | "it" | "between" | "unknown"
    headline: str
    strong: list[str]
    short: list[str]


def rate(position: float | None) -> str:
    if position is None:
        return "unknown"
    return "ai" if position >= AI_FROM else ("it" if position <= IT_UPTO else "between")


def _evidence(row: ComparisonRow) -> Evidence:
    label = row.spec.label
    value = f"{fmt_figure(row.measured.value)} {row.spec.unit}"
    refs = []
    if row.it_ref:
        refs.append(f"IT reference {fmt_figure(row.it_ref)}")
    if row.ai_ref:
        refs.append(f"AI reference {fmt_figure(row.ai_ref)}")
    note = "; ".join(refs) or "no baseline has this figure"
    if row.measured.suspicious:
        pct = row.measured.pct_of_peak
        note += f"; flagged suspicious ({f'{pct:.1f}%' if pct is not None else 'over 100%'} of peak, check the peak)"
    return Evidence(label, value, row.position, note)


def _rows(rows: list[ComparisonRow], *prefixes: str) -> list[ComparisonRow]:
    return [r for r in rows if r.key.startswith(prefixes)]


def headline_figure(figure: RunFigure) -> str:
    """A matmul figure as the headline may state it: as fact, or, flagged suspicious, as a doubt with its share
    of the peak; a figure over 100% of its peak is never stated plainly."""
    dtype = figure.key.split(".")[-1]
    text = f"{fmt_figure(figure.value)} {figure.unit} ({dtype})"
    if not figure.suspicious:
        return f"best matmul {text}"
    pct = figure.pct_of_peak
    share = f"{pct:.1f}% of peak" if pct is not None else "over 100% of peak"
    return f"best matmul, suspicious: {text} ({share}, check the peak)"


def _processing(rows: list[ComparisonRow], top: RunFigure | None) -> Factor:
    chosen = _rows(rows, "matmul_tflops.", "train_")
    ev = [_evidence(r) for r in chosen]
    positions = [r.position for r in chosen if r.position is not None and not r.measured.suspicious]
    best = max(positions) if positions else None
    if not chosen:
        return Factor("processing", FACTOR_TITLES["processing"], "unknown", "no matmul or training result", ev)
    if top is not None:
        summary = headline_figure(top)
    else:
        lead = max(chosen, key=lambda r: r.measured.value)
        summary = f"{lead.spec.label} {fmt_figure(lead.measured.value)} {lead.spec.unit}"
    return Factor("processing", FACTOR_TITLES["processing"], rate(best), summary, ev)


def _storage(run: Run) -> Evidence | None:
    items = [s for s in as_list(run.profile.get("storage")) if isinstance(s, dict)]
    if not items:
        return None
    s = items[0]
    kind = {True: "reports rotational", False: "reports solid-state"}.get(s.get("rotational"), "medium unknown")
    if s.get("rotational_trust") == "low":
        kind += ", not trusted: " + str(s.get("rotational_trust_reason") or "low trust")
    where = s.get("mount_source") or s.get("block_device") or "?"
    return Evidence("storage", f"{s.get('path') or '?'}: {s.get('fs_type') or '?'} on {where}", None,
                    f"{kind}; from the machine profile, read throughput is the data-loading suite's to measure")


def _memory(run: Run, rows: list[ComparisonRow]) -> Factor:
    chosen = _rows(rows, "memory_gbs", "host_to_device", "device_to_host", "device_memory", "dataload_")
    ev = [_evidence(r) for r in chosen]
    storage = _storage(run)
    if storage:
        ev.append(storage)
    primary = next((r for r in chosen if r.key == "memory_gbs"), None)
    if primary is None:
        return Factor("memory", FACTOR_TITLES["memory"], "unknown", "no memory bandwidth result", ev)
    positions = [r.position for r in chosen if r.position is not None]
    rating = rate(sum(positions) / len(positions)) if positions else "unknown"
    summary = f"memory bandwidth {fmt_figure(primary.measured.value)} GB/s"
    return Factor("memory", FACTOR_TITLES["memory"], rating, summary, ev)


def _scalability(run: Run, rows: list[ComparisonRow]) -> Factor:
    ev = [_evidence(r) for r in _rows(rows, "accelerators", "cpu_cores", "interconnect_gbs")]
    acc = next((r.measured.value for r in rows if r.key == "accelerators"), None)
    if acc is None:
        return Factor("scalability", FACTOR_TITLES["scalability"], "unknown", "no machine profile", ev)
    if not any(r.key == "interconnect_gbs" for r in rows):
        ev.append(Evidence("device-to-device interconnect", "—", None, "not measured in this run"))
    n = int(acc)
    if n == 0:
        return Factor("scalability", FACTOR_TITLES["scalability"], "it",
                      "no accelerator: work scales only across CPU cores", ev)
    rating = "ai" if n >= 4 else "between"
    return Factor("scalability", FACTOR_TITLES["scalability"], rating, f"{n} accelerator{'s' if n != 1 else ''}", ev)


def _software(run: Run) -> Factor:
    sw = as_dict(run.profile.get("software"))
    ev: list[Evidence] = []
    present = []
    for name in ("torch", "jax"):
        info = as_dict(sw.get(name))
        if info.get("installed") or info.get("version"):
            present.append(name)
            ev.append(Evidence(f"{name} installed", str(info.get("version") or "?"), None,
                               "devices: " + (", ".join(map(str, as_list(info.get("devices")))) or "none listed")))
    accelerated: dict[str, set[str]] = {}
    for e in run.benchmarks:
        if e.status == "ok" and not e.device.startswith("cpu") and e.device != "?":
            accelerated.setdefault(e.backend, set()).add(e.device)
    for backend, devices in sorted(accelerated.items()):
        ev.append(Evidence(f"{backend} ran on an accelerator", ", ".join(sorted(devices)), None,
                           "results ok on these devices"))
    if accelerated:
        return Factor("software", FACTOR_TITLES["software"], "ai",
                      "accelerated frameworks working: " + ", ".join(sorted(accelerated)), ev)
    if present:
        return Factor("software", FACTOR_TITLES["software"], "it",
                      f"{', '.join(present)} present, but no result ran on an accelerator", ev)
    return Factor("software", FACTOR_TITLES["software"], "unknown" if not sw else "it",
                  "no accelerated framework found", ev)


def build_scorecard(run: Run | dict[str, Any], rows: list[ComparisonRow]) -> Scorecard:
    run = as_run(run)
    factors = [_processing(rows, best_matmul(run)), _memory(run, rows), _scalability(run, rows), _software(run)]
    by = {f.key: f for f in factors}
    if by["processing"].rating == "ai" and by["software"].rating == "ai":
        verdict = "ai"
    elif all(f.rating in ("it", "unknown") for f in factors) and by["processing"].rating != "unknown":
        verdict = "it"
    elif all(f.rating == "unknown" for f in factors):
        verdict = "unknown"
    else:
        verdict = "between" if any(f.rating in ("ai", "between") for f in factors) else "it"
    strong = [f"{f.title.lower()}: {f.summary}" for f in factors if f.rating == "ai"]
    short = [f"{f.title.lower()}: {f.summary}" for f in factors if f.rating == "it"]
    headline = {
        "ai": "This machine is AI infrastructure.",
        "it": "This machine is ordinary IT infrastructure, not AI infrastructure.",
        "between": "This machine sits between IT and AI infrastructure.",
        "unknown": "Not enough was measured to say whether this machine is AI or IT infrastructure.",
    }[verdict]
    top = by["processing"]
    if top.evidence:  # a factor rated "not measured" for want of a credible figure still says what it saw
        headline += f" Its {top.summary}."
    return Scorecard(factors, verdict, headline, strong, short)
