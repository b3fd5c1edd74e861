"""Google TPUs from PCI sysfs, device nodes and TPU_* environment variables, without touching libtpu.

Initialising libtpu (importing jax or torch_xla with a TPU backend) claims every chip on the host, so a
later benchmark child could not open them; this probe therefore only reads PCI ids (the same check
jax and Google's tpu-info make), /dev/accel* (v2-v4) and /dev/vfio/* (v5e, v5p, v6e, v7x).

Only environment variables and no chip on PCI is reported as Unavailable with that evidence, not as
records: the variables describe the slice (e.g. TPU_ACCELERATOR_TYPE=v5litepod-8), not which chips
this host or container can reach, so no per-chip record could be filled honestly.
"""

from __future__ import annotations

import re

from .accelerator import Accelerator
from .context import ProbeContext
from .pci import VENDOR_GOOGLE, list_pci_devices
from .record import Unavailable

# PCI device id -> (generation, datasheet HBM per chip in GB as Google prints it, source).
# Ids: Google tpu-info tpu_info/device.py (TpuChip.from_pci_device_id) and jax/_src/hardware_utils.py.
# v2 and v3 share 0x0027 and differ by PCI subsystem device id (0x004e v2, 0x004f v3).
TPU_PCI_IDS: dict[int, str] = {
    0x0027: "v2/v3",
    0x005E: "v4",
    0x0062: "v5p",
    0x0063: "v5e",
    0x006F: "v6e",
    0x0076: "v7x",
}
_SUBSYSTEM_V2_V3 = {0x004E: "v2", 0x004F: "v3"}
# HBM per chip as Google's Cloud TPU system-architecture pages print it (v2/v3/v7x: tpu-info's table).
HBM_PER_CHIP_GB: dict[str, tuple[float, str]] = {
    "v2": (8, "tpu-info TpuChip table (hbm_gib=8)"),
    "v3": (16, "tpu-info TpuChip table (hbm_gib=16)"),
    "v4": (32, "Cloud TPU v4 page: HBM2 32 GiB"),
    "v5e": (16, "Cloud TPU v5e page: HBM2 16 GB"),
    "v5p": (95, "Cloud TPU v5p page: HBM2e 95 GB"),
    "v6e": (32, "Cloud TPU v6e page: HBM 32 GB"),
    "v7x": (192, "tpu-info TpuChip table (hbm_gib=192)"),
}
# TPU_ACCELERATOR_TYPE prefix -> generation ("v5litepod-8" is v5e).
_ACCELERATOR_TYPE = (
    (r"v5litepod|v5e", "v5e"),
    (r"v5p", "v5p"),
    (r"v6e", "v6e"),
    (r"v4", "v4"),
    (r"v3", "v3"),
    (r"v2", "v2"),
    (r"tpu7x|v7x", "v7x"),
)
TPU_ENV_VARS = (
    "TPU_ACCELERATOR_TYPE",
    "TPU_WORKER_ID",
    "TPU_WORKER_HOSTNAMES",
    "TPU_SKIP_MDS_QUERY",
    "TPU_CHIPS_PER_HOST_BOUNDS",
    "TPU_HOST_BOUNDS",
    "TPU_PROCESS_BOUNDS",
    "TPU_CHIPS_PER_PROCESS_BOUNDS",
    "TPU_TOPOLOGY",
    "TPU_TOPOLOGY_WRAP",
    "TPU_RUNTIME_METRICS_PORTS",
    "TPU_VISIBLE_CHIPS",
    "TPU_NAME",
)
_NOT_WITHOUT_LIBTPU = "not readable without initialising libtpu, which this probe never does"


def accelerator_type_generation(value: str | None) -> str | None:
    """'v5litepod-8' -> 'v5e', 'v4-256' -> 'v4'; None when the prefix is not a known TPU type."""
    text = (value or "").strip().lower()
    for pattern, gen in _ACCELERATOR_TYPE:
        if re.match(rf"({pattern})(-|$)", text):
            return gen
    return None


