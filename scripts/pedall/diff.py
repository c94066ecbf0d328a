"""`pedall diff OLD NEW`: rows added, removed and changed per table, by primary key."""

from __future__ import annotations

from dataclasses import dataclass, field

from .jsonout import dumps
from .snapshot import Snapshot, TableData


@dataclass
class TableDiff:
    added: list[tuple[str, ...]] = field(default_factory=list)
    removed: list[tuple[str, ...]] = field(default_factory=list)
    changed: list[tuple[tuple[str, ...], dict[str, tuple[str, str]]]] = field(default_factory=list)
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.columns_added or self.columns_removed)


@dataclass
class Diff:
    old: Snapshot
    new: Snapshot
    tables: dict[str, TableDiff]
    primary_keys: dict[str, tuple[str, ...]]

    def __bool__(self) -> bool:
        return any(self.tables.values())


def _same(kind: str, a: str, b: str) -> bool:
    # "66" and "66.0" are one number; text compares exactly.
    if a == b:
        return True
    if kind in ("number", "integer") and a and b:
        try:
            return float(a) == float(b)
        except ValueError:
            return False
    return False


def compare(old: Snapshot, new: Snapshot) -> Diff:
    tables: dict[str, TableDiff] = {}
    keys: dict[str, tuple[str, ...]] = {}
    for name in sorted(set(old.tables) | set(new.tables)):
        empty = TableData({}, new.tables.get(name, old.tables.get(name)).primary_key, {})  # type: ignore[union-attr]
        o, n = old.tables.get(name, empty), new.tables.get(name, empty)
        d = TableDiff(columns_added=[c for c in n.fields if c not in o.fields and o.fields],
                      columns_removed=[c for c in o.fields if c not in n.fields and n.fields])
        d.added = sorted(set(n.rows) - set(o.rows))
        d.removed = sorted(set(o.rows) - set(n.rows))
        for key in sorted(set(o.rows) & set(n.rows)):
            orow, nrow = o.rows[key], n.rows[key]
            # A column absent on one side counts as empty there, so adding an empty column changes no value.
            changes = {c: (orow.get(c, ""), nrow.get(c, "")) for c in dict.fromkeys([*o.fields, *n.fields])
                       if not _same(n.fields.get(c, o.fields.get(c, "string")), orow.get(c, ""), nrow.get(c, ""))}
            if changes:
                d.changed.append((key, changes))
        tables[name] = d
        keys[name] = n.primary_key or o.primary_key
    return Diff(old, new, tables, keys)


def _key(d: Diff, table: str, key: tuple[str, ...]) -> str:
    return ", ".join(f"{k}={v}" for k, v in zip(d.primary_keys[table], key, strict=True))


def _md_cell(text: str) -> str:
    return (text or "∅").replace("|", "\\|").replace("\n", " ")


def to_markdown(d: Diff, heading: str = "##") -> str:
    lines = [f"{heading} Data changes: {d.old.version or d.old.label} → {d.new.version or d.new.label}", ""]
    if not d:
        return "\n".join([*lines, "No table changed.", ""])
    lines += ["| table | added | removed | changed |", "|---|---|---|---|"]
    for name, t in d.tables.items():
        if t:
            lines.append(f"| {name} | {len(t.added)} | {len(t.removed)} | {len(t.changed)} |")
    lines.append("")
    for name, t in d.tables.items():
        if not t:
            continue
        lines += [f"{heading}# {name}", ""]
        if t.columns_added:
            lines.append("Columns added: " + ", ".join(f"`{c}`" for c in t.columns_added))
        if t.columns_removed:
            lines.append("Columns removed: " + ", ".join(f"`{c}`" for c in t.columns_removed))
        for label, rows in (("Added", t.added), ("Removed", t.removed)):
            if rows:
                lines.append(f"{label} rows ({len(rows)}):")
                lines += [f"- {_key(d, name, k)}" for k in rows]
        if t.changed:
            lines += [f"Changed values ({sum(len(c) for _, c in t.changed)}):", "",
                      "| row | column | old | new |", "|---|---|---|---|"]
            for key, changes in t.changed:
                for col, (a, b) in changes.items():
                    lines.append(f"| {_md_cell(_key(d, name, key))} | {col} | {_md_cell(a)} | {_md_cell(b)} |")
        lines.append("")
    return "\n".join(lines)


def to_json(d: Diff) -> str:
    out = {"old": {"label": d.old.label, "version": d.old.version},
           "new": {"label": d.new.label, "version": d.new.version}, "tables": {}}
    for name, t in d.tables.items():
        pk = d.primary_keys[name]
        out["tables"][name] = {
            "columns_added": t.columns_added, "columns_removed": t.columns_removed,
            "added": [dict(zip(pk, k, strict=True)) for k in t.added],
            "removed": [dict(zip(pk, k, strict=True)) for k in t.removed],
            "changed": [{"key": dict(zip(pk, k, strict=True)),
                         "values": {c: {"old": a, "new": b} for c, (a, b) in ch.items()}} for k, ch in t.changed],
        }
    return dumps(out, indent=2, ensure_ascii=False)
