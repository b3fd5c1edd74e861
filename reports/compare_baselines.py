"""A run's figures against the baselines: a ratio to each, and a place on a log scale from IT to AI.

For each comparable figure the run holds, every baseline gives its reference: the achieved figure
(measured or published) when it has one, else its datasheet peak (an upper bound, labelled so), else
nothing ("—"). The IT reference is the geometric mean of the IT baselines' references, the AI
reference that of the AI baselines; the run's position is

    position = (log x − log IT) / (log AI − log IT)

so 0 reads "like typical IT infrastructure", 1 "like typical AI infrastructure"; below 0 or above 1
lies beyond them. Ratios and positions are computed from the figures alone; nothing is rounded first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .baselines import Baseline, BaselineFigure
from .run_figures import FIGURES, FigureSpec, RunFigure, run_figures


@dataclass
class Reference:
    baseline: Baseline
    figure: BaselineFigure | None
    ratio: float | None  # measured / reference
    is_peak: bool  # the reference is a datasheet peak standing in for an achieved figure


@dataclass
class ComparisonRow:
    spec: FigureSpec
    measured: RunFigure
    references: list[Reference] = field(default_factory=list)
    it_ref: float | None = None
    ai_ref: float | None = None
    position: float | None = None

    @property
    def key(self) -> str:
        return self.spec.key


def geomean(values: list[float]) -> float | None:
    values = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def log_position(value: float, it_ref: float | None, ai_ref: float | None) -> float | None:
    """Where `value` lies on the log scale from the IT reference (0) to the AI reference (1)."""
    if value <= 0 or not it_ref or not ai_ref or it_ref <= 0 or ai_ref <= it_ref:
        return None
    return (math.log(value) - math.log(it_ref)) / (math.log(ai_ref) - math.log(it_ref))


def compare_figures(figures: dict[str, RunFigure], baselines: list[Baseline]) -> list[ComparisonRow]:
    rows = []
    for key, spec in FIGURES.items():
        measured = figures.get(key)
        if measured is None:
            continue
        row = ComparisonRow(spec, measured)
        by_class: dict[str, list[float]] = {"ai": [], "it": []}
        for b in baselines:
            ref = b.reference(key)
            ratio = measured.value / ref.value if ref is not None and ref.value > 0 else None
            row.references.append(Reference(b, ref, ratio, ref is not None and ref.key != key))
            if ref is not None and ref.value > 0:
                by_class[b.cls].append(ref.value)
        row.it_ref, row.ai_ref = geomean(by_class["it"]), geomean(by_class["ai"])
        row.position = log_position(measured.value, row.it_ref, row.ai_ref)
        rows.append(row)
    return rows


def compare_run(run: Any, baselines: list[Baseline]) -> list[ComparisonRow]:
    return compare_figures(run_figures(run), baselines)
