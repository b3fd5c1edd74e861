"""AMD GPUs: PCI presence, then amdsmi in a child process, else the amdgpu sysfs files and KFD topology.

amdsmi is only ever imported in a child (it opens the driver and can hang); when it is missing or
fails, everything sysfs exposes is still read in this process, and each record says why amdsmi was
not used. Values read: /sys/class/drm/card*/device/{vendor,device,mem_info_vram_*,pp_dpm_sclk,
pp_dpm_mclk,hwmon/hwmon*/{power1_cap*,power1_average,temp*_input}} and
/sys/class/kfd/kfd/topology/nodes/*/properties.
"""

from __future__ import annotations

import re
from typing import Any

from .accelerator import Accelerator
from .child import run_child
from .context import ProbeContext
from .pci import VENDOR_AMD, is_accelerator_class, list_pci_devices
from .record import ProbeTimeout, Unavailable

_BDF = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")
_LINK_GEN = {"2.5": 1, "5.0": 2, "8.0": 3, "16.0": 4, "32.0": 5, "64.0": 6}
_NOT_NVIDIA = {
    "compute_capability": "CUDA compute capability does not apply to AMD GPUs; the gfx target is in extra",
    "nvlink_links_active": "NVLink is NVIDIA-only (AMD uses XGMI / Infinity Fabric)",
    "mig_mode": "MIG is NVIDIA-only; AMD compute/memory partition modes are in extra when readable",
    "throttle_reasons": "amdgpu sysfs exposes no throttle-reason list",
}


def probe_amd(ctx: ProbeContext) -> list[Accelerator]:
    """One record per AMD GPU; Unavailable when there is no AMD GPU on PCI and no /dev/kfd."""
    pci = [d for d in list_pci_devices(ctx, VENDOR_AMD) if is_accelerator_class(d.class_code)]
    has_kfd = ctx.path("/dev/kfd").exists()
    cards = _drm_cards(ctx)
    nodes = _kfd_nodes(ctx)
    if not pci and not has_kfd and not cards:
        raise Unavailable("no AMD GPU: no PCI device of vendor 0x1002 with a display or accelerator class, "
                          "no amdgpu DRM card and no /dev/kfd")

    try:
        rows = run_child("infrabench.probes.amd:amdsmi_snapshot", ctx.timeout_s, env=ctx.env,
                         python=ctx.python)
        amdsmi_reason = None if rows else "amdsmi found no AMD GPU"
    except (Unavailable, ProbeTimeout, PermissionError, RuntimeError) as exc:
        rows, amdsmi_reason = [], f"{type(exc).__name__}: {exc}"

    pci_by_bdf = {d.address.lower(): d for d in pci}
    bdfs = sorted(set(pci_by_bdf) | set(cards) | set(nodes) | {r.get("bdf") for r in rows if r.get("bdf")})
    version = _driver_version(ctx)
    runtime = _rocm_version(ctx)
    records: dict[str, Accelerator] = {}
    for index, bdf in enumerate(bdfs):
        acc = Accelerator(vendor="amd", kind="gpu", index=index, pci_bus_id=bdf, pci_vendor_id="0x1002")
        dev = pci_by_bdf.get(bdf)
        if dev is not None:
            acc.pci_device_id = f"0x{dev.device_id:04x}"
            acc.extra["pci_driver"] = dev.driver
        acc.extra["kfd_present"] = has_kfd
        acc.detected_by = "sysfs" if (bdf in cards or bdf in nodes) else "pci"
        if bdf in cards:
            _read_card(ctx, cards[bdf], acc)
        else:
            bound = f"bound driver: {dev.driver}" if dev and dev.driver else "driver not bound"
            acc.extra["sysfs_not_read"] = f"no amdgpu DRM card for this PCI device ({bound})"
        if bdf in nodes:
            _apply_kfd(nodes[bdf], acc)
        _set(acc, "driver_version", version[0], version[1])
        _set(acc, "runtime_version", runtime[0], runtime[1])
        if amdsmi_reason is not None:
            acc.extra["amdsmi_not_used"] = amdsmi_reason
        records[bdf] = acc

    for row in rows:
        acc = records.get(row.get("bdf") or "")
        if acc is not None:
            _apply_amdsmi(row, acc)

    out = list(records.values())
    for acc in out:
        for name, why in _NOT_NVIDIA.items():
            if getattr(acc, name) is None:
                acc.set_null(name, why)
        source = "amdsmi" if acc.detected_by == "amdsmi" else "amdgpu sysfs/KFD topology"
        acc.explain_nulls(f"not exposed by {source} on this machine")
    return out


