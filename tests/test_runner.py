"""The runner: one real worker process per backend; crashes, kills, hangs and interruptions become results.

A tiny suite (tests/data/runner/selftest_suite.py, real numpy matmuls) is registered through the
INFRABENCH_EXTRA_SUITES hook and faults are injected through INFRABENCH_TEST_FAULT, so these tests do
not depend on the real suites' sizes or timing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import requires_jax, requires_torch, run_cli
from infrabench.suites.journal import read_results
from infrabench.suites.options import SuiteOptions
from infrabench.suites.runner import RunConfig, run
from infrabench.suites.worker import run_worker

from infrabench.results import Run


def load_run(path) -> dict:
    return Run.load(path).to_dict()

DATA = Path(__file__).parent / "data" / "runner"
EXTRA = "selftest=selftest_suite:run_suite,selftest_b=selftest_suite:run_suite_b"
SUITES = ["selftest", "selftest_b"]
PROFILE = {"cpu": {"model_name": "test", "peaks": []}, "accelerators": [], "software": {"env": {}}}


def hook_env(fault: str | None = None) -> dict[str, str]:
    env = {**os.environ, "INFRABENCH_EXTRA_SUITES": EXTRA,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(DATA), os.environ.get("PYTHONPATH")]))}
    env.pop("INFRABENCH_TEST_FAULT", None)
    if fault:
        env["INFRABENCH_TEST_FAULT"] = fault
    return env


@pytest.fixture
def hooks(monkeypatch):
    """Set the hooks in this process's environment (the runner passes it to its workers)."""
    def apply(fault: str | None = None) -> None:
        env = hook_env(fault)
        for key in ("INFRABENCH_EXTRA_SUITES", "PYTHONPATH", "INFRABENCH_TEST_FAULT"):
            if key in env:
                monkeypatch.setenv(key, env[key])
            else:
                monkeypatch.delenv(key, raising=False)
    monkeypatch.syspath_prepend(str(DATA))
    return apply


def by_backend(results) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for r in results:
        grouped.setdefault(r.backend, []).append(r)
    return grouped


@pytest.mark.slow
@requires_torch
@requires_jax
def test_a_crashing_backend_keeps_its_result_and_the_others_complete(hooks, tmp_path) -> None:
    hooks("torch:abort")
    events = []
    journal = tmp_path / "run.journal.jsonl"
    outcome = run(RunConfig(SUITES, timeout_s=120), PROFILE, journal, events.append)
    got = by_backend(outcome.results)
    assert [(r.name, r.status) for r in got["numpy"]] == [("square", "ok")] * 3
    assert [(r.name, r.status) for r in got["jax"]] == [("square", "ok")] * 3
    torch_results = got["torch"]
    assert [(r.suite, r.name, r.status) for r in torch_results] == [
        ("selftest", "square", "ok"), ("selftest", "backend", "failed"), ("selftest_b", "backend", "skipped")]
    assert torch_results[0].samples_s and torch_results[0].params == {"n": 16}
    crash = torch_results[1].reason
    assert "worker crashed: SIGABRT" in crash and "during suite selftest" in crash and "Aborted" in crash
    assert "not run" in torch_results[2].reason
    assert {k: v.status for k, v in outcome.backends.items()} == {"numpy": "ok", "torch": "failed", "jax": "ok"}
    assert outcome.interrupted is False
    assert [r.fullname for r in read_results(journal)] == [r.fullname for r in outcome.results]
    assert sum(e.kind == "result" for e in events) == len(outcome.results)
    assert [e.backend for e in events if e.kind == "backend_end"] == ["numpy", "torch", "jax"]
    assert "Fatal Python error" in (tmp_path / "worker-torch.log").read_text()
    assert (tmp_path / "machine_profile.json").exists()


@pytest.mark.slow
@requires_torch
def test_a_hanging_backend_times_out_and_the_run_goes_on(hooks, tmp_path) -> None:
    hooks("numpy:hang")
    timeout_s = 8.0
    outcome = run(RunConfig(SUITES, backends=["numpy", "torch"], timeout_s=timeout_s), PROFILE,
                  tmp_path / "run.journal.jsonl")
    numpy_outcome = outcome.backends["numpy"]
    assert numpy_outcome.status == "timeout"
    assert timeout_s <= numpy_outcome.duration_s < timeout_s + 5  # killed promptly, SIGTERM grace included
    got = by_backend(outcome.results)
    assert [(r.name, r.status) for r in got["numpy"]] == [("square", "ok"), ("backend", "timeout"),
                                                           ("backend", "skipped")]
    assert "8 s" in got["numpy"][1].reason and "selftest/square[n=16]/numpy/cpu/fp64" in got["numpy"][1].reason
    assert outcome.backends["torch"].status == "ok" and len(got["torch"]) == 3


