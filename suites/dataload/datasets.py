"""Synthetic datasets generated locally (never downloaded), described by a manifest and shared by workers.

Four formats, each cut into read units (what one storage read fetches):
- npy: `.npy` shards of uint8 images; one unit = one sample (a byte range inside a shard);
- memmap: one flat uint16 token stream (`np.memmap`); one unit = one sequence of seq_len+1 tokens;
- parquet: pyarrow files with a chosen row-group size and codec; one unit = one row group;
- jpeg: one JPEG file per image (Pillow); one unit = one file.

A dataset lives in `<data_dir>/<name>/` with `manifest.json` written last; a directory whose manifest
matches the spec is reused. Generation holds an fcntl lock on `<data_dir>/.<name>.lock` so two workers
never write the same dataset (the lock file stays; the run's cleanup removes it with the data).
A write that fails (ENOSPC above all) removes the partial directory and raises
`NoSpaceError` / OSError; nothing is left behind.
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = "manifest.json"
FORMATS: tuple[str, ...] = ("npy", "memmap", "parquet", "jpeg")
FAIL_WRITE_ENV = "INFRABENCH_DATALOAD_FAIL_WRITE"  # test hook: "enospc" makes dataset writes fail
MANIFEST_VERSION = 1


class NoSpaceError(OSError):
    """A dataset write failed because the filesystem is full (ENOSPC/EDQUOT); partial files were removed."""


@dataclass(frozen=True)
class DatasetSpec:
    """What to generate. Changing any field changes the manifest, so an old dataset is not reused."""

    name: str
    format: str
    samples: int
    shape: tuple[int, ...] = ()  # npy: (C, H, W) uint8; jpeg: (H, W, 3); parquet: (features,)
    seq_len: int = 0  # memmap: tokens per sample (+1 for the shifted target)
    shards: int = 1  # npy/parquet: files
    row_group_rows: int = 0  # parquet
    codec: str = "zstd"  # parquet
    quality: int = 90  # jpeg
    seed: int = 0

    def key(self) -> dict[str, Any]:
        return {"version": MANIFEST_VERSION, **asdict(self)}


@dataclass(frozen=True)
class Unit:
    """One storage read: `length` bytes at `offset` of `path`, holding `samples` samples."""

    path: str
    offset: int
    length: int
    samples: int
    index: int = 0  # row group index (parquet) or sample index


@dataclass
class Dataset:
    spec: DatasetSpec
    root: Path
    files: list[str]
    units: list[Unit]
    bytes_on_disk: int
    sample_bytes: float  # mean stored bytes per sample
    decoded_sample_bytes: int  # bytes of one decoded sample as the model sees it
    reused: bool = False
    generate_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        return sum(u.samples for u in self.units)


# --- sizes per run profile ----------------------------------------------------------------------------

def specs_for(profile: str, seed: int = 0, memory_bytes: int | None = None) -> list[DatasetSpec]:
    """Dataset specs for a run profile. quick: tens of MB each (CI); standard: ~1 GB each; full: npy sized
    to 1.25x the machine's memory so the page cache cannot hold it."""
    scale = {"quick": 1, "standard": 24, "full": 96}.get(profile, 1)
    npy_samples = 1024 * scale
    if profile == "full" and memory_bytes:
        npy_samples = max(npy_samples, int(1.25 * memory_bytes / (3 * 128 * 128)))
    return [
        DatasetSpec("npy", "npy", npy_samples, shape=(3, 128, 128), shards=max(8, npy_samples // 512), seed=seed),
        DatasetSpec("memmap", "memmap", 8192 * scale, seq_len=1024, seed=seed),
        DatasetSpec("parquet", "parquet", 4096 * scale, shape=(1024,), shards=max(4, 4 * scale // 4),
                    row_group_rows=256, codec="zstd", seed=seed),
        DatasetSpec("jpeg", "jpeg", 512 * scale, shape=(256, 256, 3), quality=90, seed=seed),
    ]


# --- writing ------------------------------------------------------------------------------------------

def _check_injected_failure(written: int) -> None:
    """Test hook: INFRABENCH_DATALOAD_FAIL_WRITE=enospc fails a write once some bytes are on disk."""
    if os.environ.get(FAIL_WRITE_ENV, "").lower() == "enospc" and written > 0:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC) + " (injected)")


def _write_bytes(path: Path, data: bytes, written: list[int]) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())  # dirty pages cannot be dropped; cold reads need them on disk
    written[0] += len(data)
    _check_injected_failure(written[0])


