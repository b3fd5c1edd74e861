"""Software probe: real numpy/BLAS, real torch (CPU) and jax (CPU) children on this machine; fake
modules only to make a child hang or fail."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy
from conftest import requires_jax, requires_torch
from infrabench.probes.context import ProbeContext
from infrabench.probes.record import unexplained_nulls
from infrabench.probes.software import (
    NO_ACCELERATOR,
    probe_jax,
    probe_python_env,
    probe_software_with_status,
    probe_torch,
    read_torch_version_file,
    relevant_env,
    torch_accelerator_evidence,
)


def _public(version: str | None) -> str | None:
    """The public part of a version: a build's local suffix (`2.14.1+cu130`, `2.13.0+cpu`) is normal and
    appears in `torch.__version__` but not always in the package's metadata."""
    return None if version is None else version.split("+", 1)[0]

def _fake_package(tmp_path: Path, name: str, body: str) -> dict[str, str]:
    """A directory holding package `name` whose __init__ is `body`, first on the child's PYTHONPATH."""
    pkg = tmp_path / "fake" / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(body)
    return {**os.environ, "PYTHONPATH": str(tmp_path / "fake")}


def test_python_numpy_and_blas() -> None:
    rec = probe_python_env(ProbeContext())
    assert rec.python_version == platform.python_version()
    assert rec.python_implementation == platform.python_implementation()
    assert rec.numpy_version == numpy.__version__
    blas = [t for t in rec.threadpools if t.user_api == "blas"]
    assert blas, rec.threadpools
    assert blas[0].internal_api in ("openblas", "mkl", "blis", "accelerate")
    assert blas[0].num_threads >= 1 and Path(blas[0].filepath).exists()
    assert blas[0].version
    if blas[0].internal_api == "openblas":
        assert blas[0].architecture  # the kernel OpenBLAS picked, e.g. "SkylakeX" on this Zen 4 guest
    assert unexplained_nulls(rec.to_dict()) == []


def test_relevant_env_by_name_and_prefix() -> None:
    env = {
        "OMP_NUM_THREADS": "2", "NCCL_DEBUG": "INFO", "TORCH_LOGS": "+dynamo", "TPU_NAME": "v5e-8",
        "MALLOC_ARENA_MAX": "2", "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
        "HOME": "/root", "MY_NCCL_DEBUG": "x", "OMP_NUM_THREADS_EXTRA": "1", "CUDA_VISIBLE_DEVICES": "",
    }
    assert relevant_env(env) == {
        "CUDA_VISIBLE_DEVICES": "", "MALLOC_ARENA_MAX": "2", "NCCL_DEBUG": "INFO", "OMP_NUM_THREADS": "2",
        "TORCH_LOGS": "+dynamo", "TPU_NAME": "v5e-8", "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
    }
    rec = probe_python_env(ProbeContext(env=env))
    assert rec.env["OMP_NUM_THREADS"] == "2" and "HOME" not in rec.env


@requires_torch
def test_torch_version_read_without_starting_a_child() -> None:
    rec, status = probe_torch(ProbeContext(root=Path("/nonexistent-machine"), env={}))
    assert status.status == "ok" and status.name == "torch"
    assert rec.installed is True
    assert _public(rec.version) == _public(importlib.metadata.version("torch"))
    assert rec.version_source.endswith("(torch not imported)")
    assert rec.devices == ["cpu"] and rec.devices_source == NO_ACCELERATOR
    if rec.cuda_build is None and rec.hip_build is None:
        assert rec.cuda_available is False  # CPU-only build
    assert rec.num_threads is None and "not started" in rec.null_reasons["num_threads"]
    assert unexplained_nulls(rec.to_dict()) == []


@requires_torch
def test_torch_child_forced_on_this_machine() -> None:
    rec, status = probe_torch(ProbeContext(), force=True)
    assert status.status == "ok", status
    assert _public(rec.version) == _public(importlib.metadata.version("torch"))
    assert "cpu" in rec.devices
    assert rec.cuda_available is False and rec.cuda_device_count == 0
    assert rec.num_threads >= 1
    assert rec.devices_source == "torch child (forced)"
    assert unexplained_nulls(rec.to_dict()) == []


@requires_torch
def test_torch_forced_by_environment_variable(tmp_path: Path) -> None:
    env = _fake_package(tmp_path, "torch", "raise ImportError('libtorch_cpu.so: cannot open')\n")
    env["INFRABENCH_PROBE_FRAMEWORKS"] = "1"
    rec, status = probe_torch(ProbeContext(env=env))
    assert status.status == "error"
    assert "libtorch_cpu.so" in status.reason
    assert _public(rec.version) == _public(importlib.metadata.version("torch"))  # from version.py, before the child
    assert rec.devices is None and "libtorch_cpu.so" in rec.null_reasons["devices"]


def test_torch_not_installed() -> None:
    rec, status = probe_torch(ProbeContext(), force=True, find_spec=lambda name: None)
    assert status.status == "unavailable" and status.reason == "torch not installed"
    assert rec.installed is False and rec.version is None
    assert rec.null_reasons["version"] == "torch not installed"
    assert unexplained_nulls(rec.to_dict()) == []


