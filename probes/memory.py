"""Memory: what the machine has, and what this process can actually allocate.

`usable_bytes` = min(MemAvailable (MemTotal if absent), cgroup memory limit): available rather
than total because page cache and other tenants already hold the rest, and the cgroup limit
because exceeding it gets the process OOM-killed however much RAM the host has.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .cgroups import CgroupRecord, probe_cgroups
from .context import ProbeContext
from .record import Record


@dataclass
class MemoryRecord(Record):
    total_bytes: int | None = None
    available_bytes: int | None = None
    cgroup_limit_bytes: int | None = None
    usable_bytes: int | None = None
    swap_total_bytes: int | None = None
    swap_free_bytes: int | None = None
    shm_total_bytes: int | None = None  # /dev/shm size: caps PyTorch DataLoader shared memory
    shm_free_bytes: int | None = None
    hugepages_total: int | None = None
    hugepage_size_bytes: int | None = None
    numa_nodes: int | None = None


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo as bytes ('kB' lines) or plain counts (HugePages_*)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"^([\w()]+):\s+(\d+)(?:\s+kB)?\s*$", line)
        if m:
            value = int(m.group(2))
            out[m.group(1)] = value * 1024 if line.rstrip().endswith("kB") else value
    return out


def probe_memory(ctx: ProbeContext, cgroup: CgroupRecord | None = None) -> MemoryRecord:
    """Total/available RAM, cgroup limit, usable memory, swap, /dev/shm, hugepages and NUMA nodes."""
    rec = MemoryRecord()
    text = ctx.read_text("/proc/meminfo")
    info = parse_meminfo(text) if text else {}
    missing = "/proc/meminfo unreadable" if text is None else "not in /proc/meminfo"
    for field_name, key in (("total_bytes", "MemTotal"), ("available_bytes", "MemAvailable"),
                            ("swap_total_bytes", "SwapTotal"), ("swap_free_bytes", "SwapFree"),
                            ("hugepages_total", "HugePages_Total"), ("hugepage_size_bytes", "Hugepagesize")):
        if key in info:
            setattr(rec, field_name, info[key])
        else:
            rec.set_null(field_name, f"{key} {missing}" if text is not None else missing)

    cg = cgroup if cgroup is not None else probe_cgroups(ctx)
    rec.cgroup_limit_bytes = cg.memory_limit_bytes
    if rec.cgroup_limit_bytes is None:
        why = cg.null_reasons.get("memory_limit_bytes", "no cgroup memory limit")
        rec.set_null("cgroup_limit_bytes", why)
    host_free = rec.available_bytes if rec.available_bytes is not None else rec.total_bytes
    candidates = [v for v in (host_free, rec.cgroup_limit_bytes) if v is not None]
    if candidates:
        rec.usable_bytes = min(candidates)
    else:
        rec.set_null("usable_bytes", "neither /proc/meminfo nor a cgroup limit is readable")

    shm = ctx.path("/dev/shm")
    if Path(ctx.root).resolve() != Path("/"):
        reason = "statvfs of /dev/shm is only meaningful on the real root, not a substituted one"
        rec.set_null("shm_total_bytes", reason)
        rec.set_null("shm_free_bytes", reason)
    elif not shm.is_dir():
        rec.set_null("shm_total_bytes", "/dev/shm does not exist")
        rec.set_null("shm_free_bytes", "/dev/shm does not exist")
    else:
        st = os.statvfs(shm)
        rec.shm_total_bytes = st.f_blocks * st.f_frsize
        rec.shm_free_bytes = st.f_bavail * st.f_frsize

    node_dir = ctx.path("/sys/devices/system/node")
    if node_dir.is_dir():
        rec.numa_nodes = sum(1 for p in node_dir.iterdir() if re.fullmatch(r"node\d+", p.name)) or None
    if rec.numa_nodes is None:
        rec.set_null("numa_nodes", "no /sys/devices/system/node/node* (kernel without NUMA support)")
    return rec
