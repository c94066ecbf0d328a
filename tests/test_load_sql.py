"""The release's load.sql gives every table and view of pedall.duckdb, row for row, over the Parquet files."""

from __future__ import annotations

from pathlib import Path

import duckdb

from conftest import REPO
from pedall.database import DB_NAME, views_sql
from pedall.loadsql import NAME
from pedall.package import load_package


def _session(release: Path) -> duckdb.DuckDBPyConnection:
    # load.sql in a fresh in-memory session, pedall.duckdb attached beside it as `db`.
    con = duckdb.connect(":memory:")
    con.execute(f"SET file_search_path = '{release}'")
    con.execute((release / NAME).read_text(encoding="utf-8"))
    con.execute(f"ATTACH '{release / DB_NAME}' AS db (READ_ONLY)")
    return con


def _objects(con: duckdb.DuckDBPyConnection, database: str) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? UNION "
        "SELECT view_name FROM duckdb_views() WHERE database_name = ? AND NOT internal",
        [database, database]).fetchall()}


def test_every_table_and_view_gives_the_same_rows_and_types(release: Path) -> None:
    con = _session(release)
    names = _objects(con, "db")
    assert names == _objects(con, "memory")
    for v in ("binary_outcomes", "survival_outcomes", "latest_outcomes", "study_summary", "coverage"):
        assert v in names
    for name in sorted(names):
        mem, db = f'memory."{name}"', f'db."{name}"'
        # column names and types (a view has no NOT NULL or keys: the Parquet files and tests keep those)
        assert [r[:2] for r in con.execute(f"DESCRIBE {mem}").fetchall()] == \
            [r[:2] for r in con.execute(f"DESCRIBE {db}").fetchall()], name
        differ = con.execute(f"SELECT count(*) FROM ((SELECT * FROM {mem} EXCEPT ALL SELECT * FROM {db}) "
                             f"UNION ALL (SELECT * FROM {db} EXCEPT ALL SELECT * FROM {mem}))").fetchone()[0]
        assert differ == 0, name
        assert con.execute(f"SELECT count(*) FROM {mem}").fetchone() == \
            con.execute(f"SELECT count(*) FROM {db}").fetchone(), name
    con.close()


def test_load_sql_is_generated_from_views_sql_and_the_schemas(release: Path) -> None:
    text = (release / NAME).read_text(encoding="utf-8")
    assert views_sql().strip() in text  # the one definition of the views, not a copy kept by hand
    for t in load_package(REPO).tables.values():
        assert f"read_parquet('parquet/{t.name}.parquet')" in text


def test_views_keep_their_comments(release: Path) -> None:
    con = _session(release)
    comments = dict(con.execute("SELECT view_name, comment FROM duckdb_views() "
                                "WHERE database_name = 'memory' AND NOT internal").fetchall())
    assert all(comments.values()), [n for n, c in comments.items() if not c]
    con.close()

