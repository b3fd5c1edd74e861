"""A tiny suite for runner tests (registered through INFRABENCH_EXTRA_SUITES): real numpy matmuls, timed.

It labels its results with the worker's backend name so each backend's worker produces its own, and
does not depend on any real suite's sizes or timing.
"""

from __future__ import annotations

import numpy as np
from infrabench.suites.result import BenchResult
from infrabench.suites.timing import TimingConfig, WallClock, measure

CONFIG = TimingConfig(warmup_s=0.002, min_sample_s=2e-4, rounds=5, budget_s=0.5)


def _square(backend, opts, emit, suite: str, sizes: tuple[int, ...]) -> None:
    rng = np.random.default_rng(opts.seed)
    for n in sizes:
        a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        timing = measure(lambda i, a=a, b=b: a @ b, WallClock(), CONFIG)
        emit(BenchResult(suite, "square", backend.name, "cpu", "fp64", {"n": n}, samples_s=timing.samples_s,
                         iterations=timing.iterations, warmup_s=timing.warmup_s, timer=timing.timer,
                         work={"flops": 2 * n**3}, check={"rel_error": 0.0, "tolerance": 1e-9, "passed": True}))


def run_suite(backend, opts, emit) -> None:
    _square(backend, opts, emit, "selftest", (16, 32))


def run_suite_b(backend, opts, emit) -> None:
    _square(backend, opts, emit, "selftest_b", (24,))
