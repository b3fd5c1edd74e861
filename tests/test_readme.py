"""Every command the README shows runs as written, so the README cannot drift from the tool.

`readme_commands()` finds each command in the README (fenced bash blocks, indented example lines, and
inline code that starts with a command). `CASES` says, for each exact text, how it runs here: the argv
with the README's placeholders (RUN.json, DIR, NAME, ...) filled from a fixture environment, the exit
codes it may give, and whether it measures (those are `slow`). A command the README gains or changes
without a case fails `test_every_readme_command_has_a_case`.

The fixture environment: two real runs of a tiny registered suite (tests/data/runner, real numpy
matmuls) stand in for RUN.json / A.json / B.json / BASE / NEW, a private baseline folder, and a data
folder with a file of the user's in it. Commands that need what this machine cannot have (a GPU) or that
are benchmarks by design (bench/*.py measure for minutes) are syntax-checked instead, and say so.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DATA = ROOT / "tests" / "data" / "runner"
COMMAND_WORDS = {"infrabench", "python", "pytest", "bash", "tox", "pytest-benchmark"}
BIN = Path(sys.executable).parent


def readme_commands(text: str | None = None) -> list[str]:
    """Each command the README shows, once, whitespace inside inline code collapsed."""
    text = README.read_text(encoding="utf-8") if text is None else text
    found: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if fence is not None:
            if fence == "bash" and line.strip():
                found.append(line.strip())
            continue
        if line.startswith("    ") and line.split()[:1] and line.split()[0] in COMMAND_WORDS:
            found.append(line.strip())
            continue
        prose.append(line)
    for span in re.findall(r"`([^`]+)`", "\n".join(prose)):
        words = span.split()
        if words and words[0] in COMMAND_WORDS and (len(words) > 1 or words[0] == "tox"):
            found.append(" ".join(words))
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class Case:
    """How one README command runs here. `argv` is formatted with the fixture's paths ({run}, {tmp}, ...);
    None: checked by `check` instead (named in `why`)."""

    argv: str | None = None
    ok: tuple[int, ...] = (0,)
    slow: bool = False
    check: str | None = None  # a named check for commands that are not run here
    why: str = ""
    cwd_new: bool = False  # run in a fresh folder (commands that write ./infrabench-results or .benchmarks)


INSTALL = "python -m venv .venv && . .venv/bin/activate && pip install -e '.[all]' && "
CPU_INSTALL = ("python -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 --index-url "
               "https://download.pytorch.org/whl/cpu && pip install -e '.[all]' && ")
PLUGIN = ("pytest --infrabench --infrabench-suite matmul --infrabench-backend numpy --benchmark-autosave "
          "--benchmark-save-data")

CASES: dict[str, Case] = {
    # --- set-up: .ci/run and .ci/cpu-route run these verbatim in fresh venvs
    INSTALL + "infrabench run": Case(check="install_blocks",
                                     why="the test command's install; `infrabench run` runs below"),
    INSTALL + "python -m pytest -q": Case(check="install_blocks", why=".ci/run runs it verbatim"),
    CPU_INSTALL + "python -m pytest -q": Case(check="install_blocks", why=".ci/cpu-route runs it verbatim"),
    "python -m pytest -q": Case(check="pytest_meta", why="this test suite itself"),
    'python -m pytest -q -m "not slow"': Case(check="pytest_meta", why="this suite without its slow marker"),
    "python -m pytest -q tests/FILE": Case(check="promise_files", why="each test file the promises name exists"),
    "tox": Case(check="tox_envs", why="the envs the README names are tox.ini's"),
    # --- probe
    "infrabench probe": Case("probe"),
    "infrabench probe --json": Case("probe --json"),
    "infrabench probe -o FILE": Case("probe -o {tmp}/profile.json"),
    "infrabench probe --path DIR": Case("probe --path {tmp}"),
    # --- run (each measures: slow)
    "infrabench run": Case("run", slow=True, cwd_new=True),
    "infrabench run --suite matmul --backend torch --dtype bf16,fp32 --device cpu":
        Case("run --suite matmul --backend torch --dtype bf16,fp32 --device cpu", slow=True, cwd_new=True),
    r"infrabench run --profile standard\|full": Case(check="run_settings", why="minutes of measuring: "
                                                     "parsed and validated as `run` would"),
    "infrabench run --out DIR --config FILE --timeout S --threads N": Case(check="run_settings",
                                                                          why="parsed and validated"),
    "infrabench run --suite dataload --data-dir D [--keep-data]":
        Case("run --suite dataload --backend numpy --data-dir {data}", slow=True, cwd_new=True),
    "infrabench run --out": Case("run --help", why="a mention of the option"),
    "infrabench run -o FILE": Case("run --suite selftest --backend numpy --out {tmp}/o -o {tmp}/run-o.json",
                                   why="the tiny suite stands in for the default suites"),
    "infrabench clean --data-dir D": Case("clean --data-dir {data}"),
    # --- report, baseline, export
    "infrabench report --from-journal RUN_DIR/run.journal.jsonl":
        Case("report --from-journal {copy}/run.journal.jsonl"),
    "infrabench report --from-journal": Case("report --help", why="a mention of the command above"),
    "infrabench report RUN.json [-o FILE.html [--force]]": Case("report {run} -o {tmp}/one.html --force"),
    "infrabench report A.json B.json ... -o FILE.html [--force]": Case("report {a} {b} -o {tmp}/two.html --force"),
    "infrabench baseline list": Case("baseline list"),
    "infrabench baseline show NAME": Case("baseline show nvidia-h100-sxm"),
    r"infrabench baseline save NAME --from RUN.json [--class ai\|it] [--force]":
        Case("baseline save readme --from {run} --class it --force"),
    "infrabench export RUN.json --csv FILE": Case("export {run} --csv {tmp}/run.csv"),
    # --- the gate
    "infrabench compare BASE [BASE ...] NEW": Case("compare {a_dir} {b}", ok=(0, 1)),
    "infrabench compare --estimate-noise FILE RUN RUN ...": Case("compare --estimate-noise {tmp}/noise.json {a} {b}"),
    "infrabench compare": Case("compare --help", why="a mention of the command"),
    "infrabench ab --a PYTHON_A --b PYTHON_B [--rounds K]":
        Case("ab --a {python} --b {python} --suite selftest --backend numpy --out {tmp}/ab", ok=(0, 1), slow=True,
             why="the tiny suite stands in for the default suites so the rounds take seconds"),
    "infrabench ab": Case("ab --help", why="a mention of the command"),
    "infrabench run --suite matmul,memory --out new":
        Case("run --suite matmul,memory --out new", slow=True, cwd_new=True),
    "infrabench compare baseline/ new/*/run.json --markdown gate.md --junit gate.xml --json comparison.json":
        Case("compare baseline/ new/*/run.json --markdown gate.md --junit gate.xml --json comparison.json",
             ok=(0, 1), slow=True, cwd_new=True),
    "infrabench run --suite matmul,memory --out rerun":
        Case("run --suite matmul,memory --out rerun", slow=True, cwd_new=True),
    "infrabench compare baseline/ new/*/run.json --confirm rerun/":
        Case("compare baseline/ new/*/run.json --confirm rerun/", ok=(0, 1), slow=True, cwd_new=True),
    "pytest-benchmark compare --name long run.json": Case("pytest-benchmark compare --name long {run}"),
    # --- pytest-benchmark users
    PLUGIN: Case(PLUGIN, slow=True, cwd_new=True),
    PLUGIN + " --benchmark-compare --benchmark-compare-fail=median:10%":
        Case(PLUGIN + " --benchmark-compare --benchmark-compare-fail=median:10%", ok=(0, 1), slow=True, cwd_new=True,
             why="pytest-benchmark's fixed 10% check may fail on noise (exit 1); a usage error would be 4"),
    "infrabench compare .benchmarks/*/0001_*.json .benchmarks/*/0002_*.json":
        Case("compare .benchmarks/*/0001_*.json .benchmarks/*/0002_*.json", ok=(0, 1), slow=True, cwd_new=True),
    # --- benchmarks and GPU scripts: measuring is their job, so here they are only compiled
    "python bench/gate_calibration.py": Case("python bench/gate_calibration.py --help"),
    "python bench/gate_calibration.py --runs DIR": Case("python bench/gate_calibration.py --help",
                                                         why="a calibration makes and compares many runs"),
    "python bench/gate_calibration.py --write-noise FILE": Case("python bench/gate_calibration.py --help",
                                                                 why="a calibration makes many runs"),
    "python bench/probe_speed.py": Case(check="compiles", why="a benchmark (speed targets live in bench/)"),
    "python bench/matmul_fidelity.py": Case(check="compiles", why="a benchmark"),
    "python bench/memory_ceiling.py": Case(check="compiles", why="a benchmark"),
    "python bench/report_speed.py": Case(check="compiles", why="a benchmark"),
    "bash bench/gpu_check.sh": Case(check="bash_syntax", why="needs an NVIDIA GPU"),
    "bash bench/gpu_train_check.sh": Case(check="bash_syntax", why="needs an NVIDIA GPU"),
}
# The gate recipe and the plugin commands build on the one before them: they run in order, in one folder.
SEQUENCES = [
    ["infrabench run --suite matmul,memory --out new",
     "infrabench compare baseline/ new/*/run.json --markdown gate.md --junit gate.xml --json comparison.json",
     "infrabench run --suite matmul,memory --out rerun",
     "infrabench compare baseline/ new/*/run.json --confirm rerun/"],
    [PLUGIN, PLUGIN + " --benchmark-compare --benchmark-compare-fail=median:10%",
     "infrabench compare .benchmarks/*/0001_*.json .benchmarks/*/0002_*.json"],
]
IN_SEQUENCE = {cmd for seq in SEQUENCES for cmd in seq}


def test_every_readme_command_has_a_case() -> None:
    shown = readme_commands()
    assert len(shown) > 30
    assert [c for c in shown if c not in CASES] == [], "README commands without a case in tests/test_readme.py"
    assert [c for c in CASES if c not in shown] == [], "cases for commands the README no longer shows"


def test_the_extractor_reads_blocks_indented_lines_and_wrapped_inline_code() -> None:
    text = ("intro `infrabench probe\n  --json` and `infrabench/schema/x.json` and `python -c 1`\n\n"
            "```bash\ninfrabench run\n```\n\n    infrabench compare a b\n    [tool.infrabench.gate]\n")
    assert readme_commands(text) == ["infrabench run", "infrabench compare a b", "infrabench probe --json",
                                     "python -c 1"]


# --- the fixture environment ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    """Two real tiny runs and the folders the README's placeholders stand for."""
    tmp = tmp_path_factory.mktemp("readme")
    env = _env(tmp)
    for side in ("a", "b"):
        proc = subprocess.run([str(BIN / "infrabench"), "run", "--suite", "selftest", "--backend", "numpy",
                               "--out", str(tmp / side)], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    a, b = (next((tmp / side).glob("*/run.json")) for side in ("a", "b"))
    copy = tmp / "copy"
    shutil.copytree(a.parent, copy)
    (copy / "run.json").unlink()
    data = tmp / "data"
    data.mkdir()
    (data / "mine.txt").write_text("the user's own file")
    return {"tmp": str(tmp), "run": str(a), "a": str(a), "b": str(b), "a_dir": str(tmp / "a"), "copy": str(copy),
            "data": str(data), "python": sys.executable}


def _env(tmp: Path) -> dict[str, str]:
    env = {**os.environ, "INFRABENCH_EXTRA_SUITES": "selftest=selftest_suite:run_suite",
           "INFRABENCH_BASELINE_DIR": str(tmp / "baselines"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(DATA), os.environ.get("PYTHONPATH")]))}
    env.pop("INFRABENCH_TEST_FAULT", None)
    return env


