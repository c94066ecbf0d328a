"""Endpoint families, derived counts, grade ranges and the pooling order, on fake studies (ids `zz-`)
added to a scratch copy of the synthetic package; every expectation is worked out by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from conftest import query_db
from editing import add_row
from pedall.pool import pool, render
from test_evidence_rules import _db, _pub, _study


def _out(root: Path, oid: str, arm: str, measure: str, **values: str) -> None:
    add_row(root, "outcomes", outcome_id=oid, publication_id="zz-2020", arm_id=arm, measure=measure,
            analysis_population=values.pop("analysis_population", "infused"),
            estimate_type=values.pop("estimate_type", "proportion"), source_location="abstract",
            value_origin="reported", **values)


def _ae(root: Path, aid: str, arm: str, event: str, gmin: str, gmax: str, **values: str) -> None:
    add_row(root, "adverse_events", ae_id=aid, publication_id=values.pop("publication_id", "zz-2020"), arm_id=arm,
            event=event, grade_min=gmin, grade_max=gmax, grading_system=values.pop("grading_system", "ctcae_v5"),
            attribution="all_cause", analysis_population=values.pop("analysis_population", "infused"),
            source_location="abstract", value_origin="reported", **values)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import copy_fixture

    root = copy_fixture(tmp_path_factory.mktemp("cand") / "repo")
    add_row(root, "measures", measure="cr", label="Complete remission", kind="binary",
            definition="CR with full count recovery (fake definition).", higher_is_better="true")
    # zz-trial: CR/CRi only as a percent without N (cannot be pooled), CR 7/10 (can): the family uses CR
    _study(root, "zz-trial", "single_arm", "single_arm")
    _pub(root, "zz-2020", "zz-trial", "2020")
    _out(root, "zz-trial-cr-cri", "zz-trial/a", "cr_cri", estimate="80", unit="percent")
    _out(root, "zz-trial-cr", "zz-trial/a", "cr", n_events="7", n_total="10")
    # grade 3 only (all-cause) next to nothing else: never a grade >=3 count
    _ae(root, "zz-trial-neuro-g3", "zz-trial/a", "neurologic_event", "3", "3", n_events="2", n_total="10")
    # grade 3 and grades 4-5 of one publication: summed to a grade >=3 count, 3 + 1 = 4 of 10
    _ae(root, "zz-trial-crs-g3", "zz-trial/a", "crs", "3", "3", n_events="3", n_total="10")
    _ae(root, "zz-trial-crs-g4-5", "zz-trial/a", "crs", "4", "5", n_events="1", n_total="10")
    _out(root, "zz-trial-efs-12", "zz-trial/a", "efs", estimate_type="kaplan_meier", timepoint_months="12",
         timepoint_anchor="infusion", estimate="60", unit="percent", ci_level="95", ci_lower="40", ci_upper="76")
    # zz-zuma: 24 treated in the flow; grade >=3 neurologic events 21% with no count: 5/24 derived
    _study(root, "zz-zuma", "single_arm", "single_arm")
    add_row(root, "publications", publication_id="zz-2023", study_id="zz-zuma", first_author="Doe J", year="2023",
            journal="X", title="T", report_type="primary", evidence_read="abstract")
    add_row(root, "participant_flow", publication_id="zz-2023", arm_id="zz-zuma/a", stage="treated", n="24",
            source_location="abstract", value_origin="reported")
    _ae(root, "zz-zuma-neuro", "zz-zuma/a", "neurologic_event", "3", "5", publication_id="zz-2023",
        analysis_population="treated", estimate="21")
    # "severe" CRS, no grading system named: stands as grade >=3, labelled
    _ae(root, "zz-zuma-crs", "zz-zuma/a", "crs", "3", "5", publication_id="zz-2023", analysis_population="treated",
        grading_system="not_reported", n_events="0", n_total="24",
        note="no severe CRS; severe read as grade 3 or higher")
    # 86% of 578: five counts fit, none is derived
    add_row(root, "outcomes", outcome_id="zz-zuma-cr-cri", publication_id="zz-2023", arm_id="zz-zuma/a",
            measure="cr_cri", analysis_population="treated", estimate_type="proportion", n_total="578",
            estimate="86", unit="percent", source_location="abstract", value_origin="reported")
    add_row(root, "outcomes", outcome_id="zz-zuma-efs-9", publication_id="zz-2023", arm_id="zz-zuma/a",
            measure="efs", analysis_population="treated", estimate_type="kaplan_meier", timepoint_months="9",
            timepoint_anchor="infusion", n_total="24", estimate="50", unit="percent", ci_level="95", ci_lower="30",
            ci_upper="70", source_location="abstract", value_origin="reported")
    # zz-cohort overlaps zz-trial but has nothing to pool (a percent, no N): it must not block pooling
    _study(root, "zz-cohort", "retrospective_cohort", "cohort")
    add_row(root, "publications", publication_id="zz-2022", study_id="zz-cohort", first_author="Doe J", year="2022",
            journal="X", title="T", report_type="primary", evidence_read="abstract")
    add_row(root, "outcomes", outcome_id="zz-cohort-cr", publication_id="zz-2022", arm_id="zz-cohort/a",
            measure="cr", analysis_population="treated", estimate_type="proportion", estimate="94", unit="percent",
            source_location="abstract", value_origin="reported")
    add_row(root, "study_overlaps", study_id="zz-trial", overlapping_study_id="zz-cohort", relation="possible_overlap",
            publication_id="zz-2022", source_location="abstract")
    return _db(root, tmp_path_factory.mktemp("cand-db"))


def test_the_family_uses_the_first_member_that_can_be_pooled(db: Path) -> None:
    res = pool(db, "complete_remission", design="all", by="response_definition", drop=("fake-delta",))
    got = {s.study_id: (s.xi, s.n, s.response_definition) for s in res.studies}
    assert got["zz-trial"] == (7, 10, "cr")
    assert ("zz-cohort", "no count and no N reported") in res.excluded  # and no overlap refusal
    assert ("zz-zuma", "no count reported, and none follows uniquely from the percent") in res.excluded
    assert "cr" in {g.group for g in res.groups}
    # the single measure still pools under its own name; there zz-trial has nothing poolable
    assert ("zz-trial", "no count and no N reported") in pool(db, "cr_cri", drop=("fake-delta",)).excluded
    summary = query_db(db, "SELECT complete_remission_percent, response_definition FROM study_summary "
                       "WHERE study_id = 'zz-trial'")
    assert summary == [(70.0, "cr")]
    cov = query_db(db, "SELECT value, response_definition, poolable FROM coverage "
                   "WHERE study_id = 'zz-trial' AND item = 'complete_remission'")
    assert cov == [("7/10 70.0% (cr)", "cr", True)]


def test_a_count_is_derived_from_a_printed_percent_and_the_flow(db: Path) -> None:
    assert query_db(db, "SELECT n_events, n_total, events_derived, total_from_flow, n_counts_matching "
                    "FROM proportion_counts WHERE row_id = 'zz-zuma-neuro'") == [(5, 24, True, True, 1)]
    assert query_db(db, "SELECT n_events, n_total, events_derived, n_counts_matching FROM proportion_counts "
                    "WHERE row_id = 'zz-zuma-cr-cri'") == [(None, 578, False, 5)]
    res = pool(db, "neurotoxicity", grade_min=3)
    zuma = next(s for s in res.studies if s.study_id == "zz-zuma")
    assert (zuma.xi, zuma.n, zuma.events_derived) == (5, 24, True)
    assert math.isclose(zuma.estimate, 100 * 5 / 24)
    assert "counts derived from printed percents (--no-derived leaves them out): zz-zuma" in render(res)
    without = pool(db, "neurotoxicity", grade_min=3, derived=False)
    assert "zz-zuma" not in {s.study_id for s in without.studies}
    assert ("zz-zuma", "count only derived from the printed percent (--no-derived)") in without.excluded
    assert "left out (--no-derived)" in without.selection


def test_grade_3_only_is_not_grade_3_plus_but_a_sum_to_grade_5_is(db: Path) -> None:
    assert "zz-trial" not in {s.study_id for s in pool(db, "neurotoxicity", grade_min=3).studies}
    crs = {s.study_id: s for s in pool(db, "crs", grade_min=3).studies}
    assert (crs["zz-trial"].xi, crs["zz-trial"].n, crs["zz-trial"].summed_from) == (4, 10, "grades 3 + 4-5")
    assert crs["zz-zuma"].grade_basis == "severe_undefined"
    text = render(pool(db, "crs", grade_min=3))
    assert "summed from grades 3 + 4-5" in text and '"severe" (grade not defined) counted as grade ≥3' in text
    cov = dict(query_db(db, "SELECT item, value FROM coverage WHERE study_id = 'zz-trial'"))
    assert cov["neurotox_grade3plus"] is None and cov["crs_grade3plus"] == "4/10 40.0% (grades 3 + 4-5)"


def test_a_study_without_n_is_shown_as_such(db: Path) -> None:
    res = pool(db, "efs", timepoint=12)
    trial = next(s for s in res.studies if s.study_id == "zz-trial")
    assert trial.n is None
    assert res.overall.n_not_reported >= 1
    assert res.overall.n == sum(s.n for s in res.studies if s.n is not None)
    assert "zz-trial [all] N not reported 60.0%" in render(res)


def test_a_timepoint_window_uses_the_nearest_time_point_and_says_so(db: Path) -> None:
    assert "zz-zuma" not in {s.study_id for s in pool(db, "efs", timepoint=12).studies}
    res = pool(db, "event_free_survival", timepoint=12, timepoint_window=3)
    zuma = next(s for s in res.studies if s.study_id == "zz-zuma")
    assert zuma.timepoint_months == 9
    assert "zz-zuma [all] N=24 50.0%" in render(res) and "at 9 months" in render(res)
    assert "time points within 3 months of 12" in res.selection


def test_the_command_line_takes_family_names_and_the_new_options(db: Path) -> None:
    import json
    import subprocess
    import sys

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pedall.cli", "pool", *args, "--db", str(db)],
                              capture_output=True, text=True, check=False)

    res = cli("complete_remission", "--by", "response_definition", "--drop", "fake-delta", "--design", "all",
              "--format", "json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert {r["group"] for r in data["summary"]} >= {"cr", "cr_cri", "overall"}
    assert {s["study_id"]: s["response_definition"] for s in data["studies"]}["zz-trial"] == "cr"
    derived = cli("neurotoxicity", "--grade-min", "3", "--no-derived")
    assert derived.returncode == 0 and "zz-zuma (count only derived from the printed percent (--no-derived))" in \
        derived.stdout
    window = cli("efs", "--timepoint", "12", "--timepoint-window", "3")
    assert window.returncode == 0 and "at 9 months" in window.stdout
