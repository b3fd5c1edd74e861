"""The CPU: identity, topology, how many CPUs this process may really use, ISA, caches, clocks, peak.

`usable_cpus` is what a benchmark should size its thread pool to: the affinity mask (narrowed by
the cgroup cpuset), capped by the cgroup CPU quota rounded *down* (minimum 1). A quota of 1.5 cores
cannot keep two threads busy, so 1; the fractional quota itself stays in `cpu_quota_cores`.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .cgroups import CgroupRecord, parse_cpu_list, probe_cgroups
from .context import ProbeContext
from .cpu_peak import PeakInputs, cpu_peaks
from .host import machine_arch
from .record import Peak, Record

SYS_CPU = "/sys/devices/system/cpu"

X86_FLAGS_OF_INTEREST = (
    "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512_fp16",
    "avx512_vnni", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "amx_fp16",
)
ARM_FLAGS_OF_INTEREST = ("asimd", "neon", "asimdhp", "asimddp", "sve", "sve2", "bf16", "i8mm", "sme")

# Intel family 6 model -> microarchitecture; Linux arch/x86/include/asm/intel-family.h
# (INTEL_SKYLAKE_X 0x55, INTEL_ICELAKE_X 0x6A, INTEL_ICELAKE_D 0x6C, INTEL_SAPPHIRERAPIDS_X 0x8F,
# INTEL_EMERALDRAPIDS_X 0xCF, INTEL_GRANITERAPIDS_X 0xAD, INTEL_ATOM_CRESTMONT_X 0xAF).
INTEL_FAMILY6 = {
    0x6A: "Ice Lake-SP", 0x6C: "Ice Lake-D", 0x8F: "Sapphire Rapids", 0xCF: "Emerald Rapids",
    0xAD: "Granite Rapids", 0xAF: "Sierra Forest",
}
# AMD (family, first model, last model) -> Zen generation; Linux arch/x86/kernel/cpu/amd.c,
# bsp_init_amd() "Figure out Zen generations".
AMD_ZEN: tuple[tuple[int, int, int, str], ...] = (
    (0x17, 0x00, 0x2F, "Zen"), (0x17, 0x50, 0x5F, "Zen"),
    (0x17, 0x30, 0x4F, "Zen 2"), (0x17, 0x60, 0x7F, "Zen 2"), (0x17, 0x90, 0x91, "Zen 2"),
    (0x17, 0xA0, 0xAF, "Zen 2"),
    (0x19, 0x00, 0x0F, "Zen 3"), (0x19, 0x20, 0x5F, "Zen 3"),
    (0x19, 0x10, 0x1F, "Zen 4"), (0x19, 0x60, 0xAF, "Zen 4"),
    (0x1A, 0x00, 0x2F, "Zen 5"), (0x1A, 0x40, 0x4F, "Zen 5"), (0x1A, 0x70, 0x7F, "Zen 5"),
)
# Arm implementer 0x41 CPU part -> core; Linux arch/arm64/include/asm/cputype.h.
ARM_PARTS = {
    0xD0C: "Neoverse N1", 0xD40: "Neoverse V1", 0xD49: "Neoverse N2", 0xD4F: "Neoverse V2",
    0xD8E: "Neoverse N3", 0xD84: "Neoverse V3",
}
MAX_L3_BYTES = 1 << 30  # one L3 instance above 1 GiB is not a real cache
MAX_L1_BYTES = 1 << 20


@dataclass
class CacheLevel(Record):
    name: str = ""  # L1d | L1i | L2 | L3
    size_bytes: int | None = None  # one instance
    instances: int | None = None
    cpus_per_instance: int | None = None


@dataclass
class CpuRecord(Record):
    arch: str | None = None
    vendor: str | None = None
    model_name: str | None = None
    family: int | None = None
    model: int | None = None
    stepping: int | None = None
    arm_part: str | None = None
    microarchitecture: str | None = None
    sockets: int | None = None
    physical_cores: int | None = None
    logical_cpus: int | None = None
    affinity_cpus: int | None = None
    cpuset_cpus: int | None = None
    cpu_quota_cores: float | None = None
    usable_cpus: int | None = None
    usable_cores: int | None = None  # physical cores behind usable_cpus (SMT siblings share FMA units)
    isa_flags: list[str] = field(default_factory=list)
    caches: list[CacheLevel] | None = None
    cpuinfo_cache_size_bytes: int | None = None  # L2 on AMD, L3 on Intel: cross-check only
    base_frequency_mhz: float | None = None
    min_frequency_mhz: float | None = None
    max_frequency_mhz: float | None = None
    current_frequency_mhz: float | None = None
    frequency_sources: dict[str, str] = field(default_factory=dict)
    peaks: list[Peak] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_cpuinfo(text: str) -> list[dict[str, str]]:
    """One dict per processor block of /proc/cpuinfo; header-only blocks (arm64 model lines) dropped."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition(":")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        blocks.append(current)
    return [b for b in blocks if "processor" in b]


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value, 0)
    except ValueError:
        return None


