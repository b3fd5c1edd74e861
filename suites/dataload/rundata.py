"""The data directory of a run, as the `infrabench run` process sees it (stdlib only: the CLI stays light).

`--data-dir D`: datasets go into D (created if missing) and, unless `--keep-data`, everything the run
created inside D is removed at the end; D itself and whatever was in it before stay. Default: `data/`
inside the run directory, removed at the end unless `--keep-data`. A dataload failure for lack of space
becomes one error line and exit 2 when dataload was the only suite.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NO_SPACE_PREFIX = "no space left on device"


@dataclass
class RunDataDir:
    path: Path
    keep: bool
    user_given: bool
    before: set[str] = field(default_factory=set)

    def cleanup(self) -> None:
        """Remove what the run created (all of a default data dir; only the new entries of a user's one)."""
        if self.keep or not self.path.exists():
            return
        if not self.user_given:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for entry in self.path.iterdir():
            if entry.name in self.before:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                try:
                    entry.unlink()
                except OSError:
                    pass


def prepare(data_dir: Path | None, keep: bool, run_dir: Path) -> RunDataDir:
    """Create the data directory and remember what was already in it. OSError when it cannot be created."""
    if data_dir is None:
        path = run_dir / "data"
        path.mkdir(parents=True, exist_ok=True)
        return RunDataDir(path, keep, False)
    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return RunDataDir(path, keep, True, {e.name for e in path.iterdir()})


def no_space_error(results: list[Any], suites: list[str]) -> str | None:
    """The no-space reason when dataload is the only suite and it failed for lack of space, else None."""
    if list(suites) != ["dataload"]:
        return None
    for r in results:
        if r.suite == "dataload" and r.status == "failed" and str(r.reason or "").startswith(NO_SPACE_PREFIX):
            return str(r.reason)
    return None
