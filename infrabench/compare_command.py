"""`infrabench compare BASE [BASE ...] NEW`: noise-aware verdict per benchmark, and exit 1 on a regression.

Every path but the last is a base run; the last is the new run. A path may be a run file (infrabench or
pytest-benchmark, matched on fullname) or a folder: one run's folder (DIR/run.json), an `infrabench run
--out DIR` folder (every DIR/*/run.json), else every DIR/*.json. Several base runs let the gate measure
how far each benchmark moves between runs on this machine, and test the new run against that (run level,
see reports/gate/runlevel.py); with one base run that noise is unknown and every output says so: it
comes from `--noise FILE` (a profile written by `infrabench compare --estimate-noise FILE RUN RUN ...`
or bench/gate_calibration.py) when given, else from how far the other benchmarks moved between the two
runs.

`--confirm RERUN` (repeatable; a file or a folder of runs) names a re-run of the new side made in a
fresh process after a failing compare: a regression stands only when every re-run, compared with the
same base, shows it too (one benchmark now and then runs 1.5-2x slower for a whole process on a shared
machine; see reports/gate/verdict.py `confirm`).

Settings come from `--config FILE`, else ./infrabench.toml ([gate]), else ./pyproject.toml
([tool.infrabench.gate]):

    [tool.infrabench.gate]
    threshold = "10%"              # CPU default (a fraction such as 0.1 works too)
    accelerator_threshold = "5%"
    alpha = 0.01
    strict = false
    noise = "infrabench-noise.json"  # noise profile (relative to the config file's folder)
    [tool.infrabench.gate.thresholds]   # per benchmark, glob on fullname, first match wins
    "memory/*" = "15%"

Command-line options win. Exit codes: 0 pass, 1 regression (or inconclusive with --strict),
2 bad input (one line on stderr). Never imports torch or jax.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infrabench.errors import UsageError
from infrabench.files import read_json, read_toml, toml_table

if TYPE_CHECKING:
    from infrabench.reports.gate import BenchSet, Comparison, GateSettings

# Each key of the gate table and the TOML types it takes (a bool is not a number here).
GATE_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "threshold": ((int, float, str), "a fraction or a percentage string"),
    "accelerator_threshold": ((int, float, str), "a fraction or a percentage string"),
    "alpha": ((int, float), "a number"), "strict": ((bool,), "true or false"),
    "allow_different_machines": ((bool,), "true or false"), "thresholds": ((dict,), "a table"),
    "noise": ((str,), "a file name"),
}
GATE_KEYS = set(GATE_TYPES)


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `compare` and `ab`: thresholds, strictness and the output files."""
    parser.add_argument("--threshold", metavar="PCT",
                        help="regression threshold for every benchmark, e.g. 10%% or 0.1 "
                             "(default 10%% CPU, 5%% accelerators; per-benchmark globs in the config still apply)")
    parser.add_argument("--alpha", type=float, metavar="A", help="family-wise error rate (default 0.01)")
    parser.add_argument("--strict", action="store_true", default=None, help="inconclusive benchmarks fail the gate")
    parser.add_argument("--allow-different-machines", action="store_true", default=None,
                        help="compare even when the machine fingerprints differ")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML with [tool.infrabench.gate] (pyproject.toml) or [gate] (infrabench.toml)")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write a Markdown summary (PR comment)")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML, one test case per benchmark")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="write comparison.json: every number behind each verdict")


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                        help="BASE [BASE ...] NEW: base run files or folders of them, then the new run file "
                             "(infrabench or pytest-benchmark); with --estimate-noise: the runs to measure")
    parser.add_argument("--noise", type=Path, metavar="FILE",
                        help="noise profile (between-run log-SD per benchmark) for a single base run")
    parser.add_argument("--confirm", type=Path, metavar="RERUN", action="append", default=[],
                        help="a re-run of the new side (run file, or a folder of them), made in a fresh process "
                             "after a failing compare (repeatable): a regression stands only when every re-run "
                             "shows it too")
    parser.add_argument("--estimate-noise", type=Path, metavar="FILE", dest="estimate_noise",
                        help="write a noise profile measured from the given runs (2 or more) instead of comparing")
    add_gate_arguments(parser)


