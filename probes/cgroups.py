"""Control-group limits on this process: what the container or job really lets it use.

A machine's CPU count and RAM overstate what a process in a container or batch job may use; the
cgroup quota, cpuset and memory limit are the real ceiling. cgroup v2 puts every controller in one
tree; v1 mounts one tree per controller. Limits are hierarchical, so we walk from this process's
cgroup up to the mount root and keep the tightest value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .context import ProbeContext
from .record import Record

CGROUP_ROOT = "/sys/fs/cgroup"
# v1 memory.limit_in_bytes reads PAGE_COUNTER_MAX * page size (9223372036854771712 with 4 KiB pages)
# when unlimited; anything this large is no limit on any real machine.
UNLIMITED_BYTES_THRESHOLD = 1 << 60
V1_CPU_DIRS = ("cpu,cpuacct", "cpuacct,cpu", "cpu")


@dataclass
class CgroupRecord(Record):
    """Tightest limits found between this process's cgroup and the hierarchy root."""

    version: int | None = None  # 1 or 2
    path: str | None = None  # this process's cgroup (v2), or the cpu controller's (v1)
    controller_paths: dict[str, str] | None = None  # v1: controller -> cgroup path
    cpu_quota_cores: float | None = None  # quota / period; None when unlimited or unreadable
    cpuset_cpus: list[int] | None = None
    memory_limit_bytes: int | None = None  # None when unlimited or unreadable
    notes: list[str] = field(default_factory=list)


def parse_cpu_list(text: str | None) -> list[int] | None:
    """Parse a kernel CPU list such as '0-3,8,10-11'; None when empty or malformed."""
    if text is None:
        return None
    cpus: set[int] = set()
    try:
        for part in text.strip().split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                lo, hi = part.split("-", 1)
                cpus.update(range(int(lo), int(hi) + 1))
            else:
                cpus.add(int(part))
    except ValueError:
        return None
    return sorted(cpus) or None


def detect_cgroup_version(ctx: ProbeContext) -> int | None:
    """2 when /sys/fs/cgroup is the unified hierarchy, 1 when per-controller trees are mounted."""
    if ctx.path(f"{CGROUP_ROOT}/cgroup.controllers").is_file():
        return 2
    if any(ctx.path(f"{CGROUP_ROOT}/{d}").is_dir() for d in (*V1_CPU_DIRS, "memory", "cpuset")):
        return 1
    return None


def _self_cgroups(ctx: ProbeContext) -> dict[str, str]:
    """Map each controller (and '' for the v2 unified entry) to this process's cgroup path."""
    text = ctx.read_text("/proc/self/cgroup") or ""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            out[""] = path
        for name in controllers.split(","):
            if name:
                out[name] = path
    return out


def _chain(mount: Path, cgroup_path: str | None, notes: list[str]) -> list[Path]:
    """Directories from this process's cgroup up to the mount root, leaf first.

    In a container the path in /proc/self/cgroup is the host's view and often does not exist under
    the container's mount (the container sees its own cgroup as the root), so fall back to the root.
    """
    leaf = mount
    if cgroup_path and cgroup_path.strip("/"):
        candidate = mount / cgroup_path.strip("/")
        if candidate.is_dir():
            leaf = candidate
        else:
            notes.append(f"cgroup path {cgroup_path} not found under {mount.name or mount}; "
                         "used the mount root")
    chain = [leaf]
    while leaf != mount and mount in leaf.parents:
        leaf = leaf.parent
        chain.append(leaf)
    return chain


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except PermissionError:
        raise
    except OSError:
        return None


def _to_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _quota_v2(text: str | None) -> float | None:
    """cpu.max is "$MAX $PERIOD"; $MAX "max" means no quota."""
    parts = (text or "").split()
    if len(parts) < 2 or parts[0] == "max":
        return None
    quota, period = _to_int(parts[0]), _to_int(parts[1])
    return quota / period if quota is not None and period else None


def _quota_v1(quota_text: str | None, period_text: str | None) -> float | None:
    quota, period = _to_int(quota_text or ""), _to_int(period_text or "")
    if quota is None or period is None or quota < 0 or period <= 0:  # quota -1 means unlimited
        return None
    return quota / period


def _bytes_limit(text: str | None) -> int | None:
    value = _to_int(text or "")
    return None if value is None or value >= UNLIMITED_BYTES_THRESHOLD else value


def _tightest(values: list[float | None]) -> float | None:
    real = [v for v in values if v is not None]
    return min(real) if real else None


