"""`infrabench run`: run the suites, one child process per backend, and write run.json (and report.html).

No arguments: the quick profile of every suite on every device of every installed backend. Options can
also come from a TOML file (`--config`): `[tool.infrabench.run]` in a pyproject.toml, or `[run]` in an
infrabench.toml, with the same keys as the options (`suite`, `backend`, `device`, `dtype`, `profile`,
`out`, `timeout`, `threads`); lists as TOML arrays or comma strings; a relative `out` is relative to the
file. Options on the command line win. `-o/--json FILE` (key `json`, relative like `out`) also writes
the run file exactly at FILE, as pytest-benchmark's --benchmark-json does, so CI need not find the run
folder (which still holds the journal, worker logs and report.html); an existing FILE is replaced.

Exit codes: 0 the run finished (failed or skipped results are recorded in the file, not errors);
130 interrupted by SIGINT/SIGTERM (run.json is still written from the journal); 2 bad input.
This process never imports torch or jax: every backend runs in its own worker process.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infrabench.errors import UsageError
from infrabench.files import read_toml, toml_table, write_atomic

if TYPE_CHECKING:
    from rich.console import Console

    from infrabench.results import Run

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 2, 130
EXIT_BROKEN_PIPE = 1  # the output's reader went away (`| head`), as every other command ends then
DEFAULT_OUT = Path("infrabench-results")
JOURNAL_NAME = "run.journal.jsonl"
RUN_FILE = "run.json"
REPORT_FILE = "report.html"
MAX_TIMEOUT_S = 7 * 24 * 3600.0  # per backend worker
MAX_THREADS = 4096
DEVICE_PATTERN = re.compile(r"^(cpu|cuda|gpu|rocm|tpu|mps|xpu)(:\d+)?$")
LIST_KEYS = {"suite": "suite", "suites": "suite", "backend": "backend", "backends": "backend",
             "device": "device", "devices": "device", "dtype": "dtype", "dtypes": "dtype"}
SCALAR_KEYS = {"profile": str, "out": str, "json": str, "timeout": (int, float), "threads": int}


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The `run` subcommand's options. All default to None so a config file can fill what the CLI leaves unset."""
    parser.add_argument("--suite", metavar="LIST", help="comma-separated suites (default: all)")
    parser.add_argument("--backend", metavar="LIST", help="comma-separated backends: numpy,torch,jax (default: all)")
    parser.add_argument("--device", metavar="LIST", help="comma-separated devices, e.g. cpu,cuda:0 (default: all)")
    parser.add_argument("--dtype", metavar="LIST", help="dtypes, e.g. fp32,bf16 (default: each suite's)")
    parser.add_argument("--profile", choices=("quick", "standard", "full"), help="run size (default quick)")
    parser.add_argument("--out", type=Path, metavar="DIR", help=f"results directory (default ./{DEFAULT_OUT})")
    parser.add_argument("-o", "--json", dest="json_out", type=Path, metavar="FILE",
                        help="also write the run file exactly at FILE (the run folder under --out is kept)")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML: [tool.infrabench.run] in a pyproject.toml or [run] in infrabench.toml")
    parser.add_argument("--timeout", type=float, metavar="S",
                        help="time limit per backend in seconds (default by profile: quick 150)")
    parser.add_argument("--threads", type=int, metavar="N", help="CPU threads to pin (default: usable CPUs)")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="dataload: where datasets are generated (default: inside the run directory)")
    parser.add_argument("--keep-data", action="store_true", default=None,
                        help="dataload: keep the generated datasets (default: removed at the end)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="after the run, the full per-benchmark table before the summary (the report has it too)")


# --- settings ----------------------------------------------------------------------------------------

@dataclass
class RunSettings:
    config: Any  # infrabench.suites.runner.RunConfig
    out: Path
    json_out: Path | None = None  # -o/--json: a copy of the run file exactly here


def load_config_file(path: Path) -> dict[str, Any]:
    """The run table of a TOML config file, keys normalised to the option names; UsageError when invalid."""
    data = read_toml(path)
    if "tool" in data or path.name == "pyproject.toml":
        table, where = toml_table(data, path, "tool", "infrabench", "run"), "[tool.infrabench.run]"
    else:
        table, where = toml_table(data, path, "run"), "[run]"
    if table is None:
        raise UsageError(f"--config {path}: no {where} table")
    if not isinstance(table, dict):
        raise UsageError(f"--config {path}: {where} must be a table, not {type(table).__name__}")
    settings: dict[str, Any] = {}
    for key, value in table.items():
        if key in LIST_KEYS:
            if isinstance(value, str):
                value = value.split(",")
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"--config {path}: {where} {key} must be a list of strings or a comma string")
            settings[LIST_KEYS[key]] = ",".join(v.strip() for v in value)
        elif key in SCALAR_KEYS:
            if not isinstance(value, SCALAR_KEYS[key]) or isinstance(value, bool):
                raise UsageError(f"--config {path}: {where} {key} has the wrong type ({type(value).__name__})")
            settings[key] = value
        else:
            known = ", ".join(sorted({*LIST_KEYS.values(), *SCALAR_KEYS}))
            raise UsageError(f"--config {path}: unknown key {key!r} in {where} (known: {known})")
    for key in ("out", "json"):
        if key in settings:
            settings[key] = (path.parent / settings[key]) if not Path(settings[key]).is_absolute() \
                else Path(settings[key])
    if "timeout" in settings:
        settings["timeout"] = float(settings["timeout"])
    return settings


