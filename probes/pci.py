"""PCI enumeration from sysfs: the tier-0 presence check that needs no vendor library."""

from __future__ import annotations

from dataclasses import dataclass

from .context import ProbeContext

VENDOR_NVIDIA = 0x10DE
VENDOR_AMD = 0x1002
VENDOR_GOOGLE = 0x1AE0
VENDOR_INTEL = 0x8086


@dataclass(frozen=True)
class PciDevice:
    address: str  # e.g. "0000:17:00.0"
    vendor_id: int
    device_id: int
    class_code: int  # 24-bit class code, e.g. 0x030200 for a 3D controller
    driver: str | None


def list_pci_devices(ctx: ProbeContext, vendor_id: int | None = None) -> list[PciDevice]:
    """Every PCI function under /sys/bus/pci/devices, optionally of one vendor."""
    base = ctx.path("/sys/bus/pci/devices")
    if not base.is_dir():
        return []
    devices = []
    for entry in sorted(base.iterdir()):
        vendor = ctx.read_int(f"/sys/bus/pci/devices/{entry.name}/vendor")
        device = ctx.read_int(f"/sys/bus/pci/devices/{entry.name}/device")
        if vendor is None or device is None:
            continue
        if vendor_id is not None and vendor != vendor_id:
            continue
        klass = ctx.read_int(f"/sys/bus/pci/devices/{entry.name}/class") or 0
        driver_link = entry / "driver"
        driver = driver_link.resolve().name if driver_link.exists() else None
        devices.append(PciDevice(entry.name, vendor, device, klass, driver))
    return devices


def is_accelerator_class(class_code: int) -> bool:
    """Display controllers (0x03xxxx) and processing accelerators (0x12xxxx); not bridges or NICs."""
    return (class_code >> 16) in (0x03, 0x12)
