"""Run the suites, one child process per backend, and turn however each child ended into results.

Each backend (numpy, torch, jax) runs in `python -m infrabench.suites.worker` in its own session
(process group), with a time limit. The worker journals every finished result itself; this process
tails the journal for progress and, when a worker crashes, is killed, hangs or is interrupted, appends
the matching `failed` / `oom` / `timeout` record to the same journal. Results a worker journalled
before it died are kept. The run then goes on with the next backend.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from infrabench.probes.lifeline import child_env

from .backends import BACKENDS
from .journal import JournalTail, append_result, read_results
from .result import BenchResult
from .worker import BACKEND_RECORD, MARKER, parse_markers

log = logging.getLogger(__name__)

BACKEND_ORDER: tuple[str, ...] = BACKENDS  # numpy, torch, jax: cheapest to load first
# Per-backend time limit (whole worker: imports, every suite) when none is configured.
DEFAULT_TIMEOUT_S: dict[str, float] = {"quick": 150.0, "standard": 1200.0, "full": 7200.0}
KILL_GRACE_S = 2.0  # SIGTERM, then SIGKILL after this long
WORKER_DEADLINE_GRACE_S = 10.0  # a worker kills itself this long after its limit if no one else did
POLL_S = 0.1
MACHINE_FILE = "machine_profile.json"

BackendStatus = Literal["ok", "skipped", "failed", "timeout", "oom", "interrupted", "not_run"]


@dataclass
class RunConfig:
    """What to run. None for devices/dtypes means every device the backend has / each suite's defaults."""

    suites: list[str]
    backends: list[str] = field(default_factory=lambda: list(BACKEND_ORDER))
    devices: list[str] | None = None
    dtypes: list[str] | None = None
    profile: str = "quick"
    timeout_s: float | None = None  # per backend; None: DEFAULT_TIMEOUT_S[profile]
    threads: int | None = None
    seed: int = 0
    suite_args: dict[str, Any] = field(default_factory=dict)  # passed to every suite as SuiteOptions.suite_args

    def backend_timeout_s(self) -> float:
        return self.timeout_s if self.timeout_s is not None else DEFAULT_TIMEOUT_S.get(self.profile, 1200.0)

    def ordered_backends(self) -> list[str]:
        """numpy, torch, jax first (cheapest to load first), then any other backend in the given order."""
        known = [b for b in BACKEND_ORDER if b in self.backends]
        return known + [b for b in dict.fromkeys(self.backends) if b not in BACKEND_ORDER]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["timeout_s"] = self.backend_timeout_s()
        return data


@dataclass
class BackendOutcome:
    """How one backend's worker ended."""

    status: BackendStatus
    reason: str | None = None
    duration_s: float | None = None
    returncode: int | None = None
    results: int = 0  # results journalled for this backend, including the records added for its end
    log: str | None = None  # worker log file name, beside the journal
    devices: list[str] | None = None  # the devices the backend has here, as its worker listed them

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProgressEvent:
    kind: Literal["backend_start", "result", "backend_end"]
    backend: str
    result: BenchResult | None = None
    outcome: BackendOutcome | None = None


Progress = Callable[[ProgressEvent], None]


@dataclass
class RunOutcome:
    results: list[BenchResult]  # everything in the journal, in the order it was written
    backends: dict[str, BackendOutcome]
    interrupted: bool
    duration_s: float
    signal_name: str | None = None  # SIGINT / SIGTERM when interrupted


