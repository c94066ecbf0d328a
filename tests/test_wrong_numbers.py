"""Each of the deliberate errors of issue 15 makes at least one test fail: the numbers an error would
change are compared with values computed by hand or by R (constants below), on observable output
(the built fixture database, `pedall pool` on the command line), never rebuilt with the code under test.

- a prediction interval without tau², and Q's p value on k instead of k-1 degrees of freedom: the
  pooled summaries of `pedall pool --format json` against metafor 3.8.1's (test_metafor.py compares
  the same with R itself, where R is installed);
- a Clopper-Pearson bound at the wrong level: the per-study exact CIs against R's binom.test();
- the wrong z for a 95% CI in survival_outcomes: its se_percent against (upper - lower) / (2 * 1.959964);
- nonrandomized_multiarm grouped with observational studies, and third-party figures let into
  study_summary: a scratch copy of the fixture in which fake-beta is a non-randomized multi-arm trial
  and a third-party review gives fake-gamma figures its own report lacks (N treated, 12-month OS) or
  gives in a population that ranks higher (CR/CRi and grade >=3 CRS in the treated population), and
  another review gives fake-delta's only grade >=3 CRS count.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_fixture, query_db
from pedall.release import DB_NAME, build


def _pool(db: Path, *args: str) -> dict:
    res = subprocess.run([sys.executable, "-m", "pedall.cli", "pool", *args, "--format", "json", "--db", str(db)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


# Grade >=3 CRS of the fixture's three trials: 10/55, 2/12, 1/40 (tau² > 0 under both estimators).
# metafor 3.8.1: res <- rma(measure = "PLO", xi = c(10, 2, 1), ni = c(55, 12, 40), method = M, test = T,
# control = list(threshold = 1e-12, maxiter = 10000)); predict(res, transf = transf.ilogit) (times 100),
# res$tau2, res$I2, res$QE, res$QEp, weights(res).
_CRS = {  # (method, test): estimate, CI, PI (percent), tau², I², Q, p(Q), weights (percent)
    ("REML", "z"): (12.221540, 4.524430, 29.031527, 2.436269, 43.703749, 0.466334, 50.031107, 4.084538, 0.129734,
                    (51.376250, 28.356787, 20.266964)),
    ("REML", "knha"): (12.221540, 1.024667, 65.187027, 0.274756, 87.556185, 0.466334, 50.031107, 4.084538,
                       0.129734, (51.376250, 28.356787, 20.266964)),
    ("DL", "z"): (12.166433, 4.446650, 29.193759, 2.355687, 44.299225, 0.485441, 51.034850, 4.084538, 0.129734,
                  (50.969222, 28.534131, 20.496646)),
    ("DL", "knha"): (12.166433, 1.008949, 65.307747, 0.259613, 88.054568, 0.485441, 51.034850, 4.084538, 0.129734,
                     (50.969222, 28.534131, 20.496646)),
}
_SUMMARY_FIELDS = ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "q", "q_p")


@pytest.mark.parametrize(("method", "test"), list(_CRS))
def test_pooled_summary_equals_metafor_constants(release: Path, method: str, test: str) -> None:
    data = _pool(release / DB_NAME, "crs", "--grade-min", "3", "--method", method, "--test", test)
    assert data["test"] == test and f"--test {test}" in data["intervals"]
    *summary, weights = _CRS[(method, test)]
    (overall,) = data["summary"]
    assert (overall["k"], overall["method"], overall["test"]) == (3, method, test)
    for field, want in zip(_SUMMARY_FIELDS, summary, strict=True):
        assert math.isclose(overall[field], want, abs_tol=1e-5), (field, overall[field], want)
    assert [(s["study_id"], s["xi"], s["n"]) for s in data["studies"]] == [
        ("fake-alpha", 10, 55), ("fake-beta", 2, 12), ("fake-gamma", 1, 40)]
    for s, want in zip(data["studies"], weights, strict=True):
        assert math.isclose(s["weight"], want, abs_tol=1e-5), (s["study_id"], s["weight"], want)


def test_no_prediction_interval_below_three_studies(release: Path) -> None:
    # 12-month OS: fake-alpha and fake-beta only (fake-gamma gives a hazard ratio), k = 2
    for test in ("z", "knha"):
        (overall,) = _pool(release / DB_NAME, "os", "--timepoint", "12", "--test", test)["summary"]
        assert overall["k"] == 2 and overall["pi_lower"] is None and overall["pi_upper"] is None
        assert overall["ci_lower"] < overall["estimate"] < overall["ci_upper"]
    table = subprocess.run([sys.executable, "-m", "pedall.cli", "pool", "os", "--timepoint", "12", "--test", "knha",
                            "--db", str(release / DB_NAME)], capture_output=True, text=True, check=True).stdout
    assert "Knapp-Hartung" in table and "no prediction interval for k < 3" in table


def test_per_study_exact_cis_equal_r_binom_test(release: Path) -> None:
    # R 4: binom.test(x, n)$conf.int (Clopper-Pearson, 95%), times 100
    cr = {s["study_id"]: s for s in _pool(release / DB_NAME, "cr_cri")["studies"]}
    for sid, (lo, hi) in {"fake-alpha": (67.0271493712386, 89.5704083074232),  # 44/55
                          "fake-beta": (27.6669685682106, 84.8347770191570),  # 7/12
                          }.items():
        assert math.isclose(cr[sid]["ci_lower"], lo, abs_tol=1e-9), (sid, cr[sid]["ci_lower"])
        assert math.isclose(cr[sid]["ci_upper"], hi, abs_tol=1e-9), (sid, cr[sid]["ci_upper"])
    beta = _pool(release / DB_NAME, "neurotoxicity", "--grade-min", "3")["studies"][1]
    assert (beta["study_id"], beta["xi"], beta["n"]) == ("fake-beta", 0, 12)
    assert beta["ci_lower"] == 0 and math.isclose(beta["ci_upper"], 26.4648469397051, abs_tol=1e-9)  # 1 - 0.025^(1/12)


def test_survival_standard_errors_use_each_cis_own_z(release: Path) -> None:
    se = dict(query_db(release / DB_NAME, "SELECT outcome_id, se_percent FROM survival_outcomes"))
    # (upper - lower) / (2 z): z = 1.959964 for a 95% CI, 1.644854 for a 90% CI, by hand
    assert math.isclose(se["fake-2023-alpha-efs-12m"], 7.142988396945156, rel_tol=1e-9)  # 36-64, 95%
    assert math.isclose(se["fake-2021-beta-efs-12m"], 18.238704957353075, rel_tol=1e-9)  # 20-80, 90%
    assert math.isclose(se["fake-2020-alpha-efs-6m"], 8.0358619465633, rel_tol=1e-9)  # 56-87.5, 95%
    assert se["fake-2022-delta-efs-12m"] is None  # no CI


# --- a scratch copy of the fixture with a non-randomized multi-arm trial and third-party figures ---

_THIRD_PARTY = "fake-2025-review-gamma"
_THIRD_PARTY_DELTA = "fake-2025-review-delta"  # the only grade >=3 CRS count of fake-delta


def _append(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open(newline="") as f:
        fields = next(csv.reader(f))
    with path.open("a", newline="") as f:
        csv.DictWriter(f, fieldnames=fields, lineterminator="\n").writerows(rows)


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_fixture(tmp_path_factory.mktemp("edited") / "repo")
    data = root / "data"
    studies = (data / "studies.csv").read_text()
    assert studies.count(",single_arm,1,relapsed_refractory,cd22_car_t,") == 1
    (data / "studies.csv").write_text(studies.replace(",single_arm,1,relapsed_refractory,cd22_car_t,",
                                                      ",nonrandomized_multiarm,1,relapsed_refractory,cd22_car_t,"))
    _append(data / "publications.csv", [{
        "publication_id": pub, "study_id": study, "first_author": "Fake", "year": "2025",
        "journal": "Fake Reviews", "title": f"A review table citing {study.upper()}",
        "report_type": "third_party_summary", "evidence_read": "full_text"}
        for pub, study in ((_THIRD_PARTY_DELTA, "fake-delta"), (_THIRD_PARTY, "fake-gamma"))])
    _append(data / "participant_flow.csv", [{
        "publication_id": _THIRD_PARTY, "arm_id": "fake-gamma/fakemab", "stage": "treated", "n": "41",
        "source_location": "table_1", "value_origin": "reported"}])
    common = {"publication_id": _THIRD_PARTY, "arm_id": "fake-gamma/fakemab", "analysis_population": "treated",
              "source_location": "table_1", "value_origin": "reported"}
    _append(data / "outcomes.csv", [
        {**common, "outcome_id": f"{_THIRD_PARTY}-cr-cri", "measure": "cr_cri", "timepoint_months": "2",
         "timepoint_anchor": "randomization", "estimate_type": "proportion", "n_events": "35", "n_total": "41",
         "estimate": "85.4", "unit": "percent"},
        {**common, "outcome_id": f"{_THIRD_PARTY}-os-12m", "measure": "os", "timepoint_months": "12",
         "timepoint_anchor": "randomization", "estimate_type": "kaplan_meier", "n_total": "41", "estimate": "70",
         "unit": "percent", "ci_level": "95", "ci_lower": "55", "ci_upper": "85"}])
    _append(data / "adverse_events.csv", [  # in primary-key order, as validation requires
        {**common, "publication_id": _THIRD_PARTY_DELTA, "arm_id": "fake-delta/pooled",
         "analysis_population": "infused", "ae_id": f"{_THIRD_PARTY_DELTA}-crs-g3-5", "event": "crs",
         "grade_min": "3", "grade_max": "5", "grading_system": "not_reported", "attribution": "all_cause",
         "n_events": "3", "n_total": "25", "estimate": "12"},
        {**common, "ae_id": f"{_THIRD_PARTY}-crs-g3-5", "event": "crs", "grade_min": "3", "grade_max": "5",
         "grading_system": "not_reported", "attribution": "all_cause", "n_events": "5", "n_total": "41",
         "estimate": "12.2"}])
    return build(root, tmp_path_factory.mktemp("edited-dist")) / DB_NAME


def test_nonrandomized_multiarm_is_an_interventional_design(edited: Path) -> None:
    assert query_db(edited, "SELECT design, design_group FROM study_summary WHERE study_id = 'fake-beta'") == [
        ("nonrandomized_multiarm", "interventional")]
    ids = [s["study_id"] for s in _pool(edited, "cr_cri")["studies"]]  # interventional trials by default
    assert ids == ["fake-alpha", "fake-beta", "fake-gamma"]
    assert [s["study_id"] for s in _pool(edited, "cr_cri", "--design", "observational")["studies"]] == ["fake-delta"]


def test_study_summary_leaves_out_third_party_figures(edited: Path) -> None:
    ((n_pub, n_treated, cr, os12, crs),) = query_db(edited, """SELECT n_publications, n_treated,
        complete_remission_percent, os_12m_percent, crs_grade3plus_percent FROM study_summary
        WHERE study_id = 'fake-gamma'""")
    # the trial's own report only: one publication, no N treated, CR/CRi 30/40, no 12-month OS, CRS 1/40
    assert (n_pub, n_treated, os12) == (1, None, None)
    assert math.isclose(cr, 75.0) and math.isclose(crs, 2.5)
    # fake-delta: its only grade >=3 CRS count is a review's
    assert query_db(edited, "SELECT crs_grade3plus_percent FROM study_summary WHERE study_id = 'fake-delta'") == [
        (None,)]


def test_pool_uses_third_party_figures_only_when_asked_and_never_over_the_trials_own(edited: Path) -> None:
    gamma = [s for s in _pool(edited, "cr_cri", "--include-third-party")["studies"] if s["study_id"] == "fake-gamma"]
    assert [(s["xi"], s["n"], s["third_party"]) for s in gamma] == [(30, 40, False)]
    crs = _pool(edited, "crs", "--grade-min", "3", "--include-third-party")["studies"]
    assert [(s["study_id"], s["xi"], s["n"]) for s in crs][-1] == ("fake-gamma", 1, 40)
    assert [s["study_id"] for s in _pool(edited, "os", "--timepoint", "12")["studies"]] == ["fake-alpha", "fake-beta"]
    os12 = _pool(edited, "os", "--timepoint", "12", "--include-third-party")["studies"]
    assert [(s["study_id"], s["estimate"], s["third_party"]) for s in os12][-1] == ("fake-gamma", 70, True)
