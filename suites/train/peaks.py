"""The theoretical peak a training result's MFU is measured against, from the machine profile the suite got.

Same rules as the run file's peak lookup: the executed dtype decides (tf32 on accelerators when
fp32 matmuls ran on tensor cores), CPUs use machine["cpu"]["peaks"], accelerators their own
"peaks"; an unknown peak is None with the reason, never a neighbour's figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_VENDORS = {"cuda": ("nvidia", "amd"), "gpu": ("nvidia", "amd"), "rocm": ("amd",), "tpu": ("google",),
            "mps": ("apple",), "xpu": ("intel",)}


def _accelerator(machine: Mapping[str, Any], device: str) -> tuple[dict[str, Any] | None, str | None]:
    prefix, _, idx = device.partition(":")
    vendors = _VENDORS.get(prefix)
    if vendors is None:
        return None, f"unknown device kind {prefix!r}"
    accs = [a for a in machine.get("accelerators") or [] if a.get("vendor") in vendors]
    accs.sort(key=lambda a: (a.get("index") is None, a.get("index") or 0))
    index = int(idx) if idx.isdigit() else 0
    if index >= len(accs):
        return None, f"no {'/'.join(vendors)} accelerator #{index} in the machine profile for {device}"
    return accs[index], None


def find_peak(machine: Mapping[str, Any], device: str, dtype: str) -> tuple[dict[str, Any] | None, str | None]:
    """({"tflops", "source", "confidence", "dtype"}, None) or (None, why)."""
    if device == "cpu" or device.startswith("cpu:"):
        cpu = machine.get("cpu") or {}
        peaks, where = cpu.get("peaks") or [], f"CPU {cpu.get('model_name') or ''}".strip()
    else:
        acc, why = _accelerator(machine, device)
        if acc is None:
            return None, why
        peaks, where = acc.get("peaks") or [], str(acc.get("sku") or acc.get("name") or device)
    peak = next((p for p in peaks if p.get("dtype") == dtype), None)
    if peak is None:
        return None, f"no {dtype} peak for {where} in the machine profile"
    if peak.get("tflops") is None:
        return None, f"{dtype} peak unknown for {where}: {peak.get('reason') or 'no reason recorded'}"
    return {"tflops": float(peak["tflops"]), "source": peak.get("source"), "confidence": peak.get("confidence"),
            "dtype": dtype}, None
