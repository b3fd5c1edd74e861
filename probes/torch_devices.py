"""Accelerators only torch reports: Apple MPS and Intel XPU.

Neither has a vendor management library this suite reads, so torch (in a child process) is the
source. The child is started only where such a device can exist: macOS for MPS, an Intel display
device on PCI or an Intel render node for XPU (or when forced).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from typing import Any

from .accelerator import Accelerator
from .child import run_child
from .context import ProbeContext
from .pci import VENDOR_INTEL, list_pci_devices
from .record import Unavailable
from .software import FORCE_ENV, FindSpec


def intel_gpu_evidence(ctx: ProbeContext) -> str | None:
    """An Intel GPU on PCI (display class 0x03) or an Intel-owned /dev/dri render node; None if neither."""
    for dev in list_pci_devices(ctx, VENDOR_INTEL):
        if dev.class_code >> 16 == 0x03:
            return f"Intel display device on PCI {dev.address} ({dev.device_id:#06x})"
    dri = ctx.path("/dev/dri")
    for node in sorted(dri.glob("renderD*")) if dri.is_dir() else []:
        if ctx.read_int(f"/sys/class/drm/{node.name}/device/vendor") == VENDOR_INTEL:
            return f"Intel render node /dev/dri/{node.name}"
    return None


def probe_torch_devices(
    ctx: ProbeContext,
    force: bool | None = None,
    platform_name: str | None = None,
    find_spec: FindSpec = importlib.util.find_spec,
) -> list[Accelerator]:
    """One Accelerator per MPS or XPU device torch sees; Unavailable (with why) when there is none."""
    forced = force if force is not None else ctx.env.get(FORCE_ENV) == "1"
    plat = platform_name or sys.platform
    intel = intel_gpu_evidence(ctx)
    want_mps = plat == "darwin" or forced
    want_xpu = intel is not None or forced
    if not (want_mps or want_xpu):
        raise Unavailable(
            f"no Apple MPS or Intel XPU device possible: not macOS (platform {plat}); no Intel GPU on PCI "
            "(vendor 0x8086, display class 0x03) and no Intel render node in /dev/dri"
        )
    if find_spec("torch") is None:
        raise Unavailable("torch not installed: MPS and XPU devices are only seen through torch")
    value = run_child(
        "infrabench.probes.torch_devices:torch_devices_child", ctx.timeout_s, env=ctx.env, python=ctx.python,
        args=[str(int(want_mps)), str(int(want_xpu))],
    )
    records = [_mps_record(d) for d in value["mps"]] + [_xpu_record(d) for d in value["xpu"]]
    if not records:
        raise Unavailable("torch sees no MPS or XPU device: " + "; ".join(value["notes"]))
    return records


def _mps_record(d: Mapping[str, Any]) -> Accelerator:
    acc = Accelerator(vendor="apple", kind="gpu", index=d["index"], detected_by="torch")
    if d.get("chip"):
        acc.name = d["chip"]  # Metal names the GPU after the SoC, e.g. "Apple M2 Max"
        acc.extra["name_source"] = "sysctl machdep.cpu.brand_string"
    else:
        acc.set_null("name", "torch.mps reports no device name and sysctl gave none")
    if d.get("recommended_max_memory_bytes") is not None:
        acc.extra["recommended_max_memory_bytes"] = d["recommended_max_memory_bytes"]
    acc.set_null("memory_total_bytes", "unified memory shared with the CPU (see extra)")
    if d.get("macos_version"):
        acc.runtime_version = f"macOS {d['macos_version']}"
    acc.explain_nulls("not reported by torch.mps")
    return acc


def _xpu_record(d: Mapping[str, Any]) -> Accelerator:
    acc = Accelerator(
        vendor="intel", kind="gpu", index=d["index"], detected_by="torch",
        name=d.get("name"), memory_total_bytes=d.get("total_memory"), driver_version=d.get("driver_version"),
        compute_units=d.get("max_compute_units"), uuid=d.get("uuid"), pci_vendor_id=f"{VENDOR_INTEL:#06x}",
    )
    if isinstance(d.get("device_id"), int):
        acc.pci_device_id = f"{d['device_id']:#06x}"
    for key in ("platform_name", "type", "gpu_eu_count", "gpu_subslice_count", "has_fp16", "has_fp64"):
        if d.get(key) is not None:
            acc.extra[key] = d[key]
    acc.explain_nulls("not reported by torch.xpu.get_device_properties")
    return acc


_XPU_PROPS = ("name", "total_memory", "driver_version", "max_compute_units", "uuid", "device_id",
              "platform_name", "type", "gpu_eu_count", "gpu_subslice_count", "has_fp16", "has_fp64")


def torch_devices_child(want_mps: str, want_xpu: str) -> dict[str, Any]:
    """Runs in the child: ask torch for MPS and XPU devices."""
    import torch

    out: dict[str, Any] = {"mps": [], "xpu": [], "notes": []}
    if want_mps == "1":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            built = mps is not None and mps.is_built()
            out["notes"].append(f"torch.backends.mps.is_available() is False (built with MPS: {built})")
        else:
            out["mps"].append(_mps_details(torch))
    if want_xpu == "1":
        xpu = getattr(torch, "xpu", None)
        if xpu is None:
            out["notes"].append(f"torch {torch.__version__} has no torch.xpu (added in torch 2.4)")
        elif not xpu.is_available():
            out["notes"].append("torch.xpu.is_available() is False")
        else:
            for i in range(xpu.device_count()):
                props = xpu.get_device_properties(i)
                row = {"index": i}
                for key in _XPU_PROPS:
                    value = getattr(props, key, None)
                    row[key] = value if value is None or isinstance(value, (int, float, bool)) else str(value)
                out["xpu"].append(row)
    return out


def _mps_details(torch: Any) -> dict[str, Any]:
    import platform
    import subprocess

    row: dict[str, Any] = {"index": 0, "macos_version": platform.mac_ver()[0] or None}
    try:
        row["chip"] = subprocess.run(
            ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        row["chip"] = None
    recommended = getattr(getattr(torch, "mps", None), "recommended_max_memory", None)
    row["recommended_max_memory_bytes"] = int(recommended()) if callable(recommended) else None
    return row
