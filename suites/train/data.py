"""Synthetic, learnable training data made with numpy from a fixed seed (never downloaded).

Every backend gets the very same arrays, so losses are comparable. The data has structure a model
can learn in a few steps (otherwise "the loss fell" would prove nothing): class templates plus noise
for the MLP (a pattern) and CNN (a colour), and a fixed next-token rule for the GPT. A few batches
rotate, so no step sees the same batch as the previous one.
"""

from __future__ import annotations

import numpy as np

from .presets import CNNConfig, GPTConfig, MLPConfig, ModelConfig

BATCHES = 4  # distinct batches, used in turn
SIGNAL = 0.5  # template amplitude over unit noise
IMAGE_SIGNAL = 1.0  # per-class colour amplitude over unit pixel noise


def _templates(rng: np.random.Generator, classes: int, shape: tuple[int, ...], batch: int,
               template_shape: tuple[int, ...] | None = None, signal: float = SIGNAL
               ) -> list[tuple[np.ndarray, np.ndarray]]:
    templates = rng.standard_normal((classes, *(template_shape or shape)), dtype=np.float32)
    out = []
    for _ in range(BATCHES):
        y = rng.integers(0, classes, size=batch)
        x = rng.standard_normal((batch, *shape), dtype=np.float32) + signal * templates[y]
        out.append((x.astype(np.float32), y.astype(np.int64)))
    return out


def gpt_tokens(c: GPTConfig, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sequences following x[t+1] = (a*x[t] + b) mod V from random starts; targets are inputs shifted by one."""
    a, b = 5, 3  # a coprime with any vocab that is a power of two
    out = []
    for _ in range(BATCHES):
        seq = np.empty((c.batch, c.seq + 1), dtype=np.int64)
        seq[:, 0] = rng.integers(0, c.vocab, size=c.batch)
        for t in range(c.seq):
            seq[:, t + 1] = (a * seq[:, t] + b) % c.vocab
        out.append((seq[:, :-1].copy(), seq[:, 1:].copy()))
    return out


def make_batches(model: str, c: ModelConfig, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """BATCHES (inputs, targets) pairs: MLP (B, d_in), CNN (B, 3, H, W) NCHW, GPT (B, T) token ids."""
    rng = np.random.default_rng(seed)
    if isinstance(c, MLPConfig):
        return _templates(rng, c.classes, (c.d_in,), c.batch)
    if isinstance(c, CNNConfig):
        # A colour per class (one value per channel, broadcast over the image): a small CNN with global
        # pooling picks it up within a few steps, so the loss falls even in the quick profile.
        return _templates(rng, c.classes, (c.in_channels, c.image, c.image), c.batch,
                          template_shape=(c.in_channels, 1, 1), signal=IMAGE_SIGNAL)
    if isinstance(c, GPTConfig):
        return gpt_tokens(c, rng)
    raise ValueError(f"unknown model config for {model!r}")
