"""study_summary and `pedall pool` choose the same figure for every study, by construction.

Both read the ranked candidates of views.sql (summary_outcome_candidates and
summary_adverse_event_candidates); these tests check that the two outputs agree on the synthetic
fixture, and that each grouping they rely on comes from the schemas or data/measures.csv.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest

from conftest import REPO
from pedall.database import enum_type_name, event_groups
from pedall.package import load_package
from pedall.pool import pool
from pedall.release import DB_NAME

PKG = load_package(REPO)


def _summary(release: Path) -> dict[str, dict]:
    con = duckdb.connect(str(release / DB_NAME), read_only=True)
    try:
        cur = con.execute("SELECT * FROM study_summary")
        cols = [c[0] for c in cur.description]
        return {r[0]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}
    finally:
        con.close()


@pytest.mark.parametrize(("column", "measure", "kwargs"), [
    ("cr_cri_percent", "cr_cri", {}),
    ("efs_12m_percent", "efs", {"timepoint": 12}),
    ("os_12m_percent", "os", {"timepoint": 12}),
    ("crs_grade3plus_percent", "crs", {"grade_min": 3}),
    ("neurotox_grade3plus_percent", "neurotoxicity", {"grade_min": 3}),
])
def test_study_summary_shows_the_figure_pool_uses(release: Path, column: str, measure: str, kwargs: dict) -> None:
    summary = _summary(release)
    res = pool(release / DB_NAME, measure, **kwargs)
    assert res.studies, "the fixture must give pool something to compare"
    for s in res.studies:
        shown = summary[s.study_id][column]
        assert shown is not None, (s.study_id, column)
        assert summary[s.study_id]["summary_arm_id"] == s.arm_id
        # pool computes proportions from the counts; the summary shows the printed (rounded) percent
        assert math.isclose(shown, s.estimate, abs_tol=0.05 if s.xi is not None else 1e-9), (s.study_id, shown)
    for sid, _ in res.excluded:  # left out of pooling (no CI), but still the same figure in the summary
        assert summary[sid][column] is not None


def test_the_fixture_has_a_study_where_the_two_rules_used_to_differ(release: Path) -> None:
    # fake-alpha reports grade >=3 CRS all-cause in two populations and treatment-related in one:
    # the all-cause infused count (10/55) is the figure, for both.
    assert _summary(release)["fake-alpha"]["crs_grade3plus_percent"] == 18.2
    first = pool(release / DB_NAME, "crs", grade_min=3).studies[0]
    assert (first.study_id, first.xi, first.n) == ("fake-alpha", 10, 55)


def test_population_preference_is_one_enumeration_in_every_schema() -> None:
    orders = {(t.name, f.name): f.enum for t in PKG.tables.values() for f in t.fields
              if f.name in ("analysis_population", "population")}
    assert len(orders) == 3, orders
    # one preference order: the populations every table knows come in the same order everywhere
    # (adverse events add patients_with_crs, a population of supportive-care figures only)
    shared = set.intersection(*(set(v) for v in orders.values()))
    assert len({tuple(p for p in v if p in shared) for v in orders.values()}) == 1, orders
    assert next(iter(orders.values()))[0] == "infused"


def test_population_preference_reaches_the_database_enum(release: Path) -> None:
    con = duckdb.connect(str(release / DB_NAME), read_only=True)
    try:
        name = enum_type_name(PKG.tables["outcomes"], "analysis_population")
        got = tuple(con.execute(f"SELECT enum_range(NULL::{name})").fetchone()[0])
        groups = con.execute("SELECT event_group, event, label FROM event_groups ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert got == PKG.tables["outcomes"].field("analysis_population").enum
    assert groups == sorted(event_groups(PKG))
    assert ("neurotoxicity", "icans", "Neurotoxicity") in groups


def test_coverage_counts_neurotoxicity_by_the_same_event_groups(release: Path) -> None:
    con = duckdb.connect(str(release / DB_NAME), read_only=True)
    try:
        rows = {(r[0], r[1]): (r[2], r[3]) for r in con.execute(
            "SELECT study_id, item, status, value FROM coverage").fetchall()}
    finally:
        con.close()
    assert rows[("fake-beta", "neurotox_grade3plus")] == ("reported", "0/12 0.0%")  # a neurologic_event
    assert rows[("fake-alpha", "neurotox_grade3plus")] == ("reported", "4/50 8.0%")  # icans
    assert rows[("fake-delta", "crs_grade3plus")][0] == "not_in_readable_sources"
