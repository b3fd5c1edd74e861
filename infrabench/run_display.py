"""What `infrabench run` shows: a progress display while it runs, a short summary after, and with
`--verbose` the full per-benchmark table (the report has it too).

Progress counts units of one suite on one backend: how many benchmarks a suite runs is only known once
it runs (it depends on the devices, dtypes and sizes this machine allows). A unit starts and ends at
the worker's `suite_start` / `suite_end` markers in its log (`worker-BACKEND.log` beside the journal,
read as it grows); the time left is an estimate from the units finished so far and always says so.
On a terminal the display is a live line; anywhere else (a CI log) it is one plain line per finished
unit, with no control characters.

The summary answers what a reader wants first: the report's headline verdict (the scorecard's own
function, not a second opinion), the best figure per device with its unit and share of the peak (a
figure flagged suspicious is printed as suspicious, never as fact), the warnings with their counts,
what was skipped or failed and why, and where the files are. Every text that comes from an input or a
result goes through `visible` and is printed as plain text, never as markup.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console, RenderableType
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from infrabench.reports.neutral import visible

if TYPE_CHECKING:
    from rich.live import Live

    from infrabench.results import Benchmark, Run

log = logging.getLogger(__name__)

STATUS_STYLE = {"ok": "green", "skipped": "dim", "failed": "red", "timeout": "red", "oom": "red",
                "interrupted": "yellow", "not_run": "dim"}
STATUS_ORDER = ("ok", "skipped", "failed", "timeout", "oom", "interrupted")
PROBLEM_STATUSES = ("failed", "timeout", "oom", "interrupted")
BACKEND_RECORD = "backend"  # the worker's name for a result standing for a whole suite (infrabench.suites.worker)
POLL_S = 0.25  # how often the worker's log is read for its markers
MAX_REASONS = 3  # skipped / failed reasons listed in the summary; the report and --verbose have them all
MAX_WARNINGS = 3  # run and backend warnings listed in the summary


def one_line(text: object) -> str:
    """Input-derived text for one terminal line: controls shown visibly, line breaks as spaces."""
    return visible(str(text).replace("\r\n", " ").replace("\n", " ").replace("\r", " "))


def fmt_duration(seconds: float) -> str:
    """A duration a reader takes in at a glance: 0.4 s, 42 s, 3 min 05 s, 1 h 04 min."""
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f} s"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def fmt_left(seconds: float | None) -> str:
    """The time left, always labelled as the estimate it is."""
    if seconds is None:
        return "time left: estimated once a suite has finished"
    if seconds < 2.5:
        return "almost done (estimate)"
    if seconds < 60:
        return f"about {max(5, 5 * round(seconds / 5))} s left (estimate)"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left (estimate)"
    return f"about {fmt_duration(seconds)} left (estimate)"


# --- progress ----------------------------------------------------------------------------------------

UnitState = Literal["pending", "running", "ending", "done"]


@dataclass
class Unit:
    """One suite on one backend: what progress is counted in."""

    backend: str
    suite: str
    state: UnitState = "pending"
    started_s: float | None = None  # on the display's clock
    ended_s: float | None = None
    end_count: int | None = None  # the worker's result count at suite_end: done once that many arrived
    ran: bool = False  # the worker ran it (so its duration says something about the suites still to come)
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def duration_s(self) -> float | None:
        if self.started_s is None or self.ended_s is None:
            return None
        return self.ended_s - self.started_s

    def tally(self) -> str:
        """The unit's results by status: "14 ok, 10 skipped", or "no results"."""
        order = [s for s in STATUS_ORDER if self.statuses[s]] + sorted(s for s in self.statuses
                                                                        if s not in STATUS_ORDER)
        return ", ".join(f"{self.statuses[s]} {s}" for s in order) or "no results"


