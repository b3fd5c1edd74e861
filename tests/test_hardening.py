"""Bad input, hostile strings and unlucky machines: one clear line and exit 2, inert text in every output,
nothing half-written, nothing deleted that infrabench did not create."""

from __future__ import annotations

import copy
import errno
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import run_cli
from infrabench.suites.dataload import rundata
from test_runner import hook_env

from infrabench.cli import main
from infrabench.files import write_atomic

RUNS = Path(__file__).parent / "data" / "runs"
SAMPLE = RUNS / "quick_cpu_sample.json"


def sample() -> dict:
    return json.loads(SAMPLE.read_text())


def renamed(data: dict, index: int, suite: str) -> dict:
    """The run with benchmark `index` given a hostile suite name (the part of the fullname before the first /)."""
    out = copy.deepcopy(data)
    entry = out["benchmarks"][index]
    rest = entry["fullname"].split("/", 1)[1]
    entry["fullname"] = f"{suite}/{rest}"
    return out


def one_line_exit_2(proc) -> None:
    assert proc.returncode == 2, (proc.stdout[-500:], proc.stderr)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr


# --- 1. the data directory ------------------------------------------------------------------------------

def test_data_dir_cleanup_removes_only_what_the_run_created(tmp_path: Path) -> None:
    d = tmp_path / "D"
    d.mkdir()
    (d / "before.txt").write_text("mine")
    data = rundata.prepare(d, keep=False, run_dir=tmp_path / "run")
    assert data.path == d / rundata.OWNED_DIR and data.path.is_dir()
    (data.path / "npy").mkdir()
    (data.path / "npy" / "shard0.npy").write_bytes(b"x" * 10)  # what the suite makes
    (d / "during.txt").write_text("another process")  # what others make meanwhile
    data.cleanup()
    assert sorted(p.name for p in d.iterdir()) == ["before.txt", "during.txt"]


def test_data_left_by_a_dead_run_is_removed_by_the_next_and_kept_data_stays(tmp_path: Path) -> None:
    d = tmp_path / "D"
    first = rundata.prepare(d, keep=False, run_dir=tmp_path / "run")
    (first.path / "stale.npy").write_bytes(b"x")
    marker = json.loads((first.path / rundata.MARKER).read_text())
    marker["pid"] = 2**22 + 12345  # a process that does not exist: the run died without cleaning up
    (first.path / rundata.MARKER).write_text(json.dumps(marker))
    second = rundata.prepare(d, keep=False, run_dir=tmp_path / "run")
    assert not (second.path / "stale.npy").exists() and second.created
    second.cleanup()
    kept = rundata.prepare(d, keep=True, run_dir=tmp_path / "run")
    (kept.path / "reuse.npy").write_bytes(b"x")
    kept.cleanup()
    again = rundata.prepare(d, keep=False, run_dir=tmp_path / "run")
    (again.path / "new.npy").write_bytes(b"x")
    again.cleanup()
    assert sorted(p.name for p in again.path.iterdir()) == [rundata.MARKER, "reuse.npy"]


def test_a_folder_of_that_name_that_infrabench_did_not_make_is_never_used(tmp_path: Path) -> None:
    d = tmp_path / "D"
    (d / rundata.OWNED_DIR).mkdir(parents=True)
    (d / rundata.OWNED_DIR / "theirs.txt").write_text("not ours")
    with pytest.raises(OSError, match="not made by infrabench"):
        rundata.prepare(d, keep=False, run_dir=tmp_path / "run")
    assert (d / rundata.OWNED_DIR / "theirs.txt").exists()


# --- 3. numeric options -----------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["--timeout", "inf"], ["--timeout", "1e400"], ["--timeout", "nan"],
                                  ["--threads", "99999999999999999"], ["--threads", "0"]])
def test_out_of_range_numbers_are_refused_before_anything_runs(tmp_path: Path, args: list[str]) -> None:
    proc = run_cli("run", "--suite", "matmul", "--backend", "numpy", "--out", str(tmp_path / "o"), *args)
    one_line_exit_2(proc)
    assert args[0] in proc.stderr and not (tmp_path / "o").exists()


def test_an_infinite_timeout_in_the_config_file_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "infrabench.toml"
    cfg.write_text("[run]\ntimeout = inf\n")
    proc = run_cli("run", "--config", str(cfg), "--out", str(tmp_path / "o"))
    one_line_exit_2(proc)
    assert "--timeout inf" in proc.stderr


