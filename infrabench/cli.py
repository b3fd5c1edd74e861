"""The `infrabench` command line. Stays light: never imports torch or jax."""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import sys
import threading
from pathlib import Path

from infrabench import __version__
from infrabench.errors import UsageError
from infrabench.files import write_atomic

EXIT_OK, EXIT_REGRESSION, EXIT_BAD_INPUT = 0, 1, 2
# Output cut off by its reader (`infrabench ... | head -1`): 1, as Python's documented SIGPIPE pattern and
# rich (which prints the probe, run and compare tables) end it, so every command ends alike. Not 0: a compare
# whose verdict was never read must not pass a gate under `set -o pipefail`.
EXIT_BROKEN_PIPE = 1
DEBUG_HELP = "show tracebacks instead of one-line errors"


def _debug_parent() -> argparse.ArgumentParser:
    """--debug for every subcommand, after it as well as before. SUPPRESS as default: a subcommand's parser
    that was not given --debug sets nothing, so it never resets the `infrabench --debug COMMAND` value."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrabench", description="What this machine can really do for AI work."
    )
    parser.add_argument("--version", action="version", version=f"infrabench {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    common = [_debug_parent()]
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=common, help=summary)

    probe = command("probe", "detect CPUs, memory, accelerators, storage and software")
    probe.add_argument("--json", action="store_true", help="print the MachineProfile as JSON")
    probe.add_argument("-o", "--output", type=Path, help="also write the MachineProfile JSON to FILE")
    probe.add_argument(
        "--path", type=Path, action="append", default=[], metavar="DIR",
        help="storage path to describe (repeatable; default: current and temp directories)",
    )
    probe.add_argument("--timeout", type=float, default=20.0, metavar="S",
                       help="time limit for each probe that runs in a child process (default 20 s)")

    from infrabench.run_command import add_run_arguments

    add_run_arguments(command("run", "run the benchmark suites and write run.json"))

    from infrabench.report_command import add_report_arguments

    add_report_arguments(command("report", "write a self-contained HTML report from one or more run files"))

    from infrabench.baseline_command import add_baseline_arguments

    add_baseline_arguments(command("baseline", "list, show or save AI/IT reference baselines"), common)
    export = command("export", "write a run file's results as CSV (one row per benchmark)")
    export.add_argument("export_run", type=Path, metavar="RUN.json")
    export.add_argument("--csv", dest="csv_out", type=Path, required=True, metavar="FILE")

    from infrabench.compare_command import add_compare_arguments

    add_compare_arguments(command("compare", "compare two runs; exit 1 on a regression (CI gate)"))

    clean = command("clean", "remove datasets left in a --data-dir by a run whose process died")
    clean.add_argument("--data-dir", dest="clean_dir", type=Path, required=True, metavar="DIR",
                       help="the --data-dir the run was given")

    from infrabench.ab_command import add_ab_arguments

    add_ab_arguments(command("ab", "interleaved A/B of two Python environments on this machine"))
    return parser


def _cmd_probe(args: argparse.Namespace) -> int:
    from infrabench import detect
    from infrabench.probes.context import ProbeContext
    from infrabench.probes.profile import validate_profile

    for path in args.path:
        if not path.exists():
            raise UsageError(f"--path {path}: no such file or directory")
    if args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout:g}: must be a positive number of seconds")
    if args.output is not None and not args.output.parent.is_dir():
        raise UsageError(f"--output {args.output}: directory {args.output.parent} does not exist")

    profile = detect(ProbeContext(timeout_s=args.timeout, storage_paths=list(args.path)))
    data = profile.to_dict()
    validate_profile(data)
    text = profile.to_json()
    if args.output is not None:
        try:
            write_atomic(args.output, text + "\n")
        except OSError as exc:
            raise UsageError(f"--output {args.output}: cannot write: {exc.strerror or exc}") from None
    if args.json:
        sys.stdout.write(text + "\n")
    else:
        from infrabench.probe_view import print_profile

        print_profile(data)
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from infrabench.probes.lifeline import hold
    from infrabench.run_command import run_command

    hold()  # started by `infrabench ab` (or another infrabench process): end with it

    return run_command(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from infrabench.report_command import report_command

    return report_command(args)


def _cmd_baseline(args: argparse.Namespace) -> int:
    from infrabench.baseline_command import baseline_command

    return baseline_command(args)


def _cmd_export(args: argparse.Namespace) -> int:
    from infrabench.data import export_csv

    n = export_csv(args.export_run, args.csv_out)
    print(f"wrote {args.csv_out} ({n} rows)")
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from infrabench.compare_command import compare_command

    return compare_command(args)


def _cmd_clean(args: argparse.Namespace) -> int:
    from infrabench.suites.dataload import rundata

    folder = args.clean_dir / rundata.OWNED_DIR
    if not folder.is_dir():
        print(f"nothing to clean: {folder} does not exist")
        return EXIT_OK
    if rundata.remove_stale(folder):
        print(f"removed {folder} (left by a run whose process has ended)")
    else:
        print(f"kept {folder}: a running infrabench uses it, it was kept with --keep-data, or infrabench did not "
              "make it")
    return EXIT_OK


def _cmd_ab(args: argparse.Namespace) -> int:
    from infrabench.ab_command import ab_command

    return ab_command(args)


class _StderrLines(logging.Handler):
    """Log records as "infrabench: warning: ..." lines on whatever sys.stderr is when they are emitted."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"infrabench: {record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)


