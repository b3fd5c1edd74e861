"""CPU probe and theoretical peaks on recorded machines (tests/data/cpuinfo, tests/data/cgroup)."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest
from infrabench.probes.context import ProbeContext
from infrabench.probes.cpu import probe_cpu
from infrabench.probes.record import unexplained_nulls

DATA = Path(__file__).parent / "data"
CPUINFO = DATA / "cpuinfo"
V2_CONTAINER = ("sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/"
                "kubepods-burstable-pod7c1e52f6_3b0e_4a49_9d43_2f4c7d1b8e90.slice/cri-containerd-5b0f3c1d9e8a.scope")
CPU_SYS = "sys/devices/system/cpu"


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def zen4_root(tmp_path: Path, cgroup: str | None = None) -> Path:
    """The development machine's recorded cpuinfo and sysfs, optionally inside a cgroup fixture."""
    root = tmp_path / "root"
    shutil.copytree(CPUINFO / "zen4_kvm_root", root)
    if cgroup:
        shutil.copytree(DATA / "cgroup" / cgroup, root, dirs_exist_ok=True)
    return root


def cpuinfo_root(tmp_path: Path, fixture: str, arch: str) -> Path:
    root = tmp_path / "root"
    write(root, "proc/cpuinfo", (CPUINFO / fixture).read_text())
    write(root, "proc/sys/kernel/arch", arch + "\n")
    return root


def peaks(rec) -> dict:
    return {p.dtype: p for p in rec.peaks}


def probe(root: Path):
    return probe_cpu(ProbeContext(root=root, env={}))


def test_zen4_kvm_guest(tmp_path):
    rec = probe(zen4_root(tmp_path))
    assert (rec.vendor, rec.family, rec.model, rec.stepping) == ("AuthenticAMD", 25, 17, 1)
    assert rec.microarchitecture == "Zen 4"
    assert {"avx512f", "avx512_bf16", "avx2", "fma"} <= set(rec.isa_flags)
    assert "amx_bf16" not in rec.isa_flags
    assert (rec.sockets, rec.physical_cores, rec.logical_cpus) == (1, 2, 2)
    caches = {c.name: c for c in rec.caches}
    assert (caches["L1d"].size_bytes, caches["L1d"].instances) == (32 * 1024, 2)
    assert (caches["L2"].size_bytes, caches["L2"].instances) == (1024 * 1024, 2)
    l3 = caches["L3"]
    assert (l3.size_bytes, l3.instances, l3.cpus_per_instance) == (32 << 20, 1, 2)
    assert rec.cpuinfo_cache_size_bytes == 1024 * 1024  # AMD reports L2 there
    assert unexplained_nulls(rec.to_dict()) == []


def test_zen4_avx512_runs_at_avx2_width(tmp_path):
    p = peaks(probe(zen4_root(tmp_path)))
    assert p["fp32"].basis["flops_per_cycle"] == 32  # double-pumped 2 x 256-bit, not 64
    assert p["fp64"].basis["flops_per_cycle"] == 16
    assert p["bf16"].basis["flops_per_cycle"] == 64  # VDPBF16PS doubles the fp32 rate
    assert p["int8"].basis["flops_per_cycle"] == 128
    assert p["fp16"].tflops is None and "fp16" in p["fp16"].reason


def test_missing_cpufreq_uses_cpu_mhz_and_says_so(tmp_path):
    rec = probe(zen4_root(tmp_path))
    for name in ("base_frequency_mhz", "max_frequency_mhz", "min_frequency_mhz"):
        assert getattr(rec, name) is None
        assert "cpufreq" in rec.null_reasons[name] and "VM" in rec.null_reasons[name]
    assert rec.current_frequency_mhz == pytest.approx(2596.144)
    fp32 = peaks(rec)["fp32"]
    assert fp32.confidence == "computed"
    assert "cpu MHz" in fp32.basis["ghz_source"] and "cpu MHz" in fp32.reason
    assert fp32.tflops == pytest.approx(2 * 2.596144 * 32 / 1000, rel=1e-4)


def test_sysfs_frequency_gives_computed_confidence(tmp_path):
    root = zen4_root(tmp_path)
    write(root, f"{CPU_SYS}/cpu0/cpufreq/cpuinfo_max_freq", "3700000\n")
    write(root, f"{CPU_SYS}/cpu0/cpufreq/cpuinfo_min_freq", "1500000\n")
    write(root, f"{CPU_SYS}/cpu0/cpufreq/scaling_cur_freq", "2600000\n")
    rec = probe(root)
    assert (rec.max_frequency_mhz, rec.min_frequency_mhz, rec.current_frequency_mhz) == (3700, 1500, 2600)
    assert "base_frequency" in rec.null_reasons["base_frequency_mhz"]
    fp64 = peaks(rec)["fp64"]
    assert fp64.confidence == "computed" and fp64.reason is None
    assert fp64.basis["ghz"] == 3.7 and "cpuinfo_max_freq" in fp64.basis["ghz_source"]
    assert fp64.tflops == pytest.approx(2 * 3.7 * 16 / 1000)


