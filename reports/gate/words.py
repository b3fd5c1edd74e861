"""A change between two figures said in words, the same way in every output: "12.3% slower", "2.5× faster".

A change is read as the speed factor f >= 1 of the faster side over the slower one. For times (lower is
better) with ratio = new / base, new is slower when ratio > 1 and f = ratio, faster when ratio < 1 and
f = 1 / ratio; for throughputs (higher is better) the reverse. Below 2× it is written as a percentage,
(f - 1) in %: "12.3% slower" means the new side takes 12.3% more time for the same work, "25.0% faster"
that it does 25.0% more work per second. At or above 2× it is a factor, "2.5× faster" (pyperf's
convention). Why not a signed percentage of the ratio: -20% one way reads +25% back, and "-20%" of a
time and of a throughput mean opposite things; with the speed factor a change and its reverse read
alike, and a time and a throughput measured on the same run give the same words. The gate's thresholds
are symmetric in the same sense: a regression is more than t slower, an improvement more than t faster.

Pure functions on numbers, no imports beyond the standard library: the multi-run report can call them too.
"""

from __future__ import annotations

import math

FACTOR_FROM = 2.0  # at or above this speed factor a change is written "N.N×", below it "N.N%"
NO_FIGURE = "—"


def _usable(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0.0


def direction(ratio: float, higher_is_better: bool = False) -> str:
    """"slower", "faster" or "" (no change) for a ratio new / base."""
    if ratio == 1.0:
        return ""
    slower = ratio < 1.0 if higher_is_better else ratio > 1.0
    return "slower" if slower else "faster"


def speed_factor(ratio: float) -> float:
    """The faster side's speed over the slower side's, >= 1, for a ratio either way round."""
    return ratio if ratio >= 1.0 else 1.0 / ratio


def _size(factor: float) -> str:
    """The size of a change without its direction: "12.3%" below 2×, "2.5×" at or above."""
    pct = (factor - 1.0) * 100.0
    if factor < FACTOR_FROM and round(pct, 1) < 100.0:
        return f"{pct:.1f}%"
    return f"{factor:,.1f}×"


def describe_change(ratio: float | None, higher_is_better: bool = False) -> str:
    """"12.3% slower", "2.5× faster", "no change" (below 0.05%), or "—" for a missing or unusable ratio.

    `ratio` is new / base; `higher_is_better` says the figure is a throughput (GB/s, TFLOP/s ...), not a
    time, so a ratio above 1 is faster."""
    if not _usable(ratio):
        return NO_FIGURE
    assert ratio is not None
    size = _size(speed_factor(ratio))
    if size == "0.0%":
        return "no change"
    return f"{size} {direction(ratio, higher_is_better)}"


def describe_interval(low: float | None, high: float | None, higher_is_better: bool = False) -> str:
    """An interval of ratios in words, from its low bound to its high one: "5.0% to 20.0% slower",
    "3.1% faster to 20.0% slower"; "—" when a bound is missing or unusable."""
    if not _usable(low) or not _usable(high):
        return NO_FIGURE
    assert low is not None and high is not None
    a, b = describe_change(low, higher_is_better), describe_change(high, higher_is_better)
    word_a, word_b = direction(low, higher_is_better), direction(high, higher_is_better)
    if word_a and word_a == word_b and "no change" not in (a, b):
        return f"{a.rsplit(' ', 1)[0]} to {b}"
    return f"{a} to {b}"


def describe_slowdown(fraction: float | None) -> str:
    """A smallest detectable slowdown (a fraction, 0.12 for 12%) in the same words: "12.0% slower"."""
    if fraction is None or not math.isfinite(fraction) or fraction <= -1.0:
        return NO_FIGURE
    return describe_change(1.0 + fraction)