# --- settings ----------------------------------------------------------------------------------------

def parse_fraction(value: Any, where: str) -> float:
    """"10%", "10 %", 0.1 -> 0.1; anything else, or not in (0, 10), is a UsageError."""
    try:
        if isinstance(value, str):
            text = value.strip()
            number = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            raise ValueError
    except ValueError:
        raise UsageError(f"{where} {value!r}: not a threshold (write e.g. 10% or 0.1)") from None
    if not 0.0 < number < 10.0:
        raise UsageError(f"{where} {value!r}: must be above 0% and below 1000%")
    return number


def gate_table(config: Path | None, cwd: Path | None = None) -> tuple[dict[str, Any], str | None]:
    """The gate table and where it came from: --config, else ./infrabench.toml, else ./pyproject.toml."""
    cwd = cwd or Path.cwd()
    candidates = [config] if config is not None else [cwd / "infrabench.toml", cwd / "pyproject.toml"]
    for path in candidates:
        if config is None and not path.is_file():
            continue
        data = read_toml(path)
        if "tool" in data or path.name == "pyproject.toml":
            table, where = toml_table(data, path, "tool", "infrabench", "gate"), "[tool.infrabench.gate]"
        else:
            table, where = toml_table(data, path, "gate"), "[gate]"
        if table is None:
            if config is not None:
                raise UsageError(f"--config {path}: no {where} table")
            continue
        if not isinstance(table, dict):
            raise UsageError(f"{path}: {where} must be a table")
        unknown = set(table) - GATE_KEYS
        if unknown:
            known = ", ".join(sorted(GATE_KEYS))
            raise UsageError(f"{path}: unknown key {sorted(unknown)[0]!r} in {where} (known: {known})")
        for key, value in table.items():
            types, expected = GATE_TYPES[key]
            if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
                raise UsageError(f"{path}: {where} {key} must be {expected}, not {type(value).__name__} "
                                 f"({value!r:.40})")
        return table, f"{path} {where}"
    return {}, None


def gate_settings(args: argparse.Namespace) -> tuple[GateSettings, bool]:
    """GateSettings from the command line over the config file over the defaults; and allow_different_machines.
    Sets args.noise from the config's `noise` (relative to the config file) unless --noise was given."""
    from infrabench.reports.gate import GateSettings

    table, where = gate_table(getattr(args, "config", None))
    if "noise" in table and getattr(args, "noise", "absent") is None:
        if not isinstance(table["noise"], str):
            raise UsageError(f"{where} noise must be a file name")
        folder = Path(where.split(" [")[0]).parent if where else Path.cwd()
        args.noise = folder / table["noise"]
    settings = GateSettings()
    src = where or "config"
    if "threshold" in table:
        settings.cpu_threshold = parse_fraction(table["threshold"], f"{src} threshold")
    if "accelerator_threshold" in table:
        settings.accelerator_threshold = parse_fraction(table["accelerator_threshold"], f"{src} accelerator_threshold")
    if "alpha" in table:
        settings.alpha = float(table["alpha"])
    if "strict" in table:
        settings.strict = bool(table["strict"])
    overrides = table.get("thresholds", {})
    if not isinstance(overrides, dict):
        raise UsageError(f"{src} thresholds must be a table of glob = threshold")
    settings.overrides = [(str(k), parse_fraction(v, f"{src} thresholds {k!r}")) for k, v in overrides.items()]
    if args.threshold is not None:
        settings.cpu_threshold = settings.accelerator_threshold = parse_fraction(args.threshold, "--threshold")
    if args.alpha is not None:
        settings.alpha = args.alpha
    if not 0.0 < settings.alpha < 0.5:
        raise UsageError(f"alpha {settings.alpha:g}: must be between 0 and 0.5")
    if args.strict:
        settings.strict = True
    allow = bool(args.allow_different_machines) if args.allow_different_machines is not None \
        else bool(table.get("allow_different_machines", False))
    for opt in ("markdown", "junit", "json"):
        path = getattr(args, opt, None)
        if path is not None and (path.is_dir() or not path.parent.is_dir()):
            raise UsageError(f"--{opt} {path}: not a writable file path (is it a directory, or is its folder missing?)")
    return settings, allow


