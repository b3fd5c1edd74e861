"""Data-loading storage: cold reads after DONTNEED reach the device, and a full disk is one clear error."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from infrabench.suites.dataload.datasets import DatasetSpec, NoSpaceError, Unit, ensure_dataset
from infrabench.suites.dataload.storage import block_device_for, read_pass

REAL_DISK_DIR = Path("/var/tmp")


def _file_units(path: Path, chunk: int = 1 << 20) -> list[Unit]:
    size = path.stat().st_size
    return [Unit(str(path), off, min(chunk, size - off), 1, i) for i, off in enumerate(range(0, size, chunk))]


def test_cold_read_after_dontneed_reaches_the_device(tmp_path: Path) -> None:
    base = REAL_DISK_DIR if REAL_DISK_DIR.is_dir() else tmp_path
    dev = block_device_for(base)
    if dev.name is None:
        pytest.skip(f"no block device behind {base}: {dev.reason}")
    path = base / f"ib_cold_{os.getpid()}.bin"
    try:
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 32 << 20, dtype=np.uint8).tobytes())
        warm = read_pass(_file_units(path), "sequential", "warm")
        cold = read_pass(_file_units(path), "sequential", "cold", direct=False)
        size = path.stat().st_size
        assert cold.logical_bytes == size
        assert cold.device_bytes_read is not None
        assert cold.device_bytes_read >= 0.9 * size, (cold.device_bytes_read, size)
        assert cold.device_bytes_read <= size + (256 << 20)  # device-wide counter: room for others' reads
        assert not cold.cache_inflated
        assert warm.cache == "warm" and warm.method == "buffered"
    finally:
        path.unlink(missing_ok=True)


def test_cold_read_on_tmpfs_is_flagged() -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or block_device_for(shm).name is not None:
        pytest.skip("no tmpfs at /dev/shm on this machine")
    path = shm / f"ib_cold_{os.getpid()}.bin"
    try:
        path.write_bytes(b"x" * (1 << 20))
        p = read_pass(_file_units(path), "sequential", "cold")
        assert p.device_bytes_read is None and p.cache_inflated and "no block device" in (p.cache_reason or "")
    finally:
        path.unlink(missing_ok=True)


def _run_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infrabench.cli", "run", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def _assert_no_space_exit(proc: subprocess.CompletedProcess, data: Path) -> None:
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("infrabench: error: no space left on device"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(data.iterdir()) == []


def test_injected_enospc_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "D"
    data.mkdir()
    proc = _run_cli(["--suite", "dataload", "--backend", "numpy", "--data-dir", str(data),
                     "--out", str(tmp_path / "out")], {"INFRABENCH_DATALOAD_FAIL_WRITE": "enospc"})
    _assert_no_space_exit(proc, data)


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_real_enospc_removes_partial_dataset(small_tmpfs: Path) -> None:
    spec = DatasetSpec("npy", "npy", 256, shape=(3, 64, 64), shards=4)  # 3 MB: does not fit in 1 MB
    with pytest.raises(NoSpaceError) as info:
        ensure_dataset(spec, small_tmpfs)
    assert info.value.errno == errno.ENOSPC
    assert str(info.value.strerror).startswith("no space left on device")
    assert [p.name for p in small_tmpfs.iterdir() if not p.name.endswith(".lock")] == []


def test_full_tmpfs_run_is_one_error_line(small_tmpfs: Path, tmp_path: Path) -> None:
    proc = _run_cli(["--suite", "dataload", "--backend", "numpy", "--data-dir", str(small_tmpfs),
                     "--out", str(tmp_path / "out")])
    _assert_no_space_exit(proc, small_tmpfs)
