"""The release's load.sql: pedall.duckdb's tables and views, over the release's own Parquet files.

A downloaded release must be usable without the DuckDB file (it ships outside the zip). load.sql is
generated at build time from the Table Schemas (one view per table, typed and commented as in
pedall.duckdb) followed by views.sql itself, so the views have one definition for both routes.
"""

from __future__ import annotations

from .database import _ident, _q, column_type, comments, enum_types, metadata_rows, schema_tables, views_sql
from .package import Package, Table

NAME = "load.sql"


def parquet_path(table: Table) -> str:
    # Relative to the release folder: DuckDB resolves it against the working directory, or against
    # file_search_path when that is set (pedall itself makes it absolute: sandbox.bind_parquet).
    return f"parquet/{table.name}.parquet"


def _table_view(table: Table) -> list[str]:
    # Explicit casts give each column the type it has in pedall.duckdb (ENUMs for enumerations,
    # whose order DuckDB uses when sorting) rather than the Parquet reader's VARCHAR.
    cols = ",\n       ".join(f"CAST({_ident(f.name)} AS {column_type(table, f)}) AS {_ident(f.name)}"
                             for f in table.fields)
    return [*enum_types(table),
            f"CREATE VIEW {_ident(table.name)} AS\nSELECT {cols}\nFROM read_parquet({_q(parquet_path(table))})",
            *comments(table, kind="VIEW")]


def _values_view(name: str, cols: tuple[tuple[str, str, str], ...], rows: list[tuple], comment: str) -> list[str]:
    names = ", ".join(c for c, _, _ in cols)
    if rows:
        values = ", ".join("(" + ", ".join(_q(str(v)) for v in r) + ")" for r in rows)
        casts = ", ".join(f"CAST({c} AS {typ}) AS {c}" for c, typ, _ in cols)
        body = f"SELECT {casts} FROM (VALUES {values}) AS t({names})"
    else:  # an empty VALUES list is not SQL: typed columns, no rows
        body = "SELECT " + ", ".join(f"CAST(NULL AS {typ}) AS {c}" for c, typ, _ in cols) + " WHERE false"
    return [f"CREATE VIEW {name} AS {body}", f"COMMENT ON VIEW {name} IS {_q(comment)}"]


def render(pkg: Package) -> str:
    v = pkg.version
    head = [
        f"-- pedall {v}: the tables and views of pedall.duckdb, as views over this release's Parquet files.",
        "-- Generated at build time from the Table Schemas and pedall's views.sql; do not edit.",
        "-- Run it once in a fresh DuckDB session, from inside the unpacked release folder:",
        "--   DuckDB command line:  duckdb -init load.sql      (or: duckdb -c '.read load.sql' -c 'select ...')",
        "--   Python:               duckdb.sql(open('load.sql').read())",
        f"-- From another folder, first: SET file_search_path = '/path/to/pedall-{v}';",
        "",
    ]
    stmts: list[str] = []
    for t in pkg.creation_order():
        stmts += _table_view(t)
    rows = ", ".join(f"({_q(k)}, {_q(val)})" for k, val in metadata_rows(pkg))
    stmts.append(f"CREATE VIEW pedall_metadata AS SELECT * FROM (VALUES {rows}) AS t(key, value)")
    stmts.append("COMMENT ON VIEW pedall_metadata IS 'Release metadata: data version, title and licence.'")
    # The schemas' groupings and labels, which the views and pedall pool read (tables in pedall.duckdb).
    for t in schema_tables(pkg):
        stmts += _values_view(t.name, t.columns, t.rows, t.comment)
    body = ";\n".join(stmts) + ";\n\n-- The documented views (pedall's views.sql, as in pedall.duckdb).\n"
    return "\n".join(head) + "\n" + body + views_sql().rstrip() + "\n"


def render_checked(pkg: Package) -> str:
    """render(), held at build time to what opening a release accepts (sandbox.check_load_sql), so that
    a views.sql using a construct outside those shapes fails the build, not the users of the release."""
    from .metadata import ReleaseError
    from .sandbox import Refused, check_load_sql

    text = render(pkg)
    try:
        check_load_sql(text)
    except Refused as exc:
        raise ReleaseError(f"{NAME} would be refused when the release is opened: {exc} "
                           "(extend sandbox.py's shapes if the construct is safe)") from None
    return text
