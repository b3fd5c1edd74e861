"""A plain-data snapshot of everything a report shows except its charts: tables, cells, warnings, verdicts.

Used to prove a change to how run files are read leaves the report of a recorded run as it was: the
snapshot of a recorded 0.1.0 run file is kept beside it in tests/data/runs and compared with a fresh one.
Charts (matplotlib's SVG) are left out: their bytes depend on the matplotlib version, not on the reader.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

SKIP_KEYS = {"matmul_svg", "sweep_svg", "chart", "svg", "roofline_svg", "bars_svg", "baseline_svg"}


def plain(value: Any) -> Any:
    """JSON-able form of a report context value; Cells keep text, reason, css and value."""
    from markupsafe import Markup

    if isinstance(value, Markup):
        return "<markup>"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if type(value).__name__ == "Cell":
            return {"cell": value.text, "reason": value.reason, "css": value.css, "value": plain(value.value)}
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name not in SKIP_KEYS}
    if isinstance(value, dict):
        return {str(k): ("<chart>" if str(k) in SKIP_KEYS or str(k).endswith("_svg") else plain(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float):
        return None if not math.isfinite(value) else float(f"{value:.12g}")
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return repr(value)


def report_snapshot(run: Any, baselines: list[Any] | None = None) -> dict[str, Any]:
    """The report context of `run` (a run file's dict or a loaded Run) as plain data, with the bundled baselines."""
    import tempfile
    from pathlib import Path

    from infrabench.reports.baselines import load_all
    from infrabench.reports.html import build_context

    if baselines is None:  # the bundled baselines only: the user's folder is not part of the recording
        with tempfile.TemporaryDirectory() as empty:
            baselines = load_all(Path(empty))
    return plain(build_context(run, baselines))
