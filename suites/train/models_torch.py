"""The three models as torch modules, and a training step (eager, or under torch.compile).

torch is imported inside the functions, so this module is importable without torch. The GPT is
nanoGPT-shaped: token and position embeddings, pre-LayerNorm blocks with causal self-attention
(scaled_dot_product_attention, or explicit matmuls when `attention="math"`) and a 4x GELU MLP, a
final LayerNorm and an output head tied to the token embedding.
"""

from __future__ import annotations

from typing import Any

from .presets import CNNConfig, GPTConfig, MLPConfig, ModelConfig


def build_model(model: str, c: ModelConfig, seed: int, attention: str = "sdpa") -> Any:
    import torch

    torch.manual_seed(seed)
    if isinstance(c, MLPConfig):
        return _mlp(c)
    if isinstance(c, CNNConfig):
        return _cnn(c)
    if isinstance(c, GPTConfig):
        return _gpt(c, attention)
    raise ValueError(f"unknown model {model!r}")


def param_count(module: Any) -> int:
    """Unique parameters (a tied weight counts once)."""
    return sum(p.numel() for p in module.parameters())


def _mlp(c: MLPConfig) -> Any:
    from torch import nn

    layers: list[Any] = []
    w = c.widths
    for i, (a, b) in enumerate(zip(w[:-1], w[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(w) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _cnn(c: CNNConfig) -> Any:
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, ch: int):
            super().__init__()
            self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
            self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)

        def forward(self, x: Any) -> Any:
            return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))

    ch = c.channels
    return nn.Sequential(
        nn.Conv2d(c.in_channels, ch, 3, padding=1), nn.ReLU(),
        *[Block(ch) for _ in range(c.blocks)],
        nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1), nn.ReLU(),
        *[Block(2 * ch) for _ in range(c.blocks)],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * ch, c.classes),
    )


def _gpt(c: GPTConfig, attention: str) -> Any:
    import math

    import torch
    from torch import nn
    from torch.nn import functional as F  # noqa: N812

    d, h = c.d_model, c.heads

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc, self.fc_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def attend(self, x: Any) -> Any:
            b, t, _ = x.shape
            q, k, v = self.qkv(x).split(d, dim=2)
            q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
            if attention == "sdpa":
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) / math.sqrt(d // h)
                mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
                y = att.masked_fill(~mask, float("-inf")).softmax(dim=-1) @ v
            return self.proj(y.transpose(1, 2).reshape(b, t, d))

        def forward(self, x: Any) -> Any:
            x = x + self.attend(self.ln1(x))
            return x + self.fc_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(c.vocab, d)
            self.wpe = nn.Embedding(c.seq, d)
            self.blocks = nn.ModuleList(Block() for _ in range(c.layers))
            self.ln_f = nn.LayerNorm(d)
            for p in self.parameters():
                if p.dim() == 2:
                    nn.init.normal_(p, std=0.02)

        def forward(self, idx: Any) -> Any:
            pos = torch.arange(idx.shape[1], device=idx.device)
            x = self.wte(idx) + self.wpe(pos)
            for block in self.blocks:
                x = block(x)
            return self.ln_f(x) @ self.wte.weight.t()  # head tied to the token embedding

    return GPT()


def loss_fn(model: str, logits: Any, y: Any) -> Any:
    from torch.nn import functional as F  # noqa: N812

    if model == "gpt":
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
    return F.cross_entropy(logits.float(), y)


class TorchTrainer:
    """One Adam step per call on batch i (batches rotate); returns the loss (a 0-d tensor, not synced)."""

    def __init__(self, model: str, c: ModelConfig, batches: list[Any], lr: float, seed: int, device: str,
                 dtype: str, compile_model: bool = False, attention: str = "sdpa"):
        import torch

        self.torch = torch
        self.model_name = model
        self.module = build_model(model, c, seed, attention).to(device)
        self.params = param_count(self.module)
        self.forward = torch.compile(self.module) if compile_model else self.module
        self.opt = torch.optim.Adam(self.module.parameters(), lr=lr)
        self.batches = [(torch.as_tensor(x).to(device), torch.as_tensor(y).to(device)) for x, y in batches]
        kind = torch.device(device).type
        self.autocast = (lambda: torch.autocast(kind, dtype=torch.bfloat16)) if dtype == "bf16" else None

    def step(self, i: int) -> Any:
        x, y = self.batches[i % len(self.batches)]
        self.opt.zero_grad(set_to_none=True)
        if self.autocast is not None:
            with self.autocast():
                loss = loss_fn(self.model_name, self.forward(x), y)
        else:
            loss = loss_fn(self.model_name, self.forward(x), y)
        loss.backward()
        self.opt.step()
        return loss.detach()
