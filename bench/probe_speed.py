"""Median wall time of `infrabench probe --json` over N fresh processes (target: ≤ 2 s on a 2-core VM).

Usage: python bench/probe_speed.py [N]   (default N = 5)
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    exe = shutil.which("infrabench")
    cmd = [exe, "probe", "--json"] if exe else [sys.executable, "-m", "infrabench.cli", "probe", "--json"]
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        times.append(time.perf_counter() - t0)
        json.loads(out)  # a run that printed no valid profile does not count as fast
    print(f"infrabench probe --json: {n} runs, median {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s, max {max(times):.3f} s (target <= 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
