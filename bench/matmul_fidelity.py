"""Does the matmul suite report what a plain loop would? Target ratio 0.95-1.05.

Runs infrabench's torch fp32 square matmul (run_suite on torch cpu, in this process) and a plain
`a @ b` loop timed with time.perf_counter on the same size and threads, alternating the two, and
prints both in GFLOP/s and their ratio (suite / plain) per repetition, then the ratio of the medians
over all repetitions (on a shared, noisy machine single repetitions scatter; the medians do not).

    python bench/matmul_fidelity.py [--size 2048] [--reps 7] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from infrabench.suites.backends import get_backend
from infrabench.suites.matmul import Shape, run_suite
from infrabench.suites.options import SuiteOptions
from infrabench.suites.result import BenchResult


def suite_gflops(size: int, threads: int) -> float:
    results: list[BenchResult] = []
    run_suite(get_backend("torch"), SuiteOptions(profile="quick", devices=["cpu"], dtypes=["fp32"], threads=threads),
              results.append, shapes=[Shape("square", size, size, size)])
    [r] = results
    if r.status != "ok":
        raise SystemExit(f"suite result {r.status}: {r.reason}")
    return r.work["flops"] / statistics.median(r.samples_s) / 1e9


def plain_gflops(size: int, threads: int, calls: int = 7) -> float:
    import torch

    torch.set_num_threads(threads)
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    for _ in range(2):
        a @ b
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * size**3 / statistics.median(times) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    suites, plains = [], []
    for rep in range(args.reps):
        suite, plain = suite_gflops(args.size, args.threads), plain_gflops(args.size, args.threads)
        suites.append(suite)
        plains.append(plain)
        print(f"rep {rep + 1}: suite {suite:8.1f} GFLOP/s  plain loop {plain:8.1f} GFLOP/s  ratio {suite / plain:.3f}")
    suite, plain = statistics.median(suites), statistics.median(plains)
    ratio = suite / plain
    verdict = "within" if 0.95 <= ratio <= 1.05 else "OUTSIDE"
    print(f"torch cpu fp32 {args.size}^3, {args.threads} threads, {args.reps} alternating reps: "
          f"suite median {suite:.1f} GFLOP/s, plain loop median {plain:.1f} GFLOP/s, "
          f"ratio {ratio:.3f} ({verdict} the 0.95-1.05 target)")


if __name__ == "__main__":
    main()
