"""Between-run noise in the gate: several base runs, noise profiles, and saying when the noise is unknown.

Runs here are copies of one run file whose benchmarks are shifted per run by a random factor, the way
separate processes on one machine differ (each process its own offset, rounds tight within it).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli

SAMPLE = Path(__file__).parent / "data" / "runs" / "quick_cpu_sample.json"


def _shifted(data: dict, rng: np.random.Generator, sd: float, slow: dict[str, float] | None = None) -> dict:
    """A copy whose every benchmark is scaled by exp(N(0, sd)) (one offset per benchmark, for all its rounds)."""
    out = json.loads(json.dumps(data))
    for b in out["benchmarks"]:
        if not (b.get("stats") or {}).get("data"):
            continue
        f = math.exp(rng.normal(0.0, sd)) * (slow or {}).get(b["fullname"], 1.0)
        b["stats"]["data"] = [v * f for v in b["stats"]["data"]]
        for key in ("min", "max", "mean", "median", "q1", "q3"):
            if isinstance(b["stats"].get(key), (int, float)):
                b["stats"][key] *= f
    return out


@pytest.fixture()
def runs(tmp_path) -> tuple[Path, list[Path], dict]:
    """Five base runs in a folder (run-folder layout) and the data they were made from."""
    data = json.loads(SAMPLE.read_text())
    rng = np.random.default_rng(7)
    folder = tmp_path / "base"
    files = []
    for i in range(5):
        (folder / f"run{i}").mkdir(parents=True)
        path = folder / f"run{i}" / "run.json"
        path.write_text(json.dumps(_shifted(data, rng, 0.15)))
        files.append(path)
    return folder, files, data


def _comparison(path: Path) -> dict:
    return json.loads(path.read_text())


def test_per_process_offsets_pass_against_several_base_runs(runs, tmp_path):
    """15% per-process offsets: against 5 base runs the gate passes and says the noise was measured."""
    folder, _, data = runs
    new = tmp_path / "new.json"
    new.write_text(json.dumps(_shifted(data, np.random.default_rng(99), 0.15)))
    proc = run_cli("compare", str(folder), str(new), "--json", str(tmp_path / "c.json"), "--markdown",
                   str(tmp_path / "c.md"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    c = _comparison(tmp_path / "c.json")
    assert c["base"]["runs"] == 5 and "measured from 5 base runs" in c["between_run_noise"]
    compared = [b for b in c["benchmarks"] if b["ratio"] is not None]
    assert compared and all(b["noise"] == "runs" and b["k_base"] == 5 for b in compared)
    assert "5 base run(s)" in (tmp_path / "c.md").read_text()


def test_real_regression_is_found_against_several_base_runs(runs, tmp_path):
    folder, files, data = runs
    spreads = {}
    for b in data["benchmarks"]:
        meds = [np.log(np.median(next(x for x in json.loads(f.read_text())["benchmarks"]
                                      if x["fullname"] == b["fullname"])["stats"]["data"])) for f in files]
        spreads[b["fullname"]] = np.std(meds, ddof=1)
    steady = min(spreads, key=spreads.get)  # the benchmark whose base runs agree best
    new = tmp_path / "new.json"
    new.write_text(json.dumps(_shifted(data, np.random.default_rng(3), 0.0, slow={steady: 2.0})))
    proc = run_cli("compare", *map(str, files), str(new), "--json", str(tmp_path / "c.json"))
    c = _comparison(tmp_path / "c.json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert c["failing"] == [steady]


def test_one_base_run_says_noise_is_unknown_in_every_output(runs, tmp_path):
    _, files, _ = runs
    out = {k: tmp_path / f"c.{k}" for k in ("json", "md", "xml")}
    proc = run_cli("compare", str(files[0]), str(files[1]), "--json", str(out["json"]), "--markdown",
                   str(out["md"]), "--junit", str(out["xml"]))
    assert proc.returncode in (0, 1), proc.stderr
    phrase = "between-run noise unknown (one base run)"
    assert phrase in proc.stdout.replace("\n", " ")
    assert phrase in _comparison(out["json"])["between_run_noise"]
    from infrabench.reports.gate.outputs import md_escape

    assert md_escape(phrase) in out["md"].read_text()
    assert phrase in out["xml"].read_text()


def test_offsets_between_two_runs_do_not_fail_the_gate_with_one_base_run(runs, tmp_path):
    """Every benchmark moved (per-process offsets): estimated from the other benchmarks' moves, not a regression."""
    _, files, _ = runs
    proc = run_cli("compare", str(files[0]), str(files[1]), "--json", str(tmp_path / "c.json"))
    assert proc.returncode == 0, proc.stdout
    compared = [b for b in _comparison(tmp_path / "c.json")["benchmarks"] if b["ratio"] is not None]
    assert {b["noise"] for b in compared} == {"spread"} and min(b["between_run_sd"] for b in compared) > 0.05


