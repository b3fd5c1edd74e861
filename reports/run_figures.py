"""The comparable figures of one run: what a baseline holds and a run is compared on, with where each came from.

One catalogue (`FIGURES`) names every figure a baseline may carry and the scorecard factor it feeds.
`run_figures(run)` reads those figures from a run file: the best median throughput per figure
(the run's best matmul per dtype, best STREAM triad, best host↔device copy, …) and a few machine
facts from its profile (usable cores, accelerator count and memory). A figure the run did not
measure is simply absent; nothing is estimated. `best_matmul(run)` gives the one matmul figure a
headline may state: the best that no result flags suspicious.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infrabench.results import Benchmark, Run, as_run

from .cells import as_dict, as_list, as_number
from .rows import is_suspicious, throughput_of

MATMUL_DTYPES = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8")
FACTORS = ("processing", "memory", "scalability", "software")


@dataclass(frozen=True)
class FigureSpec:
    """One comparable figure: its key in baseline files, label, unit and the scorecard factor it feeds."""

    key: str
    label: str
    unit: str
    factor: str
    peak_key: str | None = None  # the datasheet figure that stands in when a baseline has no achieved one


def _catalogue() -> dict[str, FigureSpec]:
    specs = [FigureSpec(f"matmul_tflops.{d}", f"best matmul {d}", "TFLOP/s", "processing",
                        f"peak_matmul_tflops.{d}") for d in MATMUL_DTYPES]
    specs += [FigureSpec(f"peak_matmul_tflops.{d}", f"theoretical matmul peak {d}", "TFLOP/s", "processing")
              for d in MATMUL_DTYPES]
    specs += [
        FigureSpec("memory_gbs", "memory bandwidth (STREAM triad)", "GB/s", "memory", "peak_memory_gbs"),
        FigureSpec("peak_memory_gbs", "theoretical memory bandwidth", "GB/s", "memory"),
        FigureSpec("device_memory_gb", "memory per accelerator", "GB", "memory"),
        FigureSpec("host_to_device_gbs", "host→device copy", "GB/s", "memory", "peak_host_device_gbs"),
        FigureSpec("device_to_host_gbs", "device→host copy", "GB/s", "memory", "peak_host_device_gbs"),
        FigureSpec("peak_host_device_gbs", "host↔device interface, per direction", "GB/s", "memory"),
        FigureSpec("dataload_samples_s", "data loading: JPEG samples/s decoded and delivered by the best loader",
                   "samples/s", "memory"),
        FigureSpec("dataload_n_max", "data loading: accelerators one host can feed (n_max)", "devices", "memory"),
        FigureSpec("train_samples_s", "training", "samples/s", "processing"),
        FigureSpec("train_tokens_s", "training", "tokens/s", "processing"),
        FigureSpec("accelerators", "accelerators in the machine", "devices", "scalability"),
        FigureSpec("cpu_cores", "usable CPU cores", "cores", "scalability"),
        FigureSpec("interconnect_gbs", "device-to-device interconnect, per device", "GB/s", "scalability"),
    ]
    return {s.key: s for s in specs}


FIGURES: dict[str, FigureSpec] = _catalogue()


@dataclass
class RunFigure:
    """A figure this run measured or recorded, and the result it came from."""

    key: str
    value: float
    unit: str
    source: str  # fullname of the result, or the profile field
    suspicious: bool = False
    pct_of_peak: float | None = None  # of the theoretical peak, where the result has one


def _best(found: dict[str, RunFigure], key: str, value: float | None, source: str, suspicious: bool = False,
          pct_of_peak: float | None = None, slot: str | None = None) -> None:
    """Keep in found[slot] (default: the catalogue key) the highest figure seen for `key`."""
    if value is None or value <= 0:
        return
    slot = slot or key
    current = found.get(slot)
    if current is None or value > current.value:
        found[slot] = RunFigure(key, value, FIGURES[key].unit, source, suspicious, pct_of_peak)


def _matmul_key(e: Benchmark) -> str | None:
    """The catalogue key of a matmul result that counts as a comparable figure, else None."""
    _, unit = throughput_of(e)
    if e.status == "ok" and e.suite == "matmul" and unit == "TFLOP/s" and e.dtype in MATMUL_DTYPES:
        return f"matmul_tflops.{e.dtype}"
    return None


def best_matmul(run: Run | dict[str, Any]) -> RunFigure | None:
    """The run's best matmul figure over every dtype that no result flags suspicious (over 100% of peak);
    only when each one is flagged, the best of them, still flagged. A headline states this one."""
    found: dict[str, RunFigure] = {}
    for e in as_run(run).benchmarks:
        key, flagged = _matmul_key(e), is_suspicious(e)
        if key is not None:
            _best(found, key, throughput_of(e)[0], e.fullname, flagged, e.pct_of_peak,
                  slot="flagged" if flagged else "credible")
    return found.get("credible") or found.get("flagged")


def _from_entry(found: dict[str, RunFigure], e: Benchmark) -> None:
    if e.status != "ok":
        return
    value, unit = throughput_of(e)
    name = e.name.removeprefix("stream_")
    matmul = _matmul_key(e)
    if matmul is not None:
        _best(found, matmul, value, e.fullname, is_suspicious(e), e.pct_of_peak)
    elif e.suite == "memory" and name == "triad" and unit == "GB/s":
        _best(found, "memory_gbs", value, e.fullname)
    elif name in ("host_to_device", "h2d") and unit == "GB/s":
        _best(found, "host_to_device_gbs", value, e.fullname)
    elif name in ("device_to_host", "d2h") and unit == "GB/s":
        _best(found, "device_to_host_gbs", value, e.fullname)
    elif e.suite == "dataload" and e.name == "loader" and e.params.get("format") == "jpeg" and unit == "samples/s":
        # One format only: a memmap token sample and a decoded JPEG are not the same amount of work.
        _best(found, "dataload_samples_s", value, e.fullname)
    elif e.suite == "train" and unit in ("samples/s", "tokens/s"):
        _best(found, "train_samples_s" if unit == "samples/s" else "train_tokens_s", value, e.fullname)


def _profile_figures(found: dict[str, RunFigure], run: Run) -> None:
    profile = run.profile
    cpu = as_dict(profile.get("cpu"))
    cores = as_number(cpu.get("usable_cores")) or as_number(cpu.get("physical_cores"))
    if cores:
        found["cpu_cores"] = RunFigure("cpu_cores", cores, "cores", "machine profile: cpu.usable_cores")
    if profile:
        accs = [a for a in as_list(profile.get("accelerators")) if isinstance(a, dict)]
        found["accelerators"] = RunFigure("accelerators", float(len(accs)), "devices",
                                          "machine profile: accelerators[]")
        memories = [as_number(a.get("memory_total_bytes")) for a in accs]
        memories = [m for m in memories if m]
        if memories:
            found["device_memory_gb"] = RunFigure("device_memory_gb", max(memories) / 1e9, "GB",
                                                  "machine profile: accelerators[].memory_total_bytes")


def _verdict_figures(found: dict[str, RunFigure], run: Run) -> None:
    verdict = as_dict(run.verdicts.get("dataload"))
    candidates = [("verdicts.dataload.n_max", as_number(verdict.get("n_max")))]
    candidates += [(f"verdicts.dataload.profiles[{name}].n_max", as_number(as_dict(p).get("n_max")))
                   for name, p in as_dict(verdict.get("profiles")).items()]
    candidates = [(where, n) for where, n in candidates if n is not None]
    if candidates:
        where, n_max = max(candidates, key=lambda c: c[1])
        found["dataload_n_max"] = RunFigure("dataload_n_max", n_max, "devices", where)


def run_figures(run: Run | dict[str, Any]) -> dict[str, RunFigure]:
    """Every comparable figure this run holds, by catalogue key."""
    run = as_run(run)
    found: dict[str, RunFigure] = {}
    for e in run.benchmarks:
        _from_entry(found, e)
    _profile_figures(found, run)
    _verdict_figures(found, run)
    return found