def _items(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return list(dict.fromkeys(items)) or None


def _check_names(option: str, names: list[str] | None, known: list[str] | tuple[str, ...]) -> None:
    for name in names or []:
        if name not in known:
            raise UsageError(f"--{option} {name}: unknown {option} (known: {', '.join(known)})")


def resolve_settings(args: argparse.Namespace) -> RunSettings:
    """Options from the command line over the config file over the defaults, validated."""
    from infrabench.suites.backends.base import DTYPES
    from infrabench.suites.registry import all_suites
    from infrabench.suites.runner import BACKEND_ORDER, RunConfig

    merged: dict[str, Any] = load_config_file(args.config) if args.config is not None else {}
    for key in ("suite", "backend", "device", "dtype", "profile", "out", "timeout", "threads"):
        value = getattr(args, key, None)
        if value is not None:
            merged[key] = value
    if getattr(args, "json_out", None) is not None:
        merged["json"] = args.json_out
    profile = merged.get("profile", "quick")
    if profile not in ("quick", "standard", "full"):
        raise UsageError(f"--profile {profile}: must be quick, standard or full")
    try:
        suites_known = list(all_suites())
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    suites = _items(merged.get("suite")) or suites_known
    _check_names("suite", suites, suites_known)
    backends = _items(merged.get("backend")) or list(BACKEND_ORDER)
    _check_names("backend", backends, BACKEND_ORDER)
    devices = _items(merged.get("device"))
    for device in devices or []:
        if not DEVICE_PATTERN.match(device):
            raise UsageError(f"--device {device}: not a device name (e.g. cpu, cuda, cuda:0, mps, xpu:0, tpu:0)")
    dtypes = _items(merged.get("dtype"))
    _check_names("dtype", dtypes, DTYPES)
    timeout = merged.get("timeout")
    if timeout is not None and not (math.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT_S):
        raise UsageError(f"--timeout {timeout:g}: must be a finite number of seconds above 0 and at most "
                         f"{MAX_TIMEOUT_S:g} (a week)")
    threads = merged.get("threads")
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise UsageError(f"--threads {threads}: must be between 1 and {MAX_THREADS}")
    out = Path(merged.get("out") or DEFAULT_OUT)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    json_out = Path(merged["json"]) if merged.get("json") is not None else None
    if json_out is not None:  # checked before the run, not after an hour of benchmarks
        if json_out.is_dir():
            raise UsageError(f"--json {json_out}: is a directory; give a file name such as {json_out / RUN_FILE}")
        if not json_out.parent.is_dir():
            raise UsageError(f"--json {json_out}: directory {json_out.parent} does not exist")
    config = RunConfig(suites=suites, backends=backends, devices=devices, dtypes=dtypes, profile=profile,
                       timeout_s=timeout, threads=threads)
    return RunSettings(config, out, json_out)


# --- display -----------------------------------------------------------------------------------------

def print_summary(console: Console, done: RunDone | Run, verbose: bool = False) -> None:
    """The short summary of a finished run (verdict, best figures, warnings, skips, and with a RunDone where its
    files are); with `verbose`, the full per-benchmark table too. The display lives in infrabench.run_display."""
    from infrabench.run_display import RunFiles
    from infrabench.run_display import print_summary as show

    if isinstance(done, RunDone):
        files = RunFiles(done.run_path, done.report_path, done.report_note or done.report_error, done.json_path)
        show(console, done.run, files, verbose)
    else:
        show(console, done, None, verbose)


def write_html_report(run: Run, run_dir: Path) -> tuple[Path | None, str | None]:
    """report.html through infrabench.reports.html.write_report when this version has it, else a note why not."""
    try:
        module = importlib.import_module("infrabench.reports.html")
    except ModuleNotFoundError as exc:
        if exc.name not in ("infrabench.reports.html", "infrabench.reports"):
            raise
        return None, "report.html not written: this version has no HTML report"
    write = getattr(module, "write_report", None)
    if write is None:
        return None, "report.html not written: infrabench.reports.html has no write_report"
    return Path(write(run, run_dir / REPORT_FILE)), None


# --- what a finished run is refused for --------------------------------------------------------------

def absent_devices(run: Run, requested: list[str] | None) -> str | None:
    """Why a run must not exit 0 for its devices: a requested device that no backend had here, or None.

    Judged from the devices each backend's worker listed; a backend that never listed any (not installed,
    failed to load) cannot vouch for a device, so a device only it might have had still counts as absent."""
    from infrabench.suites.options import SuiteOptions

    if not requested:
        return None
    listed = {name: out.devices for name, out in run.backends.items() if out.devices is not None}
    have = [d for devices in listed.values() for d in devices]
    absent = [r for r in requested if not any(SuiteOptions(devices=[r]).wants_device(d) for d in have)]
    if not absent:
        return None
    where = "; ".join(f"{name}: {', '.join(devs) or 'none'}" for name, devs in listed.items()) or \
        "no backend could list its devices (see the backends' reasons in run.json)"
    return f"--device {','.join(absent)}: no backend has {'it' if len(absent) == 1 else 'them'} here " \
           f"(devices here: {where})"


def refusal(run: Run) -> str | None:
    """Why a finished run is exit 2 rather than a success (the CLI) or a UsageError (the library), or None."""
    return absent_devices(run, run.config.get("devices")) or nothing_measured(run)


def nothing_measured(run: Run) -> str | None:
    """Why a run that measured nothing is not a success (no ok benchmark at all), or None."""
    if any(b.status == "ok" for b in run.benchmarks):
        return None
    counts: dict[str, int] = {}
    for b in run.benchmarks:
        counts[b.status or "unknown"] = counts.get(b.status or "unknown", 0) + 1
    reasons = list(dict.fromkeys(b.reason for b in run.benchmarks if b.reason))[:3]
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no results at all"
    return "the run measured nothing (" + tally + ")" + (": " + "; ".join(reasons) if reasons else "")


# --- command -----------------------------------------------------------------------------------------

@dataclass
class RunDone:
    """What one run produced: the Run (already written to `run_path`) and the report, or why there is none."""

    run: Run
    run_path: Path
    report_path: Path | None
    report_note: str | None
    report_error: str | None
    stopped: bool  # by SIGINT/SIGTERM
    no_space: str | None  # the data-loading suite ran out of disk space (an input error)
    json_path: Path | None = None  # -o/--json: the copy of the run file


def make_console(quiet: bool = False) -> Console:
    """The run's console. Its reader going away (`infrabench run | head`) silences it instead of ending the
    process as rich does by default: the run goes on, run.json is written, and the CLI then exits 1."""
    from rich.console import Console

    class RunConsole(Console):
        reader_gone = False

        def on_broken_pipe(self) -> None:
            self.quiet = True
            self.reader_gone = True
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
            except (OSError, ValueError):  # pragma: no cover - stdout without a descriptor
                pass

    console = RunConsole(highlight=False, quiet=quiet)
    if not console.is_terminal:  # logs (CI) get a table wide enough to read, not 80 columns
        console = RunConsole(highlight=False, width=max(console.width, 160), quiet=quiet)
    return console


def reader_gone(console: Console) -> bool:
    """Whether the console's reader went away during the run (see make_console)."""
    return bool(getattr(console, "reader_gone", False))


def execute(settings: RunSettings, console: Console, data_dir_arg: Path | None = None,
            keep_data: bool = False) -> RunDone:
    """Detect the machine, run every backend's worker, write run.json (from the journal if stopped) and
    report.html. The CLI and `infrabench.run()` both run through here."""
    from infrabench import detect
    from infrabench.runfile import build_run, new_run_id
    from infrabench.suites.runner import StopSignals, run

    try:
        settings.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {settings.out}: cannot create: {exc.strerror}") from None
    config = settings.config
    console.print(f"infrabench run: profile [bold]{config.profile}[/], suites {', '.join(config.suites)}, "
                  f"backends {', '.join(config.ordered_backends())}; detecting this machine ...")
    profile = detect().to_dict()
    run_id = new_run_id()
    run_dir = settings.out / run_id
    run_dir.mkdir(parents=True)
    journal = run_dir / JOURNAL_NAME
    run_path = run_dir / RUN_FILE

    data_dir = None
    if "dataload" in config.suites:
        from infrabench.suites.dataload import rundata

        try:
            data_dir = rundata.prepare(data_dir_arg, keep_data, run_dir)
        except OSError as exc:
            raise UsageError(f"--data-dir {data_dir_arg}: cannot create: {exc.strerror or exc}") from None
        config.suite_args = {**config.suite_args, "data_dir": str(data_dir.path), "keep_data": data_dir.keep}

    with StopSignals() as stop:
        from infrabench.run_display import RunProgress

        with RunProgress(console, config.suites, config.ordered_backends(), run_dir) as progress:
            try:
                outcome = run(config, profile, journal, progress, stop=stop)
            finally:
                if data_dir is not None:
                    data_dir.cleanup()
        if outcome.interrupted:
            console.print(f"[yellow]interrupted ({outcome.signal_name or 'signal'})[/]: "
                          "writing run.json from the journal")
        result = build_run(outcome.results, profile, config.to_dict(), outcome.backends,
                           outcome.interrupted or stop.event.is_set(), run_id, journal.name,
                           signal_name=stop.signal_name)
        try:
            result.write(run_path)
        except (OSError, RuntimeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UsageError(f"{run_path}: cannot write the run file ({why}); every finished result is safe in "
                             f"{journal}: rebuild run.json and its report with "
                             f"`infrabench report --from-journal {journal}`") from None
        if settings.json_out is not None:  # the same bytes, atomically: a reader never sees half a file
            try:
                write_atomic(settings.json_out, run_path.read_bytes())
            except OSError as exc:
                raise UsageError(f"--json {settings.json_out}: cannot write: {exc.strerror or exc}; the run file "
                                 f"is {run_path}") from None
        report_path, note, report_error = None, None, None
        if not stop.event.is_set():
            try:
                report_path, note = write_html_report(result, run_dir)
            except Exception as exc:  # noqa: BLE001 - the run file is safe; the report failure is reported
                report_error = f"{type(exc).__name__}: {exc}"
        else:
            note = "report.html not written: the run was interrupted"
    no_space = rundata.no_space_error(outcome.results, config.suites) if data_dir is not None else None
    return RunDone(result, run_path, report_path, note, report_error, stop.event.is_set(), no_space,
                   settings.json_out)


def run_command(args: argparse.Namespace) -> int:
    """`infrabench run`; returns the exit code."""
    from infrabench.reports.neutral import visible

    console = make_console()
    done = execute(resolve_settings(args), console, getattr(args, "data_dir", None),
                   bool(getattr(args, "keep_data", False)))
    print_summary(console, done, bool(getattr(args, "verbose", False)))
    if done.no_space:
        print(f"infrabench: error: {done.no_space}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if done.stopped:
        return EXIT_INTERRUPTED
    if done.report_error:
        print(f"infrabench: error: report.html failed: {done.report_error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    refused = refusal(done.run)
    if refused:
        print(f"infrabench: error: {visible(refused)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if reader_gone(console):  # `| head`: the run and its files are complete, but nobody read the summary
        return EXIT_BROKEN_PIPE
    return EXIT_OK
