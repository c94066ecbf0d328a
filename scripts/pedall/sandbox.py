"""What opening a release may do in DuckDB: read that release's own data, nothing else.

A release is downloaded from archives and passed between colleagues, so its load.sql and the views
of its .duckdb file are untrusted. Two locks, so that a gap in one is still closed by the other:

1. Before anything runs, every load.sql statement is parsed by DuckDB's own parser and must have one
   of the shapes pedall's loadsql.py writes: CREATE TYPE ... AS ENUM of literals, CREATE VIEW over
   pedall's own names and read_parquet('parquet/<table>.parquet'), COMMENT ON VIEW/COLUMN with a
   literal. A .duckdb file's views must pass the same view check. Anything else is refused by name.
2. The connection itself is locked down before release SQL runs: no file access except the
   release's Parquet files (enable_external_access off, allowed_paths), no extension installed or
   autoloaded, no spilling to a temporary folder, and lock_configuration, so that no SET, RESET or
   PRAGMA in a view or a user's query can lift any of it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engine import duckdb

# Table functions a view may call. read_parquet is further held to 'parquet/<name>.parquet'.
_TABLE_FUNCTIONS = {"read_parquet", "unnest", "range", "generate_series"}
_PARQUET = re.compile(r"parquet/[A-Za-z0-9_]+\.parquet")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENT = r'(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"]|"")+")'
_LITERAL = r"'(?:[^']|'')*'"
_TAIL = r"\s*;?\s*(?:--[^\n]*(?:\n|$)\s*)*"  # the statement's own semicolon and comments after it
_LEAD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
_ENUM = re.compile(rf"CREATE TYPE {_IDENT} AS ENUM \(\s*(?:{_LITERAL}(?:\s*,\s*{_LITERAL})*)?\s*\){_TAIL}", re.S)
_COMMENT = re.compile(rf"COMMENT ON (?:VIEW {_IDENT}|COLUMN {_IDENT}\.{_IDENT}) IS {_LITERAL}{_TAIL}", re.S)
_VIEW = re.compile(rf"CREATE VIEW ({_IDENT}) AS\s(.*)", re.S | re.I)  # the query is checked on its own
MAX_LOAD_SQL = 16 * 1024 * 1024  # bytes; pedall's own is about 60 kB


class Refused(Exception):
    """A release statement outside what pedall generates; the message names the statement and why."""


@dataclass(frozen=True)
class Statement:
    number: int  # 1-based position in the file
    text: str  # as DuckDB split it, leading comments removed
    parquet: tuple[str, ...] = ()  # the release files a CREATE VIEW reads

    def shown(self, limit: int = 80) -> str:
        one = " ".join(self.text.split())
        return one if len(one) <= limit else one[:limit - 1] + "…"


def locked_settings(con: duckdb.DuckDBPyConnection, allowed: Iterable[Path] = ()) -> None:
    """Lock `con` down: only the `allowed` files (absolute paths) readable, no extension, no temporary
    files, configuration frozen. Run before any release SQL."""
    paths = [str(p) for p in allowed]
    if con.execute("SELECT current_setting('lock_configuration')").fetchone() == (True,):
        # A database file already open in this process shares its instance, locked by the first opening;
        # it is safe as long as that lock holds what this function sets.
        still = con.execute("SELECT current_setting('enable_external_access'), current_setting('temp_directory')")
        if still.fetchone() != (False, "") or paths:
            raise Refused("the database is already open in this process with other settings")
        return
    if paths:
        con.execute("SET allowed_paths = ?", [paths])
    con.execute("SET temp_directory = ''")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def new_connection(database: str = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection that installs and autoloads no extension (set at start, before anything can run)."""
    return duckdb.connect(database, read_only=read_only,
                          config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})


def _parser() -> duckdb.DuckDBPyConnection:
    con = new_connection()
    locked_settings(con)
    return con


def check_load_sql(text: str, con: duckdb.DuckDBPyConnection | None = None) -> list[Statement]:
    """The statements of a release's load.sql, each checked; Refused at the first one pedall does not write.

    `con` is only used to parse (DuckDB's parser and json_serialize_sql execute nothing of the text);
    by default a locked connection of its own."""
    own = con is None
    con = _parser() if con is None else con
    try:
        try:
            parsed = con.extract_statements(text)
        except duckdb.Error as exc:
            raise Refused(f"it does not parse ({_first_line(exc)})") from None
        out = []
        for n, st in enumerate(parsed, start=1):
            body = _LEAD.sub("", st.query, count=1)  # the comments and blanks before it
            stmt = Statement(n, body.strip())
            kind = st.type.name
            # What runs is exactly the text checked here (comments before it removed), never the original.
            if (kind == "CREATE" and _ENUM.fullmatch(body)) or (kind == "ALTER" and _COMMENT.fullmatch(body)):
                out.append(stmt)
            elif kind == "CREATE" and (m := _VIEW.match(body)):
                out.append(Statement(n, stmt.text, check_view(con, m.group(2), stmt)))
            else:
                raise Refused(f"statement {n} is not one pedall writes ({kind}): {stmt.shown()}")
        return out
    finally:
        if own:
            con.close()


