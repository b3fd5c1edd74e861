"""Records every probe returns: values that may be null, each null with the reason it is null."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "unavailable", "no_permission", "timeout", "error"]
STATUSES: tuple[str, ...] = ("ok", "unavailable", "no_permission", "timeout", "error")


class Unavailable(Exception):
    """Raised by a probe when what it looks for is not on this machine (status `unavailable`)."""


class ProbeTimeout(Exception):
    """Raised when a probe's child process or call ran past its time limit (status `timeout`)."""


@dataclass
class ProbeStatus:
    """Why a probe's fields hold what they hold; one per probe in the profile."""

    name: str
    status: Status
    reason: str | None = None
    duration_s: float | None = None


@dataclass
class Record:
    """Base of every probe record.

    A field that could not be read is None and `null_reasons[field]` says why; nothing is guessed.
    """

    null_reasons: dict[str, str] = field(default_factory=dict)

    def set_null(self, name: str, reason: str) -> None:
        if not any(f.name == name for f in dataclasses.fields(self)):
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        setattr(self, name, None)
        self.null_reasons[name] = reason

    def explain_nulls(self, reason: str) -> None:
        """Give every still-unexplained null field the same reason (e.g. the whole source was absent)."""
        for f in dataclasses.fields(self):
            if f.name != "null_reasons" and getattr(self, f.name) is None:
                self.null_reasons.setdefault(f.name, reason)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def unexplained_nulls(obj: Any, path: str = "") -> list[str]:
    """Paths of null fields in a profile dict that carry no reason (a test asserts this is empty)."""
    out: list[str] = []
    if isinstance(obj, dict):
        reasons = obj.get("null_reasons")
        for key, value in obj.items():
            if key == "null_reasons":
                continue
            if value is None and isinstance(reasons, dict) and key not in reasons:
                out.append(f"{path}.{key}" if path else key)
            elif isinstance(value, (dict, list)):
                out.extend(unexplained_nulls(value, f"{path}.{key}" if path else key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            out.extend(unexplained_nulls(value, f"{path}[{i}]"))
    return out


Confidence = Literal["exact", "family", "computed", "user", "unknown"]


@dataclass
class Peak:
    """A theoretical peak for one dtype: never a neighbour's figure, always with where it came from.

    `tflops` is dense (no sparsity). When it is None, `reason` says why.
    """

    dtype: str
    tflops: float | None
    source: str | None
    confidence: Confidence
    reason: str | None = None
    basis: dict[str, Any] | None = None
