"""The CLI as a user meets it: one-line errors with exit 2, JSON that validates, no framework imports."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import run_cli

FRAMEWORKS = ("torch", "jax", "jaxlib", "pynvml", "amdsmi")


def test_probe_json_validates_against_the_shipped_schema(probe_json: dict) -> None:
    from infrabench.probes.profile import validate_profile

    validate_profile(probe_json)
    assert probe_json["schema_version"]
    assert {p["name"] for p in probe_json["probes"]} >= {"host", "cpu", "memory", "nvidia", "amd", "tpu",
                                                          "storage", "python", "torch", "jax"}


def test_cli_process_never_imports_torch_or_jax() -> None:
    code = (
        "import sys, io, contextlib\n"
        "from infrabench.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    rc = main(['probe', '--json'])\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r})\n"
        "print(rc, loaded)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0 []", proc.stdout


def test_probe_summary_lists_every_probe_status() -> None:
    proc = run_cli("probe")
    assert proc.returncode == 0, proc.stderr
    for word in ("Host", "CPU", "Memory", "Probes", "nvidia", "unavailable"):
        assert word in proc.stdout


def test_probe_writes_output_file(tmp_path) -> None:
    out = tmp_path / "profile.json"
    proc = run_cli("probe", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["cpu"]["logical_cpus"] >= 1


def test_bad_path_is_one_line_and_exit_2(tmp_path) -> None:
    proc = run_cli("probe", "--path", str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no such file or directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_option_value_is_exit_2() -> None:
    proc = run_cli("probe", "--timeout", "-1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_debug_shows_the_traceback(tmp_path) -> None:
    proc = run_cli("--debug", "probe", "--path", str(tmp_path / "missing"))
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_run_with_an_unknown_suite_is_one_line_and_exit_2() -> None:
    proc = run_cli("run", "--suite", "nope")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_detect_api_returns_the_same_profile_shape() -> None:
    import infrabench

    profile = infrabench.detect()
    data = profile.to_dict()
    assert data["cpu"]["logical_cpus"] >= 1
    assert all(p.status in ("ok", "unavailable", "no_permission", "timeout", "error") for p in profile.probes)
