"""The report's machine summary: host, CPU, memory, accelerators and software from the run's MachineProfile,
every null shown as "—" with the profile's own reason for it."""

from __future__ import annotations

from typing import Any

from infrabench.results import Run

from .cells import Cell, as_dict, as_list, as_number, fmt_bytes_binary, missing


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _field(record: dict[str, Any], key: str, fmt=None) -> Cell:
    """A profile field, or "—" with the profile's own reason for the null."""
    value = record.get(key)
    if value is None or value == [] or value == {}:
        reasons = as_dict(record.get("null_reasons"))
        return missing(_str(reasons.get(key)) or "not recorded")
    if isinstance(value, bool):
        return Cell("yes" if value else "no", value=value)
    return Cell(fmt(value) if fmt else str(value), value=value)


def _join(values: Any) -> str:
    return ", ".join(str(v) for v in values) if isinstance(values, list) else str(values)


def _mhz(value: Any) -> str:
    return f"{value:g} MHz" if isinstance(value, (int, float)) else str(value)


def _bytes(value: Any) -> str:
    return fmt_bytes_binary(as_number(value)) if as_number(value) is not None else str(value)


def peak_rows(peaks: Any) -> list[dict[str, Cell]]:
    rows = []
    for p in peaks if isinstance(peaks, list) else []:
        p = as_dict(p)
        tflops = as_number(p.get("tflops"))
        basis = as_dict(p.get("basis"))
        basis_text = ""
        if basis:
            parts = [f"{basis.get('cores')} cores" if basis.get("cores") is not None else "",
                     f"{basis.get('ghz')} GHz" if basis.get("ghz") is not None else "",
                     f"{basis.get('flops_per_cycle')} FLOPs/cycle/core" if basis.get("flops_per_cycle") else ""]
            basis_text = " × ".join(x for x in parts if x)
            if basis.get("isa"):
                basis_text += f" ({basis.get('isa')})"
        rows.append({
            "dtype": Cell(str(p.get("dtype") or "?")),
            "tflops": Cell(f"{tflops:g}", value=tflops, css="num") if tflops is not None
            else missing(_str(p.get("reason")) or "unknown"),
            "confidence": Cell(str(p.get("confidence") or "unknown")),
            "source": Cell(str(p.get("source"))) if p.get("source") else missing(_str(p.get("reason"))),
            "basis": Cell(basis_text) if basis_text else Cell(""),
            "note": Cell(str(p.get("reason"))) if tflops is not None and p.get("reason") else Cell(""),
        })
    return rows


