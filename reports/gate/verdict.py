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

Changes are said in words everywhere ("12.3% slower", "2.5× faster": see words.py), and a figure the noise
makes meaningless is not printed (`TOO_NOISY_FACTOR`): an interval reaching more than 2× away from its
estimate, an MDE above 100% (only a doubling could be flagged), or anything non-finite reads "too noisy to
tell" with what made it so (`noise_detail`, e.g. "between-run spread 230% of the median, 2 base runs").
"""

from __future__ import annotations

import copy
import fnmatch
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from infrabench.reports.gate import runlevel, stats, words
from infrabench.reports.gate.load import Bench, BenchSet
from infrabench.reports.gate.noise import NoiseProfile

# A figure is "too noisy to tell" beyond this speed factor: an interval bound more than 2× (100%) away from the
# estimate, or an MDE above 100% (a doubling). Why 2×: the gate's thresholds are 5-10%; an interval or a detectable
# effect ten to twenty times wider says nothing about a change of that size, and printed as "+251,773.9%" it reads as a
# measurement. Non-finite figures (an overflowing t interval from one or two runs) are always too noisy.
TOO_NOISY_FACTOR = 2.0

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
    note: str = ""  # the reason in a few words, for a table cell; `reason` has it all
    noise_detail: str | None = None  # the largest source of noise in words
    too_noisy: str | None = None  # set when a figure (interval, MDE) is too noisy to print: why

    @property
    def change_pct(self) -> float | None:
        """(ratio - 1) in % of the time per iteration: + slower; kept for readers of comparison.json 1.x."""
        return None if self.ratio is None or not math.isfinite(self.ratio) else (self.ratio - 1.0) * 100.0

    @property
    def change_words(self) -> str:
        return words.describe_change(self.ratio)

    @property
    def interval_too_noisy(self) -> bool:
        """No usable interval: non-finite, or a bound beyond TOO_NOISY_FACTOR from the estimate. A regression's or
        improvement's interval is always shown: its near bound is the evidence."""
        if self.ci_low is None or self.ci_high is None or self.ratio is None:
            return False
        return self.verdict not in ("regression", "improvement") and _interval_unusable(self.ratio, self.ci_low,
                                                                                       self.ci_high)

    @property
    def interval_words(self) -> str:
        if self.interval_too_noisy:
            return "too noisy to tell"
        return words.describe_interval(self.ci_low, self.ci_high)

    @property
    def mde_too_noisy(self) -> bool:
        return self.mde is not None and not (math.isfinite(self.mde) and self.mde <= TOO_NOISY_FACTOR - 1.0)

    @property
    def mde_words(self) -> str:
        if self.ratio is None:
            return words.NO_FIGURE
        if self.mde is None:
            return "none (too few rounds)"
        if self.mde_too_noisy:
            return "too noisy to tell"
        return words.describe_slowdown(self.mde)

    def to_dict(self) -> dict[str, Any]:
        """Every field, with non-finite numbers as null (the reason and `too_noisy` say why) and the words."""
        data = {k: (None if isinstance(x, float) and not math.isfinite(x) else x) for k, x in asdict(self).items()}
        return {**data, "change_pct": self.change_pct, "change_words": self.change_words,
                "interval_words": self.interval_words, "mde_words": self.mde_words}


def _interval_unusable(ratio: float, low: float, high: float) -> bool:
    if not all(math.isfinite(x) and x > 0.0 for x in (ratio, low, high)):
        return True
    return max(high / ratio, ratio / low) > TOO_NOISY_FACTOR


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
            "benchmarks": [v.to_dict() for v in self.sorted_verdicts()],
            "method": {
                "ratio": "median(new) / median(base) of seconds per iteration; > 1 is slower",
                "words": "change_words: the faster side's speed over the slower one's, f >= 1: 'N.N% slower' "
                         "(the new run takes (f - 1) more time per iteration) or 'N.N% faster' (does (f - 1) more "
                         "per second) below 2x, 'N.N× slower/faster' at or above (change_pct is the signed "
                         "(ratio - 1) of the time)",
                "too_noisy": f"an interval bound more than {TOO_NOISY_FACTOR:g}x away from the ratio (not for "
                             "a regression or improvement), an MDE above "
                             f"{(TOO_NOISY_FACTOR - 1) * 100:.0f}%, or a non-finite figure: written 'too noisy "
                             "to tell', with the largest source of noise in too_noisy",
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
        return BenchVerdict(name, "new", "only in the new run", device=new.device, note="only in the new run")
    if new is None and base is not None:
        return BenchVerdict(name, "missing", "in the base run, not in the new run", device=base.device,
                            note="not in the new run")
    assert base is not None and new is not None
    if base.status == "skipped" and new.status == "skipped":
        return BenchVerdict(name, "skipped", f"skipped in both runs: {new.reason}", device=base.device,
                            note="skipped in both runs")
    parts, short = [], []
    for side, bench in (("base", base), ("new", new)):
        if not bench.comparable:
            parts.append(f"{side} {bench.status}: {bench.reason}")
            short.append(f"{side} {bench.status}")
    return BenchVerdict(name, "failed", "; ".join(parts), device=base.device, note=", ".join(short))


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
            out[name] = BenchVerdict(name, "failed", "paired runs with different round counts", device=b.device,
                                     note="different round counts")
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
                             interval_width=_width(e.ratio, e.ci_low, e.ci_high),
                             device=b.device, noise=e.noise, between_run_sd=e.tau, k_base=e.k, df=e.df,
                             noise_detail=e.noise_detail)
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


