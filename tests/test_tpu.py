"""TPU probe on fake TPU VM hosts (tests/data/tpu/hosts.json): PCI ids, device nodes, TPU_* variables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from infrabench.probes.context import ProbeContext, run_probe
from infrabench.probes.peaks import apply_peaks
from infrabench.probes.record import Unavailable, unexplained_nulls
from infrabench.probes.tpu import accelerator_type_generation, probe_tpu

HOSTS = json.loads((Path(__file__).parent / "data" / "tpu" / "hosts.json").read_text())


def build_host(root: Path, host: dict) -> ProbeContext:
    for address, dev in host["pci"].items():
        d = root / "sys/bus/pci/devices" / address
        d.mkdir(parents=True)
        (d / "vendor").write_text(dev["vendor"] + "\n")
        (d / "device").write_text(dev["device"] + "\n")
        if "subsystem_device" in dev:
            (d / "subsystem_device").write_text(dev["subsystem_device"] + "\n")
        drv = root / "sys/bus/pci/drivers" / dev["driver"]
        drv.mkdir(parents=True, exist_ok=True)
        (d / "driver").symlink_to(drv)
    for node in host["dev"]:
        path = root / "dev" / node
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    return ProbeContext(root=root, env=dict(host["env"]))


@pytest.mark.parametrize(
    ("host", "chips", "device_id", "gen", "sku", "bf16"),
    [
        ("v4_host", 4, "0x005e", "v4", "TPU v4", 275),
        ("v5e_host", 8, "0x0063", "v5e", "TPU v5e", 197),
        ("v6e_host", 8, "0x006f", "v6e", "TPU v6e", 918),
    ],
)
def test_one_record_per_chip_on_pci(tmp_path, host, chips, device_id, gen, sku, bf16):
    accs = probe_tpu(build_host(tmp_path, HOSTS[host]))
    assert len(accs) == chips  # gVNIC and NVMe functions of vendor 0x1ae0 are not chips
    assert [a.index for a in accs] == list(range(chips))
    for acc in accs:
        assert (acc.vendor, acc.kind, acc.detected_by) == ("google", "tpu", "pci")
        assert acc.pci_device_id == device_id and acc.extra["generation"] == gen
        assert acc.memory_total_bytes is None
        assert "libtpu" in acc.null_reasons["memory_total_bytes"]
        assert "datasheet HBM per chip" in acc.null_reasons["memory_total_bytes"]
        apply_peaks(acc)
        assert acc.sku == sku
        assert next(p for p in acc.peaks if p.dtype == "bf16").tflops == bf16
        assert unexplained_nulls(acc.to_dict()) == []


def test_device_nodes_and_env_are_recorded(tmp_path):
    accs = probe_tpu(build_host(tmp_path, HOSTS["v5e_host"]))
    extra = accs[0].extra
    assert extra["device_nodes"] == [f"/dev/vfio/{i}" for i in range(8)]  # /dev/vfio/vfio is the container
    assert extra["env"]["TPU_ACCELERATOR_TYPE"] == "v5litepod-8"
    assert extra["pci_driver"] == "vfio-pci"
    assert "env_mismatch" not in extra
    v4 = probe_tpu(build_host(tmp_path / "v4", HOSTS["v4_host"]))
    assert v4[0].extra["device_nodes"] == ["/dev/accel0", "/dev/accel1", "/dev/accel2", "/dev/accel3"]


def test_env_disagreeing_with_pci_is_flagged(tmp_path):
    host = dict(HOSTS["v6e_host"], env={"TPU_ACCELERATOR_TYPE": "v5litepod-8"})
    acc = probe_tpu(build_host(tmp_path, host))[0]
    assert "v5e" in acc.extra["env_mismatch"] and "v6e" in acc.extra["env_mismatch"]


def test_v3_told_from_v2_by_subsystem_and_has_no_peak(tmp_path):
    acc = probe_tpu(build_host(tmp_path, HOSTS["v3_host"]))[0]
    assert acc.extra["generation"] == "v3"
    apply_peaks(acc)
    assert acc.sku is None and "0x0027" in acc.null_reasons["sku"]
    assert all(p.tflops is None for p in acc.peaks)


def test_env_only_is_unavailable_with_the_evidence(tmp_path):
    root = tmp_path / "container"
    (root / "sys/bus/pci/devices").mkdir(parents=True)
    env = {"TPU_ACCELERATOR_TYPE": "v5litepod-8", "TPU_WORKER_ID": "0", "TPU_SKIP_MDS_QUERY": "1"}
    ctx = ProbeContext(root=root, env=env)
    with pytest.raises(Unavailable) as err:
        probe_tpu(ctx)
    text = str(err.value)
    assert "TPU_ACCELERATOR_TYPE=v5litepod-8" in text and "TPU_WORKER_ID=0" in text
    assert "not counted from environment variables alone" in text


def test_no_tpu_is_unavailable(tmp_path):
    root = tmp_path / "plain"
    gvnic = root / "sys/bus/pci/devices/0000:00:03.0"
    gvnic.mkdir(parents=True)
    (gvnic / "vendor").write_text("0x1ae0\n")
    (gvnic / "device").write_text("0x0042\n")
    ctx = ProbeContext(root=root, env={"PATH": "/usr/bin"})
    value, status = run_probe("tpu", lambda: probe_tpu(ctx), [])
    assert value == [] and status.status == "unavailable"
    assert "no Google TPU" in status.reason and "TPU_* environment" in status.reason


@pytest.mark.parametrize(
    ("value", "gen"),
    [("v5litepod-8", "v5e"), ("v5p-128", "v5p"), ("v4-256", "v4"), ("v6e-8", "v6e"), ("v2-8", "v2"),
     ("v5litepod", "v5e"), ("v40-8", None), ("", None), (None, None)],
)
def test_accelerator_type_generation(value, gen):
    assert accelerator_type_generation(value) == gen


def test_probe_never_imports_jax_or_libtpu(tmp_path):
    before = {m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib", "libtpu", "torch_xla")}
    probe_tpu(build_host(tmp_path, HOSTS["v5e_host"]))
    after = {m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib", "libtpu", "torch_xla")}
    assert after == before
