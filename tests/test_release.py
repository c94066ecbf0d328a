"""The release: files, checksums, round trip CSV -> Parquet -> DuckDB, views, reproducibility."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import frictionless
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import REPO, copy_repo
from editing import add_row, set_cell
from pedall.metadata import ReleaseError
from pedall.package import load_package
from pedall.release import DB_NAME, build

PKG = load_package(REPO)
TABLES = list(PKG.tables)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _expected(field_type: str, text: str) -> object:
    """What a CSV cell must become in Parquet and DuckDB, by its schema type."""
    if text == "":
        return None
    return {"integer": int, "number": float, "boolean": lambda s: s == "true"}.get(field_type, str)(text)


def _csv_rows(release: Path, table: str) -> list[dict[str, str]]:
    with (release / "data" / f"{table}.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_release_files(release: Path) -> None:
    for name in ("datapackage.json", "DATA_DICTIONARY.md", "CHANGELOG.md", "CITATION.cff", "LICENSE",
                 "SHA256SUMS", DB_NAME, ".zenodo.json"):
        assert (release / name).is_file(), name
    for t in TABLES:
        assert (release / "data" / f"{t}.csv").is_file()
        assert (release / "parquet" / f"{t}.parquet").is_file()
    assert release.name == f"pedall-{PKG.version}"


def test_sha256sums_cover_every_file_but_the_database(release: Path) -> None:
    listed = {}
    for line in (release / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    files = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()}
    assert set(listed) == files - {"SHA256SUMS", DB_NAME}
    for name, digest in listed.items():
        assert _sha(release / name) == digest, name


def test_zip_holds_the_folder_without_the_database(release: Path) -> None:
    dist = release.parent
    with zipfile.ZipFile(dist / f"{release.name}.zip") as zf:
        names = set(zf.namelist())
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
        sums = zf.read(f"{release.name}/SHA256SUMS")
    files = {f"{release.name}/{p.relative_to(release).as_posix()}" for p in release.rglob("*") if p.is_file()}
    assert names == files - {f"{release.name}/{DB_NAME}"}
    assert sums == (release / "SHA256SUMS").read_bytes()
    db, side = dist / f"{release.name}.duckdb", dist / f"{release.name}.duckdb.sha256"
    assert side.read_text().split()[0] == _sha(db)


def test_release_datapackage_describes_files_and_validates(release: Path, tmp_path: Path) -> None:
    d = json.loads((release / "datapackage.json").read_text())
    assert d["version"] == PKG.version
    for res in d["resources"]:
        p = release / res["path"]
        assert res["bytes"] == p.stat().st_size
        assert res["hash"] == f"sha256:{_sha(p)}"
        assert res["schema"]["fields"] == PKG.tables[res["name"].removesuffix("-parquet")].schema["fields"]
    # Stock `frictionless validate datapackage.json`, as a user runs it inside the unpacked zip.
    with zipfile.ZipFile(release.parent / f"{release.name}.zip") as zf:
        zf.extractall(tmp_path)
    cli = Path(sys.executable).parent / "frictionless"
    res = subprocess.run([str(cli), "validate", "datapackage.json"], cwd=tmp_path / release.name,
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "INVALID" not in res.stdout and res.stdout.count("VALID") == len(d["resources"])


def test_check_release_runs_frictionless_on_the_release_as_shipped(release: Path, tmp_path: Path) -> None:
    from pedall.check_release import check

    bad = Path(shutil.copytree(release, tmp_path / release.name))
    with (bad / "parquet" / "arms.parquet").open("ab") as fh:
        fh.write(b"\0")
    problems = check(bad)
    # frictionless itself (not only pedall's own checksum checks) sees the Parquet file's size change
    assert any(p.startswith("datapackage.json: arms-parquet:") and "byte count" in p for p in problems), problems


def test_repository_datapackage_validates_with_frictionless_alone() -> None:
    report = frictionless.validate(str(REPO / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


@pytest.mark.parametrize("table", TABLES)
def test_values_round_trip_csv_parquet_duckdb(release: Path, table: str) -> None:
    t = PKG.tables[table]
    rows = _csv_rows(release, table)
    pq_rows = pq.read_table(release / "parquet" / f"{table}.parquet").to_pylist()
    con = duckdb.connect(str(release / DB_NAME), read_only=True)
    cols = ", ".join(f'CAST("{f.name}" AS VARCHAR)' if f.enum else f'"{f.name}"' for f in t.fields)
    db_rows = con.execute(f'SELECT {cols} FROM "{table}"').fetchall()
    con.close()
    assert len(rows) == len(pq_rows) == len(db_rows)
    pk = list(t.primary_key)
    db_by_key = {tuple(r[t.field_names.index(k)] for k in pk): r for r in db_rows}
    for csv_row, pq_row in zip(rows, pq_rows, strict=True):
        key = tuple(_expected(t.field(k).type, csv_row[k]) for k in pk)
        db_row = db_by_key[key]
        for i, f in enumerate(t.fields):
            want = _expected(f.type, csv_row[f.name])
            for got in (pq_row[f.name], db_row[i]):
                assert got == want and type(got) is type(want), (table, f.name, csv_row[f.name], got)


@pytest.mark.parametrize("table", TABLES)
def test_parquet_types_and_descriptions_come_from_the_schema(release: Path, table: str) -> None:
    schema = pq.read_schema(release / "parquet" / f"{table}.parquet")
    for f in PKG.tables[table].fields:
        af = schema.field(f.name)
        assert af.metadata[b"description"].decode() == f.description
        if f.type == "integer":
            assert af.type == pa.int64()
        elif f.enum:
            assert pa.types.is_dictionary(af.type)
        elif f.type == "number":
            assert af.type == pa.float64()


def test_duckdb_tables_equal_parquet_files(release: Path) -> None:
    con = duckdb.connect(str(release / DB_NAME), read_only=True)
    for t in TABLES:
        pq_path = release / "parquet" / f"{t}.parquet"
        diff = con.execute(
            f"SELECT count(*) FROM ((SELECT * FROM read_parquet('{pq_path}') EXCEPT ALL "
            f"SELECT * FROM \"{t}\") UNION ALL (SELECT * FROM \"{t}\" EXCEPT ALL "
            f"SELECT * FROM read_parquet('{pq_path}')))").fetchone()[0]
        assert diff == 0, t
    con.close()


def test_duckdb_comments_keys_and_types(release: Path) -> None:
    con = duckdb.connect(str(release / DB_NAME), read_only=True)
    for t in PKG.tables.values():
        comment = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = ?", [t.name]).fetchone()[0]
        assert comment and t.description in comment
        cols = dict(con.execute("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ?",
                                [t.name]).fetchall())
        assert cols == {f.name: f.description for f in t.fields}
        kinds = [r[0] for r in con.execute(
            "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = ?", [t.name]).fetchall()]
        assert "PRIMARY KEY" in kinds
        assert kinds.count("FOREIGN KEY") == len([fk for fk in t.foreign_keys if fk.resource != t.name])
    types = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() "
                             "WHERE table_name = 'outcomes'").fetchall())
    assert types["n_events"] == "BIGINT" and types["estimate"] == "DOUBLE"
    views = {r[0]: r[1] for r in con.execute("SELECT view_name, comment FROM duckdb_views() "
                                                "WHERE NOT internal").fetchall()}
    for v in ("binary_outcomes", "survival_outcomes", "latest_outcomes", "study_summary"):
        assert views.get(v), f"view {v} missing or undocumented"
    con.close()


def _query(release: Path, sql: str) -> list[dict]:
    con = duckdb.connect(str(release / DB_NAME), read_only=True)
    cur = con.execute(sql)
    cols = [c[0] for c in cur.description]
    out = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    con.close()
    return out


def test_binary_outcomes_gives_eliana_remission_with_metafor_logit(release: Path) -> None:
    rows = _query(release, "SELECT * FROM binary_outcomes WHERE row_id = 'maude-2018-nejm-cr_cri-3m'")
    assert len(rows) == 1
    r = rows[0]
    assert (r["study_id"], r["product_id"], r["measure"], r["xi"], r["ni"]) == \
        ("eliana", "tisagenlecleucel", "cr_cri", 61, 75)
    assert math.isclose(r["yi"], math.log(61 / 14))
    assert math.isclose(r["vi"], 1 / 61 + 1 / 14)
    z, p, n = 1.959963984540054, 61 / 75, 75
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert math.isclose(r["wilson_lower_percent"], 100 * (centre - half) / (1 + z * z / n))
    assert math.isclose(r["wilson_upper_percent"], 100 * (centre + half) / (1 + z * z / n))


def test_survival_outcomes_derive_standard_error_from_ci(release: Path) -> None:
    rows = _query(release, "SELECT * FROM survival_outcomes WHERE outcome_id = 'maude-2018-nejm-efs-12m'")
    assert len(rows) == 1
    assert (rows[0]["estimate_percent"], rows[0]["ci_lower"], rows[0]["ci_upper"]) == (50, 35, 64)
    assert math.isclose(rows[0]["se_percent"], (64 - 35) / (2 * 1.959963984540054))


def test_latest_outcomes_has_one_row_per_key(release: Path) -> None:
    dupes = _query(release, """
        SELECT study_id, arm_id, measure, analysis_population, subgroup, analysis_variant, estimate_type,
               timepoint_months, comparator_arm_id, count(*) AS n
        FROM latest_outcomes GROUP BY ALL HAVING count(*) > 1""")
    assert dupes == []
    total = _query(release, "SELECT count(*) AS n FROM outcomes")[0]["n"]
    assert 0 < _query(release, "SELECT count(*) AS n FROM latest_outcomes")[0]["n"] <= total


def test_study_summary_shows_eliana(release: Path) -> None:
    rows = {r["study_id"]: r for r in _query(release, "SELECT * FROM study_summary")}
    assert set(rows) == set(_query_ids(release))
    e = rows["eliana"]
    assert (e["product_id"], e["design"], e["n_publications"]) == ("tisagenlecleucel", "single_arm", 2)
    # the three-year update (newest) wins: 79 infused and 82% remission
    assert (e["n_treated"], e["cr_cri_percent"]) == (79, 82)
    assert (e["efs_12m_percent"], e["os_12m_percent"]) == (50, 76)


def _query_ids(release: Path) -> list[str]:
    return [r["study_id"] for r in _query(release, "SELECT study_id FROM studies")]


def test_latest_outcomes_prefers_the_newest_publication(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    # A fabricated 12-month EFS in the later report: latest_outcomes must take it over the primary report.
    add_row(root, "outcomes", outcome_id="laetsch-2023-jco-efs-12m-test", publication_id="laetsch-2023-jco",
            arm_id="eliana/tisagenlecleucel", measure="efs", analysis_population="infused",
            timepoint_months="12", estimate_type="kaplan_meier", estimate="55", unit="percent",
            source_location="abstract", value_origin="reported")
    rel = build(root, tmp_path / "dist")
    rows = _query(rel, "SELECT publication_id, estimate FROM latest_outcomes WHERE measure = 'efs' "
                       "AND timepoint_months = 12 AND study_id = 'eliana'")
    assert rows == [{"publication_id": "laetsch-2023-jco", "estimate": 55.0}]


def test_two_builds_are_byte_identical(release: Path, tmp_path: Path) -> None:
    again = build(REPO, tmp_path / "dist")
    assert (again / "SHA256SUMS").read_bytes() == (release / "SHA256SUMS").read_bytes()
    zip_name = f"{release.name}.zip"
    assert (again.parent / zip_name).read_bytes() == (release.parent / zip_name).read_bytes()


def test_a_built_version_is_never_overwritten(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    dist = tmp_path / "dist"
    rel = build(root, dist)
    before = (rel / "SHA256SUMS").read_bytes()
    assert build(root, dist) == rel  # same content: accepted, nothing rewritten
    set_cell(root, "outcomes", {"outcome_id": "maude-2018-nejm-efs-12m"}, note="changed")
    with pytest.raises(ReleaseError, match="never overwritten"):
        build(root, dist)
    assert (rel / "SHA256SUMS").read_bytes() == before
    assert sorted(p.name for p in dist.iterdir()) == sorted(
        [rel.name, f"{rel.name}.zip", f"{rel.name}.duckdb", f"{rel.name}.duckdb.sha256"])


def test_version_must_agree_across_citation_files(tmp_path: Path) -> None:
    for name in ("CITATION.cff", ".zenodo.json"):
        text = (REPO / name).read_text()
        assert PKG.version in text
    root = copy_repo(tmp_path / "repo")
    cff = root / "CITATION.cff"
    cff.write_text(cff.read_text().replace(f'version: "{PKG.version}"', 'version: "9.9.9"'))
    with pytest.raises(ReleaseError, match=r"CITATION.cff says '9.9.9'"):
        build(root, tmp_path / "dist")
    assert not (tmp_path / "dist" / f"pedall-{PKG.version}").exists()


def test_data_dictionary_lists_every_column(release: Path) -> None:
    text = (release / "DATA_DICTIONARY.md").read_text()
    for t in PKG.tables.values():
        assert f"## {t.name}" in text
        for f in t.fields:
            assert f"| `{f.name}` |" in text


def test_database_opens_in_the_duckdb_command_line_client(release: Path) -> None:
    # The file is written in an older storage format, so the (older) CLI and other clients can read it.
    cli = shutil.which("duckdb") or str(Path(sys.executable).parent / "duckdb")
    if not Path(cli).exists():
        pytest.skip("the duckdb command-line client (PyPI duckdb-cli) is not installed")
    res = subprocess.run([cli, "-readonly", "-csv", str(release / DB_NAME),
                          "select study_id, n_treated from study_summary where study_id = 'eliana'"],
                         capture_output=True, text=True, check=True)
    assert res.stdout.splitlines() == ["study_id,n_treated", "eliana,79"]