# --- 4. atomic outputs --------------------------------------------------------------------------------------

def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out.json"
    write_atomic(target, {"old": 1})

    def full_disk(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError):
        write_atomic(target, {"new": 2})
    assert json.loads(target.read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


@pytest.mark.parametrize("argv", [
    ["export", str(SAMPLE), "--csv", "{out}/x.csv"],
    ["compare", str(SAMPLE), str(SAMPLE), "--json", "{out}/c.json", "--markdown", "{out}/c.md"],
    ["baseline", "save", "mine", "--from", str(SAMPLE)],
])
def test_every_output_is_atomic_on_a_full_disk(tmp_path: Path, monkeypatch, capsys, argv: list[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("INFRABENCH_BASELINE_DIR", str(out))

    def full_disk(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    code = main([a.replace("{out}", str(out)) for a in argv])
    assert code == 2
    assert list(out.iterdir()) == []  # no file at all: neither a partial one nor a temporary
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


# --- 5. a full disk after measuring -------------------------------------------------------------------------

@pytest.mark.slow
def test_a_run_file_that_cannot_be_written_says_how_to_rebuild_it(tmp_path: Path, monkeypatch, capsys) -> None:
    import infrabench
    from infrabench.errors import UsageError
    from infrabench.results import Run

    def no_space(self, path):  # noqa: ANN001, ANN202
        raise OSError(errno.ENOSPC, "No space left on device")

    for key, value in hook_env().items():  # the runner tests' tiny suite: real numpy matmuls, a second or so
        if key in ("INFRABENCH_EXTRA_SUITES", "PYTHONPATH"):
            monkeypatch.setenv(key, value)
    monkeypatch.setattr(Run, "write", no_space)
    with pytest.raises(UsageError) as err:
        infrabench.run(suites=["selftest"], backends=["numpy"], out=tmp_path / "r")
    message = str(err.value)
    (journal,) = (tmp_path / "r").glob("*/run.journal.jsonl")
    assert "No space left on device" in message and str(journal) in message and "--from-journal" in message
    monkeypatch.undo()
    assert main(["report", "--from-journal", str(journal)]) == 0
    rebuilt = Run.load(journal.parent / "run.json")
    assert rebuilt.timed and all(b.throughput is not None for b in rebuilt.timed)
    assert (journal.parent / "report.html").is_file()


# --- 6, 7, 8. control characters in XML, Markdown and the terminal ------------------------------------------

def test_hostile_names_are_inert_in_junit_markdown_and_the_terminal(tmp_path: Path) -> None:
    base = sample()
    hostile = "ma\x00t\x1b[31mm\x0bul\u202e\nx"
    new = renamed(base, 0, hostile)
    base_path, new_path = tmp_path / "base.json", tmp_path / "new.json"
    base_path.write_text(json.dumps(renamed(base, 0, hostile)))
    new_path.write_text(json.dumps(new))
    junit, md = tmp_path / "g.xml", tmp_path / "g.md"
    proc = run_cli("compare", str(base_path), str(new_path), "--junit", str(junit), "--markdown", str(md))
    assert proc.returncode in (0, 1), proc.stderr
    root = ET.parse(junit).getroot()  # well-formed XML whatever the names held
    names = [case.get("name") for case in root.iter("testcase")]
    assert any("<U+0000>" in n and "<U+001B>" in n for n in names)
    assert "\x1b" not in proc.stdout and "\u202e" not in proc.stdout
    text = md.read_text(encoding="utf-8")
    assert "\x00" not in text and "\x1b" not in text and "\u202e" not in text
    for line in text.splitlines():  # a newline in a name never breaks a table row in two
        if line.startswith("| ") and "U+0000" in line:
            assert line.endswith("|")


# --- 9. config types ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("line, key", [('strict = "false"', "strict"), ('allow_different_machines = "no"',
                                       "allow_different_machines"), ('alpha = "x"', "alpha"), ("noise = 3", "noise")])
def test_gate_config_values_of_the_wrong_type_are_named(tmp_path: Path, line: str, key: str) -> None:
    cfg = tmp_path / "infrabench.toml"
    cfg.write_text(f"[gate]\n{line}\n")
    proc = run_cli("compare", str(SAMPLE), str(SAMPLE), "--config", str(cfg))
    one_line_exit_2(proc)
    assert str(cfg) in proc.stderr and key in proc.stderr and "must be" in proc.stderr


# --- 13. non-regular input files ---------------------------------------------------------------------------------

def test_a_fifo_given_as_an_input_file_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "run.json"
    os.mkfifo(fifo)
    for args in (["report", str(fifo)], ["compare", str(fifo), str(SAMPLE)], ["export", str(fifo), "--csv",
                                                                              str(tmp_path / "x.csv")]):
        proc = run_cli(*args, timeout=30)
        one_line_exit_2(proc)
        assert "not a regular file" in proc.stderr


# --- 14. NaN and infinity --------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["sample", "throughput"])
def test_non_finite_numbers_in_a_run_file_are_refused_with_their_path(tmp_path: Path, where: str) -> None:
    data = sample()
    if where == "sample":
        data["benchmarks"][3]["stats"]["data"][1] = float("nan")
    else:
        data["benchmarks"][3]["extra_info"]["infrabench"]["throughput"]["value"] = float("inf")
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))  # json writes NaN / Infinity literals
    for args in (["report", str(path)], ["compare", str(SAMPLE), str(path)], ["export", str(path), "--csv",
                                                                             str(tmp_path / "x.csv")]):
        proc = run_cli(*args)
        one_line_exit_2(proc)
        assert "benchmarks[3]" in proc.stderr and "NaN or an infinite number" in proc.stderr


