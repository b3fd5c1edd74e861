"""A Comparison rendered: terminal table, Markdown (PR comment / $GITHUB_STEP_SUMMARY), JUnit XML, JSON.

Every output says a change the same way, in words ("12.3% slower", "2.5× faster"; words.py), and prints "too
noisy to tell" where the noise makes a figure meaningless (verdict.TOO_NOISY_FACTOR); JSON keeps the numbers too.

Benchmark names come from input files: each output passes them through `reports.neutral` (Markdown and HTML
syntax escaped, newlines and control characters neutralised, XML-illegal characters replaced); the XML is
built with xml.etree (which escapes), and the terminal uses rich Text (no markup interpretation).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infrabench.reports.gate import words
from infrabench.reports.gate.verdict import BenchVerdict, Comparison
from infrabench.reports.neutral import markdown_text, visible, xml_text

from infrabench.files import write_atomic

if TYPE_CHECKING:
    from rich.console import Console

STYLE = {"regression": "bold red", "failed": "red", "missing": "yellow", "inconclusive": "yellow",
         "improvement": "green", "new": "cyan", "unchanged": "dim", "skipped": "dim"}


def _interval(v: BenchVerdict) -> str:
    return v.interval_words


def _mde(v: BenchVerdict) -> str:
    # one base run, no profile: the benchmark's own between-run noise is unknown; the MDE assumes the suite's typical
    # move, which understates it for benchmarks prone to jumps
    text = v.mde_words
    return text + (" (if typical)" if v.noise == "spread" and v.mde is not None and not v.mde_too_noisy else "")


def _p(v: BenchVerdict) -> str:
    return "—" if v.p is None else f"{v.p:.2g}"


def _threshold(v: BenchVerdict) -> str:
    return "—" if v.threshold is None else f"{v.threshold:.0%}"


def unchanged_range(c: Comparison) -> str:
    """The unchanged benchmarks' changes from the most-faster to the most-slower, in words."""
    ratios = [v.ratio for v in c.of("unchanged") if v.ratio is not None]
    if not ratios:
        return "—"
    low, high = min(ratios), max(ratios)
    return words.describe_change(low) if low == high else words.describe_interval(low, high)


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

NOTE_WIDTH = 40  # notes are a few words; a longer one wraps at spaces within this width
VERDICT_WIDTH = max(map(len, STYLE))  # "inconclusive": the verdict column never wraps
WRAPPED_MIN = 12  # the narrowest the interval, MDE and note columns get ("too noisy to" on a line)