def test_sapphire_rapids_amx(tmp_path):
    rec = probe(cpuinfo_root(tmp_path, "intel_xeon_platinum_8480c.cpuinfo", "x86_64"))
    assert rec.microarchitecture == "Sapphire Rapids"
    assert {"amx_tile", "amx_bf16", "amx_int8", "avx512_fp16"} <= set(rec.isa_flags)
    p = peaks(rec)
    assert p["bf16"].basis["isa"] == "AMX-BF16" and p["bf16"].basis["flops_per_cycle"] == 1024
    assert p["int8"].basis["flops_per_cycle"] == 2048
    assert p["fp32"].basis["flops_per_cycle"] == 64
    assert p["fp32"].basis["fma_units_assumed"] == 2 and "assumed" in p["fp32"].basis["fma_units_basis"]
    assert p["fp16"].basis["flops_per_cycle"] == 128
    # One recorded processor block; no sysfs clocks, so 'cpu MHz' (2000) is the clock.
    assert rec.usable_cores == 1
    assert p["bf16"].tflops == pytest.approx(1 * 2.0 * 1024 / 1000)
    assert p["bf16"].confidence == "computed" and "cpu MHz" in p["bf16"].reason
    assert unexplained_nulls(rec.to_dict()) == []


def test_graviton3_arm_flags(tmp_path):
    rec = probe(cpuinfo_root(tmp_path, "aws_graviton3.cpuinfo", "aarch64"))
    assert rec.arch == "aarch64"
    assert rec.vendor == "0x41" and rec.arm_part == "0xd40"
    assert rec.microarchitecture == "Neoverse V1"
    assert {"asimd", "sve", "bf16", "i8mm"} <= set(rec.isa_flags)
    assert "sve2" not in rec.isa_flags and "avx2" not in rec.isa_flags
    assert rec.sockets is None and "physical id" in rec.null_reasons["sockets"]
    fp32 = peaks(rec)["fp32"]
    assert fp32.tflops is None and "clock" in fp32.reason  # arm64 cpuinfo has no MHz line
    assert unexplained_nulls(rec.to_dict()) == []


def test_graviton3_peak_with_sysfs_clock(tmp_path):
    root = cpuinfo_root(tmp_path, "aws_graviton3.cpuinfo", "aarch64")
    write(root, f"{CPU_SYS}/cpu0/cpufreq/cpuinfo_max_freq", "2600000\n")
    p = peaks(probe(root))
    assert p["fp64"].basis["flops_per_cycle"] == 16 and p["fp32"].basis["flops_per_cycle"] == 32
    assert p["fp32"].confidence == "computed"


def test_absurd_l3_is_distrusted(tmp_path):
    root = zen4_root(tmp_path)
    for cpu in ("cpu0", "cpu1"):
        write(root, f"{CPU_SYS}/{cpu}/cache/index3/size", "2097152K\n")
    l3 = {c.name: c for c in probe(root).caches}["L3"]
    assert l3.size_bytes is None and "1 GiB" in l3.null_reasons["size_bytes"]


def test_l2_larger_than_l3_is_distrusted(tmp_path):
    root = zen4_root(tmp_path)
    for cpu in ("cpu0", "cpu1"):
        write(root, f"{CPU_SYS}/{cpu}/cache/index3/size", "512K\n")
    caches = {c.name: c for c in probe(root).caches}
    assert caches["L2"].size_bytes is None and caches["L3"].size_bytes is None
    assert "inconsistent" in caches["L2"].null_reasons["size_bytes"]
    assert caches["L1d"].size_bytes == 32 * 1024


def test_quota_of_one_and_a_half_gives_one_usable_cpu(tmp_path):
    rec = probe(zen4_root(tmp_path, "v2_kubepods"))
    assert rec.cpu_quota_cores == 1.5
    assert rec.affinity_cpus == 2
    assert rec.usable_cpus == 1 and rec.usable_cores == 1
    assert peaks(rec)["fp32"].basis["cores"] == 1


def test_no_quota_uses_affinity(tmp_path):
    root = zen4_root(tmp_path, "v2_kubepods")
    write(root, f"{V2_CONTAINER}/cpu.max", "max 100000\n")
    rec = probe(root)
    assert rec.cpu_quota_cores is None and "max" in rec.null_reasons["cpu_quota_cores"]
    assert rec.usable_cpus == 2


def test_cpuset_restricts_usable(tmp_path):
    root = zen4_root(tmp_path, "v2_kubepods")
    write(root, f"{V2_CONTAINER}/cpu.max", "max 100000\n")
    write(root, f"{V2_CONTAINER}/cpuset.cpus.effective", "1\n")
    rec = probe(root)
    assert rec.cpuset_cpus == 1 and rec.usable_cpus == 1


def test_small_quota_still_leaves_one_cpu(tmp_path):
    root = zen4_root(tmp_path, "v2_kubepods")
    write(root, f"{V2_CONTAINER}/cpu.max", "25000 100000\n")
    rec = probe(root)
    assert rec.cpu_quota_cores == 0.25 and rec.usable_cpus == 1


def test_v1_recorded_cgroup_leaves_both_cpus(tmp_path):
    rec = probe(zen4_root(tmp_path, "v1_this_machine"))
    assert rec.cpu_quota_cores is None and rec.usable_cpus == 2


def test_real_machine():
    rec = probe_cpu(ProbeContext())
    assert rec.logical_cpus == os.cpu_count()
    assert 1 <= rec.usable_cpus <= len(os.sched_getaffinity(0))
    if rec.cpu_quota_cores is not None:
        assert rec.usable_cpus <= max(1, math.floor(rec.cpu_quota_cores))
    assert unexplained_nulls(rec.to_dict()) == []
    assert {p.dtype for p in rec.peaks} == {"fp64", "fp32", "bf16", "fp16", "int8"}
    for p in rec.peaks:
        assert (p.tflops is None) == (p.basis is None)
        assert p.tflops is not None or p.reason
