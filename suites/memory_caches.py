"""Which cache level holds a working set, from the cache sizes in the machine profile.

The memory suite labels each point of its bandwidth-vs-working-set sweep with the level that holds it and
sizes its DRAM arrays from the last-level cache; the cache sizes themselves are the MachineView's, as
every stage reads them.
"""

from __future__ import annotations

from typing import Any

from infrabench.probes.machine_view import CacheLevel, MachineView

__all__ = ["CacheLevel", "data_caches", "last_level_cache_bytes", "level_label"]


def data_caches(machine: dict[str, Any]) -> list[CacheLevel]:
    """Data/unified cache levels from MachineProfile.cpu.caches, smallest level first (L1i left out)."""
    return MachineView(machine).data_caches()


def last_level_cache_bytes(machine: dict[str, Any]) -> int | None:
    """All instances of the highest cache level together (what an all-core kernel can keep cached)."""
    return MachineView(machine).last_level_cache_bytes()


def level_label(working_set_bytes: int, caches: list[CacheLevel]) -> str:
    """Where a working set lives: the first level whose one instance holds it, else DRAM ("unknown" without
    cache sizes). Per-instance sizes: what one thread can use."""
    if not caches:
        return "unknown"
    for cache in caches:
        if working_set_bytes <= cache.size_bytes:
            return cache.label
    return "DRAM"
