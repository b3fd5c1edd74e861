"""The MLP in plain numpy with a hand-written backward pass and Adam: the "ordinary CPU server" path.

Same layers, initialisation scheme (uniform +-1/sqrt(fan_in), torch.nn.Linear's default) and Adam
as the torch and jax versions, so the parameter count and FLOPs match. float32 throughout; the
matmuls go to the BLAS numpy links.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .presets import MLPConfig

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def init_mlp(c: MLPConfig, seed: int) -> list[np.ndarray]:
    """[W0, b0, W1, b1, ...], W_i of shape (in, out)."""
    rng = np.random.default_rng(seed)
    params = []
    for a, b in zip(c.widths[:-1], c.widths[1:], strict=True):
        bound = 1.0 / np.sqrt(a)
        params.append(rng.uniform(-bound, bound, size=(a, b)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, size=(b,)).astype(np.float32))
    return params


def loss_and_grads(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """Mean softmax cross-entropy and its gradients; no gradient is computed for the input x."""
    acts = [x]
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < n_layers - 1:
            h = np.maximum(h, 0.0)
        acts.append(h)
    logits = acts[-1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    batch = x.shape[0]
    rows = np.arange(batch)
    loss = float(np.mean(np.log(sum_exp[:, 0]) - shifted[rows, y]))
    grad = exp / sum_exp
    grad[rows, y] -= 1.0
    grad /= batch
    grads: list[np.ndarray] = [np.empty(0, np.float32)] * len(params)
    for i in reversed(range(n_layers)):
        grads[2 * i] = acts[i].T @ grad
        grads[2 * i + 1] = grad.sum(axis=0)
        if i > 0:
            grad = grad @ params[2 * i].T
            grad *= acts[i] > 0  # ReLU of the layer below
    return loss, grads


@dataclass
class Adam:
    lr: float
    m: list[np.ndarray] = field(default_factory=list)
    v: list[np.ndarray] = field(default_factory=list)
    t: int = 0

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """In-place Adam update (bias-corrected, as torch.optim.Adam)."""
        b1, b2 = ADAM_BETAS
        if not self.m:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            p -= (self.lr / c1) * m / (np.sqrt(v / c2) + ADAM_EPS)


def param_count(params: list[np.ndarray]) -> int:
    return int(sum(p.size for p in params))


class NumpyMLPTrainer:
    """One training step per call on the i-th batch (batches rotate); returns the loss before the update."""

    def __init__(self, c: MLPConfig, batches: list[tuple[np.ndarray, np.ndarray]], lr: float, seed: int):
        self.params = init_mlp(c, seed)
        self.opt = Adam(lr)
        self.batches = batches

    def step(self, i: int) -> float:
        x, y = self.batches[i % len(self.batches)]
        loss, grads = loss_and_grads(self.params, x, y)
        self.opt.step(self.params, grads)
        return loss