def _argv(template: str, world: dict[str, str], cwd: Path) -> list[str]:
    words = shlex.split(template.format(**world))
    expanded: list[str] = []
    for word in words:  # the shell's globbing, as the README's reader's shell would do it
        matches = sorted(glob.glob(word, root_dir=cwd)) if any(ch in word for ch in "*?[") else []
        expanded += matches or [word]
    head = expanded[0]
    if head in ("infrabench", "pytest-benchmark"):
        return [str(BIN / head), *expanded[1:]]
    if head == "pytest":
        return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *expanded[1:]]
    if head == "python":
        return [sys.executable, *expanded[1:]]
    return [str(BIN / "infrabench"), *expanded]


def run_case(command: str, world: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    case = CASES[command]
    assert case.argv is not None
    proc = subprocess.run(_argv(case.argv, world, cwd), cwd=cwd if case.cwd_new else ROOT, env=_env(Path(world["tmp"])),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode in case.ok, f"{command!r} -> {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr or command.startswith("pytest"), proc.stderr
    return proc


RUNNABLE = [c for c, case in CASES.items() if case.argv is not None and c not in IN_SEQUENCE]


@pytest.mark.parametrize("command", [pytest.param(c, marks=pytest.mark.slow) if CASES[c].slow else c
                                     for c in RUNNABLE])
def test_readme_command_runs(command: str, world: dict[str, str], tmp_path: Path) -> None:
    if "--backend torch" in command:
        pytest.importorskip("torch")
    proc = run_case(command, world, tmp_path)
    if command == "infrabench run":
        (run_file,) = (tmp_path / "infrabench-results").glob("*/run.json")
        assert (run_file.parent / "report.html").is_file()
    if "--data-dir" in command:
        assert (Path(world["data"]) / "mine.txt").read_text() == "the user's own file"
    if command.startswith("infrabench probe -o"):
        assert (Path(world["tmp"]) / "profile.json").stat().st_size > 0
    if "--json" in command and "probe" in command:
        assert proc.stdout.lstrip().startswith("{")


@pytest.mark.slow
@pytest.mark.parametrize("sequence", SEQUENCES, ids=["gate-recipe", "pytest-benchmark"])
def test_readme_command_sequence_runs_in_order(sequence: list[str], world: dict[str, str], tmp_path: Path) -> None:
    if sequence is SEQUENCES[0]:  # the recipe's base runs: a folder of earlier runs of the same suites
        run_case("infrabench run --suite matmul,memory --out new", world, tmp_path)
        (tmp_path / "new").rename(tmp_path / "baseline")
    for command in sequence:
        run_case(command, world, tmp_path)
    if sequence is SEQUENCES[0]:
        assert all((tmp_path / f).is_file() for f in ("gate.md", "gate.xml", "comparison.json"))


# --- commands checked without running them -------------------------------------------------------------

def test_install_blocks_are_what_the_ci_scripts_run() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    cpu = (ROOT / ".ci" / "cpu-route").read_text()
    assert "readme_command ci:test-command" in ci and "readme_command ci:cpu-test-command" in cpu
    text = README.read_text()
    for marker, command in (("ci:test-command", INSTALL + "python -m pytest -q"),
                            ("ci:cpu-test-command", CPU_INSTALL + "python -m pytest -q")):
        after = text.split(f"<!-- {marker} -->", 1)[1]
        assert after.lstrip().startswith(f"```bash\n{command}\n```")
    assert "pip install torch" not in ci.replace("# ", "")  # nothing installed before the README's command


def test_run_settings_commands_parse_and_validate(tmp_path: Path) -> None:
    from infrabench.cli import _parser
    from infrabench.run_command import resolve_settings

    config = tmp_path / "infrabench.toml"
    config.write_text('[run]\nsuite = ["matmul"]\n')
    for argv in (["run", "--profile", "standard"], ["run", "--profile", "full"],
                 ["run", "--out", str(tmp_path / "out"), "--config", str(config), "--timeout", "60", "--threads", "2"]):
        settings = resolve_settings(_parser().parse_args(argv))
        assert settings.config.profile in ("quick", "standard", "full")
    assert settings.config.suites == ["matmul"] and settings.config.threads == 2


def test_promise_files_exist() -> None:
    text = README.read_text()
    promises = text.split("## What infrabench promises when things go wrong", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(test_\w+\.py)`", promises))
    assert named and [n for n in sorted(named) if not (ROOT / "tests" / n).is_file()] == []


def test_tox_envs_are_the_ones_named() -> None:
    envlist = re.search(r"^envlist\s*=\s*(.+)$", (ROOT / "tox.ini").read_text(), re.M)
    assert envlist and [e.strip() for e in envlist.group(1).split(",")] == ["numpy", "torch", "jax", "all", "lint"]
    named = re.search(r"runs the test command in envs (.+?)\. ", " ".join(README.read_text().split()))
    assert named and re.findall(r"`(\w+)`", named.group(1)) == ["numpy", "torch", "jax", "all", "lint"]


def test_slow_marker_is_declared() -> None:
    assert '"slow:' in (ROOT / "pyproject.toml").read_text()


def test_benchmarks_compile_and_gpu_scripts_parse() -> None:
    for name in ("probe_speed", "matmul_fidelity", "memory_ceiling", "report_speed", "gate_calibration"):
        compile((ROOT / "bench" / f"{name}.py").read_text(), name, "exec")
    for name in ("gpu_check.sh", "gpu_train_check.sh"):
        proc = subprocess.run(["bash", "-n", str(ROOT / "bench" / name)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_each_unrun_case_names_its_check() -> None:
    checks = {"install_blocks", "pytest_meta", "promise_files", "tox_envs", "run_settings", "compiles", "bash_syntax"}
    for command, case in CASES.items():
        assert (case.argv is None) == (case.check is not None), command
        assert case.check is None or (case.check in checks and case.why), command