# --- sysfs ---------------------------------------------------------------------------------------


def _read(ctx: ProbeContext, path: str) -> tuple[str | None, str | None]:
    """(text, None) or (None, why): a missing or unreadable attribute never stops the probe."""
    try:
        text = ctx.read_text(path)
    except PermissionError:
        return None, f"permission denied reading {path}"
    if text is None:
        return None, f"{path} not present"
    return text.strip(), None


def _int(ctx: ProbeContext, path: str) -> tuple[int | None, str | None]:
    text, why = _read(ctx, path)
    if text is None:
        return None, why
    try:
        return int(text.split()[0], 0), None
    except (ValueError, IndexError):
        return None, f"{path} unparseable: {text[:40]!r}"


def _set(acc: Accelerator, name: str, value: Any, why: str | None) -> None:
    if value is None:
        acc.set_null(name, why or "not read")
    else:
        setattr(acc, name, value)
        acc.null_reasons.pop(name, None)


def _drm_cards(ctx: ProbeContext) -> dict[str, str]:
    """PCI address -> DRM card name, for cards whose PCI vendor is AMD."""
    base = ctx.path("/sys/class/drm")
    if not base.is_dir():
        return {}
    cards = {}
    for entry in sorted(base.iterdir()):
        if not re.fullmatch(r"card\d+", entry.name):
            continue
        vendor, _ = _int(ctx, f"/sys/class/drm/{entry.name}/device/vendor")
        if vendor != VENDOR_AMD:
            continue
        bdf = _card_bdf(ctx, entry.name)
        if bdf is not None:
            cards[bdf] = entry.name
    return cards


def _card_bdf(ctx: ProbeContext, card: str) -> str | None:
    resolved = ctx.path(f"/sys/class/drm/{card}/device").resolve().name.lower()
    if _BDF.match(resolved):
        return resolved
    uevent, _ = _read(ctx, f"/sys/class/drm/{card}/device/uevent")
    for line in (uevent or "").splitlines():
        if line.startswith("PCI_SLOT_NAME="):
            return line.split("=", 1)[1].strip().lower()
    return None


def parse_dpm(text: str | None) -> tuple[int | None, int | None]:
    """(current, max) MHz from a pp_dpm_* table: the '*' line is current, max is the highest level."""
    if not text:
        return None, None
    current, levels = None, []
    for line in text.splitlines():
        m = re.search(r"(\d+)\s*mhz", line, re.IGNORECASE)
        if not m:
            continue
        mhz = int(m.group(1))
        levels.append(mhz)
        if line.rstrip().endswith("*"):
            current = mhz
    return current, (max(levels) if levels else None)


def _link_gen(text: str | None) -> int | None:
    m = re.match(r"\s*([\d.]+)\s*GT/s", text or "")
    return _LINK_GEN.get(m.group(1)) if m else None


