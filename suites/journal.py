"""The run journal: one BenchResult per JSON line, appended and fsynced the moment a result is finished.

A worker that crashes, hangs or is killed later loses nothing it already reported; the run file is
built from this journal at the end, or rebuilt from it after an interruption.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .result import BenchResult

log = logging.getLogger(__name__)


def append_result(path: Path, result: BenchResult) -> None:
    """Append one result as a line, flushed and fsynced before returning."""
    line = result.to_json_line() + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def parse_lines(text: str, source: str = "journal") -> list[BenchResult]:
    """Results from journal text. A truncated last line (a write cut short) or a corrupt line is skipped."""
    results: list[BenchResult] = []
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            results.append(BenchResult.from_dict(json.loads(line)))
        except (ValueError, TypeError) as exc:
            last = number == len(lines)  # no newline after it: the write was cut short
            log.warning("%s line %d %s, skipped: %s", source, number,
                        "is truncated" if last else "is not a result", exc)
    return results


def read_results(path: Path) -> list[BenchResult]:
    """Every result in the journal at `path` (empty when it does not exist yet)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return parse_lines(text, str(path))


class JournalTail:
    """Reads the results appended since the last call; only complete lines (a line still being written waits)."""

    def __init__(self, path: Path, offset: int | None = None):
        self.path = Path(path)
        self.offset = self.path.stat().st_size if offset is None and self.path.exists() else (offset or 0)

    def new_results(self) -> list[BenchResult]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        return parse_lines(chunk[: end + 1].decode("utf-8", errors="replace"), str(self.path))
