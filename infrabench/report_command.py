"""`infrabench report RUN.json [MORE.json …] [-o FILE.html]`: one self-contained HTML report.

One run file: its full report (verdict, scorecard, baselines, every suite). Several: the runs side
by side (the same benchmarks, ratios to the first). Stays light like the rest of the CLI: jinja2
and matplotlib are imported only when a report is rendered, never torch or jax. Bad input is one
UsageError line (exit 2 through the CLI's handler).

An explicit `-o FILE` that exists is refused without --force (it may be anything the user keeps there);
the default output beside the run file is infrabench's own report of that run, and a re-render replaces it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infrabench.errors import UsageError
from infrabench.results import Run

DEFAULT_NAME = "report.html"
DEFAULT_MULTI_NAME = "comparison-report.html"


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_files", type=Path, nargs="*", metavar="RUN.json",
                        help="run file(s) written by `infrabench run`; several are shown side by side")
    parser.add_argument("--from-journal", type=Path, metavar="JOURNAL",
                        help="rebuild run.json (beside the journal) from a run's run.journal.jsonl, e.g. after a "
                             "full disk stopped the run file from being written, then write its report")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE.html",
                        help=f"where to write the report (default: {DEFAULT_NAME} beside RUN.json, or "
                             f"{DEFAULT_MULTI_NAME} beside the first of several)")
    parser.add_argument("--force", action="store_true", help="replace an existing -o FILE")


def output_path(run_file: Path, output: Path | None, name: str = DEFAULT_NAME) -> Path:
    out = output if output is not None else run_file.parent / name
    if out.is_dir():
        raise UsageError(f"--output {out}: is a directory; give a file name such as {out / name}")
    if not out.parent.is_dir():
        raise UsageError(f"--output {out}: directory {out.parent} does not exist")
    return out


def rebuild_from_journal(journal: Path) -> Path:
    """run.json beside a run's journal, from the results it holds and the machine profile the run saved."""
    from infrabench.files import read_json
    from infrabench.runfile import build_run, read_journal
    from infrabench.suites.runner import MACHINE_FILE

    if not journal.is_file():
        raise UsageError(f"--from-journal {journal}: no such journal")
    results = read_journal(journal)
    if not results:
        raise UsageError(f"--from-journal {journal}: the journal holds no finished result")
    profile_path = journal.parent / MACHINE_FILE
    profile = read_json(profile_path, "machine profile") if profile_path.is_file() else {}
    config = {"suites": sorted({r.suite for r in results}), "backends": sorted({r.backend for r in results}),
              "profile": "unknown (rebuilt from the journal)"}
    run = build_run(results, profile if isinstance(profile, dict) else {}, config, {}, False,
                    journal.parent.name, journal.name, commit={})
    run.warnings.append(f"rebuilt from {journal.name}: the run's configuration and backend outcomes were not "
                        "in the journal")
    try:
        return run.write(journal.parent / "run.json")
    except OSError as exc:
        raise UsageError(f"{journal.parent / 'run.json'}: cannot write: {exc.strerror or exc}") from None


def refuse_existing(output: Path | None, force: bool) -> None:
    """An explicit --output that already holds a file is replaced only with --force (checked before any work)."""
    if output is not None and not force and output.exists() and not output.is_dir():
        raise UsageError(f"--output {output}: exists; pass --force to overwrite it")


def report_command(args: argparse.Namespace) -> int:
    refuse_existing(args.output, bool(getattr(args, "force", False)))
    if args.from_journal is not None:
        rebuilt = rebuild_from_journal(args.from_journal)
        print(f"wrote {rebuilt}", file=sys.stdout)
        args.run_files = [rebuilt, *args.run_files]
    if not args.run_files:
        raise UsageError("report needs a run file (RUN.json) or --from-journal JOURNAL")
    files: list[Path] = args.run_files
    if args.output is not None:  # not even with --force: that would put HTML over the data it was made from
        for f in files:
            if Path(f).exists() and Path(args.output).resolve() == Path(f).resolve():
                raise UsageError(f"--output {args.output}: is the run file {f} itself; write the report elsewhere")
    runs = [Run.load(f) for f in files]
    from infrabench.reports.baselines import load_all
    from infrabench.reports.html import write_html, write_report

    baselines = load_all()
    if len(runs) == 1:
        out = output_path(files[0], args.output)
        writer = lambda: write_report(runs[0], out, baselines)  # noqa: E731
    else:
        from infrabench.reports.multi import LabelledRun, render_multi

        out = output_path(files[0], args.output, DEFAULT_MULTI_NAME)
        labelled = [LabelledRun(str(f), r) for f, r in zip(files, runs, strict=True)]
        writer = lambda: write_html(render_multi(labelled, baselines), out)  # noqa: E731
    try:
        written = writer()
    except OSError as exc:  # read-only folder, full disk, ...
        raise UsageError(f"--output {out}: cannot write: {exc.strerror or exc}") from None
    print(f"wrote {written} ({written.stat().st_size / 1e3:.0f} kB)", file=sys.stdout)
    return 0
