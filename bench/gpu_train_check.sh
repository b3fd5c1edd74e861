#!/usr/bin/env bash
# GPU training check (NVIDIA): GPT-2-small-shape GPT in bf16, torch eager + torch.compile + jax jit, with the
# quick bf16 matmul for MFU vs attainable. About 5 minutes on an H200. Output in $OUT (default ./gpu-train-out):
# gpu_train_run.json (commit it under tests/data/runs/), gpu_train_report.html, gpu_train.txt (tokens/s, MFU).
set -uo pipefail
OUT="${OUT:-$PWD/gpu-train-out}"
mkdir -p "$OUT"
# shellcheck source=bench/gpu_env.sh
source bench/gpu_env.sh
"$PY" bench/gpu_train.py "$OUT" --timeout "${TRAIN_TIMEOUT_S:-420}" 2>&1 | tee "$OUT/gpu_train.txt"
exit "${PIPESTATUS[0]}"
