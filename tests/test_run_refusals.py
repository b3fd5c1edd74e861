"""`infrabench run` never exits 0 on nothing: an absent device is exit 2 naming the devices that exist,
and a run that measured nothing is exit 2 with why; what was measured stays in run.json either way.

The runs use the tiny suite of tests/data/runner (real numpy matmuls) so they do not depend on the real
suites' sizes or this machine's speed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import requires_jax, requires_torch, run_cli
from infrabench.suites.dataload.suite import host_device
from infrabench.suites.options import SuiteOptions

from infrabench.results import Run

DATA = Path(__file__).parent / "data" / "runner"


@pytest.fixture
def selftest(monkeypatch):
    monkeypatch.setenv("INFRABENCH_EXTRA_SUITES", "selftest=selftest_suite:run_suite")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(DATA), os.environ.get("PYTHONPATH")])))
    monkeypatch.delenv("INFRABENCH_TEST_FAULT", raising=False)
    return monkeypatch


def only_run(out: Path) -> Run:
    (path,) = out.glob("*/run.json")
    return Run.load(path)


@pytest.mark.parametrize("device", ["cuda:0", "gpu", "tpu:0"])
def test_a_device_no_backend_has_is_exit_2_with_the_devices_that_exist(selftest, tmp_path, device) -> None:
    proc = run_cli("run", "--suite", "selftest", "--backend", "numpy", "--device", device,
                   "--out", str(tmp_path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert f"--device {device}: no backend has it here" in lines[0]
    assert "numpy: cpu" in lines[0]
    run = only_run(tmp_path)  # the refusal keeps the run file, with why each backend had nothing
    assert run.backends["numpy"].devices == ["cpu"]
    assert [(b.status, b.reason) for b in run.benchmarks] == [
        ("skipped", f"no requested device ({device}) on numpy here; it has cpu")]


def test_an_absent_device_beside_a_present_one_keeps_what_was_measured(selftest, tmp_path) -> None:
    proc = run_cli("run", "--suite", "selftest", "--backend", "numpy", "--device", "cpu,cuda:0",
                   "--out", str(tmp_path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--device cuda:0: no backend has it here" in proc.stderr
    run = only_run(tmp_path)
    assert [b.status for b in run.benchmarks] == ["ok", "ok"]


def test_a_present_device_is_exit_0(selftest, tmp_path) -> None:
    proc = run_cli("run", "--suite", "selftest", "--backend", "numpy", "--device", "cpu", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.strip() == ""


def test_a_run_that_measured_nothing_is_exit_2_with_why(selftest, tmp_path) -> None:
    selftest.setenv("INFRABENCH_TEST_FAULT", "numpy:abort@0")  # the worker dies before its first result
    proc = run_cli("run", "--suite", "selftest", "--backend", "numpy", "--out", str(tmp_path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "the run measured nothing (1 failed)" in proc.stderr
    assert "SIGABRT" in proc.stderr
    assert [b.status for b in only_run(tmp_path).benchmarks] == ["failed"]


def test_gpu_means_any_gpu_whatever_the_framework_calls_it() -> None:
    gpu = SuiteOptions(devices=["gpu"])
    assert all(gpu.wants_device(d) for d in ("cuda:0", "cuda:3", "gpu:0", "mps", "xpu:1"))
    assert not any(gpu.wants_device(d) for d in ("cpu", "cpu:0", "tpu:0"))
    cuda1 = SuiteOptions(devices=["cuda:1"])
    assert cuda1.wants_device("cuda:1") and not cuda1.wants_device("cuda:0")
    assert SuiteOptions(devices=["cpu"]).wants_device("cpu:0")  # jax's name for the host


@pytest.mark.parametrize("backend", ["numpy", pytest.param("torch", marks=requires_torch),
                                     pytest.param("jax", marks=requires_jax)])
def test_the_data_loading_suite_names_the_host_as_the_backend_does(backend) -> None:
    from infrabench.suites.backends import get_backend

    b = get_backend(backend)
    cpus = [d for d in b.devices() if b.device_kind(d) == "cpu"]
    assert cpus[:1] == [host_device(backend)]


def test_the_library_run_refuses_an_absent_device_after_writing_its_file(selftest, tmp_path) -> None:
    import infrabench
    from infrabench.errors import UsageError

    with pytest.raises(UsageError, match=r"--device tpu:0: no backend has it here .*run file: "):
        infrabench.run(suites=["selftest"], backends=["numpy"], devices=["tpu:0"], out=tmp_path)
    assert [b.status for b in only_run(tmp_path).benchmarks] == ["skipped"]
