"""`pedall query`: run SQL against a release (database file, folder or zip) and print the result.

Every DuckDB type prints, in every format, because DuckDB itself turns each value into text: the last
statement (when it is a query) is run as `SELECT CAST(COLUMNS(*) AS VARCHAR)` over it for table and
CSV output, and `to_json(COLUMNS(*))` for JSON. No value passes through Python's conversions, some of
which need modules pedall does not install (TIMESTAMP WITH TIME ZONE needs pytz there).

In JSON, numbers stay numbers (HUGEINT and DECIMAL too, at full precision), lists are arrays, structs
and maps objects, and temporal values, UUIDs, intervals, ENUMs and BLOBs (escaped as \\xNN) are text.
Strict JSON has no NaN or infinity: they print as null, as everywhere in pedall's JSON (jsonout).
DuckDB names duplicate output columns apart (a, a_1), so no JSON key is lost.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .jsonout import dumps
from .opening import connect
from .problems import QueryError

# A statement's own final semicolon and the comments after it (DuckDB keeps them in its text).
_END = re.compile(r";(?:\s|--[^\n]*)*\Z")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run(db: Path, sql: str, fmt: str = "table", check: Callable[[Any], None] | None = None) -> str:
    """`db`: a .duckdb file, a release folder or a release zip (see opening.connect). `check` is run on
    the open connection first (the clone's staleness check), so the database is opened once."""
    from .engine import duckdb

    with connect(db) as con:
        if check is not None:
            check(con)
        try:
            cols, rows = _fetch(con, sql, "json" if fmt == "json" else "text")
        except duckdb.Error as exc:
            # DuckDB's message names the fault (unknown table, syntax error at a position); one line suffices.
            raise QueryError(f"query failed: {_first_line(exc)}") from None
    if fmt == "json":
        return dumps([dict(zip(cols, r, strict=True)) for r in rows], indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        w.writerows(["" if v is None else v for v in r] for r in rows)
        return buf.getvalue()
    return _table(cols, rows)


def _fetch(con: Any, sql: str, kind: str) -> tuple[list[str], list[tuple]]:
    """Column names and rows of the last statement of `sql`: text cells, or JSON values for kind 'json'."""
    from .engine import duckdb

    statements = con.extract_statements(sql)
    if not statements:
        return [], []
    for st in statements[:-1]:
        con.execute(st.query)
    last = statements[-1]
    if last.type.name == "SELECT":
        inner = _END.sub("", last.query.rstrip())
        each = "to_json(COLUMNS(*))::VARCHAR" if kind == "json" else "CAST(COLUMNS(*) AS VARCHAR)"
        try:
            cur = con.execute(f"SELECT {each} FROM (\n{inner}\n) AS pedall_result")
        except duckdb.ParserException:
            cur = None  # a form of query that cannot stand in a subquery: run as written below
        if cur is not None:
            cols = [c[0] for c in cur.description]
            rows = cur.fetchall()
            if kind == "json":
                rows = [tuple(None if v is None else json.loads(v, parse_constant=lambda _: None) for v in r)
                        for r in rows]
            return cols, rows
    # PRAGMA, EXPLAIN, CALL: their columns are plain text and numbers.
    cur = con.execute(last.query)
    cols = [c[0] for c in cur.description] if cur.description else []
    rows = cur.fetchall() if cur.description else []
    if kind == "text":
        return cols, [tuple(None if v is None else str(v) for v in r) for r in rows]
    return cols, [tuple(v if v is None or isinstance(v, int | float | str | bool) else str(v) for v in r)
                  for r in rows]


def aligned(cols: list[str], rows: list[list[str]] | list[tuple]) -> list[str]:
    """A header, a rule and the rows, in columns padded to their widest cell."""
    cells = [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    out = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)), "  ".join("-" * w for w in widths)]
    return out + ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]


def _table(cols: list[str], rows: list[tuple]) -> str:
    out = aligned(cols, rows)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)