def microarchitecture(vendor: str | None, family: int | None, model: int | None,
                      stepping: int | None, arm_part: int | None) -> tuple[str | None, str]:
    """Name from the cited tables, or None and why."""
    if vendor == "GenuineIntel" and family == 6 and model is not None:
        if model == 0x55:  # Skylake-SP and its refreshes share the model; stepping tells them apart
            if stepping is not None and stepping <= 4:
                return "Skylake-SP", ""
            if stepping in (5, 6, 7):
                return "Cascade Lake", ""
            if stepping in (10, 11):
                return "Cooper Lake", ""
        if model in INTEL_FAMILY6:
            return INTEL_FAMILY6[model], ""
        return None, f"Intel family 6 model {model} not in the table"
    if vendor == "AuthenticAMD" and family is not None and model is not None:
        for fam, lo, hi, name in AMD_ZEN:
            if fam == family and lo <= model <= hi:
                return name, ""
        return None, f"AMD family {family} model 0x{model:x} not in the table"
    if vendor == "0x41" and arm_part is not None:
        if arm_part in ARM_PARTS:
            return ARM_PARTS[arm_part], ""
        return None, f"Arm part 0x{arm_part:x} not in the table"
    return None, "vendor/family/model not identifiable from /proc/cpuinfo"


def _size_bytes(text: str | None) -> int | None:
    if not text:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)B?\s*", text, re.IGNORECASE)
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]


def _cpu_dirs(ctx: ProbeContext) -> list[Path]:
    base = ctx.path(SYS_CPU)
    if not base.is_dir():
        return []
    cpus = (p for p in base.iterdir() if re.fullmatch(r"cpu\d+", p.name))
    return sorted(cpus, key=lambda p: int(p.name[3:]))


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError:
        raise
    except OSError:
        return None


def read_caches(ctx: ProbeContext) -> tuple[list[CacheLevel] | None, str]:
    """Per-level cache sizes from sysfs cache/index*; absurd values are nulled with a reason."""
    groups: dict[str, dict[str, list]] = {}
    for cpu in _cpu_dirs(ctx):
        cache_dir = cpu / "cache"
        if not cache_dir.is_dir():
            continue
        for index in sorted(cache_dir.glob("index*")):
            level, ctype = _read(index / "level"), _read(index / "type")
            if level is None or ctype is None:
                continue
            name = f"L{level}" + {"Data": "d", "Instruction": "i"}.get(ctype, "")
            g = groups.setdefault(name, {"sizes": [], "shared": set()})
            size = _size_bytes(_read(index / "size"))
            if size is not None:
                g["sizes"].append(size)
            shared = _read(index / "shared_cpu_list")
            if shared:
                g["shared"].add(shared)
    if not groups:
        return None, f"no cache information under {SYS_CPU}/cpu*/cache"
    levels: list[CacheLevel] = []
    for name in sorted(groups):
        g = groups[name]
        lvl = CacheLevel(name=name)
        lvl.size_bytes = Counter(g["sizes"]).most_common(1)[0][0] if g["sizes"] else None
        if lvl.size_bytes is None:
            lvl.set_null("size_bytes", "size unreadable")
        if g["shared"]:
            lvl.instances = len(g["shared"])
            counts = {len(parse_cpu_list(s) or []) for s in g["shared"]}
            lvl.cpus_per_instance = counts.pop() if len(counts) == 1 else None
            if lvl.cpus_per_instance is None:
                lvl.set_null("cpus_per_instance", "instances are shared by different numbers of CPUs")
        else:
            lvl.explain_nulls("shared_cpu_list unreadable")
        levels.append(lvl)
    _distrust_absurd(levels)
    return levels, ""