def _width(ratio: float, low: float, high: float) -> float:
    """Twice the interval's wider half, relative to the ratio (infinite when a figure is unusable)."""
    if not all(math.isfinite(x) and x > 0.0 for x in (ratio, low, high)):
        return math.inf
    return 2.0 * max(ratio - low, high - ratio) / ratio


def _merged(bases: list[BenchSet]) -> BenchSet:
    """One BenchSet naming every base benchmark: the first comparable entry of each fullname (its samples are
    used only for medians shown and for the paired path), else the first entry seen."""
    benches: dict[str, Bench] = {}
    for run in bases:
        for name, bench in run.benches.items():
            if name not in benches or (bench.comparable and not benches[name].comparable):
                benches[name] = bench
    first = bases[0]
    return BenchSet(first.source, first.fmt, benches, first.machine_info, first.paired, first.label, first.profile,
                    first.threads)


def _paired_verdict(b: Bench, n: Bench, settings: GateSettings) -> BenchVerdict:
    import numpy as np

    t, source = settings.threshold_for(b)
    est = stats.bootstrap_ratio(b.samples, n.samples, settings.level, True)
    test = stats.rank_test(b.samples, n.samples, True)
    logs = np.log(np.asarray(n.samples, dtype=float)) - np.log(np.asarray(b.samples, dtype=float))
    sd = float(np.median(np.abs(logs - np.median(logs)))) * 1.4826 or float(np.std(logs, ddof=1))
    detail = f"paired rounds' ratios spread {runlevel.spread_pct(sd)}, {len(logs)} rounds"
    return BenchVerdict(b.fullname, "unchanged", "", t, source, est.ratio, est.ci_low, est.ci_high, est.level,
                        p_slower=test.p_slower, p_faster=test.p_faster, min_p=test.min_p, test=test.test,
                        n_base=len(b.samples), n_new=len(n.samples), median_base_s=float(np.median(b.samples)),
                        median_new_s=float(np.median(n.samples)),
                        interval_width=_width(est.ratio, est.ci_low, est.ci_high),
                        device=b.device, noise="paired rounds", noise_detail=detail)


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
    change = words.describe_change(r)
    ci = f"{v.ci_level:.0%} CI {words.describe_interval(v.ci_low, v.ci_high)}"
    noisy = _interval_unusable(r, v.ci_low, v.ci_high)
    detail = v.noise_detail or "the rounds' spread"
    if slower_effect and p_slower_holm < alpha and not math.isinf(r):
        v.verdict, v.reason = "regression", f"{change}, {ci}, p={p_slower_holm:.2g} < {alpha:g} (threshold {t:.0%})"
        v.note = "significant (Holm)"
    elif faster_effect and p_faster_holm < alpha and r > 0.0:
        v.verdict, v.reason = "improvement", f"{change}, {ci}, p={p_faster_holm:.2g}"
        v.note = "significant (Holm)"
    elif (slower_effect or faster_effect) and not noisy:
        v.verdict = "inconclusive"
        p = p_slower_holm if slower_effect else p_faster_holm
        if not feasible:
            v.reason = (f"{change}, beyond the {t:.0%} threshold, but {n} rounds cannot give p < {alpha_first:.2g} "
                        f"(smallest possible p {v.min_p:.2g})")
            v.note = f"{n} rounds cannot reach p < {alpha_first:.2g}"
        else:
            v.reason = f"{change}, beyond the {t:.0%} threshold, but p={p:.2g} after Holm is not below {alpha:g}"
            v.note = "not significant after Holm"
        v.rounds_needed = _rounds_needed(n, t, w, alpha_first, paired) if paired else None
    elif noisy:
        v.verdict = "inconclusive"
        v.reason = f"too noisy to tell: {detail}"
        v.note = detail
        v.too_noisy = detail
        v.rounds_needed = _rounds_needed(n, t, w, alpha_first, paired) if paired and math.isfinite(w) else None
    elif w > t:
        v.verdict = "inconclusive"
        v.reason = f"{change}, {ci} is wider than the {t:.0%} threshold"
        v.note = "interval wider than the threshold"
        v.rounds_needed = _rounds_needed(n, t, w, alpha_first, paired) if paired else None
    else:
        v.verdict, v.reason = "unchanged", f"{change}, {ci}"
        v.note = "within the threshold"
    if v.mde_too_noisy and v.too_noisy is None:
        v.too_noisy = detail
        v.reason += f"; the smallest detectable change is too noisy to tell ({detail})"
    if v.verdict == "inconclusive" and v.rounds_needed:
        v.reason += f"; about {v.rounds_needed} rounds per side would settle it"
        v.note += f"; ~{v.rounds_needed} rounds would settle it"
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
                v.note = "not confirmed by a re-run"
                continue
            t = v.threshold or 0.0
            change = words.describe_change(w.ratio)
            if w.ratio > 1.0 + t and w.ci_low > 1.0 + t / 2.0 and p < out.settings.alpha:
                v.reason += f"; confirmed by the re-run {rerun.new_source} ({change}, p={p:.2g})"
                v.note = f"significant, confirmed by {len(out.confirmed_by)} re-run(s)"
            else:
                v.verdict = "inconclusive"
                v.reason += (f"; not confirmed by the re-run {rerun.new_source} "
                             f"({change}, p={p:.2g} over the {len(flagged)} being confirmed)")
                v.note = "not confirmed by a re-run"
    return out
