"""Meta-regression (`pedall pool --moderator`) agrees with metafor's `rma(..., mods = ~ ...)`.

metafor fits from the raw rows: the events and totals of the studies (it computes the logits itself,
measure = "PLO") and the moderator values written in this file, never pedall's yi and vi. The
synthetic package is extended in a scratch copy (tests/extended.py) with four studies that give the
moderators enough studies to fit; tests/fixture itself stays as it is.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import require
from extended import AGE, COSTIM, build_extended
from pedall.cli import main
from pedall.metareg import fit, metareg
from test_metafor import _CONTROL, _metafor_available, _r, _vec

TOL = 1e-4



@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_extended(tmp_path_factory)


def test_study_moderators_view(extended: Path) -> None:
    import duckdb

    con = duckdb.connect(str(extended), read_only=True)
    try:
        rows = {r[0]: r[1:] for r in con.execute(
            "SELECT study_id, costimulatory_domain, age_median_years, prior_hsct_percent, targets, "
            "CAST(design AS VARCHAR) FROM study_moderators").fetchall()}
    finally:
        con.close()
    assert len(rows) == 8  # one row per study
    assert {s: r[0] for s, r in rows.items() if r[0]} == COSTIM | {"fake-delta": "4-1BB"}
    assert {s: r[1] for s, r in rows.items() if r[1] is not None} == AGE
    assert rows["fake-alpha"][2] is None  # only a third-party summary gives it
    assert rows["fake-gamma"][3] == "CD19+CD3" and rows["fake-delta"][4] == "prospective_cohort"


def _r_metareg(xs: list[int], ns: list[int], mods: str, method: str, test: str = "z") -> dict[str, float]:
    code = (f"res <- rma(measure = 'PLO', xi = {_vec(xs)}, ni = {_vec(ns)}, mods = {mods}, method = '{method}', "
            f"test = '{test}', {_CONTROL})\n"
            "p <- length(coef(res))\n"
            "cat(sprintf('b%d=%.12f\\nse%d=%.12f\\nz%d=%.12f\\np%d=%.12f\\nlo%d=%.12f\\nhi%d=%.12f\\n', "
            "1:p, coef(res), 1:p, res$se, 1:p, res$zval, 1:p, res$pval, 1:p, res$ci.lb, 1:p, res$ci.ub), sep = '')\n"
            "cat(sprintf('qm=%.12f\\nqmdf=%d\\nqmp=%.12f\\nqe=%.12f\\nqep=%.12f\\ntau2=%.12f\\ni2=%.12f\\nr2=%.12f\\n',"
            " res$QM, res$QMdf[1], res$QMp, res$QE, res$QEp, res$tau2, res$I2, res$R2))")
    return _r(code)


def _compare(mr, r: dict[str, float]) -> None:  # type: ignore[no-untyped-def]
    f = mr.fit
    for i, c in enumerate(f.coefficients, 1):
        for attr, key in (("estimate", "b"), ("se", "se"), ("statistic", "z"), ("p", "p"), ("ci_lower", "lo"),
                          ("ci_upper", "hi")):
            assert math.isclose(getattr(c, attr), r[f"{key}{i}"], abs_tol=TOL), (c.name, attr, r[f"{key}{i}"])
    assert f.qm_df == r["qmdf"]
    for attr, key in (("qm", "qm"), ("qm_p", "qmp"), ("qe", "qe"), ("qe_p", "qep"), ("tau2", "tau2"),
                      ("i2", "i2"), ("r2", "r2")):
        assert math.isclose(getattr(f, attr), r[key], abs_tol=TOL), (attr, getattr(f, attr), r[key])


@pytest.mark.parametrize("test", ["z", "knha"])
@pytest.mark.parametrize("method", ["REML", "DL"])
def test_categorical_moderator_agrees_with_metafor(extended: Path, method: str, test: str) -> None:
    require(_metafor_available(), "R with metafor", "apt-get install r-base-core r-cran-metafor")
    mr = metareg(extended, "cr_cri", ["costimulatory_domain"], method=method, test=test)
    assert {m.study.study_id for m in mr.studies} == set(COSTIM)
    assert mr.left_out == [("fake-gamma", "no value of costimulatory_domain")]  # a bispecific has no CAR
    assert mr.reference == {"costimulatory_domain": "4-1BB"}
    ids = [m.study.study_id for m in mr.studies]
    mods = f"~ factor(c({', '.join(repr(COSTIM[s]) for s in ids)}), levels = c('4-1BB', 'CD28'))"
    r = _r_metareg([m.study.xi for m in mr.studies], [m.study.n for m in mr.studies], mods, method, test)
    _compare(mr, r)
    assert mr.fit.tau2 > 0.05  # a case with residual heterogeneity left to estimate


@pytest.mark.parametrize("method", ["REML", "DL"])
def test_continuous_and_two_moderators_agree_with_metafor(extended: Path, method: str) -> None:
    require(_metafor_available(), "R with metafor", "apt-get install r-base-core r-cran-metafor")
    mr = metareg(extended, "cr_cri", ["age_median_years"], method=method)
    ids = [m.study.study_id for m in mr.studies]
    assert set(ids) == set(AGE)
    assert {s for s, _ in mr.left_out} == {"fake-gamma", "fake-theta"}
    r = _r_metareg([m.study.xi for m in mr.studies], [m.study.n for m in mr.studies],
                   f"~ {_vec([AGE[s] for s in ids])}", method)
    _compare(mr, r)
    both = metareg(extended, "cr_cri", ["costimulatory_domain", "age_median_years"], method=method)
    ids = [m.study.study_id for m in both.studies]
    r2 = _r_metareg([m.study.xi for m in both.studies], [m.study.n for m in both.studies],
                    f"~ factor(c({', '.join(repr(COSTIM[s]) for s in ids)}), levels = c('4-1BB', 'CD28')) + "
                    f"{_vec([AGE[s] for s in ids])}", method)
    assert both.fit.qm_df == 2
    _compare(both, r2)


@pytest.mark.parametrize("method", ["REML", "DL"])
def test_dat_bcg_meta_regression_agrees_with_metafor(method: str) -> None:
    # metafor's own example: BCG vaccine trials, absolute latitude and allocation method
    require(_metafor_available(), "R with metafor", "apt-get install r-base-core r-cran-metafor")
    r = _r(f"""dat <- escalc(measure = 'RR', ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
res <- rma(yi, vi, mods = ~ ablat + factor(alloc), data = dat, method = '{method}', {_CONTROL})
cat(sprintf('y%d=%.15f\\nv%d=%.15f\\nlat%d=%.15f\\n', 1:13, dat$yi, 1:13, dat$vi, 1:13, dat$ablat), sep = '')
cat(sprintf('random%d=%d\\nsystematic%d=%d\\n', 1:13, as.integer(dat$alloc == 'random'), 1:13,
            as.integer(dat$alloc == 'systematic')), sep = '')
cat(sprintf('b%d=%.12f\\nse%d=%.12f\\n', 1:4, coef(res), 1:4, res$se), sep = '')
cat(sprintf('qm=%.12f\\nqe=%.12f\\ntau2=%.12f\\ni2=%.12f\\nr2=%.12f\\n', res$QM, res$QE, res$tau2, res$I2, res$R2))""")
    col = [[r[f"{k}{i}"] for i in range(1, 14)] for k in ("lat", "random", "systematic")]
    x = np.column_stack([np.ones(13), *col])
    f = fit([r[f"y{i}"] for i in range(1, 14)], [r[f"v{i}"] for i in range(1, 14)], x,
            ["intercept", "ablat", "random", "systematic"], method)
    for i, c in enumerate(f.coefficients, 1):
        assert math.isclose(c.estimate, r[f"b{i}"], abs_tol=TOL) and math.isclose(c.se, r[f"se{i}"], abs_tol=TOL)
    for attr in ("qm", "qe", "tau2", "i2", "r2"):
        assert math.isclose(getattr(f, attr), r[attr], abs_tol=TOL), (attr, getattr(f, attr), r[attr])
    assert f.qm_df == 3 and f.qe_df == 9


def test_hand_computed_two_group_regression_without_heterogeneity() -> None:
    # With tau² = 0 (DL, no residual spread) the slope of a two-group dummy is the difference of the two
    # groups' inverse-variance means, and its SE the root of the sum of their variances.
    y, v = [0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.25, 0.25]
    f = fit(y, v, np.column_stack([np.ones(4), [0, 0, 1, 1]]), ["intercept", "g"], "DL")
    assert f.tau2 == 0 and f.qe == pytest.approx(0) and f.r2 == 0
    assert f.coefficients[1].estimate == pytest.approx(1.0)
    assert f.coefficients[1].se == pytest.approx(math.sqrt(0.25 + 0.125))
    assert f.qm == pytest.approx(1 / 0.375)


def test_cli_moderator(extended: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bubbles.png"
    assert main(["pool", "cr_cri", "--moderator", "age_median_years", "--release", str(extended),
                 "--plot", str(out), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["k"] == 5 and data["mods"] == "~ age_median_years" and data["moderators"] == {
        "age_median_years": "continuous"}
    assert [c["name"] for c in data["coefficients"]] == ["intercept", "age_median_years"]
    assert {x["study_id"] for x in data["left_out"]} == {"fake-gamma", "fake-theta"}
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["pool", "cr_cri", "--moderator", "costimulatory_domain", "--release", str(extended)]) == 0
    text = capsys.readouterr().out
    assert "QM(1)" in text and "left out: fake-gamma (no value of costimulatory_domain)" in text
    assert "costimulatory_domain: CD28" in text and "reference 4-1BB" in text


@pytest.mark.parametrize(("args", "message"), [
    (["--moderator", "shoe_size"], "unknown moderator 'shoe_size'"),
    (["--moderator", "design", "--design", "single_arm"], "takes one value"),
    (["--moderator", "costimulatory_domain", "--plot", "x.png"], "one continuous moderator"),
    (["--moderator", "age_median_years", "--by", "product"], "alternatives"),
])
def test_cli_moderator_errors(extended: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                              message: str) -> None:
    args = [str(tmp_path / a) if a.endswith(".png") else a for a in args]
    assert main(["pool", "cr_cri", "--release", str(extended), *args]) == 1
    err = capsys.readouterr()
    assert message in err.err and err.out == ""
    assert len(err.err.strip().splitlines()) == 1
