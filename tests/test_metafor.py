"""pedall's random-effects pooling agrees with metafor, the field's reference implementation.

Each case runs the same analysis in R (`rma` and `predict`, REML and DL, z and Knapp-Hartung
intervals) and in Python and compares the pooled estimate, its CI, the prediction interval, tau², I²,
Q, p(Q) and every study's weight to 1e-4. R is given what a reader of the papers has, written out
below from the fixture's rows (counts, or the published estimates with their CIs and levels), and
derives the effect sizes itself: the survival scale and the standard errors are computed
independently in R, not taken from `pool`; that pool picked those very rows is asserted too. Skipped
where R or metafor is not installed, except in CI (CI set), where that fails (.ci/run installs both
from Debian's packages).
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import require
from pedall.meta import random_effects
from pedall.pool import pool
from pedall.release import DB_NAME


def _metafor_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    res = subprocess.run(["Rscript", "-e", "library(metafor)"], capture_output=True, check=False)
    return res.returncode == 0


@pytest.fixture(autouse=True, scope="module")
def _needs_metafor() -> None:
    require(_metafor_available(), "R with metafor", "apt-get install r-base-core r-cran-metafor")


TOL = 1e-4
FIELDS = ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "q", "q_p")
METHODS = ("REML", "DL")
TESTS = ("z", "knha")


def _r(code: str) -> dict[str, float]:
    """Run R code that ends by printing `name=value` lines; return them as floats."""
    res = subprocess.run(["Rscript", "-e", "suppressPackageStartupMessages(library(metafor))\n" + code],
                         capture_output=True, text=True, check=True)
    out = {}
    for line in res.stdout.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = float(v)
    return out


_CONTROL = "control = list(threshold = 1e-12, maxiter = 10000)"


def _fits(model: str) -> str:
    """R code fitting `model` (an rma call without method and test) for every method and test and
    printing, under the prefix METHOD_TEST_, what metafor reports: its prediction interval comes from
    predict() and each study's weight (percent) from weights()."""
    return f"""
for (m in c({", ".join(f"'{m}'" for m in METHODS)})) for (t in c({", ".join(f"'{t}'" for t in TESTS)})) {{
  res <- {model[:-1]}, method = m, test = t, {_CONTROL})
  pr <- predict(res)
  pre <- paste0(m, "_", t, "_")
  cat(sprintf("%s%s=%.12f\\n", pre, c("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2",
                                        "q", "q_p"),
              c(coef(res), res$ci.lb, res$ci.ub, pr$pi.lb, pr$pi.ub, res$tau2, res$I2, res$QE, res$QEp)), sep = "")
  cat(sprintf("%sw%d=%.12f\\n", pre, seq_along(weights(res)), weights(res)), sep = "")
}}
"""


def _vec(xs: list[float] | tuple[float, ...]) -> str:
    return "c(" + ", ".join(repr(float(x)) for x in xs) + ")"


def _assert_close(py, r: dict[str, float], prefix: str = "") -> None:  # type: ignore[no-untyped-def]
    for f in FIELDS:
        want = r[prefix + f]
        if f.startswith("pi_") and py.k < 3:  # metafor gives one; pedall, by rule, does not below k = 3
            assert math.isnan(getattr(py, f)), (prefix, f, getattr(py, f))
            continue
        assert math.isclose(getattr(py, f), want, abs_tol=TOL), (prefix, f, getattr(py, f), want)
    weights = [r[f"{prefix}w{i}"] for i in range(1, py.k + 1)]
    assert f"{prefix}w{py.k + 1}" not in r
    for i, (got, want) in enumerate(zip(py.weights, weights, strict=True), 1):
        assert math.isclose(got, want, abs_tol=TOL), (prefix, f"weight of study {i}", got, want)


# The scale on which the published CIs are most nearly symmetric, and the SE each CI implies at its own
# level, written again in R from the method's description (pool.py's docstring), not from its code.
_SURVIVAL_R = """
clamp <- function(p) pmin(pmax(p, 1e-9), 1 - 1e-9)
tr <- list(identity = function(p) p, log = log, logit = qlogis, cloglog = function(p) log(-log(p)))
asym <- sapply(tr, function(f) sum(abs((f(clamp(hi)) - f(clamp(est))) - (f(clamp(est)) - f(clamp(lo))))
                                   / abs(f(clamp(hi)) - f(clamp(lo)))))
sc <- names(tr)[which.min(asym)]
f <- tr[[sc]]
yi <- f(clamp(est))
sei <- abs(f(clamp(hi)) - f(clamp(lo))) / (2 * qnorm(0.5 + lev / 200))
cat(sprintf("scale_%s=1\\n", sc))
"""

