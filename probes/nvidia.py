"""NVIDIA GPUs: presence from device nodes and PCI ids, details from NVML read in a child process.

Tier 0 (this process, no library): `/dev/nvidia[0-9]*` and PCI functions of vendor 0x10de with a
display/3D/accelerator class. Nothing there means no NVIDIA GPU, and no child is started.
Tier 1 (child process): pynvml, one wrapped call per field, so one unsupported call nulls one field.

Statuses, as `run_probe` maps them:
- unavailable: no device seen; or devices seen but NVML could not be loaded (reason says how to fix).
- no_permission: nvmlInit refused.
- error: a GPU is lost (NVML_ERROR_GPU_IS_LOST) — the whole probe fails, because a machine with a GPU
  off the bus gives no trustworthy numbers; or any other unexpected failure.
- timeout: an NVML call hung; the child is killed.
When the status is not ok, `nvidia_pci_accelerators(ctx)` still gives PCI-only records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .accelerator import Accelerator
from .child import run_child
from .context import ProbeContext
from .pci import VENDOR_NVIDIA, PciDevice, is_accelerator_class, list_pci_devices
from .record import Unavailable

log = logging.getLogger(__name__)

CHILD_TARGET = "infrabench.probes.nvidia:_nvml_child"
NOT_SUPPORTED = "not supported by this GPU/driver"
NO_PERMISSION = "no permission"
INSTALL_HINT = (
    "install or load the NVIDIA driver (it provides libnvidia-ml.so.1) and `pip install infrabench[nvidia]` "
    "(package nvidia-ml-py)"
)

# nvmlClocksEventReason* bits (same values as the deprecated nvmlClocksThrottleReason* ones).
CLOCK_EVENT_REASONS: dict[int, str] = {
    0x001: "GpuIdle",
    0x002: "ApplicationsClocksSetting",
    0x004: "SwPowerCap",
    0x008: "HwSlowdown",
    0x010: "SyncBoost",
    0x020: "SwThermalSlowdown",
    0x040: "HwThermalSlowdown",
    0x080: "HwPowerBrakeSlowdown",
    0x100: "DisplayClockSetting",
}


def decode_clock_event_reasons(mask: int) -> list[str]:
    """Names of the set bits; a bit NVML documents no name for is kept as its hex value, never dropped."""
    names = [name for bit, name in CLOCK_EVENT_REASONS.items() if mask & bit]
    unknown = mask & ~sum(CLOCK_EVENT_REASONS)
    bit = 1
    while unknown:
        if unknown & bit:
            names.append(hex(bit))
            unknown &= ~bit
        bit <<= 1
    return names


@dataclass(frozen=True)
class NvidiaPresence:
    """What tier 0 saw without any vendor library."""

    device_nodes: list[str]
    pci_devices: list[PciDevice]

    def __bool__(self) -> bool:
        return bool(self.device_nodes or self.pci_devices)

    def describe(self) -> str:
        parts = []
        if self.device_nodes:
            parts.append("device nodes " + ", ".join(self.device_nodes))
        if self.pci_devices:
            ids = ", ".join(f"{d.address} [10de:{d.device_id:04x}]" for d in self.pci_devices)
            parts.append("PCI devices " + ids)
        return " and ".join(parts)


def find_nvidia_devices(ctx: ProbeContext) -> NvidiaPresence:
    """Tier 0: NVIDIA GPU device nodes and PCI functions (NVSwitches and audio functions excluded)."""
    dev = ctx.path("/dev")
    nodes = sorted(
        (f"/dev/{p.name}" for p in dev.glob("nvidia[0-9]*") if p.name[len("nvidia"):].isdigit()),
        key=lambda n: int(n[len("/dev/nvidia"):]),
    ) if dev.is_dir() else []
    pci = [d for d in list_pci_devices(ctx, VENDOR_NVIDIA) if is_accelerator_class(d.class_code)]
    return NvidiaPresence(nodes, pci)


def probe_nvidia(ctx: ProbeContext) -> list[Accelerator]:
    """One Accelerator per GPU NVML reports (detected_by "nvml"); raises for `run_probe` to map a status."""
    seen = find_nvidia_devices(ctx)
    if not seen:
        raise Unavailable(
            "no NVIDIA device: no /dev/nvidia* nodes and no PCI display/3D device with vendor 0x10de"
        )
    try:
        payload = run_child(CHILD_TARGET, ctx.timeout_s, env=ctx.env, python=ctx.python)
    except Unavailable as exc:
        reason = f"{seen.describe()} seen, but NVML could not be loaded ({exc}); {INSTALL_HINT}"
        raise Unavailable(reason) from None
    gpus = [_accelerator(gpu, payload["system"]) for gpu in payload["gpus"]]
    if seen.pci_devices and len(gpus) != len(seen.pci_devices):
        log.warning("NVML reports %d GPUs but PCI shows %d NVIDIA GPUs", len(gpus), len(seen.pci_devices))
    return gpus


def nvidia_pci_accelerators(ctx: ProbeContext) -> list[Accelerator]:
    """PCI-only records (detected_by "pci") for when NVML is unusable: the device id still names the SKU."""
    records = []
    for index, dev in enumerate(find_nvidia_devices(ctx).pci_devices):
        acc = Accelerator(
            vendor="nvidia",
            kind="gpu",
            index=index,
            detected_by="pci",
            pci_bus_id=dev.address,
            pci_vendor_id=f"0x{dev.vendor_id:04x}",
            pci_device_id=f"0x{dev.device_id:04x}",
        )
        acc.extra["pci_driver"] = dev.driver
        acc.explain_nulls("only the PCI id is known: NVML was not usable (see the nvidia probe status)")
        records.append(acc)
    return records


def _accelerator(gpu: dict[str, Any], system: dict[str, Any]) -> Accelerator:
    acc = Accelerator(vendor="nvidia", kind="gpu", detected_by="nvml")
    for name, value in {**system["values"], **gpu["values"]}.items():
        setattr(acc, name, value)
    for name, reason in {**system["reasons"], **gpu["reasons"]}.items():
        acc.set_null(name, reason)
    acc.extra.update(gpu.get("extra", {}))
    acc.set_null("sku", "resolved from pci_device_id by the peak lookup, not read from NVML")
    acc.set_null("peak_memory_bandwidth_gbs", "attached with the peaks, not read from NVML")
    acc.explain_nulls(str(gpu.get("extra", {}).get("handle_error") or "not reported by NVML"))
    return acc


# ---------------------------------------------------------------- child side: runs in a fresh interpreter


class _GpuLost(Exception):
    pass


def _nvml_error(nvml: Any, suffix: str) -> type[BaseException]:
    """pynvml's NVMLError_<suffix> class, or one never raised when this pynvml lacks it."""
    cls = getattr(nvml, f"NVMLError_{suffix}", None)
    return cls if isinstance(cls, type) else type(f"Absent{suffix}", (Exception,), {})