@requires_torch
def test_torch_child_that_hangs_times_out(tmp_path: Path) -> None:
    env = _fake_package(tmp_path, "torch", "import time\ntime.sleep(120)\n")
    rec, status = probe_torch(ProbeContext(env=env, timeout_s=2), force=True)
    assert status.status == "timeout"
    assert status.duration_s < 10
    assert _public(rec.version) == _public(importlib.metadata.version("torch"))
    assert rec.devices is None and "did not answer within 2 s" in rec.null_reasons["devices"]
    assert unexplained_nulls(rec.to_dict()) == []


def test_read_torch_version_file_executes_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    version_py = tmp_path / "version.py"
    version_py.write_text(
        "from typing import Optional\n"
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('x')\n"
        "__version__ = '2.5.1+cu124'\n"
        "cuda: Optional[str] = '12.4'\n"
        "hip: Optional[str] = None\n"
        "git_version = str(1)\n"
    )
    assert read_torch_version_file(version_py) == {"__version__": "2.5.1+cu124", "cuda": "12.4", "hip": None}
    assert not marker.exists()


def test_accelerator_evidence(tmp_path: Path) -> None:
    def pci(root: Path, addr: str, vendor: str, device: str, klass: str) -> None:
        d = root / "sys" / "bus" / "pci" / "devices" / addr
        d.mkdir(parents=True)
        for name, value in (("vendor", vendor), ("device", device), ("class", klass)):
            (d / name).write_text(value + "\n")

    # This machine's PCI host bridge (Intel 0x8086, class 0x060000) and virtio devices: nothing torch can use.
    host = tmp_path / "host"
    pci(host, "0000:00:00.0", "0x8086", "0x1237", "0x060000")
    pci(host, "0000:00:02.0", "0x1af4", "0x1042", "0x018000")
    assert torch_accelerator_evidence(ProbeContext(root=host), platform_name="linux") is None
    assert torch_accelerator_evidence(ProbeContext(root=host), platform_name="darwin") == "macOS (MPS)"
    # H100 SXM5: vendor 0x10de device 0x2330, class 0x030200 (3D controller), as lspci -nn lists it.
    pci(host, "0000:17:00.0", "0x10de", "0x2330", "0x030200")
    assert "0000:17:00.0" in torch_accelerator_evidence(ProbeContext(root=host), platform_name="linux")
    rocm = tmp_path / "rocm"
    (rocm / "dev").mkdir(parents=True)
    (rocm / "dev" / "kfd").write_text("")
    assert torch_accelerator_evidence(ProbeContext(root=rocm), platform_name="linux") == "/dev/kfd"


@requires_jax
def test_jax_child_on_this_machine() -> None:
    rec, status = probe_jax(ProbeContext())
    assert status.status == "ok", status
    assert rec.default_backend == "cpu"
    assert rec.devices == ["cpu:0"] and rec.device_names == {"cpu:0": "cpu"}
    assert _public(rec.version) == _public(importlib.metadata.version("jax"))
    assert _public(rec.jaxlib_version) == _public(importlib.metadata.version("jaxlib"))
    assert rec.enable_x64 is False
    assert unexplained_nulls(rec.to_dict()) == []


@requires_jax
def test_jax_child_sees_the_environment() -> None:
    rec, status = probe_jax(ProbeContext(env={**os.environ, "JAX_ENABLE_X64": "1"}))
    assert status.status == "ok", status
    assert rec.enable_x64 is True


def test_jax_not_installed() -> None:
    rec, status = probe_jax(ProbeContext(), find_spec=lambda name: None)
    assert status.status == "unavailable" and status.reason == "jax not installed"
    assert rec.installed is False and rec.null_reasons["default_backend"] == "jax not installed"


@requires_torch
@requires_jax
def test_all_parts_with_statuses() -> None:
    rec, statuses = probe_software_with_status(ProbeContext())
    assert [s.name for s in statuses] == ["python", "torch", "jax"]
    assert all(s.status == "ok" for s in statuses), statuses
    assert rec.torch.name == "torch" and rec.jax.default_backend == "cpu"
    assert "torch" not in rec.null_reasons and "jax" not in rec.null_reasons
    assert unexplained_nulls(rec.to_dict()) == []


@requires_torch
@requires_jax
def test_parent_never_imports_frameworks() -> None:
    code = (
        "import json, sys\n"
        "from infrabench.probes.context import ProbeContext\n"
        "from infrabench.probes.software import probe_software_with_status\n"
        "rec, st = probe_software_with_status(ProbeContext(), force=True)\n"
        "print(json.dumps({'statuses': [s.status for s in st], 'torch_devices': rec.torch.devices,\n"
        "  'modules': sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'jax', 'jaxlib'))}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["statuses"] == ["ok", "ok", "ok"]
    assert "cpu" in out["torch_devices"]  # the forced torch child did run
    assert out["modules"] == []