def _distrust_absurd(levels: list[CacheLevel]) -> None:
    by = {lvl.name: lvl for lvl in levels}
    l2, l3 = by.get("L2"), by.get("L3")
    for lvl in levels:
        if lvl.size_bytes is None:
            continue
        if lvl.name == "L3" and lvl.size_bytes > MAX_L3_BYTES:
            lvl.set_null("size_bytes", f"sysfs says {lvl.size_bytes} B per L3 (> 1 GiB): implausible")
        if lvl.name.startswith("L1") and lvl.size_bytes > MAX_L1_BYTES:
            lvl.set_null("size_bytes", f"sysfs says {lvl.size_bytes} B per L1 (> 1 MiB): implausible")
    if l2 and l3 and l2.size_bytes and l3.size_bytes and l2.size_bytes > l3.size_bytes:
        reason = f"L2 ({l2.size_bytes} B) larger than L3 ({l3.size_bytes} B) per instance: inconsistent"
        l2.set_null("size_bytes", reason)
        l3.set_null("size_bytes", reason)


def _topology_sysfs(ctx: ProbeContext) -> tuple[int | None, dict[int, tuple[str, str]]]:
    """Sockets and cpu -> (package, core-siblings) from sysfs topology."""
    core_of: dict[int, tuple[str, str]] = {}
    packages: set[str] = set()
    for cpu in _cpu_dirs(ctx):
        n = int(cpu.name[3:])
        pkg = _read(cpu / "topology/physical_package_id")
        core = _read(cpu / "topology/core_cpus_list") or _read(cpu / "topology/thread_siblings_list")
        if pkg is None or core is None:
            continue
        packages.add(pkg)
        core_of[n] = (pkg, core)
    return (len(packages) or None), core_of


def _affinity(ctx: ProbeContext) -> tuple[set[int] | None, str]:
    status = ctx.read_text("/proc/self/status")
    for line in (status or "").splitlines():
        if line.startswith("Cpus_allowed_list:"):
            cpus = parse_cpu_list(line.split(":", 1)[1])
            if cpus:
                return set(cpus), "/proc/self/status Cpus_allowed_list"
    if Path(ctx.root).resolve() == Path("/") and hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0)), "os.sched_getaffinity"
    return None, "/proc/self/status has no Cpus_allowed_list"


def _freq_mhz(ctx: ProbeContext, name: str) -> float | None:
    khz = ctx.read_int(f"{SYS_CPU}/cpu0/cpufreq/{name}")
    return khz / 1000 if khz else None


def _read_frequencies(
    ctx: ProbeContext, rec: CpuRecord, blocks: list[dict[str, str]], virtualized: bool
) -> None:
    has_cpufreq = ctx.path(f"{SYS_CPU}/cpu0/cpufreq").is_dir()
    no_sysfs = (f"no {SYS_CPU}/cpu0/cpufreq (no cpufreq driver"
                + ("; the CPU reports a hypervisor, so this is a VM whose clocks the guest cannot see)"
                   if virtualized else ")"))
    for field_name, sysfs_name in (("base_frequency_mhz", "base_frequency"),
                                   ("min_frequency_mhz", "cpuinfo_min_freq"),
                                   ("max_frequency_mhz", "cpuinfo_max_freq")):
        value = _freq_mhz(ctx, sysfs_name) if has_cpufreq else None
        if value is not None:
            setattr(rec, field_name, value)
            rec.frequency_sources[field_name] = f"sysfs cpufreq/{sysfs_name}"
        else:
            why = no_sysfs if not has_cpufreq else f"cpufreq/{sysfs_name} not exposed by this driver"
            rec.set_null(field_name, why)
    if rec.base_frequency_mhz is None:
        m = re.search(r"@\s*([\d.]+)\s*GHz", rec.model_name or "")
        if m:
            rec.base_frequency_mhz = float(m.group(1)) * 1000
            rec.frequency_sources["base_frequency_mhz"] = "model name string (nominal clock)"
            rec.null_reasons.pop("base_frequency_mhz", None)
    cur = _freq_mhz(ctx, "scaling_cur_freq") if has_cpufreq else None
    if cur is not None:
        rec.current_frequency_mhz = cur
        rec.frequency_sources["current_frequency_mhz"] = "sysfs cpufreq/scaling_cur_freq"
        return
    mhz = [float(b["cpu MHz"]) for b in blocks if _float_ok(b.get("cpu MHz"))]
    if mhz:
        rec.current_frequency_mhz = sum(mhz) / len(mhz)
        rec.frequency_sources["current_frequency_mhz"] = "/proc/cpuinfo cpu MHz (mean over processors)"
    else:
        rec.set_null("current_frequency_mhz", no_sysfs + "; /proc/cpuinfo has no 'cpu MHz'")


