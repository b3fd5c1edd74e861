"""MPS / XPU through torch: the real (unavailable) path on this Linux machine, and a stand-in torch
with one Intel XPU built from a recorded device-properties output (see its docstring)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import requires_torch
from infrabench.probes.context import ProbeContext, run_probe
from infrabench.probes.record import Unavailable, unexplained_nulls
from infrabench.probes.torch_devices import intel_gpu_evidence, probe_torch_devices

FAKE_XPU_TORCH = Path(__file__).parent / "data" / "torch_devices" / "fake_torch_xpu"


def _env_with_fake_torch() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(FAKE_XPU_TORCH)}


def _pci(root: Path, addr: str, vendor: str, device: str, klass: str) -> None:
    d = root / "sys" / "bus" / "pci" / "devices" / addr
    d.mkdir(parents=True)
    for name, value in (("vendor", vendor), ("device", device), ("class", klass)):
        (d / name).write_text(value + "\n")


def test_unavailable_on_this_linux_machine() -> None:
    ctx = ProbeContext()
    assert intel_gpu_evidence(ctx) is None  # only an Intel host bridge (class 0x060000) on PCI here
    value, status = run_probe("torch_devices", lambda: probe_torch_devices(ctx, platform_name="linux"), [])
    assert value == [] and status.status == "unavailable"
    assert "not macOS" in status.reason and "no Intel GPU on PCI" in status.reason


@requires_torch
def test_forced_real_torch_sees_neither() -> None:
    with pytest.raises(Unavailable) as info:
        probe_torch_devices(ProbeContext(), force=True)
    assert "torch.xpu.is_available() is False" in str(info.value)
    assert "torch.backends.mps.is_available() is False" in str(info.value)


def test_torch_not_installed(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="torch not installed"):
        probe_torch_devices(ProbeContext(), force=True, find_spec=lambda name: None)


@requires_torch
def test_one_xpu_from_stand_in_torch_forced() -> None:
    (acc,) = probe_torch_devices(ProbeContext(env=_env_with_fake_torch()), force=True, platform_name="linux")
    assert (acc.vendor, acc.kind, acc.index, acc.detected_by) == ("intel", "gpu", 0, "torch")
    assert acc.name == "Intel(R) Data Center GPU Max 1550"
    assert acc.memory_total_bytes == 65520 * 1024 * 1024
    assert acc.driver_version == "1.6.33578+15"
    assert acc.compute_units == 512
    assert acc.extra["gpu_eu_count"] == 512
    assert acc.uuid is None and "torch.xpu" in acc.null_reasons["uuid"]
    assert unexplained_nulls(acc.to_dict()) == []


@requires_torch
def test_intel_gpu_on_pci_starts_the_child_unforced(tmp_path: Path) -> None:
    # Data Center GPU Max 1550: 8086:0bd5, display controller class 0x038000 (lspci -nn).
    _pci(tmp_path, "0000:29:00.0", "0x8086", "0x0bd5", "0x038000")
    ctx = ProbeContext(root=tmp_path, env=_env_with_fake_torch())
    assert "0000:29:00.0" in intel_gpu_evidence(ctx)
    (acc,) = probe_torch_devices(ctx, platform_name="linux")
    assert acc.name == "Intel(R) Data Center GPU Max 1550"


def test_intel_render_node_is_evidence(tmp_path: Path) -> None:
    (tmp_path / "dev" / "dri").mkdir(parents=True)
    (tmp_path / "dev" / "dri" / "renderD128").write_text("")
    vendor = tmp_path / "sys" / "class" / "drm" / "renderD128" / "device" / "vendor"
    vendor.parent.mkdir(parents=True)
    vendor.write_text("0x1af4\n")  # a virtio-gpu render node is not an Intel GPU
    assert intel_gpu_evidence(ProbeContext(root=tmp_path)) is None
    vendor.write_text("0x8086\n")
    assert intel_gpu_evidence(ProbeContext(root=tmp_path)) == "Intel render node /dev/dri/renderD128"


@requires_torch
def test_mps_device_from_stand_in_torch(tmp_path: Path) -> None:
    # A torch whose MPS backend reports available (as on Apple silicon); torch.mps without
    # recommended_max_memory, as before torch 2.3. Off macOS the chip name cannot be read.
    pkg = tmp_path / "torch"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import types\n__version__ = '2.2.2'\n"
        "backends = types.SimpleNamespace(mps=types.SimpleNamespace(is_available=lambda: True,"
        " is_built=lambda: True))\nmps = types.SimpleNamespace()\n"
    )
    ctx = ProbeContext(env={**os.environ, "PYTHONPATH": str(tmp_path)})
    (acc,) = probe_torch_devices(ctx, platform_name="darwin")
    assert (acc.vendor, acc.kind, acc.index, acc.detected_by) == ("apple", "gpu", 0, "torch")
    assert acc.memory_total_bytes is None and "unified memory" in acc.null_reasons["memory_total_bytes"]
    assert "recommended_max_memory_bytes" not in acc.extra
    assert unexplained_nulls(acc.to_dict()) == []
