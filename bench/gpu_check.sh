#!/usr/bin/env bash
# The NVIDIA GPU check, as one prepared script (about 5 minutes on an H200):
#   1. `infrabench probe --json`, redacted (UUIDs, serials, hostname) -> gpu_profile.json
#   2. `infrabench run` of the quick matmul and memory suites with torch and jax on the GPU -> gpu_run.json, report.html
#   3. the same bf16 8192^3 product timed by triton.testing.do_bench on torch.mm, and the device copy figure
#      -> gpu_check.txt (targets: infrabench >= 95% of do_bench; device copy >= 4.0 TB/s on an H200)
# Everything lands in $OUT (default ./gpu-check-out). Commit gpu_profile.json and gpu_run.json under tests/data/.
#
# Needs torch (CUDA build), jax with its CUDA plugin, triton, and infrabench's dependencies. On a machine
# without a package index, put wheels of the missing ones (e.g. jsonschema, jsonschema-specifications,
# referencing, rpds-py) in ./.whl and they are installed from there first.
set -uo pipefail
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
log="$OUT/gpu_check.txt"
: >"$log"
say() { echo "$@" | tee -a "$log"; }
# shellcheck source=bench/gpu_env.sh
source bench/gpu_env.sh
WORK="$GPU_WORK"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv 2>&1 | tee -a "$log"

say "== probe"
"$PY" -m infrabench.cli probe --json >"$WORK/profile.json" 2>>"$log" || say "probe failed"
"$PY" bench/redact_profile.py "$WORK/profile.json" >"$OUT/gpu_profile.json" 2>>"$log"
"$PY" - "$OUT/gpu_profile.json" <<'PYEOF' | tee -a "$log"
import json, sys
p = json.load(open(sys.argv[1]))
for a in p["accelerators"]:
    bf16 = next((x["tflops"] for x in a["peaks"] if x["dtype"] == "bf16"), None)
    print(f"accelerator {a['index']}: {a['name']} sku={a['sku']} bf16 peak={bf16} TFLOP/s "
          f"mem={a['memory_total_bytes']} B throttle={a['throttle_reasons']}")
for s in p["probes"]:
    print(f"probe {s['name']}: {s['status']} {s['reason'] or ''}")
PYEOF

say "== run (matmul, memory; torch and jax on the GPU)"
timeout 420 "$PY" -m infrabench.cli run --suite matmul,memory --backend torch,jax --device cuda:0,gpu:0 \
  --profile quick --out "$WORK/runs" >"$WORK/run.log" 2>&1
say "run exit code $?"
tail -40 "$WORK/run.log" >>"$log"
run_json=$(ls "$WORK"/runs/*/run.json 2>/dev/null | head -1)
if [ -n "$run_json" ]; then
  "$PY" bench/redact_profile.py --run "$run_json" >"$OUT/gpu_run.json"
  cp "$(dirname "$run_json")/report.html" "$OUT/report.html" 2>/dev/null
  "$PY" bench/gpu_do_bench.py "$OUT/gpu_run.json" 2>&1 | tee -a "$log"
else
  say "no run.json written"; tail -20 "$WORK/run.log" | tee -a "$log"
  for f in "$WORK"/runs/*/worker-*.log; do [ -f "$f" ] && { say "== $f"; tail -20 "$f" | tee -a "$log"; }; done
fi
