"""Storage ceilings: cold and warm reads at the sample size, and write throughput, with device bytes.

Cold passes drop each file's pages first (fsync, then posix_fadvise(POSIX_FADV_DONTNEED)) and read with
O_DIRECT where the filesystem accepts it (aligned buffer, offsets rounded down and lengths up to 4 KiB),
else with buffered reads (random passes add POSIX_FADV_RANDOM so readahead does not inflate them).
The bytes the device really read come from /proc/diskstats for the file's block device (sectors x 512);
the counter is device-wide, so other processes' reads add to it. A cold pass whose device bytes are
under half its logical bytes came from cache and is flagged `cache_inflated`; on a filesystem without a
block device (tmpfs) every pass is memory and is flagged too, with the reason. Warm passes read what the
previous pass left cached and are labelled `cache: warm`.
"""

from __future__ import annotations

import errno
import mmap
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .datasets import NoSpaceError, Unit

ALIGN = 4096
SECTOR_BYTES = 512
CACHE_INFLATED_BELOW = 0.5  # device bytes / logical bytes under this: the pass was served from cache


@dataclass
class BlockDevice:
    name: str | None  # e.g. "vda"; None when the filesystem has no block device (tmpfs, overlay)
    reason: str | None = None

    def sectors_read(self) -> int | None:
        return _diskstats_field(self.name, 5) if self.name else None


DISKSTATS = Path("/proc/diskstats")


def _diskstats() -> list[tuple[int, int, str, list[str]]]:
    """(major, minor, name, the counters) of every well-formed line; a garbled line is skipped, never fatal
    (a device whose line cannot be read then has no proven device bytes)."""
    rows = []
    for line in DISKSTATS.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) < 4 or not parts[0].isdigit() or not parts[1].isdigit():
            continue
        rows.append((int(parts[0]), int(parts[1]), parts[2], parts[3:]))
    return rows


def _diskstats_field(name: str, index: int) -> int | None:
    """Field `index` (as numbered in the kernel's documentation, 0 = major) of `name`'s line, or None."""
    try:
        for _major, _minor, dev, counters in _diskstats():
            if dev == name:
                value = counters[index - 3] if len(counters) > index - 3 else ""
                return int(value) if value.isdigit() else None
    except OSError:
        return None
    return None


def block_device_for(path: str | Path) -> BlockDevice:
    """The /proc/diskstats device holding `path`, found by its st_dev major:minor."""
    dev = os.stat(path).st_dev
    major, minor = os.major(dev), os.minor(dev)
    if major == 0:
        return BlockDevice(None, f"no block device behind {path} (anonymous device {major}:{minor}: "
                                 "tmpfs, overlay or a network filesystem): bytes come from memory or elsewhere")
    try:
        for dev_major, dev_minor, name, _counters in _diskstats():
            if (dev_major, dev_minor) == (major, minor):
                return BlockDevice(name)
    except OSError as exc:
        return BlockDevice(None, f"/proc/diskstats unreadable: {exc.strerror}")
    return BlockDevice(None, f"device {major}:{minor} not in /proc/diskstats (or its line could not be read)")


def drop_cache(path: str) -> None:
    """Write back and drop the page cache of one file (dirty pages are never dropped)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            os.fsync(fd)
        except OSError:
            pass
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def direct_io_supported(path: str) -> bool:
    """Whether O_DIRECT opens and reads `path` here (tmpfs and some filesystems refuse it)."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | flag)
    except OSError:
        return False
    try:
        buf = mmap.mmap(-1, ALIGN)
        os.preadv(fd, [buf], 0)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


@dataclass
class ReadPass:
    """One pass over read units: what it read, how long each read took, what the device delivered."""

    pattern: str  # "sequential" | "random"
    cache: str  # "cold" | "warm"
    method: str  # "o_direct" | "buffered"
    units: int
    samples: int
    logical_bytes: int
    seconds: float
    read_latencies_s: list[float]
    device: str | None
    device_bytes_read: int | None
    cache_inflated: bool
    cache_reason: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def bytes_per_s(self) -> float:
        return self.logical_bytes / self.seconds if self.seconds > 0 else 0.0

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