def _table(c: Comparison, shown: list[BenchVerdict], width: int) -> Any:
    """The rows as a table, one column per figure, or, where the longest name and the other columns at their
    narrowest do not fit the terminal, each benchmark's figures on the line below its name (names stay whole)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    thresholds = {_threshold(v) for v in c.verdicts if v.threshold is not None}
    one_threshold = len(thresholds) == 1  # then said once in the title, and the column is left out for width
    title = f"{c.base_label or c.base_source}  ->  {c.new_label or c.new_source}"
    table = Table(title=Text(visible(title) + (f"  (threshold {next(iter(thresholds))})" if one_threshold else "")),
                  title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    level = f"{c.settings.level:.0%} interval"
    longest = max((len(visible(v.fullname)) for v in shown), default=0)
    change_width = max((len(v.change_words) for v in shown), default=6)
    others = VERDICT_WIDTH + change_width + 8 + 3 * WRAPPED_MIN + (0 if one_threshold else 9) + 2 * (7 + one_threshold)
    unchanged, skipped = c.of("unchanged"), c.of("skipped")
    table.add_column("verdict", no_wrap=True, min_width=VERDICT_WIDTH)
    if longest + others > width:
        table.add_column("benchmark, then change; interval; p (Holm); MDE; note", overflow="fold")
        for v in shown:
            thr = "" if one_threshold else f"threshold {_threshold(v)}; "
            figures = (f"{v.change_words}; {level} {_interval(v)}; p {_p(v)}; {thr}MDE {_mde(v)}; "
                       f"{v.note or v.reason}") if v.ratio is not None else v.note or v.reason
            table.add_row(Text(v.verdict, style=STYLE[v.verdict]),
                          Text(visible(v.fullname)) + Text("\n") + Text(visible(figures), style="dim"))
        if unchanged:
            table.add_row(Text("unchanged", style="dim"),
                          Text(f"{len(unchanged)} benchmark(s): {unchanged_range(c)}, within their thresholds"))
        if skipped:
            table.add_row(Text("skipped", style="dim"), Text(f"{len(skipped)} benchmark(s), skipped in both runs"))
        return table
    table.add_column("benchmark", no_wrap=True)  # a name stays on one line (greppable); the other columns wrap
    table.add_column("change", justify="right", no_wrap=True)
    table.add_column(level, min_width=WRAPPED_MIN, max_width=20)
    table.add_column("p (Holm)", justify="right", no_wrap=True)
    if not one_threshold:
        table.add_column("threshold", justify="right", no_wrap=True)
    table.add_column("MDE", justify="right", min_width=WRAPPED_MIN, max_width=14)
    table.add_column("note", min_width=WRAPPED_MIN, max_width=NOTE_WIDTH)
    for v in shown:
        table.add_row(Text(v.verdict, style=STYLE[v.verdict]), Text(visible(v.fullname)), v.change_words,
                      _interval(v), _p(v), *([] if one_threshold else [_threshold(v)]), _mde(v),
                      Text(visible(v.note or v.reason), style="dim"))
    blank = [""] * (2 if one_threshold else 3)
    if unchanged:
        table.add_row(Text("unchanged", style="dim"), Text(f"{len(unchanged)} benchmark(s)"), "", unchanged_range(c),
                      *blank, Text("within their thresholds", style="dim"))
    if skipped:
        table.add_row(Text("skipped", style="dim"), Text(f"{len(skipped)} benchmark(s)"), "", "", *blank,
                      Text("skipped in both runs", style="dim"))
    return table


def print_terminal(console: Console, c: Comparison) -> None:
    """Regressions first; unchanged benchmarks collapsed into one line; a short note per row. Each benchmark's whole
    reason is in the Markdown, JUnit and JSON outputs; a failed benchmark's (its error) is printed below the table."""
    from rich.text import Text

    shown = [v for v in c.sorted_verdicts() if v.verdict not in ("unchanged", "skipped")]
    table = _table(c, shown, console.width)
    console.print(table)
    for v in c.of("failed"):
        console.print(Text("failed ", style=STYLE["failed"]) + Text(visible(v.fullname))
                      + Text(": " + visible(v.reason), style="dim"))
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
        lines += [f"| verdict | benchmark | change | {c.settings.level:.0%} interval | p (Holm) | threshold | MDE | "
                  "note |", "|---|---|---:|---|---:|---:|---:|---|"]
        for v in shown:
            name = f"**{md_escape(v.fullname)}**" if v.verdict == "regression" else md_escape(v.fullname)
            lines.append(f"| {v.verdict} | {name} | {md_escape(v.change_words)} | {md_escape(_interval(v))} | "
                         f"{_p(v)} | {_threshold(v)} | {md_escape(_mde(v))} | {md_escape(v.reason)} |")
        lines.append("")
    unchanged = c.of("unchanged")
    if unchanged:
        lines += [f"<details><summary>{len(unchanged)} unchanged ({md_escape(unchanged_range(c))})</summary>", "",
                  f"| benchmark | change | {c.settings.level:.0%} interval | MDE |", "|---|---:|---|---:|"]
        lines += [f"| {md_escape(v.fullname)} | {md_escape(v.change_words)} | {md_escape(_interval(v))} | "
                  f"{md_escape(_mde(v))} |" for v in unchanged]
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
        for key, value in (("verdict", v.verdict), ("ratio", v.ratio), ("change", v.change_words),
                           ("ci_low", v.ci_low), ("ci_high", v.ci_high), ("interval", v.interval_words),
                           ("p", v.p), ("threshold", v.threshold), ("mde", v.mde), ("mde_words", v.mde_words),
                           ("test", v.test), ("n_base", v.n_base), ("n_new", v.n_new), ("noise", v.noise),
                           ("between_run_sd", v.between_run_sd), ("k_base", v.k_base), ("too_noisy", v.too_noisy)):
            if value is not None and value != words.NO_FIGURE:
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
