"""The training verdict, computed in the parent when the run file is written (all backends' results at hand).

- MFU against the attainable ceiling: achieved TFLOP/s / the best median matmul TFLOP/s this same run
  measured on that device and dtype (numpy "cpu", torch "cpu" and jax "cpu:0" are one CPU; torch
  "cuda:i" and jax "gpu:i" one GPU; `suites.ceiling.best_matmul`, as the run file's % of best). tf32
  training is read against the tf32 matmul, bf16 against bf16.
  Without a matmul result for that device and dtype in the run, the figure is null with the reason.
- torch / jax throughput ratio per model, precision and device (eager and compiled each against jit).
- The step time per sample per model (fastest ok result): this machine's consumer demand, for the
  data-loading suite's emulated training.
"""

from __future__ import annotations

import statistics
from typing import Any

from infrabench.probes.machine_view import MachineView

from ..ceiling import best_matmul

SUITE = "train"


def _samples_per_s(r: Any) -> float:
    return r.work["samples"] / statistics.median(r.samples_s)


def verdict(results: list[Any], profile: dict[str, Any], config: dict[str, Any]) -> dict[str, Any] | None:
    train = [r for r in results if r.suite == SUITE and r.status == "ok" and r.samples_s and "samples" in r.work]
    if not train:
        return None
    view = MachineView(profile)
    best = best_matmul(results, view)
    per_result: dict[str, Any] = {}
    for r in train:
        achieved = r.extra.get("achieved_tflops")
        top = best.get((view.device_key(r.device), r.dtype))
        entry: dict[str, Any] = {"achieved_tflops": achieved, "mfu_pct_of_peak": r.extra.get("mfu_pct_of_peak"),
                                 "mfu_pct_of_attainable": None, "attainable_tflops": None, "attainable_from": None}
        if top is None:
            entry["attainable_reason"] = (f"no ok matmul result on {r.device} in {r.dtype} in this run "
                                          "(run the matmul suite with the train suite)")
        elif achieved is not None:
            entry.update({"mfu_pct_of_attainable": 100.0 * achieved / top.tflops, "attainable_tflops": top.tflops,
                          "attainable_from": top.fullname})
        per_result[r.fullname] = entry

    ratios = []
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in train:
        key = (r.name, r.dtype, view.device_key(r.device))
        mode = r.params.get("mode") or r.extra.get("mode")
        groups.setdefault(key, {})[f"{r.backend}:{mode}"] = r
    for (model, dtype, dev), by_mode in sorted(groups.items()):
        jax = by_mode.get("jax:jit")
        if jax is None:
            continue
        for mode in ("eager", "compile"):
            torch = by_mode.get(f"torch:{mode}")
            if torch is None:
                continue
            ratios.append({"model": model, "dtype": dtype, "device": dev, "torch_mode": mode,
                           "torch_samples_per_s": _samples_per_s(torch), "jax_samples_per_s": _samples_per_s(jax),
                           "torch_over_jax": _samples_per_s(torch) / _samples_per_s(jax),
                           "torch": torch.fullname, "jax": jax.fullname})

    demand: dict[str, Any] = {}
    for r in train:
        per_sample = statistics.median(r.samples_s) / r.work["samples"]
        current = demand.get(r.name)
        if current is None or per_sample < current["step_time_per_sample_s"]:
            demand[r.name] = {"step_time_per_sample_s": per_sample, "step_time_s": statistics.median(r.samples_s),
                              "batch_size": int(r.work["samples"]), "from": r.fullname}
    return {"results": per_result, "torch_jax_ratios": ratios, "consumer_demand": demand}
