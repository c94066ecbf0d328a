"""Random-effects meta-analysis, matching metafor's `rma()` and `predict()`.

DerSimonian-Laird comes from statsmodels (`combine_effects`). statsmodels has no REML estimator,
so REML is computed here with the Fisher-scoring iteration metafor uses; everything else (pooled
estimate, its SE, Q, I², prediction interval) follows the formulas of metafor's `rma.uni`.

Two ways to turn the pooled estimate into intervals (`test`, as metafor's argument of that name):
- "z": normal quantiles and the usual SE, metafor's default;
- "knha": Knapp and Hartung's (2003) SE, scaled by the weighted residual variance, with t quantiles on
  k-1 degrees of freedom, as `rma(..., test = "knha")` (without the ad hoc truncation of the scale at
  1, which metafor offers separately as test = "adhoc"). With few studies the z interval is too
  narrow (its coverage falls well below the nominal level when tau² is estimated from 3-10 studies);
  the t-based one keeps close to it, which is why it is recommended for small k.
The prediction interval (where the effect of a new comparable study may lie) is the estimate
± crit·sqrt(SE² + tau²), with the same crit and SE as the CI, as in metafor's `predict()` (t on k-1 df
under "knha"). It is not given for fewer than MIN_K_PREDICTION studies: Higgins, Thompson and
Spiegelhalter (2009), who introduced it, use a t distribution on k-2 degrees of freedom, which does not
exist below k = 3, and with two studies tau² (the interval's main term) is all but unestimated.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from .estimates import plo  # noqa: F401  (one definition of the zero-cell correction)
from .vocab import METHODS, TESTS

# Fewest studies for which a prediction interval is given (see the module docstring).
MIN_K_PREDICTION = 3


@dataclass(frozen=True)
class Pooled:
    k: int
    estimate: float  # on the analysis scale
    se: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    tau2: float
    i2: float  # percent
    q: float
    q_p: float
    method: str
    weights: tuple[float, ...]  # random-effects weights, percent
    test: str = "z"  # how the CI and PI were formed: "z" (normal) or "knha" (Knapp-Hartung, t on df)
    df: int | None = None  # degrees of freedom of the t quantile under "knha"


def _tau2_reml(y: np.ndarray, v: np.ndarray, start: float, tol: float = 1e-12, maxiter: int = 5000) -> float:
    tau2 = max(0.0, start)
    for _ in range(maxiter):
        w = 1.0 / (v + tau2)
        p = np.diag(w) - np.outer(w, w) / w.sum()
        py = p @ y
        adj = (py @ py - np.trace(p)) / np.trace(p @ p)
        while tau2 + adj < 0:  # step halving keeps the estimate on the boundary side, as metafor does
            adj /= 2
        tau2 += adj
        if abs(adj) < tol:
            break
    return float(tau2)


def random_effects(yi: list[float] | np.ndarray, vi: list[float] | np.ndarray, method: str = "REML",
                   level: float = 95.0, test: str = "z") -> Pooled:
    """Pool yi with sampling variances vi. One study is returned as it is, with its own normal CI
    (there is nothing to pool, no residual variance and no degree of freedom for "knha")."""
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}")
    k = len(y)
    z = float(stats.norm.ppf(0.5 + level / 200))
    w_fe = 1.0 / v
    q = float(np.sum(w_fe * (y - np.sum(w_fe * y) / w_fe.sum()) ** 2))
    if k == 1:
        est, se = float(y[0]), math.sqrt(float(v[0]))
        return Pooled(1, est, se, est - z * se, est + z * se, math.nan, math.nan, 0.0, math.nan, math.nan, math.nan,
                      method, (100.0,), "z")
    # statsmodels leaves the DL moment estimate untruncated; metafor (and the definition) cap it at 0.
    with warnings.catch_warnings():  # its own random-effects SE is NaN when tau² < 0; we do not use it
        warnings.simplefilter("ignore", RuntimeWarning)
        tau2_dl = max(0.0, float(combine_effects(y, v, method_re="dl").tau2))
    tau2 = tau2_dl if method == "DL" else _tau2_reml(y, v, start=tau2_dl)
    w = 1.0 / (v + tau2)
    est = float(np.sum(w * y) / w.sum())
    se = math.sqrt(1.0 / w.sum())
    # metafor's I²: tau² over tau² plus the "typical" within-study variance
    s2 = (k - 1) * w_fe.sum() / (w_fe.sum() ** 2 - np.sum(w_fe**2))
    i2 = float(100.0 * tau2 / (tau2 + s2))
    crit, df = z, None
    if test == "knha":
        df = k - 1
        se *= math.sqrt(float(np.sum(w * (y - est) ** 2)) / df)
        crit = float(stats.t.ppf(0.5 + level / 200, df))
    if k >= MIN_K_PREDICTION:
        pi_half = crit * math.sqrt(se**2 + tau2)
        pi_lower, pi_upper = est - pi_half, est + pi_half
    else:
        pi_lower = pi_upper = math.nan
    return Pooled(k, est, se, est - crit * se, est + crit * se, pi_lower, pi_upper, tau2, i2, q,
                  float(stats.chi2.sf(q, k - 1)), method, tuple(float(x) for x in 100.0 * w / w.sum()), test, df)


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