class RunProgress:
    """The run's progress in (backend x suite) units, fed the runner's ProgressEvents.

    A live line on a terminal (suite, backend, N of M, elapsed, an estimate of the time left); one plain
    line per finished unit elsewhere. `run_dir` is where the worker logs are: their markers tell when a
    suite starts and ends; without it (or before the log says so) a result of the next suite ends the
    previous one. `clock` and `poll_s=None` (no reading thread; call `poll()`) are for tests."""

    def __init__(self, console: Console, suites: Iterable[str], backends: Iterable[str],
                 run_dir: Path | None = None, clock: Callable[[], float] = time.monotonic,
                 poll_s: float | None = POLL_S):
        self.console = console
        self.suites = list(dict.fromkeys(suites))
        self.backends = list(dict.fromkeys(backends))
        self.units: dict[tuple[str, str], Unit] = {(b, s): Unit(b, s) for b in self.backends for s in self.suites}
        self.run_dir = run_dir
        self.clock = clock
        self.poll_s = poll_s
        self.live = console.is_terminal and not console.quiet and not console.is_dumb_terminal
        self.started_s = clock()
        self.backend: str | None = None  # the backend whose worker is running
        self.backend_started_s: dict[str, float] = {}
        self.startup_s: dict[str, float] = {}  # from a worker's start to its first suite (imports, devices)
        self.counts: Counter[str] = Counter()  # results received per backend
        self._log_offset = 0
        self._log_rest = b""
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: Live | None = None
        self._spinner = Spinner("dots", style="green")

    # -- lifecycle --

    def __enter__(self) -> RunProgress:
        self.started_s = self.clock()
        if self.live:
            from rich.live import Live

            self._live = Live(_LiveView(self), console=self.console, transient=True, refresh_per_second=4)
            self._live.start()
        if self.poll_s is not None and self.run_dir is not None and not self.console.quiet:
            self._thread = threading.Thread(target=self._poll_loop, name="infrabench-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._live is not None:
            self._live.stop()

    def _poll_loop(self) -> None:
        assert self.poll_s is not None
        while not self._stop.wait(self.poll_s):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - a display problem must never stop a run or print a traceback
                log.debug("progress display: reading the worker log failed", exc_info=True)

    # -- what happened --

    def __call__(self, event: Any) -> None:
        """A ProgressEvent of infrabench.suites.runner: backend_start, result or backend_end. A display problem
        is logged, never raised: the runner calls this between a worker's results."""
        try:
            with self._lock:
                now = self.clock()
                if event.kind == "backend_start":
                    self._backend_start(event.backend, now)
                elif event.kind == "result" and event.result is not None:
                    self._result(event.backend, event.result, now)
                elif event.kind == "backend_end":
                    self._backend_end(event.backend, event.outcome, now)
        except Exception:  # noqa: BLE001 - the run goes on whatever the display does
            log.debug("progress display: event %s failed", getattr(event, "kind", "?"), exc_info=True)

    def poll(self) -> None:
        """Read the running worker's new log lines for its suite markers."""
        with self._lock:
            if self.backend is not None:
                self._read_markers(self.backend, self.clock())

    def _unit(self, backend: str, suite: str) -> Unit:
        key = (backend, suite)
        if key not in self.units:  # a backend or suite the display was not told about: count it too
            self.units[key] = Unit(backend, suite)
            if backend not in self.backends:
                self.backends.append(backend)
            if suite not in self.suites:
                self.suites.append(suite)
        return self.units[key]

    def _of(self, backend: str) -> list[Unit]:
        return [self.units[(backend, s)] for s in self.suites if (backend, s) in self.units]

    def _backend_start(self, backend: str, now: float) -> None:
        self.backend = backend
        self.backend_started_s[backend] = now
        self._log_offset, self._log_rest = 0, b""

    def _start(self, unit: Unit, now: float) -> None:
        """A unit begins; a unit before it on the same backend still running is over (the worker runs suites in
        order); one whose suite_end was read is left to wait for the results the worker counted."""
        if unit.state != "pending":
            return
        for earlier in self._of(unit.backend):
            if earlier is unit:
                break
            if earlier.state == "running":
                self._finish(earlier, now)
        unit.state, unit.started_s, unit.ran = "running", now, True
        started = self.backend_started_s.get(unit.backend)
        if started is not None and unit.backend not in self.startup_s:
            self.startup_s[unit.backend] = now - started

    def _result(self, backend: str, result: Any, now: float) -> None:
        self.counts[backend] += 1
        unit = self._unit(backend, result.suite)
        if result.name != BACKEND_RECORD:  # a whole-suite record of a backend that never ran it starts nothing
            self._start(unit, now)
        unit.statuses[result.status] += 1
        self._settle(backend, now)

    def _marker(self, backend: str, event: dict[str, Any], now: float) -> None:
        suite = event.get("suite")
        if not isinstance(suite, str):
            return
        unit = self._unit(backend, suite)
        if event.get("event") == "suite_start":
            self._start(unit, now)
        elif event.get("event") == "suite_end" and unit.state in ("pending", "running"):
            self._start(unit, now)
            count = event.get("results")
            unit.state, unit.ended_s = "ending", now
            unit.end_count = count if isinstance(count, int) and not isinstance(count, bool) else None
            self._settle(backend, now)

    def _settle(self, backend: str, now: float) -> None:
        """Finish the units whose suite_end has been read once every result the worker counted has arrived."""
        for unit in self._of(backend):
            if unit.state == "ending" and (unit.end_count is None or self.counts[backend] >= unit.end_count):
                self._finish(unit, now)

    def _read_markers(self, backend: str, now: float) -> None:
        if self.run_dir is None:
            return
        from infrabench.suites.worker import parse_markers

        try:
            with open(self.run_dir / f"worker-{backend}.log", "rb") as fh:
                fh.seek(self._log_offset)
                chunk = fh.read()
        except OSError:
            return
        self._log_offset += len(chunk)
        data = self._log_rest + chunk
        complete, _, self._log_rest = data.rpartition(b"\n")
        for event in parse_markers(complete.decode("utf-8", errors="replace")):
            self._marker(backend, event, now)

    def _backend_end(self, backend: str, outcome: Any, now: float) -> None:
        self._read_markers(backend, now)
        never = [u for u in self._of(backend) if u.state == "pending"]
        for unit in self._of(backend):
            if unit.state in ("running", "ending"):
                self._finish(unit, now)
        for unit in never:
            unit.state, unit.ended_s = "done", now
        if never:
            status = getattr(outcome, "status", None) or "not run"
            reason = getattr(outcome, "reason", None)
            statuses = Counter(s for u in never for s in u.statuses.elements())
            how = "skipped" if set(statuses) <= {"skipped"} else "not run"
            if status not in ("ok", "skipped"):
                how = f"not run ({status})"
            names = ", ".join(u.suite for u in never)
            what = f"{len(never)} suite{'s' if len(never) != 1 else ''} {how} ({names})"
            self._plain(Text(one_line(f"{backend}: {what}" + (f": {reason}" if reason else ""))))
        if self.backend == backend:
            self.backend = None

    def _finish(self, unit: Unit, now: float) -> None:
        unit.state = "done"
        if unit.ended_s is None:
            unit.ended_s = now
        line = Text(one_line(f"{unit.suite} on {unit.backend}: "))
        problems = any(unit.statuses[s] for s in PROBLEM_STATUSES)
        line.append(one_line(unit.tally()), style="red" if problems else "")
        if unit.duration_s is not None:
            line.append(f" in {fmt_duration(unit.duration_s)}")
        self._plain(line)

    def _plain(self, what: Text) -> None:
        """One line for a log: N of M, what finished, elapsed and the estimate."""
        if self.live:
            return
        now = self.clock()
        line = Text(f"{self.done} of {len(self.units)} done  ")
        line.append_text(what)
        left = "" if self.done >= len(self.units) else f", {fmt_left(self.estimate_left_s(now))}"
        line.append(f"  ({fmt_duration(now - self.started_s)} elapsed{left})", style="dim")
        self.console.print(line, no_wrap=True, overflow="ellipsis", crop=True)

    # -- what is left --

    @property
    def done(self) -> int:
        return sum(1 for u in self.units.values() if u.state == "done")

    def estimate_left_s(self, now: float) -> float | None:
        """Seconds left, estimated from the units finished so far: each suite still to run as long as it took
        on the backends before (else as long as the average suite), plus a worker start-up for each backend
        still to start. None until a suite has finished."""
        finished = [u for u in self.units.values() if u.state == "done" and u.ran and u.duration_s is not None]
        if not finished:
            return None
        by_suite: dict[str, list[float]] = defaultdict(list)
        for u in finished:
            by_suite[u.suite].append(u.duration_s or 0.0)
        overall = statistics.fmean(u.duration_s or 0.0 for u in finished)
        left = 0.0
        for u in self.units.values():
            if u.state == "done":
                continue
            typical = statistics.fmean(by_suite[u.suite]) if by_suite[u.suite] else overall
            if u.started_s is not None:
                left += max(0.0, typical - (now - u.started_s))
            else:
                left += typical
        startup = statistics.fmean(self.startup_s.values()) if self.startup_s else 0.0
        left += startup * sum(1 for b in self.backends if b not in self.backend_started_s)
        return left

    def describe(self) -> str:
        """What is running now, for the live line."""
        running = [u for u in self.units.values() if u.state in ("running", "ending")]
        if running:
            return one_line(f"{running[0].suite} on {running[0].backend}")
        if self.backend is not None:
            begun = any(u.state != "pending" for u in self._of(self.backend))
            return one_line(f"{self.backend}: {'ending' if begun else 'starting'} its worker")
        return "done" if self.done >= len(self.units) else "starting"

    def view(self) -> RenderableType:
        """The live display: what runs, a bar of N of M, then elapsed and the estimate (two lines fit 80 columns)."""
        from rich.console import Group
        from rich.progress_bar import ProgressBar

        with self._lock:
            now = self.clock()
            done, total, what = self.done, len(self.units), self.describe()
            left = None if done >= total else self.estimate_left_s(now)
            elapsed = fmt_duration(now - self.started_s)
        top = Table.grid(padding=(0, 1))
        top.add_column(no_wrap=True)
        top.add_column(no_wrap=True, overflow="ellipsis", max_width=40)
        top.add_column(width=20)
        top.add_column(no_wrap=True)
        top.add_row(self._spinner, Text(what), ProgressBar(total=max(1, total), completed=done, width=20),
                    Text(f"{done} of {total} done"))
        tail = "all done" if done >= total else fmt_left(left)
        return Group(top, Text(f"  {elapsed} elapsed · {tail}", style="dim"))


class _LiveView:
    """Renders RunProgress.view() at each refresh of the live display, so elapsed and the estimate keep moving."""

    def __init__(self, progress: RunProgress):
        self.progress = progress

    def __rich__(self) -> RenderableType:
        return self.progress.view()


# --- the best figures --------------------------------------------------------------------------------

@dataclass
class Figure:
    """One best figure: its value and unit, its share of the peak, and whether it is flagged suspicious."""

    value: float
    unit: str
    source: Benchmark
    suspicious: bool
    pct_of_peak: float | None = None
    mfu: bool = False  # the share is a training run's MFU (model FLOPs over the peak)

    def text(self, label: str = "") -> str:
        """`label value unit (share, backend)`; a suspicious figure says so before its value."""
        from infrabench.reports.cells import fmt_figure  # the report's way of writing a figure

        value = f"{fmt_figure(self.value)} {self.unit}"
        pct = None if self.pct_of_peak is None else \
            (f"MFU {self.pct_of_peak:.1f}%" if self.mfu else f"{self.pct_of_peak:.1f}% of peak")
        lead = f"{label} " if label else ""
        if self.suspicious:
            share = pct or "over 100% of peak"
            return f"{lead}suspicious: {value} ({share}, check the peak; {self.source.backend})"
        extras = ", ".join(x for x in (pct, self.source.backend) if x)
        return f"{lead}{value} ({extras})"


@dataclass
class DeviceFigures:
    """The best figures of one physical device (numpy's "cpu" and jax's "cpu:0" are the same host)."""

    key: str
    label: str
    matmul: dict[str, Figure] = field(default_factory=dict)  # by dtype
    triad: Figure | None = None
    training: dict[str, Figure] = field(default_factory=dict)  # by model

    @property
    def empty(self) -> bool:
        return not self.matmul and self.triad is None and not self.training


def _better(current: Figure | None, new: Figure) -> bool:
    """A credible figure beats any flagged one; among equals the higher wins (the scorecard's rule)."""
    if current is None:
        return True
    if current.suspicious != new.suspicious:
        return current.suspicious
    return new.value > current.value


def _device_label(run: Run, key: str, device: str) -> str:
    if key == "cpu":
        model = run.machine.cpu.get("model_name")
        return f"cpu ({model})" if model else "cpu"
    acc, _ = run.machine.accelerator(device)
    name = (acc or {}).get("name")
    return f"{name} ({key})" if name else key


def best_figures(run: Run) -> list[DeviceFigures]:
    """Per device: the best matmul per dtype, the best STREAM triad and the best training rate per model,
    from results that are ok and did not fail their correctness check."""
    from infrabench.reports.rows import is_suspicious, section_of, throughput_of

    devices: dict[str, DeviceFigures] = {}
    for b in run.benchmarks:
        value, unit = throughput_of(b)
        if b.status != "ok" or value is None or value <= 0 or not unit or (b.check and b.check.passed is False):
            continue
        key = run.machine.device_key(b.device)
        where = devices.setdefault(key, DeviceFigures(key, _device_label(run, key, b.device)))
        flagged = is_suspicious(b)
        if b.suite == "matmul" and unit == "TFLOP/s":
            figure = Figure(value, unit, b, flagged, b.pct_of_peak)
            if _better(where.matmul.get(b.dtype), figure):
                where.matmul[b.dtype] = figure
        elif b.suite == "memory" and section_of(b) == "stream" and b.name.removeprefix("stream_") == "triad" \
                and unit == "GB/s":
            figure = Figure(value, unit, b, flagged, b.pct_of_peak)
            if _better(where.triad, figure):
                where.triad = figure
        elif b.suite == "train" and unit == "samples/s":
            mfu = b.figures.value("mfu_pct_of_peak")
            pct = float(mfu) if isinstance(mfu, (int, float)) and not isinstance(mfu, bool) else None
            flagged = flagged or b.figures.value("suspicious") is True or (pct is not None and pct > 100.0)
            model = str(b.figures.value("model") or b.name)
            figure = Figure(value, unit, b, flagged, pct, mfu=True)
            if _better(where.training.get(model), figure):
                where.training[model] = figure
    from infrabench.suites.backends.base import DTYPES

    order = {d: i for i, d in enumerate(DTYPES)}
    for d in devices.values():
        d.matmul = dict(sorted(d.matmul.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))
    return [d for _, d in sorted(devices.items(), key=lambda kv: (kv[0] != "cpu", kv[0])) if not d.empty]


def fit(console: Console, text: Text, indent: int = 2, max_lines: int = 1) -> list[Text]:
    """`text` wrapped to the console's width, continuation lines indented, at most `max_lines` of them (the
    last ending in … when cut): the summary's length never depends on how long a reason is."""
    width = max(20, console.width - indent)
    lines = [line for line in text.wrap(console, width, overflow="fold")]
    for line in lines:
        line.rstrip()
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1].truncate(width - 1)
        lines[-1].rstrip()
        lines[-1].append("…")
    return [line if i == 0 else Text(" " * indent) + line for i, line in enumerate(lines)]


