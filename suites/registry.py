"""Which suites exist, by name, and where their `run_suite` lives. Imported lazily, so listing them is cheap.

A suite module exposes `run_suite(backend, opts: SuiteOptions, emit) -> None`; it calls `emit` once per
finished result. New suites add a line to SUITES.

Hook (for tests and experiments): the environment variable INFRABENCH_EXTRA_SUITES adds suites without
editing this file, as a comma-separated list of `name=module:function`, e.g.
`INFRABENCH_EXTRA_SUITES=selftest=my_module:run_suite`. The module must be importable in the worker.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

SUITES: dict[str, str] = {
    "matmul": "infrabench.suites.matmul:run_suite",
    "memory": "infrabench.suites.memory:run_suite",
    "train": "infrabench.suites.train.suite:run_suite",
    "dataload": "infrabench.suites.dataload.suite:run_suite",
}

# Suites whose results add up to a verdict: "module:function(results, profile, config) -> dict | None",
# computed in the parent when the run file is written; it lands in the Run's verdicts[suite].
VERDICTS: dict[str, str] = {
    "train": "infrabench.suites.train.summary:verdict",
    "dataload": "infrabench.suites.dataload.verdict:verdict",
}

EXTRA_SUITES_ENV = "INFRABENCH_EXTRA_SUITES"


def extra_suites(env: dict[str, str] | None = None) -> dict[str, str]:
    """Suites added through INFRABENCH_EXTRA_SUITES (`name=module:function`, comma-separated)."""
    text = (os.environ if env is None else env).get(EXTRA_SUITES_ENV, "")
    extra: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, target = item.partition("=")
        if not sep or ":" not in target or not name.strip():
            raise ValueError(f"{EXTRA_SUITES_ENV}: {item!r} is not name=module:function")
        extra[name.strip()] = target.strip()
    return extra


def all_suites(env: dict[str, str] | None = None) -> dict[str, str]:
    """The registered suites followed by any added through the environment hook."""
    return {**SUITES, **extra_suites(env)}


def load_suite(name: str) -> Callable[..., Any]:
    """Import and return the suite's `run_suite`; ValueError for an unknown name."""
    suites = all_suites()
    if name not in suites:
        raise ValueError(f"unknown suite {name!r} (known: {', '.join(suites)})")
    target = suites[name]
    module_name, _, func_name = target.partition(":")
    return getattr(importlib.import_module(module_name), func_name)


def compute_verdicts(results: list[Any], profile: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Each registered suite's verdict over this run's results (suites absent from the run give none)."""
    present = {r.suite for r in results}
    verdicts: dict[str, Any] = {}
    for suite, target in VERDICTS.items():
        if suite not in present:
            continue
        module_name, _, func_name = target.partition(":")
        verdict = getattr(importlib.import_module(module_name), func_name)(results, profile, config)
        if verdict is not None:
            verdicts[suite] = verdict
    return verdicts
