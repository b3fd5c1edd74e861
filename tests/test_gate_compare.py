"""`infrabench compare` on copies of one real run: a slowed benchmark fails the gate, noise-free copies pass."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="session")
def real_run(tmp_path_factory) -> Path:
    """A recorded real quick run of every suite on numpy, torch and jax (8-10 rounds per matmul and memory
    benchmark: enough for the rank test). Recorded, not live: the tests below read its noise figures (MDEs),
    which a live run on a shared machine would make flaky; the live run-then-compare path is in test_api.py."""
    path = tmp_path_factory.mktemp("gate_run") / "run.json"
    shutil.copyfile(Path(__file__).parent / "data" / "runs" / "quick_all_suites_0.1.0.json", path)
    return path


def _steadiest(data: dict) -> tuple[str, float]:
    """The benchmark with the smallest minimum detectable effect when the run is compared with itself."""
    from infrabench.reports.gate import bench_set, compare

    runs = bench_set(data, "run")
    c = compare(runs, runs)
    best = min((v for v in c.verdicts if v.mde is not None), key=lambda v: v.mde)
    return best.fullname, best.mde


def _scaled(run_file: Path, dest: Path, factor: float) -> tuple[Path, str, float]:
    """A copy with the steadiest benchmark's samples scaled by `factor`; its name and MDE."""
    data = json.loads(run_file.read_text())
    name, mde = _steadiest(data)
    target = next(b for b in data["benchmarks"] if b["fullname"] == name)
    target["stats"]["data"] = [v * factor for v in target["stats"]["data"]]
    for key in ("min", "max", "mean", "median", "q1", "q3"):
        target["stats"][key] *= factor
    dest.write_text(json.dumps(data))
    return dest, name, mde


