"""Comparing two runs and gating CI on the result: noise-aware verdicts per benchmark.

`load.bench_set(data, source)` turns an infrabench run file or a pytest-benchmark saved run (already
parsed JSON) into a `BenchSet`; `verdict.compare(base_or_bases, new, settings)` gives a `Comparison` with
one `BenchVerdict` per benchmark and every number behind it; `outputs` renders it (terminal, Markdown,
JUnit XML, JSON). Independent runs are compared at the run level with between-run noise in the error
(`runlevel`, `noise`: several base runs, a noise profile, or an estimate that says noise is unknown);
paired rounds of an interleaved A/B with Wilcoxon (`stats`). Nothing here runs a benchmark or reads the
command line.
"""

from __future__ import annotations

from infrabench.reports.gate.load import BenchSet, GateInputError, bench_set
from infrabench.reports.gate.verdict import Comparison, GateSettings, compare, confirm

__all__ = ["BenchSet", "Comparison", "GateInputError", "GateSettings", "bench_set", "compare", "confirm"]
