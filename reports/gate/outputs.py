"""A Comparison rendered: terminal table, Markdown (PR comment / $GITHUB_STEP_SUMMARY), JUnit XML, JSON.

Benchmark names come from input files: each output passes them through `reports.neutral` (Markdown and HTML
syntax escaped, newlines and control characters neutralised, XML-illegal characters replaced); the XML is
built with xml.etree (which escapes), and the terminal uses rich Text (no markup interpretation).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infrabench.reports.gate.verdict import BenchVerdict, Comparison
from infrabench.reports.neutral import markdown_text, visible, xml_text

from infrabench.files import write_atomic

if TYPE_CHECKING:
    from rich.console import Console

STYLE = {"regression": "bold red", "failed": "red", "missing": "yellow", "inconclusive": "yellow",
         "improvement": "green", "new": "cyan", "unchanged": "dim", "skipped": "dim"}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{(x - 1.0) * 100.0:+.1f}%"


def _interval(v: BenchVerdict) -> str:
    if v.ci_low is None or v.ci_high is None:
        return "—"
    return f"[{_pct(v.ci_low)}, {_pct(v.ci_high)}]"


def _mde(v: BenchVerdict) -> str:
    if v.ratio is None:
        return "—"
    if v.mde is None:
        return "none (too few rounds)"
    # one base run, no profile: the benchmark's own between-run noise is unknown; the MDE assumes the suite's typical
    # move, which understates it for benchmarks prone to jumps
    return f"{v.mde * 100:.1f}%" + (" (if typical)" if v.noise == "spread" else "")


def _p(v: BenchVerdict) -> str:
    return "—" if v.p is None else f"{v.p:.2g}"


def headline(c: Comparison) -> str:
    counts = c.counts
    parts = [f"{n} {k}" for k, n in counts.items() if n]
    status = "PASS" if c.passed else "FAIL"
    return f"infrabench gate: {status} — " + ", ".join(parts)


def machine_lines(c: Comparison) -> list[str]:
    if not c.machine_diffs:
        return []
    diffs = "; ".join(f"{d.field}: {d.base} -> {d.new}" for d in c.machine_diffs)
    return [f"machines differ ({diffs}); compared anyway (allowed)"]


# --- terminal ----------------------------------------------------------------------------------------

def print_terminal(console: Console, c: Comparison) -> None:
    """Regressions first; unchanged benchmarks collapsed into one line."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(visible(f"{c.base_label or c.base_source}  ->  {c.new_label or c.new_source}")),
                  title_justify="left")
    for col in ("verdict", "benchmark", "change", "interval", "p (Holm)", "threshold", "MDE", "note"):
        table.add_column(col, overflow="fold", no_wrap=col == "benchmark",  # a name stays on one line (greppable)
                         justify="right" if col in ("change", "p (Holm)", "threshold", "MDE") else "left")
    unchanged = c.of("unchanged")
    for v in c.sorted_verdicts():
        if v.verdict in ("unchanged", "skipped"):
            continue
        table.add_row(Text(v.verdict, style=STYLE[v.verdict]), Text(visible(v.fullname)), _pct(v.ratio), _interval(v),
                      _p(v), "—" if v.threshold is None else f"{v.threshold:.0%}", _mde(v),
                      Text(visible(v.reason), style="dim"))
    if unchanged:
        worst = max(unchanged, key=lambda v: v.ratio or 0.0)
        table.add_row(Text("unchanged", style="dim"), Text(f"{len(unchanged)} benchmark(s)"),
                      f"≤ {_pct(worst.ratio)}", "", "", "", "", Text("within their thresholds", style="dim"))
    if c.of("skipped"):
        table.add_row(Text("skipped", style="dim"), Text(f"{len(c.of('skipped'))} benchmark(s)"), "", "", "", "", "",
                      Text("skipped in both runs (reasons in the JSON)", style="dim"))
    console.print(table)
    if c.noise_note:
        console.print(Text("noise: ", style="yellow" if c.base_runs == 1 and not c.paired else "dim")
                      + Text(visible(c.noise_note)))
    if c.confirmed_by:
        console.print(Text("confirmation: ", style="dim") + Text(visible(confirm_note(c))))
    for line in machine_lines(c):
        console.print(Text("warning: ", style="yellow") + Text(visible(line)))
    console.print(Text(headline(c), style="bold green" if c.passed else "bold red"))


def confirm_note(c: Comparison) -> str:
    return (f"each regression was re-measured in {len(c.confirmed_by)} re-run(s) of the new side "
            f"({', '.join(c.confirmed_by)}); it stands only where every re-run shows it")


# --- Markdown ----------------------------------------------------------------------------------------

def md_escape(text: str) -> str:
    return markdown_text(text)