def test_identical_copy_passes(real_run, tmp_path):
    new = tmp_path / "copy.json"
    new.write_text(run_real := real_run.read_text())
    assert run_real
    proc = run_cli("compare", str(real_run), str(new), "--json", str(tmp_path / "c.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "c.json").read_text())
    compared = [b for b in data["benchmarks"] if b["ratio"] is not None]
    assert compared and all(b["ratio"] == 1.0 for b in compared)
    assert all(b["verdict"] in ("unchanged", "inconclusive") for b in compared)  # noisy ones: too noisy to tell


def test_slower_benchmark_fails_and_is_the_only_junit_failure(real_run, tmp_path):
    new, name, mde = _scaled(real_run, tmp_path / "slow.json", 1.3)
    junit, md, js = tmp_path / "g.xml", tmp_path / "g.md", tmp_path / "g.json"
    proc = run_cli("compare", str(real_run), str(new), "--junit", str(junit), "--markdown", str(md), "--json", str(js))
    assert mde < 0.3, f"no benchmark of this run can show a 30% change (smallest MDE {mde:.0%})"
    assert proc.returncode == 1, proc.stdout + proc.stderr
    flat = "".join(proc.stdout.replace("│", " ").split())  # the terminal table folds long names over lines
    assert "".join(name.split()) in flat and "regression" in proc.stdout
    failures = [c for c in ET.parse(junit).iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failures] == [name]
    props = {p.get("name"): p.get("value") for p in failures[0].iter("property")}
    assert abs(float(props["ratio"]) - 1.3) < 1e-6 and {"ci_low", "ci_high", "p", "threshold", "mde"} <= set(props)
    data = json.loads(js.read_text())
    assert data["failing"] == [name] and data["exit_code"] == 1
    reg = next(b for b in data["benchmarks"] if b["fullname"] == name)
    assert reg["verdict"] == "regression" and reg["ci_low"] > 1.05 and reg["p"] < 0.01
    from infrabench.reports.gate.outputs import md_escape

    assert "regression" in md.read_text() and md_escape(name) in md.read_text()


def test_confirming_rerun_keeps_a_real_regression_and_drops_a_one_off(real_run, tmp_path):
    """--confirm: a regression stands only when the re-run of the new side shows it too."""
    new, name, mde = _scaled(real_run, tmp_path / "slow.json", 1.3)
    assert mde < 0.3, f"no benchmark of this run can show a 30% change (smallest MDE {mde:.0%})"
    (tmp_path / "rerun").mkdir()
    also_slow, _, _ = _scaled(real_run, tmp_path / "rerun" / "slow_again.json", 1.3)
    js, junit = tmp_path / "c.json", tmp_path / "g.xml"
    proc = run_cli("compare", str(real_run), str(new), "--confirm", str(also_slow), "--json", str(js),
                   "--junit", str(junit))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = json.loads(js.read_text())
    assert data["failing"] == [name] and data["confirmed_by"] == [str(also_slow)]
    assert "confirmed by the re-run" in next(b for b in data["benchmarks"] if b["fullname"] == name)["reason"]
    assert "confirmation" in {p.get("name") for p in ET.parse(junit).iter("property")}
    proc = run_cli("compare", str(real_run), str(new), "--confirm", str(tmp_path / "rerun"), "--json", str(js))
    # a folder of re-runs
    assert proc.returncode == 1 and json.loads(js.read_text())["confirmed_by"] == [str(also_slow)]
    # the re-run is as fast as the base: the first run's slowdown was a one-off, the gate passes
    same = tmp_path / "same.json"
    same.write_text(real_run.read_text())
    proc = run_cli("compare", str(real_run), str(new), "--confirm", str(same), "--json", str(js))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    verdict = next(b for b in json.loads(js.read_text())["benchmarks"] if b["fullname"] == name)
    assert verdict["verdict"] == "inconclusive" and "not confirmed by the re-run" in verdict["reason"]
    # --strict fails on it (inconclusive), and a missing re-run file is bad input
    assert run_cli("compare", str(real_run), str(new), "--confirm", str(same), "--strict").returncode == 1
    proc = run_cli("compare", str(real_run), str(new), "--confirm", str(tmp_path / "nope.json"))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_faster_benchmark_passes_as_improvement(real_run, tmp_path):
    new, name, mde = _scaled(real_run, tmp_path / "fast.json", 0.7)
    proc = run_cli("compare", str(real_run), str(new), "--json", str(tmp_path / "c.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "c.json").read_text())
    verdict = next(b for b in data["benchmarks"] if b["fullname"] == name)["verdict"]
    assert verdict == ("improvement" if mde < 0.3 else "inconclusive")


def test_per_benchmark_threshold_override_in_toml(real_run, tmp_path):
    new, name, mde = _scaled(real_run, tmp_path / "slow.json", 1.3)
    if mde >= 0.3:
        pytest.skip(f"the steadiest benchmark's MDE was {mde:.0%} in this run: 30% is not detectable")
    (tmp_path / "infrabench.toml").write_text(f'[gate]\nthresholds = {{ "{name.split("[")[0]}*" = "50%" }}\n')
    proc = run_cli("compare", str(real_run), str(new), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_cli("compare", str(real_run), str(new), "--threshold", "5%")  # no config here: CLI default
    assert proc.returncode == 1


def test_truncated_file_is_one_line_exit_2(real_run, tmp_path):
    bad = tmp_path / "cut.json"
    text = real_run.read_text()
    bad.write_text(text[: len(text) // 2])
    proc = run_cli("compare", str(real_run), str(bad))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert "truncated" in proc.stderr


def test_different_machine_refused_unless_allowed(real_run, tmp_path):
    data = json.loads(real_run.read_text())
    other = copy.deepcopy(data)
    other["machine_info"]["infrabench"]["cpu"]["model_name"] = "Some Other CPU"
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other))
    proc = run_cli("compare", str(real_run), str(path))
    assert proc.returncode == 2 and "cpu.model" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert run_cli("compare", str(real_run), str(path), "--allow-different-machines").returncode == 0


def test_missing_and_failed_are_listed(real_run, tmp_path):
    data = json.loads(real_run.read_text())
    gone = data["benchmarks"].pop(0)["fullname"]
    path = tmp_path / "fewer.json"
    path.write_text(json.dumps(data))
    proc = run_cli("compare", str(real_run), str(path), "--json", str(tmp_path / "c.json"))
    assert proc.returncode == 0
    verdicts = {b["fullname"]: b["verdict"] for b in json.loads((tmp_path / "c.json").read_text())["benchmarks"]}
    assert verdicts[gone] == "missing"


PYTEST_BENCH_TEST = """
def _work():
    return sum(i * i for i in range(2000))

def test_work(benchmark):
    benchmark(_work)
"""


def test_reads_pytest_benchmark_files(tmp_path):
    (tmp_path / "test_tiny.py").write_text(PYTEST_BENCH_TEST)
    for name in ("a.json", "b.json"):
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tiny.py",
                               "--benchmark-json", name, "--benchmark-min-rounds=20", "--benchmark-max-time=0.2"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_cli("compare", "a.json", "b.json", "--json", "c.json", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads((tmp_path / "c.json").read_text())
    (bench,) = data["benchmarks"]
    assert bench["fullname"] == "test_tiny.py::test_work" and bench["ratio"] is not None and bench["n_base"] >= 20
