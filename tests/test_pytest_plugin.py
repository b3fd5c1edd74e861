"""The pytest plugin: off by default and light; `pytest --infrabench` times kernels with pytest-benchmark."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import run_cli


def _pytest(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240)


def test_plugin_import_is_light_and_off_by_default(tmp_path):
    code = ("import sys, infrabench.pytest_plugin; "
            "heavy = [m for m in ('numpy', 'torch', 'jax', 'infrabench.suites.backends') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    proc = _pytest("-q", cwd=tmp_path)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout  # nothing added without --infrabench
    assert "--infrabench" in _pytest("--help", cwd=tmp_path).stdout


@pytest.mark.slow
def test_infrabench_kernels_run_under_pytest_benchmark(tmp_path):
    common = ("--infrabench", "--infrabench-suite", "matmul", "--infrabench-backend", "numpy",
              "--infrabench-dtype", "fp32", "--benchmark-max-time=0.05", "--benchmark-min-rounds=5", "-q")
    proc = _pytest(*common, "--benchmark-json", "a.json", "--benchmark-autosave", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    data = json.loads((tmp_path / "a.json").read_text())
    names = [b["name"] for b in data["benchmarks"]]
    assert any("matmul/square[m=256-n=256-k=256]/numpy/cpu/fp32" in n for n in names), names
    bench = data["benchmarks"][0]
    assert bench["extra_info"]["infrabench"]["work"]["flops"] > 0 and len(bench["stats"]["data"]) >= 5
    # pytest-benchmark's own comparison gate works on these tests
    proc = _pytest(*common, "--benchmark-compare", "--benchmark-compare-fail=median:1000%", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    # and infrabench's gate reads pytest-benchmark's file
    proc = run_cli("compare", "a.json", "a.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unknown_suite_is_a_usage_error(tmp_path):
    proc = _pytest("--infrabench", "--infrabench-suite", "nope", cwd=tmp_path)
    assert proc.returncode != 0 and "nope" in (proc.stdout + proc.stderr)
