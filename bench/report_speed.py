"""Median seconds to render the full HTML report of a real quick run (target ≤ 5 s).

Uses the bundled run of the development machine (reports/baselines/dev-2vcpu-vm.run.json) unless a
run file is given: `python bench/report_speed.py [RUN.json] [--repeat N]`. The first render in a
fresh process (imports of jinja2 and matplotlib included) is printed apart, since that is what
`infrabench report` pays.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent / "reports" / "baselines" / "dev-2vcpu-vm.run.json"
TARGET_S = 5.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_file", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    out = Path("/tmp") / f"report_speed_{int(time.time())}.html"
    cold = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "infrabench.cli", "report", str(args.run_file), "-o", str(out)],
                       check=True, capture_output=True)
        cold.append(time.perf_counter() - t0)

    from infrabench.reports.html import render_report

    from infrabench.results import Run

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        render_report(Run.load(args.run_file))
        times.append(time.perf_counter() - t0)
    cold_median, warm_median = statistics.median(cold), statistics.median(times)
    print(f"`infrabench report` end to end (new process), median of {len(cold)}: {cold_median:.2f} s")
    print(f"render in a warm process, median of {len(times)}: {warm_median:.2f} s")
    verdict = "ok" if cold_median <= TARGET_S else "OVER"
    print(f"ratio to the {TARGET_S:g} s target: {cold_median / TARGET_S:.2f} ({verdict})")
    out.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