# What the fixture's rows give for each analysis, one entry per study in study_id order (fake-alpha,
# fake-beta, fake-gamma), copied from tests/fixture/data by hand: (events, total) for proportions,
# (estimate, CI lower, CI upper, CI level) in percent for survival. The row that stands for each study
# is the one the README's rules choose (summary arm, infused population, newest publication,
# all-cause count, never a subgroup or a third-party summary).
_RAW: dict[str, tuple[str, dict, tuple[str, ...], tuple[tuple[float, ...], ...]]] = {
    # fake-2023-alpha-cr-cri-infused, fake-2021-beta-cr-cri, fake-2022-gamma-cr-cri-fakemab
    "cr_cri": ("cr_cri", {}, ("fake-alpha", "fake-beta", "fake-gamma"), ((44, 55), (7, 12), (30, 40))),
    # fake-2023-alpha-crs-g3-5-infused, fake-2021-beta-crs-g3-5, fake-2022-gamma-crs-g3-5
    "crs_g3": ("crs", {"grade_min": 3}, ("fake-alpha", "fake-beta", "fake-gamma"), ((10, 55), (2, 12), (1, 40))),
    # fake-2020-alpha-icans-g3-5, fake-2021-beta-neuro-g3-5 (a zero cell), fake-2022-gamma-icans-g3-5
    "neuro_g3": ("neurotoxicity", {"grade_min": 3}, ("fake-alpha", "fake-beta", "fake-gamma"),
                 ((4, 50), (0, 12), (2, 40))),
    # fake-2020-alpha-os-12m, fake-2021-beta-os-12m: k = 2, so no prediction interval
    "os_12": ("os", {"timepoint": 12}, ("fake-alpha", "fake-beta"), ((80, 64, 100, 95), (50, 25, 100, 95))),
    # fake-2023-alpha-efs-12m, fake-2021-beta-efs-12m (a 90% CI), fake-2022-gamma-efs-12m-fakemab
    "efs_12": ("efs", {"timepoint": 12}, ("fake-alpha", "fake-beta", "fake-gamma"),
               ((48, 36, 64, 95), (40, 20, 80, 90), (60, 40, 90, 95))),
}


@pytest.mark.parametrize("case", list(_RAW))
def test_fixture_analyses_agree_with_metafor(release: Path, case: str) -> None:
    measure, kwargs, ids, raw = _RAW[case]
    if len(raw[0]) == 2:  # proportions: metafor computes the logits itself from the counts
        model = f"rma(measure = 'PLO', xi = {_vec([x for x, _ in raw])}, ni = {_vec([n for _, n in raw])})"
        r = _r(_fits(model))
    else:  # survival: R gets the published estimates and CIs (percent) and their levels
        est, lo, hi, lev = ([row[i] for row in raw] for i in range(4))
        r = _r(f"est <- {_vec(est)} / 100\nlo <- {_vec(lo)} / 100\nhi <- {_vec(hi)} / 100\nlev <- {_vec(lev)}\n"
               + _SURVIVAL_R + _fits("rma(yi = yi, sei = sei)"))
    for method in METHODS:
        for test in TESTS:
            res = pool(release / DB_NAME, measure, method=method, test=test, **kwargs)
            assert tuple(s.study_id for s in res.studies) == ids
            if len(raw[0]) == 2:
                assert [(s.xi, s.n) for s in res.studies] == list(raw)
            else:
                assert [(s.estimate, s.ci_lower, s.ci_upper, s.ci_level) for s in res.studies] == list(raw)
                assert r.get(f"scale_{res.scale.name}") == 1, (res.scale.name, r)
            assert res.overall.pooled.test == test
            _assert_close(res.overall.pooled, r, f"{method}_{test}_")
            # the per-study weights printed with each study are metafor's
            for i, s in enumerate(res.studies, 1):
                assert math.isclose(s.weight, r[f"{method}_{test}_w{i}"], abs_tol=TOL), (method, test, s.study_id)


def test_the_fixture_cases_exercise_heterogeneity() -> None:
    # A prediction interval without tau², or a Q on the wrong degrees of freedom, changes numbers only
    # where tau² > 0 and Q > 0: at least one fixture case has both, under each method.
    r = _r("""res <- rma(measure = 'PLO', xi = c(10, 2, 1), ni = c(55, 12, 40), method = 'REML')
cat(sprintf("tau2=%.12f\\nq=%.12f\\n", res$tau2, res$QE))""")
    assert r["tau2"] > 0.1 and r["q"] > 1


@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("method", METHODS)
def test_dat_bcg_agrees_with_metafor(method: str, test: str) -> None:
    esc = _r("""dat <- escalc(measure = 'RR', ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
cat(paste0('y', seq_along(dat$yi), '=', sprintf('%.15f', dat$yi), collapse = '\\n'), '\\n')
cat(paste0('v', seq_along(dat$vi), '=', sprintf('%.15f', dat$vi), collapse = '\\n'), '\\n')""")
    k = sum(1 for key in esc if key.startswith("y"))
    assert k == 13
    yi = [esc[f"y{i}"] for i in range(1, k + 1)]
    vi = [esc[f"v{i}"] for i in range(1, k + 1)]
    r = _r(_fits(f"rma(yi = {_vec(yi)}, vi = {_vec(vi)})"))
    py = random_effects(yi, vi, method, test=test)
    _assert_close(py, r, f"{method}_{test}_")
    assert py.tau2 > 0.05  # the BCG trials are heterogeneous: this case exercises a non-zero tau²


def test_zero_cells_are_corrected_as_in_escalc() -> None:
    r = _r("dat <- escalc(measure = 'PLO', xi = c(0, 12, 5), ni = c(15, 12, 58))\n"
           "cat(sprintf('y%d=%.12f\\nv%d=%.12f\\n', 1:3, dat$yi, 1:3, dat$vi), sep = '')")
    from pedall.meta import plo
    for i, (x, n) in enumerate([(0, 15), (12, 12), (5, 58)], 1):
        y, v = plo(x, n)
        assert math.isclose(y, r[f"y{i}"], abs_tol=1e-10) and math.isclose(v, r[f"v{i}"], abs_tol=1e-10)