def check_view(con: duckdb.DuckDBPyConnection, select: str, stmt: Statement,
               allowed: Collection[str] | None = None) -> tuple[str, ...]:
    """Check a view's query (parsed by DuckDB into its syntax tree); return the Parquet files it reads:
    each 'parquet/<table>.parquet', or with `allowed`, one of those paths exactly."""
    found: list[dict[str, Any]] = []

    def keep(node: dict[str, Any]) -> dict[str, Any]:
        if node.get("type") in ("TABLE_FUNCTION", "BASE_TABLE"):
            found.append(node)
        return node

    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [select]).fetchone()[0], object_hook=keep)
    if tree.get("error") or len(tree.get("statements", [])) != 1:
        raise Refused(f"statement {stmt.number} is not a plain view ({tree.get('error_message', 'not one SELECT')})"
                      f": {stmt.shown()}")
    files = []
    for node in found:
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            files += _table_function(node.get("function") or {}, stmt, allowed)
        elif kind == "BASE_TABLE":
            name = node.get("table_name", "")
            if not _NAME.fullmatch(name) or node.get("catalog_name") or node.get("schema_name") not in ("", "main"):
                where = ".".join(filter(None, (node.get("catalog_name"), node.get("schema_name"), name)))
                raise Refused(f"statement {stmt.number} reads {where!r}, not a table of the release: {stmt.shown()}")
    return tuple(files)


def _table_function(fn: dict[str, Any], stmt: Statement, allowed: Collection[str] | None) -> list[str]:
    name = fn.get("function_name", "")
    if name not in _TABLE_FUNCTIONS or fn.get("schema") or fn.get("catalog"):
        raise Refused(f"statement {stmt.number} calls {name}(), which a release view may not: {stmt.shown()}")
    if name != "read_parquet":
        return []
    args = [a.get("expression", a) for a in fn.get("arguments", fn.get("children", []))]
    literal = (args[0].get("literal") or args[0].get("value") or {}) if len(args) == 1 else {}
    path = literal.get("text") if isinstance(literal, dict) else None
    if not isinstance(path, str) or not (_PARQUET.fullmatch(path) if allowed is None else path in allowed):
        raise Refused(f"statement {stmt.number} reads something other than one of the release's own "
                      f"parquet/<table>.parquet files: {stmt.shown()}")
    return [path]


def bind_parquet(con: duckdb.DuckDBPyConnection, stmt: Statement, root: Path) -> Statement:
    """A checked CREATE VIEW with its 'parquet/<table>.parquet' paths made absolute under `root`, checked
    again. DuckDB would look for a relative path in the working directory before file_search_path,
    so a relative path could read another folder's file of the same name."""
    text, absolute = stmt.text, {}
    for rel in stmt.parquet:
        absolute[rel] = str(root.joinpath(*rel.split("/")))
        text = text.replace(f"read_parquet('{rel}')", f"read_parquet({_quote(absolute[rel])})")
    bound = Statement(stmt.number, text)
    m = _VIEW.match(text)
    if m is None:
        raise Refused(f"statement {stmt.number} is not a plain view: {stmt.shown()}")
    files = check_view(con, m.group(2), bound, allowed=set(absolute.values()))
    if sorted(set(files)) != sorted(absolute.values()):
        raise Refused(f"statement {stmt.number} reads its Parquet files in a way pedall does not write: "
                      f"{stmt.shown()}")
    return Statement(stmt.number, text, tuple(files))


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def check_database_views(con: duckdb.DuckDBPyConnection) -> None:
    """A .duckdb release's own views and macros, held to the rules of load.sql's views (Refused otherwise)."""
    views = con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal ORDER BY view_name").fetchall()
    macros = con.execute("SELECT DISTINCT function_name FROM duckdb_functions() WHERE NOT internal "
                         "AND function_type IN ('macro', 'table_macro')").fetchall()
    if macros:
        raise Refused(f"it defines macros, which pedall never writes: {', '.join(m for (m,) in macros)}")
    for i, (name, sql) in enumerate(views, start=1):
        stmt = Statement(i, f"view {name}: {sql}")
        m = _VIEW.match(_LEAD.sub("", sql, count=1))
        if m is None:
            raise Refused(f"view {name} is not a plain CREATE VIEW: {stmt.shown()}")
        if check_view(con, m.group(2), stmt):  # parsed by json_serialize_sql, not run
            raise Refused(f"view {name} reads files; a .duckdb release holds its tables: {stmt.shown()}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
