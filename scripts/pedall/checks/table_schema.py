"""Layer 1: each CSV file against its Table Schema, vectorized over columns (no Python per row).

frictionless remains the judge of the descriptors themselves (checks/descriptor.py); the cells are
checked here with pyarrow, following the same Table Schema rules: header labels, types, required,
enum, pattern, length and range constraints, unique and primary keys, foreign keys. Beyond the
standard: key cells may not be empty, rows are sorted by the primary key, lines end in LF.

Only a structural fault (a file that cannot be read into aligned, typed columns) keeps a table
out of the later layers; every other problem is reported alongside theirs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import csvtext
from ..frames import cast, to_pandas
from ..package import Field, Package, Table
from ..problems import Problem, shown


@dataclass
class Loaded:
    """One table after layer 1: its text, its typed frame (None if structurally broken) and problems."""

    table: Table
    text: csvtext.TextTable
    typed: pd.DataFrame | None
    problems: list[Problem] = field(default_factory=list)


def load(pkg: Package, table: Table) -> Loaded:
    path = pkg.root / table.path
    try:
        data = path.read_bytes()
    except OSError as exc:
        text = csvtext.TextTable(table.path, [], [], structural=True)
        return Loaded(table, text, None, [Problem(table.path, 0, "-", f"cannot read the file: {exc.strerror}",
                                                  "missing-file")])
    text = csvtext.read(table.path, data)
    problems = list(text.problems) + _layout(table, data)
    del data
    if not text.header:
        return Loaded(table, text, None, problems)
    header_problems, missing = _labels(table, text.header)
    problems += header_problems
    if missing or text.structural:
        return Loaded(table, text, None, problems)
    values: dict[str, pa.Array] = {}
    for f in table.fields:
        c = cast(table, f, text.column(f.name))
        values[f.name] = c.values
        problems += _cells(table, f, text.column(f.name), c.values, c.missing, c.invalid)
    df = to_pandas(table, values)
    problems += _keys(table, df, text)
    return Loaded(table, text, df, problems)


def _layout(table: Table, data: bytes) -> list[Problem]:
    problems = []
    if b"\r" in data:
        problems.append(Problem(table.path, 0, "-", "line endings must be LF, found CR", "lf-line-endings"))
    if data and not data.endswith(b"\n"):
        problems.append(Problem(table.path, 0, "-", "file must end with a newline", "lf-line-endings"))
    return problems


def _labels(table: Table, header: list[str]) -> tuple[list[Problem], bool]:
    """Header problems, and whether a schema field has no column (the table cannot be typed)."""
    out: list[Problem] = []
    want = table.field_names
    seen: set[str] = set()
    for i, label in enumerate(header):
        if label == "":
            out.append(Problem(table.path, 1, f"(column {i + 1})", "header label is blank", "blank-label"))
        elif label in seen:
            out.append(Problem(table.path, 1, label, f"header label {label!r} appears twice", "duplicate-label"))
        elif label not in want:
            out.append(Problem(table.path, 1, label, f"header label {label!r} is not a field of the schema "
                               f"{table.schema_path}", "extra-label"))
        seen.add(label)
    absent = [n for n in want if n not in header]
    for name in absent:
        out.append(Problem(table.path, 1, name, f"no column for schema field {name!r}", "missing-label"))
    duplicated = any(p.rule == "duplicate-label" and p.column in want for p in out)
    if not absent and not out and header != want:
        out.append(Problem(table.path, 1, "-", f"columns must be in schema order: {', '.join(want)}",
                           "incorrect-label"))
    return out, bool(absent) or duplicated


def _rows(table: Table, mask: pa.Array, column: str, message: str, rule: str, cell: pa.Array | None = None) -> \
        list[Problem]:
    """One problem per row where mask is true; with `cell`, the message follows that row's cell."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return []
    idx = pc.indices_nonzero(mask)
    cells = cell.take(idx).to_pylist() if cell is not None else None
    return [Problem(table.path, i + 2, column, f'"{shown(cells[k])}" {message}' if cells is not None else message,
                    rule) for k, i in enumerate(idx.to_pylist())]


def _cells(table: Table, f: Field, text: pa.Array, values: pa.Array, missing: pa.Array,
           invalid: pa.Array) -> list[Problem]:
    p: list[Problem] = []
    p += _rows(table, invalid, f.name, f"is not of type {f.type}", "type-error", text)
    if f.required:
        p += _rows(table, missing, f.name, "a value is required", "constraint-error")
    ok = pc.is_valid(values)
    if f.enum:
        if f.type == "string":
            allowed = pc.is_in(values, value_set=pa.array(list(f.enum), type=pa.string()))
        else:
            allowed = pc.is_in(values, value_set=pc.cast(pa.array([str(v) for v in f.enum]), values.type))
        p += _rows(table, pc.and_(ok, pc.invert(allowed)), f.name,
                   f'is not one of the allowed values ({", ".join(map(str, f.enum))})', "constraint-error",
                   text)
    if f.pattern:
        p += _pattern(table, f.name, f.pattern, pc.if_else(ok, text, None))
    desc = next((d for d in table.schema.get("fields", []) if d.get("name") == f.name), {})
    cons = desc.get("constraints", {})
    for key, op in (("minLength", pc.less), ("maxLength", pc.greater)):
        if key in cons and f.type == "string":
            p += _rows(table, op(pc.utf8_length(values), cons[key]), f.name,
                       f"breaks constraint {key} {cons[key]}", "constraint-error", text)
    for key, op in (("minimum", pc.less), ("maximum", pc.greater)):
        if key in cons and f.type in ("integer", "number", "date"):
            bound = pa.scalar(cons[key]).cast(values.type) if f.type != "date" else \
                pc.strptime(pa.scalar(str(cons[key])), format="%Y-%m-%d", unit="s")
            p += _rows(table, op(values, bound), f.name, f"breaks constraint {key} {cons[key]}",
                       "constraint-error", text)
    return p


