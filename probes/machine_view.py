"""The questions every stage asks of a MachineProfile, answered once.

Suites size thread pools and working sets from it, the run file looks up peaks and groups results by
physical device, the reports show the same. Each rule lives here only, so a suite and the run file can
never disagree about which accelerator "cuda:1" is, which peak a result is read against, or which
matmul is "the best on this device".

A view wraps the profile's plain dict (as the run file and the worker options carry it) and never
probes anything itself: it reads what was recorded, so a recorded profile answers as the live one did.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Device prefix -> accelerator vendors in the MachineProfile it can be (torch on ROCm says "cuda").
DEVICE_VENDORS: dict[str, tuple[str, ...]] = {
    "cuda": ("nvidia", "amd"), "gpu": ("nvidia", "amd"), "rocm": ("amd",), "tpu": ("google",),
    "mps": ("apple",), "xpu": ("intel",),
}
# The environment variable that renumbers a vendor's devices for the frameworks.
VISIBLE_ENV = {"nvidia": "CUDA_VISIBLE_DEVICES", "amd": "HIP_VISIBLE_DEVICES"}


@dataclass(frozen=True)
class CacheLevel:
    """One data (or unified) cache level: the largest size of one instance and how many instances."""

    label: str  # "L1" | "L2" | "L3" | "L4"
    size_bytes: int  # one instance
    instances: int

    @property
    def total_bytes(self) -> int:
        return self.size_bytes * max(self.instances, 1)


@dataclass(frozen=True)
class PeakFound:
    """A theoretical peak as a result is read against it: TFLOP/s or GB/s, with where it came from."""

    value: float
    unit: str  # "TFLOP/s" | "GB/s"
    source: str | None
    confidence: str | None
    dtype: str | None = None
    basis: Mapping[str, Any] | None = None
    note: str | None = None


def is_cpu(device: str) -> bool:
    return device == "cpu" or device.startswith("cpu:")


def split_device(device: str) -> tuple[str, int]:
    """("cuda", 1) for "cuda:1"; index 0 when the device names none."""
    prefix, _, index = device.partition(":")
    return prefix, int(index) if index.isdigit() else 0


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class MachineView:
    """Read-only answers about one recorded MachineProfile (a dict as `MachineProfile.to_dict()` gives)."""

    def __init__(self, profile: Mapping[str, Any] | None):
        self.profile: Mapping[str, Any] = _dict(profile)

    # --- CPUs and caches -------------------------------------------------------------------------

    @property
    def cpu(self) -> Mapping[str, Any]:
        return _dict(self.profile.get("cpu"))

    def usable_cpus(self, requested: int | None = None) -> int:
        """Threads a CPU benchmark should use: `requested`, else the profile's usable CPUs (affinity,
        cpuset and quota), else this process's affinity mask."""
        if requested:
            return int(requested)
        usable = self.cpu.get("usable_cpus")
        if isinstance(usable, int) and not isinstance(usable, bool) and usable > 0:
            return usable
        try:
            return len(os.sched_getaffinity(0)) or 1
        except AttributeError:  # not Linux
            return os.cpu_count() or 1

    def data_caches(self) -> list[CacheLevel]:
        """Data/unified cache levels, smallest level first (instruction caches left out)."""
        levels: dict[str, CacheLevel] = {}
        for entry in self.cpu.get("caches") or []:
            entry = _dict(entry)
            name = str(entry.get("name") or "")
            size = entry.get("size_bytes")
            if not size or name.upper().endswith("I") or not name.upper().startswith("L"):
                continue
            label = name.upper().rstrip("DU")  # "L1d" -> "L1", "L2" -> "L2"
            if not label[1:].isdigit():
                continue
            level = CacheLevel(label, int(size), int(entry.get("instances") or 1))
            if label not in levels or level.size_bytes > levels[label].size_bytes:
                levels[label] = level
        return sorted(levels.values(), key=lambda c: int(c.label[1:]))

    def last_level_cache(self) -> CacheLevel | None:
        caches = self.data_caches()
        return caches[-1] if caches else None

    def last_level_cache_bytes(self) -> int | None:
        """All instances of the highest cache level together (what an all-core kernel can keep cached)."""
        llc = self.last_level_cache()
        return llc.total_bytes if llc else None

    # --- accelerators ----------------------------------------------------------------------------

    def accelerator(self, device: str) -> tuple[dict[str, Any] | None, str | None]:
        """The accelerator behind a framework device name ("cuda:1", "gpu:0", "tpu:0", "mps"), or why none.

        "cuda:i" is the i-th NVIDIA/AMD accelerator by index, renumbered through CUDA_VISIBLE_DEVICES
        (or HIP_VISIBLE_DEVICES) when the profile recorded a numeric list, as the frameworks number them.
        """
        prefix, index = split_device(device)
        vendors = DEVICE_VENDORS.get(prefix)
        if vendors is None:
            return None, f"unknown device kind {prefix!r}"
        accs = [a for a in self.profile.get("accelerators") or [] if _dict(a).get("vendor") in vendors]
        accs.sort(key=lambda a: (a.get("index") is None, a.get("index") or 0))
        if not accs:
            return None, f"no {'/'.join(vendors)} accelerator in the machine profile for device {device}"
        env = _dict(_dict(self.profile.get("software")).get("env"))
        visible = env.get(VISIBLE_ENV.get(accs[0].get("vendor") or "", ""), "")
        ids = [v.strip() for v in str(visible).split(",") if v.strip()]
        if ids and all(v.isdigit() for v in ids):
            var = VISIBLE_ENV[accs[0].get("vendor")]
            if index >= len(ids):
                return None, f"device {device}: {var}={visible} makes only {len(ids)} device(s) visible"
            match = [a for a in accs if a.get("index") == int(ids[index])]
            if match:
                return dict(match[0]), None
        if index < len(accs):
            return dict(accs[index]), None
        return None, (f"device {device}: the machine profile lists only {len(accs)} "
                      f"{'/'.join(vendors)} accelerator(s)")

    def device_key(self, device: str) -> str:
        """One name per physical device whatever the framework calls it: numpy "cpu" and jax "cpu:0" are
        the same host; torch "cuda:0" and jax "gpu:0" the same accelerator when the profile resolves both."""
        if is_cpu(device):
            return "cpu"
        acc, _ = self.accelerator(device)
        if acc is not None:
            return f"{acc.get('vendor')}:{acc.get('index')}"
        prefix, index = split_device(device)
        if prefix in ("cuda", "gpu", "rocm"):  # unresolved: frameworks number the same GPUs alike
            prefix = "gpu"
        return f"{prefix}:{index}"

    # --- peaks -----------------------------------------------------------------------------------

    def flops_peak(self, device: str, dtype: str, tf32_allowed: bool = False) -> tuple[PeakFound | None, str | None]:
        """The theoretical peak TFLOP/s of `device` in the executed `dtype`, or why none.

        fp32 on an accelerator with TF32 allowed executes on tensor cores: its peak is the tf32 one.
        """
        if is_cpu(device):
            if dtype == "tf32":
                return None, "tf32 is a GPU tensor-core format; CPUs have no tf32 peak"
            where = f"CPU {self.cpu.get('model_name') or ''}".strip()
            return _peak_for_dtype(self.cpu.get("peaks") or [], dtype, where)
        acc, why = self.accelerator(device)
        if acc is None:
            return None, why
        if dtype == "fp32" and tf32_allowed:
            dtype = "tf32"
        return _peak_for_dtype(acc.get("peaks") or [], dtype, str(acc.get("sku") or acc.get("name") or device))

    def bandwidth_peak(self, device: str) -> tuple[PeakFound | None, str | None]:
        """The theoretical memory bandwidth (GB/s) of `device`'s own memory, or why none."""
        if is_cpu(device):
            gbs = _dict(self.profile.get("memory")).get("peak_bandwidth_gbs")
            if gbs:
                return PeakFound(float(gbs), "GB/s", "machine profile memory.peak_bandwidth_gbs", None), None
            return None, ("no theoretical DRAM bandwidth in the machine profile "
                          "(memory channels and speed are not probed)")
        acc, why = self.accelerator(device)
        if acc is None:
            return None, why
        label = acc.get("sku") or acc.get("name") or device
        gbs = acc.get("peak_memory_bandwidth_gbs")
        if not gbs:
            return None, f"memory bandwidth unknown for {label}"
        confidence = next((p.get("confidence") for p in acc.get("peaks") or [] if p.get("tflops")), None)
        return PeakFound(float(gbs), "GB/s", f"datasheet memory bandwidth of {label}", confidence), None


def _peak_for_dtype(peaks: list[Any], dtype: str, where: str) -> tuple[PeakFound | None, str | None]:
    peak = next((_dict(p) for p in peaks if _dict(p).get("dtype") == dtype), None)
    if peak is None:
        return None, f"no {dtype} peak for {where} in the machine profile"
    if peak.get("tflops") is None:
        return None, f"{dtype} peak unknown for {where}: {peak.get('reason') or 'no reason recorded'}"
    return PeakFound(float(peak["tflops"]), "TFLOP/s", peak.get("source"), peak.get("confidence"), dtype,
                     dict(peak["basis"]) if peak.get("basis") else None, peak.get("reason") or None), None
