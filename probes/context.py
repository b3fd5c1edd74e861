"""Where probes look: the filesystem root and environment, swappable so tests can build fake machines."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .record import ProbeStatus, ProbeTimeout, Unavailable

T = TypeVar("T")


@dataclass
class ProbeContext:
    """`root` prefixes every /proc, /sys and /dev path; `env` replaces os.environ for probes."""

    root: Path = Path("/")
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    timeout_s: float = 20.0
    storage_paths: list[Path] = field(default_factory=list)
    python: str | None = None  # interpreter for child probes; None means this one

    def path(self, absolute: str) -> Path:
        """Map an absolute system path (e.g. '/proc/cpuinfo') under `root`."""
        return self.root / absolute.lstrip("/")

    def read_text(self, absolute: str) -> str | None:
        """Contents of a system file, or None when it does not exist. PermissionError propagates."""
        try:
            return self.path(absolute).read_text(errors="replace")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            if isinstance(exc, PermissionError):
                raise
            return None

    def read_int(self, absolute: str) -> int | None:
        text = self.read_text(absolute)
        if text is None:
            return None
        try:
            return int(text.strip().split()[0], 0)
        except (ValueError, IndexError):
            return None


def run_probe(name: str, fn: Callable[[], T], default: T) -> tuple[T, ProbeStatus]:
    """Run one probe and turn whatever went wrong into a status instead of an exception."""
    start = time.perf_counter()

    def done(status: str, reason: str | None, value: Any) -> tuple[Any, ProbeStatus]:
        return value, ProbeStatus(name, status, reason, round(time.perf_counter() - start, 4))  # type: ignore[arg-type]

    try:
        return done("ok", None, fn())
    except Unavailable as exc:
        return done("unavailable", str(exc), default)
    except PermissionError as exc:
        return done("no_permission", f"permission denied: {exc.filename or exc}", default)
    except ProbeTimeout as exc:
        return done("timeout", str(exc), default)
    except Exception as exc:  # noqa: BLE001 - a broken probe must never stop the others
        return done("error", f"{type(exc).__name__}: {exc}", default)