class _Reader:
    """Calls one NVML function per field; a failed call nulls that field with the reason."""

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        self.values: dict[str, Any] = {}
        self.reasons: dict[str, str] = {}
        self.extra: dict[str, Any] = {}
        self.last_call_absent = False  # the last call failed because pynvml or the driver lacks the function

    def call(self, field: str, fn_name: str, *args: Any) -> Any:
        """The raw result, or None with `reasons[field]` set. GPU lost raises."""
        fn = getattr(self.nvml, fn_name, None)
        self.last_call_absent = fn is None
        if fn is None:
            self.reasons[field] = f"this pynvml has no {fn_name}; upgrade nvidia-ml-py"
            return None
        try:
            return fn(*args)
        except self.nvml.NVMLError as exc:
            self.last_call_absent = isinstance(exc, _nvml_error(self.nvml, "FunctionNotFound"))
            self.reasons[field] = self.reason(exc, fn_name)
            return None

    def reason(self, exc: BaseException, fn_name: str) -> str:
        nvml = self.nvml
        if isinstance(exc, _nvml_error(nvml, "GpuIsLost")):
            raise _GpuLost(fn_name) from exc
        if isinstance(exc, _nvml_error(nvml, "NotSupported")):
            return NOT_SUPPORTED
        if isinstance(exc, _nvml_error(nvml, "NoPermission")):
            return NO_PERMISSION
        if isinstance(exc, _nvml_error(nvml, "FunctionNotFound")):
            return f"the driver's NVML has no {fn_name}"
        return f"{fn_name} failed: {exc}"

    def set(self, field: str, value: Any) -> None:
        self.values[field] = value
        self.reasons.pop(field, None)

    def put(self, field: str, fn_name: str, *args: Any, convert: Any = None) -> None:
        raw = self.call(field, fn_name, *args)
        if raw is not None:
            self.set(field, convert(raw) if convert else raw)

    def payload(self) -> dict[str, Any]:
        return {"values": self.values, "reasons": self.reasons, "extra": self.extra}