def test_a_sigkilled_worker_is_recorded_as_likely_out_of_memory(hooks, tmp_path) -> None:
    hooks("numpy:kill")
    outcome = run(RunConfig(SUITES, backends=["numpy"]), PROFILE, tmp_path / "j.jsonl")
    assert outcome.backends["numpy"].status == "oom"
    statuses = [(r.name, r.status) for r in outcome.results]
    assert statuses == [("square", "ok"), ("backend", "oom"), ("backend", "skipped")]
    assert "SIGKILL" in outcome.results[1].reason and "out-of-memory" in outcome.results[1].reason


def test_a_suite_that_raises_is_failed_and_the_next_suite_runs(hooks, tmp_path) -> None:
    from infrabench.suites.backends import get_backend

    hooks("numpy:raise")
    journal = tmp_path / "j.jsonl"
    assert run_worker("numpy", SUITES, SuiteOptions(), journal, get_backend) == 0
    got = [(r.suite, r.name, r.status) for r in read_results(journal)]
    assert got == [("selftest", "square", "ok"), ("selftest", "suite", "failed"), ("selftest_b", "square", "ok")]
    assert "RuntimeError: fault injected" in read_results(journal)[1].reason


def test_memory_error_in_a_suite_is_oom(hooks, tmp_path) -> None:
    from infrabench.suites.backends import get_backend

    hooks("numpy:oom@2")
    journal = tmp_path / "j.jsonl"
    run_worker("numpy", SUITES, SuiteOptions(), journal, get_backend)
    got = [(r.suite, r.name, r.status) for r in read_results(journal)]
    assert got == [("selftest", "square", "ok"), ("selftest", "square", "ok"), ("selftest", "suite", "oom"),
                   ("selftest_b", "square", "ok")]


class _Unavailable:
    """Stands for a framework that is not installed (every real one is installed on the test machine)."""

    name = "fake"

    def unavailable_reason(self) -> str:
        return "fake is not installed"


def test_an_unavailable_backend_skips_each_suite_with_the_reason(hooks, tmp_path) -> None:
    hooks()
    journal = tmp_path / "j.jsonl"
    run_worker("fake", SUITES, SuiteOptions(), journal, lambda name: _Unavailable())
    got = [(r.suite, r.name, r.device, r.status, r.reason) for r in read_results(journal)]
    assert got == [(s, "backend", "-", "skipped", "fake is not installed") for s in SUITES]


def test_a_backend_that_cannot_load_fails_each_suite(hooks, tmp_path) -> None:
    hooks()
    journal = tmp_path / "j.jsonl"

    def broken(name: str):
        raise ImportError("libfoo.so: cannot open shared object file")

    run_worker("fake", SUITES, SuiteOptions(), journal, broken)
    assert [(r.status, "libfoo" in r.reason) for r in read_results(journal)] == [("failed", True)] * 2


def _wait_for_lines(pattern: str, root: Path, lines: int, proc: subprocess.Popen, limit_s: float) -> Path:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for journal in root.glob(pattern):
            if len(journal.read_text().splitlines()) >= lines:
                return journal
        time.sleep(0.1)
    raise AssertionError(f"fewer than {lines} journal lines after {limit_s} s")


@pytest.mark.slow
@requires_torch
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupting_the_cli_writes_the_finished_results_and_exits_130(tmp_path, sig) -> None:
    out = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "infrabench.cli", "run", "--suite", "selftest",
                             "--backend", "numpy,torch", "--out", str(out), "--timeout", "120"],
                            env=hook_env("torch:hang"), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        journal = _wait_for_lines("*/run.journal.jsonl", out, 3, proc, 90)  # numpy's 2 + torch's first
        sent = time.monotonic()
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert time.monotonic() - sent < 10
    run_file = load_run(journal.parent / "run.json")
    assert run_file["infrabench"]["interrupted"] is True
    assert [b["fullname"] for b in run_file["benchmarks"]] == [
        "selftest/square[n=16]/numpy/cpu/fp64", "selftest/square[n=32]/numpy/cpu/fp64",
        "selftest/square[n=16]/torch/cpu/fp64"]
    assert run_file["infrabench"]["backends"]["torch"]["status"] == "interrupted"
    assert any(sig.name in w for w in run_file["infrabench"]["warnings"])
    assert "run file:" in stdout


