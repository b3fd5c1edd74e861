"""bench/gate_calibration.py end to end on runs made from one recorded run with small known offsets: no false
failures, a 15% slowdown found, re-run settings simulated, the gate setting's verdict printed."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "data" / "runs" / "quick_cpu_sample.json"


def _runs(folder: Path, count: int, sd: float) -> None:
    data = json.loads(SAMPLE.read_text())
    rng = np.random.default_rng(5)
    for i in range(count):
        out = json.loads(json.dumps(data))
        for b in out["benchmarks"]:
            if (b.get("stats") or {}).get("data"):
                f = math.exp(rng.normal(0.0, sd))
                b["stats"]["data"] = [v * f for v in b["stats"]["data"]]
        (folder / f"run{i:02d}").mkdir(parents=True)
        (folder / f"run{i:02d}" / "run.json").write_text(json.dumps(out))


@pytest.mark.slow
def test_calibration_on_quiet_runs(tmp_path: Path) -> None:
    _runs(tmp_path, 8, 0.002)
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gate_calibration.py"), "--runs", str(tmp_path),
                           "--trials", "20", "--settings", "1,1+confirm2", "--gate", "5+confirm2"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("runs: 8 ")
    gate = next(x for x in lines if x.startswith("[k=5 + up to 2 confirming re-run(s)]"))
    assert "false-failure rate (A/A): 0.00% (0/20" in gate
    found = re.search(r"detection of a 15% slowdown where MDE < 15%: ([0-9.]+)% \((\d+)/(\d+)", gate)
    assert found and int(found.group(3)) == 20 and float(found.group(1)) >= 85.0, gate  # 95% power per stage
    assert any(x.startswith("[k=1 + up to 2 confirming re-run(s)]") for x in lines)
    assert lines[-1].startswith("gate setting k=5 + up to 2 confirming re-run(s): false-failure rate 0.00% (meets")


def test_too_few_runs_is_exit_2(tmp_path: Path) -> None:
    _runs(tmp_path, 2, 0.01)
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gate_calibration.py"), "--runs", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "at least 3 are needed" in proc.stderr