# --- 15. bidirectional overrides in HTML ----------------------------------------------------------------------

def test_bidi_overrides_and_nuls_never_reach_the_html(tmp_path: Path) -> None:
    data = renamed(sample(), 0, "evil\u202etxt.exe\x00")
    data["machine_info"]["infrabench"]["cpu"]["model_name"] = "CPU \u202e\u2066 x"
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    assert main(["report", str(path), "-o", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "\u202e" not in html and "\u2066" not in html and "\x00" not in html
    assert "&lt;U+202E&gt;" in html


# --- 16. CSV formula injection ----------------------------------------------------------------------------------

def test_csv_cells_that_a_spreadsheet_would_run_are_prefixed(tmp_path: Path) -> None:
    data = renamed(sample(), 0, "=HYPERLINK(1)")
    path, out = tmp_path / "run.json", tmp_path / "x.csv"
    path.write_text(json.dumps(data))
    assert main(["export", str(path), "--csv", str(out)]) == 0
    import csv

    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert any(r["fullname"] == "'=HYPERLINK(1)/" + data["benchmarks"][0]["fullname"].split("/", 1)[1] for r in rows)
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values() if v)


# --- 11. a terminal that cannot encode UTF-8 ---------------------------------------------------------------

@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0",
                                                                  "PYTHONIOENCODING": ""}])
def test_a_non_utf8_terminal_degrades_instead_of_crashing(tmp_path: Path, env: dict[str, str]) -> None:
    import subprocess
    import sys

    hostile = renamed(sample(), 0, "matmul→é")
    path, md = tmp_path / "run.json", tmp_path / "gate.md"
    path.write_text(json.dumps(hostile), encoding="utf-8")
    full_env = {**os.environ, **env}
    commands = [["compare", str(path), str(path), "--markdown", str(md)]]
    if env.get("PYTHONIOENCODING") == "ascii":
        commands.append(["probe"])  # the probe prints the machine's own strings; once is enough
    for args in commands:
        proc = subprocess.run([sys.executable, "-m", "infrabench.cli", *args], capture_output=True, timeout=120,
                              env=full_env)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-800:]
    assert "matmul→é" in md.read_text(encoding="utf-8")  # files are UTF-8 whatever the terminal


# --- 10. signals outside the run phase ------------------------------------------------------------------------

def test_sigterm_during_the_probe_is_exit_130_with_a_line() -> None:
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "infrabench.cli", "probe"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # past start-up, inside the probe (which takes over a second here)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the probe finished before the signal arrived")
    assert proc.returncode == 130 and "interrupted by SIGTERM" in err and "Traceback" not in err, err


# --- 17. a garbled /proc/diskstats ------------------------------------------------------------------------------

def test_a_garbled_diskstats_is_read_tolerantly(tmp_path: Path, monkeypatch) -> None:
    from infrabench.suites.dataload import storage

    fake = tmp_path / "diskstats"
    fake.write_text(" 253 0 vda 100 0 4096 20 0 0 0 0 0 0 0\n"
                    "garbage line \x00\xff\n"
                    " x y vdb 1 2\n"
                    " 253 16 vdc 1 0 notanumber 0\n")
    monkeypatch.setattr(storage, "DISKSTATS", fake)
    assert storage.BlockDevice("vda").sectors_read() == 4096
    assert storage.BlockDevice("vdc").sectors_read() is None  # its sectors could not be read: not proven
    assert storage.BlockDevice("nope").sectors_read() is None


