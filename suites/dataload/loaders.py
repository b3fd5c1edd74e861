"""Loaders, measured the way a training loop sees them: samples/s, stored and decoded MB/s, the time each
step waits for its batch (p50/p95/p99), and RSS growth of the loading processes.

- `ThreadPoolReader`: a plain thread pool reading and decoding units, with a bounded prefetch queue;
  `delay_s` slows every unit on purpose (used to check that a slow loader is named as the bottleneck).
- torch `DataLoader` over the same units (workers, prefetch_factor, pin_memory, persistent workers).
- jax: the thread-pool reader feeding `jax.device_put` (+ block_until_ready) per batch.
The first batch (pool or worker start-up) is timed apart and left out of the rates.
"""

from __future__ import annotations

import os
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .datasets import Dataset, Unit
from .decode import load_unit


def units_per_batch(ds: Dataset, batch_samples: int) -> int:
    per = max(1, ds.units[0].samples) if ds.units else 1
    return max(1, -(-batch_samples // per))


def collate(arrays: list[np.ndarray], per_unit_samples: int) -> np.ndarray:
    return np.concatenate(arrays) if per_unit_samples > 1 else np.stack(arrays)


class ThreadPoolReader:
    """Endless shuffled batches of `batch_samples` samples read and decoded by `threads` threads."""

    def __init__(self, ds: Dataset, batch_samples: int, threads: int, prefetch_batches: int = 2,
                 seed: int = 0, delay_s: float = 0.0):
        self.ds = ds
        self.per_batch = units_per_batch(ds, batch_samples)
        self.threads = max(1, threads)
        self.delay_s = delay_s
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="ib-reader")
        self.order: list[Unit] = []
        self.rng = random.Random(seed)
        self.seed = seed
        self.pending: deque[Future] = deque()
        self.depth = max(1, prefetch_batches) * self.per_batch
        self.stored_bytes = 0
        self.decoded_bytes = 0
        self.samples = 0
        self._n = 0

    def _next_unit(self) -> Unit:
        if not self.order:
            self.order = list(self.ds.units)
            self.rng.shuffle(self.order)
        return self.order.pop()

    def _work(self, unit: Unit, k: int) -> tuple[np.ndarray, int]:
        if self.delay_s:
            time.sleep(self.delay_s)
        return load_unit(self.ds, unit, np.random.default_rng((self.seed, k)))

    def _fill(self) -> None:
        while len(self.pending) < self.depth + self.per_batch:
            self._n += 1
            self.pending.append(self.pool.submit(self._work, self._next_unit(), self._n))

    def __iter__(self) -> Iterator[np.ndarray]:
        return self

    def __next__(self) -> np.ndarray:
        self._fill()
        arrays = []
        for _ in range(self.per_batch):
            arr, stored = self.pending.popleft().result()
            arrays.append(arr)
            self.stored_bytes += stored
        self._fill()
        batch = collate(arrays, self.ds.units[0].samples)
        self.decoded_bytes += batch.nbytes
        self.samples += batch.shape[0]
        return batch

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_s": None, "p95_s": None, "p99_s": None}
    arr = np.asarray(values)
    return {f"p{q}_s": float(np.percentile(arr, q)) for q in (50, 95, 99)}


@dataclass
class LoaderRun:
    loader: str  # "threadpool" | "torch" | "jax_device_put"
    format: str
    workers: int
    batch_samples: int
    steps: int  # timed steps (first excluded)
    samples: int
    seconds: float
    stored_bytes: int
    decoded_bytes: int
    waits_s: list[float]
    first_batch_s: float
    rss_growth_bytes: int | None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        s = max(self.seconds, 1e-12)
        return {"loader": self.loader, "format": self.format, "workers": self.workers,
                "batch_samples": self.batch_samples, "steps": self.steps, "samples_per_s": self.samples_per_s,
                "stored_mb_per_s": self.stored_bytes / s / 1e6, "decoded_mb_per_s": self.decoded_bytes / s / 1e6,
                "data_wait": percentiles(self.waits_s), "first_batch_s": self.first_batch_s,
                "rss_growth_bytes": self.rss_growth_bytes, **self.options}


def _rss(pids: Callable[[], list[int]]) -> int | None:
    try:
        import psutil
    except ImportError:
        return None
    total = 0
    for pid in pids():
        try:
            total += psutil.Process(pid).memory_info().rss
        except Exception:  # noqa: BLE001 - a worker that just ended has no RSS
            continue
    return total


def _self_pid() -> list[int]:
    return [os.getpid()]


def _children() -> list[int]:
    try:
        import psutil

        return [c.pid for c in psutil.Process().children(recursive=True)]
    except Exception:  # noqa: BLE001
        return []


def drive(loader: str, fmt: str, workers: int, batch_samples: int, batches: Iterator[Any], steps: int,
          sizes: Callable[[Any], tuple[int, int, int]], rss_pids: Callable[[], list[int]] = _self_pid,
          consume: Callable[[Any], Any] | None = None, options: dict[str, Any] | None = None) -> LoaderRun:
    """Pull `steps` + 1 batches; the first is start-up. `sizes(batch)` -> (samples, stored, decoded) bytes."""
    t0 = time.perf_counter()
    first = next(batches)
    if consume:
        consume(first)
    first_s = time.perf_counter() - t0
    rss0 = _rss(rss_pids)
    waits: list[float] = []
    samples = stored = decoded = 0
    start = time.perf_counter()
    for _ in range(steps):
        t = time.perf_counter()
        batch = next(batches)
        if consume:
            batch = consume(batch)
        waits.append(time.perf_counter() - t)
        n, sb, db = sizes(batch)
        samples, stored, decoded = samples + n, stored + sb, decoded + db
    seconds = time.perf_counter() - start
    rss1 = _rss(rss_pids)
    growth = None if rss0 is None or rss1 is None else rss1 - rss0
    return LoaderRun(loader, fmt, workers, batch_samples, steps, samples, seconds, stored, decoded, waits,
                     first_s, growth, options or {})


def run_threadpool(ds: Dataset, batch_samples: int, threads: int, steps: int, seed: int = 0,
                   delay_s: float = 0.0, consume: Callable[[Any], Any] | None = None,
                   name: str = "threadpool") -> LoaderRun:
    reader = ThreadPoolReader(ds, batch_samples, threads, seed=seed, delay_s=delay_s)
    stored_per_sample = ds.sample_bytes

    def sizes(batch: Any) -> tuple[int, int, int]:
        n = int(batch.shape[0])
        return n, int(n * stored_per_sample), int(batch.nbytes) if hasattr(batch, "nbytes") else 0

    try:
        return drive(name, ds.spec.format, threads, batch_samples, reader, steps, sizes, consume=consume,
                     options={"prefetch_batches": 2, "delay_s": delay_s})
    finally:
        reader.close()


class TorchUnits:
    """Map-style torch dataset over read units (picklable: workers re-open files themselves)."""

    def __init__(self, ds: Dataset, seed: int = 0):
        self.ds = ds
        self.seed = seed

    def __len__(self) -> int:
        return len(self.ds.units)

    def __getitem__(self, i: int) -> Any:
        import torch

        arr, _ = load_unit(self.ds, self.ds.units[i], np.random.default_rng((self.seed, i)))
        return torch.from_numpy(arr)


def _torch_collate(items: list[Any]) -> Any:
    import torch

    return torch.cat(items) if items[0].dim() >= 2 and items[0].shape[0] > 1 and len(items[0].shape) == 2 \
        else torch.stack(items)


def run_torch(ds: Dataset, batch_samples: int, workers: int, steps: int, prefetch_factor: int = 2,
              seed: int = 0) -> LoaderRun:
    import torch
    from torch.utils.data import DataLoader, RandomSampler

    per = units_per_batch(ds, batch_samples)
    pin = bool(torch.cuda.is_available())
    gen = torch.Generator().manual_seed(seed)
    kwargs: dict[str, Any] = {"batch_size": per, "num_workers": workers, "pin_memory": pin,
                              "sampler": RandomSampler(TorchUnits(ds, seed), replacement=True,
                                                       num_samples=(steps + 2) * per, generator=gen),
                              "collate_fn": _torch_collate if ds.units[0].samples > 1 else None}
    if workers > 0:
        kwargs.update(prefetch_factor=prefetch_factor, persistent_workers=True,
                      multiprocessing_context="fork")
    loader = DataLoader(TorchUnits(ds, seed), **kwargs)
    stored_per_sample = ds.sample_bytes

    def sizes(batch: Any) -> tuple[int, int, int]:
        n = int(batch.shape[0])
        return n, int(n * stored_per_sample), int(batch.numel() * batch.element_size())

    it = iter(loader)
    try:
        return drive("torch", ds.spec.format, workers, per * ds.units[0].samples, it, steps, sizes,
                     rss_pids=_children if workers > 0 else _self_pid,
                     options={"prefetch_factor": prefetch_factor if workers else None, "pin_memory": pin,
                              "persistent_workers": workers > 0})
    finally:
        del it
        del loader


def run_jax(ds: Dataset, batch_samples: int, threads: int, steps: int, seed: int = 0) -> LoaderRun:
    """The thread-pool reader feeding jax.device_put; each step waits until the array is on the device."""
    import jax

    device = jax.devices()[0]

    def put(batch: np.ndarray) -> Any:
        out = jax.device_put(batch, device)
        out.block_until_ready()
        return out

    run = run_threadpool(ds, batch_samples, threads, steps, seed, consume=put, name="jax_device_put")
    run.options["device"] = str(device)
    return run
