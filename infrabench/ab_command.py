"""`infrabench ab --a PYTHON_A --b PYTHON_B`: interleaved A/B of two Python environments on this machine.

K rounds in alternating order (A B, B A, A B, ...), each side an `infrabench run` in a fresh process
of its own Python, so drift in clocks, heat and neighbours' load hits both sides alike. Round i of A
is paired with round i of B: per benchmark, each side's value for a round is that round's median, and
the gate uses Wilcoxon signed-rank on the paired log ratios with a paired bootstrap interval. A is the
base, B the candidate: "regression" means B is slower.

How many rounds: with K pairs the smallest one-sided Wilcoxon p is 0.5^K (every pair in the same
direction; K=7: 0.0078, K=8: 0.0039, K=10: 0.00098), and Holm across m benchmarks needs the smallest p
below alpha/m. Below K_min = the fewest rounds with 0.5^K < alpha/m, no benchmark can be flagged however
large its change, so the run would be wasted:

- `--rounds K` below K_min for a single benchmark (alpha alone: 7 at the default 0.01) is refused before
  anything runs (exit 2, one line);
- m is known after the first round (the benchmarks ok on both sides); `--rounds K` below K_min for those m
  is refused then (exit 2, one line; the first round's files are kept), not silently raised: a user who
  chose K chose its cost;
- without `--rounds`, K is K_min for those m (8 for 2 benchmarks at alpha 0.01), said on stderr. The
  fewest rounds that can reach alpha need every pair to agree; more rounds tolerate a discordant pair.

Both Pythons need infrabench importable (installed, or this source checkout on PYTHONPATH, which is
added when it helps). Outputs and exit codes are those of `infrabench compare`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from infrabench.compare_command import add_gate_arguments, finish, gate_settings
from infrabench.errors import UsageError
from infrabench.probes import lifeline

DEFAULT_OUT = Path("infrabench-ab")
IMPORT_CHECK_TIMEOUT_S = 60.0
RUN_OPTIONS = ("suite", "backend", "device", "dtype", "profile", "timeout", "threads")


def add_ab_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--a", required=True, metavar="PYTHON_A",
                        help="base Python interpreter (e.g. venv-a/bin/python)")
    parser.add_argument("--b", required=True, metavar="PYTHON_B", help="candidate Python interpreter")
    parser.add_argument("--rounds", type=int, metavar="K",
                        help="rounds per side, alternating order (default: the fewest at which the Wilcoxon test "
                             "can reach --alpha after Holm over the benchmarks compared, set after the first round: "
                             "7 for one benchmark at alpha 0.01, 8 for two; fewer are refused)")
    parser.add_argument("--suite", metavar="LIST", help="run option: comma-separated suites")
    parser.add_argument("--backend", metavar="LIST", help="run option: comma-separated backends")
    parser.add_argument("--device", metavar="LIST", help="run option: comma-separated devices")
    parser.add_argument("--dtype", metavar="LIST", help="run option: dtypes")
    parser.add_argument("--profile", choices=("quick", "standard", "full"), help="run option: run size")
    parser.add_argument("--timeout", type=float, metavar="S", help="run option: time limit per backend")
    parser.add_argument("--threads", type=int, metavar="N", help="run option: CPU threads to pin")
    parser.add_argument("--a-args", default="", metavar="ARGS", help="extra `infrabench run` options for A only, "
                        "e.g. '--threads 2'")
    parser.add_argument("--b-args", default="", metavar="ARGS", help="extra `infrabench run` options for B only")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help=f"where each round's run files go (default ./{DEFAULT_OUT})")
    add_gate_arguments(parser)


def _checkout_root() -> Path | None:
    import infrabench

    root = Path(infrabench.__file__).resolve().parent.parent
    return root if (root / "probes" / "profile.py").is_file() else None


def child_env(python: str, side: str) -> dict[str, str]:
    """The environment in which `python -m infrabench.cli` works, or UsageError saying why it does not."""
    env = dict(os.environ)
    attempts = [env]
    root = _checkout_root()
    if root is not None:
        attempts.append({**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))})
    last = ""
    for attempt in attempts:
        try:
            proc = subprocess.run([python, "-c", "import infrabench.cli"], capture_output=True, text=True,
                                  env=attempt, timeout=IMPORT_CHECK_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise UsageError(f"--{side} {python}: no such interpreter") from None
        except PermissionError:
            raise UsageError(f"--{side} {python}: not executable") from None
        except subprocess.TimeoutExpired:
            raise UsageError(f"--{side} {python}: did not start within {IMPORT_CHECK_TIMEOUT_S:g} s") from None
        if proc.returncode == 0:
            return attempt
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
    raise UsageError(f"--{side} {python}: cannot import infrabench ({last}); install it in that environment")


def _run_options(args: argparse.Namespace) -> list[str]:
    opts: list[str] = []
    for key in RUN_OPTIONS:
        value = getattr(args, key)
        if value is not None:
            opts += [f"--{key}", str(value)]
    return opts


def _find_run_file(folder: Path) -> Path | None:
    found = sorted(folder.glob("*/run.json"))
    return found[-1] if found else None


def run_round(python: str, env: dict[str, str], options: list[str], out: Path, label: str) -> Path:
    """One `infrabench run` in a fresh process; its run file, or UsageError (harness error, exit 2)."""
    out.mkdir(parents=True, exist_ok=True)
    log = out / "run.log"
    with open(log, "w") as fh:
        # Its own session, holding a lifeline to this process: if `ab` ends (SIGTERM, kill -9), the run and its
        # workers end too; on Ctrl-C / SIGTERM here, subprocess.run kills it before re-raising.
        proc = subprocess.run([python, "-m", "infrabench.cli", "run", *options, "--out", str(out)],
                              env=lifeline.child_env(env, None), stdout=fh, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    run_file = _find_run_file(out)
    if proc.returncode != 0 or run_file is None:
        tail = (log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"{label}: infrabench run exited with {proc.returncode} ({tail}); log: {log}")
    return run_file


def paired_set(run_files: list[Path], source: str) -> Any:
    """A BenchSet whose samples are one median per round, for benchmarks ok in every round."""
    import numpy as np

    from infrabench.compare_command import load_bench_set
    from infrabench.reports.gate.load import Bench, BenchSet

    rounds = [load_bench_set(p) for p in run_files]
    names = list(dict.fromkeys(n for r in rounds for n in r.benches))
    benches: dict[str, Bench] = {}
    for name in names:
        per_round = [r.benches.get(name) for r in rounds]
        bad = [(i, b) for i, b in enumerate(per_round) if b is None or not b.comparable]
        first = next(b for b in per_round if b is not None)
        if bad:
            i, b = bad[0]
            why = "absent" if b is None else f"{b.status}: {b.reason}"
            benches[name] = Bench(name, [], "failed", f"round {i + 1}: {why}", first.device, first.group)
        else:
            meds = [float(np.median(b.samples)) for b in per_round if b is not None]
            benches[name] = Bench(name, meds, "ok", None, first.device, first.group)
    return BenchSet(source, "ab", benches, rounds[0].machine_info, paired=True, label=source,
                    profile=rounds[0].profile, threads=rounds[0].threads)


def rounds_to_reach(alpha: float, benchmarks: int = 1) -> int:
    """K_min: the fewest paired rounds whose smallest one-sided Wilcoxon signed-rank p, 0.5^K, is below
    alpha / benchmarks (what Holm asks of the smallest p); fewer cannot flag any benchmark."""
    from infrabench.reports.gate import stats

    return stats.rounds_for_p(alpha / max(benchmarks, 1), paired=True)


def _floor(rounds: int) -> str:
    return f"0.5^{rounds} = {0.5 ** rounds:.2g}"


def _compared(run_a: Path, run_b: Path) -> int:
    """Benchmarks comparable in both runs of a round: those Holm will correct over."""
    from infrabench.compare_command import load_bench_set

    a, b = load_bench_set(run_a), load_bench_set(run_b)
    return sum(1 for name, bench in a.benches.items() if bench.comparable and name in b.benches
               and b.benches[name].comparable)


def rounds_after_first(requested: int | None, alpha: float, compared: int) -> tuple[int, str]:
    """The rounds to run once the first round says how many benchmarks are compared, and the line saying why;
    UsageError when the requested rounds cannot reach alpha for them."""
    if compared == 0:  # more rounds cannot help: the two sides share no benchmark that ran ok on both
        raise UsageError("ab: the first round compared nothing (no benchmark ran ok on both sides under the same "
                         "name); its runs are kept under --out; stopping before the other rounds")
    need = rounds_to_reach(alpha, compared)
    why = (f"{compared} benchmark(s) compared: Holm needs the smallest p below {alpha:g}/{max(compared, 1)} = "
           f"{alpha / max(compared, 1):.2g}, and {{k}} paired rounds give p >= {{floor}}")
    if requested is None:
        return need, (why.format(k="K", floor="0.5^K") + f"; running {need} rounds, the fewest that can "
                      "(--rounds K for more)")
    if requested < need:
        raise UsageError(f"--rounds {requested}: " + why.format(k=requested, floor=_floor(requested))
                         + f", so no benchmark could be flagged; use --rounds {need} or more, or fewer benchmarks "
                         "(--suite, --backend, --dtype)")
    return requested, why.format(k=requested, floor=_floor(requested)) + ": can reach it"


def ab_command(args: argparse.Namespace) -> int:
    from infrabench.reports.gate import compare
    from infrabench.reports.gate.fingerprint import machine_diffs

    settings, _ = gate_settings(args)
    least = rounds_to_reach(settings.alpha)
    if args.rounds is not None and args.rounds < least:
        raise UsageError(f"--rounds {args.rounds}: Wilcoxon signed-rank on {args.rounds} paired rounds cannot give "
                         f"p below {_floor(args.rounds)}, not below alpha {settings.alpha:g} even for one benchmark; "
                         f"use --rounds {least} or more")
    try:
        extra = {"a": shlex.split(args.a_args), "b": shlex.split(args.b_args)}
    except ValueError as exc:
        raise UsageError(f"--a-args/--b-args: {exc}") from None
    pythons = {"a": args.a, "b": args.b}
    envs = {side: child_env(py, side) for side, py in pythons.items()}
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {args.out}: cannot create: {exc.strerror}") from None
    options = _run_options(args)
    files: dict[str, list[Path]] = {"a": [], "b": []}
    rounds: int | None = args.rounds
    i = 0
    while rounds is None or i < rounds:
        order = ("a", "b") if i % 2 == 0 else ("b", "a")
        for side in order:
            label = f"round {i + 1}/{rounds or '?'} {side.upper()}"
            print(f"{label}: {pythons[side]}", file=sys.stderr, flush=True)
            files[side].append(run_round(pythons[side], envs[side], options + extra[side],
                                         args.out / side / f"round-{i + 1:02d}", label))
        if i == 0:
            rounds, line = rounds_after_first(args.rounds, settings.alpha, _compared(files["a"][0], files["b"][0]))
            print(f"ab: {line}", file=sys.stderr, flush=True)
        i += 1
    assert rounds is not None
    base = paired_set(files["a"], f"A: {args.a} {args.a_args}".strip())
    new = paired_set(files["b"], f"B: {args.b} {args.b_args}".strip())
    diffs = machine_diffs(base, new)  # software may differ by design: shown, not refused
    comparison = compare(base, new, settings, diffs, True)
    m = sum(1 for v in comparison.verdicts if v.ratio is not None)
    floor = 0.5 ** rounds
    reach = (f"{rounds} paired rounds: smallest possible one-sided p = {_floor(rounds)}; "
             f"Holm over {m} benchmark(s) needs p < {settings.alpha / max(m, 1):.2g} for the first")
    if floor >= settings.alpha / max(m, 1):  # only when benchmarks appeared after the first round
        reach += (f" - out of reach: use --rounds {rounds_to_reach(settings.alpha, m)} or a smaller selection")
    comparison.noise_note = f"{comparison.noise_note}; {reach}"
    print(reach, file=sys.stderr)
    details = {"ab": {"rounds": rounds, "rounds_requested": args.rounds,
                      "rounds_to_reach_alpha": rounds_to_reach(settings.alpha, m),
                      "order": "alternating, A first in odd rounds",
                      "smallest_p": floor, "holm_first_alpha": settings.alpha / max(m, 1),
                      "run_files": {k: [str(p) for p in v] for k, v in files.items()},
                      "round_medians_s": {n: {"a": base.benches[n].samples, "b": new.benches[n].samples}
                                          for n in base.benches if n in new.benches
                                          and base.benches[n].comparable and new.benches[n].comparable}}}
    return finish(comparison, args, details)
