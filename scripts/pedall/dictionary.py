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
    lines += _groupings(pkg)
    lines += ["## Views (DuckDB database)", ""]
    for name, comment in _VIEW_COMMENT.findall(views_sql()):
        lines.append(f"- `{name}`: {comment.replace(chr(39) * 2, chr(39))}")
    lines.append("")
    return "\n".join(lines)


def _groupings(pkg: Package) -> list[str]:
    """The groupings the schemas define (endpoint families, adverse-event groups, design groups), which the
    database carries as tables of the same names and pedall pool accepts by name."""
    lines = ["## Endpoint families", "",
             "Measures that answer one clinical question, in order of preference (`measures.schema.json`, "
             "`endpointFamilies`; table `endpoint_families`). `pedall pool FAMILY` pools, for each study, the first "
             "member with a figure that can be pooled; the member used is the `response_definition` of the study's "
             "row in `study_summary`, `coverage` and the pooled output. Every measure is also a family of its own.",
             ""]
    for f in pkg.tables["measures"].schema.get("endpointFamilies", []):
        lines += [f"### `{f['family']}`: {_cell(f['label'])}", "", _cell(f["question"]), ""]
        lines += [f"{i}. `{m['measure']}`: {_cell(m['reason'])}" for i, m in enumerate(f["members"], start=1)]
        lines.append("")
        if f.get("excludedPopulations"):
            lines += ["Left out: figures in the population(s) "
                      + ", ".join(f"`{p}`" for p in f["excludedPopulations"]) + ".", ""]
        lines += [f"Rule: {_cell(f['rule'])}", ""]
    lines += ["## Adverse-event groups", "", "Events counted together (`adverse_events.schema.json`, `eventGroups`; "
              "table `event_groups`).", ""]
    lines += [f"- `{g['group']}` ({_cell(g.get('label', g['group']))}): " + ", ".join(f"`{e}`" for e in g["events"])
              + (f". {_cell(g['description'])}" if g.get("description") else "")
              for g in pkg.tables["adverse_events"].schema.get("eventGroups", [])]
    lines += ["", "## Design groups", "", "Study designs by group (`studies.schema.json`, `designGroups`; table "
              "`design_groups`; `pedall pool --design GROUP`).", ""]
    lines += [f"- `{g['group']}` ({_cell(g['label'])}): " + ", ".join(f"`{d}`" for d in g["designs"])
              + f". {_cell(g['description'])}" for g in pkg.tables["studies"].schema.get("designGroups", [])]
    lines.append("")
    return lines
