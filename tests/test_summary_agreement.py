"""One rule, one answer: coverage, study_summary and `pedall pool` give the same figure for every study
and core figure, or the same reason for none.

All three read the ranked candidates of views.sql (summary_outcome_candidates,
summary_adverse_event_candidates, summary_participants). The agreement test joins the three outputs,
study by study and core figure by core figure, in both directions (a figure in one output must be in
the others, and a figure missing from one must be missing from the others), on the synthetic fixture
and on the curated release; the other tests check that each grouping they rely on comes from the schemas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from conftest import REPO
from pedall.database import design_groups, endpoint_families, enum_type_name, event_groups
from pedall.package import load_package
from pedall.pool import PoolResult, pool
from pedall.problems import PoolError
from pedall.release import DB_NAME

PKG = load_package(REPO)


@dataclass(frozen=True)
class Figure:
    """A core figure: its coverage item, its study_summary column and how pedall pool asks for it."""
    item: str
    column: str | None  # None: study_summary does not show this figure
    measure: str
    kwargs: tuple[tuple[str, object], ...] = ()


CORE = (
    Figure("complete_remission", "complete_remission_percent", "complete_remission"),
    Figure("efs", "efs_12m_percent", "event_free_survival", (("timepoint", 12.0),)),
    Figure("os", "os_12m_percent", "overall_survival", (("timepoint", 12.0),)),
    Figure("crs_grade3plus", "crs_grade3plus_percent", "crs", (("grade_min", 3),)),
    Figure("neurotox_grade3plus", "neurotox_grade3plus_percent", "neurotoxicity", (("grade_min", 3),)),
    Figure("mrd_negative_remission", None, "mrd_negative_remission"),
    Figure("rfs_dfs", None, "relapse_free_survival", (("timepoint", 12.0),)),
    Figure("crs_any", None, "crs", (("grade_min", 1),)),
    Figure("neurotox_any", None, "neurotoxicity", (("grade_min", 1),)),
)


def _rows(db: Path, sql: str) -> list[dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute(sql)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def _pooled(db: Path, fig: Figure, third_party: bool) -> dict[str, tuple[str, object]]:
    """study -> ("pooled", StudyRow) or ("excluded", reason), over every design.

    Overlapping studies cannot be pooled together, so pool runs twice: once without the first study of
    each overlapping pair, once without the second; a study's own figure does not depend on the others.
    """
    pairs = [(r["study_id"], r["overlapping_study_id"]) for r in _rows(db, "SELECT * FROM study_overlaps")]
    out: dict[str, tuple[str, object]] = {}
    for side in (0, 1):
        drop = tuple(sorted({p[side] for p in pairs}))
        try:
            res: PoolResult = pool(db, fig.measure, design="all", include_third_party=third_party, drop=drop,
                                   **dict(fig.kwargs))
        except PoolError as exc:
            assert "no study reports" in str(exc), exc  # nothing to pool at all is an answer too
            continue
        for s in res.studies:
            out[s.study_id] = ("pooled", s)
        for sid, why in res.excluded:
            if "--drop" not in why:
                out.setdefault(sid, ("excluded", why))
    return out


def disagreements(db: Path) -> list[str]:
    """Every cell (study x core figure) where coverage, study_summary and pool disagree, in words."""
    summary = {r["study_id"]: r for r in _rows(db, "SELECT * FROM study_summary")}
    cov = {(r["study_id"], r["item"]): r for r in _rows(db, "SELECT * FROM coverage")}
    bad: list[str] = []
    for sid, s in summary.items():  # N treated: coverage and study_summary
        c = cov[(sid, "n_treated")]
        own = c["status"] not in ("third_party_only",) and c["value"] is not None
        if (c["value"] if own else None) != (None if s["n_treated"] is None else str(s["n_treated"])):
            bad.append(f"{sid} n_treated: coverage {c['value']} ({c['status']}), study_summary {s['n_treated']}")
    for fig in CORE:
        tte = fig.item in ("efs", "os", "rfs_dfs")
        pooled = _pooled(db, fig, third_party=False)
        with_tp = _pooled(db, fig, third_party=True)
        for sid, s in summary.items():
            c = cov[(sid, fig.item)]
            has = c["value"] is not None and (not tte or (c["timepoint_months"] == 12 and c["percent"] is not None))
            own = has and c["status"] != "third_party_only"
            shown = s[fig.column] if fig.column else None
            where = f"{sid} {fig.item}"
            # coverage <-> study_summary, both directions
            if fig.column is None:
                pass
            elif own != (shown is not None):
                bad.append(f"{where}: coverage {c['value']!r} ({c['status']}), study_summary {shown}")
            elif own and not math.isclose(c["percent"], shown, abs_tol=1e-9):
                bad.append(f"{where}: coverage {c['percent']}, study_summary {shown}")
            elif own and fig.item == "complete_remission" and c["response_definition"] != s["response_definition"]:
                bad.append(f"{where}: definition {c['response_definition']} vs {s['response_definition']}")
            # coverage <-> pool (own reports; third-party figures when pool is asked for them)
            for asked, allowed, result in ((False, own, pooled.get(sid)), (True, has, with_tp.get(sid))):
                if not allowed:
                    if result is not None:
                        bad.append(f"{where}: pool has {result}, coverage has no figure pool may use")
                elif c["poolable"]:
                    if result is None or result[0] != "pooled":
                        bad.append(f"{where}: coverage poolable {c['value']!r}, pool {result}")
                    else:
                        row = result[1]
                        if not math.isclose(row.estimate, c["percent"], abs_tol=1e-9) or \
                                row.publication_id != c["publication_id"]:
                            bad.append(f"{where}: pool {row.estimate} from {row.publication_id}, coverage "
                                       f"{c['percent']} from {c['publication_id']}")
                elif result != ("excluded", c["unpoolable_reason"]) and not (
                        asked and own and result is not None and result[0] == "pooled"
                        and result[1].third_party):
                    # (asked for third-party figures, pool may use one where the trial's own figure cannot
                    # be pooled: it drops what cannot be pooled before it ranks)
                    bad.append(f"{where}: coverage not poolable ({c['unpoolable_reason']}), pool {result}")
    return bad


def test_coverage_summary_and_pool_agree_on_the_fixture(release: Path) -> None:
    assert disagreements(release / DB_NAME) == []


def test_coverage_summary_and_pool_agree_on_the_curated_release(real_release: Path) -> None:
    assert disagreements(real_release / DB_NAME) == []


def test_the_agreement_check_catches_a_disagreeing_cell(release: Path, tmp_path: Path) -> None:
    # a copy of the fixture database whose study_summary shows the printed percent instead of the count's
    import shutil

    db = tmp_path / DB_NAME
    shutil.copyfile(release / DB_NAME, db)
    con = duckdb.connect(str(db))
    try:
        con.execute("ALTER VIEW study_summary RENAME TO study_summary_as_built")
        con.execute("CREATE VIEW study_summary AS SELECT * REPLACE (round(complete_remission_percent, 1) "
                    "AS complete_remission_percent) FROM study_summary_as_built")
    finally:
        con.close()
    found = disagreements(db)
    assert found == ["fake-beta complete_remission: coverage 58.333333333333336, study_summary 58.3"], found


def test_the_fixture_has_a_study_where_the_two_rules_used_to_differ(release: Path) -> None:
    # fake-alpha reports grade >=3 CRS all-cause in two populations and treatment-related in one:
    # the all-cause infused count (10/55) is the figure, for both.
    row = _rows(release / DB_NAME, "SELECT * FROM study_summary WHERE study_id = 'fake-alpha'")[0]
    assert math.isclose(row["crs_grade3plus_percent"], 100 * 10 / 55)
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
        families = con.execute("SELECT family, measure, member_rank FROM endpoint_families ORDER BY ALL").fetchall()
        designs = con.execute("SELECT design_group, design FROM design_groups ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert got == PKG.tables["outcomes"].field("analysis_population").enum
    assert groups == sorted(event_groups(PKG))
    assert ("neurotoxicity", "icans", "Neurotoxicity") in groups
    assert families == sorted((f, m, r) for f, _, r, m, *_ in endpoint_families(PKG))
    assert ("complete_remission", "cr_cri", 1) in families and ("complete_remission", "cr", 3) in families
    assert designs == sorted((g, d) for g, d, _ in design_groups(PKG))


def test_every_design_has_exactly_one_group() -> None:
    # a new studies.design value must be placed in a group, or pool --design would silently lose it
    grouped = [d for _, d, _ in design_groups(PKG)]
    assert sorted(grouped) == sorted(PKG.tables["studies"].field("design").enum)
    assert {g for g, _, _ in design_groups(PKG)} == {"interventional", "observational"}
    assert {d for g, d, _ in design_groups(PKG) if g == "interventional"} == {
        "single_arm", "randomized", "nonrandomized_multiarm"}


def test_families_name_known_measures_of_one_kind() -> None:
    import csv

    with (REPO / "data" / "measures.csv").open(newline="", encoding="utf-8") as fh:
        kinds = {r["measure"]: r["kind"] for r in csv.DictReader(fh)}
    fams: dict[str, set[str]] = {}
    for family, _, _, measure, _, excluded, _ in endpoint_families(PKG):
        assert measure in kinds, (family, measure)
        assert family not in kinds, f"family {family} would hide the measure of that name"
        fams.setdefault(family, set()).add(kinds[measure])
        populations = PKG.tables["outcomes"].field("analysis_population").enum
        assert all(p in populations or p == "patients_with_crs" for p in excluded.split(";") if p)
    assert all(len(k) == 1 for k in fams.values()), fams
    # EFS, RFS/DFS/LFS and OS are kept apart
    members = {f: {m for ff, _, _, m, *_ in endpoint_families(PKG) if ff == f} for f in fams}
    assert members["event_free_survival"] == {"efs"} and members["overall_survival"] == {"os"}
    assert members["relapse_free_survival"] == {"rfs", "dfs", "lfs"}


def test_coverage_counts_neurotoxicity_by_the_same_event_groups(release: Path) -> None:
    rows = {(r["study_id"], r["item"]): (r["status"], r["value"]) for r in _rows(
        release / DB_NAME, "SELECT study_id, item, status, value FROM coverage")}
    assert rows[("fake-beta", "neurotox_grade3plus")] == ("reported", "0/12 0.0%")  # a neurologic_event
    assert rows[("fake-alpha", "neurotox_grade3plus")] == ("reported", "4/50 8.0%")  # icans
    assert rows[("fake-delta", "crs_grade3plus")][0] == "not_in_readable_sources"


@pytest.mark.parametrize("figure", [f for f in CORE if f.column], ids=lambda f: f.item)
def test_pool_and_summary_agree_on_the_default_selection(release: Path, figure: Figure) -> None:
    # the default (interventional, no third-party figures): every study pool uses shows that figure
    summary = {r["study_id"]: r for r in _rows(release / DB_NAME, "SELECT * FROM study_summary")}
    res = pool(release / DB_NAME, figure.measure, **dict(figure.kwargs))
    assert res.studies, "the fixture must give pool something to compare"
    for s in res.studies:
        assert summary[s.study_id]["summary_arm_id"] == s.arm_id or not s.whole_study
        assert math.isclose(summary[s.study_id][figure.column], s.estimate, abs_tol=1e-9), s.study_id