def _pattern(table: Table, name: str, pattern: str, present: pa.Array) -> list[Problem]:
    # Table Schema patterns match the whole value. RE2 (pyarrow) covers the patterns in use; one it
    # cannot compile is applied with Python's re, still without a Python loop over rows.
    try:
        matches = pc.match_substring_regex(present, f"^(?:{pattern})$")
    except pa.ArrowInvalid:
        s = pd.Series(present.to_pandas(), dtype="string")
        matches = pa.array(s.str.fullmatch(pattern).astype("boolean"), type=pa.bool_())
    bad = pc.and_(pc.is_valid(present), pc.invert(matches))
    return _rows(table, bad, name, f"does not match pattern {pattern}", "constraint-error", present)


def _keys(table: Table, df: pd.DataFrame, text: csvtext.TextTable) -> list[Problem]:
    problems: list[Problem] = []
    pk = list(table.primary_key)
    pk_label = ",".join(pk)
    for col in pk:
        problems += _rows(table, pc.equal(pc.utf8_length(text.column(col)), 0), col, "key column is empty",
                          "key-not-empty")
    for f in table.fields:
        if f.unique and pk != [f.name]:
            dup = df[f.name].notna() & df[f.name].duplicated(keep="first")
            problems += _series_rows(table, dup, f.name, "value is not unique in its column", "unique-error")
    keys = df[pk]
    complete = keys.notna().all(axis=1)
    dup = complete & keys.duplicated(keep="first")
    problems += _series_rows(table, dup, pk_label, "the primary key repeats an earlier row", "primary-key")
    problems += _rows(table, _out_of_order(table, text), pk_label,
                      "row is out of order: rows must be sorted by the primary key", "sorted-by-primary-key")
    return problems


def _series_rows(table: Table, mask: pd.Series, column: str, message: str, rule: str) -> list[Problem]:
    return [Problem(table.path, int(i) + 2, column, message, rule) for i in mask.index[mask.to_numpy(bool)]]


def _out_of_order(table: Table, text: csvtext.TextTable) -> pa.Array:
    """True where a row's key sorts before the previous row's key.

    Integer keys sort numerically, others as text (by code point, as Python compares strings); a
    key cell that is not an integer sorts after every number (its type error is reported
    elsewhere). Each row is compared with the one above it, column by column, lexicographically.
    """
    n = text.num_rows
    if n < 2:
        return pa.array([False] * n, type=pa.bool_())
    parts: list[pa.Array | pa.ChunkedArray] = []
    for col in table.primary_key:
        raw = text.column(col)
        if table.field(col).type == "integer":
            ok = pc.match_substring_regex(raw, r"^[+-]?[0-9]{1,18}$")
            num = pc.cast(pc.if_else(ok, raw, None), pa.int64())
            parts += [pc.invert(ok), pc.fill_null(num, 0), pc.if_else(ok, "", raw)]
        else:
            parts.append(raw)
    before = pa.array([False] * (n - 1), type=pa.bool_())
    equal = pa.array([True] * (n - 1), type=pa.bool_())
    for part in parts:
        cur, prev = part.slice(1), part.slice(0, n - 1)
        before = pc.or_(before, pc.and_(equal, pc.less(cur, prev)))
        equal = pc.and_(equal, pc.equal(cur, prev))
    return pa.concat_arrays([pa.array([False], type=pa.bool_()), pc.fill_null(before, False).combine_chunks()
                             if isinstance(before, pa.ChunkedArray) else pc.fill_null(before, False)])


def foreign_keys(pkg: Package, loaded: dict[str, Loaded]) -> list[Problem]:
    """Every foreign-key value must exist in the referenced table (checked when both tables typed)."""
    problems: list[Problem] = []
    for name, item in loaded.items():
        if item.typed is None:
            continue
        for fk in item.table.foreign_keys:
            ref = loaded.get(fk.resource or name)
            if ref is None or ref.typed is None:
                continue
            child = item.typed[list(fk.fields)]
            present = child.notna().all(axis=1)
            if len(fk.fields) == 1:
                found = child.iloc[:, 0].isin(ref.typed[fk.reference_fields[0]].dropna())
            else:
                target = pd.MultiIndex.from_frame(ref.typed[list(fk.reference_fields)].dropna())
                found = pd.Series(pd.MultiIndex.from_frame(child).isin(target), index=child.index)
            bad = present & ~found
            label = ",".join(fk.fields)
            for i in bad.index[bad.to_numpy(bool)]:
                values = ", ".join(shown(v) for v in child.loc[i])
                problems.append(Problem(item.table.path, int(i) + 2, label,
                                        f'"{values}" not found in {fk.resource or name}.'
                                        f'{",".join(fk.reference_fields)}', "foreign-key"))
    return problems