# --- 12. clear one-line errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, text, words", [
    ("pyproject.toml", 'tool = "x"\n', "[tool] must be a table"),
    ("pyproject.toml", '[tool]\ninfrabench = 3\n', "[tool.infrabench] must be a table"),
    ("infrabench.toml", 'run = "fast"\n', "[run] must be a table"),
    ("infrabench.toml", "[run]\na = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
])
def test_config_sections_of_the_wrong_shape_are_named(tmp_path: Path, name: str, text: str, words: str) -> None:
    cfg = tmp_path / name
    cfg.write_text(text)
    proc = run_cli("run", "--config", str(cfg), "--out", str(tmp_path / "o"))
    one_line_exit_2(proc)
    assert str(cfg) in proc.stderr and words in proc.stderr


def test_an_output_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    proc = run_cli("report", str(SAMPLE), "-o", "/sys/infrabench-report.html")  # sysfs refuses new files
    one_line_exit_2(proc)
    assert "/sys/infrabench-report.html" in proc.stderr and "cannot write" in proc.stderr


def test_deeply_nested_json_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100000 + "]" * 100000)
    proc = run_cli("report", str(path))
    one_line_exit_2(proc)
    assert str(path) in proc.stderr


def test_clean_removes_what_a_dead_run_left_and_nothing_else(tmp_path: Path, capsys) -> None:
    d = tmp_path / "D"
    left = rundata.prepare(d, keep=False, run_dir=tmp_path / "run")
    (left.path / "big.npy").write_bytes(b"x")
    (d / "theirs.txt").write_text("x")
    assert main(["clean", "--data-dir", str(d)]) == 0 and left.path.exists()  # its run (this process) is alive
    marker = json.loads((left.path / rundata.MARKER).read_text())
    (left.path / rundata.MARKER).write_text(json.dumps({**marker, "pid": 2**22 + 54321}))
    assert main(["clean", "--data-dir", str(d)]) == 0
    assert not left.path.exists() and (d / "theirs.txt").exists()
    assert "removed" in capsys.readouterr().out


def test_terminal_output_of_a_user_baseline_shows_control_characters(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("INFRABENCH_BASELINE_DIR", str(tmp_path))
    (tmp_path / "evil.json").write_text(json.dumps({
        "format": "infrabench-baseline", "name": "evil", "class": "it", "description": "red \x1b[31m text \u202e",
        "figures": {"memory_gbs": {"value": 1, "unit": "GB/s", "note": "\x1b]0;title\x07",
                                   "provenance": {"kind": "datasheet", "source": "s\x1b[2J"}}}}))
    assert main(["baseline", "show", "evil"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "<U+001B>" in out


def test_probe_output_file_is_atomic(tmp_path: Path, monkeypatch, capsys) -> None:
    def full_disk(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    assert main(["probe", "-o", str(tmp_path / "p.json")]) == 2
    assert list(tmp_path.iterdir()) == []
    err = capsys.readouterr().err
    assert "cannot write" in err and err.count("\n") == 1


def test_a_noise_profile_with_an_absurd_run_count_is_refused(tmp_path: Path) -> None:
    noise = tmp_path / "noise.json"
    for runs in (10**18, -3, 1.5):
        noise.write_text(json.dumps({"format": "infrabench-noise", "version": 1,
                                     "benchmarks": {"a/b[]/numpy/cpu/fp64": {"log_sd": 0.1, "runs": runs}}}))
        proc = run_cli("compare", str(SAMPLE), str(SAMPLE), "--noise", str(noise))
        one_line_exit_2(proc)
        assert "runs must be an integer from 2 to" in proc.stderr


def test_markdown_puts_no_input_text_in_code_spans(tmp_path: Path) -> None:
    """Inside a code span Markdown shows backslash escapes literally: input-derived names stay out of them."""
    data = sample()
    data["infrabench"]["run_id"] = "we`ird_name*"  # the run's label in the Markdown
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    md = tmp_path / "g.md"
    proc = run_cli("compare", str(path), str(path), "--markdown", str(md))
    assert proc.returncode == 0, proc.stderr
    text = md.read_text(encoding="utf-8")
    assert "`" not in text.replace("\\`", "") and "we\\`ird\\_name\\*" in text