def _first_cpuset(chain: list[Path], name: str) -> list[int] | None:
    for d in chain:  # the leaf-most non-empty list is the effective one
        cpus = parse_cpu_list(_read(d / name))
        if cpus:
            return cpus
    return None


def _probe_v2(ctx: ProbeContext, rec: CgroupRecord) -> None:
    mount = ctx.path(CGROUP_ROOT)
    path = _self_cgroups(ctx).get("")
    rec.path = path
    chain = _chain(mount, path, rec.notes)
    rec.cpu_quota_cores = _tightest([_quota_v2(_read(d / "cpu.max")) for d in chain])
    if rec.cpu_quota_cores is None:
        rec.null_reasons["cpu_quota_cores"] = "no CPU quota: cpu.max is 'max' or absent at every level"
    rec.cpuset_cpus = _first_cpuset(chain, "cpuset.cpus.effective") or _first_cpuset(chain, "cpuset.cpus")
    if rec.cpuset_cpus is None:
        rec.null_reasons["cpuset_cpus"] = "no cpuset.cpus.effective readable (cpuset controller not enabled)"
    limits = [_bytes_limit(_read(d / "memory.max")) for d in chain]
    rec.memory_limit_bytes = _tightest(limits)  # type: ignore[assignment]
    if rec.memory_limit_bytes is None:
        rec.null_reasons["memory_limit_bytes"] = (
            "no memory limit: memory.max is 'max' or absent at every level")
    rec.null_reasons["controller_paths"] = "cgroup v2 has one unified hierarchy; see path"


def _v1_mount(ctx: ProbeContext, names: tuple[str, ...]) -> Path | None:
    for name in names:
        p = ctx.path(f"{CGROUP_ROOT}/{name}")
        if p.is_dir():
            return p
    return None


def _probe_v1(ctx: ProbeContext, rec: CgroupRecord) -> None:
    paths = _self_cgroups(ctx)
    rec.controller_paths = {k: v for k, v in paths.items() if k in ("cpu", "cpuacct", "cpuset", "memory")}
    rec.path = paths.get("cpu")

    cpu_mount = _v1_mount(ctx, V1_CPU_DIRS)
    if cpu_mount is None:
        rec.null_reasons["cpu_quota_cores"] = "cgroup v1 cpu controller not mounted"
    else:
        chain = _chain(cpu_mount, paths.get("cpu"), rec.notes)
        quotas = [_quota_v1(_read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")) for d in chain]
        rec.cpu_quota_cores = _tightest(quotas)
        if rec.cpu_quota_cores is None:
            rec.null_reasons["cpu_quota_cores"] = "no CPU quota: cpu.cfs_quota_us is -1 at every level"

    cpuset_mount = _v1_mount(ctx, ("cpuset",))
    if cpuset_mount is None:
        rec.null_reasons["cpuset_cpus"] = "cgroup v1 cpuset controller not mounted"
    else:
        rec.cpuset_cpus = _first_cpuset(_chain(cpuset_mount, paths.get("cpuset"), rec.notes), "cpuset.cpus")
        if rec.cpuset_cpus is None:
            rec.null_reasons["cpuset_cpus"] = "cpuset.cpus empty or unreadable at every level"

    mem_mount = _v1_mount(ctx, ("memory",))
    if mem_mount is None:
        rec.null_reasons["memory_limit_bytes"] = "cgroup v1 memory controller not mounted"
    else:
        chain = _chain(mem_mount, paths.get("memory"), rec.notes)
        rec.memory_limit_bytes = _tightest(  # type: ignore[assignment]
            [_bytes_limit(_read(d / "memory.limit_in_bytes")) for d in chain]
        )
        if rec.memory_limit_bytes is None:
            rec.null_reasons["memory_limit_bytes"] = (
                "no memory limit: memory.limit_in_bytes unlimited at every level")


def probe_cgroups(ctx: ProbeContext) -> CgroupRecord:
    """Detect the cgroup version and the tightest CPU quota, cpuset and memory limit on this process."""
    rec = CgroupRecord()
    rec.version = detect_cgroup_version(ctx)
    if rec.version == 2:
        _probe_v2(ctx, rec)
    elif rec.version == 1:
        _probe_v1(ctx, rec)
    else:
        rec.explain_nulls(f"no cgroup filesystem under {CGROUP_ROOT}")
        return rec
    if rec.path is None:
        rec.null_reasons.setdefault("path", "/proc/self/cgroup unreadable or has no entry for this hierarchy")
    rec.explain_nulls("not reported by this cgroup version")
    return rec
