"""Does the memory suite reach what torch itself can do? infrabench's triad vs a bare torch triad (target >= 0.9).

Runs the memory suite in this process on torch CPU (fp64, STREAM-sized arrays from this machine's profile)
and takes its triad GB/s. A bare `torch.add(b, c, alpha=s, out=a)` on arrays of the same size, with the same
threads, is timed right before the suite's triad and right after it (from the suite's emit callback, so both
sit next to the suite's measurement in time), and the ratio suite / mean(bare) is printed. Repeated N times
because this machine is shared and noisy: compare the ratio within a repeat, not absolute figures across runs.

Usage: python bench/memory_ceiling.py [--repeats N] [--profile quick|standard|full] [--threads T]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

REFERENCE_STREAM_TRIAD_GBS = 25.7  # reference C STREAM (OpenMP, -O3, 2 threads) on a machine like the dev VM


class BareTriad:
    """`torch.add(b, c, alpha=3, out=a)` on its own three arrays; GB/s counted as STREAM does (2 reads + 1 write)."""

    def __init__(self, n: int, threads: int):
        import torch

        self.torch, self.n, self.threads = torch, n, threads
        self.a, self.b, self.c = (torch.randn(n, dtype=torch.float64) for _ in range(3))

    def gbs(self, warmup: int = 5, rounds: int = 15) -> float:
        torch = self.torch
        torch.set_num_threads(self.threads)
        for _ in range(warmup):
            torch.add(self.b, self.c, alpha=3.0, out=self.a)
        samples = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            torch.add(self.b, self.c, alpha=3.0, out=self.a)
            samples.append(time.perf_counter() - t0)
        return 3 * self.n * 8 / statistics.median(samples) / 1e9


def one_repeat(profile: str, machine: dict[str, Any], threads: int, bare: BareTriad) -> tuple[float, float, float]:
    """(suite triad GB/s, bare GB/s just before it, bare GB/s just after it)."""
    from infrabench.suites.backends import get_backend
    from infrabench.suites.memory import KERNELS, run_suite
    from infrabench.suites.options import SuiteOptions
    from infrabench.suites.result import BenchResult

    kernels = list(KERNELS)
    before_triad = kernels[kernels.index("triad") - 1]  # the suite's kernel measured just before triad
    got: dict[str, Any] = {}

    def emit(result: BenchResult) -> None:
        if result.device != "cpu" or result.dtype != "fp64":
            return
        if result.name == before_triad:
            got["before"] = bare.gbs()
        elif result.name == "triad":
            got["triad"] = result
            got["after"] = bare.gbs()

    run_suite(get_backend("torch"), SuiteOptions(profile=profile, devices=["cpu"], machine=machine, threads=threads),
              emit)
    triad = got.get("triad")
    if triad is None or triad.status != "ok" or not triad.samples_s:
        raise SystemExit(f"no ok fp64 triad from the memory suite: {triad and (triad.status, triad.reason)}")
    if triad.extra["n"] != bare.n:
        raise SystemExit(f"the suite ran {triad.extra['n']} elements per array, the bare triad {bare.n}")
    return triad.work["bytes"] / statistics.median(triad.samples_s) / 1e9, got["before"], got["after"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", default="quick", choices=["quick", "standard", "full"])
    parser.add_argument("--threads", type=int, default=None, help="default: usable CPUs from the profile")
    args = parser.parse_args()

    from infrabench.suites.memory import ITEMSIZE, cpu_sizes, usable_cpus
    from infrabench.suites.options import SuiteOptions

    import infrabench

    machine = infrabench.detect().to_dict()
    threads = args.threads or usable_cpus(SuiteOptions(machine=machine))
    n = cpu_sizes(machine).array_bytes // ITEMSIZE["fp64"]  # what the suite uses on torch CPU
    bare = BareTriad(n, threads)
    ratios, ours_all = [], []
    for i in range(args.repeats):
        ours, before, after = one_repeat(args.profile, machine, threads, bare)
        ratio = ours / ((before + after) / 2)
        ratios.append(ratio)
        ours_all.append(ours)
        print(f"repeat {i + 1}: infrabench triad {ours:.1f} GB/s; bare torch.add triad {before:.1f} GB/s before, "
              f"{after:.1f} after; ratio {ratio:.2f}  ({n} x fp64 per array, {threads} threads)")
    print(f"median ratio {statistics.median(ratios):.2f} (target >= 0.9); infrabench triad median "
          f"{statistics.median(ours_all):.1f} GB/s, best {max(ours_all):.1f} GB/s; reference C STREAM triad "
          f"on a machine like this one: {REFERENCE_STREAM_TRIAD_GBS} GB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
