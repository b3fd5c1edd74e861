"""The library API: `run`, `compare` and `report`, with the CLI's options and behaviour.

The CLI parses arguments, calls these (or the functions they share with it) and prints; a Python
caller gets the results model's records back instead of text. Like the CLI, this process never
imports torch or jax: every backend runs in its own worker process.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infrabench.errors import UsageError

if TYPE_CHECKING:
    from infrabench.reports.gate import Comparison
    from infrabench.results import Run

PathLike = str | os.PathLike[str]


def _csv(values: str | Iterable[str] | None) -> str | None:
    if values is None:
        return None
    return values if isinstance(values, str) else ",".join(values)


def run(suites: str | Iterable[str] | None = None, backends: str | Iterable[str] | None = None,
        devices: str | Iterable[str] | None = None, dtypes: str | Iterable[str] | None = None,
        profile: str | None = None, out: PathLike | None = None, timeout: float | None = None,
        threads: int | None = None, config: PathLike | None = None, data_dir: PathLike | None = None,
        keep_data: bool = False, quiet: bool = True, json_out: PathLike | None = None) -> Run:
    """Run the suites as `infrabench run` does (same options, same defaults, same files written under
    `out`/<run-id>/) and return the Run. `json_out` is `-o/--json FILE`: the run file also written exactly
    there. `quiet=False` prints the CLI's progress lines and summary.
    Bad options raise UsageError with the CLI's one-line message, and so does a run the CLI would end with
    exit 2 (a requested device no backend has, nothing measured) once its files are written."""
    from infrabench.run_command import execute, make_console, print_summary, refusal, resolve_settings

    args = argparse.Namespace(suite=_csv(suites), backend=_csv(backends), device=_csv(devices),
                              dtype=_csv(dtypes), profile=profile, out=Path(out) if out is not None else None,
                              timeout=timeout, threads=threads, config=Path(config) if config else None,
                              json_out=Path(json_out) if json_out is not None else None)
    console = make_console(quiet=quiet)
    done = execute(resolve_settings(args), console, Path(data_dir) if data_dir else None, keep_data)
    print_summary(console, done)
    if done.no_space:
        raise UsageError(done.no_space)
    refused = refusal(done.run)
    if refused:  # as the CLI's exit 2; the run file stays where it was written
        raise UsageError(f"{refused} (run file: {done.run_path})")
    return done.run


def _as_sources(items: PathLike | Run | Sequence[PathLike | Run]) -> list[Any]:
    from infrabench.results import Run

    if isinstance(items, (str, os.PathLike, Run)):
        return [items]
    return list(items)


def compare(base: PathLike | Run | Sequence[PathLike | Run], new: PathLike | Run,
            threshold: float | str | None = None, alpha: float | None = None, strict: bool | None = None,
            allow_different_machines: bool | None = None, noise: PathLike | None = None,
            confirm: Sequence[PathLike | Run] = (), config: PathLike | None = None) -> Comparison:
    """The gate's comparison of `new` against one or more base runs (files, folders of run files, or Runs),
    exactly as `infrabench compare BASE... NEW` with the same options computes it: the same settings, read
    the same way (`config`, else ./infrabench.toml or ./pyproject.toml, under the options given here).
    `comparison.exit_code` is the CLI's exit code; nothing to compare raises UsageError (the CLI's exit 2);
    `threshold` is 0.1 or "10%"."""
    from infrabench.compare_command import compare_sources, gate_settings

    args = argparse.Namespace(config=Path(config) if config is not None else None,
                              noise=Path(noise) if noise is not None else None, threshold=threshold, alpha=alpha,
                              strict=strict, allow_different_machines=allow_different_machines)
    settings, allow = gate_settings(args)
    return compare_sources(_as_sources(base), new, settings, allow, args.noise, list(confirm))


def report(run: Run | PathLike, path: PathLike) -> Path:
    """Write the self-contained HTML report of one run (a Run or a run file) to `path`, atomically."""
    from infrabench.reports.html import write_report
    from infrabench.results import Run

    loaded = run if isinstance(run, Run) else Run.load(run)
    return write_report(loaded, Path(path))
