"""`infrabench ab`: the same environment against itself passes; 1 vs 2 BLAS threads flags matmul (slow)."""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # the quick loop (-m "not slow") skips these

TINY = ("--suite", "matmul", "--backend", "numpy", "--dtype", "fp32")


def test_same_environment_twice_passes(tmp_path):
    """Seven real A/A rounds of the runner tests' tiny suite (real numpy matmuls, timed): each `run` costs its
    start-up, not minutes of matmuls."""
    import subprocess

    from tests.test_runner import hook_env

    proc = subprocess.run([sys.executable, "-m", "infrabench.cli", "ab", "--a", sys.executable, "--b",
                           sys.executable, "--rounds", "7", "--suite", "selftest", "--backend", "numpy",
                           "--out", str(tmp_path / "ab"), "--json", str(tmp_path / "ab.json")],
                          capture_output=True, text=True, timeout=240, env=hook_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    data = json.loads((tmp_path / "ab.json").read_text())
    assert data["paired"] and data["ab"]["rounds"] == 7 and data["ab"]["smallest_p"] == pytest.approx(0.5 ** 7)
    assert "smallest possible one-sided p" in proc.stderr
    compared = [b for b in data["benchmarks"] if b["ratio"] is not None]
    assert compared and all(b["test"] == "wilcoxon-signed-rank" and b["n_base"] == 7 for b in compared)


def test_too_few_rounds_is_refused():
    proc = run_cli("ab", "--a", sys.executable, "--b", sys.executable, "--rounds", "5", *TINY)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(os.environ.get("INFRABENCH_SLOW") != "1", reason="slow (minutes): set INFRABENCH_SLOW=1")
def test_one_vs_two_threads_flags_matmul(tmp_path):
    """B pins 2 CPU threads, A one: on a machine with 2 or more cores B's matmuls are faster, A->B improves;
    swapped (A 2 threads, B 1) the gate must fail with a matmul regression."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 usable CPUs")
    proc = run_cli("ab", "--a", sys.executable, "--b", sys.executable, "--rounds", "10", *TINY,
                   "--a-args", "--threads 2", "--b-args", "--threads 1", "--out", str(tmp_path / "ab"),
                   "--json", str(tmp_path / "ab.json"), timeout=900)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    data = json.loads((tmp_path / "ab.json").read_text())
    assert data["failing"] and all(name.startswith("matmul/") for name in data["failing"])
