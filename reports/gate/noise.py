"""Between-run noise: how far one benchmark's median moves from one run (process) to the next.

Rounds within one run share the process, its memory placement, the machine's state for those seconds;
two runs on the same idle machine routinely differ by more than their rounds spread (25-55% for DRAM
bandwidth on a KVM guest whose rounds agree within a few %). A gate that treats rounds as the only
noise calls that a regression. The between-run spread is measured, never assumed:

- from several base runs (`run_level_log_medians`: the SD of the benchmark's log median across them);
- from a noise profile written earlier from repeated runs on the same machine (`NoiseProfile`: a JSON
  with one log-SD per benchmark fullname, plus optional globs), used when there is one base run.

The profile format ({"format": "infrabench-noise", "version": 1, "benchmarks": {fullname: {"log_sd",
"runs"}}, "patterns": {glob: {"log_sd", "runs"}}}) is plain data: nothing in it is executed.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infrabench.reports.gate.load import BenchSet, GateInputError

MAX_RUNS = 100_000  # more base runs than any calibration makes: a profile claiming more is corrupt
FORMAT = "infrabench-noise"
VERSION = 1
MAD_TO_SD = 1.4826  # SD of a normal distribution per unit of median absolute deviation
MEDIAN_SE = 1.2533  # SE of a normal sample's median per unit of SD / sqrt(n)


def log_median(samples: Sequence[float]) -> float:
    import numpy as np

    return float(np.log(np.median(np.asarray(samples, dtype=float))))


def within_sd(samples: Sequence[float]) -> float:
    """Robust SD of one run's log samples (MAD scaled to a normal SD; the plain SD when the MAD is 0)."""
    import numpy as np

    logs = np.log(np.asarray(samples, dtype=float))
    if logs.size < 2:
        return 0.0
    sd = MAD_TO_SD * float(np.median(np.abs(logs - np.median(logs))))
    if sd == 0.0:
        sd = float(np.std(logs, ddof=1))
    return sd


def within_se(samples: Sequence[float]) -> float:
    """Standard error of one run's log median from its rounds (robust SD of log samples, normal theory)."""
    if len(samples) < 2:
        return 0.0
    return MEDIAN_SE * within_sd(samples) / math.sqrt(len(samples))


@dataclass(frozen=True)
class RunSpread:
    """One benchmark's log median in each base run where it is comparable, and their SD."""

    log_medians: tuple[float, ...]

    @property
    def k(self) -> int:
        return len(self.log_medians)

    @property
    def mean(self) -> float:
        return sum(self.log_medians) / self.k

    @property
    def sd(self) -> float | None:
        if self.k < 2:
            return None
        m = self.mean
        return math.sqrt(sum((x - m) ** 2 for x in self.log_medians) / (self.k - 1))


def run_level_log_medians(runs: Sequence[BenchSet]) -> dict[str, RunSpread]:
    """Per fullname, the log medians of the runs in which it is comparable."""
    out: dict[str, list[float]] = {}
    for run in runs:
        for name, bench in run.benches.items():
            if bench.comparable:
                out.setdefault(name, []).append(log_median(bench.samples))
    return {name: RunSpread(tuple(v)) for name, v in out.items()}


@dataclass(frozen=True)
class NoiseEntry:
    log_sd: float  # SD of the log median between runs (0.05 ~ 5% run to run)
    runs: int  # how many runs it was estimated from (its degrees of freedom are runs - 1)


@dataclass
class NoiseProfile:
    """Between-run log-SD per benchmark (exact fullname first, then the first matching glob)."""

    benchmarks: dict[str, NoiseEntry] = field(default_factory=dict)
    patterns: list[tuple[str, NoiseEntry]] = field(default_factory=list)
    source: str = ""
    made_from: list[str] = field(default_factory=list)

    def lookup(self, fullname: str) -> NoiseEntry | None:
        if fullname in self.benchmarks:
            return self.benchmarks[fullname]
        for pattern, entry in self.patterns:
            if fnmatch.fnmatchcase(fullname, pattern):
                return entry
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION,
                "about": "between-run SD of each benchmark's log median (0.05 ~ 5% run to run), "
                         "from `runs` repeated runs on one machine",
                "made_from": self.made_from,
                "benchmarks": {k: {"log_sd": v.log_sd, "runs": v.runs} for k, v in sorted(self.benchmarks.items())},
                "patterns": {k: {"log_sd": v.log_sd, "runs": v.runs} for k, v in self.patterns}}


def estimate_profile(runs: Sequence[BenchSet]) -> NoiseProfile:
    """A profile from repeated runs of the same suite on one machine (at least 2)."""
    if len(runs) < 2:
        raise GateInputError("estimating between-run noise needs at least 2 runs")
    spreads = run_level_log_medians(runs)
    entries = {name: NoiseEntry(s.sd, s.k) for name, s in spreads.items() if s.sd is not None}
    if not entries:
        raise GateInputError("no benchmark is comparable in two or more of the runs")
    return NoiseProfile(entries, [], "", [r.source for r in runs])


def _entry(raw: Any, where: str) -> NoiseEntry:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = {"log_sd": raw, "runs": 2}
    if not isinstance(raw, dict):
        raise GateInputError(f"{where}: expected {{\"log_sd\": number, \"runs\": integer}}")
    sd, runs = raw.get("log_sd"), raw.get("runs", 2)
    if not isinstance(sd, (int, float)) or isinstance(sd, bool) or not math.isfinite(sd) or not 0 <= sd < 5:
        raise GateInputError(f"{where}: log_sd must be a number from 0 to 5")
    if not isinstance(runs, int) or isinstance(runs, bool) or not 2 <= runs <= MAX_RUNS:
        raise GateInputError(f"{where}: runs must be an integer from 2 to {MAX_RUNS}")
    return NoiseEntry(float(sd), runs)


def profile_from_dict(data: Any, source: str) -> NoiseProfile:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GateInputError(f"{source}: not a noise profile (no \"format\": \"{FORMAT}\")")
    benches, patterns = data.get("benchmarks", {}), data.get("patterns", {})
    if not isinstance(benches, dict) or not isinstance(patterns, dict):
        raise GateInputError(f"{source}: benchmarks and patterns must be objects")
    made = data.get("made_from") if isinstance(data.get("made_from"), list) else []
    return NoiseProfile({str(k): _entry(v, f"{source} benchmarks[{k!r}]") for k, v in benches.items()},
                        [(str(k), _entry(v, f"{source} patterns[{k!r}]")) for k, v in patterns.items()],
                        source, [str(m) for m in made])


def load_profile(path: Path) -> NoiseProfile:
    from infrabench.errors import UsageError
    from infrabench.files import read_json

    try:
        data = read_json(Path(path), "noise profile")
    except UsageError as exc:
        raise GateInputError(str(exc)) from None
    return profile_from_dict(data, str(path))


def write_profile(profile: NoiseProfile, path: Path) -> Path:
    from infrabench.files import write_atomic

    return write_atomic(Path(path), profile.to_dict())
