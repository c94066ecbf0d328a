"""`pedall query`: run SQL against a release (database file, folder or zip) and print the result."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .jsonout import dumps
from .opening import connect
from .problems import QueryError


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
            cur = con.execute(sql)
            cols = [c[0] for c in cur.description] if cur.description else []
            rows = cur.fetchall()
        except duckdb.Error as exc:
            # DuckDB's message names the fault (unknown table, syntax error at a position); one line suffices.
            raise QueryError(f"query failed: {_first_line(exc)}") from None
    if fmt == "json":
        return dumps([dict(zip(cols, r, strict=True)) for r in rows], default=str, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        w.writerows(["" if v is None else v for v in r] for r in rows)
        return buf.getvalue()
    return _table(cols, rows)


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
