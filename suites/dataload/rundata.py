"""The data directory of a run, as the `infrabench run` process sees it (stdlib only: the CLI stays light).

`--data-dir D`: datasets go into `D/infrabench-data/`, a folder infrabench creates and marks as its own
(`.infrabench-data.json`: who made it, whether it is kept); nothing else in D is ever touched, whatever
other processes put there during the run. Unless `--keep-data`, what the run created is removed at the
end: the whole folder when the run created it, else only the run's new entries in it. Default: `data/`
inside the run directory, removed at the end unless `--keep-data`. A folder left by a run whose process
died (its marker names a process that no longer exists, and the data was not kept) is removed by the next
run that uses the same D. A dataload failure for lack of space becomes one error line and exit 2 when
dataload was the only suite.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NO_SPACE_PREFIX = "no space left on device"
OWNED_DIR = "infrabench-data"
MARKER = ".infrabench-data.json"


@dataclass
class RunDataDir:
    path: Path  # where the datasets go: a folder infrabench owns
    keep: bool
    created: bool  # this run made `path` (and so may remove all of it)
    before: set[str] = field(default_factory=set)  # entries of `path` that were there before the run

    def cleanup(self) -> None:
        """Remove what the run created: all of `path` when the run made it, else only its new entries."""
        if self.keep or not self.path.exists():
            return
        if self.created:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for entry in self.path.iterdir():
            if entry.name in self.before or entry.name == MARKER:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                try:
                    entry.unlink()
                except OSError:
                    pass


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _marker(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("owner") == "infrabench" else None


def _write_marker(path: Path, keep: bool) -> None:
    tmp = path / f"{MARKER}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"owner": "infrabench", "pid": os.getpid(), "keep": keep}), encoding="utf-8")
    os.replace(tmp, path / MARKER)


def remove_stale(folder: Path) -> bool:
    """Remove `folder` if infrabench's marker says a run made it, did not keep it, and has died. True if removed."""
    marker = _marker(folder)
    if marker is None or marker.get("keep") or _alive(marker.get("pid")):
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


def prepare(data_dir: Path | None, keep: bool, run_dir: Path) -> RunDataDir:
    """Create the data directory (infrabench's own folder inside a user's D) and remember what was in it.
    OSError when it cannot be created."""
    if data_dir is None:
        path = run_dir / "data"
        path.mkdir(parents=True, exist_ok=True)
        return RunDataDir(path, keep, True)
    base = Path(data_dir).resolve()
    base.mkdir(parents=True, exist_ok=True)
    path = base / OWNED_DIR
    kept_before = False
    if path.exists() or path.is_symlink():
        marker = _marker(path) if path.is_dir() and not path.is_symlink() else None
        if marker is None:
            raise OSError(17, f"{path} exists and was not made by infrabench (no {MARKER}); "
                              "choose another --data-dir or move it")
        kept_before = bool(marker.get("keep"))
        remove_stale(path)
    created = not path.exists()
    path.mkdir(exist_ok=True)
    before = set() if created else {e.name for e in path.iterdir()}
    _write_marker(path, keep or kept_before)  # data a run kept stays kept
    return RunDataDir(path, keep, created, before)


def no_space_error(results: list[Any], suites: list[str]) -> str | None:
    """The no-space reason when dataload is the only suite and it failed for lack of space, else None."""
    if list(suites) != ["dataload"]:
        return None
    for r in results:
        if r.suite == "dataload" and r.status == "failed" and str(r.reason or "").startswith(NO_SPACE_PREFIX):
            return str(r.reason)
    return None
