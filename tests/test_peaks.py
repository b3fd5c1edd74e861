"""SKU resolution and theoretical peaks: anchored names, PCI ids, disambiguation, never a neighbour."""

from __future__ import annotations

import pytest
from infrabench.probes.accelerator import Accelerator
from infrabench.probes.peaks import (
    DTYPES,
    SKUS,
    accelerator_peaks,
    apply_peaks,
    mig_scaled,
    override_peaks,
    peak_memory_bandwidth_gbs,
    resolve_sku,
    tpu_kind_to_sku,
)
from infrabench.probes.record import unexplained_nulls

GIB = 2**30
# Memory as NVML reports it on real boards (nvidia-smi / deviceQuery): H100 80GB HBM3 shows
# 81559 MiB (thamada/nvidia-smi H100SXMx8_deviceQuery: "81106 MBytes (85045477376 bytes)").
H100_MEMORY_BYTES = 85045477376


def peak(peaks, dtype):
    return next(p for p in peaks if p.dtype == dtype)


@pytest.mark.parametrize(
    ("name", "sku"),
    [
        ("NVIDIA L40S", "L40S"),
        ("NVIDIA L40", "L40"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA H200", "H200 SXM"),
        ("NVIDIA H200 NVL", "H200 NVL"),
        ("NVIDIA H20", "H20"),
        ("NVIDIA H100 80GB HBM3", "H100 SXM"),
        ("NVIDIA H100 PCIe", "H100 PCIe"),
        ("NVIDIA H100 NVL", "H100 NVL"),
        ("NVIDIA A100-SXM4-80GB", "A100 SXM 80GB"),
        ("NVIDIA A100-SXM4-40GB", "A100 SXM 40GB"),
        ("NVIDIA A100 80GB PCIe", "A100 PCIe 80GB"),
        ("NVIDIA A100-PCIE-40GB", "A100 PCIe 40GB"),
        ("NVIDIA A10", "A10"),
        ("Tesla T4", "T4"),
        ("NVIDIA B200", "B200"),
    ],
)
def test_nvidia_names_match_their_own_sku_only(name, sku):
    match = resolve_sku("nvidia", name)
    assert match.sku == sku, match.reason
    assert match.confidence == "exact"


def test_l4_is_not_l40_and_h20_is_not_h200():
    assert resolve_sku("nvidia", "NVIDIA L4").sku != resolve_sku("nvidia", "NVIDIA L40").sku
    assert resolve_sku("nvidia", "NVIDIA H20").sku == "H20"
    assert resolve_sku("nvidia", "NVIDIA H200").sku == "H200 SXM"


@pytest.mark.parametrize("name", ["NVIDIA GH200 480GB", "NVIDIA A10G", "NVIDIA H800", "NVIDIA L40G",
                                  "NVIDIA GeForce RTX 4090", "NVIDIA L4000"])
def test_neighbours_never_borrow_a_figure(name):
    match = resolve_sku("nvidia", name)
    assert match.sku is None
    assert match.reason


def test_unknown_gpu_gets_no_sku_and_every_peak_is_null_with_a_reason():
    match = resolve_sku("nvidia", "NVIDIA GeForce Super 9999")
    assert match.sku is None
    assert "GeForce Super 9999" in match.reason
    peaks = accelerator_peaks(match.sku, match.reason)
    assert [p.dtype for p in peaks] == list(DTYPES)
    for p in peaks:
        assert p.tflops is None
        assert p.reason and "GeForce Super 9999" in p.reason
        assert p.confidence == "unknown"
    assert peak_memory_bandwidth_gbs(None) is None


def test_h100_sxm_and_pcie_by_pci_id():
    sxm = resolve_sku("nvidia", "NVIDIA H100", 0x2330)
    pcie = resolve_sku("nvidia", "NVIDIA H100", 0x2331)
    assert (sxm.sku, sxm.method) == ("H100 SXM", "pci_id")
    assert (pcie.sku, pcie.method) == ("H100 PCIe", "pci_id")
    assert resolve_sku("nvidia", None, 0x2321).sku == "H100 NVL"
    assert resolve_sku("nvidia", None, 0x2335).sku == "H200 SXM"
    assert resolve_sku("nvidia", None, 0x2329).sku == "H20"


def test_h100_sxm_and_pcie_without_id_by_memory_and_power():
    sxm = resolve_sku("nvidia", "NVIDIA H100", None, H100_MEMORY_BYTES, 700.0)
    pcie = resolve_sku("nvidia", "NVIDIA H100", None, H100_MEMORY_BYTES, 350.0)
    nvl = resolve_sku("nvidia", "NVIDIA H100", None, 94 * GIB, 400.0)
    assert sxm.sku == "H100 SXM" and sxm.confidence == "computed"
    assert pcie.sku == "H100 PCIe" and pcie.confidence == "computed"
    assert nvl.sku == "H100 NVL"
    assert "memory" in sxm.method and "power" in sxm.method


def test_h100_without_power_stays_ambiguous():
    match = resolve_sku("nvidia", "NVIDIA H100", None, H100_MEMORY_BYTES, None)
    assert match.sku is None
    assert "ambiguous" in match.reason and "H100 SXM" in match.reason and "H100 PCIe" in match.reason


def test_a100_generic_name_told_apart_by_memory_and_power():
    assert resolve_sku("nvidia", "NVIDIA A100", None, 40 * GIB, 400).sku == "A100 SXM 40GB"
    assert resolve_sku("nvidia", "NVIDIA A100", None, 80 * GIB, 300).sku == "A100 PCIe 80GB"


def test_unlisted_pci_id_is_not_rescued_by_its_name():
    # 0x2339 is "GH100 [H100 SXM5 94GB]" in pci.ids: a different board; its name must not pick H100 NVL.
    match = resolve_sku("nvidia", "NVIDIA H100", 0x2339, 94 * GIB, 700)
    assert match.sku is None
    assert "0x2339" in match.reason


def test_name_contradicted_by_larger_memory_is_rejected():
    match = resolve_sku("nvidia", "NVIDIA H100 PCIe", None, 141 * GIB)
    assert match.sku is None
    assert "more than its datasheet" in match.reason


def test_amd_and_tpu_skus():
    assert resolve_sku("amd", "AMD Instinct MI300X").sku == "MI300X"
    assert resolve_sku("amd", None, 0x74A1).sku == "MI300X"
    assert resolve_sku("amd", None, 0x74A5).sku == "MI325X"
    # 0x740c is shared by MI250X and MI250: only the CU count per GCD (110 vs 104) tells them apart.
    assert resolve_sku("amd", None, 0x740C, 64 * GIB, None, 110).sku == "MI250X"
    assert resolve_sku("amd", None, 0x740C, 64 * GIB, None, 104).sku == "MI250"
    assert resolve_sku("amd", None, 0x740C, 64 * GIB).sku is None
    assert resolve_sku("google", None, 0x0063).sku == "TPU v5e"
    assert resolve_sku("google", "TPU v5 lite").sku == "TPU v5e"


@pytest.mark.parametrize(
    ("kind", "sku"),
    [
        ("TPU v4", "TPU v4"),
        ("TPU v5 lite", "TPU v5e"),
        ("TPU v5", "TPU v5p"),
        ("TPU v5p", "TPU v5p"),
        ("TPU v6 lite", "TPU v6e"),
        ("TPU v4 lite", None),
        ("TPU v5 lite pro", None),
        ("TPU7x", None),
        ("cpu", None),
    ],
)
def test_tpu_device_kind_mapping_is_anchored(kind, sku):
    assert tpu_kind_to_sku(kind) == sku


def test_h100_sxm_bf16_is_the_dense_half_of_the_sparsity_figure():
    peaks = accelerator_peaks("H100 SXM")
    bf16 = peak(peaks, "bf16")
    assert bf16.tflops == pytest.approx(989.5, abs=0.1)
    assert "halved" in bf16.basis["note"] or "half" in bf16.basis["note"]
    assert peak(peaks, "tf32").tflops == pytest.approx(494.5, abs=0.1)
    assert peak(peaks, "fp8").tflops == pytest.approx(1979, abs=0.5)
    assert peak_memory_bandwidth_gbs("H100 SXM") == 3350


def test_every_figure_has_a_source_and_confidence_and_every_gap_a_reason():
    for sku in SKUS:
        peaks = accelerator_peaks(sku)
        assert [p.dtype for p in peaks] == list(DTYPES)
        for p in peaks:
            if p.tflops is not None:
                assert p.source, (sku, p.dtype)
                assert p.confidence in ("exact", "family", "computed", "user"), (sku, p.dtype)
                assert p.tflops > 0
            else:
                assert p.reason, (sku, p.dtype)


def test_required_skus_are_in_the_table():
    required = ["A100 SXM 40GB", "A100 SXM 80GB", "A100 PCIe 40GB", "A100 PCIe 80GB", "H100 SXM", "H100 PCIe",
                "H100 NVL", "H200 SXM", "H200 NVL", "H20", "B200", "L40S", "L40", "L4", "A10", "T4", "MI300X",
                "MI250X", "MI325X", "TPU v4", "TPU v5e", "TPU v5p", "TPU v6e"]
    assert set(required) <= set(SKUS)


def test_figures_absent_where_the_hardware_has_no_such_mode():
    assert peak(accelerator_peaks("A100 SXM 80GB"), "fp8").tflops is None
    assert "FP8" in peak(accelerator_peaks("A100 SXM 80GB"), "fp8").reason
    assert peak(accelerator_peaks("T4"), "bf16").tflops is None
    assert peak(accelerator_peaks("TPU v5e"), "fp32").tflops is None
    assert peak(accelerator_peaks("TPU v5e"), "bf16").tflops == 197
    # H20 has no vendor datasheet: no figure, not a neighbour's.
    assert all(p.tflops is None for p in accelerator_peaks("H20"))


def test_mig_scaled_keeps_the_basis():
    scaled = mig_scaled(accelerator_peaks("A100 SXM 80GB"), 42, 98)
    bf16 = peak(scaled, "bf16")
    assert bf16.tflops == pytest.approx(312 * 42 / 98)
    assert bf16.confidence == "computed"
    assert bf16.basis["visible_units"] == 42 and bf16.basis["unscaled_tflops"] == 312
    assert peak(scaled, "fp8").tflops is None
    with pytest.raises(ValueError):
        mig_scaled(scaled, 0, 98)
    with pytest.raises(ValueError):
        mig_scaled(scaled, 99, 98)


def test_override_peaks_marks_user_figures():
    where = "infrabench.toml [tool.infrabench.peaks]"
    peaks = override_peaks(accelerator_peaks(None), {"bf16": 150.0}, where)
    bf16 = peak(peaks, "bf16")
    assert (bf16.tflops, bf16.confidence, bf16.source) == (150.0, "user", where)
    assert bf16.basis["replaced_tflops"] is None
    assert peak(peaks, "fp32").tflops is None
    with pytest.raises(ValueError):
        override_peaks(peaks, {"fp4": 1.0}, "x")
    with pytest.raises(ValueError):
        override_peaks(peaks, {"bf16": -1.0}, "x")


def test_apply_peaks_fills_an_nvml_style_record():
    acc = Accelerator(vendor="nvidia", kind="gpu", name="NVIDIA H100 80GB HBM3", pci_device_id="0x2330",
                      memory_total_bytes=H100_MEMORY_BYTES, power_limit_default_w=700.0)
    apply_peaks(acc)
    assert acc.sku == "H100 SXM"
    assert peak(acc.peaks, "bf16").tflops == pytest.approx(989.5, abs=0.1)
    assert acc.peak_memory_bandwidth_gbs == 3350
    assert acc.extra["sku_match"]["method"] == "pci_id"


def test_apply_peaks_unknown_device_explains_every_null():
    acc = Accelerator(vendor="nvidia", kind="gpu", name="NVIDIA GeForce Super 9999")
    apply_peaks(acc)
    acc.explain_nulls("not read in this test")
    assert acc.sku is None and "GeForce Super 9999" in acc.null_reasons["sku"]
    assert acc.peak_memory_bandwidth_gbs is None and acc.null_reasons["peak_memory_bandwidth_gbs"]
    assert all(p.tflops is None and p.reason for p in acc.peaks)
    assert unexplained_nulls(acc.to_dict()) == []


def test_apply_peaks_scales_a_partition_and_a_gcd():
    # MI300X in CPX mode: each partition is a device with 38 of the 304 CUs.
    part = Accelerator(vendor="amd", pci_device_id="0x74a1", compute_units=38)
    apply_peaks(part)
    assert part.sku == "MI300X"
    assert peak(part.peaks, "bf16").tflops == pytest.approx(1307.4 * 38 / 304)
    # MI250X: each GCD is a device with 110 of the package's 220 CUs and half its bandwidth.
    gcd = Accelerator(vendor="amd", name="AMD Instinct MI250X", pci_device_id="0x740c",
                      memory_total_bytes=64 * GIB, compute_units=110)
    apply_peaks(gcd)
    assert gcd.sku == "MI250X"
    assert peak(gcd.peaks, "bf16").tflops == pytest.approx(383 / 2)
    assert gcd.peak_memory_bandwidth_gbs == pytest.approx(3276.8 / 2)


def test_apply_peaks_tpu_from_pci_id():
    acc = Accelerator(vendor="google", kind="tpu", pci_device_id="0x006f")
    apply_peaks(acc)
    assert acc.sku == "TPU v6e"
    assert peak(acc.peaks, "bf16").tflops == 918
    assert acc.peak_memory_bandwidth_gbs == 1638