# --- loading -----------------------------------------------------------------------------------------

def load_bench_set(path: Path) -> BenchSet:
    """An infrabench run file (validated against the run schema) or a pytest-benchmark saved run."""
    from infrabench.reports.gate import GateInputError, bench_set
    from infrabench.results import Run

    path = Path(path)
    data = read_json(path, truncation_hint="is the file truncated?")
    try:
        return bench_set(Run.parse(data, path, accept_pytest_benchmark=True), str(path))
    except GateInputError as exc:
        raise UsageError(str(exc)) from None


# --- running the gate --------------------------------------------------------------------------------

COMPARED = ("regression", "improvement", "inconclusive", "unchanged")  # verdicts a test stands behind


def require_compared(comparison: Comparison) -> None:
    """UsageError when the gate has nothing to stand on (no benchmark compared: all failed, missing, new or
    without samples): a gate over nothing is bad input, never a pass. `compare` (CLI and library) and `ab`
    both refuse through here."""
    from infrabench.reports.neutral import visible

    if any(v.verdict in COMPARED for v in comparison.verdicts):
        return
    counts = {k: n for k, n in comparison.counts.items() if n}
    tally = ", ".join(f"{n} {k}" for k, n in counts.items()) or "no benchmarks at all"
    reasons = list(dict.fromkeys(v.reason for v in comparison.verdicts if v.reason))[:2]
    raise UsageError(visible(f"nothing compared between {comparison.base_source} and {comparison.new_source} "
                             f"({tally})" + (": " + "; ".join(reasons) if reasons else "")))


def finish(comparison: Comparison, args: argparse.Namespace, extra: dict[str, Any] | None = None) -> int:
    """Print the table, write the requested files, return the exit code (0 pass, 1 fail); UsageError (exit 2),
    before any file that would say pass, when no benchmark could be compared."""
    from rich.console import Console

    from infrabench.reports.gate import outputs

    require_compared(comparison)
    # The files first: whatever happens to the terminal (a closed pipe, an encoding), CI gets its outputs.
    written = []
    for path, render in ((args.markdown, lambda: outputs.markdown(comparison)),
                         (args.junit, lambda: outputs.junit(comparison)),
                         (args.json, lambda: outputs.to_json(comparison, extra))):
        if path is not None:
            try:
                written.append(outputs.write_text(path, render()))
            except OSError as exc:
                raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, 160))
    outputs.print_terminal(console, comparison)
    for path in written:
        console.print(f"wrote {path}", markup=False)
    return comparison.exit_code


