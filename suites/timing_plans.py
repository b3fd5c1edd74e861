"""The timing settings each suite runs with, per profile and kind of device, as one table.

The README's "What a run measures" states these values; `python -m infrabench.suites.timing_plans`
prints the rows, and a test holds the README to them, so the text cannot drift from the code.
"""

from __future__ import annotations

from .timing import TimingConfig

PROFILES = ("quick", "standard", "full")


def _seconds(value: float) -> str:
    return f"{value * 1e3:g} ms" if value < 1 else f"{value:g} s"


def describe(cfg: TimingConfig) -> str:
    """Warm-up / minimum sample / rounds / time budget, e.g. "0.15 s / 10 ms / 8 / 2.5 s"."""
    warmup = f"{cfg.warmup_s:g} s"
    return f"{warmup} / {_seconds(cfg.min_sample_s)} / {cfg.rounds} / {cfg.budget_s:g} s"


def plans() -> dict[str, dict[str, TimingConfig]]:
    """{"matmul, CPU": {"quick": TimingConfig, ...}, ...} for the suites timed by the harness."""
    from . import matmul
    from .memory_plan import PLANS as MEMORY

    return {
        "matmul, CPU": {p: matmul.plan_for(p, "cpu").timing for p in PROFILES},
        "matmul, accelerator": {p: matmul.plan_for(p, "gpu").timing for p in PROFILES},
        "memory (STREAM, sweep, latency, transfers)": {p: MEMORY[p].timing for p in PROFILES},
    }


def table_rows() -> list[str]:
    return [f"| {name} | " + " | ".join(describe(by[p]) for p in PROFILES) + " |" for name, by in plans().items()]


if __name__ == "__main__":
    print("\n".join(table_rows()))