def _tolerant_streams() -> None:
    """A terminal or pipe that cannot encode a character (PYTHONIOENCODING=ascii, LC_ALL=C) shows a
    replacement instead of crashing the command; files are always written as UTF-8."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (stream.encoding or "").lower().replace("-", "") != "utf8":
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):  # pragma: no cover - a stream that cannot be reconfigured
                pass


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _stdout_gone() -> bool:
    """Whether stdout is a pipe its reader has closed (poll flags the write end with POLLERR): only then is a
    BrokenPipeError the user's `| head`; one from a pipe to a child process is a harness error."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return False
    if not hasattr(select, "poll"):  # pragma: no cover - Windows: no way to tell, take it for stdout
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _harness_error(exc: Exception, debug: bool) -> int:
    if debug:
        raise exc
    print(f"infrabench: error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
    return EXIT_BAD_INPUT


def _dispatch(argv: list[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    handler = {"probe": _cmd_probe, "run": _cmd_run, "report": _cmd_report,
               "compare": _cmd_compare, "ab": _cmd_ab, "baseline": _cmd_baseline, "export": _cmd_export,
               "clean": _cmd_clean}[args.command]
    try:
        return handler(args)
    except UsageError as exc:
        if args.debug:
            raise
        print(f"infrabench: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:
        print(f"infrabench: interrupted{f' by {exc.args[0]}' if exc.args else ''}", file=sys.stderr)
        return 130
    except BrokenPipeError as exc:
        if _stdout_gone():
            raise  # main() ends quietly
        return _harness_error(exc, args.debug)
    except Exception as exc:  # noqa: BLE001 - harness error: one line unless --debug
        return _harness_error(exc, args.debug)


def main(argv: list[str] | None = None) -> int:
    _tolerant_streams()
    # SIGTERM ends any command as Ctrl-C does (exit 130 with a line); the run phase installs its own handlers.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    # Warnings from below the CLI (a skipped user baseline, ...) as one line each on stderr.
    log = logging.getLogger("infrabench")
    if not any(isinstance(h, _StderrLines) for h in log.handlers):
        log.addHandler(_StderrLines())
        log.setLevel(logging.WARNING)
    try:
        code = _dispatch(argv)
        sys.stdout.flush()  # output still buffered meets a reader that has gone here, not at exit
    except BrokenPipeError:
        # The reader stopped reading (`| head -1`): no traceback, and nothing more to write. Python's
        # recommended ending: point stdout at devnull so the flush at exit cannot raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    return code


if __name__ == "__main__":
    sys.exit(main())
