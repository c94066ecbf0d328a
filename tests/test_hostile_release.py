"""Opening a hostile release only reads it: every command refuses it in one line, exit 1, writing nothing.

Each case builds a release-shaped folder, zip or .duckdb file that tries one thing opening must not do
(write or attach a file, install or load an extension, read a file outside the release, lift the
restrictions, smuggle a second statement, unpack a bomb or a link) and runs the real command line in a
subprocess with its own working folder, HOME and TMPDIR. Afterwards the target file does not exist, and
the working folder, HOME and TMPDIR are as empty as before: nothing was written anywhere, and the
temporary folder a zip is unpacked into is gone.
"""

from __future__ import annotations

import os
import stat
import struct
import subprocess
import sys
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from pedall.loadsql import NAME as LOAD_SQL
from pedall.zipper import MAX_DEPTH, MAX_MEMBERS


@dataclass
class Box:
    """Folders of one case: the user's working folder, HOME, TMPDIR, and a victim folder with a secret."""

    root: Path

    def __post_init__(self) -> None:
        for d in (self.work, self.home, self.tmp, self.victim, self.made):
            d.mkdir(parents=True)
        self.secret.write_text("secret-hostname-7f3a\n", encoding="utf-8")
        (self.victim / "data.csv").write_text("a,b\nsecret-cell-91c2,2\n", encoding="utf-8")

    work = property(lambda self: self.root / "work")
    home = property(lambda self: self.root / "home")
    tmp = property(lambda self: self.root / "tmp")
    victim = property(lambda self: self.root / "victim")  # outside every release
    made = property(lambda self: self.root / "releases")  # where the test puts the hostile releases
    secret = property(lambda self: self.root / "victim" / "hostname")
    target = property(lambda self: self.root / "victim" / "written.txt")  # what a payload tries to create

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        before = sorted(p.relative_to(self.root) for p in self.root.rglob("*"))
        env = {**os.environ, "HOME": str(self.home), "TMPDIR": str(self.tmp)}
        res = subprocess.run([sys.executable, "-m", "pedall.cli", *args], cwd=self.work, env=env,
                             capture_output=True, text=True, check=False, timeout=120)
        after = sorted(p.relative_to(self.root) for p in self.root.rglob("*"))
        assert after == before, f"files appeared or vanished: {set(after) ^ set(before)}"
        assert not self.target.exists()
        for leak in ("secret-hostname-7f3a", "secret-cell-91c2"):
            assert leak not in res.stdout + res.stderr, "a file outside the release was read"
        assert "Traceback" not in res.stderr
        return res


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


def _q(text: str | Path) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _folder(box: Box, load_sql: str, name: str = "pedall-6.6.6") -> Path:
    """The crafted release of the issue: one folder holding a load.sql and an empty parquet/."""
    top = box.made / name
    (top / "parquet").mkdir(parents=True)
    (top / LOAD_SQL).write_text(load_sql, encoding="utf-8")
    return top


def _zip(box: Box, members: list[tuple[zipfile.ZipInfo | str, bytes]], name: str = "pedall-6.6.6.zip") -> Path:
    path = box.made / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name the test means to write
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for info, data in members:
                zf.writestr(info, data)
    return path


def _refused(res: subprocess.CompletedProcess[str], where: Path, *fragments: str) -> None:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1, res.stderr
    assert len(lines) == 1 and lines[0].startswith("pedall: ") and str(where) in lines[0], res.stderr
    for f in fragments:
        assert f in lines[0], res.stderr
    assert res.stdout == ""


# load.sql: each statement shape pedall does not write --------------------------------------------------------

