"""The gate never passes on nothing: zero benchmarks compared is exit 2 with the reason, and no output file
that would say pass is written.

tests/data/pytest_benchmark holds two real pytest-benchmark saves (`--benchmark-save`, without
`--benchmark-save-data`, so without raw samples) of a two-test file.
"""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli

from infrabench.results import Run

DATA = Path(__file__).parent / "data"
SAVED = [DATA / "pytest_benchmark" / f"saved_without_data_{i}.json" for i in (1, 2)]
SAMPLE = DATA / "runs" / "quick_cpu_sample.json"


def test_pytest_benchmark_saves_without_samples_are_exit_2_not_a_pass(tmp_path) -> None:
    junit, markdown = tmp_path / "gate.xml", tmp_path / "gate.md"
    proc = run_cli("compare", *map(str, SAVED), "--junit", str(junit), "--markdown", str(markdown))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "PASS" not in proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("infrabench: error: nothing compared between ")
    assert "(2 failed)" in line and "--benchmark-save-data" in line
    assert not junit.exists() and not markdown.exists()


def _fail(b) -> None:
    """What a crashed benchmark leaves: a status, a reason, and no figures."""
    b.status, b.reason, b.stats = "failed", "worker crashed: SIGSEGV", None
    b.throughput = b.throughput_best = b.peak = b.pct_of_peak = b.pct_of_best = None


def _all_failed(src: Path, dst: Path) -> Path:
    run = Run.load(src)
    for b in run.benchmarks:
        _fail(b)
    run.write(dst)
    return dst


def test_a_new_run_whose_benchmarks_all_failed_is_never_a_pass(tmp_path) -> None:
    new = _all_failed(SAMPLE, tmp_path / "new.json")
    proc = run_cli("compare", str(SAMPLE), str(new))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "nothing compared" in proc.stderr and "failed" in proc.stderr and "SIGSEGV" in proc.stderr


def test_one_benchmark_compared_is_enough_to_judge(tmp_path) -> None:
    run = Run.load(SAMPLE)
    for b in run.benchmarks[1:]:
        _fail(b)
    run.write(tmp_path / "new.json")
    proc = run_cli("compare", str(SAMPLE), str(tmp_path / "new.json"))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "nothing compared" not in proc.stderr


def test_the_library_gate_refuses_nothing_as_the_cli_does() -> None:
    import pytest

    import infrabench
    from infrabench.errors import UsageError

    with pytest.raises(UsageError, match=r"nothing compared .*\(2 failed\)"):
        infrabench.compare(SAVED[0], SAVED[1])