def _nvml_child() -> dict[str, Any]:
    """Runs in the child: every GPU NVML sees, as plain JSON."""
    try:
        import pynvml
    except ImportError as exc:
        raise Unavailable(f"pynvml (package nvidia-ml-py) is not importable: {exc}") from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        _raise_init_error(pynvml, exc)
    try:
        system = _Reader(pynvml)
        system.put("driver_version", "nvmlSystemGetDriverVersion", convert=str)
        _read_cuda_version(system)
        try:
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError as exc:
            if isinstance(exc, _nvml_error(pynvml, "GpuIsLost")):
                raise RuntimeError(_lost_message("a GPU", "nvmlDeviceGetCount")) from None
            raise
        gpus = []
        for index in range(count):
            try:
                gpus.append(_read_gpu(pynvml, index))
            except _GpuLost as lost:
                raise RuntimeError(_lost_message(f"GPU {index}", str(lost))) from None
        return {"system": system.payload(), "gpus": gpus}
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - shutdown failure changes nothing already read
            pass


def _lost_message(which: str, fn_name: str) -> str:
    return (
        f"{which} is lost (NVML_ERROR_GPU_IS_LOST from {fn_name}): it fell off the bus or needs a reset; "
        "check the kernel log for Xid errors, then reset the GPU or reboot"
    )


def _raise_init_error(nvml: Any, exc: BaseException) -> None:
    if isinstance(exc, (_nvml_error(nvml, "LibraryNotFound"), _nvml_error(nvml, "DriverNotLoaded"))):
        raise Unavailable(f"nvmlInit: {exc}") from None
    if isinstance(exc, _nvml_error(nvml, "LibRmVersionMismatch")):
        hint = "driver upgraded without reboot: reload the driver or reboot"
        raise Unavailable(f"nvmlInit: {exc} ({hint})") from None
    if isinstance(exc, _nvml_error(nvml, "NoPermission")):
        raise PermissionError(f"nvmlInit: {exc}") from None
    raise RuntimeError(f"nvmlInit: {type(exc).__name__}: {exc}") from None


def _read_cuda_version(r: _Reader) -> None:
    """12040 → "12.4": the CUDA driver API version, i.e. the newest CUDA runtime this driver runs."""
    fn = "nvmlSystemGetCudaDriverVersion_v2"
    if getattr(r.nvml, fn, None) is None:
        fn = "nvmlSystemGetCudaDriverVersion"
    r.put("runtime_version", fn, convert=lambda v: f"{v // 1000}.{(v % 1000) // 10}")


