"""Reading the user's input files (JSON run files, TOML config) with one clear UsageError line per problem,
and writing every output atomically."""

from __future__ import annotations

import json
import math
import os
import stat
import sys
from pathlib import Path
from typing import Any

from infrabench.errors import UsageError


def _regular_file(path: Path, what: str, name: str = "") -> None:
    """A FIFO, socket or device would block or stream forever: only regular files are read."""
    name = name or str(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UsageError(f"{name}: no such {what}") from None
    except OSError as exc:
        raise UsageError(f"{name}: cannot read the {what}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{name}: is a directory, not a {what}")
    if not stat.S_ISREG(mode):
        raise UsageError(f"{name}: not a regular file (a pipe, socket or device): save the {what} to a file first")


def _non_finite(value: Any, where: str = "") -> str | None:
    """The path of the first NaN or infinite number in parsed JSON, or None."""
    stack = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return at or "top level"
        if isinstance(item, dict):
            stack.extend((v, f"{at}/{k}" if at else str(k)) for k, v in reversed(list(item.items())))
        elif isinstance(item, list):
            stack.extend((v, f"{at}[{i}]") for i, v in reversed(list(enumerate(item))))
    return None


def read_json(path: Path, what: str = "run file", truncation_hint: str = "it may be truncated") -> Any:
    """Parse a JSON file; a missing, unreadable, non-regular or invalid file, a nesting too deep to parse,
    and a NaN or infinite number anywhere are each one UsageError line naming the file (and the field)."""
    path = Path(path)
    _regular_file(path, what)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the {what}: {exc}") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise UsageError(f"{path}: not a {what}: nested too deeply to read") from None
    except ValueError as exc:
        hint = f"; {truncation_hint}" if text else ""
        raise UsageError(f"{path}: not valid JSON ({exc}){hint}") from None
    try:
        bad = _non_finite(data)
    except RecursionError:  # pragma: no cover - the walk is iterative
        bad = None
    if bad is not None:
        raise UsageError(f"{path}: {bad}: NaN or an infinite number is not a value a {what} may hold")
    return data


def toml_table(data: dict[str, Any], path: Path, *keys: str) -> Any:
    """data[keys[0]][keys[1]]... where each level present must be a table; None where one is absent.
    A level of the wrong type is one UsageError line naming the file, the table and what it holds."""
    node: Any = data
    for depth, key in enumerate(keys):
        if not isinstance(node, dict):
            where = "[" + ".".join(keys[:depth]) + "]"
            raise UsageError(f"--config {path}: {where} must be a table, not {type(node).__name__}")
        node = node.get(key)
        if node is None:
            return None
    return node


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML config file; problems are one UsageError line."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    _regular_file(Path(path), "file", f"--config {path}")
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except RecursionError:
        raise UsageError(f"--config {path}: nested too deeply to read") from None
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
