"""Run-level comparison: the new run's log median against the base runs', with between-run noise in the SE.

Why not a rank test on rounds: rounds of one run share one process (its memory placement, thread
layout, the machine's state for those seconds), so they are not independent draws of what another
run would give. Measured on a 2-vCPU KVM guest: STREAM bandwidth per process differs by 25-55% while
each process's 10 rounds agree within a few %; matmul and the cache sweep show smaller but similar
offsets. A Mann-Whitney test on rounds calls every such offset significant. The unit of replication
is the run, so the test is at the run level:

    d = ln median(new) - mean_j ln median(base_j),   SE^2 = tau^2 / k + max(tau^2, se_new^2)

with tau the between-run log-SD of one run's median and se_new the within-run SE of the new run's
log median (it only matters when the new run is noisier than runs usually differ); degrees of freedom
by Welch-Satterthwaite over the parts (a part set by the rounds has rounds - 1). tau comes from,
in order of preference:

- runs (k >= 2 base runs): the SD of the base runs' log medians, moderated towards the mean variance
  of the same suite's benchmarks (worth PRIOR_DF runs) and never below its own SD, df = k - 1 + PRIOR_DF;
- profile (one base run, `--noise FILE`): the log-SD measured earlier from repeated runs on this
  machine, moderated the same way; SE^2 = max(tau^2, se_base^2) + max(tau^2, se_new^2);
- spread (one base run, no profile): between-run noise is unknown. It is estimated from how far the
  *other* benchmarks of the same suite moved between these two runs: tau^2 = mean of their d^2 / 2
  (conservative: the suite's noisiest benchmarks raise it for all), with 3 degrees of freedom (one pair of
  runs cannot say which benchmarks are prone to jumps). When nothing else moved (a copy of a run) tau is
  0 and only the rounds' noise is left. Outputs say that noise is unknown.

p is one-sided from Student's t; the interval is the t interval of d at the requested level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from infrabench.reports.gate.load import BenchSet
from infrabench.reports.gate.noise import NoiseProfile, log_median, run_level_log_medians, within_sd, within_se

PRIOR_DF = 4.0  # the suite's typical between-run spread counts as this many runs' worth of evidence
POWER_Z = 1.6449  # 95% power for the minimum detectable effect
SPREAD_MIN_OTHERS = 3  # fewer comparable benchmarks in a suite: use all suites' benchmarks instead
SPREAD_DF = 3.0  # one pair of runs says nothing about which benchmarks jump: heavy tails (Student t, 3 df)


@dataclass
class RunLevel:
    ratio: float
    ci_low: float
    ci_high: float
    se: float
    df: float
    p_slower: float
    p_faster: float
    tau: float
    k: int
    noise: str
    test: str
    n_base: int
    n_new: int
    median_base_s: float
    median_new_s: float
    noise_detail: str = ""  # the largest part of the SE in words, e.g. "between-run spread 23% of the median ..."


@dataclass
class Estimate:
    per_bench: dict[str, RunLevel]
    note: str


def _part(tau: float, df_tau: float, se_w: float, rounds: int) -> tuple[float, float]:
    """One side's variance, max(tau^2, se_w^2), with the degrees of freedom of whichever is larger."""
    if tau >= se_w:
        return tau ** 2, df_tau
    return se_w ** 2, float(max(rounds - 1, 1))


def _combine(parts: list[tuple[float, float]]) -> tuple[float, float]:
    """SE of a sum of independent variance parts, and its Welch-Satterthwaite degrees of freedom."""
    total = sum(v for v, _ in parts)
    denom = sum(v * v / df for v, df in parts)
    df = total * total / denom if denom > 0 else 1e6
    return math.sqrt(total), max(1.0, min(df, 1e6))


def _exp(x: float) -> float:
    """exp that says infinity instead of raising: a log interval from input noise can be any width."""
    return math.exp(x) if x < 709.0 else math.inf


def spread_pct(log_sd: float) -> str:
    """A log-SD as a spread in % of the median, e.g. 0.207 -> "23%"."""
    pct = math.expm1(min(log_sd, 709.0)) * 100.0
    return f"{pct:.1f}%" if pct < 10.0 else f"{pct:,.0f}%"


