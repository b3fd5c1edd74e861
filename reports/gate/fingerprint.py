"""Machine fingerprints: the fields that make two runs comparable, and which of them differ.

An infrabench run carries the MachineProfile: CPU model and core counts,
accelerator names/SKUs and drivers, Python, numpy, BLAS, torch and jax versions. A pytest-benchmark
file has only pytest-benchmark's machine_info (CPU brand, count, Python, architecture, OS): fields are
compared only where both files have them. Clocks, temperatures and host names are deliberately left
out: they vary between runs on the same machine.

The run configuration counts too where it changes what is measured on the same machine: `run.threads`, the
CPU threads the benchmarks ran on (`--threads`, else the usable CPUs; load.run_threads). A run pinned to one
thread is not a regression of a run on two.
"""

from __future__ import annotations

from typing import Any

from infrabench.reports.gate.verdict import FieldDiff


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def fingerprint(machine_info: dict[str, Any], profile: dict[str, Any] | None = None,
                threads: int | None = None) -> dict[str, Any]:
    """Flat {field: value} of what identifies the machine, software and run configuration; unknown values are
    left out."""
    fp: dict[str, Any] = {
        "cpu.model": _get(machine_info, "cpu", "brand_raw"),
        "cpu.logical_cpus": _get(machine_info, "cpu", "count"),
        "machine": machine_info.get("machine"),
        "system": machine_info.get("system"),
        "python": machine_info.get("python_version"),
        "python_implementation": machine_info.get("python_implementation"),
    }
    if isinstance(profile, dict) and profile:
        cpu = profile.get("cpu") or {}
        sw = profile.get("software") or {}
        fp.update({
            "cpu.model": cpu.get("model_name") or fp["cpu.model"],
            "cpu.microarchitecture": cpu.get("microarchitecture"),
            "cpu.usable_cpus": cpu.get("usable_cpus"),
            "numpy": sw.get("numpy_version"),
            "blas": _get(sw, "numpy_blas_build", "name") and
            f"{_get(sw, 'numpy_blas_build', 'name')} {_get(sw, 'numpy_blas_build', 'version')}",
            "torch": _get(sw, "torch", "version") if _get(sw, "torch", "installed") else None,
            "jax": _get(sw, "jax", "version") if _get(sw, "jax", "installed") else None,
        })
        accs = [a for a in profile.get("accelerators") or [] if isinstance(a, dict)]
        fp["accelerators"] = sorted(str(a.get("sku") or a.get("name")) for a in accs) or None
        drivers = sorted({str(a.get("driver_version") or a.get("driver")) for a in accs
                          if a.get("driver_version") or a.get("driver")})
        fp["accelerator_driver"] = drivers or None
    fp["run.threads"] = threads
    return {k: v for k, v in fp.items() if v is not None}


def machine_diffs(base: Any, new: Any) -> list[FieldDiff]:
    """Fields known in both runs' (BenchSets') fingerprints whose values differ."""
    a = fingerprint(base.machine_info, base.profile, base.threads)
    b = fingerprint(new.machine_info, new.profile, new.threads)
    return [FieldDiff(k, a[k], b[k]) for k in a if k in b and a[k] != b[k]]