def _read_card(ctx: ProbeContext, card: str, acc: Accelerator) -> None:
    base = f"/sys/class/drm/{card}/device"
    acc.extra["drm_card"] = card
    device, why = _int(ctx, f"{base}/device")
    if device is not None:
        acc.pci_device_id = f"0x{device:04x}"
    name, why_name = _read(ctx, f"{base}/product_name")
    _set(acc, "name", name or None, why_name or "product_name is empty (no board FRU data)")
    serial, why_serial = _read(ctx, f"{base}/serial_number")
    _set(acc, "serial", serial or None, why_serial or "serial_number is empty")
    unique, _ = _read(ctx, f"{base}/unique_id")
    if unique:
        acc.extra["unique_id"] = unique
    total, why = _int(ctx, f"{base}/mem_info_vram_total")
    _set(acc, "memory_total_bytes", total, why)
    used, why = _int(ctx, f"{base}/mem_info_vram_used")
    _set(acc, "memory_used_bytes", used, why)

    sclk, why = _read(ctx, f"{base}/pp_dpm_sclk")
    cur, top = parse_dpm(sclk)
    _set(acc, "sm_clock_mhz", cur, why or "no level of pp_dpm_sclk is marked current")
    _set(acc, "sm_clock_max_mhz", top, why or "pp_dpm_sclk lists no level")
    mclk, why = _read(ctx, f"{base}/pp_dpm_mclk")
    cur, top = parse_dpm(mclk)
    _set(acc, "mem_clock_mhz", cur, why or "no level of pp_dpm_mclk is marked current")
    _set(acc, "mem_clock_max_mhz", top, why or "pp_dpm_mclk lists no level")

    for field_, attr in (("pcie_gen", "current_link_speed"), ("pcie_gen_max", "max_link_speed")):
        text, why = _read(ctx, f"{base}/{attr}")
        _set(acc, field_, _link_gen(text), why or f"{attr} unparseable: {text!r}")
    for field_, attr in (("pcie_width", "current_link_width"), ("pcie_width_max", "max_link_width")):
        value, why = _int(ctx, f"{base}/{attr}")
        _set(acc, field_, value, why)

    for attr in ("current_compute_partition", "current_memory_partition"):
        text, _ = _read(ctx, f"{base}/{attr}")
        if text:
            acc.extra[attr] = text
    _read_hwmon(ctx, base, acc)


def _read_hwmon(ctx: ProbeContext, base: str, acc: Accelerator) -> None:
    hw_dir = ctx.path(f"{base}/hwmon")
    hwmons = sorted(p.name for p in hw_dir.iterdir() if p.name.startswith("hwmon")) if hw_dir.is_dir() else []
    if not hwmons:
        why = f"{base}/hwmon not present"
        for name in ("power_limit_w", "power_limit_default_w", "power_draw_w", "temperature_c"):
            acc.set_null(name, why)
        return
    hw = f"{base}/hwmon/{hwmons[0]}"
    for field_, attr in (("power_limit_w", "power1_cap"), ("power_limit_default_w", "power1_cap_default")):
        micro, why = _int(ctx, f"{hw}/{attr}")
        _set(acc, field_, None if micro is None else micro / 1e6, why)
    micro, why = _int(ctx, f"{hw}/power1_average")
    if micro is None:
        micro, why2 = _int(ctx, f"{hw}/power1_input")
        why = None if micro is not None else f"{why}; {why2}"
    _set(acc, "power_draw_w", None if micro is None else micro / 1e6, why)
    temp, label = _temperature(ctx, hw)
    _set(acc, "temperature_c", temp, f"no readable temp*_input under {hw}")
    if label is not None:
        acc.extra["temperature_sensor"] = label


def _temperature(ctx: ProbeContext, hw: str) -> tuple[float | None, str | None]:
    """Edge sensor if there is one, else junction/hotspot (MI300-class boards have no edge sensor)."""
    found: dict[str, float] = {}
    directory = ctx.path(hw)
    for entry in sorted(directory.iterdir()):
        m = re.fullmatch(r"temp(\d+)_input", entry.name)
        if not m:
            continue
        milli, _ = _int(ctx, f"{hw}/{entry.name}")
        if milli is None:
            continue
        label, _ = _read(ctx, f"{hw}/temp{m.group(1)}_label")
        found[(label or f"temp{m.group(1)}").lower()] = milli / 1000
    for label in ("edge", "temp1", "junction", "hotspot"):
        if label in found:
            return found[label], label
    if found:
        label = next(iter(found))
        return found[label], label
    return None, None


