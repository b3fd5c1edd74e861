"""Report sections that suites contribute: each suite beyond matmul and memory adds its own.

A section builder takes the `Run` and its benchmarks and returns a `Section`, or None when
the run holds nothing for it. Its template (a partial under templates/) is rendered with `section`
(the Section) in scope; the same autoescaping applies. Register a builder by adding one line to
`BUILDERS`; its suite's results then leave the generic "Other results" table.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

# suite name -> "module:function" building its section (imported only when a run holds that suite)
BUILDERS: dict[str, str] = {
    "train": "infrabench.reports.section_train:build",
    "dataload": "infrabench.reports.section_dataload:build",
}


@dataclass
class Section:
    id: str  # HTML id, e.g. "dataload"
    title: str
    template: str  # partial under reports/templates/, e.g. "_dataload.html.j2"
    context: dict[str, Any] = field(default_factory=dict)


def build_sections(run: Any, entries: list[Any]) -> list[Section]:
    """Each registered suite's section, for the suites this run (a `Run`) holds results or a verdict of."""
    suites_present = {e.suite for e in entries} | set(run.verdicts)
    sections = []
    for suite, target in BUILDERS.items():
        if suite not in suites_present:
            continue
        module, _, func = target.partition(":")
        section = getattr(importlib.import_module(module), func)(run, entries)
        if section is not None:
            sections.append(section)
    return sections


def sectioned_suites() -> set[str]:
    return set(BUILDERS)
