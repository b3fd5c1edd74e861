"""`infrabench ab`: rounds that cannot reach alpha are refused, the default is the fewest that can (fake rounds,
no process started); the same environment against itself passes; 1 vs 2 BLAS threads flags matmul (slow)."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from infrabench import ab_command
from infrabench.errors import UsageError
from tests.conftest import run_cli

TINY = ("--suite", "matmul", "--backend", "numpy", "--dtype", "fp32")
SAMPLE = Path(__file__).parent / "data" / "runs" / "quick_cpu_sample.json"


def test_fewest_rounds_that_can_reach_alpha():
    """0.5^K, Wilcoxon's smallest one-sided p, must be below alpha/m (Holm's first step)."""
    assert ab_command.rounds_to_reach(0.01) == 7  # 0.0078 < 0.01 <= 0.0156
    assert ab_command.rounds_to_reach(0.01, 2) == 8  # 0.0039 < 0.005 <= 0.0078
    assert ab_command.rounds_to_reach(0.01, 10) == 10 and ab_command.rounds_to_reach(0.001) == 10
    assert ab_command.rounds_to_reach(0.05) == 5
    for alpha, m in ((0.01, 1), (0.01, 3), (0.002, 7)):
        k = ab_command.rounds_to_reach(alpha, m)
        assert 0.5 ** k < alpha / m <= 0.5 ** (k - 1)


@pytest.fixture
def fake_rounds(monkeypatch, tmp_path):
    """`run_round` replaced by copies of a recorded run cut to `benchmarks` entries (each round its own small
    offsets); returns the labels of the rounds run. Nothing is timed or started."""
    monkeypatch.chdir(tmp_path)  # no infrabench.toml / pyproject.toml of the checkout
    monkeypatch.setattr(ab_command, "child_env", lambda python, side: {})
    calls: list[str] = []
    data = json.loads(SAMPLE.read_text())
    rng = np.random.default_rng(11)

    def setup(benchmarks: int) -> list[str]:
        data["benchmarks"] = data["benchmarks"][:benchmarks]
        data["infrabench"]["results_without_timing"] = []

        def run_round(python, env, options, out: Path, label: str) -> Path:
            calls.append(label)
            run = json.loads(json.dumps(data))
            for b in run["benchmarks"]:
                f = math.exp(rng.normal(0.0, 0.01))
                b["stats"]["data"] = [v * f for v in b["stats"]["data"]]
            (out / "run").mkdir(parents=True)
            (out / "run" / "run.json").write_text(json.dumps(run))
            return out / "run" / "run.json"

        monkeypatch.setattr(ab_command, "run_round", run_round)
        return calls
    return setup


def _ab(tmp_path: Path, *options: str) -> int:
    parser = argparse.ArgumentParser()
    ab_command.add_ab_arguments(parser)
    args = parser.parse_args(["--a", sys.executable, "--b", sys.executable, "--out", str(tmp_path / "ab"),
                              "--json", str(tmp_path / "ab.json"), *options])
    return ab_command.ab_command(args)


def test_default_rounds_are_the_fewest_that_can_reach_alpha(fake_rounds, tmp_path, capsys):
    calls = fake_rounds(2)
    assert _ab(tmp_path) in (0, 1)
    assert len(calls) == 2 * 8, calls  # 2 benchmarks at alpha 0.01: 0.5^8 < 0.005
    err = capsys.readouterr().err
    assert "2 benchmark(s) compared" in err and "running 8 rounds, the fewest that can" in err
    data = json.loads((tmp_path / "ab.json").read_text())
    assert data["ab"]["rounds"] == 8 and data["ab"]["rounds_requested"] is None
    assert data["ab"]["rounds_to_reach_alpha"] == 8


def test_rounds_too_few_for_the_benchmarks_compared_stop_after_the_first(fake_rounds, tmp_path):
    """--rounds 7 with 2 benchmarks: 0.5^7 = 0.0078 is not below 0.01/2; refused once the first round says m = 2."""
    calls = fake_rounds(2)
    with pytest.raises(UsageError, match=r"--rounds 7: 2 benchmark\(s\) compared.*use --rounds 8 or more"):
        _ab(tmp_path, "--rounds", "7")
    assert len(calls) == 2


def test_rounds_that_cannot_reach_alpha_are_refused_before_any_run(fake_rounds, tmp_path):
    calls = fake_rounds(1)
    with pytest.raises(UsageError, match=r"--rounds 9: .*0.5\^9 = 0.002.*alpha 0.001.*use --rounds 10 or more"):
        _ab(tmp_path, "--rounds", "9", "--alpha", "0.001")
    assert calls == []
    assert _ab(tmp_path, "--rounds", "5", "--alpha", "0.05") in (0, 1)  # 0.5^5 = 0.031 < 0.05: allowed
    assert len(calls) == 10


def test_too_few_rounds_is_refused():
    proc = run_cli("ab", "--a", sys.executable, "--b", sys.executable, "--rounds", "5", *TINY)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "use --rounds 7 or more" in proc.stderr


@pytest.mark.slow  # the quick loop (-m "not slow") skips these
def test_same_environment_twice_passes(tmp_path):
    """Real A/A rounds of the runner tests' tiny suite (real numpy matmuls, timed; 2 benchmarks, so the default is 8
    rounds): each `run` costs its start-up, not minutes of matmuls."""
    import subprocess

    from tests.test_runner import hook_env

    proc = subprocess.run([sys.executable, "-m", "infrabench.cli", "ab", "--a", sys.executable, "--b",
                           sys.executable, "--suite", "selftest", "--backend", "numpy",
                           "--out", str(tmp_path / "ab"), "--json", str(tmp_path / "ab.json")],
                          capture_output=True, text=True, timeout=300, env=hook_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    data = json.loads((tmp_path / "ab.json").read_text())
    assert data["paired"] and data["ab"]["rounds"] == 8 and data["ab"]["smallest_p"] == pytest.approx(0.5 ** 8)
    assert "smallest possible one-sided p" in proc.stderr and "running 8 rounds" in proc.stderr
    compared = [b for b in data["benchmarks"] if b["ratio"] is not None]
    assert compared and all(b["test"] == "wilcoxon-signed-rank" and b["n_base"] == 8 for b in compared)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("INFRABENCH_SLOW") != "1", reason="slow (minutes): set INFRABENCH_SLOW=1")
def test_one_vs_two_threads_flags_matmul(tmp_path):
    """B pins 2 CPU threads, A one: on a machine with 2 or more cores B's matmuls are faster, A->B improves;
    swapped (A 2 threads, B 1) the gate must fail with a matmul regression."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 usable CPUs")
    proc = run_cli("ab", "--a", sys.executable, "--b", sys.executable, "--rounds", "10", *TINY,
                   "--a-args", "--threads 2", "--b-args", "--threads 1", "--out", str(tmp_path / "ab"),
                   "--json", str(tmp_path / "ab.json"), timeout=900)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    data = json.loads((tmp_path / "ab.json").read_text())
    assert data["failing"] and all(name.startswith("matmul/") for name in data["failing"])


def test_a_first_round_that_compared_nothing_stops_ab_at_once() -> None:
    from infrabench.ab_command import rounds_after_first
    from infrabench.errors import UsageError

    with pytest.raises(UsageError, match="compared nothing"):
        rounds_after_first(None, 0.01, 0)
    with pytest.raises(UsageError, match="compared nothing"):
        rounds_after_first(20, 0.01, 0)
