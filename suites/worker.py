"""Child-process entry: run the requested suites on one backend, journalling each result as it finishes.

    python -m infrabench.suites.worker --backend torch --suites matmul,memory --profile quick \
        --journal run.journal.jsonl --machine machine_profile.json [--devices cpu] [--dtypes fp32] \
        [--threads 2] [--seed 0]

Each backend runs in its own worker so that importing torch or jax, a driver crash, an out-of-memory
kill or a hang stays inside it; the parent (suites/runner.py) turns how the worker ended into results.
The worker prints one marker line per suite start/end on stdout (see MARKER) so the parent knows which
suite was running when the worker died.

Test hook: INFRABENCH_TEST_FAULT=BACKEND:ACTION[@N][,...] makes the worker for BACKEND misbehave
right after its N-th result is journalled (default 1; 0 = before the first suite): `abort` (os.abort,
SIGABRT), `segv` (SIGSEGV), `kill` (SIGKILL, as the out-of-memory killer does), `hang` (sleep forever),
`raise` (RuntimeError inside the suite), `oom` (MemoryError inside the suite). It exists only so tests
can exercise every way a worker can end; nothing else sets it.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infrabench.probes.lifeline import hold

from .journal import append_result
from .options import SuiteOptions
from .result import BenchResult

MARKER = "INFRABENCH-WORKER "
FAULT_ENV = "INFRABENCH_TEST_FAULT"
FAULT_ACTIONS = ("abort", "segv", "kill", "hang", "raise", "oom")
# Name of the result that stands for a whole suite on a backend (not one benchmark).
BACKEND_RECORD = "backend"  # the backend is unavailable, or its worker ended abnormally
SUITE_RECORD = "suite"  # the suite raised


def marker(event: str, **fields: Any) -> None:
    """One line on stdout the parent parses from the worker's log."""
    sys.stdout.write("\n" + MARKER + json.dumps({"event": event, **fields}, default=str) + "\n")
    sys.stdout.flush()


def parse_markers(text: str) -> list[dict[str, Any]]:
    """The marker events in a worker's log, in order (a half-written last marker is ignored)."""
    events = []
    for line in text.splitlines():
        if line.startswith(MARKER):
            try:
                events.append(json.loads(line[len(MARKER):]))
            except ValueError:
                continue
    return events


@dataclass
class Fault:
    action: str
    after: int


def parse_fault(backend: str, env: dict[str, str] | None = None) -> Fault | None:
    """The test fault for `backend` from INFRABENCH_TEST_FAULT, if any."""
    text = (os.environ if env is None else env).get(FAULT_ENV, "")
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, spec = item.partition(":")
        action, _, after = spec.partition("@")
        if name == backend and action in FAULT_ACTIONS:
            return Fault(action, int(after) if after else 1)
    return None


def trigger(fault: Fault) -> None:
    if fault.action == "abort":
        os.abort()
    if fault.action == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if fault.action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault.action == "hang":
        while True:
            time.sleep(3600)
    if fault.action == "raise":
        raise RuntimeError(f"fault injected by {FAULT_ENV}")
    if fault.action == "oom":
        raise MemoryError(f"fault injected by {FAULT_ENV}")


class Emitter:
    """`emit` for the suites: journal the result at once, then apply the test fault if one is due."""

    def __init__(self, journal: Path, fault: Fault | None):
        self.journal = journal
        self.fault = fault
        self.count = 0

    def __call__(self, result: BenchResult) -> None:
        append_result(self.journal, result)
        self.count += 1
        if self.fault is not None and self.count == self.fault.after:
            trigger(self.fault)


def suite_record(suite: str, backend: str, status: str, reason: str, name: str = SUITE_RECORD) -> BenchResult:
    return BenchResult(suite, name, backend, "-", "-", status=status, reason=reason)  # type: ignore[arg-type]


