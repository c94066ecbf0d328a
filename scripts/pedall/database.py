"""Build the DuckDB database: typed tables with keys, comments on everything, and the views."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .engine import duckdb
from .history import record_text
from .package import Field, Package, Table

DB_NAME = "pedall.duckdb"
_DUCK = {"integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE", "string": "VARCHAR"}


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def enum_type_name(table: Table, column: str) -> str:
    return enum_type_name_of(table.name, column)


def enum_type_name_of(table: str, column: str) -> str:
    """The DuckDB ENUM type of a column with an enumeration (one naming rule for builder and readers)."""
    return f"{table}_{column}"


def column_type(table: Table, f: Field) -> str:
    """The DuckDB type of a column: its ENUM type for an enumeration, else from the field type."""
    return enum_type_name(table, f.name) if f.enum else _DUCK[f.type]


def enum_types(table: Table) -> list[str]:
    """CREATE TYPE statements for the table's enumerated columns, levels in schema order."""
    return [f"CREATE TYPE {enum_type_name(table, f.name)} AS ENUM ({', '.join(_q(v) for v in f.enum)})"
            for f in table.fields if f.enum]


def comments(table: Table, kind: str = "TABLE") -> list[str]:
    """COMMENT statements for a table (or a view standing for it) and each of its columns."""
    out = [f"COMMENT ON {kind} {_ident(table.name)} IS {_q(table.title + ': ' + table.description)}"]
    return out + [f"COMMENT ON COLUMN {_ident(table.name)}.{_ident(f.name)} IS {_q(f.description)}"
                  for f in table.fields]


def metadata_rows(pkg: Package) -> list[tuple[str, str]]:
    """The rows of pedall_metadata: which data a database (or a load.sql session) holds."""
    d = pkg.descriptor
    return [("name", d["name"]), ("version", pkg.version), ("title", d["title"]),
            ("license", ", ".join(lic["name"] for lic in d.get("licenses", []))),
            # the checksums of the inputs, so that pool and query can tell a database built from older data
            ("inputs", record_text(pkg))]


def ddl(pkg: Package) -> list[str]:
    """CREATE TYPE / CREATE TABLE / COMMENT statements, in foreign-key order."""
    stmts: list[str] = []
    for t in pkg.creation_order():
        stmts += enum_types(t)
        cols = [f"{_ident(f.name)} {column_type(t, f)}{' NOT NULL' if f.required else ''}" for f in t.fields]
        cols.append(f"PRIMARY KEY ({', '.join(_ident(c) for c in t.primary_key)})")
        for fk in t.foreign_keys:
            if fk.resource == t.name:
                continue
            cols.append(f"FOREIGN KEY ({', '.join(map(_ident, fk.fields))}) REFERENCES "
                        f"{_ident(fk.resource)} ({', '.join(map(_ident, fk.reference_fields))})")
        stmts.append(f"CREATE TABLE {_ident(t.name)} (\n  " + ",\n  ".join(cols) + "\n)")
        stmts += comments(t)
    return stmts


def event_groups(pkg: Package) -> list[tuple[str, str, str]]:
    """(group, event, label) rows: adverse_events.schema.json's eventGroups, the one definition of which
    events make up e.g. neurotoxicity. Every event also forms a group of its own (by its own name)."""
    rows = []
    for g in pkg.tables["adverse_events"].schema.get("eventGroups", []):
        rows += [(g["group"], e, g.get("label", g["group"])) for e in g["events"]]
    return rows


def endpoint_families(pkg: Package) -> list[tuple[str, str, int, str, str, str, str]]:
    """(family, label, member_rank, measure, reason, excluded_populations, rule) rows: measures.schema.json's
    endpointFamilies, the one definition of which measures answer one clinical question and in which order
    of preference. Every measure also forms a family of its own (by its own name; see the views)."""
    rows = []
    for f in pkg.tables["measures"].schema.get("endpointFamilies", []):
        excluded = ";".join(f.get("excludedPopulations", []))
        rows += [(f["family"], f["label"], rank, m["measure"], m["reason"], excluded, f["rule"])
                 for rank, m in enumerate(f["members"], start=1)]
    return rows


def design_groups(pkg: Package) -> list[tuple[str, str, str]]:
    """(design_group, design, label) rows: studies.schema.json's designGroups (interventional or observational)."""
    return [(g["group"], d, g["label"]) for g in pkg.tables["studies"].schema.get("designGroups", [])
            for d in g["designs"]]


def population_stages(pkg: Package) -> list[tuple[str, str, str]]:
    """(analysis_population, source_table, stage) rows: participant_flow.schema.json's populationStages, which
    participant-flow stage gives the denominator of a figure in that analysis population."""
    return [(p["population"], table, p[table]) for p in pkg.tables["participant_flow"].schema.get(
        "populationStages", []) for table in ("outcomes", "adverse_events") if p.get(table)]


def enum_labels(pkg: Package) -> list[tuple[str, str, str, str]]:
    """(table, column, value, label) rows from the schemas' enumLabels, for display (forest plots)."""
    return [(t.name, f["name"], value, label) for t in pkg.tables.values() for f in t.schema["fields"]
            for value, label in f.get("enumLabels", {}).items()]


@dataclass(frozen=True)
class SchemaTable:
    """A grouping or label set defined in a schema, carried into the database (and load.sql) as a table,
    so that the views and pedall pool (which see only the database) read the same definition."""
    name: str
    columns: tuple[tuple[str, str, str], ...]  # (name, DuckDB type, comment)
    comment: str
    rows: list[tuple]
    key: tuple[str, ...]


