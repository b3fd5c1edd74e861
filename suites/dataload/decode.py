"""Decode and transform per format, and the CPU ceiling: samples/s on one core and on all usable cores.

The transforms are what a training input pipeline really does: npy uint8 -> normalised float32 with a
random flip; token windows -> int64 inputs and shifted targets; Parquet row groups -> float32 feature
matrix and labels; JPEG -> Pillow decode, random 224x224 crop, random flip, normalised float32 CHW.
The CPU ceiling decodes from bytes already in memory, so storage is not part of it.
"""

from __future__ import annotations

import io
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .datasets import Dataset, Unit

CROP = 224
MEAN, STD = 127.5, 64.0


def decode_unit(fmt: str, raw: bytes, unit: Unit, rng: np.random.Generator, spec_shape: tuple[int, ...] = (),
                parquet_source: Any = None) -> np.ndarray:
    """One read unit's bytes to the arrays the model sees (returns the main array)."""
    if fmt == "npy":
        x = np.frombuffer(raw, np.uint8).reshape(spec_shape).astype(np.float32)
        x = (x - MEAN) / STD
        return x[:, :, ::-1].copy() if rng.random() < 0.5 else x
    if fmt == "memmap":
        t = np.frombuffer(raw, np.uint16).astype(np.int64)
        return np.stack([t[:-1], t[1:]])
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        source = parquet_source if parquet_source is not None else pa.BufferReader(raw)
        table = pq.ParquetFile(source).read_row_group(unit.index)
        feats = table.column("features").combine_chunks()
        x = feats.values.to_numpy().reshape(len(table), -1).astype(np.float32, copy=False)
        return x
    if fmt == "jpeg":
        from PIL import Image

        img = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
        h, w, _ = img.shape
        top, left = int(rng.integers(0, h - CROP + 1)), int(rng.integers(0, w - CROP + 1))
        crop = img[top:top + CROP, left:left + CROP]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        return ((crop.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1).copy()
    raise ValueError(f"unknown format {fmt!r}")


def load_unit(ds: Dataset, unit: Unit, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Fetch + decode one unit from storage; returns the array and the stored bytes read."""
    fmt = ds.spec.format
    if fmt == "parquet":
        return decode_unit(fmt, b"", unit, rng, parquet_source=unit.path), unit.length
    with open(unit.path, "rb") as fh:
        raw = os.pread(fh.fileno(), unit.length, unit.offset)
    return decode_unit(fmt, raw, unit, rng, ds.spec.shape), len(raw)


@dataclass
class DecodeCeiling:
    processes: int
    samples: int  # decoded by all processes together
    seconds: float  # the longest process's decode time
    decoded_bytes: int
    samples_per_s: float  # sum over processes of each one's samples / its own seconds


def _load_memory(ds: Dataset, units: list[Unit]) -> dict[str, Any]:
    import pyarrow as pa

    mem: dict[str, Any] = {}
    for path in sorted({u.path for u in units}):
        with open(path, "rb") as fh:
            data = fh.read()
        mem[path] = pa.BufferReader(data) if ds.spec.format == "parquet" else data
    return mem


def _decode_loop(ds: Dataset, units: list[Unit], duration_s: float, seed: int) -> tuple[int, float, int]:
    """Decode units from memory round-robin for about `duration_s`; returns samples, seconds, decoded bytes."""
    mem = _load_memory(ds, units)
    rng = np.random.default_rng(seed)
    fmt = ds.spec.format
    samples = nbytes = 0
    t0 = time.perf_counter()
    i = 0
    while True:
        unit = units[i % len(units)]
        if fmt == "parquet":
            out = decode_unit(fmt, b"", unit, rng, parquet_source=mem[unit.path])
        else:
            raw = mem[unit.path][unit.offset:unit.offset + unit.length]
            out = decode_unit(fmt, raw, unit, rng, ds.spec.shape)
        samples += unit.samples
        nbytes += out.nbytes
        i += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= duration_s and i >= 4:
            return samples, elapsed, nbytes


def decode_ceiling(ds: Dataset, processes: int, duration_s: float, max_units: int = 512,
                   seed: int = 0) -> DecodeCeiling:
    """Decode throughput with `processes` processes, each decoding from memory for `duration_s`.

    Samples/s over all processes is the sum of each process's samples/s (they run at the same time)."""
    units = ds.units[:max_units]
    if processes <= 1:
        n, s, b = _decode_loop(ds, units, duration_s, seed)
        return DecodeCeiling(1, n, s, b, n / s)
    import multiprocessing as mp

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    with ProcessPoolExecutor(processes, mp_context=ctx) as pool:
        futures = [pool.submit(_decode_loop, ds, units[k::processes] or units, duration_s, seed + k)
                   for k in range(processes)]
        parts = [f.result() for f in futures]
    return DecodeCeiling(processes, sum(n for n, _, _ in parts), max(s for _, s, _ in parts),
                         sum(b for _, _, b in parts), sum(n / s for n, s, _ in parts))