@pytest.mark.slow
def test_a_small_cli_run_validates_and_pytest_benchmark_compare_reads_it(tmp_path) -> None:
    """The real CLI, in-process, on numpy: exit 0, a valid run.json, never an imported torch or jax."""
    out = tmp_path / "results"
    code = (
        "import sys\n"
        "from infrabench.cli import main\n"
        f"rc = main(['run', '--suite', 'selftest,selftest_b', '--backend', 'numpy', '--out', {str(out)!r}, "
        "'--verbose'])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'jax', 'jaxlib'))\n"
        "print('RESULT', rc, loaded)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=hook_env(), cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "RESULT 0 []" in proc.stdout, proc.stdout
    (run_path,) = out.glob("*/run.json")
    run_file = load_run(run_path)
    assert len(run_file["benchmarks"]) == 3 and run_file["infrabench"]["interrupted"] is False
    assert run_file["infrabench"]["config"]["suites"] == ["selftest", "selftest_b"]
    assert run_file["infrabench"]["backends"]["numpy"]["status"] == "ok"
    assert run_file["machine_info"]["infrabench"]["cpu"]["logical_cpus"] >= 1
    for name in ("run.journal.jsonl", "worker-numpy.log", "machine_profile.json"):
        assert (run_path.parent / name).exists()
    assert re.search(r"square\[n=24\][\s│|]+numpy[\s│|]+cpu[\s│|]+fp64[\s│|]+ok[\s│|]+[0-9.]+ TFLOP/s", proc.stdout)
    assert "2 of 2 done  selftest_b on numpy: 1 ok in " in proc.stdout  # a log gets a line per suite and backend

    compare = Path(sys.executable).parent / "pytest-benchmark"
    if not compare.exists():
        pytest.skip("pytest-benchmark is not installed (test extra)")
    proc = subprocess.run([str(compare), "compare", "--name", "long", str(run_path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for entry in run_file["benchmarks"]:
        assert entry["fullname"] in proc.stdout, proc.stdout


def test_unknown_suite_is_one_line_and_exit_2(tmp_path) -> None:
    proc = run_cli("run", "--suite", "matmul,nope", "--out", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--suite nope" in proc.stderr
    assert not any(tmp_path.iterdir())


def test_config_file_fills_options_and_the_command_line_wins(tmp_path) -> None:
    import argparse

    from infrabench.run_command import add_run_arguments, resolve_settings

    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.infrabench.run]\nsuite = ["memory"]\nbackend = "numpy,jax"\ntimeout = 30\n'
                         'out = "res"\nthreads = 1\n')
    settings = resolve_settings(parser.parse_args(["--config", str(pyproject), "--backend", "torch"]))
    assert settings.config.suites == ["memory"] and settings.config.backends == ["torch"]
    assert settings.config.timeout_s == 30.0 and settings.config.threads == 1 and settings.out == tmp_path / "res"
    toml = tmp_path / "infrabench.toml"
    toml.write_text('[run]\nprofile = "standard"\ndtype = ["fp32", "bf16"]\n')
    settings = resolve_settings(parser.parse_args(["--config", str(toml)]))
    assert settings.config.profile == "standard" and settings.config.dtypes == ["fp32", "bf16"]
    assert settings.config.backend_timeout_s() == 1200.0


@pytest.mark.parametrize("text, words", [
    ("[run\n", "not valid TOML"),
    ("[run]\nsuites = 3\n", "list of strings"),
    ("[run]\nprofil = 'quick'\n", "unknown key 'profil'"),
    ("[other]\n", "no [run] table"),
    ("[run]\nbackend = 'numpy,tensorflow'\n", "--backend tensorflow"),
    ("[run]\ntimeout = -1\n", "--timeout"),
])
def test_bad_config_files_are_one_line_and_exit_2(tmp_path, text, words) -> None:
    config = tmp_path / "infrabench.toml"
    config.write_text(text)
    proc = run_cli("run", "--config", str(config), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and words in proc.stderr, proc.stderr


def test_the_journal_alone_rebuilds_the_results(tmp_path) -> None:
    """The parent's own records (crash, timeout) go to the journal too, so it is complete on its own."""
    journal = tmp_path / "run.journal.jsonl"
    env = hook_env("numpy:segv")
    code = ("from pathlib import Path\nfrom infrabench.suites.runner import RunConfig, run\n"
            f"run(RunConfig(['selftest'], backends=['numpy']), {{}}, Path({str(journal)!r}))\n")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60, capture_output=True)
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [(d["name"], d["status"]) for d in lines] == [("square", "ok"), ("backend", "failed")]
    assert "SIGSEGV" in lines[1]["reason"]