def parse_kfd_properties(text: str) -> dict[str, int]:
    """KFD node `properties`: one 'name value' pair per line, values integers."""
    props = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                props[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return props


def _kfd_nodes(ctx: ProbeContext) -> dict[str, dict[str, int]]:
    """PCI address -> KFD properties, GPU nodes only (CPU nodes have simd_count 0)."""
    base = ctx.path("/sys/class/kfd/kfd/topology/nodes")
    if not base.is_dir():
        return {}
    nodes = {}
    for entry in sorted(base.iterdir()):
        text, _ = _read(ctx, f"/sys/class/kfd/kfd/topology/nodes/{entry.name}/properties")
        props = parse_kfd_properties(text or "")
        if props.get("simd_count", 0) <= 0 or props.get("vendor_id") not in (None, VENDOR_AMD):
            continue
        loc, domain = props.get("location_id", 0), props.get("domain", 0)
        bdf = f"{domain:04x}:{(loc >> 8) & 0xFF:02x}:{(loc >> 3) & 0x1F:02x}.{loc & 0x7}"
        props["kfd_node"] = int(entry.name) if entry.name.isdigit() else -1
        nodes[bdf] = props
    return nodes


def gfx_target(version: int) -> str | None:
    """KFD gfx_target_version (e.g. 90402) -> LLVM target name ('gfx942'); 90010 -> 'gfx90a'."""
    if version <= 0:
        return None
    major, minor, step = version // 10000, (version // 100) % 100, version % 100
    return f"gfx{major}{minor:x}{step:x}"


def _apply_kfd(props: dict[str, int], acc: Accelerator) -> None:
    simd, per_cu = props.get("simd_count"), props.get("simd_per_cu")
    if simd and per_cu:
        _set(acc, "compute_units", simd // per_cu, None)
    else:
        acc.set_null("compute_units", "KFD properties lack simd_count/simd_per_cu")
    target = gfx_target(props.get("gfx_target_version", 0))
    if target:
        acc.extra["gfx_target"] = target
    acc.extra["kfd_node"] = props.get("kfd_node")
    if acc.sm_clock_max_mhz is None and props.get("max_engine_clk_fcompute"):
        _set(acc, "sm_clock_max_mhz", props["max_engine_clk_fcompute"], None)
        acc.extra["sm_clock_max_source"] = "KFD max_engine_clk_fcompute"
    if acc.pci_device_id is None and props.get("device_id"):
        acc.pci_device_id = f"0x{props['device_id']:04x}"
    if acc.memory_total_bytes is None and props.get("local_mem_size"):
        _set(acc, "memory_total_bytes", props["local_mem_size"], None)


def _driver_version(ctx: ProbeContext) -> tuple[str | None, str | None]:
    text, why = _read(ctx, "/sys/module/amdgpu/version")
    if text:
        return text, None
    return None, f"{why} (in-kernel amdgpu has no version file; the kernel version applies)"


def _rocm_version(ctx: ProbeContext) -> tuple[str | None, str | None]:
    text, why = _read(ctx, "/opt/rocm/.info/version")
    return (text or None), (None if text else f"ROCm not found: {why}")


# --- amdsmi (child process only) -----------------------------------------------------------------

_AMDSMI_FIELDS = {
    "market_name": "name",
    "vram_total_bytes": "memory_total_bytes",
    "vram_used_bytes": "memory_used_bytes",
    "power_cap_w": "power_limit_w",
    "power_cap_default_w": "power_limit_default_w",
    "power_w": "power_draw_w",
    "temperature_c": "temperature_c",
    "gfx_clk_mhz": "sm_clock_mhz",
    "gfx_clk_max_mhz": "sm_clock_max_mhz",
    "mem_clk_mhz": "mem_clock_mhz",
    "mem_clk_max_mhz": "mem_clock_max_mhz",
    "driver_version": "driver_version",
    "uuid": "uuid",
    "serial": "serial",
    "compute_units": "compute_units",
}


def _apply_amdsmi(row: dict[str, Any], acc: Accelerator) -> None:
    acc.detected_by = "amdsmi"
    acc.extra.pop("amdsmi_not_used", None)
    if row.get("device_id") is not None:
        acc.pci_device_id = f"0x{int(row['device_id']):04x}"
    for key, name in _AMDSMI_FIELDS.items():
        value = row.get(key)
        if value is not None:
            _set(acc, name, value, None)
        elif getattr(acc, name) is None and key in row.get("errors", {}):
            acc.set_null(name, f"amdsmi: {row['errors'][key]}")
    if row.get("temperature_sensor"):
        acc.extra["temperature_sensor"] = row["temperature_sensor"]


def _na(value: Any) -> Any:
    return None if value in (None, "N/A", "") else value


def amdsmi_snapshot() -> list[dict[str, Any]]:
    """Runs in a child process: one JSON-able dict per GPU from amdsmi; Unavailable if it cannot load."""
    try:
        import amdsmi  # noqa: PLC0415 - vendor library, child process only
    except (ImportError, OSError) as exc:
        raise Unavailable(f"amdsmi is not importable: {exc}") from None
    try:
        amdsmi.amdsmi_init()
    except Exception as exc:  # noqa: BLE001 - any init failure means: use sysfs
        raise Unavailable(f"amdsmi_init failed: {exc}") from None
    try:
        return [_amdsmi_row(amdsmi, handle) for handle in amdsmi.amdsmi_get_processor_handles()]
    finally:
        try:
            amdsmi.amdsmi_shut_down()
        except Exception:  # noqa: BLE001 - shutdown failure changes nothing already read
            pass


def _amdsmi_row(amdsmi: Any, handle: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"errors": {}}

    def get(key: str, fn: Any) -> Any:
        try:
            return _na(fn())
        except Exception as exc:  # noqa: BLE001 - one unsupported query must not lose the others
            row["errors"][key] = f"{type(exc).__name__}: {exc}"
            return None

    bdf = get("bdf", lambda: amdsmi.amdsmi_get_gpu_device_bdf(handle))
    row["bdf"] = bdf.lower() if isinstance(bdf, str) else None
    asic = get("market_name", lambda: amdsmi.amdsmi_get_gpu_asic_info(handle)) or {}
    row["market_name"] = _na(asic.get("market_name"))
    device_id = _na(asic.get("device_id"))
    row["device_id"] = int(device_id, 16) if isinstance(device_id, str) else device_id
    row["compute_units"] = _na(asic.get("num_of_compute_units"))
    row["serial"] = _na(asic.get("asic_serial"))
    vram = amdsmi.AmdSmiMemoryType.VRAM
    row["vram_total_bytes"] = get("vram_total_bytes",
                                  lambda: amdsmi.amdsmi_get_gpu_memory_total(handle, vram))
    row["vram_used_bytes"] = get("vram_used_bytes", lambda: amdsmi.amdsmi_get_gpu_memory_usage(handle, vram))
    cap = get("power_cap_w", lambda: amdsmi.amdsmi_get_power_cap_info(handle)) or {}
    row["power_cap_w"] = _micro(cap.get("power_cap"))  # amdsmi reports power caps in microwatts
    row["power_cap_default_w"] = _micro(cap.get("default_power_cap"))
    power = get("power_w", lambda: amdsmi.amdsmi_get_power_info(handle)) or {}
    row["power_w"] = _na(power.get("current_socket_power")) or _na(power.get("average_socket_power"))
    temp_type, metric = amdsmi.AmdSmiTemperatureType, amdsmi.AmdSmiTemperatureMetric.CURRENT
    for sensor in ("EDGE", "HOTSPOT"):
        value = get("temperature_c",
                    lambda s=sensor: amdsmi.amdsmi_get_temp_metric(handle, getattr(temp_type, s), metric))
        if value is not None:
            row["temperature_c"], row["temperature_sensor"] = float(value), sensor.lower()
            row["errors"].pop("temperature_c", None)
            break
    for prefix, clk in (("gfx", "GFX"), ("mem", "MEM")):
        info = get(f"{prefix}_clk_mhz", lambda c=clk: amdsmi.amdsmi_get_clock_info(
            handle, getattr(amdsmi.AmdSmiClkType, c))) or {}
        row[f"{prefix}_clk_mhz"] = _na(info.get("clk"))
        row[f"{prefix}_clk_max_mhz"] = _na(info.get("max_clk"))
    driver = get("driver_version", lambda: amdsmi.amdsmi_get_gpu_driver_info(handle)) or {}
    row["driver_version"] = _na(driver.get("driver_version"))
    row["uuid"] = get("uuid", lambda: amdsmi.amdsmi_get_gpu_device_uuid(handle))
    return row


def _micro(value: Any) -> float | None:
    value = _na(value)
    return None if value is None else float(value) / 1e6