def run_paths(paths: list[Path]) -> list[Path]:
    """Run files named directly, and those in named folders (DIR/run.json, else DIR/*/run.json, else DIR/*.json)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = ([path / "run.json"] if (path / "run.json").is_file() else sorted(path.glob("*/run.json"))) \
                or sorted(p for p in path.glob("*.json") if p.is_file())
            if not found:
                raise UsageError(f"{path}: a folder with no run files (*/run.json or *.json)")
            files += found
        else:
            files.append(path)
    return files


def load_noise(path: Path | None) -> Any:
    if path is None:
        return None
    from infrabench.reports.gate import GateInputError
    from infrabench.reports.gate.noise import load_profile

    try:
        return load_profile(path)
    except GateInputError as exc:
        raise UsageError(str(exc)) from None


def _bench_sets(sources: list[Any]) -> list[BenchSet]:
    """Each source as a BenchSet: a Run as it is; a path (file or folder of run files) read from disk."""
    from infrabench.reports.gate import bench_set
    from infrabench.results import Run

    sets: list[BenchSet] = []
    for source in sources:
        if isinstance(source, Run):
            sets.append(bench_set(source, source.run_id or "run"))
        else:
            sets.extend(load_bench_set(p) for p in run_paths([Path(source)]))
    return sets


def compare_sources(base_sources: list[Any], new_source: Any, settings: GateSettings, allow_different: bool,
                    noise: Path | None = None, confirm_sources: list[Any] | None = None) -> Comparison:
    """Load the runs (paths, folders or Runs), check the fingerprints, compare; with re-runs of the new side
    (`confirm_sources`), keep only the regressions every re-run shows. UsageError for anything that cannot
    be gated. The base runs and the noise profile are read once, whatever the number of re-runs."""
    from infrabench.reports.gate import compare, confirm
    from infrabench.reports.gate.fingerprint import machine_diffs

    bases = _bench_sets(base_sources)
    profile = load_noise(noise)

    def against_bases(new: BenchSet) -> Comparison:
        for base in bases:
            diffs = machine_diffs(base, new)
            if diffs and not allow_different:
                fields = "; ".join(f"{d.field}: {d.base} -> {d.new}" for d in diffs)
                raise UsageError(f"{base.source} and {new.source} come from different machines or software "
                                 f"({fields}); pass --allow-different-machines to compare anyway")
            if not set(base.benches) & set(new.benches):
                raise UsageError(f"{base.source} and {new.source} have no benchmark in common (matched on fullname)")
        return compare(bases, new, settings, machine_diffs(bases[0], new), allow_different, profile)

    news = _bench_sets([new_source])
    if len(news) != 1:
        raise UsageError(f"{new_source}: the new side must be one run (a run file, not a folder of several)")
    first = against_bases(news[0])
    require_compared(first)  # the library's gate refuses as the CLI's does: never a pass on nothing
    reruns = [against_bases(s) for s in _bench_sets(confirm_sources)] if confirm_sources else []
    return confirm(first, reruns)


def compare_files(base_paths: Path | list[Path], new_path: Path, settings: GateSettings, allow_different: bool,
                  noise: Path | None = None, confirm_paths: list[Path] | None = None) -> Comparison:
    """`compare_sources` for paths only (the CLI's case)."""
    bases = base_paths if isinstance(base_paths, list) else [base_paths]
    return compare_sources(list(bases), Path(new_path), settings, allow_different, noise, confirm_paths)


def estimate_noise_command(args: argparse.Namespace) -> int:
    from infrabench.reports.gate import GateInputError
    from infrabench.reports.gate.noise import estimate_profile, write_profile

    files = run_paths(args.runs)
    if len(files) < 2:
        raise UsageError("--estimate-noise needs at least 2 runs of the same suite on this machine")
    out = args.estimate_noise
    if out.is_dir() or not out.parent.is_dir():
        raise UsageError(f"--estimate-noise {out}: not a writable file path")
    try:
        profile = estimate_profile([load_bench_set(p) for p in files])
    except GateInputError as exc:
        raise UsageError(str(exc)) from None
    write_profile(profile, out)
    sds = sorted(e.log_sd for e in profile.benchmarks.values())
    print(f"wrote {out}: between-run log-SD of {len(sds)} benchmarks from {len(files)} runs "
          f"(median {sds[len(sds) // 2]:.1%}, largest {sds[-1]:.1%})")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    if args.estimate_noise is not None:
        return estimate_noise_command(args)
    if len(args.runs) < 2:
        raise UsageError("compare needs a base run (file or folder) and a new run file: compare BASE [BASE ...] NEW")
    settings, allow = gate_settings(args)
    return finish(compare_files(args.runs[:-1], args.runs[-1], settings, allow, args.noise, args.confirm), args)