def _detail(mode: str, tau: float, k: int, runs: int | None, rounds: dict[str, tuple[float, float, int]]) -> str:
    """The largest part of the comparison's noise in words. `rounds`: side -> (SE, SD, rounds) of its log median."""
    side, (se_w, sd_w, n) = max(rounds.items(), key=lambda kv: kv[1][0])
    if se_w > tau:
        return f"the {side} run's rounds spread {spread_pct(sd_w)} of the median, {n} rounds"
    spread = f"between-run spread {spread_pct(tau)} of the median"
    if mode == "runs":
        return f"{spread}, {k} base runs"
    if mode == "profile":
        return f"{spread}, from a noise profile of {runs} runs"
    return f"{spread} (guessed from the other benchmarks: one base run)"


def _suite(name: str) -> str:
    return name.split("/", 1)[0] if "/" in name else "(all)"


def _chi2_median_ratio(df: float) -> float:
    """median(chi2_df) / df, to turn a median of variance estimates into a variance estimate."""
    from scipy import stats

    return float(stats.chi2.median(df) / df)


def _moderated(sds: dict[str, tuple[float, int]]) -> dict[str, tuple[float, float]]:
    """(tau, df) per benchmark from (SD, runs) measured over repeated runs: the SD shrunk towards its suite's mean
    variance, never below its own SD.

    Why the mean and the floor: between-run moves are heavy-tailed (a benchmark steady for five runs can
    move 2x in the sixth: thread placement on a shared 2-vCPU guest), so a benchmark's own SD from a few
    runs often misses the jumps it is prone to; the suite's mean variance includes the jumps of its
    noisiest members and lifts the quiet-looking ones; a benchmark seen to be noisy keeps its own SD."""
    by_suite: dict[str, list[float]] = {}
    for name, (sd, _) in sds.items():
        by_suite.setdefault(_suite(name), []).append(sd ** 2)
    everything = [v for vs in by_suite.values() for v in vs]
    out: dict[str, tuple[float, float]] = {}
    for name, (sd, runs) in sds.items():
        pool = by_suite.get(_suite(name)) or everything
        prior = sum(pool) / len(pool)
        df_i = runs - 1
        var = max(sd ** 2, (PRIOR_DF * prior + df_i * sd ** 2) / (PRIOR_DF + df_i))
        out[name] = (math.sqrt(var), PRIOR_DF + df_i)
    return out


def _spread(d: dict[str, float], names: list[str]) -> dict[str, tuple[float, float]]:
    """(tau, df) per benchmark from the other benchmarks' run-to-run moves (leave-one-out, per suite).

    The root mean square, not a median: benchmarks differ widely in how much they move between runs
    (1% to 40% on one machine), and with one base run nothing says which one is which, so every
    benchmark is held to the suite's typical move, large ones included."""
    out: dict[str, tuple[float, float]] = {}
    for name in names:
        others = [d[o] ** 2 for o in names if o != name and _suite(o) == _suite(name)]
        if len(others) < SPREAD_MIN_OTHERS:
            others = [d[o] ** 2 for o in names if o != name]
        if not others:
            out[name] = (0.0, 1.0)
            continue
        out[name] = (math.sqrt(sum(others) / len(others) / 2.0), SPREAD_DF)
    return out


