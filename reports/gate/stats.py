"""The statistics behind a verdict: ratio of medians, bootstrap interval, one-sided rank tests, Holm.

Times are seconds per iteration, so ratio = median(new) / median(base) and > 1 is slower. Rank tests
are one-sided in each direction (new slower; new faster): the regression family and the improvement
family are each Holm-corrected across benchmarks, which bounds the family-wise chance of any false
regression verdict by alpha. Exact rank tests have a floor on p set by the sample counts
(`min_p`); when that floor cannot reach the corrected alpha, no amount of slowdown is significant,
and the verdict says how many rounds would be needed instead of pretending.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BOOTSTRAP_SEED = 20240601  # fixed: the same files always give the same interval
BOOTSTRAP_RESAMPLES = 4000


@dataclass(frozen=True)
class RatioEstimate:
    ratio: float
    ci_low: float
    ci_high: float
    level: float


@dataclass(frozen=True)
class RankTest:
    test: str  # "mann-whitney-u" | "wilcoxon-signed-rank"
    p_slower: float  # one-sided: new is slower than base
    p_faster: float  # one-sided: new is faster than base
    min_p: float  # the smallest one-sided p these sample counts can give


def median_ratio(base: Sequence[float], new: Sequence[float]) -> float:
    import numpy as np

    return float(np.median(new) / np.median(base))


def bootstrap_ratio(base: Sequence[float], new: Sequence[float], level: float = 0.99, paired: bool = False,
                    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> RatioEstimate:
    """Percentile bootstrap interval of median(new)/median(base). Paired: rounds resampled together."""
    import numpy as np

    b = np.asarray(base, dtype=float)
    n = np.asarray(new, dtype=float)
    rng = np.random.default_rng(seed)
    if paired:
        if b.size != n.size:
            raise ValueError("paired samples need the same number of rounds on both sides")
        idx = rng.integers(0, b.size, size=(resamples, b.size))
        ratios = np.median(n[idx], axis=1) / np.median(b[idx], axis=1)
    else:
        ib = rng.integers(0, b.size, size=(resamples, b.size))
        inew = rng.integers(0, n.size, size=(resamples, n.size))
        ratios = np.median(n[inew], axis=1) / np.median(b[ib], axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(ratios, [tail, 100.0 - tail])
    return RatioEstimate(median_ratio(b, n), float(low), float(high), level)


def min_p(n_base: int, n_new: int, paired: bool) -> float:
    """The smallest one-sided p an exact rank test can give for these sample counts (no ties)."""
    if paired:
        return 0.5 ** min(n_base, n_new)
    log_comb = math.lgamma(n_base + n_new + 1) - math.lgamma(n_base + 1) - math.lgamma(n_new + 1)
    return math.exp(-log_comb)  # 1 / C(n_base + n_new, n_base), without overflowing for thousands of rounds


def rank_test(base: Sequence[float], new: Sequence[float], paired: bool = False) -> RankTest:
    """One-sided rank tests in both directions: Mann-Whitney U (independent runs) or Wilcoxon signed-rank on
    the log ratios of paired rounds. scipy picks the exact distribution for small samples without ties."""
    import numpy as np
    from scipy import stats

    b = np.asarray(base, dtype=float)
    n = np.asarray(new, dtype=float)
    if paired:
        d = np.log(n) - np.log(b)
        if not np.any(d != 0):
            return RankTest("wilcoxon-signed-rank", 1.0, 1.0, min_p(b.size, n.size, True))
        slower = float(stats.wilcoxon(d, alternative="greater").pvalue)
        faster = float(stats.wilcoxon(d, alternative="less").pvalue)
        return RankTest("wilcoxon-signed-rank", slower, faster, min_p(b.size, n.size, True))
    slower = float(stats.mannwhitneyu(n, b, alternative="greater").pvalue)
    faster = float(stats.mannwhitneyu(n, b, alternative="less").pvalue)
    return RankTest("mann-whitney-u", slower, faster, min_p(b.size, n.size, False))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (same order as given), each capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def rounds_for_p(alpha: float, paired: bool) -> int:
    """The fewest rounds per side whose exact one-sided rank test can reach p < alpha."""
    n = 2
    while min_p(n, n, paired) >= alpha and n < 10_000:
        n += 1
    return n
