"""Mutated input files against `report`, `compare`, `export` and `baseline save`: every case ends in exit 0 or
2 with at most one error line naming what was wrong (never a harness error, never a traceback), and a
failed command leaves no output file behind, partial or whole.

The mutations start from real files (a recorded run, a pytest-benchmark saved run, a noise profile, a
TOML config) and replace, delete or retype one field at a time, at any depth. The number of examples is
bounded so the test fits in CI's time.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from infrabench.cli import main  # noqa: E402

RUNS = Path(__file__).parent / "data" / "runs"
EXAMPLES = 15  # per input kind, a bounded budget for CI; the run-file fuzz renders a report each, so it takes fewer
HARNESS_ERROR = "run with --debug"  # the CLI's words for an exception nobody turned into a clear message


def _small_run() -> dict[str, Any]:
    """The recorded run cut to a few benchmarks of each kind, so each example stays fast."""
    data = json.loads((RUNS / "quick_cpu_sample.json").read_text())
    data["benchmarks"] = data["benchmarks"][:4] + data["benchmarks"][-2:]
    data["infrabench"]["results_without_timing"] = data["infrabench"]["results_without_timing"][:2]
    return data


RUN = _small_run()
PYTEST_BENCHMARK = {
    "machine_info": {"node": "n", "machine": "x86_64", "python_version": "3.11.7", "cpu": {"brand_raw": "cpu"}},
    "commit_info": {"id": None}, "datetime": "2026-01-01T00:00:00", "version": "5.1.0",
    "benchmarks": [{"group": "g", "name": f"test_{i}", "fullname": f"t.py::test_{i}", "params": None,
                    "stats": {"min": 0.001, "max": 0.002, "mean": 0.0015, "median": 0.0015, "rounds": 3,
                              "data": [0.001, 0.0015, 0.002]}, "extra_info": {}} for i in range(3)],
}
NOISE = {"format": "infrabench-noise", "version": 1,
         "benchmarks": {b["fullname"]: {"log_sd": 0.05, "runs": 4} for b in RUN["benchmarks"]}, "patterns": {}}
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False),
                   st.text(max_size=20), st.just([]), st.just({}), st.just([1, "x", None]),
                   st.just({"a": {"b": [1]}}))


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:3]):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(data: Any, path: tuple, action: str, value: Any) -> Any:
    data = copy.deepcopy(data)
    if not path:
        return value
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if action == "delete" and isinstance(parent, dict):
        del parent[key]
    elif action == "delete" and isinstance(parent, list):
        parent.pop(key)
    else:
        parent[key] = value
    return data


def mutations(source: Any):
    paths = _paths(source)
    return st.tuples(st.sampled_from(paths), st.sampled_from(["replace", "delete"]), VALUES).map(
        lambda t: _mutate(source, *t))


def _check(code: int, err: str, outputs: list[Path]) -> None:
    assert code in (0, 1, 2), code
    assert "Traceback" not in err and HARNESS_ERROR not in err, err
    lines = [line for line in err.splitlines() if line.startswith("infrabench: error")]
    assert len(lines) <= 1, err
    if code == 2:
        for out in outputs:
            assert not out.exists(), f"{out} left behind by a failed command"


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.slow
@settings(FUZZ, max_examples=8)
@given(data=mutations(RUN))
def test_mutated_run_files(tmp_path_factory, capsys, data: Any) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    path = tmp / "run.json"
    path.write_text(json.dumps(data, allow_nan=False))
    for argv, outputs in (
        (["report", str(path), "-o", str(tmp / "r.html")], [tmp / "r.html"]),
        (["export", str(path), "--csv", str(tmp / "x.csv")], [tmp / "x.csv"]),
        (["compare", str(RUNS / "quick_cpu_sample.json"), str(path), "--json", str(tmp / "c.json"),
          "--allow-different-machines"], [tmp / "c.json"]),
        (["baseline", "save", "fuzzed", "--from", str(path)], [tmp / "bl" / "fuzzed.json"]),
    ):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("INFRABENCH_BASELINE_DIR", str(tmp / "bl"))
            code = main(argv)
        _check(code, capsys.readouterr().err, outputs)


@pytest.mark.slow
@FUZZ
@given(data=mutations(PYTEST_BENCHMARK))
def test_mutated_pytest_benchmark_files(tmp_path_factory, capsys, data: Any) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    base, new = tmp / "a.json", tmp / "b.json"
    base.write_text(json.dumps(PYTEST_BENCHMARK))
    new.write_text(json.dumps(data, allow_nan=False))
    code = main(["compare", str(base), str(new), "--json", str(tmp / "c.json"), "--junit", str(tmp / "c.xml")])
    _check(code, capsys.readouterr().err, [tmp / "c.json", tmp / "c.xml"])


@pytest.mark.slow
@FUZZ
@given(data=mutations(NOISE))
def test_mutated_noise_profiles(tmp_path_factory, capsys, data: Any) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    noise = tmp / "noise.json"
    noise.write_text(json.dumps(data, allow_nan=False))
    run = RUNS / "quick_cpu_sample.json"
    code = main(["compare", str(run), str(run), "--noise", str(noise), "--json", str(tmp / "c.json")])
    _check(code, capsys.readouterr().err, [tmp / "c.json"])


def _toml_value(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, (dict, type(None))) else '"x"'


@pytest.mark.slow
@FUZZ
@given(section=st.sampled_from(["run", "gate", "tool", "gate.thresholds"]),
       key=st.sampled_from(["suite", "backend", "timeout", "threads", "profile", "out", "threshold", "alpha",
                            "strict", "allow_different_machines", "noise", "accelerator_threshold", "bogus"]),
       value=st.one_of(st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                       st.text(alphabet="abc%0123456789.,- ", max_size=8), st.just([1, 2]), st.just(["numpy"])))
def test_mutated_toml_configs(tmp_path_factory, capsys, section: str, key: str, value: Any) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    cfg = tmp / "infrabench.toml"
    cfg.write_text(f"[{section}]\n{key} = {_toml_value(value)}\n")
    run = RUNS / "quick_cpu_sample.json"
    code = main(["compare", str(run), str(run), "--config", str(cfg), "--json", str(tmp / "c.json")])
    _check(code, capsys.readouterr().err, [tmp / "c.json"])
    if section == "run":  # the run's config is read before anything runs: a bad one never starts a run
        code = main(["run", "--config", str(cfg), "--suite", "nonexistent", "--out", str(tmp / "o")])
        assert code == 2
        _check(code, capsys.readouterr().err, [])
