"""Storage behind the paths a run reads and writes: mount, filesystem, block device, media, free space.

Datasets and checkpoints live on these paths; whether that is a local NVMe, a spinning disk, a
network share or RAM changes every I/O figure, so each path is traced from the mount table down
to the disk's sysfs queue.

Rotational trust (`rotational_trust`): the kernel's `queue/rotational` flag is only as good as
whoever set it.
- "low": virtual disks (virtio `vd*`, Xen `xvd*`, `loop`, `nbd`, `rbd`), any disk inside a virtual
  machine (CPU `hypervisor` flag or /sys/hypervisor/type), and device types without a rule here.
  The guest sees what the hypervisor emulates: virtio-blk reports rotational=1 by default whatever
  the backing store is.
- "medium": NVMe. The kernel marks NVMe non-rotational unless the controller sets the NVMe 2.0
  rotational-media bit, which is nearly always right on bare metal, but bridges, fabrics and
  cloud block volumes exposed as NVMe can still hide the real media.
- "high": SCSI/SATA disks (`sd*`, `hd*`) on bare metal, where the flag comes from the drive's own
  reported rotation rate.
A device-mapper or md device takes the lowest trust of the disks under it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .context import ProbeContext
from .record import Record

MOUNTINFO = "/proc/self/mountinfo"

# Filesystems with no single local block device under them, and why.
_NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "lustre", "beegfs", "gpfs", "afs", "glusterfs"}
_MEMORY_FS = {"tmpfs", "ramfs", "devtmpfs", "hugetlbfs"}
_HOST_SHARE_FS = {"9p", "virtiofs", "vboxsf", "prl_fs", "vmhgfs"}
_KERNEL_FS = {
    "proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "debugfs", "securityfs", "pstore", "bpf",
    "tracefs", "configfs", "fusectl", "binfmt_misc", "autofs", "efivarfs", "nsfs", "rpc_pipefs",
}

_LOW_TRUST_PREFIXES = {
    "vd": "virtio disk",
    "xvd": "Xen virtual disk",
    "loop": "loop device (file-backed)",
    "nbd": "network block device",
    "rbd": "Ceph RBD network block device",
}


@dataclass
class StorageRecord(Record):
    path: str | None = None  # as asked for
    resolved_path: str | None = None  # symlinks resolved
    exists: bool | None = None
    mount_point: str | None = None
    fs_type: str | None = None  # e.g. "ext4", "xfs", "overlay", "nfs4", "fuse.sshfs"
    # "local" | "network" | "memory" | "host_share" | "userspace" | "kernel" | "union"
    fs_kind: str | None = None
    mount_source: str | None = None  # e.g. "/dev/nvme0n1p2", "overlay", "tmpfs", "server:/export"
    read_only: bool | None = None
    block_device: str | None = None  # kernel name of the mounted device, e.g. "nvme0n1p2", "dm-0"
    disk: str | None = None  # whole disk the block device is on, e.g. "nvme0n1"
    backing_disks: list[str] | None = None  # disks under a dm/md device; [disk] otherwise
    sysfs_queue: str | None = None  # e.g. "/sys/block/nvme0n1/queue"
    rotational: bool | None = None
    rotational_trust: str | None = None  # "high" | "medium" | "low" (see module docstring)
    rotational_trust_reason: str | None = None
    model: str | None = None
    logical_block_size_bytes: int | None = None
    physical_block_size_bytes: int | None = None
    free_bytes: int | None = None  # available to this (unprivileged) user
    total_bytes: int | None = None


@dataclass(frozen=True)
class Mount:
    major_minor: str
    mount_point: str
    options: tuple[str, ...]
    fs_type: str
    source: str


_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def unescape_mount_field(field: str) -> str:
    """Undo mountinfo's octal escapes (space \\040, tab \\011, newline \\012, backslash \\134)."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    """Mounts in file order (a later mount on the same point hides an earlier one)."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        if len(fields) < sep + 3:
            continue
        mounts.append(
            Mount(
                major_minor=fields[2],
                mount_point=unescape_mount_field(fields[4]),
                options=tuple(fields[5].split(",")),
                fs_type=fields[sep + 1],
                source=unescape_mount_field(fields[sep + 2]),
            )
        )
    return mounts


