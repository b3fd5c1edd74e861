"""Memory probe on the cgroup fixture roots (tests/data/cgroup) and on this machine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from infrabench.probes.context import ProbeContext
from infrabench.probes.memory import parse_meminfo, probe_memory
from infrabench.probes.record import unexplained_nulls

DATA = Path(__file__).parent / "data" / "cgroup"
GIB = 1 << 30
MEMTOTAL_KB = 24684084  # MemTotal of the recorded development machine (fixture proc/meminfo)


def fake_root(tmp_path: Path, name: str) -> Path:
    root = tmp_path / "root"
    shutil.copytree(DATA / name, root)
    return root


def test_parse_meminfo_units():
    text = "MemTotal:       24684084 kB\nHugePages_Total:       4\nHugepagesize:       2048 kB\n"
    info = parse_meminfo(text)
    assert info == {"MemTotal": 24684084 * 1024, "HugePages_Total": 4, "Hugepagesize": 2 << 20}


def test_cgroup_limit_caps_usable(tmp_path):
    rec = probe_memory(ProbeContext(root=fake_root(tmp_path, "v2_kubepods"), env={}))
    assert rec.total_bytes == MEMTOTAL_KB * 1024
    assert rec.available_bytes > 8 * GIB
    assert rec.cgroup_limit_bytes == 8 * GIB
    assert rec.usable_bytes == 8 * GIB
    assert (rec.swap_total_bytes, rec.hugepages_total, rec.hugepage_size_bytes) == (0, 0, 2 << 20)
    assert rec.shm_total_bytes is None and "real root" in rec.null_reasons["shm_total_bytes"]
    assert rec.numa_nodes is None and "node" in rec.null_reasons["numa_nodes"]
    assert unexplained_nulls(rec.to_dict()) == []


def test_unlimited_cgroup_uses_available(tmp_path):
    rec = probe_memory(ProbeContext(root=fake_root(tmp_path, "v1_this_machine"), env={}))
    assert rec.cgroup_limit_bytes is None and "unlimited" in rec.null_reasons["cgroup_limit_bytes"]
    assert rec.usable_bytes == rec.available_bytes


def test_limit_above_available_leaves_available(tmp_path):
    root = fake_root(tmp_path, "v1_this_machine")
    (root / "sys/fs/cgroup/memory/memory.limit_in_bytes").write_text(f"{64 * GIB}\n")
    rec = probe_memory(ProbeContext(root=root, env={}))
    assert rec.cgroup_limit_bytes == 64 * GIB
    assert rec.usable_bytes == rec.available_bytes


def test_numa_nodes_counted(tmp_path):
    root = fake_root(tmp_path, "v1_this_machine")
    for name in ("node0", "node1", "possible"):
        (root / "sys/devices/system/node" / name).mkdir(parents=True)
    assert probe_memory(ProbeContext(root=root, env={})).numa_nodes == 2


def test_no_meminfo(tmp_path):
    rec = probe_memory(ProbeContext(root=tmp_path, env={}))
    assert rec.total_bytes is None and rec.usable_bytes is None
    assert unexplained_nulls(rec.to_dict()) == []


def test_real_machine():
    rec = probe_memory(ProbeContext())
    assert rec.total_bytes and rec.total_bytes > 0
    assert 0 < rec.usable_bytes <= rec.total_bytes
    if os.path.isdir("/dev/shm"):
        assert rec.shm_total_bytes and rec.shm_total_bytes > 0
    assert unexplained_nulls(rec.to_dict()) == []
