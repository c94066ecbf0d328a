"""`pedall replicate`: the review's own methods agree with metafor, and each published estimate gets
pedall's answer to the same question with the studies both sides hold.

metafor computes the transforms itself from events and totals (measure = "PFT", "PR", "PAS", "PLO")
and back-transforms with its own functions (transf.ipft.hm, transf.iarcsin, transf.ilogit).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import require
from extended import ESTIMATES, REVIEW, build_extended
from pedall.cli import main
from pedall.release import DB_NAME
from pedall.replicate import ipft, pft, pool_proportions, replicate
from test_metafor import _CONTROL, _metafor_available, _r, _vec

TOL = 1e-4
XS, NS = [0, 18, 25, 44, 7, 12], [15, 30, 28, 55, 12, 12]  # a zero and a full cell among them

_R_BACK = {"freeman_tukey": ("PFT", "transf = transf.ipft.hm, targs = list(ni = ni)"),
           "arcsine": ("PAS", "transf = transf.iarcsin"), "logit": ("PLO", "transf = transf.ilogit"),
           "raw": ("PR", "")}


def _metafor(xs: list[int], ns: list[int], transform: str, method: str) -> dict[str, float]:
    measure, back = _R_BACK[transform]
    return _r(f"""xi <- {_vec(xs)}; ni <- {_vec(ns)}
