"""AMD probe on a fake MI300X host built from recorded sysfs/KFD values (tests/data/amd/mi300x_host.json)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from infrabench.probes.amd import gfx_target, parse_dpm, parse_kfd_properties, probe_amd
from infrabench.probes.context import ProbeContext, run_probe
from infrabench.probes.peaks import apply_peaks
from infrabench.probes.record import Unavailable, unexplained_nulls

DATA = Path(__file__).parent / "data" / "amd"

# amdsmi as it fails on a host without ROCm's shared library (the Python package imports ctypes on load).
AMDSMI_MISSING = (
    'raise ImportError("libamd_smi.so: cannot open shared object file: No such file or directory")\n'
)

# A stand-in for the amdsmi package, answering with the recorded MI300X values of mi300x_host.json.
AMDSMI_PRESENT = '''
class AmdSmiMemoryType:
    VRAM = "VRAM"
class AmdSmiTemperatureType:
    EDGE = "EDGE"
    HOTSPOT = "HOTSPOT"
class AmdSmiTemperatureMetric:
    CURRENT = "CURRENT"
class AmdSmiClkType:
    GFX = "GFX"
    MEM = "MEM"
class AmdSmiLibraryException(Exception):
    pass
def amdsmi_init(*a): pass
def amdsmi_shut_down(): pass
def amdsmi_get_processor_handles(): return ["h0"]
def amdsmi_get_gpu_device_bdf(h): return "0000:47:00.0"
def amdsmi_get_gpu_asic_info(h):
    return {"market_name": "AMD Instinct MI300X", "vendor_id": "0x1002", "device_id": "0x74a1",
            "num_of_compute_units": 304, "asic_serial": "N/A"}
def amdsmi_get_gpu_memory_total(h, t): return 206141652992
def amdsmi_get_gpu_memory_usage(h, t): return 297611264
def amdsmi_get_power_cap_info(h): return {"power_cap": 750000000, "default_power_cap": 750000000}
def amdsmi_get_power_info(h): return {"current_socket_power": 155, "average_socket_power": "N/A"}
def amdsmi_get_temp_metric(h, kind, metric):
    if kind == "EDGE":
        raise AmdSmiLibraryException("Error code: 2 | AMDSMI_STATUS_NOT_SUPPORTED")
    return 43
def amdsmi_get_clock_info(h, clk):
    return {"clk": 1500, "max_clk": 2100} if clk == "GFX" else {"clk": 900, "max_clk": 1300}
def amdsmi_get_gpu_driver_info(h): return {"driver_name": "amdgpu", "driver_version": "6.8.5"}
def amdsmi_get_gpu_device_uuid(h): return "3cff74a1-0000-1000-80bd-8a6f4c2b1e7d"
'''


def build_host(root: Path, spec: dict) -> None:
    """Write the fake sysfs/dev tree described by a tests/data/amd host file under `root`."""
    for address, dev in spec["pci"].items():
        d = root / "sys/bus/pci/devices" / address
        d.mkdir(parents=True)
        for key in ("vendor", "device", "class"):
            (d / key).write_text(dev[key] + "\n")
        if "driver" in dev:
            drv = root / "sys/bus/pci/drivers" / dev["driver"]
            drv.mkdir(parents=True, exist_ok=True)
            (d / "driver").symlink_to(drv)
    for card, info in spec["drm"].items():
        card_dir = root / "sys/class/drm" / card
        card_dir.mkdir(parents=True)
        pci_dir = root / "sys/bus/pci/devices" / info["pci"]
        (card_dir / "device").symlink_to(pci_dir)
        for name, text in info.get("files", {}).items():
            (pci_dir / name).write_text(text)
        for hw, files in info.get("hwmon", {}).items():
            hw_dir = pci_dir / "hwmon" / hw
            hw_dir.mkdir(parents=True)
            for name, text in files.items():
                (hw_dir / name).write_text(text)
    for node, filename in spec["kfd_nodes"].items():
        node_dir = root / "sys/class/kfd/kfd/topology/nodes" / node
        node_dir.mkdir(parents=True)
        (node_dir / "properties").write_text((DATA / filename).read_text())
    for dev in spec["dev"]:
        path = root / "dev" / dev
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")


def fake_amdsmi(tmp_path: Path, source: str) -> dict[str, str]:
    pkg = tmp_path / "fake_site"
    pkg.mkdir()
    (pkg / "amdsmi.py").write_text(source)
    return {**os.environ, "PYTHONPATH": str(pkg)}


@pytest.fixture
def mi300x_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    build_host(root, json.loads((DATA / "mi300x_host.json").read_text()))
    return root


def test_sysfs_path_when_amdsmi_is_missing(mi300x_root: Path, tmp_path: Path):
    ctx = ProbeContext(root=mi300x_root, env=fake_amdsmi(tmp_path, AMDSMI_MISSING), timeout_s=60)
    accs = probe_amd(ctx)
    assert len(accs) == 1  # the ASPEED BMC VGA (vendor 0x1a03) is not an AMD GPU
    acc = accs[0]
    assert acc.detected_by == "sysfs"
    assert "libamd_smi.so" in acc.extra["amdsmi_not_used"]
    assert (acc.vendor, acc.kind, acc.index) == ("amd", "gpu", 0)
    assert acc.pci_bus_id == "0000:47:00.0" and acc.pci_device_id == "0x74a1"
    assert acc.memory_total_bytes == 206141652992
    assert acc.memory_used_bytes == 297611264
    assert (acc.sm_clock_mhz, acc.sm_clock_max_mhz) == (1500, 2100)
    assert acc.power_limit_w == 750.0 and acc.power_limit_default_w == 750.0
    assert acc.temperature_c == 43.0 and acc.extra["temperature_sensor"] == "junction"
    assert acc.compute_units == 304 and acc.extra["gfx_target"] == "gfx942"
    assert (acc.pcie_gen, acc.pcie_width, acc.pcie_gen_max) == (5, 16, 5)
    assert acc.extra["current_compute_partition"] == "SPX"
    # Absent in the fixture: each null says why.
    assert acc.mem_clock_mhz is None and "pp_dpm_mclk" in acc.null_reasons["mem_clock_mhz"]
    assert acc.power_draw_w is None and "power1_input" in acc.null_reasons["power_draw_w"]
    assert acc.name is None and "product_name" in acc.null_reasons["name"]
    assert "amdgpu" in acc.null_reasons["driver_version"]
    assert unexplained_nulls(acc.to_dict()) == []


def test_sysfs_record_resolves_to_mi300x_peaks(mi300x_root: Path, tmp_path: Path):
    ctx = ProbeContext(root=mi300x_root, env=fake_amdsmi(tmp_path, AMDSMI_MISSING), timeout_s=60)
    acc = probe_amd(ctx)[0]
    apply_peaks(acc)
    assert acc.sku == "MI300X"
    assert next(p for p in acc.peaks if p.dtype == "bf16").tflops == 1307.4
    assert acc.peak_memory_bandwidth_gbs == 5300


def test_amdsmi_values_win_when_it_loads(mi300x_root: Path, tmp_path: Path):
    ctx = ProbeContext(root=mi300x_root, env=fake_amdsmi(tmp_path, AMDSMI_PRESENT), timeout_s=60)
    acc = probe_amd(ctx)[0]
    assert acc.detected_by == "amdsmi"
    assert "amdsmi_not_used" not in acc.extra
    assert acc.name == "AMD Instinct MI300X"
    assert acc.power_draw_w == 155 and acc.temperature_c == 43.0
    assert acc.extra["temperature_sensor"] == "hotspot"
    assert (acc.mem_clock_mhz, acc.mem_clock_max_mhz) == (900, 1300)
    assert acc.driver_version == "6.8.5"
    assert acc.compute_units == 304
    assert unexplained_nulls(acc.to_dict()) == []


def test_no_amd_device_is_unavailable(tmp_path: Path):
    root = tmp_path / "empty"
    (root / "sys/bus/pci/devices").mkdir(parents=True)
    ctx = ProbeContext(root=root, env={})
    with pytest.raises(Unavailable, match="no AMD GPU"):
        probe_amd(ctx)
    value, status = run_probe("amd", lambda: probe_amd(ctx), [])
    assert value == [] and status.status == "unavailable"


def test_pci_device_without_driver_is_reported_from_pci(tmp_path: Path):
    root = tmp_path / "root"
    spec = json.loads((DATA / "mi300x_host.json").read_text())
    del spec["pci"]["0000:47:00.0"]["driver"]
    spec["drm"] = {}
    spec["kfd_nodes"] = {}
    spec["dev"] = []
    build_host(root, spec)
    accs = probe_amd(ProbeContext(root=root, env=fake_amdsmi(tmp_path, AMDSMI_MISSING), timeout_s=60))
    assert len(accs) == 1
    acc = accs[0]
    assert acc.detected_by == "pci" and acc.pci_device_id == "0x74a1"
    assert acc.memory_total_bytes is None
    assert "driver not bound" in acc.extra["sysfs_not_read"]
    assert unexplained_nulls(acc.to_dict()) == []


def test_parse_dpm_tables():
    assert parse_dpm("0: 500Mhz\n1: 1500Mhz *\n2: 2100Mhz\n") == (1500, 2100)
    # Deep-sleep level and no current marker (a power-state transition): current unknown, max still read.
    assert parse_dpm("S: 131Mhz\n1: 1420Mhz\n2: 2100Mhz\n") == (None, 2100)
    assert parse_dpm("") == (None, None)


def test_kfd_properties_and_gfx_target():
    props = parse_kfd_properties((DATA / "mi300x_kfd_gpu_node.properties").read_text())
    assert props["simd_count"] // props["simd_per_cu"] == 304
    assert props["device_id"] == 0x74A1
    assert gfx_target(props["gfx_target_version"]) == "gfx942"
    assert gfx_target(90010) == "gfx90a"  # MI250X
    assert gfx_target(110000) == "gfx1100"
    assert gfx_target(0) is None
