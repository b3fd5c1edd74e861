"""Parameter counts and analytic FLOPs per training step (forward + backward), one formula per model.

Convention (the one torch.utils.flop_counter.FlopCounterMode uses, so the two can be checked against
each other): only matrix products and convolutions are counted, 2 FLOPs per multiply-add. Bias adds,
activations, normalisation, softmax, the loss and the optimizer update are elementwise and left out
(they are a few percent of the total at these sizes). The backward pass computes, per matmul/conv,
the weight gradient (same FLOPs as the forward) and the input gradient (same again), except for the
first layer of the MLP and CNN, whose input (the data) needs no gradient. Hence:

- MLP, widths w0..wn, batch B:   fwd = 2*B*sum(w_i * w_{i+1});   step = 3*fwd - 2*B*w0*w1.
- CNN, each conv 2*B*Ho*Wo*Cout*Cin*k^2 plus the classifier matmul; step = 3*fwd - (stem conv's fwd).
- GPT (tokens N = B*T, d = d_model, L layers, vocab V):
      step = 6 * P_mm * N  +  12 * L * d * T * N
  where P_mm = 12*L*d^2 + V*d are the weights that enter matmuls (q/k/v, attention output, the two
  MLP projections, and the tied token embedding as the output head); the second term is attention
  (Q.K^T and A.V, 2*T*d each per token per layer forward, x3 for forward+backward, the causal mask
  not subtracted because dense kernels compute the full T x T). This is the "6 * params * tokens
  plus the attention term" of nanoGPT/PaLM with params restricted to matmul weights (biases,
  LayerNorm and position embeddings do no matmul work).
"""

from __future__ import annotations

from .presets import CNNConfig, GPTConfig, MLPConfig, ModelConfig


def mlp_params(c: MLPConfig) -> int:
    w = c.widths
    return sum(a * b + b for a, b in zip(w[:-1], w[1:], strict=True))


def _cnn_convs(c: CNNConfig) -> list[tuple[int, int, int, int]]:
    """(C_in, C_out, kernel, output side) per conv, in order; all 3x3 with padding 1."""
    s, ch = c.image, c.channels
    convs = [(c.in_channels, ch, 3, s)]
    convs += [(ch, ch, 3, s)] * (2 * c.blocks)
    convs.append((ch, 2 * ch, 3, s // 2))  # stride 2
    convs += [(2 * ch, 2 * ch, 3, s // 2)] * (2 * c.blocks)
    return convs


def cnn_params(c: CNNConfig) -> int:
    convs = sum(ci * co * k * k + co for ci, co, k, _ in _cnn_convs(c))
    return convs + 2 * c.channels * c.classes + c.classes


def gpt_params(c: GPTConfig) -> int:
    """Unique parameters (the head shares the token embedding, as in nanoGPT)."""
    d = c.d_model
    per_layer = 12 * d * d + 13 * d  # ln1 2d, qkv 3d^2+3d, proj d^2+d, ln2 2d, fc 4d^2+4d, proj 4d^2+d
    return c.vocab * d + c.seq * d + c.layers * per_layer + 2 * d


def gpt_matmul_params(c: GPTConfig) -> int:
    return 12 * c.layers * c.d_model ** 2 + c.vocab * c.d_model


def mlp_flops(c: MLPConfig) -> int:
    w = c.widths
    fwd = 2 * c.batch * sum(a * b for a, b in zip(w[:-1], w[1:], strict=True))
    return 3 * fwd - 2 * c.batch * w[0] * w[1]


def cnn_flops(c: CNNConfig) -> int:
    convs = [2 * c.batch * s * s * co * ci * k * k for ci, co, k, s in _cnn_convs(c)]
    head = 2 * c.batch * 2 * c.channels * c.classes
    return 3 * (sum(convs) + head) - convs[0]


def gpt_flops(c: GPTConfig) -> int:
    n = c.batch * c.seq
    return 6 * gpt_matmul_params(c) * n + 12 * c.layers * c.d_model * c.seq * n


def param_count(model: str, c: ModelConfig) -> int:
    return {"mlp": mlp_params, "cnn": cnn_params, "gpt": gpt_params}[model](c)  # type: ignore[operator]


def step_flops(model: str, c: ModelConfig) -> int:
    return {"mlp": mlp_flops, "cnn": cnn_flops, "gpt": gpt_flops}[model](c)  # type: ignore[operator]


FORMULAS: dict[str, str] = {
    "mlp": "3 * 2*B*sum(w_i*w_{i+1}) - 2*B*w_0*w_1 (matmuls; no input gradient for the data)",
    "cnn": "3 * sum(2*B*Ho*Wo*Cout*Cin*k^2) + 3 * head matmul - stem conv forward (no input gradient for the data)",
    "gpt": "6 * (12*L*d^2 + V*d) * B*T + 12 * L * d * T * B*T (matmul weights x tokens, plus attention)",
}
