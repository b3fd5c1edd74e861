"""The capacity verdict, computed in the parent over the run's results: per accelerator profile, the largest
N with AU >= threshold (n_max), required vs supplied samples/s and bytes/s, the bottleneck with its evidence,
the headroom, and whether any pass behind it came from cache.

Bottleneck rule (ceilings in samples/s for the profile's format): storage = cold random reads, cpu = decode
on all usable cores, memory = warm (page-cache) reads, loader = the best loader measured for that format
(thread pool, torch DataLoader, jax feeding).
`none` when n_max reached the search cap. Otherwise the loader is named when it delivers less than
LOADER_SHORTFALL of the lowest of the other three (a loader always costs something; only a clear shortfall
is its own fault); else the lowest of storage, cpu and memory.
"""

from __future__ import annotations

from typing import Any

from .emulate import estimate_n
from .profiles import AccelProfile

SUITE = "dataload"
LOADER_SHORTFALL = 0.5
TRAIN_FORMAT = (("gpt", "memmap"), ("token", "memmap"), ("cnn", "npy"), ("image", "npy"), ("mlp", "parquet"))


def _get(r: Any, key: str) -> Any:
    return r.get(key) if isinstance(r, dict) else getattr(r, key)


def ceilings_by_format(results: list[Any]) -> dict[str, dict[str, Any]]:
    """Per format: storage (cold random), cpu (decode, most processes), memory (warm), loader (thread pool)."""
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        if _get(r, "suite") != SUITE or _get(r, "status") != "ok":
            continue
        p, x, name = _get(r, "params") or {}, _get(r, "extra") or {}, _get(r, "name")
        fmt = p.get("format")
        if not fmt:
            continue
        c = out.setdefault(fmt, {"cache_inflated": False, "loaders": {}})
        rate = x.get("samples_per_s")
        if name == "read" and p.get("cache") == "cold":
            c["cache_inflated"] = c["cache_inflated"] or bool(x.get("cache_inflated"))
            c.setdefault("device_bytes_read", {})[p.get("pattern")] = x.get("device_bytes_read")
            if p.get("pattern") == "random":
                c["storage"] = rate
                c["sample_bytes"] = x.get("sample_bytes")
        elif name == "read" and p.get("cache") == "warm":
            c["memory"] = rate
        elif name == "decode":
            if p.get("processes", 0) >= c.get("cpu_processes", 0):
                c["cpu"], c["cpu_processes"] = rate, p.get("processes")
        elif name == "loader":
            key = f"{p.get('loader')}[workers={p.get('workers')}]"
            c["loaders"][key] = rate
            if (rate or 0.0) > (c.get("loader") or 0.0):  # the best loader measured: the loader ceiling
                c["loader"], c["loader_name"] = rate, key
        elif name == "emulate":
            c["cache_inflated"] = c["cache_inflated"] or bool(x.get("cache_inflated"))
    return out


def bottleneck(capped: bool, ceilings: dict[str, Any]) -> tuple[str, str]:
    """The ceiling that stops more accelerators from being fed, and why."""
    if capped:
        return "none", "n_max reached the search cap with AU above the threshold"
    base = {k: ceilings.get(k) for k in ("storage", "cpu", "memory") if ceilings.get(k)}
    loader = ceilings.get("loader")
    if not base:
        return ("loader", "only the loader was measured") if loader else ("none", "no ceilings measured")
    low_name = min(base, key=base.get)  # type: ignore[arg-type]
    low = base[low_name]
    if loader is not None and loader < LOADER_SHORTFALL * low:
        return "loader", (f"loader {loader:.4g} samples/s < {LOADER_SHORTFALL:.0%} of the lowest other ceiling "
                          f"({low_name} {low:.4g} samples/s)")
    return low_name, f"lowest ceiling: {low_name} {low:.4g} samples/s (" + \
        ", ".join(f"{k} {v:.4g}" for k, v in base.items()) + (f", loader {loader:.4g}" if loader else "") + ")"


