"""One verdict per benchmark, and the gate's decision, from two BenchSets.

regression: ratio beyond the threshold t, the interval's near bound beyond t/2, and the one-sided test
(run-level t for independent runs, see runlevel.py; Wilcoxon signed-rank for paired A/B rounds)
significant at alpha after Holm across all compared benchmarks. improvement: the mirror (on the
log scale: ratio below 1/(1+t)); never fails. inconclusive: an effect beyond t that the test cannot
confirm, or an interval wider than t; fails only when strict. unchanged otherwise. Benchmarks in one
run only are `missing` (gone from new) or `new`; those that failed or have no raw samples in either
run are `failed`; skipped in both runs (e.g. a dtype this backend lacks) `skipped`: all listed, none dropped.

Confirmation (`confirm`): a regression stands only where every re-run of the new side, compared with the
same base, shows it too; see its docstring.

Minimum detectable effect (MDE): the smallest slowdown this comparison's noise lets it flag reliably;
independent runs: runlevel.mde (95% power); paired rounds: max(t + w/3, t/2 + w) with w the relative
width of the interval (twice its wider half, as bootstrap intervals of medians are often lopsided) (w/3
~ 1.3 sigma above t for the ratio test; t/2 + w puts the near bound ~ w/2 clear of t/2), or none when
the sample counts cannot reach the corrected alpha at all (then `rounds_needed` says how many would).
"""

from __future__ import annotations