def find_mount(mounts: list[Mount], path: str) -> Mount | None:
    """The mount covering `path`: longest matching mount point, the last one listed on a tie."""
    best: Mount | None = None
    for mount in mounts:
        mp = mount.mount_point
        covers = mp == "/" or path == mp or path.startswith(mp.rstrip("/") + "/")
        if covers and (best is None or len(mp) >= len(best.mount_point)):
            best = mount
    return best


def probe_storage(ctx: ProbeContext) -> list[StorageRecord]:
    """One record per path in ctx.storage_paths (default: the working directory and the temp dir)."""
    paths = list(ctx.storage_paths) or [Path.cwd(), Path(tempfile.gettempdir())]
    text = ctx.read_text(MOUNTINFO)
    mounts = parse_mountinfo(text) if text is not None else None
    virtual = _virtual_machine_evidence(ctx)
    records, seen = [], set()
    for path in paths:
        resolved = str(Path(os.path.expanduser(str(path))).resolve())
        if resolved in seen:
            continue
        seen.add(resolved)
        records.append(_probe_path(ctx, str(path), resolved, mounts, virtual))
    return records


def _probe_path(
    ctx: ProbeContext, path: str, resolved: str, mounts: list[Mount] | None, virtual: str | None
) -> StorageRecord:
    rec = StorageRecord(path=path, resolved_path=resolved, exists=os.path.exists(resolved))
    _fill_usage(rec, resolved)
    if mounts is None:
        rec.explain_nulls(f"{MOUNTINFO} not readable (not Linux, or /proc not mounted)")
        return rec
    mount = find_mount(mounts, resolved)
    if mount is None:
        rec.explain_nulls(f"no mount in {MOUNTINFO} covers this path")
        return rec
    rec.mount_point, rec.fs_type, rec.mount_source = mount.mount_point, mount.fs_type, mount.source
    rec.read_only = "ro" in mount.options
    kind, no_device_reason = _classify_fs(mount.fs_type)
    rec.fs_kind = kind
    if no_device_reason is not None:
        rec.explain_nulls(no_device_reason)
        return rec
    name = _block_device_name(ctx, mount)
    if name is None:
        rec.explain_nulls(
            f"{mount.fs_type} on {mount.source!r} (device {mount.major_minor}): no block device in /sys"
        )
        return rec
    rec.block_device = name
    rec.disk = _whole_disk(ctx, name)
    disks = _backing_disks(ctx, rec.disk)
    rec.backing_disks = disks
    rec.sysfs_queue = f"/sys/block/{rec.disk}/queue"
    _fill_media(ctx, rec, disks, virtual)
    return rec


def _fill_usage(rec: StorageRecord, resolved: str) -> None:
    if not rec.exists:
        rec.set_null("free_bytes", "path does not exist (yet)")
        rec.set_null("total_bytes", "path does not exist (yet)")
        return
    try:
        usage = shutil.disk_usage(resolved)
    except OSError as exc:
        rec.set_null("free_bytes", f"disk_usage failed: {exc}")
        rec.set_null("total_bytes", f"disk_usage failed: {exc}")
        return
    rec.free_bytes, rec.total_bytes = usage.free, usage.total


def _classify_fs(fs_type: str) -> tuple[str, str | None]:
    """(fs_kind, reason there is no block device or None when there should be one)."""
    if fs_type == "overlay":
        return "union", "overlay: no single block device (a union of directories of other filesystems)"
    if fs_type in _NETWORK_FS:
        return "network", f"{fs_type}: network filesystem, no local block device"
    if fs_type in _MEMORY_FS:
        return "memory", f"{fs_type}: memory-backed, no block device"
    if fs_type in _HOST_SHARE_FS:
        return "host_share", f"{fs_type}: directory shared from the host, no block device in this machine"
    if fs_type in _KERNEL_FS:
        return "kernel", f"{fs_type}: kernel pseudo-filesystem, no block device"
    if fs_type.startswith("fuse.") or fs_type == "fuse":
        return "userspace", f"{fs_type}: userspace (FUSE) filesystem, no block device known to the kernel"
    if fs_type == "zfs":
        return "local", "zfs: a dataset of a pool that may span several devices, no single block device"
    return "local", None