def figure_lines(console: Console, devices: list[DeviceFigures]) -> list[Text]:
    """Device, figure, then its values packed into the line (each with its unit), continued under them."""
    rows: list[tuple[str, str, list[str]]] = []
    for d in devices:
        named: list[tuple[str, list[str]]] = []
        if d.matmul:
            named.append(("matmul", [f.text(dtype) for dtype, f in d.matmul.items()]))
        if d.triad is not None:
            named.append(("STREAM triad", [d.triad.text()]))
        if d.training:
            named.append(("training", [f.text(model) for model, f in d.training.items()]))
        rows += [(one_line(d.label) if i == 0 else "", name, items) for i, (name, items) in enumerate(named)]
    label_w = max((len(r[0]) for r in rows), default=0)
    out: list[Text] = []
    for label, name, items in rows:
        lead = f"  {label:<{label_w}}  {name:<12}  "
        width = max(30, console.width - len(lead))
        line = Text(lead)
        used = 0
        for item in items:
            piece = Text(one_line(item), style="bold red" if "suspicious:" in item else "")
            if used and used + 3 + len(piece) > width:
                out.append(line)
                line, used = Text(" " * len(lead)), 0
            if used:
                line.append(" · ", style="dim")
                used += 3
            if len(piece) > width:
                piece.truncate(width - 1)
                piece.append("…")
            line.append_text(piece)
            used += len(piece)
        out.append(line)
    return out


