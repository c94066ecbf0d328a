"""Helpers for tests that edit a scratch copy of the data package."""

from __future__ import annotations

import csv
from pathlib import Path

from pedall.package import load_package
from pedall.problems import DataInvalid
from pedall.validate import validate


def table_path(root: Path, table: str) -> Path:
    return root / load_package(root).tables[table].path


def read_rows(root: Path, table: str) -> list[dict[str, str]]:
    with table_path(root, table).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_rows(root: Path, table: str, rows: list[dict[str, str]], *, sort: bool = True) -> None:
    t = load_package(root).tables[table]
    if sort:
        rows = sorted(rows, key=lambda r: tuple(
            (0, int(r[k])) if t.field(k).type == "integer" and r[k].isdigit() else (0, r[k])
            for k in t.primary_key))
    with table_path(root, table).open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=t.field_names, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def line_of(root: Path, table: str, **match: str) -> int:
    """CSV line number (header = 1) of the first row matching all given column values."""
    for i, r in enumerate(read_rows(root, table)):
        if all(r[k] == v for k, v in match.items()):
            return i + 2
    raise LookupError(f"no row of {table} matches {match}")


def set_cell(root: Path, table: str, match: dict[str, str], **values: str) -> int:
    rows = read_rows(root, table)
    hits = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert hits, f"no row of {table} matches {match}"
    hits[0].update(values)
    write_rows(root, table, rows)
    return line_of(root, table, **{**match, **{k: v for k, v in values.items() if k in match}})


def add_row(root: Path, table: str, **values: str) -> None:
    t = load_package(root).tables[table]
    rows = read_rows(root, table)
    rows.append({f: values.get(f, "") for f in t.field_names})
    write_rows(root, table, rows)


def problems(root: Path) -> list[str]:
    try:
        validate(load_package(root))
    except DataInvalid as exc:
        return [str(p) for p in exc.problems]
    return []
