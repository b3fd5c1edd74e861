"""Calibrate the CI gate on this machine: false-failure rate of A/A comparisons and detection of a 15% slowdown.

Noise comes from real repeated quick runs (matmul + memory; numpy, torch and jax where installed), made
here (--make N) or reused (--runs DIR). Each simulated comparison draws k + 1 (+ N re-runs) *different*
real runs, k as base and one as new, so run-to-run offsets, drift and the machine's state are in the noise, not
just the spread of one run's rounds; each run's rounds are also resampled with replacement, so repeated
draws of the same runs are not identical. Then the whole suite is gated as `infrabench compare` gates it.

Settings simulated (the ways the gate is used):
  k=1            one base run, no noise profile (noise estimated from the other benchmarks' moves)
  k=1+profile    one base run, with a noise profile made from the runs other than the new one(s)
  k=N, k=max     several base runs (max: every run not drawn as the new run or a re-run)
  ...+confirmN   while the comparison fails, up to N re-runs of the new side (other real runs), each
                 added with `infrabench compare ... --confirm RERUN`: a regression stands only when every
                 re-run shows it too (+confirm = +confirm1). The GitHub Actions recipe gates as 8+confirm2,
                 the setting the targets (and the exit status) apply to (--gate).

A/A: nothing changed; any failing benchmark is a false failure (target <= 1% of comparisons).
Detection: the same comparison with one benchmark of the new run made 15% slower (samples x 1.15),
drawn among those whose MDE in the A/A comparison is below 15%; detected when it fails (target >= 95%);
a real slowdown is in every re-run too. MDE check: one benchmark slowed by its own MDE should be flagged by
the first comparison in about 95% of comparisons (the MDE is the change found with 95% power).

    python bench/gate_calibration.py --make 20 --runs calibration-runs     # ~20 min of runs, then ~15 min
    python bench/gate_calibration.py --runs calibration-runs --trials 1000
    python bench/gate_calibration.py --runs calibration-runs --write-noise infrabench-noise.json
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from infrabench.reports.gate import Comparison, bench_set, compare, confirm
from infrabench.reports.gate.load import Bench, BenchSet
from infrabench.reports.gate.noise import NoiseProfile, estimate_profile, write_profile
from scipy import stats

RECIPE = "8+confirm2"  # examples/github-actions/infrabench-gate.yml: BASELINE_RUNS=8, up to 2 re-runs


def make_runs(out: Path, count: int, backends: str | None) -> None:
    for i in range(count):
        print(f"run {i + 1}/{count} ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, "-m", "infrabench.cli", "run", "--suite", "matmul,memory", "--out", str(out)]
        if backends:
            cmd += ["--backend", backends]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def resampled(run: BenchSet, rng: np.random.Generator, slow: str | None = None, factor: float = 1.0) -> BenchSet:
    benches = {}
    for name, b in run.benches.items():
        if not b.comparable:
            benches[name] = b
            continue
        s = np.asarray(b.samples)[rng.integers(0, len(b.samples), len(b.samples))]
        if name == slow:
            s = s * factor
        benches[name] = Bench(name, s.tolist(), b.status, b.reason, b.device, b.group)
    return BenchSet(run.source, run.fmt, benches, run.machine_info)


def slowed(run: BenchSet, target: str, slowdown: float) -> BenchSet:
    b = run.benches[target]
    bench = Bench(target, [x * (1.0 + slowdown) for x in b.samples], "ok", None, b.device, b.group)
    return BenchSet(run.source, run.fmt, {**run.benches, target: bench}, run.machine_info)


def gate(first: Comparison, bases: list[BenchSet], reruns: list[BenchSet], profile: NoiseProfile | None) -> Comparison:
    """What the recipe decides from the first comparison: while it fails and re-runs are left, one more re-run and
    `compare ... --confirm RERUN [--confirm RERUN ...]` with all the re-runs so far."""
    c = first
    used: list[Comparison] = []
    for rerun in reruns:
        if c.passed:
            break
        used.append(compare(bases, rerun, noise_profile=profile))
        c = confirm(first, used)
    return c


def simulate(runs: list[BenchSet], k: int, use_profile: bool, reruns: int, trials: int, slowdown: float,
             rng: np.random.Generator) -> dict[str, object]:
    false_fail = detect_hits = detect_total = mde_hits = mde_total = 0
    falsely: dict[str, int] = {}
    missed: dict[str, int] = {}
    eligible_counts: list[int] = []
    for _ in range(trials):
        pick = rng.choice(len(runs), size=k + 1 + reruns, replace=False)
        bases = [resampled(runs[i], rng) for i in pick[:k]]
        new_runs = set(int(i) for i in pick[k:])
        profile = estimate_profile([r for j, r in enumerate(runs) if j not in new_runs]) if use_profile else None
        new = resampled(runs[pick[k]], rng)
        again = [resampled(runs[i], rng) for i in pick[k + 1:]]
        first = compare(bases, new, noise_profile=profile)  # also what the MDEs below come from
        c = gate(first, bases, again, profile)
        if not c.passed:
            false_fail += 1
            for v in c.failing:
                falsely[v.fullname] = falsely.get(v.fullname, 0) + 1
        eligible = [v.fullname for v in first.verdicts if v.mde is not None and v.mde < slowdown]
        eligible_counts.append(len(eligible))
        # MDE check: slowed by its own MDE, a benchmark should be flagged by the first comparison ~95% of the time
        finite = [v for v in first.verdicts if v.mde is not None and v.mde < 1.0]
        if finite:
            v = finite[int(rng.integers(len(finite)))]
            e = compare(bases, slowed(new, v.fullname, v.mde), noise_profile=profile)  # type: ignore[arg-type]
            mde_total += 1
            mde_hits += any(w.fullname == v.fullname for w in e.failing)
        if eligible:
            target = str(rng.choice(eligible))
            # a real slowdown is in the re-run too
            slow_new = slowed(new, target, slowdown)
            d = gate(compare(bases, slow_new, noise_profile=profile), bases,
                     [slowed(r, target, slowdown) for r in again], profile)
            detect_total += 1
            if any(v.fullname == target for v in d.failing):
                detect_hits += 1
            else:
                missed[target] = missed.get(target, 0) + 1
    return {"false_fail": false_fail, "detect_hits": detect_hits, "detect_total": detect_total,
            "falsely": falsely, "missed": missed, "eligible_median": float(np.median(eligible_counts)),
            "mde_hits": mde_hits, "mde_total": mde_total}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=Path, help="folder with earlier run folders (*/run.json) to reuse")
    parser.add_argument("--make", type=int, metavar="N",
                        help="make runs until the folder holds N (default: 20 without --runs, none with it)")
    parser.add_argument("--backend", help="backends for runs made here (default: every installed one)")
    parser.add_argument("--trials", type=int, default=1000, help="comparisons per setting (default 1000)")
    parser.add_argument("--slowdown", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settings",
                        default="1,1+profile,8,1+confirm2,1+profile+confirm2,2+confirm2,5+confirm2,8+confirm2",
                        help="comma-separated: 1, N or max base runs, each optionally +profile and/or +confirmN")
    parser.add_argument("--gate", default=RECIPE,
                        help=f"the setting the targets apply to (default {RECIPE}: the GitHub Actions recipe's "
                             "8 base runs and up to 2 re-runs); the others are printed for comparison")
    parser.add_argument("--write-noise", type=Path, metavar="FILE",
                        help="also write a noise profile from all the runs (for `infrabench compare --noise FILE`)")
    args = parser.parse_args()
    folder = args.runs or Path("infrabench-calibration")
    files = sorted(glob.glob(str(folder / "*" / "run.json")))
    want = args.make if args.make is not None else (0 if args.runs else 20)
    if len(files) < want:
        folder.mkdir(parents=True, exist_ok=True)
        make_runs(folder, want - len(files), args.backend)
        files = sorted(glob.glob(str(folder / "*" / "run.json")))
    if len(files) < 3:
        print(f"{folder}: {len(files)} run(s); at least 3 are needed (make them with --make N)", file=sys.stderr)
        return 2
    runs = [bench_set(json.loads(Path(f).read_text()), f) for f in files]
    comparable = sum(b.comparable for b in runs[0].benches.values())
    print(f"runs: {len(runs)} from {folder}; benchmarks per run: {len(runs[0].benches)} ({comparable} with samples); "
          f"trials per setting: {args.trials}")
    if args.write_noise:
        write_profile(estimate_profile(runs), args.write_noise)
        print(f"wrote noise profile {args.write_noise}")
    worst = 0
    settings = [x.strip() for x in args.settings.split(",")]
    if args.gate not in settings:
        settings.append(args.gate)
    verdict = f"{args.gate}: not simulated"
    for setting in settings:
        parts = setting.strip().split("+")
        use_profile = "profile" in parts[1:]
        confirm_token = next((p for p in parts[1:] if p.startswith("confirm")), None)
        reruns = 0 if confirm_token is None else int(confirm_token[len("confirm"):] or 1)
        k = len(runs) - 1 - reruns if parts[0] == "max" else int(parts[0])
        if k < 1 or k + 1 + reruns > len(runs):
            print(f"{setting}: needs {max(k, 1) + 1 + reruns} runs, have {len(runs)}: skipped")
            continue
        t0 = time.perf_counter()
        r = simulate(runs, k, use_profile, reruns, args.trials, args.slowdown, np.random.default_rng(args.seed))
        took = time.perf_counter() - t0
        label = f"k={k}" + (" + noise profile" if use_profile else "") + \
            (f" + up to {reruns} confirming re-run(s)" if reruns else "")
        ff = r["false_fail"] / args.trials  # type: ignore[operator]
        upper = float(stats.binomtest(int(r["false_fail"]), args.trials).proportion_ci(0.95).high)  # type: ignore
        line = (f"[{label}] false-failure rate (A/A): {ff:.2%} ({r['false_fail']}/{args.trials}, simulation's 95% "
                f"upper bound {upper:.2%}; target <= 1%)")
        if r["detect_total"]:
            det = r["detect_hits"] / r["detect_total"]  # type: ignore[operator]
            line += (f"; detection of a {args.slowdown:.0%} slowdown where MDE < {args.slowdown:.0%}: {det:.1%} "
                     f"({r['detect_hits']}/{r['detect_total']}, target >= 95%; median "
                     f"{r['eligible_median']:.0f} benchmarks eligible per comparison)")
            if setting == args.gate:
                worst = max(worst, int(det < 0.95))
        else:
            line += f"; detection: no benchmark had an MDE below {args.slowdown:.0%}"
        print(line + f" [{took:.0f} s]")
        if r["mde_total"]:
            print(f"    MDE check: slowed by its own MDE (< 100%), a benchmark was flagged by the first comparison in "
                  f"{r['mde_hits'] / r['mde_total']:.1%} of {r['mde_total']} comparisons (95% expected)")
        if setting == args.gate:
            worst = max(worst, int(ff > 0.01))
            verdict = (f"{label}: false-failure rate {ff:.2%} ({'meets' if ff <= 0.01 else 'misses'} <= 1%); "
                       + (f"detection {r['detect_hits'] / r['detect_total']:.1%} where MDE < {args.slowdown:.0%}"
                          if r["detect_total"] else f"detection: no benchmark had an MDE below {args.slowdown:.0%}"))
        for name, n in sorted(r["falsely"].items(), key=lambda kv: -kv[1])[:3]:  # type: ignore[attr-defined]
            print(f"    falsely failed {n} times: {name}")
        for name, n in sorted(r["missed"].items(), key=lambda kv: -kv[1])[:3]:  # type: ignore[attr-defined]
            print(f"    {args.slowdown:.0%} slowdown missed {n} times: {name}")
    print(f"gate setting {verdict}")
    return worst


if __name__ == "__main__":
    sys.exit(main())
