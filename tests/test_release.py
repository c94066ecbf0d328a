"""The release of the synthetic fixture: files, checksums, CSV -> Parquet -> DuckDB, views, reproducibility."""

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

from conftest import FIXTURE, REPO, copy_fixture
from pedall.history import freeze
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


@pytest.mark.parametrize("table", TABLES)
def test_duckdb_tables_hold_the_source_csv_values(release: Path, table: str) -> None:
    # Compared with the package's own CSV file (not with the Parquet the database was loaded from).
    t = PKG.tables[table]
    with (FIXTURE / t.path).open(newline="", encoding="utf-8") as fh:
        want = sorted(tuple((v is None, v) for v in (_expected(f.type, row[f.name]) for f in t.fields))
                      for row in csv.DictReader(fh))
    con = duckdb.connect(str(release / DB_NAME), read_only=True)
    cols = ", ".join(f'CAST("{f.name}" AS VARCHAR)' if f.enum else f'"{f.name}"' for f in t.fields)
    got = sorted(tuple((v is None, v) for v in r) for r in con.execute(f'SELECT {cols} FROM "{table}"').fetchall())
    con.close()
    assert want and got == want


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


def test_binary_outcomes_gives_counts_with_metafor_logit_and_wilson_ci(release: Path) -> None:
    rows = _query(release, "SELECT * FROM binary_outcomes WHERE row_id = 'fake-2023-alpha-cr-cri-infused'")
    assert len(rows) == 1
    r = rows[0]
    assert (r["study_id"], r["product_id"], r["measure"], r["xi"], r["ni"]) == \
        ("fake-alpha", "fake-cel-a", "cr_cri", 44, 55)
    assert math.isclose(r["yi"], math.log(44 / 11))
    assert math.isclose(r["vi"], 1 / 44 + 1 / 11)
    z, p, n = 1.959963984540054, 44 / 55, 55
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert math.isclose(r["wilson_lower_percent"], 100 * (centre - half) / (1 + z * z / n))
    assert math.isclose(r["wilson_upper_percent"], 100 * (centre + half) / (1 + z * z / n))
    zero = _query(release, "SELECT yi, vi FROM binary_outcomes WHERE row_id = 'fake-2021-beta-neuro-g3-5'")[0]
    assert math.isclose(zero["yi"], math.log(0.5 / 12.5)) and math.isclose(zero["vi"], 1 / 0.5 + 1 / 12.5)


def test_survival_outcomes_derive_standard_error_from_ci(release: Path) -> None:
    rows = _query(release, "SELECT * FROM survival_outcomes WHERE outcome_id = 'fake-2021-beta-efs-12m'")
    assert len(rows) == 1
    assert (rows[0]["estimate_percent"], rows[0]["ci_level"], rows[0]["ci_lower"], rows[0]["ci_upper"]) == \
        (40, 90, 20, 80)
    assert math.isclose(rows[0]["se_percent"], (80 - 20) / (2 * 1.6448536269514722))


# Hand-built from tests/fixture/data/outcomes.csv: every row but those a newer report of the same
# arm, measure, population, estimate type and time point replaces, and third-party figures.
SUPERSEDED = {"fake-2020-alpha-cr-cri-infused", "fake-2020-alpha-efs-12m", "fake-2024-review-cr-cri"}
THIRD_PARTY_ONLY = {"fake-2024-review-os-24m"}


def test_latest_outcomes_equals_the_hand_built_expectation(release: Path) -> None:
    with (FIXTURE / "data" / "outcomes.csv").open(newline="", encoding="utf-8") as fh:
        every = {r["outcome_id"] for r in csv.DictReader(fh)}
    assert every >= SUPERSEDED | THIRD_PARTY_ONLY
    latest = [r["outcome_id"] for r in _query(release, "SELECT outcome_id FROM latest_outcomes")]
    assert sorted(latest) == sorted(every - SUPERSEDED - THIRD_PARTY_ONLY)
    kept = {r["outcome_id"]: r["third_party"] for r in _query(
        release, "SELECT outcome_id, third_party FROM latest_outcomes_all")}
    assert kept == {**dict.fromkeys(every - SUPERSEDED - THIRD_PARTY_ONLY, False),
                    **dict.fromkeys(THIRD_PARTY_ONLY, True)}