def run_worker(backend_name: str, suites: list[str], opts: SuiteOptions, journal: Path,
               get_backend: Callable[[str], Any] | None = None) -> int:
    """Run every suite on one backend; each failure becomes a result and the next suite still runs."""
    from .registry import load_suite

    emit = Emitter(journal, parse_fault(backend_name))
    if emit.fault is not None and emit.fault.after == 0:
        trigger(emit.fault)
    try:
        if get_backend is None:
            from .backends import get_backend
        backend = get_backend(backend_name)
        reason = backend.unavailable_reason()
    except Exception as exc:  # noqa: BLE001 - a backend that cannot even load is recorded, not fatal
        traceback.print_exc()
        for suite in suites:
            append_result(journal, suite_record(suite, backend_name, "failed",
                                                f"backend could not be loaded: {type(exc).__name__}: {exc}",
                                                BACKEND_RECORD))
        marker("backend_failed", reason=f"{type(exc).__name__}: {exc}")
        return 0
    if reason:
        for suite in suites:
            append_result(journal, suite_record(suite, backend_name, "skipped", reason, BACKEND_RECORD))
        marker("unavailable", reason=reason)
        return 0

    try:
        have: list[str] | None = backend.devices()
    except Exception as exc:  # noqa: BLE001 - e.g. a driver error while counting GPUs: the suites still run
        traceback.print_exc()  # (each one that needs the list fails on its own, recorded with its reason)
        have = None
        marker("devices_failed", reason=f"{type(exc).__name__}: {exc}")
    if have is not None:
        marker("devices", devices=have)
    if have is not None and opts.devices is not None and not any(opts.wants_device(d) for d in have):
        why = (f"no requested device ({', '.join(opts.devices)}) on {backend_name} here; "
               f"it has {', '.join(have) or 'none'}")
        for suite in suites:
            append_result(journal, suite_record(suite, backend_name, "skipped", why, BACKEND_RECORD))
        marker("no_device", reason=why)
        return 0
    for suite in suites:
        marker("suite_start", suite=suite, results=emit.count)
        try:
            load_suite(suite)(backend, opts, emit)
        except MemoryError as exc:
            traceback.print_exc()
            emit(suite_record(suite, backend_name, "oom", f"MemoryError in suite {suite}: {exc}"))
        except Exception as exc:  # noqa: BLE001 - one suite's failure must not stop the others
            traceback.print_exc()
            emit(suite_record(suite, backend_name, "failed",
                              f"{type(exc).__name__}: {exc} (traceback in the worker log)"))
        marker("suite_end", suite=suite, results=emit.count)
    return 0


def _split(text: str | None) -> list[str] | None:
    items = [item.strip() for item in (text or "").split(",") if item.strip()]
    return items or None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infrabench.suites.worker")
    p.add_argument("--backend", required=True)
    p.add_argument("--suites", required=True, help="comma-separated suite names")
    p.add_argument("--profile", default="quick")
    p.add_argument("--devices", help="comma-separated; omitted: every device of the backend")
    p.add_argument("--dtypes", help="comma-separated; omitted: each suite's defaults")
    p.add_argument("--threads", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--journal", type=Path, required=True)
    p.add_argument("--machine", type=Path, help="MachineProfile JSON")
    p.add_argument("--suite-args", default="{}", help="JSON object of suite-specific options")
    return p


def main(argv: list[str] | None = None) -> int:
    faulthandler.enable()  # a crash in native code leaves a Python traceback in the worker log
    hold()  # dies with the run that started it, and at its own deadline
    args = _parser().parse_args(argv)
    machine = json.loads(args.machine.read_text()) if args.machine else {}
    opts = SuiteOptions(profile=args.profile, devices=_split(args.devices), dtypes=_split(args.dtypes),
                        seed=args.seed, machine=machine, threads=args.threads,
                        suite_args=json.loads(args.suite_args))
    marker("start", backend=args.backend, pid=os.getpid())
    rc = run_worker(args.backend, _split(args.suites) or [], opts, args.journal)
    marker("end")
    return rc


if __name__ == "__main__":
    sys.exit(main())
