"""Files the CLI writes and reads, and the library's table of runs.

`infrabench.load()` reads run folders as `compare` does and has typed columns (nullable Int64 rounds, one
`param_<name>` column per parameter, the training suite's TFLOP/s and MFU); `run -o/--json FILE` writes the
run file exactly at FILE; `baseline save` and `report -o FILE` never replace a file without --force; output
cut off by `| head` ends quietly; --debug is accepted before and after every subcommand.

The runs use the tiny suite of tests/data/runner (real numpy matmuls), so nothing here depends on the real
suites' sizes or this machine's speed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

import infrabench
from infrabench.errors import UsageError
from infrabench.results import Run, TrainFigures

RUNS = Path(__file__).parent / "data" / "runs"
ALL_SUITES = RUNS / "quick_all_suites_0.1.0.json"
CPU_SAMPLE = RUNS / "quick_cpu_sample.json"
RUNNER = Path(__file__).parent / "data" / "runner"


def one_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


# --- infrabench.load --------------------------------------------------------------------------------

def test_load_reads_run_folders_as_compare_does(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    n = len(Run.load(CPU_SAMPLE).benchmarks)
    one_run = tmp_path / "one"  # a run's folder: DIR/run.json
    one_run.mkdir()
    shutil.copy(CPU_SAMPLE, one_run / "run.json")
    out_dir = tmp_path / "results"  # an `infrabench run --out DIR` folder: DIR/*/run.json
    for run_id in ("a", "b"):
        (out_dir / run_id).mkdir(parents=True)
        shutil.copy(CPU_SAMPLE, out_dir / run_id / "run.json")
    loose = tmp_path / "loose"  # else DIR/*.json
    loose.mkdir()
    shutil.copy(CPU_SAMPLE, loose / "x.json")

    assert list(infrabench.load(one_run).run_file.unique()) == [str(one_run / "run.json")]
    assert list(infrabench.load(out_dir).run_file.unique()) == [str(out_dir / r / "run.json") for r in "ab"]
    assert len(infrabench.load(out_dir)) == 2 * n
    df = infrabench.load([loose, CPU_SAMPLE])
    assert list(df.run_file.unique()) == [str(loose / "x.json"), str(CPU_SAMPLE)] and len(df) == 2 * n
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="a folder with no run files"):
        infrabench.load(empty)


def test_load_has_integer_rounds_parameter_columns_and_training_figures() -> None:
    pd = pytest.importorskip("pandas")
    run = Run.load(ALL_SUITES)
    df = infrabench.load(ALL_SUITES)
    assert len(df) == len(run.benchmarks)
    assert str(df["rounds"].dtype) == "Int64"
    for (_, row), b in zip(df.iterrows(), run.benchmarks, strict=True):
        assert row.fullname == b.fullname
        if b.stats is None:
            assert pd.isna(row["rounds"])
        else:
            assert row["rounds"] == b.stats.rounds
        for name, value in b.params.items():
            assert row[f"param_{name}"] == value
    params = {name for b in run.benchmarks for name in b.params}
    assert {f"param_{name}" for name in params} <= set(df.columns)
    assert str(df["param_m"].dtype) == "Int64" and str(df["param_batch"].dtype) == "Int64"
    assert df[df.benchmark == "square"]["param_m"].notna().all()
    assert df[df.suite == "memory"]["param_m"].isna().all()  # a parameter a benchmark has not is <NA>
    assert "dtype" in df.columns and "param_dtype" not in df.columns  # prefixed: no clash with fixed columns

    train = [b for b in run.benchmarks if b.suite == "train" and b.status == "ok"]
    assert train
    rows = df[(df.suite == "train") & (df.status == "ok")]
    for (_, row), b in zip(rows.iterrows(), train, strict=True):
        assert isinstance(b.figures, TrainFigures)
        assert row.train_tflops == pytest.approx(b.figures.achieved_tflops)
        assert row.train_mfu_pct == pytest.approx(b.figures.mfu_pct_of_peak)
    assert df[df.suite != "train"][["train_tflops", "train_mfu_pct"]].isna().all().all()


def test_export_csv_has_the_same_columns(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    proc = run_cli("export", str(ALL_SUITES), "--csv", str(out))
    assert proc.returncode == 0, proc.stderr
    header = out.read_text().splitlines()[0].split(",")
    assert {"rounds", "train_tflops", "train_mfu_pct", "param_m", "param_batch"} <= set(header)


# --- run -o/--json FILE -------------------------------------------------------------------------------

@pytest.fixture
def selftest(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("INFRABENCH_EXTRA_SUITES", "selftest=selftest_suite:run_suite")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(RUNNER), os.environ.get("PYTHONPATH")])))
    monkeypatch.delenv("INFRABENCH_TEST_FAULT", raising=False)
    return monkeypatch


TINY = ("run", "--suite", "selftest", "--backend", "numpy")


@pytest.mark.parametrize("flag", ["-o", "--json"])
def test_run_json_writes_the_run_file_exactly_there_and_keeps_the_run_folder(selftest, tmp_path: Path,
                                                                             flag: str) -> None:
    target = tmp_path / "ci.json"
    target.write_text("an older run file")  # replaced, as pytest-benchmark's --benchmark-json replaces it
    proc = run_cli(*TINY, "--out", str(tmp_path / "out"), flag, str(target))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = (tmp_path / "out").iterdir()
    assert target.read_bytes() == (run_dir / "run.json").read_bytes()
    assert Run.load(target).run_id == run_dir.name
    assert {"run.journal.jsonl", "report.html", "worker-numpy.log"} <= {p.name for p in run_dir.iterdir()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ci.json", "out"]  # no temporary file left


def test_run_json_from_the_config_file_is_relative_to_it(selftest, tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "infrabench.toml").write_text('[run]\nout = "results"\njson = "ci.json"\n')
    proc = run_cli(*TINY, "--config", str(conf / "infrabench.toml"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_file,) = (conf / "results").glob("*/run.json")
    assert (conf / "ci.json").read_bytes() == run_file.read_bytes()


@pytest.mark.parametrize(("where", "message"), [("dir", "is a directory"), ("missing/ci.json", "does not exist")])
def test_run_json_bad_path_is_refused_before_the_run(selftest, tmp_path: Path, where: str, message: str) -> None:
    (tmp_path / "dir").mkdir()
    proc = run_cli(*TINY, "--out", str(tmp_path / "out"), "-o", str(tmp_path / where))
    assert proc.returncode == 2
    line = one_line(proc)
    assert f"--json {tmp_path / where}" in line and message in line
    assert not (tmp_path / "out").exists()  # refused up front: nothing ran, nothing was written


# --- no silent overwrite --------------------------------------------------------------------------------

def test_baseline_save_refuses_to_replace_a_baseline_without_force(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFRABENCH_BASELINE_DIR", str(tmp_path))
    save = ("baseline", "save", "mine", "--from", str(CPU_SAMPLE))
    assert run_cli(*save).returncode == 0
    saved = (tmp_path / "mine.json").read_bytes()
    proc = run_cli(*save, "--class", "ai")
    assert proc.returncode == 2
    line = one_line(proc)
    assert str(tmp_path / "mine.json") in line and "--force" in line
    assert (tmp_path / "mine.json").read_bytes() == saved
    proc = run_cli(*save, "--class", "ai", "--force")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "mine.json").read_text())["class"] == "ai"


def test_report_output_refuses_an_existing_file_without_force(tmp_path: Path) -> None:
    run_file = tmp_path / "run.json"
    shutil.copy(CPU_SAMPLE, run_file)
    mine = tmp_path / "mine.html"
    mine.write_text("the user's own page")
    proc = run_cli("report", str(run_file), "-o", str(mine))
    assert proc.returncode == 2
    line = one_line(proc)
    assert str(mine) in line and "--force" in line
    assert mine.read_text() == "the user's own page"
    proc = run_cli("report", str(run_file), "-o", str(mine), "--force")
    assert proc.returncode == 0, proc.stderr
    assert mine.read_text().startswith("<!")
    # the default output beside the run file is infrabench's own report of it: a re-render replaces it
    for _ in range(2):
        proc = run_cli("report", str(run_file))
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "report.html").is_file()


# --- output cut off by its reader ------------------------------------------------------------------------

PIPED = [("probe",), ("baseline", "list"), ("compare", str(CPU_SAMPLE), str(CPU_SAMPLE))]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "infrabench.cli", *args]


@pytest.mark.parametrize("args", PIPED, ids=lambda a: a[0])
def test_output_piped_to_head_ends_quietly(args: tuple[str, ...]) -> None:
    """`infrabench ... | head -1`: the reader takes one line and goes. Whether the rest still fit in the pipe
    (exit 0) or met the closed end (exit 1) depends on timing; either way no traceback, nothing on stderr."""
    proc = subprocess.Popen(_cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) in (0, 1)
    assert err == ""


@pytest.mark.parametrize("args", PIPED, ids=lambda a: a[0])
def test_output_to_a_reader_that_has_gone_is_exit_1_quietly(args: tuple[str, ...]) -> None:
    """The reader has gone before the first write, so the broken pipe is certain: exit 1 (as Python's
    documented pattern and rich's consoles end), never 0, which would let a cut-off compare pass a gate."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(_cli(*args), stdout=write_end, stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 1 and proc.stderr.decode() == ""


def test_a_broken_pipe_that_is_not_stdout_is_a_harness_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from infrabench import cli

    def broken(_args: argparse.Namespace) -> int:
        raise BrokenPipeError(32, "Broken pipe")  # e.g. writing to a worker that died

    monkeypatch.setattr(cli, "_cmd_clean", broken)
    assert cli.main(["clean", "--data-dir", "."]) == 2
    assert "BrokenPipeError" in capsys.readouterr().err


# --- --debug before and after the subcommand ---------------------------------------------------------

def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:  # noqa: SLF001 - argparse keeps subcommands only here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in _subparsers(sub).items()})
    return found


def test_every_subcommand_takes_debug_without_resetting_the_main_flag() -> None:
    from infrabench.cli import _parser

    commands = _subparsers(_parser())
    assert {"probe", "run", "report", "baseline", "baseline list", "baseline save", "export", "compare", "clean",
            "ab"} <= set(commands)
    for name, sub in commands.items():
        debug = sub._option_string_actions.get("--debug")  # noqa: SLF001
        assert debug is not None and debug.default is argparse.SUPPRESS, name
    parse = _parser().parse_args
    assert parse(["compare", "--debug", "a", "b"]).debug is True
    assert parse(["--debug", "compare", "a", "b"]).debug is True
    assert parse(["compare", "a", "b"]).debug is False
    assert parse(["--debug", "baseline", "list"]).debug is True
    assert parse(["baseline", "list", "--debug"]).debug is True
    assert parse(["run", "--debug"]).debug is True


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback_wherever_it_is_given(tmp_path: Path, where: str) -> None:
    missing = str(tmp_path / "missing.json")
    args = ["--debug", "compare", missing, missing] if where == "before" else ["compare", "--debug", missing, missing]
    proc = run_cli(*args)
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "no such run file" in proc.stderr
    assert "unrecognized arguments" not in proc.stderr
    proc = run_cli("compare", missing, missing)
    assert proc.returncode == 2 and "no such run file" in one_line(proc)


def test_a_run_whose_reader_has_gone_still_writes_its_files_and_exits_1(tmp_path: Path) -> None:
    """`infrabench run | head`: the run's output goes nowhere, yet the run finishes, run.json and the report
    are written, and the exit is 1 (not 0: nobody read the summary), with nothing on stderr."""
    env = {**os.environ, "INFRABENCH_EXTRA_SUITES": "selftest=selftest_suite:run_suite",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent / "data" / "runner"),
                                                       os.environ.get("PYTHONPATH")]))}
    env.pop("INFRABENCH_TEST_FAULT", None)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(_cli("run", "--suite", "selftest", "--backend", "numpy", "--out", str(tmp_path)),
                              stdout=write_end, stderr=subprocess.PIPE, timeout=300, env=env)
    finally:
        os.close(write_end)
    assert proc.returncode == 1, proc.stderr.decode()
    assert proc.stderr.decode() == ""
    (run_file,) = tmp_path.glob("*/run.json")
    assert (run_file.parent / "report.html").is_file()
    assert [b.status for b in Run.load(run_file).benchmarks] == ["ok", "ok"]


def test_report_never_writes_over_its_own_run_file(tmp_path: Path) -> None:
    run_file = tmp_path / "run.json"
    shutil.copy(CPU_SAMPLE, run_file)
    before = run_file.read_bytes()
    proc = run_cli("report", str(run_file), "-o", str(run_file), "--force")
    assert proc.returncode == 2 and "is the run file" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and run_file.read_bytes() == before
