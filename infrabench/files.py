"""Reading the user's input files (JSON run files, TOML config) with one clear UsageError line per problem,
and writing every output atomically."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from infrabench.errors import UsageError


def read_json(path: Path, what: str = "run file", truncation_hint: str = "it may be truncated") -> Any:
    """Parse a JSON file; a missing, unreadable or invalid file is one UsageError line naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the {what}: {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        hint = f"; {truncation_hint}" if text else ""
        raise UsageError(f"{path}: not valid JSON ({exc}){hint}") from None


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML config file; problems are one UsageError line."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--config {path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--config {path}: not valid TOML: {exc}") from None


def write_atomic(path: Path, data: Any) -> Path:
    """Write text, bytes or a JSON-able object to `path` via a temporary file in the same folder, fsync and
    os.replace: a reader sees the old file or the new one, never half of one; a failed write leaves no temp."""
    path = Path(path)
    if isinstance(data, bytes):
        payload = data
    elif isinstance(data, str):
        payload = data.encode("utf-8")
    else:
        payload = (json.dumps(data, indent=2, default=str, allow_nan=False) + "\n").encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