def _float_ok(value: str | None) -> bool:
    try:
        return value is not None and float(value) > 0
    except ValueError:
        return False


def _peak_clock(rec: CpuRecord) -> tuple[float | None, str | None, bool]:
    """GHz for the peak: the highest trustworthy clock, so measured efficiency > 100% means a bug."""
    if rec.max_frequency_mhz:
        return rec.max_frequency_mhz / 1000, "sysfs cpufreq/cpuinfo_max_freq", True
    if rec.base_frequency_mhz:
        src = rec.frequency_sources.get("base_frequency_mhz", "")
        return rec.base_frequency_mhz / 1000, src, src.startswith("sysfs")
    if rec.current_frequency_mhz:
        src = rec.frequency_sources.get("current_frequency_mhz", "")
        return rec.current_frequency_mhz / 1000, src, False
    return None, None, False


def probe_cpu(ctx: ProbeContext, cgroup: CgroupRecord | None = None) -> CpuRecord:
    """Identity, topology, usable CPUs, ISA flags, caches, clocks and theoretical peaks.

    Pass the cgroup record when it was already probed; otherwise it is probed here.
    """
    rec = CpuRecord()
    text = ctx.read_text("/proc/cpuinfo")
    blocks = parse_cpuinfo(text) if text else []
    first = blocks[0] if blocks else {}
    rec.arch = machine_arch(ctx)
    if rec.arch is None and first:
        if "CPU implementer" in first:
            rec.arch = "aarch64"
        elif "lm" in first.get("flags", "").split():
            rec.arch = "x86_64"
        if rec.arch:
            rec.notes.append("arch inferred from /proc/cpuinfo (/proc/sys/kernel/arch unreadable)")
    if rec.arch is None:
        rec.set_null("arch", "/proc/sys/kernel/arch unreadable")

    rec.vendor = first.get("vendor_id") or first.get("CPU implementer")
    rec.model_name = first.get("model name") or first.get("Model name") or first.get("Hardware")
    rec.family, rec.model, rec.stepping = (_int(first.get(k)) for k in ("cpu family", "model", "stepping"))
    arm_part = _int(first.get("CPU part"))
    rec.arm_part = f"0x{arm_part:x}" if arm_part is not None else None
    if arm_part is None:
        rec.set_null("arm_part", "not an Arm CPU (no 'CPU part' in /proc/cpuinfo)")
    if rec.vendor == "0x41" and rec.model_name is None and arm_part in ARM_PARTS:
        rec.model_name = ARM_PARTS[arm_part]
        rec.notes.append("model name from the Arm CPU part (arm64 /proc/cpuinfo has no model name)")
    rec.microarchitecture, why = microarchitecture(rec.vendor, rec.family, rec.model, rec.stepping, arm_part)
    if rec.microarchitecture is None:
        rec.set_null("microarchitecture", why)

    flag_text = first.get("flags") or first.get("Features") or ""
    flags = set(flag_text.split())
    interest = ARM_FLAGS_OF_INTEREST if "Features" in first else X86_FLAGS_OF_INTEREST
    rec.isa_flags = [f for f in interest if f in flags]

    # Topology.
    rec.logical_cpus = len(blocks) or None
    online = parse_cpu_list(ctx.read_text(f"{SYS_CPU}/online"))
    if rec.logical_cpus is None and online:
        rec.logical_cpus = len(online)
    pairs = {(b.get("physical id"), b.get("core id")) for b in blocks if "core id" in b}
    sysfs_sockets, core_of = _topology_sysfs(ctx)
    if any(b.get("physical id") is not None for b in blocks):
        rec.sockets = len({b["physical id"] for b in blocks if "physical id" in b})
    else:
        rec.sockets = sysfs_sockets
    if pairs:
        rec.physical_cores = len(pairs)
        core_of_cpu = {
            _int(b["processor"]): (b.get("physical id"), b.get("core id")) for b in blocks if "core id" in b
        }
    elif core_of:
        rec.physical_cores = len(set(core_of.values()))
        core_of_cpu = dict(core_of)  # type: ignore[arg-type]
    elif arm_part in ARM_PARTS and rec.logical_cpus:
        # Neoverse cores run one thread each, so every logical CPU is a core.
        rec.physical_cores = rec.logical_cpus
        core_of_cpu = {_int(b["processor"]): (None, b["processor"]) for b in blocks}
        rec.notes.append(f"{ARM_PARTS[arm_part]} has no SMT: physical cores = logical CPUs")
    else:
        core_of_cpu = {}
    if rec.sockets is None:
        rec.set_null("sockets", "no 'physical id' in /proc/cpuinfo and no sysfs topology")
    if rec.physical_cores is None:
        rec.set_null("physical_cores", "no 'core id' in /proc/cpuinfo and no sysfs topology core_cpus_list")

    # What this process may use.
    cg = cgroup if cgroup is not None else probe_cgroups(ctx)
    allowed, affinity_src = _affinity(ctx)
    rec.affinity_cpus = len(allowed) if allowed else None
    if allowed is None:
        rec.set_null("affinity_cpus", affinity_src)
    if cg.cpuset_cpus:
        rec.cpuset_cpus = len(cg.cpuset_cpus)
        allowed = (allowed & set(cg.cpuset_cpus)) if allowed else set(cg.cpuset_cpus)
    else:
        rec.set_null("cpuset_cpus", cg.null_reasons.get("cpuset_cpus", "no cgroup cpuset"))
    if allowed is None and rec.logical_cpus:
        allowed = set(online) if online else None
        rec.notes.append("affinity unknown: usable CPUs start from all online/logical CPUs")
    rec.cpu_quota_cores = cg.cpu_quota_cores
    if rec.cpu_quota_cores is None:
        rec.set_null("cpu_quota_cores", cg.null_reasons.get("cpu_quota_cores", "no cgroup CPU quota"))
    base_count = len(allowed) if allowed else rec.logical_cpus
    if base_count is None:
        rec.set_null("usable_cpus", "neither affinity, cpuset nor /proc/cpuinfo gave a CPU count")
    else:
        rec.usable_cpus = base_count
        if rec.cpu_quota_cores is not None:
            rec.usable_cpus = min(base_count, max(1, math.floor(rec.cpu_quota_cores)))
    if rec.usable_cpus is not None:
        if allowed and core_of_cpu and all(c in core_of_cpu for c in allowed):
            cores_in_set = len({core_of_cpu[c] for c in allowed})
        elif rec.physical_cores is not None and rec.logical_cpus == base_count:
            cores_in_set = rec.physical_cores
        else:
            cores_in_set = None
        if cores_in_set is None:
            rec.set_null("usable_cores", "cannot map the allowed CPUs to physical cores")
        else:
            rec.usable_cores = min(cores_in_set, rec.usable_cpus)
    else:
        rec.set_null("usable_cores", "usable CPU count unknown")

    # Caches.
    rec.caches, why = read_caches(ctx)
    if rec.caches is None:
        rec.set_null("caches", why)
    rec.cpuinfo_cache_size_bytes = _size_bytes((first.get("cache size") or "").replace(" ", ""))
    if rec.cpuinfo_cache_size_bytes is None:
        rec.set_null("cpuinfo_cache_size_bytes", "/proc/cpuinfo has no 'cache size'")
    elif rec.caches:
        known = {c.size_bytes for c in rec.caches if c.size_bytes}
        if rec.cpuinfo_cache_size_bytes not in known:
            size = rec.cpuinfo_cache_size_bytes
            rec.notes.append(f"/proc/cpuinfo cache size {size} B matches no sysfs cache level")

    # Clocks and peaks.
    _read_frequencies(ctx, rec, blocks, "hypervisor" in flags)
    ghz, ghz_source, from_sysfs = _peak_clock(rec)
    rec.peaks = cpu_peaks(PeakInputs(
        arch=rec.arch, vendor=rec.vendor, family=rec.family, model=rec.model,
        microarchitecture=rec.microarchitecture, flags=flags, arm_part=arm_part,
        cores=rec.usable_cores, ghz=ghz, ghz_source=ghz_source, ghz_from_sysfs=from_sysfs,
    ))
    if not blocks:
        rec.notes.append("/proc/cpuinfo unreadable or empty")
    rec.explain_nulls("/proc/cpuinfo does not report it on this CPU")
    return rec