res <- rma(measure = '{measure}', xi = xi, ni = ni, method = '{method}', {_CONTROL})
pr <- predict(res{', ' + back if back else ''})
cat(sprintf('est=%.12f\\nlo=%.12f\\nhi=%.12f\\ntau2=%.12f\\ni2=%.12f\\n', 100 * pr$pred, 100 * pr$ci.lb,
            100 * pr$ci.ub, res$tau2, ifelse(is.null(res$I2), 0, res$I2)))""")


@pytest.mark.parametrize("method", ["REML", "DL", "FE"])
@pytest.mark.parametrize("transform", ["freeman_tukey", "raw", "arcsine", "logit"])
def test_transforms_agree_with_metafor(transform: str, method: str) -> None:
    require(_metafor_available(), "R with metafor", "apt-get install r-base-core r-cran-metafor")
    xs, ns = (XS[1:5], NS[1:5]) if transform == "raw" else (XS, NS)  # raw: 0% or 100% has no variance
    r = _metafor(xs, ns, transform, method)
    py = pool_proportions(xs, ns, transform, "fixed" if method == "FE" else "random",
                          "REML" if method == "FE" else method)
    got = {"est": py.estimate, "lo": py.ci_lower, "hi": py.ci_upper, "tau2": py.tau2}
    if method != "FE":
        got["i2"] = py.i2
    for key, value in got.items():
        assert math.isclose(value, r[key], abs_tol=TOL), (key, value, r[key])


def test_freeman_tukey_by_hand() -> None:
    # t = (asin(sqrt(x/(n+1))) + asin(sqrt((x+1)/(n+1)))) / 2, variance 1/(4n+2); for 3 of 10:
    t, v = pft(3, 10)
    assert t == pytest.approx((math.asin(math.sqrt(3 / 11)) + math.asin(math.sqrt(4 / 11))) / 2)
    assert v == pytest.approx(1 / 42)
    # Miller's inversion at the study's own n gives back about x/n (exactly only as n grows)
    assert ipft(t, 10) == pytest.approx(0.3, abs=0.01)
    assert ipft(pft(300, 1000)[0], 1000) == pytest.approx(0.3, abs=1e-3)
    assert ipft(0.0, 10) == 0.0 and ipft(math.pi / 2, 10) == 1.0  # outside the range: clamped


def test_fixture_estimates(release: Path) -> None:
    rep = replicate(release / DB_NAME)
    got = {a.published.estimate_id: a for a in rep.answers}
    assert sorted(got) == ["fake-2025-metaanalysis/cr-cri-cd19-all", "fake-2025-metaanalysis/cr-cri-cd22",
                           "fake-2025-metaanalysis/crs-g3-cd19-all", "fake-2025-metaanalysis/efs-hr-bispecific"]
    ratio = got["fake-2025-metaanalysis/efs-hr-bispecific"]
    assert not ratio.answered and "hazard ratio" in (ratio.reason or "")
    both = got["fake-2025-metaanalysis/cr-cri-cd19-all"]
    assert not both.answered and "fake-alpha" in (both.reason or "") and "fake-delta" in (both.reason or "")
    cd22 = got["fake-2025-metaanalysis/cr-cri-cd22"]
    # 7/12 on the logit scale: logit = ln(7/5), variance 1/7 + 1/5, back-transformed 95% CI
    se = math.sqrt(1 / 7 + 1 / 5)
    lo, hi = (100 / (1 + math.exp(-(math.log(7 / 5) + s * 1.959963984540054 * se))) for s in (-1, 1))
    assert cd22.answered and cd22.k == 1 and cd22.n == 12
    assert cd22.estimate == pytest.approx(700 / 12) and cd22.ci_lower == pytest.approx(lo)
    assert cd22.ci_upper == pytest.approx(hi)
    assert cd22.in_common == ["fake-beta"] and cd22.only_pedall == [] and cd22.only_published == []
    crs = got["fake-2025-metaanalysis/crs-g3-cd19-all"]
    # raw proportion 10/55 (the update's all-cause infused count), Wald CI
    p = 10 / 55
    half = 1.959963984540054 * math.sqrt(p * (1 - p) / 55)
    assert crs.estimate == pytest.approx(100 * p) and crs.ci_lower == pytest.approx(100 * (p - half))
    assert crs.only_published == ["Fake 2022 (FAKE-DELTA cohort)"]  # pedall has no CRS figure for it
    assert any("REML used" in d for d in crs.deviations)  # the review did not say which tau² method


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_extended(tmp_path_factory)


def test_extended_estimates_agree_with_metafor(extended: Path) -> None:
    require(_metafor_available(), "R with metafor", "apt-get install r-base-core r-cran-metafor")
    rep = replicate(extended)
    answers = {a.published.estimate_id: a for a in rep.answers if a.published.publication_id == REVIEW}
    assert sorted(answers) == sorted(ESTIMATES)
    # pedall's CD19 CAR-T trials: FAKE-ALPHA 44/55 (the update), fake-eps 18/30, fake-zeta 25/28
    xs, ns = [44, 18, 25], [55, 30, 28]
    for eid, (transform, method, model) in ESTIMATES.items():
        a = answers[eid]
        assert a.answered and a.k == 3 and a.n == 113, eid
        assert a.studies == ["fake-alpha", "fake-eps", "fake-zeta"]
        assert a.in_common == ["fake-alpha", "fake-zeta"] and a.only_pedall == ["fake-eps"]
        assert a.only_published == ["Other 2018"]
        r_method = "FE" if model == "common" else method if method in ("DL", "REML") else "REML"
        r = _metafor(xs, ns, transform, r_method)
        for key, value in (("est", a.estimate), ("lo", a.ci_lower), ("hi", a.ci_upper)):
            assert math.isclose(value, r[key], abs_tol=TOL), (eid, key, value, r[key])
    assert any("PM" in d for d in answers[f"{REVIEW}/cd19-logit-pm"].deviations)


def test_cli_json(release: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replicate", "--format", "json", "--release", str(release)]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text
    data = json.loads(text)
    first = data["estimates"][0]
    assert set(first) == {"published", "pedall"}
    assert first["published"]["studies"][0]["study_id"] == "fake-alpha"
    assert [e["pedall"]["answered"] for e in data["estimates"]] == [False, True, True, False]
    assert main(["replicate", "--release", str(release)]) == 0
    table = capsys.readouterr().out
    assert "not answered" in table and "only in the review: Fake 2022 (FAKE-DELTA cohort)" in table
