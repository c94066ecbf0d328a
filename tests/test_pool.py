"""`pedall pool` on the synthetic fixture: selection of one figure per study, scales, outputs and errors."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from pedall.meta import expit, logit
from pedall.pool import SURVIVAL_SCALES, Scale, StudyRow, _implied_scale, pool
from pedall.problems import PoolError
from pedall.release import DB_NAME


def _cli(release: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pedall.cli", "pool", *args, "--db", str(release / DB_NAME)],
                          capture_output=True, text=True, check=False)


def test_one_figure_per_study_from_the_newest_publication(release: Path) -> None:
    res = pool(release / DB_NAME, "cr_cri")  # interventional trials (the default)
    got = [(s.study_id, s.publication_id, s.arm_id, s.population, s.xi, s.n) for s in res.studies]
    assert got == [
        # the update (newest cutoff) over the primary report, infused over evaluable; never the third-party 90/99
        ("fake-alpha", "fake-2023-alpha", "fake-alpha/car", "infused", 44, 55),
        ("fake-beta", "fake-2021-beta", "fake-beta/car", "infused", 7, 12),
        ("fake-gamma", "fake-2022-gamma", "fake-gamma/fakemab", "randomized", 30, 40),  # the experimental arm
    ]
    cohort = pool(release / DB_NAME, "cr_cri", design="observational").studies
    # the pooled arm stands for the cohort study
    assert [(s.study_id, s.publication_id, s.arm_id, s.population, s.xi, s.n) for s in cohort] == [
        ("fake-delta", "fake-2022-delta", "fake-delta/pooled", "infused", 20, 25)]


def test_weights_and_estimate_equal_metafor_constants(release: Path) -> None:
    # metafor 3.8.1: res <- rma(measure = "PLO", xi = c(44, 7, 30), ni = c(55, 12, 40)) (REML, test "z");
    # weights(res); predict(res, transf = transf.ilogit) times 100; tau² is 0 here, so PI = CI
    res = pool(release / DB_NAME, "cr_cri")
    for s, want in zip(res.studies, (45.793582, 15.177797, 39.028621), strict=True):
        assert math.isclose(s.weight, want, abs_tol=1e-5), s.study_id
    pct = res.overall.percent(res.scale)
    for field, want in (("estimate", 75.299986), ("ci_lower", 66.095919), ("ci_upper", 82.660872),
                        ("pi_lower", 66.095919), ("pi_upper", 82.660872)):
        assert math.isclose(pct[field], want, abs_tol=1e-5), field
    assert math.isclose(res.overall.pooled.tau2, 0, abs_tol=1e-9)
    # under Knapp-Hartung (test = "knha") the estimate and weights stay, the interval widens
    knha = pool(release / DB_NAME, "cr_cri", test="knha").overall.percent(res.scale)
    assert math.isclose(knha["ci_lower"], 50.889043, abs_tol=1e-5)
    assert math.isclose(knha["ci_upper"], 89.969018, abs_tol=1e-5)


def test_subgroups_of_one_study_equal_that_study(release: Path) -> None:
    res = pool(release / DB_NAME, "crs", grade_min=3, by="intervention_class")
    got = {g.group: (g.k, g.n, round(100 / (1 + math.exp(-g.pooled.estimate)), 6)) for g in res.groups}
    # fake-alpha: the all-cause count of the update in the infused population (not the related 7/55,
    # not the evaluable 9/52, not the third-party 30/99); fake-delta reports no CRS
    assert got == {"cd19_car_t": (1, 55, round(100 * 10 / 55, 6)),
                   "cd22_car_t": (1, 12, round(100 * 2 / 12, 6)),
                   "bispecific_t_cell_engager": (1, 40, round(100 * 1 / 40, 6))}
    assert res.overall.k == 3


def test_neurotoxicity_gathers_icans_and_neurologic_events(release: Path) -> None:
    res = pool(release / DB_NAME, "neurotoxicity", grade_min=3)
    assert [(s.study_id, s.xi, s.n) for s in res.studies] == [
        ("fake-alpha", 4, 50), ("fake-beta", 0, 12), ("fake-gamma", 2, 40)]
    beta = res.studies[1]  # zero events: 0.5 added to both cells, as metafor's escalc does
    assert math.isclose(beta.yi, math.log(0.5 / 12.5)) and math.isclose(beta.vi, 1 / 0.5 + 1 / 12.5)
    assert res.title == "Neurotoxicity, grade ≥3"


def test_survival_is_pooled_on_the_log_scale_its_cis_imply(release: Path) -> None:
    # Every EFS CI of the fixture is symmetric around its estimate on the log scale.
    res = pool(release / DB_NAME, "efs", timepoint=12)
    assert res.scale.name == "log"
    with pytest.raises(PoolError, match="fake-delta: no confidence interval reported"):  # cannot be weighted
        pool(release / DB_NAME, "efs", timepoint=12, design="observational")
    by_id = {s.study_id: s for s in res.studies}
    assert (by_id["fake-alpha"].publication_id, by_id["fake-alpha"].estimate) == ("fake-2023-alpha", 48)
    beta = by_id["fake-beta"]  # a 90% CI: its own z, not 1.96
    assert math.isclose(beta.yi, math.log(0.40))
    assert math.isclose(beta.vi, ((math.log(0.80) - math.log(0.20)) / (2 * 1.6448536269514722)) ** 2)
    alpha = by_id["fake-alpha"]
    assert math.isclose(alpha.vi, ((math.log(0.64) - math.log(0.36)) / (2 * 1.959963984540054)) ** 2)
    pct = res.overall.percent(res.scale)
    assert pct["ci_lower"] < pct["estimate"] < pct["ci_upper"]


def _row(est: float, lo: float, hi: float) -> StudyRow:
    return StudyRow("s", "s", "all", "s/a", "p", "infused", 12, 50, None, est, lo, hi, 95)


# Each scale's transform and its inverse, written here from their definitions (not pool's code).
_TRANSFORMS = {
    "identity": (lambda p: p, lambda x: x),
    "log": (math.log, math.exp),
    "logit": (lambda p: math.log(p / (1 - p)), lambda x: 1 / (1 + math.exp(-x))),
    "cloglog": (lambda p: math.log(-math.log(p)), lambda x: math.exp(-math.exp(x))),
}


@pytest.mark.parametrize("scale", list(_TRANSFORMS))
def test_implied_scale_is_the_one_where_the_cis_are_symmetric(scale: str) -> None:
    assert {s.name for s in SURVIVAL_SCALES} == set(_TRANSFORMS)
    fwd, inv = _TRANSFORMS[scale]
    rows = []
    for est, half in ((0.6, 0.1), (0.45, 0.08), (0.3, 0.05)):
        x = fwd(est)
        lo, hi = sorted((inv(x - half), inv(x + half)))
        rows.append(_row(100 * est, 100 * lo, 100 * hi))
    assert _implied_scale(rows).name == scale
    s = Scale(scale)
    for p in (0.05, 0.3, 0.9):
        assert math.isclose(s.fwd(p), fwd(p)) and math.isclose(s.inv(fwd(p)), p)


def test_logit_and_expit_equal_hand_values() -> None:
    assert math.isclose(logit(0.3), -0.8472978603872037)  # ln(3/7)
    assert math.isclose(expit(-0.8472978603872037), 0.3) and expit(0) == 0.5


def test_cli_table_csv_json_and_plot(release: Path, tmp_path: Path) -> None:
    png = tmp_path / "forest.png"
    res = _cli(release, "cr_cri", "--by", "intervention_class", "--plot", str(png))
    assert res.returncode == 0, res.stderr
    assert "random effects (REML)" in res.stdout and "overall" in res.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "studies: interventional trials only (--design interventional)" in res.stdout
    # by default the trials only (the prospective cohort fake-delta is left out); --design all adds it
    rows = list(csv.DictReader(io.StringIO(_cli(release, "cr_cri", "--format", "csv").stdout)))
    assert [(r["group"], r["k"], r["n"]) for r in rows] == [("overall", "3", str(55 + 12 + 40))]
    # fake-delta and fake-alpha may share patients: with every design, pool asks which one stands
    refused = _cli(release, "cr_cri", "--design", "all")
    assert refused.returncode == 1 and "--keep" in refused.stderr and "Traceback" not in refused.stderr
    data = json.loads(_cli(release, "cr_cri", "--method", "DL", "--design", "all", "--keep", "fake-delta",
                           "--format", "json").stdout)
    assert data["method"] == "DL" and data["summary"][-1]["k"] == len(data["studies"]) == 3
    assert data["design"] == "all" and data["include_third_party"] is False
    assert {"study_id": "fake-alpha", "reason": "overlaps fake-delta (possible overlap); --keep fake-delta"} \
        in data["excluded"]
    svg = tmp_path / "forest.svg"
    assert _cli(release, "os", "--timepoint", "12", "--plot", str(svg)).returncode == 0
    assert svg.read_text().lstrip().startswith("<?xml")


def test_cli_errors_are_messages(release: Path) -> None:
    res = _cli(release, "no_such_measure")
    assert res.returncode == 1 and "unknown measure" in res.stderr and "Traceback" not in res.stderr
    res = _cli(release, "efs")
    assert res.returncode == 1 and "--timepoint" in res.stderr


def test_population_filter_and_unknown_population(release: Path) -> None:
    res = pool(release / DB_NAME, "cr_cri", population="evaluable")
    assert [(s.study_id, s.xi, s.n) for s in res.studies] == [("fake-alpha", 42, 48)]
    res = _cli(release, "cr_cri", "--population", "everyone")
    assert res.returncode == 1 and "unknown population 'everyone'" in res.stderr
