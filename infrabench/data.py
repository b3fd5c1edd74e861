"""Run files as a table: `infrabench.load(paths)` (pandas) and `infrabench export RUN.json --csv FILE`.

One row per benchmark per run (timed or not), with the run's id and date and the machine's CPU,
accelerators and host name as columns, so several runs stack into one frame.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from infrabench.errors import UsageError
from infrabench.files import write_atomic
from infrabench.results import Run

COLUMNS = (
    "run_id", "run_datetime", "run_file", "infrabench_version", "hostname", "cpu_model", "usable_cpus",
    "accelerators", "suite", "benchmark", "fullname", "backend", "device", "dtype", "params", "status", "reason",
    "median_s", "min_s", "iqr_s", "rounds", "throughput", "throughput_unit", "throughput_best", "pct_of_peak",
    "pct_of_best", "suspicious",
)


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
        out.append({**machine, "suite": b.suite, "benchmark": b.name, "fullname": b.fullname,
                    "backend": b.backend, "device": b.device, "dtype": b.dtype,
                    "params": fmt_params(b.params) if b.params else "", "status": b.status, "reason": b.reason,
                    "median_s": as_number(stats.median) if stats else None,
                    "min_s": as_number(stats.min) if stats else None,
                    "iqr_s": as_number(stats.iqr) if stats else None,
                    "rounds": as_number(stats.rounds) if stats else None,
                    "throughput": b.throughput.value if b.throughput else None,
                    "throughput_unit": b.throughput.unit if b.throughput else None,
                    "throughput_best": b.throughput_best.value if b.throughput_best else None,
                    "pct_of_peak": b.pct_of_peak, "pct_of_best": b.pct_of_best, "suspicious": is_suspicious(b)})
    return out


def _paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def load(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Any:
    """A pandas DataFrame of one or more run files (one row per benchmark per run). Each file is validated."""
    import pandas as pd

    all_rows: list[dict[str, Any]] = []
    for path in _paths(paths):
        all_rows.extend(rows(Run.load(path), str(path)))
    return pd.DataFrame(all_rows, columns=list(COLUMNS))


def export_csv(run_file: Path, out: Path) -> int:
    """Write one run's rows as CSV (no pandas needed), atomically; text a spreadsheet could take for a
    formula is prefixed with an apostrophe. Returns the number of rows."""
    from infrabench.reports.neutral import csv_cell

    data = rows(Run.load(run_file), str(run_file))
    if not out.parent.is_dir():
        raise UsageError(f"--csv {out}: directory {out.parent} does not exist")
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(COLUMNS))
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in data)
    try:
        write_atomic(out, text.getvalue())
    except OSError as exc:
        raise UsageError(f"--csv {out}: cannot write: {exc.strerror or exc}") from None
    return len(data)
