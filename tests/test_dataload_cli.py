"""`infrabench run --suite dataload --data-dir D`: the run file holds the verdict and every format's cold
reads with device bytes, and D is left as it was found."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest


@pytest.mark.slow
def test_quick_run_leaves_data_dir_empty_and_writes_verdict(tmp_path: Path) -> None:
    data = tmp_path / "D"
    data.mkdir()
    (data / "mine.txt").write_text("kept")
    stop = threading.Event()
    others: list[str] = []

    def another_process_writes() -> None:  # files that appear in D while the run is going
        while not stop.wait(0.2):
            name = f"other-{len(others)}.txt"
            (data / name).write_text("not infrabench's")
            others.append(name)

    writer = threading.Thread(target=another_process_writes, daemon=True)
    writer.start()
    try:
        proc = subprocess.run([sys.executable, "-m", "infrabench.cli", "run", "--suite", "dataload", "--backend",
                               "numpy", "--data-dir", str(data), "--out", str(tmp_path / "out")],
                              capture_output=True, text=True, timeout=150)
    finally:
        stop.set()
        writer.join()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert len(others) > 5
    assert sorted(p.name for p in data.iterdir()) == sorted(["mine.txt", *others])  # only the suite's own went
    run = json.loads(next((tmp_path / "out").glob("*/run.json")).read_text())
    verdict = run["infrabench"]["verdicts"]["dataload"]
    for p in verdict["profiles"].values():
        assert {"n_max", "required_samples_per_s", "supplied_samples_per_s", "bottleneck"} <= set(p)
        assert p["bottleneck"] in ("storage", "cpu", "loader", "memory", "none")
    cold = [b["extra_info"]["infrabench"] for b in run["benchmarks"]
            if b["group"] == "dataload" and b["extra_info"]["infrabench"]["benchmark"] == "read"
            and b["params"]["cache"] == "cold"]
    assert {c["extra"]["format"] for c in cold} == {"npy", "memmap", "parquet", "jpeg"}
    assert all("device_bytes_read" in c["extra"] and "cache_inflated" in c["extra"] for c in cold)
    assert not list((tmp_path / "out").glob("*/data"))
