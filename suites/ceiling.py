"""The attainable ceiling: the best matmul FLOP rate a run measured on each physical device and dtype.

One definition, read by the run file (% of best for every FLOP-rate result) and by the training verdict
(MFU against the attainable), so the two can never pick different ceilings: only usable matmul results
count (status ok, correctness check not failed, every sample a positive finite time), the rate is work
over the median sample, and devices are grouped by the MachineView's device key (numpy "cpu", torch
"cpu" and jax "cpu:0" are one host; torch "cuda:0" and jax "gpu:0" one GPU, through
CUDA_VISIBLE_DEVICES where the profile recorded it).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infrabench.probes.machine_view import MachineView

from .result import BenchResult

CEILING_SUITE = "matmul"


@dataclass(frozen=True)
class Ceiling:
    tflops: float  # median TFLOP/s of the best matmul
    fullname: str  # which result it was


def best_matmul(results: Iterable[BenchResult], profile: Mapping[str, Any] | MachineView
                ) -> dict[tuple[str, str], Ceiling]:
    """(device key, dtype) -> the best usable matmul of this run on that device and dtype."""
    view = profile if isinstance(profile, MachineView) else MachineView(profile)
    best: dict[tuple[str, str], Ceiling] = {}
    for r in results:
        if r.suite != CEILING_SUITE or r.status != "ok" or "flops" not in r.work or r.unusable_reason():
            continue
        tflops = r.work["flops"] / statistics.median(r.samples_s) / 1e12
        key = (view.device_key(r.device), r.dtype)
        if key not in best or tflops > best[key].tflops:
            best[key] = Ceiling(tflops, r.fullname)
    return best