def estimate(bases: Sequence[BenchSet], new: BenchSet, names: list[str], profile: NoiseProfile | None,
             level: float) -> Estimate:
    """Ratio, interval, p and the noise behind them for each of `names` (comparable on both sides)."""
    import numpy as np
    from scipy import stats

    spreads = run_level_log_medians(bases)
    new_lm = {n: log_median(new.benches[n].samples) for n in names}
    new_se = {n: within_se(new.benches[n].samples) for n in names}
    k_all = len(bases)
    d = {n: new_lm[n] - spreads[n].mean for n in names}
    moderated = _moderated({n: (spreads[n].sd or 0.0, spreads[n].k) for n in names if spreads[n].sd is not None})
    profiled = {}
    if profile is not None:
        entries = {n: profile.lookup(n) for n in names}
        profiled = _moderated({n: (e.log_sd, e.runs) for n, e in entries.items() if e is not None})
    spread = _spread(d, names)  # also the fallback for a benchmark comparable in only one of several base runs
    used: set[str] = set()
    per: dict[str, RunLevel] = {}
    q = 1.0 - (1.0 - level) / 2.0
    for n in names:
        sp = spreads[n]
        base_bench = next(b.benches[n] for b in bases if n in b.benches and b.benches[n].comparable)
        n_new = len(new.benches[n].samples)
        rounds = {"new": (new_se[n], within_sd(new.benches[n].samples), n_new)}
        if n in moderated:
            tau, df_tau = moderated[n]
            se, df = _combine([(tau ** 2 / sp.k, df_tau), _part(tau, df_tau, new_se[n], n_new)])
            mode = "runs"
        else:
            if n in profiled:
                (tau, df_tau), mode = profiled[n], "profile"
            else:
                tau, df_tau = spread.get(n, (0.0, 1.0))
                mode = "spread"
            se_base = within_se(base_bench.samples)
            rounds["base"] = (se_base, within_sd(base_bench.samples), len(base_bench.samples))
            se, df = _combine([_part(tau, df_tau, se_base, len(base_bench.samples)),
                               _part(tau, df_tau, new_se[n], n_new)])
        used.add(mode)
        se = max(se, 1e-12)
        z = d[n] / se
        half = float(stats.t.ppf(q, df)) * se
        all_base = [float(np.median(b.benches[n].samples)) for b in bases
                    if n in b.benches and b.benches[n].comparable]
        entry = profile.lookup(n) if mode == "profile" and profile is not None else None
        per[n] = RunLevel(ratio=_exp(d[n]), ci_low=_exp(d[n] - half), ci_high=_exp(d[n] + half),
                          se=se, df=df, p_slower=float(stats.t.sf(z, df)), p_faster=float(stats.t.cdf(z, df)),
                          tau=tau, k=sp.k, noise=mode, test=f"run-level t (df {df:.3g})",
                          n_base=sum(len(b.benches[n].samples) for b in bases
                                     if n in b.benches and b.benches[n].comparable),
                          n_new=len(new.benches[n].samples), median_base_s=float(np.exp(np.mean(np.log(all_base)))),
                          median_new_s=float(np.median(new.benches[n].samples)),
                          noise_detail=_detail(mode, tau, sp.k, entry.runs if entry else None, rounds))
    return Estimate(per, noise_note(k_all, used, profile))


def noise_note(k: int, modes: set[str], profile: NoiseProfile | None) -> str:
    if k >= 2:
        return (f"between-run noise measured from {k} base runs (SD of each benchmark's log median, moderated "
                f"towards its suite's typical spread)")
    parts = ["between-run noise unknown (one base run)"]
    if "profile" in modes and profile is not None:
        parts.append(f"taken from the noise profile {profile.source or '(given)'}")
    if "spread" in modes:
        parts.append("estimated from how far the other benchmarks of each suite moved between the two runs"
                     + (" (benchmarks the profile does not list)" if "profile" in modes else "")
                     + "; MDEs marked (if typical) assume each benchmark moves like its suite's typical one")
    parts.append("compare against several base runs, or pass --noise FILE, to measure it")
    return "; ".join(parts)


def mde(threshold: float, se: float, df: float, alpha_m: float, level: float) -> float:
    """Smallest slowdown this comparison flags with 95% power: beyond t, interval clear of t/2, p < alpha/m."""
    from scipy import stats

    q_ci = float(stats.t.ppf(1.0 - (1.0 - level) / 2.0, df))
    q_m = float(stats.t.isf(alpha_m, df))
    need = max(math.log1p(threshold), math.log1p(threshold / 2.0) + q_ci * se, q_m * se) + POWER_Z * se
    return math.expm1(need) if need < 709.0 else math.inf
