"""Run files as a table: `infrabench.load(paths)` (pandas) and `infrabench export RUN.json --csv FILE`.

One row per benchmark per run (timed or not), with the run's id and date and the machine's CPU,
accelerators and host name as columns, so several runs stack into one frame.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from infrabench.errors import UsageError

COLUMNS = (
    "run_id", "run_datetime", "run_file", "infrabench_version", "hostname", "cpu_model", "usable_cpus",
    "accelerators", "suite", "benchmark", "fullname", "backend", "device", "dtype", "params", "status", "reason",
    "median_s", "min_s", "iqr_s", "rounds", "throughput", "throughput_unit", "throughput_best", "pct_of_peak",
    "pct_of_best", "suspicious",
)


def rows(run: dict[str, Any], run_file: str = "") -> list[dict[str, Any]]:
    """Flat rows of one run: every value a plain str, number, bool or None."""
    from infrabench.reports.tables import as_dict, as_number, entries, fmt_params, is_suspicious, machine_profile

    ib_run = as_dict(run.get("infrabench"))
    profile = machine_profile(run)
    cpu, host = as_dict(profile.get("cpu")), as_dict(profile.get("host"))
    accs = [str(a.get("name") or a.get("sku") or "?") for a in profile.get("accelerators") or [] if isinstance(a, dict)]
    machine = {"run_id": ib_run.get("run_id"), "run_datetime": run.get("datetime"), "run_file": run_file,
               "infrabench_version": ib_run.get("version"), "hostname": host.get("hostname"),
               "cpu_model": cpu.get("model_name"), "usable_cpus": cpu.get("usable_cpus"),
               "accelerators": "; ".join(accs)}
    out = []
    for e in entries(run):
        stats = e.stats or {}
        value, unit = e.throughput()
        best, _ = e.throughput("throughput_best")
        out.append({**machine, "suite": e.suite, "benchmark": e.benchmark, "fullname": e.fullname,
                    "backend": e.backend, "device": e.device, "dtype": e.dtype,
                    "params": fmt_params(e.params) if e.params else "", "status": e.status, "reason": e.reason,
                    "median_s": as_number(stats.get("median")), "min_s": as_number(stats.get("min")),
                    "iqr_s": as_number(stats.get("iqr")), "rounds": as_number(stats.get("rounds")),
                    "throughput": value, "throughput_unit": unit, "throughput_best": best,
                    "pct_of_peak": as_number(e.ib.get("pct_of_peak")),
                    "pct_of_best": as_number(e.ib.get("pct_of_best")),
                    "suspicious": is_suspicious(e)})
    return out


def _paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def load(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Any:
    """A pandas DataFrame of one or more run files (one row per benchmark per run). Each file is validated."""
    import pandas as pd

    from infrabench.runfile import load_run

    all_rows: list[dict[str, Any]] = []
    for path in _paths(paths):
        all_rows.extend(rows(load_run(path), str(path)))
    return pd.DataFrame(all_rows, columns=list(COLUMNS))


def export_csv(run_file: Path, out: Path) -> int:
    """Write one run's rows as CSV (no pandas needed); returns the number of rows."""
    from infrabench.runfile import load_run

    data = rows(load_run(run_file), str(run_file))
    if not out.parent.is_dir():
        raise UsageError(f"--csv {out}: directory {out.parent} does not exist")
    try:
        with open(out, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
            writer.writeheader()
            writer.writerows(data)
    except OSError as exc:
        raise UsageError(f"--csv {out}: cannot write: {exc.strerror or exc}") from None
    return len(data)
