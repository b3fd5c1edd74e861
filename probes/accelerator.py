"""The record every accelerator probe (NVIDIA, AMD, TPU, Apple, Intel) fills, whatever its source."""

from __future__ import annotations

from dataclasses import dataclass, field

from .record import Peak, Record


@dataclass
class Accelerator(Record):
    vendor: str | None = None  # "nvidia" | "amd" | "google" | "apple" | "intel"
    kind: str | None = None  # "gpu" | "tpu" | "npu"
    index: int | None = None
    name: str | None = None  # as the vendor library reports it, e.g. "NVIDIA H100 80GB HBM3"
    sku: str | None = None  # resolved reference SKU, e.g. "H100 SXM"; None when unknown
    detected_by: str | None = None  # "nvml" | "amdsmi" | "sysfs" | "pci" | "torch"
    uuid: str | None = None
    serial: str | None = None
    pci_bus_id: str | None = None
    pci_vendor_id: str | None = None  # "0x10de"
    pci_device_id: str | None = None  # "0x2330"
    memory_total_bytes: int | None = None
    memory_used_bytes: int | None = None
    compute_units: int | None = None  # SMs, CUs, TensorCores
    compute_capability: str | None = None
    sm_clock_mhz: int | None = None
    sm_clock_max_mhz: int | None = None
    mem_clock_mhz: int | None = None
    mem_clock_max_mhz: int | None = None
    power_draw_w: float | None = None
    power_limit_w: float | None = None
    power_limit_default_w: float | None = None
    temperature_c: float | None = None
    throttle_reasons: list[str] | None = None
    pcie_gen: int | None = None
    pcie_width: int | None = None
    pcie_gen_max: int | None = None
    pcie_width_max: int | None = None
    nvlink_links_active: int | None = None
    ecc_enabled: bool | None = None
    mig_mode: bool | None = None
    driver_version: str | None = None
    runtime_version: str | None = None  # CUDA driver API version, ROCm version, libtpu version
    peaks: list[Peak] = field(default_factory=list)
    peak_memory_bandwidth_gbs: float | None = None
    extra: dict[str, object] = field(default_factory=dict)
