"""`infrabench report RUN.json [-o FILE.html]`: one self-contained HTML report from a run file.

Stays light like the rest of the CLI: jinja2 and matplotlib are imported only when a report is
rendered, never torch or jax. Bad input is one UsageError line (exit 2 through the CLI's handler).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infrabench.errors import UsageError
from infrabench.runfile import load_run

DEFAULT_NAME = "report.html"


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_file", type=Path, metavar="RUN.json", help="run file written by `infrabench run`")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE.html",
                        help=f"where to write the report (default: {DEFAULT_NAME} beside RUN.json)")


def output_path(run_file: Path, output: Path | None) -> Path:
    out = output if output is not None else run_file.parent / DEFAULT_NAME
    if out.is_dir():
        raise UsageError(f"--output {out}: is a directory; give a file name such as {out / DEFAULT_NAME}")
    if not out.parent.is_dir():
        raise UsageError(f"--output {out}: directory {out.parent} does not exist")
    return out


def report_command(args: argparse.Namespace) -> int:
    run_file: Path = args.run_file
    run = load_run(run_file)
    out = output_path(run_file, args.output)
    from infrabench.reports.html import write_report

    try:
        written = write_report(run, out)
    except PermissionError as exc:
        raise UsageError(f"--output {out}: cannot write: {exc.strerror or exc}") from None
    print(f"wrote {written} ({written.stat().st_size / 1e3:.0f} kB)", file=sys.stdout)
    return 0
