"""NVIDIA probe, through the real child process, against a fake pynvml answering from recorded machines.

Fixtures (tests/data/nvml/*.json) hold nvidia-smi records of an H100 SXM node and an H200 VM; each
cites its source. The fake module (tests/data/nvml/fake_pynvml/pynvml.py) is put first on the
child's PYTHONPATH, so the probe code runs exactly as it would against nvidia-ml-py.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from infrabench.probes import nvidia
from infrabench.probes.context import ProbeContext, run_probe
from infrabench.probes.nvidia import decode_clock_event_reasons, nvidia_pci_accelerators, probe_nvidia
from infrabench.probes.record import unexplained_nulls

DATA = Path(__file__).parent / "data" / "nvml"
MIB = 1024 * 1024


def fixture(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def make_root(tmp_path: Path, dev_nodes: int = 1, pci: dict[str, tuple[str, str]] | None = None) -> Path:
    """A fake machine: /dev/nvidia<N>, /dev/nvidiactl, and PCI functions {address: (device, class)}."""
    root = tmp_path / "root"
    (root / "dev").mkdir(parents=True)
    (root / "dev" / "nvidiactl").touch()
    (root / "dev" / "nvidia-uvm").touch()
    for i in range(dev_nodes):
        (root / "dev" / f"nvidia{i}").touch()
    for address, (device, klass) in (pci or {}).items():
        d = root / "sys" / "bus" / "pci" / "devices" / address
        d.mkdir(parents=True)
        (d / "vendor").write_text("0x10de\n")
        (d / "device").write_text(device + "\n")
        (d / "class").write_text(klass + "\n")
    return root


def make_ctx(tmp_path: Path, data: dict, root: Path | None = None, timeout_s: float = 20.0) -> ProbeContext:
    path = tmp_path / "nvml_fixture.json"
    path.write_text(json.dumps(data))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(DATA / "fake_pynvml"), env.get("PYTHONPATH")) if p)
    env["INFRABENCH_FAKE_NVML_FIXTURE"] = str(path)
    if root is None:
        root = make_root(tmp_path, pci={"0000:18:00.0": ("0x2330", "0x030200")})
    return ProbeContext(root=root, env=env, timeout_s=timeout_s)


def probe(ctx: ProbeContext):
    return run_probe("nvidia", lambda: probe_nvidia(ctx), [])


def test_h100_sxm_record_has_every_field_from_the_recorded_machine(tmp_path):
    accs, status = probe(make_ctx(tmp_path, fixture("h100_sxm.json")))
    assert status.status == "ok", status.reason
    assert len(accs) == 1
    a = accs[0]
    assert (a.vendor, a.kind, a.detected_by, a.index) == ("nvidia", "gpu", "nvml", 0)
    assert a.name == "NVIDIA H100 80GB HBM3"
    assert a.uuid == "GPU-00000000-0000-0000-0000-000000000000"
    assert a.serial == "0000000000000"
    assert a.pci_bus_id == "0000:18:00.0"
    assert (a.pci_vendor_id, a.pci_device_id) == ("0x10de", "0x2330")
    assert a.extra["pci_subsystem_id"] == "0x16c110de"
    assert a.memory_total_bytes == 81559 * MIB
    assert a.memory_used_bytes == 1 * MIB  # v2: driver-reserved memory not counted as used
    assert a.extra["memory_reserved_bytes"] == 454 * MIB
    assert (a.sm_clock_mhz, a.sm_clock_max_mhz) == (345, 1980)
    assert (a.mem_clock_mhz, a.mem_clock_max_mhz) == (2619, 2619)
    assert a.power_draw_w == pytest.approx(100.89)
    assert (a.power_limit_w, a.power_limit_default_w) == (700.0, 700.0)
    assert a.temperature_c == 30.0
    assert a.throttle_reasons == ["GpuIdle"]
    assert a.extra["throttle_reasons_mask"] == "0x1"
    assert (a.pcie_gen, a.pcie_width, a.pcie_gen_max, a.pcie_width_max) == (5, 16, 5, 16)
    assert a.nvlink_links_active == 18
    assert a.ecc_enabled is True
    assert a.mig_mode is False
    assert a.compute_capability == "9.0"
    assert a.driver_version == "565.57.01"
    assert a.runtime_version == "12.7"
    assert a.compute_units is None and "MIG" in a.null_reasons["compute_units"]
    assert a.sku is None and "sku" in a.null_reasons
    assert unexplained_nulls(a.to_dict()) == []


def test_h200_record(tmp_path):
    root = make_root(tmp_path, pci={"0000:03:00.0": ("0x2335", "0x030200")})
    accs, status = probe(make_ctx(tmp_path, fixture("h200.json"), root))
    assert status.status == "ok", status.reason
    (a,) = accs
    assert a.name == "NVIDIA H200"
    assert (a.pci_bus_id, a.pci_device_id) == ("0000:03:00.0", "0x2335")
    assert a.memory_total_bytes == 143771 * MIB
    assert (a.mem_clock_mhz, a.mem_clock_max_mhz, a.sm_clock_max_mhz) == (3199, 3201, 1980)
    assert a.power_draw_w == pytest.approx(74.58)
    assert a.power_limit_w == 700.0
    assert (a.driver_version, a.runtime_version) == ("550.90.12", "12.4")
    assert unexplained_nulls(a.to_dict()) == []


def test_two_gpus_get_their_own_index_and_values(tmp_path):
    data = fixture("h100_sxm.json")
    second = json.loads(json.dumps(data["gpus"][0]))
    # GPU 1 of the same recorded node: bus 2A, 82 W, 30 C (nvidia-smi summary table).
    second.update(uuid="GPU-00000000-0000-0000-0000-000000000002", power_draw_w=82.0)
    second["pci"]["bus_id"], second["pci"]["bus"] = "00000000:2A:00.0", "0x2A"
    data["gpus"].append(second)
    accs, status = probe(make_ctx(tmp_path, data))
    assert status.status == "ok", status.reason
    assert [a.index for a in accs] == [0, 1]
    assert [a.pci_bus_id for a in accs] == ["0000:18:00.0", "0000:2a:00.0"]
    assert [a.power_draw_w for a in accs] == [pytest.approx(100.89), pytest.approx(82.0)]


def test_unsupported_or_forbidden_call_nulls_only_its_field(tmp_path):
    data = fixture("h100_sxm.json")
    data["not_supported"] = ["nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetSerial"]
    data["no_permission"] = ["nvmlDeviceGetTemperature"]
    accs, status = probe(make_ctx(tmp_path, data))
    assert status.status == "ok", status.reason
    (a,) = accs
    assert a.power_limit_w is None
    assert a.null_reasons["power_limit_w"] == "not supported by this GPU/driver"
    assert a.serial is None and a.null_reasons["serial"] == "not supported by this GPU/driver"
    assert a.temperature_c is None and a.null_reasons["temperature_c"] == "no permission"
    assert a.power_limit_default_w == 700.0
    assert a.power_draw_w == pytest.approx(100.89)
    assert a.name == "NVIDIA H100 80GB HBM3"
    assert unexplained_nulls(a.to_dict()) == []


def test_gpu_without_nvlink_gets_null_with_reason(tmp_path):
    data = fixture("h100_sxm.json")
    data["gpus"][0]["nvlink_states"] = []
    (a,), status = probe(make_ctx(tmp_path, data))
    assert status.status == "ok"
    assert a.nvlink_links_active is None
    assert "NVLink" in a.null_reasons["nvlink_links_active"]


def test_inactive_nvlink_links_are_not_counted(tmp_path):
    data = fixture("h100_sxm.json")
    data["gpus"][0]["nvlink_states"] = [1] * 16 + [0, 0]
    (a,), _ = probe(make_ctx(tmp_path, data))
    assert a.nvlink_links_active == 16
    assert a.extra["nvlink_links_total"] == 18


@pytest.mark.parametrize("fault", ["missing", "function_not_found"])
def test_clock_event_reasons_fall_back_to_the_older_throttle_call(tmp_path, fault):
    data = fixture("h100_sxm.json")
    data[fault] = ["nvmlDeviceGetCurrentClocksEventReasons"]
    data["gpus"][0]["clocks_event_reasons"] = "0x44"  # SW power cap + HW thermal slowdown
    (a,), status = probe(make_ctx(tmp_path, data))
    assert status.status == "ok", status.reason
    assert a.throttle_reasons == ["SwPowerCap", "HwThermalSlowdown"]


def test_decode_clock_event_reasons_keeps_unknown_bits():
    assert decode_clock_event_reasons(0) == []
    assert decode_clock_event_reasons(0x1FF) == list(nvidia.CLOCK_EVENT_REASONS.values())
    assert decode_clock_event_reasons(0x108 | 0x400) == ["HwSlowdown", "DisplayClockSetting", "0x400"]


def test_old_pynvml_without_memory_v2_reports_v1_used(tmp_path):
    data = fixture("h100_sxm.json")
    data["missing"] = ["nvmlMemory_v2"]
    (a,), status = probe(make_ctx(tmp_path, data))
    assert status.status == "ok", status.reason
    assert a.memory_total_bytes == 81559 * MIB
    assert a.memory_used_bytes == (81559 - 81106) * MIB  # v1: used = total - free
    assert a.extra["memory_info_version"] == 1


def test_mig_enabled_counts_sms_of_the_configured_instances(tmp_path):
    data = fixture("h200.json")
    gpu = data["gpus"][0]
    gpu["mig_mode"] = [1, 1]
    gpu["max_mig_device_count"] = 7
    # Two MIG 3g.71gb instances: 60 SMs, 69.50 GiB each (nvidia-smi mig -lgip, NVIDIA/mig-parted#120).
    gpu["mig_devices"] = [
        {"uuid": "MIG-00000000-0000-0000-0000-000000000000", "multiprocessor_count": 60, "memory_mib": 71168},
        {"uuid": "MIG-00000000-0000-0000-0000-000000000001", "multiprocessor_count": 60, "memory_mib": 71168},
    ]
    root = make_root(tmp_path, pci={"0000:03:00.0": ("0x2335", "0x030200")})
    (a,), status = probe(make_ctx(tmp_path, data, root))
    assert status.status == "ok", status.reason
    assert a.mig_mode is True
    assert a.compute_units == 120
    assert [m["multiprocessor_count"] for m in a.extra["mig_devices"]] == [60, 60]
    assert a.extra["mig_devices"][0]["memory_bytes"] == 71168 * MIB


def test_pynvml_not_importable_is_unavailable_and_says_what_was_seen(tmp_path):
    data = fixture("h100_sxm.json")
    data["import_error"] = "No module named 'pynvml'"
    accs, status = probe(make_ctx(tmp_path, data))
    assert (accs, status.status) == ([], "unavailable")
    assert "/dev/nvidia0" in status.reason and "0000:18:00.0 [10de:2330]" in status.reason
    assert "NVML could not be loaded" in status.reason
    assert "pip install infrabench[nvidia]" in status.reason


@pytest.mark.parametrize(
    ("init_error", "expected_status", "words"),
    [
        ("DRIVER_NOT_LOADED", "unavailable", "Driver Not Loaded"),
        ("LIBRARY_NOT_FOUND", "unavailable", "NVML Shared Library Not Found"),
        ("LIB_RM_VERSION_MISMATCH", "unavailable", "reboot"),
        ("NO_PERMISSION", "no_permission", "Insufficient Permissions"),
    ],
)
def test_nvml_init_failures_map_to_statuses(tmp_path, init_error, expected_status, words):
    data = fixture("h100_sxm.json")
    data["init_error"] = init_error
    accs, status = probe(make_ctx(tmp_path, data))
    assert (accs, status.status) == ([], expected_status)
    assert words in status.reason


@pytest.mark.parametrize(
    ("lost", "call"),
    [
        (["nvmlDeviceGetPowerUsage"], "nvmlDeviceGetPowerUsage"),
        (["nvmlDeviceGetMemoryInfo"], "nvmlDeviceGetMemoryInfo"),
        (["nvmlDeviceGetNvLinkState"], "nvmlDeviceGetNvLinkState"),
        (["nvmlDeviceGetHandleByIndex"], "nvmlDeviceGetHandleByIndex"),
        (True, "nvmlDeviceGetCount"),
    ],
)
def test_lost_gpu_fails_the_probe_with_the_reason(tmp_path, lost, call):
    data = fixture("h100_sxm.json")
    data["gpu_lost"] = lost
    accs, status = probe(make_ctx(tmp_path, data))
    assert (accs, status.status) == ([], "error")
    assert "is lost" in status.reason and call in status.reason
    assert "GPU 0 is lost" in status.reason or call == "nvmlDeviceGetCount"


def test_hanging_nvml_call_times_out_quickly(tmp_path):
    data = fixture("h100_sxm.json")
    data["hang"] = "nvmlDeviceGetName"
    start = time.monotonic()
    accs, status = probe(make_ctx(tmp_path, data, timeout_s=2.0))
    assert (accs, status.status) == ([], "timeout")
    assert time.monotonic() - start < 10


def test_no_device_is_unavailable_without_starting_a_child(tmp_path, monkeypatch):
    def no_child(*args, **kwargs):
        raise AssertionError("a child process was started")

    monkeypatch.setattr(nvidia, "run_child", no_child)
    # /dev/nvidiactl and /dev/nvidia-uvm alone, plus an NVSwitch (bridge class) do not count as GPUs.
    root = make_root(tmp_path, dev_nodes=0, pci={"0000:05:00.0": ("0x22a3", "0x068000")})
    accs, status = probe(make_ctx(tmp_path, fixture("h100_sxm.json"), root))
    assert (accs, status.status) == ([], "unavailable")
    assert "no /dev/nvidia* nodes" in status.reason and "0x10de" in status.reason


def test_pci_alone_is_enough_to_look_with_nvml(tmp_path):
    root = make_root(tmp_path, dev_nodes=0, pci={"0000:18:00.0": ("0x2330", "0x030200")})
    accs, status = probe(make_ctx(tmp_path, fixture("h100_sxm.json"), root))
    assert status.status == "ok", status.reason
    assert accs[0].name == "NVIDIA H100 80GB HBM3"


def test_pci_only_records_when_nvml_is_unusable(tmp_path):
    gpu = ("0x2330", "0x030200")
    root = make_root(tmp_path, pci={"0000:18:00.0": gpu, "0000:2a:00.0": gpu})
    ctx = make_ctx(tmp_path, fixture("h100_sxm.json"), root)
    accs = nvidia_pci_accelerators(ctx)
    assert [(a.pci_bus_id, a.pci_device_id, a.detected_by) for a in accs] == [
        ("0000:18:00.0", "0x2330", "pci"),
        ("0000:2a:00.0", "0x2330", "pci"),
    ]
    assert accs[0].name is None and "NVML was not usable" in accs[0].null_reasons["name"]
    assert unexplained_nulls([a.to_dict() for a in accs]) == []