def test_noise_profile_estimated_written_and_used(runs, tmp_path):
    folder, files, data = runs
    profile = tmp_path / "noise.json"
    proc = run_cli("compare", "--estimate-noise", str(profile), str(folder))
    assert proc.returncode == 0, proc.stderr
    written = json.loads(profile.read_text())
    assert written["format"] == "infrabench-noise" and len(written["made_from"]) == 5
    sds = [e["log_sd"] for e in written["benchmarks"].values()]
    assert 0.05 < float(np.median(sds)) < 0.3  # the 15% offsets the runs were made with
    new = tmp_path / "new.json"
    new.write_text(json.dumps(_shifted(data, np.random.default_rng(5), 0.15)))
    proc = run_cli("compare", str(files[0]), str(new), "--noise", str(profile), "--json", str(tmp_path / "c.json"))
    assert proc.returncode == 0, proc.stdout
    c = _comparison(tmp_path / "c.json")
    assert "noise profile" in c["between_run_noise"]
    assert {b["noise"] for b in c["benchmarks"] if b["ratio"] is not None} == {"profile"}
    # the same profile named in the TOML config, relative to the config file
    (tmp_path / "infrabench.toml").write_text('[gate]\nnoise = "noise.json"\n')
    proc = run_cli("compare", str(files[0]), str(new), "--json", "c2.json", cwd=tmp_path)
    assert proc.returncode == 0 and "noise profile" in _comparison(tmp_path / "c2.json")["between_run_noise"]


def test_bad_noise_profile_and_bad_arguments_are_one_line(runs, tmp_path):
    _, files, _ = runs
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    for args in (("compare", str(files[0]), str(files[1]), "--noise", str(bad)),
                 ("compare", str(files[0])),
                 ("compare", "--estimate-noise", str(tmp_path / "n.json"), str(files[0])),
                 ("compare", str(tmp_path), str(files[0]))):
        proc = run_cli(*args)
        assert proc.returncode == 2, args
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_confirmation_is_tested_on_the_flagged_benchmarks_only():
    """confirm(): the re-run's p is Holm-corrected over the benchmarks being confirmed, and a benchmark the re-run
    lacks turns inconclusive; a primary comparison without regressions is left as it was."""
    from infrabench.reports.gate import bench_set, compare, confirm

    data = json.loads(SAMPLE.read_text())
    rng = np.random.default_rng(3)
    bases = [bench_set(_shifted(data, rng, 0.02), f"base{i}") for i in range(5)]
    names = [n for n, b in bases[0].benches.items() if b.comparable]
    a, b = names[0], names[1]
    new = bench_set(_shifted(data, rng, 0.02, {a: 1.6, b: 1.6}), "new")
    first = compare(bases, new)
    assert sorted(v.fullname for v in first.failing) == sorted([a, b])
    rerun_data = _shifted(data, rng, 0.02, {a: 1.6})
    rerun_data["benchmarks"] = [x for x in rerun_data["benchmarks"] if x["fullname"] != b]
    confirmed = confirm(compare(bases, new), [compare(bases, bench_set(rerun_data, "rerun"))])
    assert [v.fullname for v in confirmed.failing] == [a] and confirmed.confirmed_by == ["rerun"]
    dropped = next(v for v in confirmed.verdicts if v.fullname == b)
    assert dropped.verdict == "inconclusive" and "not confirmed: missing in the re-run rerun" in dropped.reason
    quiet = compare(bases, bases[0])
    assert confirm(quiet, [first]).passed
