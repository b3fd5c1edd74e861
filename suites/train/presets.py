"""Model sizes and step counts per profile and device kind: CI-sized on CPUs, GPU-sized on accelerators.

The same configuration builds the model in every backend, so parameter counts and FLOPs agree.
`--profile standard` (and `full`) on an accelerator trains the GPU-size GPT (GPT-2 small shape, 124M
parameters with the tied head) in bf16.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class MLPConfig:
    """Tabular MLP: d_in -> hidden x layers (ReLU) -> classes, softmax cross-entropy."""

    batch: int = 256
    d_in: int = 256
    hidden: int = 512
    layers: int = 2  # hidden layers
    classes: int = 10

    @property
    def widths(self) -> list[int]:
        return [self.d_in] + [self.hidden] * self.layers + [self.classes]


@dataclass(frozen=True)
class CNNConfig:
    """32x32 images: stem conv, residual blocks at C channels, a stride-2 conv to 2C, residual blocks, pool, linear."""

    batch: int = 32
    channels: int = 16
    blocks: int = 1  # residual blocks per stage (two stages)
    image: int = 32
    in_channels: int = 3
    classes: int = 10


@dataclass(frozen=True)
class GPTConfig:
    """nanoGPT-like decoder: token + position embeddings, pre-LN blocks (causal attention, 4x GELU MLP), tied head."""

    batch: int = 8
    seq: int = 64
    d_model: int = 64
    layers: int = 2
    heads: int = 4
    vocab: int = 256

    @property
    def tokens(self) -> int:
        return self.batch * self.seq


ModelConfig = MLPConfig | CNNConfig | GPTConfig
MODELS: tuple[str, ...] = ("mlp", "cnn", "gpt")


@dataclass(frozen=True)
class Steps:
    warmup: int  # untimed steps after the first (compile) step
    timed: int  # one sample per step
    compile_budget_s: float  # torch.compile: a first step slower than this stops compiled runs of later models


@dataclass(frozen=True)
class Preset:
    model: str
    config: ModelConfig
    steps: Steps
    lr: float

    def params(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self.config)


_STEPS = {
    "quick": Steps(warmup=2, timed=15, compile_budget_s=60.0),
    "standard": Steps(warmup=10, timed=50, compile_budget_s=300.0),
    "full": Steps(warmup=20, timed=200, compile_budget_s=900.0),
}

_CPU: dict[str, dict[str, ModelConfig]] = {
    "quick": {"mlp": MLPConfig(256, 256, 512, 2, 10), "cnn": CNNConfig(16, 16, 1),
              "gpt": GPTConfig(8, 64, 64, 2, 4, 256)},
    "standard": {"mlp": MLPConfig(512, 512, 1024, 3, 10), "cnn": CNNConfig(64, 32, 2),
                 "gpt": GPTConfig(8, 128, 128, 4, 4, 512)},
    "full": {"mlp": MLPConfig(1024, 1024, 2048, 4, 10), "cnn": CNNConfig(128, 64, 2),
             "gpt": GPTConfig(16, 256, 256, 6, 8, 4096)},
}
_ACCEL: dict[str, dict[str, ModelConfig]] = {
    "quick": {"mlp": MLPConfig(4096, 1024, 4096, 3, 10), "cnn": CNNConfig(256, 64, 2),
              "gpt": GPTConfig(16, 256, 512, 6, 8, 8192)},
    # GPT-2 small shape (124M parameters with the tied head), nanoGPT's padded vocabulary.
    "standard": {"mlp": MLPConfig(8192, 2048, 8192, 4, 10), "cnn": CNNConfig(512, 128, 2),
                 "gpt": GPTConfig(16, 1024, 768, 12, 12, 50304)},
    "full": {"mlp": MLPConfig(16384, 4096, 8192, 4, 10), "cnn": CNNConfig(1024, 128, 3),
             "gpt": GPTConfig(32, 1024, 768, 12, 12, 50304)},
}
LR = {"mlp": 1e-3, "cnn": 1e-3, "gpt": 3e-3}


def preset_for(profile: str, device_kind: str, model: str, overrides: dict[str, Any] | None = None) -> Preset:
    """The preset for one model; `overrides` (from suite_args["train"]) replace config fields, steps or lr."""
    table = _CPU if device_kind == "cpu" else _ACCEL
    config = table[profile][model]
    steps = _STEPS[profile]
    lr = LR[model]
    if overrides:
        fields = {k: v for k, v in overrides.items() if k in config.__dataclass_fields__}
        config = replace(config, **fields)
        steps = replace(steps, **{k: v for k, v in overrides.items() if k in Steps.__dataclass_fields__})
        lr = float(overrides.get("lr", lr))
    return Preset(model, config, steps, lr)
