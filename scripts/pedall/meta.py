"""Random-effects meta-analysis, matching metafor's `rma()` (z-based CIs and prediction intervals).

DerSimonian-Laird comes from statsmodels (`combine_effects`). statsmodels has no REML estimator,
so REML is computed here with the Fisher-scoring iteration metafor uses; everything else (pooled
estimate, its SE, Q, I², prediction interval) follows the formulas of metafor's `rma.uni`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from .estimates import plo  # noqa: F401  (one definition of the zero-cell correction)
from .vocab import METHODS


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
                   level: float = 95.0) -> Pooled:
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    k = len(y)
    z = float(stats.norm.ppf(0.5 + level / 200))
    w_fe = 1.0 / v
    q = float(np.sum(w_fe * (y - np.sum(w_fe * y) / w_fe.sum()) ** 2))
    if k == 1:
        est, se = float(y[0]), math.sqrt(float(v[0]))
        return Pooled(1, est, se, est - z * se, est + z * se, math.nan, math.nan, 0.0, math.nan, math.nan, math.nan,
                      method, (100.0,))
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
    pi_half = z * math.sqrt(se**2 + tau2)
    return Pooled(k, est, se, est - z * se, est + z * se, est - pi_half, est + pi_half, tau2, i2, q,
                  float(stats.chi2.sf(q, k - 1)), method, tuple(float(x) for x in 100.0 * w / w.sum()))


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
