"""A child process's lifeline: it dies with its parent, and at its own deadline, taking its process group.

infrabench's children (backend workers, probe children) start in their own session so that a parent can
kill a hung one with its whole group. The flip side: a parent killed with SIGKILL cannot do that, and the
group would run on, unlimited. So each child holds a lifeline, a daemon thread that every POLL_S checks
that the parent that started it is still its parent and that its own deadline has not passed; when
either fails it kills its process group (itself and everything it started) with SIGKILL.

A thread still runs while the main thread sleeps or waits in native code that releases the GIL (the
hung workers seen in practice); the parent's own timeout stays the first line, this one the backstop.
"""

from __future__ import annotations

import os
import signal
import threading
import time

POLL_S = 0.2
PARENT_ENV = "INFRABENCH_PARENT_PID"  # the pid a child must outlive no longer than
DEADLINE_ENV = "INFRABENCH_DEADLINE_S"  # seconds from the child's start (the parent's limit plus a grace)


def child_env(env: dict[str, str], deadline_s: float | None) -> dict[str, str]:
    """The environment for a child that should hold a lifeline to this process."""
    out = {**env, PARENT_ENV: str(os.getpid())}
    if deadline_s is not None:
        out[DEADLINE_ENV] = f"{deadline_s:.3f}"
    else:
        out.pop(DEADLINE_ENV, None)
    return out


def _kill_group() -> None:
    try:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    finally:  # not a group leader, or killpg refused: at least this process goes
        os.kill(os.getpid(), signal.SIGKILL)


def hold(env: dict[str, str] | None = None) -> threading.Thread | None:
    """Start the lifeline if this process was started with one (PARENT_ENV set); returns its thread."""
    own = env is None
    env = os.environ if env is None else env
    parent_text, deadline_text = env.get(PARENT_ENV, ""), env.get(DEADLINE_ENV, "")
    if own:  # this process's own children start without it, unless they are given one
        os.environ.pop(PARENT_ENV, None)
        os.environ.pop(DEADLINE_ENV, None)
    try:
        parent = int(parent_text)
    except ValueError:
        return None
    try:
        deadline = time.monotonic() + float(deadline_text) if deadline_text else None
    except ValueError:
        deadline = None

    def watch() -> None:
        while True:
            if os.getppid() != parent or (deadline is not None and time.monotonic() > deadline):
                _kill_group()
            time.sleep(POLL_S)

    if os.getppid() != parent:  # the parent is already gone
        _kill_group()
    thread = threading.Thread(target=watch, name="infrabench-lifeline", daemon=True)
    thread.start()
    return thread
