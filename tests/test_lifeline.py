"""No child of infrabench outlives its parent: `kill -9` the CLI mid-run and every process of the run goes,
a hung worker too, well before the time limit the dead parent can no longer enforce."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from infrabench.probes.lifeline import PARENT_ENV, hold
from test_runner import hook_env


def _run_processes(out: Path) -> list[psutil.Process]:
    """Every process whose command line names this run's results folder (the CLI and its workers)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(str(out) in part for part in p.info["cmdline"] or []):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _wait_for(condition, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.slow
@pytest.mark.parametrize("suite, fault", [("memory", None), ("selftest", "numpy:hang")])
def test_kill_9_of_the_cli_leaves_no_process_of_the_run(tmp_path: Path, suite: str, fault: str | None) -> None:
    """Plain: the real memory suite, killed while its worker measures; hung: a worker that sleeps forever."""
    out = tmp_path / "results"
    limit_s = 60  # the worker's own limit: the dead CLI cannot enforce it, the worker must die long before
    cli = subprocess.Popen([sys.executable, "-m", "infrabench.cli", "run", "--suite", suite, "--backend", "numpy",
                            "--out", str(out), "--timeout", str(limit_s)], env=hook_env(fault),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: len(_run_processes(out)) >= 2 and list(out.glob("*/run.journal.jsonl")), 60), \
            "the worker never started"
        workers = [p for p in _run_processes(out) if p.pid != cli.pid]
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait(timeout=10)
        started = time.monotonic()
        assert _wait_for(lambda: not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers), 10)
        assert time.monotonic() - started < 10 < limit_s
        assert _run_processes(out) == []
    finally:
        for p in _run_processes(out):
            p.kill()
        if cli.poll() is None:
            cli.kill()


def test_a_lifeline_kills_its_group_when_the_parent_goes(tmp_path: Path) -> None:
    """A child holding a lifeline to a parent that then dies takes its own child (a sleeper) with it."""
    code = ("import subprocess, sys, time\n"
            "from infrabench.probes.lifeline import hold\n"
            "sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
            "print(sleeper.pid, flush=True)\n"
            "hold()\n"
            "time.sleep(120)\n")
    parent_code = ("import os, subprocess, sys\n"
                   f"env = {{**os.environ, {PARENT_ENV!r}: str(os.getpid())}}\n"
                   "child = subprocess.Popen([sys.executable, '-c', sys.argv[1]], env=env, start_new_session=True,\n"
                   "                         stdout=subprocess.PIPE, text=True)\n"
                   "print(child.pid, child.stdout.readline().strip(), flush=True)\n")
    parent = subprocess.run([sys.executable, "-c", parent_code, code], capture_output=True, text=True, timeout=60)
    child_pid, sleeper_pid = (int(x) for x in parent.stdout.split())
    # The parent has exited: the child's lifeline must kill the child and its sleeper.
    for pid in (child_pid, sleeper_pid):
        assert _wait_for(lambda pid=pid: not psutil.pid_exists(pid) or
                         psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 5), pid


def test_no_lifeline_without_a_parent_named() -> None:
    assert hold({}) is None and hold({PARENT_ENV: "not-a-pid"}) is None


@pytest.mark.slow
def test_sigterm_to_ab_ends_its_run_and_the_run_s_worker(tmp_path: Path) -> None:
    """`infrabench ab` stopped by SIGTERM while a round runs: exit 130 with a line, and no `run` or worker
    of it is left (the round runs a worker that hangs, so nothing would end on its own)."""
    out = tmp_path / "ab"
    ab = subprocess.Popen([sys.executable, "-m", "infrabench.cli", "ab", "--a", sys.executable, "--b",
                           sys.executable, "--rounds", "7", "--suite", "selftest", "--backend", "numpy",
                           "--timeout", "120", "--out", str(out)], env=hook_env("numpy:hang"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: any(p.pid != ab.pid for p in _run_processes(out)) and
                         list(out.glob("**/run.journal.jsonl")), 90), "no round started"
        ab.send_signal(signal.SIGTERM)
        _, err = ab.communicate(timeout=30)
        assert ab.returncode == 130 and "interrupted" in err, err
        assert _wait_for(lambda: _run_processes(out) == [], 10), [p.cmdline() for p in _run_processes(out)]
    finally:
        for p in _run_processes(out):
            p.kill()
        if ab.poll() is None:
            ab.kill()