def schema_tables(pkg: Package) -> list[SchemaTable]:
    v = "VARCHAR"
    return [
        SchemaTable("event_groups", (("event_group", v, "Name of the group (what pedall pool accepts)."),
                                     ("event", v, "An adverse_events.event value counted in the group."),
                                     ("label", v, "The group's display label.")),
                    "Adverse events pooled and summarised together (e.g. neurotoxicity = ICANS or neurologic "
                    "events), from adverse_events.schema.json (eventGroups).", event_groups(pkg),
                    ("event_group", "event")),
        SchemaTable("endpoint_families", (
            ("family", v, "Name of the family (what pedall pool accepts, e.g. complete_remission)."),
            ("label", v, "The family's display label."),
            ("member_rank", "BIGINT", "Preference of the member within the family: 1 is used first."),
            ("measure", v, "An outcomes.measure value that answers the family's question."),
            ("reason", v, "Why the member belongs to the family and ranks where it does."),
            ("excluded_populations", v, "Analysis populations (separated by ;) whose figures answer another "
                                        "question and are left out of the family."),
            ("rule", v, "How the figure standing for a study is chosen.")),
            "Endpoint families: measures answering one clinical question (e.g. complete_remission = CR/CRi, "
            "else CR/CRh, else CR), in order of preference, from measures.schema.json (endpointFamilies).",
            endpoint_families(pkg), ("family", "measure")),
        SchemaTable("design_groups", (("design_group", v, "interventional or observational."),
                                      ("design", v, "A studies.design value in the group."),
                                      ("label", v, "The group's display label.")),
                    "Study designs grouped as interventional or observational (the groups pedall pool --design "
                    "accepts), from studies.schema.json (designGroups).", design_groups(pkg), ("design",)),
        SchemaTable("population_stages", (("analysis_population", v, "An analysis population."),
                                          ("source_table", v, "outcomes or adverse_events."),
                                          ("stage", v, "The participant_flow stage counting that population.")),
                    "Which participant-flow count is the denominator of a figure in an analysis population, from "
                    "participant_flow.schema.json (populationStages); used to derive counts from printed percents.",
                    population_stages(pkg), ("analysis_population", "source_table")),
        SchemaTable("enum_labels", (("table_name", v, "Table."), ("column_name", v, "Column."),
                                    ("value", v, "Enumerated value."), ("label", v, "Its display label.")),
                    "Display labels of enumerated values, from the schemas (enumLabels).", enum_labels(pkg),
                    ("table_name", "column_name", "value")),
    ]


def _schema_tables(con: duckdb.DuckDBPyConnection, pkg: Package) -> None:
    for t in schema_tables(pkg):
        cols = ", ".join(f"{_ident(c)} {typ} NOT NULL" for c, typ, _ in t.columns)
        con.execute(f"CREATE TABLE {_ident(t.name)} ({cols}, PRIMARY KEY ({', '.join(map(_ident, t.key))}))")
        con.execute(f"COMMENT ON TABLE {_ident(t.name)} IS {_q(t.comment)}")
        for c, _, text in t.columns:
            con.execute(f"COMMENT ON COLUMN {_ident(t.name)}.{_ident(c)} IS {_q(text)}")
        if t.rows:
            con.executemany(f"INSERT INTO {_ident(t.name)} VALUES ({', '.join('?' for _ in t.columns)})", t.rows)


def stale_inputs(db: Path, pkg: Package) -> list[str]:
    """The input files (data, schemas, descriptor) that differ from those the database was built from."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return stale_inputs_in(con, pkg)
    finally:
        con.close()


def stale_inputs_in(con: duckdb.DuckDBPyConnection, pkg: Package) -> list[str]:
    """As stale_inputs, on a database already open (one opening fewer for `pedall query`)."""
    try:
        row = con.execute("SELECT value FROM pedall_metadata WHERE key = 'inputs'").fetchone()
    except duckdb.Error:
        row = None
    if row is None:
        return ["(the database records no inputs)"]
    built = {line.split("  ", 1)[1]: line for line in row[0].splitlines()}
    now = {line.split("  ", 1)[1]: line for line in record_text(pkg).splitlines()}
    return sorted(f for f in built.keys() | now.keys() if built.get(f) != now.get(f))


def views_sql() -> str:
    return resources.files("pedall").joinpath("sql/views.sql").read_text(encoding="utf-8")


# Written in an older storage format so that older DuckDB clients (R and Python packages, the CLI)
# can open the file too; nothing in the schema needs a newer one.
STORAGE_VERSION = "v1.2.0"


def build(pkg: Package, parquet_dir: Path, path: Path) -> None:
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {_q(str(path))} AS pedall (STORAGE_VERSION {_q(STORAGE_VERSION)})")
        con.execute("USE pedall")
        for stmt in ddl(pkg):
            con.execute(stmt)
        for t in pkg.creation_order():
            src = parquet_dir / f"{t.name}.parquet"
            cols = ", ".join(_ident(f.name) for f in t.fields)
            con.execute(f"INSERT INTO {_ident(t.name)} ({cols}) SELECT {cols} FROM read_parquet({_q(str(src))})")
        # Which data the file holds, for tools that only see the database (pedall pool, forest plots).
        con.execute("CREATE TABLE pedall_metadata (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        con.execute("COMMENT ON TABLE pedall_metadata IS 'Release metadata: data version, title and licence.'")
        con.execute("COMMENT ON COLUMN pedall_metadata.key IS 'Metadata item.'")
        con.execute("COMMENT ON COLUMN pedall_metadata.value IS 'Its value.'")
        con.executemany("INSERT INTO pedall_metadata VALUES (?, ?)", metadata_rows(pkg))
        _schema_tables(con, pkg)
        con.execute(views_sql())
        con.execute("CHECKPOINT")
    finally:
        con.close()
