"""Run files as a table: `infrabench.load(paths)` (pandas) and `infrabench export RUN.json --csv FILE`.

One row per benchmark per run (timed or not), with the run's id and date and the machine's CPU,
accelerators and host name as columns, so several runs stack into one frame. Besides the fixed
COLUMNS, each benchmark parameter gets a column of its own named `param_<name>` (`param_m`,
`param_batch`, ...; prefixed so a parameter never clashes with a fixed column such as `dtype`), holding
the parameter's value as recorded (an int stays an int), empty where a benchmark has no such parameter.
The training suite's model FLOP rate and MFU are `train_tflops` and `train_mfu_pct` (empty for other
suites), read from its declared figures record.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from infrabench.errors import UsageError
from infrabench.files import write_atomic
from infrabench.results import Run, TrainFigures

PARAM_PREFIX = "param_"
COLUMNS = (
    "run_id", "run_datetime", "run_file", "infrabench_version", "hostname", "cpu_model", "usable_cpus",
    "accelerators", "suite", "benchmark", "fullname", "backend", "device", "dtype", "params", "status", "reason",
    "median_s", "min_s", "iqr_s", "rounds", "throughput", "throughput_unit", "throughput_best", "pct_of_peak",
    "pct_of_best", "suspicious", "train_tflops", "train_mfu_pct",
)


def _integer(value: Any) -> int | None:
    """A count recorded as 8 or 8.0 as the int 8; anything else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value)


def _plain(value: Any) -> Any:
    """A parameter's value as one table cell: scalars as they are, anything nested as compact JSON."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, default=str, separators=(",", ":"))


def param_columns(params: Mapping[str, Any]) -> dict[str, Any]:
    return {f"{PARAM_PREFIX}{k}": _plain(v) for k, v in params.items()}


def rows(run: Run, run_file: str = "") -> list[dict[str, Any]]:
    """Flat rows of one run: every value a plain str, number, bool or None."""
    from infrabench.reports.cells import as_number, fmt_params
    from infrabench.reports.rows import is_suspicious

    profile = run.profile
    cpu, host = profile.get("cpu") or {}, profile.get("host") or {}
    accs = [str(a.get("name") or a.get("sku") or "?") for a in profile.get("accelerators") or [] if isinstance(a, dict)]
    machine = {"run_id": run.run_id, "run_datetime": run.datetime, "run_file": run_file,
               "infrabench_version": run.infrabench_version, "hostname": host.get("hostname"),
               "cpu_model": cpu.get("model_name"), "usable_cpus": cpu.get("usable_cpus"),
               "accelerators": "; ".join(accs)}
    out = []
    for b in run.benchmarks:
        stats = b.stats
        train = b.figures if isinstance(b.figures, TrainFigures) else None
        out.append({**machine, "suite": b.suite, "benchmark": b.name, "fullname": b.fullname,
                    "backend": b.backend, "device": b.device, "dtype": b.dtype,
                    "params": fmt_params(b.params) if b.params else "", "status": b.status, "reason": b.reason,
                    "median_s": as_number(stats.median) if stats else None,
                    "min_s": as_number(stats.min) if stats else None,
                    "iqr_s": as_number(stats.iqr) if stats else None,
                    "rounds": _integer(stats.rounds) if stats else None,
                    "throughput": b.throughput.value if b.throughput else None,
                    "throughput_unit": b.throughput.unit if b.throughput else None,
                    "throughput_best": b.throughput_best.value if b.throughput_best else None,
                    "pct_of_peak": b.pct_of_peak, "pct_of_best": b.pct_of_best, "suspicious": is_suspicious(b),
                    "train_tflops": as_number(train.achieved_tflops) if train else None,
                    "train_mfu_pct": as_number(train.mfu_pct_of_peak) if train else None,
                    **param_columns(b.params)})
    return out


def columns(all_rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The fixed COLUMNS, then every parameter column in the order the rows first name it."""
    params = dict.fromkeys(k for row in all_rows for k in row if k.startswith(PARAM_PREFIX))
    return [*COLUMNS, *params]


def _paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def load(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Any:
    """A pandas DataFrame of one or more runs (one row per benchmark per run), each file validated.

    A path is a run file or a folder, read as `infrabench compare` reads one: a run's folder
    (DIR/run.json), an `infrabench run --out DIR` folder (every DIR/*/run.json), else every DIR/*.json;
    a pytest-benchmark saved run is read too, as the gate reads it.
    `rounds` and parameter columns whose values are all integers are pandas' nullable Int64, so a
    benchmark without timing (or without that parameter) is <NA> rather than turning the column float."""
    import pandas as pd

    from infrabench.compare_command import run_paths

    all_rows: list[dict[str, Any]] = []
    for path in run_paths(_paths(paths)):
        all_rows.extend(rows(Run.load(path, accept_pytest_benchmark=True), str(path)))
    names = columns(all_rows)
    frame = pd.DataFrame(all_rows, columns=names)
    for name in names:
        if name == "rounds" or name.startswith(PARAM_PREFIX):
            values = [row.get(name) for row in all_rows]
            if all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in values):
                frame[name] = pd.array(values, dtype="Int64")
    return frame


def export_csv(run_file: Path, out: Path) -> int:
    """Write one run's rows as CSV (no pandas needed), atomically; text a spreadsheet could take for a
    formula is prefixed with an apostrophe. Returns the number of rows."""
    from infrabench.reports.neutral import csv_cell

    data = rows(Run.load(run_file), str(run_file))
    if not out.parent.is_dir():
        raise UsageError(f"--csv {out}: directory {out.parent} does not exist")
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns(data), restval="")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in data)
    try:
        write_atomic(out, text.getvalue())
    except OSError as exc:
        raise UsageError(f"--csv {out}: cannot write: {exc.strerror or exc}") from None
    return len(data)