def _load_sql_cases(box: Box) -> dict[str, tuple[str, str]]:
    """name -> (load.sql, a fragment of the refused statement the message must show)."""
    t, v = box.target, box.victim
    return {
        "copy": (f"COPY (SELECT 'x') TO {_q(t)};\n", "COPY"),
        "export": (f"EXPORT DATABASE {_q(v / 'export')};\n", "EXPORT DATABASE"),
        "attach": (f"ATTACH {_q(v / 'new.duckdb')} AS evil;\n", "ATTACH"),
        "install": ("INSTALL httpfs;\n", "INSTALL httpfs"),
        "load": ("LOAD httpfs;\n", "LOAD httpfs"),
        "read_text": (f"CREATE VIEW pedall_metadata AS SELECT content AS key, content AS value "
                      f"FROM read_text({_q(box.secret)});\n", "read_text()"),
        "read_csv": (f"CREATE VIEW pedall_metadata AS SELECT * FROM read_csv({_q(v / 'data.csv')});\n",
                     "read_csv()"),
        "glob": (f"CREATE VIEW pedall_metadata AS SELECT file AS key, file AS value FROM glob({_q(v / '*')});\n",
                 "glob()"),
        "file_as_table": (f"CREATE VIEW pedall_metadata AS SELECT * FROM {_q(v / 'data.csv')};\n", "data.csv"),
        "parquet_outside": (f"CREATE VIEW studies AS SELECT * FROM read_parquet({_q(v / 'x.parquet')});\n",
                            "parquet/<table>.parquet"),
        "parquet_dotdot": ("CREATE VIEW studies AS SELECT * FROM read_parquet('parquet/../../x.parquet');\n",
                           "parquet/<table>.parquet"),
        "set": ("SET enable_external_access = true;\n", "SET enable_external_access"),
        "reset": ("RESET lock_configuration;\n", "RESET lock_configuration"),
        "set_paths": ("SET allowed_directories = ['/'];\n", "SET allowed_directories"),
        "pragma": (f"PRAGMA enable_profiling = 'json';\nPRAGMA profile_output = {_q(t)};\n", "PRAGMA"),
        "secret": ("CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 's');\n", "CREATE SECRET"),
        "macro": (f"CREATE MACRO leak() AS TABLE SELECT * FROM read_text({_q(box.secret)});\n", "CREATE MACRO"),
        "table_as": (f"CREATE TABLE pedall_metadata AS SELECT * FROM read_csv({_q(v / 'data.csv')});\n",
                     "CREATE TABLE"),
        "after_comment": ("CREATE VIEW pedall_metadata AS SELECT 'k' AS key, 'v' AS value; -- the views\n"
                          f"COPY (SELECT 'x') TO {_q(t)};\n", "COPY"),
        "in_block_comment": ("/* CREATE VIEW pedall_metadata AS SELECT 1; */ "
                             f"COPY (SELECT 'x') TO {_q(t)};\n", "COPY"),
        "after_string": ("COMMENT ON VIEW pedall_metadata IS 'release metadata'; "
                         f"COPY (SELECT 'x') TO {_q(t)}; --';\n", "COPY"),
        # To a reader that knows only '...' strings, the COPY below is inside one; DuckDB reads a
        # dollar-quoted string, then a second statement.
        "inside_string": ("CREATE VIEW pedall_metadata AS SELECT $$ ' $$ AS key, 'v' AS value; "
                          f"COPY (SELECT 'x') TO {_q(t)}; -- '\n", "COPY"),
        "query_function": ("CREATE VIEW pedall_metadata AS SELECT * FROM query('SELECT 1 AS key, 2 AS value');\n",
                           "query()"),
        "subquery_read": ("CREATE VIEW pedall_metadata AS SELECT 'k' AS key, "
                          f"(SELECT content FROM read_text({_q(box.secret)})) AS value;\n", "read_text()"),
        "or_replace": ("CREATE OR REPLACE VIEW pedall_metadata AS SELECT 'k' AS key, 'v' AS value;\n",
                       "CREATE OR REPLACE"),
    }


CASES = ["copy", "export", "attach", "install", "load", "read_text", "read_csv", "glob", "file_as_table",
         "parquet_outside", "parquet_dotdot", "set", "reset", "set_paths", "pragma", "secret", "macro", "table_as",
         "after_comment", "in_block_comment", "after_string", "inside_string", "query_function", "subquery_read",
         "or_replace"]


@pytest.mark.parametrize("case", CASES)
def test_load_sql_outside_what_pedall_writes_is_refused(box: Box, case: str) -> None:
    sql, fragment = _load_sql_cases(box)[case]
    release = _folder(box, sql)
    _refused(box.run("query", "select 1", "--release", str(release)), release, f"{LOAD_SQL} refused", fragment)


def test_a_real_load_sql_with_one_statement_appended_is_refused(box: Box, release: Path) -> None:
    # Everything pedall wrote, then a write hidden at the end behind a comment.
    text = (release / LOAD_SQL).read_text(encoding="utf-8")
    evil = _folder(box, text + f"\n-- refresh the cache\nCOPY studies TO {_q(box.target)};\n")
    for f in (release / "parquet").iterdir():
        (evil / "parquet" / f.name).write_bytes(f.read_bytes())
    _refused(box.run("pool", "cr_cri", "--release", str(evil)), evil, "COPY studies TO")


