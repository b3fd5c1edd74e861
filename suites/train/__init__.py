"""Training microbenchmarks: MLP, small CNN and small GPT trained on synthetic data in torch, jax and numpy."""