def test_study_summary_equals_the_hand_built_expectation(release: Path) -> None:
    cols = ("study_id", "summary_arm_id", "n_publications", "n_treated", "complete_remission_percent",
            "response_definition", "efs_12m_percent", "os_12m_percent", "crs_grade3plus_percent",
            "neurotox_grade3plus_percent")
    rows = [tuple(round(v, 4) if isinstance(v, float) else v for v in (r[c] for c in cols))
            for r in _query(release, f"SELECT {', '.join(cols)} FROM study_summary")]
    assert rows == [
        # the update's 55 infused, 44/55 and 48% over the primary report's; never the review's 99 or 90.9%;
        # grade >=3 CRS all-cause in the infused population (10/55 = 18.18%, printed 18.2), not
        # treatment-related or evaluable; proportions computed from their counts, as pedall pool does
        ("fake-alpha", "fake-alpha/car", 2, 55, 80.0, "cr_cri", 48.0, 80.0, 18.1818, 8.0),
        ("fake-beta", "fake-beta/car", 1, 12, 58.3333, "cr_cri", 40.0, 50.0, 16.6667, 0.0),  # 7/12, 2/12, 0/12
        # the pooled arm stands for the cohort study (not the dose cohort or the factor group)
        ("fake-delta", "fake-delta/pooled", 1, 25, 80.0, "cr_cri", 55.0, None, None, None),
        # a randomized trial: the experimental arm, figures in the randomized population
        ("fake-gamma", "fake-gamma/fakemab", 1, None, 75.0, "cr_cri", 60.0, None, 2.5, 5.0),
    ]


def test_two_builds_are_byte_identical(release: Path, tmp_path: Path) -> None:
    again = build(copy_fixture(tmp_path / "repo"), tmp_path / "dist")
    assert (again / "SHA256SUMS").read_bytes() == (release / "SHA256SUMS").read_bytes()
    zip_name = f"{release.name}.zip"
    assert (again.parent / zip_name).read_bytes() == (release.parent / zip_name).read_bytes()


def test_a_frozen_version_is_never_overwritten(tmp_path: Path) -> None:
    root = copy_fixture(tmp_path / "repo")
    freeze(load_package(root))
    dist = tmp_path / "dist"
    rel = build(root, dist)
    assert build(root, dist) == rel  # same content: accepted, nothing rewritten
    # Another build of the same frozen version (e.g. by other tooling) differs: refused, nothing touched.
    sums = rel / "SHA256SUMS"
    sums.write_text(sums.read_text().replace("data/arms.csv", "data/arms.csv.old"))
    before = sums.read_bytes()
    with pytest.raises(ReleaseError, match="never overwritten"):
        build(root, dist)
    assert sums.read_bytes() == before
    assert sorted(p.name for p in dist.iterdir() if not p.name.startswith(".")) == sorted(
        [rel.name, f"{rel.name}.zip", f"{rel.name}.duckdb", f"{rel.name}.duckdb.sha256",
         f"pedall_{rel.name.removeprefix('pedall-')}.tar.gz"])


def test_version_must_agree_across_citation_files(tmp_path: Path) -> None:
    for name in ("CITATION.cff", ".zenodo.json"):
        text = (REPO / name).read_text()
        assert PKG.version in text
    root = copy_fixture(tmp_path / "repo")
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
                          "select study_id, n_treated from study_summary where study_id = 'fake-alpha'"],
                         capture_output=True, text=True, check=True)
    assert res.stdout.splitlines() == ["study_id,n_treated", "fake-alpha,55"]
