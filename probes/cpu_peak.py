"""Theoretical CPU peaks per dtype: cores x GHz x operations per cycle per core, with the basis shown.

Operations per cycle per core: AVX2+FMA 16 fp64 / 32 fp32; AVX-512 with two FMA units
32 / 64; AMX-BF16 1024 bf16. Where a rule depends on the core (how wide the FMA datapath really is,
how many FMA units a SKU has) we say what we assumed; where we do not know, the peak is None with a
reason rather than a neighbour's figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .record import Peak

SOURCE = "computed: usable physical cores x GHz x FLOPs/cycle/core for the vector ISA"

# Intel Xeon SP generations with two 512-bit FMA units on Gold 6xxx / Platinum SKUs (some Silver,
# Bronze and Gold 5xxx Skylake/Cascade Lake SKUs have one, which we cannot tell from cpuinfo).
INTEL_AVX512_SERVER = {
    "Skylake-SP", "Cascade Lake", "Cooper Lake", "Ice Lake-SP", "Ice Lake-D",
    "Sapphire Rapids", "Emerald Rapids", "Granite Rapids",
}
# Intel E-core servers: 2 x 128-bit FMA (Gracemont/Crestmont cores), no AVX-512.
INTEL_ECORE_SERVER = {"Sierra Forest"}

# Arm Neoverse cores (CPU part) -> (fp64, fp32) FLOPs/cycle/core and the datapath that gives it:
# N1 and N2 have two 128-bit FP pipes, V1 two 256-bit SVE pipes (four 128-bit for NEON), V2 four
# 128-bit pipes (Arm Neoverse N1/N2/V1/V2 software optimization guides, "FP/ASIMD" pipelines).
ARM_NEOVERSE_RATES: dict[int, tuple[int, int, str]] = {
    0xD0C: (8, 16, "2 x 128-bit NEON FMA (Neoverse N1)"),
    0xD40: (16, 32, "2 x 256-bit SVE / 4 x 128-bit NEON FMA (Neoverse V1)"),
    0xD49: (8, 16, "2 x 128-bit SVE2/NEON FMA (Neoverse N2)"),
    0xD4F: (16, 32, "4 x 128-bit SVE2/NEON FMA (Neoverse V2)"),
}

AMX_BF16_OPS = 1024  # bf16 FLOPs/cycle/core (Intel AMX: 1024 bf16 ops/cycle/core)
AMX_INT8_OPS = 2048  # int8 ops/cycle/core (Intel AMX: 2048 int8 ops/cycle/core)
AMX_FP16_OPS = 1024  # fp16 FLOPs/cycle/core (AMX-FP16, Granite Rapids)
AMX_BASIS = {"fma_units_assumed": None, "fma_units_basis": "matrix unit: one AMX TMUL per core"}


@dataclass
class PeakInputs:
    """What the CPU probe knows that a peak depends on."""

    arch: str | None
    vendor: str | None  # GenuineIntel | AuthenticAMD | an Arm implementer such as "0x41"
    family: int | None
    model: int | None
    microarchitecture: str | None
    flags: set[str] = field(default_factory=set)
    arm_part: int | None = None
    cores: int | None = None
    ghz: float | None = None
    ghz_source: str | None = None
    ghz_from_sysfs: bool = False


@dataclass
class VectorRate:
    fp64: int
    fp32: int
    isa: str
    fma_units: int | None
    fma_units_assumed: bool
    note: str = ""


def _amd_family26_full_width(model: int) -> bool | None:
    """Zen 5: server (Turin, models 0x00-0x1f) and desktop (0x40-0x4f) run AVX-512 on 512-bit
    datapaths; mobile (Strix, 0x20-0x2f; Krackan, 0x60-0x7f) double-pump 256-bit ones."""
    if 0x00 <= model <= 0x1F or 0x40 <= model <= 0x4F:
        return True
    if 0x20 <= model <= 0x2F or 0x60 <= model <= 0x7F:
        return False
    return None


def vector_rate(inp: PeakInputs) -> tuple[VectorRate | None, str]:
    """fp64/fp32 FLOPs/cycle/core of the FMA units, or None and why."""
    flags = inp.flags
    arch = inp.arch or ""
    if arch in ("aarch64", "arm64"):
        if inp.vendor == "0x41" and inp.arm_part in ARM_NEOVERSE_RATES:
            fp64, fp32, note = ARM_NEOVERSE_RATES[inp.arm_part]
            return VectorRate(fp64, fp32, "SVE" if "sve" in flags else "NEON", None, False, note), ""
        part = f"0x{inp.arm_part:x}" if inp.arm_part is not None else "unknown"
        return None, f"no cited FLOPs/cycle for Arm implementer {inp.vendor} part {part}"
    if not arch.startswith("x86") and arch not in ("i686", "i386", ""):
        return None, f"no FLOPs/cycle table for {arch}"
    if "fma" not in flags:
        return None, "no FMA in the CPU flags; FLOPs/cycle table covers FMA-capable x86 only"
    uarch = inp.microarchitecture or ""
    if inp.vendor == "AuthenticAMD":
        if inp.family == 0x17 and uarch == "Zen":
            return VectorRate(8, 16, "AVX2+FMA (2 x 128-bit datapath, Zen 1)", 2, False), ""
        if inp.family == 0x19 and "avx512f" in flags:
            return VectorRate(16, 32, "AVX-512 executed as 2 x 256-bit (Zen 4)", 2, False,
                              "Zen 4 double-pumps 512-bit ops on 256-bit FMA units: AVX2-like rate"), ""
        if inp.family == 0x1A and "avx512f" in flags and inp.model is not None:
            full = _amd_family26_full_width(inp.model)
            if full is None:
                return None, f"Zen 5 datapath width unknown for model 0x{inp.model:x}"
            if full:
                return VectorRate(32, 64, "AVX-512 (2 x 512-bit FMA, Zen 5 server/desktop)", 2, False), ""
            return VectorRate(16, 32, "AVX-512 executed as 2 x 256-bit (Zen 5 mobile)", 2, False), ""
    if "avx512f" in flags and inp.vendor == "GenuineIntel":
        if uarch in INTEL_AVX512_SERVER:
            note = "assumed two 512-bit FMA units (Gold 6xxx/Platinum); one-unit SKUs have half"
            return VectorRate(32, 64, "AVX-512 (2 x 512-bit FMA)", 2, True, note), ""
        return None, f"AVX-512 FMA unit count unknown for Intel {uarch or 'this model'}"
    if uarch in INTEL_ECORE_SERVER:
        return VectorRate(8, 16, "AVX2+FMA (2 x 128-bit, E-cores)", 2, False), ""
    if "avx2" in flags:
        return VectorRate(16, 32, "AVX2+FMA (2 x 256-bit FMA)", 2, True,
                          "assumed two 256-bit FMA units (Haswell and later big cores, Zen 2 and later)"), ""
    return None, "FMA without AVX2: no cited FLOPs/cycle"


def _peak(dtype: str, ops: int | None, isa: str | None, inp: PeakInputs, reason: str | None,
          extra: dict | None = None) -> Peak:
    if ops is None:
        return Peak(dtype, None, None, "unknown", reason)
    if not inp.cores:
        return Peak(dtype, None, None, "unknown", "usable core count unknown")
    if inp.ghz is None:
        return Peak(dtype, None, None, "unknown", "no CPU clock readable (sysfs cpufreq, model, cpuinfo)")
    basis = {
        "cores": inp.cores, "ghz": round(inp.ghz, 4), "ghz_source": inp.ghz_source, "isa": isa,
        "flops_per_cycle": ops, "unit": "TOPS" if dtype == "int8" else "TFLOP/s",
    }
    basis.update(extra or {})
    tflops = inp.cores * inp.ghz * ops / 1e3
    if inp.ghz_from_sysfs:
        return Peak(dtype, round(tflops, 6), SOURCE, "computed", None, basis)
    note = (f"clock from {inp.ghz_source}, not sysfs cpufreq (none exposed, e.g. in a VM): "
            "the figure is computed but its clock is unverified")
    # With no readable frequency, use the best available figure, marked `computed`,
    # and say so (the note travels in `reason`).
    return Peak(dtype, round(tflops, 6), SOURCE, "computed", note, basis)


def cpu_peaks(inp: PeakInputs) -> list[Peak]:
    """One Peak per dtype (fp64, fp32, bf16, fp16, int8); None figures carry their reason."""
    rate, why = vector_rate(inp)
    flags = inp.flags
    fma = {"fma_units_assumed": rate.fma_units if rate else None,
           "fma_units_basis": ("assumed from the microarchitecture family" if rate and rate.fma_units_assumed
                               else "known for this core" if rate else None),
           "note": rate.note or None if rate else None}
    peaks = [
        _peak("fp64", rate.fp64 if rate else None, rate.isa if rate else None, inp, why, fma),
        _peak("fp32", rate.fp32 if rate else None, rate.isa if rate else None, inp, why, fma),
    ]
    if "amx_bf16" in flags:
        peaks.append(_peak("bf16", AMX_BF16_OPS, "AMX-BF16", inp, None, AMX_BASIS))
    elif "avx512_bf16" in flags and rate:
        peaks.append(_peak("bf16", 2 * rate.fp32, f"AVX512_BF16 (VDPBF16PS, 2x fp32 rate) on {rate.isa}",
                           inp, None, fma))
    else:
        peaks.append(_peak("bf16", None, None, inp,
                           why or "no native bf16 arithmetic (no AMX-BF16 or AVX512_BF16 flag)"))
    if "amx_fp16" in flags:
        peaks.append(_peak("fp16", AMX_FP16_OPS, "AMX-FP16", inp, None, AMX_BASIS))
    elif "avx512_fp16" in flags and rate:
        isa = f"AVX512_FP16 (2x fp32 rate) on {rate.isa}"
        peaks.append(_peak("fp16", 2 * rate.fp32, isa, inp, None, fma))
    else:
        why16 = why or "no native fp16 arithmetic (no AVX512_FP16/AMX-FP16)"
        peaks.append(_peak("fp16", None, None, inp, why16))
    if "amx_int8" in flags:
        peaks.append(_peak("int8", AMX_INT8_OPS, "AMX-INT8", inp, None, AMX_BASIS))
    elif ("avx512_vnni" in flags or "avx_vnni" in flags) and rate:
        isa = f"VNNI (VPDPBUSD, 4x fp32 rate) on {rate.isa}"
        peaks.append(_peak("int8", 4 * rate.fp32, isa, inp, None, fma))
    else:
        why8 = why or "no int8 dot-product instructions (no VNNI/AMX-INT8)"
        peaks.append(_peak("int8", None, None, inp, why8))
    return peaks
