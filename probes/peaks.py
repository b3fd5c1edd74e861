"""Theoretical peaks per accelerator SKU, each figure with the vendor document it came from.

A peak is only ever looked up by an exact SKU: PCI device id first, then an anchored (whole-name)
match of the vendor library's product name, disambiguated by memory size, power limit or compute
units when one name covers several boards. An unknown SKU or dtype gives None with a reason, never a
neighbour's figure: other tools fell back to the A100 figure and reported 104-563% utilisation.

All TFLOP/s figures are dense. Where a datasheet prints only the "with sparsity" figure (NVIDIA's
2:4 structured sparsity doubles it), the figure here is that number halved, and the note says so.
int8 figures are TOPS (integer operations per second), kept in the same `tflops` field.
Memory bandwidth is GB/s with SI prefixes (1 GB = 1e9 bytes).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .accelerator import Accelerator
from .record import Confidence, Peak

DTYPES: tuple[str, ...] = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8")

UNKNOWN_SKU_REASON = "accelerator SKU not resolved; no theoretical peak is assumed for an unknown device"

# Where the PCI device ids below were checked: the PCI ID repository (pciutils/pciids, pci.ids, 2025
# revision), e.g. "2330 GH100 [H100 SXM5 80GB]", "2331 GH100 [H100 PCIe]", "2321 GH100 [H100L 94GB]",
# "2335 GH100 [H200 SXM 141GB]", "233b GH100 [H200 NVL]", "2329 GH100 [H20]", "2901 GB100 [B200]",
# "74a1 Aqua Vanjaram [Instinct MI300X]", "740c Aldebaran/MI200 [Instinct MI250X/MI250]"; TPU ids
# from Google's tpu-info (cloud-accelerator-diagnostics, tpu_info/device.py) and jax hardware_utils.py.
PCI_IDS_SOURCE = "pci.ids (PCI ID repository, pciutils/pciids)"
TPU_PCI_SOURCE = "Google tpu-info tpu_info/device.py; jax/_src/hardware_utils.py"

_A100 = "NVIDIA A100 Tensor Core GPU datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4-web)"
_H100 = "NVIDIA H100 Tensor Core GPU datasheet"
_H200 = "NVIDIA H200 Tensor Core GPU datasheet"
_B200 = "NVIDIA HGX B200 technical specifications (per-GPU column)"
_L40S = "NVIDIA L40S GPU datasheet"
_L40 = "NVIDIA L40 GPU datasheet"
_L4 = "NVIDIA L4 Tensor Core GPU datasheet"
_A10 = "NVIDIA A10 Tensor Core GPU datasheet"
_T4 = "NVIDIA T4 Tensor Core GPU datasheet"
_MI300X = "AMD Instinct MI300X accelerator data sheet; ROCm docs, MI300 series microarchitecture peak table"
_MI325X = "AMD Instinct MI325X accelerator data sheet"
_MI250X = "AMD Instinct MI250X accelerator data sheet"
_MI250 = "AMD Instinct MI250 accelerator data sheet"
_TPU_V4 = "Google Cloud TPU documentation, TPU v4 system architecture (cloud.google.com/tpu/docs/v4)"
_TPU_V5E = "Google Cloud TPU documentation, TPU v5e system architecture (cloud.google.com/tpu/docs/v5e)"
_TPU_V5P = "Google Cloud TPU documentation, TPU v5p system architecture (cloud.google.com/tpu/docs/v5p)"
_TPU_V6E = "Google Cloud TPU documentation, TPU v6e system architecture (cloud.google.com/tpu/docs/v6e)"

_HALVED = "datasheet prints {0} with sparsity; dense figure is half"
_PRINTED = "dense figure as printed"


@dataclass(frozen=True)
class Figure:
    tflops: float
    note: str


@dataclass(frozen=True)
class SkuSpec:
    """One reference SKU. `memory_gb`, `power_w` and `compute_units` only serve disambiguation/scaling."""

    sku: str
    vendor: str  # "nvidia" | "amd" | "google"
    source: str
    figures: Mapping[str, Figure]
    absent: Mapping[str, str]  # dtype -> why there is no figure
    memory_bandwidth_gbs: float | None
    pci_device_ids: tuple[int, ...] = ()
    name_patterns: tuple[str, ...] = ()  # regexes, full-matched against the normalised name
    memory_gb: float | None = None  # datasheet capacity ("GB" as printed; HBM boards report ~GiB)
    power_w: tuple[float, float] | None = None  # datasheet TDP/TBP range
    compute_units: int | None = None  # SMs / CUs per package
    devices_per_package: int = 1  # MI250/MI250X expose each GCD as its own device
    confidence: Confidence = "exact"
    bandwidth_note: str | None = None


def _nv_hopper(tc64: float, fp32: float, tf32_sp: float, b16_sp: float, fp8_sp: float) -> dict[str, Figure]:
    return {
        "fp64": Figure(tc64, "FP64 Tensor Core"),
        "fp32": Figure(fp32, "FP32 (CUDA cores)"),
        "tf32": Figure(tf32_sp / 2, _HALVED.format(f"TF32 Tensor Core {tf32_sp:g}")),
        "bf16": Figure(b16_sp / 2, _HALVED.format(f"BF16 Tensor Core {b16_sp:g}")),
        "fp16": Figure(b16_sp / 2, _HALVED.format(f"FP16 Tensor Core {b16_sp:g}")),
        "fp8": Figure(fp8_sp / 2, _HALVED.format(f"FP8 Tensor Core {fp8_sp:g}")),
        "int8": Figure(fp8_sp / 2, _HALVED.format(f"INT8 Tensor Core {fp8_sp:g} TOPS")),
    }


_A100_FIGURES = {
    "fp64": Figure(19.5, "FP64 Tensor Core (FP64 vector: 9.7)"),
    "fp32": Figure(19.5, "FP32 (CUDA cores)"),
    "tf32": Figure(156, _PRINTED + " (312 with sparsity)"),
    "bf16": Figure(312, _PRINTED + " (624 with sparsity)"),
    "fp16": Figure(312, _PRINTED + " (624 with sparsity)"),
    "int8": Figure(624, _PRINTED + ", TOPS (1,248 with sparsity)"),
}
_NO_FP8_AMPERE = {"fp8": "Ampere has no FP8 tensor cores"}


def _cdna3(source: str) -> dict[str, Figure]:
    return {
        "fp64": Figure(163.4, "FP64 Matrix (FP64 vector: 81.7)"),
        "fp32": Figure(163.4, "FP32 Matrix (FP32 vector: 163.4)"),
        "tf32": Figure(653.7, _PRINTED + " (TF32 Matrix)"),
        "bf16": Figure(1307.4, _PRINTED + " (BF16 Matrix)"),
        "fp16": Figure(1307.4, _PRINTED + " (FP16 Matrix)"),
        "fp8": Figure(2614.9, _PRINTED + " (FP8 Matrix)"),
        "int8": Figure(2614.9, _PRINTED + ", TOPS (INT8 Matrix)"),
    }


def _cdna2(fp64_matrix: float, fp64_vector: float, b16: float) -> dict[str, Figure]:
    return {
        "fp64": Figure(fp64_matrix, f"FP64 Matrix, whole package of 2 GCDs (FP64 vector: {fp64_vector:g})"),
        "fp32": Figure(fp64_matrix, f"FP32 Matrix / packed FP32, whole package (vector: {fp64_vector:g})"),
        "bf16": Figure(b16, "BF16 Matrix, whole package of 2 GCDs"),
        "fp16": Figure(b16, "FP16 Matrix, whole package of 2 GCDs"),
        "int8": Figure(b16, "INT8 Matrix, TOPS, whole package of 2 GCDs"),
    }


_CDNA2_ABSENT = {"tf32": "CDNA 2 has no TF32 matrix instructions", "fp8": "CDNA 2 has no FP8 support"}
_TPU_ABSENT_COMMON = {
    "fp64": "TPUs have no FP64 matrix units; Google publishes no FP64 peak",
    "fp32": "Google publishes no FP32 MXU peak (fp32 matmuls run as multi-pass bf16)",
    "tf32": "TPUs have no TF32 mode",
    "fp16": "Google publishes no FP16 peak for this TPU",
    "fp8": "Google publishes no FP8 peak for this TPU",
}
_NO_FP64_FIGURE = "datasheet gives no FP64 figure"

SKUS: dict[str, SkuSpec] = {
    s.sku: s
    for s in [
        # --- NVIDIA Ampere ---
        SkuSpec("A100 SXM 40GB", "nvidia", _A100, _A100_FIGURES, _NO_FP8_AMPERE, 1555,
                (0x20B0,), (r"A100 SXM4 40GB",), 40, (400, 400), 108),
        SkuSpec("A100 SXM 80GB", "nvidia", _A100, _A100_FIGURES, _NO_FP8_AMPERE, 2039,
                (0x20B2,), (r"A100 SXM4 80GB",), 80, (400, 400), 108),
        SkuSpec("A100 PCIe 40GB", "nvidia", _A100, _A100_FIGURES, _NO_FP8_AMPERE, 1555,
                (0x20B1, 0x20F1), (r"A100 PCIE 40GB",), 40, (250, 250), 108),
        SkuSpec("A100 PCIe 80GB", "nvidia", _A100, _A100_FIGURES, _NO_FP8_AMPERE, 1935,
                (0x20B5,), (r"A100 80GB PCIE", r"A100 PCIE 80GB"), 80, (300, 300), 108),
        SkuSpec("A10", "nvidia", _A10, {
            "fp32": Figure(31.2, "FP32 (CUDA cores)"),
            "tf32": Figure(62.5, _PRINTED + " (125 with sparsity)"),
            "bf16": Figure(125, _PRINTED + " (250 with sparsity)"),
            "fp16": Figure(125, _PRINTED + " (250 with sparsity)"),
            "int8": Figure(250, _PRINTED + ", TOPS (500 with sparsity)"),
        }, {"fp64": _NO_FP64_FIGURE, **_NO_FP8_AMPERE}, 600, (0x2236,), (r"A10",), 24, (150, 150), 72),
        # --- NVIDIA Turing ---
        SkuSpec("T4", "nvidia", _T4, {
            "fp32": Figure(8.1, "single precision"),
            "fp16": Figure(65, "mixed precision (FP16/FP32) tensor"),
            "int8": Figure(130, "INT8, TOPS"),
        }, {
            "fp64": _NO_FP64_FIGURE,
            "tf32": "Turing has no TF32 tensor mode",
            "bf16": "Turing has no BF16 tensor mode",
            "fp8": "Turing has no FP8 tensor mode",
        }, 320, (0x1EB8,), (r"T4",), 16, (70, 70), 40),
        # --- NVIDIA Hopper ---
        SkuSpec("H100 SXM", "nvidia", _H100, _nv_hopper(67, 67, 989, 1979, 3958), {}, 3350,
                (0x2330,), (r"H100 80GB HBM3", r"H100 SXM5? 80GB", r"H100 SXM5?"), 80, (700, 700), 132),
        SkuSpec("H100 PCIe", "nvidia", _H100, _nv_hopper(51, 51, 756, 1513, 3026), {}, 2000,
                (0x2331,), (r"H100 PCIE", r"H100 80GB PCIE", r"H100 PCIE 80GB"), 80, (300, 350), 114),
        SkuSpec("H100 NVL", "nvidia", _H100, _nv_hopper(60, 60, 835, 1671, 3341), {}, 3900,
                (0x2321,), (r"H100 NVL", r"H100L 94GB"), 94, (350, 400), 132),
        SkuSpec("H200 SXM", "nvidia", _H200, _nv_hopper(67, 67, 989, 1979, 3958), {}, 4800,
                (0x2335,), (r"H200", r"H200 SXM", r"H200 SXM 141GB"), 141, (700, 700), 132),
        SkuSpec("H200 NVL", "nvidia", _H200, _nv_hopper(60, 60, 835, 1671, 3341), {}, 4800,
                (0x233B,), (r"H200 NVL",), 141, (600, 600), 132),
        SkuSpec("H20", "nvidia", "no public NVIDIA datasheet", {}, {
            d: "NVIDIA publishes no datasheet for H20; figures circulating in press are not vendor-published"
            for d in DTYPES
        }, None, (0x2329,), (r"H20",), None, None, None, confidence="unknown",
            bandwidth_note="no vendor-published bandwidth figure"),
        # --- NVIDIA Blackwell ---
        SkuSpec("B200", "nvidia", _B200, {
            "fp64": Figure(37, "FP64 / FP64 Tensor Core"),
            "fp32": Figure(75, "FP32"),
            "tf32": Figure(1100, _HALVED.format("TF32 Tensor Core 2.2 PFLOPS")),
            "bf16": Figure(2250, _HALVED.format("BF16 Tensor Core 4.5 PFLOPS")),
            "fp16": Figure(2250, _HALVED.format("FP16 Tensor Core 4.5 PFLOPS")),
            "fp8": Figure(4500, _HALVED.format("FP8 Tensor Core 9 PFLOPS")),
            "int8": Figure(4500, _HALVED.format("INT8 Tensor Core 9 POPS")),
        }, {}, 7700, (0x2901,), (r"B200",), 180, (1000, 1000), 148,
            bandwidth_note="HGX B200 specification 7.7 TB/s (an earlier Blackwell datasheet printed 8 TB/s)"),
        # --- NVIDIA Ada ---  (anchored: L40S, L40 and L4 never match each other)
        SkuSpec("L40S", "nvidia", _L40S, {
            "fp32": Figure(91.6, "FP32"),
            "tf32": Figure(183, _PRINTED + " (366 with sparsity)"),
            "bf16": Figure(362.05, _PRINTED + " (733 with sparsity)"),
            "fp16": Figure(362.05, _PRINTED + " (733 with sparsity)"),
            "fp8": Figure(733, _PRINTED + " (1,466 with sparsity)"),
            "int8": Figure(733, _PRINTED + ", TOPS (1,466 with sparsity)"),
        }, {"fp64": _NO_FP64_FIGURE}, 864, (0x26B9,), (r"L40S",), 48, (350, 350), 142),
        SkuSpec("L40", "nvidia", _L40, {
            "fp32": Figure(90.5, "FP32"),
            "tf32": Figure(90.5, _PRINTED + " (181 with sparsity)"),
            "bf16": Figure(181.05, _PRINTED + " (362.1 with sparsity)"),
            "fp16": Figure(181.05, _PRINTED + " (362.1 with sparsity)"),
            "fp8": Figure(362, _PRINTED + " (724 with sparsity)"),
            "int8": Figure(362, _PRINTED + ", TOPS (724 with sparsity)"),
        }, {"fp64": _NO_FP64_FIGURE}, 864, (0x26B5,), (r"L40",), 48, (300, 300), 142),
        SkuSpec("L4", "nvidia", _L4, {
            "fp32": Figure(30.3, "FP32"),
            "tf32": Figure(60, _HALVED.format("TF32 Tensor Core 120")),
            "bf16": Figure(121, _HALVED.format("BF16 Tensor Core 242")),
            "fp16": Figure(121, _HALVED.format("FP16 Tensor Core 242")),
            "fp8": Figure(242.5, _HALVED.format("FP8 Tensor Core 485")),
            "int8": Figure(242.5, _HALVED.format("INT8 Tensor Core 485 TOPS")),
        }, {"fp64": _NO_FP64_FIGURE}, 300, (0x27B8,), (r"L4",), 24, (72, 72), 58),
        # --- AMD ---
        SkuSpec("MI300X", "amd", _MI300X, _cdna3(_MI300X), {}, 5300,
                (0x74A1,), (r"MI300X",), 192, (750, 750), 304),
        SkuSpec("MI325X", "amd", _MI325X, _cdna3(_MI325X), {}, 6000,
                (0x74A5,), (r"MI325X",), 256, (1000, 1000), 304),
        SkuSpec("MI250X", "amd", _MI250X, _cdna2(95.7, 47.9, 383), _CDNA2_ABSENT, 3276.8,
                (0x7408, 0x740C), (r"MI250X",), 128, (500, 560), 220, devices_per_package=2),
        SkuSpec("MI250", "amd", _MI250, _cdna2(90.5, 45.3, 362.1), _CDNA2_ABSENT, 3276.8,
                (0x740C,), (r"MI250",), 128, (500, 560), 208, devices_per_package=2),
        # --- Google TPU (per chip) ---
        SkuSpec("TPU v4", "google", _TPU_V4, {
            "bf16": Figure(275, "peak compute per chip, bf16"),
            "int8": Figure(275, "peak compute per chip, int8, TOPS"),
        }, _TPU_ABSENT_COMMON, 1200, (0x005E,), (), 32),
        SkuSpec("TPU v5e", "google", _TPU_V5E, {
            "bf16": Figure(197, "peak compute per chip, bf16"),
            "int8": Figure(393, "peak compute per chip, int8, TOPS"),
        }, _TPU_ABSENT_COMMON, 819, (0x0063,), (), 16),
        SkuSpec("TPU v5p", "google", _TPU_V5P, {
            "bf16": Figure(459, "peak compute per chip, bf16"),
        }, {**_TPU_ABSENT_COMMON, "int8": "the Cloud TPU v5p page states only the bf16 peak"}, 2765,
            (0x0062,), (), 95),
        SkuSpec("TPU v6e", "google", _TPU_V6E, {
            "bf16": Figure(918, "peak compute per chip, bf16"),
            "int8": Figure(1836, "peak compute per chip, int8, TOPS"),
        }, _TPU_ABSENT_COMMON, 1638, (0x006F,), (), 32),
    ]
}

# Names that cover several boards; the candidates are told apart by memory, power or compute units.
FAMILY_PATTERNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("nvidia", r"A100( (SXM4?|PCIE))?",
     ("A100 SXM 40GB", "A100 SXM 80GB", "A100 PCIe 40GB", "A100 PCIe 80GB")),
    ("nvidia", r"A100 (SXM4? )?40GB", ("A100 SXM 40GB", "A100 PCIe 40GB")),
    ("nvidia", r"A100 (SXM4? )?80GB", ("A100 SXM 80GB", "A100 PCIe 80GB")),
    ("nvidia", r"H100( 80GB)?", ("H100 SXM", "H100 PCIe", "H100 NVL")),
    ("amd", r"MI250X ?/ ?MI250", ("MI250X", "MI250")),
)

# JAX `device.device_kind` -> SKU. Exact strings only: "TPU v5" is v5p, "TPU v5 lite" is v5e.
TPU_DEVICE_KINDS: dict[str, str] = {
    "tpu v4": "TPU v4",
    "tpu v5 lite": "TPU v5e",
    "tpu v5e": "TPU v5e",
    "tpu v5": "TPU v5p",
    "tpu v5p": "TPU v5p",
    "tpu v6 lite": "TPU v6e",
    "tpu v6e": "TPU v6e",
}

_PREFIXES = ("NVIDIA ", "TESLA ", "AMD ", "INSTINCT ", "RADEON INSTINCT ", "GOOGLE ")
_MEMORY_TOLERANCE = (0.90, 1.03)  # reported capacity / datasheet capacity (ECC and reserved memory)
_POWER_TOLERANCE = 0.05


@dataclass
class SkuMatch:
    """How an accelerator was matched to a reference SKU, or why it was not."""

    sku: str | None
    confidence: Confidence
    reason: str | None
    method: str | None = None  # "pci_id" | "name" | "name+memory/power" | "pci_id+compute_units" | ...
    candidates: list[str] = field(default_factory=list)


def normalise_name(name: str) -> str:
    """Upper-case, '-'/'_' to spaces, vendor words stripped: 'NVIDIA A100-SXM4-80GB' -> 'A100 SXM4 80GB'."""
    text = re.sub(r"[-_]", " ", name.upper())
    text = re.sub(r"\s+", " ", text).strip()
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if text.startswith(prefix):
                text = text[len(prefix):]
                changed = True
    return text


def _vendor_key(vendor: str | None) -> str | None:
    v = (vendor or "").strip().lower()
    if v.startswith(("nvidia", "0x10de", "10de")):
        return "nvidia"
    if v.startswith(("amd", "advanced micro", "0x1002", "1002")):
        return "amd"
    if v.startswith(("google", "0x1ae0", "1ae0")):
        return "google"
    return v or None


def tpu_kind_to_sku(device_kind: str) -> str | None:
    """SKU for a JAX `device_kind` ('TPU v5 lite' -> 'TPU v5e'); None for anything not listed exactly."""
    key = re.sub(r"\s+", " ", (device_kind or "").strip().lower())
    return TPU_DEVICE_KINDS.get(key)


def _memory_fits(spec: SkuSpec, memory_bytes: int) -> bool:
    if spec.memory_gb is None:
        return True
    expected_gib = spec.memory_gb / spec.devices_per_package
    ratio = memory_bytes / 2**30 / expected_gib
    return _MEMORY_TOLERANCE[0] <= ratio <= _MEMORY_TOLERANCE[1]


def _power_fits(spec: SkuSpec, power_w: float) -> bool:
    if spec.power_w is None:
        return True
    low, high = spec.power_w
    return low * (1 - _POWER_TOLERANCE) <= power_w <= high * (1 + _POWER_TOLERANCE)


def _units_fit(spec: SkuSpec, compute_units: int) -> bool:
    if spec.compute_units is None:
        return True
    return spec.compute_units in (compute_units, compute_units * spec.devices_per_package)


def _disambiguate(
    candidates: list[str],
    memory_bytes: int | None,
    power_limit_w: float | None,
    compute_units: int | None,
    method: str,
) -> SkuMatch:
    """Keep the candidates whose datasheet memory, power range and compute units fit what was read."""
    remaining = list(candidates)
    used: list[str] = []
    checks = (
        ("memory", memory_bytes, _memory_fits),
        ("power", power_limit_w, _power_fits),
        ("compute_units", compute_units, _units_fit),
    )
    for label, value, fits in checks:
        if value is None or len(remaining) <= 1:
            continue
        kept = [c for c in remaining if fits(SKUS[c], value)]  # type: ignore[arg-type]
        if kept != remaining:
            used.append(label)
        remaining = kept
    if len(remaining) == 1:
        how = f"{method}+{'/'.join(used)}" if used else method
        reason = f"{' or '.join(candidates)} told apart by {', '.join(used)}"
        return SkuMatch(remaining[0], "computed", reason, how, list(candidates))
    read = (
        f"memory={'unknown' if memory_bytes is None else f'{memory_bytes / 2**30:.1f} GiB'}, "
        f"power limit={'unknown' if power_limit_w is None else f'{power_limit_w:g} W'}, "
        f"compute units={'unknown' if compute_units is None else compute_units}"
    )
    if not remaining:
        return SkuMatch(None, "unknown", f"no candidate among {', '.join(candidates)} fits {read}",
                        None, list(candidates))
    return SkuMatch(None, "unknown", f"ambiguous between {', '.join(remaining)} ({read}); not guessing",
                    None, list(candidates))


def _check_single(spec: SkuSpec, memory_bytes: int | None, method: str) -> SkuMatch:
    """A single matched SKU is rejected only when the device reports more memory than the datasheet."""
    if memory_bytes is not None and spec.memory_gb is not None:
        expected = spec.memory_gb / spec.devices_per_package
        if memory_bytes / 2**30 > expected * _MEMORY_TOLERANCE[1]:
            return SkuMatch(None, "unknown",
                            f"{method} says {spec.sku} but the device reports "
                            f"{memory_bytes / 2**30:.1f} GiB, more than its datasheet {expected:g} GB",
                            None, [spec.sku])
    how = method.split(" ")[0]
    return SkuMatch(spec.sku, "exact", f"matched by {method.replace('_', ' ')}", how, [spec.sku])


def resolve_sku(
    vendor: str,
    name: str | None,
    pci_device_id: int | None = None,
    memory_bytes: int | None = None,
    power_limit_w: float | None = None,
    compute_units: int | None = None,
) -> SkuMatch:
    """Match a device to a reference SKU by PCI id, then by whole-name match; never to a neighbour."""
    vkey = _vendor_key(vendor)
    specs = [s for s in SKUS.values() if s.vendor == vkey]
    if not specs:
        return SkuMatch(None, "unknown", f"no reference SKUs for vendor {vendor!r}")

    if pci_device_id is not None:
        by_id = [s.sku for s in specs if pci_device_id in s.pci_device_ids]
        if len(by_id) == 1:
            return _check_single(SKUS[by_id[0]], memory_bytes, f"pci_id 0x{pci_device_id:04x}")
        if len(by_id) > 1:
            if name:
                named = _match_name(vkey, name, by_id)
                if named is not None and named.sku is not None:
                    return named
            return _disambiguate(by_id, memory_bytes, power_limit_w, compute_units, "pci_id")
        # A read but unlisted id is another board variant (e.g. 0x2339 H100 SXM5 94GB): the name alone
        # would map it to a neighbour, so it stays unknown.
        return SkuMatch(None, "unknown", f"PCI device id 0x{pci_device_id:04x}"
                        + (f" (name {name!r})" if name else "")
                        + " is not in the reference table; no figure is assumed")

    if vkey == "google" and name:
        sku = tpu_kind_to_sku(name)
        if sku is not None:
            return SkuMatch(sku, "exact", f"matched device kind {name!r}", "device_kind", [sku])
    if name:
        named = _match_name(vkey, name, None, memory_bytes, power_limit_w, compute_units)
        if named is not None:
            return named
    what = []
    if pci_device_id is not None:
        what.append(f"PCI device id 0x{pci_device_id:04x}")
    if name:
        what.append(f"name {name!r}")
    if not what:
        return SkuMatch(None, "unknown", "neither a PCI device id nor a product name was read")
    verb = "matches" if len(what) == 1 else "match"
    return SkuMatch(None, "unknown", f"{' and '.join(what)} {verb} no reference SKU; no figure is assumed")


def _match_name(
    vkey: str,
    name: str,
    restrict: list[str] | None,
    memory_bytes: int | None = None,
    power_limit_w: float | None = None,
    compute_units: int | None = None,
) -> SkuMatch | None:
    norm = normalise_name(name)
    for spec in SKUS.values():
        if spec.vendor != vkey or (restrict is not None and spec.sku not in restrict):
            continue
        if any(re.fullmatch(p, norm) for p in spec.name_patterns):
            return _check_single(spec, memory_bytes, "name")
    for fam_vendor, pattern, candidates in FAMILY_PATTERNS:
        if fam_vendor != vkey or not re.fullmatch(pattern, norm):
            continue
        cands = [c for c in candidates if restrict is None or c in restrict]
        if cands:
            return _disambiguate(cands, memory_bytes, power_limit_w, compute_units, "name")
    return None


def accelerator_peaks(sku: str | None, reason_if_unknown: str = UNKNOWN_SKU_REASON) -> list[Peak]:
    """One Peak per dtype in DTYPES; tflops None with a reason where there is no cited figure."""
    spec = SKUS.get(sku) if sku is not None else None
    if spec is None:
        reason = reason_if_unknown if sku is None else f"no reference figures for SKU {sku!r}"
        return [Peak(d, None, None, "unknown", reason) for d in DTYPES]
    peaks = []
    for dtype in DTYPES:
        fig = spec.figures.get(dtype)
        if fig is None:
            why = spec.absent.get(dtype, f"{spec.source} gives no {dtype} figure")
            peaks.append(Peak(dtype, None, None, "unknown", why, {"sku": spec.sku}))
        else:
            basis = {"sku": spec.sku, "note": fig.note, "dense": True}
            if dtype == "int8":
                basis["unit"] = "TOPS"
            peaks.append(Peak(dtype, fig.tflops, spec.source, spec.confidence, None, basis))
    return peaks


def peak_memory_bandwidth_gbs(sku: str | None) -> float | None:
    """Datasheet memory bandwidth in GB/s (1 GB = 1e9 bytes), or None when unknown."""
    spec = SKUS.get(sku) if sku is not None else None
    return None if spec is None else spec.memory_bandwidth_gbs


def mig_scaled(peaks: list[Peak], visible_units: int, total_units: int) -> list[Peak]:
    """Peaks of a partition (MIG instance, MI300X compute partition, MI250X GCD): scaled by visible/total."""
    if total_units <= 0 or not 0 < visible_units <= total_units:
        raise ValueError(f"visible_units={visible_units} must be in 1..total_units={total_units}")
    factor = visible_units / total_units
    out = []
    for p in peaks:
        basis = dict(p.basis or {})
        basis.update({"scaled_by": "visible/total compute units", "visible_units": visible_units,
                      "total_units": total_units, "unscaled_tflops": p.tflops})
        if p.tflops is None:
            out.append(dataclasses.replace(p, basis=basis))
        else:
            out.append(dataclasses.replace(p, tflops=round(p.tflops * factor, 6), confidence="computed",
                                           basis=basis))
    return out


def override_peaks(peaks: list[Peak], overrides: dict[str, float], source: str) -> list[Peak]:
    """Replace figures with user-supplied ones (config); each replaced Peak says what it replaced."""
    unknown = sorted(set(overrides) - set(DTYPES))
    if unknown:
        raise ValueError(f"unknown dtype(s) in peak overrides: {', '.join(unknown)}; "
                         f"known: {', '.join(DTYPES)}")
    for dtype, value in overrides.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"peak override for {dtype} must be a positive number of TFLOP/s, got {value!r}")
    out = []
    seen = set()
    for p in peaks:
        seen.add(p.dtype)
        if p.dtype in overrides:
            basis = {"replaced_tflops": p.tflops, "replaced_source": p.source}
            out.append(Peak(p.dtype, float(overrides[p.dtype]), source, "user", None, basis))
        else:
            out.append(p)
    for dtype in DTYPES:
        if dtype in overrides and dtype not in seen:
            out.append(Peak(dtype, float(overrides[dtype]), source, "user", None, {"replaced_tflops": None}))
    return out


def _parse_pci_id(value: str | int | None) -> int | None:
    """'0x2330' (the Accelerator field's form) or an int; anything else is unreadable."""
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value, 16)
    except ValueError:
        return None