# --- the summary -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunFiles:
    """Where a run's files are, for the summary's last lines."""

    run_path: Path | None
    report_path: Path | None = None
    report_note: str | None = None  # why there is no report.html
    json_path: Path | None = None  # -o/--json: the same run file, where the user asked for it


def headline(run: Run) -> tuple[str, str]:
    """The report's headline verdict and its four factors' ratings, from the scorecard's own functions."""
    from infrabench.reports.baselines import load_all
    from infrabench.reports.compare_baselines import compare_run
    from infrabench.reports.scorecard import build_scorecard

    card = build_scorecard(run, compare_run(run, load_all()))
    factors = " · ".join(f"{f.title.lower()} {f.rating_text}" for f in card.factors)
    return card.headline, factors


def _grouped(items: Iterable[str]) -> list[tuple[int, str]]:
    return sorted(((n, text) for text, n in Counter(items).items()), key=lambda nt: (-nt[0], nt[1]))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_lines(console: Console, run: Run, files: RunFiles | None = None) -> list[Text]:
    """The short summary, one Text per terminal line: counts, verdict, best figures, warnings, skipped and
    failed with why, files."""
    from infrabench.reports.rows import NOISY_IQR_FRACTION, warnings

    out: list[Text] = []

    def add(text: str | Text, style: str = "", max_lines: int = 1, indent: int = 2) -> None:
        body = text if isinstance(text, Text) else Text(one_line(text), style=style)
        out.extend(fit(console, body, indent, max_lines))

    statuses = Counter(b.status for b in run.benchmarks)
    tally = ", ".join(f"{statuses[s]} {s}" for s in [*STATUS_ORDER, *sorted(set(statuses) - set(STATUS_ORDER))]
                      if statuses[s])
    took = sum(o.duration_s or 0.0 for o in run.backends.values())
    head = Text("infrabench run ", style="bold")
    head.append(one_line(f"{run.run_id or '?'}: profile {run.profile_name or '?'}, "
                         f"{_plural(len(run.benchmarks), 'result')}" + (f" ({tally})" if tally else "")
                         + (f" in {fmt_duration(took)}" if took else "")))
    if run.interrupted:
        head.append(" — interrupted", style="yellow")
    add(head, max_lines=2)

    try:
        verdict: tuple[str, str] | None = headline(run)
    except Exception as exc:  # noqa: BLE001 - the run file is written; a baseline problem must not hide it
        verdict = None
        add(f"verdict: not computed ({type(exc).__name__}: {exc}); see the report", style="yellow", max_lines=2)
    if verdict is not None:
        add(Text("verdict: ", style="bold") + Text(one_line(verdict[0])), max_lines=3)
        add(f"  {verdict[1]}", style="dim", max_lines=2, indent=4)

    devices = best_figures(run)
    if devices:
        add("best figures (median throughput; % of the theoretical peak where it is known):", style="bold")
        out.extend(figure_lines(console, devices))
    else:
        add("best figures: none (no matmul, STREAM triad or training result ok in this run)", style="bold")

    found = warnings(run, run.benchmarks)
    kinds = Counter(w["kind"] for w in found)
    notes: list[tuple[str, str]] = []
    if kinds["suspicious"]:
        why = next((w for w in run.warnings if w.startswith("suspicious:")), None)
        notes.append(("bold red", f"{kinds['suspicious']} suspicious: over 100% of the theoretical peak, shown as "
                      "suspicious, not as fact" + (f"; {why.removeprefix('suspicious: ')}" if why else "")))
    if kinds["noisy"]:
        notes.append(("yellow", f"{kinds['noisy']} noisy: the IQR of the samples is above "
                      f"{NOISY_IQR_FRACTION:.0%} of the median (run again on a quieter machine to be sure)"))
    if kinds["correctness"]:
        notes.append(("bold red", f"{kinds['correctness']} failed the correctness check (no figure shown for them)"))
    others = [w for w in found if w["kind"] in ("interrupted", "run", "backend")]
    for w in others[:MAX_WARNINGS]:
        subject = "" if w["subject"] in ("run", "") else f"{w['subject']}: "
        notes.append(("yellow", subject + w["text"]))
    if len(others) > MAX_WARNINGS:
        notes.append(("yellow", f"… {len(others) - MAX_WARNINGS} more warnings in the report"))
    if notes:
        add(f"warnings ({len(found)}):", style="bold")
        for style, text in notes:
            add(f"  {text}", style=style, max_lines=2, indent=4)
    else:
        add("warnings: none", style="bold")

    for title, wanted in (("skipped", ("skipped",)), ("failed", PROBLEM_STATUSES)):
        entries = [b for b in run.benchmarks if b.status in wanted]
        if not entries:
            add(f"{title}: none", style="bold")
            continue
        if title == "skipped":
            groups = _grouped(b.reason or "no reason recorded" for b in entries)
        else:
            groups = _grouped(f"{b.status}: {b.reason or 'no reason recorded'}" for b in entries)
        add(f"{title}: {_plural(len(entries), 'result')}, {_plural(len(groups), 'reason')}:", style="bold")
        for n, reason in groups[:MAX_REASONS]:
            add(f"  {n} × {reason}", style="dim" if title == "skipped" else "red",
                max_lines=1 if title == "skipped" else 2, indent=4)
        rest = groups[MAX_REASONS:]
        if rest:
            add(f"  … {_plural(len(rest), 'more reason')} ({_plural(sum(n for n, _ in rest), 'result')}): "
                "listed by --verbose and the report", style="dim")

    if files is not None:
        add(f"run file: {files.run_path}" if files.run_path else "run file: not written", max_lines=2)
        if files.json_path is not None:
            add(f"          and {files.json_path} (-o/--json)", max_lines=2)
        add(f"report:   {files.report_path}" if files.report_path else
            f"report:   {files.report_note or 'not written'}", max_lines=2)
    return out


