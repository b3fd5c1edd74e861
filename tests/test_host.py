"""Host probe: OS, virtualisation, container and scheduler detection on fake roots and this machine."""

from __future__ import annotations

import platform
import shutil
from pathlib import Path

from infrabench.probes.cgroups import detect_cgroup_version
from infrabench.probes.context import ProbeContext
from infrabench.probes.host import probe_host
from infrabench.probes.record import unexplained_nulls

DATA = Path(__file__).parent / "data"
# /etc/os-release of the recorded development machine (Debian 12).
DEBIAN_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'


def write(root: Path, rel: str, text: str = "") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def base_root(tmp_path: Path, cpuinfo: Path) -> Path:
    root = tmp_path / "root"
    write(root, "etc/os-release", DEBIAN_OS_RELEASE)
    write(root, "proc/sys/kernel/osrelease", "6.18.44-fc-v669\n")  # recorded on the development machine
    write(root, "proc/sys/kernel/arch", "x86_64\n")
    write(root, "proc/sys/kernel/hostname", "vm\n")
    write(root, "proc/cpuinfo", cpuinfo.read_text())
    return root


ZEN4 = DATA / "cpuinfo/zen4_kvm_root/proc/cpuinfo"
SPR = DATA / "cpuinfo/intel_xeon_platinum_8480c.cpuinfo"


def test_kvm_guest_in_docker_without_dmi(tmp_path):
    root = base_root(tmp_path, ZEN4)
    write(root, ".dockerenv")
    write(root, "sys/devices/system/clocksource/clocksource0/available_clocksource", "tsc kvm-clock \n")
    rec = probe_host(ProbeContext(root=root, env={}))
    assert rec.os == "Debian GNU/Linux 12 (bookworm)"
    assert (rec.kernel, rec.arch, rec.hostname) == ("6.18.44-fc-v669", "x86_64", "vm")
    assert rec.virtualized is True
    assert rec.hypervisor_vendor == "KVM" and "kvm-clock" in rec.hypervisor_vendor_source
    assert rec.dmi_sys_vendor is None and "absent" in rec.null_reasons["dmi_sys_vendor"]
    assert rec.container == "docker"
    assert rec.scheduler == "none" and rec.scheduler_env == {}
    assert rec.cgroup_version is None and "cgroup" in rec.null_reasons["cgroup_version"]
    assert unexplained_nulls(rec.to_dict()) == []


def test_dmi_names_the_hypervisor(tmp_path):
    root = base_root(tmp_path, ZEN4)
    write(root, "sys/class/dmi/id/sys_vendor", "Amazon EC2\n")
    write(root, "sys/class/dmi/id/product_name", "m7a.large\n")
    rec = probe_host(ProbeContext(root=root, env={}))
    assert rec.dmi_sys_vendor == "Amazon EC2" and rec.dmi_product_name == "m7a.large"
    assert rec.hypervisor_vendor.startswith("Amazon EC2") and rec.hypervisor_vendor_source == "DMI"


def test_bare_metal(tmp_path):
    rec = probe_host(ProbeContext(root=base_root(tmp_path, SPR), env={}))
    assert rec.virtualized is False
    assert rec.hypervisor_vendor is None and "not virtualised" in rec.null_reasons["hypervisor_vendor"]
    assert rec.container == "none"


def test_slurm_job_records_its_variables_only(tmp_path):
    env = {"SLURM_JOB_ID": "4242", "SLURM_NTASKS": "4", "SLURM_CPUS_ON_NODE": "16",
           "SLURM_JOB_GPUS": "0,1", "HOME": "/home/u", "AWS_SECRET_ACCESS_KEY": "x"}
    rec = probe_host(ProbeContext(root=base_root(tmp_path, ZEN4), env=env))
    assert rec.scheduler == "slurm" and rec.schedulers == ["slurm"]
    assert rec.scheduler_env == {"SLURM_JOB_ID": "4242", "SLURM_NTASKS": "4", "SLURM_CPUS_ON_NODE": "16",
                                 "SLURM_JOB_GPUS": "0,1"}


def test_kubernetes_pod_outranks_docker(tmp_path):
    root = base_root(tmp_path, ZEN4)
    write(root, ".dockerenv")
    write(root, "var/run/secrets/kubernetes.io/serviceaccount/namespace", "default")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "HOSTNAME": "bench-7d9f-abcde"}
    rec = probe_host(ProbeContext(root=root, env=env))
    assert rec.container == "kubernetes"
    assert rec.scheduler == "kubernetes" and rec.scheduler_env["HOSTNAME"] == "bench-7d9f-abcde"


def test_podman_lxc_pbs_lsf(tmp_path):
    root = base_root(tmp_path, ZEN4)
    write(root, "run/.containerenv")
    assert probe_host(ProbeContext(root=root, env={})).container == "podman"
    root2 = base_root(tmp_path / "b", ZEN4)
    rec = probe_host(ProbeContext(root=root2, env={"container": "lxc", "PBS_JOBID": "7.server"}))
    assert rec.container == "lxc" and rec.scheduler == "pbs"
    rec = probe_host(ProbeContext(root=root2, env={"LSB_JOBID": "99", "LSB_DJOB_NUMPROC": "8"}))
    assert rec.scheduler == "lsf" and rec.scheduler_env == {"LSB_JOBID": "99", "LSB_DJOB_NUMPROC": "8"}


def test_cgroup_version_from_fixture(tmp_path):
    root = base_root(tmp_path, ZEN4)
    shutil.copytree(DATA / "cgroup/v2_kubepods", root, dirs_exist_ok=True)
    assert probe_host(ProbeContext(root=root, env={})).cgroup_version == 2


def test_real_machine():
    ctx = ProbeContext()
    rec = probe_host(ctx)
    assert rec.kernel == platform.release()
    assert rec.arch == platform.machine()
    assert rec.cgroup_version == detect_cgroup_version(ctx)
    assert rec.container  # a detected kind or "none", never null
    assert unexplained_nulls(rec.to_dict()) == []
