"""Reference machines a run is compared with: bundled AI and IT baselines, and the user's own.

A baseline is one JSON file: a name, a class (`ai` or `it`), a description, and per figure its
value, unit and provenance — `measured` (by infrabench version X on date Y, run file kept beside
it), `datasheet` (a named vendor document), `computed` (arithmetic on datasheet figures, basis
given), `published` (a named public measurement) or `reported` (a figure whose public source could
not be identified; shown, and marked so). A figure a baseline has no source for is absent: "—".

Bundled files live in this package's `baselines/` folder (package data `baselines/*.json`). User
baselines live in `$INFRABENCH_BASELINE_DIR`, else `$XDG_DATA_HOME/infrabench/baselines`
(default `~/.local/share/infrabench/baselines`); a user file with a bundled name takes precedence.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infrabench.errors import UsageError
from infrabench.files import read_json, write_atomic

from .run_figures import FIGURES, run_figures

LOG = logging.getLogger("infrabench")

BUNDLED_DIR = Path(__file__).resolve().parent / "baselines"
DIR_ENV = "INFRABENCH_BASELINE_DIR"
FORMAT = "infrabench-baseline"
CLASSES = ("ai", "it")
PROVENANCE_KINDS = ("measured", "datasheet", "computed", "published", "reported")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Provenance:
    kind: str  # one of PROVENANCE_KINDS
    source: str  # the document, publication or tool that gave the figure
    date: str | None = None
    run_file: str | None = None  # measured: the run file kept beside the baseline
    basis: str | None = None  # computed: the arithmetic

    def text(self) -> str:
        parts = [f"{self.kind}: {self.source}"]
        if self.date:
            parts.append(f"on {self.date}")
        if self.basis:
            parts.append(f"({self.basis})")
        return " ".join(parts)


@dataclass(frozen=True)
class BaselineFigure:
    key: str
    value: float
    unit: str
    provenance: Provenance
    note: str | None = None


@dataclass
class Baseline:
    name: str
    cls: str  # "ai" | "it"
    description: str
    figures: dict[str, BaselineFigure] = field(default_factory=dict)
    path: Path | None = None
    origin: str = "bundled"  # "bundled" | "user"

    def source_kinds(self) -> list[str]:
        return sorted({f.provenance.kind for f in self.figures.values()})

    def reference(self, key: str) -> BaselineFigure | None:
        """The figure to compare `key` with: the achieved one, else its datasheet peak (an upper bound)."""
        if key in self.figures:
            return self.figures[key]
        spec = FIGURES.get(key)
        return self.figures.get(spec.peak_key) if spec and spec.peak_key else None


def _bad(path: Path, why: str) -> UsageError:
    return UsageError(f"{path}: not an infrabench baseline: {why}")


def parse_baseline(data: Any, path: Path, origin: str = "bundled") -> Baseline:
    """A baseline from its JSON; every problem is one UsageError line."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _bad(path, f'"format" must be "{FORMAT}"')
    name, cls = data.get("name"), data.get("class")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise _bad(path, "name must be lower-case letters, digits, '.', '_' or '-'")
    if cls not in CLASSES:
        raise _bad(path, f"class must be one of {', '.join(CLASSES)}")
    figures: dict[str, BaselineFigure] = {}
    raw_figures = data.get("figures") or {}
    if not isinstance(raw_figures, dict):
        raise _bad(path, f'"figures" must be an object of figures by key, not {type(raw_figures).__name__}')
    for key, fig in raw_figures.items():
        if key not in FIGURES:
            raise _bad(path, f"unknown figure {key!r}")
        if not isinstance(fig, dict):
            raise _bad(path, f"figure {key!r} is not an object")
        value, prov = fig.get("value"), fig.get("provenance")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise _bad(path, f"figure {key!r}: value must be a finite number >= 0")
        if fig.get("unit") != FIGURES[key].unit:
            raise _bad(path, f"figure {key!r}: unit must be {FIGURES[key].unit!r}")
        if not isinstance(prov, dict) or prov.get("kind") not in PROVENANCE_KINDS or not prov.get("source"):
            raise _bad(path, f"figure {key!r}: provenance needs a kind ({', '.join(PROVENANCE_KINDS)}) and a source")
        figures[key] = BaselineFigure(key, float(value), str(fig["unit"]), Provenance(
            str(prov["kind"]), str(prov["source"]), _opt(prov.get("date")), _opt(prov.get("run_file")),
            _opt(prov.get("basis"))), _opt(fig.get("note")))
    return Baseline(name, cls, str(data.get("description") or ""), figures, path, origin)


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def load_file(path: Path, origin: str = "bundled") -> Baseline:
    return parse_baseline(read_json(Path(path), "baseline"), Path(path), origin)


