"""Assemble the MachineProfile: every probe run concurrently, each with its own status."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .accelerator import Accelerator
from .amd import probe_amd
from .cgroups import CgroupRecord, probe_cgroups
from .context import ProbeContext, run_probe
from .cpu import CpuRecord, probe_cpu
from .host import HostRecord, probe_host
from .memory import MemoryRecord, probe_memory
from .nvidia import nvidia_pci_accelerators, probe_nvidia
from .peaks import apply_peaks
from .record import ProbeStatus
from .software import SoftwareRecord, probe_software_with_status
from .storage import StorageRecord, probe_storage
from .torch_devices import probe_torch_devices
from .tpu import probe_tpu

SCHEMA_VERSION = "1.0"


@dataclass
class MachineProfile:
    """What this machine is, hardware and software; every null explained by a field reason or a probe status."""

    schema_version: str
    infrabench_version: str
    collected_at: str
    host: HostRecord
    cpu: CpuRecord
    memory: MemoryRecord
    accelerators: list[Accelerator] = field(default_factory=list)
    storage: list[StorageRecord] = field(default_factory=list)
    software: SoftwareRecord = field(default_factory=SoftwareRecord)
    probes: list[ProbeStatus] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    def status(self, name: str) -> ProbeStatus | None:
        return next((p for p in self.probes if p.name == name), None)


def collect(ctx: ProbeContext | None = None) -> MachineProfile:
    """Run every probe and assemble the profile. Child-process probes start first, so they overlap the rest."""
    from infrabench import __version__

    ctx = ctx or ProbeContext()
    with ThreadPoolExecutor(max_workers=8) as pool:
        software = pool.submit(probe_software_with_status, ctx)
        children = {
            "nvidia": pool.submit(run_probe, "nvidia", lambda: probe_nvidia(ctx), []),
            "amd": pool.submit(run_probe, "amd", lambda: probe_amd(ctx), []),
            "tpu": pool.submit(run_probe, "tpu", lambda: probe_tpu(ctx), []),
            "torch_devices": pool.submit(run_probe, "torch_devices", lambda: probe_torch_devices(ctx), []),
            "storage": pool.submit(run_probe, "storage", lambda: probe_storage(ctx), []),
        }
        cgroup, cgroup_status = run_probe("cgroups", lambda: probe_cgroups(ctx), CgroupRecord())
        host, host_status = run_probe("host", lambda: probe_host(ctx), HostRecord())
        cpu, cpu_status = run_probe("cpu", lambda: probe_cpu(ctx, cgroup), CpuRecord())
        memory, memory_status = run_probe("memory", lambda: probe_memory(ctx, cgroup), MemoryRecord())
        results = {name: fut.result() for name, fut in children.items()}
        software_record, software_statuses = software.result()

    for record, status in ((host, host_status), (cpu, cpu_status), (memory, memory_status)):
        if status.status != "ok":
            record.explain_nulls(f"{status.name} probe {status.status}: {status.reason}")
    if results["nvidia"][1].status != "ok":
        # A GPU on the bus whose NVML is unusable still belongs in the inventory, by its PCI id.
        results["nvidia"] = (nvidia_pci_accelerators(ctx), results["nvidia"][1])
    accelerators: list[Accelerator] = []
    for name in ("nvidia", "amd", "tpu", "torch_devices"):
        accelerators.extend(results[name][0] or [])
    for acc in accelerators:
        apply_peaks(acc)

    statuses = [host_status, cgroup_status, cpu_status, memory_status]
    statuses += [results[name][1] for name in ("nvidia", "amd", "tpu", "torch_devices", "storage")]
    statuses += software_statuses
    return MachineProfile(
        schema_version=SCHEMA_VERSION,
        infrabench_version=__version__,
        collected_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        host=host,
        cpu=cpu,
        memory=memory,
        accelerators=accelerators,
        storage=results["storage"][0],
        software=software_record,
        probes=statuses,
    )


def profile_schema() -> dict[str, Any]:
    """The JSON Schema a profile validates against; shipped inside the package."""
    text = resources.files("infrabench.probes").joinpath("schema/machine_profile.schema.json").read_text()
    return json.loads(text)


def validate_profile(data: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when `data` is not a valid MachineProfile."""
    import jsonschema

    jsonschema.validate(data, profile_schema())
