"""Open any pedall release as a DuckDB connection: a .duckdb file, an unpacked release folder or its zip.

`pedall query` and `pedall pool` work the same on all three, so that a user who downloaded only the
zip gets the views too: a folder or zip is opened in memory by running its load.sql over its Parquet
files, their paths made absolute (sandbox.bind_parquet) so that no working directory is assumed.

Opening only reads the release (see sandbox.py): load.sql runs only if every statement is one pedall
writes, and the connection handed out can read the release's Parquet files and nothing else, load no
extension and change none of that. A zip is checked whole (zipper.check_members) before anything is
unpacked, and only load.sql and parquet/ are unpacked, into a temporary folder removed on exit.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .database import DB_NAME
from .engine import duckdb
from .loadsql import NAME as LOAD_SQL
from .metadata import ReleaseError
from .sandbox import (
    MAX_LOAD_SQL,
    Refused,
    bind_parquet,
    check_database_views,
    check_load_sql,
    locked_settings,
    new_connection,
)
from .zipper import UnsafeZip, extract, open_release_zip


class NotARelease(ReleaseError):
    """The path given is not a pedall release."""


class RefusedRelease(NotARelease):
    """The release holds something opening it may not run or unpack (one line naming it)."""


@contextmanager
def connect(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only view of the release at `path`, closed (and any unpacked copy removed) on exit.

    The connection is locked (sandbox.locked_settings): queries on it can read the release's tables and
    views, but no other file, no extension and no setting change. NotARelease (RefusedRelease for a
    hostile release) when `path` cannot be opened so.
    """
    path = Path(path)
    if path.is_dir():
        if (path / LOAD_SQL).is_file():
            with _from_folder(path, path) as con:
                yield con
            return
        if (path / DB_NAME).is_file():  # a release built before load.sql existed
            with _from_database(path / DB_NAME) as con:
                yield con
            return
        raise NotARelease(f"{path} is not a pedall release: no {LOAD_SQL} or {DB_NAME} in it")
    if path.is_file() and zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory(prefix="pedall-release-") as tmp, _unpacked(path, Path(tmp)) as folder, \
                _from_folder(folder, path) as con:
            yield con
        return
    if path.is_file():
        with _from_database(path) as con:
            yield con
        return
    raise NotARelease(f"{path} does not exist (give a release folder, its zip or a .duckdb file)")


@contextmanager
def _from_database(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with db.open("rb") as fh:
        if fh.read(12)[8:12] != b"DUCK":  # DuckDB's file header; anything else gets a plain message
            raise NotARelease(f"{db} is not a pedall release: not a release folder, zip or DuckDB file")
    try:
        con = new_connection(str(db), read_only=True)
    except duckdb.Error as exc:
        raise NotARelease(f"{db} is not a pedall release: not a DuckDB file ({str(exc).splitlines()[0]})") from exc
    try:
        locked_settings(con)  # its views can read no file at all: the tables are in the file
        try:
            check_database_views(con)
        except Refused as exc:
            raise RefusedRelease(f"{db}: refused: {exc}") from None
        _require_metadata(con, db)
        yield con
    finally:
        con.close()


@contextmanager
def _from_folder(folder: Path, label: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    root = folder.resolve()
    sql_file = root / LOAD_SQL
    if sql_file.is_symlink() or sql_file.stat().st_size > MAX_LOAD_SQL:
        raise RefusedRelease(f"{label}: refused: its {LOAD_SQL} is a link or larger than {MAX_LOAD_SQL} bytes")
    try:
        text = sql_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise NotARelease(f"{label} is not a usable pedall release: its {LOAD_SQL} is not UTF-8 ({exc.reason})") \
            from None
    con = new_connection()
    try:
        try:
            statements = check_load_sql(text, con)  # parsed only: nothing of it has run yet
        except Refused as exc:
            raise RefusedRelease(f"{label}: {LOAD_SQL} refused: {exc}") from None
        for rel in sorted({p for s in statements for p in s.parquet}):
            f = root / rel
            # A folder's parquet/ might hold a link to a file elsewhere: only the release's own files are read.
            if f.is_symlink() or not f.resolve().is_relative_to(root) or not f.is_file():
                raise RefusedRelease(f"{label}: {LOAD_SQL} refused: {rel} is missing, a link or outside the release")
        try:
            statements = [bind_parquet(con, s, root) if s.parquet else s for s in statements]
        except Refused as exc:
            raise RefusedRelease(f"{label}: {LOAD_SQL} refused: {exc}") from None
        locked_settings(con, sorted({Path(p) for s in statements for p in s.parquet}))  # before any of it runs
        for s in statements:
            try:
                con.execute(s.text)
            except duckdb.Error as exc:
                raise NotARelease(f"{label} is not a usable pedall release: its {LOAD_SQL} fails at statement "
                                  f"{s.number} ({str(exc).strip().splitlines()[0]}): {s.shown()}") from None
        _require_metadata(con, label)
        yield con
    finally:
        con.close()


@contextmanager
def _unpacked(zpath: Path, dest: Path) -> Iterator[Path]:
    try:
        with open_release_zip(zpath) as (zf, top):
            names = {i.filename for i in zf.infolist() if not i.is_dir()}
            if f"{top}/{LOAD_SQL}" not in names:
                raise NotARelease(f"{zpath} is not a pedall release zip: no single top folder holding {LOAD_SQL}")
            # Only what load.sql reads.
            extract(zf, dest, [n for n in names if n == f"{top}/{LOAD_SQL}" or n.startswith(f"{top}/parquet/")])
    except UnsafeZip as exc:
        raise RefusedRelease(f"{exc}") from None
    yield dest / top


def _require_metadata(con: duckdb.DuckDBPyConnection, where: Path) -> None:
    found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'pedall_metadata' UNION ALL "
                        "SELECT count(*) FROM duckdb_views() WHERE view_name = 'pedall_metadata'").fetchall()
    if not any(n for (n,) in found):
        raise NotARelease(f"{where} is not a pedall release: it has no pedall_metadata table")