def _read_units(units: list[Unit], direct: bool, random_access: bool) -> tuple[int, list[float], int]:
    """Read every unit once; returns logical bytes, per-read seconds and aligned bytes requested."""
    flag = getattr(os, "O_DIRECT", 0) if direct else 0
    fds: dict[str, int] = {}
    latencies: list[float] = []
    logical = aligned_total = 0
    biggest = max((u.length for u in units), default=0) + 2 * ALIGN
    buf = mmap.mmap(-1, -(-biggest // ALIGN) * ALIGN)  # page-aligned, as O_DIRECT needs
    try:
        for unit in units:
            fd = fds.get(unit.path)
            if fd is None:
                fd = fds[unit.path] = os.open(unit.path, os.O_RDONLY | flag)
                if not direct:
                    advice = os.POSIX_FADV_RANDOM if random_access else os.POSIX_FADV_SEQUENTIAL
                    os.posix_fadvise(fd, 0, 0, advice)
            if direct:
                start = unit.offset // ALIGN * ALIGN
                end = -(-(unit.offset + unit.length) // ALIGN) * ALIGN
                view = memoryview(buf)[: end - start]
                t0 = time.perf_counter()
                got = os.preadv(fd, [view], start)
                latencies.append(time.perf_counter() - t0)
                view.release()
                aligned_total += end - start
                logical += max(0, min(got, unit.offset + unit.length - start) - (unit.offset - start))
            else:
                t0 = time.perf_counter()
                data = os.pread(fd, unit.length, unit.offset)
                latencies.append(time.perf_counter() - t0)
                logical += len(data)
                aligned_total += unit.length
    finally:
        for fd in fds.values():
            os.close(fd)
        buf.close()
    return logical, latencies, aligned_total


def read_pass(units: list[Unit], pattern: str, cache: str, *, direct: bool | None = None,
              max_units: int | None = None, seed: int = 0) -> ReadPass:
    """Read `units` (all, or `max_units` of them) sequentially or in random order, cold or warm.

    cold: every file's pages are dropped first; `direct=None` uses O_DIRECT where it works.
    warm: the files are read once untimed first, so the timed pass is served from the page cache.
    """
    chosen = list(units)
    if pattern == "random":
        random.Random(seed).shuffle(chosen)
    if max_units is not None:
        chosen = chosen[:max_units]
    files = sorted({u.path for u in chosen})
    device = block_device_for(files[0]) if files else BlockDevice(None, "no files")
    if cache == "cold":
        for path in files:
            drop_cache(path)
        if direct is None:
            direct = bool(files) and direct_io_supported(files[0])
    else:
        direct = False
        _read_units(chosen, False, False)  # warm the cache
    before = device.sectors_read()
    t0 = time.perf_counter()
    logical, latencies, aligned = _read_units(chosen, bool(direct), pattern == "random")
    seconds = time.perf_counter() - t0
    after = device.sectors_read()
    dev_bytes = None if before is None or after is None else (after - before) * SECTOR_BYTES
    if cache == "warm":
        inflated, why = False, "warm pass: served from the page cache by design (labelled, not a disk figure)"
    elif dev_bytes is None:
        inflated, why = True, device.reason or "device bytes unknown"
    else:
        inflated = dev_bytes < CACHE_INFLATED_BELOW * logical
        why = (f"device read {dev_bytes} B for {logical} B read: served from the page cache" if inflated else None)
    return ReadPass(pattern, cache, "o_direct" if direct else "buffered", len(chosen),
                    sum(u.samples for u in chosen), logical, seconds, latencies, device.name, dev_bytes,
                    inflated, why, {"aligned_bytes_requested": aligned,
                                    "device_counter": "device-wide: other processes' reads count too"})


@dataclass
class WritePass:
    bytes_written: int
    seconds: float
    block_bytes: int
    fsync: bool = True

    @property
    def bytes_per_s(self) -> float:
        return self.bytes_written / self.seconds if self.seconds > 0 else 0.0


def write_pass(directory: Path, total_bytes: int, block_bytes: int = 1 << 20, seed: int = 0) -> WritePass:
    """Write `total_bytes` of random data in `block_bytes` blocks and fsync, timed; the file is removed after.

    ENOSPC/EDQUOT becomes NoSpaceError (the partial file is removed first)."""
    import numpy as np

    from .datasets import FAIL_WRITE_ENV

    path = Path(directory) / f".write_probe_{os.getpid()}.bin"
    block = np.random.default_rng(seed).integers(0, 256, block_bytes, dtype=np.uint8).tobytes()
    written = 0
    try:
        t0 = time.perf_counter()
        with open(path, "wb") as fh:
            while written < total_bytes:
                n = fh.write(block[: min(block_bytes, total_bytes - written)])
                written += n
                if os.environ.get(FAIL_WRITE_ENV, "").lower() == "enospc":
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC) + " (injected)")
            fh.flush()
            os.fsync(fh.fileno())
        seconds = time.perf_counter() - t0
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NoSpaceError(exc.errno, f"no space left on device: write test in {directory}: {exc.strerror}") \
                from exc
        raise
    finally:
        try:
            path.unlink()
        except OSError:
            pass
    return WritePass(written, seconds, block_bytes)