def apply_peaks(acc: Accelerator) -> None:
    """Resolve `acc.sku` from what was read and attach its peaks and memory bandwidth (or null reasons)."""
    power = acc.power_limit_default_w if acc.power_limit_default_w is not None else acc.power_limit_w
    match = resolve_sku(acc.vendor or "", acc.name, _parse_pci_id(acc.pci_device_id), acc.memory_total_bytes,
                        power, acc.compute_units)
    acc.extra["sku_match"] = {"confidence": match.confidence, "method": match.method, "reason": match.reason,
                              "candidates": match.candidates}
    if match.sku is None:
        reason = f"SKU not resolved: {match.reason}"
        acc.set_null("sku", reason)
        acc.peaks = accelerator_peaks(None, reason)
        acc.set_null("peak_memory_bandwidth_gbs", reason)
        return
    spec = SKUS[match.sku]
    acc.sku = match.sku
    acc.null_reasons.pop("sku", None)
    peaks = accelerator_peaks(match.sku)
    bandwidth = spec.memory_bandwidth_gbs
    units = acc.compute_units
    if spec.compute_units is not None and units is not None and 0 < units < spec.compute_units:
        peaks = mig_scaled(peaks, units, spec.compute_units)
        acc.extra["peak_scaling"] = (f"device exposes {units} of {spec.compute_units} compute units; "
                                     "peaks scaled by visible/total")
    elif spec.devices_per_package > 1 and units is None:
        peaks = mig_scaled(peaks, 1, spec.devices_per_package)
        acc.extra["peak_scaling"] = (f"{spec.sku} exposes each of its {spec.devices_per_package} dies as a "
                                     "separate device; peaks are per die")
    elif spec.compute_units is not None and units is not None and units > spec.compute_units:
        acc.extra["peak_scaling"] = (f"device reports {units} compute units, more than the datasheet "
                                     f"{spec.compute_units}; peaks left unscaled")
    if bandwidth is not None and spec.devices_per_package > 1:
        bandwidth = round(bandwidth / spec.devices_per_package, 3)
        acc.extra["peak_memory_bandwidth_basis"] = (f"datasheet package bandwidth / "
                                                    f"{spec.devices_per_package} dies")
    acc.peaks = peaks
    if bandwidth is None:
        acc.set_null("peak_memory_bandwidth_gbs", spec.bandwidth_note or f"{spec.source} gives no bandwidth")
    else:
        acc.peak_memory_bandwidth_gbs = bandwidth
        acc.null_reasons.pop("peak_memory_bandwidth_gbs", None)