def _read_gpu(nvml: Any, index: int) -> dict[str, Any]:
    r = _Reader(nvml)
    r.set("index", index)
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
    except nvml.NVMLError as exc:
        reason = r.reason(exc, "nvmlDeviceGetHandleByIndex")
        r.extra["handle_error"] = f"no NVML handle for GPU {index}: {reason}"
        return r.payload()
    r.put("name", "nvmlDeviceGetName", handle, convert=str)
    r.put("uuid", "nvmlDeviceGetUUID", handle, convert=str)
    r.put("serial", "nvmlDeviceGetSerial", handle, convert=str)
    _read_pci(r, handle)
    _read_memory(r, handle)
    r.put("sm_clock_mhz", "nvmlDeviceGetClockInfo", handle, nvml.NVML_CLOCK_SM, convert=int)
    r.put("mem_clock_mhz", "nvmlDeviceGetClockInfo", handle, nvml.NVML_CLOCK_MEM, convert=int)
    r.put("sm_clock_max_mhz", "nvmlDeviceGetMaxClockInfo", handle, nvml.NVML_CLOCK_SM, convert=int)
    r.put("mem_clock_max_mhz", "nvmlDeviceGetMaxClockInfo", handle, nvml.NVML_CLOCK_MEM, convert=int)
    milliwatts = lambda mw: round(mw / 1000.0, 3)  # noqa: E731
    r.put("power_draw_w", "nvmlDeviceGetPowerUsage", handle, convert=milliwatts)
    r.put("power_limit_w", "nvmlDeviceGetEnforcedPowerLimit", handle, convert=milliwatts)
    r.put("power_limit_default_w", "nvmlDeviceGetPowerManagementDefaultLimit", handle, convert=milliwatts)
    r.put("temperature_c", "nvmlDeviceGetTemperature", handle, nvml.NVML_TEMPERATURE_GPU, convert=float)
    _read_clock_events(r, handle)
    r.put("pcie_gen", "nvmlDeviceGetCurrPcieLinkGeneration", handle, convert=int)
    r.put("pcie_width", "nvmlDeviceGetCurrPcieLinkWidth", handle, convert=int)
    r.put("pcie_gen_max", "nvmlDeviceGetMaxPcieLinkGeneration", handle, convert=int)
    r.put("pcie_width_max", "nvmlDeviceGetMaxPcieLinkWidth", handle, convert=int)
    _read_nvlink(r, handle)
    r.put("ecc_enabled", "nvmlDeviceGetEccMode", handle, convert=lambda m: m[0] == nvml.NVML_FEATURE_ENABLED)
    r.put("mig_mode", "nvmlDeviceGetMigMode", handle, convert=lambda m: m[0] == nvml.NVML_DEVICE_MIG_ENABLE)
    capability = lambda c: f"{c[0]}.{c[1]}"  # noqa: E731
    r.put("compute_capability", "nvmlDeviceGetCudaComputeCapability", handle, convert=capability)
    _read_compute_units(r, handle)
    return r.payload()


def _read_pci(r: _Reader, handle: Any) -> None:
    info = r.call("pci_bus_id", "nvmlDeviceGetPciInfo", handle)
    if info is None:
        for field in ("pci_vendor_id", "pci_device_id"):
            r.reasons[field] = r.reasons["pci_bus_id"]
        return
    # NVML writes an 8-digit domain ("00000000:18:00.0"); sysfs and probes.pci use 4 ("0000:18:00.0").
    bus_id = str(info.busId)
    domain, _, rest = bus_id.partition(":")
    r.set("pci_bus_id", f"{int(domain, 16):04x}:{rest.lower()}" if rest else bus_id.lower())
    r.set("pci_device_id", f"0x{(info.pciDeviceId >> 16) & 0xFFFF:04x}")
    r.set("pci_vendor_id", f"0x{info.pciDeviceId & 0xFFFF:04x}")
    r.extra["pci_subsystem_id"] = f"0x{info.pciSubSystemId & 0xFFFFFFFF:08x}"


