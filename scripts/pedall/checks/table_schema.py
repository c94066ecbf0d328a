"""Layer 1: the Table Schemas, checked by frictionless, plus what frictionless 5 lets pass.

frictionless accepts a primary key whose cells are partly empty and says nothing about file
layout, so key emptiness, line endings and row order are checked here too.
"""

from __future__ import annotations

import re

import frictionless

from ..frames import read_raw
from ..package import Package, Table
from ..problems import Problem, csv_line

_FK_FIELD = re.compile(r'for "([^"]+)"')


def check(pkg: Package) -> list[Problem]:
    problems = _frictionless(pkg)
    for table in pkg.tables.values():
        problems += _file_layout(pkg, table)
        problems += _keys_and_order(pkg, table)
    return problems


def _frictionless(pkg: Package) -> list[Problem]:
    report = frictionless.validate(str(pkg.root / "datapackage.json"))
    problems: list[Problem] = []
    paths = {t.name: t.path for t in pkg.tables.values()}
    for task in report.tasks:
        file = paths.get(task.name, task.place)
        table = pkg.tables.get(task.name)
        for err in task.errors:
            row = getattr(err, "row_number", None) or 0
            column = getattr(err, "field_name", None) or ""
            if err.type == "foreign-key":
                m = _FK_FIELD.search(err.note or "")
                column = m.group(1) if m else column
            elif err.type == "primary-key" and table is not None:
                column = ",".join(table.primary_key)
            cell = getattr(err, "cell", None)
            message = f'"{cell}": {err.note}' if cell is not None else (err.note or err.title)
            problems.append(Problem(file, row, column or "-", message or err.type, err.type))
    for err in report.errors:  # package-level (descriptor) errors
        problems.append(Problem("datapackage.json", 0, "-", err.message, err.type))
    return problems


def _file_layout(pkg: Package, table: Table) -> list[Problem]:
    data = (pkg.root / table.path).read_bytes()
    problems = []
    if b"\r" in data:
        problems.append(Problem(table.path, 0, "-", "line endings must be LF, found CR", "lf-line-endings"))
    if data and not data.endswith(b"\n"):
        problems.append(Problem(table.path, 0, "-", "file must end with a newline", "lf-line-endings"))
    return problems


def _keys_and_order(pkg: Package, table: Table) -> list[Problem]:
    raw = read_raw(pkg, table)
    if not set(table.primary_key) <= set(raw.columns):
        return []  # a missing header is already reported by frictionless
    problems = []
    for col in table.primary_key:
        for idx in raw.index[raw[col] == ""]:
            problems.append(Problem(table.path, csv_line(idx), col, "key column is empty", "key-not-empty"))
    keys = [tuple(_sort_key(table, col, r[col]) for col in table.primary_key) for _, r in raw.iterrows()]
    for i in range(1, len(keys)):
        if keys[i] < keys[i - 1]:
            problems.append(
                Problem(table.path, csv_line(i), ",".join(table.primary_key),
                        "row is out of order: rows must be sorted by the primary key", "sorted-by-primary-key")
            )
    return problems


def _sort_key(table: Table, col: str, value: str) -> tuple[int, float | str]:
    # Integer keys sort numerically, others as text; unparsable values sort last (reported elsewhere).
    if table.field(col).type == "integer":
        try:
            return (0, int(value))
        except ValueError:
            return (1, value)
    return (0, value)
