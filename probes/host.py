"""The host a run happened on: OS, kernel, virtualisation, container and batch scheduler.

Numbers from a VM, a container or a scheduler allocation mean something different from bare metal
(noisy neighbours, hidden clocks, capped CPUs), so a report has to say which one it came from.
"""

from __future__ import annotations

import platform
import socket
from dataclasses import dataclass, field
from pathlib import Path

from .cgroups import detect_cgroup_version
from .context import ProbeContext
from .record import Record

# DMI sys_vendor / product_name fragments -> hypervisor, as the kernel's DMI tables and
# systemd-detect-virt (src/basic/virt.c, dmi_vendor_table) name them.
DMI_HYPERVISORS: tuple[tuple[str, str], ...] = (
    ("KVM", "KVM"),
    ("QEMU", "QEMU"),
    ("Amazon EC2", "Amazon EC2 (Nitro/KVM)"),
    ("Google Compute Engine", "Google Compute Engine (KVM)"),
    ("VMware", "VMware"),
    ("VMW", "VMware"),
    ("innotek GmbH", "VirtualBox"),
    ("VirtualBox", "VirtualBox"),
    ("Xen", "Xen"),
    ("Bochs", "Bochs"),
    ("Parallels", "Parallels"),
    ("OpenStack", "OpenStack (KVM)"),
    ("Virtual Machine", "Microsoft Hyper-V"),  # Hyper-V product_name; sys_vendor is "Microsoft Corporation"
)
# Paravirtual clock sources the guest kernel registers, by hypervisor.
CLOCKSOURCE_HYPERVISORS = {
    "kvm-clock": "KVM", "xen": "Xen", "hyperv_clocksource_tsc_page": "Microsoft Hyper-V",
}

SCHEDULER_VARS: dict[str, tuple[str, ...]] = {
    "slurm": (
        "SLURM_JOB_ID", "SLURM_JOB_NAME", "SLURM_JOB_PARTITION", "SLURM_NNODES", "SLURM_NTASKS",
        "SLURM_CPUS_ON_NODE", "SLURM_CPUS_PER_TASK", "SLURM_JOB_CPUS_PER_NODE", "SLURM_MEM_PER_NODE",
        "SLURM_MEM_PER_CPU", "SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "SLURM_GPUS_ON_NODE",
        "SLURM_JOB_NODELIST", "SLURM_PROCID", "SLURM_LOCALID",
    ),
    "pbs": ("PBS_JOBID", "PBS_JOBNAME", "PBS_QUEUE", "PBS_NODEFILE", "PBS_NUM_NODES", "PBS_NUM_PPN", "NCPUS"),
    "lsf": ("LSB_JOBID", "LSB_JOBNAME", "LSB_QUEUE", "LSB_HOSTS", "LSB_MCPU_HOSTS", "LSB_DJOB_NUMPROC"),
    "kubernetes": (
        "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "HOSTNAME", "POD_NAME", "POD_NAMESPACE",
        "NODE_NAME",
    ),
}
SCHEDULER_MARKERS = {"slurm": "SLURM_JOB_ID", "pbs": "PBS_JOBID", "lsf": "LSB_JOBID",
                     "kubernetes": "KUBERNETES_SERVICE_HOST"}


@dataclass
class HostRecord(Record):
    os: str | None = None
    kernel: str | None = None
    arch: str | None = None
    hostname: str | None = None
    virtualized: bool | None = None  # the CPU's `hypervisor` flag
    hypervisor_vendor: str | None = None
    hypervisor_vendor_source: str | None = None  # where the vendor name was read
    dmi_sys_vendor: str | None = None
    dmi_product_name: str | None = None
    container: str | None = None  # kubernetes | podman | docker | lxc | none
    container_evidence: list[str] = field(default_factory=list)
    cgroup_version: int | None = None
    scheduler: str | None = None  # slurm | pbs | lsf | kubernetes | none
    schedulers: list[str] = field(default_factory=list)  # all detected (Slurm inside Kubernetes happens)
    scheduler_env: dict[str, str] = field(default_factory=dict)


def _is_real_root(ctx: ProbeContext) -> bool:
    return Path(ctx.root).resolve() == Path("/")


def _os_release(ctx: ProbeContext) -> str | None:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        text = ctx.read_text(path)
        if text is None:
            continue
        for line in text.splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"').strip("'") or None
    return None


def _first_line(ctx: ProbeContext, path: str) -> str | None:
    text = ctx.read_text(path)
    value = text.strip() if text else ""
    return value or None


def machine_arch(ctx: ProbeContext) -> str | None:
    """Kernel machine name (x86_64, aarch64), from procfs so a fake root answers for itself."""
    arch = _first_line(ctx, "/proc/sys/kernel/arch")
    if arch is None and _is_real_root(ctx):
        arch = platform.machine() or None
    return arch


