"""One verdict per benchmark, and the gate's decision, from two BenchSets.

regression: ratio beyond the threshold t, the interval's near bound beyond t/2, and the one-sided rank
test significant at alpha after Holm across all compared benchmarks. improvement: the mirror (on the
log scale: ratio below 1/(1+t)); never fails. inconclusive: an effect beyond t that the test cannot
confirm, or an interval wider than t; fails only when strict. unchanged otherwise. Benchmarks in one
run only are `missing` (gone from new) or `new`; those that failed or have no raw samples in either
run are `failed`; skipped in both runs (e.g. a dtype this backend lacks) `skipped`: all listed, none dropped.

Minimum detectable effect (MDE): the smallest slowdown this comparison's noise lets it flag reliably,
max(t + w/3, t/2 + w) with w the relative width of the interval (twice its wider half, as bootstrap
intervals of medians are often lopsided) (w/3 ~ 1.3 sigma above t for the ratio
test; t/2 + w puts the near bound ~ w/2 clear of t/2), or none when the sample counts cannot reach
the corrected alpha at all (then `rounds_needed` says how many would).
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from infrabench.reports.gate import stats
from infrabench.reports.gate.load import Bench, BenchSet

VERDICT_ORDER = ("regression", "failed", "missing", "inconclusive", "improvement", "new", "unchanged", "skipped")


@dataclass
class GateSettings:
    alpha: float = 0.01
    cpu_threshold: float = 0.10
    accelerator_threshold: float = 0.05
    overrides: list[tuple[str, float]] = field(default_factory=list)  # (glob on fullname, threshold), first wins
    strict: bool = False
    level: float = 0.99

    def threshold_for(self, bench: Bench) -> tuple[float, str]:
        for pattern, value in self.overrides:
            if fnmatch.fnmatchcase(bench.fullname, pattern):
                return value, f"override {pattern!r}"
        if bench.accelerator:
            return self.accelerator_threshold, f"accelerator default ({bench.device})"
        return self.cpu_threshold, "CPU default"


@dataclass
class BenchVerdict:
    fullname: str
    verdict: str
    reason: str
    threshold: float | None = None
    threshold_source: str | None = None
    ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    ci_level: float | None = None
    p: float | None = None  # Holm-adjusted one-sided p in the direction of the ratio
    p_slower: float | None = None
    p_faster: float | None = None
    p_slower_holm: float | None = None
    p_faster_holm: float | None = None
    min_p: float | None = None
    test: str | None = None
    n_base: int | None = None
    n_new: int | None = None
    median_base_s: float | None = None
    median_new_s: float | None = None
    interval_width: float | None = None
    mde: float | None = None
    rounds_needed: int | None = None
    device: str | None = None

    @property
    def change_pct(self) -> float | None:
        return None if self.ratio is None else (self.ratio - 1.0) * 100.0


@dataclass
class FieldDiff:
    field: str
    base: Any
    new: Any


@dataclass
class Comparison:
    base_source: str
    new_source: str
    settings: GateSettings
    paired: bool
    verdicts: list[BenchVerdict]
    machine_diffs: list[FieldDiff] = field(default_factory=list)
    machines_allowed_to_differ: bool = False
    base_label: str | None = None
    new_label: str | None = None

    def of(self, verdict: str) -> list[BenchVerdict]:
        return [v for v in self.verdicts if v.verdict == verdict]

    @property
    def counts(self) -> dict[str, int]:
        return {k: len(self.of(k)) for k in VERDICT_ORDER}

    @property
    def failing(self) -> list[BenchVerdict]:
        bad = {"regression", "inconclusive"} if self.settings.strict else {"regression"}
        return [v for v in self.verdicts if v.verdict in bad]

    @property
    def passed(self) -> bool:
        return not self.failing

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def sorted_verdicts(self) -> list[BenchVerdict]:
        """Regressions first (largest first), then failed, missing, inconclusive, improvements, new, unchanged."""
        return sorted(self.verdicts, key=lambda v: (VERDICT_ORDER.index(v.verdict), -(v.ratio or 0.0), v.fullname))

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": {"source": self.base_source, "label": self.base_label},
            "new": {"source": self.new_source, "label": self.new_label},
            "paired": self.paired,
            "settings": asdict(self.settings),
            "passed": self.passed, "exit_code": self.exit_code, "counts": self.counts,
            "failing": [v.fullname for v in self.failing],
            "machine_diffs": [asdict(d) for d in self.machine_diffs],
            "machines_allowed_to_differ": self.machines_allowed_to_differ,
            "benchmarks": [{**asdict(v), "change_pct": v.change_pct} for v in self.sorted_verdicts()],
            "method": {
                "ratio": "median(new) / median(base) of seconds per iteration; > 1 is slower",
                "interval": f"{self.settings.level:.0%} percentile bootstrap, seed {stats.BOOTSTRAP_SEED}, "
                            f"{stats.BOOTSTRAP_RESAMPLES} resamples" + (" of paired rounds" if self.paired else ""),
                "test": "one-sided Wilcoxon signed-rank on log ratios of paired rounds" if self.paired
                        else "one-sided Mann-Whitney U", "correction": "Holm across compared benchmarks, per direction",
                "regression": "ratio > 1+t and interval low > 1+t/2 and Holm p(slower) < alpha",
                "improvement": "ratio < 1/(1+t) and interval high < 1/(1+t/2) and Holm p(faster) < alpha",
                "inconclusive": "effect beyond t not confirmed by the test, or interval wider than t",
                "mde": "max(t + w/3, t/2 + w), w = 2 max(ratio - low, high - ratio) / ratio; "
                       "null when the rank test cannot reach alpha/m",
            },
        }


def _missing_or_failed(name: str, base: Bench | None, new: Bench | None) -> BenchVerdict:
    if base is None and new is not None:
        return BenchVerdict(name, "new", "only in the new run", device=new.device)
    if new is None and base is not None:
        return BenchVerdict(name, "missing", "in the base run, not in the new run", device=base.device)
    assert base is not None and new is not None
    if base.status == "skipped" and new.status == "skipped":
        return BenchVerdict(name, "skipped", f"skipped in both runs: {new.reason}", device=base.device)
    parts = []
    if not base.comparable:
        parts.append(f"base {base.status}: {base.reason}")
    if not new.comparable:
        parts.append(f"new {new.status}: {new.reason}")
    return BenchVerdict(name, "failed", "; ".join(parts), device=base.device)


def _mde(threshold: float, width: float, feasible: bool) -> float | None:
    if not feasible:
        return None
    return max(threshold + width / 3.0, threshold / 2.0 + width)


def _rounds_needed(n: int, threshold: float, width: float, alpha_first: float, paired: bool) -> int | None:
    need_p = stats.rounds_for_p(alpha_first, paired)
    need_w = math.ceil(n * (width / (threshold / 2.0)) ** 2) if width > threshold / 2.0 else n
    need = max(need_p, need_w)
    return need if need > n else None


def compare(base: BenchSet, new: BenchSet, settings: GateSettings | None = None,
            machine_diffs: list[FieldDiff] | None = None, machines_allowed_to_differ: bool = False) -> Comparison:
    """Every benchmark of either run with its verdict and the numbers behind it."""
    settings = settings or GateSettings()
    paired = base.paired and new.paired
    names = list(dict.fromkeys([*base.benches, *new.benches]))
    out: dict[str, BenchVerdict] = {}
    measured: list[BenchVerdict] = []
    for name in names:
        b, n = base.benches.get(name), new.benches.get(name)
        if b is None or n is None or not b.comparable or not n.comparable:
            out[name] = _missing_or_failed(name, b, n)
            continue
        if paired and len(b.samples) != len(n.samples):
            out[name] = BenchVerdict(name, "failed", "paired runs with different round counts", device=b.device)
            continue
        t, source = settings.threshold_for(b)
        est = stats.bootstrap_ratio(b.samples, n.samples, settings.level, paired)
        test = stats.rank_test(b.samples, n.samples, paired)
        import numpy as np

        v = BenchVerdict(name, "unchanged", "", t, source, est.ratio, est.ci_low, est.ci_high, est.level,
                         p_slower=test.p_slower, p_faster=test.p_faster, min_p=test.min_p, test=test.test,
                         n_base=len(b.samples), n_new=len(n.samples), median_base_s=float(np.median(b.samples)),
                         median_new_s=float(np.median(n.samples)),
                         interval_width=2.0 * max(est.ratio - est.ci_low, est.ci_high - est.ratio) / est.ratio,
                         device=b.device)
        out[name] = v
        measured.append(v)
    m = len(measured)
    slower_holm = stats.holm([v.p_slower for v in measured])  # type: ignore[misc]
    faster_holm = stats.holm([v.p_faster for v in measured])  # type: ignore[misc]
    alpha_first = settings.alpha / max(m, 1)
    for v, ps, pf in zip(measured, slower_holm, faster_holm, strict=True):
        _decide(v, ps, pf, settings.alpha, alpha_first, paired)
    return Comparison(base.source, new.source, settings, paired, [out[n] for n in names],
                      machine_diffs or [], machines_allowed_to_differ, base.label, new.label)


def _decide(v: BenchVerdict, p_slower_holm: float, p_faster_holm: float, alpha: float, alpha_first: float,
            paired: bool) -> None:
    assert v.ratio is not None and v.ci_low is not None and v.ci_high is not None and v.threshold is not None
    t, r, w = v.threshold, v.ratio, v.interval_width or 0.0
    v.p_slower_holm, v.p_faster_holm = p_slower_holm, p_faster_holm
    v.p = p_slower_holm if r >= 1.0 else p_faster_holm
    n = min(v.n_base or 0, v.n_new or 0)
    feasible = (v.min_p or 1.0) < alpha_first
    v.mde = _mde(t, w, feasible)
    slower_effect = r > 1.0 + t and v.ci_low > 1.0 + t / 2.0
    faster_effect = r < 1.0 / (1.0 + t) and v.ci_high < 1.0 / (1.0 + t / 2.0)
    pct = f"{(r - 1.0) * 100.0:+.1f}%"
    ci = f"{v.ci_level:.0%} CI [{(v.ci_low - 1) * 100:+.1f}%, {(v.ci_high - 1) * 100:+.1f}%]"
    if slower_effect and p_slower_holm < alpha:
        v.verdict, v.reason = "regression", f"{pct} slower, {ci}, p={p_slower_holm:.2g} < {alpha:g} (threshold {t:.0%})"
    elif faster_effect and p_faster_holm < alpha:
        v.verdict, v.reason = "improvement", f"{pct}, {ci}, p={p_faster_holm:.2g}"
    elif slower_effect or faster_effect:
        v.verdict = "inconclusive"
        p = p_slower_holm if slower_effect else p_faster_holm
        if not feasible:
            v.reason = (f"{pct} beyond the {t:.0%} threshold, but {n} rounds cannot give p < {alpha_first:.2g} "
                        f"(smallest possible p {v.min_p:.2g})")
        else:
            v.reason = f"{pct} beyond the {t:.0%} threshold, but p={p:.2g} after Holm is not below {alpha:g}"
        v.rounds_needed = _rounds_needed(n, t, w, alpha_first, paired)
    elif w > t:
        v.verdict = "inconclusive"
        v.reason = f"too noisy to tell: {ci} is wider than the {t:.0%} threshold"
        v.rounds_needed = _rounds_needed(n, t, w, alpha_first, paired)
    else:
        v.verdict, v.reason = "unchanged", f"{pct}, {ci}"
    if v.verdict == "inconclusive" and v.rounds_needed:
        v.reason += f"; about {v.rounds_needed} rounds per side would settle it"