def _profile_verdict(prof: dict[str, Any], trials: list[dict[str, Any]], ceil: dict[str, Any]) -> dict[str, Any]:
    search = trials[-1].get("search") or {}
    n_max = int(search.get("n_max", max([t["n"] for t in trials if t.get("passed")] or [0])))
    capped = bool(search.get("capped", False))
    b, t_c = prof["batch_per_accel"], prof["step_s"]
    required = n_max * b / t_c if n_max else None
    supplied = max((t.get("supplied_samples_per_s") or 0.0) for t in trials)
    sample_bytes = ceil.get("sample_bytes")
    name, evidence = bottleneck(capped, ceil)
    next_required = (n_max + 1) * b / t_c
    return {
        "profile": prof, "format": prof["format"], "n_max": n_max, "n_max_is_lower_bound": capped,
        "threshold_au": prof["threshold_au"], "basis": "emulated",
        "required_samples_per_s": required, "required_samples_per_s_next": next_required,
        "supplied_samples_per_s": supplied,
        "required_bytes_per_s": None if required is None or not sample_bytes else required * sample_bytes,
        "supplied_bytes_per_s": None if not sample_bytes else supplied * sample_bytes,
        "headroom": None if not required else supplied / required - 1.0,
        "bottleneck": name, "evidence": evidence,
        "ceilings_samples_per_s": {k: ceil.get(k) for k in ("storage", "cpu", "memory", "loader")},
        "loaders_samples_per_s": ceil.get("loaders", {}),
        "au_vs_n": [{"n": t["n"], "au": t["au"], "passed": t["passed"]} for t in sorted(trials, key=lambda t: t["n"])],
        "cache_inflated": bool(ceil.get("cache_inflated")),
    }


def _train_profiles(results: list[Any]) -> list[AccelProfile]:
    out = []
    for r in results:
        x = _get(r, "extra") or {}
        if _get(r, "suite") != "train" or _get(r, "status") != "ok":
            continue
        per, batch = x.get("step_time_per_sample_s"), x.get("batch_size")
        if not per or not batch:
            continue
        text = f"{_get(r, 'name')} {_get(r, 'params')}".lower()
        fmt = next((f for key, f in TRAIN_FORMAT if key in text), "npy")
        out.append(AccelProfile(f"this_machine:{_get(r, 'name')}/{_get(r, 'backend')}/{_get(r, 'device')}",
                                f"training step measured in this run ({_get(r, 'name')})",
                                f"{_get(r, 'backend')} {_get(r, 'device')}", fmt, int(batch), float(per) * int(batch),
                                "measured: training suite step time in this run"))
    return out


def verdict(results: list[Any], profile: dict[str, Any], config: dict[str, Any]) -> dict[str, Any] | None:
    """infrabench.verdicts.dataload: one entry per accelerator profile, plus the per-format ceilings."""
    ceilings = ceilings_by_format(results)
    trials: dict[str, list[dict[str, Any]]] = {}
    profs: dict[str, dict[str, Any]] = {}
    errors = []
    for r in results:
        if _get(r, "suite") != SUITE:
            continue
        x = _get(r, "extra") or {}
        if _get(r, "status") == "failed" and str(_get(r, "reason") or "").startswith("no space left on device"):
            errors.append(_get(r, "reason"))
        if _get(r, "name") == "emulate" and _get(r, "status") == "ok" and x.get("profile"):
            name = x["profile"]["name"]
            trials.setdefault(name, []).append(x)
            profs[name] = x["profile"]
    if not trials and not ceilings and not errors:
        return None
    out: dict[str, Any] = {"profiles": {}, "ceilings_by_format": ceilings, "errors": errors,
                           "rule": __doc__.split("\n\n")[1].replace("\n", " ")}
    for name, ts in trials.items():
        out["profiles"][name] = _profile_verdict(profs[name], ts, ceilings.get(profs[name]["format"], {}))
    for prof in _train_profiles(results):
        ceil = ceilings.get(prof.format, {})
        supply = ceil.get("loader") or 0.0
        n = estimate_n(supply, prof)
        required = n * prof.batch_per_accel / prof.step_s if n else None
        name, evidence = bottleneck(False, ceil)
        out["profiles"][prof.name] = {
            "profile": prof.to_dict(), "format": prof.format, "n_max": n, "n_max_is_lower_bound": False,
            "threshold_au": prof.threshold, "basis": "computed from the measured loader rate (not emulated)",
            "required_samples_per_s": required, "supplied_samples_per_s": supply,
            "headroom": None if not required else supply / required - 1.0, "bottleneck": name, "evidence": evidence,
            "ceilings_samples_per_s": {k: ceil.get(k) for k in ("storage", "cpu", "memory", "loader")},
            "cache_inflated": bool(ceil.get("cache_inflated")),
        }
    out["any_cache_inflated"] = any(p.get("cache_inflated") for p in out["profiles"].values()) or \
        any(c.get("cache_inflated") for c in ceilings.values())
    return out