import copy
import fnmatch
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from infrabench.reports.gate import runlevel, stats
from infrabench.reports.gate.load import Bench, BenchSet
from infrabench.reports.gate.noise import NoiseProfile

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
    noise: str | None = None  # where between-run noise came from: runs | profile | spread | paired rounds
    between_run_sd: float | None = None  # log-SD of one run's median between runs, as used
    k_base: int | None = None  # base runs behind this benchmark
    df: float | None = None  # degrees of freedom of the run-level t test

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
    base_runs: int = 1
    noise_note: str = ""
    confirmed_by: list[str] = field(default_factory=list)  # re-runs of the new side every regression must survive

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
            "base": {"source": self.base_source, "label": self.base_label, "runs": self.base_runs},
            "between_run_noise": self.noise_note,
            "new": {"source": self.new_source, "label": self.new_label},
            "confirmed_by": self.confirmed_by,
            "paired": self.paired,
            "settings": asdict(self.settings),
            "passed": self.passed, "exit_code": self.exit_code, "counts": self.counts,
            "failing": [v.fullname for v in self.failing],
            "machine_diffs": [asdict(d) for d in self.machine_diffs],
            "machines_allowed_to_differ": self.machines_allowed_to_differ,
            "benchmarks": [{**asdict(v), "change_pct": v.change_pct} for v in self.sorted_verdicts()],
            "method": {
                "ratio": "median(new) / median(base) of seconds per iteration; > 1 is slower",
                "interval": f"{self.settings.level:.0%} percentile bootstrap of paired rounds, seed "
                            f"{stats.BOOTSTRAP_SEED}, {stats.BOOTSTRAP_RESAMPLES} resamples" if self.paired else
                            f"{self.settings.level:.0%} t interval of the log ratio, SE = sqrt(tau^2/k + "
                            "max(tau^2, se_new^2)) (k = 1: max(tau^2, se_base^2) + max(tau^2, se_new^2)), tau the "
                            "between-run log-SD (see between_run_noise), se the within-run SE of a log median",
                "test": "one-sided Wilcoxon signed-rank on log ratios of paired rounds" if self.paired
                        else "one-sided t test of the new run's log median against the base runs' (run level)",
                "correction": "Holm across compared benchmarks, per direction",
                "regression": "ratio > 1+t and interval low > 1+t/2 and Holm p(slower) < alpha",
                "improvement": "ratio < 1/(1+t) and interval high < 1/(1+t/2) and Holm p(faster) < alpha",
                "inconclusive": "effect beyond t not confirmed by the test, or interval wider than t",
                "confirmation": "with re-runs of the new side (--confirm): a regression stands only when every "
                                "re-run, compared with the same base, shows it too (ratio > 1+t, interval low > "
                                "1+t/2, Holm p(slower) < alpha over the benchmarks being confirmed); otherwise "
                                "inconclusive",
                "mde": ("max(t + w/3, t/2 + w), w = 2 max(ratio - low, high - ratio) / ratio; "
                        "null when the rank test cannot reach alpha/m") if self.paired else
                       "smallest slowdown flagged with 95% power: exp(max(ln(1+t), ln(1+t/2) + q_ci SE, q_m SE) "
                       "+ z_0.95 SE) - 1, q_m the t quantile at alpha/m",
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


def compare(base: BenchSet | Sequence[BenchSet], new: BenchSet, settings: GateSettings | None = None,
            machine_diffs: list[FieldDiff] | None = None, machines_allowed_to_differ: bool = False,
            noise_profile: NoiseProfile | None = None) -> Comparison:
    """Every benchmark of either side with its verdict and the numbers behind it.

    `base` is one run or several runs of the same suite (the baseline); paired sets (interleaved A/B)
    are compared round by round with the rank test, everything else at the run level (see `runlevel`)."""
    settings = settings or GateSettings()
    bases = [base] if isinstance(base, BenchSet) else list(base)
    if not bases:
        raise ValueError("no base run")
    first = bases[0]
    paired = len(bases) == 1 and first.paired and new.paired
    merged = _merged(bases)
    names = list(dict.fromkeys([*merged.benches, *new.benches]))
    out: dict[str, BenchVerdict] = {}
    measured: list[BenchVerdict] = []
    comparable: list[str] = []
    for name in names:
        b, n = merged.benches.get(name), new.benches.get(name)
        if b is None or n is None or not b.comparable or not n.comparable:
            out[name] = _missing_or_failed(name, b, n)
            continue
        if paired and len(b.samples) != len(n.samples):
            out[name] = BenchVerdict(name, "failed", "paired runs with different round counts", device=b.device)
            continue
        comparable.append(name)
    if paired:
        note = "paired rounds (interleaved A/B): drift between rounds cancels in the pairs"
        for name in comparable:
            v = _paired_verdict(merged.benches[name], new.benches[name], settings)
            out[name] = v
            measured.append(v)
    else:
        est = runlevel.estimate(bases, new, comparable, noise_profile, settings.level)
        note = est.note
        for name in comparable:
            e = est.per_bench[name]
            b = merged.benches[name]
            t, source = settings.threshold_for(b)
            v = BenchVerdict(name, "unchanged", "", t, source, e.ratio, e.ci_low, e.ci_high, settings.level,
                             p_slower=e.p_slower, p_faster=e.p_faster, min_p=0.0, test=e.test,
                             n_base=e.n_base, n_new=e.n_new, median_base_s=e.median_base_s,
                             median_new_s=e.median_new_s,
                             interval_width=2.0 * max(e.ratio - e.ci_low, e.ci_high - e.ratio) / e.ratio,
                             device=b.device, noise=e.noise, between_run_sd=e.tau, k_base=e.k, df=e.df)
            v.mde = runlevel.mde(t, e.se, e.df, settings.alpha / max(len(comparable), 1), settings.level)
            out[name] = v
            measured.append(v)
    m = len(measured)
    slower_holm = stats.holm([v.p_slower for v in measured])  # type: ignore[misc]
    faster_holm = stats.holm([v.p_faster for v in measured])  # type: ignore[misc]
    alpha_first = settings.alpha / max(m, 1)
    for v, ps, pf in zip(measured, slower_holm, faster_holm, strict=True):
        _decide(v, ps, pf, settings.alpha, alpha_first, paired)
    source = first.source if len(bases) == 1 else f"{len(bases)} base runs ({first.source}, ...)"
    return Comparison(source, new.source, settings, paired, [out[n] for n in names],
                      machine_diffs or [], machines_allowed_to_differ, first.label if len(bases) == 1 else source,
                      new.label, len(bases), note)


def _merged(bases: list[BenchSet]) -> BenchSet:
    """One BenchSet naming every base benchmark: the first comparable entry of each fullname (its samples are
    used only for medians shown and for the paired path), else the first entry seen."""
    benches: dict[str, Bench] = {}
    for run in bases:
        for name, bench in run.benches.items():
            if name not in benches or (bench.comparable and not benches[name].comparable):
                benches[name] = bench
    first = bases[0]
    return BenchSet(first.source, first.fmt, benches, first.machine_info, first.paired, first.label, first.profile)


def _paired_verdict(b: Bench, n: Bench, settings: GateSettings) -> BenchVerdict:
    import numpy as np

    t, source = settings.threshold_for(b)
    est = stats.bootstrap_ratio(b.samples, n.samples, settings.level, True)
    test = stats.rank_test(b.samples, n.samples, True)
    return BenchVerdict(b.fullname, "unchanged", "", t, source, est.ratio, est.ci_low, est.ci_high, est.level,
                        p_slower=test.p_slower, p_faster=test.p_faster, min_p=test.min_p, test=test.test,
                        n_base=len(b.samples), n_new=len(n.samples), median_base_s=float(np.median(b.samples)),
                        median_new_s=float(np.median(n.samples)),
                        interval_width=2.0 * max(est.ratio - est.ci_low, est.ci_high - est.ratio) / est.ratio,
                        device=b.device, noise="paired rounds")


def _decide(v: BenchVerdict, p_slower_holm: float, p_faster_holm: float, alpha: float, alpha_first: float,
            paired: bool) -> None:
    assert v.ratio is not None and v.ci_low is not None and v.ci_high is not None and v.threshold is not None
    t, r, w = v.threshold, v.ratio, v.interval_width or 0.0
    v.p_slower_holm, v.p_faster_holm = p_slower_holm, p_faster_holm
    v.p = p_slower_holm if r >= 1.0 else p_faster_holm
    n = min(v.n_base or 0, v.n_new or 0)
    feasible = (v.min_p or 0.0) < alpha_first
    if paired:
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
        v.rounds_needed = _rounds_needed(n, t, w, alpha_first, paired) if paired else None
    elif w > t:
        v.verdict = "inconclusive"
        v.reason = f"too noisy to tell: {ci} is wider than the {t:.0%} threshold"
        v.rounds_needed = _rounds_needed(n, t, w, alpha_first, paired) if paired else None
    else:
        v.verdict, v.reason = "unchanged", f"{pct}, {ci}"
    if v.verdict == "inconclusive" and v.rounds_needed:
        v.reason += f"; about {v.rounds_needed} rounds per side would settle it"
    elif v.verdict == "inconclusive" and not paired and v.noise != "runs":
        source = {"spread": "unknown, estimated from the other benchmarks' moves",
                  "profile": "from the noise profile"}.get(v.noise or "", "unknown")
        v.reason += f"; between-run noise {source} (several base runs would measure it)"


def confirm(primary: Comparison, reruns: Sequence[Comparison]) -> Comparison:
    """A copy of `primary` keeping a regression only where every re-run of the new side, compared with the same
    base, shows it too (the others turn inconclusive, with the re-run's figures in the reason).

    Why: on a shared machine one benchmark now and then runs 1.5-2x slower for a whole process while its
    rounds agree (on a 2-vCPU guest: kernels on 2 threads; pinned to one CPU they were steady); no spread
    measured from a few base runs foresees that, so a single run's regression is re-measured in a fresh
    process before it fails CI (the practice of re-triggering a job before alerting). The re-run is
    independent data, so it is tested on the flagged benchmarks only (Holm over those), and a regression
    needs both stages: the chance of a false failure becomes the product of the two stages' chances."""
    if not reruns:
        return primary
    out = copy.deepcopy(primary)
    out.confirmed_by = [r.new_source for r in reruns]
    flagged = [v for v in out.verdicts if v.verdict == "regression"]
    for rerun in reruns:
        if not flagged:
            break
        by_name = {v.fullname: v for v in rerun.verdicts}
        seen = [by_name.get(v.fullname) for v in flagged]
        holm = stats.holm([1.0 if w is None or w.p_slower is None else w.p_slower for w in seen])
        for v, w, p in zip(flagged, seen, holm, strict=True):
            if v.verdict != "regression":
                continue
            if w is None or w.ratio is None or w.ci_low is None:
                v.verdict = "inconclusive"
                v.reason += f"; not confirmed: {w.verdict if w else 'absent'} in the re-run {rerun.new_source}"
                continue
            t = v.threshold or 0.0
            change = f"{(w.ratio - 1.0) * 100.0:+.1f}%"
            if w.ratio > 1.0 + t and w.ci_low > 1.0 + t / 2.0 and p < out.settings.alpha:
                v.reason += f"; confirmed by the re-run {rerun.new_source} ({change}, p={p:.2g})"
            else:
                v.verdict = "inconclusive"
                v.reason += (f"; not confirmed by the re-run {rerun.new_source} "
                             f"({change}, p={p:.2g} over the {len(flagged)} being confirmed)")
    return out
