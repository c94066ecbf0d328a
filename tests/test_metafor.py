"""pedall's random-effects pooling agrees with metafor, the field's reference implementation.

Each case runs the same analysis in R (`rma`, REML and DL) and in Python and compares the pooled
estimate, its CI, tau² and I² to 1e-4. R is given what a reader of the papers has (counts, or the
published estimates with their CIs and levels) and derives the effect sizes itself: the survival
scale and the standard errors are computed independently in R, not taken from `pool`. Skipped where
R or metafor is not installed, except in CI (CI set), where that fails (.ci/run installs both from
Debian's packages).
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
FIELDS = ("estimate", "ci_lower", "ci_upper", "tau2", "i2")


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


_PRINT = """
cat(sprintf("estimate=%.12f\\nci_lower=%.12f\\nci_upper=%.12f\\ntau2=%.12f\\ni2=%.12f\\n",
            coef(res), res$ci.lb, res$ci.ub, res$tau2, res$I2))
"""
_CONTROL = "control = list(threshold = 1e-12, maxiter = 10000)"


def _vec(xs: list[float]) -> str:
    return "c(" + ", ".join(repr(float(x)) for x in xs) + ")"


def _assert_close(py, r: dict[str, float]) -> None:  # type: ignore[no-untyped-def]
    for f in FIELDS:
        assert math.isclose(getattr(py, f), r[f], abs_tol=TOL), (f, getattr(py, f), r[f])


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


@pytest.mark.parametrize("method", ["REML", "DL"])
@pytest.mark.parametrize(("measure", "kwargs"), [
    ("cr_cri", {}),
    ("crs", {"grade_min": 3}),
    ("neurotoxicity", {"grade_min": 3}),
    ("os", {"timepoint": 12}),
    ("efs", {"timepoint": 12}),
])
def test_fixture_analyses_agree_with_metafor(release: Path, measure: str, kwargs: dict, method: str) -> None:
    res = pool(release / DB_NAME, measure, method=method, **kwargs)
    assert res.overall.k >= 2
    if res.studies[0].xi is not None:  # proportions: metafor computes the logits itself from the counts
        code = (f"res <- rma(measure = 'PLO', xi = {_vec([s.xi for s in res.studies])}, "
                f"ni = {_vec([s.n for s in res.studies])}, method = '{method}', {_CONTROL})")
    else:  # survival: R gets the published estimates and CIs (percent) and their levels
        code = (f"est <- {_vec([s.estimate / 100 for s in res.studies])}\n"
                f"lo <- {_vec([s.ci_lower / 100 for s in res.studies])}\n"
                f"hi <- {_vec([s.ci_upper / 100 for s in res.studies])}\n"
                f"lev <- {_vec([s.ci_level for s in res.studies])}\n" + _SURVIVAL_R
                + f"res <- rma(yi = yi, sei = sei, method = '{method}', {_CONTROL})")
    r = _r(code + _PRINT)
    if res.studies[0].xi is None:
        assert r.get(f"scale_{res.scale.name}") == 1, (res.scale.name, r)
    _assert_close(res.overall.pooled, r)


@pytest.mark.parametrize("method", ["REML", "DL"])
def test_dat_bcg_agrees_with_metafor(method: str) -> None:
    esc = _r("""dat <- escalc(measure = 'RR', ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
cat(paste0('y', seq_along(dat$yi), '=', sprintf('%.15f', dat$yi), collapse = '\\n'), '\\n')
cat(paste0('v', seq_along(dat$vi), '=', sprintf('%.15f', dat$vi), collapse = '\\n'), '\\n')""")
    k = sum(1 for key in esc if key.startswith("y"))
    assert k == 13
    yi = [esc[f"y{i}"] for i in range(1, k + 1)]
    vi = [esc[f"v{i}"] for i in range(1, k + 1)]
    r = _r(f"res <- rma(yi = {_vec(yi)}, vi = {_vec(vi)}, method = '{method}', {_CONTROL})" + _PRINT)
    py = random_effects(yi, vi, method)
    _assert_close(py, r)
    assert py.tau2 > 0.05  # the BCG trials are heterogeneous: this case exercises a non-zero tau²


def test_zero_cells_are_corrected_as_in_escalc() -> None:
    r = _r("dat <- escalc(measure = 'PLO', xi = c(0, 12, 5), ni = c(15, 12, 58))\n"
           "cat(sprintf('y%d=%.12f\\nv%d=%.12f\\n', 1:3, dat$yi, 1:3, dat$vi), sep = '')")
    from pedall.meta import plo
    for i, (x, n) in enumerate([(0, 15), (12, 12), (5, 58)], 1):
        y, v = plo(x, n)
        assert math.isclose(y, r[f"y{i}"], abs_tol=1e-10) and math.isclose(v, r[f"v{i}"], abs_tol=1e-10)
