"""Shared helpers: run the installed CLI in a fresh process, as a user would."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_cli(*args: str, timeout: float = 120, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infrabench.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


@pytest.fixture(scope="session")
def probe_json() -> dict:
    """One real `infrabench probe --json` of this machine, shared by the tests that read it."""
    import json

    proc = run_cli("probe", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _installed(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


requires_torch = pytest.mark.skipif(not _installed("torch"), reason="torch not installed (tox env without it)")
requires_jax = pytest.mark.skipif(not _installed("jax"), reason="jax not installed (tox env without it)")