def markdown(c: Comparison) -> str:
    icon = "✅" if c.passed else "❌"
    lines = [f"## {icon} {md_escape(headline(c))}", "",
             f"Base {md_escape(c.base_label or c.base_source)} → new {md_escape(c.new_label or c.new_source)}; "
             f"{'paired rounds (interleaved A/B)' if c.paired else f'{c.base_runs} base run(s), run-level test'}, "
             f"α = {c.settings.alpha:g} family-wise (Holm), {c.settings.level:.0%} intervals.", ""]
    if c.noise_note:
        lines += [f"> {'⚠️ ' if c.base_runs == 1 and not c.paired else ''}{md_escape(c.noise_note)}", ""]
    if c.confirmed_by:
        lines += [f"> {md_escape(confirm_note(c))}", ""]
    for line in machine_lines(c):
        lines += [f"> ⚠️ {md_escape(line)}", ""]
    shown = [v for v in c.sorted_verdicts() if v.verdict not in ("unchanged", "skipped")]
    if shown:
        lines += ["| verdict | benchmark | change | 99% interval | p (Holm) | threshold | MDE | note |",
                  "|---|---|---:|---|---:|---:|---:|---|"]
        for v in shown:
            name = f"**{md_escape(v.fullname)}**" if v.verdict == "regression" else md_escape(v.fullname)
            thr = "—" if v.threshold is None else f"{v.threshold:.0%}"
            lines.append(f"| {v.verdict} | {name} | {_pct(v.ratio)} | {_interval(v)} | {_p(v)} | {thr} | "
                         f"{md_escape(_mde(v))} | {md_escape(v.reason)} |")
        lines.append("")
    unchanged = c.of("unchanged")
    if unchanged:
        lines += [f"<details><summary>{len(unchanged)} unchanged</summary>", "",
                  "| benchmark | change | 99% interval | MDE |", "|---|---:|---|---:|"]
        lines += [f"| {md_escape(v.fullname)} | {_pct(v.ratio)} | {_interval(v)} | {md_escape(_mde(v))} |"
                  for v in unchanged]
        lines += ["", "</details>", ""]
    if c.of("skipped"):
        lines += [f"{len(c.of('skipped'))} benchmark(s) skipped in both runs.", ""]
    return "\n".join(lines)


# --- JUnit XML ---------------------------------------------------------------------------------------

def junit(c: Comparison) -> str:
    """One test case per benchmark: failure on regression (and on inconclusive when strict), skipped on
    inconclusive, missing, new or failed; properties carry the numbers."""
    failing = {v.fullname for v in c.failing}
    cases = [v for v in c.sorted_verdicts()]
    suite = ET.Element("testsuite", name="infrabench-gate", tests=str(len(cases)), failures=str(len(failing)),
                       errors="0", skipped=str(sum(1 for v in cases if v.verdict not in ("unchanged", "improvement")
                                                   and v.fullname not in failing)))
    for v in cases:
        group = v.fullname.split("/", 1)[0]
        case = ET.SubElement(suite, "testcase", classname=xml_text(f"infrabench.{group}"), name=xml_text(v.fullname),
                             time="0")
        props = ET.SubElement(case, "properties")
        for key, value in (("verdict", v.verdict), ("ratio", v.ratio), ("ci_low", v.ci_low), ("ci_high", v.ci_high),
                           ("p", v.p), ("threshold", v.threshold), ("mde", v.mde), ("test", v.test),
                           ("n_base", v.n_base), ("n_new", v.n_new), ("noise", v.noise),
                           ("between_run_sd", v.between_run_sd), ("k_base", v.k_base)):
            if value is not None:
                text = f"{value:.6g}" if isinstance(value, float) else str(value)
                ET.SubElement(props, "property", name=key, value=xml_text(text))
        message = xml_text(f"{v.verdict}: {v.reason}")
        if v.fullname in failing:
            ET.SubElement(case, "failure", message=message, type=v.verdict).text = message
        elif v.verdict not in ("unchanged", "improvement"):
            ET.SubElement(case, "skipped", message=message)
    sprops = ET.Element("properties")
    if c.noise_note:
        ET.SubElement(sprops, "property", name="between_run_noise", value=xml_text(c.noise_note))
        ET.SubElement(sprops, "property", name="base_runs", value=str(c.base_runs))
    if c.confirmed_by:
        ET.SubElement(sprops, "property", name="confirmation", value=xml_text(confirm_note(c)))
    if len(sprops):
        suite.insert(0, sprops)
    suites = ET.Element("testsuites", name="infrabench", tests=suite.get("tests", "0"),
                        failures=suite.get("failures", "0"))
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# --- JSON --------------------------------------------------------------------------------------------

def to_json(c: Comparison, extra: dict[str, Any] | None = None) -> str:
    data = c.to_dict()
    if extra:
        data.update(extra)
    return json.dumps(data, indent=2, allow_nan=False, default=str) + "\n"


def write_text(path: Path, text: str) -> Path:
    """Atomically, as UTF-8 whatever the locale (temporary file, fsync, rename)."""
    return write_atomic(Path(path), text)