class StopSignals:
    """While active, SIGINT and SIGTERM set `event` instead of raising, so the run can stop cleanly.

    Only the main thread can install handlers; elsewhere this is a plain event the caller may set.
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: Any) -> None:
        self.signum = signum
        self.event.set()

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old.clear()

    @property
    def signal_name(self) -> str | None:
        return None if self.signum is None else signal.Signals(self.signum).name


def run(config: RunConfig, profile: dict[str, Any], journal: Path, progress: Progress | None = None,
        stop: StopSignals | None = None) -> RunOutcome:
    """Run every configured backend in turn; returns all journalled results and each backend's outcome.

    `stop` lets the caller keep SIGINT/SIGTERM handling active beyond the run (to write the run file);
    without it, this function installs its own for the duration of the run.
    """
    journal = Path(journal)
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.touch()
    machine_path = journal.parent / MACHINE_FILE
    tmp = machine_path.with_name(f".{MACHINE_FILE}.{os.getpid()}.tmp")  # atomic: never half a profile
    tmp.write_text(json.dumps(profile, default=str))
    os.replace(tmp, machine_path)
    started = time.monotonic()
    outcomes: dict[str, BackendOutcome] = {}
    own = stop is None
    signals = stop or StopSignals()
    if own:
        signals.__enter__()
    try:
        for backend in config.ordered_backends():
            if signals.event.is_set():
                outcomes[backend] = BackendOutcome("not_run", "the run was interrupted before this backend started")
                continue
            outcomes[backend] = run_backend(backend, config, journal, machine_path, progress, signals.event)
    finally:
        if own:
            signals.__exit__()
    return RunOutcome(read_results(journal), outcomes, signals.event.is_set(), time.monotonic() - started,
                      signals.signal_name)


def worker_command(backend: str, config: RunConfig, journal: Path, machine_path: Path) -> list[str]:
    cmd = [sys.executable, "-m", "infrabench.suites.worker", "--backend", backend,
           "--suites", ",".join(config.suites), "--profile", config.profile, "--seed", str(config.seed),
           "--journal", str(journal), "--machine", str(machine_path)]
    if config.suite_args:
        cmd += ["--suite-args", json.dumps(config.suite_args)]
    if config.devices:
        cmd += ["--devices", ",".join(config.devices)]
    if config.dtypes:
        cmd += ["--dtypes", ",".join(config.dtypes)]
    if config.threads is not None:
        cmd += ["--threads", str(config.threads)]
    return cmd


def run_backend(backend: str, config: RunConfig, journal: Path, machine_path: Path,
                progress: Progress | None, stop: threading.Event) -> BackendOutcome:
    """One worker, from start to whatever end; the records for an abnormal end go into the journal."""
    notify = progress or (lambda _event: None)
    notify(ProgressEvent("backend_start", backend))
    log_path = journal.parent / f"worker-{backend}.log"
    timeout_s = config.backend_timeout_s()
    # The worker dies with this process and at its own deadline (the limit here plus a grace).
    env = child_env({**os.environ, "PYTHONUNBUFFERED": "1"}, timeout_s + WORKER_DEADLINE_GRACE_S)
    tail = JournalTail(journal)
    count, last = 0, None
    ended_by: str | None = None  # "timeout" | "interrupted" when this process ended the worker
    started = time.monotonic()
    with open(log_path, "wb") as log_fh:
        proc = subprocess.Popen(worker_command(backend, config, journal, machine_path), stdout=log_fh,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        while True:
            rc = proc.poll()
            for result in tail.new_results():
                count, last = count + 1, result
                notify(ProgressEvent("result", backend, result))
            if rc is not None:
                break
            if stop.is_set():
                ended_by = "interrupted"
            elif time.monotonic() - started > timeout_s:
                ended_by = "timeout"
            if ended_by:
                kill_group(proc)
                continue
            stop.wait(POLL_S)
        kill_group(proc, grace_s=0)  # anything the worker left behind in its group
    duration = time.monotonic() - started
    for result in tail.new_results():
        count, last = count + 1, result
        notify(ProgressEvent("result", backend, result))

    text = log_path.read_text(encoding="utf-8", errors="replace")
    outcome, records = classify(backend, config, proc.returncode, ended_by, text, count, last, timeout_s)
    for record in records:
        append_result(journal, record)
        notify(ProgressEvent("result", backend, record))
    listed = [e.get("devices") for e in parse_markers(text) if e.get("event") == "devices"]
    if listed and isinstance(listed[-1], list):
        outcome.devices = [str(d) for d in listed[-1]]
    outcome.duration_s = round(duration, 3)
    outcome.results = count + len(records)
    outcome.log = log_path.name
    tail.new_results()
    notify(ProgressEvent("backend_end", backend, outcome=outcome))
    return outcome


def kill_group(proc: subprocess.Popen, grace_s: float = KILL_GRACE_S) -> None:
    """SIGTERM the worker's process group, then SIGKILL whatever is left after `grace_s`."""
    sig = signal.SIGTERM if grace_s > 0 else signal.SIGKILL
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    if grace_s > 0:
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    proc.wait()


