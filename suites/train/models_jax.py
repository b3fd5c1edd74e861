"""The three models in pure JAX (parameter pytrees, jax.nn/lax ops), with Adam written out and one jitted step.

Same layers and parameter counts as the torch modules. bf16 is mixed precision as torch autocast
does it: float32 master parameters and optimizer state, the forward and backward computed in bf16
(parameters and inputs cast inside the step), the loss in float32. The step donates parameters and
optimizer state, so they are updated in place on accelerators.
"""

from __future__ import annotations

import math
from typing import Any

from .presets import CNNConfig, GPTConfig, MLPConfig, ModelConfig

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
PRECISION = {"fp32": "highest", "tf32": "tensorfloat32", "bf16": "default"}  # jax_default_matmul_precision


def init_params(model: str, c: ModelConfig, seed: int) -> dict[str, Any]:
    """Parameters as float32 numpy arrays (made on the host: per-shape jax.random calls would each compile)."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def uniform(shape: tuple[int, ...], fan_in: int) -> Any:
        bound = 1.0 / math.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=shape).astype(np.float32)

    if isinstance(c, MLPConfig):
        return {f"l{i}": {"w": uniform((a, b), a), "b": uniform((b,), a)}
                for i, (a, b) in enumerate(zip(c.widths[:-1], c.widths[1:], strict=True))}
    if isinstance(c, CNNConfig):
        def conv(ci: int, co: int) -> dict[str, Any]:
            return {"w": uniform((co, ci, 3, 3), ci * 9), "b": uniform((co,), ci * 9)}

        ch = c.channels
        return {
            "stem": conv(c.in_channels, ch),
            "stage1": [{"c1": conv(ch, ch), "c2": conv(ch, ch)} for _ in range(c.blocks)],
            "down": conv(ch, 2 * ch),
            "stage2": [{"c1": conv(2 * ch, 2 * ch), "c2": conv(2 * ch, 2 * ch)} for _ in range(c.blocks)],
            "head": {"w": uniform((2 * ch, c.classes), 2 * ch), "b": uniform((c.classes,), 2 * ch)},
        }
    if isinstance(c, GPTConfig):
        d = c.d_model

        def normal(shape: tuple[int, ...]) -> Any:
            return (0.02 * rng.standard_normal(shape)).astype(np.float32)

        def ln() -> dict[str, Any]:
            return {"g": np.ones((d,), np.float32), "b": np.zeros((d,), np.float32)}

        def linear(a: int, b: int) -> dict[str, Any]:
            return {"w": normal((a, b)), "b": np.zeros((b,), np.float32)}

        return {
            "wte": normal((c.vocab, d)), "wpe": normal((c.seq, d)), "ln_f": ln(),
            "blocks": [{"ln1": ln(), "qkv": linear(d, 3 * d), "proj": linear(d, d), "ln2": ln(),
                        "fc": linear(d, 4 * d), "fc_proj": linear(4 * d, d)} for _ in range(c.layers)],
        }
    raise ValueError(f"unknown model {model!r}")


def param_count(params: Any) -> int:
    import jax

    return int(sum(x.size for x in jax.tree_util.tree_leaves(params)))


def _conv(p: dict[str, Any], x: Any, stride: int = 1) -> Any:
    import jax

    out = jax.lax.conv_general_dilated(x, p["w"].astype(x.dtype), (stride, stride), ((1, 1), (1, 1)),
                                       dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return out + p["b"].astype(x.dtype)[None, :, None, None]


def _layer_norm(p: dict[str, Any], x: Any) -> Any:
    import jax.numpy as jnp

    x32 = x.astype(jnp.float32)
    mean = x32.mean(-1, keepdims=True)
    var = ((x32 - mean) ** 2).mean(-1, keepdims=True)
    return ((x32 - mean) / jnp.sqrt(var + 1e-5) * p["g"] + p["b"]).astype(x.dtype)


def forward(model: str, c: ModelConfig, params: Any, x: Any) -> Any:
    import jax
    import jax.numpy as jnp

    if isinstance(c, MLPConfig):
        n = len(params)
        for i in range(n):
            x = x @ params[f"l{i}"]["w"] + params[f"l{i}"]["b"]
            if i < n - 1:
                x = jax.nn.relu(x)
        return x
    if isinstance(c, CNNConfig):
        x = jax.nn.relu(_conv(params["stem"], x))
        for blk in params["stage1"]:
            x = jax.nn.relu(x + _conv(blk["c2"], jax.nn.relu(_conv(blk["c1"], x))))
        x = jax.nn.relu(_conv(params["down"], x, stride=2))
        for blk in params["stage2"]:
            x = jax.nn.relu(x + _conv(blk["c2"], jax.nn.relu(_conv(blk["c1"], x))))
        return x.mean(axis=(2, 3)) @ params["head"]["w"] + params["head"]["b"]
    if isinstance(c, GPTConfig):
        b, t = x.shape
        d, h = c.d_model, c.heads
        wte = params["wte"]
        z = wte[x] + params["wpe"][:t]
        for blk in params["blocks"]:
            a = _layer_norm(blk["ln1"], z)
            qkv = a @ blk["qkv"]["w"] + blk["qkv"]["b"]
            q, k, v = (u.reshape(b, t, h, d // h) for u in jnp.split(qkv, 3, axis=-1))
            y = jax.nn.dot_product_attention(q, k, v, is_causal=True).reshape(b, t, d)
            z = z + y @ blk["proj"]["w"] + blk["proj"]["b"]
            m = jax.nn.gelu(_layer_norm(blk["ln2"], z) @ blk["fc"]["w"] + blk["fc"]["b"], approximate=True)
            z = z + m @ blk["fc_proj"]["w"] + blk["fc_proj"]["b"]
        return _layer_norm(params["ln_f"], z) @ wte.T
    raise ValueError(f"unknown model {model!r}")


def loss(model: str, c: ModelConfig, params: Any, x: Any, y: Any, dtype: str) -> Any:
    import jax
    import jax.numpy as jnp

    if dtype == "bf16":
        params = jax.tree_util.tree_map(lambda p: p.astype(jnp.bfloat16), params)
        if x.dtype == jnp.float32:
            x = x.astype(jnp.bfloat16)
    logits = forward(model, c, params, x).astype(jnp.float32)
    logits = logits.reshape(-1, logits.shape[-1])
    logp = jax.nn.log_softmax(logits)
    return -jnp.take_along_axis(logp, y.reshape(-1, 1), axis=1).mean()


def adam_init(params: Any) -> Any:
    import jax
    import numpy as np

    def zeros(p: Any) -> Any:
        return np.zeros(p.shape, np.float32)

    return {"m": jax.tree_util.tree_map(zeros, params), "v": jax.tree_util.tree_map(zeros, params),
            "t": np.zeros((), np.int32)}


def adam_update(params: Any, grads: Any, state: Any, lr: float) -> tuple[Any, Any]:
    """Bias-corrected Adam, as torch.optim.Adam (no weight decay)."""
    import jax
    import jax.numpy as jnp

    b1, b2 = ADAM_BETAS
    t = state["t"] + 1
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state["m"], grads)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state["v"], grads)
    tf = t.astype(jnp.float32)
    c1, c2 = 1 - b1 ** tf, 1 - b2 ** tf
    new = jax.tree_util.tree_map(lambda p, m, v: p - (lr / c1) * m / (jnp.sqrt(v / c2) + ADAM_EPS), params, m, v)
    return new, {"m": m, "v": v, "t": t}


class JaxTrainer:
    """Jit-compiled Adam step; `compile_s` is lower + compile, kept apart from the first step.

    step(i) runs batch i (batches rotate) and returns the loss, the array the clock blocks on: it is an
    output of the same executable as the new parameters, ready only when the whole step has run (earlier
    parameters cannot be returned: the next step donates them).
    """

    def __init__(self, model: str, c: ModelConfig, batches: list[Any], lr: float, seed: int, device: Any,
                 dtype: str):
        import time

        import jax

        host = init_params(model, c, seed)
        self.params = jax.device_put(host, device)
        self.state = jax.device_put(adam_init(host), device)
        self.batches = [(jax.device_put(x, device), jax.device_put(y, device)) for x, y in batches]
        self.param_count = param_count(self.params)

        def train_step(params: Any, state: Any, x: Any, y: Any) -> tuple[Any, Any, Any]:
            value, grads = jax.value_and_grad(lambda p: loss(model, c, p, x, y, dtype))(params)
            params, state = adam_update(params, grads, state, lr)
            return params, state, value

        x0, y0 = self.batches[0]
        t0 = time.perf_counter()
        with jax.default_matmul_precision(PRECISION[dtype]):
            lowered = jax.jit(train_step, donate_argnums=(0, 1)).lower(self.params, self.state, x0, y0)
        self.compiled = lowered.compile()
        self.compile_s = time.perf_counter() - t0
        self.cost_flops = _cost_flops(self.compiled)

    def step(self, i: int) -> Any:
        x, y = self.batches[i % len(self.batches)]
        self.params, self.state, value = self.compiled(self.params, self.state, x, y)
        return value


def _cost_flops(compiled: Any) -> float | None:
    """XLA's own FLOP estimate for the compiled step (None where the backend does not give one)."""
    try:
        cost = compiled.cost_analysis()
    except Exception:  # noqa: BLE001 - informational only
        return None
    if isinstance(cost, list):
        cost = cost[0] if cost else None
    value = cost.get("flops") if isinstance(cost, dict) else None
    return float(value) if value is not None else None