def _device_nodes(ctx: ProbeContext) -> list[str]:
    nodes = []
    dev = ctx.path("/dev")
    if dev.is_dir():
        nodes += sorted(f"/dev/{p.name}" for p in dev.iterdir() if re.fullmatch(r"accel\d+", p.name))
    vfio = ctx.path("/dev/vfio")
    if vfio.is_dir():
        nodes += sorted(f"/dev/vfio/{p.name}" for p in vfio.iterdir() if p.name.isdigit())
    return nodes


def probe_tpu(ctx: ProbeContext) -> list[Accelerator]:
    """One record per TPU chip on PCI (vendor 0x1ae0 with a TPU device id)."""
    env = {k: ctx.env[k] for k in TPU_ENV_VARS if k in ctx.env}
    nodes = _device_nodes(ctx)
    env_gen = accelerator_type_generation(env.get("TPU_ACCELERATOR_TYPE"))
    chips = [d for d in list_pci_devices(ctx, VENDOR_GOOGLE) if d.device_id in TPU_PCI_IDS]
    if not chips:
        raise Unavailable(_no_chip_reason(ctx, env, nodes))

    out = []
    for index, dev in enumerate(chips):
        gen = TPU_PCI_IDS[dev.device_id]
        if dev.device_id == 0x0027:
            sub = ctx.read_int(f"/sys/bus/pci/devices/{dev.address}/subsystem_device")
            gen = _SUBSYSTEM_V2_V3.get(sub or -1, "v2/v3")
        acc = Accelerator(vendor="google", kind="tpu", index=index, detected_by="pci", pci_bus_id=dev.address,
                          pci_vendor_id="0x1ae0", pci_device_id=f"0x{dev.device_id:04x}")
        acc.extra.update({"generation": gen, "pci_driver": dev.driver, "device_nodes": nodes})
        if env:
            acc.extra["env"] = env
        if env_gen is not None and env_gen != gen:
            declared = env["TPU_ACCELERATOR_TYPE"]
            acc.extra["env_mismatch"] = f"TPU_ACCELERATOR_TYPE={declared!r} names {env_gen}, PCI says {gen}"
        hbm = HBM_PER_CHIP_GB.get(gen)
        datasheet = f"datasheet HBM per chip: {hbm[0]:g} GB ({hbm[1]})" if hbm else "no datasheet HBM figure"
        if hbm:
            acc.extra["hbm_per_chip_datasheet_gb"] = hbm[0]
        acc.set_null("memory_total_bytes", f"{_NOT_WITHOUT_LIBTPU}; {datasheet}")
        acc.set_null("name", "JAX device_kind is only reported once libtpu is initialised; "
                             f"generation from the PCI id is {gen}")
        acc.set_null("compute_capability", "not applicable to TPUs")
        acc.set_null("nvlink_links_active", "not applicable to TPUs (chips are linked by ICI)")
        acc.set_null("mig_mode", "not applicable to TPUs")
        acc.explain_nulls(f"{_NOT_WITHOUT_LIBTPU}; PCI sysfs does not expose it")
        out.append(acc)
    return out


def _no_chip_reason(ctx: ProbeContext, env: dict[str, str], nodes: list[str]) -> str:
    pci_dir = ctx.path("/sys/bus/pci/devices")
    if not pci_dir.is_dir():
        where = "/sys/bus/pci/devices is not visible (container without sysfs?)"
    else:
        where = "no PCI device of vendor 0x1ae0 with a TPU device id"
    evidence = []
    if env:
        evidence.append("environment: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    if nodes:
        evidence.append("device nodes: " + ", ".join(nodes))
    if not evidence:
        return f"no Google TPU: {where}, no /dev/accel* or /dev/vfio/* node, no TPU_* environment variables"
    return (f"no TPU chip found on PCI ({where}), though {'; '.join(evidence)} suggest a TPU host; "
            "chips are not counted from environment variables alone")
