"""Data-loading suite entry: `run_suite(backend, opts, emit)`, split over the backend workers.

numpy worker: datasets, write throughput, cold/warm reads with device bytes, CPU decode ceilings, the
thread-pool loader and the emulated training runs. torch worker: the DataLoader sweep. jax worker:
jax.device_put feeding. Datasets are shared through `suite_args["data_dir"]` (generated once, under a
lock); without it a temporary directory is used and removed when the suite ends.

Timing: every result's `samples_s` holds wall seconds of whole passes (perf_counter around real reads or
loader steps; CPU work is synchronous, so nothing needs syncing), one entry per pass; `work` is what that
pass did ({"bytes": n} for storage, {"samples": n} otherwise). For the all-core decode ceiling the pass
seconds are effective seconds: samples / (sum of each process's samples/s).

suite_args: data_dir, keep_data (parent's cleanup), formats (subset of npy,memmap,parquet,jpeg),
profiles (accelerator profile names), extra_profiles (AccelProfile fields as dicts), loader_delay_s
(slow the thread-pool loader on purpose: tests).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from infrabench.probes.machine_view import MachineView

from ..backends.base import Backend
from ..options import Emit, SuiteOptions
from ..result import BenchResult
from .datasets import FORMATS, Dataset, NoSpaceError, check_free_space, ensure_dataset, estimate_bytes, specs_for
from .profiles import PROFILES, AccelProfile

log = logging.getLogger(__name__)

SUITE = "dataload"
HOST_DEVICE = {"jax": "cpu:0"}  # every other backend calls the host CPU "cpu"
BATCH = {"npy": 64, "memmap": 64, "parquet": 1024, "jpeg": 32}
SIZES = {  # per run profile: loader steps, decode seconds, random-read cap, emulation steps and trials, write bytes
    "quick": {"steps": 8, "decode_s": 0.4, "max_random": 2048, "emu_steps": 4, "emu_trials": 5, "write": 32 << 20,
              "max_step_s": 0.05},
    "standard": {"steps": 40, "decode_s": 2.0, "max_random": 20000, "emu_steps": 10, "emu_trials": 8,
                 "write": 1 << 30, "max_step_s": 0.2},
    "full": {"steps": 100, "decode_s": 5.0, "max_random": 100000, "emu_steps": 20, "emu_trials": 10,
             "write": 4 << 30, "max_step_s": 1.0},
}


def usable_cpus(opts: SuiteOptions) -> int:
    return MachineView(opts.machine).usable_cpus(opts.threads)


def host_device(backend: str) -> str:
    """The host CPU under the backend's own name, as its other suites write it (jax numbers its CPU)."""
    return HOST_DEVICE.get(backend, "cpu")


def _result(name: str, backend: str, params: dict[str, Any], seconds: float, work: dict[str, float],
            extra: dict[str, Any], env: dict[str, Any] | None = None) -> BenchResult:
    return BenchResult(SUITE, name, backend, host_device(backend), "-", params=params, samples_s=[seconds],
                       iterations=1, timer="perf_counter (wall, whole pass)", work=work, extra=extra, env=env or {})


def _failed(name: str, backend: str, reason: str, params: dict[str, Any] | None = None) -> BenchResult:
    return BenchResult(SUITE, name, backend, "-", "-", params=params or {}, status="failed", reason=reason)


def prepare(opts: SuiteOptions, data_dir: Path, formats: list[str]) -> dict[str, Dataset]:
    mem = ((opts.machine or {}).get("memory") or {}).get("usable_bytes")
    specs = [s for s in specs_for(opts.profile, opts.seed, mem) if s.format in formats]
    check_free_space(data_dir, specs, sum(estimate_bytes(s) for s in specs if not (data_dir / s.name).exists()))
    return {s.format: ensure_dataset(s, data_dir) for s in specs}


def run_suite(backend: Backend, opts: SuiteOptions, emit: Emit) -> None:
    host = host_device(backend.name)
    if not opts.wants_device(host):
        emit(BenchResult(SUITE, "suite", backend.name, host, "-", status="skipped",
                         reason=f"data loading runs on the host CPU ({host}), which --device leaves out"))
        return
    args = opts.suite_args or {}
    formats = [f for f in (args.get("formats") or FORMATS) if f in FORMATS]
    own_dir = not args.get("data_dir")
    data_dir = Path(args["data_dir"]) if not own_dir else Path(tempfile.mkdtemp(prefix="infrabench-data-"))
    try:
        try:
            datasets = prepare(opts, data_dir, formats)
        except NoSpaceError as exc:
            emit(_failed("datasets", backend.name, exc.strerror or str(exc)))
            return
        for ds in datasets.values():
            emit(_dataset_result(ds, backend.name))
        if backend.name == "numpy":
            _numpy_part(datasets, data_dir, opts, emit)
        elif backend.name == "torch":
            _torch_part(datasets, opts, emit)
        elif backend.name == "jax":
            _jax_part(datasets, opts, emit)
    finally:
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def _dataset_result(ds: Dataset, backend: str) -> BenchResult:
    """Generation as a write figure when this worker generated the dataset; a plain record when reused."""
    info = {"format": ds.spec.format, "bytes_on_disk": ds.bytes_on_disk, "samples": ds.samples,
            "files": len(ds.files), "units": len(ds.units), "sample_bytes": ds.sample_bytes,
            "decoded_sample_bytes": ds.decoded_sample_bytes, "reused": ds.reused, "spec": ds.spec.key(),
            "path": str(ds.root)}
    if ds.generate_s:
        return _result("generate", backend, {"format": ds.spec.format}, ds.generate_s, {"bytes": ds.bytes_on_disk},
                       {**info, "note": "generation time includes creating the data (CPU), not only the writes"})
    return BenchResult(SUITE, "dataset", backend, host_device(backend), "-", params={"format": ds.spec.format},
                       status="skipped", extra=info,
                       reason="dataset reused (generated earlier in this run or a kept data dir)")


