"""`infrabench report RUN.json [-o FILE.html]`: one self-contained HTML report from a run file.

Stays light like the rest of the CLI: jinja2 and matplotlib are imported only when a report is
rendered, never torch or jax. Bad input is one UsageError line (exit 2 through the CLI's handler).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from infrabench.errors import UsageError

DEFAULT_NAME = "report.html"
REQUIRED_KEYS = ("benchmarks", "infrabench")


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_file", type=Path, metavar="RUN.json", help="run file written by `infrabench run`")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE.html",
                        help=f"where to write the report (default: {DEFAULT_NAME} beside RUN.json)")


def _load_minimal(path: Path) -> dict[str, Any]:
    """Read a run file without schema validation: used only when infrabench.runfile is not available."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such run file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a run file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the run file: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc}); it may be truncated") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not an infrabench run file: the top level is not a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise UsageError(f"{path}: not an infrabench run file: missing {', '.join(missing)}")
    if not isinstance(data["benchmarks"], list) or not isinstance(data["infrabench"], dict):
        raise UsageError(f"{path}: not an infrabench run file: benchmarks must be a list, infrabench an object")
    return data


def load_run_file(path: Path) -> dict[str, Any]:
    """The run file's dict, validated by infrabench.runfile when present; every problem one UsageError line."""
    try:
        from infrabench.runfile import load_run
    except ImportError:
        return _load_minimal(path)
    return load_run(path)


def output_path(run_file: Path, output: Path | None) -> Path:
    out = output if output is not None else run_file.parent / DEFAULT_NAME
    if out.is_dir():
        raise UsageError(f"--output {out}: is a directory; give a file name such as {out / DEFAULT_NAME}")
    if not out.parent.is_dir():
        raise UsageError(f"--output {out}: directory {out.parent} does not exist")
    return out


def report_command(args: argparse.Namespace) -> int:
    run_file: Path = args.run_file
    run = load_run_file(run_file)
    out = output_path(run_file, args.output)
    from infrabench.reports.html import write_report

    try:
        written = write_report(run, out)
    except PermissionError as exc:
        raise UsageError(f"--output {out}: cannot write: {exc.strerror or exc}") from None
    print(f"wrote {written} ({written.stat().st_size / 1e3:.0f} kB)", file=sys.stdout)
    return 0
