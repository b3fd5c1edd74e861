"""Training models: the same parameter count in every backend, and analytic FLOPs checked against counters."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import requires_jax, requires_torch
from infrabench.suites.train import flops, models_numpy, presets
from infrabench.suites.train.data import make_batches

SMALL = {
    "mlp": presets.MLPConfig(batch=8, d_in=12, hidden=20, layers=2, classes=5),
    "cnn": presets.CNNConfig(batch=2, channels=4, blocks=2, image=8),
    "gpt": presets.GPTConfig(batch=2, seq=16, d_model=32, layers=2, heads=4, vocab=64),
}
QUICK = {m: presets.preset_for("quick", "cpu", m).config for m in presets.MODELS}


@pytest.mark.parametrize("config", [SMALL["mlp"], QUICK["mlp"]])
def test_numpy_mlp_parameter_count_matches_formula(config):
    assert models_numpy.param_count(models_numpy.init_mlp(config, 0)) == flops.mlp_params(config)


@requires_torch
@pytest.mark.parametrize("model", presets.MODELS)
@pytest.mark.parametrize("size", ["small", "quick", "gpu"])
def test_torch_parameter_count_matches_formula(model, size):
    from infrabench.suites.train import models_torch

    config = {"small": SMALL, "quick": QUICK}[size][model] if size != "gpu" else None
    if config is None:
        if model != "gpt":
            pytest.skip("the GPU-size check is for the GPT (GPT-2 small shape)")
        config = presets.preset_for("standard", "gpu", "gpt").config
        assert flops.gpt_params(config) == 124_475_904  # nanoGPT's GPT-2 small with vocab 50304, tied head
    module = models_torch.build_model(model, config, 0)
    assert models_torch.param_count(module) == flops.param_count(model, config)


@requires_jax
@pytest.mark.parametrize("model", presets.MODELS)
@pytest.mark.parametrize("size", ["small", "quick"])
def test_jax_parameter_count_matches_formula(model, size):
    from infrabench.suites.train import models_jax

    config = {"small": SMALL, "quick": QUICK}[size][model]
    assert models_jax.param_count(models_jax.init_params(model, config, 0)) == flops.param_count(model, config)


@requires_torch
@pytest.mark.parametrize("model", presets.MODELS)
def test_analytic_flops_match_torch_flop_counter(model):
    """Forward + backward under FlopCounterMode within 10% of the formula (explicit attention matmuls)."""
    import torch
    from infrabench.suites.train import models_torch
    from torch.utils.flop_counter import FlopCounterMode

    for config in (SMALL[model], QUICK[model]):
        module = models_torch.build_model(model, config, 0, attention="math")
        x, y = (torch.as_tensor(a) for a in make_batches(model, config, 0)[0])
        with FlopCounterMode(display=False) as counter:
            models_torch.loss_fn(model, module(x), y).backward()
        counted = counter.get_total_flops()
        assert counted == pytest.approx(flops.step_flops(model, config), rel=0.10), (model, config)


def test_gpt_formula_is_six_params_tokens_plus_attention():
    c = presets.GPTConfig(batch=4, seq=128, d_model=64, layers=3, heads=4, vocab=1000)
    n = c.batch * c.seq
    assert flops.gpt_flops(c) == 6 * (12 * 3 * 64**2 + 1000 * 64) * n + 12 * 3 * 64 * 128 * n
    longer = replace(c, seq=256, batch=2)  # same tokens, longer context: only the attention term grows
    assert flops.gpt_flops(longer) - flops.gpt_flops(c) == 12 * 3 * 64 * (256 - 128) * n


def test_numpy_backward_matches_finite_differences():
    c = SMALL["mlp"]
    params = [p.astype(np.float64) for p in models_numpy.init_mlp(c, 1)]
    x, y = make_batches("mlp", c, 1)[0]
    x = x.astype(np.float64)
    _, grads = models_numpy.loss_and_grads(params, x, y)
    rng = np.random.default_rng(0)
    for k in range(len(params)):
        idx = tuple(rng.integers(0, s) for s in params[k].shape)
        eps = 1e-6
        params[k][idx] += eps
        up, _ = models_numpy.loss_and_grads(params, x, y)
        params[k][idx] -= 2 * eps
        down, _ = models_numpy.loss_and_grads(params, x, y)
        params[k][idx] += eps
        assert grads[k][idx] == pytest.approx((up - down) / (2 * eps), rel=1e-4, abs=1e-8)


@requires_jax
@pytest.mark.parametrize("model", ["mlp", "gpt"])
def test_analytic_flops_near_xla_cost_analysis(model):
    """XLA's own estimate counts elementwise work too, so it is at or above the matmul-only formula."""
    import jax
    from infrabench.suites.train import models_jax

    config = QUICK[model]
    trainer = models_jax.JaxTrainer(model, config, make_batches(model, config, 0), 1e-3, 0, jax.devices("cpu")[0],
                                    "fp32")
    if trainer.cost_flops is None:
        pytest.skip("this jax gives no cost analysis")
    assert trainer.cost_flops == pytest.approx(flops.step_flops(model, config), rel=0.15)