def user_dir(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(DIR_ENV):
        return Path(env[DIR_ENV]).expanduser()
    data_home = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "infrabench" / "baselines"


def _baseline_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if not p.name.endswith(".run.json")) if folder.is_dir() else []


def load_all(extra_dir: Path | None = None) -> list[Baseline]:
    """Bundled baselines, then the user's (a user file replaces a bundled one of the same name); a user file
    that cannot be read is reported (a warning naming it) and skipped."""
    found: dict[str, Baseline] = {}
    for path in _baseline_files(BUNDLED_DIR):
        b = load_file(path, "bundled")
        found[b.name] = b
    for path in _baseline_files(extra_dir if extra_dir is not None else user_dir()):
        try:
            b = load_file(path, "user")
        except UsageError as exc:  # one broken user file must not stop every run and report
            LOG.warning("%s (skipped)", exc)
            continue
        found[b.name] = b
    return sorted(found.values(), key=lambda b: (b.cls, b.name))


def find(name: str, baselines: list[Baseline] | None = None) -> Baseline:
    for b in baselines if baselines is not None else load_all():
        if b.name == name:
            return b
    raise UsageError(f"no baseline named {name!r} (see `infrabench baseline list`)")


def from_run(name: str, run: Any, cls: str, run_file_name: str, description: str | None = None
             ) -> dict[str, Any]:
    """A baseline's JSON from a run: every comparable figure it measured, provenance `measured`."""
    if not NAME_RE.fullmatch(name):
        raise UsageError(f"baseline name {name!r}: use lower-case letters, digits, '.', '_' or '-'")
    if cls not in CLASSES:
        raise UsageError(f"--class {cls!r}: must be one of {', '.join(CLASSES)}")
    from infrabench.results import as_run

    run = as_run(run)
    version = run.infrabench_version or "unknown version"
    date = str(run.datetime or _dt.datetime.now(_dt.timezone.utc).isoformat())[:10]
    source = f"infrabench {version}, run {run.run_id or '?'}"
    figures = {}
    for key, fig in sorted(run_figures(run).items()):
        entry: dict[str, Any] = {"value": fig.value, "unit": fig.unit,
                                 "provenance": {"kind": "measured", "source": source, "date": date,
                                                "run_file": run_file_name}}
        entry["note"] = f"from {fig.source}" + ("; flagged suspicious in the run" if fig.suspicious else "")
        figures[key] = entry
    return {"format": FORMAT, "format_version": 1, "name": name, "class": cls,
            "description": description or f"measured by infrabench {version} on {date}", "figures": figures}


def save_from_run(name: str, run: Any, run_path: Path, cls: str, folder: Path | None = None) -> Path:
    """Write a user baseline (NAME.json) and keep the run file beside it (NAME.run.json)."""
    folder = folder if folder is not None else user_dir()
    data = from_run(name, run, cls, f"{name}.run.json")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / f"{name}.run.json", Path(run_path).read_bytes())
        out = write_atomic(folder / f"{name}.json", data)
    except OSError as exc:
        raise UsageError(f"{folder}: cannot write the baseline: {exc.strerror or exc}") from None
    return out
