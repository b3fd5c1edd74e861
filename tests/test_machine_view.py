"""MachineView: every stage asks the profile the same questions and gets the same answers.

The two-GPU profile is built by the real NVIDIA probe against the fake pynvml answering from recorded
nvidia-smi records (an H100 SXM node's GPU 0, and the recorded H200 with one MIG instance as GPU 1), so the
accelerators, SKUs and peaks are what the probe makes of real machines.
"""

from __future__ import annotations

import json

import pytest
from infrabench.probes.machine_view import MachineView
from infrabench.probes.peaks import apply_peaks
from infrabench.suites.result import BenchResult
from infrabench.suites.train.summary import verdict
from test_nvidia import fixture, make_ctx, make_root, probe

from infrabench.runfile import build_run, find_peak


@pytest.fixture(scope="module")
def two_gpus(tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("two_gpus")
    data = fixture("h100_sxm.json")
    mig = json.loads(json.dumps(fixture("h200.json")["gpus"][0]))
    mig.update(mig_mode=[1, 1], max_mig_device_count=7, mig_devices=[
        {"uuid": "MIG-00000000-0000-0000-0000-000000000000", "multiprocessor_count": 60, "memory_mib": 71168}])
    data["gpus"].append(mig)
    root = make_root(tmp, dev_nodes=2, pci={"0000:18:00.0": ("0x2330", "0x030200"),
                                            "0000:03:00.0": ("0x2335", "0x030200")})
    accs, status = probe(make_ctx(tmp, data, root))
    assert status.status == "ok", status.reason
    for acc in accs:
        apply_peaks(acc)
    return [a.to_dict() for a in accs]


def profile(accs: list[dict], visible: str | None) -> dict:
    env = {"CUDA_VISIBLE_DEVICES": visible} if visible is not None else {}
    return {"cpu": {"model_name": "test", "usable_cpus": 2, "peaks": []}, "accelerators": accs,
            "software": {"env": env}}


def result(suite: str, name: str, backend: str, device: str, seconds: float, work: dict, **kw) -> BenchResult:
    return BenchResult(suite, name, backend, device, "bf16", kw.pop("params", {"n": 1}), samples_s=[seconds] * 5,
                       iterations=1, work=work, **kw)


@pytest.mark.parametrize("visible", [None, "1", "1,0"])
def test_training_and_the_run_file_agree_on_the_peak_and_the_best_matmul(two_gpus, visible) -> None:
    prof = profile(two_gpus, visible)
    view = MachineView(prof)
    physical = view.accelerator("cuda:0")[0]
    assert physical["index"] == (1 if visible else 0)  # CUDA_VISIBLE_DEVICES renumbers, as torch does

    fast = result("matmul", "square", "torch", "cuda:0", 0.001, {"flops": 2e12})  # 2000 TFLOP/s
    slow = result("matmul", "square", "jax", "gpu:0", 0.004, {"flops": 2e12}, params={"n": 2})  # same GPU
    other = result("matmul", "square", "torch", "cuda:1", 0.0005, {"flops": 2e12})  # the other GPU: faster
    achieved = 500.0
    train = result("train", "gpt", "torch", "cuda:0", 0.01, {"samples": 8.0}, extra={"achieved_tflops": achieved})
    run = build_run([fast, slow, other, train], prof, {"suites": ["matmul", "train"]}, {}, False, "r", "j",
                    commit={})

    # The peak: the run file's (for the matmul) and the training suite's (for MFU) are the same lookup.
    file_peak, file_why = find_peak(prof, fast)
    train_peak, train_why = view.flops_peak("cuda:0", "bf16")
    assert (file_peak.value if file_peak else None) == (train_peak.value if train_peak else None)
    assert file_why == train_why is None
    # GPU 1 is the H200 with one 60-SM MIG instance: its peak is scaled to the visible SMs (60 of 132).
    assert file_peak.value == pytest.approx(989.5 * 60 / 132 if visible else 989.5, rel=1e-3)

    # The ceiling: % of best in the run file and the training verdict read the same matmul.
    by_name = {b.fullname: b for b in run.benchmarks}
    assert by_name[fast.fullname].pct_of_best == pytest.approx(100.0)
    assert by_name[slow.fullname].pct_of_best == pytest.approx(25.0)  # jax gpu:0 is torch cuda:0's GPU
    assert by_name[other.fullname].pct_of_best == pytest.approx(100.0)  # its own GPU's ceiling
    v = verdict([fast, slow, other, train], prof, {})["results"][train.fullname]
    assert v["attainable_from"] == fast.fullname and v["attainable_tflops"] == pytest.approx(2000.0)
    assert v["mfu_pct_of_attainable"] == pytest.approx(100.0 * achieved / 2000.0)


def test_usable_cpus_and_caches_come_from_the_profile() -> None:
    view = MachineView({"cpu": {"usable_cpus": 3, "caches": [
        {"name": "L1d", "size_bytes": 32768, "instances": 2}, {"name": "L1i", "size_bytes": 32768},
        {"name": "L3", "size_bytes": 32 << 20, "instances": 1}, {"name": "L2", "size_bytes": 1 << 20}]}})
    assert view.usable_cpus() == 3 and view.usable_cpus(requested=1) == 1
    assert [c.label for c in view.data_caches()] == ["L1", "L2", "L3"]
    assert view.last_level_cache_bytes() == 32 << 20
    assert MachineView({}).usable_cpus() >= 1 and MachineView(None).last_level_cache_bytes() is None


def test_device_keys_join_framework_names_for_one_device(two_gpus) -> None:
    view = MachineView(profile(two_gpus, "1,0"))
    assert view.device_key("cuda:0") == view.device_key("gpu:0") == "nvidia:1"
    assert view.device_key("cuda:1") == "nvidia:0"
    assert view.device_key("cpu") == view.device_key("cpu:0") == "cpu"
    assert MachineView({}).device_key("cuda:0") == MachineView({}).device_key("gpu:0")  # unresolved: by index
