"""`pedall query`: run SQL against a built database and print the result."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

try:
    # The compiled engine alone: the public `duckdb` package wraps the same module but its import
    # (version lookup through importlib.metadata, Python-side relation helpers) takes about three
    # times as long, which is most of the start-up of `pedall query`.
    import _duckdb as duckdb
except ImportError:  # a DuckDB build laid out differently
    import duckdb  # type: ignore[no-redef]

from .problems import QueryError


def connect(db: Path) -> duckdb.DuckDBPyConnection:
    """The database opened read-only; QueryError if the file is not a DuckDB database this client reads."""
    try:
        return duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise QueryError(f"{db}: cannot be opened as a DuckDB database: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run(db: Path, sql: str, fmt: str = "table") -> str:
    con = connect(db)
    try:
        cur = con.execute(sql)
        cols = [c[0] for c in cur.description] if cur.description else []
        rows = cur.fetchall()
    except duckdb.Error as exc:
        # DuckDB's message names the fault (unknown table, syntax error at a position); one line suffices.
        raise QueryError(f"query failed: {_first_line(exc)}") from None
    finally:
        con.close()
    if fmt == "json":
        return json.dumps([dict(zip(cols, r, strict=True)) for r in rows], default=str, indent=2)
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