def _image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random image with noise: compresses like a photo, not like constant or white noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    for c in range(3):
        fx, fy, ph = rng.uniform(0.01, 0.08, 2).tolist() + [rng.uniform(0, 6.28)]
        img[..., c] = 127 + 80 * np.sin(xx * fx + ph) * np.cos(yy * fy)
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _generate(spec: DatasetSpec, root: Path) -> None:
    rng = np.random.default_rng(spec.seed)
    written = [0]
    if spec.format == "npy":
        per = -(-spec.samples // spec.shards)
        left = spec.samples
        for i in range(spec.shards):
            n = min(per, left)
            left -= n
            if n <= 0:
                break
            buf = io.BytesIO()  # numpy's own file writes lose errno on a short write; file.write keeps it
            np.save(buf, rng.integers(0, 256, (n, *spec.shape), dtype=np.uint8))
            _write_bytes(root / f"shard_{i:05d}.npy", buf.getvalue(), written)
    elif spec.format == "memmap":
        # Written with file writes, not through a writable memmap: a full disk is then ENOSPC, not SIGBUS.
        tokens = spec.samples * (spec.seq_len + 1)
        chunk = 1 << 22
        with open(root / "tokens.u16", "wb") as fh:
            for start in range(0, tokens, chunk):
                n = min(chunk, tokens - start)
                fh.write(rng.zipf(1.3, n).clip(0, 50256).astype(np.uint16).tobytes())  # token-like frequencies
                written[0] += n * 2
                _check_injected_failure(written[0])
            fh.flush()
            os.fsync(fh.fileno())
    elif spec.format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        per = -(-spec.samples // spec.shards)
        left, base = spec.samples, 0
        for i in range(spec.shards):
            n = min(per, left)
            left -= n
            if n <= 0:
                break
            feats = np.round(rng.normal(0, 1, (n, spec.shape[0])), 2).astype(np.float32)
            table = pa.table({
                "label": pa.array(rng.integers(0, 1000, n), pa.int64()),
                "id": pa.array(np.arange(base, base + n), pa.int64()),
                "features": pa.FixedSizeListArray.from_arrays(pa.array(feats.ravel()), spec.shape[0]),
            })
            base += n
            path = root / f"part_{i:05d}.parquet"
            pq.write_table(table, path, row_group_size=spec.row_group_rows, compression=spec.codec)
            with open(path, "rb+") as fh:
                os.fsync(fh.fileno())
            written[0] += path.stat().st_size
            _check_injected_failure(written[0])
    elif spec.format == "jpeg":
        from PIL import Image

        h, w, _ = spec.shape
        for i in range(spec.samples):
            buf = io.BytesIO()
            Image.fromarray(_image(rng, h, w)).save(buf, format="JPEG", quality=spec.quality)
            _write_bytes(root / f"img_{i:06d}.jpg", buf.getvalue(), written)
    else:
        raise ValueError(f"unknown dataset format {spec.format!r}")


def _units(spec: DatasetSpec, root: Path) -> tuple[list[str], list[Unit], int]:
    files: list[str] = []
    units: list[Unit] = []
    if spec.format == "npy":
        sample = int(np.prod(spec.shape))
        for path in sorted(root.glob("shard_*.npy")):
            arr = np.load(path, mmap_mode="r")
            header = arr.offset
            for j in range(arr.shape[0]):
                units.append(Unit(str(path), header + j * sample, sample, 1, len(units)))
            files.append(str(path))
    elif spec.format == "memmap":
        path = root / "tokens.u16"
        files.append(str(path))
        length = (spec.seq_len + 1) * 2
        units = [Unit(str(path), i * length, length, 1, i) for i in range(spec.samples)]
    elif spec.format == "parquet":
        import pyarrow.parquet as pq

        for path in sorted(root.glob("part_*.parquet")):
            meta = pq.ParquetFile(path).metadata
            for g in range(meta.num_row_groups):
                rg = meta.row_group(g)
                starts = []
                for c in range(rg.num_columns):
                    col = rg.column(c)
                    starts.append(col.dictionary_page_offset or col.data_page_offset)
                offset = min(starts)
                units.append(Unit(str(path), offset, _rg_bytes(rg), rg.num_rows, g))
            files.append(str(path))
    elif spec.format == "jpeg":
        for i, path in enumerate(sorted(root.glob("img_*.jpg"))):
            units.append(Unit(str(path), 0, path.stat().st_size, 1, i))
            files.append(str(path))
    total = sum(Path(f).stat().st_size for f in files)
    return files, units, total


def _rg_bytes(rg: Any) -> int:
    """Stored (compressed) bytes of a row group: what reading it fetches from the file."""
    return int(sum(rg.column(c).total_compressed_size for c in range(rg.num_columns)))


def decoded_sample_bytes(spec: DatasetSpec) -> int:
    if spec.format == "npy":
        return int(np.prod(spec.shape)) * 4  # float32 after normalisation
    if spec.format == "memmap":
        return spec.seq_len * 8 * 2  # int64 inputs and targets
    if spec.format == "parquet":
        return spec.shape[0] * 4 + 8
    if spec.format == "jpeg":
        return 3 * 224 * 224 * 4
    raise ValueError(spec.format)


@contextmanager
def _locked(data_dir: Path, name: str) -> Iterator[None]:
    with open(data_dir / f".{name}.lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _is_no_space(exc: OSError) -> bool:
    """ENOSPC/EDQUOT, also from libraries that drop errno (pyarrow) but keep the message."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT) or "no space left on device" in str(exc).lower()


def ensure_dataset(spec: DatasetSpec, data_dir: Path) -> Dataset:
    """The dataset for `spec` in `data_dir`: reused when its manifest matches, else generated under a lock."""
    import time

    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    root = data_dir / spec.name
    try:
        with _locked(data_dir, spec.name):
            manifest = root / MANIFEST
            reused = False
            gen_s = None
            if manifest.exists():
                try:
                    reused = json.loads(manifest.read_text()).get("spec") == json.loads(json.dumps(spec.key()))
                except ValueError:
                    reused = False
            if not reused:
                shutil.rmtree(root, ignore_errors=True)
                tmp = data_dir / f".{spec.name}.partial"
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir()
                t0 = time.perf_counter()
                try:
                    _generate(spec, tmp)
                    files, units, total = _units(spec, tmp)
                    gen_s = time.perf_counter() - t0
                    (tmp / MANIFEST).write_text(json.dumps({"spec": spec.key(), "bytes_on_disk": total,
                                                            "files": len(files), "generate_s": gen_s}))
                    os.replace(tmp, root)
                except BaseException:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
            files, units, total = _units(spec, root)
    except OSError as exc:
        if _is_no_space(exc):
            shutil.rmtree(root, ignore_errors=True)
            why = exc.strerror or str(exc)
            raise NoSpaceError(exc.errno or errno.ENOSPC,
                               f"no space left on device: writing dataset {spec.name} in {data_dir}: {why}") from exc
        raise
    samples = sum(u.samples for u in units)
    return Dataset(spec, root, files, units, total, total / max(samples, 1), decoded_sample_bytes(spec),
                   reused=reused, generate_s=gen_s)


def check_free_space(data_dir: Path, specs: list[DatasetSpec], estimate_bytes: int) -> None:
    """Refuse before writing when the filesystem clearly cannot hold the datasets (no partial files)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(data_dir).free
    if free < estimate_bytes:
        raise NoSpaceError(errno.ENOSPC, f"no space left on device: {data_dir} has {free / 1e9:.2f} GB free, "
                                         f"the datasets need about {estimate_bytes / 1e9:.2f} GB")


def estimate_bytes(spec: DatasetSpec) -> int:
    """Rough stored size before generating (jpeg ~0.3 B/pixel at q90 on these images)."""
    if spec.format == "npy":
        return spec.samples * int(np.prod(spec.shape))
    if spec.format == "memmap":
        return spec.samples * (spec.seq_len + 1) * 2
    if spec.format == "parquet":
        return spec.samples * spec.shape[0] * 3
    return spec.samples * int(np.prod(spec.shape)) // 3