def machine_summary(run: Run) -> dict[str, Any]:
    """Host, CPU, memory, accelerators and software as labelled cells; nulls keep the profile's reasons."""
    profile = run.profile
    if not profile:
        return {"present": False}
    host, cpu, mem, sw = (as_dict(profile.get(k)) for k in ("host", "cpu", "memory", "software"))
    hypervisor = host.get("hypervisor_vendor")
    host_rows = [
        ("hostname", _field(host, "hostname")), ("OS", _field(host, "os")), ("kernel", _field(host, "kernel")),
        ("architecture", _field(host, "arch")),
        ("virtualised", _field(host, "virtualized", lambda v: v) if not hypervisor
         else Cell(f"yes ({hypervisor})" if host.get("virtualized") else f"no ({hypervisor})")),
        ("container", _field(host, "container")), ("scheduler", _field(host, "scheduler")),
    ]
    caches = [c for c in as_list(cpu.get("caches")) if isinstance(c, dict)]
    cache_text = "; ".join(
        f"{c.get('name')} {_bytes(c.get('size_bytes'))}" + (f" ×{c.get('instances')}" if c.get("instances") else "")
        for c in caches)
    freq_sources = as_dict(cpu.get("frequency_sources"))
    freq_cells = []
    for key in ("max_frequency_mhz", "base_frequency_mhz", "current_frequency_mhz"):
        c = _field(cpu, key, _mhz)
        if c.value is not None and freq_sources.get(key):
            c = Cell(f"{c.text} (from {freq_sources[key]})", value=c.value)
        freq_cells.append((key.replace("_frequency_mhz", " frequency"), c))
    cpu_rows = [
        ("model", _field(cpu, "model_name")), ("vendor", _field(cpu, "vendor")),
        ("microarchitecture", _field(cpu, "microarchitecture")), ("sockets", _field(cpu, "sockets")),
        ("physical cores", _field(cpu, "physical_cores")), ("logical CPUs", _field(cpu, "logical_cpus")),
        ("usable CPUs (affinity, cpuset, quota)", _field(cpu, "usable_cpus")),
        ("usable cores", _field(cpu, "usable_cores")),
        ("ISA highlights", _field(cpu, "isa_flags", _join)),
        ("caches", Cell(cache_text) if cache_text else _field(cpu, "caches")),
        *freq_cells,
    ]
    mem_rows = [
        ("total", _field(mem, "total_bytes", _bytes)), ("usable", _field(mem, "usable_bytes", _bytes)),
        ("cgroup limit", _field(mem, "cgroup_limit_bytes", _bytes)), ("swap", _field(mem, "swap_total_bytes", _bytes)),
        ("NUMA nodes", _field(mem, "numa_nodes")),
    ]
    accelerators = []
    for acc in as_list(profile.get("accelerators")):
        acc = as_dict(acc)
        title = f"{acc.get('index', '?')}: {acc.get('name') or 'unnamed'} ({acc.get('vendor') or 'vendor unknown'})"
        pcie = (f"gen {acc.get('pcie_gen')} x{acc.get('pcie_width')}" if acc.get("pcie_gen") is not None
                else None)
        rows = [
            ("SKU (peak lookup)", _field(acc, "sku")), ("memory", _field(acc, "memory_total_bytes", _bytes)),
            ("compute units", _field(acc, "compute_units")), ("compute capability", _field(acc, "compute_capability")),
            ("SM clock / max", Cell(f"{acc.get('sm_clock_mhz')} / {acc.get('sm_clock_max_mhz')} MHz")
             if acc.get("sm_clock_max_mhz") is not None else _field(acc, "sm_clock_max_mhz")),
            ("power limit", _field(acc, "power_limit_w", lambda v: f"{v:g} W")),
            ("PCIe", Cell(pcie) if pcie else _field(acc, "pcie_gen")),
            ("MIG mode", _field(acc, "mig_mode")), ("ECC", _field(acc, "ecc_enabled")),
            ("driver / runtime", Cell(f"{acc.get('driver_version')} / {acc.get('runtime_version')}")
             if acc.get("driver_version") else _field(acc, "driver_version")),
            ("peak memory bandwidth", _field(acc, "peak_memory_bandwidth_gbs", lambda v: f"{v:g} GB/s")),
            ("detected by", _field(acc, "detected_by")),
        ]
        accelerators.append({"title": title, "rows": rows, "peaks": peak_rows(acc.get("peaks"))})
    probes = [as_dict(p) for p in as_list(profile.get("probes"))]
    accel_probes = [p for p in probes if p.get("name") in ("nvidia", "amd", "tpu", "torch_devices")]
    bad_probes = [p for p in probes if p.get("status") in ("error", "timeout", "no_permission")]
    return {
        "present": True,
        "collected_at": profile.get("collected_at"),
        "host": host_rows, "cpu": cpu_rows, "cpu_peaks": peak_rows(cpu.get("peaks")), "memory": mem_rows,
        "accelerators": accelerators, "accelerator_probes": accel_probes, "bad_probes": bad_probes,
        "software": software_rows(sw),
    }


def software_rows(sw: dict[str, Any]) -> list[tuple[str, Cell]]:
    rows: list[tuple[str, Cell]] = [
        ("Python", Cell(f"{sw.get('python_implementation') or ''} {sw.get('python_version')}".strip())
         if sw.get("python_version") else _field(sw, "python_version")),
        ("numpy", _field(sw, "numpy_version")),
    ]
    build = as_dict(sw.get("numpy_blas_build"))
    if build:
        rows.append(("numpy BLAS (build)", Cell(f"{build.get('name')} {build.get('version') or ''}".strip())))
    for pool in as_list(sw.get("threadpools")):
        pool = as_dict(pool)
        rows.append((f"thread pool: {pool.get('user_api') or '?'}",
                     Cell(f"{pool.get('internal_api')} {pool.get('version') or ''}, kernel "
                          f"{pool.get('architecture') or 'unknown'}, {pool.get('num_threads')} threads, "
                          f"{pool.get('threading_layer') or 'threading layer unknown'}")))
    for name in ("torch", "jax"):
        fw = as_dict(sw.get(name))
        if not fw:
            continue
        if not fw.get("installed", True):
            rows.append((name, missing(_str(as_dict(fw.get("null_reasons")).get("version")) or "not installed")))
            continue
        parts = [str(fw.get("version"))]
        for key, label in (("cuda_build", "CUDA"), ("hip_build", "HIP"), ("default_backend", "backend"),
                           ("num_threads", "threads"), ("enable_x64", "x64")):
            if fw.get(key) is not None:
                parts.append(f"{label} {fw.get(key)}")
        if fw.get("devices"):
            parts.append("devices " + _join(fw.get("devices")))
        rows.append((name, Cell(", ".join(parts))))
    env = as_dict(sw.get("env"))
    rows.append(("environment variables", Cell("; ".join(f"{k}={v}" for k, v in sorted(env.items())))
                 if env else Cell("none of the relevant ones set")))
    return rows