def results_table(run: Run) -> Table:
    """Every benchmark of the run, one row each: timed ones first, then those without timing, with why."""
    from infrabench.reports.rows import NOISY_IQR_FRACTION, is_suspicious, noisy_fraction

    table = Table(title=Text(one_line(f"infrabench run {run.run_id}")), title_justify="left")
    for col in ("suite", "benchmark", "backend", "device", "dtype", "status", "throughput", "% of peak", "!",
                "note"):
        table.add_column(col, overflow="fold", justify="right" if col in ("throughput", "% of peak") else "left")
    for b in run.benchmarks:
        tp, pct = b.throughput, b.pct_of_peak
        flagged = is_suspicious(b)
        note = b.reason or ""
        if flagged:
            note = f"suspicious: {b.suspicious_reason or 'above the theoretical peak'}"
        elif b.status == "ok":
            frac = noisy_fraction(b)
            noisy = f"noisy: IQR {100 * frac:.0f}% of the median" if frac is not None and \
                frac > NOISY_IQR_FRACTION else ""
            note = "; ".join(x for x in (noisy, b.pct_of_peak_reason if pct is None else "") if x)
        plain = (Text(one_line(v)) for v in (b.suite, b.pytest_name, b.backend, b.device, b.dtype))
        table.add_row(*plain,
                      Text(one_line(b.status), style=STATUS_STYLE.get(b.status, "")),
                      "—" if tp is None else Text(one_line(f"{tp.value:.4g} {tp.unit}")),
                      "—" if pct is None else f"{pct:.1f}%" + (" suspicious" if flagged else ""),
                      Text("!", style="bold red") if flagged else "", Text(one_line(note), style="dim"))
    return table


def print_summary(console: Console, run: Run, files: RunFiles | None = None, verbose: bool = False) -> None:
    """The summary after a run; with `verbose`, the full per-benchmark table before it."""
    if verbose:
        console.print(results_table(run))
    for line in summary_lines(console, run, files):
        console.print(line, no_wrap=True, overflow="ellipsis", crop=True)
