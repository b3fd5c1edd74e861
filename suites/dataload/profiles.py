"""Accelerator profiles: how many samples one accelerator takes per step (B) and how long it computes (t_c).

The t_c figures are approximations from published per-accelerator training throughput classes, not
measurements of this machine; each carries its basis. A profile built from the training step this
machine measured in the same run is added by the verdict (basis "measured").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

THRESHOLD_AU = 0.90
TINY_STEP_THRESHOLD_AU = 0.70
TINY_STEP_S = 0.010  # a step this short (or a profile marked tiny) is judged at 70%, as MLPerf Storage does


@dataclass(frozen=True)
class AccelProfile:
    name: str
    workload: str
    accelerator: str
    format: str  # dataset the workload reads
    batch_per_accel: int  # B
    step_s: float  # t_c
    basis: str
    tiny_step: bool = False

    @property
    def threshold(self) -> float:
        return TINY_STEP_THRESHOLD_AU if (self.tiny_step or self.step_s < TINY_STEP_S) else THRESHOLD_AU

    def required_samples_per_s(self, n: int) -> float:
        """required = N * B / t_c."""
        return n * self.batch_per_accel / self.step_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "threshold_au": self.threshold}


PROFILES: tuple[AccelProfile, ...] = (
    AccelProfile("resnet50_a100", "image classification (ResNet-50, JPEG)", "NVIDIA A100 SXM", "jpeg", 256,
                 256 / 2600, "approx. 2,600 images/s per A100 (mixed precision, published training class)"),
    AccelProfile("resnet50_h100", "image classification (ResNet-50, JPEG)", "NVIDIA H100 SXM", "jpeg", 256,
                 256 / 5600, "approx. 5,600 images/s per H100 (mixed precision, published training class)"),
    AccelProfile("llm8b_h100", "LLM pre-training (8B params, token stream, seq 1024)", "NVIDIA H100 SXM", "memmap",
                 8, 8 * 1024 / 9000, "approx. 9,000 tokens/s per H100 (about 40% MFU at 6*8e9 FLOPs/token)"),
    AccelProfile("llm125m_h100", "LLM pre-training (125M params, token stream, seq 1024)", "NVIDIA H100 SXM",
                 "memmap", 16, 16 * 1024 / 530_000,
                 "approx. 530,000 tokens/s per H100 (about 40% MFU at 6*1.25e8 FLOPs/token)", tiny_step=True),
    AccelProfile("segmentation_a100", "image segmentation (uint8 volumes in .npy shards)", "NVIDIA A100 SXM", "npy",
                 32, 32 / 1200, "approx. 1,200 samples/s per A100 at 3x128x128 (illustrative)"),
    AccelProfile("tabular_a100", "tabular / recommendation MLP (Parquet)", "NVIDIA A100 SXM", "parquet", 4096,
                 4096 / 400_000, "approx. 400,000 rows/s per A100 (illustrative)", tiny_step=True),
)


def by_name(name: str) -> AccelProfile:
    for p in PROFILES:
        if p.name == name:
            return p
    raise ValueError(f"unknown accelerator profile {name!r}")
