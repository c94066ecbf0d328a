"""Run the three validation layers and collect every problem."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from . import csvtext
from .checks import cross_table, descriptor, row_rules, table_schema
from .frames import text_frame
from .package import Package
from .problems import DataInvalid, Problem


def validate(pkg: Package) -> dict[str, pd.DataFrame]:
    """Return the typed frames of a valid package; raise DataInvalid listing every problem otherwise.

    A table whose file cannot be read into aligned, typed columns (a structural fault) stays out
    of layers 2 and 3; any other layer-1 problem is reported together with theirs.
    """
    problems = guarded("datapackage.json", "descriptor", descriptor.check, pkg)
    loaded = {name: _load(pkg, name) for name in pkg.tables}
    problems += check_loaded(pkg, loaded)
    if problems:
        raise DataInvalid(_dedupe(problems))
    return {name: item.typed for name, item in loaded.items() if item.typed is not None}


def check_loaded(pkg: Package, loaded: dict[str, table_schema.Loaded]) -> list[Problem]:
    """Every problem of the tables read by layer 1: theirs, the foreign keys, then layers 2 and 3."""
    problems: list[Problem] = []
    for item in loaded.values():
        problems += item.problems
    problems += guarded("datapackage.json", "foreign-keys", table_schema.foreign_keys, pkg, loaded)
    frames = {name: item.typed for name, item in loaded.items() if item.typed is not None}
    for name, df in frames.items():
        table = pkg.tables[name]
        if any(name in rule.tables for rule in row_rules.RULES):
            raw = text_frame({f: loaded[name].text.column(f) for f in table.field_names})
            problems += row_rules.check(table, df, raw)
    problems += guarded("datapackage.json", "cross-table", cross_table.check, pkg, frames)
    return problems


def guarded(file: str, what: str, check: Callable[..., list[Problem]], *args: Any) -> list[Problem]:
    """The problems a check finds; if the check itself breaks, that is the problem (never a pass)."""
    try:
        return check(*args)
    except Exception as exc:
        return [Problem(file, 0, "-", f"{what} checks failed to run: {type(exc).__name__}: {exc}", "rule-error")]


def _load(pkg: Package, name: str) -> table_schema.Loaded:
    table = pkg.tables[name]
    try:
        return table_schema.load(pkg, table)
    except Exception as exc:  # a fault of the checker on this file: reported, and the table kept out
        text = csvtext.TextTable(table.path, [], [], structural=True)
        return table_schema.Loaded(table, text, None, [Problem(
            table.path, 0, "-", f"Table Schema checks failed to run: {type(exc).__name__}: {exc}", "rule-error")])


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))