def _numpy_part(datasets: dict[str, Dataset], data_dir: Path, opts: SuiteOptions, emit: Emit) -> None:
    from .decode import decode_ceiling
    from .emulate import find_n_max
    from .loaders import percentiles, run_threadpool
    from .storage import read_pass, write_pass

    size = SIZES.get(opts.profile, SIZES["quick"])
    cpus = usable_cpus(opts)
    args = opts.suite_args or {}
    delay = float(args.get("loader_delay_s") or 0.0)
    try:
        w = write_pass(data_dir, size["write"], seed=opts.seed)
        emit(_result("write", "numpy", {"block_bytes": w.block_bytes}, w.seconds, {"bytes": w.bytes_written},
                     {"fsync": True, "bytes_written": w.bytes_written}))
    except NoSpaceError as exc:
        emit(_failed("write", "numpy", exc.strerror or str(exc)))
        return
    loader_rate: dict[str, float] = {}
    for fmt, ds in datasets.items():
        for pattern, cache in (("sequential", "cold"), ("random", "cold"), ("random", "warm")):
            p = read_pass(ds.units, pattern, cache, max_units=size["max_random"], seed=opts.seed)
            emit(_result("read", "numpy", {"format": fmt, "pattern": pattern, "cache": cache}, p.seconds,
                         {"bytes": p.logical_bytes},
                         {"format": fmt, "cache": cache, "method": p.method, "units": p.units, "samples": p.samples,
                          "samples_per_s": p.samples_per_s, "sample_bytes": ds.sample_bytes,
                          "unit_bytes": p.logical_bytes / max(p.units, 1), "device": p.device,
                          "device_bytes_read": p.device_bytes_read, "cache_inflated": p.cache_inflated,
                          "cache_reason": p.cache_reason, "read_latency": percentiles(p.read_latencies_s),
                          **p.extra}))
        for procs in sorted({1, cpus}):
            c = decode_ceiling(ds, procs, size["decode_s"], seed=opts.seed)
            emit(_result("decode", "numpy", {"format": fmt, "processes": procs}, c.samples / c.samples_per_s,
                         {"samples": c.samples},
                         {"format": fmt, "samples_per_s": c.samples_per_s, "decoded_bytes": c.decoded_bytes,
                          "seconds_note": "effective: samples / sum of per-process samples/s"}))
        run = run_threadpool(ds, BATCH[fmt], cpus, size["steps"], opts.seed, delay_s=delay)
        loader_rate[fmt] = run.samples_per_s
        emit(_loader_result(run, "numpy"))
    wanted = args.get("profiles")
    extra = [AccelProfile(**{k: v for k, v in p.items() if k != "threshold_au"})
             for p in args.get("extra_profiles") or []]
    for prof in (*PROFILES, *extra):
        if (wanted and prof.name not in wanted) or prof.format not in datasets:
            continue
        search = find_n_max(datasets[prof.format], prof, loader_rate[prof.format], cpus,
                            max_trials=size["emu_trials"], steps=size["emu_steps"], max_step_s=size["max_step_s"],
                            delay_s=delay, seed=opts.seed)
        summary = {"n_max": search.n_max, "capped": search.capped, "estimate": search.estimate}
        for t in search.trials:
            emit(_result("emulate", "numpy", {"profile": prof.name, "n": t.n}, t.wall_s,
                         {"samples": t.samples_per_step * t.steps},
                         {**t.summary(), "profile": prof.to_dict(), "format": prof.format, "search": summary,
                          "loader": "threadpool", "workers": cpus}))


def _loader_result(run: Any, backend: str) -> BenchResult:
    return _result("loader", backend, {"format": run.format, "loader": run.loader, "workers": run.workers},
                   run.seconds, {"samples": run.samples}, {**run.summary(), "format": run.format})


def _worker_counts(cpus: int, profile: str) -> list[int]:
    counts = {0, 1, cpus}
    k = 2
    while k < cpus and profile != "quick":
        counts.add(k)
        k *= 2
    return sorted(counts)


def _torch_part(datasets: dict[str, Dataset], opts: SuiteOptions, emit: Emit) -> None:
    from .loaders import run_torch

    size = SIZES.get(opts.profile, SIZES["quick"])
    cpus = usable_cpus(opts)
    for fmt, ds in datasets.items():
        for workers in _worker_counts(cpus, opts.profile):
            try:
                run = run_torch(ds, BATCH[fmt], workers, size["steps"], seed=opts.seed)
            except Exception as exc:  # noqa: BLE001 - one configuration failing must not stop the sweep
                emit(_failed("loader", "torch", f"{type(exc).__name__}: {exc}",
                             {"format": fmt, "loader": "torch", "workers": workers}))
                continue
            emit(_loader_result(run, "torch"))


def _jax_part(datasets: dict[str, Dataset], opts: SuiteOptions, emit: Emit) -> None:
    from .loaders import run_jax

    size = SIZES.get(opts.profile, SIZES["quick"])
    cpus = usable_cpus(opts)
    for fmt, ds in datasets.items():
        run = run_jax(ds, BATCH[fmt], cpus, size["steps"], seed=opts.seed)
        emit(_loader_result(run, "jax"))
