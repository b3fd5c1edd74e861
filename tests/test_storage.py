"""Storage probe on fake mount tables and sysfs trees (tests/data/storage/README.md says where each
recorded value comes from), and once on this machine."""

from __future__ import annotations

import os
from pathlib import Path

from infrabench.probes.context import ProbeContext
from infrabench.probes.record import unexplained_nulls
from infrabench.probes.storage import find_mount, parse_mountinfo, probe_storage, unescape_mount_field

DATA = Path(__file__).parent / "data" / "storage"
CPU_FLAGS_BARE = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 avx2 fma\n"
CPU_FLAGS_VM = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 avx2 fma hypervisor\n"

# Device link targets as recorded on real machines (see tests/data/storage/README.md).
NVME0N1 = "devices/pci0000:00/0000:00:1d.0/0000:05:00.0/nvme/nvme0/nvme0n1"
SDA = "devices/pci0000:00/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0/block/sda"
SDB = "devices/pci0000:00/0000:00:17.0/ata3/host2/target2:0:0/2:0:0:0/block/sdb"
SDC = "devices/pci0000:00/0000:00:17.0/ata4/host3/target3:0:0/3:0:0:0/block/sdc"
VDA = "devices/pci0000:00/0000:00:02.0/virtio1/block/vda"
DM0 = "devices/virtual/block/dm-0"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _link(link: Path, target: str) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


def _disk(root: Path, devpath: str, majmin: str, rotational: int, model: str | None,
          partitions: dict[str, str] | None = None, logical: int = 512, physical: int = 4096) -> None:
    """A disk as the kernel lays it out: /sys/devices/... linked from /sys/block, class/block, dev/block."""
    name = devpath.rsplit("/", 1)[1]
    disk = root / "sys" / devpath
    _write(disk / "dev", majmin + "\n")
    _write(disk / "queue" / "rotational", f"{rotational}\n")
    _write(disk / "queue" / "logical_block_size", f"{logical}\n")
    _write(disk / "queue" / "physical_block_size", f"{physical}\n")
    (disk / "slaves").mkdir(parents=True, exist_ok=True)
    if model is not None:
        _write(disk / "device" / "model", model + "\n")
    _link(root / "sys" / "block" / name, f"../{devpath}")
    _link(root / "sys" / "class" / "block" / name, f"../../{devpath}")
    _link(root / "sys" / "dev" / "block" / majmin, f"../../{devpath}")
    for part, part_majmin in (partitions or {}).items():
        _write(disk / part / "partition", part[-1] + "\n")
        _write(disk / part / "dev", part_majmin + "\n")
        _link(root / "sys" / "class" / "block" / part, f"../../{devpath}/{part}")
        _link(root / "sys" / "dev" / "block" / part_majmin, f"../../{devpath}/{part}")


def _bare_metal(tmp_path: Path, cpuinfo: str = CPU_FLAGS_BARE) -> ProbeContext:
    root = tmp_path / "root"
    _write(root / "proc" / "self" / "mountinfo", (DATA / "mountinfo_bare_metal.txt").read_text())
    _write(root / "proc" / "cpuinfo", cpuinfo)
    _disk(root, NVME0N1, "259:0", 0, "Samsung SSD 970 EVO Plus 500GB",
          {"nvme0n1p1": "259:1", "nvme0n1p2": "259:2", "nvme0n1p3": "259:3"})
    _disk(root, SDA, "8:0", 1, "ST4000NM0035-1V4", {"sda1": "8:1"})
    _disk(root, SDB, "8:16", 1, "ST4000NM0035-1V4", {"sdb1": "8:17"})
    _disk(root, SDC, "8:32", 1, "WDC WD40EFRX-68N", {"sdc1": "8:33"})
    # LVM volume vg0-data: dm-0 on the nvme's third partition (slaves/ holds the partition's name).
    _disk(root, DM0, "253:0", 0, None)
    _link(root / "sys" / DM0 / "slaves" / "nvme0n1p3", f"../../../../../{NVME0N1}/nvme0n1p3")
    _link(root / "dev" / "mapper" / "vg0-data", "../dm-0")
    return ProbeContext(root=root, env={})


def _one(ctx: ProbeContext, path: str):
    ctx.storage_paths = [Path(path)]
    (rec,) = probe_storage(ctx)
    assert unexplained_nulls(rec.to_dict()) == []
    return rec


def test_unescape_and_parse_mountinfo() -> None:
    assert unescape_mount_field(r"/media/my\040disk\011tab\134x") == "/media/my disk\ttab\\x"
    mounts = parse_mountinfo((DATA / "mountinfo_bare_metal.txt").read_text())
    assert [m.mount_point for m in mounts][:3] == ["/proc", "/sys", "/"]
    assert mounts[2].major_minor == "259:2" and mounts[2].fs_type == "ext4"
    assert mounts[2].source == "/dev/nvme0n1p2"
    # Stacked on the same point: the later mount is the visible one.
    assert find_mount(mounts, "/var/lib/tornas/x").source == "/dev/sdb1"
    # Prefix must end at a path component: /datafoo is not under /data.
    assert find_mount(mounts, "/datafoo").mount_point == "/"


