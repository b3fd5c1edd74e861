"""Compare infrabench's GPU figures in a run file with independent measurements taken now, in one process.

- bf16 8192^3: infrabench's torch cuda:0 median TFLOP/s vs triton.testing.do_bench on torch.mm of the
  same shape (target: >= 95%).
- device-to-device copy: infrabench's torch cuda:0 memory-suite copy in TB/s (bytes read + written;
  target on an H200: >= 4.0 TB/s).

Usage: python bench/gpu_do_bench.py RUN.json
"""

from __future__ import annotations

import json
import sys


def find(run: dict, suite: str, name: str, backend: str, device: str, dtype: str, params: dict | None = None):
    for entry in run["benchmarks"]:
        info = entry["extra_info"]["infrabench"]
        if (info["suite"], info["benchmark"], info["backend"], info["device"], info["dtype"]) != (
                suite, name, backend, device, dtype):
            continue
        if params and any(entry["params"].get(k) != v for k, v in params.items()):
            continue
        return info
    return None


def main(path: str) -> int:
    import torch
    import triton.testing

    run = json.load(open(path, encoding="utf-8"))
    n = 8192
    ours = find(run, "matmul", "square", "torch", "cuda:0", "bf16", {"m": n, "n": n, "k": n})
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    ms = triton.testing.do_bench(lambda: torch.mm(a, b), warmup=100, rep=500)
    ref = 2 * n**3 / (ms * 1e-3) / 1e12
    print(f"do_bench torch.mm bf16 {n}^3: {ref:.1f} TFLOP/s ({ms:.3f} ms)")
    if ours and ours["throughput"]:
        value = ours["throughput"]["value"]
        verdict = "PASS" if value >= 0.95 * ref else "FAIL"
        print(f"infrabench torch cuda:0 bf16 {n}^3: {value:.1f} TFLOP/s median = {100 * value / ref:.1f}% "
              f"of do_bench (target >= 95%): {verdict}; % of peak {ours['pct_of_peak']}")
    else:
        print(f"infrabench has no ok torch cuda:0 bf16 {n}^3 result in {path}")
    copy = (find(run, "memory", "copy", "torch", "cuda:0", "fp32")
            or find(run, "memory", "copy", "torch", "cuda:0", "bf16"))
    if copy and copy["throughput"]:
        tbs = copy["throughput"]["value"] / 1e3
        print(f"infrabench device copy (torch cuda:0): {tbs:.2f} TB/s (target >= 4.0 on an H200): "
              f"{'PASS' if tbs >= 4.0 else 'FAIL'}")
    else:
        print("infrabench has no ok torch cuda:0 device copy result")
    for entry in run["benchmarks"]:
        info = entry["extra_info"]["infrabench"]
        if info["throughput"]:
            print(f"  {entry['fullname']}: {info['throughput']['value']:.4g} {info['throughput']['unit']}"
                  f"  pct_of_peak={info['pct_of_peak']}{'  SUSPICIOUS' if info['suspicious'] else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