def _block_device_name(ctx: ProbeContext, mount: Mount) -> str | None:
    """Kernel name of the mounted device: from its major:minor, else from the source path under /dev."""
    major = mount.major_minor.split(":")[0]
    if major != "0":  # major 0 is an anonymous device (btrfs subvolumes, pseudo filesystems)
        link = ctx.path(f"/sys/dev/block/{mount.major_minor}")
        if link.exists():
            return link.resolve().name
    if mount.source.startswith("/dev/"):
        dev = ctx.path(mount.source)
        name = dev.resolve().name if dev.is_symlink() else Path(mount.source).name  # /dev/mapper/x -> dm-N
        if ctx.path(f"/sys/class/block/{name}").exists():
            return name
    return None


def _whole_disk(ctx: ProbeContext, name: str) -> str:
    """A partition's sysfs directory sits inside its disk's; anything else is its own disk."""
    if ctx.path(f"/sys/class/block/{name}/partition").exists():
        return ctx.path(f"/sys/class/block/{name}").resolve().parent.name
    return name


def _backing_disks(ctx: ProbeContext, disk: str, depth: int = 0) -> list[str]:
    """Disks under a dm-/md device (through its slaves, recursively); [disk] for a plain disk."""
    slaves_dir = ctx.path(f"/sys/block/{disk}/slaves")
    slaves = sorted(p.name for p in slaves_dir.iterdir()) if slaves_dir.is_dir() else []
    if not slaves or depth > 8:
        return [disk]
    out: list[str] = []
    for slave in slaves:
        for d in _backing_disks(ctx, _whole_disk(ctx, slave), depth + 1):
            if d not in out:
                out.append(d)
    return out


def _fill_media(ctx: ProbeContext, rec: StorageRecord, disks: list[str], virtual: str | None) -> None:
    flags = [ctx.read_int(f"/sys/block/{d}/queue/rotational") for d in disks]
    if any(f is None for f in flags):
        rec.set_null("rotational", f"/sys/block/{{{','.join(disks)}}}/queue/rotational not readable")
        rec.set_null("rotational_trust", "no rotational flag to trust")
        rec.set_null("rotational_trust_reason", "no rotational flag to trust")
    else:
        rec.rotational = any(f == 1 for f in flags)
        levels = [rotational_trust(d, virtual) for d in disks]
        order = {"low": 0, "medium": 1, "high": 2}
        level, reason = min(levels, key=lambda lr: order[lr[0]])
        rec.rotational_trust, rec.rotational_trust_reason = level, reason

    models = {d: (ctx.read_text(f"/sys/block/{d}/device/model") or "").strip() for d in disks}
    found = sorted({m for m in models.values() if m})
    if len(found) == 1:
        rec.model = found[0]
    elif found:
        rec.model = " + ".join(found)
    else:
        rec.set_null("model", f"no device/model in sysfs for {', '.join(disks)} (virtio-blk exposes none)")

    for field, leaf in (("logical_block_size_bytes", "logical_block_size"),
                        ("physical_block_size_bytes", "physical_block_size")):
        value = ctx.read_int(f"/sys/block/{rec.disk}/queue/{leaf}")
        if value is None:
            rec.set_null(field, f"/sys/block/{rec.disk}/queue/{leaf} not readable")
        else:
            setattr(rec, field, value)


def rotational_trust(disk: str, virtual: str | None) -> tuple[str, str]:
    """(level, reason) for how far `queue/rotational` of `disk` can be believed; see the module docstring."""
    for prefix, what in _LOW_TRUST_PREFIXES.items():
        if disk.startswith(prefix):
            return "low", f"{disk}: {what}; the flag describes the emulated device, not the media"
    if virtual is not None:
        return "low", f"{disk} inside a virtual machine ({virtual}); the guest sees what the hypervisor shows"
    if disk.startswith("nvme"):
        return "medium", (
            f"{disk}: NVMe is marked non-rotational unless the controller reports rotational media; "
            "bridges, fabrics and cloud volumes can hide the real media"
        )
    if disk.startswith(("sd", "hd")):
        return "high", f"{disk}: SCSI/SATA on bare metal, flag from the drive's reported rotation rate"
    return "low", f"{disk}: no rule for this device type"


def _virtual_machine_evidence(ctx: ProbeContext) -> str | None:
    cpuinfo = ctx.read_text("/proc/cpuinfo") or ""
    for line in cpuinfo.splitlines():
        if line.startswith("flags") and "hypervisor" in line.split(":", 1)[-1].split():
            return "CPU hypervisor flag"
    kind = (ctx.read_text("/sys/hypervisor/type") or "").strip()
    if kind:
        return f"/sys/hypervisor/type = {kind}"
    return None