def _cpuinfo_flags(ctx: ProbeContext) -> set[str] | None:
    text = ctx.read_text("/proc/cpuinfo")
    if text is None:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def _hypervisor_vendor(ctx: ProbeContext, rec: HostRecord) -> tuple[str | None, str]:
    """Vendor name and where it came from, or None and why not."""
    hv_type = _first_line(ctx, "/sys/hypervisor/type")
    if hv_type:
        return hv_type.capitalize() if hv_type == "xen" else hv_type, "/sys/hypervisor/type"
    for text in (rec.dmi_sys_vendor, rec.dmi_product_name):
        for fragment, vendor in DMI_HYPERVISORS:
            if text and fragment.lower() in text.lower():
                return vendor, "DMI"
    clocks = _first_line(ctx, "/sys/devices/system/clocksource/clocksource0/available_clocksource")
    sources = (clocks or "").split()
    for source in sources:
        if source in CLOCKSOURCE_HYPERVISORS:
            return CLOCKSOURCE_HYPERVISORS[source], f"paravirtual clocksource {source}"
    if rec.virtualized:
        return None, "hypervisor flag set, but no /sys/hypervisor, DMI or paravirtual clocksource names it"
    if rec.virtualized is False:
        return None, "not virtualised (no hypervisor flag)"
    return None, "virtualisation unknown"


def _container(ctx: ProbeContext, rec: HostRecord) -> str:
    found: list[str] = []
    if ctx.env.get("KUBERNETES_SERVICE_HOST"):
        rec.container_evidence.append("KUBERNETES_SERVICE_HOST set")
        found.append("kubernetes")
    if ctx.path("/var/run/secrets/kubernetes.io").exists() or ctx.path("/run/secrets/kubernetes.io").exists():
        rec.container_evidence.append("/var/run/secrets/kubernetes.io exists")
        found.append("kubernetes")
    if ctx.path("/run/.containerenv").exists():
        rec.container_evidence.append("/run/.containerenv exists")
        found.append("podman")
    if ctx.path("/.dockerenv").exists():
        rec.container_evidence.append("/.dockerenv exists")
        found.append("docker")
    env_container = ctx.env.get("container", "")
    if env_container:
        rec.container_evidence.append(f"container={env_container} in the environment")
        found.append("lxc" if env_container.startswith("lxc") else env_container)
    init_cgroup = ctx.read_text("/proc/1/cgroup") or ""
    if "/lxc/" in init_cgroup or "/lxc.payload" in init_cgroup:
        rec.container_evidence.append("/proc/1/cgroup names an lxc cgroup")
        found.append("lxc")
    for kind in ("kubernetes", "podman", "docker", "lxc"):  # most specific first
        if kind in found:
            return kind
    return found[0] if found else "none"


def _scheduler(ctx: ProbeContext, rec: HostRecord) -> None:
    for name in ("slurm", "pbs", "lsf", "kubernetes"):  # batch schedulers outrank the pod they may run in
        if ctx.env.get(SCHEDULER_MARKERS[name]):
            rec.schedulers.append(name)
            for var in SCHEDULER_VARS[name]:
                if var in ctx.env:
                    rec.scheduler_env[var] = ctx.env[var]
    rec.scheduler = rec.schedulers[0] if rec.schedulers else "none"


def probe_host(ctx: ProbeContext) -> HostRecord:
    """OS, kernel, arch, hostname, virtualisation, container, cgroup version and scheduler."""
    rec = HostRecord()
    rec.os = _os_release(ctx)
    if rec.os is None:
        rec.set_null("os", "no PRETTY_NAME in /etc/os-release or /usr/lib/os-release")

    rec.kernel = _first_line(ctx, "/proc/sys/kernel/osrelease")
    if rec.kernel is None and _is_real_root(ctx):
        rec.kernel = platform.release() or None
    if rec.kernel is None:
        rec.set_null("kernel", "/proc/sys/kernel/osrelease unreadable")

    rec.arch = machine_arch(ctx)
    if rec.arch is None:
        rec.set_null("arch", "/proc/sys/kernel/arch unreadable")

    rec.hostname = _first_line(ctx, "/proc/sys/kernel/hostname")
    if rec.hostname is None and _is_real_root(ctx):
        rec.hostname = socket.gethostname() or None
    if rec.hostname is None:
        rec.set_null("hostname", "/proc/sys/kernel/hostname unreadable")

    flags = _cpuinfo_flags(ctx)
    if flags is None:
        rec.set_null("virtualized", "/proc/cpuinfo unreadable")
    elif rec.arch and not rec.arch.startswith(("x86", "i686", "i386")):
        rec.set_null("virtualized", f"no hypervisor CPU flag exists on {rec.arch}")
    else:
        rec.virtualized = "hypervisor" in flags

    dmi_reason = "/sys/class/dmi/id absent (no SMBIOS tables exposed, e.g. a microVM or non-x86 board)"
    for name in ("sys_vendor", "product_name"):
        value = _first_line(ctx, f"/sys/class/dmi/id/{name}")
        setattr(rec, f"dmi_{name}", value)
        if value is None:
            rec.set_null(f"dmi_{name}", dmi_reason if not ctx.path("/sys/class/dmi/id").exists()
                         else f"/sys/class/dmi/id/{name} unreadable")

    vendor, why = _hypervisor_vendor(ctx, rec)
    rec.hypervisor_vendor = vendor
    if vendor is None:
        rec.set_null("hypervisor_vendor", why)
        rec.set_null("hypervisor_vendor_source", why)
    else:
        rec.hypervisor_vendor_source = why

    rec.container = _container(ctx, rec)
    rec.cgroup_version = detect_cgroup_version(ctx)
    if rec.cgroup_version is None:
        rec.set_null("cgroup_version", "no cgroup filesystem under /sys/fs/cgroup")
    _scheduler(ctx, rec)
    return rec
