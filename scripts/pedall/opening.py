"""Open any pedall release as a DuckDB connection: a .duckdb file, an unpacked release folder or its zip.

`pedall query` and `pedall pool` work the same on all three, so that a user who downloaded only the
zip gets the views too: a folder or zip is opened in memory by running its load.sql over its Parquet
files, with file_search_path pointing at the folder so that no working directory is assumed.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .database import DB_NAME, _q
from .engine import duckdb
from .loadsql import NAME as LOAD_SQL
from .metadata import ReleaseError


class NotARelease(ReleaseError):
    """The path given is not a pedall release."""


@contextmanager
def connect(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only view of the release at `path`, closed (and any unpacked copy removed) on exit."""
    path = Path(path)
    if path.is_dir():
        if (path / LOAD_SQL).is_file():
            with _from_folder(path) as con:
                yield con
            return
        if (path / DB_NAME).is_file():  # a release built before load.sql existed
            with _from_database(path / DB_NAME) as con:
                yield con
            return
        raise NotARelease(f"{path} is not a pedall release: no {LOAD_SQL} or {DB_NAME} in it")
    if path.is_file() and zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory(prefix="pedall-release-") as tmp, _unpacked(path, Path(tmp)) as folder, \
                _from_folder(folder) as con:
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
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise NotARelease(f"{db} is not a pedall release: not a DuckDB file ({str(exc).splitlines()[0]})") from exc
    try:
        _require_metadata(con, db)
        yield con
    finally:
        con.close()


@contextmanager
def _from_folder(folder: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET file_search_path = {_q(str(folder.resolve()))}")
        try:
            con.execute((folder / LOAD_SQL).read_text(encoding="utf-8"))
        except (duckdb.Error, UnicodeDecodeError) as exc:
            raise NotARelease(f"{folder} is not a usable pedall release: its {LOAD_SQL} fails "
                              f"({str(exc).splitlines()[0]})") from exc
        _require_metadata(con, folder)
        yield con
    finally:
        con.close()


@contextmanager
def _unpacked(zpath: Path, dest: Path) -> Iterator[Path]:
    with zipfile.ZipFile(zpath) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) != 1 or f"{next(iter(tops))}/{LOAD_SQL}" not in names:
            raise NotARelease(f"{zpath} is not a pedall release zip: no single top folder holding {LOAD_SQL}")
        top = tops.pop()
        # Only what load.sql reads; member names are checked to stay inside the folder.
        wanted = [n for n in names if n == f"{top}/{LOAD_SQL}" or n.startswith(f"{top}/parquet/")]
        for n in wanted:
            if ".." in Path(n).parts or Path(n).is_absolute():
                raise NotARelease(f"{zpath}: unsafe member name {n!r}")
        zf.extractall(dest, members=wanted)
    yield dest / top


def _require_metadata(con: duckdb.DuckDBPyConnection, where: Path) -> None:
    found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'pedall_metadata' UNION ALL "
                        "SELECT count(*) FROM duckdb_views() WHERE view_name = 'pedall_metadata'").fetchall()
    if not any(n for (n,) in found):
        raise NotARelease(f"{where} is not a pedall release: it has no pedall_metadata table")