def last_log_line(text: str) -> str | None:
    """The most telling line of a worker log: a fatal-error line if any, else the last non-marker line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith(MARKER)]
    fatal = [ln for ln in lines if ln.startswith("Fatal Python error")]
    line = fatal[-1] if fatal else (lines[-1] if lines else None)
    return None if line is None else line[:200]


def classify(backend: str, config: RunConfig, returncode: int, ended_by: str | None, log_text: str,
             count: int, last: BenchResult | None, timeout_s: float) -> tuple[BackendOutcome, list[BenchResult]]:
    """The backend's outcome from how its worker ended, and the records that stand for the unfinished suites."""
    events = parse_markers(log_text)
    started = [e["suite"] for e in events if e.get("event") == "suite_start"]
    ended = {e["suite"] for e in events if e.get("event") == "suite_end"}
    running = next((s for s in started if s not in ended), None)
    not_started = [s for s in config.suites if s not in started]
    if ended_by == "interrupted":
        return BackendOutcome("interrupted", "the run was interrupted (SIGINT/SIGTERM); the worker was stopped",
                              returncode=returncode), []
    if ended_by is None and returncode == 0:
        for event in events:
            if event.get("event") == "unavailable":
                return BackendOutcome("skipped", event.get("reason"), returncode=0), []
            if event.get("event") == "no_device":
                return BackendOutcome("skipped", event.get("reason"), returncode=0), []
            if event.get("event") == "backend_failed":
                return BackendOutcome("failed", f"backend could not be loaded: {event.get('reason')}",
                                      returncode=0), []
        if any(e.get("event") == "end" for e in events):
            return BackendOutcome("ok", None, returncode=0), []

    tail_line = last_log_line(log_text)
    if ended_by == "timeout":
        status, what = "timeout", f"no end within {timeout_s:g} s (the per-backend time limit); worker killed"
    elif returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else f"signal {-returncode}"
        if -returncode == signal.SIGKILL:
            status, what = "oom", "worker killed by SIGKILL (likely out-of-memory: the kernel's OOM killer sends it)"
        else:
            status, what = "failed", f"worker crashed: {name}" + (f" ({tail_line})" if tail_line else "")
    else:
        status = "failed"
        what = f"worker exited with code {returncode} before finishing" + (f" ({tail_line})" if tail_line else "")

    if running:
        where = f"during suite {running}"
    elif started:
        where = "after its last suite finished"
    else:
        where = "before any suite started (while loading the backend)"
    done = f"; {count} result(s) journalled" + (f", last {last.fullname}" if last else "")
    reason = f"{what} {where}{done}; see worker-{backend}.log"
    records = []
    crashed = [running] if running else [s for s in config.suites if s not in ended]
    for suite in crashed:
        records.append(BenchResult(suite, BACKEND_RECORD, backend, "-", "-", status=status, reason=reason))
    if running:
        for suite in not_started:
            records.append(BenchResult(suite, BACKEND_RECORD, backend, "-", "-", status="skipped",
                                       reason=f"not run: the {backend} worker ended ({status}) during suite {running}"))
    return BackendOutcome(status, reason, returncode=returncode), records  # type: ignore[arg-type]
