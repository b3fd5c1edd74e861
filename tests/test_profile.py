"""The assembled profile of this real machine: consistent with the OS, every null explained."""

from __future__ import annotations

import json
import os

import jsonschema
import psutil
import pytest
from infrabench.probes.profile import profile_schema, validate_profile
from infrabench.probes.record import unexplained_nulls

ACCELERATOR_PROBES = ("nvidia", "amd", "tpu", "torch_devices")


def test_every_null_has_a_reason(probe_json: dict) -> None:
    assert unexplained_nulls(probe_json) == []


def test_usable_cpus_match_affinity_and_quota(probe_json: dict) -> None:
    cpu = probe_json["cpu"]
    assert cpu["logical_cpus"] == os.cpu_count()
    expected = len(os.sched_getaffinity(0))
    if cpu["cpu_quota_cores"] is not None:
        expected = min(expected, max(1, int(cpu["cpu_quota_cores"])))
    assert cpu["usable_cpus"] == expected


def test_memory_matches_the_kernel(probe_json: dict) -> None:
    assert probe_json["memory"]["total_bytes"] == psutil.virtual_memory().total
    assert 0 < probe_json["memory"]["usable_bytes"] <= probe_json["memory"]["total_bytes"]


def test_absent_accelerators_explain_themselves(probe_json: dict) -> None:
    statuses = {p["name"]: p for p in probe_json["probes"]}
    present_vendors = {a["vendor"] for a in probe_json["accelerators"]}
    for name in ACCELERATOR_PROBES:
        status = statuses[name]
        if status["status"] != "ok":
            assert status["reason"] and len(status["reason"]) > 20, status
    if not os.path.exists("/dev/nvidia0"):
        assert statuses["nvidia"]["status"] == "unavailable"
        assert "nvidia" not in present_vendors


def test_peaks_name_their_source(probe_json: dict) -> None:
    peaks = list(probe_json["cpu"]["peaks"])
    for acc in probe_json["accelerators"]:
        peaks.extend(acc["peaks"])
    assert peaks
    for peak in peaks:
        if peak["tflops"] is None:
            assert peak["reason"]
        else:
            assert peak["source"] and peak["confidence"] in ("exact", "family", "computed", "user")
            assert peak["basis"] or peak["confidence"] != "computed"


def test_schema_rejects_an_unknown_status(probe_json: dict) -> None:
    broken = json.loads(json.dumps(probe_json))
    broken["probes"][0]["status"] = "fine"
    with pytest.raises(jsonschema.ValidationError):
        validate_profile(broken)


def test_schema_rejects_a_non_ok_status_without_reason(probe_json: dict) -> None:
    broken = json.loads(json.dumps(probe_json))
    broken["probes"][0].update(status="error", reason=None)
    with pytest.raises(jsonschema.ValidationError):
        validate_profile(broken)


def test_schema_rejects_a_peak_without_source(probe_json: dict) -> None:
    broken = json.loads(json.dumps(probe_json))
    peak = next(p for p in broken["cpu"]["peaks"] if p["tflops"] is not None)
    peak["source"] = None
    with pytest.raises(jsonschema.ValidationError):
        validate_profile(broken)


def test_schema_is_itself_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(profile_schema())