def test_the_crafted_zip_of_the_issue_is_refused_by_query_and_pool(box: Box) -> None:
    # One top folder holding a load.sql that writes a file, and an empty parquet/.
    z = _zip(box, [("pedall-6.6.6/load.sql", f"COPY (SELECT 'x') TO {_q(box.target)};\n".encode()),
                   (zipfile.ZipInfo("pedall-6.6.6/parquet/"), b"")])
    for cmd in ("query", "pool"):
        _refused(box.run(cmd, "select 1" if cmd == "query" else "cr_cri", "--release", str(z)), z, "COPY")


def test_a_parquet_file_linked_to_outside_is_not_read(box: Box, release: Path) -> None:
    evil = _folder(box, (release / LOAD_SQL).read_text(encoding="utf-8"))
    for f in (release / "parquet").iterdir():
        (evil / "parquet" / f.name).write_bytes(f.read_bytes())
    (evil / "parquet" / "studies.parquet").unlink()
    (evil / "parquet" / "studies.parquet").symlink_to(box.secret)
    _refused(box.run("query", "select 1", "--release", str(evil)), evil, "parquet/studies.parquet")


def test_the_harness_lets_a_real_release_through(box: Box, release: Path) -> None:
    # The same harness, on the real thing: it opens, and still nothing is written anywhere.
    for target in (release, release.parent / f"{release.name}.zip", release.parent / f"{release.name}.duckdb"):
        res = box.run("query", "select count(*) AS n from studies", "--release", str(target), "--format", "csv")
        assert res.returncode == 0 and res.stdout.splitlines()[0] == "n", res.stderr


def test_a_query_cannot_lift_the_restrictions_either(box: Box, release: Path) -> None:
    for sql in (f"COPY (SELECT 1) TO {_q(box.target)}", "SET enable_external_access = true",
                f"SELECT * FROM read_text({_q(box.secret)})", "INSTALL httpfs"):
        res = box.run("query", sql, "--release", str(release))
        assert res.returncode == 1 and res.stderr.startswith("pedall: query failed"), (sql, res.stderr)


# .duckdb files ---------------------------------------------------------------------------------------------

def _database(box: Box, view_sql: str, name: str = "evil.duckdb") -> Path:
    db = box.made / name
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE pedall_metadata (key VARCHAR, value VARCHAR)")
    con.execute("INSERT INTO pedall_metadata VALUES ('version', '6.6.6')")
    con.execute(view_sql)
    con.close()
    return db


@pytest.mark.parametrize("view", ["read_text", "read_csv", "file_as_table", "macro"])
def test_a_duckdb_file_whose_views_read_local_files_is_refused(box: Box, view: str) -> None:
    sql = {"read_text": f"CREATE VIEW study_designs AS SELECT content AS design FROM read_text({_q(box.secret)})",
           "read_csv": f"CREATE VIEW study_designs AS SELECT * FROM read_csv({_q(box.victim / 'data.csv')})",
           "file_as_table": f"CREATE VIEW study_designs AS SELECT * FROM {_q(box.victim / 'data.csv')}",
           "macro": f"CREATE MACRO leak() AS TABLE SELECT * FROM read_text({_q(box.secret)})"}[view]
    db = _database(box, sql)
    # The issue's case: pool's error message about an unknown design printed the view's file.
    _refused(box.run("pool", "cr_cri", "--design", "bogus", "--release", str(db)), db, "refused")
    _refused(box.run("query", "select * from study_designs", "--release", str(db)), db, "refused")


def test_a_duckdb_view_is_blocked_by_the_engine_too(tmp_path: Path) -> None:
    # Behind the view check, the locked connection itself: a view over a file fails when queried.
    from pedall.sandbox import locked_settings, new_connection

    secret = tmp_path / "secret.txt"
    secret.write_text("secret-hostname-7f3a\n", encoding="utf-8")
    db = tmp_path / "x.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"CREATE VIEW v AS SELECT content FROM read_text({_q(secret)})")
    con.close()
    con = new_connection(str(db), read_only=True)
    locked_settings(con)
    with pytest.raises(duckdb.Error, match="disabled by configuration"):
        con.execute("SELECT * FROM v").fetchall()
    for lift in ("SET enable_external_access = true", "RESET lock_configuration", "SET allowed_paths = ['/']"):
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute(lift)
    con.close()


# Zips: bounded and checked whole before anything is unpacked or read ------------------------------------------

def _declare_size(path: Path, size: int) -> None:
    """Make the zip's central directory declare `size` unpacked bytes for its last member (a bomb's header)."""
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x01\x02")  # the last central directory entry
    data[at + 24:at + 28] = struct.pack("<I", size)
    path.write_bytes(bytes(data))


