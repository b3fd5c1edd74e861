"""Compare infrabench's GPU figures in a run file with independent measurements taken now, in one process.

- bf16 8192^3: infrabench's torch cuda:0 median TFLOP/s vs triton.testing.do_bench on torch.mm of the
  same shape (target: >= 95%).
- device-to-device copy: infrabench's torch cuda:0 memory-suite copy in TB/s (bytes read + written;
  target on an H200: >= 4.0 TB/s).

Usage: python bench/gpu_do_bench.py RUN.json
"""

from __future__ import annotations

import sys

from infrabench.results import Benchmark, Run


def find(run: Run, suite: str, name: str, backend: str, device: str, dtype: str,
         params: dict | None = None) -> Benchmark | None:
    for b in run.timed:
        if (b.suite, b.name, b.backend, b.device, b.dtype) != (suite, name, backend, device, dtype):
            continue
        if params and any(b.params.get(k) != v for k, v in params.items()):
            continue
        return b
    return None


def main(path: str) -> int:
    import torch
    import triton.testing

    run = Run.load(path)
    n = 8192
    ours = find(run, "matmul", "square", "torch", "cuda:0", "bf16", {"m": n, "n": n, "k": n})
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    ms = triton.testing.do_bench(lambda: torch.mm(a, b), warmup=100, rep=500)
    ref = 2 * n**3 / (ms * 1e-3) / 1e12
    print(f"do_bench torch.mm bf16 {n}^3: {ref:.1f} TFLOP/s ({ms:.3f} ms)")
    if ours and ours.throughput:
        value = ours.throughput.value
        verdict = "PASS" if value >= 0.95 * ref else "FAIL"
        print(f"infrabench torch cuda:0 bf16 {n}^3: {value:.1f} TFLOP/s median = {100 * value / ref:.1f}% "
              f"of do_bench (target >= 95%): {verdict}; % of peak {ours.pct_of_peak}")
    else:
        print(f"infrabench has no ok torch cuda:0 bf16 {n}^3 result in {path}")
    copy = (find(run, "memory", "copy", "torch", "cuda:0", "fp32")
            or find(run, "memory", "copy", "torch", "cuda:0", "bf16"))
    if copy and copy.throughput:
        tbs = copy.throughput.value / 1e3
        print(f"infrabench device copy (torch cuda:0): {tbs:.2f} TB/s (target >= 4.0 on an H200): "
              f"{'PASS' if tbs >= 4.0 else 'FAIL'}")
    else:
        print("infrabench has no ok torch cuda:0 device copy result")
    for r in run.timed:
        if r.throughput:
            print(f"  {r.fullname}: {r.throughput.value:.4g} {r.throughput.unit}"
                  f"  pct_of_peak={r.pct_of_peak}{'  SUSPICIOUS' if r.suspicious else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
