"""Per-study statistics, each defined once: the confidence interval of a proportion, the standard error a
published CI implies, the zero-cell correction, and the count a printed percent implies.

The views in views.sql compute the same quantities in SQL (the Wilson interval of `binary_outcomes`, the
standard error of `survival_outcomes`, the logit of `binary_outcomes`, the derived counts of
`proportion_counts`); tests/test_estimates.py checks, row by row, that view and function agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy import stats


def z_of(level: float) -> float:
    """The two-sided normal quantile of a CI level in percent (95 -> 1.959964)."""
    return float(stats.norm.ppf(0.5 + level / 200))


def clopper_pearson(x: int, n: int, level: float = 95.0) -> tuple[float, float]:
    """Exact (Clopper-Pearson) CI of x/n, as proportions: the per-study interval of pedall pool and its plots."""
    a = (1 - level / 100) / 2
    lo = float(stats.beta.ppf(a, x, n - x + 1)) if x > 0 else 0.0
    hi = float(stats.beta.ppf(1 - a, x + 1, n - x)) if x < n else 1.0
    return lo, hi


def wilson(x: int, n: int, level: float = 95.0) -> tuple[float, float]:
    """Wilson score CI of x/n, as proportions: the interval of the binary_outcomes view (closed form, so SQL
    computes it too)."""
    z, p = z_of(level), x / n
    mid, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (mid - half) / (1 + z * z / n), (mid + half) / (1 + z * z / n)


def zero_cell(x: int, n: int) -> tuple[float, float]:
    """metafor escalc(measure="PLO")'s default correction (add = 1/2, to = "only0"): when a cell is zero (no
    events or all events) 1/2 is added to both cells, so events + 1/2 out of n + 1."""
    if x == 0 or x == n:
        return x + 0.5, n + 1.0
    return float(x), float(n)


def plo(x: int, n: int) -> tuple[float, float]:
    """Logit of a proportion and its sampling variance, as metafor's escalc(measure="PLO")."""
    xa, na = zero_cell(x, n)
    return math.log(xa / (na - xa)), 1.0 / xa + 1.0 / (na - xa)


def se_from_ci(lower: float, upper: float, level: float, fwd: Callable[[float], float] = lambda p: p) -> float:
    """The standard error a published CI implies on the scale `fwd` maps to (identity by default): the
    interval's width on that scale over 2 z, z from the CI's own level. An increasing or decreasing `fwd`
    both give a positive SE."""
    return abs(fwd(upper) - fwd(lower)) / (2 * z_of(level))


def decimals_of(value: float, most: int = 3) -> int | None:
    """How many decimals a printed number has (21 -> 0, 20.8 -> 1); None beyond `most`. A value printed as
    21.0 reads as 21: the wider rounding interval, so a count derived from it is never wrongly unique."""
    for d in range(most + 1):
        if abs(round(value, d) - value) < 1e-9:
            return d
    return None


def counts_matching(percent: float, n: int) -> list[int]:
    """Every whole number of events k out of n whose percent 100 k / n rounds to the printed percent at its
    printed decimals (either rounding of an exact half is accepted)."""
    d = decimals_of(percent)
    if d is None or n <= 0:
        return []
    half = 0.5 * 10.0 ** -d
    return [k for k in range(n + 1) if abs(100.0 * k / n - percent) <= half + 1e-9]


def derived_count(percent: float, n: int) -> int | None:
    """The count a printed percent of n implies, when exactly one whole number reproduces it."""
    ks = counts_matching(percent, n)
    return ks[0] if len(ks) == 1 else None
