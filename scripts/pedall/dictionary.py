"""Generate DATA_DICTIONARY.md from the Table Schemas and the view comments."""

from __future__ import annotations

import re

from .database import views_sql
from .package import Package

_VIEW_COMMENT = re.compile(r"COMMENT ON VIEW (\w+) IS '((?:[^']|'')*)';")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _constraints(f) -> str:  # type: ignore[no-untyped-def]
    parts = []
    if f.required:
        parts.append("required")
    if f.unique:
        parts.append("unique")
    if f.enum:
        parts.append("one of: " + ", ".join(f"`{v}`" for v in f.enum))
    if f.pattern:
        parts.append(f"pattern `{f.pattern}`")
    if f.minimum is not None:
        parts.append(f"≥ {f.minimum}")
    if f.maximum is not None:
        parts.append(f"≤ {f.maximum}")
    return "; ".join(parts)


def render(pkg: Package) -> str:
    d = pkg.descriptor
    lines = [f"# Data dictionary: {d['name']} {pkg.version}", "",
             "Generated from `schemas/*.schema.json` and `datapackage.json`; do not edit by hand.", ""]
    lines += ["## Tables", ""]
    for t in pkg.tables.values():
        lines.append(f"- [`{t.name}`](#{t.name.replace('_', '-')}): {t.title}")
    lines.append("")
    for t in pkg.tables.values():
        lines += [f"## {t.name}", "", t.description, "",
                  f"File: `{t.path}` · primary key: `{', '.join(t.primary_key)}`", ""]
        for fk in t.foreign_keys:
            lines.append(f"- foreign key `{', '.join(fk.fields)}` → `{fk.resource}.{', '.join(fk.reference_fields)}`")
        if t.foreign_keys:
            lines.append("")
        lines += ["| column | type | constraints | description |", "|---|---|---|---|"]
        for f in t.fields:
            lines.append(f"| `{f.name}` | {f.type} | {_cell(_constraints(f))} | {_cell(f.description)} |")
        lines.append("")
    lines += ["## Views (DuckDB database)", ""]
    for name, comment in _VIEW_COMMENT.findall(views_sql()):
        lines.append(f"- `{name}`: {comment.replace(chr(39) * 2, chr(39))}")
    lines.append("")
    return "\n".join(lines)
