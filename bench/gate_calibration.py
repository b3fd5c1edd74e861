"""Calibrate the CI gate on this machine: false-failure rate of A/A comparisons and detection of a 15% slowdown.

Noise comes from real repeated quick runs (matmul + memory, numpy + torch), made here or reused with
--runs DIR. Each simulated comparison draws two *different* real runs as base and new (so run-to-run
drift, neighbours and heat are in the noise, not just the spread within one run), resamples each
benchmark's rounds with replacement, and gates the whole suite as `infrabench compare` would.
A/A: nothing changed, any failure is false. Detection: one benchmark's new samples x 1.15, counted over
benchmarks whose MDE (from the same comparison) is below 15%. Prints both rates.

    python bench/gate_calibration.py --runs /tmp/gate/calib --trials 1000
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from infrabench.reports.gate import bench_set, compare
from infrabench.reports.gate.load import Bench, BenchSet


def make_runs(out: Path, count: int) -> None:
    for i in range(count):
        print(f"run {i + 1}/{count} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "infrabench.cli", "run", "--suite", "matmul,memory",
                        "--backend", "numpy,torch", "--out", str(out)], check=True, stdout=subprocess.DEVNULL)


def resampled(run: BenchSet, rng: np.random.Generator, slow: str | None = None, factor: float = 1.0) -> BenchSet:
    benches = {}
    for name, b in run.benches.items():
        if not b.comparable:
            benches[name] = b
            continue
        s = np.asarray(b.samples)[rng.integers(0, len(b.samples), len(b.samples))]
        if name == slow:
            s = s * factor
        benches[name] = Bench(name, [float(v) for v in s], b.status, b.reason, b.device, b.group)
    return BenchSet(run.source, run.fmt, benches, run.machine_info)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, help="folder with earlier run folders (*/run.json) to reuse")
    parser.add_argument("--make", type=int, default=5, help="runs to make when --runs has fewer than 2 (default 5)")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--slowdown", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    folder = args.runs or Path("infrabench-calibration")
    files = sorted(glob.glob(str(folder / "*" / "run.json")))
    if len(files) < 2:
        folder.mkdir(parents=True, exist_ok=True)
        make_runs(folder, args.make)
        files = sorted(glob.glob(str(folder / "*" / "run.json")))
    runs = [bench_set(json.loads(Path(f).read_text()), f) for f in files]
    rng = np.random.default_rng(args.seed)
    false_fail = 0
    detect_hits = detect_total = 0
    per_bench_false: dict[str, int] = {}
    for _ in range(args.trials):
        i, j = rng.choice(len(runs), size=2, replace=False)
        base = resampled(runs[i], rng)
        c = compare(base, resampled(runs[j], rng))
        if not c.passed:
            false_fail += 1
            for v in c.failing:
                per_bench_false[v.fullname] = per_bench_false.get(v.fullname, 0) + 1
        eligible = [v.fullname for v in c.verdicts if v.mde is not None and v.mde < args.slowdown]
        if eligible:
            target = str(rng.choice(eligible))
            new = resampled(runs[i], rng, slow=target, factor=1.0 + args.slowdown)  # same run: detection power
            d = compare(base, new)
            detect_total += 1
            detect_hits += any(v.fullname == target for v in d.failing)
    print(f"runs: {len(runs)} from {folder}; benchmarks per run: {len(runs[0].benches)}; trials: {args.trials}")
    print(f"false-failure rate (A/A, different real runs): {false_fail / args.trials:.2%} (target <= 1%)")
    if detect_total:
        print(f"detection rate of a {args.slowdown:.0%} slowdown where MDE < {args.slowdown:.0%}: "
              f"{detect_hits / detect_total:.1%} over {detect_total} trials (target >= 95%)")
    else:
        print(f"detection rate: no benchmark had an MDE below {args.slowdown:.0%} in any trial")
    for name, n in sorted(per_bench_false.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  falsely failed {n} times: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
