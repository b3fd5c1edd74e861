"""cgroup v1/v2 limits read from fake roots built from tests/data/cgroup (see its README)."""

from __future__ import annotations

import shutil
from pathlib import Path

from infrabench.probes.cgroups import detect_cgroup_version, parse_cpu_list, probe_cgroups
from infrabench.probes.context import ProbeContext
from infrabench.probes.record import unexplained_nulls

DATA = Path(__file__).parent / "data" / "cgroup"
GIB = 1 << 30
V1_MEMORY_LEAF = "sys/fs/cgroup/memory/process_api/962f92d8b7917498501f02fc56060533"
V2_POD = ("sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/"
          "kubepods-burstable-pod7c1e52f6_3b0e_4a49_9d43_2f4c7d1b8e90.slice")
V2_CONTAINER = f"{V2_POD}/cri-containerd-5b0f3c1d9e8a.scope"


def fake_root(tmp_path: Path, name: str) -> Path:
    root = tmp_path / "root"
    shutil.copytree(DATA / name, root)
    return root


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def probe(root: Path):
    return probe_cgroups(ProbeContext(root=root, env={}))


def test_parse_cpu_list():
    assert parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert parse_cpu_list("1") == [1]
    assert parse_cpu_list("") is None
    assert parse_cpu_list("garbage") is None


def test_v1_recorded_machine_is_unlimited(tmp_path):
    rec = probe(fake_root(tmp_path, "v1_this_machine"))
    assert rec.version == 1  # the cgroup2 mount at /sys/fs/cgroup/unified does not make it v2
    assert rec.cpu_quota_cores is None
    assert "-1" in rec.null_reasons["cpu_quota_cores"]
    assert rec.memory_limit_bytes is None  # 9223372036854771712 is the kernel's "no limit"
    assert "unlimited" in rec.null_reasons["memory_limit_bytes"]
    assert rec.cpuset_cpus == [0, 1]
    assert rec.controller_paths["memory"] == "/process_api/962f92d8b7917498501f02fc56060533"
    assert rec.notes == []  # the memory cgroup path exists under the mount
    assert unexplained_nulls(rec.to_dict()) == []


def test_v1_quota_of_one_and_a_half_cores(tmp_path):
    root = fake_root(tmp_path, "v1_this_machine")
    write(root, "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "150000\n")
    assert probe(root).cpu_quota_cores == 1.5


def test_v1_parent_memory_limit_tighter_than_leaf(tmp_path):
    root = fake_root(tmp_path, "v1_this_machine")
    write(root, f"{V1_MEMORY_LEAF}/memory.limit_in_bytes", f"{16 * GIB}\n")
    write(root, "sys/fs/cgroup/memory/process_api/memory.limit_in_bytes", f"{8 * GIB}\n")
    assert probe(root).memory_limit_bytes == 8 * GIB


def test_v1_host_path_missing_in_container_falls_back_to_mount_root(tmp_path):
    root = fake_root(tmp_path, "v1_this_machine")
    cgroup = (root / "proc/self/cgroup").read_text().replace(
        "memory:/process_api/962f92d8b7917498501f02fc56060533", "memory:/docker/0123abcd")
    write(root, "proc/self/cgroup", cgroup)
    write(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", f"{4 * GIB}\n")
    rec = probe(root)
    assert rec.memory_limit_bytes == 4 * GIB
    assert any("/docker/0123abcd" in note for note in rec.notes)


def test_v2_pod_container_limits(tmp_path):
    rec = probe(fake_root(tmp_path, "v2_kubepods"))
    assert rec.version == 2
    assert rec.path == "/" + V2_CONTAINER.removeprefix("sys/fs/cgroup/")
    assert rec.cpu_quota_cores == 1.5
    assert rec.memory_limit_bytes == 8 * GIB  # the pod's 8 GiB beats the container's 16 GiB
    assert rec.cpuset_cpus == [0, 1]
    assert unexplained_nulls(rec.to_dict()) == []


def test_v2_unlimited_everywhere(tmp_path):
    root = fake_root(tmp_path, "v2_kubepods")
    write(root, f"{V2_CONTAINER}/cpu.max", "max 100000\n")
    write(root, f"{V2_CONTAINER}/memory.max", "max\n")
    write(root, f"{V2_POD}/memory.max", "max\n")
    rec = probe(root)
    assert rec.cpu_quota_cores is None and "max" in rec.null_reasons["cpu_quota_cores"]
    assert rec.memory_limit_bytes is None and "max" in rec.null_reasons["memory_limit_bytes"]


def test_v2_parent_quota_tighter(tmp_path):
    root = fake_root(tmp_path, "v2_kubepods")
    write(root, f"{V2_POD}/cpu.max", "50000 100000\n")
    assert probe(root).cpu_quota_cores == 0.5


def test_v2_namespaced_container_reads_the_mount_root(tmp_path):
    # Without a cgroup namespace the host path is shown but the container mounts only its own cgroup.
    root = fake_root(tmp_path, "v2_kubepods")
    write(root, "proc/self/cgroup", "0::/system.slice/docker-4b1c.scope\n")
    write(root, "sys/fs/cgroup/cpu.max", "200000 100000\n")
    rec = probe(root)
    assert rec.cpu_quota_cores == 2.0
    assert any("docker-4b1c.scope" in note for note in rec.notes)


def test_no_cgroup_filesystem(tmp_path):
    rec = probe(tmp_path)
    assert detect_cgroup_version(ProbeContext(root=tmp_path, env={})) is None
    assert rec.version is None
    assert "no cgroup filesystem" in rec.null_reasons["memory_limit_bytes"]
    assert unexplained_nulls(rec.to_dict()) == []


def test_real_machine():
    rec = probe_cgroups(ProbeContext())
    assert unexplained_nulls(rec.to_dict()) == []
    if rec.version is not None:
        assert rec.version in (1, 2)
