"""Which cache level holds a working set, from the cache sizes in the machine profile.

The memory suite labels each point of its bandwidth-vs-working-set sweep with the level that holds it and
sizes its DRAM arrays from the last-level cache; both read the profile's caches the same way, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CacheLevel:
    """A data (or unified) cache level as the machine profile reports it."""

    label: str  # "L1" | "L2" | "L3" | "L4"
    size_bytes: int  # one instance
    instances: int

    @property
    def total_bytes(self) -> int:
        return self.size_bytes * max(self.instances, 1)


def data_caches(machine: dict[str, Any]) -> list[CacheLevel]:
    """Data/unified cache levels from MachineProfile.cpu.caches, smallest level first (L1i left out)."""
    levels: dict[str, CacheLevel] = {}
    for entry in ((machine.get("cpu") or {}).get("caches") or []):
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


def last_level_cache_bytes(machine: dict[str, Any]) -> int | None:
    """All instances of the highest cache level together (what an all-core kernel can keep cached)."""
    caches = data_caches(machine)
    return caches[-1].total_bytes if caches else None


def level_label(working_set_bytes: int, caches: list[CacheLevel]) -> str:
    """Where a working set lives: the first level whose one instance holds it, else DRAM ("unknown" without
    cache sizes). Per-instance sizes: what one thread can use."""
    if not caches:
        return "unknown"
    for cache in caches:
        if working_set_bytes <= cache.size_bytes:
            return cache.label
    return "DRAM"