def test_nvme_partition_resolves_to_parent_disk(tmp_path: Path) -> None:
    rec = _one(_bare_metal(tmp_path), "/srv/models")
    assert rec.mount_point == "/" and rec.fs_type == "ext4" and rec.fs_kind == "local"
    assert rec.mount_source == "/dev/nvme0n1p2"
    assert rec.block_device == "nvme0n1p2"
    assert rec.disk == "nvme0n1"
    assert rec.backing_disks == ["nvme0n1"]
    assert rec.sysfs_queue == "/sys/block/nvme0n1/queue"
    assert rec.rotational is False
    assert rec.rotational_trust == "medium"
    assert rec.model == "Samsung SSD 970 EVO Plus 500GB"
    assert rec.logical_block_size_bytes == 512 and rec.physical_block_size_bytes == 4096


def test_nvme_inside_a_vm_is_low_trust(tmp_path: Path) -> None:
    rec = _one(_bare_metal(tmp_path, CPU_FLAGS_VM), "/srv/models")
    assert rec.disk == "nvme0n1"
    assert rec.rotational_trust == "low"
    assert "virtual machine" in rec.rotational_trust_reason


def test_virtio_vda_rotational_is_low_trust(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _write(root / "proc" / "self" / "mountinfo", (DATA / "mountinfo_kvm_guest.txt").read_text())
    _write(root / "proc" / "cpuinfo", CPU_FLAGS_VM)
    _disk(root, VDA, "254:0", 1, None)  # virtio-blk: rotational=1 and no device/model on this machine
    rec = _one(ProbeContext(root=root, env={}), "/srv/data")
    assert rec.block_device == "vda" and rec.disk == "vda"
    assert rec.rotational is True
    assert rec.rotational_trust == "low"
    assert "virtio" in rec.rotational_trust_reason
    assert rec.model is None and "model" in rec.null_reasons


def test_sata_disk_with_escaped_space_is_high_trust_on_bare_metal(tmp_path: Path) -> None:
    rec = _one(_bare_metal(tmp_path), "/media/my disk/photos")
    assert rec.mount_point == "/media/my disk"
    assert rec.block_device == "sdc1" and rec.disk == "sdc"
    assert rec.rotational is True
    assert rec.rotational_trust == "high"
    assert rec.model == "WDC WD40EFRX-68N"


def test_lvm_volume_traced_through_slaves(tmp_path: Path) -> None:
    rec = _one(_bare_metal(tmp_path), "/data/set")
    assert rec.fs_type == "xfs"
    assert rec.block_device == "dm-0" and rec.disk == "dm-0"
    assert rec.backing_disks == ["nvme0n1"]
    assert rec.rotational is False and rec.rotational_trust == "medium"
    assert rec.model == "Samsung SSD 970 EVO Plus 500GB"


def test_tmpfs_has_no_block_device(tmp_path: Path) -> None:
    rec = _one(_bare_metal(tmp_path), "/dev/shm/x")
    assert rec.fs_type == "tmpfs" and rec.fs_kind == "memory"
    assert rec.block_device is None and rec.rotational is None
    assert rec.null_reasons["block_device"] == "tmpfs: memory-backed, no block device"


def test_overlay_has_no_block_device(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _write(root / "proc" / "self" / "mountinfo", (DATA / "mountinfo_docker.txt").read_text())
    rec = _one(ProbeContext(root=root, env={}), "/workspace")
    assert rec.fs_type == "overlay" and rec.mount_source == "overlay"
    assert rec.block_device is None
    assert rec.null_reasons["block_device"].startswith("overlay: no single block device")


def test_network_and_fuse_filesystems(tmp_path: Path) -> None:
    ctx = _bare_metal(tmp_path)
    nfs = _one(ctx, "/mnt/offload/ckpt")
    assert nfs.fs_type == "nfs4" and nfs.fs_kind == "network" and nfs.block_device is None
    assert "network filesystem" in nfs.null_reasons["rotational"]
    fuse = _one(ctx, "/mnt/remote")
    assert fuse.fs_type == "fuse.sshfs" and fuse.fs_kind == "userspace" and fuse.block_device is None


def test_missing_path_has_no_usage_but_still_a_mount(tmp_path: Path) -> None:
    rec = _one(_bare_metal(tmp_path), "/srv/not/there/yet")
    assert rec.exists is False
    assert rec.free_bytes is None and "does not exist" in rec.null_reasons["free_bytes"]
    assert rec.disk == "nvme0n1"


def test_no_mountinfo(tmp_path: Path) -> None:
    ctx = ProbeContext(root=tmp_path, env={}, storage_paths=[tmp_path])
    (rec,) = probe_storage(ctx)
    assert rec.mount_point is None and "mountinfo not readable" in rec.null_reasons["mount_point"]
    assert rec.free_bytes is not None and rec.free_bytes > 0  # the real path still has real usage


def test_real_machine(tmp_path: Path) -> None:
    (rec,) = probe_storage(ProbeContext(storage_paths=[tmp_path]))
    assert unexplained_nulls(rec.to_dict()) == []
    assert rec.exists is True and rec.resolved_path == str(tmp_path.resolve())
    assert rec.mount_point is not None and rec.fs_type
    assert 0 < rec.free_bytes <= rec.total_bytes
    if rec.block_device is not None:
        # The traced device is the one the kernel says holds the directory.
        st_dev = os.stat(tmp_path).st_dev
        dev_file = Path("/sys/class/block") / rec.block_device / "dev"
        assert dev_file.read_text().strip() == f"{os.major(st_dev)}:{os.minor(st_dev)}"
        assert rec.rotational in (True, False) and rec.rotational_trust in ("low", "medium", "high")


def test_default_paths_are_cwd_and_tempdir() -> None:
    recs = probe_storage(ProbeContext())
    resolved = {r.resolved_path for r in recs}
    assert str(Path.cwd().resolve()) in resolved
    assert 1 <= len(recs) <= 2
