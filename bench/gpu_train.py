"""The GPU training check: the GPU-size GPT (GPT-2 small shape, 124M; the train suite's standard preset)
in bf16 with torch eager, torch.compile and jax jit, plus the quick bf16 matmul sweep (up to 8192^3) for
MFU against the attainable ceiling.

Usage: python bench/gpu_train.py OUT_DIR [--timeout S]
Writes OUT_DIR/gpu_train_run.json (validated run file) and OUT_DIR/gpu_train_report.html and prints
tokens/s and MFU per result. On a machine without a CUDA device it says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from infrabench.reports.html import write_report
from infrabench.suites.runner import RunConfig, run

from infrabench import detect
from infrabench.results import TrainFigures
from infrabench.runfile import build_run, new_run_id


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("--timeout", type=float, default=420.0, help="per backend worker, seconds")
    p.add_argument("--models", default="gpt")
    args = p.parse_args(argv)
    profile = detect().to_dict()
    if not any(a.get("vendor") == "nvidia" for a in profile.get("accelerators") or []):
        print("no NVIDIA GPU in the machine profile", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    config = RunConfig(suites=["matmul", "train"], backends=["torch", "jax"], devices=["cuda:0", "gpu:0"],
                       dtypes=["bf16"], profile="quick", timeout_s=args.timeout,
                       suite_args={"train": {"models": args.models.split(","), "profile": "standard"}})
    journal = args.out / "gpu_train.journal.jsonl"
    outcome = run(config, profile, journal)
    data = build_run(outcome.results, profile, config.to_dict(), outcome.backends, outcome.interrupted,
                     new_run_id(), journal.name)
    path = data.write(args.out / "gpu_train_run.json")
    write_report(data, args.out / "gpu_train_report.html")
    verdict = data.verdicts.get("train") or {}
    for b in data.benchmarks:
        if b.suite != "train":
            continue
        x = b.figures if isinstance(b.figures, TrainFigures) else TrainFigures()
        v = (verdict.get("results") or {}).get(b.fullname) or {}
        print(json.dumps({"result": b.fullname, "status": b.status, "reason": b.reason,
                          "tokens_per_s": x.tokens_per_s, "tflops": x.achieved_tflops,
                          "mfu_pct_of_peak": x.mfu_pct_of_peak, "mfu_reason": x.mfu_reason,
                          "mfu_pct_of_attainable": v.get("mfu_pct_of_attainable"),
                          "compile_s": x.compile_s, "loss": [x.loss_first, x.loss_last],
                          "peak_memory_bytes": x.peak_memory_bytes}))
    for r in verdict.get("torch_jax_ratios") or []:
        print(f"torch {r['torch_mode']} / jax: {r['torch_over_jax']:.3f} ({r['model']} {r['dtype']})")
    print(f"run file: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
