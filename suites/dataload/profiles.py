"""Accelerator profiles: how many samples one accelerator takes per step (B) and how long it computes (t_c).

The t_c figures are not measurements of this machine: each profile's basis says whether its rate is
published (with the document), computed (with the formula and any assumption) or assumed for
illustration. A profile built from the training step this
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


# Where each consumer rate comes from. Published: NVIDIA DeepLearningExamples, PyTorch ResNet-50 v1.5
# README, "Training performance: NVIDIA DGX A100 (8x A100 80GB)", 1 GPU, mixed precision: 2470 img/s
# (pytorch-21.03 NGC container). H100: that figure x 2, after Lambda's "NVIDIA H100 Tensor Core GPU - Deep
# Learning Performance Analysis" (vision models ~2x an A100 SXM). LLMs: computed from the H100 SXM dense
# bf16 datasheet peak (989.5 TFLOP/s) at an assumed 40% MFU and 6 x params FLOPs per token.
_A100_RESNET50_IMG_S = 2470.0
_H100_BF16_FLOPS = 989.5e12
_ASSUMED_MFU = 0.40


def _llm_tokens_per_s(params: float) -> float:
    return _H100_BF16_FLOPS * _ASSUMED_MFU / (6 * params)


PROFILES: tuple[AccelProfile, ...] = (
    AccelProfile("resnet50_a100", "image classification (ResNet-50, JPEG)", "NVIDIA A100 SXM", "jpeg", 256,
                 256 / _A100_RESNET50_IMG_S,
                 "published: 2,470 img/s per A100 80GB, mixed precision (NVIDIA DeepLearningExamples, "
                 "PyTorch ResNet-50 v1.5 README, 1-GPU training performance)"),
    AccelProfile("resnet50_h100", "image classification (ResNet-50, JPEG)", "NVIDIA H100 SXM", "jpeg", 256,
                 256 / (2 * _A100_RESNET50_IMG_S),
                 "computed: 2x the published A100 rate (4,940 img/s), after Lambda's H100 deep learning "
                 "performance analysis (vision models ~2x A100 SXM); not a per-GPU measurement"),
    AccelProfile("llm8b_h100", "LLM pre-training (8B params, token stream, seq 1024)", "NVIDIA H100 SXM", "memmap",
                 8, 8 * 1024 / _llm_tokens_per_s(8e9),
                 "computed: 989.5 TFLOP/s (H100 SXM dense bf16 datasheet) x 40% MFU (assumed) / (6 x 8e9 "
                 "FLOPs per token) = 8,246 tokens/s"),
    AccelProfile("llm125m_h100", "LLM pre-training (125M params, token stream, seq 1024)", "NVIDIA H100 SXM",
                 "memmap", 16, 16 * 1024 / _llm_tokens_per_s(1.25e8),
                 "computed: 989.5 TFLOP/s (H100 SXM dense bf16 datasheet) x 40% MFU (assumed) / (6 x 1.25e8 "
                 "FLOPs per token) = 527,733 tokens/s", tiny_step=True),
    AccelProfile("segmentation_a100", "image segmentation (uint8 volumes in .npy shards)", "NVIDIA A100 SXM", "npy",
                 32, 32 / 1200, "assumed for illustration (no published reference): 1,200 samples/s per A100 "
                 "at 3x128x128; pass your own rate to judge a real workload"),
    AccelProfile("tabular_a100", "tabular / recommendation MLP (Parquet)", "NVIDIA A100 SXM", "parquet", 4096,
                 4096 / 400_000, "assumed for illustration (no published reference): 400,000 rows/s per A100; "
                 "pass your own rate to judge a real workload", tiny_step=True),
)


def by_name(name: str) -> AccelProfile:
    for p in PROFILES:
        if p.name == name:
            return p
    raise ValueError(f"unknown accelerator profile {name!r}")