def _link(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _zip_cases(box: Box) -> dict[str, tuple[Path, str]]:
    """name -> (zip, a fragment the refusal must show)."""
    ok_sql = b"CREATE VIEW pedall_metadata AS SELECT 'k' AS key, 'v' AS value;\n"
    base = [("pedall-6.6.6/load.sql", ok_sql), ("pedall-6.6.6/datapackage.json", b'{"resources": []}')]
    out = {}
    z = _zip(box, [*base, ("pedall-6.6.6/parquet/big.parquet", b"x" * 1000)], "oversized.zip")
    _declare_size(z, 0xFFFFFFF0)
    out["oversized"] = (z, "would unpack to")
    out["too_many"] = (_zip(box, base + [(f"pedall-6.6.6/parquet/{i}.parquet", b"") for i in range(MAX_MEMBERS)],
                            "many.zip"), "members")
    deep = "pedall-6.6.6/" + "d/" * MAX_DEPTH + "x"
    out["deep"] = (_zip(box, [*base, (deep, b"x")], "deep.zip"), "levels deep")
    out["symlink"] = (_zip(box, [*base, (_link("pedall-6.6.6/parquet/studies.parquet", str(box.secret)),
                                         str(box.secret).encode())], "link.zip"), "symbolic link")
    out["duplicate"] = (_zip(box, [*base, ("pedall-6.6.6/load.sql", f"COPY (SELECT 1) TO {_q(box.target)};".encode())],
                             "dup.zip"), "appears twice")
    out["dotdot"] = (_zip(box, [*base, ("pedall-6.6.6/../../victim/written.txt", b"x")], "dotdot.zip"),
                     "unsafe member name")
    out["absolute"] = (_zip(box, [*base, (str(box.target), b"x")], "absolute.zip"), "unsafe member name")
    return out


ZIP_CASES = ["oversized", "too_many", "deep", "symlink", "duplicate", "dotdot", "absolute"]


@pytest.mark.parametrize("case", ZIP_CASES)
def test_a_hostile_zip_is_refused_by_query_and_diff(box: Box, case: str) -> None:
    z, fragment = _zip_cases(box)[case]
    _refused(box.run("query", "select 1", "--release", str(z)), z, fragment)
    _refused(box.run("diff", str(z), str(z)), z, fragment)


@pytest.mark.parametrize("case", ["oversized", "symlink", "dotdot"])
def test_a_hostile_zip_is_refused_by_check_release_and_zenodo(box: Box, case: str) -> None:
    z, fragment = _zip_cases(box)[case]
    res = box.run("check-release", str(z))
    assert res.returncode == 1 and fragment in res.stderr and "refused" in res.stderr, res.stderr
    res = box.run("zenodo", str(z), "--dry-run")
    assert res.returncode == 1 and fragment in res.stderr and "refused" in res.stderr, res.stderr


def test_diff_keeps_datapackage_paths_inside_the_release(box: Box) -> None:
    # An untrusted datapackage.json naming a file outside the release folder.
    top = box.made / "pedall-6.6.6"
    top.mkdir()
    (top / "datapackage.json").write_text(
        '{"version": "6.6.6", "resources": [{"name": "x", "path": "../../victim/data.csv", '
        '"schema": {"fields": [{"name": "a"}], "primaryKey": "a"}}]}', encoding="utf-8")
    res = box.run("diff", str(top), str(top))
    assert res.returncode == 1 and "outside the release" in res.stderr, res.stderr


def test_a_parquet_folder_where_the_user_stands_is_not_read(box: Box, release: Path) -> None:
    # DuckDB looks for a relative path in the working directory first: the release's own files must win.
    (box.work / "parquet").mkdir()
    con = duckdb.connect()
    want = con.execute(f"SELECT count(*) FROM read_parquet({_q(release / 'parquet' / 'studies.parquet')})").fetchone()
    con.execute(f"COPY (SELECT * FROM read_parquet({_q(release / 'parquet' / 'studies.parquet')}) LIMIT 1) "
                f"TO {_q(box.work / 'parquet' / 'studies.parquet')}")
    con.close()
    assert want[0] > 1
    for target in (release, release.parent / f"{release.name}.zip"):
        res = box.run("query", "select count(*) as n from studies", "--release", str(target), "--format", "csv")
        assert res.returncode == 0 and res.stdout == f"n\n{want[0]}\n", res.stderr