def _read_memory(r: _Reader, handle: Any) -> None:
    """v2 first: its `used` leaves out driver-reserved memory, as nvidia-smi shows; v1's includes it."""
    nvml = r.nvml
    version = getattr(nvml, "nvmlMemory_v2", None)
    info = None
    if version is not None:
        try:
            info = nvml.nvmlDeviceGetMemoryInfo(handle, version)
            r.extra["memory_reserved_bytes"] = int(info.reserved)
            r.extra["memory_info_version"] = 2
        except (TypeError, nvml.NVMLError) as exc:
            if isinstance(exc, nvml.NVMLError):
                r.reason(exc, "nvmlDeviceGetMemoryInfo")  # raises if the GPU is lost
            info = None
    if info is None:
        info = r.call("memory_total_bytes", "nvmlDeviceGetMemoryInfo", handle)
        if info is None:
            r.reasons["memory_used_bytes"] = r.reasons["memory_total_bytes"]
            return
        r.extra["memory_info_version"] = 1
    r.set("memory_total_bytes", int(info.total))
    r.set("memory_used_bytes", int(info.used))
    r.extra["memory_free_bytes"] = int(info.free)


def _read_clock_events(r: _Reader, handle: Any) -> None:
    """nvmlDeviceGetCurrentClocksEventReasons (driver 535+), else its older name ...ThrottleReasons."""
    mask = r.call("throttle_reasons", "nvmlDeviceGetCurrentClocksEventReasons", handle)
    if mask is None and r.last_call_absent:
        mask = r.call("throttle_reasons", "nvmlDeviceGetCurrentClocksThrottleReasons", handle)
    if mask is not None:
        r.set("throttle_reasons", decode_clock_event_reasons(int(mask)))
        r.extra["throttle_reasons_mask"] = hex(int(mask))


def _read_nvlink(r: _Reader, handle: Any) -> None:
    """Counts links in state enabled; stops at the first link index the GPU does not have."""
    nvml = r.nvml
    stop = (_nvml_error(nvml, "InvalidArgument"), _nvml_error(nvml, "NotSupported"))
    active = total = 0
    for link in range(int(getattr(nvml, "NVML_NVLINK_MAX_LINKS", 18))):
        try:
            state = nvml.nvmlDeviceGetNvLinkState(handle, link)
        except nvml.NVMLError as exc:
            if isinstance(exc, stop):
                break
            r.reasons["nvlink_links_active"] = r.reason(exc, "nvmlDeviceGetNvLinkState")
            return
        total += 1
        active += int(state == nvml.NVML_FEATURE_ENABLED)
    if total == 0:
        r.reasons["nvlink_links_active"] = f"NVLink {NOT_SUPPORTED}"
        return
    r.set("nvlink_links_active", active)
    r.extra["nvlink_links_total"] = total


def _read_compute_units(r: _Reader, handle: Any) -> None:
    """SM count: NVML gives it only per MIG instance (nvmlDeviceGetAttributes), so only with MIG on."""
    nvml = r.nvml
    if r.values.get("mig_mode") is not True:
        r.reasons["compute_units"] = (
            "NVML reports SM counts only for MIG instances (nvmlDeviceGetAttributes); MIG is not enabled"
            if "mig_mode" in r.values
            else "MIG mode unknown, and NVML reports SM counts only for MIG instances"
        )
        return
    slots = r.call("compute_units", "nvmlDeviceGetMaxMigDeviceCount", handle)
    if slots is None:
        return
    instances = []
    for slot in range(int(slots)):
        try:
            mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
        except nvml.NVMLError as exc:
            if isinstance(exc, _nvml_error(nvml, "NotFound")):
                continue
            r.reasons["compute_units"] = r.reason(exc, "nvmlDeviceGetMigDeviceHandleByIndex")
            return
        attrs = r.call("compute_units", "nvmlDeviceGetAttributes", mig)
        if attrs is None:
            return
        uuid = r.call("compute_units", "nvmlDeviceGetUUID", mig)
        instances.append(
            {
                "slot": slot,
                "uuid": None if uuid is None else str(uuid),
                "multiprocessor_count": int(attrs.multiprocessorCount),
                "memory_bytes": int(attrs.memorySizeMB) * 1024 * 1024,
            }
        )
    r.extra["mig_devices"] = instances
    if not instances:
        r.reasons["compute_units"] = "MIG is enabled but no MIG instances are configured"
        return
    # Sum over configured instances: the SMs work can reach on this GPU while MIG is on.
    r.set("compute_units", sum(i["multiprocessor_count"] for i in instances))
