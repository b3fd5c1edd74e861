"""Run a probe function in a child process with a timeout.

Vendor libraries and frameworks (NVML, torch, jax) are only ever touched here: initialising CUDA or
libtpu in the CLI process would grab the device or break later children, and a hung driver call
must become a `timeout` status rather than a hung CLI.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from .lifeline import child_env, hold
from .record import ProbeTimeout, Unavailable

MARKER = "INFRABENCH-CHILD-RESULT "
LIFELINE_GRACE_S = 5.0  # the child's own deadline: the parent's limit plus this


def run_child(
    target: str,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    python: str | None = None,
    args: list[str] | None = None,
) -> Any:
    """Call `module:function` (a JSON-returning function, given `args` as strings) in a fresh interpreter.

    Raises Unavailable / PermissionError / ProbeTimeout / RuntimeError so `run_probe` maps the status.
    """
    cmd = [python or sys.executable, "-m", "infrabench.probes.child", target, *(args or [])]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=child_env(dict(env if env is not None else os.environ), timeout_s + LIFELINE_GRACE_S),
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise ProbeTimeout(f"{target} did not answer within {timeout_s:g} s; child process killed") from None
    for line in reversed(out.splitlines()):
        if line.startswith(MARKER):
            payload = json.loads(line[len(MARKER):])
            break
    else:
        tail = (err.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{target} child exited with code {proc.returncode}: {tail}")
    kind = payload.get("kind")
    if kind == "ok":
        return payload["value"]
    if kind == "unavailable":
        raise Unavailable(payload["reason"])
    if kind == "no_permission":
        raise PermissionError(payload["reason"])
    raise RuntimeError(payload.get("reason", "child failed"))


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _main(argv: list[str]) -> int:
    hold()  # dies with the parent, and at its own deadline
    module_name, _, func_name = argv[0].partition(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        payload = {"kind": "ok", "value": func(*argv[1:])}
    except Unavailable as exc:
        payload = {"kind": "unavailable", "reason": str(exc)}
    except PermissionError as exc:
        payload = {"kind": "no_permission", "reason": f"permission denied: {exc}"}
    except Exception as exc:  # noqa: BLE001 - reported to the parent as the probe's error
        payload = {"kind": "error", "reason": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write("\n" + MARKER + json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
