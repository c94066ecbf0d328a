"""Third-party figures, study designs, overlapping studies, coverage and attribution.

Each test adds clearly fake studies (ids starting `zz-`) to a scratch copy of the package, so the
assertions hold whatever the curated data say.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import query_db
from editing import add_row, problems, set_cell
from pedall import database, parquet
from pedall.package import load_package
from pedall.pool import pool
from pedall.problems import PoolError
from pedall.validate import validate


def _db(root: Path, tmp: Path) -> Path:
    """Validate the scratch package and build only its database (no figures, no zip)."""
    pkg = load_package(root)
    frames = validate(pkg)
    pq = tmp / "parquet"
    pq.mkdir()
    for t in pkg.tables.values():
        parquet.write(t, frames[t.name], pq / f"{t.name}.parquet")
    db = tmp / "test.duckdb"
    database.build(pkg, pq, db)
    return db


def _study(root: Path, sid: str, design: str, role: str) -> None:
    add_row(root, "studies", study_id=sid, design=design, setting="relapsed_refractory",
            intervention_class="cd19_car_t", registry_note="made-up study for tests: no registry id")
    add_row(root, "arms", arm_id=f"{sid}/a", study_id=sid, label="A", role=role)


def _pub(root: Path, pid: str, sid: str, year: str, report_type: str = "primary") -> None:
    add_row(root, "publications", publication_id=pid, study_id=sid, first_author="Doe J", year=year,
            journal="X", title="T", report_type=report_type, evidence_read="abstract")


def _prop(root: Path, oid: str, pid: str, arm: str, measure: str, x: int, n: int) -> None:
    add_row(root, "outcomes", outcome_id=oid, publication_id=pid, arm_id=arm, measure=measure,
            analysis_population="infused", estimate_type="proportion", n_events=str(x), n_total=str(n),
            source_location="abstract", value_origin="reported")


def _km(root: Path, oid: str, pid: str, arm: str, est: str, lo: str, hi: str) -> None:
    add_row(root, "outcomes", outcome_id=oid, publication_id=pid, arm_id=arm, measure="efs",
            analysis_population="infused", timepoint_months="12", timepoint_anchor="infusion",
            estimate_type="kaplan_meier", estimate=est, unit="percent", ci_level="95", ci_lower=lo, ci_upper=hi,
            source_location="abstract", value_origin="reported")


@pytest.fixture
def scenario(repo: Path, tmp_path: Path) -> Path:
    """A trial with a primary report and a newer third-party summary, and an observational cohort."""
    _study(repo, "zz-trial", "single_arm", "single_arm")
    _pub(repo, "zz-primary-2020", "zz-trial", "2020")
    _pub(repo, "zz-review-2024", "zz-trial", "2024", "third_party_summary")
    _prop(repo, "zz-primary-cr", "zz-primary-2020", "zz-trial/a", "cr_cri", 8, 10)
    _prop(repo, "zz-review-cr", "zz-review-2024", "zz-trial/a", "cr_cri", 9, 10)  # newer, but third-party
    _km(repo, "zz-review-efs", "zz-review-2024", "zz-trial/a", "50", "40", "60")  # only the summary gives it
    _study(repo, "zz-cohort", "retrospective_cohort", "cohort")
    _pub(repo, "zz-cohort-2022", "zz-cohort", "2022")
    _prop(repo, "zz-cohort-cr", "zz-cohort-2022", "zz-cohort/a", "cr_cri", 30, 40)
    return repo


def test_a_trial_report_wins_over_a_newer_third_party_summary(scenario: Path, tmp_path: Path) -> None:
    db = _db(scenario, tmp_path)
    assert query_db(db, "SELECT publication_id FROM latest_outcomes WHERE arm_id = 'zz-trial/a'") == [
        ("zz-primary-2020",)]
    rows = query_db(db, "SELECT measure, publication_id, third_party FROM latest_outcomes_all "
                    "WHERE arm_id = 'zz-trial/a' ORDER BY measure")
    assert rows == [("cr_cri", "zz-primary-2020", False), ("efs", "zz-review-2024", True)]
    trial = next(s for s in pool(db, "cr_cri").studies if s.study_id == "zz-trial")
    assert (trial.xi, trial.n, trial.publication_id) == (8, 10, "zz-primary-2020")
    summary = query_db(db, "SELECT complete_remission_percent, response_definition, efs_12m_percent FROM study_summary "
                       "WHERE study_id = 'zz-trial'")
    assert summary == [(80.0, "cr_cri", None)]


def test_third_party_figures_pool_only_when_asked(scenario: Path, tmp_path: Path) -> None:
    db = _db(scenario, tmp_path)
    default = pool(db, "efs", timepoint=12)
    assert "zz-trial" not in {s.study_id for s in default.studies}
    assert "third-party figures excluded" in default.selection
    included = pool(db, "efs", timepoint=12, include_third_party=True)
    assert "zz-trial" in {s.study_id for s in included.studies}


def test_design_filter_defaults_to_interventional_trials(scenario: Path, tmp_path: Path) -> None:
    db = _db(scenario, tmp_path)
    assert "zz-cohort" not in {s.study_id for s in pool(db, "cr_cri").studies}
    everything = pool(db, "cr_cri", design="all", by="study_design")
    assert {"zz-trial", "zz-cohort"} <= {s.study_id for s in everything.studies}
    assert {g.group for g in everything.groups} >= {"single_arm", "retrospective_cohort"}
    observational = pool(db, "cr_cri", design="observational")
    assert {s.study_id for s in observational.studies} == {"zz-cohort"}
    with pytest.raises(PoolError, match="unknown design 'trials'"):
        pool(db, "cr_cri", design="trials")


def test_overlapping_studies_are_not_pooled_twice(scenario: Path, tmp_path: Path) -> None:
    add_row(scenario, "study_overlaps", study_id="zz-trial", overlapping_study_id="zz-cohort", relation="subset",
            publication_id="zz-cohort-2022", source_location="abstract")
    db = _db(scenario, tmp_path)
    with pytest.raises(PoolError, match=r"zz-trial and zz-cohort \(subset\).*--keep"):
        pool(db, "cr_cri", design="all")
    kept = pool(db, "cr_cri", design="all", keep=("zz-cohort",))
    ids = {s.study_id for s in kept.studies}
    assert "zz-cohort" in ids and "zz-trial" not in ids
    assert ("zz-trial", "overlaps zz-cohort (subset); --keep zz-cohort") in kept.excluded
    dropped = pool(db, "cr_cri", design="all", drop=("zz-cohort",))
    assert "zz-trial" in {s.study_id for s in dropped.studies}
    # the default (interventional only) never meets the cohort, so nothing needs resolving
    assert "zz-trial" in {s.study_id for s in pool(db, "cr_cri").studies}


def test_coverage_gives_the_best_figure_or_why_there_is_none(scenario: Path, tmp_path: Path) -> None:
    _study(scenario, "zz-unread", "single_arm", "single_arm")
    add_row(scenario, "publications", publication_id="zz-unread-2021", study_id="zz-unread", first_author="Doe J",
            year="2021", journal="X", title="T", report_type="primary", evidence_read="not_found")
    db = _db(scenario, tmp_path)
    cov = dict(((s, i), (st, v)) for s, i, st, v in query_db(
        db, "SELECT study_id, item, status, value FROM coverage WHERE study_id LIKE 'zz-%'"))
    assert cov[("zz-trial", "complete_remission")] == ("reported", "8/10 80.0%")  # computed from the counts
    assert cov[("zz-trial", "efs")][0] == "third_party_only"
    assert cov[("zz-trial", "os")] == ("not_in_readable_sources", None)
    assert cov[("zz-trial", "sos_vod")][0] == "not_applicable"
    assert {st for (s, _), (st, _) in cov.items() if s == "zz-unread"} == {"source_not_readable", "not_applicable"}
    n_items = query_db(db, "SELECT count(*) FROM coverage_items")[0][0]
    assert query_db(db, "SELECT count(*) FROM coverage WHERE study_id = 'zz-trial'")[0][0] == n_items


def test_an_analysis_set_never_stands_for_its_study(scenario: Path, tmp_path: Path) -> None:
    # sorts before zz-trial/a and is "pooled" across trials: must still not become the summary arm
    add_row(scenario, "arms", arm_id="zz-trial/0-pooled-with-other-trial", study_id="zz-trial", label="P",
            role="analysis_set")
    add_row(scenario, "arms", arm_id="zz-trial/0-high-burden", study_id="zz-trial", label="H", role="factor_group")
    db = _db(scenario, tmp_path)
    assert query_db(db, "SELECT arm_id FROM summary_arms WHERE study_id = 'zz-trial'") == [("zz-trial/a",)]


def test_attribution_is_required_and_enumerated(repo: Path) -> None:
    from editing import read_rows

    ae = read_rows(repo, "adverse_events")[0]["ae_id"]
    line = set_cell(repo, "adverse_events", {"ae_id": ae}, attribution="related")
    assert any(p.startswith(f"data/adverse_events.csv:{line}: attribution:") and "[constraint-error]" in p
               for p in problems(repo))
    set_cell(repo, "adverse_events", {"ae_id": ae}, attribution="")
    assert any(f":{line}: attribution:" in p and "required" in p for p in problems(repo))
